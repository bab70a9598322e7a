"""The pii job on real Spark + Delta: every document gets its redacted row (rows in = rows out), findings carry
offsets and value hashes (never values), select passes the redacted text on to training_corpus, a second run with
the same documents and settings does nothing, and select refuses to run without the pii step's table."""

from __future__ import annotations

import pytest

from quality.pii import PiiConfig, detector_for
from spark_jobs import tables
from spark_jobs.pii import run as pii_run
from spark_jobs.select import SelectConfig
from spark_jobs.select import run as select_run
from tests.spark_jobs.test_select import EN_GOOD, KO_GOOD

pytestmark = pytest.mark.spark

EN_PII = {"email": "jane.doe@example.com", "phone": "+1 415-555-2671", "ip_address": "192.168.10.12"}
KO_PII = {"rrn": "900101-1234568", "phone": "010-9876-5432", "bank_account": "110-123-456789"}
DOCS = [
    {"id": "en", "text": EN_GOOD + f" Write to {EN_PII['email']} or call {EN_PII['phone']}; the server is "
     f"{EN_PII['ip_address']}."},
    {"id": "ko", "text": KO_GOOD + f" 주민번호 {KO_PII['rrn']}, 연락처 {KO_PII['phone']}, 신한은행 계좌 "
     f"{KO_PII['bank_account']}로 입금해 주세요."},
    {"id": "clean", "text": EN_GOOD.replace("Tuesday", "Friday")},
]  # fmt: skip


def test_pii_job_redacts_and_select_passes_redacted_text(spark, tmp_path):
    from spark_jobs.select import _redacted
    from tests.spark_jobs.test_gate import _doc

    workdir = str(tmp_path / "wd")
    rows = [_doc(i, "en" if d["id"] != "ko" else "ko", d["text"]) | {"doc_id": d["id"]} for i, d in enumerate(DOCS)]
    tables.overwrite(spark, spark.createDataFrame(rows, tables.DOCUMENTS.schema), workdir, tables.DOCUMENTS)
    with pytest.raises(FileNotFoundError, match="run the pii step first"):
        select_run(spark, workdir, SelectConfig(), redacted=True)

    cfg = PiiConfig()
    stats = pii_run(spark, workdir, cfg)
    assert stats.rows_in == stats.rows_out == 3 and stats.rows_rejected == 0
    assert stats.by_reason == {"pii:bank_account": 1, "pii:email": 1, "pii:ip_address": 1, "pii:phone": 2, "pii:rrn": 1}
    red = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.REDACTED_DOCUMENTS).collect()}
    assert set(red) == {"en", "ko", "clean"}
    assert red["clean"]["n_findings"] == 0 and red["clean"]["text"] == DOCS[2]["text"]
    assert red["en"]["pii_types"] == ["email", "ip_address", "phone"]
    assert red["ko"]["pii_types"] == ["bank_account", "phone", "rrn"]
    for key, planted in (("en", EN_PII), ("ko", KO_PII)):
        text = red[key]["text"]
        assert all(v not in text for v in planted.values()), text
        assert all(cfg.placeholder(t) in text for t in planted), text
        assert red[key]["n_chars"] == len(text)

    findings = tables.read(spark, workdir, tables.PII_FINDINGS)
    assert not {"value", "matched", "text"} & set(findings.columns)  # never the value itself
    det = detector_for(cfg)
    texts = {d["id"]: d["text"] for d in DOCS}
    for f in findings.collect():
        value = texts[f["doc_id"]][f["char_start"] : f["char_end"]]
        assert value == (EN_PII if f["doc_id"] == "en" else KO_PII)[f["pii_type"]]
        assert f["value_hash"] == det.value_hash(value)
        assert red[f["doc_id"]]["text"][f["redacted_start"] : f["redacted_end"]] == f["placeholder"]

    again = pii_run(spark, workdir, cfg)
    assert again.rows_in == 0 and again.rows_unchanged == 3 and again.extra["up_to_date"]

    # what select reads when pii is enabled: the redacted text and its lengths, for every document
    docs = {r["doc_id"]: r for r in _redacted(spark, workdir, tables.read(spark, workdir, tables.DOCUMENTS)).collect()}
    assert {k: (r["text"], r["n_chars"]) for k, r in docs.items()} == {
        k: (r["text"], r["n_chars"]) for k, r in red.items()
    }
    # documents changed after the pii step: select refuses the stale redaction
    changed = spark.createDataFrame([rows[0] | {"raw_sha1": "y"}], tables.DOCUMENTS.schema)
    tables.merge(spark, changed, workdir, tables.DOCUMENTS, changed=["raw_sha1"])
    with pytest.raises(ValueError, match="1 documents have no redacted text or one made from an older version"):
        _redacted(spark, workdir, tables.read(spark, workdir, tables.DOCUMENTS))


def test_gate_checks_residual_pii_in_training_corpus(spark, tmp_path):
    from quality.gates import GatesConfig
    from spark_jobs import gate
    from tests.spark_jobs.test_gate import _clean_docs, _corpus_row

    workdir = str(tmp_path / "wd")
    docs = _clean_docs()
    docs[3]["text"] += " 문의: 010-2345-6789"  # one leak in 24 documents
    tables.overwrite(spark, spark.createDataFrame(docs, tables.DOCUMENTS.schema), workdir, tables.DOCUMENTS)
    rows = spark.createDataFrame([_corpus_row(d) for d in docs], tables.TRAINING_CORPUS.schema)
    tables.overwrite(spark, rows, workdir, tables.TRAINING_CORPUS)

    failed = gate.run(spark, workdir, GatesConfig(), PiiConfig())
    assert not failed.passed
    assert [(e.table, e.check) for e in failed.failed] == [("training_corpus_pii", "residual_pii_fraction")]
    (leak,) = failed.failed
    assert leak.observed["unexpected_count"] == 1 and leak.observed["element_count"] == 24
    assert failed.table_versions["training_corpus_pii"] == failed.table_versions["training_corpus"]

    # a bound above 1 in 24 passes (the residual suite alone, validated as the gate does)
    from quality.gates.suites import residual_pii_suite
    from quality.gates.validate import TableInput, validate
    from spark_jobs.pii import residual_scan

    bounded = GatesConfig(training_corpus={"max_residual_pii_fraction": 0.05}).training_corpus
    scan = residual_scan(tables.read(spark, workdir, tables.TRAINING_CORPUS), PiiConfig())
    result = validate([TableInput("training_corpus_pii", scan, residual_pii_suite(bounded))], tmp_path / "docs", "x")
    assert result.passed
