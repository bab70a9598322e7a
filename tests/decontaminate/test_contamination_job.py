"""The contamination job on real Spark + Delta: benchmark passages planted (whole, partial, with
changed case / spacing / punctuation, Korean and English) at random offsets in documents of 200
to 20,000 characters. Exhaustive mode finds every planted passage of at least S normalized
characters and flags no clean document; sampled mode's recall matches its analytic expectation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from moru.decontam_eval import planted_corpus, sampled_detection_probability
from quality.decontam import normalize_for_matching
from spark_jobs import ingest, normalize, tables
from spark_jobs.decontaminate.contamination import ContaminationConfig, build_substrings
from spark_jobs.decontaminate.contamination import run as contamination_run
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

pytestmark = pytest.mark.spark


def _corpus():
    c = planted_corpus()
    return c.examples, [{"id": d["id"], "text": d["text"]} for d in c.docs], c.planted


@pytest.fixture(scope="module")
def contaminated_workdir(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decont")
    examples, docs, planted = _corpus()
    folder: Path = tmp / "in"
    folder.mkdir()
    (folder / "d.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), "utf-8")
    workdir = str(tmp / "wd")
    ingest.run(spark, workdir, [SourceConfig(name="s", path=str(folder), fields=FieldMapping(id="id"))], IngestConfig())
    normalize.run(spark, workdir)
    cfg = ContaminationConfig()
    stats = build_substrings(spark, workdir, spark.createDataFrame(examples), cfg)
    assert stats.rows_in == stats.rows_out == len(examples)
    n_windows = sum(len(normalize_for_matching(e["text"])) - cfg.window + 1 for e in examples)
    assert stats.extra["substrings"] == n_windows
    ids = {r["doc_id"]: r["record_key"].removeprefix("id:")
           for r in tables.read(spark, workdir, tables.RAW_DOCUMENTS).collect()}  # fmt: skip
    texts = {ids[r["doc_id"]]: r["text"] for r in tables.read(spark, workdir, tables.DOCUMENTS).collect()}
    return workdir, examples, planted, ids, texts


def _found(spark, workdir, ids) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in tables.read(spark, workdir, tables.CONTAMINATION).collect():
        out.setdefault(ids[r["doc_id"]], []).append(r.asDict())
    return out


def test_exhaustive_finds_every_planted_passage_and_no_clean_document(spark, contaminated_workdir):
    workdir, examples, planted, ids, texts = contaminated_workdir
    stats = contamination_run(spark, workdir, ContaminationConfig(mode="exhaustive"))
    found = _found(spark, workdir, ids)
    assert set(found) == set(planted), (set(planted) - set(found), set(found) - set(planted))
    assert stats.rows_rejected == len(planted) and stats.rows_in == 60
    from spark_jobs import summaries

    assert summaries.contamination_summary(spark, workdir) == [
        {"benchmark": "toyqa", "indexed_examples": len(examples), "mode": "exhaustive",
         "contaminated_examples": len({p[0] for p in planted.values()}), "contaminated_docs": len(planted)}
    ]  # fmt: skip
    by_id = {e["example_id"]: e for e in examples}
    for doc, (example_id, passage, _at, _kind) in planted.items():
        rows = {r["example_id"]: r for r in found[doc]}
        assert example_id in rows, (doc, rows)
        row = rows[example_id]
        norm_example = normalize_for_matching(by_id[example_id]["text"])
        assert row["matched_substring"] in norm_example and len(row["matched_substring"]) == 50
        assert row["mode"] == "exhaustive"
        # the windows inside the planted passage all match (there may be more: repeated phrases)
        assert row["matched_windows"] >= len(normalize_for_matching(passage)) - 49
        # the offset points into the original text where the matched substring starts
        assert normalize_for_matching(texts[doc][row["offset"] :]).startswith(row["matched_substring"])


def test_sampled_recall_matches_its_expectation(spark, contaminated_workdir):
    workdir, _examples, planted, ids, texts = contaminated_workdir
    cfg = ContaminationConfig(mode="sampled", samples=10)
    contamination_run(spark, workdir, cfg)
    found = _found(spark, workdir, ids)
    assert set(found) <= set(planted)  # no clean document flagged
    expected, variance = 0.0, 0.0
    for doc, (_ex, passage, _at, _kind) in planted.items():
        p = sampled_detection_probability(texts[doc], passage, cfg.window, cfg.samples)
        expected += p
        variance += p * (1 - p)
    got = len(found)
    assert abs(got - expected) <= 3 * math.sqrt(variance) + 1, (got, expected, variance)
    assert all(r["mode"] == "sampled" for rows in found.values() for r in rows)


def test_select_drops_contaminated_documents(spark, contaminated_workdir):
    from spark_jobs import signals
    from spark_jobs.select import SelectConfig
    from spark_jobs.select import run as select_run

    workdir, _examples, planted, ids, _texts = contaminated_workdir
    contamination_run(spark, workdir, ContaminationConfig(mode="exhaustive"))
    signals.run(spark, workdir)
    # no quality rules, so that only contamination decides here
    no_rules = {lang: {n: None for n in SelectConfig().thresholds[lang]} for lang in ("ko", "en")}
    select_run(spark, workdir, SelectConfig(thresholds=no_rules))
    sel = {ids[r["doc_id"]]: r for r in tables.read(spark, workdir, tables.SELECTION).collect()}
    dropped = {d for d, r in sel.items() if r["dropped_at"] == "contamination"}
    assert dropped == set(planted)
    assert all(sel[d]["failed_rules"] == ["contaminated:toyqa"] for d in dropped)
    corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS)
    assert corpus.count() == 60 - len(planted) and corpus.filter("contaminated").count() == 0
    # not dropping: the contaminated documents reach training_corpus, flagged (the gate stops them)
    select_run(spark, workdir, SelectConfig(thresholds=no_rules, drop_contaminated=False))
    corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS)
    assert corpus.count() == 60 and corpus.filter("contaminated").count() == len(planted)
