"""posttrain_decontaminate on small tables: benchmark questions planted in a user turn, in an assistant turn and in
a rejected response are flagged with their table, turn column, index and role; the pretraining rows of
``contamination`` are left alone (tests/spark_jobs/decontaminate/test_contamination_schema.py has the other
direction); and the select step keeps every flagged example out of sft_corpus and preference_corpus."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F

from quality.decontam import normalize_for_matching
from spark_jobs import tables
from spark_jobs.decontaminate.benchmarks import BenchmarkConfig
from spark_jobs.decontaminate.contamination import DecontaminateConfig, write_contamination
from spark_jobs.posttrain import select, signals
from spark_jobs.posttrain.decontaminate import JOB, run_stage
from tests.spark_jobs.posttrain.helpers_selection import conversation, pair, write_conversations, write_pairs

pytestmark = pytest.mark.spark

BENCH = [
    {"id": "b1", "q": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                      "How many clips did Natalia sell altogether in April and May?"},
    {"id": "b2", "q": "철수는 사과를 12개 가지고 있었는데 영희에게 그 중 3분의 1을 주고 나머지의 절반을 먹었습니다. "
                      "철수에게 남은 사과는 몇 개입니까?"},
    {"id": "b3", "q": "A train leaves the station at 3 pm traveling at 60 miles per hour. Another train leaves the "
                      "same station at 4 pm traveling at 80 miles per hour. When does the second train catch up?"},
    {"id": "b4", "q": "Which planet in our solar system has the longest day, longer even than its own year?"},
]  # fmt: skip
U, A = "user", "assistant"
CONVERSATIONS = [
    # b1 in a user turn, re-cased and without its punctuation
    conversation("c_user", (U, "Can you solve this? natalia SOLD clips to 48 of her friends in april and then she "
                               "sold half as many clips in may how many clips did natalia sell altogether"),
                 (A, "She sold 72 clips in total over the two months.")),  # fmt: skip
    # b2 in an assistant turn, re-spaced
    conversation("c_assistant", (U, "수학 문제 하나 내 주세요."),
                 (A, "좋아요. 철수는 사과를 12개 가지고 있었는데 영희에게 그중 3분의 1을 주고 나머지의 절반을 "
                     "먹었습니다. 철수에게 남은 사과는 몇 개 입니까?"), lang="ko"),  # fmt: skip
    conversation("c_clean", (U, "How do I boil an egg so that the yolk stays soft?"),
                 (A, "Boil it for about six minutes, then cool it in cold water.")),  # fmt: skip
]
PAIRS = [
    # b3 in the rejected response of a pair
    pair("p_rejected", "Give me a puzzle about two trains, please.",
         "Two trains leave a town an hour apart; work out when the faster one catches up.",
         BENCH[2]["q"], 0.9, 0.2),  # fmt: skip
    pair("p_clean", "Give me a puzzle about two boats, please.",
         "Two boats cross a lake from opposite shores; where do they meet?", "No.", 0.8, 0.1),  # fmt: skip
]


@pytest.fixture(scope="module")
def flagged(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pt_decont")
    wd = str(tmp / "wd")
    write_conversations(spark, wd, CONVERSATIONS)
    write_pairs(spark, wd, PAIRS)
    # a pretraining row already in the table: the post-training job must leave it
    doc_row = spark.createDataFrame(
        [("doc1", "toyqa", "test", "b4", "whichplanet", 7, 3, "exhaustive", "window", "documents", None, None, None)],
        tables.CONTAMINATION.ddl.replace(" NOT NULL", ""),
    )
    write_contamination(spark, wd, doc_row, ("documents",))
    bench = tmp / "toyqa.jsonl"
    bench.write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in BENCH), "utf-8")
    cfg = DecontaminateConfig(benchmarks=[BenchmarkConfig(name="toyqa", path=str(bench),
                                                          fields={"text": ["q"], "id": "id"})])  # fmt: skip
    stats = run_stage(spark, wd, cfg)
    return wd, cfg, stats


def _rows(spark, wd):
    return {
        (r["source_table"], r["doc_id"], r["turn_column"], r["turn"], r["role"], r["example_id"])
        for r in tables.read(spark, wd, tables.CONTAMINATION).collect()
    }


def test_every_planted_turn_is_flagged_with_its_table_and_turn(spark, flagged):
    wd, _cfg, stats = flagged
    assert _rows(spark, wd) == {
        ("conversations", "c_user", "messages", 0, "user", "b1"),
        ("conversations", "c_assistant", "messages", 1, "assistant", "b2"),
        ("preference_pairs", "p_rejected", "rejected", 0, "assistant", "b3"),
        ("documents", "doc1", None, None, None, "b4"),
    }
    assert (stats.rows_in, stats.rows_out, stats.rows_rejected) == (5, 2, 3)
    assert stats.by_reason == {"contaminated:conversations": 2, "contaminated:preference_pairs": 1}
    assert stats.extra["flagged_by_turn_column"] == {"conversations.messages": 2, "preference_pairs.rejected": 1}
    row = tables.read(spark, wd, tables.CONTAMINATION).filter("doc_id = 'c_assistant'").head()
    assert row["matched_substring"] in normalize_for_matching(BENCH[1]["q"])
    assert (row["mode"], row["match"]) == ("exhaustive", "window")


def test_flagged_examples_never_reach_the_corpora(spark, flagged):
    wd, _cfg, _stats = flagged
    signals.run(spark, wd)
    # duplicates are test_signals_select's; here only contamination decides
    stats = select.run(spark, wd, select.PosttrainSelectConfig(drop_duplicates=False))
    sel = {r["doc_id"]: r for r in tables.read(spark, wd, tables.POSTTRAIN_SELECTION).collect()}
    for doc in ("c_user", "c_assistant", "p_rejected"):
        assert (sel[doc]["dropped_at"], sel[doc]["failed_rules"], sel[doc]["contaminated"]) == (
            "contamination", ["contaminated:toyqa"], True)  # fmt: skip
    assert {r["doc_id"] for r in tables.read(spark, wd, tables.SFT_CORPUS).collect()} == {"c_clean"}
    assert {r["doc_id"] for r in tables.read(spark, wd, tables.PREFERENCE_CORPUS).collect()} == {"p_clean"}
    assert stats.by_reason == {"contamination": 3}
    assert tables.read(spark, wd, tables.SFT_CORPUS).filter(F.col("contaminated")).count() == 0


def test_the_job_runs_only_with_sources_and_benchmarks():
    def cfg(sources, benchmarks):
        return SimpleNamespace(posttrain=SimpleNamespace(sources=sources),
                               decontaminate=SimpleNamespace(benchmarks=benchmarks))  # fmt: skip

    assert JOB.skip_reason(cfg(["x"], [])) == "decontaminate.benchmarks is empty"
    assert JOB.skip_reason(cfg([], ["b"])) == "posttrain.sources is empty"
    assert JOB.skip_reason(cfg(["x"], ["b"])) is None
