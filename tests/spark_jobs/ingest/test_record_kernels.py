"""Plain unit tests of ingest's Spark-free kernels: field mapping, doc ids, readers."""
from __future__ import annotations

import gzip
import io
import json

import pytest
import zstandard

from spark_jobs.ingest.config import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.ingest.readers import Accepted, Rejected, detect_format, read_file
from spark_jobs.ingest.records import RecordError, doc_id, map_record


# ---------------------------------------------------------------- records and readers
def _src(**fields) -> SourceConfig:
    return SourceConfig(name="s", path="/x", fields=FieldMapping(**fields))


def test_doc_id_is_stable_and_keyed_by_source_and_record():
    assert doc_id("news", "id:1") == doc_id("news", "id:1")
    assert len({doc_id("news", "id:1"), doc_id("news", "id:2"), doc_id("blog", "id:1")}) == 3
    assert len(doc_id("a", "b")) == 32


def test_field_mapping_nested_paths_and_metadata():
    m = FieldMapping(text="doc.body", id="meta.id", url="meta.link", metadata={"section": "meta.sec", "n": "stats"})
    rec = {"doc": {"body": "본문입니다"}, "meta": {"id": 7, "link": "http://x", "sec": "경제"}, "stats": {"a": 1}}
    got = map_record(rec, m, "f:0", 0, 1000, 0.05)
    assert (got.record_key, got.text, got.url) == ("id:7", "본문입니다", "http://x")
    assert got.metadata == {"section": "경제", "n": '{"a":1}'}
    assert map_record({"text": "t"}, FieldMapping(), "f.jsonl:3", 3, 1000, 0.05).record_key == "pos:f.jsonl:3"


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        ({"text": None}, "missing_text"),
        ({"id": 1}, "missing_text"),
        ({"text": ["a"], "id": 1}, "wrong_type"),
        ({"text": "ok", "id": {"x": 1}}, "wrong_type"),
        ({"text": "ok"}, "missing_id"),
        ({"text": "  \n ", "id": 1}, "empty_text"),
        ({"text": "x" * 2000, "id": 1}, "text_too_large"),
        ({"text": "\x00\x01\x02" * 20 + "abc", "id": 1}, "binary_garbage"),
        ({"text": "lone \ud800", "id": 1}, "invalid_utf8"),
        ([1, 2], "not_an_object"),
    ],
)
def test_map_record_rejections(rec, reason):
    with pytest.raises(RecordError) as exc:
        map_record(rec, FieldMapping(id="id"), "f:0", 0, 1000, 0.05)
    assert exc.value.reason == reason


def _lines(*rows) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "jsonl.zst"])
def test_jsonl_reader_compressions_and_bad_lines(suffix):
    data = _lines({"text": "one"}, b"{bad", b'{"text": "\xff"}', b"", {"text": "after blank"})
    data = data.replace(b"\n", b"\r\n", 1)  # a CRLF line too
    if suffix.endswith("gz"):
        data = gzip.compress(data, mtime=0)
    elif suffix.endswith("zst"):
        data = zstandard.ZstdCompressor().compress(data)
    recs = list(read_file(f"a.{suffix}", data, _src(), IngestConfig()))
    kinds = [(type(r).__name__, getattr(r, "reason", None)) for r in recs]
    assert kinds == [
        ("Accepted", None),
        ("Rejected", "invalid_json"),
        ("Rejected", "invalid_utf8"),
        ("Rejected", "empty_text"),
        ("Accepted", None),
    ]
    assert recs[0].text == "one" and [r.record_index for r in recs] == [0, 1, 2, 3, 4]


def test_truncated_gzip_keeps_what_it_could_read():
    full = gzip.compress(_lines(*({"text": f"record {i} " * 20} for i in range(200))), mtime=0)
    recs = list(read_file("t.jsonl.gz", full[: len(full) // 2], _src(), IngestConfig()))
    assert isinstance(recs[-1], Rejected) and recs[-1].reason == "corrupt_file"
    assert all(isinstance(r, Accepted) for r in recs[:-1]) and len(recs) > 5


def test_parquet_reader_good_wrong_type_and_garbage():
    import pyarrow as pa
    import pyarrow.parquet as pq

    def pq_bytes(table) -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    good = list(read_file("g.parquet", pq_bytes(pa.table({"text": ["a", None]})), _src(), IngestConfig()))
    assert [type(r).__name__ for r in good] == ["Accepted", "Rejected"] and good[1].reason == "missing_text"
    ints = list(read_file("i.parquet", pq_bytes(pa.table({"text": [1, 2]})), _src(), IngestConfig()))
    assert [r.reason for r in ints] == ["wrong_type", "wrong_type"]
    junk = list(read_file("j.parquet", b"PAR1 not really", _src(), IngestConfig()))
    assert [r.reason for r in junk] == ["corrupt_file"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl.gz", "jsonl"),
        ("b.JSONL.ZST", "jsonl"),
        ("c.parquet", "parquet"),
        ("d.warc.gz", "warc"),
        ("e.arc.gz", "warc"),
        ("f.txt", None),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_format_is_quarantined_not_guessed():
    (rec,) = read_file("notes.txt", b"hello", _src(), IngestConfig())
    assert rec.reason == "unknown_format"
