"""Ingest: source files → Delta ``raw_documents`` + ``quarantine``.

Every file a source matches is accounted for. The driver lists each source with :func:`core.formats.list_files`
(file names kept exactly, symlinks followed once, cycles cut, hidden and empty files reported): a listed file is
read, and a file not read is in ``stats.extra["skipped_files"]`` with its reason. Only names and sizes reach the
driver; the files are spread over ``ingest.tasks_per_core`` tasks per core, balanced by size, and each task reads
its files itself (local files through the file system, remote ones through pyarrow) and parses them in a
vectorised ``mapInArrow`` with the pure readers of :mod:`spark_jobs.ingest.readers`, which never raise on bad
content. Rows are MERGEd on ``doc_id`` so that re-ingesting the same input changes nothing. Every record read is
either accepted or quarantined with its reason; a file that breaks part-way keeps the records before the damage
and adds one ``corrupt_file`` row; a file that holds no record at all is skipped as ``no_records``.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from core import formats
from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.ingest.readers import Record, read_file
from spark_jobs.ingest.records import Accepted, Rejected, doc_id, record_sha1

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

LIGHT_COLUMNS = ("kind", "source", "reason", "doc_id", "source_file", "record_index")
LIGHT_SCHEMA = "kind STRING, source STRING, reason STRING, doc_id STRING, source_file STRING, record_index BIGINT"

# skipped files kept in the stats (and so in the run manifest) by name; the counts always cover all of them
MAX_SKIPPED_LISTED = 10_000
# why a file is not read, beyond core.formats' listing reasons
SKIP_REASONS = {
    **formats.SKIP_REASONS,
    "no_records": "the file was read but holds no record (only blank lines, an empty archive, WARC request or "
    "metadata records only, an empty compressed stream, a Parquet file without rows)",
    "no_files": "the source's path matches no file",
}


@dataclass(frozen=True)
class SourceFiles:
    """One source's listing: the files to read and the ones skipped with their reasons."""

    source: SourceConfig
    listing: formats.Listing


def list_sources(sources: list[SourceConfig]) -> list[SourceFiles]:
    """Every source's files, listed on the driver (names and sizes only). A path that does not exist raises
    ``FileNotFoundError`` naming the source."""
    out = []
    for src in sources:
        try:
            listing = formats.list_files(src.path, hidden=src.hidden_files)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise FileNotFoundError(f"source {src.name!r}: cannot read path {src.path!r}: {exc}") from None
        out.append(SourceFiles(src, listing))
    return out


def plan_tasks(files: list[tuple[int, formats.ListedFile]], n_tasks: int) -> list[list[tuple[int, str, str]]]:
    """``files`` ((source index, file)) in ``n_tasks`` groups of about equal bytes (largest first, each to the
    lightest group); a group holds (source index, path, relative name)."""
    groups: list[list[tuple[int, str, str]]] = [[] for _ in range(max(1, n_tasks))]
    heap = [(0, i) for i in range(len(groups))]
    for si, f in sorted(files, key=lambda sf: (-sf[1].size, sf[0], sf[1].relpath)):
        total, i = heapq.heappop(heap)
        groups[i].append((si, f.path, f.relpath))
        heapq.heappush(heap, (total + f.size + 4096, i))  # an open costs about as much as a small read
    return groups


def read_listed(src: SourceConfig, path: str, relpath: str, cfg: IngestConfig, remote_fs=None) -> Iterator[Record]:
    """The records of one listed file (``remote_fs``: the pyarrow file system ``path`` is on). A file that
    cannot be opened, or a reader that fails, is one ``corrupt_file`` row after the records read."""
    index = -1
    try:
        if remote_fs is not None:
            with remote_fs.open_input_stream(path, compression=None) as fh:  # our codecs, not pyarrow's
                data = fh.read()
            records = read_file(relpath, data, src, cfg)
            for rec in records:
                index = rec.record_index
                yield rec
            return
        with open(path, "rb") as fh:
            for rec in read_file(relpath, fh, src, cfg):
                index = rec.record_index
                yield rec
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the job
        verb = "cannot be read" if index < 0 else "failed part-way"
        yield Rejected(index + 1, "corrupt_file", f"the file {verb}: {formats.describe(exc)}", b"")


def make_parser(sources: list[SourceConfig], cfg: IngestConfig, groups, light: bool = False):
    """The mapInArrow function: batches of task ids → the parsed records of those tasks' files (``groups``: a
    broadcast of :func:`plan_tasks`' groups). ``light``: only the LIGHT_COLUMNS, so no text crosses back into the
    JVM for counting."""
    schema = pa.schema([_ARROW_SCHEMA.field(name) for name in LIGHT_COLUMNS]) if light else _ARROW_SCHEMA
    remote = [formats.is_remote(src.path) for src in sources]

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cols: dict[str, list] = {name: [] for name in _ARROW_SCHEMA.names}
        filesystems: dict[int, object] = {}

        def flush() -> pa.RecordBatch:
            out = pa.RecordBatch.from_pydict({name: cols[name] for name in schema.names}, schema=schema)
            for v in cols.values():
                v.clear()
            return out

        for batch in batches:
            for task in batch.column(0).to_pylist():
                for si, path, rel in groups.value[task]:
                    src = sources[si]
                    fsys = None
                    if remote[si]:
                        if si not in filesystems:
                            filesystems[si] = formats.filesystem_for(src.path)[0]
                        fsys = filesystems[si]
                    for rec in read_listed(src, path, rel, cfg, fsys):
                        _append(cols, src, rel, rec, cfg, light)
                        if len(cols["kind"]) >= cfg.records_per_batch:
                            yield flush()
        if cols["kind"]:
            yield flush()

    return parse


def _append(cols: dict[str, list], src: SourceConfig, rel: str, rec: Record, cfg: IngestConfig, light: bool) -> None:
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
        cols["raw_payload"].append(rec.payload[: cfg.payload_max_bytes].decode("utf-8", "backslashreplace"))
        cols["payload_bytes"].append(len(rec.payload))


class _Plan:
    """The listed sources, spread over tasks; ``close()`` drops the broadcast."""

    def __init__(self, spark: SparkSession, sources: list[SourceConfig], cfg: IngestConfig):
        self.sources = sources
        self.listed = list_sources(sources)
        files = [(si, f) for si, sf in enumerate(self.listed) for f in sf.listing.files]
        n_tasks = max(1, min(len(files), cfg.tasks_per_core * spark.sparkContext.defaultParallelism))
        self.n_tasks = n_tasks
        self.groups = spark.sparkContext.broadcast(plan_tasks(files, n_tasks))
        self.tasks = spark.range(0, n_tasks if files else 0, 1, n_tasks)

    def frame(self, cfg: IngestConfig, light: bool = False) -> DataFrame:
        return self.tasks.mapInArrow(
            make_parser(self.sources, cfg, self.groups, light), LIGHT_SCHEMA if light else PARSED_SCHEMA
        )

    def close(self) -> None:
        self.groups.unpersist()


def parse_sources(
    spark: SparkSession, sources: list[SourceConfig], cfg: IngestConfig, light: bool = False
) -> DataFrame:
    """The parsed records of every source's files (one DataFrame; the listing is done here)."""
    return _Plan(spark, sources, cfg).frame(cfg, light)


def run(spark: SparkSession, workdir: str, sources: list[SourceConfig], cfg: IngestConfig | None = None) -> StageStats:
    cfg = cfg or IngestConfig()
    if not sources:
        raise ValueError("config error: sources: at least one source is needed")
    started = time.time()
    plan = _Plan(spark, sources, cfg)
    try:
        stats = _ingest(spark, workdir, plan, cfg)
    finally:
        plan.close()
    stats.seconds = time.time() - started
    stats.check()
    log.info(
        "ingest: read=%d accepted=%d quarantined=%d files=%d skipped=%d", stats.rows_in, stats.rows_out,
        stats.rows_rejected, stats.extra["files"]["read"], stats.extra["files"]["skipped"],
    )  # fmt: skip
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.sources, ctx.cfg.ingest)


JOB = Job(
    name="ingest",
    run=run_job,
    summary="Read the sources into Delta raw_documents; bad records go to quarantine.",
    reads=("sources",),
    writes=("raw_documents", "quarantine"),
    section="ingest",
)


def file_accounting(listed: list[SourceFiles], read: set[tuple[str, str]]) -> dict:
    """``stats.extra``'s file entries: every listed file that produced no row and every skipped file, with its
    reason (``read``: the (source, file) pairs that produced at least one row)."""
    skipped: list[dict[str, str]] = []
    by_source: dict[str, dict[str, int]] = {}
    listed_n = read_n = total_bytes = 0
    for sf in listed:
        name = sf.source.name
        entry = by_source.setdefault(name, {"listed": 0, "read": 0, "skipped": 0})
        for f in sf.listing.files:
            entry["listed"] += 1
            total_bytes += f.size
            if (name, f.relpath) in read:
                entry["read"] += 1
            else:
                skipped.append({"source": name, "file": f.relpath, "reason": "no_records",
                                "detail": f"{f.size} bytes, no record in them"})  # fmt: skip
        for s in sf.listing.skipped:
            skipped.append({"source": name, "file": s.relpath, "reason": s.reason, "detail": s.detail})
        if not sf.listing.files and not sf.listing.skipped:
            skipped.append({"source": name, "file": "", "reason": "no_files", "detail": f"{sf.listing.root} is empty"})
        entry["skipped"] = sum(1 for s in skipped if s["source"] == name)
        listed_n += entry["listed"]
        read_n += entry["read"]
    by_reason: dict[str, int] = {}
    for s in skipped:
        by_reason[s["reason"]] = by_reason.get(s["reason"], 0) + 1
    out: dict = {
        "files": {"listed": listed_n, "read": read_n, "skipped": len(skipped), "bytes": total_bytes},
        "files_by_source": by_source,
        "skipped_by_reason": by_reason,
        "skipped_files": skipped[:MAX_SKIPPED_LISTED],
    }
    if len(skipped) > MAX_SKIPPED_LISTED:
        out["skipped_files_not_listed"] = len(skipped) - MAX_SKIPPED_LISTED
    return out


def _ingest(spark: SparkSession, workdir: str, plan: _Plan, cfg: IngestConfig) -> StageStats:
    """Three passes over the parsed records instead of caching them: parsing is cheap next to
    caching whole texts, and the passes that move text (accepted, rejected) run once each."""
    parsed = plan.frame(cfg)
    is_doc = F.col("kind") == "doc"
    # pass 1: every record without its text, cached: counts per file and reason, and key collisions
    light = plan.frame(cfg, light=True).persist(StorageLevel.MEMORY_AND_DISK)
    per_file = light.groupBy("source", "source_file", "kind", "reason").count().collect()
    counts: dict[tuple[str, str, str | None], int] = {}
    for r in per_file:
        k = (r["source"], r["kind"], r["reason"])
        counts[k] = counts.get(k, 0) + r["count"]
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
    stats.extra.update(file_accounting(plan.listed, {(r["source"], r["source_file"]) for r in per_file}))
    for (source, kind, reason), n in counts.items():
        per_source = stats.by_source.setdefault(source, {"read": 0, "accepted": 0, "quarantined": 0})
        per_source["read"] += n
        stats.rows_in += n
        if kind == "doc":
            per_source["accepted"] += n
            stats.rows_out += n
        else:
            per_source["quarantined"] += n
            stats.rows_rejected += n
            stats.by_reason[reason] = stats.by_reason.get(reason, 0) + n
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
