"""Post-training decontamination: every turn of ``conversations`` and ``preference_pairs`` (prompts and responses,
chosen and rejected) against the configured benchmark test sets → the post-training rows of ``contamination``.

The method and the index are pretraining's (spark_jobs.decontaminate.contamination: normalized 50-character
substrings of the test examples, ``decontaminate.mode`` and windows): ``benchmark_examples`` and the substring
index are built here too when they are missing or stale (a no-op when the pretraining job has
built them from the same test sets), and the turns go through the same matching function as documents, each turn
a text of its own. A row of ``contamination`` then names the table (``source_table``), the turn's column
(``messages``; ``prompt``, ``chosen`` or ``rejected``), its index there and its role. This job replaces only the
rows of its two tables; the pretraining job only those of ``documents``. The select step drops every example with
a row here (``contaminated:<benchmark>``), and the gate refuses a corpus that still holds one.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.decontaminate.contamination import (
    ContaminationConfig,
    DecontaminateConfig,
    ensure_index,
    find_matches,
    read_contamination,
    write_contamination,
)

log = logging.getLogger("moru.posttrain.decontaminate")

SOURCE_TABLES = (tables.CONVERSATIONS.name, tables.PREFERENCE_PAIRS.name)
# the columns of each table that hold turns
TURN_COLUMNS = {
    tables.CONVERSATIONS.name: ("messages",),
    tables.PREFERENCE_PAIRS.name: ("prompt", "chosen", "rejected"),
}
_SEP = "\x1f"  # in text_id between table, doc_id, column, index and role (none of them holds it)


def turns(spark: SparkSession, workdir: str) -> tuple[DataFrame | None, dict[str, int]]:
    """One row per turn of every conversation and pair: ``text_id`` (table, doc_id, column, index and role joined)
    and ``text``; and the rows of each table (0 when it does not exist)."""
    frames, counts = [], {}
    for name in SOURCE_TABLES:
        table = tables.ALL_TABLES[name]
        if not tables.exists(spark, workdir, table):
            counts[name] = 0
            continue
        df = tables.read(spark, workdir, table)
        counts[name] = df.count()
        for column in TURN_COLUMNS[name]:
            exploded = df.select("doc_id", F.posexplode(column).alias("turn", "m"))
            frames.append(
                exploded.select(
                    F.concat_ws(_SEP, F.lit(name), "doc_id", F.lit(column), F.col("turn").cast("string"),
                                F.col("m.role")).alias("text_id"),
                    F.col("m.content").alias("text"),
                )  # fmt: skip
            )
    if not frames:
        return None, counts
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out, counts


def run(spark: SparkSession, workdir: str, cfg: ContaminationConfig) -> StageStats:
    """The turns → the ``contamination`` rows of conversations and preference_pairs (replaced)."""
    started = time.time()
    stats = StageStats("posttrain_decontaminate")
    texts, counts = turns(spark, workdir)
    stats.rows_in = sum(counts.values())
    if texts is None:
        write_contamination(spark, workdir, spark.createDataFrame([], tables.CONTAMINATION.schema), SOURCE_TABLES)
        stats.rows_out = stats.rows_in
        return stats
    with find_matches(spark, workdir, texts, cfg) as found:
        part = F.split("text_id", _SEP)
        rows = found.rows.select(
            "*",
            part.getItem(0).alias("source_table"),
            part.getItem(1).alias("doc_id"),
            part.getItem(2).alias("turn_column"),
            part.getItem(3).cast("int").alias("turn"),
            part.getItem(4).alias("role"),
        )
        written = write_contamination(spark, workdir, rows, SOURCE_TABLES)
    cont = read_contamination(spark, workdir).filter(F.col("source_table").isin(*SOURCE_TABLES))
    # flagged examples per table and per turn column, in one query
    counts_rows = cont.rollup("source_table", "turn_column").agg(F.countDistinct("doc_id").alias("n")).collect()
    flagged = {(r["source_table"], r["turn_column"]): r["n"] for r in counts_rows if r["turn_column"] is not None}
    examples = {r["source_table"]: r["n"] for r in counts_rows
                if r["source_table"] is not None and r["turn_column"] is None}  # fmt: skip
    stats.rows_rejected = sum(examples.values())  # flagged, kept in their tables; the select step drops them
    stats.rows_out = stats.rows_in - stats.rows_rejected
    stats.by_reason = {f"contaminated:{t}": n for t, n in sorted(examples.items())}
    stats.extra = {
        "mode": cfg.mode,
        "inputs": counts,
        "contamination_rows": written,
        "flagged_by_turn_column": {f"{t}.{c}": n for (t, c), n in sorted(flagged.items())},
        "candidates": found.candidates,
        "benchmark_substrings": found.benchmark_substrings,
        "broadcast": found.broadcast,
    }
    stats.seconds = time.time() - started
    stats.check()
    log.info("posttrain contamination (%s): %s of %s flagged", cfg.mode, examples, counts)
    return stats


def run_stage(spark: SparkSession, workdir: str, cfg: DecontaminateConfig) -> StageStats:
    """Build (or reuse) the benchmark index from ``decontaminate.benchmarks``, then flag the turns."""
    started = time.time()
    index = ensure_index(spark, workdir, cfg)
    stats = run(spark, workdir, cfg)
    stats.extra.update(index)
    stats.seconds = time.time() - started
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run_stage(ctx.spark, ctx.workdir, ctx.cfg.decontaminate)


def _enabled(cfg) -> str | None:
    if not cfg.posttrain.sources:
        return "posttrain.sources is empty"
    return None if cfg.decontaminate.benchmarks else "decontaminate.benchmarks is empty"


JOB = Job(
    name="posttrain_decontaminate",
    run=run_job,
    summary="Flag conversations and preference pairs with a benchmark substring in any turn (prompts, responses, "
    "chosen and rejected), by the pretraining method and index: -> contamination (source_table, turn).",
    reads=("conversations", "preference_pairs", "benchmarks"),
    # its own rows of the contamination table (source_table != documents): pretraining's select does not wait on it
    writes=("benchmark_examples", "benchmark_substrings", "posttrain_contamination"),
    section="decontaminate",
    command="posttrain decontaminate",
    enabled=_enabled,
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_decontaminate")
