"""Readers: one source file in, accepted records and rejections out.

The bytes are read by :mod:`core.formats` (format and codec from the name, every codec error caught); this module
only maps its raw records onto documents. Nothing here raises on bad content: a record that cannot be a document
becomes a ``Rejected`` with its reason, and a file that breaks part-way (a truncated or corrupt gzip / zstd / bz2 /
xz stream, a damaged Parquet or WARC file) yields what could be read and then one ``corrupt_file`` rejection
carrying the codec's message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

import orjson

from core import formats
from core.formats import Problem, Raw
from spark_jobs.ingest.config import Format, IngestConfig, SourceConfig
from spark_jobs.ingest.records import Accepted, RecordError, Rejected, check_text, map_record

Record = Accepted | Rejected
Data = bytes | BinaryIO

# what ``format: auto`` reads; plain text only when the source says ``format: text`` (a folder's README.txt is
# no document)
AUTO_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "warc")
# a reader's problem -> the quarantine reason
_REASON = {
    "corrupt_file": "corrupt_file",
    "corrupt_record": "corrupt_record",
    "invalid_json": "invalid_json",
    "invalid_utf8": "invalid_utf8",
    "blank_line": "empty_text",
}


def detect_format(name: str) -> Format | None:
    """The format ``format: auto`` reads ``name`` as (:func:`core.formats.detect_format`), or None."""
    fmt = formats.detect_format(name)
    return fmt if fmt in AUTO_FORMATS else None  # type: ignore[return-value]


def _rejected(problem: Problem) -> Rejected:
    detail = problem.detail if problem.kind != "blank_line" else "blank line"
    return Rejected(problem.index, _REASON.get(problem.kind, "corrupt_file"), detail, problem.raw)


def _mapped(value, raw: bytes, relpath: str, index: int, src: SourceConfig, cfg: IngestConfig) -> Record:
    try:
        return map_record(value, src.fields, f"{relpath}:{index}", index, cfg.max_text_bytes, cfg.binary_max_ratio)
    except RecordError as exc:
        return Rejected(index, exc.reason, exc.detail, raw or orjson.dumps(value, default=str))


def _mapped_items(items: Iterator, relpath: str, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    for item in items:
        if isinstance(item, Problem):
            yield _rejected(item)
        else:
            yield _mapped(item.value, item.raw, relpath, item.index, src, cfg)


def read_jsonl(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    return _mapped_items(formats.iter_jsonl(data, formats.detect_compression(relpath)), relpath, src, cfg)


def read_json(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    """A ``.json`` file: JSON lines, or one document. A file that is one JSON array is one record per element
    (its position is the record index); an array among other lines is ``not_an_object``, as in JSON lines."""
    items = formats.iter_json(data, formats.detect_compression(relpath))
    first = next(items, None)
    second = next(items, None) if first is not None else None
    if isinstance(first, Raw) and second is None and isinstance(first.value, list):
        for i, value in enumerate(first.value):
            yield _mapped(value, b"", relpath, i, src, cfg)
        return
    head = [item for item in (first, second) if item is not None]
    yield from _mapped_items(_chain(head, items), relpath, src, cfg)


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


def read_csv(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig, delimiter: str = ",") -> Iterator[Record]:
    """CSV/TSV with a header row; the field mapping names columns."""
    items = formats.iter_csv(data, formats.detect_compression(relpath), delimiter=delimiter)
    return _mapped_items(items, relpath, src, cfg)


def read_tsv(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    return read_csv(relpath, data, src, cfg, delimiter="\t")


def read_text(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    """One document per file (``format: text``); its key is the file's relative path."""
    for item in formats.iter_text(data, formats.detect_compression(relpath)):
        if isinstance(item, Problem):
            yield _rejected(item)
            continue
        try:
            check_text(item.value, cfg.max_text_bytes, cfg.binary_max_ratio)
        except RecordError as exc:
            yield Rejected(item.index, exc.reason, exc.detail, item.raw)
        else:
            yield Accepted(item.index, f"pos:{relpath}:{item.index}", item.value)


def read_parquet(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    for item in formats.iter_parquet(data):
        if isinstance(item, Problem):
            yield _rejected(item)
        else:
            yield _mapped(item.value, b"", relpath, item.index, src, cfg)


_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9_\-:.]+)", re.IGNORECASE)


def _decode(payload: bytes, content_type: str) -> str:
    """The charset the server declared, else UTF-8 if the bytes are valid UTF-8, else
    Resiliparse's encoding detection (which guesses wrong on short UTF-8 text)."""
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    declared = _CHARSET.search(content_type)
    if declared:
        try:
            return payload.decode(declared.group(1))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return bytes_to_str(payload, detect_encoding(payload))


def read_warc(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    """WARC/ARC response and resource records; HTML goes through Resiliparse's main-content
    extractor. Request, metadata, revisit and warcinfo records carry no document and are not
    counted as records; a record whose WARC header is broken is a ``corrupt_record``."""
    from resiliparse.extract.html2text import extract_plain_text

    for item in formats.iter_warc(data):
        if isinstance(item, Problem):
            yield _rejected(item)
            continue
        rec: formats.WarcRecord = item.value
        index, url, ctype, payload = item.index, rec.url, rec.content_type, rec.payload
        # ARC records have no id of their own (warcio makes a random one up): their key is their position
        rid = rec.record_id or f"{relpath}:{index}"
        mime = ctype.split(";", 1)[0].strip().lower()
        try:
            if mime in _HTML_TYPES or (not mime and payload.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))):
                text = extract_plain_text(_decode(payload, ctype), main_content=True, alt_texts=False)
            elif mime.startswith("text/"):
                text = _decode(payload, ctype)
            else:
                raise RecordError("unsupported_content_type", f"Content-Type {ctype or 'missing'!r}")
            check_text(text, cfg.max_text_bytes, cfg.binary_max_ratio)
        except RecordError as exc:
            yield Rejected(index, exc.reason, f"{exc.detail} ({url})", payload)
        else:
            meta = {"warc_date": rec.date or "", "content_type": ctype}
            if rec.http_status:
                meta["http_status"] = str(rec.http_status)
            yield Accepted(index, "id:" + rid, text, url, meta)


READERS = {
    "jsonl": read_jsonl,
    "json": read_json,
    "csv": read_csv,
    "tsv": read_tsv,
    "parquet": read_parquet,
    "warc": read_warc,
    "text": read_text,
}


def read_file(relpath: str, data: Data, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    """The records of one file (its bytes, or a binary stream open at its start); never raises on bad content."""
    fmt = src.format if src.format != "auto" else detect_format(relpath)
    if fmt is None:
        head = data[:256] if isinstance(data, bytes | bytearray) else _head(data)
        hint = "; set the source's format (text reads each file as one document)"
        if formats.detect_format(relpath) == "text":
            hint = "; plain text is read only with the source's format set to text (one document per file)"
        yield Rejected(0, "unknown_format", f"cannot tell the format of {relpath!r}{hint}", bytes(head))
        return
    yield from READERS[fmt](relpath, data, src, cfg)


def _head(stream: BinaryIO) -> bytes:
    try:
        return stream.read(256)
    except Exception:  # noqa: BLE001 - the payload is only shown
        return b""
