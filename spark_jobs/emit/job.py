"""The emit job: ``training_corpus`` → Megatron indexed datasets (``.bin``/``.idx``), blend JSONs and a manifest.

Steps, each one Spark pass or a small driver step:

1. **Gate.** :func:`spark_jobs.gate.require_passed_gate` first: nothing is emitted past a failed or stale gate.
   ``training_corpus`` is then read at the Delta version the gate validated.
2. **Stage 1** (the one pass over the text). Each stage-1 partition gets its documents in a fixed order: by
   default the Python workers read a fixed group of the version's Parquet files themselves, in path and row order
   (no shuffle: the text never passes through the JVM); when the table needs Spark to read it (deletion vectors,
   column mapping, ...) or ``emit.read: spark``, rows are shuffled to the partitions by a hash of ``doc_id`` and
   sorted by it (:mod:`spark_jobs.emit.inputs`). A ``mapInArrow`` task gives each document its split (train /
   valid / test, a hash of ``doc_id``), tokenizes each Arrow batch with ``encode_batch_fast`` (the tokenizer
   loaded once per Python worker), appends the end-of-document token and writes one shard per (split, lang,
   source) of its partition through megatron-core's ``IndexedDatasetBuilder`` (:mod:`spark_jobs.emit.tasks`).
   It returns one small row per document (tokens, shard, index), written once as Parquet: the rest of the job
   reads those rows, never the text again.
3. **Stage 2** (reads stage-1 shards, no tokenizing): documents of at least ``stage2.min_tokens`` tokens, split
   into near-equal pieces of at most ``stage2.max_tokens``, plus replayed stage-1 documents shorter than that:
   per split, the documents of the lowest hash buckets (a hash of doc_id and ``stage2.seed``) until their
   tokens reach ``replay_ratio / (1 - replay_ratio)`` times the long documents' tokens.
   **Stage 3** (``emit.stage3``, off by default; the same way, from the stage-1 shards): documents of at least
   ``stage3.min_doc_tokens`` cut into pieces of at most ``stage3.max_doc_tokens``, plus a rehearsal sample of the
   shorter documents (stage-1 documents, stage 2's long ones among them; another hash of doc_id, with
   ``stage3.seed``) until it holds ``rehearsal_share / long_share`` times the long documents' tokens.
4. **Merge** (optional): one file per (stage, split, role, lang, source), in shard order.
5. **Verify**: each task reads every shard it closes back with megatron-core's ``IndexedDataset`` and checks it
   against what it wrote (counts, token sums, the order of lengths, sizes, end-of-document tokens) before moving
   it into place; its record (``<prefix>.json``: counts, SHA-256) is written last.
6. **Publish**: shards are written under ``_staging/<run>/`` and the run's folder is renamed into
   ``runs/<run>`` in one step (a local file system; on object stores, where there is no rename, they are
   written to ``runs/<run>/`` directly). Only then are ``emitted_documents`` and ``emit_token_stats``
   (Delta) written, then the run's manifest, the blends and, last, ``manifest.json``. A job that dies before
   that leaves the previous blends pointing at the previous run, whole; its staging folder is removed by the
   next run.

A run is named ``<UTC time>-<fingerprint>``; the fingerprint hashes the input (table, Delta version), the
tokenizer and the settings that decide the bytes. A re-run with the same fingerprint does nothing unless forced,
and a forced one writes byte-identical shards to a new run folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core import locations, storage
from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.emit import blend as blends
from spark_jobs.emit import inputs, shards, tasks
from spark_jobs.emit.config import EmitConfig, ExtensionStage
from spark_jobs.emit.layout import EXTENSION_STAGES, REPLAY_BUCKETS, group_path
from spark_jobs.session import local_frame

log = logging.getLogger("moru.emit")

LENGTH_BINS = tuple(2**i for i in range(0, 21))  # token-length histogram edges for the report: 1 … 1M


def _run_tasks(spark: SparkSession, specs: list[dict], fn, slots: int) -> list[dict]:
    """Small driver-made task lists (merges) as Spark tasks: one row per task spec."""
    if not specs:
        return []
    df = local_frame(spark, [(json.dumps(s),) for s in specs], T.StructType([T.StructField("spec", T.StringType())]))
    rows = df.repartition(max(1, min(slots, len(specs)))).mapInArrow(fn, tasks.TASK_DDL).collect()
    return [json.loads(r["result"]) for r in rows]


# -- the job -------------------------------------------------------------------------------------------------


@dataclass
class Shard:
    """A dataset as emitted: its path under the run, what it holds, and its verified files."""

    stage: str
    split: str
    role: str
    lang: str
    source: str
    path: str
    documents: int
    tokens: int
    moment: int
    parts: list[tuple[int, str, int, int]] = field(default_factory=list)  # (part, path, documents, tokens)
    files: dict = field(default_factory=dict)
    bins: dict = field(default_factory=dict)  # power-of-two length bin -> [documents, tokens]

    def expected(self) -> dict:
        return {"documents": self.documents, "tokens": self.tokens, "moment": self.moment}


@dataclass
class EmitResult:
    run_id: str
    run_uri: str
    shards: list[Shard]
    documents_in: int
    documents_out: int
    rejected: list[str]  # doc_ids of documents with no tokens (at most 100 listed)
    rejected_count: int
    replay: dict  # stage 2, per split: long tokens, replay target, replay tokens, candidates' tokens
    rehearsal: dict  # the same for stage 3's rehearsal (plus the rehearsed tokens of stage 2's long documents)
    meta_uri: str
    length_histogram: list[dict]
    seconds: dict
    read: str  # how stage 1 read the table: files, or spark (and why)


@contextmanager
def _arrow_batches(spark: SparkSession, docs: int, nbytes: int):
    """Arrow batches of at most ``docs`` rows and ``nbytes`` bytes for the jobs run inside (session settings,
    restored after)."""
    from spark_jobs.session import session_conf

    with session_conf(spark, {"spark.sql.execution.arrow.maxRecordsPerBatch": str(docs),
                              "spark.sql.execution.arrow.maxBytesPerBatch": str(nbytes)}):  # fmt: skip
        yield


def _list_json(uri: str) -> list[dict]:
    """Every ``*.json`` record under ``uri`` (recursively), parsed, in path order."""
    from pyarrow import fs

    filesystem, _ = storage.filesystem(uri)
    out = []
    for info in storage.list_dir(uri, recursive=True):
        if info.type == fs.FileType.File and info.path.endswith(".json"):
            with filesystem.open_input_stream(info.path) as fh:
                out.append(json.loads(fh.read()))
    return out


def _shards_of(root: str, stage: str) -> list[Shard]:
    """The stage's shards from the records their tasks wrote, in path order."""
    out = []
    for r in _list_json(storage.join(root, stage)):
        out.append(Shard(r["stage"], r["split"], r["role"], r["lang"], r["source"], r["path"], r["documents"],
                         r["tokens"], r["moment"], parts=[(r["part"], r["path"], r["documents"], r["tokens"])],
                         files=r["files"], bins={int(k): v for k, v in r["bins"].items()}))  # fmt: skip
    return sorted(out, key=lambda s: s.path)


def _histogram(stage: str, parts: list[Shard]) -> list[dict]:
    """Documents and tokens per power-of-two length bin, per role (stage 1: all; stage 2: long, replay; stage 3:
    long, rehearsal)."""
    bins: dict[tuple[str, int], list[int]] = {}
    for s in parts:
        for b, (docs, tokens) in s.bins.items():
            acc = bins.setdefault((s.role, b), [0, 0])
            acc[0] += docs
            acc[1] += tokens
    return [{"stage": stage, "role": role, "min_tokens": 2**b, "documents": v[0], "tokens": v[1]}
            for (role, b), v in sorted(bins.items())]  # fmt: skip


def _merged(parts: list[Shard]) -> list[Shard]:
    """One shard per group: parts concatenated in part order (moments shift by the documents before)."""
    groups: dict[tuple, list[Shard]] = {}
    for s in parts:
        groups.setdefault((s.stage, s.split, s.role, s.lang, s.source), []).append(s)
    out = []
    for key, members in sorted(groups.items()):
        members.sort(key=lambda s: s.parts[0][0])
        docs = tokens = moment = 0
        bins: dict[int, list[int]] = {}
        for s in members:
            moment += s.moment + docs * s.tokens
            docs += s.documents
            tokens += s.tokens
            for b, (d, t) in s.bins.items():
                acc = bins.setdefault(b, [0, 0])
                acc[0] += d
                acc[1] += t
        out.append(Shard(*key, group_path(*key), docs, tokens, moment, parts=[s.parts[0] for s in members],
                         bins=bins))  # fmt: skip
    return out


def _selection(m1: DataFrame, spec: ExtensionStage, records: list[dict]) -> tuple[DataFrame, dict]:
    """A later stage's long documents and its sample (role long / ``spec.sample_role``: replay in stage 2,
    rehearsal in stage 3), and per split what was aimed at and got, from the stage-1 tasks' tallies: per split,
    take the short documents of the lowest buckets until their tokens reach share / (1 - share) times the long
    documents' tokens. A document shorter than ``spec.min_tokens`` and not sampled is simply not in the stage."""
    role_name = spec.sample_role
    long_tokens: dict[str, int] = {}
    short: dict[str, np.ndarray] = {}
    for t in records:
        tally = t["replay"].get(spec.stage, {})
        for split, v in tally.get("long", {}).items():
            long_tokens[split] = long_tokens.get(split, 0) + v
        for split, (idx, vals) in tally.get("short", {}).items():
            acc = short.setdefault(split, np.zeros(REPLAY_BUCKETS, dtype=np.int64))
            acc[np.asarray(idx, dtype=np.int64)] += np.asarray(vals, dtype=np.int64)
    info, cutoff = {}, {}
    for split in sorted(long_tokens):
        target = spec.sample_share / (1 - spec.sample_share) * long_tokens[split]
        acc = short.get(split, np.zeros(REPLAY_BUCKETS, dtype=np.int64))
        cum = np.cumsum(acc)
        # the fewest lowest buckets whose tokens reach the target (all of them when there are too few)
        cut = int(np.searchsorted(cum, target, side="left")) + 1 if target > 0 else 0
        cut = min(cut, REPLAY_BUCKETS)
        got = int(cum[cut - 1]) if cut else 0
        cutoff[split] = cut
        info[split] = {"long_tokens": long_tokens[split], f"{role_name}_target_tokens": round(target),
                       f"{role_name}_tokens": got, "short_tokens_available": int(cum[-1]),
                       f"{role_name}_token_share": got / (got + long_tokens[split])}  # fmt: skip
    n = F.col("n_tokens")
    chosen = F.lit(False)
    for split, cut in cutoff.items():
        chosen = F.when(F.col("split") == split, F.col(f"bucket_{spec.stage}") < cut).otherwise(chosen)
    role = F.when(n >= spec.min_tokens, F.lit("long")).when(chosen, F.lit(role_name))
    cols = ["doc_id", "split", "lang", "source", "role", "n_tokens", "part", "seq"]
    selected = m1.filter(n > 0).withColumn("role", role).filter(F.col("role").isNotNull()).select(*cols)
    return selected, info


def emit_corpus(
    spark: SparkSession,
    table_uri: str,
    version: int,
    out_uri: str,
    cfg: EmitConfig,
    tok: shards.TokenizerInfo,
    run_id: str,
    progress: Callable[[str], None] = lambda _m: None,
    meta_uri: str | None = None,
) -> EmitResult:
    """Steps 2-6 of the module docstring on the Delta table at ``table_uri`` (doc_id, source, lang, text) as of
    ``version``: write, verify, publish. Returns what was published; the Delta tables, blends and manifests are
    written by :func:`run`. ``meta_uri``: where Spark writes the per-document rows (Parquet; default: the run's
    staging folder, which Spark must then be able to write: give a folder beside the Delta tables when the output
    is a store only pyarrow opens, such as an S3-compatible store named with ``?endpoint_override=``)."""
    seconds: dict[str, float] = {}
    t0 = time.time()
    local_out = storage.local_path(out_uri)
    staging = storage.join(out_uri, "_staging", run_id)
    root = storage.join(staging, "data") if local_out is not None else storage.join(out_uri, "runs", run_id)
    meta_uri = meta_uri or storage.join(staging, "meta")
    _remove_stale_staging(out_uri, keep=run_id)
    slots = max(2, spark.sparkContext.defaultParallelism if _has_context(spark) else 2)

    plan, why = (None, "emit.read is spark") if cfg.read == "spark" else inputs.plan_files(
        table_uri, version, cfg.partitions)  # fmt: skip
    if plan is None and cfg.read == "files":
        raise ValueError(f"emit.read is files, but the table's Parquet files cannot be read directly: {why}")
    later = cfg.extension_stages()
    tallies = [spec.tally() for spec in later if spec.sample_share > 0]
    split = (cfg.split.valid, cfg.split.test, cfg.split.seed)
    per_task = None
    if plan is not None:
        # partitions are equal runs of rows; Spark task t takes partitions t, t + n, t + 2n, ... (n = task slots),
        # so there are no more tasks than slots (each task costs a few tenths of a second to start and commit).
        # The task list rides in the function; the input is one row per task (no sampling or shuffle job).
        n = min(cfg.partitions, slots)
        per_task = [[(i, g) for i, g in enumerate(plan.groups) if i % n == t] for t in range(n)]
    fn1 = tasks.stage1_writer(root, tok.json_text, tok.sha256, tok.eod_id, tok.dtype, split, tallies,
                              files=per_task, batch_docs=cfg.batch_docs)  # fmt: skip
    with _arrow_batches(spark, cfg.batch_docs, cfg.batch_bytes):
        if per_task is not None:
            progress(f"stage 1: {cfg.partitions} partitions read {plan.rows:,} rows of {plan.files} Parquet files "
                     f"({plan.bytes:,} bytes)")  # fmt: skip
            docs = spark.range(0, len(per_task), 1, len(per_task))
        else:
            progress(f"stage 1: Spark reads the table ({why}), {cfg.partitions} partitions by doc_id")
            corpus = spark.read.format("delta").option("versionAsOf", version).load(storage.to_spark_path(table_uri))
            docs = corpus.select(*tasks.INPUT_COLUMNS).repartition(cfg.partitions, "doc_id")
            docs = docs.sortWithinPartitions("doc_id")
        docs.mapInArrow(fn1, tasks.META1_DDL).write.mode("overwrite").parquet(
            storage.to_spark_path(storage.join(meta_uri, "stage1")))  # fmt: skip
    m1 = spark.read.parquet(storage.to_spark_path(storage.join(meta_uri, "stage1")))
    records = _list_json(storage.join(root, "_tasks"))
    if sorted(t["part"] for t in records) != list(range(cfg.partitions)):
        raise RuntimeError(f"stage 1: {len(records)} of {cfg.partitions} partitions recorded their work")
    storage.remove_dir(storage.join(root, "_tasks"))
    documents_in = sum(t["documents"] for t in records)
    rejected_count = sum(t["rejected"] for t in records)
    rejected = sorted(d for t in records for d in t["rejected_doc_ids"])[:100]
    parts = _shards_of(root, "stage1")
    if sum(s.documents for s in parts) != documents_in - rejected_count:
        raise RuntimeError("stage 1: the shards' records do not add up to the documents the tasks read")
    hist = _histogram("stage1", parts)
    seconds["stage1"] = time.time() - t0

    sample_info: dict[str, dict] = {}
    for spec in later:
        t = time.time()
        selected, sample_info[spec.stage] = _selection(m1, spec, records)
        progress(f"{spec.stage}: long documents and the {spec.sample_role} sample")
        fn2 = tasks.extension_writer(root, spec.stage, tok.eod_id, tok.dtype, spec.max_tokens)
        # each of its shards comes from one stage-1 shard: rows grouped by part (as many tasks as slots at most)
        selected = selected.repartition(min(cfg.partitions, slots), "part").sortWithinPartitions(
            "part", "split", "lang", "source", "role", "seq"
        )
        meta_stage = storage.to_spark_path(storage.join(meta_uri, spec.stage))
        selected.mapInArrow(fn2, tasks.META2_DDL).write.mode("overwrite").parquet(meta_stage)
        if spec.stage == "stage3" and sample_info[spec.stage]:
            # what the rehearsal holds of stage 2's long documents (the rest: stage-1 documents shorter than that)
            long2 = F.col("n_tokens") >= cfg.stage2.min_tokens
            for r in (spark.read.parquet(meta_stage).filter(F.col("role") == spec.sample_role).groupBy("split")
                      .agg(F.sum(F.when(long2, F.col("n_tokens")).otherwise(0)).alias("t")).collect()):  # fmt: skip
                if r["split"] in sample_info[spec.stage]:
                    sample_info[spec.stage][r["split"]]["rehearsal_tokens_from_stage2_long"] = int(r["t"])
        stage_parts = _shards_of(root, spec.stage)
        hist += _histogram(spec.stage, stage_parts)
        parts += stage_parts
        seconds[spec.stage] = time.time() - t

    final = parts
    if cfg.merge:
        t = time.time()
        final = _merged(parts)
        progress(f"merging {len(parts)} shards into {len(final)}")
        specs = [{"stage": s.stage, "split": s.split, "role": s.role, "lang": s.lang, "source": s.source,
                  "path": s.path, "parts": [p[1] for p in s.parts], "bins": s.bins, "expected": s.expected()}
                 for s in final]  # fmt: skip
        _run_tasks(spark, specs, tasks.merge_task(root, tok.eod_id, tok.dtype), slots)
        merged = {r["path"]: r for r in _list_json(root) if r["path"] in {s.path for s in final}}
        for s in final:
            s.files = merged[s.path]["files"]
        seconds["merge"] = time.time() - t

    t = time.time()
    run_uri = storage.join(out_uri, "runs", run_id)
    if local_out is not None:
        target = storage.local_path(run_uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = storage.local_path(root)
        if not src.exists():  # nothing was emitted at all (an empty corpus): an empty run
            src.mkdir(parents=True)
        os.rename(src, target)  # the whole run appears at once
    else:  # object stores: each shard was uploaded whole; check what the store holds before naming it
        for s in final:
            got = shards.remote_sizes(storage.join(root, s.path))
            if got != (s.files["bin_bytes"], s.files["idx_bytes"]):
                raise shards.ShardError(f"{s.path}: the store holds {got} bytes, verified {s.files}")
    seconds["publish"] = time.time() - t
    return EmitResult(
        run_id=run_id,
        run_uri=run_uri,
        shards=final,
        documents_in=documents_in,
        documents_out=documents_in - rejected_count,
        rejected=rejected,
        rejected_count=rejected_count,
        replay=sample_info.get("stage2", {}),
        rehearsal=sample_info.get("stage3", {}),
        meta_uri=meta_uri,
        length_histogram=hist,
        seconds=seconds,
        read="files" if plan is not None else f"spark ({why})",
    )


def _has_context(spark: SparkSession) -> bool:
    try:
        spark.sparkContext  # noqa: B018  (absent under Spark Connect)
        return True
    except Exception:  # noqa: BLE001
        return False


def _remove_stale_staging(out_uri: str, keep: str) -> None:
    """Staging folders of runs that died before publishing: nothing names them."""
    staging = storage.join(out_uri, "_staging")
    for name in _subfolders(staging):
        if name != keep:
            storage.remove_dir(storage.join(staging, name))


def _subfolders(uri: str) -> list[str]:
    from pyarrow import fs

    return sorted(i.base_name for i in storage.list_dir(uri) if i.type == fs.FileType.Directory)


def _list_runs(out_uri: str) -> list[str]:
    return _subfolders(storage.join(out_uri, "runs"))


# -- Delta tables, blends, manifests ----------------------------------------------------------------------------


def _blend_prefix(run_uri: str, path: str) -> str:
    """What a blend names: a local absolute path when the run has one (``dbfs:/`` → ``/dbfs/…``), else the URI
    without keys or pyarrow options (``s3://bucket/…``, what megatron-core's object-storage reader takes)."""
    uri = storage.join(run_uri, path)
    local = storage.local_path(uri)
    return str(local) if local is not None else storage.public(uri)


def datasets_of(result: EmitResult) -> list[blends.Dataset]:
    return [
        blends.Dataset(s.stage, s.split, s.role, s.lang, s.source, _blend_prefix(result.run_uri, s.path),
                       s.documents, s.tokens)
        for s in result.shards
    ]  # fmt: skip


def token_stats(result: EmitResult, stage_blends: dict[str, dict]) -> list[dict]:
    """Per (stage, split, role, lang, source): documents, tokens, datasets and its share of the split's blend."""
    weights = {stage: blends.weights_by_prefix(b) for stage, b in stage_blends.items()}
    rows: dict[tuple, dict] = {}
    for d in datasets_of(result):
        key = (d.stage, d.split, d.role, d.lang, d.source)
        row = rows.setdefault(key, {"run_id": result.run_id, "stage": d.stage, "split": d.split, "role": d.role,
                                    "lang": d.lang, "source": d.source, "documents": 0, "tokens": 0, "datasets": 0,
                                    "blend_weight": 0.0})  # fmt: skip
        row["documents"] += d.documents
        row["tokens"] += d.tokens
        row["datasets"] += 1
        row["blend_weight"] += weights.get(d.stage, {}).get((d.split, d.prefix), 0.0)
    return [rows[k] for k in sorted(rows)]


def _write_tables(spark: SparkSession, workdir: str, result: EmitResult, stats_rows: list[dict]) -> None:
    """``emitted_documents`` (the document rows with their final dataset and index) and ``emit_token_stats``,
    each replaced whole in one Delta commit tagged with the run id."""
    mapping = []
    for s in result.shards:
        offset = 0
        for part, _path, documents, _tokens in s.parts:
            mapping.append((s.stage, s.split, s.role, s.lang, s.source, part, s.path, offset))
            offset += documents
    mapping_df = local_frame(spark, mapping, T.StructType([
        T.StructField(c, t) for c, t in (("stage", T.StringType()), ("split", T.StringType()),
                                         ("role", T.StringType()), ("lang", T.StringType()),
                                         ("source", T.StringType()), ("part", T.IntegerType()),
                                         ("dataset", T.StringType()), ("offset", T.LongType()))
    ]))  # fmt: skip
    m1 = spark.read.parquet(storage.to_spark_path(storage.join(result.meta_uri, "stage1")))
    frames = [m1.filter(F.col("n_tokens") > 0).withColumn("stage", F.lit("stage1")).withColumn("role", F.lit("all"))
              .withColumn("piece", F.lit(0))]  # fmt: skip
    for stage in EXTENSION_STAGES:
        if any(s.stage == stage for s in result.shards):
            m2 = spark.read.parquet(storage.to_spark_path(storage.join(result.meta_uri, stage)))
            frames.append(m2.withColumn("stage", F.lit(stage)))
    cols = ["stage", "split", "role", "lang", "source", "doc_id", "piece", "n_tokens", "part", "seq"]
    rows = frames[0].select(*cols)
    for f in frames[1:]:
        rows = rows.unionByName(f.select(*cols))
    rows = rows.join(F.broadcast(mapping_df), ["stage", "split", "role", "lang", "source", "part"]).select(
        F.lit(result.run_id).alias("run_id"), "stage", "split", "role", "doc_id",
        F.col("piece").cast("int"), "lang", "source", F.col("n_tokens").cast("int"), "dataset",
        (F.col("offset") + F.col("seq")).alias("seq_index"),
    )  # fmt: skip
    stats_df = local_frame(spark, [tuple(r[f.name] for f in tables.EMIT_TOKEN_STATS.schema) for r in stats_rows],
                            tables.EMIT_TOKEN_STATS.schema)  # fmt: skip
    # two tables, two independent Delta commits: run side by side (mostly log reads and commit latency)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(tables.overwrite, spark, df, workdir, table, user_metadata=result.run_id, count=False)
            for df, table in ((rows, tables.EMITTED_DOCUMENTS), (stats_df, tables.EMIT_TOKEN_STATS))
        ]
        for f in futures:
            f.result()


def _warm_table_state(spark: SparkSession, workdir: str):
    """Compute the current Delta snapshots of ``emitted_documents`` and ``emit_token_stats`` in a driver thread
    while the stages run (the overwrite at the end needs them: three small Spark jobs per table, ~0.5 s of latency
    there; here their tasks take task slots as stage 1's free up). Returns the thread's future; a failure here
    only costs that time later, so it is logged, not raised."""
    from concurrent.futures import ThreadPoolExecutor

    def warm() -> None:
        from delta.tables import DeltaTable

        for table in (tables.EMITTED_DOCUMENTS, tables.EMIT_TOKEN_STATS):
            uri = tables.table_uri(workdir, table)
            try:
                if DeltaTable.isDeltaTable(spark, uri):
                    DeltaTable.forPath(spark, uri).detail().collect()
            except Exception as exc:  # noqa: BLE001
                log.info("emit: warming %s's Delta state failed (%s); the overwrite computes it", table.name, exc)

    pool = ThreadPoolExecutor(1, thread_name_prefix="moru-emit-warm")
    future = pool.submit(warm)
    pool.shutdown(wait=False)
    return future


def output_uri(cfg: EmitConfig, workdir: str) -> str:
    return cfg.output or locations.emit_output(workdir)


def blend_uri(out_uri: str, stage: str) -> str:
    return storage.join(out_uri, f"{stage}_blend.json")


def manifest_uri(out_uri: str) -> str:
    return storage.join(out_uri, "manifest.json")


def read_manifest(out_uri: str) -> dict | None:
    try:
        return json.loads(storage.read_bytes(manifest_uri(out_uri)))
    except (FileNotFoundError, OSError, ValueError):
        return None


def _published_whole(out_uri: str, manifest: dict) -> bool:
    """Every shard the manifest names is where it says, with its verified sizes."""
    run_uri = storage.join(out_uri, "runs", manifest["run_id"])
    for s in manifest.get("shards", []):
        sizes = shards.remote_sizes(storage.join(run_uri, s["path"]))
        if sizes != (s["files"]["bin_bytes"], s["files"]["idx_bytes"]):
            return False
    return True


def fingerprint(cfg: EmitConfig, table_uri: str, version: int, tokenizer_sha: str) -> str:
    data = {"emit": cfg.fingerprint(), "table": table_uri, "version": version, "tokenizer": tokenizer_sha}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _json(data) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()


def run(
    spark: SparkSession,
    workdir: str,
    cfg: EmitConfig,
    gates=None,
    tokenizer_dir: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
) -> StageStats:
    """Emit stage-1, stage-2 and (when enabled) stage-3 datasets from ``training_corpus`` (see the module
    docstring). ``gates``: the config's ``gates`` section (the gate must have passed under these bounds);
    ``tokenizer_dir``: the tokenizer folder when ``emit.tokenizer`` is not set (default WORKDIR/tokenizer/model).
    Raises GateFailed when the latest gate did not pass, or validated another version of ``training_corpus``."""
    from spark_jobs.gate import require_passed_gate

    started = time.time()
    gate = require_passed_gate(spark, workdir, gates)
    version = gate.table_versions[tables.TRAINING_CORPUS.name]
    tok_uri = cfg.tokenizer or tokenizer_dir or locations.tokenizer_model(workdir)
    tok_local = storage.local_path(tok_uri)
    if tok_local is None:
        raise ValueError(f"emit.tokenizer must be a local folder (or dbfs:/, read through /dbfs); got {tok_uri}")
    tok = shards.read_tokenizer(tok_local)
    out = output_uri(cfg, workdir)
    table_uri = tables.table_uri(workdir, tables.TRAINING_CORPUS)
    fp = fingerprint(cfg, table_uri, version, tok.sha256)
    stats = StageStats("emit")

    current = read_manifest(out)
    if not force and current and current.get("fingerprint") == fp and _published_whole(out, current):
        stats.rows_unchanged = current["counts"]["documents_in"]
        stats.extra = {**summary(current), "unchanged": True}
        stats.seconds = time.time() - started
        return stats

    run_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{fp[:8]}"
    progress(f"run {run_id}: training_corpus v{version}, tokenizer {tok.sha256[:12]} ({tok.vocab_size:,} tokens, "
             f"{tok.dtype}), output {storage.public(out)}")  # fmt: skip
    corpus_uri = locations.table(workdir, tables.TRAINING_CORPUS.name)
    # per-document rows: Spark writes them beside the run (a local output) or beside the Delta tables (a store)
    meta = None if storage.local_path(out) is not None else storage.join(locations.emit_meta(workdir), run_id)
    if meta is not None:
        storage.remove_dir(locations.emit_meta(workdir))  # runs that died before cleaning up
    warming = _warm_table_state(spark, workdir)
    result = emit_corpus(spark, corpus_uri, version, out, cfg, tok, run_id, progress=progress, meta_uri=meta)
    warming.result()

    t = time.time()
    datasets = datasets_of(result)
    stage_blends = {"stage1": blends.stage1_blend(datasets, cfg.multipliers)}
    if cfg.stage2.enabled:
        stage_blends["stage2"] = blends.stage2_blend(datasets, cfg.stage2_multipliers(), cfg.stage2.replay_ratio)
    if cfg.stage3.enabled:
        stage_blends["stage3"] = blends.stage3_blend(datasets, cfg.stage3_multipliers(), cfg.stage3.rehearsal_share)
    stats_rows = token_stats(result, stage_blends)
    progress("writing emitted_documents and emit_token_stats")
    _write_tables(spark, workdir, result, stats_rows)
    written = {stage: b for stage, b in stage_blends.items() if b.get("train")}
    manifest = {
        "run_id": run_id,
        "fingerprint": fp,
        "created_utc": datetime.now(UTC).isoformat(),
        "moru_version": _moru_version(),
        "inputs": {
            "training_corpus": {"uri": table_uri, "version": version},
            "gate": {
                "run_time": gate.run_time,
                "table_versions": gate.table_versions,
                "config_fingerprint": gate.config_fingerprint,
            },
        },  # fmt: skip
        "tokenizer": tok.describe(),
        "config": cfg.model_dump(mode="json"),
        "run_dir": storage.public(result.run_uri),
        "blends": {stage: storage.public(blend_uri(out, stage)) for stage in written},
        "counts": {
            "documents_in": result.documents_in,
            "documents_out": result.documents_out,
            "rejected": {"no_tokens": result.rejected_count} if result.rejected_count else {},
            "rejected_doc_ids": result.rejected,
        },
        "replay": result.replay,
        "rehearsal": result.rehearsal,
        "token_stats": stats_rows,
        "length_histogram": result.length_histogram,
        "shards": [
            {k: v for k, v in asdict(s).items() if k != "parts"} | {"parts": len(s.parts)} for s in result.shards
        ],  # fmt: skip
        "read": result.read,
        "seconds": {**result.seconds},
    }
    # the run's own manifest, then the blends, then the top-level manifest: each names only published shards
    storage.write_bytes(storage.join(result.run_uri, "manifest.json"), _json(manifest))
    for stage in ("stage1", *EXTENSION_STAGES):
        if stage in written:
            storage.write_bytes(blend_uri(out, stage), _json(written[stage]))
        elif stage != "stage3" or stage in (current or {}).get("blends", {}):
            # no such blend this run: an older one must not stay behind, naming an older run (a stage-3 blend
            # that no emit run wrote, one made by hand before emit had stage 3, is left alone)
            storage.remove_file(blend_uri(out, stage))
    manifest["seconds"]["tables_and_manifests"] = time.time() - t
    storage.write_bytes(manifest_uri(out), _json(manifest))

    storage.remove_dir(storage.join(out, "_staging", run_id))
    if meta is not None:
        storage.remove_dir(meta)
    for old in _list_runs(out)[: -cfg.keep_runs]:
        if old != run_id:
            storage.remove_dir(storage.join(out, "runs", old))

    stats.rows_in = result.documents_in
    stats.rows_out = result.documents_out
    stats.rows_rejected = result.rejected_count
    if result.rejected_count:
        stats.by_reason = {"no_tokens": result.rejected_count}
    stats.extra = summary(manifest)
    stats.seconds = time.time() - started
    stats.check()
    log.info("emit %s: %d documents in, %d emitted, %d shards", run_id, result.documents_in, result.documents_out,
             len(result.shards))  # fmt: skip
    return stats


def summary(manifest: dict) -> dict:
    """What the run report and the CLI show of an emit run (from its manifest)."""
    s3 = manifest["config"].get("stage3") or {}
    return {
        "run_id": manifest["run_id"],
        "run_dir": manifest["run_dir"],
        "blends": manifest["blends"],
        "tokenizer": {k: manifest["tokenizer"][k] for k in ("sha256", "vocab_size", "eod_token", "eod_id", "dtype")},
        "training_corpus_version": manifest["inputs"]["training_corpus"]["version"],
        "token_stats": manifest["token_stats"],
        "replay": manifest["replay"],
        "replay_ratio": manifest["config"]["stage2"]["replay_ratio"] if manifest["config"]["stage2"]["enabled"]
        else None,
        "min_tokens": manifest["config"]["stage2"]["min_tokens"],
        "max_tokens": manifest["config"]["stage2"]["max_tokens"],
        # stage 3 (None when off; manifests from before it existed have no stage3 section)
        "rehearsal": manifest.get("rehearsal") or {},
        "rehearsal_share": s3["rehearsal_share"] if s3.get("enabled") else None,
        "min_doc_tokens": s3.get("min_doc_tokens"),
        "max_doc_tokens": s3.get("max_doc_tokens"),
        "length_histogram": manifest["length_histogram"],
        "shards": len(manifest["shards"]),
        "read": manifest.get("read"),
        "seconds": manifest["seconds"],
    }  # fmt: skip


def _moru_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moru")
    except PackageNotFoundError:
        return "unknown"


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.emit, ctx.cfg.gates, tokenizer_dir=ctx.cfg.tokenizer.output_dir,
               force=ctx.force, progress=ctx.progress)  # fmt: skip


JOB = Job(
    name="emit",
    run=run_job,
    summary="Tokenize training_corpus with the trained tokenizer into Megatron .bin/.idx shards (stage 1: every "
    "document; stage 2: long documents + replayed stage-1 documents; stage 3 when enabled: longer documents + "
    "rehearsal), verify them, publish them, and write the blend "
    "JSONs and manifest under emit.output (default WORKDIR/emit). Refuses to run past a failed or stale gate (exit 1).",
    reads=("training_corpus", "file:gate", "file:tokenizer"),
    writes=("emitted_documents", "emit_token_stats", "file:emit"),
    section="emit",
    force="flag",
    loads_tokenizer=True,
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("emit")
