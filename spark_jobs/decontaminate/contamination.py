"""Decontamination jobs: benchmark examples → Delta ``benchmark_substrings``; ``documents`` ×
``benchmark_substrings`` → Delta ``contamination``.

The method is EXAONE 3.5's (technical report §2.2): normalize the test examples, take every
S-character substring (S = 50, stride 1), and flag a training document when a substring of its
normalized text is among them. Two modes:

- ``sampled``: as the report does it, N = 10 windows per document, drawn deterministically from
  the doc_id (:func:`quality.substrings.sample_starts`): cheap, and a passage covering a share p of
  a document's windows is found with probability 1 - (1 - p)**N (about, without replacement).
- ``exhaustive``: every window of every document, which also catches a short benchmark passage
  inside a long document.

Windows are hashed in the Python workers (:mod:`quality.substrings`, vectorised) and matched by a
Spark join on the 64-bit hash: a broadcast join when ``benchmark_substrings`` has at most
``broadcast_max_rows`` rows, a shuffle join otherwise. Nothing is collected to the driver but the
counts. The matched substring (normalized) and its offset in the document's original text are
recovered for the matched documents only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.decontam import VERSION as NORMALIZATION_VERSION
from quality.substrings import sample_starts, window_hashes
from spark_jobs import tables
from spark_jobs.decontaminate.registry import BenchmarkConfig, load_examples
from spark_jobs.stats import StageStats

log = logging.getLogger("moru.decontaminate")


def _normalize_with_offsets(text: str):
    from quality.decontam import normalize_with_offsets

    return normalize_with_offsets(text)


class ContaminationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["sampled", "exhaustive"] = "exhaustive"
    window: int = Field(default=50, ge=8, le=1000, description="substring length S in normalized characters")
    samples: int = Field(default=10, ge=1, description="windows per document in sampled mode (EXAONE: 10)")
    seed: int = 0
    broadcast_max_rows: int = Field(
        default=20_000_000, ge=0, description="benchmark_substrings rows up to which the join is a broadcast join"
    )


# ---------------------------------------------------------------------------- benchmark side

_SUB_DDL = "hash BIGINT, benchmark STRING, split STRING, example_id STRING, offset INT"


def _substring_mapper(window: int):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols: dict[str, list] = {k: [] for k in ("hash", "benchmark", "split", "example_id", "offset")}
            bench = batch.column("benchmark").to_pylist()
            split = batch.column("split").to_pylist()
            ids = batch.column("example_id").to_pylist()
            for i, text in enumerate(batch.column("text").to_pylist()):
                norm, _ = _normalize_with_offsets(text or "")
                h = window_hashes(norm, window)
                if not h.size:
                    continue
                cols["hash"].append(h.view(np.int64))
                cols["offset"].append(np.arange(h.size, dtype=np.int32))
                for k, v in (("benchmark", bench[i]), ("split", split[i]), ("example_id", ids[i])):
                    cols[k].extend([v] * h.size)
            if not cols["benchmark"]:
                continue
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(np.concatenate(cols["hash"])),
                    pa.array(cols["benchmark"], pa.string()),
                    pa.array(cols["split"], pa.string()),
                    pa.array(cols["example_id"], pa.string()),
                    pa.array(np.concatenate(cols["offset"])),
                ],
                names=["hash", "benchmark", "split", "example_id", "offset"],
            )

    return run


def build_substrings(spark: SparkSession, workdir: str, examples: DataFrame, cfg: ContaminationConfig) -> StageStats:
    """``examples`` (benchmark, split, example_id, text) → ``benchmark_substrings`` (overwritten)."""
    started = time.time()
    stats = StageStats("benchmark_substrings")
    n = examples.count()
    subs = (
        examples.select("benchmark", "split", "example_id", "text")
        .mapInArrow(_substring_mapper(cfg.window), _SUB_DDL)
        .withColumn("window", F.lit(cfg.window))
        .withColumn("normalization", F.lit(NORMALIZATION_VERSION))
    )
    rows = tables.overwrite(spark, subs, workdir, tables.BENCHMARK_SUBSTRINGS)
    covered = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS).select("benchmark", "example_id").distinct()
    stats.rows_in = n
    stats.rows_out = covered.count()
    stats.rows_rejected = n - stats.rows_out  # examples shorter than the window once normalized
    if stats.rows_rejected:
        stats.by_reason = {f"shorter_than_{cfg.window}_chars": stats.rows_rejected}
    stats.extra = {"substrings": rows}
    stats.seconds = time.time() - started
    stats.check()
    return stats


# ---------------------------------------------------------------------------- document side

_WIN_DDL = "doc_key BIGINT, hash BIGINT, norm_offset INT, offset INT"


def _window_mapper(cfg: ContaminationConfig):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keys = batch.column("doc_key").to_numpy()
            ids = batch.column("doc_id").to_pylist()
            out_key, out_hash, out_norm, out_off = [], [], [], []
            for i, text in enumerate(batch.column("text").to_pylist()):
                norm, offsets = _normalize_with_offsets(text)
                h = window_hashes(norm, cfg.window)
                if not h.size:
                    continue
                if cfg.mode == "sampled":
                    starts = sample_starts(ids[i], h.size, cfg.samples, cfg.seed)
                else:
                    starts = np.arange(h.size, dtype=np.int64)
                out_key.append(np.full(starts.size, keys[i], dtype=np.int64))
                out_hash.append(h[starts].view(np.int64))
                out_norm.append(starts.astype(np.int32))
                out_off.append(np.asarray(offsets, dtype=np.int32)[starts])
            if not out_key:
                continue
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.concatenate(a)) for a in (out_key, out_hash, out_norm, out_off)],
                names=["doc_key", "hash", "norm_offset", "offset"],
            )

    return run


def _matched_text(window: int):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = []
            for text, start in zip(
                batch.column("text").to_pylist(), batch.column("norm_offset").to_pylist(), strict=True
            ):
                norm, _ = _normalize_with_offsets(text)
                out.append(norm[start : start + window])
            yield batch.drop_columns(["text"]).append_column("matched_substring", pa.array(out, pa.string()))

    return run


def run(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> StageStats:
    """``documents`` → ``contamination`` (overwritten: the documents and test sets as they are now)."""
    started = time.time()
    stats = StageStats("decontaminate")
    if not tables.exists(spark, workdir, tables.BENCHMARK_SUBSTRINGS):
        raise FileNotFoundError("benchmark_substrings does not exist yet: build it from the benchmarks first")
    subs = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS)
    windows_in_table = subs.select("window").distinct().collect()
    if [r[0] for r in windows_in_table] not in ([cfg.window], []):
        raise ValueError(
            f"benchmark_substrings was built with window {[r[0] for r in windows_in_table]}, the config says "
            f"{cfg.window}: rebuild it"
        )
    subs = subs.select("hash", "benchmark", "split", "example_id")
    n_subs = subs.count()
    if n_subs <= cfg.broadcast_max_rows:
        subs = F.broadcast(subs)
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select("doc_id", "text", F.xxhash64("doc_id").alias("doc_key"))
    windows = docs.mapInArrow(_window_mapper(cfg), _WIN_DDL)
    hits = windows.join(subs, "hash")
    per_example = hits.groupBy("doc_key", "benchmark", "split", "example_id").agg(
        F.count("*").cast("int").alias("matched_windows"),
        F.min(F.struct("offset", "norm_offset")).alias("first"),
    )
    matched = (
        per_example.join(docs, "doc_key")
        .select(
            "doc_id",
            "benchmark",
            "split",
            "example_id",
            "matched_windows",
            F.col("first.offset").alias("offset"),
            F.col("first.norm_offset").alias("norm_offset"),
            "text",
        )
        .mapInArrow(
            _matched_text(cfg.window),
            "doc_id STRING, benchmark STRING, split STRING, example_id STRING, matched_windows INT, offset INT, "
            "norm_offset INT, matched_substring STRING",
        )
        .withColumn("mode", F.lit(cfg.mode))
    )
    written = tables.overwrite(spark, matched, workdir, tables.CONTAMINATION)
    n_docs = docs.count()
    flagged = tables.read(spark, workdir, tables.CONTAMINATION).select("doc_id").distinct().count()
    stats.rows_in = n_docs
    stats.rows_out = n_docs - flagged
    stats.rows_rejected = flagged  # flagged, kept in documents; the select step drops them
    stats.by_reason = {"contaminated": flagged} if flagged else {}
    stats.extra = {
        "mode": cfg.mode,
        "contamination_rows": written,
        "benchmark_substrings": n_subs,
        "broadcast": n_subs <= cfg.broadcast_max_rows,
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


def examples_frame(spark: SparkSession, cfg: DecontaminateConfig) -> DataFrame:
    """The examples of every configured benchmark as a DataFrame (read on the driver: test sets are
    small; a malformed file stops here with its name and line)."""
    rows = [tuple(e) for b in cfg.benchmarks for e in load_examples(b)]
    schema = "benchmark STRING, split STRING, example_id STRING, text STRING"
    return spark.createDataFrame(rows, schema)


def run_stage(spark: SparkSession, workdir: str, cfg: DecontaminateConfig) -> StageStats:
    """Rebuild ``benchmark_substrings`` from the configured test sets, then flag ``documents``."""
    started = time.time()
    if not cfg.benchmarks:
        raise ValueError("decontaminate.benchmarks is empty: name the benchmark test sets to check against")
    sub_stats = build_substrings(spark, workdir, examples_frame(spark, cfg), cfg)
    stats = run(spark, workdir, cfg)
    stats.extra.update(
        {
            "benchmark_examples": sub_stats.rows_in,
            "examples_shorter_than_window": sub_stats.rows_rejected,
        }
    )
    stats.seconds = time.time() - started
    return stats
