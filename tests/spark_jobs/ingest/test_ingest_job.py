"""Ingest job on real Spark + Delta: every reader, quarantine, idempotency, crash safety."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from deltalake import DeltaTable
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from spark_jobs import ingest, tables
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

KO = "정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 이번 조치가 내수 회복에 도움이 될 것이라고 평가했다."
EN = "The city council approved the new budget on Tuesday after a long debate about public transport."


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def _warc(pages: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warcinfo_record("x.warc.gz", {"software": "test"}))
    for i, (url, body) in enumerate(pages):
        html = (
            "<html><head><title>t</title></head><body><nav>Home | About</nav>"
            f"<article><p>{body}</p></article></body></html>"
        )
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(html.encode()),
            http_headers=http,
            warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>"},
        )
        writer.write_record(rec)
    png = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
    writer.write_record(
        writer.create_warc_record("http://x/img.png", "response", payload=io.BytesIO(b"\x89PNG...."), http_headers=png)
    )
    return buf.getvalue()


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, list[SourceConfig]]:
    root = tmp_path / "in"
    (root / "j").mkdir(parents=True)
    (root / "j" / "plain.jsonl").write_bytes(_jsonl([{"id": "p1", "text": KO}, {"id": "p2", "text": EN}]))
    (root / "j" / "b.jsonl.gz").write_bytes(gzip.compress(_jsonl([{"id": "g1", "text": KO + " 하나"}]), mtime=0))
    (root / "j" / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(_jsonl([{"id": "z1", "text": EN + " Z"}]))
    )
    (root / "p").mkdir()
    pq.write_table(
        pa.table({"key": ["q1", "q2"], "body": [KO + " 둘", EN + " two"], "section": ["a", "b"]}),
        root / "p" / "x.parquet",
    )
    (root / "w").mkdir()
    (root / "w" / "crawl.warc.gz").write_bytes(_warc([("http://x/1", EN + " web"), ("http://x/2", KO + " 웹")]))
    sources = [
        SourceConfig(name="jl", path=str(root / "j"), fields=FieldMapping(text="text", id="id")),
        SourceConfig(name="pq", path=str(root / "p"), fields=FieldMapping(text="body", id="key", metadata=["section"])),
        SourceConfig(name="warc", path=str(root / "w")),
    ]
    return root, sources


def _rows(spark, workdir, table):
    return sorted(tuple(r) for r in tables.read(spark, str(workdir), table).select(*table.columns).collect())


def test_every_reader_lands_in_raw_documents(spark, tmp_path, corpus):
    _, sources = corpus
    workdir = tmp_path / "wd"
    stats = ingest.run(spark, str(workdir), sources, IngestConfig())
    assert stats.balanced
    assert stats.by_source["jl"] == {"read": 4, "accepted": 4, "quarantined": 0}
    assert stats.by_source["pq"] == {"read": 2, "accepted": 2, "quarantined": 0}
    # two HTML pages accepted, the PNG response quarantined; warcinfo is no record
    assert stats.by_source["warc"] == {"read": 3, "accepted": 2, "quarantined": 1}
    assert stats.by_reason == {"unsupported_content_type": 1}
    raw = {r["record_key"]: r for r in tables.read(spark, str(workdir), tables.RAW_DOCUMENTS).collect()}
    assert (
        raw["id:p1"]["text"] == KO and raw["id:z1"]["text"] == EN + " Z" and raw["id:g1"]["source_file"] == "b.jsonl.gz"
    )
    assert raw["id:q1"]["metadata"] == {"section": "a"}
    web = [r for r in raw.values() if r["source"] == "warc"]
    assert {r["url"] for r in web} == {"http://x/1", "http://x/2"}
    assert all("Home | About" not in r["text"] and r["text"].strip() for r in web)
    assert len({r["doc_id"] for r in raw.values()}) == len(raw) == 8


def test_bad_records_are_quarantined_and_counts_add_up(spark, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    lines = [
        json.dumps({"id": "ok", "text": EN}).encode(),
        b"{not json",
        b'{"id": "u", "text": "caf\xc3 bad"}',
        json.dumps({"id": "m"}).encode(),
        json.dumps({"id": "e", "text": "   "}).encode(),
        json.dumps({"id": "t", "text": 42}).encode(),
        json.dumps({"id": "big", "text": "x" * 2000}).encode(),
        json.dumps({"id": "bin", "text": "\x00\x01\x02\x03" * 50 + "abc"}).encode(),
        b'{"id": "s", "text": "lone \\ud800 surrogate"}',
        json.dumps({"id": "ok", "text": "same id again"}).encode(),
        b"[1, 2, 3]",
        json.dumps({"text": "no id here"}).encode(),
    ]
    (root / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    good = gzip.compress(_jsonl([{"id": f"g{i}", "text": KO} for i in range(3)]), mtime=0)
    (root / "trunc.jsonl.gz").write_bytes(good[: len(good) - 12])
    (root / "notes.txt").write_bytes(b"what is this")
    src = SourceConfig(name="bad", path=str(root), fields=FieldMapping(id="id"))
    workdir = str(tmp_path / "wd")
    stats = ingest.run(spark, workdir, [src], IngestConfig(max_text_bytes=1000))
    expected = {
        "invalid_json": 1,
        "invalid_utf8": 2,
        "missing_text": 1,
        "empty_text": 1,
        "wrong_type": 1,
        "text_too_large": 1,
        "binary_garbage": 1,
        "duplicate_record_key": 1,
        "not_an_object": 1,
        "missing_id": 1,
        "corrupt_file": 1,
        "unknown_format": 1,
    }
    assert stats.by_reason == expected
    assert stats.rows_in == stats.rows_out + stats.rows_rejected
    q = tables.read(spark, workdir, tables.QUARANTINE).collect()
    assert len(q) == sum(expected.values())
    by_reason = {}
    for r in q:
        by_reason.setdefault(r["reason"], []).append(r)
    assert by_reason["invalid_json"][0]["raw_payload"] == "{not json"
    assert (
        "\\xc3" in by_reason["invalid_utf8"][0]["raw_payload"] or "\\xc3" in by_reason["invalid_utf8"][1]["raw_payload"]
    )
    assert by_reason["text_too_large"][0]["payload_bytes"] > 2000
    assert all(r["stage"] == "ingest" and r["detail"] for r in q)
    raw_count = tables.read(spark, workdir, tables.RAW_DOCUMENTS).count()
    assert raw_count == stats.rows_out
    # the truncated gzip gave up none of the records it could still read before the damage
    assert stats.rows_out >= 1


def test_ingest_twice_leaves_identical_tables_and_changes_merge(spark, tmp_path, corpus):
    root, sources = corpus
    workdir = tmp_path / "wd"
    ingest.run(spark, str(workdir), sources, IngestConfig())
    first = _rows(spark, workdir, tables.RAW_DOCUMENTS)
    first_q = _rows(spark, workdir, tables.QUARANTINE)
    ingest.run(spark, str(workdir), sources, IngestConfig())
    assert _rows(spark, workdir, tables.RAW_DOCUMENTS) == first
    assert _rows(spark, workdir, tables.QUARANTINE) == first_q
    # an upstream edit of one record updates that row, adds none
    (root / "j" / "plain.jsonl").write_bytes(_jsonl([{"id": "p1", "text": KO + " 수정"}, {"id": "p2", "text": EN}]))
    ingest.run(spark, str(workdir), sources, IngestConfig())
    after = {r["record_key"]: r["text"] for r in tables.read(spark, str(workdir), tables.RAW_DOCUMENTS).collect()}
    assert len(after) == len(first) and after["id:p1"] == KO + " 수정"


def test_tables_are_readable_by_delta_rs(spark, tmp_path, corpus):
    _, sources = corpus
    workdir = tmp_path / "wd"
    ingest.run(spark, str(workdir), sources, IngestConfig())
    for table in (tables.RAW_DOCUMENTS, tables.QUARANTINE):
        dt = DeltaTable(str(workdir / "tables" / table.name))
        df = dt.to_pandas()
        assert len(df) == tables.read(spark, str(workdir), table).count()
        assert set(table.columns) <= set(df.columns)
    raw = DeltaTable(str(workdir / "tables" / "raw_documents")).to_pandas()
    assert KO in set(raw["text"])


def test_missing_source_path_is_a_clear_error(spark, tmp_path):
    src = SourceConfig(name="nope", path=str(tmp_path / "does-not-exist"))
    with pytest.raises(FileNotFoundError, match="source 'nope'"):
        ingest.run(spark, str(tmp_path / "wd"), [src], IngestConfig())


def test_killed_mid_write_keeps_previous_version_and_rerun_completes(spark, tmp_path):
    """SIGKILL a separate spark-submit-style ingest while its MERGE is writing files: the table
    stays at the previous version (readable by delta-rs), and a re-run completes."""
    root = tmp_path / "in"
    root.mkdir()
    (root / "seed.jsonl").write_bytes(_jsonl([{"id": f"s{i}", "text": f"{EN} {i}"} for i in range(50)]))
    workdir = tmp_path / "wd"
    cfg = {
        "workdir": str(workdir),
        "spark": {"master": "local[2]", "shuffle_partitions": 16},
        "sources": [{"name": "big", "path": str(root), "fields": {"id": "id"}}],
    }
    (tmp_path / "moru.yaml").write_text(json.dumps(cfg))
    src = SourceConfig(name="big", path=str(root), fields=FieldMapping(id="id"))
    ingest.run(spark, str(workdir), [src], IngestConfig())
    table_dir = workdir / "tables" / "raw_documents"
    before_version = DeltaTable(str(table_dir)).version()
    before_rows = DeltaTable(str(table_dir)).to_pandas().sort_values("doc_id")["text"].tolist()
    before_files = set(table_dir.glob("*.parquet"))

    for shard in range(12):
        rows = [{"id": f"b{shard}-{i}", "text": f"{KO} {EN} {shard} {i} " * 8} for i in range(4000)]
        (root / f"big{shard:02d}.jsonl").write_bytes(_jsonl(rows))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spark_jobs.ingest", "--config", str(tmp_path / "moru.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    killed_while_writing = False
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if set(table_dir.glob("*.parquet")) - before_files:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_while_writing = True
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_while_writing, "the ingest finished before any data file was written"
    assert set(table_dir.glob("*.parquet")) - before_files, "the killed job left no partial files (test is void)"
    dt = DeltaTable(str(table_dir))
    assert dt.version() == before_version
    assert dt.to_pandas().sort_values("doc_id")["text"].tolist() == before_rows
    stats = ingest.run(spark, str(workdir), [src], IngestConfig())
    assert stats.rows_out == 50 + 12 * 4000
    assert tables.read(spark, str(workdir), tables.RAW_DOCUMENTS).count() == 50 + 12 * 4000
