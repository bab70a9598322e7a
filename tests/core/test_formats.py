"""core.formats: names, codecs, readers and listing; hostile bytes, truncation, JSON shapes and file names.

The invariant every reader keeps: no exception escapes, records come out in file order, and a damaged file ends
with exactly one ``corrupt_file`` problem carrying the codec's message after the records before the damage.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import formats
from core.formats import Problem, Raw, detect_compression, detect_format, list_files

COMPRESS = {
    None: lambda b: b,
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def _items(it) -> tuple[list[Raw], list[Problem]]:
    items = list(it)
    return [i for i in items if isinstance(i, Raw)], [i for i in items if isinstance(i, Problem)]


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def _check_order(items) -> None:
    """Indices never go back; at most one corrupt_file, and it is the last item."""
    indices = [i.index for i in items]
    assert indices == sorted(indices)
    corrupt = [n for n, i in enumerate(items) if isinstance(i, Problem) and i.kind == "corrupt_file"]
    assert len(corrupt) <= 1 and (not corrupt or corrupt[0] == len(items) - 1)
    assert all(isinstance(i, Raw) or i.kind in formats.PROBLEMS for i in items)


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "fmt", "codec"),
    [
        ("a.jsonl", "jsonl", None),
        ("a.ndjson.gz", "jsonl", "gzip"),
        ("A.JSONL.ZST", "jsonl", "zstd"),
        ("a.jsonl.zstd", "jsonl", "zstd"),
        ("a.json", "json", None),
        ("a.json.bz2", "json", "bz2"),
        ("a.csv.xz", "csv", "xz"),
        ("a.tsv.gzip", "tsv", "gzip"),
        ("a.parquet", "parquet", None),
        ("a.parquet.gz", None, "gzip"),
        ("crawl.warc.gz", "warc", "gzip"),
        ("old.arc", "warc", None),
        ("notes.txt", "text", None),
        ("README", None, None),
        ("data.gz", None, "gzip"),
        ("dir.jsonl/part", None, None),
        ("weird name #1 %41.jsonl", "jsonl", None),
    ],
)
def test_detect_format_and_compression(name, fmt, codec):
    assert detect_format(name) == fmt
    assert detect_compression(name) == codec


# ---------------------------------------------------------------------------- codecs: every error is reported

ROWS = [{"id": i, "text": f"문서 {i} document text"} for i in range(400)]


@pytest.mark.parametrize("codec", ["gzip", "zstd", "bz2", "xz"])
def test_truncated_stream_keeps_records_then_one_corrupt_file(codec):
    data = COMPRESS[codec](_jsonl(ROWS))
    items = list(formats.iter_jsonl(data[: len(data) * 2 // 3], codec))
    _check_order(items)
    raws = [i.value for i in items if isinstance(i, Raw)]
    assert raws == ROWS[: len(raws)] and len(raws) < len(ROWS)
    assert raws or codec in ("zstd", "bz2")  # these hand out nothing of a cut block (128 KiB, 900 kB)
    assert items[-1].kind == "corrupt_file" and items[-1].detail.split(":")[0] in ("EOFError", "OSError")


@pytest.mark.parametrize("codec", ["gzip", "zstd", "bz2", "xz"])
def test_bytes_of_another_kind_are_one_corrupt_file(codec):
    items = list(formats.iter_jsonl(b'{"text": "this file was never compressed"}\n' * 3, codec))
    assert len(items) == 1 and items[0].kind == "corrupt_file" and items[0].index == 0
    assert items[0].detail  # the codec's own message


def test_gzip_with_a_flipped_byte_mid_file_is_a_corrupt_file_not_an_exception():
    data = bytearray(COMPRESS["gzip"](_jsonl(ROWS)))
    data[len(data) // 2] ^= 0xFF
    items = list(formats.iter_jsonl(bytes(data), "gzip"))
    _check_order(items)
    assert items[-1].kind == "corrupt_file"
    assert [i.value for i in items if isinstance(i, Raw)][:5] == ROWS[:5]


def test_a_flipped_byte_that_breaks_deflate_is_a_zlib_error_reported_not_raised():
    import zlib

    data = COMPRESS["gzip"](_jsonl(ROWS))
    for pos in range(len(data) // 3, len(data)):  # the first flip that deflate itself rejects
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        try:
            gzip.decompress(bytes(bad))
        except zlib.error:
            break
        except Exception:  # noqa: BLE001 - a CRC or length error: try the next byte
            continue
    else:
        pytest.fail("no flip gave a zlib.error")
    items = list(formats.iter_jsonl(bytes(bad), "gzip"))
    _check_order(items)
    assert items[-1].kind == "corrupt_file" and items[-1].detail.startswith("zlib.error: Error -3")


def test_arc_records_have_no_made_up_ids():
    body = b"<html><body><p>hello arc world</p></body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    version = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = b"filedesc://test.arc 0.0.0.0 20050614070159 text/plain %d\n" % len(version) + version + b"\n"
    arc += b"http://example.com/ 93.184.216.119 20140216050323 text/html %d\n" % len(http) + http + b"\n"
    for data in (arc, gzip.compress(arc)):
        (item,) = formats.iter_warc(data)
        assert item.value.url == "http://example.com/" and item.value.payload == body
        assert item.value.record_id is None  # warcio invents a random one per read: no stable key
    assert next(formats.iter_warc(_warc())).value.record_id.startswith("<urn:uuid:")


def test_zstd_with_several_frames_and_a_truncated_first_block():
    frames = b"".join(COMPRESS["zstd"](_jsonl(ROWS[i : i + 100])) for i in range(0, 400, 100))
    assert [i.value for i in formats.iter_jsonl(frames, "zstd")] == ROWS
    one = COMPRESS["zstd"](_jsonl(ROWS))
    items = list(formats.iter_jsonl(one[:40], "zstd"))
    assert items[-1].kind == "corrupt_file" and "truncated" in items[-1].detail


def test_open_decompressed_reads_streams_too():
    data = COMPRESS["xz"](b"hello\nworld\n")
    assert formats.open_decompressed(io.BytesIO(data), "xz").read() == b"hello\nworld\n"


# ---------------------------------------------------------------------------- JSON lines and JSON


def test_jsonl_bom_blank_lines_bad_lines_and_trailing_newlines():
    data = b'\xef\xbb\xbf{"text": "a"}\r\n\n{"text": "b"}\nnot json\n\xff\xfe\n"\\ud800"\n\n\n'
    items = list(formats.iter_jsonl(data))
    assert [(i.index, type(i).__name__, getattr(i, "kind", None)) for i in items] == [
        (0, "Raw", None),
        (1, "Problem", "blank_line"),
        (2, "Raw", None),
        (3, "Problem", "invalid_json"),
        (4, "Problem", "invalid_utf8"),
        (5, "Problem", "invalid_utf8"),
    ]
    assert items[0].value == {"text": "a"} and items[3].raw == b"not json"


def test_jsonl_unparsed_lines_and_empty_file():
    assert [i.value for i in formats.iter_jsonl(b'{"a": 1}\n[2]\n', parse=False)] == [b'{"a": 1}', b"[2]"]
    assert list(formats.iter_jsonl(b"")) == []
    assert list(formats.iter_jsonl(b"\n\n")) == []


def test_json_document_or_json_lines():
    doc = b'\xef\xbb\xbf{\n  "examples": [\n    {"input": "x"}\n  ]\n}\n'
    assert [i.value for i in formats.iter_json(doc)] == [{"examples": [{"input": "x"}]}]
    assert [i.value for i in formats.iter_json(b'[{"a": 1},\n {"a": 2}]')] == [[{"a": 1}, {"a": 2}]]
    assert [i.value for i in formats.iter_json(b'{"a": 1}\n{"a": 2}\n')] == [{"a": 1}, {"a": 2}]
    broken = list(formats.iter_json(b'{\n  "a": 1,\n'))
    assert len(broken) == 1 and broken[0].kind == "invalid_json"
    assert list(formats.iter_json(b"  \n")) == []
    truncated = gzip.compress(b'[\n{"a": 1},\n{"a": 2}\n]\n' * 50)[:-30]
    items = list(formats.iter_json(truncated, "gzip"))
    assert len(items) == 1 and items[0].kind == "corrupt_file"


# ---------------------------------------------------------------------------- CSV / TSV


def test_csv_with_bom_header_quotes_and_bad_rows():
    data = (
        '\ufeffid,text\r\n1,"안녕, 세상"\r\n\r\n2,"two\nlines"\r\n3,a,b\r\n4\r\n'.encode() + b"5,\xff\xfe\r\n6,ok\r\n"
    )
    items = list(formats.iter_csv(data))
    _check_order(items)
    assert items[0].value == {"id": "1", "text": "안녕, 세상"}
    assert items[1].value == {"id": "2", "text": "two\nlines"}
    assert (items[2].index, items[2].kind) == (2, "corrupt_record")
    assert items[3].value == {"id": "4", "text": None}
    assert (items[4].index, items[4].kind) == (4, "invalid_utf8")
    assert items[5].value == {"id": "6", "text": "ok"}


def test_tsv_without_header_and_with_given_columns():
    data = b"q1\ta1\nq2\ta2\n"
    assert [i.value for i in formats.iter_records("tsv", data, header=False, columns=["q", "a"])] == [
        {"q": "q1", "a": "a1"},
        {"q": "q2", "a": "a2"},
    ]
    assert [i.value for i in formats.iter_csv(b"x,y\n1,2\n", header=True, columns=["a", "b"])] == [{"a": "1", "b": "2"}]
    assert [i.value for i in formats.iter_csv(b"1,2\n", header=False)] == [{"0": "1", "1": "2"}]


def test_csv_long_fields_are_not_an_error():
    long = "가" * 300_000
    assert [i.value["t"] for i in formats.iter_csv(f"t\n{long}\n".encode())] == [long]


# ---------------------------------------------------------------------------- Parquet


def _parquet(n: int = 3000) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(n)]}), buf, row_group_size=500)
    return buf.getvalue()


def test_parquet_rows_and_batches(tmp_path):
    data = _parquet()
    rows = [i.value["text"] for i in formats.iter_parquet(data)]
    assert rows == [f"row {i}" for i in range(3000)]
    (tmp_path / "x.parquet").write_bytes(data)
    batches = list(formats.iter_parquet_batches(str(tmp_path / "x.parquet"), batch_size=1000))
    assert sum(b.num_rows for b in batches) == 3000


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_parquet_is_one_corrupt_file(damage):
    data = {"truncated": _parquet()[:-100], "garbage": b"PAR1 not really", "empty": b""}[damage]
    items = list(formats.iter_parquet(data))
    assert items and items[-1].kind == "corrupt_file" and all(isinstance(i, Raw) for i in items[:-1])


# ---------------------------------------------------------------------------- WARC


def _warc(n: int = 3, gz: bool = False) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    w.write_record(w.create_warcinfo_record("x.warc", {"software": "test"}))
    for i in range(n):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        body = f"<html><p>page {i}</p></html>".encode()
        w.write_record(w.create_warc_record(f"http://x/{i}", "response", payload=io.BytesIO(body), http_headers=http))
    return buf.getvalue()


def test_warc_records():
    for gz in (False, True):
        items = list(formats.iter_warc(_warc(gz=gz)))
        assert [i.value.url for i in items] == ["http://x/0", "http://x/1", "http://x/2"]
        assert items[0].value.content_type == "text/html" and items[0].value.http_status == "200"
        assert items[1].value.payload == b"<html><p>page 1</p></html>"
    whole = gzip.compress(_warc())  # gzipped as one stream, not record by record
    assert [i.value.url for i in formats.iter_warc(whole)] == ["http://x/0", "http://x/1", "http://x/2"]
    assert [i.value.url for i in formats.iter_warc(io.BytesIO(whole))] == ["http://x/0", "http://x/1", "http://x/2"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"WARC-Type: response", b"WARC-Type response"),  # a header line without its colon
        (b"Content-Type: application/http; msgtype=response", b"Content-Type application/http"),
        (b"HTTP/1.1 200 OK", b"garbage"),
    ],
    ids=["warc-type", "content-type", "status-line"],
)
def test_broken_warc_header_is_a_corrupt_record_not_a_content_type(old, new):
    data = _warc()
    items = list(formats.iter_warc(data.replace(old, new, 1)))
    _check_order(items)
    first = items[0]
    assert isinstance(first, Problem) and first.kind == "corrupt_record", items
    assert not any(isinstance(i, Raw) and i.value.url == "http://x/0" for i in items)


def test_warc_bad_content_length_then_garbage():
    data = _warc()
    start = data.index(b"Content-Length", data.index(b"http://x/0"))
    end = data.index(b"\r\n", start)
    items = list(formats.iter_warc(data[:start] + b"Content-Length: abc" + data[end:]))
    _check_order(items)
    assert items[0].kind == "corrupt_record" and "Content-Length" in items[0].detail


def test_warc_truncated_and_garbage():
    data = _warc(gz=True)
    items = list(formats.iter_warc(data[: len(data) - 40]))
    _check_order(items)
    assert items[-1].kind == "corrupt_file" and len([i for i in items if isinstance(i, Raw)]) == 2
    assert [i.kind for i in formats.iter_warc(b"\x00\x01 garbage")] == ["corrupt_file"]
    assert list(formats.iter_warc(b"")) == []


# ---------------------------------------------------------------------------- text


def test_text_file_lines_blocks_and_bom():
    data = b"\xef\xbb\xbfone\r\ntwo\n\n\nthree\n"
    assert [i.value for i in formats.iter_text(data)] == ["one\r\ntwo\n\n\nthree\n"]
    assert [i.value for i in formats.iter_text(data, split="lines")] == ["one", "two", "three"]
    assert [i.value for i in formats.iter_text(data, split="blocks")] == ["one\ntwo", "three"]
    bad = list(formats.iter_text(b"ok\n\n\xff\n", split="blocks"))
    assert bad[0].value == "ok" and bad[1].kind == "invalid_utf8"
    assert list(formats.iter_text(b"")) == []


# ---------------------------------------------------------------------------- listing

HOSTILE_NAMES = ["100%41 x.jsonl", "a#b.jsonl", "q?.jsonl", "[x].jsonl", "한국어 파일.jsonl", "😀.jsonl", "x%20y.jsonl"]


def _tree(root: Path) -> None:
    for name in HOSTILE_NAMES:
        (root / name).write_bytes(b'{"text": "x"}\n')
    (root / "_SUCCESS").write_bytes(b"")
    (root / ".part.jsonl.crc").write_bytes(b"crc")
    (root / "empty.jsonl").write_bytes(b"")
    (root / "sub").mkdir()
    (root / "sub" / "s.jsonl").write_bytes(b"{}\n")
    (root / "_temporary").mkdir()
    (root / "_temporary" / "t.jsonl").write_bytes(b"{}\n")
    (root / "sub" / "up").symlink_to(root)  # a cycle
    (root / "again").symlink_to(root / "sub")  # the same folder twice
    (root / "link.jsonl").symlink_to(root / "a#b.jsonl")  # the same file twice
    (root / "dead.jsonl").symlink_to(root / "nowhere")
    os.mkfifo(root / "pipe.jsonl")


def test_local_folder_listing_accounts_for_every_file(tmp_path):
    _tree(tmp_path)
    listing = list_files(str(tmp_path))
    assert [f.relpath for f in listing.files] == sorted([*HOSTILE_NAMES, "sub/s.jsonl"], key=lambda r: r.split("/"))
    assert {f.relpath: f.path for f in listing.files}["100%41 x.jsonl"] == str(tmp_path / "100%41 x.jsonl")
    assert {(s.relpath, s.reason) for s in listing.skipped} == {
        ("_SUCCESS", "hidden"),
        (".part.jsonl.crc", "hidden"),
        ("_temporary", "hidden"),
        ("empty.jsonl", "empty"),
        ("sub/up", "symlink_cycle"),
        ("again", "duplicate"),
        ("link.jsonl", "duplicate"),
        ("dead.jsonl", "broken_symlink"),
        ("pipe.jsonl", "not_a_file"),
    }
    for name in HOSTILE_NAMES:  # every listed file opens by its path, as listed
        assert Path({f.relpath: f.path for f in listing.files}[name]).read_bytes() == b'{"text": "x"}\n'


def test_hidden_names_can_be_included(tmp_path):
    _tree(tmp_path)
    listing = list_files(str(tmp_path), hidden="include")
    rels = {f.relpath for f in listing.files}
    assert {".part.jsonl.crc", "_temporary/t.jsonl"} <= rels
    assert "_SUCCESS" in {s.relpath for s in listing.skipped if s.reason == "empty"}
    with pytest.raises(ValueError):
        list_files(str(tmp_path), hidden="maybe")  # type: ignore[arg-type]


def test_a_symlinked_folder_is_read_once_under_its_plain_path(tmp_path):
    base = tmp_path / "base"
    (base / "z").mkdir(parents=True)
    (base / "z" / "f.jsonl").write_bytes(b"{}\n")
    (base / "a").symlink_to(base / "z")  # sorts first, but the plain path wins
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.jsonl").write_bytes(b"{}\n")
    (outside / "back").symlink_to(outside)
    root = tmp_path / "root"
    root.mkdir()
    (root / "z").symlink_to(base / "z")
    (root / "ext").symlink_to(outside)
    assert [f.relpath for f in list_files(str(base)).files] == ["z/f.jsonl"]
    listing = list_files(str(root))
    assert [f.relpath for f in listing.files] == ["ext/o.jsonl", "z/f.jsonl"]
    assert [(s.relpath, s.reason) for s in listing.skipped] == [("ext/back", "symlink_cycle")]


def test_globs_single_files_and_missing_paths(tmp_path):
    _tree(tmp_path)
    star = list_files(str(tmp_path / "*.jsonl"))
    assert {f.relpath for f in star.files} == set(HOSTILE_NAMES)
    deep = list_files(str(tmp_path / "**" / "s.jsonl"))
    assert [f.relpath for f in deep.files] == ["sub/s.jsonl"]
    assert [f.relpath for f in list_files(str(tmp_path / "[[]x].jsonl")).files] == ["[x].jsonl"]
    assert [f.relpath for f in list_files(str(tmp_path / "[x].jsonl")).files] == ["[x].jsonl"]  # exists as named
    one = list_files(str(tmp_path / "q?.jsonl"))
    assert [(f.relpath, f.size) for f in one.files] == [("q?.jsonl", 14)]
    assert [f.relpath for f in list_files("file://" + str(tmp_path / "a#b.jsonl")).files] == ["a#b.jsonl"]
    assert list_files(str(tmp_path / "_SUCCESS")).skipped[0].reason == "empty"  # named, so not hidden
    assert list_files(str(tmp_path / "*.nothing")).files == []
    for missing in (tmp_path / "nope", tmp_path / "nope" / "*.jsonl"):
        with pytest.raises(FileNotFoundError):
            list_files(str(missing))


def test_known_formats_only(tmp_path):
    (tmp_path / "README").write_bytes(b"hi")
    (tmp_path / "a.csv").write_bytes(b"a\n1\n")
    listing = list_files(str(tmp_path), known_formats_only=True)
    assert [f.relpath for f in listing.files] == ["a.csv"]
    assert [(s.relpath, s.reason) for s in listing.skipped] == [("README", "unknown_format")]


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer
    from pyarrow import fs

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    s3fs = fs.S3FileSystem(access_key="k", secret_key="s", endpoint_override=endpoint, scheme="http",
                           region="us-east-1", allow_bucket_creation=True)  # fmt: skip
    s3fs.create_dir("bkt")
    yield s3fs, f"endpoint_override={endpoint}&scheme=http&region=us-east-1"
    server.stop()


def test_remote_listing_keeps_names_and_reports_hidden_and_empty(s3):
    s3fs, options = s3
    for name in [*HOSTILE_NAMES, "sub/s.jsonl", "_temporary/0/x.jsonl", "_SUCCESS", "empty.jsonl"]:
        with s3fs.open_output_stream(f"bkt/in/{name}") as out:
            out.write(b"" if name == "empty.jsonl" else b"{}\n")
    listing = list_files(f"s3a://k:s@bkt/in?{options}")
    assert [f.relpath for f in listing.files] == sorted([*HOSTILE_NAMES, "sub/s.jsonl"], key=lambda r: r.split("/"))
    assert {f.path for f in listing.files} >= {"bkt/in/100%41 x.jsonl", "bkt/in/a#b.jsonl"}
    assert {(s.relpath, s.reason) for s in listing.skipped} == {
        ("_temporary", "hidden"),
        ("_SUCCESS", "hidden"),
        ("empty.jsonl", "empty"),
    }
    fsys, inner = formats.filesystem_for(f"s3://k:s@bkt/in/100%41 x.jsonl?{options}")
    assert inner == "bkt/in/100%41 x.jsonl"
    with fsys.open_input_stream(inner) as fh:
        assert fh.read() == b"{}\n"
    glob = list_files(f"s3://k:s@bkt/in/*.jsonl?{options}")
    assert {f.relpath for f in glob.files} == set(HOSTILE_NAMES)
    with pytest.raises(FileNotFoundError):
        list_files(f"s3://k:s@bkt/nothing-here?{options}")


# ---------------------------------------------------------------------------- properties

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
READERS = [
    (fmt, codec)
    for fmt in ("jsonl", "json", "csv", "tsv", "text")
    for codec in (None, "gzip", "zstd", "bz2", "xz")
] + [("parquet", None), ("warc", None)]  # fmt: skip


@FAST
@given(data=st.binary(max_size=600), which=st.sampled_from(READERS))
def test_no_reader_raises_on_random_bytes(data, which):
    fmt, codec = which
    for source in (data, COMPRESS[codec](data) if codec else data):
        items = list(formats.iter_records(fmt, source, codec))
        _check_order(items)


@FAST
@given(cut=st.floats(0, 1), codec=st.sampled_from(["gzip", "zstd", "bz2", "xz", None]))
def test_truncation_anywhere_keeps_a_prefix_and_reports_the_rest(cut, codec):
    rows = ROWS[:60]
    data = COMPRESS[codec](_jsonl(rows))
    items = list(formats.iter_jsonl(data[: int(len(data) * cut)], codec))
    _check_order(items)
    raws = [i.value for i in items if isinstance(i, Raw)]
    assert raws == rows[: len(raws)]
    if codec is not None and len(raws) < len(rows) and int(len(data) * cut) > 0:  # zero bytes: an empty file
        assert items and items[-1].kind == "corrupt_file"
    # every line read is a record or a problem: nothing vanishes between them
    assert [i.index for i in items if not (isinstance(i, Problem) and i.kind == "corrupt_file")] == list(
        range(len([i for i in items if not (isinstance(i, Problem) and i.kind == "corrupt_file")]))
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@FAST
@given(
    values=st.lists(JSON_VALUES, max_size=8), ascii_only=st.booleans(), codec=st.sampled_from([None, "gzip", "zstd"])
)
def test_every_json_line_is_one_record_or_one_problem(values, ascii_only, codec):
    data = b"".join(json.dumps(v, ensure_ascii=ascii_only).encode() + b"\n" for v in values)
    items = list(formats.iter_jsonl(COMPRESS[codec](data), codec))
    assert [i.index for i in items] == list(range(len(values)))
    assert [i.value for i in items] == values  # floats survive orjson's round trip
    doc = list(formats.iter_json(json.dumps(values, indent=2).encode()))
    assert [i.value for i in doc] == [values]


FILE_NAME = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=40
).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200)


@FAST
@given(names=st.lists(FILE_NAME, min_size=1, max_size=6, unique=True), hidden=st.sampled_from(["skip", "include"]))
def test_any_file_name_is_listed_or_skipped_and_kept_exactly(names, hidden):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        root.mkdir()
        for n, name in enumerate(names):
            (root / name).write_bytes(b"x" * (n % 2))
        listing = list_files(str(root), hidden=hidden)
        listed = {f.relpath for f in listing.files}
        skipped = {s.relpath: s.reason for s in listing.skipped}
        assert listed | set(skipped) == set(names) and not listed & set(skipped)
        for f in listing.files:
            assert Path(f.path).read_bytes() == b"x" and f.size == 1
        for name, reason in skipped.items():
            shown = hidden == "include" or not formats.is_hidden(name)
            assert reason == ("empty" if shown and names.index(name) % 2 == 0 else "hidden")
