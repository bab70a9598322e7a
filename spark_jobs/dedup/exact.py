"""Exact dedup: Delta ``documents`` → Delta ``exact_duplicates``.

Every document gets the SHA-1 of its canonical text (:mod:`quality.dedup.canonical`); documents
with the same hash form a group with one keeper (:mod:`spark_jobs.dedup.keepers`). Hashes are
computed only for documents whose text or canonical form changed since the last run; the
grouping is redone over the whole table, so the result is the same as a run from scratch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.dedup.canonical import CanonicalForm, content_hash
from spark_jobs import tables
from spark_jobs.dedup.config import DedupConfig
from spark_jobs.dedup.keepers import pick_keepers

log = logging.getLogger("moru.exact_dedup")


def text_version():
    """Identifies a document's current text: its raw record and the normalization that made it."""
    return F.concat_ws(":", "raw_sha1", "normalize_fingerprint")


_PASS = ["doc_id", "source", "lang", "ingested_at", "text_version"]
_HASHED_DDL = (
    "doc_id STRING, source STRING, lang STRING, ingested_at TIMESTAMP, text_version STRING, content_hash STRING"
)


def _make_hasher(form: CanonicalForm):
    """The other columns passed through next to the hash, so nothing is joined back."""

    def hasher(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hashes = [content_hash(t, form) for t in batch.column("text").to_pylist()]
            arrays = [batch.column(c) for c in _PASS] + [pa.array(hashes, pa.string())]
            yield pa.RecordBatch.from_arrays(arrays, names=[*_PASS, "content_hash"])

    return hasher


def run(spark: SparkSession, workdir: str, cfg: DedupConfig | None = None) -> StageStats:
    cfg = cfg or DedupConfig()
    started = time.time()
    form = cfg.exact.canonical
    form_key = form.key()
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select(
        "doc_id", "source", "lang", "ingested_at", text_version().alias("text_version"), "text"
    )
    stats = StageStats("exact_dedup")
    prev = None
    if tables.exists(spark, workdir, tables.EXACT_DUPLICATES):
        prev = tables.read(spark, workdir, tables.EXACT_DUPLICATES).select(
            "doc_id", "text_version", "canonical_form", "content_hash", F.col("is_keeper").alias("was_keeper")
        )
    if prev is None:
        todo = docs
        reused = None
    else:
        same = prev.filter(F.col("canonical_form") == form_key).select("doc_id", "text_version", "content_hash")
        todo = docs.join(same, ["doc_id", "text_version"], "left_anti")
        reused = docs.drop("text").join(same, ["doc_id", "text_version"])
    fresh = todo.select(*_PASS, "text").mapInArrow(_make_hasher(form), _HASHED_DDL)
    hashes = fresh if reused is None else fresh.unionByName(reused)
    if prev is not None:
        hashes = hashes.join(prev.select("doc_id", "was_keeper"), "doc_id", "left")
    else:
        hashes = hashes.withColumn("was_keeper", F.lit(None).cast("boolean"))
    hashes = hashes.withColumn("was_keeper", F.coalesce("was_keeper", F.lit(False)))
    grouped = pick_keepers(hashes, "content_hash", cfg.source_priority).withColumn("canonical_form", F.lit(form_key))
    written = tables.merge(
        spark, grouped, workdir, tables.EXACT_DUPLICATES,
        changed=["content_hash", "cluster_size", "keeper_doc_id", "is_keeper", "canonical_form", "text_version",
                 "lang", "source"],
        delete_missing=True,
    )  # fmt: skip
    counts = tables.read(spark, workdir, tables.EXACT_DUPLICATES).groupBy("is_keeper").count().collect()
    by = {r["is_keeper"]: r["count"] for r in counts}
    stats.rows_out = by.get(True, 0)
    stats.rows_rejected = by.get(False, 0)
    stats.rows_in = stats.rows_out + stats.rows_rejected
    stats.by_reason = {"exact_duplicate": stats.rows_rejected} if stats.rows_rejected else {}
    stats.extra.update({"canonical_form": form_key, "written": written})
    stats.seconds = time.time() - started
    n_docs = docs.count()
    if n_docs != stats.rows_in:
        raise RuntimeError(f"exact_dedup: documents has {n_docs} rows but exact_duplicates {stats.rows_in}")
    stats.check()
    log.info("exact_dedup: in=%d keepers=%d duplicates=%d", stats.rows_in, stats.rows_out, stats.rows_rejected)
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.dedup)


JOB = Job(
    name="exact_dedup",
    run=run_job,
    summary="Exact dedup, then MinHash-LSH near-duplicate dedup: documents -> exact_duplicates, minhash_signatures, "
    "near_duplicate_clusters (incremental: only new documents are signed).",
    reads=("documents",),
    writes=("exact_duplicates",),
    section="dedup",
    command="dedup",
    enabled=lambda cfg: None if cfg.dedup.exact.enabled else "dedup.exact.enabled is false",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("exact_dedup")
