"""A benchmark's files and their records, through :mod:`core.formats` (the one module that lists and reads
record files): which files a benchmark's path names, how messages name them, and their records with every
problem a reader reports turned into a :class:`BenchmarkError` naming the file and the line or row.

Locations in messages: ``<file>:<line>`` for JSON lines (and a JSON document's syntax error), ``<file>, row
<n>`` for CSV/TSV and Parquet (0-based data rows, as the ``<file>#<n>`` ids count), ``<file>`` for a JSON
document. A local file (``file://`` and ``dbfs:/`` too) is named by its path, a remote one by its URI without
keys or pyarrow's options.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core import formats, storage
from core.formats import Item, Problem
from spark_jobs.decontaminate.benchmarks.config import BenchmarkConfig

log = logging.getLogger("moru.decontaminate")

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")
SUFFIXES = ".jsonl, .ndjson, .json, .csv, .tsv, .parquet (compressed: .gz, .zst, .bz2, .xz, but for parquet)"

_MAGIC = re.compile(r"[*?\[]")
# the position json (and orjson) put at the end of a syntax error
_JSON_POSITION = re.compile(r"line (\d+) column (\d+)")


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read as configured; the message names the file and line."""


def detect_format(name: str) -> str | None:
    """The benchmark format a file name tells (:func:`core.formats.detect_format`, compression set aside), or
    None for a name that tells none or a format no benchmark is published in (WARC, plain text)."""
    fmt = formats.detect_format(name)
    return fmt if fmt in FORMATS else None


@dataclass(frozen=True)
class BenchmarkFile:
    """One file of a benchmark: ``name`` names it in messages, ``relpath`` is its path relative to the
    benchmark's root (the ``<file>`` of ``<file>#<n>`` ids), ``path`` opens it (locally, or in ``filesystem``)."""

    name: str
    relpath: str
    path: str
    filesystem: Any = None  # pyarrow.fs.FileSystem of a remote file

    def __str__(self) -> str:
        return self.name

    @contextmanager
    def open(self) -> Iterator[Any]:
        """The file's bytes for a reader: a local file opened for reading, or a remote file read whole (test sets
        are small; the readers decompress, not pyarrow)."""
        if self.filesystem is None:
            with open(self.path, "rb") as f:
                yield f
            return
        with self.filesystem.open_input_stream(self.path, compression=None) as f:
            yield f.read()


def _reason(e: BaseException) -> str:
    """pyarrow's message, first line only (libhdfs lists every JVM path it tried)."""
    lines = str(e).strip().splitlines()
    if not lines:
        return type(e).__name__
    return lines[0] + (" (…)" if len(lines) > 1 else "")


def _public(path: str) -> str:
    """A URI as messages show it: without pyarrow's ``?options`` and without ``KEY:SECRET@`` keys."""
    bare, _ = storage.split_options(path)
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@:]*:[^/@]*@", r"\1", bare)


def list_files(cfg: BenchmarkConfig) -> list[BenchmarkFile]:
    """The benchmark's files in name order. A folder (read recursively) yields its files of a benchmark format;
    a glob or a single file what it names. Hidden names (``.x``, ``_x``) and empty files are left out, as
    :func:`core.formats.list_files` does, and logged; so are files of no benchmark format unless ``format`` is
    set. Raises :class:`BenchmarkError` for a missing path, an unknown scheme, an unreachable store, or no file."""
    import pyarrow as pa

    errors = (OSError, ValueError, pa.ArrowException)
    shown = _public(cfg.path)
    try:
        listing = formats.list_files(cfg.path)
    except FileNotFoundError as e:
        if _MAGIC.search(storage.split_options(cfg.path)[0]):
            raise BenchmarkError(f"benchmark {cfg.name!r}: no benchmark files under {shown}: {e}") from e
        raise BenchmarkError(f"benchmark {cfg.name!r}: {shown} does not exist") from e
    except errors as e:
        raise BenchmarkError(f"benchmark {cfg.name!r}: cannot open {shown}: {_reason(e)}") from e
    filesystem, inner = None, ""
    if listing.remote:
        filesystem, inner = formats.filesystem_for(cfg.path)
        uri = shown.rstrip("/")
        parts = uri.split("/")
        magic = next((i for i, part in enumerate(parts) if i > 2 and _MAGIC.search(part)), None)
        root = uri if magic is None else "/".join(parts[:magic])
    files: list[BenchmarkFile] = []
    unknown: list[str] = []
    for f in listing.files:
        if cfg.format == "auto" and detect_format(f.relpath) is None:
            unknown.append(f.relpath)
            continue
        if filesystem is None:
            name = f.path
        else:
            name = uri if f.path == inner else f"{root}/{f.relpath}"  # the path itself names a file, or below it
        files.append(BenchmarkFile(name, f.relpath, f.path, filesystem))
    skipped = [f"{s.relpath} ({s.reason})" for s in listing.skipped] + [f"{rel} (unknown format)" for rel in unknown]
    if not files:
        why = f"; not read: {', '.join(skipped[:10])}" if skipped else ""
        hint = f" (suffixes: {SUFFIXES}; or set format)" if unknown else ""
        raise BenchmarkError(f"benchmark {cfg.name!r}: no benchmark files under {shown}{why}{hint}")
    if skipped:
        log.info("benchmark %s: %d file(s) not read: %s", cfg.name, len(skipped), ", ".join(skipped[:20]))
    return files


# ---------------------------------------------------------------------------- records


def read_records(file: BenchmarkFile, fmt: str, cfg: BenchmarkConfig) -> Iterator[tuple[str, Any]]:
    """(location, record) of every record of the file in order: a JSON line's value, a JSON document, a CSV row
    or a Parquet row as a dict. The first problem a reader reports stops reading with a BenchmarkError."""
    if fmt in ("csv", "tsv"):
        yield from _csv_records(file, cfg, "," if fmt == "csv" else "\t")
        return
    with file.open() as source:
        if fmt == "parquet":
            items = formats.iter_parquet(source)
        elif fmt == "json":
            items = formats.iter_json(source, formats.detect_compression(file.relpath))
        else:
            items = formats.iter_jsonl(source, formats.detect_compression(file.relpath))
        if fmt == "json":
            yield from _json_records(file, items)
            return
        for item in items:
            if isinstance(item, Problem):
                if item.kind == "blank_line":
                    continue
                raise BenchmarkError(_problem(file, fmt, item))
            yield (f"{file}, row {item.index}" if fmt == "parquet" else f"{file}:{item.index + 1}"), item.value


def _json_records(file: BenchmarkFile, items: Iterator[Item]) -> Iterator[tuple[str, Any]]:
    """A JSON document (named by its file), or JSON lines in a ``.json`` file (named by file and line)."""
    values = []
    for item in items:
        if isinstance(item, Problem):
            if item.kind != "blank_line":
                raise BenchmarkError(_problem(file, "json", item))
            continue
        values.append(item)
    if len(values) == 1 and values[0].index == 0:
        yield str(file), values[0].value
        return
    for item in values:
        yield f"{file}:{item.index + 1}", item.value


def _problem(file: BenchmarkFile, fmt: str, p: Problem) -> str:
    """A reader's problem as a message naming the file and the line or row."""
    if p.kind == "corrupt_file":
        if fmt == "parquet":
            return f"{file}: unreadable Parquet: {p.detail}"
        unit = "row" if fmt in ("csv", "tsv") else "line"
        return f"{file}: unreadable after {unit} {p.index}: {p.detail}"
    if fmt in ("csv", "tsv", "parquet"):
        where = f"{file}, row {p.index}"
    elif fmt == "json" and p.index == 0 and p.kind == "invalid_json" and (m := _JSON_POSITION.search(p.detail)):
        where = f"{file}:{m.group(1)}"  # a document: the line of the syntax error
    else:
        where = f"{file}:{p.index + 1}"
    if p.kind == "invalid_utf8":
        return f"{where}: not UTF-8: {p.detail}"
    if p.kind == "invalid_json":
        return f"{where}: bad JSON{' line' if fmt == 'jsonl' else ''}: {p.detail}"
    if p.kind == "corrupt_record":
        return f"{where}: bad CSV row: {p.detail}"
    return f"{where}: {p.kind}: {p.detail}"


def _csv_records(file: BenchmarkFile, cfg: BenchmarkConfig, delimiter: str) -> Iterator[tuple[str, Any]]:
    """CSV/TSV rows as dicts. Whether the first row is a header: ``csv_header`` when set; otherwise a header
    unless column names are known (``csv_columns`` or the preset's) and the first row names no layout's fields
    (MMLU is published without a header)."""
    compression = formats.detect_compression(file.relpath)
    columns = cfg.columns()
    header = cfg.csv_header
    if header is None:
        header = True
        if columns is not None:
            layout_columns = [{p.split(".")[0] for p in layout.text} for layout in cfg.layouts()]
            with file.open() as source:
                first = next(formats.iter_csv(source, compression, delimiter=delimiter, header=False), None)
            if isinstance(first, formats.Raw):
                names = {str(v).strip() for v in first.value.values()}
                header = any(cols <= names for cols in layout_columns)
    with file.open() as source:
        items = formats.iter_csv(
            source, compression, delimiter=delimiter, header=header, columns=None if header else columns
        )
        for item in items:
            if isinstance(item, Problem):
                raise BenchmarkError(_problem(file, "csv", item))
            row = {k.strip(): v for k, v in item.value.items()} if header else item.value
            yield f"{file}, row {item.index}", row
