"""Quality signals job: Delta ``documents`` → Delta ``quality_signals`` (numbers only, no thresholds).

The kernels are :mod:`quality.signals` (Gopher quality and repetition, C4, FineWeb, Korean), run
over Arrow batches with ``mapInArrow``. With a trained fastText quality classifier
(:mod:`quality.classifier`, ``moru quality train``) its probability of the positive class is one
more signal, ``fasttext_quality`` (null without a model); the model is loaded once per Python
worker (local runs read it in place; on a cluster it is shipped to the executors with
``SparkContext.addFile`` under a content-addressed name). Incremental: a document is (re)scored
only when its text version (raw record + normalization), the signals' definitions or the
classifier model changed (``input_hash``); documents gone from ``documents`` lose their row.
Counts: rows in (new or changed documents) = rows written; the rest are unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core import locations, storage
from core.job import Job, JobContext
from core.stats import StageStats
from quality.classifier import ClassifierConfig, file_sha256
from quality.classifier import score as classifier_score
from quality.signals.compute import SIGNAL_NAMES, SIGNALS_VERSION, signals_batch
from spark_jobs import tables
from spark_jobs.dedup.exact import text_version

log = logging.getLogger("moru.signals")
CLASSIFIER_SIGNAL = "fasttext_quality"
_COLUMNS = ["doc_id", "input_hash", *SIGNAL_NAMES, CLASSIFIER_SIGNAL]
_OUT_DDL = "doc_id STRING, input_hash BIGINT, " + ", ".join(f"{n} DOUBLE" for n in (*SIGNAL_NAMES, CLASSIFIER_SIGNAL))


def default_model_path(workdir: str) -> str:
    return locations.classifier_model(workdir)


def model_path(workdir: str, cfg: ClassifierConfig) -> str:
    return cfg.model_path or default_model_path(workdir)


def input_hash(model_sha: str = ""):
    return F.xxhash64(text_version(), F.lit(SIGNALS_VERSION), F.lit(model_sha))


def _mapper(model: tuple[str, str, int] | None):
    """The function mapInArrow runs: the heuristic signals, and the classifier's score when
    ``model`` = (path or SparkFiles name, sha256, max tokens) is given."""

    def run_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        path = None
        if model is not None:
            path = model[0]
            if not path.startswith("/"):  # shipped with addFile: resolve on this executor
                from pyspark import SparkFiles

                path = SparkFiles.get(path)
        for batch in batches:
            texts = batch.column("text").to_pylist()
            cols = signals_batch(texts, batch.column("lang").to_pylist())
            arrays = [batch.column("doc_id"), batch.column("input_hash")]
            arrays += [pa.array(cols[name], type=pa.float64()) for name in SIGNAL_NAMES]
            if path is None:
                arrays.append(pa.nulls(len(texts), type=pa.float64()))
            else:
                arrays.append(pa.array(classifier_score(texts, path, model[2], model[1]), type=pa.float64()))
            yield pa.RecordBatch.from_arrays(arrays, names=_COLUMNS)

    return run_batches


def compute(docs: DataFrame, model: tuple[str, str, int] | None = None) -> DataFrame:
    """Signals of ``docs`` (columns doc_id, text, lang, raw_sha1, normalize_fingerprint)."""
    todo = docs.select("doc_id", "text", "lang", input_hash(model[1] if model else "").alias("input_hash"))
    return todo.mapInArrow(_mapper(model), _OUT_DDL)


def resolve_model(spark: SparkSession, workdir: str, cfg: ClassifierConfig) -> tuple[str, str, int] | None:
    """(path the workers open, sha256, max tokens) of the trained classifier, or None when there
    is none (or scoring is off). Local runs open the file in place; otherwise a copy named by
    its hash is added to the SparkContext, so a retrained model is never served from a stale copy."""
    if not cfg.score:
        return None
    path = model_path(workdir, cfg)
    if not storage.exists(path):
        return None
    local = storage.local_path(path)
    if local is not None and spark.sparkContext.master.startswith("local"):
        return (str(local), file_sha256(local), cfg.max_tokens)
    data = storage.read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    name = f"quality-{sha[:16]}.bin"
    shipped = storage.join(locations.models(workdir), "by_hash", name)
    if not storage.exists(shipped):
        storage.write_bytes(shipped, data)
    spark.sparkContext.addFile(storage.to_spark_path(shipped))
    return (name, sha, cfg.max_tokens)


def _ensure_classifier_column(spark: SparkSession, workdir: str) -> None:
    """Tables written before the classifier signal existed get its (nullable) column."""
    if tables.exists(spark, workdir, tables.QUALITY_SIGNALS):
        cols = tables.read(spark, workdir, tables.QUALITY_SIGNALS).columns
        if CLASSIFIER_SIGNAL not in cols:
            uri = tables.table_uri(workdir, tables.QUALITY_SIGNALS)
            spark.sql(f"ALTER TABLE delta.`{uri}` ADD COLUMNS ({CLASSIFIER_SIGNAL} DOUBLE)")


def run(spark: SparkSession, workdir: str, classifier: ClassifierConfig | None = None) -> StageStats:
    started = time.time()
    stats = StageStats("signals")
    model = resolve_model(spark, workdir, classifier or ClassifierConfig())
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    todo = docs
    _ensure_classifier_column(spark, workdir)
    if tables.exists(spark, workdir, tables.QUALITY_SIGNALS):
        done = tables.read(spark, workdir, tables.QUALITY_SIGNALS).select("doc_id", "input_hash")
        todo = docs.withColumn("input_hash", input_hash(model[1] if model else "")).join(
            done, ["doc_id", "input_hash"], "left_anti"
        )
    n_docs = docs.count()
    n_todo = todo.count()
    written = tables.merge(spark, compute(todo, model), workdir, tables.QUALITY_SIGNALS, changed=["input_hash"])
    # documents no longer in `documents` (their text normalized to nothing, or were removed)
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, tables.table_uri(workdir, tables.QUALITY_SIGNALS)).alias("t").merge(
        docs.select("doc_id").alias("s"), "t.doc_id = s.doc_id"
    ).whenNotMatchedBySourceDelete().execute()
    stats.rows_in = n_todo
    stats.rows_out = written["inserted"] + written["updated"]
    stats.rows_unchanged = n_docs - n_todo
    stats.extra = {"classifier_sha256": model[1] if model else None}
    stats.seconds = time.time() - started
    stats.check()  # every document to score was written
    log.info("signals: in=%d scored=%d unchanged=%d", stats.rows_in, stats.rows_out, stats.rows_unchanged)
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.quality.classifier)


JOB = Job(
    name="signals",
    run=run_job,
    summary="Quality signals (Gopher, C4, FineWeb, Korean, and the classifier's score when trained): documents -> "
    "quality_signals (incremental: only new or changed documents are scored).",
    reads=("documents", "file:classifier_model"),
    writes=("quality_signals",),
    section="quality",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("signals")
