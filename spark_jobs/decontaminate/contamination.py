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

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from core.job import Job, JobContext
from core.stats import StageStats
from quality.decontam import VERSION as NORMALIZATION_VERSION
from quality.substrings import sample_starts, window_hashes
from spark_jobs import tables
from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, load_examples
from spark_jobs.session import local_frame

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

_EX_DDL = "benchmark STRING, split STRING, example_id STRING, normalized STRING, n_chars INT"
_SUB_DDL = "hash BIGINT, benchmark STRING, split STRING, example_id STRING, offset INT, window INT"


def _normalize_examples(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        norms = [_normalize_with_offsets(t or "")[0] for t in batch.column("text").to_pylist()]
        yield pa.RecordBatch.from_arrays(
            [batch.column("benchmark"), batch.column("split"), batch.column("example_id"),
             pa.array(norms, pa.string()), pa.array([len(t) for t in norms], pa.int32())],
            names=["benchmark", "split", "example_id", "normalized", "n_chars"],
        )  # fmt: skip


def _substring_mapper(window: int, short_window: int | None):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hashes, counts, sizes = [], [], []
            for norm in batch.column("normalized").to_pylist():
                size = window if len(norm) >= window or short_window is None else short_window
                h = window_hashes(norm, size)
                hashes.append(h.view(np.int64))
                counts.append(h.size)
                sizes.append(size)
            total = sum(counts)
            if not total:
                continue
            rows = pa.array(np.repeat(np.arange(len(counts)), counts))  # the example of every window
            offsets = np.arange(total, dtype=np.int32) - np.repeat(np.cumsum(counts) - counts, counts).astype(np.int32)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(np.concatenate(hashes)),
                    *(batch.column(k).take(rows) for k in ("benchmark", "split", "example_id")),
                    pa.array(offsets),
                    pa.array(np.repeat(np.asarray(sizes, dtype=np.int32), counts)),
                ],
                names=["hash", "benchmark", "split", "example_id", "offset", "window"],
            )

    return run


def _ex_key(*cols):
    return F.xxhash64(*cols)


def build_substrings(
    spark: SparkSession, workdir: str, examples: DataFrame, cfg: ContaminationConfig, fingerprint: str | None = None
) -> StageStats:
    """``examples`` (benchmark, split, example_id, text) → ``benchmark_examples`` and
    ``benchmark_substrings`` (both overwritten; ``fingerprint`` goes with the substrings' commit)."""
    started = time.time()
    stats = StageStats("benchmark_substrings")
    short = cfg.short_window if cfg.short_window is not None else cfg.window
    normalized = examples.select("benchmark", "split", "example_id", "text").mapInArrow(_normalize_examples, _EX_DDL)
    n_chars = F.col("n_chars")
    indexed_as = F.when(n_chars >= cfg.window, "windows").when(n_chars >= short, "short").otherwise("too_short")
    ex = (
        normalized.withColumn("ex_key", _ex_key("benchmark", "split", "example_id"))
        .withColumn("indexed_as", indexed_as)
        .withColumn("window", F.when(F.col("n_chars") >= cfg.window, cfg.window).otherwise(short))
        .withColumn("normalization", F.lit(NORMALIZATION_VERSION))
    )
    n = tables.overwrite(spark, ex, workdir, tables.BENCHMARK_EXAMPLES)
    ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES)
    subs = (
        ex.filter(F.col("indexed_as") != "too_short")
        .select("benchmark", "split", "example_id", "normalized")
        .mapInArrow(_substring_mapper(cfg.window, cfg.short_window), _SUB_DDL)
        .withColumn("normalization", F.lit(NORMALIZATION_VERSION))
    )
    rows = tables.overwrite(spark, subs, workdir, tables.BENCHMARK_SUBSTRINGS, user_metadata=fingerprint)
    counts = {r["indexed_as"]: r["count"] for r in ex.groupBy("indexed_as").count().collect()}
    stats.rows_in = n
    stats.rows_out = counts.get("windows", 0) + counts.get("short", 0)
    stats.rows_rejected = counts.get("too_short", 0)
    if stats.rows_rejected:
        stats.by_reason = {f"shorter_than_{short}_chars": stats.rows_rejected}
    stats.extra = {"substrings": rows, "short_examples": counts.get("short", 0)}
    stats.seconds = time.time() - started
    stats.check()
    return stats


# ---------------------------------------------------------------------------- document side

_WIN_DDL = "doc_key BIGINT, hash BIGINT, norm_offset INT, offset INT"


def _window_mapper(cfg: ContaminationConfig, sizes: tuple[int, ...]):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            keys = batch.column("doc_key").to_numpy()
            ids = batch.column("doc_id").to_pylist()
            out_key, out_hash, out_norm, out_off = [], [], [], []
            for i, text in enumerate(batch.column("text").to_pylist()):
                norm, offsets = _normalize_with_offsets(text)
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
                names=["doc_key", "hash", "norm_offset", "offset"],
            )

    return run


def _matched_text(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The matched substring of each candidate; a short example's candidate is kept only when the
    document contains the whole normalized example (its offset is then the example's first place)."""
    for batch in batches:
        keep, subs, offs = [], [], []
        cols = [batch.column(c).to_pylist() for c in ("text", "norm_offset", "offset", "window", "match", "normalized")]
        for text, start, offset, window, match, example in zip(*cols, strict=True):
            norm, offsets = _normalize_with_offsets(text)
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


def run(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> StageStats:
    """``documents`` → ``contamination`` (overwritten: the documents and test sets as they are now)."""
    started = time.time()
    stats = StageStats("decontaminate")
    for t in (tables.BENCHMARK_EXAMPLES, tables.BENCHMARK_SUBSTRINGS):
        if not tables.exists(spark, workdir, t):
            raise FileNotFoundError(f"{t.name} does not exist yet: build it from the benchmarks first")
    ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES).filter(F.col("indexed_as") != "too_short")
    built = {(r["indexed_as"], r["window"]) for r in ex.select("indexed_as", "window").distinct().collect()}
    want = {("windows", cfg.window)} | ({("short", cfg.short_window)} if cfg.short_window is not None else set())
    if not built <= want:
        raise ValueError(
            f"benchmark_substrings was built with windows {sorted(w for _, w in built)}, the config says "
            f"window {cfg.window}, short_window {cfg.short_window}: rebuild it"
        )
    sizes = tuple(sorted({w for _, w in built}, reverse=True))
    # the join carries two longs per substring; names and normalized text come back by ex_key afterwards
    subs = tables.read(spark, workdir, tables.BENCHMARK_SUBSTRINGS).select(
        "hash", _ex_key("benchmark", "split", "example_id").alias("ex_key")
    )
    n_subs = subs.count()
    if n_subs <= cfg.broadcast_max_rows:
        subs = F.broadcast(subs)
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select("doc_id", "text", F.xxhash64("doc_id").alias("doc_key"))
    windows = docs.mapInArrow(_window_mapper(cfg, sizes), _WIN_DDL)
    candidates = (
        windows.join(subs, "hash")
        .groupBy("doc_key", "ex_key")
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
    n_candidates = candidates.count()
    pairs = F.broadcast(candidates) if n_candidates <= cfg.broadcast_max_rows // 10 else candidates
    matched = (
        docs.join(pairs, "doc_key")
        .select(
            "doc_id",
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
        .mapInArrow(
            _matched_text,
            "doc_id STRING, benchmark STRING, split STRING, example_id STRING, matched_windows INT, offset INT, "
            "norm_offset INT, match STRING, matched_substring STRING",
        )
        .withColumn("mode", F.lit(cfg.mode))
    )
    written = tables.overwrite(spark, matched, workdir, tables.CONTAMINATION)
    candidates.unpersist()
    n_docs = docs.count()
    flagged = tables.read(spark, workdir, tables.CONTAMINATION).select("doc_id").distinct().count()
    stats.rows_in = n_docs
    stats.rows_out = n_docs - flagged
    stats.rows_rejected = flagged  # flagged, kept in documents; the select step drops them
    stats.by_reason = {"contaminated": flagged} if flagged else {}
    stats.extra = {
        "mode": cfg.mode,
        "contamination_rows": written,
        "candidates": n_candidates,
        "short_candidates_not_contained": n_candidates - written,
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


# example_rows' tuples as a frame: benchmark STRING, split STRING, example_id STRING, text STRING
_EXAMPLE_ROWS = StructType([StructField(name, StringType()) for name in ("benchmark", "split", "example_id", "text")])


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


def run_stage(spark: SparkSession, workdir: str, cfg: DecontaminateConfig) -> StageStats:
    """Flag ``documents`` against the configured test sets, rebuilding ``benchmark_examples`` and
    ``benchmark_substrings`` only when the examples, the window sizes or the normalization changed."""
    started = time.time()
    if not cfg.benchmarks:
        raise ValueError("decontaminate.benchmarks is empty: name the benchmark test sets to check against")
    rows = example_rows(cfg)
    fp = fingerprint(rows, cfg)
    reused = tables.last_user_metadata(spark, workdir, tables.BENCHMARK_SUBSTRINGS) == fp
    if reused:
        log.info("benchmark_substrings is up to date (fingerprint %s): reused", fp[:12])
        ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES)
        n_examples, n_short = ex.count(), ex.filter(F.col("indexed_as") == "too_short").count()
    else:
        frame = local_frame(spark, rows, _EXAMPLE_ROWS)
        sub_stats = build_substrings(spark, workdir, frame, cfg, fingerprint=fp)
        n_examples, n_short = sub_stats.rows_in, sub_stats.rows_rejected
    stats = run(spark, workdir, cfg)
    stats.extra.update(
        {
            "benchmark_examples": n_examples,
            "examples_too_short": n_short,
            "benchmark_substrings_reused": reused,
        }
    )
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
