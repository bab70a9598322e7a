"""Readers: the bytes of one source file in, accepted records and rejections out.

One generator per format; each never raises on bad content. A record that cannot be a document
becomes a ``Rejected`` with its reason; a file that breaks part-way (truncated gzip, corrupt
Parquet) yields what it could read and then one ``corrupt_file`` rejection.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator

import orjson

from spark_jobs.ingest.config import Format, IngestConfig, SourceConfig
from spark_jobs.ingest.records import Accepted, RecordError, Rejected, check_text, map_record

Record = Accepted | Rejected

_SUFFIXES: list[tuple[str, Format]] = [
    (".jsonl", "jsonl"),
    (".json", "jsonl"),
    (".ndjson", "jsonl"),
    (".parquet", "parquet"),
    (".warc", "warc"),
    (".arc", "warc"),
]
_COMPRESSION = (".gz", ".zst", ".zstd")


def detect_format(name: str) -> Format | None:
    lower = name.lower()
    for comp in _COMPRESSION:
        if lower.endswith(comp):
            lower = lower[: -len(comp)]
            break
    for suffix, fmt in _SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def _open_decompressed(name: str, data: bytes) -> io.BufferedIOBase:
    lower = name.lower()
    raw = io.BytesIO(data)
    if lower.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if lower.endswith((".zst", ".zstd")):
        return io.BufferedReader(_ZstdFrames(data))
    return raw


class _ZstdFrames(io.RawIOBase):
    """Streaming zstd decompression over every frame of ``data`` that raises EOFError when the
    last frame is cut short (zstandard's own stream reader just stops there, silently)."""

    def __init__(self, data: bytes, chunk: int = 1 << 20):
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()
        self._data = memoryview(data)
        self._pos = 0
        self._chunk = chunk
        self._obj = None
        self._pending = b""
        self._carry = b""

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            if self._obj is not None and self._obj.eof:
                # the frame ended inside the last piece: its remainder starts the next frame
                self._carry = bytes(self._obj.unused_data)
                self._obj = None
            if self._carry:
                piece, self._carry = self._carry, b""
            elif self._pos < len(self._data):
                piece = self._data[self._pos : self._pos + self._chunk]
                self._pos += len(piece)
            else:
                if self._obj is not None:
                    raise EOFError("zstd stream ends in the middle of a frame (truncated file)")
                return False
            if self._obj is None:
                self._obj = self._dctx.decompressobj()
            self._pending = self._obj.decompress(piece)
        return True

    def readinto(self, buffer) -> int:
        if not self._fill():
            return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _corrupt(index: int, exc: BaseException, payload: bytes = b"") -> Rejected:
    return Rejected(index, "corrupt_file", f"{type(exc).__name__}: {exc}", payload)


def read_jsonl(relpath: str, data: bytes, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    stream = _open_decompressed(relpath, data)
    index = 0
    pending_blank: list[int] = []
    try:
        for raw in stream:
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                # blank lines are only records if something follows them (a trailing newline is not)
                pending_blank.append(index)
                index += 1
                continue
            for blank in pending_blank:
                yield Rejected(blank, "empty_text", "blank line", b"")
            pending_blank.clear()
            yield _jsonl_record(line, relpath, index, src, cfg)
            index += 1
    except (OSError, EOFError, ValueError) as exc:  # gzip/zstd errors, truncated streams
        yield _corrupt(index, exc)


def _jsonl_record(line: bytes, relpath: str, index: int, src: SourceConfig, cfg: IngestConfig) -> Record:
    try:
        obj = orjson.loads(line)  # validates the UTF-8 itself: no separate decode
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Rejected(index, "invalid_utf8", str(bad), line)
        reason = "invalid_utf8" if "surrogate" in str(exc) else "invalid_json"
        return Rejected(index, reason, str(exc), line)
    try:
        return map_record(obj, src.fields, f"{relpath}:{index}", index, cfg.max_text_bytes, cfg.binary_max_ratio)
    except RecordError as exc:
        return Rejected(index, exc.reason, exc.detail, line)


def read_parquet(relpath: str, data: bytes, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    import pyarrow.parquet as pq

    index = 0
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        for batch in pf.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                try:
                    yield map_record(
                        row, src.fields, f"{relpath}:{index}", index, cfg.max_text_bytes, cfg.binary_max_ratio
                    )
                except RecordError as exc:
                    yield Rejected(index, exc.reason, exc.detail, orjson.dumps(row, default=str))
                index += 1
    except Exception as exc:  # noqa: BLE001 - any pyarrow failure means the file is unreadable
        yield _corrupt(index, exc)


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


def read_warc(relpath: str, data: bytes, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    """WARC/ARC response and resource records; HTML goes through Resiliparse's main-content
    extractor. Request, metadata, revisit and warcinfo records carry no document and are not
    counted as records."""
    from resiliparse.extract.html2text import extract_plain_text
    from warcio.archiveiterator import ArchiveIterator

    index = 0
    try:
        for rec in ArchiveIterator(io.BytesIO(data), arc2warc=True):
            if rec.rec_type not in ("response", "resource"):
                continue
            headers = rec.rec_headers
            url = headers.get_header("WARC-Target-URI")
            rid = headers.get_header("WARC-Record-ID") or f"{relpath}:{index}"
            if rec.http_headers is not None:
                ctype = rec.http_headers.get_header("Content-Type") or ""
                status = rec.http_headers.get_statuscode()
            else:
                ctype = headers.get_header("Content-Type") or ""
                status = None
            payload = rec.content_stream().read()
            if getattr(rec.raw_stream, "limit", 0) > 0:
                # warcio stops quietly where a record is cut short: the file is damaged from here
                yield Rejected(index, "corrupt_file", f"record {rid} is cut short ({url})", payload[:256])
                return
            mime = ctype.split(";", 1)[0].strip().lower()
            try:
                if mime in _HTML_TYPES or (
                    not mime and payload.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))
                ):
                    html = _decode(payload, ctype)
                    text = extract_plain_text(html, main_content=True, alt_texts=False)
                elif mime.startswith("text/"):
                    text = _decode(payload, ctype)
                else:
                    raise RecordError("unsupported_content_type", f"Content-Type {ctype or 'missing'!r}")
                check_text(text, cfg.max_text_bytes, cfg.binary_max_ratio)
            except RecordError as exc:
                yield Rejected(index, exc.reason, f"{exc.detail} ({url})", payload)
            else:
                meta = {"warc_date": headers.get_header("WARC-Date") or "", "content_type": ctype}
                if status:
                    meta["http_status"] = str(status)
                yield Accepted(index, "id:" + rid, text, url, meta)
            index += 1
    except Exception as exc:  # noqa: BLE001 - warcio raises many types on damaged archives
        yield _corrupt(index, exc)


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "warc": read_warc}


def read_file(relpath: str, data: bytes, src: SourceConfig, cfg: IngestConfig) -> Iterator[Record]:
    fmt = src.format if src.format != "auto" else detect_format(relpath)
    if fmt is None:
        yield Rejected(
            0, "unknown_format", f"cannot tell the format of {relpath!r}; set the source's format", data[:256]
        )
        return
    yield from READERS[fmt](relpath, data, src, cfg)
