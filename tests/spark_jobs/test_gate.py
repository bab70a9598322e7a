"""Great Expectations gates on real Spark + Delta: a clean corpus passes; a corrupted one (blank
text, null text, wrong language mix, an unknown language, leaked duplicates, contamination) fails
naming each expectation; Data Docs are written; emission refuses a failed or stale gate; `moru gate`
exits 1 naming the failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from quality.gates import GateFailed, GateResult, GatesConfig
from spark_jobs import gate, tables

pytestmark = pytest.mark.spark

KO = "정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 긍정적으로 평가했다. 문서 번호 {i}."
EN = "The museum reopened to visitors after a two-year renovation of its main hall, story {i}."
MIXED = "오늘 회의에서 we discussed the quarterly roadmap in detail 그리고 결론을 냈다 {i}."
TEXTS = {"ko": KO, "en": EN, "ko+en": MIXED, "other": "Le musée a rouvert ses portes {i}.", "und": "12345 {i}"}
NOW = dt.datetime(2026, 1, 1)


def _doc(i: int, lang: str, text: str | None = None) -> dict:
    text = TEXTS[lang].format(i=i) if text is None else text
    return {
        "doc_id": f"d{i:04d}",
        "source": "s",
        "url": None,
        "text": text,
        "lang": lang,
        "lid_label": lang,
        "lid_score": 0.9,
        "hangul_ratio": 0.5 if lang.startswith("ko") else 0.0,
        "latin_ratio": 0.5,
        "han_ratio": 0.0,
        "n_chars": len(text),
        "n_bytes": len(text.encode()),
        "n_words": len(text.split()),
        "n_lines": 1,
        "metadata": {},
        "raw_sha1": "x",
        "normalize_fingerprint": "f",
        "ingested_at": NOW,
    }


def _corpus_row(doc: dict, content_hash: str | None = None) -> dict:
    row = {c: doc[c] for c in tables.TRAINING_CORPUS.columns if c in doc}
    text = doc["text"] or ""
    row.update(content_hash=content_hash or hashlib.sha1(text.encode()).hexdigest(), quality_score=0.8)
    row["contaminated"] = False
    row["rules_fingerprint"] = "r"
    return row


def _clean_docs() -> list[dict]:
    langs = ["ko"] * 12 + ["en"] * 9 + ["ko+en"] * 3
    return [_doc(i, lang) for i, lang in enumerate(langs)]


def _write_clean(spark, workdir: str) -> None:
    docs = _clean_docs()
    extra = [_doc(100, "other"), _doc(101, "und"), _doc(102, "ko", text=docs[0]["text"])]  # + an exact duplicate
    tables.overwrite(spark, spark.createDataFrame(docs + extra, tables.DOCUMENTS.schema), workdir, tables.DOCUMENTS)
    rows = [_corpus_row(d) for d in docs]
    tables.overwrite(spark, spark.createDataFrame(rows, tables.TRAINING_CORPUS.schema), workdir, tables.TRAINING_CORPUS)


def _write_corrupt(spark, workdir: str) -> None:
    """Corruptions that can reach the tables: blank text in `documents` (NOT NULL lets "  " through);
    a training_corpus written by a broken step without tables.py's constraints (null text), all English
    but one French document, three documents with one content_hash, one contaminated document."""
    docs = [_doc(i, "en") for i in range(30)] + [_doc(30, "ko", text=" \u3000 ")]
    tables.overwrite(spark, spark.createDataFrame(docs, tables.DOCUMENTS.schema), workdir, tables.DOCUMENTS)
    rows = [_corpus_row(d) for d in docs[:30]]
    for r in rows[:3]:
        r["content_hash"] = "leaked"
    rows[5]["text"] = None
    rows.append(_corpus_row(_doc(50, "other", "Le musée a rouvert.")) | {"lang": "fr"})
    for i, r in enumerate(rows):
        r["contaminated"] = i == 7
    ddl = tables.TRAINING_CORPUS.ddl.replace(" NOT NULL", "")
    uri = tables.table_uri(workdir, tables.TRAINING_CORPUS)
    spark.createDataFrame(rows, ddl).write.format("delta").save(uri)


@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("clean") / "wd")
    _write_clean(spark, workdir)
    return workdir, gate.run(spark, workdir)


@pytest.fixture(scope="module")
def corrupt(spark, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("corrupt") / "wd")
    _write_corrupt(spark, workdir)
    return workdir, gate.run(spark, workdir)


def test_clean_corpus_passes_then_goes_stale(spark, clean):
    workdir, result = clean
    assert result.passed, result.failure_messages()
    assert result.failed == []
    assert result.table_versions == {
        "documents": tables.version(spark, workdir, tables.DOCUMENTS),
        "training_corpus": tables.version(spark, workdir, tables.TRAINING_CORPUS),
    }
    assert result.tables["documents"].rows == 27 and result.tables["training_corpus"].rows == 24
    checks = {e.check for e in result.tables["training_corpus"].expectations}
    assert {"schema", "lang_set", "lang_share_min:ko", "lang_share_max:en", "duplicate_fraction"} <= checks
    assert "contaminated_fraction" in checks  # training_corpus has the contaminated column
    share = next(e for e in result.tables["training_corpus"].expectations if e.check == "lang_share_min:ko")
    assert share.observed["share"] == pytest.approx(0.5)

    index = gate.storage.local_path(result.data_docs_index)
    assert index.name == "index.html" and index.is_file()
    html = index.read_text(encoding="utf-8")
    assert "documents" in html and "training_corpus" in html
    stored = json.loads((gate.storage.local_path(gate.result_uri(workdir))).read_text(encoding="utf-8"))
    assert stored["passed"] is True and stored["table_versions"] == result.table_versions
    assert GateResult.from_json(json.dumps(stored)).table_versions == result.table_versions

    assert gate.require_passed_gate(spark, workdir, GatesConfig()).passed
    with pytest.raises(GateFailed, match="bounds changed"):
        gate.require_passed_gate(spark, workdir, GatesConfig(training_corpus={"max_duplicate_fraction": 0.1}))

    # training_corpus changes after the gate: emission refuses the stale result
    more = spark.createDataFrame([_corpus_row(_doc(500, "en"))], tables.TRAINING_CORPUS.schema)
    tables.merge(spark, more, workdir, tables.TRAINING_CORPUS)
    with pytest.raises(GateFailed, match=r"training_corpus is at Delta version \d+, but .* validated version \d+"):
        gate.require_passed_gate(spark, workdir)


def test_corrupt_corpus_fails_naming_each_expectation(spark, corrupt):
    workdir, result = corrupt
    assert not result.passed
    failed = {(e.table, e.check) for e in result.failed}
    assert failed == {
        ("documents", "text_not_blank"),
        ("training_corpus", "text_not_null"),
        ("training_corpus", "lang_set"),
        ("training_corpus", "lang_share_min:ko"),
        ("training_corpus", "lang_share_max:en"),
        ("training_corpus", "duplicate_fraction"),
        ("training_corpus", "contaminated_fraction"),
    }
    messages = "\n".join(result.failure_messages())
    assert "training_corpus: expect_column_values_to_be_unique(content_hash) failed: 3 of 31 unexpected" in messages
    assert "documents: expect_column_values_to_not_match_regex(text) failed: 1 of 31 unexpected" in messages
    assert "training_corpus: expect_column_values_to_not_be_null(text) failed: 1 of 31 unexpected" in messages
    assert (
        "training_corpus: expect_column_values_to_be_in_set(lang) failed: 1 of 31 unexpected (3.2%), e.g. 'fr'"
        in messages
    )
    ko = next(e for e in result.failed if e.check == "lang_share_min:ko")
    en = next(e for e in result.failed if e.check == "lang_share_max:en")
    assert ko.observed["share"] == 0.0 and en.observed["share"] == pytest.approx(30 / 31)
    assert "share of documents with lang 'ko' is at least 0.05" in ko.message()
    assert gate.storage.local_path(result.data_docs_index).is_file()

    with pytest.raises(GateFailed, match=r"(?s)failed; no training data.*expect_column_values_to_be_unique"):
        gate.require_passed_gate(spark, workdir)


def test_gate_cli_exits_1_naming_the_failures(spark, corrupt, tmp_path):
    from moru.cli import app

    workdir, _ = corrupt
    cfg = tmp_path / "moru.yaml"
    cfg.write_text(f"workdir: {workdir}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["gate", "--config", str(cfg)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "training_corpus: expect_column_values_to_be_unique(content_hash) failed: 3 of 31 unexpected" in text
    assert "index.html" in text and "gate failed" in text


def test_missing_table_is_an_error(spark, tmp_path):
    with pytest.raises(FileNotFoundError, match="training_corpus"):
        gate.run(spark, str(tmp_path / "empty"))
    with pytest.raises(GateFailed, match="no gate result"):
        gate.require_passed_gate(spark, str(tmp_path / "empty"))


def test_config_bounds_are_validated():
    with pytest.raises(ValidationError, match="not in languages"):
        GatesConfig(training_corpus={"language_share": {"ja": {"min": 0.1}}})
    with pytest.raises(ValidationError, match="above max"):
        GatesConfig(documents={"language_share": {"ko": {"min": 0.6, "max": 0.5}}})
    assert GatesConfig().training_corpus.language_share["ko"].min == 0.05
