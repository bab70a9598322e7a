"""Functions the task YAMLs in this folder name with ``!function moru_task_utils.<name>``.

This file is copied, unchanged, next to the rendered YAMLs (eval.harness.render_tasks), so lm-eval's own CLI
(``--include_path <rendered dir>``) and ``eval.harness.evaluate`` load the same code. It imports nothing from
moru: only the standard library and ``datasets``.

``load_local`` is every task's ``custom_dataset``: it reads the benchmark's local files (JSONL, JSONL.GZ, a JSON
array or a JSON object's list ``field``, CSV, TSV) as they are. CSV/TSV cells stay strings (``datasets``' csv
builder would turn ``"1.50"`` into ``1.5``, ``"NA"`` into null and ``"True"`` into a bool), and every row must
hold the columns the task names: a missing one is an error naming the file, the row and the fix.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import os
from collections.abc import Iterable

LETTERS = "ABCDEFGHIJ"


class BenchmarkFileError(ValueError):
    """A benchmark file that is missing or does not hold what its task reads."""


def expand(pattern: str) -> list[str]:
    """The files a ``files`` entry names: one path (or that path + ``.gz``), or a glob (sorted); none is an
    error."""
    if any(c in pattern for c in "*?["):
        found = sorted(glob.glob(pattern))
        if not found:
            raise BenchmarkFileError(
                f"no file matches {pattern}: point --data-dir at the folder that holds the benchmark files "
                "(e.g. ../shared/data/bench)"
            )
        return found
    if not os.path.isfile(pattern) and os.path.isfile(pattern + ".gz"):
        return [pattern + ".gz"]  # a large file kept compressed (e.g. MMLU's professional_law_test.csv.gz)
    if not os.path.isfile(pattern):
        raise BenchmarkFileError(
            f"missing benchmark file {pattern}: point --data-dir at the folder that holds it "
            "(e.g. ../shared/data/bench), or put the file there under that name"
        )
    return [pattern]


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig", newline="")


def read_rows(path: str, fmt: str, field: str | None = None) -> list[dict]:
    """Every record of one file, as dicts (CSV/TSV cells as strings, JSON values as parsed)."""
    with _open_text(path) as f:
        if fmt == "jsonl":
            rows = []
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise BenchmarkFileError(f"{path}: line {n} is not JSON ({e.msg})") from None
            return rows
        if fmt == "json":
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise BenchmarkFileError(f"{path}: not a JSON document ({e.msg} at line {e.lineno})") from None
            if field is not None:
                if not isinstance(data, dict) or field not in data:
                    raise BenchmarkFileError(f"{path}: expected a JSON object with a '{field}' list")
                data = data[field]
            if not isinstance(data, list):
                raise BenchmarkFileError(f"{path}: expected a JSON list of records")
            return data
        if fmt in ("csv", "tsv"):
            # KoBEST's TSVs carry bare quote characters inside cells: no quoting for tab-separated files
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if fmt == "tsv" else csv.DictReader(f)
            return [dict(r) for r in reader]
    raise BenchmarkFileError(f"{path}: unknown format {fmt!r} (jsonl, json, csv or tsv)")


def check_columns(path: str, rows: Iterable[dict], columns: list[str]) -> int:
    """Every row holds every column the task reads; returns the number of rows."""
    n = 0
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise BenchmarkFileError(f"{path}: record {n} is not an object with named fields")
        missing = [c for c in columns if c not in row]
        if missing:
            raise BenchmarkFileError(
                f"{path}: record {n} has no column(s) {missing} (it has {sorted(row)}); this task reads "
                f"{columns}: use the benchmark's original file layout (data README: bench/ section)"
            )
    if n == 0:
        raise BenchmarkFileError(f"{path}: holds no records")
    return n


def load_local(files: dict, format: str, columns: list[str], field: str | None = None, **_metadata):
    """lm-eval ``custom_dataset``: one ``datasets.Dataset`` per split from the local files (``files`` maps a split
    to a path, a glob or a list of them). Extra keyword arguments are lm-eval's task metadata, unused here."""
    import datasets

    out = {}
    for split, spec in files.items():
        rows: list[dict] = []
        for pattern in [spec] if isinstance(spec, str) else list(spec):
            for path in expand(pattern):
                part = read_rows(path, format, field)
                check_columns(path, part, columns)
                rows.extend(part)
        out[split] = datasets.Dataset.from_list(rows)
    return datasets.DatasetDict(out)


# --- prompts that a Jinja line cannot say plainly -------------------------------------------------------------


def options_block(options: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))


def _true_false(value, task: str) -> int:
    """KoBEST's True/False answer cells (strings in the TSV) as the index of ['아니오', '예']."""
    text = str(value).strip()
    if text not in ("True", "False"):
        raise BenchmarkFileError(f"{task}: expected True or False as the answer, got {value!r}")
    return int(text == "True")


def bool_target_answer(doc: dict) -> int:
    return _true_false(doc["Answer"], "KoBEST BoolQ")


def bool_target_wic(doc: dict) -> int:
    return _true_false(doc["ANSWER"], "KoBEST WiC")


# KoBEST COPA: the premise, then a connective chosen by the question type (cause: "because", effect: "so")
_COPA_CONNECTIVE = {"원인": "왜냐하면", "결과": "그래서"}


def copa_text(doc: dict) -> str:
    kind = doc["question"].strip()
    if kind not in _COPA_CONNECTIVE:
        raise BenchmarkFileError(f"KoBEST COPA: question must be 원인 or 결과, got {doc['question']!r}")
    return f"{doc['sentence'].strip()} {_COPA_CONNECTIVE[kind]}"


def copa_choices(doc: dict) -> list[str]:
    return [doc["1"], doc["2"]]


def copa_target(doc: dict) -> int:
    return int(doc["Answer"]) - 1


def hellaswag_choices(doc: dict) -> list[str]:
    return [doc[f"choice{i}"] for i in range(1, 5)]


# HAE-RAE: options a-e, the last one empty in the four-option files; the answer is the option's letter


def _haerae_options(doc: dict) -> list[str]:
    return [doc[k] for k in "abcde" if doc.get(k) not in (None, "")]


def haerae_text(doc: dict) -> str:
    options = _haerae_options(doc)
    lines = [doc["question"].strip()] + [f"({LETTERS[i]}) {o}" for i, o in enumerate(options)]
    return "\n".join(lines) + "\n정답:"


def haerae_choices(doc: dict) -> list[str]:
    return [f"({LETTERS[i]})" for i in range(len(_haerae_options(doc)))]


def haerae_target(doc: dict) -> int:
    letter = doc["answer"].strip().lower()
    keys = [k for k in "abcde" if doc.get(k) not in (None, "")]
    if letter not in keys:
        raise BenchmarkFileError(f"HAE-RAE: answer {doc['answer']!r} names no non-empty option")
    return keys.index(letter)


# CLIcK: an optional passage, the question, 4 or 5 options; the answer is the option's text


def click_text(doc: dict) -> str:
    parts = []
    if (doc.get("paragraph") or "").strip():
        parts.append(f"지문: {doc['paragraph'].strip()}")
    parts.append(f"질문: {doc['question'].strip()}")
    parts.append(options_block(doc["choices"]))
    return "\n".join(parts) + "\n정답:"


def click_choices(doc: dict) -> list[str]:
    return list(LETTERS[: len(doc["choices"])])


def click_target(doc: dict) -> int:
    if doc["answer"] not in doc["choices"]:
        raise BenchmarkFileError(f"CLIcK {doc.get('id')}: the answer is not one of the choices")
    return doc["choices"].index(doc["answer"])


# --- aggregation ----------------------------------------------------------------------------------------------


def macro_f1(items) -> float:
    """F1 averaged over the classes (KoBEST reports macro F1); ``items`` are lm-eval's (gold, prediction) pairs."""
    from sklearn.metrics import f1_score

    golds = [g for g, _ in items]
    preds = [p for _, p in items]
    return float(f1_score(golds, preds, average="macro"))
