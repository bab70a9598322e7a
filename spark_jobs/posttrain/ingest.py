"""Post-training ingest: ``posttrain.sources`` files → Delta ``raw_conversations`` / ``raw_preference_pairs`` +
``quarantine``.

The files are listed, planned and accounted for as pretraining's ingest does it (the same functions:
:func:`spark_jobs.ingest.job.list_sources`, :func:`~spark_jobs.ingest.job.plan_tasks`,
:func:`~spark_jobs.ingest.job.file_accounting`, :func:`~spark_jobs.ingest.job.write_quarantine`): the driver lists
names and sizes only, tasks read their files themselves and parse them in ``mapInArrow``. Each file's raw records
come from :mod:`core.formats` (JSON lines, JSON, CSV/TSV, Parquet; every codec error one ``corrupt_file`` row after
the records before it) and each record goes through :func:`quality.posttrain.readers.read_record` with its source's
layout: SFT layouts (messages, ShareGPT, Alpaca, Q/A) give one conversation, preference layouts (TRL, Anthropic HH)
one pair, rated completions one or more pairs. Every record read is accepted or quarantined with one reason: the
reader's problem (``invalid_json``, ``invalid_utf8``, ``corrupt_record``, ``corrupt_file``, ``blank_line``,
``unknown_format``), the kernel's rejection (quality.posttrain.validate.REASONS) or ``duplicate_record_key`` (every
row the record gives is already given by an earlier record of the source: the same id, or the same content when
the source has no ids).

Rows are MERGEd on ``doc_id`` (``schema.doc_id(source, record_key)``), so re-ingesting the same input changes no
row. Counts are per record: read = accepted + quarantined (``stats.check()``); ``stats.extra["rows_written"]`` has
the rows each table received (a rated record may give several), ``extra["duplicate_items"]`` the rows of accepted
records that an earlier record already gave (left out; their record's other rows are written).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from typing import BinaryIO

import orjson
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.storagelevel import StorageLevel

from core import formats
from core.formats import Problem, Raw
from core.job import Job, JobContext
from core.stats import StageStats
from quality.posttrain import validate
from quality.posttrain.readers import read_record
from quality.posttrain.schema import Conversation, PreferencePair, doc_id
from spark_jobs import tables
from spark_jobs.ingest import records as pretrain_records
from spark_jobs.ingest.job import file_accounting, list_sources, plan_tasks, write_quarantine
from spark_jobs.posttrain.config import PosttrainIngestConfig, PosttrainSource

log = logging.getLogger("moru.posttrain.ingest")

STAGE = "posttrain_ingest"
RECORD_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")
SFT_LAYOUTS = ("messages", "sharegpt", "alpaca", "qa")
PAIR_LAYOUTS = ("preference", "hh", "rated")

# a core.formats problem -> the quarantine reason (a blank line between records is a record that holds nothing)
_PROBLEM_REASON = {
    "corrupt_file": "corrupt_file",
    "corrupt_record": "corrupt_record",
    "invalid_json": "invalid_json",
    "invalid_utf8": "invalid_utf8",
    "blank_line": "blank_line",
}
# every reason this job quarantines a record for
REASONS = {
    **{k: pretrain_records.REASONS[k] for k in ("invalid_json", "corrupt_file", "corrupt_record", "unknown_format")},
    "blank_line": "a blank line between records (JSON lines)",
    **validate.REASONS,
    "duplicate_record_key": "every row the record gives was given by an earlier record of the source (the same "
    "id, or the same content when the source has no ids)",
}

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)
_ARROW_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),  # conversation | pair | rejected
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("record_index", pa.int64()),
        ("item_index", pa.int32()),
        ("record_items", pa.int32()),
        ("record_key", pa.string()),
        ("layout", pa.string()),
        ("messages", _MESSAGES),
        ("prompt", _MESSAGES),
        ("chosen", _MESSAGES),
        ("rejected", _MESSAGES),
        ("chosen_score", pa.float64()),
        ("rejected_score", pa.float64()),
        ("n_turns", pa.int32()),
        ("n_chars", pa.int32()),
        ("record_sha1", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_payload", pa.string()),
        ("payload_bytes", pa.int64()),
    ]
)
_M = "ARRAY<STRUCT<role: STRING, content: STRING>>"
PARSED_SCHEMA = (
    "kind STRING, doc_id STRING, source STRING, source_file STRING, record_index BIGINT, item_index INT, "
    f"record_items INT, record_key STRING, layout STRING, messages {_M}, prompt {_M}, chosen {_M}, rejected {_M}, "
    "chosen_score DOUBLE, rejected_score DOUBLE, n_turns INT, n_chars INT, record_sha1 STRING, reason STRING, "
    "detail STRING, raw_payload STRING, payload_bytes BIGINT"
)


# ---------------------------------------------------------------------------------------------- pure parts


def file_format(relpath: str, setting: str) -> str | None:
    """The record format a file is read as (``setting``: the source's ``format``), or None (unknown_format)."""
    fmt = setting if setting != "auto" else formats.detect_format(relpath)
    return fmt if fmt in RECORD_FORMATS else None


def raw_records(relpath: str, data: bytes | BinaryIO, setting: str = "auto") -> Iterator[Raw | Problem]:
    """The raw records of one file through core.formats; a ``.json`` file that is one array is a record per
    element; a name whose format is not a record format is one ``unknown_format`` problem."""
    fmt = file_format(relpath, setting)
    if fmt is None:
        guess = formats.detect_format(relpath)
        detail = f"cannot read {relpath!r} as records" + (f" (a {guess} file)" if guess else "")
        yield Problem(0, "unknown_format", detail + f"; post-training reads {', '.join(RECORD_FORMATS)}")
        return
    items = formats.iter_records(fmt, data, formats.detect_compression(relpath))
    if fmt != "json":
        yield from items
        return
    first = next(items, None)
    second = next(items, None) if first is not None else None
    if isinstance(first, Raw) and second is None and isinstance(first.value, list):
        for i, value in enumerate(first.value):
            yield Raw(i, value)
        return
    yield from (item for item in (first, second) if item is not None)
    yield from items


def _payload(value, raw: bytes) -> bytes:
    if raw:
        return raw
    try:
        return orjson.dumps(value, default=str)
    except TypeError:  # keys that are not strings (a Parquet map column)
        return repr(value).encode("utf-8", "backslashreplace")


def item_sha1(item: Conversation | PreferencePair) -> str:
    """SHA-1 of the item's row form (scores included): a re-ingested record whose content changed is updated."""
    return hashlib.sha1(orjson.dumps(item.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def parse_record(src: PosttrainSource, rel: str, item: Raw | Problem) -> list[dict]:
    """One raw record → its rows (dicts of the parsed schema without the payload's truncation): one per item the
    layout gives, or one ``rejected`` row."""
    base = {"source": src.name, "source_file": rel, "record_index": item.index, "layout": src.layout.layout}
    if isinstance(item, Problem):
        reason = _PROBLEM_REASON.get(item.kind, item.kind)
        return [{**base, "kind": "rejected", "reason": reason, "detail": item.detail, "payload": item.raw}]
    outcome = read_record(item.value, src.layout)
    if outcome.rejection is not None:
        rej = outcome.rejection
        payload = _payload(item.value, item.raw)
        return [{**base, "kind": "rejected", "reason": rej.reason, "detail": rej.detail, "payload": payload}]
    rows = []
    for i, (obj, key) in enumerate(zip(outcome.items, outcome.keys, strict=True)):
        row = {**base, "doc_id": doc_id(src.name, key), "record_key": key, "item_index": i,
               "record_items": len(outcome.items), "n_chars": obj.n_chars, "record_sha1": item_sha1(obj)}  # fmt: skip
        if isinstance(obj, Conversation):
            row.update(kind="conversation", messages=obj.to_dict()["messages"], n_turns=len(obj.messages))
        else:
            row.update(kind="pair", **obj.to_dict())
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------- Spark


def _read_file(src: PosttrainSource, path: str, rel: str, remote_fs) -> Iterator[Raw | Problem]:
    """The raw records of one listed file; a file that cannot be opened or fails part-way is one corrupt_file
    problem after the records read."""
    index = -1
    try:
        if remote_fs is not None:
            with remote_fs.open_input_stream(path, compression=None) as fh:  # our codecs, not pyarrow's
                data = fh.read()
            for item in raw_records(rel, data, src.format):
                index = item.index
                yield item
            return
        with open(path, "rb") as fh:
            for item in raw_records(rel, fh, src.format):
                index = item.index
                yield item
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the job
        verb = "cannot be read" if index < 0 else "failed part-way"
        yield Problem(index + 1, "corrupt_file", f"the file {verb}: {formats.describe(exc)}")


def _truncated(row: dict, cfg: PosttrainIngestConfig) -> dict:
    """A rejected row's payload as the quarantine keeps it (truncated, undecodable bytes escaped)."""
    payload = row.pop("payload", None)
    if payload is not None:
        row["detail"] = row["detail"][:1000]
        row["raw_payload"] = payload[: cfg.payload_max_bytes].decode("utf-8", "backslashreplace")
        row["payload_bytes"] = len(payload)
    return row


def make_parser(sources: list[PosttrainSource], cfg: PosttrainIngestConfig, groups):
    """The mapInArrow function: task ids → the rows of those tasks' files (``groups``: a broadcast of
    :func:`spark_jobs.ingest.job.plan_tasks`' groups)."""
    remote = [formats.is_remote(src.path) for src in sources]

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rows: list[dict] = []
        filesystems: dict[int, object] = {}

        def flush() -> pa.RecordBatch:
            cols = {name: [r.get(name) for r in rows] for name in _ARROW_SCHEMA.names}
            rows.clear()
            return pa.RecordBatch.from_pydict(cols, schema=_ARROW_SCHEMA)

        for batch in batches:
            for task in batch.column(0).to_pylist():
                for si, path, rel in groups.value[task]:
                    src = sources[si]
                    fsys = None
                    if remote[si]:
                        if si not in filesystems:
                            filesystems[si] = formats.filesystem_for(src.path)[0]
                        fsys = filesystems[si]
                    for item in _read_file(src, path, rel, fsys):
                        rows.extend(_truncated(row, cfg) for row in parse_record(src, rel, item))
                        if len(rows) >= cfg.records_per_batch:
                            yield flush()
        if rows:
            yield flush()

    return parse


def _counts(parsed: DataFrame, dup_keys: DataFrame, sources: list[PosttrainSource], listed) -> StageStats:
    """Records read, accepted and quarantined, per source and reason, and the rows each table receives."""
    per_file = (
        parsed.groupBy("source", "source_file", "kind", "reason")
        .agg(F.count("*").alias("rows"), F.count(F.when(F.col("item_index") == 0, 1)).alias("records"))
        .collect()
    )
    # a record all of whose rows are duplicates is quarantined; an accepted record's duplicate rows are left out
    dups = (
        dup_keys.groupBy("source", "kind", "source_file", "record_index", "record_items")
        .agg(F.count("*").alias("n"))
        .groupBy("source", "kind")
        .agg(
            F.count(F.when(F.col("n") == F.col("record_items"), 1)).alias("records"),
            F.sum("n").alias("rows"),
            F.sum(F.when(F.col("n") == F.col("record_items"), F.col("n")).otherwise(0)).alias("rows_in_dup_records"),
        )
        .collect()
    )
    stats = StageStats(STAGE)
    stats.extra.update(file_accounting(listed, {(r["source"], r["source_file"]) for r in per_file}))
    for src in sources:
        stats.by_source[src.name] = {"read": 0, "accepted": 0, "quarantined": 0}
    rows_written = {tables.RAW_CONVERSATIONS.name: 0, tables.RAW_PREFERENCE_PAIRS.name: 0}
    table_of = {"conversation": tables.RAW_CONVERSATIONS.name, "pair": tables.RAW_PREFERENCE_PAIRS.name}
    for r in per_file:
        entry = stats.by_source[r["source"]]
        if r["kind"] == "rejected":
            n = r["rows"]
            entry["read"] += n
            entry["quarantined"] += n
            stats.rows_rejected += n
            stats.by_reason[r["reason"]] = stats.by_reason.get(r["reason"], 0) + n
        else:
            entry["read"] += r["records"]
            entry["accepted"] += r["records"]
            stats.rows_out += r["records"]
            rows_written[table_of[r["kind"]]] += r["rows"]
    duplicate_items = 0
    for r in dups:
        entry = stats.by_source[r["source"]]
        entry["accepted"] -= r["records"]
        entry["quarantined"] += r["records"]
        stats.rows_out -= r["records"]
        stats.rows_rejected += r["records"]
        if r["records"]:
            stats.by_reason["duplicate_record_key"] = stats.by_reason.get("duplicate_record_key", 0) + r["records"]
        rows_written[table_of[r["kind"]]] -= r["rows"]
        duplicate_items += r["rows"] - r["rows_in_dup_records"]
    stats.rows_in = stats.rows_out + stats.rows_rejected
    stats.extra["rows_written"] = rows_written
    stats.extra["duplicate_items"] = duplicate_items
    return stats


def run(
    spark: SparkSession, workdir: str, sources: list[PosttrainSource], cfg: PosttrainIngestConfig | None = None
) -> StageStats:
    cfg = cfg or PosttrainIngestConfig()
    if not sources:
        raise ValueError("config error: posttrain.sources: at least one source is needed")
    started = time.time()
    listed = list_sources(sources)  # type: ignore[arg-type]  # only name, path and hidden_files are read
    files = [(si, f) for si, sf in enumerate(listed) for f in sf.listing.files]
    n_tasks = max(1, min(len(files), cfg.tasks_per_core * spark.sparkContext.defaultParallelism))
    groups = spark.sparkContext.broadcast(plan_tasks(files, n_tasks))
    # parsed once and kept: a record may give several rows, and the counts, the duplicate check and the three
    # writes must see the same parse (post-training sets are small next to pretraining's)
    parsed = (
        spark.range(0, n_tasks if files else 0, 1, n_tasks)
        .mapInArrow(make_parser(sources, cfg, groups), PARSED_SCHEMA)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        stats = _ingest(spark, workdir, parsed, sources, listed, cfg)
    finally:
        parsed.unpersist()
        groups.unpersist()
    stats.seconds = time.time() - started
    stats.check()
    log.info(
        "posttrain ingest: read=%d accepted=%d quarantined=%d rows=%s files=%d skipped=%d", stats.rows_in,
        stats.rows_out, stats.rows_rejected, stats.extra["rows_written"], stats.extra["files"]["read"],
        stats.extra["files"]["skipped"],
    )  # fmt: skip
    return stats


_DUP_COLUMNS = ("doc_id", "source", "kind", "source_file", "record_index", "item_index", "record_items")


def _ingest(
    spark: SparkSession, workdir: str, parsed: DataFrame, sources, listed, cfg: PosttrainIngestConfig
) -> StageStats:
    items = parsed.filter(F.col("kind") != "rejected")
    # the first row of a key wins (by file, record, item); later ones are never silently merged into it
    w = Window.partitionBy("doc_id").orderBy("source_file", "record_index", "item_index")
    dup_keys = (
        items.select(*_DUP_COLUMNS, F.row_number().over(w).alias("rank"))
        .filter(F.col("rank") > 1)
        .drop("rank")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        stats = _counts(parsed, dup_keys, sources, listed)
        key = ["doc_id", "source_file", "record_index", "item_index"]
        kept = items.join(F.broadcast(dup_keys.select(*key)), key, "left_anti")
        common = ["doc_id", "source", "record_key", "source_file", "record_index", "layout"]
        now = F.current_timestamp().alias("ingested_at")
        changed = ["record_sha1", "source_file", "record_index"]
        conversations = kept.filter(F.col("kind") == "conversation").select(
            *common, "messages", "n_turns", "n_chars", "record_sha1", now
        )
        pairs = kept.filter(F.col("kind") == "pair").select(
            *common, "prompt", "chosen", "rejected", "chosen_score", "rejected_score", "n_chars", "record_sha1", now
        )
        stats.extra["merged"] = {
            t.name: tables.merge(spark, df, workdir, t, changed=changed)
            for t, df in ((tables.RAW_CONVERSATIONS, conversations), (tables.RAW_PREFERENCE_PAIRS, pairs))
        }
        if stats.rows_rejected:
            rejected = parsed.filter(F.col("kind") == "rejected").select(
                "source", "source_file", "record_index", "reason", "detail", "raw_payload", "payload_bytes"
            )
            if stats.by_reason.get("duplicate_record_key"):
                rejected = rejected.unionByName(_duplicate_records(items, dup_keys, cfg))
            write_quarantine(spark, rejected, workdir, STAGE)
    finally:
        dup_keys.unpersist()
    return stats


def _duplicate_records(items: DataFrame, dup_keys: DataFrame, cfg: PosttrainIngestConfig) -> DataFrame:
    """One quarantine row per record all of whose rows an earlier record gave (its first row's key and content)."""
    where = ["source", "source_file", "record_index"]
    full = (
        dup_keys.groupBy(*where, "record_items")
        .agg(F.count("*").alias("n"))
        .filter(F.col("n") == F.col("record_items"))
        .select(*where)
    )
    first_rows = items.filter(F.col("item_index") == 0).join(F.broadcast(full), where, "left_semi")
    payload = F.to_json(F.struct(*[F.col(c) for c in ("messages", "prompt", "chosen", "rejected")]))
    return first_rows.select(
        *where, F.lit("duplicate_record_key").alias("reason"),
        F.concat(F.lit("every row of the record was given by an earlier record; first key: "),
                 F.col("record_key")).alias("detail"),
        F.substring(payload, 1, cfg.payload_max_bytes).alias("raw_payload"),
        F.octet_length(payload).cast("long").alias("payload_bytes"),
    )  # fmt: skip


def run_job(ctx: JobContext) -> StageStats:
    section = ctx.cfg.posttrain
    return run(ctx.spark, ctx.workdir, section.sources, section.ingest)


JOB = Job(
    name="posttrain_ingest",
    run=run_job,
    summary="Read the post-training sources into raw_conversations and raw_preference_pairs; bad records go to "
    "quarantine.",
    reads=("posttrain_sources",),
    writes=("raw_conversations", "raw_preference_pairs", "quarantine"),
    section="posttrain",
    command="posttrain ingest",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_ingest")
