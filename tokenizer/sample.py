"""Training text for the tokenizer, sampled from a Delta table with Spark, stratified by language.

Every document gets a uniform number u in [0, 1) from a hash of (doc_id, seed). Documents with
u >= 1 - holdout_fraction are held out (never trained on; the compression evaluation reads them).
The rest are split into a Korean and an English stratum by ``lang``; a stratum with A bytes that should
give W bytes keeps the documents with u < (1 - holdout) * W / A. Sampling is therefore deterministic,
needs one aggregation (bytes per stratum) and one filter, and a larger sample contains every smaller one.

Korean documents are MeCab-marked in the workers (``mapInArrow``), so the driver only streams
``train_text`` into the BPE trainer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from tokenizer.config import SampleConfig

log = logging.getLogger(__name__)

_TWO63 = float(2**63)


@dataclass
class SampleStats:
    """What one sampling wrote: bytes and documents per stratum, the shares asked for and obtained."""

    path: str
    korean_share_wanted: float
    bytes_wanted: int
    available_bytes: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    docs: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def korean_share(self) -> float:
        return self.bytes.get("ko", 0) / max(1, self.total_bytes)

    def as_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total_bytes, "korean_share": round(self.korean_share, 4)}


def _uniform(col_doc_id, seed: int):
    from pyspark.sql import functions as F

    # xxhash64 of (doc_id, seed) as an unsigned 63-bit number scaled to [0, 1)
    return (F.xxhash64(col_doc_id, F.lit(seed)).bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)).cast("double")) / F.lit(_TWO63)


def _stratified(spark, workdir: str, cfg: SampleConfig):
    from pyspark.sql import functions as F

    from spark_jobs import tables

    table = tables.TRAINING_CORPUS if cfg.table == "training_corpus" else tables.DOCUMENTS
    if not tables.exists(spark, workdir, table):
        raise FileNotFoundError(
            f"no {table.name} table under {workdir}/tables (run the pipeline first, or set tokenizer.sample.table)"
        )
    df = tables.read(spark, workdir, table).select("doc_id", "lang", "text", "n_bytes")
    group = (
        F.when(F.col("lang").isin(cfg.korean_langs), F.lit("ko"))
        .when(F.col("lang").isin(cfg.english_langs), F.lit("en"))
        .otherwise(F.lit(None))
    )
    df = df.withColumn("group", group).filter(F.col("group").isNotNull())
    return df.withColumn("u", _uniform("doc_id", cfg.seed))


_SAMPLE_DDL = "doc_id STRING, group STRING, n_bytes INT, train_text STRING"


def _marker(mecab: bool):
    """Arrow batches (doc_id, group, n_bytes, text) -> (doc_id, group, n_bytes, train_text): Korean text
    MeCab-marked (when ``mecab``), every other text with stray marks removed."""

    def run(batches):
        import pyarrow as pa

        from tokenizer.mecab import MARK, mark_boundaries

        for batch in batches:
            texts = batch.column("text").to_pylist()
            groups = batch.column("group").to_pylist()
            out = [
                mark_boundaries(t) if mecab and g == "ko" else t.replace(MARK, "")
                for t, g in zip(texts, groups, strict=True)
            ]
            yield pa.RecordBatch.from_arrays(
                [batch.column("doc_id"), batch.column("group"), batch.column("n_bytes"), pa.array(out, pa.string())],
                names=["doc_id", "group", "n_bytes", "train_text"],
            )

    return run


def sample(
    spark,
    workdir: str,
    cfg: SampleConfig,
    out_uri: str,
    *,
    korean_share: float,
    total_bytes: int,
    mecab: bool = True,
) -> SampleStats:
    """Write a training sample of about ``total_bytes`` with ``korean_share`` of its bytes Korean to
    ``out_uri`` (Parquet: doc_id, group, n_bytes, train_text) and return what it holds. The share wins over the
    size: when a stratum has fewer bytes than its share of ``total_bytes``, it is taken whole and the other is
    cut to keep the share, so the sample is smaller than asked (a warning says so; the stats show it)."""
    from pyspark.sql import functions as F

    from core import storage

    df = _stratified(spark, workdir, cfg)
    keep = 1.0 - cfg.holdout_fraction
    eligible = df.filter(F.col("u") < F.lit(keep))
    per_group = eligible.groupBy("group").agg(F.sum("n_bytes").alias("b")).collect()
    available = {r["group"]: int(r["b"] or 0) for r in per_group}
    shares = {"ko": korean_share, "en": 1.0 - korean_share}
    stats = SampleStats(out_uri, korean_share, total_bytes, available_bytes={g: available.get(g, 0) for g in shares})
    for g in shares:
        if available.get(g, 0) == 0:
            raise ValueError(
                f"no {'Korean' if g == 'ko' else 'English'} documents to sample in {cfg.table} "
                f"(lang in {cfg.korean_langs if g == 'ko' else cfg.english_langs})"
            )
    # the largest sample with the wanted share that the strata can fill, at most total_bytes
    reachable = min(total_bytes, *(available[g] / share for g, share in shares.items()))
    if reachable < total_bytes:
        short = min(shares, key=lambda g: available[g] / shares[g])
        log.warning(
            "the %s stratum has %s bytes, %s wanted: taking it whole and %s bytes in all to keep the Korean byte "
            "share at %.3f", short, f"{available[short]:,}", f"{int(shares[short] * total_bytes):,}",
            f"{int(reachable):,}", korean_share,
        )  # fmt: skip
    wanted = {g: share * reachable for g, share in shares.items()}
    thresholds = {g: keep * min(1.0, w / available[g]) for g, w in wanted.items()}
    chosen = eligible.filter(
        F.col("u") < F.when(F.col("group") == "ko", F.lit(thresholds["ko"])).otherwise(F.lit(thresholds["en"]))
    )
    out = chosen.select("doc_id", "group", "n_bytes", "text").mapInArrow(_marker(mecab), _SAMPLE_DDL)
    out.write.mode("overwrite").parquet(storage.to_spark_path(out_uri))
    written = spark.read.parquet(storage.to_spark_path(out_uri))
    for r in written.groupBy("group").agg(F.sum("n_bytes").alias("b"), F.count("*").alias("n")).collect():
        stats.bytes[r["group"]] = int(r["b"])
        stats.docs[r["group"]] = int(r["n"])
    log.info("tokenizer sample %s: %s", out_uri, stats.as_dict())
    return stats


def heldout(spark, workdir: str, cfg: SampleConfig, out_uri: str) -> dict[str, int]:
    """Write the held-out documents (u >= 1 - holdout_fraction; about ``holdout_bytes`` per language at most,
    by a second hash) to ``out_uri`` (Parquet: doc_id, group, text); return documents per language."""
    from pyspark.sql import functions as F

    from core import storage

    df = _stratified(spark, workdir, cfg).filter(F.col("u") >= F.lit(1.0 - cfg.holdout_fraction))
    df = df.withColumn("v", _uniform("doc_id", cfg.seed + 1))
    available = {r["group"]: int(r["b"] or 0) for r in df.groupBy("group").agg(F.sum("n_bytes").alias("b")).collect()}
    frac = {g: min(1.0, cfg.holdout_bytes / b) if b else 0.0 for g, b in available.items()}
    cond = F.lit(False)
    for g, f in frac.items():
        cond = cond | ((F.col("group") == g) & (F.col("v") < F.lit(f)))
    df.filter(cond).select("doc_id", "group", "text").write.mode("overwrite").parquet(storage.to_spark_path(out_uri))
    written = spark.read.parquet(storage.to_spark_path(out_uri))
    return {r["group"]: int(r["n"]) for r in written.groupBy("group").agg(F.count("*").alias("n")).collect()}


def iter_column(uri: str, column: str, batch_rows: int = 2048) -> Iterator[str]:
    """Stream one string column of a Parquet folder (local or remote) without loading it whole."""
    import pyarrow.dataset as ds

    from core import storage

    local = storage.local_path(uri)
    source = str(local) if local is not None else uri
    dataset = ds.dataset(source, format="parquet")
    for batch in dataset.to_batches(columns=[column], batch_size=batch_rows):
        yield from batch.column(0).to_pylist()


def count_rows(uri: str) -> int:
    import pyarrow.dataset as ds

    from core import storage

    local = storage.local_path(uri)
    return ds.dataset(str(local) if local is not None else uri, format="parquet").count_rows()
