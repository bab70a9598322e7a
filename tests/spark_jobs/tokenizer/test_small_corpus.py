"""The tokenizer job on a corpus of a handful of documents: the first run passes (an empty held-out split is
reported, not an error) and a language whose every document hashes into the held-out range is trained on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.job import JobContext
from spark_jobs import tables
from spark_jobs.config import JobsConfig
from spark_jobs.tokenizer.job import JOB
from spark_jobs.tokenizer.sample import _uniform, heldout, sample
from tokenizer.config import SampleConfig
from tokenizer.evaluate import NO_HELDOUT

pytestmark = pytest.mark.spark

KO = [
    "정부는 오늘 새로운 교통 정책을 발표했다. 전문가들은 시민의 불편이 줄 것으로 평가했다.",
    "연구진은 새로운 치료법의 효과를 확인했다고 밝혔다. 임상 시험은 내년까지 이어진다.",
    "서울의 기온이 크게 떨어지면서 시민들이 두꺼운 옷을 꺼내 입었다.",
    "도서관은 주말에도 문을 열어 학생들이 공부할 수 있도록 했다.",
    "지역 축제에는 많은 관광객이 찾아와 전통 음식을 즐겼다.",
    "회사는 올해 매출이 작년보다 늘었다고 발표했다.",
]
EN = [
    "The committee published its annual report on water quality in the region.",
    "Scientists measured the temperature of the ocean for ten years and found a steady rise.",
    "The library will stay open on weekends so that students can study for their exams.",
    "Tourists visited the festival and tried traditional food from the area.",
    "The company said its revenue grew compared with the previous year.",
    "A new bridge across the river will shorten the commute for thousands of people.",
]


def _write_corpus(spark, workdir: str, docs: list[tuple[str, str, str]]) -> None:
    rows = [
        {"doc_id": d, "source": "tiny", "lang": lang, "url": None, "text": t, "n_chars": len(t),
         "n_bytes": len(t.encode()), "n_words": len(t.split()), "content_hash": d, "quality_score": None,
         "contaminated": False, "rules_fingerprint": "x"}
        for d, lang, t in docs
    ]  # fmt: skip
    df = spark.createDataFrame(rows, schema=tables.TRAINING_CORPUS.schema)
    df.write.format("delta").mode("overwrite").save(tables.table_uri(workdir, tables.TRAINING_CORPUS))


def _u(spark, doc_ids: list[str], seed: int = 0) -> dict[str, float]:
    """Each doc_id's hash value u, as the sampler computes it."""
    df = spark.createDataFrame([(d,) for d in doc_ids], "doc_id STRING")
    return {r["doc_id"]: r["u"] for r in df.select("doc_id", _uniform("doc_id", seed).alias("u")).collect()}


def test_first_run_on_twelve_documents_passes_and_reports_no_held_out_documents(spark, tmp_path):
    ids = [f"tiny{i:02d}" for i in range(12)]
    assert max(_u(spark, ids).values()) < 0.99  # the premise: none falls in the default 1 % held-out range
    docs = [(d, "ko" if i < 6 else "en", t) for i, (d, t) in enumerate(zip(ids, KO + EN, strict=True))]
    _write_corpus(spark, str(tmp_path), docs)
    cfg = JobsConfig(workdir=str(tmp_path), tokenizer={"vocab_size": 400, "eval": {"shipped_baselines": False}})
    messages: list[str] = []
    ctx = JobContext(cfg=cfg, spark_factory=lambda: spark, progress=messages.append)
    first = JOB(ctx)
    assert first.extra["retrained"] and 0 < first.rows_in == first.rows_out <= 12
    assert first.extra["rounds"][-1]["docs"]["ko"] == 6  # the steering wants Korean: all of it, English cut to share
    assert first.extra["heldout"]["docs"] == {} and first.extra["compression"] == []
    notes = " | ".join(first.extra["notes"])
    assert "no held-out documents" in notes and NO_HELDOUT in notes, first.extra["notes"]
    assert any("no held-out documents" in m for m in messages)
    model = tmp_path / "tokenizer" / "model"
    assert json.loads((model / "moru_tokenizer.json").read_text())["heldout"]["docs"] == {}
    eval_dir = tmp_path / "tokenizer" / "eval"
    assert json.loads((eval_dir / "compression.json").read_text()) == []
    assert NO_HELDOUT in (eval_dir / "compression.md").read_text()
    # the second run keeps the tokenizer and says the same
    second = JOB(JobContext(cfg=cfg, spark_factory=lambda: spark))
    assert not second.extra["retrained"] and second.rows_unchanged == first.rows_in
    assert second.extra["notes"] == first.extra["notes"]


def test_a_language_all_inside_the_held_out_range_is_trained_on(spark, tmp_path):
    cfg = SampleConfig(holdout_fraction=0.3)
    u = _u(spark, [f"k{i}" for i in range(200)] + [f"e{i}" for i in range(200)])
    ko = [d for d in u if d.startswith("k") and u[d] >= 0.7][:2]  # both Korean documents are held-out ones
    en_in = [d for d in u if d.startswith("e") and u[d] < 0.7][:4]
    en_out = [d for d in u if d.startswith("e") and u[d] >= 0.7][:2]
    docs = [(d, "ko", t) for d, t in zip(ko, KO, strict=False)]
    docs += [(d, "en", t) for d, t in zip(en_in + en_out, EN, strict=True)]
    workdir = str(tmp_path / "w")
    _write_corpus(spark, workdir, docs)
    stats = sample(spark, workdir, cfg, str(tmp_path / "s"), korean_share=0.5, total_bytes=10**6)
    assert stats.docs["ko"] == 2 and stats.available_bytes["ko"] == sum(len(t.encode()) for t in KO[:2])
    assert stats.docs["en"] <= 4 and any("all 2 Korean documents" in n for n in stats.notes), stats.notes
    held = heldout(spark, workdir, cfg, str(tmp_path / "held"))
    assert held == {"en": 2}  # English keeps its held-out split; Korean has none
    import pyarrow.parquet as pq

    trained = set(pq.read_table(str(tmp_path / "s"), columns=["doc_id"]).column(0).to_pylist())
    assert set(ko) <= trained and not set(en_out) & trained and Path(tmp_path / "held").is_dir()
