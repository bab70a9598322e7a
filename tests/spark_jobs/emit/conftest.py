"""A gated Delta workdir (documents + training_corpus from the demo generator's bilingual documents, three
sources, a few very long documents, one that spells the end-of-document token), a tiny tokenizer trained on it,
and one emit run over it, shared by the emit tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

SOURCES = ("news", "web", "forum")
EOD_TEXT = "대화가 끝나면 [|endofturn|] 토큰이 붙는다. The literal [|endofturn|] string is plain text here."

# stage 2 at the scale of this corpus: long = 512+ tokens, pieces of at most 2,048 tokens, 25 % replay; stage 3:
# long = 8,192+ tokens (the very long documents below, ~20-30K tokens, and the longest single ones), pieces of at
# most 16,384 tokens, 30 % rehearsal (of the shorter documents, stage 2's long ones among them)
EMIT = {
    "partitions": 3,
    "split": {"valid": 0.1, "test": 0.1},
    "multipliers": {"lang": {"ko": 2.0}, "source": {"forum": 0.5}},
    "stage2": {"min_tokens": 512, "max_tokens": 2048, "replay_ratio": 0.25},
    "stage3": {"enabled": True, "min_doc_tokens": 8192, "max_doc_tokens": 16384, "rehearsal_share": 0.3, "seed": 1},
}


def lang_of(text: str) -> str | None:
    from tokenizer.mecab import has_hangul

    if has_hangul(text):
        latin = sum(c.isascii() and c.isalpha() for c in text)
        return "ko+en" if latin > 0.3 * len(text) else "ko"
    return "en" if sum(c.isascii() for c in text) > 0.9 * len(text) else None


@pytest.fixture(scope="session")
def emit_texts(tmp_path_factory) -> list[str]:
    """~1,000 distinct ko/en documents, plus 4 very long ones (several demo documents end to end) and one with
    the end-of-document token's text in it."""
    from demo.corpus import generate_jsonl

    paths = generate_jsonl(tmp_path_factory.mktemp("emit_corpus"), n_docs=1000, seed=23)
    texts = []
    for p in paths:
        with open(p, "rb") as fh:
            texts += [orjson.loads(line)["text"] for line in fh if line.strip()]
    texts = [t for t in dict.fromkeys(texts) if lang_of(t)]
    longest = sorted(texts, key=len)[-40:]
    texts += ["\n\n".join(longest[i::4]) for i in range(4)]
    return texts + [EOD_TEXT]


@pytest.fixture(scope="session")
def emit_tokenizer(emit_texts, tmp_path_factory) -> Path:
    from tokenizer import bbpe, hf
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(vocab_size=1500)
    tok = bbpe.train(emit_texts, cfg)
    return hf.save(tok, cfg, tmp_path_factory.mktemp("emit_tok") / "model", {"test": True})


def corpus_rows(texts: list[str]) -> tuple[list[dict], list[dict]]:
    """(documents rows, training_corpus rows) for ``texts``."""
    from spark_jobs import tables

    now = dt.datetime(2026, 1, 1)
    docs, corpus = [], []
    for i, text in enumerate(texts):
        lang = lang_of(text)
        doc = {
            "doc_id": hashlib.sha1(f"doc{i}".encode()).hexdigest()[:16], "source": SOURCES[i % 3], "url": None,
            "text": text, "lang": lang, "lid_label": lang, "lid_score": 0.9,
            "hangul_ratio": 0.5 if lang != "en" else 0.0, "latin_ratio": 0.5, "han_ratio": 0.0,
            "n_chars": len(text), "n_bytes": len(text.encode()), "n_words": len(text.split()),
            "n_lines": text.count("\n") + 1, "metadata": {}, "raw_sha1": "x", "normalize_fingerprint": "f",
            "ingested_at": now,
        }  # fmt: skip
        docs.append(doc)
        row = {c: doc[c] for c in tables.TRAINING_CORPUS.columns if c in doc}
        row.update(content_hash=hashlib.sha1(text.encode()).hexdigest(), quality_score=0.8, contaminated=False,
                   rules_fingerprint="r")  # fmt: skip
        corpus.append(row)
    return docs, corpus


@pytest.fixture(scope="session")
def gated_workdir(spark, emit_texts, emit_tokenizer, tmp_path_factory) -> Path:
    """Delta documents + training_corpus that passed the real gate, with the tokenizer at the default place."""
    from spark_jobs import gate, tables

    wd = tmp_path_factory.mktemp("emit_wd")
    docs, corpus = corpus_rows(emit_texts)
    tables.overwrite(spark, spark.createDataFrame(docs, tables.DOCUMENTS.schema), str(wd), tables.DOCUMENTS)
    tables.overwrite(spark, spark.createDataFrame(corpus, tables.TRAINING_CORPUS.schema), str(wd),
                     tables.TRAINING_CORPUS)  # fmt: skip
    result = gate.run(spark, str(wd))
    assert result.passed, result.failure_messages()
    shutil.copytree(emit_tokenizer, wd / "tokenizer" / "model")
    return wd


def copy_workdir(src: Path, dst: Path) -> Path:
    """A workdir of its own (tables, gate result, tokenizer) for a test that changes it."""
    skip = shutil.ignore_patterns("emit", "report", "emitted_documents", "emit_token_stats")
    shutil.copytree(src, dst, ignore=skip)
    return dst


@dataclass
class Emitted:
    workdir: Path
    cfg: object
    stats: object
    manifest: dict
    out: Path

    def blend(self, stage: str) -> dict:
        return json.loads((self.out / f"{stage}_blend.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def emitted(spark, gated_workdir) -> Emitted:
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    cfg = EmitConfig.model_validate(EMIT)
    stats = job.run(spark, str(gated_workdir), cfg)
    out = gated_workdir / "emit"
    return Emitted(gated_workdir, cfg, stats, json.loads((out / "manifest.json").read_text()), out)
