"""Helpers for the benchmark tests: tiny benchmark files in their published formats, and loading
them through :func:`load_examples` as a config names them."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, BenchmarkError, Example, load_examples


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def load(path: Path, preset: str | None = None, **kw) -> list[Example]:
    return list(load_examples(BenchmarkConfig(name="b", path=str(path), preset=preset, **kw)))


def texts(examples):
    return [(e.example_id, e.text) for e in examples]


def load_error(path: Path, preset: str | None = "gsm8k", **kw) -> str:
    with pytest.raises(BenchmarkError) as e:
        load(path, preset, **kw)
    return str(e.value)
