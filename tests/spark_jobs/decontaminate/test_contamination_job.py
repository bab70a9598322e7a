"""The contamination job on real Spark + Delta: benchmark passages planted (whole, partial, with
changed case / spacing / punctuation, Korean and English) at random offsets in documents of 200
to 100,000 characters. Exhaustive mode finds every planted passage of at least S normalized
characters and flags no clean document; sampled mode's recall matches its analytic expectation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from demo.decontam_eval import planted_corpus, sampled_detection_probability
from quality.decontam import normalize_for_matching
from spark_jobs import ingest, normalize, tables
from spark_jobs.decontaminate.contamination import ContaminationConfig, build_substrings
from spark_jobs.decontaminate.contamination import run as contamination_run
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

pytestmark = pytest.mark.spark


def _corpus():
    c = planted_corpus(lengths=(200, 1_000, 5_000, 20_000, 100_000))
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
        {"benchmark": "toyqa", "examples": len(examples), "indexed_examples": len(examples), "mode": "exhaustive",
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


def test_examples_shorter_than_the_window_are_found_whole(spark, tmp_path):
    """A 30-character example (KMMLU has many) is indexed through its 25-character windows and a
    document counts only when it contains the whole normalized example; a 15-character one is too
    short and is counted as not indexed, with its reason."""
    short = "Which gas do plants absorb? CO2 oxygen"  # 32 normalized chars
    tiny = "2 + 2 = ? (a) 4"  # 5 normalized chars
    example_long = "Q7: " + "the river city market bakery museum library council budget morning " * 2
    examples = [
        {"benchmark": "kq", "split": "test", "example_id": "short", "text": short},
        {"benchmark": "kq", "split": "test", "example_id": "tiny", "text": tiny},
        {"benchmark": "kq", "split": "test", "example_id": "long", "text": example_long},
    ]
    filler = "Plants need light and water to grow well in the garden every single day. " * 4
    docs = [
        {"id": "whole", "text": filler + "WHICH gas do plants   absorb?? co2, Oxygen!" + filler},
        # the example's first 28 normalized characters (its first 25-character windows match), not all of it
        {"id": "part", "text": filler + "which gas do plants absorb co2 and nothing else" + filler},
        {"id": "clean", "text": filler * 2},
        {"id": "tiny", "text": filler + tiny + filler},
        {"id": "long", "text": filler + example_long + filler},
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "d.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), "utf-8")
    workdir = str(tmp_path / "wd")
    ingest.run(spark, workdir, [SourceConfig(name="s", path=str(folder), fields=FieldMapping(id="id"))], IngestConfig())
    normalize.run(spark, workdir)
    cfg = ContaminationConfig(broadcast_max_rows=0)  # the benchmark_substrings table, for its rows below
    stats = build_substrings(spark, workdir, spark.createDataFrame(examples), cfg)
    assert (stats.rows_in, stats.rows_out, stats.rows_rejected) == (3, 2, 1) and stats.extra["index"] == "table"
    assert stats.by_reason == {"shorter_than_25_chars": 1} and stats.extra["short_examples"] == 1
    indexed = {r["example_id"]: r for r in tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES).collect()}
    assert {k: (r["indexed_as"], r["window"]) for k, r in indexed.items()} == {
        "short": ("short", 25), "tiny": ("too_short", 25), "long": ("windows", 50)
    }  # fmt: skip
    n_short = len(normalize_for_matching(short))
    assert indexed["short"]["n_chars"] == n_short and 25 <= n_short < 50
    subs = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS)
    assert subs.filter("example_id = 'short' AND window = 25").count() == n_short - 25 + 1
    assert subs.filter("example_id = 'tiny'").count() == 0
    ids = {r["doc_id"]: r["record_key"].removeprefix("id:")
           for r in tables.read(spark, workdir, tables.RAW_DOCUMENTS).collect()}  # fmt: skip
    texts = {ids[r["doc_id"]]: r["text"] for r in tables.read(spark, workdir, tables.DOCUMENTS).collect()}
    for mode in ("exhaustive", "sampled"):
        run_stats = contamination_run(spark, workdir, ContaminationConfig(mode=mode))
        found = _found(spark, workdir, ids)
        assert set(found) == {"whole", "long"} if mode == "exhaustive" else set(found) <= {"whole", "long"}
        if mode == "exhaustive":
            assert run_stats.extra["short_candidates_not_contained"] >= 1  # "part" matched windows, not the whole
            (row,) = found["whole"]
            assert (row["example_id"], row["match"]) == ("short", "whole")
            assert row["matched_substring"] == normalize_for_matching(short)
            assert normalize_for_matching(texts["whole"][row["offset"] :]).startswith(row["matched_substring"])
            assert {r["match"] for r in found["long"]} == {"window"}
            from spark_jobs import summaries

            (summary,) = summaries.contamination_summary(spark, workdir)
            assert (summary["examples"], summary["indexed_examples"], summary["contaminated_docs"]) == (3, 2, 2)


def test_a_window_mismatch_asks_for_a_rebuild(spark, contaminated_workdir):
    workdir = contaminated_workdir[0]
    with pytest.raises(ValueError, match="rebuild"):
        contamination_run(spark, workdir, ContaminationConfig(window=40, short_window=20))


def test_short_window_must_be_below_the_window():
    with pytest.raises(ValueError, match="short_window"):
        ContaminationConfig(window=30, short_window=30)


def test_the_stage_rebuilds_the_substrings_only_when_the_test_sets_change(spark, contaminated_workdir, tmp_path):
    from spark_jobs.decontaminate.benchmarks import BenchmarkConfig
    from spark_jobs.decontaminate.contamination import DecontaminateConfig, run_stage

    workdir, examples, planted, ids, _texts = contaminated_workdir
    bench = tmp_path / "toyqa.jsonl"
    bench.write_text("".join(json.dumps({"id": e["example_id"], "q": e["text"]}) + "\n" for e in examples), "utf-8")
    cfg = DecontaminateConfig(
        benchmarks=[BenchmarkConfig(name="toyqa", path=str(bench), fields={"text": ["q"], "id": "id"})]
    )
    version = lambda: tables.version(spark, workdir, tables.BENCHMARK_EXAMPLES)  # noqa: E731
    # the index files: the index and its example names
    indexes = lambda: sorted(p.name for p in Path(workdir, "indexes").iterdir() if p.suffix == ".bin")  # noqa: E731
    first = run_stage(spark, workdir, cfg)
    assert first.extra["benchmark_substrings_reused"] is False and first.rows_rejected == len(planted)
    v, files = version(), indexes()
    assert len(files) == 1 and files[0].startswith("benchmark_substrings-w50-25-")  # the in-memory index's file
    assert sorted(p.name for p in Path(workdir, "indexes").iterdir()) == [files[0], files[0] + ".names.arrow"]
    mtime = Path(workdir, "indexes", files[0]).stat().st_mtime_ns
    again = run_stage(spark, workdir, cfg)
    assert again.extra["benchmark_substrings_reused"] is True and version() == v
    assert indexes() == files and Path(workdir, "indexes", files[0]).stat().st_mtime_ns == mtime  # not rebuilt
    assert set(
        ids[d] for d in {r["doc_id"] for r in tables.read(spark, workdir, tables.CONTAMINATION).collect()}
    ) == set(planted)
    # one example fewer: rebuilt, and the documents holding only that example are no longer flagged
    dropped = examples[0]["example_id"]
    bench.write_text("".join(json.dumps({"id": e["example_id"], "q": e["text"]}) + "\n" for e in examples[1:]), "utf-8")
    changed = run_stage(spark, workdir, cfg)
    assert changed.extra["benchmark_substrings_reused"] is False and version() > v
    assert len(indexes()) == 1 and indexes() != files  # the new version's index, the old one's removed
    assert len(list(Path(workdir, "indexes").iterdir())) == 2
    assert changed.rows_rejected == sum(1 for p in planted.values() if p[0] != dropped)
    # back to every example (the module's other tests share this workdir)
    bench.write_text("".join(json.dumps({"id": e["example_id"], "q": e["text"]}) + "\n" for e in examples), "utf-8")
    assert run_stage(spark, workdir, cfg).rows_rejected == len(planted)


def test_a_shuffle_join_finds_the_same_documents(spark, contaminated_workdir):
    workdir, _examples, planted, ids, _texts = contaminated_workdir
    stats = contamination_run(spark, workdir, ContaminationConfig(mode="exhaustive", broadcast_max_rows=0))
    assert stats.extra["broadcast"] is False
    # the table the join reads, written on demand from benchmark_examples: one row per window of each example
    subs = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS).count()
    assert subs == stats.extra["benchmark_substrings"] > 0
    assert set(_found(spark, workdir, ids)) == set(planted)
