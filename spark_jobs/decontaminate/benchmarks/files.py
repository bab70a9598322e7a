"""Benchmark files: listing (a file, a folder, a glob; local or through pyarrow's file systems) and
reading records from JSONL, JSON, CSV/TSV (each may be gzipped) and Parquet, with errors naming the
file and line. Temporary: this moves to ``core.formats``, the one module that reads record files."""

from __future__ import annotations

import abc
import csv
import fnmatch
import glob
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from core import storage
from spark_jobs.decontaminate.benchmarks.config import BenchmarkConfig

SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read as configured; the message names the file and line."""


def detect_format(name: str) -> str | None:
    """Format from the file name (``.gz`` stripped for the text formats), or None."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    fmt = SUFFIXES.get(os.path.splitext(lower)[1])
    if gz and fmt == "parquet":
        return None
    return fmt


class BenchmarkFile(abc.ABC):
    """One file of a benchmark (LocalFile or RemoteFile). ``str()`` names it in messages (its path, or its URI
    when remote); ``name`` is its base name, which tells the format."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The file's base name."""

    @abc.abstractmethod
    def open_binary(self) -> BinaryIO:
        """The file's bytes, gunzipped when the name ends in ``.gz``."""

    @abc.abstractmethod
    def parquet_source(self) -> Any:
        """What ``pyarrow.parquet.ParquetFile`` reads: a path or a file-like object."""


@dataclass(frozen=True)
class LocalFile(BenchmarkFile):
    path: Path

    def __str__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def open_binary(self) -> BinaryIO:
        if self.name.lower().endswith(".gz"):
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return open(self.path, "rb")

    def parquet_source(self) -> Any:
        return self.path


@dataclass(frozen=True)
class RemoteFile(BenchmarkFile):
    """A file on a pyarrow file system, read whole into memory (test sets are small)."""

    filesystem: Any  # pyarrow.fs.FileSystem
    path: str  # the file system's own path (``bucket/key`` for S3)
    uri: str  # as the user wrote it, for messages

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def _read(self) -> bytes:
        # compression=None: pyarrow would otherwise gunzip by suffix itself; gzip errors are ours to report
        with self.filesystem.open_input_stream(self.path, compression=None) as f:
            return f.read()

    def open_binary(self) -> BinaryIO:
        data = io.BytesIO(self._read())
        if self.name.lower().endswith(".gz"):
            return gzip.GzipFile(fileobj=data, mode="rb")  # type: ignore[return-value]
        return data

    def parquet_source(self) -> Any:
        return io.BytesIO(self._read())


# a URI's scheme; two letters at least, so that a Windows drive (C:/...) stays a local path
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):/")
# Hadoop's names for S3, as Spark users write them
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}


def list_files(cfg: BenchmarkConfig) -> list[tuple[BenchmarkFile, str]]:
    """(file, name relative to the benchmark's root), sorted. A folder yields its files with a known
    suffix (hidden ones skipped); a single file or a glob yields what it names. A path with a URI
    scheme is resolved by pyarrow (``file://`` too); ``dbfs:/`` is the local ``/dbfs`` mount."""
    match = _URI.match(cfg.path)
    if match is None:
        return _list_local(cfg, cfg.path)
    scheme = match.group(1).lower()
    if scheme == "dbfs":
        return _list_local(cfg, "/dbfs/" + cfg.path[len("dbfs:") :].lstrip("/"))
    return _list_remote(cfg, scheme)


def _list_local(cfg: BenchmarkConfig, raw: str) -> list[tuple[BenchmarkFile, str]]:
    path = Path(raw).expanduser()
    if glob.has_magic(raw):
        fixed = []
        for part in path.parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        root = Path(*fixed) if fixed else Path(".")
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    elif path.is_dir():
        root = path
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and detect_format(p.name)
        )
    elif path.is_file():
        root, files = path.parent, [path]
    else:
        raise BenchmarkError(f"benchmark {cfg.name!r}: {cfg.path} does not exist")
    if not files:
        raise BenchmarkError(f"benchmark {cfg.name!r}: no benchmark files under {cfg.path}")
    return [(LocalFile(f), f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name) for f in files]


def _from_uri(uri: str) -> tuple[Any, str]:
    """(pyarrow file system, its path) for a URI; a seam for the tests."""
    from pyarrow import fs

    return fs.FileSystem.from_uri(uri)


def _reason(e: BaseException) -> str:
    """pyarrow's message, first line only (libhdfs lists every JVM path it tried)."""
    lines = str(e).strip().splitlines()
    if not lines:
        return type(e).__name__
    return lines[0] + (" (…)" if len(lines) > 1 else "")


def _list_remote(cfg: BenchmarkConfig, scheme: str) -> list[tuple[BenchmarkFile, str]]:
    import pyarrow as pa
    from pyarrow import fs

    errors = (OSError, ValueError, pa.ArrowException)
    uri, options = storage.split_options(cfg.path)  # pyarrow's ?options, not a glob's '?'
    rest = uri[len(scheme) + 1 :]  # after "scheme:"
    parts = rest.split("/")
    magic = next((i for i, part in enumerate(parts) if glob.has_magic(part)), None)
    root_uri = uri if magic is None else uri[: len(scheme) + 1] + "/".join(parts[:magic])
    pyarrow_uri = _SCHEME_ALIASES.get(scheme, scheme) + root_uri[len(scheme) :] + options
    try:
        filesystem, base = _from_uri(pyarrow_uri)
    except errors as e:
        raise BenchmarkError(f"benchmark {cfg.name!r}: cannot open {cfg.path}: {_reason(e)}") from e
    trimmed = base.rstrip("/")
    prefix = trimmed + "/" if trimmed or base.startswith("/") else ""
    display = root_uri if root_uri.endswith("/") else root_uri + "/"

    def relative(path: str) -> str:
        # some libhdfs builds put the authority (":8020/...") before the path: find the root inside it
        if path.startswith(prefix):
            return path[len(prefix) :]
        at = path.find(prefix) if trimmed else -1
        return path[at + len(prefix) :] if at >= 0 else path.rsplit("/", 1)[-1]

    def files_under(allow_not_found: bool) -> list[str]:
        """Paths relative to the root of every file below it."""
        selector = fs.FileSelector(base, recursive=True, allow_not_found=allow_not_found)
        return [relative(info.path) for info in filesystem.get_file_info(selector) if info.type == fs.FileType.File]

    try:
        if magic is not None:
            pattern = [unquote(part) for part in parts[magic:]]
            found = [rel for rel in files_under(True) if _glob_match(pattern, rel.split("/"))]
        else:
            kind = filesystem.get_file_info(base).type
            found = [] if kind != fs.FileType.Directory else files_under(False)
    except errors as e:
        raise BenchmarkError(f"benchmark {cfg.name!r}: cannot list {cfg.path}: {_reason(e)}") from e
    if magic is None:
        if kind == fs.FileType.File:
            return [(RemoteFile(filesystem, base, uri), trimmed.rsplit("/", 1)[-1])]
        if kind != fs.FileType.Directory:
            raise BenchmarkError(f"benchmark {cfg.name!r}: {cfg.path} does not exist")
        found = [rel for rel in found if not any(p.startswith(".") for p in rel.split("/")) and detect_format(rel)]
    if not found:
        raise BenchmarkError(f"benchmark {cfg.name!r}: no benchmark files under {cfg.path}")
    found.sort(key=lambda rel: rel.split("/"))
    return [(RemoteFile(filesystem, prefix + rel, display + rel), rel) for rel in found]


def _glob_match(pattern: list[str], parts: list[str]) -> bool:
    """Whether a relative path (its parts) matches a glob (its parts) as ``glob.glob(recursive=True)``
    would: ``**`` spans any number of folders, and a wildcard matches no hidden name."""
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        if _glob_match(pattern[1:], parts):
            return True
        return bool(parts) and not parts[0].startswith(".") and _glob_match(pattern, parts[1:])
    if not parts or (parts[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(parts[0], head) and _glob_match(pattern[1:], parts[1:])


_READ_ERRORS = (OSError, EOFError, zlib.error)


def _lines(f: BinaryIO, path: BenchmarkFile) -> Iterator[str]:
    """Decoded lines (UTF-8, a leading BOM dropped), decoded one by one so that an error names its line."""
    for line_no, raw in enumerate(f, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BenchmarkError(f"{path}:{line_no}: not UTF-8: {e.reason} at byte {e.start}") from e
        yield line.removeprefix("\ufeff") if line_no == 1 else line


def _read_jsonl(path: BenchmarkFile) -> Iterator[tuple[str, Any]]:
    line_no = 0
    try:
        with path.open_binary() as f:
            for line_no, line in enumerate(_lines(f, path), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BenchmarkError(f"{path}:{line_no}: bad JSON line: {e.msg} (column {e.colno})") from e
                yield f"{path}:{line_no}", obj
    except _READ_ERRORS as e:
        raise BenchmarkError(f"{path}: unreadable after line {line_no}: {e}") from e


def _read_json(path: BenchmarkFile) -> Iterator[tuple[str, Any]]:
    try:
        with path.open_binary() as f:
            text = "".join(_lines(f, path))
    except _READ_ERRORS as e:
        raise BenchmarkError(f"{path}: unreadable: {e}") from e
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{path}:{e.lineno}: bad JSON: {e.msg} (column {e.colno})") from e
    yield str(path), obj


def _read_csv(path: BenchmarkFile, cfg: BenchmarkConfig, delimiter: str) -> Iterator[tuple[str, Any]]:
    columns = cfg.columns()
    # a first row that names every column of some layout is a header
    layout_columns = [{p.split(".")[0] for p in layout.text} for layout in cfg.layouts()]
    line_no = 0
    try:
        with path.open_binary() as f:
            reader = csv.reader(_lines(f, path), delimiter=delimiter)
            header: list[str] | None = None
            for row in reader:
                line_no = reader.line_num
                if header is None:
                    use_header = cfg.csv_header
                    if use_header is None:
                        names = {c.strip() for c in row}
                        use_header = columns is None or any(cols <= names for cols in layout_columns)
                    if use_header:
                        header = [c.strip() for c in row]
                        continue
                    header = list(columns or [])
                if not row or row == [""]:
                    continue
                if len(row) > len(header):
                    raise BenchmarkError(
                        f"{path}:{line_no}: {len(row)} columns, the header has {len(header)} ({', '.join(header)})"
                    )
                yield f"{path}:{line_no}", dict(zip(header, row, strict=False))
    except csv.Error as e:
        raise BenchmarkError(f"{path}:{line_no + 1}: bad CSV: {e}") from e
    except _READ_ERRORS as e:
        raise BenchmarkError(f"{path}: unreadable after line {line_no}: {e}") from e


def _read_parquet(path: BenchmarkFile) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path.parquet_source())
        row = 0
        for batch in pf.iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                yield f"{path}, row {row}", record
                row += 1
    except (OSError, ValueError) as e:
        raise BenchmarkError(f"{path}: unreadable Parquet: {e}") from e


def documents(path: BenchmarkFile, fmt: str, cfg: BenchmarkConfig) -> Iterator[tuple[str, Any]]:
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "json":
        return _read_json(path)
    if fmt in ("csv", "tsv"):
        return _read_csv(path, cfg, "," if fmt == "csv" else "\t")
    return _read_parquet(path)
