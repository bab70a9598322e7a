"""Benchmark examples from benchmark files: the records of each file, the example records inside
them (a JSON document's ``records`` path), each example's text and id by the configured layouts
(dotted field paths), and ids checked to be unique."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from spark_jobs.decontaminate.benchmarks.config import BenchmarkConfig
from spark_jobs.decontaminate.benchmarks.files import BenchmarkError, detect_format, list_files, read_records
from spark_jobs.decontaminate.benchmarks.layouts import Fields


class Example(NamedTuple):
    benchmark: str
    split: str
    example_id: str
    text: str


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
    for file in list_files(cfg):
        fmt = cfg.format if cfg.format != "auto" else detect_format(file.relpath)
        position = 0
        for where, doc in read_records(file, fmt, cfg):  # type: ignore[arg-type]
            recs = _records(doc, records_path, where)
            for i, record in enumerate(recs):
                at = where if len(recs) == 1 and records_path is None else f"{where}, record {i}"
                ident, text = _extract(record, layouts, at)
                example_id = ident if ident is not None else f"{file.relpath}#{position}"
                if example_id in seen:
                    raise BenchmarkError(
                        f"{at}: example id {example_id!r} repeats (first at {seen[example_id]}); "
                        "give fields.id a unique field, or none to use <file>#<position>"
                    )
                seen[example_id] = at
                position += 1
                yield Example(cfg.name, cfg.split, example_id, text)
