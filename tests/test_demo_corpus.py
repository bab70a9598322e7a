"""The demo corpus generator: deterministic, and its manifest matches what the readers see."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from moru.demo_corpus import generate, generate_jsonl
from quality.langid import LangIdConfig, identify
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.ingest.readers import Accepted, read_file


def _read_all(manifest):
    accepted, rejected = [], Counter()
    for src in manifest.sources:
        cfg = SourceConfig(**src)
        root = Path(src["path"])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            for rec in read_file(str(path.relative_to(root)), path.read_bytes(), cfg, IngestConfig()):
                if isinstance(rec, Accepted):
                    accepted.append((src["name"], rec))
                else:
                    rejected[rec.reason] += 1
    return accepted, rejected


def test_manifest_matches_what_the_readers_accept_and_reject(tmp_path):
    manifest = generate(tmp_path / "c", n_docs=400, seed=3, oversize_bytes=4_300_000)
    accepted, rejected = _read_all(manifest)
    # the Spark job (not the readers) spots the repeated record id: both copies reach it
    expected = Counter(manifest.malformed)
    dup_keys = expected.pop("duplicate_record_key")
    assert len(accepted) == manifest.n_docs + dup_keys
    assert rejected == expected
    assert set(manifest.malformed) >= {
        "invalid_json",
        "invalid_utf8",
        "missing_text",
        "empty_text",
        "wrong_type",
        "text_too_large",
        "binary_garbage",
        "corrupt_file",
        "unsupported_content_type",
    }
    assert {s["format"] for s in manifest.sources} == {"jsonl", "warc", "parquet", "auto"}
    assert manifest.exact_duplicate_groups and manifest.near_duplicate_pairs
    texts = [rec.text for _, rec in accepted]
    assert any(len(t) > 16_000 for t in texts)


def test_same_seed_same_bytes(tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
        }

    generate(tmp_path / "a", n_docs=150, seed=7, oversize_bytes=0)
    generate(tmp_path / "b", n_docs=150, seed=7, oversize_bytes=0)
    generate(tmp_path / "c", n_docs=150, seed=8, oversize_bytes=0)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_intended_languages_are_what_language_id_finds(tmp_path):
    manifest = generate(tmp_path / "c", n_docs=600, seed=1, oversize_bytes=0, malformed=False)
    accepted, _ = _read_all(manifest)
    by_key = {
        f"{name}/{rec.record_key.removeprefix('id:').strip('<>').removeprefix('urn:demo:')}": rec.text
        for name, rec in accepted
    }
    keys = [k for k in manifest.doc_langs if k in by_key]
    assert len(keys) > 500
    got = identify([by_key[k] for k in keys], LangIdConfig())
    agree = Counter()
    total = Counter()
    for key, (lang, *_rest) in zip(keys, got, strict=True):
        want = manifest.doc_langs[key]
        total[want] += 1
        agree[want] += lang == want
    for lang in ("ko", "en", "ko+en", "other"):
        assert agree[lang] / total[lang] >= 0.9, (lang, agree[lang], total[lang])


def test_generate_jsonl_shards(tmp_path):
    paths = generate_jsonl(tmp_path / "j", n_docs=2500, shard_docs=1000)
    assert len(paths) == 3
    lines = sum(len(Path(p).read_text(encoding="utf-8").splitlines()) for p in paths)
    assert lines == 2500
