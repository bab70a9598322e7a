"""Quality signals job: Delta ``documents`` → Delta ``quality_signals`` (numbers only, no thresholds).

The kernels are :mod:`quality.signals` (Gopher quality and repetition, C4, FineWeb, Korean), run
over Arrow batches with ``mapInArrow``. Incremental: a document is (re)scored only when its text
version (raw record + normalization) or the signals' definitions changed (``input_hash``);
documents gone from ``documents`` lose their row. Counts: rows in (new or changed documents) =
rows written; the rest are unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.signals.compute import SIGNAL_NAMES, SIGNALS_VERSION, signals_batch
from spark_jobs import tables
from spark_jobs.dedup.exact import text_version
from spark_jobs.stats import StageStats

log = logging.getLogger("moru.signals")
_OUT_DDL = "doc_id STRING, input_hash BIGINT, " + ", ".join(f"{n} DOUBLE" for n in SIGNAL_NAMES)


def input_hash():
    return F.xxhash64(text_version(), F.lit(SIGNALS_VERSION))


def _mapper(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        cols = signals_batch(batch.column("text").to_pylist(), batch.column("lang").to_pylist())
        arrays = [batch.column("doc_id"), batch.column("input_hash")]
        arrays += [pa.array(cols[name], type=pa.float64()) for name in SIGNAL_NAMES]
        yield pa.RecordBatch.from_arrays(arrays, names=["doc_id", "input_hash", *SIGNAL_NAMES])


def compute(docs: DataFrame) -> DataFrame:
    """Signals of ``docs`` (columns doc_id, text, lang, raw_sha1, normalize_fingerprint)."""
    todo = docs.select("doc_id", "text", "lang", input_hash().alias("input_hash"))
    return todo.mapInArrow(_mapper, _OUT_DDL)


def run(spark: SparkSession, workdir: str) -> StageStats:
    started = time.time()
    stats = StageStats("signals")
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    todo = docs
    if tables.exists(spark, workdir, tables.QUALITY_SIGNALS):
        done = tables.read(spark, workdir, tables.QUALITY_SIGNALS).select("doc_id", "input_hash")
        todo = docs.withColumn("input_hash", input_hash()).join(done, ["doc_id", "input_hash"], "left_anti")
    n_docs = docs.count()
    n_todo = todo.count()
    written = tables.merge(spark, compute(todo), workdir, tables.QUALITY_SIGNALS, changed=["input_hash"])
    # documents no longer in `documents` (their text normalized to nothing, or were removed)
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, tables.table_uri(workdir, tables.QUALITY_SIGNALS)).alias("t").merge(
        docs.select("doc_id").alias("s"), "t.doc_id = s.doc_id"
    ).whenNotMatchedBySourceDelete().execute()
    stats.rows_in = n_todo
    stats.rows_out = written["inserted"] + written["updated"]
    stats.rows_unchanged = n_docs - n_todo
    stats.seconds = time.time() - started
    stats.check()  # every document to score was written
    log.info("signals: in=%d scored=%d unchanged=%d", stats.rows_in, stats.rows_out, stats.rows_unchanged)
    return stats


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    from spark_jobs.config import load_jobs_config
    from spark_jobs.session import build_session

    parser = argparse.ArgumentParser(description="moru signals: documents -> quality_signals")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    cfg = load_jobs_config(args.config)
    print(json.dumps(run(build_session(cfg.spark), cfg.workdir).as_dict(), indent=2, default=str))


if __name__ == "__main__":
    main()
