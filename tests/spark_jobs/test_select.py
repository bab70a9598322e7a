"""The select job on real Spark + Delta: per-language thresholds, dedup flags and the classifier
score decide each document; dropped documents keep their first and all failing rules; a
threshold change re-runs only select; the funnel counts per stage and language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_jobs import ingest, normalize, signals, summaries, tables
from spark_jobs.classifier import train as train_classifier
from spark_jobs.config import JobsConfig
from spark_jobs.dedup import exact, minhash
from spark_jobs.dedup.config import DedupConfig
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.select import SelectConfig, decide
from spark_jobs.select import run as select_run

pytestmark = pytest.mark.spark

KO_GOOD = (
    "서울시는 다음 달부터 심야 버스 노선을 열두 개로 늘린다고 밝혔다. 그동안 늦은 밤에 귀가하는 시민들은 "
    "택시를 잡기 어려워 불편을 겪어 왔다. 새 노선은 강남과 종로, 여의도를 지나며 배차 간격은 평균 이십 분이다. "
    "시 관계자는 이용객 수를 분석해 연말에 노선을 다시 조정할 계획이라고 설명했다. 시민 단체는 이번 결정을 "
    "환영하면서도 외곽 지역의 교통 문제도 함께 살펴 달라고 요청했다."
)
EN_GOOD = (
    "The city council approved a new budget for the public library on Tuesday, and the mayor said that "
    "the money will pay for longer opening hours. Several residents spoke at the meeting, and most of them "
    "supported the plan because the library has been closed on weekends for two years. The new hours will "
    "start in the spring, and the council will review the results at the end of the year with the staff."
)
EN_OTHER = (
    "A small bakery on the corner of the market street has won a regional prize for its bread, and the owner "
    "said that the recipe came from her grandmother. The shop opens at six in the morning, and there is often "
    "a line of people waiting outside before the doors open. She plans to hire two more bakers this year and "
    "to keep the prices the same, because most of her customers are families who have lived there for years."
)
DOCS = [
    {"id": "ko_good", "text": KO_GOOD},
    {"id": "ko_copy", "text": KO_GOOD},  # exact duplicate of ko_good
    {"id": "ko_short", "text": "ㅋㅋㅋㅋ 진짜 웃기다 ㅠㅠ"},  # too few words, jamo noise, no sentence ending
    {"id": "en_good", "text": EN_GOOD},
    {"id": "en_lorem", "text": EN_OTHER + "\nLorem ipsum dolor sit amet."},  # C4's lorem ipsum marker
    {"id": "ja", "text": "今日は天気がとても良いので、公園へ散歩に行きました。桜がきれいに咲いていました。"},
]


def _prepare(spark, workdir: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "d.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DOCS), "utf-8")
    src = SourceConfig(name="s", path=str(folder), fields=FieldMapping(id="id"))
    ingest.run(spark, workdir, [src], IngestConfig())
    normalize.run(spark, workdir)
    exact.run(spark, workdir, DedupConfig())
    minhash.run(spark, workdir, DedupConfig())
    signals.run(spark, workdir)


def _by_record(spark, workdir: str, table) -> dict[str, dict]:
    ids = {
        r["doc_id"]: r["record_key"].removeprefix("id:")
        for r in tables.read(spark, workdir, tables.RAW_DOCUMENTS).collect()
    }  # noqa: E501
    return {ids[r["doc_id"]]: r.asDict() for r in tables.read(spark, workdir, table).collect()}


def test_select_rules_first_and_all_failures(spark, tmp_path):
    workdir = str(tmp_path / "wd")
    _prepare(spark, workdir, tmp_path / "in")
    stats = select_run(spark, workdir, SelectConfig())
    assert stats.rows_in == 6 and stats.rows_out + stats.rows_rejected == 6
    sel = _by_record(spark, workdir, tables.SELECTION)
    assert sel["ko_good"]["kept"] and sel["en_good"]["kept"], (sel["ko_good"], sel["en_good"])
    assert sel["ko_good"]["failed_rules"] == [] and sel["ko_good"]["first_failed_rule"] is None
    # one of the two identical texts is the keeper, the other an exact duplicate (and only that)
    assert sel["ko_copy"]["dropped_at"] == "exact_dedup" and sel["ko_copy"]["failed_rules"] == ["exact_duplicate"]
    short = sel["ko_short"]
    assert short["dropped_at"] == "heuristics" and short["first_failed_rule"] == "gopher_n_words<50"
    assert {"gopher_n_words<50", "ko_jamo_run_char_ratio>0.05", "ko_sentence_ending_ratio<0.5"} <= set(
        short["failed_rules"]
    )
    assert sel["en_lorem"]["failed_rules"] == ["c4_has_lorem_ipsum>0"]
    assert sel["ja"]["dropped_at"] == "language" and sel["ja"]["failed_rules"] == ["language_not_selected"]
    corpus = _by_record(spark, workdir, tables.TRAINING_CORPUS)
    assert set(corpus) == {"ko_good", "en_good"}
    assert corpus["ko_good"]["text"] == KO_GOOD and corpus["ko_good"]["quality_score"] is None
    assert len(corpus["ko_good"]["content_hash"]) == 40

    # a threshold change: only select re-runs (signals are up to date), and decides differently
    again = signals.run(spark, workdir)
    assert again.rows_in == 0 and again.rows_unchanged == 6
    stricter = SelectConfig(thresholds={"en": {"gopher_n_words": {"min": 500}}, "ko": {"c4_has_lorem_ipsum": None}})
    assert stricter.thresholds["en"]["gopher_mean_word_length"].min == 3  # other defaults kept
    assert "c4_has_lorem_ipsum" not in dict(stricter.rules_for("ko"))
    select_run(spark, workdir, stricter)
    sel2 = _by_record(spark, workdir, tables.SELECTION)
    assert sel2["en_good"]["first_failed_rule"] == "gopher_n_words<500"
    assert sel2["en_lorem"]["failed_rules"] == ["gopher_n_words<500", "c4_has_lorem_ipsum>0"]
    assert sel2["en_good"]["rules_fingerprint"] != sel["en_good"]["rules_fingerprint"]
    assert set(_by_record(spark, workdir, tables.TRAINING_CORPUS)) == {"ko_good"}

    # funnel: per stage and language, documents never grow and the last stage is training_corpus
    funnel = summaries.funnel_by_language(spark, workdir)
    docs = {(r["stage"], r["lang"]): r["docs"] for r in funnel}
    assert docs[("records read", "all")] == 6 and docs[("documents", "ko")] == 3
    assert docs[("language selected", "other")] == 0 and docs[("after exact dedup", "ko")] == 2
    assert docs[("after classifier", "ko")] == 1 and docs[("after classifier", "en")] == 0
    chars = {(r["stage"], r["lang"]): r["chars"] for r in funnel}
    assert chars[("after classifier", "ko")] == len(KO_GOOD)
    rules = summaries.selection_rules(spark, workdir)
    assert {"lang": "en", "rule": "gopher_n_words<500", "step": "heuristics", "first": 2, "any": 2} in rules


def test_unknown_signal_and_missing_scores_are_clear_errors(spark, tmp_path):
    with pytest.raises(ValueError, match="unknown signal"):
        SelectConfig(thresholds={"en": {"gopher_words": {"min": 1}}})
    with pytest.raises(ValueError, match="min .* is above max"):
        SelectConfig(thresholds={"en": {"gopher_n_words": {"min": 5, "max": 1}}})
    workdir = str(tmp_path / "wd")
    _prepare(spark, workdir, tmp_path / "in")
    needs_scores = SelectConfig(thresholds={"en": {"fasttext_quality": {"min": 0.5}}})
    with pytest.raises(ValueError, match="no classifier score"):
        decide(spark, workdir, needs_scores)


def test_classifier_trains_scores_and_drops(spark, tmp_path):
    from demo.corpus import classifier_sets

    workdir = str(tmp_path / "wd")
    _prepare(spark, workdir, tmp_path / "in")
    pos, neg = classifier_sets(tmp_path / "sets", n_per_class=300, seed=2)
    cfg = JobsConfig.model_validate(
        {
            "workdir": workdir,
            "quality": {"classifier": {"positive": [pos], "negative": [neg], "bucket": 20_000, "dim": 16}},
            "select": {"thresholds": {"ko": {"fasttext_quality": {"min": 0.5}}}},
        }
    )
    first = train_classifier(workdir, cfg.quality.classifier)
    assert first.extra["retrained"] and first.rows_in == first.rows_out + first.rows_rejected
    assert train_classifier(workdir, cfg.quality.classifier).extra["retrained"] is False  # same sets and parameters
    scored = signals.run(spark, workdir, cfg.quality.classifier)
    assert scored.rows_in == 6  # a new model rescoring every document
    q = _by_record(spark, workdir, tables.QUALITY_SIGNALS)
    assert all(0.0 <= r["fasttext_quality"] <= 1.0 for r in q.values())
    assert q["ko_good"]["fasttext_quality"] > q["ko_short"]["fasttext_quality"]
    assert signals.run(spark, workdir, cfg.quality.classifier).rows_in == 0
    select_run(spark, workdir, cfg.select)
    sel = _by_record(spark, workdir, tables.SELECTION)
    assert sel["ko_short"]["failed_rules"][-1] == "fasttext_quality<0.5"  # heuristics first, classifier last
    assert sel["ko_good"]["quality_score"] == pytest.approx(q["ko_good"]["fasttext_quality"])
