"""Decontamination jobs: benchmark examples → Delta ``benchmark_examples`` + their substring index; ``documents``
× the index → Delta ``contamination``.

The matching is one function over any frame of ``(text_id, text)`` rows (:func:`find_matches`): pretraining
calls it with the documents, post-training (spark_jobs.posttrain.decontaminate) with every turn of its
conversations and preference pairs. ``contamination`` says where each match is (``source_table``; for
post-training rows also ``turn_column``, ``turn`` and ``role``), and each job replaces only its own tables' rows
(:func:`write_contamination`), so neither erases the other's.

The method is EXAONE 3.5's (technical report §2.2): normalize the test examples, take every
S-character substring (S = 50, stride 1), and flag a training document when a substring of its
normalized text is among them. Two modes:

- ``sampled``: as the report does it, N = 10 windows per document, drawn deterministically from
  the doc_id (:func:`quality.substrings.sample_starts`): cheap, and a passage covering a share p of
  a document's windows is found with probability 1 - (1 - p)**N (about, without replacement).
- ``exhaustive``: every window of every document, which also catches a short benchmark passage
  inside a long document.

The index is built once per version of ``benchmark_examples``, in the index step (:func:`build_substrings`; the
test sets are read, normalized and indexed on the driver). With at most ``broadcast_max_rows`` windows (the usual
case: 10.7 M for 65 k real test examples) it is a file (:func:`quality.substring_match.build_index`: sorted window
hashes, probes, a bitmap) with the example names beside it, written under ``WORKDIR/indexes`` while Spark writes
``benchmark_examples`` and named in that commit; the matching ships it once to every executor
(``SparkContext.addFile``), the Python workers map it into memory, and one Arrow UDF over the texts normalizes
each batch at once, probes and verifies there (:func:`quality.substring_match.find`: exhaustive mode finds every
shared window without looking up every window), emitting only the (text, example) pairs found, with their matched
substring and offsets. With more windows the Delta table ``benchmark_substrings`` is written instead and every
text window goes through a Spark shuffle join with it on the 64-bit hash (the matched substring and offset
recovered for the matched texts only). Nothing is collected to the driver but the counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core import locations, storage
from core.job import Job, JobContext
from core.stats import StageStats
from quality import substring_match
from quality.decontam import VERSION as NORMALIZATION_VERSION
from quality.decontam import normalize_for_matching
from quality.substrings import sample_starts, window_hashes
from spark_jobs import tables
from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, load_examples

log = logging.getLogger("moru.decontaminate")


def _normalize_with_offsets(text: str):
    from quality.decontam import normalize_with_offsets

    return normalize_with_offsets(text)


class ContaminationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["sampled", "exhaustive"] = "exhaustive"
    window: int = Field(default=50, ge=8, le=1000, description="substring length S in normalized characters")
    short_window: int | None = Field(
        default=25,
        ge=8,
        description=(
            "examples shorter than `window` once normalized but at least this long are found whole: their "
            "short_window-character substrings are indexed, documents' windows of this size are matched too, and a "
            "candidate counts only when the document contains the whole normalized example (null: not indexed)"
        ),
    )
    samples: int = Field(default=10, ge=1, description="windows per document in sampled mode (EXAONE: 10)")
    seed: int = 0
    broadcast_max_rows: int = Field(
        default=20_000_000, ge=0, description="benchmark_substrings rows up to which the join is a broadcast join"
    )

    @model_validator(mode="after")
    def _short_below_window(self) -> ContaminationConfig:
        if self.short_window is not None and self.short_window >= self.window:
            raise ValueError(f"short_window ({self.short_window}) must be smaller than window ({self.window})")
        return self


# ---------------------------------------------------------------------------- benchmark side

_SUB_DDL = "hash BIGINT, benchmark STRING, split STRING, example_id STRING, offset INT, window INT"


def _substring_mapper(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """(benchmark, split, example_id, normalized, window) → the ``benchmark_substrings`` rows of each example."""
    for batch in batches:
        hashes, rows, offsets, windows = substring_match.example_windows(
            batch.column("normalized").to_pylist(), batch.column("window").to_pylist()
        )
        if not hashes.size:
            continue
        rows = pa.array(rows)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(hashes.view(np.int64)),
                *(batch.column(k).take(rows) for k in ("benchmark", "split", "example_id")),
                pa.array(offsets),
                pa.array(windows),
            ],
            names=["hash", "benchmark", "split", "example_id", "offset", "window"],
        )


def _ex_key(*cols):
    return F.xxhash64(*cols)


def build_substrings(
    spark: SparkSession,
    workdir: str,
    examples: DataFrame | Sequence[tuple[str, str, str, str]],
    cfg: ContaminationConfig,
    fingerprint: str | None = None,
) -> StageStats:
    """``examples`` ((benchmark, split, example_id, text) rows or such a frame) → ``benchmark_examples``
    (overwritten; ``fingerprint`` and the number of substrings go with its commit) and the index of their
    substrings: when there are at most ``broadcast_max_rows`` of them, the in-memory index file the matching
    workers map; otherwise the Delta table ``benchmark_substrings`` the shuffle join reads.

    Test sets are small (65 k real examples: 23 MB of text), so they are normalized and indexed on the driver,
    where they are read, and go to Spark once, as one Arrow table, for the Delta write."""
    started = time.time()
    stats = StageStats("benchmark_substrings")
    if isinstance(examples, DataFrame):
        t = examples.select("benchmark", "split", "example_id", "text").toArrow()
        examples = list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
    short = cfg.short_window if cfg.short_window is not None else cfg.window
    # in _examples_table's order
    rows = sorted((b, s, i, normalize_for_matching(text or "")) for b, s, i, text in examples)
    n_chars = [len(r[3]) for r in rows]
    indexed_as = ["windows" if n >= cfg.window else "short" if n >= short else "too_short" for n in n_chars]
    window = [cfg.window if n >= cfg.window else short for n in n_chars]
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    local = pa.table(
        {
            **{
                k: pa.array(c, pa.string())
                for k, c in zip(("benchmark", "split", "example_id", "normalized"), columns, strict=True)
            },
            "n_chars": pa.array(n_chars, pa.int32()),
            "indexed_as": pa.array(indexed_as, pa.string()),
            "window": pa.array(window, pa.int32()),
        }
    )
    n_subs = sum(n - w + 1 for n, w, k in zip(n_chars, window, indexed_as, strict=True) if k != "too_short")
    ex = (
        spark.createDataFrame(local)
        .withColumn("ex_key", _ex_key("benchmark", "split", "example_id"))
        .withColumn("normalization", F.lit(NORMALIZATION_VERSION))
    )
    # the index file is written while Spark writes the table (Python on the driver beside the JVM's executors);
    # its name goes with the table's commit, so the matching finds the index of exactly this version
    uri = _new_index_uri(workdir, cfg) if n_subs <= cfg.broadcast_max_rows else None
    meta = {
        "fingerprint": fingerprint,
        "substrings": n_subs,
        "windows": sorted({(k, w) for k, w in zip(indexed_as, window, strict=True) if k != "too_short"}),
        "index_file": uri and storage.basename(uri),
    }
    with ThreadPoolExecutor(1) as pool:
        written = pool.submit(
            tables.overwrite, spark, ex, workdir, tables.BENCHMARK_EXAMPLES, user_metadata=json.dumps(meta), count=False
        )
        try:
            if uri is not None:
                _write_index(local.filter(pa.array([k != "too_short" for k in indexed_as], pa.bool_())), cfg, uri)
        finally:
            written.result()
    _remove_indexes(workdir, keep=uri)
    index = _Index("file", n_subs, uri) if uri is not None else _ensure_substrings(spark, workdir, cfg)
    stats.rows_in = len(rows)
    stats.rows_out = sum(k != "too_short" for k in indexed_as)
    stats.rows_rejected = stats.rows_in - stats.rows_out
    if stats.rows_rejected:
        stats.by_reason = {f"shorter_than_{short}_chars": stats.rows_rejected}
    stats.extra = {"substrings": n_subs, "short_examples": indexed_as.count("short"), "index": index.kind}
    stats.seconds = time.time() - started
    stats.check()
    return stats


def _examples_meta(spark: SparkSession, workdir: str) -> dict:
    """What ``benchmark_examples``' latest commit says of itself (fingerprint, substrings); {} if nothing."""
    raw = tables.last_user_metadata(spark, workdir, tables.BENCHMARK_EXAMPLES)
    try:
        meta = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class _Index:
    kind: Literal["file", "table"]
    substrings: int
    uri: str | None  # the index file (kind "file")


_INDEX_PREFIX = "benchmark_substrings-"


def _new_index_uri(workdir: str, cfg: ContaminationConfig) -> str:
    """A fresh name for an index file: executors keep the files added to a Spark application by name, so a rebuilt
    index must never reuse an earlier one's name, in this workdir or another."""
    name = f"{_INDEX_PREFIX}w{cfg.window}-{cfg.short_window}-{uuid.uuid4().hex}.bin"
    return storage.join(locations.substring_indexes(workdir), name)


def _commit_index_uri(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> str:
    """The index file of ``benchmark_examples``' current commit when its commit names none (a table written before
    the index went with it, or whose file is gone): a name unique to that commit (version, time, table)."""
    from delta.tables import DeltaTable

    uri = tables.table_uri(workdir, tables.BENCHMARK_EXAMPLES)
    commit = DeltaTable.forPath(spark, uri).history(1).select("version", "timestamp").head()
    key = hashlib.sha256(f"{uri}@{commit['version']}@{commit['timestamp']}".encode()).hexdigest()[:32]
    return storage.join(
        locations.substring_indexes(workdir), f"{_INDEX_PREFIX}w{cfg.window}-{cfg.short_window}-{key}.bin"
    )


_NAMES_SUFFIX = ".names.arrow"


def _write_index(table: pa.Table, cfg: ContaminationConfig, uri: str) -> None:
    """The index file at ``uri`` and, beside it (``+ .names.arrow``, Arrow IPC), the name of each example it
    numbers: (benchmark, split, example_id, match), which the matching workers map with it."""
    index = _in_memory_index(table, cfg)
    sink = pa.BufferOutputStream()
    names = _names_of(table)
    with pa.ipc.new_file(sink, _NAMES_SCHEMA) as writer:
        columns = [names.benchmark, names.split, names.example_id, names.match]
        writer.write_table(pa.table(columns, schema=_NAMES_SCHEMA))
    local = storage.local_path(uri)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        substring_match.save_index(index, local)
    else:
        with tempfile.TemporaryDirectory(prefix="moru-substring-index-") as tmp:
            substring_match.save_index(index, os.path.join(tmp, "index.bin"))
            storage.write_bytes(uri, Path(tmp, "index.bin").read_bytes())
    storage.write_bytes(uri + _NAMES_SUFFIX, sink.getvalue().to_pybytes())


def _remove_indexes(workdir: str, keep: str | None) -> None:
    """Delete the index files of earlier builds (all but ``keep``)."""
    folder = locations.substring_indexes(workdir)
    fsys, _ = storage.filesystem(folder)
    for info in storage.list_dir(folder):
        if info.base_name.startswith(_INDEX_PREFIX) and info.base_name.removesuffix(_NAMES_SUFFIX) != (
            keep and storage.basename(keep)
        ):
            fsys.delete_file(info.path)


def _ensure_substrings(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> _Index:
    """The index of ``benchmark_examples``' substrings that ``cfg`` matches with, built unless the one of the
    table's current version is there: an in-memory index file (up to ``broadcast_max_rows`` substrings) or the
    ``benchmark_substrings`` table (more)."""
    version = tables.version(spark, workdir, tables.BENCHMARK_EXAMPLES)
    ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES).filter(F.col("indexed_as") != "too_short")
    meta = _examples_meta(spark, workdir)
    n_subs = meta.get("substrings")
    if not isinstance(n_subs, int):  # a table written before the count went with the commit
        n_subs = ex.agg(F.sum(F.col("n_chars") - F.col("window") + 1)).head()[0] or 0
    if n_subs <= cfg.broadcast_max_rows:
        name = meta.get("index_file")
        if isinstance(name, str) and name.startswith(f"{_INDEX_PREFIX}w{cfg.window}-{cfg.short_window}-"):
            uri = storage.join(locations.substring_indexes(workdir), name)
            if storage.exists(uri) and storage.exists(uri + _NAMES_SUFFIX):
                return _Index("file", n_subs, uri)
        uri = _commit_index_uri(spark, workdir, cfg)
        if storage.exists(uri) and storage.exists(uri + _NAMES_SUFFIX):
            return _Index("file", n_subs, uri)
        _write_index(_examples_table(ex), cfg, uri)
        _remove_indexes(workdir, keep=uri)
        return _Index("file", n_subs, uri)
    stamp = f"benchmark_examples v{version}"
    if tables.last_user_metadata(spark, workdir, tables.BENCHMARK_SUBSTRINGS) == stamp:
        return _Index("table", n_subs, None)
    subs = (
        ex.select("benchmark", "split", "example_id", "normalized", "window")
        .mapInArrow(_substring_mapper, _SUB_DDL)
        .withColumn("normalization", F.lit(NORMALIZATION_VERSION))
    )
    tables.overwrite(spark, subs, workdir, tables.BENCHMARK_SUBSTRINGS, user_metadata=stamp, count=False)
    return _Index("table", n_subs, None)


# ---------------------------------------------------------------------------- text side

_WIN_DDL = "text_key BIGINT, hash BIGINT, norm_offset INT, offset INT"
# what find_matches gives for each (text, example) found: the text's id, the example, the first match
MATCH_DDL = (
    "text_id STRING, benchmark STRING, split STRING, example_id STRING, matched_windows INT, offset INT, "
    "norm_offset INT, match STRING, matched_substring STRING"
)


def _window_mapper(cfg: ContaminationConfig, sizes: tuple[int, ...]):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keys = batch.column("text_key").to_numpy()
            ids = batch.column("text_id").to_pylist()
            out_key, out_hash, out_norm, out_off = [], [], [], []
            for i, text in enumerate(batch.column("text").to_pylist()):
                norm, offsets = _normalize_with_offsets(text or "")
                offsets = np.asarray(offsets, dtype=np.int32)
                starts = None
                for size in sizes:
                    h = window_hashes(norm, size)
                    if not h.size:
                        continue
                    if cfg.mode == "sampled":
                        # the EXAONE draw over the long windows; a short window is checked where a long one starts
                        if starts is None:
                            n_long = max(len(norm) - cfg.window + 1, 0)
                            starts = sample_starts(ids[i], n_long or h.size, cfg.samples, cfg.seed)
                        at = starts[starts < h.size]
                    else:
                        at = np.arange(h.size, dtype=np.int64)
                    out_key.append(np.full(at.size, keys[i], dtype=np.int64))
                    out_hash.append(h[at].view(np.int64))
                    out_norm.append(at.astype(np.int32))
                    out_off.append(offsets[at])
            if not out_key:
                continue
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.concatenate(a)) for a in (out_key, out_hash, out_norm, out_off)],
                names=["text_key", "hash", "norm_offset", "offset"],
            )

    return run


def _matched_text(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The matched substring of each candidate; a short example's candidate is kept only when the
    text contains the whole normalized example (its offset is then the example's first place)."""
    for batch in batches:
        keep, subs, offs = [], [], []
        cols = [batch.column(c).to_pylist() for c in ("text", "norm_offset", "offset", "window", "match", "normalized")]
        for text, start, offset, window, match, example in zip(*cols, strict=True):
            norm, offsets = _normalize_with_offsets(text or "")
            if match == "whole":
                at = norm.find(example)
                keep.append(at >= 0)
                subs.append(example)
                offs.append(int(offsets[at]) if at >= 0 else -1)
            else:
                keep.append(True)
                subs.append(norm[start : start + window])
                offs.append(offset)
        out = batch.drop_columns(["text", "normalized", "window"])
        out = out.set_column(out.schema.get_field_index("offset"), "offset", pa.array(offs, pa.int32()))
        out = out.append_column("matched_substring", pa.array(subs, pa.string()))
        yield out.filter(pa.array(keep))


# the in-UDF path's rows: MATCH_DDL and whether the text holds the whole example (always, for window matches)
_FOUND_DDL = MATCH_DDL + ", contained BOOLEAN"


@dataclass(frozen=True)
class _Names:
    """What the in-UDF path needs of each indexed example besides its windows (a file beside the index file)."""

    benchmark: pa.Array
    split: pa.Array
    example_id: pa.Array
    match: pa.Array


_NAMES_SCHEMA = pa.schema([(k, pa.string()) for k in ("benchmark", "split", "example_id", "match")])
# per Python worker process: index file name -> the index and its example names
_loaded: dict[str, tuple[substring_match.SubstringIndex, _Names]] = {}


def _index_of(name: str) -> tuple[substring_match.SubstringIndex, _Names]:
    """The index shipped as ``name`` (SparkContext.addFile) and its names, memory-mapped once per Python worker
    process."""
    if name not in _loaded:
        from pyspark import SparkFiles

        _loaded.clear()  # the previous job's
        with pa.memory_map(SparkFiles.get(name + _NAMES_SUFFIX)) as source:
            table = pa.ipc.open_file(source).read_all()
        names = _Names(*(table.column(k).combine_chunks() for k in _NAMES_SCHEMA.names))
        _loaded[name] = substring_match.load_index(SparkFiles.get(name)), names
    return _loaded[name]


def _match_mapper(index_file: str, cfg: ContaminationConfig):
    """The Arrow UDF of the in-UDF path: (text_id, text) batches -> the (text, example) pairs found."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        index, names = _index_of(index_file)
        for batch in batches:
            ids = batch.column("text_id")
            found = substring_match.find(
                batch.column("text").to_pylist(),
                index,
                mode=cfg.mode,
                keys=ids.to_pylist() if cfg.mode == "sampled" else None,
                samples=cfg.samples,
                seed=cfg.seed,
            )
            if not found.text.size:
                continue
            ex = pa.array(found.example)
            yield pa.RecordBatch.from_arrays(
                [ids.take(pa.array(found.text)), names.benchmark.take(ex), names.split.take(ex),
                 names.example_id.take(ex), pa.array(found.matched_windows), pa.array(found.offset),
                 pa.array(found.norm_offset), names.match.take(ex), pa.array(found.substring, pa.string()),
                 pa.array(found.contained)],
                names=["text_id", "benchmark", "split", "example_id", "matched_windows", "offset", "norm_offset",
                       "match", "matched_substring", "contained"],
            )  # fmt: skip

    return run


def _examples_table(ex: DataFrame) -> pa.Table:
    """The indexed examples in the numbering the index file and the names share: sorted by (benchmark, split,
    example_id, normalized) — the order :func:`build_substrings` builds in (Spark sorts strings by their UTF-8
    bytes, Python by code points: the same order) — not in whatever order the table's files are read."""
    cols = ["benchmark", "split", "example_id", "window", "indexed_as", "normalized"]
    return ex.select(*cols).orderBy("benchmark", "split", "example_id", "normalized").toArrow()


def _in_memory_index(table: pa.Table, cfg: ContaminationConfig) -> substring_match.SubstringIndex:
    """The examples' index (65 k real examples, 10.7 M windows), built on the driver once per version of
    ``benchmark_examples`` (the file :func:`_ensure_substrings` keeps)."""
    return substring_match.build_index(
        table.column("normalized").to_pylist(),
        table.column("window").to_pylist(),
        cfg.window,
        whole=[k == "short" for k in table.column("indexed_as").to_pylist()],
    )


def _names_of(table: pa.Table) -> _Names:
    return _Names(
        *(table.column(c).combine_chunks() for c in ("benchmark", "split", "example_id")),
        pa.array(["whole" if k == "short" else "window" for k in table.column("indexed_as").to_pylist()], pa.string()),
    )


@dataclass
class Matches:
    """What :func:`find_matches` found: ``rows`` (``MATCH_DDL`` + ``mode``; lazy, read it while the context is
    open), the substrings matched against, the candidate (text, example) pairs and whether the join broadcast."""

    rows: DataFrame
    benchmark_substrings: int
    candidates: int
    broadcast: bool


@contextmanager
def find_matches(spark: SparkSession, workdir: str, texts: DataFrame, cfg: ContaminationConfig) -> Iterator[Matches]:
    """Every (text, benchmark example) where the text holds one of the example's indexed substrings.

    ``texts`` is any frame with a unique ``text_id`` (string) and a ``text`` column: the documents (pretraining),
    the turns of conversations and preference pairs (post-training). The one matching kernel for both; the caller
    writes the rows (with its own provenance) inside the ``with`` block, since they read a cached frame.
    """
    if not tables.exists(spark, workdir, tables.BENCHMARK_EXAMPLES):
        raise FileNotFoundError("benchmark_examples does not exist yet: build it from the benchmarks first")
    ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES).filter(F.col("indexed_as") != "too_short")
    windows = _examples_meta(spark, workdir).get("windows")
    if isinstance(windows, list):
        built = {(k, w) for k, w in windows}
    else:  # a table written before its windows went with the commit
        built = {(r["indexed_as"], r["window"]) for r in ex.select("indexed_as", "window").distinct().collect()}
    want = {("windows", cfg.window)} | ({("short", cfg.short_window)} if cfg.short_window is not None else set())
    if not built <= want:
        raise ValueError(
            f"benchmark_examples was indexed with windows {sorted(w for _, w in built)}, the config says "
            f"window {cfg.window}, short_window {cfg.short_window}: rebuild it"
        )
    sizes = tuple(sorted({w for _, w in built}, reverse=True))
    index = _ensure_substrings(spark, workdir, cfg)
    if index.kind == "file":
        yield from _find_in_udf(spark, texts, cfg, index)
        return
    n_subs = index.substrings
    broadcast = False
    # the join carries two longs per substring; names and normalized text come back by ex_key afterwards
    subs = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS).select(
        "hash", _ex_key("benchmark", "split", "example_id").alias("ex_key")
    )
    keyed = texts.select("text_id", "text", F.xxhash64("text_id").alias("text_key"))
    windows = keyed.mapInArrow(_window_mapper(cfg, sizes), _WIN_DDL)
    candidates = (
        windows.join(subs, "hash")
        .groupBy("text_key", "ex_key")
        .agg(
            F.countDistinct("norm_offset").cast("int").alias("matched_windows"),
            F.min(F.struct("offset", "norm_offset")).alias("first"),
        )
        .join(
            F.broadcast(
                ex.select(
                    "ex_key",
                    "benchmark",
                    "split",
                    "example_id",
                    "window",
                    "normalized",
                    F.when(F.col("indexed_as") == "short", "whole").otherwise("window").alias("match"),
                )
            ),
            "ex_key",
        )  # fmt: skip
        .persist()
    )
    try:
        n_candidates = candidates.count()
        pairs = F.broadcast(candidates) if n_candidates <= cfg.broadcast_max_rows // 10 else candidates
        rows = (
            keyed.join(pairs, "text_key")
            .select(
                "text_id",
                "benchmark",
                "split",
                "example_id",
                "matched_windows",
                F.col("first.offset").alias("offset"),
                F.col("first.norm_offset").alias("norm_offset"),
                "window",
                "match",
                "normalized",
                "text",
            )  # fmt: skip
            .mapInArrow(_matched_text, MATCH_DDL)
            .withColumn("mode", F.lit(cfg.mode))
        )
        yield Matches(rows, n_subs, n_candidates, broadcast)
    finally:
        candidates.unpersist()


def _find_in_udf(spark: SparkSession, texts: DataFrame, cfg: ContaminationConfig, index: _Index):
    # The index (~280 MB for 65 k real examples), built once per benchmark_examples version, goes to the executors
    # as files (SparkContext.addFile: once per executor) that each Python worker maps into memory: no unpickling,
    # one copy in memory per machine.
    spark.sparkContext.addFile(storage.to_spark_path(index.uri))
    spark.sparkContext.addFile(storage.to_spark_path(index.uri + _NAMES_SUFFIX))
    name = storage.basename(index.uri)
    found = texts.select("text_id", "text").mapInArrow(_match_mapper(name, cfg), _FOUND_DDL).persist()
    try:
        n_candidates = found.count()
        rows = found.filter("contained").drop("contained").withColumn("mode", F.lit(cfg.mode))
        yield Matches(rows, index.substrings, n_candidates, True)
    finally:
        found.unpersist()


# ---------------------------------------------------------------------------- the contamination table

# the provenance columns added with post-training decontamination; a table written before them gets them (null),
# and its rows, which can only have come from documents, are marked source_table = 'documents'
PROVENANCE_COLUMNS = ("source_table", "turn_column", "turn", "role")
DOCUMENTS_TABLE = tables.DOCUMENTS.name


def ensure_contamination_schema(spark: SparkSession, workdir: str) -> list[str]:
    """Bring an existing ``contamination`` table to the declared schema (Delta schema evolution: ADD COLUMNS);
    the columns added (none when it is current or does not exist)."""
    if not tables.exists(spark, workdir, tables.CONTAMINATION):
        return []
    have = set(tables.read(spark, workdir, tables.CONTAMINATION).columns)
    missing = [f for f in tables.CONTAMINATION.schema.fields if f.name not in have]
    if not missing:
        return []
    uri = tables.table_uri(workdir, tables.CONTAMINATION)
    columns = ", ".join(f"`{f.name}` {f.dataType.simpleString().upper()}" for f in missing)
    spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS ({columns})")
    if "source_table" in {f.name for f in missing}:
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, uri).update("source_table IS NULL", {"source_table": F.lit(DOCUMENTS_TABLE)})
    log.info("contamination: added columns %s (rows before them are from documents)", [f.name for f in missing])
    return [f.name for f in missing]


def write_contamination(spark: SparkSession, workdir: str, rows: DataFrame, source_tables: tuple[str, ...]) -> int:
    """Replace the ``contamination`` rows of ``source_tables`` with ``rows`` (every one of which must come from
    them) in one commit, leaving other tables' rows as they are: pretraining and post-training decontamination
    each own their rows. Returns the rows written."""
    from delta.tables import DeltaTable

    ensure_contamination_schema(spark, workdir)
    tables.ensure(spark, workdir, tables.CONTAMINATION)
    uri = tables.table_uri(workdir, tables.CONTAMINATION)
    where = "source_table IN (" + ", ".join(f"'{t}'" for t in source_tables) + ")"
    rows.select(*tables.CONTAMINATION.columns).write.format("delta").mode("overwrite").option(
        "replaceWhere", where
    ).save(uri)
    metrics = DeltaTable.forPath(spark, uri).history(1).select("operationMetrics").head()[0] or {}
    return int(metrics.get("numOutputRows", 0))


def read_contamination(spark: SparkSession, workdir: str, source_table: str | None = None) -> DataFrame | None:
    """The ``contamination`` rows (of ``source_table`` only, when given), or None without a table. A table
    written before the provenance columns reads as if it had them (its rows are documents')."""
    if not tables.exists(spark, workdir, tables.CONTAMINATION):
        return None
    df = tables.read(spark, workdir, tables.CONTAMINATION)
    if "source_table" not in df.columns:
        df = df.withColumn("source_table", F.lit(DOCUMENTS_TABLE))
    for name in PROVENANCE_COLUMNS[1:]:
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast("int" if name == "turn" else "string"))
    return df if source_table is None else df.filter(F.col("source_table") == source_table)


# ---------------------------------------------------------------------------- documents


def run(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> StageStats:
    """``documents`` → the ``contamination`` rows of ``source_table = 'documents'`` (replaced: the documents and
    test sets as they are now; post-training rows are left alone)."""
    started = time.time()
    stats = StageStats("decontaminate")
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select(F.col("doc_id").alias("text_id"), "text")
    with find_matches(spark, workdir, docs, cfg) as found:
        rows = found.rows.select(
            F.col("text_id").alias("doc_id"),
            "*",
            F.lit(DOCUMENTS_TABLE).alias("source_table"),
            F.lit(None).cast("string").alias("turn_column"),
            F.lit(None).cast("int").alias("turn"),
            F.lit(None).cast("string").alias("role"),
        )
        written = write_contamination(spark, workdir, rows, (DOCUMENTS_TABLE,))
    n_docs = docs.count()
    flagged = read_contamination(spark, workdir, DOCUMENTS_TABLE).select("doc_id").distinct().count()
    stats.rows_in = n_docs
    stats.rows_out = n_docs - flagged
    stats.rows_rejected = flagged  # flagged, kept in documents; the select step drops them
    stats.by_reason = {"contaminated": flagged} if flagged else {}
    stats.extra = {
        "mode": cfg.mode,
        "contamination_rows": written,
        "candidates": found.candidates,
        "short_candidates_not_contained": found.candidates - written,
        "benchmark_substrings": found.benchmark_substrings,
        "broadcast": found.broadcast,
    }
    stats.seconds = time.time() - started
    stats.check()
    log.info("contamination (%s): %d of %d documents flagged", cfg.mode, flagged, n_docs)
    return stats


# ---------------------------------------------------------------------------- the stage


class DecontaminateConfig(ContaminationConfig):
    """``decontaminate`` in the config: the benchmark test sets and the matching settings."""

    benchmarks: list[BenchmarkConfig] = Field(default_factory=list, description="the benchmark test sets")

    @field_validator("benchmarks")
    @classmethod
    def _unique_names(cls, value: list[BenchmarkConfig]) -> list[BenchmarkConfig]:
        names = [b.name for b in value]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"benchmark names must be unique: {', '.join(sorted(dup))}")
        return value


def example_rows(cfg: DecontaminateConfig) -> list[tuple[str, str, str, str]]:
    """(benchmark, split, example_id, text) of every configured benchmark, read on the driver (test
    sets are small; a malformed file stops here with its name and line)."""
    return [tuple(e) for b in cfg.benchmarks for e in load_examples(b)]


def fingerprint(rows: list[tuple[str, str, str, str]], cfg: ContaminationConfig) -> str:
    """What benchmark_substrings is built from: the examples, the window sizes and the normalization."""
    h = hashlib.sha256(json.dumps([cfg.window, cfg.short_window, NORMALIZATION_VERSION]).encode())
    for row in rows:
        h.update(json.dumps(row, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def ensure_index(spark: SparkSession, workdir: str, cfg: DecontaminateConfig) -> dict[str, object]:
    """Build ``benchmark_examples`` and ``benchmark_substrings`` from the configured test sets, unless they are
    already built from the same examples, window sizes and normalization; what was found, for the stats."""
    if not cfg.benchmarks:
        raise ValueError("decontaminate.benchmarks is empty: name the benchmark test sets to check against")
    rows = example_rows(cfg)
    fp = fingerprint(rows, cfg)
    reused = _examples_meta(spark, workdir).get("fingerprint") == fp
    if reused:
        log.info("benchmark_examples is up to date (fingerprint %s): reused", fp[:12])
        ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES)
        n_examples, n_short = ex.count(), ex.filter(F.col("indexed_as") == "too_short").count()
    else:
        sub_stats = build_substrings(spark, workdir, rows, cfg, fingerprint=fp)
        n_examples, n_short = sub_stats.rows_in, sub_stats.rows_rejected
    return {"benchmark_examples": n_examples, "examples_too_short": n_short, "benchmark_substrings_reused": reused}


def run_stage(spark: SparkSession, workdir: str, cfg: DecontaminateConfig) -> StageStats:
    """Flag ``documents`` against the configured test sets, rebuilding ``benchmark_examples`` and
    ``benchmark_substrings`` only when the examples, the window sizes or the normalization changed."""
    started = time.time()
    index = ensure_index(spark, workdir, cfg)
    stats = run(spark, workdir, cfg)
    stats.extra.update(index)
    stats.seconds = time.time() - started
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run_stage(ctx.spark, ctx.workdir, ctx.cfg.decontaminate)


JOB = Job(
    name="decontaminate",
    run=run_job,
    summary="Index the configured benchmark test sets (every 50-character normalized substring) and flag the "
    "documents that contain one: -> benchmark_substrings, contamination (the select step drops them).",
    reads=("documents", "benchmarks"),
    writes=("benchmark_examples", "benchmark_substrings", "contamination"),
    section="decontaminate",
    enabled=lambda cfg: None if cfg.decontaminate.benchmarks else "decontaminate.benchmarks is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("decontaminate")
