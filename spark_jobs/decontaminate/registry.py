"""Benchmark registry: which test sets to decontaminate against, and how to read their examples.

Each benchmark is a file, folder (read recursively) or glob in one of the formats its authors
publish (JSONL, JSON, CSV, TSV, Parquet; JSONL, JSON, CSV and TSV may be gzipped). An example's
text is the concatenation, with ``"\\n"``, of the fields that hold benchmark content (question,
passage, choices, reference solution, tests); labels such as answer letters or indices are left
out, since a copy of the example rarely writes them the same way.

A plain path is local (``dbfs:/`` is the ``/dbfs`` mount, as elsewhere in moru). A URI goes through
pyarrow's file systems (``pyarrow.fs.FileSystem.from_uri``): ``file://``, ``s3://`` (also written
``s3a://`` or ``s3n://``; an S3-compatible store through ``?endpoint_override=host:port``),
``gs://`` / ``gcs://``, ``abfs://`` / ``abfss://`` (``container@account.dfs.core.windows.net``),
and ``hdfs://`` / ``viewfs://`` (these need libhdfs and a JVM: ``JAVA_HOME``, ``HADOOP_HOME``,
``CLASSPATH``). Credentials come from where those clients usually look: the environment
(``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_*``), their config files, or the cluster's
instance profile / service account / managed identity; moru takes none of its own. A remote folder
is listed recursively; a glob in a URI (``*``, ``?``, ``[…]``, ``**`` across folders) is matched
against the listing under its fixed prefix. Test sets are small: a remote file is read whole into
memory and parsed as a local one is, and messages name it by its URI.

A benchmark names either a ready-made ``preset`` for a known layout or explicit ``fields``:

- ``text``: dotted paths whose values are concatenated; a list value (choices, turns, tests) is
  joined too. A path step that meets a list applies the rest of the path to every element
  (``turns.content`` on ``{"turns": [{"content": …}, …]}``); a numeric step indexes it.
- ``id``: dotted path of the example id; without one the id is ``<file>#<n>``, the file's path
  relative to the benchmark's root and the example's 0-based position in it.
- ``records``: for JSON documents whose examples sit under a key (BBH's ``examples``; SQuAD's
  ``data.paragraphs``, a list of lists, is flattened). Without it a JSON file holding a list is a
  list of examples, and one holding an object is one example (the original MATH layout).

Unreadable or malformed input raises :class:`BenchmarkError` naming the file and the line (JSONL,
CSV, TSV, JSON syntax), record (JSON) or row (Parquet); so does a path that is missing or whose
scheme pyarrow does not know, with pyarrow's reason. Nothing is downloaded beyond the named files.

Layouts of the presets, as published: GSM8K (openai/grade-school-math), MATH (hendrycks/math,
and mosaicml/llm-foundry's ``context``/``answer``/``chain_of_thought`` copy), HumanEval
(openai/human-eval), MBPP (google-research/mbpp), MMLU (hendrycks/test CSVs without header, and
the re-headered ``question,choice0-3,answer`` copies), KMMLU (HAERAE-HUB/KMMLU), ARC (allenai ARC
JSONL with ``question.stem``, and the Hugging Face layout with ``choices.text``), GPQA
(idavidrein/gpqa CSV), BIG-Bench-Hard (suzgunmirac/BIG-Bench-Hard), IFEval
(google-research/instruction_following_eval), MT-Bench / KoMT-Bench (lm-sys/FastChat,
LG-AI-EXAONE/KoMT-Bench), LogicKor (instructkr/LogicKor), AlpacaEval (tatsu-lab/alpaca_eval),
Arena-Hard (lmarena/arena-hard-auto v0.1 ``turns``, v2 ``prompt``), and also SQuAD / KorQuAD,
CLIcK and HAE-RAE Bench.
"""

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
from typing import Any, BinaryIO, Literal, NamedTuple
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import storage
from core.paths import ConfigPath

Format = Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"]

_SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


class BenchmarkError(ValueError):
    """A benchmark file that cannot be read as configured; the message names the file and line."""


class Example(NamedTuple):
    benchmark: str
    split: str
    example_id: str
    text: str


class Fields(BaseModel):
    """Where an example's id and text are in a record (dotted paths)."""

    model_config = ConfigDict(extra="forbid")

    text: list[str] = Field(min_length=1, description="paths whose values are joined with newlines")
    id: str | None = Field(default=None, description="example id; default: <file>#<position>")
    records: str | None = Field(default=None, description="path of the list of examples inside a JSON document")

    @field_validator("text", mode="before")
    @classmethod
    def _one_path_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("text")
    @classmethod
    def _paths_are_not_empty(cls, v: list[str]) -> list[str]:
        for path in v:
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"bad field path {path!r}: use names joined by '.'")
        return v


@dataclass(frozen=True)
class Preset:
    """A known benchmark layout: alternative field mappings, tried in order on each record (the
    first whose paths are all present wins), and column names for CSV files without a header."""

    name: str
    layouts: tuple[Fields, ...]
    csv_columns: tuple[str, ...] | None = None


def _layout(*text: str, id: str | None = None, records: str | None = None) -> Fields:
    return Fields(text=list(text), id=id, records=records)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("gsm8k", (_layout("question", "answer"),)),
        Preset(
            "math",
            (_layout("problem", "solution"), _layout("context", "chain_of_thought", "answer")),
        ),
        Preset("humaneval", (_layout("prompt", "canonical_solution", "test", id="task_id"),)),
        Preset("mbpp", (_layout("text", "code", "test_list", id="task_id"),)),
        Preset(
            "mmlu",
            (
                _layout("question", "choice0", "choice1", "choice2", "choice3"),
                _layout("question", "A", "B", "C", "D"),
            ),
            csv_columns=("question", "A", "B", "C", "D", "answer"),
        ),
        Preset("kmmlu", (_layout("question", "A", "B", "C", "D"),)),
        Preset(
            "arc",
            (
                _layout("question.stem", "question.choices.text", id="id"),  # allenai ARC JSONL
                _layout("question", "choices.text", id="id"),  # Hugging Face: {text: [...]} or [{text}]
            ),
        ),
        Preset(
            "gpqa",
            (
                _layout(
                    "Question",
                    "Correct Answer",
                    "Incorrect Answer 1",
                    "Incorrect Answer 2",
                    "Incorrect Answer 3",
                    id="Record ID",
                ),
                _layout("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
            ),
        ),
        Preset("bbh", (_layout("input", "target", records="examples"),)),
        Preset("ifeval", (_layout("prompt", id="key"),)),
        Preset("mt_bench", (_layout("turns", id="question_id"),)),
        Preset("logickor", (_layout("questions", id="id"), _layout("turns", id="id"))),
        Preset("alpaca_eval", (_layout("instruction"),)),
        Preset(
            "arena_hard",
            (_layout("turns.content", id="question_id"), _layout("prompt", id="uid"), _layout("prompt")),
        ),
        Preset("squad", (_layout("context", "qas.question", records="data.paragraphs"),)),
        Preset("click", (_layout("paragraph", "question", "choices"),)),  # its ids repeat across files
        Preset("haerae", (_layout("question", "a", "b", "c", "d", "e"),)),
    )
}
PRESETS["komt_bench"] = PRESETS["mt_bench"]
PRESETS["korquad"] = PRESETS["squad"]


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short benchmark name; part of every contamination row")
    path: ConfigPath = Field(
        description="a file, a folder (read recursively) or a glob: a local path, or a URI that pyarrow reads "
        "(file://, s3://, gs://, abfs(s)://, hdfs://)"
    )
    format: Format = Field(default="auto", description="auto: by file suffix (.gz allowed but for parquet)")
    split: str = "test"
    preset: str | None = Field(default=None, description=f"one of: {', '.join(sorted(PRESETS))}")
    fields: Fields | None = None
    csv_columns: list[str] | None = Field(
        default=None,
        description="column names of CSV/TSV files without a header row (a preset may bring its own)",
    )
    csv_header: bool | None = Field(
        default=None,
        description="whether CSV/TSV files start with a header; default: a header unless csv_columns are known "
        "and the first row lacks the field names",
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError("benchmark names use letters, digits, '_', '-' and '.' only")
        return v

    @field_validator("preset")
    @classmethod
    def _preset_is_known(cls, v: str | None) -> str | None:
        if v is not None and v not in PRESETS:
            raise ValueError(f"unknown preset {v!r}; known: {', '.join(sorted(PRESETS))}")
        return v

    @model_validator(mode="after")
    def _preset_or_fields(self) -> BenchmarkConfig:
        if (self.preset is None) == (self.fields is None):
            raise ValueError(f"benchmark {self.name!r}: give either a preset or fields, not both or neither")
        if self.csv_header is False and not self.columns():
            raise ValueError(f"benchmark {self.name!r}: csv_header is false, so csv_columns must name the columns")
        return self

    def layouts(self) -> tuple[Fields, ...]:
        return PRESETS[self.preset].layouts if self.preset else (self.fields,)  # type: ignore[return-value]

    def columns(self) -> list[str] | None:
        if self.csv_columns is not None:
            return list(self.csv_columns)
        preset = PRESETS[self.preset] if self.preset else None
        return list(preset.csv_columns) if preset and preset.csv_columns else None


# ---------------------------------------------------------------------------- files


def detect_format(name: str) -> str | None:
    """Format from the file name (``.gz`` stripped for the text formats), or None."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    fmt = _SUFFIXES.get(os.path.splitext(lower)[1])
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


def _documents(path: BenchmarkFile, fmt: str, cfg: BenchmarkConfig) -> Iterator[tuple[str, Any]]:
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "json":
        return _read_json(path)
    if fmt in ("csv", "tsv"):
        return _read_csv(path, cfg, "," if fmt == "csv" else "\t")
    return _read_parquet(path)


# ---------------------------------------------------------------------------- records and fields

_MISSING = object()


def lookup(obj: Any, path: str) -> Any:
    """Value at a dotted path; a step that meets a list applies the rest to every element (the
    results flattened one level) unless the step is a number, which indexes the list. Returns
    ``_MISSING`` when a step is absent."""
    parts = path.split(".")
    return _lookup(obj, parts)


def _lookup(obj: Any, parts: list[str]) -> Any:
    for i, part in enumerate(parts):
        if isinstance(obj, list):
            if part.lstrip("-").isdigit():
                idx = int(part)
                if not -len(obj) <= idx < len(obj):
                    return _MISSING
                obj = obj[idx]
                continue
            out: list[Any] = []
            for element in obj:
                value = _lookup(element, parts[i:])
                if value is _MISSING:
                    return _MISSING
                out.extend(value if isinstance(value, list) else [value])
            return out
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _strings(value: Any, path: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool | int | float):
        return [str(value)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, path, where)]
    raise BenchmarkError(f"{where}: field {path!r} holds {type(value).__name__}, not text or a list of texts")


def _records(doc: Any, records: str | None, where: str) -> list[Any]:
    if records is None:
        return doc if isinstance(doc, list) else [doc]
    value = lookup(doc, records)
    if value is _MISSING:
        raise BenchmarkError(f"{where}: records path {records!r} not found")
    if not isinstance(value, list):
        raise BenchmarkError(f"{where}: records path {records!r} holds {type(value).__name__}, not a list")
    return value


def _describe(layouts: tuple[Fields, ...]) -> str:
    return " or ".join("(" + ", ".join(layout.text + ([layout.id] if layout.id else [])) + ")" for layout in layouts)


def _extract(record: Any, layouts: tuple[Fields, ...], where: str) -> tuple[str | None, str]:
    """(id or None, text) from the first layout whose paths are all present."""
    if not isinstance(record, dict):
        raise BenchmarkError(f"{where}: an example is {type(record).__name__}, not an object")
    missing: list[str] = []
    for layout in layouts:
        values = [lookup(record, p) for p in layout.text]
        ident = lookup(record, layout.id) if layout.id else None
        absent = [p for p, v in zip(layout.text, values, strict=True) if v is _MISSING]
        if layout.id and ident is _MISSING:
            absent.append(layout.id)
        if absent:
            missing.extend(absent)
            continue
        parts = [s for p, v in zip(layout.text, values, strict=True) for s in _strings(v, p, where)]
        if ident is not None:
            if isinstance(ident, dict | list):
                raise BenchmarkError(f"{where}: id field {layout.id!r} holds {type(ident).__name__}, not a value")
            ident = str(ident)
        return ident, "\n".join(p for p in parts if p)
    keys = ", ".join(map(str, list(record)[:20]))
    wanted = f"fields {', '.join(dict.fromkeys(missing))} missing" if len(layouts) == 1 else "no layout matches"
    raise BenchmarkError(f"{where}: {wanted}; expected {_describe(layouts)}, the record has: {keys}")


def load_examples(cfg: BenchmarkConfig) -> Iterator[Example]:
    """Every example of the benchmark, file by file in name order, in file order within each.

    Raises :class:`BenchmarkError` on unreadable or malformed input, on an example without the
    configured fields, and on a repeated example id (the id must identify the example)."""
    layouts = cfg.layouts()
    records_paths = {layout.records for layout in layouts}
    if len(records_paths) > 1:
        raise BenchmarkError(f"benchmark {cfg.name!r}: layouts disagree on the records path")
    records_path = records_paths.pop()
    seen: dict[str, str] = {}
    for path, rel in list_files(cfg):
        fmt = cfg.format if cfg.format != "auto" else detect_format(path.name)
        if fmt is None:
            raise BenchmarkError(
                f"{path}: unknown format (suffixes: {', '.join(_SUFFIXES)}, .gz but for parquet); set format"
            )
        position = 0
        for where, doc in _documents(path, fmt, cfg):
            recs = _records(doc, records_path, where)
            for i, record in enumerate(recs):
                at = where if len(recs) == 1 and records_path is None else f"{where}, record {i}"
                ident, text = _extract(record, layouts, at)
                example_id = ident if ident is not None else f"{rel}#{position}"
                if example_id in seen:
                    raise BenchmarkError(
                        f"{at}: example id {example_id!r} repeats (first at {seen[example_id]}); "
                        "give fields.id a unique field, or none to use <file>#<position>"
                    )
                seen[example_id] = at
                position += 1
                yield Example(cfg.name, cfg.split, example_id, text)
