"""Raw records out of one file's bytes, one iterator per format; no iterator ever raises on bad data.

Every iterator yields :class:`Raw` records and :class:`Problem` reports in file order. A damaged record is one
problem and reading goes on; a damaged file (a codec error, a truncated archive, bytes that are not the format)
yields what could be read before the damage and then one ``corrupt_file`` problem, and stops.
"""

from __future__ import annotations

import csv
import io
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from core.formats.codecs import CODEC_ERRORS, Source, as_stream, describe, open_decompressed
from core.formats.names import Compression, Format

BOM = b"\xef\xbb\xbf"

# every kind of problem a reader reports
PROBLEMS = {
    "corrupt_file": "the file (or its compression) cannot be read from here on; the records before were yielded",
    "corrupt_record": "one record's framing is broken (a WARC header, a CSV row); reading goes on after it",
    "invalid_json": "a JSON line (or document) that does not parse",
    "invalid_utf8": "bytes that are not UTF-8 (or JSON escapes of lone surrogates)",
    "blank_line": "a blank line with records after it (a file's trailing newlines are no records)",
}


@dataclass(slots=True)
class Raw:
    """One record as read: ``index`` is its 0-based position in the file (JSON lines: the line; CSV: the data
    row; Parquet: the row; WARC: the record among those yielded), ``value`` the record (bytes, a parsed JSON
    value, a dict per CSV/Parquet row, a :class:`WarcRecord`, a str of text), ``raw`` the bytes it came from
    where that is meaningful (a JSON line), else ``b""``."""

    index: int
    value: Any
    raw: bytes = b""


@dataclass(slots=True)
class Problem:
    """A record or a file that could not be read: ``kind`` is one of :data:`PROBLEMS`, ``detail`` the parser's
    or codec's message, ``raw`` the bytes concerned (may be empty)."""

    index: int
    kind: str
    detail: str
    raw: bytes = b""


Item = Raw | Problem


def _corrupt(index: int, exc: BaseException) -> Problem:
    return Problem(index, "corrupt_file", describe(exc))


# ---------------------------------------------------------------------------- lines and JSON


def iter_lines(source: Source, compression: Compression | None = None) -> Iterator[Item]:
    """Every line (``\\n``-separated, ``\\r\\n`` and ``\\n`` dropped, a leading UTF-8 BOM dropped) as bytes.
    A file's last line needs no newline; a trailing newline starts no line."""
    index = 0
    try:
        stream = open_decompressed(source, compression)
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if index == 0 and line.startswith(BOM):
                line = line[len(BOM) :]
            yield Raw(index, line, line)
            index += 1
    except CODEC_ERRORS as exc:
        yield _corrupt(index, exc)
    except Exception as exc:  # noqa: BLE001 - an unforeseen codec failure is still one corrupt file
        yield _corrupt(index, exc)


def parse_json(line: bytes, index: int) -> Item:
    """One JSON value from ``line``, or an ``invalid_json`` / ``invalid_utf8`` problem."""
    try:
        return Raw(index, orjson.loads(line), line)  # orjson validates the UTF-8 itself
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Problem(index, "invalid_utf8", str(bad), line)
        kind = "invalid_utf8" if "surrogate" in str(exc) else "invalid_json"
        return Problem(index, kind, str(exc), line)


def _jsonl_from_lines(lines: Iterator[Item], parse: bool) -> Iterator[Item]:
    pending_blank: list[int] = []
    for item in lines:
        if isinstance(item, Problem):
            yield item
            return
        line = item.value
        if not line.strip():
            # blank lines are records only when something follows them (a trailing newline is not)
            pending_blank.append(item.index)
            continue
        for blank in pending_blank:
            yield Problem(blank, "blank_line", "blank line", b"")
        pending_blank.clear()
        yield parse_json(line, item.index) if parse else item


def iter_jsonl(source: Source, compression: Compression | None = None, *, parse: bool = True) -> Iterator[Item]:
    """JSON lines: ``Raw(index, value, line)`` per non-blank line (``parse=False``: the line's bytes as
    ``value``), ``invalid_json`` / ``invalid_utf8`` problems per bad line, ``blank_line`` for a blank line that
    has records after it, and ``corrupt_file`` where the stream breaks."""
    return _jsonl_from_lines(iter_lines(source, compression), parse)


def iter_json(source: Source, compression: Compression | None = None) -> Iterator[Item]:
    """A ``.json`` file: JSON lines when its first line is a JSON value of its own (as :func:`iter_jsonl`, so a
    one-line document is ``Raw(0, value)``), else one JSON document spread over lines, ``Raw(0, document)`` or
    one ``invalid_json`` problem. A list is yielded as the one value it is: callers split it if they want."""
    lines = iter_lines(source, compression)
    head: list[Item] = []
    for item in lines:
        head.append(item)
        if isinstance(item, Problem) or item.value.strip():
            break
    first = head[-1] if head else None
    if first is None or (isinstance(first, Raw) and not first.value.strip()):
        return
    if isinstance(first, Problem) or isinstance(parse_json(first.value, first.index), Raw):
        yield from _jsonl_from_lines(_chain(head, lines), parse=True)
        return
    # a document over several lines: it is read whole
    parts: list[bytes] = []
    for item in _chain(head, lines):
        if isinstance(item, Problem):
            yield Problem(0, item.kind, item.detail)
            return
        parts.append(item.value)
    doc = b"\n".join(parts)
    parsed = parse_json(doc, 0)
    yield parsed if isinstance(parsed, Raw) else Problem(0, parsed.kind, parsed.detail, doc[:4096])


def _chain(head: list[Item], rest: Iterator[Item]) -> Iterator[Item]:
    yield from head
    yield from rest


# ---------------------------------------------------------------------------- CSV / TSV


def iter_csv(
    source: Source,
    compression: Compression | None = None,
    *,
    delimiter: str = ",",
    header: bool = True,
    columns: Sequence[str] | None = None,
) -> Iterator[Item]:
    """CSV/TSV rows as ``Raw(index, {column: value})`` (``index``: the data row, header not counted).
    ``header=True``: the first row holds the names (``columns`` given: it is skipped and ``columns`` used);
    ``header=False``: ``columns`` name the fields (default ``"0"``, ``"1"``, …). Blank lines are no rows;
    a row shorter than the header is padded with None; a row with more fields than names is a
    ``corrupt_record``, one with bytes that are not UTF-8 ``invalid_utf8``; a leading BOM is dropped."""
    csv.field_size_limit(sys.maxsize)  # a document's text may be longer than csv's 128 KiB default
    index = 0
    names: list[str] | None = list(columns) if columns is not None else None
    need_header = header
    try:
        binary = open_decompressed(source, compression)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")  # type: ignore[arg-type]
        reader = csv.reader(text, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Problem(index, "corrupt_record", f"Error: {exc}")
                index += 1
                continue
            if not row or (len(row) == 1 and not row[0]):
                continue
            if need_header:
                need_header = False
                if names is None:
                    names = row
                continue
            if names is None:
                names = [str(i) for i in range(len(row))]
            raw = delimiter.join(row).encode("utf-8", "surrogateescape")
            if len(row) > len(names):
                yield Problem(index, "corrupt_record", f"row has {len(row)} fields, the header {len(names)}", raw)
            elif any(_has_escapes(v) for v in row):
                yield Problem(index, "invalid_utf8", "the row holds bytes that are not UTF-8", raw)
            else:
                yield Raw(index, dict(zip(names, row + [None] * (len(names) - len(row)), strict=True)), raw)
            index += 1
    except CODEC_ERRORS as exc:
        yield _corrupt(index, exc)
    except Exception as exc:  # noqa: BLE001
        yield _corrupt(index, exc)


def _has_escapes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ---------------------------------------------------------------------------- Parquet


def iter_parquet_batches(
    source: Source | str, *, batch_size: int = 1024, columns: Sequence[str] | None = None
) -> Iterator[Any]:
    """``pyarrow.RecordBatch``es of a Parquet file (bytes, a binary stream or a local path), then
    ``Problem(rows_so_far, "corrupt_file", …)`` if the file breaks."""
    import pyarrow.parquet as pq

    rows = 0
    try:
        handle = source if isinstance(source, str) else as_stream(source)
        with pq.ParquetFile(handle) as pf:
            for batch in pf.iter_batches(batch_size=batch_size, columns=list(columns) if columns else None):
                yield batch
                rows += batch.num_rows
    except Exception as exc:  # noqa: BLE001 - any pyarrow failure means the file is unreadable from here
        yield _corrupt(rows, exc)


def iter_parquet(
    source: Source | str, *, batch_size: int = 1024, columns: Sequence[str] | None = None
) -> Iterator[Item]:
    """Parquet rows as ``Raw(index, {column: value})``."""
    index = 0
    for batch in iter_parquet_batches(source, batch_size=batch_size, columns=columns):
        if isinstance(batch, Problem):
            yield batch
            return
        for row in batch.to_pylist():
            yield Raw(index, row)
            index += 1


# ---------------------------------------------------------------------------- WARC / ARC


@dataclass(slots=True)
class WarcRecord:
    """One WARC (or ARC, converted) record: ``record_id`` is None for ARC records (warcio invents a random one);
    ``content_type`` is the HTTP one for HTTP records, else the WARC record's; ``payload`` the body (HTTP headers
    removed, transfer/content encodings undone)."""

    rec_type: str
    record_id: str | None
    url: str | None
    date: str | None
    content_type: str
    http_status: str | None
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


_WARC_REQUIRED = ("WARC-Type", "WARC-Record-ID", "WARC-Date", "Content-Length")


def _broken_header(rec) -> str | None:
    """Why a record's WARC header (or its HTTP header block) is broken, or None."""
    headers = rec.rec_headers
    missing = [name for name in _WARC_REQUIRED if not headers.get_header(name)]
    if missing:
        return f"WARC header lacks {', '.join(missing)}"
    length = headers.get_header("Content-Length")
    if length is not None and not length.strip().isdigit():
        return f"WARC header has Content-Length {length!r}"
    warc_type = (headers.get_header("Content-Type") or "").lower()
    if rec.rec_type in ("response", "resource") and not warc_type and rec.length:
        return "WARC header lacks Content-Type"
    if rec.rec_type == "response" and warc_type.startswith("application/http"):
        if rec.http_headers is None or not rec.http_headers.get_statuscode():
            return "the HTTP status line and headers cannot be parsed"
    return None


def _is_arc(source) -> bool:
    """Whether the archive is ARC (its records have no ids of their own: warcio makes random ones up)."""
    if isinstance(source, bytes | bytearray | memoryview):
        head = bytes(source[:4096])
    elif hasattr(source, "peek"):
        head = source.peek(4096)[:4096]
    else:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(31).decompress(head)
        except zlib.error:
            return False
    return head.lstrip().startswith(b"filedesc://")


def iter_warc(source: Source, *, record_types: Sequence[str] = ("response", "resource")) -> Iterator[Item]:
    """WARC/ARC records (compressed or not, told from the bytes) of ``record_types`` as
    ``Raw(index, WarcRecord)``; a record whose header is broken is a ``corrupt_record`` (reading goes on), one
    cut short or unreadable ends the file with ``corrupt_file``."""
    stream = as_stream(source)
    arc = _is_arc(source if isinstance(source, bytes | bytearray | memoryview) else stream)
    start = stream.tell() if getattr(stream, "seekable", lambda: False)() else None
    items = _warc_items(stream, arc, record_types)
    first = next(items, None)
    if isinstance(first, Problem) and first.index == 0 and "non-chunked gzip" in first.detail and start is not None:
        # a WARC gzipped as one stream, not record by record (warcio wants the latter): read it decompressed
        stream.seek(start)
        yield from _warc_items(open_decompressed(stream, "gzip"), arc, record_types)
        return
    if first is not None:
        yield first
        yield from items


def _warc_items(stream, arc: bool, record_types: Sequence[str]) -> Iterator[Item]:
    from warcio.archiveiterator import ArchiveIterator

    index = 0
    try:
        for rec in ArchiveIterator(stream, arc2warc=True):
            broken = _broken_header(rec)
            if broken is None and rec.rec_type not in record_types:
                continue
            headers = rec.rec_headers
            url = headers.get_header("WARC-Target-URI")
            rid = None if arc else headers.get_header("WARC-Record-ID")
            try:
                payload = rec.content_stream().read()
            except Exception as exc:  # noqa: BLE001 - a bad Content-Encoding damages this record only
                yield Problem(index, "corrupt_record", f"record {rid} ({url}): {describe(exc)}")
                index += 1
                continue
            if getattr(rec.raw_stream, "limit", 0) > 0:
                # warcio stops quietly where a record is cut short: the file is damaged from here
                yield Problem(index, "corrupt_file", f"record {rid} is cut short ({url})", payload[:256])
                return
            if broken is not None:
                yield Problem(index, "corrupt_record", f"record {rid or '(no id)'} ({url}): {broken}", payload[:256])
                index += 1
                continue
            if rec.http_headers is not None:
                ctype = rec.http_headers.get_header("Content-Type") or ""
                status = rec.http_headers.get_statuscode() or None
            else:
                ctype = headers.get_header("Content-Type") or ""
                status = None
            yield Raw(
                index,
                WarcRecord(rec.rec_type, rid, url, headers.get_header("WARC-Date"), ctype, status, payload,
                           dict(headers.headers)),
            )  # fmt: skip
            index += 1
    except Exception as exc:  # noqa: BLE001 - warcio raises many types on damaged archives
        yield _corrupt(index, exc)


# ---------------------------------------------------------------------------- plain text

TextSplit = Literal["file", "lines", "blocks"]


def iter_text(source: Source, compression: Compression | None = None, *, split: TextSplit = "file") -> Iterator[Item]:
    """Plain UTF-8 text as ``Raw(index, str)``: the whole file as it is (``"file"``; an empty file is no
    record), every non-blank line (``"lines"``) or every blank-line-separated block (``"blocks"``); a leading
    BOM is dropped; a record that is not UTF-8 is an ``invalid_utf8`` problem."""
    index = 0

    def emit(data: bytes) -> Item:
        try:
            return Raw(index, data.decode("utf-8"), data)
        except UnicodeDecodeError as exc:
            return Problem(index, "invalid_utf8", str(exc), data[:4096])

    if split == "file":
        try:
            data = open_decompressed(source, compression).read()
        except Exception as exc:  # noqa: BLE001 - CODEC_ERRORS and anything unforeseen: one corrupt file
            yield _corrupt(0, exc)
            return
        data = data.removeprefix(BOM)
        if data:
            yield emit(data)
        return
    block: list[bytes] = []
    for item in iter_lines(source, compression):
        if isinstance(item, Problem):
            if block:
                yield emit(b"\n".join(block))
                index += 1
            yield Problem(index, item.kind, item.detail)
            return
        line = item.value
        if split == "lines":
            if line.strip():
                yield emit(line)
                index += 1
        elif line.strip():
            block.append(line)
        elif block:
            yield emit(b"\n".join(block))
            index += 1
            block = []
    if block:
        yield emit(b"\n".join(block))


# ---------------------------------------------------------------------------- one entry point


def iter_records(fmt: Format, source: Source, compression: Compression | None = None, **options: Any) -> Iterator[Item]:
    """The reader for ``fmt`` (``tsv`` is CSV with tabs); ``options`` go to that reader."""
    if fmt == "jsonl":
        return iter_jsonl(source, compression, **options)
    if fmt == "json":
        return iter_json(source, compression)
    if fmt in ("csv", "tsv"):
        options.setdefault("delimiter", "\t" if fmt == "tsv" else ",")
        return iter_csv(source, compression, **options)
    if fmt == "parquet":
        return iter_parquet(source, **options)
    if fmt == "warc":
        return iter_warc(source, **options)
    if fmt == "text":
        return iter_text(source, compression, **options)
    raise ValueError(f"unknown format {fmt!r}")
