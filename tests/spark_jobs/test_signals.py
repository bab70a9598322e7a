"""The quality signals job on real Spark + Delta: one numeric row per document, the kernels'
values, incremental re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quality.signals.compute import SIGNAL_NAMES, document_signals
from spark_jobs import ingest, normalize, signals, tables
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

pytestmark = pytest.mark.spark

DOCS = [
    {"id": "ko1", "text": "정부는 오늘 새 정책을 발표했다. 전문가들은 긍정적으로 평가했습니다."},
    {"id": "ko2", "text": "ㅋㅋㅋㅋ 진짜 웃기다 ㅠㅠ\nㅋㅋㅋㅋ 진짜 웃기다 ㅠㅠ"},
    {"id": "en1", "text": "The museum reopened to visitors after a two-year renovation of its main hall."},
    {"id": "en2", "text": "Home\nHome\nPlease enable JavaScript\nLorem ipsum dolor {x}"},
]


def _ingest(spark, workdir: str, folder: Path, docs: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "d.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), "utf-8")
    src = SourceConfig(name="s", path=str(folder), fields=FieldMapping(id="id"))
    ingest.run(spark, workdir, [src], IngestConfig())
    normalize.run(spark, workdir)


def test_signals_job_values_and_incremental(spark, tmp_path):
    workdir = str(tmp_path / "wd")
    _ingest(spark, workdir, tmp_path / "in", DOCS)
    stats = signals.run(spark, workdir)
    assert (stats.rows_in, stats.rows_out, stats.rows_unchanged) == (4, 4, 0)
    table = tables.read(spark, workdir, tables.QUALITY_SIGNALS)
    assert {f.dataType.typeName() for f in table.schema.fields if f.name != "doc_id"} <= {"double", "long"}
    docs = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.DOCUMENTS).collect()}
    rows = {r["doc_id"]: r.asDict() for r in table.collect()}
    assert set(rows) == set(docs)
    for doc_id, row in rows.items():
        want = document_signals(docs[doc_id]["text"], docs[doc_id]["lang"])
        assert [row[n] for n in SIGNAL_NAMES] == pytest.approx([want[n] for n in SIGNAL_NAMES])
    by_text = {docs[d]["text"].split()[0]: rows[d] for d in rows}
    assert by_text["ㅋㅋㅋㅋ"]["gopher_dup_line_frac"] == 0.5 and by_text["ㅋㅋㅋㅋ"]["ko_jamo_run_char_ratio"] > 0.3
    assert by_text["Home"]["c4_has_lorem_ipsum"] == 1.0 and by_text["Home"]["c4_javascript_lines_ratio"] == 0.25
    assert by_text["정부는"]["ko_sentence_ending_ratio"] == 1.0

    # a re-run scores nothing; a changed text is rescored alone
    again = signals.run(spark, workdir)
    assert (again.rows_in, again.rows_out, again.rows_unchanged) == (0, 0, 4)
    changed = [dict(d) for d in DOCS]
    changed[2]["text"] = "The museum closed again. Nobody knows why."
    _ingest(spark, workdir, tmp_path / "in", changed)
    third = signals.run(spark, workdir)
    assert (third.rows_in, third.rows_out, third.rows_unchanged) == (1, 1, 3)
    row = tables.read(spark, workdir, tables.QUALITY_SIGNALS).filter("gopher_n_words = 7").count()
    assert row == 1
