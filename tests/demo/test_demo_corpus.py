"""The demo corpus generator: its manifest is exactly what the readers see, it is deterministic,
and its intended languages are what language id finds."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from demo.benchmark import default_planted_docs
from demo.corpus import generate, generate_jsonl
from demo.text import josa
from quality.decontam import normalize_for_matching
from quality.langid import LangIdConfig, identify
from quality.substrings import window_hashes
from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, load_examples
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.ingest.readers import Accepted, read_file
from spark_jobs.ingest.records import REASONS


def _read_all(manifest, cfg: IngestConfig | None = None):
    """Every generated file through the readers: [(source, Accepted)], Counter of reasons."""
    cfg = cfg or IngestConfig()
    accepted, rejected = [], Counter()
    for src in manifest.sources:
        source = SourceConfig(**src)
        root = Path(src["path"])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            for rec in read_file(str(path.relative_to(root)), path.read_bytes(), source, cfg):
                if isinstance(rec, Accepted):
                    accepted.append((src["name"], rec))
                else:
                    rejected[rec.reason] += 1
    return accepted, rejected


def _check_counts(manifest, accepted, rejected):
    # the Spark job, not the readers, spots a repeated record key: both copies come out of them
    expected = Counter(manifest.malformed)
    dup_keys = expected.pop("duplicate_record_key", 0)
    assert len(accepted) == manifest.n_docs + dup_keys
    assert rejected == expected
    keys = Counter((name, rec.record_key) for name, rec in accepted)
    assert sum(n - 1 for n in keys.values()) == dup_keys
    # every record key is "id:" + the manifest's id, and the manifest names every accepted record
    assert {(name, key.removeprefix("id:")) for name, key in keys} == {
        tuple(k.split("/", 1)) for k in manifest.doc_langs
    }
    assert len(manifest.doc_langs) == manifest.n_docs == sum(manifest.lang_counts.values())


def test_manifest_matches_what_the_readers_accept_and_reject(tmp_path):
    manifest = generate(tmp_path / "c", n_docs=400, seed=3, oversize_bytes=4_300_000, shard_docs=150)
    assert manifest.n_docs == 400
    accepted, rejected = _read_all(manifest)
    _check_counts(manifest, accepted, rejected)
    assert set(manifest.malformed) <= set(REASONS)
    assert set(manifest.malformed) >= {
        "invalid_json",
        "invalid_utf8",
        "not_an_object",
        "missing_text",
        "empty_text",
        "wrong_type",
        "missing_id",
        "text_too_large",
        "binary_garbage",
        "mojibake",
        "unsupported_content_type",
        "corrupt_file",
        "unknown_format",
        "duplicate_record_key",
    }
    assert [s["name"] for s in manifest.sources] == ["news", "forum", "web", "docs", "misc"]
    assert {s["format"] for s in manifest.sources} == {"jsonl", "warc", "parquet", "auto"}
    names = {p.name for p in (tmp_path / "c").rglob("*")}
    assert {"news-00000.jsonl.gz", "forum-00000.jsonl.zst", "web-00000.warc.gz", "docs-00000.parquet"} <= names

    text = {(name, rec.record_key.removeprefix("id:")): rec.text for name, rec in accepted}
    assert manifest.exact_duplicate_groups and manifest.near_duplicate_pairs
    for group in manifest.exact_duplicate_groups:
        assert len(group) >= 2 and len({text[tuple(k)] for k in group}) == 1
    assert any(len({s for s, _ in g}) > 1 for g in manifest.exact_duplicate_groups)  # across sources too
    for a, b, kind in manifest.near_duplicate_pairs:
        assert text[tuple(a)] != text[tuple(b)] and kind
    # no exact duplicates other than the planted ones
    by_text = Counter(text.values())
    planted = {text[tuple(g[0])]: len(g) for g in manifest.exact_duplicate_groups}
    assert {t: n for t, n in by_text.items() if n > 1} == planted

    assert any(len(t) > 16_000 for t in text.values())
    mean_bytes = sum(len(t.encode()) for t in text.values()) / len(text)
    assert 800 < mean_bytes < 4000
    share = {lang: n / manifest.n_docs for lang, n in manifest.lang_counts.items()}
    assert 0.35 < share["ko"] < 0.55 and 0.25 < share["en"] < 0.45
    assert 0.03 < share["ko+en"] < 0.15 and 0.01 < share["other"] < 0.12 and share["und"] > 0


def test_subset_of_formats_small_limits_and_tiny_corpora(tmp_path):
    small = IngestConfig(max_text_bytes=256 * 1024)
    manifest = generate(
        tmp_path / "a", n_docs=150, seed=2, formats=("news", "misc"), oversize_bytes=300_000, max_text_bytes=256 * 1024
    )
    assert [s["name"] for s in manifest.sources] == ["news", "misc"]
    assert manifest.malformed["text_too_large"] == 1
    _check_counts(manifest, *_read_all(manifest, small))
    for n in (0, 1, 7):
        manifest = generate(tmp_path / f"n{n}", n_docs=n, seed=n, oversize_bytes=0)
        assert "text_too_large" not in manifest.malformed
        _check_counts(manifest, *_read_all(manifest))
    manifest = generate(tmp_path / "clean", n_docs=120, seed=1, oversize_bytes=0, malformed=False)
    assert manifest.malformed == {}
    _check_counts(manifest, *_read_all(manifest))
    with pytest.raises(ValueError, match="oversize_bytes"):
        generate(tmp_path / "bad", n_docs=10, oversize_bytes=1000)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        manifest = generate(tmp_path / name, n_docs=200, seed=seed, oversize_bytes=4_300_000)
        runs[name] = (_digest(tmp_path / name), manifest.to_json().replace(str(tmp_path / name), ""))
    assert runs["a"] == runs["b"]
    assert runs["a"][0].keys() == runs["c"][0].keys()
    assert all(runs["a"][0][k] != runs["c"][0][k] for k in runs["a"][0] if not k.endswith("README.txt"))
    generate_jsonl(tmp_path / "ja", 500, seed=1, shard_docs=200)
    generate_jsonl(tmp_path / "jb", 500, seed=1, shard_docs=200)
    assert _digest(tmp_path / "ja") == _digest(tmp_path / "jb")


def test_intended_languages_are_what_language_id_finds(tmp_path):
    manifest = generate(tmp_path / "c", n_docs=600, seed=1, oversize_bytes=0, malformed=False)
    accepted, _ = _read_all(manifest)
    text = {f"{name}/{rec.record_key.removeprefix('id:')}": rec.text for name, rec in accepted}
    keys = [k for k in manifest.doc_langs if manifest.doc_styles[k] != "junk"]
    assert len(keys) > 450
    agree, total = Counter(), Counter()
    for key, (lang, *_rest) in zip(keys, identify([text[k] for k in keys], LangIdConfig()), strict=True):
        want = manifest.doc_langs[key]
        total[want] += 1
        agree[want] += lang == want
    assert set(total) == {"ko", "en", "ko+en", "other"}
    for lang in total:
        assert agree[lang] / total[lang] >= 0.9, (lang, agree[lang], total[lang])


def test_generate_jsonl_shards(tmp_path):
    paths = generate_jsonl(tmp_path / "j", n_docs=2500, seed=0, shard_docs=1000)
    assert [Path(p).name for p in paths] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    source = SourceConfig(name="bench", path=str(tmp_path / "j"), fields={"text": "text", "id": "id", "url": "url"})
    docs = [rec for p in paths for rec in read_file(Path(p).name, Path(p).read_bytes(), source, IngestConfig())]
    assert len(docs) == 2500 and all(isinstance(r, Accepted) for r in docs)
    assert len({r.record_key for r in docs}) == 2500
    langs = Counter(lang for lang, *_ in identify([r.text for r in docs[:600]], LangIdConfig()))
    assert langs["ko"] > langs["en"] > langs["ko+en"] > 0 and langs["other"] > 0


def test_demo_benchmark_and_its_planted_copies(tmp_path):
    manifest = generate(tmp_path / "c", n_docs=600, seed=4, oversize_bytes=0, malformed=False)
    bench = manifest.benchmark
    # a GSM8K-layout test set that the registry reads with the real preset
    rows = [json.loads(line) for line in Path(bench["path"]).read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 200 and all(set(r) == {"question", "answer"} and "\n#### " in r["answer"] for r in rows)
    examples = {e.example_id: e.text for e in load_examples(BenchmarkConfig(**bench["config"]))}
    assert len(examples) == 200 and bench["by_lang"] == {"en": 100, "ko": 100}
    hangul = sum(any("가" <= c <= "힣" for c in t) for t in examples.values())
    assert hangul == 100
    norm = {k: normalize_for_matching(t) for k, t in examples.items()}
    assert len(set(norm.values())) == 200 and min(map(len, norm.values())) > 100

    accepted, _ = _read_all(manifest)
    text = {f"{name}/{rec.record_key.removeprefix('id:')}": rec.text for name, rec in accepted}
    planted = manifest.contaminated_docs
    assert len(planted) == default_planted_docs(600) == 18
    assert Counter(p["kind"] for p in planted.values()) == {"whole": 6, "partial": 6, "perturbed": 6}
    assert len({p["example_id"] for p in planted.values()}) == len(planted)
    chars = sorted(p["chars"] for p in planted.values())
    assert chars[0] < 500 and chars[-1] > 10_000 and sum(2_000 <= c < 10_000 for c in chars) >= 3
    related = {tuple(k) for g in manifest.exact_duplicate_groups for k in g}
    related |= {tuple(k) for a, b, _ in manifest.near_duplicate_pairs for k in (a, b)}
    for key, p in planted.items():
        example, doc = examples[p["example_id"]], text[key]
        ne, nd = norm[p["example_id"]], normalize_for_matching(doc)
        assert not key.startswith("web/") and tuple(key.split("/", 1)) not in related
        assert manifest.doc_langs[key] in ("ko", "en", "ko+en") and manifest.doc_styles[key] not in ("junk", "other")
        if manifest.doc_langs[key] != "ko+en":  # an example in the document's own language
            assert any("가" <= c <= "힣" for c in example) == (manifest.doc_langs[key] == "ko")
        if p["kind"] == "whole":
            assert example in doc
        elif p["kind"] == "partial":  # a suffix of at least 60 normalized characters, not the whole
            assert ne not in nd and ne[-60:] in nd
        else:  # case, spacing and punctuation changed; the same once normalized
            assert example not in doc and ne in nd
    # ground truth is exact: no other document shares a 50-character normalized substring with an example
    example_windows = set(np.concatenate([window_hashes(t) for t in norm.values()]).tolist())
    clean = [k for k in text if k not in planted]
    assert len(clean) == 600 - len(planted)
    assert not any(example_windows.intersection(window_hashes(normalize_for_matching(text[k])).tolist())
                   for k in clean)  # fmt: skip
    # without a benchmark: no test set, nothing planted
    manifest = generate(tmp_path / "plain", n_docs=100, seed=4, oversize_bytes=0, benchmark=False)
    assert manifest.benchmark == {} and manifest.contaminated_docs == {}
    assert not (tmp_path / "plain" / "benchmarks").exists()


@pytest.mark.parametrize(
    ("word", "particle", "expected"),
    [
        ("정부", "은", "정부는"),
        ("정책", "을", "정책을"),
        ("국회", "이", "국회가"),
        ("서울", "으로", "서울로"),
        ("부산", "으로", "부산으로"),
        ("교육부", "과", "교육부와"),
        ("3", "을", "3을"),
    ],
)
def test_korean_particles_follow_the_last_syllable(word, particle, expected):
    assert josa(word, particle) == expected


def test_generator_digest_covers_every_generator_module():
    from demo import benchmark, corpus, document, files, pii, text, vocabulary
    from demo.corpus import generator_digest

    digest = generator_digest()
    assert len(digest) == 12 and digest == generator_digest()
    h = hashlib.sha1()
    for module in (corpus, vocabulary, text, document, files, benchmark, pii):
        h.update(Path(module.__file__).read_bytes())
    assert digest == h.hexdigest()[:12]
