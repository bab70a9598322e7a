"""Readers of the ingest job over bytes made here: JSONL (plain/.gz/.zst), Parquet and WARC."""

from __future__ import annotations

import gzip
import io

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from spark_jobs.ingest.config import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.ingest.readers import detect_format, read_file, read_jsonl, read_parquet, read_warc
from spark_jobs.ingest.records import Accepted, Rejected

CFG = IngestConfig()
SRC = SourceConfig(name="test", path="unused")

DOCS = [
    {"id": "d0", "text": "서울은 대한민국의 수도이다."},
    {"id": "d1", "text": "Seoul is the capital of South Korea."},
    {"id": "d2", "text": "부산은 대한민국 제2의 도시로, 해운대 해수욕장이 유명하다."},
]


def _jsonl(docs) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def _summary(records):
    """(index, 'ok' or the reason) per record."""
    return [(r.record_index, "ok" if isinstance(r, Accepted) else r.reason) for r in records]


# --- detect_format / read_file ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl.gz", "jsonl"),
        ("b.JSONL.ZST", "jsonl"),
        ("dir/part-0001.jsonl", "jsonl"),
        ("x.ndjson.zstd", "jsonl"),
        ("x.json", "json"),  # JSON lines or one document: see core.formats.iter_json
        ("c.parquet", "parquet"),
        ("d.warc.gz", "warc"),
        ("d.warc", "warc"),
        ("e.arc.gz", "warc"),
        ("f.txt", None),
        ("g.gz", None),
        ("h.parquet.bak", None),
        ("noext", None),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_read_file_on_unknown_format():
    data = b"just some text\n" * 100
    out = list(read_file("notes/f.txt", data, SRC, CFG))
    assert len(out) == 1
    (rej,) = out
    assert isinstance(rej, Rejected)
    assert rej.reason == "unknown_format"
    assert rej.record_index == 0
    assert rej.payload == data[:256]


def test_read_file_detects_by_name():
    out = list(read_file("part.jsonl.gz", gzip.compress(_jsonl(DOCS)), SRC, CFG))
    assert [r.text for r in out] == [d["text"] for d in DOCS]


def test_read_file_explicit_format_overrides_the_name():
    src = SourceConfig(name="test", path="unused", format="jsonl")
    out = list(read_file("export.txt", _jsonl(DOCS), src, CFG))
    assert _summary(out) == [(0, "ok"), (1, "ok"), (2, "ok")]


# --- JSONL ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("part.jsonl", lambda b: b),
        ("part.jsonl.gz", gzip.compress),
        ("part.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("part.JSONL.ZSTD", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_read_jsonl_plain_and_compressed(name, compress):
    out = list(read_jsonl(name, compress(_jsonl(DOCS)), SRC, CFG))
    assert all(isinstance(r, Accepted) for r in out)
    assert [r.text for r in out] == [d["text"] for d in DOCS]
    assert [r.record_index for r in out] == [0, 1, 2]
    assert [r.record_key for r in out] == [f"pos:{name}:{i}" for i in range(3)]


def test_read_jsonl_zstd_multiple_frames():
    c = zstandard.ZstdCompressor()
    data = c.compress(_jsonl(DOCS[:2])) + c.compress(_jsonl(DOCS[2:]))
    out = list(read_jsonl("part.jsonl.zst", data, SRC, CFG))
    assert [r.text for r in out] == [d["text"] for d in DOCS]


def test_read_jsonl_with_id_mapping():
    src = SourceConfig(name="test", path="unused", fields=FieldMapping(id="id"))
    out = list(read_jsonl("part.jsonl", _jsonl(DOCS), src, CFG))
    assert [r.record_key for r in out] == ["id:d0", "id:d1", "id:d2"]


def test_read_jsonl_bad_lines_are_rejected_and_the_rest_read():
    data = (
        orjson.dumps(DOCS[0])
        + b"\n"
        + b'{"text": "unterminated\n'
        + b'{"text": "\xff\xfe bad utf-8"}\n'
        + b"[1, 2, 3]\n"
        + b'{"text": 5}\n'
        + b'{"text": "\\ud800 lone surrogate"}\n'
        + orjson.dumps(DOCS[1])
        + b"\n"
    )
    out = list(read_jsonl("part.jsonl", data, SRC, CFG))
    assert _summary(out) == [
        (0, "ok"),
        (1, "invalid_json"),
        (2, "invalid_utf8"),
        (3, "not_an_object"),
        (4, "wrong_type"),
        (5, "invalid_utf8"),
        (6, "ok"),
    ]
    assert out[1].payload == b'{"text": "unterminated'
    assert out[2].payload == b'{"text": "\xff\xfe bad utf-8"}'
    assert out[6].text == DOCS[1]["text"]


def test_read_jsonl_blank_line_in_the_middle_is_an_empty_record():
    data = orjson.dumps(DOCS[0]) + b"\n\n" + orjson.dumps(DOCS[1]) + b"\n"
    out = list(read_jsonl("part.jsonl", data, SRC, CFG))
    assert _summary(out) == [(0, "ok"), (1, "empty_text"), (2, "ok")]
    assert out[2].record_key == "pos:part.jsonl:2"


def test_read_jsonl_whitespace_only_line_in_the_middle_is_an_empty_record():
    data = orjson.dumps(DOCS[0]) + b"\n   \t\n" + orjson.dumps(DOCS[1]) + b"\n"
    assert _summary(read_jsonl("part.jsonl", data, SRC, CFG)) == [(0, "ok"), (1, "empty_text"), (2, "ok")]


def test_read_jsonl_trailing_newline_is_not_a_record():
    with_newline = list(read_jsonl("part.jsonl", _jsonl(DOCS), SRC, CFG))
    without = list(read_jsonl("part.jsonl", _jsonl(DOCS).rstrip(b"\n"), SRC, CFG))
    assert _summary(with_newline) == _summary(without) == [(0, "ok"), (1, "ok"), (2, "ok")]
    trailing_blanks = list(read_jsonl("part.jsonl", _jsonl(DOCS) + b"\n\n", SRC, CFG))
    assert _summary(trailing_blanks) == [(0, "ok"), (1, "ok"), (2, "ok")]


def test_read_jsonl_empty_file():
    assert list(read_jsonl("part.jsonl", b"", SRC, CFG)) == []
    assert list(read_jsonl("part.jsonl.gz", gzip.compress(b""), SRC, CFG)) == []


def test_read_jsonl_crlf_line_endings():
    data = b"".join(orjson.dumps(d) + b"\r\n" for d in DOCS)
    out = list(read_jsonl("part.jsonl", data, SRC, CFG))
    assert [r.text for r in out] == [d["text"] for d in DOCS]
    crlf_blank = orjson.dumps(DOCS[0]) + b"\r\n\r\n" + orjson.dumps(DOCS[1]) + b"\r\n"
    assert _summary(read_jsonl("part.jsonl", crlf_blank, SRC, CFG)) == [(0, "ok"), (1, "empty_text"), (2, "ok")]


def _many_docs(n: int) -> list[dict]:
    return [{"text": f"문서 번호 {i}: " + "내용 " * 40} for i in range(n)]


def test_read_jsonl_truncated_gzip_yields_good_records_then_corrupt_file():
    docs = _many_docs(2000)
    data = gzip.compress(_jsonl(docs))
    out = list(read_jsonl("part.jsonl.gz", data[: len(data) // 2], SRC, CFG))
    assert len(out) > 10
    *good, last = out
    assert all(isinstance(r, Accepted) for r in good)
    assert [r.text for r in good] == [d["text"] for d in docs[: len(good)]]
    assert isinstance(last, Rejected) and last.reason == "corrupt_file"
    assert last.record_index == len(good)


def test_read_jsonl_not_gzip_at_all_is_corrupt_file():
    out = list(read_jsonl("part.jsonl.gz", b"this is not gzip data at all\n", SRC, CFG))
    assert _summary(out) == [(0, "corrupt_file")]


def test_read_jsonl_truncated_zstd_yields_good_records_then_corrupt_file():
    docs = _many_docs(2000)
    data = zstandard.ZstdCompressor().compress(_jsonl(docs))
    out = list(read_jsonl("part.jsonl.zst", data[: len(data) // 2], SRC, CFG))
    assert len(out) > 10
    *good, last = out
    assert all(isinstance(r, Accepted) for r in good)
    assert isinstance(last, Rejected) and last.reason == "corrupt_file"


def test_read_jsonl_zstd_truncated_inside_its_first_block_is_not_silently_empty():
    data = zstandard.ZstdCompressor().compress(_jsonl(DOCS))
    out = list(read_jsonl("part.jsonl.zst", data[: len(data) - 5], SRC, CFG))
    assert out and out[-1].reason == "corrupt_file"


# --- Parquet -------------------------------------------------------------------------------


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_read_parquet_good_file_with_nested_fields():
    table = pa.table(
        {
            "text": ["안녕하세요, 반갑습니다.", "hello world", None, "", "  "],
            "meta": [
                {"id": "a", "lang": "ko", "url": "https://a.kr"},
                {"id": "b", "lang": "en", "url": None},
                {"id": "c", "lang": "ko", "url": None},
                {"id": "d", "lang": None, "url": None},
                {"id": "e", "lang": "ko", "url": None},
            ],
            "score": [0.5, 1.0, 0.0, 0.0, 0.0],
        }
    )
    src = SourceConfig(
        name="test",
        path="unused",
        fields=FieldMapping(id="meta.id", url="meta.url", metadata={"lang": "meta.lang", "score": "score"}),
    )
    out = list(read_parquet("p/part-0.parquet", _parquet(table), src, CFG))
    assert _summary(out) == [(0, "ok"), (1, "ok"), (2, "missing_text"), (3, "empty_text"), (4, "empty_text")]
    assert out[0] == Accepted(0, "id:a", "안녕하세요, 반갑습니다.", "https://a.kr", {"lang": "ko", "score": "0.5"})
    assert out[1] == Accepted(1, "id:b", "hello world", None, {"lang": "en", "score": "1.0"})
    assert orjson.loads(out[2].payload)["meta"]["id"] == "c"


def test_read_parquet_many_batches_keep_their_indices():
    n = 3000  # more than one batch of the reader
    table = pa.table({"text": [f"문서 {i}" for i in range(n)]})
    out = list(read_parquet("p.parquet", _parquet(table), SRC, CFG))
    assert len(out) == n
    assert [r.record_index for r in out] == list(range(n))
    assert out[-1].text == f"문서 {n - 1}"
    assert out[-1].record_key == f"pos:p.parquet:{n - 1}"


def test_read_parquet_int_text_column_is_wrong_type_on_every_row():
    table = pa.table({"text": pa.array([1, 2, 3], type=pa.int64())})
    out = list(read_parquet("p.parquet", _parquet(table), SRC, CFG))
    assert _summary(out) == [(0, "wrong_type"), (1, "wrong_type"), (2, "wrong_type")]
    assert [orjson.loads(r.payload) for r in out] == [{"text": 1}, {"text": 2}, {"text": 3}]


def test_read_parquet_garbage_bytes_is_corrupt_file():
    out = list(read_parquet("p.parquet", b"PAR1 this is not a parquet file at all", SRC, CFG))
    assert _summary(out) == [(0, "corrupt_file")]


def test_read_parquet_truncated_file_is_corrupt_file():
    data = _parquet(pa.table({"text": ["x"] * 10}))
    out = list(read_parquet("p.parquet", data[: len(data) // 2], SRC, CFG))
    assert _summary(out) == [(0, "corrupt_file")]


# --- WARC ----------------------------------------------------------------------------------

ARTICLE_SENTENCES = [
    "서울시는 올해 여름 폭염에 대비해 무더위 쉼터를 두 배로 늘리기로 했다.",
    "취약 계층을 위한 냉방비 지원도 지난해보다 크게 확대된다.",
    "시는 또한 독거 노인 가정을 직접 방문해 건강 상태를 확인하는 돌봄 서비스를 운영할 계획이라고 밝혔다.",
    "전문가들은 낮 시간대 야외 활동을 자제하고 물을 자주 마시라고 당부했다.",
]
NAV_ITEMS = ["홈", "정치", "경제", "사회", "국제", "스포츠", "로그인", "회원가입"]
FOOTER = "Copyright 2024 Example News. All rights reserved. 개인정보처리방침 이용약관 고객센터"

ARTICLE_HTML = (
    '<!doctype html><html><head><meta charset="utf-8"><title>폭염 대책</title>'
    "<style>body{font-family:sans-serif}</style><script>var tracking = 1;</script></head><body>"
    "<header><nav><ul>"
    + "".join(f'<li><a href="/{i}">{item}</a></li>' for i, item in enumerate(NAV_ITEMS))
    + "</ul></nav></header>"
    "<main><article><h1>서울시 폭염 대책 발표</h1>"
    + "".join(f"<p>{s}</p>" for s in ARTICLE_SENTENCES)
    + "</article></main>"
    f'<footer><p>{FOOTER}</p><a href="/privacy">개인정보처리방침</a></footer>'
    "</body></html>"
)
PLAIN_TEXT = "이것은 일반 텍스트 문서입니다.\n두 번째 줄입니다."
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _warc(gzip_records: bool = True, truncate_html: bool = False) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    w.write_record(w.create_warcinfo_record("test.warc.gz", {"software": "moru-tests", "format": "WARC/1.0"}))
    request_headers = StatusAndHeaders(
        "GET /news/1 HTTP/1.1", [("Host", "example.com"), ("User-Agent", "test")], is_http_request=True
    )
    w.write_record(
        w.create_warc_record(
            "https://example.com/news/1", "request", payload=io.BytesIO(b""), http_headers=request_headers
        )
    )
    txt = PLAIN_TEXT.encode("utf-8")
    w.write_record(
        w.create_warc_record(
            "https://example.com/readme.txt",
            "resource",
            payload=io.BytesIO(txt),
            warc_content_type="text/plain; charset=utf-8",
        )
    )
    png_headers = StatusAndHeaders(
        "200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(PNG)))], protocol="HTTP/1.1"
    )
    w.write_record(
        w.create_warc_record(
            "https://example.com/logo.png", "response", payload=io.BytesIO(PNG), http_headers=png_headers
        )
    )
    before_html = buf.tell()
    body = ARTICLE_HTML.encode("utf-8")
    html_headers = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        protocol="HTTP/1.1",
    )
    w.write_record(
        w.create_warc_record(
            "https://example.com/news/1", "response", payload=io.BytesIO(body), http_headers=html_headers
        )
    )
    data = buf.getvalue()
    if truncate_html:
        # cut the last record (the HTML response) in the middle
        data = data[: before_html + (len(data) - before_html) // 2]
    return data


@pytest.mark.parametrize("gzip_records", [True, False], ids=["warc.gz", "warc"])
def test_read_warc_records(gzip_records):
    name = "crawl/test.warc.gz" if gzip_records else "crawl/test.warc"
    out = list(read_warc(name, _warc(gzip_records), SRC, CFG))
    # warcinfo and request records carry no document and are not counted
    assert _summary(out) == [(0, "ok"), (1, "unsupported_content_type"), (2, "ok")]
    text_doc, png, html_doc = out

    assert text_doc.text == PLAIN_TEXT
    assert text_doc.url == "https://example.com/readme.txt"
    assert text_doc.record_key.startswith("id:<urn:uuid:")
    assert text_doc.metadata["content_type"] == "text/plain; charset=utf-8"
    assert "http_status" not in text_doc.metadata
    assert text_doc.metadata["warc_date"]

    assert png.payload == PNG
    assert "image/png" in png.detail

    assert html_doc.url == "https://example.com/news/1"
    assert html_doc.metadata["http_status"] == "200"
    assert html_doc.metadata["content_type"] == "text/html; charset=utf-8"
    assert html_doc.record_key != text_doc.record_key


def test_read_warc_html_main_content_is_extracted():
    html_doc = list(read_warc("t.warc.gz", _warc(), SRC, CFG))[2]
    text = html_doc.text
    assert "서울시 폭염 대책 발표" in text
    for sentence in ARTICLE_SENTENCES:
        assert sentence in text
    assert "<p>" not in text and "</a>" not in text
    assert "tracking" not in text and "font-family" not in text
    # boilerplate: most navigation items and the footer are gone
    assert sum(item in text for item in NAV_ITEMS) <= 2
    assert "All rights reserved" not in text
    assert len(text) < len(ARTICLE_HTML) / 2


@pytest.mark.parametrize(
    "garbage",
    [b"this is no archive\n" * 10, bytes(range(256)) * 2, b"\x1f\x8b\x08" + bytes(range(255, -1, -1))],
    ids=["text", "bytes", "gzip-magic"],
)
def test_read_warc_garbage_is_corrupt_file(garbage):
    out = list(read_warc("t.warc.gz", garbage, SRC, CFG))
    assert _summary(out) == [(0, "corrupt_file")]


def test_read_warc_empty_file():
    assert list(read_warc("t.warc.gz", b"", SRC, CFG)) == []


@pytest.mark.parametrize("gzip_records", [True, False], ids=["warc.gz", "warc"])
def test_read_warc_truncated_yields_good_records_then_corrupt_file(gzip_records):
    data = _warc(gzip_records, truncate_html=True)
    out = list(read_warc("crawl/test.warc.gz" if gzip_records else "crawl/test.warc", data, SRC, CFG))
    # the text resource and the PNG come out as before; the cut HTML response is not a document
    assert _summary(out)[:2] == [(0, "ok"), (1, "unsupported_content_type")]
    assert _summary(out)[2:] == [(2, "corrupt_file")]


def test_read_file_dispatches_warc_by_name():
    out = list(read_file("crawl/CC-MAIN-0001.warc.gz", _warc(), SRC, CFG))
    assert _summary(out) == [(0, "ok"), (1, "unsupported_content_type"), (2, "ok")]
