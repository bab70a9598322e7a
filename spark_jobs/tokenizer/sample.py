"""Drawing the tokenizer's training sample and held-out documents from a Delta table, stratified by language.

How documents are chosen is :mod:`tokenizer.sample`'s (a hash of doc_id gives each document u in [0, 1); the
held-out range and the per-stratum thresholds on u); here Spark computes u, the bytes per stratum (one
aggregation) and writes the chosen documents as Parquet, Korean text MeCab-marked in the workers
(``mapInArrow``), so the driver only streams ``train_text`` into the BPE trainer.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from core import storage
from spark_jobs import tables
from tokenizer.config import SampleConfig
from tokenizer.sample import SAMPLE_COLUMNS, SampleStats, holdout_groups, plan

log = logging.getLogger(__name__)

_TWO63 = float(2**63)
_NAMES = {"ko": "Korean", "en": "English"}
_SAMPLE_DDL = "doc_id STRING, group STRING, n_bytes INT, train_text STRING"


def _uniform(col_doc_id: str, seed: int) -> Column:
    # xxhash64 of (doc_id, seed) as an unsigned 63-bit number scaled to [0, 1)
    return (F.xxhash64(col_doc_id, F.lit(seed)).bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)).cast("double")) / F.lit(_TWO63)


def _stratified(spark: SparkSession, workdir: str, cfg: SampleConfig) -> DataFrame:
    """The sampled table's Korean, English and ``other_langs`` documents with their stratum (``group``: ko, en or
    the lang value) and ``u``."""
    table = tables.TRAINING_CORPUS if cfg.table == "training_corpus" else tables.DOCUMENTS
    if not tables.exists(spark, workdir, table):
        raise FileNotFoundError(
            f"no {table.name} table under {workdir}/tables (run the pipeline first, or set tokenizer.sample.table)"
        )
    df = tables.read(spark, workdir, table).select("doc_id", "lang", "text", "n_bytes")
    group = F.when(F.col("lang").isin(cfg.korean_langs), F.lit("ko")).when(
        F.col("lang").isin(cfg.english_langs), F.lit("en")
    )
    for lang in sorted(cfg.other_langs):  # each its own stratum, named by its lang value
        group = group.when(F.col("lang") == lang, F.lit(lang))
    group = group.otherwise(F.lit(None))
    df = df.withColumn("group", group).filter(F.col("group").isNotNull())
    return df.withColumn("u", _uniform("doc_id", cfg.seed))


def _strata(df: DataFrame, keep: float) -> dict[str, dict[str, int]]:
    """Bytes and documents per stratum outside (``bytes``, ``docs``) and inside (``held_bytes``, ``held_docs``)
    the held-out range u >= ``keep``: one aggregation."""
    held = F.col("u") >= F.lit(keep)
    rows = (
        df.groupBy("group")
        .agg(
            F.sum(F.when(~held, F.col("n_bytes"))).alias("bytes"),
            F.count(F.when(~held, True)).alias("docs"),
            F.sum(F.when(held, F.col("n_bytes"))).alias("held_bytes"),
            F.count(F.when(held, True)).alias("held_docs"),
        )
        .collect()
    )  # one row per stratum
    return {r["group"]: {k: int(r[k] or 0) for k in ("bytes", "docs", "held_bytes", "held_docs")} for r in rows}


def _held_out(strata: dict[str, dict[str, int]], keep: float) -> tuple[Column, list[str]]:
    """The held-out condition and notes on strata that keep none (all their documents are in its range)."""
    groups = holdout_groups({g: s["bytes"] for g, s in strata.items()}, {g: s["held_bytes"] for g, s in strata.items()})
    notes = [
        f"all {strata[g]['held_docs']} {_NAMES.get(g, g)} documents hash into the held-out range: "
        "they are trained on and none is held out"
        for g in sorted(set(strata) - groups)
    ]
    return (F.col("u") >= F.lit(keep)) & F.col("group").isin(sorted(groups)), notes


def _marker(mecab: bool | tuple[str, ...]):
    """Arrow batches (doc_id, group, n_bytes, text) -> (doc_id, group, n_bytes, train_text)."""

    def run(batches):
        import pyarrow as pa

        from tokenizer.sample import train_text

        for batch in batches:
            texts = batch.column("text").to_pylist()
            groups = batch.column("group").to_pylist()
            out = [train_text(t, g, mecab) for t, g in zip(texts, groups, strict=True)]
            yield pa.RecordBatch.from_arrays(
                [batch.column("doc_id"), batch.column("group"), batch.column("n_bytes"), pa.array(out, pa.string())],
                names=list(SAMPLE_COLUMNS),
            )

    return run


def sample(
    spark: SparkSession,
    workdir: str,
    cfg: SampleConfig,
    out_uri: str,
    *,
    korean_share: float,
    total_bytes: int,
    mecab: bool | tuple[str, ...] = True,
) -> SampleStats:
    """Write a training sample of about ``total_bytes`` with ``korean_share`` of its Korean + English bytes Korean
    and ``cfg.other_langs``' shares of its bytes from those languages to
    ``out_uri`` (Parquet: doc_id, group, n_bytes, train_text) and return what it holds. The share wins over the
    size (see :func:`tokenizer.sample.plan`); held-out documents are never taken."""
    df = _stratified(spark, workdir, cfg)
    keep = 1.0 - cfg.holdout_fraction
    strata = _strata(df, keep)
    held, notes = _held_out(strata, keep)
    available = {g: s["bytes"] + (0 if s["bytes"] else s["held_bytes"]) for g, s in strata.items()}
    for g in ("ko", "en"):
        if available.get(g, 0) == 0:
            raise ValueError(
                f"no {_NAMES[g]} documents to sample in {cfg.table} "
                f"(lang in {cfg.korean_langs if g == 'ko' else cfg.english_langs})"
            )
    other = {g: share for g, share in cfg.other_langs.items() if available.get(g, 0) > 0}
    for g in sorted(set(cfg.other_langs) - set(other)):
        notes.append(
            f"no {g} documents in {cfg.table}: its byte share ({cfg.other_langs[g]}) goes to Korean and English"
        )
        log.warning("tokenizer sample: %s", notes[-1])
    stats = SampleStats(out_uri, korean_share, total_bytes, available_bytes=available, notes=notes)
    chosen = plan(
        {g: available[g] for g in ("ko", "en", *other)},
        {g: keep if strata[g]["bytes"] else 1.0 for g in available},
        korean_share,
        total_bytes,
        other,
    )
    limit = F.lit(None).cast("double")
    for g, threshold in chosen.thresholds.items():
        limit = F.when(F.col("group") == g, F.lit(threshold)).otherwise(limit)
    out = df.filter(~held & (F.col("u") < limit)).select("doc_id", "group", "n_bytes", "text")
    out.mapInArrow(_marker(mecab), _SAMPLE_DDL).write.mode("overwrite").parquet(storage.to_spark_path(out_uri))
    written = spark.read.parquet(storage.to_spark_path(out_uri))
    for r in written.groupBy("group").agg(F.sum("n_bytes").alias("b"), F.count("*").alias("n")).collect():
        stats.bytes[r["group"]] = int(r["b"])
        stats.docs[r["group"]] = int(r["n"])
    log.info("tokenizer sample %s: %s", out_uri, stats.as_dict())
    return stats


def heldout(spark: SparkSession, workdir: str, cfg: SampleConfig, out_uri: str) -> dict[str, int]:
    """Write the held-out documents (u >= 1 - holdout_fraction; about ``holdout_bytes`` per language at most,
    by a second hash) to ``out_uri`` (Parquet: doc_id, group, text); return documents per language (none when
    the split is empty: a folder with no rows is still written, so the evaluation can tell it from no run)."""
    df = _stratified(spark, workdir, cfg)
    keep = 1.0 - cfg.holdout_fraction
    strata = _strata(df, keep)
    held, _notes = _held_out(strata, keep)
    frac = {g: min(1.0, cfg.holdout_bytes / s["held_bytes"]) if s["held_bytes"] else 0.0 for g, s in strata.items()}
    v = _uniform("doc_id", cfg.seed + 1)
    cond = F.lit(False)
    for g, f in frac.items():
        cond = cond | ((F.col("group") == g) & (v < F.lit(f)))
    df.filter(held & cond).select("doc_id", "group", "text").write.mode("overwrite").parquet(
        storage.to_spark_path(out_uri)
    )
    written = spark.read.parquet(storage.to_spark_path(out_uri))
    return {r["group"]: int(r["n"]) for r in written.groupBy("group").agg(F.count("*").alias("n")).collect()}
