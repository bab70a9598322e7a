"""MinHash-LSH near-duplicate dedup: exact-dedup keepers → Delta ``minhash_signatures`` →
Delta ``near_duplicate_clusters``.

1. Signatures (:mod:`quality.dedup.minhash`, bit-identical to datasketch) for every exact-dedup
   keeper that has none yet for its current text and shingling settings: old signatures are
   never recomputed, so a new ingest batch costs only its own documents.
2. LSH over all signatures: each signature is cut into ``b`` bands of ``r`` values (derived from
   the threshold, as datasketch does); documents that share a band's bytes are candidates.
   Buckets up to ``all_pairs_bucket_size`` link every pair, larger ones link each member to the
   smallest. With ``verify`` a candidate pair is kept only if its Jaccard reaches the threshold:
   by default the exact Jaccard of the two shingle sets, recomputed for candidates only (the
   signature estimate has a standard error of about 0.035 at 0.8 with 128 permutations, so pairs
   near the threshold would otherwise land on either side by chance). Bands favour recall for
   that reason: a spurious candidate costs one verification, a missed pair is lost.
3. Connected components (:mod:`spark_jobs.dedup.components`) of the kept pairs; a cluster's id
   is its smallest doc_id and its keeper follows :mod:`spark_jobs.dedup.keepers`.

Because 2 and 3 run over the whole signature table, processing a corpus in two batches gives the
same clusters as processing it in one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.dedup.minhash import MinHasher
from quality.dedup.shingles import jaccard, shingles
from spark_jobs import tables
from spark_jobs.dedup.components import connected_components
from spark_jobs.dedup.config import DedupConfig, MinHashConfig
from spark_jobs.dedup.exact import text_version
from spark_jobs.dedup.keepers import pick_keepers

log = logging.getLogger("moru.minhash_dedup")

_PASS = ["doc_id", "source", "lang", "ingested_at", "text_version"]
_SIGNED_DDL = (
    "doc_id STRING, source STRING, lang STRING, ingested_at TIMESTAMP, text_version STRING, "
    "n_shingles INT, signature BINARY"
)


def signature_column(sig: np.ndarray) -> pa.Array:
    """An (n, num_perm) uint32 matrix as a binary column of n little-endian rows, without copying
    row by row."""
    n, p = sig.shape
    data = np.ascontiguousarray(sig, dtype="<u4")
    offsets = np.arange(0, (n + 1) * p * 4, p * 4, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _make_signer(cfg: MinHashConfig):
    def signer(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        hasher = MinHasher(cfg.num_perm, cfg.seed, cfg.scheme)
        kn = cfg.hangul_ngram()
        cjk = cfg.cjk_chars()
        for batch in batches:
            sets = [shingles(t, cfg.ngram, cfg.korean_units, kn, cjk) for t in batch.column("text").to_pylist()]
            sig = hasher.signatures(sets)
            arrays = [batch.column(c) for c in _PASS]
            arrays += [pa.array([len(s) for s in sets], pa.int32()), signature_column(sig)]
            yield pa.RecordBatch.from_arrays(arrays, names=[*_PASS, "n_shingles", "signature"])

    return signer


def _signature_matrix(col: pa.Array) -> np.ndarray:
    return np.frombuffer(b"".join(col.to_pylist()), dtype="<u4")


def _similarity(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Signature Jaccard of columns s1 and s2 (equal-length signatures)."""
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        a = _signature_matrix(batch.column("s1")).reshape(n, -1)
        b = _signature_matrix(batch.column("s2")).reshape(n, -1)
        sim = (a == b).mean(axis=1)
        yield pa.RecordBatch.from_arrays(
            [batch.column("src"), batch.column("dst"), pa.array(sim, pa.float64())], names=["src", "dst", "similarity"]
        )


def _make_exact_similarity(cfg: MinHashConfig):
    """Exact Jaccard of the two documents' shingle sets (columns t1, t2)."""

    def exact(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        kn = cfg.hangul_ngram()
        cjk = cfg.cjk_chars()
        for batch in batches:
            sims = [
                jaccard(
                    shingles(a, cfg.ngram, cfg.korean_units, kn, cjk), shingles(b, cfg.ngram, cfg.korean_units, kn, cjk)
                )
                for a, b in zip(batch.column("t1").to_pylist(), batch.column("t2").to_pylist(), strict=True)
            ]
            yield pa.RecordBatch.from_arrays(
                [batch.column("src"), batch.column("dst"), pa.array(sims, pa.float64())],
                names=["src", "dst", "similarity"],
            )

    return exact


def with_exact_similarity(pairs: DataFrame, docs: DataFrame, cfg: MinHashConfig) -> DataFrame:
    t = docs.select("doc_id", "text")
    joined = pairs.join(t.withColumnRenamed("doc_id", "src").withColumnRenamed("text", "t1"), "src").join(
        t.withColumnRenamed("doc_id", "dst").withColumnRenamed("text", "t2"), "dst"
    )
    return joined.select("src", "dst", "t1", "t2").mapInArrow(
        _make_exact_similarity(cfg), "src STRING, dst STRING, similarity DOUBLE"
    )


def candidate_pairs(sigs: DataFrame, b: int, r: int, all_pairs_bucket_size: int) -> DataFrame:
    """(src, dst) with src < dst for documents that share at least one band."""
    w = 4 * r
    keys = F.array(*[F.substring("signature", i * w + 1, w) for i in range(b)])
    bands = sigs.select("doc_id", F.posexplode(keys).alias("band", "key"))
    buckets = (
        bands.groupBy("band", "key")
        .agg(F.sort_array(F.collect_list("doc_id")).alias("m"))
        .filter(F.size("m") > 1)
        .select("m")
    )
    every_pair = F.expr(
        "flatten(transform(sequence(0, size(m) - 2), "
        "i -> transform(slice(m, i + 2, size(m) - i - 1), x -> named_struct('src', m[i], 'dst', x))))"
    )
    to_smallest = F.expr("transform(slice(m, 2, size(m) - 1), x -> named_struct('src', m[0], 'dst', x))")
    pairs = buckets.select(
        F.explode(F.when(F.size("m") <= all_pairs_bucket_size, every_pair).otherwise(to_smallest)).alias("p")
    )
    return pairs.select("p.src", "p.dst").distinct()


def with_similarity(pairs: DataFrame, sigs: DataFrame) -> DataFrame:
    s = sigs.select("doc_id", "signature")
    joined = pairs.join(s.withColumnRenamed("doc_id", "src").withColumnRenamed("signature", "s1"), "src").join(
        s.withColumnRenamed("doc_id", "dst").withColumnRenamed("signature", "s2"), "dst"
    )
    return joined.select("src", "dst", "s1", "s2").mapInArrow(_similarity, "src STRING, dst STRING, similarity DOUBLE")


def _sign(spark: SparkSession, workdir: str, cfg: DedupConfig, stats: StageStats) -> None:
    """Bring minhash_signatures up to date with the exact-dedup keepers."""
    mh = cfg.minhash
    params = mh.signature_params()
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select(
        "doc_id", "source", "lang", "ingested_at", text_version().alias("text_version"), "text"
    )
    if cfg.exact.enabled and tables.exists(spark, workdir, tables.EXACT_DUPLICATES):
        keepers = tables.read(spark, workdir, tables.EXACT_DUPLICATES).filter("is_keeper").select("doc_id")
        docs = docs.join(keepers, "doc_id", "left_semi")
    if tables.exists(spark, workdir, tables.MINHASH_SIGNATURES):
        old = (
            tables.read(spark, workdir, tables.MINHASH_SIGNATURES)
            .filter(F.col("params") == params)
            .select("doc_id", "text_version", "n_shingles", "signature", "computed_at")
        )
        todo = docs.join(old, ["doc_id", "text_version"], "left_anti")
        reused = docs.drop("text").join(old, ["doc_id", "text_version"])
    else:
        todo, reused = docs, None
    fresh = (
        todo.select(*_PASS, "text")
        .mapInArrow(_make_signer(mh), _SIGNED_DDL)
        .withColumn("computed_at", F.current_timestamp())
    )
    signed = fresh if reused is None else fresh.unionByName(reused)
    signed = signed.select(
        "*",
        F.lit(mh.num_perm).alias("num_perm"),
        F.lit(mh.seed).cast("bigint").alias("seed"),
        F.lit(mh.scheme).alias("scheme"),
        F.lit(params).alias("params"),
    )
    written = tables.merge(
        spark, signed, workdir, tables.MINHASH_SIGNATURES,
        changed=["text_version", "params", "source", "lang", "ingested_at"], delete_missing=True,
    )  # fmt: skip
    stats.extra["signatures_computed"] = written["inserted"] + written["updated"]
    stats.extra["signatures_deleted"] = written["deleted"]


def run(spark: SparkSession, workdir: str, cfg: DedupConfig | None = None) -> StageStats:
    cfg = cfg or DedupConfig()
    mh = cfg.minhash
    started = time.time()
    stats = StageStats("minhash_dedup")
    _sign(spark, workdir, cfg, stats)
    params = mh.signature_params()
    sigs = tables.read(spark, workdir, tables.MINHASH_SIGNATURES)
    b, r = mh.band_rows()
    stats.extra.update({"bands": b, "rows": r, "threshold": mh.threshold, "num_perm": mh.num_perm})

    banded = sigs.filter(F.col("n_shingles") > 0)
    pairs = candidate_pairs(banded, b, r, mh.all_pairs_bucket_size)
    if mh.verify == "exact":
        scored = with_exact_similarity(pairs, tables.read(spark, workdir, tables.DOCUMENTS), mh)
    else:
        scored = with_similarity(pairs, banded)
    scored = scored.persist()
    stats.extra["candidate_pairs"] = scored.count()
    edges = scored.filter(F.col("similarity") >= mh.threshold) if mh.verify != "none" else scored
    components, rounds = connected_components(edges.select("src", "dst"), mh.max_iterations)
    stats.extra["verified_pairs"] = edges.count()
    stats.extra["component_rounds"] = rounds

    members = sigs.select("doc_id", "source", "lang", "ingested_at", "n_shingles").join(
        components.select(F.col("node").alias("doc_id"), F.col("component")), "doc_id", "left"
    )
    members = members.withColumn("cluster_id", F.coalesce("component", "doc_id")).drop("component")
    if tables.exists(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS):
        prev = (
            tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS)
            .filter(F.col("params") == params)
            .select("doc_id", F.col("is_keeper").alias("was_keeper"))
        )
        members = members.join(prev, "doc_id", "left")
    else:
        members = members.withColumn("was_keeper", F.lit(None).cast("boolean"))
    members = members.withColumn("was_keeper", F.coalesce("was_keeper", F.lit(False)))
    clustered = pick_keepers(members, "cluster_id", cfg.source_priority)

    # signature Jaccard to the keeper, for members of clusters with more than one document
    multi = clustered.filter(F.col("cluster_size") > 1).select(
        F.col("doc_id").alias("src"), F.col("keeper_doc_id").alias("dst")
    )
    sims = with_similarity(multi, sigs).select(F.col("src").alias("doc_id"), F.col("similarity"))
    out = clustered.join(sims, "doc_id", "left").select(
        "doc_id", "source", "lang", "cluster_id", "cluster_size", "is_keeper", "keeper_doc_id",
        F.when(F.col("n_shingles") == 0, F.lit(None).cast("double"))
        .otherwise(F.coalesce("similarity", F.lit(1.0))).alias("similarity_to_keeper"),
        "n_shingles", F.lit(params).alias("params"),
    )  # fmt: skip
    tables.merge(
        spark, out, workdir, tables.NEAR_DUPLICATE_CLUSTERS,
        changed=["cluster_id", "cluster_size", "is_keeper", "keeper_doc_id", "similarity_to_keeper", "params",
                 "source", "lang", "n_shingles"],
        delete_missing=True,
    )  # fmt: skip
    scored.unpersist()

    result = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS)
    agg = result.agg(
        F.count("*").alias("n"),
        F.sum(F.col("is_keeper").cast("int")).alias("keepers"),
        F.sum((F.col("n_shingles") == 0).cast("int")).alias("no_shingles"),
        F.countDistinct(F.when(F.col("cluster_size") > 1, F.col("cluster_id"))).alias("clusters"),
    ).head()
    stats.rows_in = agg["n"]
    stats.rows_out = agg["keepers"] or 0
    stats.rows_rejected = stats.rows_in - stats.rows_out
    stats.by_reason = {"near_duplicate": stats.rows_rejected} if stats.rows_rejected else {}
    stats.extra["no_shingles"] = agg["no_shingles"] or 0
    stats.extra["clusters"] = agg["clusters"] or 0
    stats.seconds = time.time() - started
    stats.check()
    log.info("minhash_dedup: in=%d keepers=%d near duplicates=%d (%s)", stats.rows_in, stats.rows_out,
             stats.rows_rejected, stats.extra)  # fmt: skip
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.dedup)


JOB = Job(
    name="minhash_dedup",
    run=run_job,
    summary="MinHash-LSH near-duplicate dedup: documents -> minhash_signatures, near_duplicate_clusters.",
    reads=("documents", "exact_duplicates"),
    writes=("minhash_signatures", "near_duplicate_clusters"),
    section="dedup",
    command="dedup",
    enabled=lambda cfg: None if cfg.dedup.minhash.enabled else "dedup.minhash.enabled is false",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("minhash_dedup")
