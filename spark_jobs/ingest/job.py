"""Ingest: source files → Delta ``raw_documents`` + ``quarantine``.

Files are listed and read through Spark's ``binaryFile`` source (so any Hadoop file system
works: local, s3, dbfs), parsed in a vectorised ``mapInArrow`` by the pure readers of
:mod:`spark_jobs.ingest.readers`, and MERGEd on ``doc_id`` so that re-ingesting the same input
changes nothing. Every record read is either accepted or quarantined with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlparse

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from core import storage
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.ingest.readers import read_file
from spark_jobs.ingest.records import Accepted, doc_id, record_sha1

log = logging.getLogger("moru.ingest")

PARSED_SCHEMA = (
    "kind STRING, doc_id STRING, source STRING, source_file STRING, record_index BIGINT, "
    "record_key STRING, text STRING, url STRING, metadata MAP<STRING, STRING>, "
    "record_sha1 STRING, reason STRING, detail STRING, raw_payload STRING, payload_bytes BIGINT"
)
_ARROW_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("record_index", pa.int64()),
        ("record_key", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("metadata", pa.map_(pa.string(), pa.string())),
        ("record_sha1", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_payload", pa.string()),
        ("payload_bytes", pa.int64()),
    ]
)


def _root_path(uri: str) -> str:
    """The folder part of a source path that relative file names are taken against."""
    path = urlparse(uri).path if "://" in uri or uri.startswith("file:") else uri
    for i, ch in enumerate(path):
        if ch in "*?[{":
            return path[: path.rfind("/", 0, i) + 1]
    return path


def relative_name(file_uri: str, root: str) -> str:
    path = urlparse(file_uri).path
    root = root.rstrip("/")
    if root and path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return path.rsplit("/", 1)[-1]


LIGHT_COLUMNS = ("kind", "source", "reason", "doc_id", "source_file", "record_index")
LIGHT_SCHEMA = "kind STRING, source STRING, reason STRING, doc_id STRING, source_file STRING, record_index BIGINT"


def _local_file_bytes(file_uri: str) -> bytes:
    """Read a ``file:`` URI listed by Spark (percent-encoded) straight from the local disk."""
    parsed = urlparse(file_uri)
    with open(unquote(parsed.path), "rb") as fh:
        return fh.read()


def make_parser(src: SourceConfig, cfg: IngestConfig, root: str, light: bool = False):
    """The mapInArrow function for one source: batches of (path[, content]) → parsed records
    (``light``: only the LIGHT_COLUMNS, so no text crosses back into the JVM for counting).
    Without a ``content`` column the worker reads each (local) file itself."""
    schema = pa.schema([_ARROW_SCHEMA.field(name) for name in LIGHT_COLUMNS]) if light else _ARROW_SCHEMA

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cols: dict[str, list] = {name: [] for name in _ARROW_SCHEMA.names}

        def flush() -> pa.RecordBatch:
            out = pa.RecordBatch.from_pydict({name: cols[name] for name in schema.names}, schema=schema)
            for v in cols.values():
                v.clear()
            return out

        for batch in batches:
            paths = batch.column("path").to_pylist()
            contents = batch.column("content") if "content" in batch.schema.names else None
            for i, path in enumerate(paths):
                data = contents[i].as_py() if contents is not None else _local_file_bytes(path)
                rel = relative_name(path, root)
                for rec in read_file(rel, data, src, cfg):
                    cols["source"].append(src.name)
                    cols["source_file"].append(rel)
                    cols["record_index"].append(rec.record_index)
                    if isinstance(rec, Accepted):
                        cols["kind"].append("doc")
                        cols["doc_id"].append(doc_id(src.name, rec.record_key))
                        cols["record_key"].append(rec.record_key)
                        cols["text"].append(rec.text)
                        cols["url"].append(rec.url)
                        cols["metadata"].append(rec.metadata)
                        cols["record_sha1"].append(None if light else record_sha1(rec.text, rec.url, rec.metadata))
                        for name in ("reason", "detail", "raw_payload", "payload_bytes"):
                            cols[name].append(None)
                    else:
                        cols["kind"].append("rejected")
                        for name in ("doc_id", "record_key", "text", "url", "metadata", "record_sha1"):
                            cols[name].append(None)
                        cols["reason"].append(rec.reason)
                        cols["detail"].append(rec.detail[:1000])
                        cols["raw_payload"].append(
                            rec.payload[: cfg.payload_max_bytes].decode("utf-8", "backslashreplace")
                        )
                        cols["payload_bytes"].append(len(rec.payload))
                    if len(cols["kind"]) >= cfg.records_per_batch:
                        yield flush()
        if cols["kind"]:
            yield flush()

    return parse


def _list_files(spark: SparkSession, src: SourceConfig) -> DataFrame:
    """The source's files as (path, content), or as (path) alone for local sources: Spark's
    binaryFile source reads no bytes when ``content`` is not selected, and a Python worker on the
    same machine opens the file itself, which spares the JVM a copy of every byte (twice: into
    its row, then into Arrow) and the transfer over the worker's socket. Remote sources (s3,
    dbfs, hdfs) are always read by Spark."""
    from pyspark.errors import AnalysisException

    columns = ["path"] if not storage.is_remote(src.path) else ["path", "content"]
    try:
        return (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(storage.to_spark_path(src.path))
            .select(*columns)
        )
    except AnalysisException as exc:
        raise FileNotFoundError(f"source {src.name!r}: cannot read path {src.path!r}: {exc}") from None


def parse_sources(
    spark: SparkSession, sources: list[SourceConfig], cfg: IngestConfig, light: bool = False
) -> DataFrame:
    parts = []
    for src in sources:
        root = _root_path(storage.to_spark_path(src.path))
        parts.append(
            _list_files(spark, src).mapInArrow(
                make_parser(src, cfg, root, light), LIGHT_SCHEMA if light else PARSED_SCHEMA
            )
        )
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def run(spark: SparkSession, workdir: str, sources: list[SourceConfig], cfg: IngestConfig | None = None) -> StageStats:
    cfg = cfg or IngestConfig()
    if not sources:
        raise ValueError("config error: sources: at least one source is needed")
    started = time.time()
    # each input row is a whole file: hand them to Python one at a time (for every pass below)
    # and split the files into several tasks per core: Spark's default packs files into splits of
    # up to 128 MB, which on a small machine leaves e.g. 3 tasks for 2 cores (the last one runs
    # alone) and, through the files written, the same imbalance for every later stage
    settings = {
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1",
        "spark.sql.files.minPartitionNum": str(cfg.tasks_per_core * spark.sparkContext.defaultParallelism),
    }
    from spark_jobs.session import session_conf

    with session_conf(spark, settings):
        stats = _ingest(spark, workdir, sources, cfg)
    stats.seconds = time.time() - started
    stats.check()
    log.info("ingest: read=%d accepted=%d quarantined=%d", stats.rows_in, stats.rows_out, stats.rows_rejected)
    return stats


def _ingest(spark: SparkSession, workdir: str, sources: list[SourceConfig], cfg: IngestConfig) -> StageStats:
    """Three passes over the parsed records instead of caching them: parsing is cheap next to
    caching whole texts, and the passes that move text (accepted, rejected) run once each."""
    parsed = parse_sources(spark, sources, cfg)
    is_doc = F.col("kind") == "doc"
    # pass 1: every record without its text, cached: counts per reason, and key collisions
    light = parse_sources(spark, sources, cfg, light=True).persist(StorageLevel.MEMORY_AND_DISK)
    counts = light.groupBy("source", "kind", "reason").count().collect()
    # the first record of a key wins; later ones are quarantined, never silently merged
    w = Window.partitionBy("doc_id").orderBy("source_file", "record_index")
    dup_keys = (
        light.filter(is_doc)
        .withColumn("rank", F.row_number().over(w))
        .filter(F.col("rank") > 1)
        .select("doc_id", "source_file", "record_index", "source")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    dup_counts = {r["source"]: r["count"] for r in dup_keys.groupBy("source").count().collect()}
    light.unpersist()

    stats = StageStats("ingest")
    for row in counts:
        n = row["count"]
        per_source = stats.by_source.setdefault(row["source"], {"read": 0, "accepted": 0, "quarantined": 0})
        per_source["read"] += n
        stats.rows_in += n
        if row["kind"] == "doc":
            per_source["accepted"] += n
            stats.rows_out += n
        else:
            per_source["quarantined"] += n
            stats.rows_rejected += n
            stats.by_reason[row["reason"]] = stats.by_reason.get(row["reason"], 0) + n
    n_dups = sum(dup_counts.values())
    for source, n in dup_counts.items():
        stats.by_source[source]["accepted"] -= n
        stats.by_source[source]["quarantined"] += n
    if n_dups:
        stats.rows_out -= n_dups
        stats.rows_rejected += n_dups
        stats.by_reason["duplicate_record_key"] = n_dups
    key = ["doc_id", "source_file", "record_index"]
    dup_side = F.broadcast(dup_keys.drop("source")) if n_dups <= 1_000_000 else dup_keys.drop("source")

    # pass 2: accepted records into raw_documents
    docs = parsed.filter(is_doc)
    if n_dups:
        docs = docs.join(dup_side, key, "left_anti")
    accepted = docs.select(
        "doc_id", "source", "record_key", "source_file", "record_index", "text", "url", "metadata",
        F.octet_length("text").cast("int").alias("text_bytes"),
        "record_sha1", F.current_timestamp().alias("ingested_at"),
    )  # fmt: skip
    tables.merge(spark, accepted, workdir, tables.RAW_DOCUMENTS, changed=["record_sha1", "source_file", "record_index"])

    # pass 3: rejected records (and the losers of key collisions) into quarantine
    if stats.rows_rejected:
        rejected = parsed.filter(~is_doc).select(
            "source", "source_file", "record_index", "reason", "detail", "raw_payload", "payload_bytes"
        )
        if n_dups:
            dups = parsed.filter(is_doc).join(dup_side, key, "left_semi").select(
                "source", "source_file", "record_index", F.lit("duplicate_record_key").alias("reason"),
                F.concat(F.lit("same key as an earlier record: "), F.col("record_key")).alias("detail"),
                F.substring(F.col("text"), 1, cfg.payload_max_bytes).alias("raw_payload"),
                F.octet_length("text").cast("long").alias("payload_bytes"),
            )  # fmt: skip
            rejected = rejected.unionByName(dups)
        write_quarantine(spark, rejected, workdir, "ingest")
    dup_keys.unpersist()
    return stats


def write_quarantine(spark: SparkSession, rejected: DataFrame, workdir: str, stage: str) -> None:
    """MERGE rejections into ``quarantine``; the id is stable so re-runs add no duplicate rows.

    ``rejected`` has source, source_file, record_index, reason, detail, raw_payload,
    payload_bytes and, for stages after ingest, doc_id and input_fingerprint.
    """
    for name in ("doc_id", "input_fingerprint"):
        if name not in rejected.columns:
            rejected = rejected.withColumn(name, F.lit(None).cast("string"))
    key = F.concat_ws("\x1f", F.lit(stage), "source", "source_file", "record_index", "reason")
    rows = rejected.select(
        F.substring(F.sha2(key, 256), 1, 32).alias("quarantine_id"),
        F.lit(stage).alias("stage"),
        "source",
        "source_file",
        "record_index",
        "reason",
        "detail",
        "raw_payload",
        "payload_bytes",
        "doc_id",
        "input_fingerprint",
        F.current_timestamp().alias("quarantined_at"),
    )
    tables.merge(spark, rows, workdir, tables.QUARANTINE, changed=["input_fingerprint"])
