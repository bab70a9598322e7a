"""What runs inside the Spark tasks (``mapInArrow`` functions): stage 1 (tokenize, append the end-of-document token,
write one shard per (split, lang, source) of the partition), stages 2 and 3 (copy the selected stage-1 documents,
long ones cut into pieces) and merging. Each shard is closed by reading it back and checking it (:func:`shards.verify`)
before it is moved into place, then its record (``<prefix>.json``) is written beside it; each stage-1 partition
writes a task record (documents read, documents with no tokens, each later stage's sample tallies) under
``_tasks/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np
import pyarrow as pa

from core import storage
from spark_jobs.emit import shards
from spark_jobs.emit.layout import (
    EXTENSION_STAGES,
    REPLAY_BUCKETS,
    Splitter,
    part_path,
    piece_tokens,
    replay_bucket,
)

# bucket_<stage>: the document's sample bucket for that stage (-1 when the stage takes no sample)
META1_DDL = ("doc_id STRING, split STRING, lang STRING, source STRING, n_tokens INT, part INT, seq BIGINT, "
             + ", ".join(f"bucket_{stage} INT" for stage in EXTENSION_STAGES))  # fmt: skip
META1_SCHEMA = pa.schema([("doc_id", pa.string()), ("split", pa.string()), ("lang", pa.string()),
                          ("source", pa.string()), ("n_tokens", pa.int32()), ("part", pa.int32()),
                          ("seq", pa.int64())]
                         + [(f"bucket_{stage}", pa.int32()) for stage in EXTENSION_STAGES])  # fmt: skip
META2_DDL = (
    "doc_id STRING, piece INT, split STRING, role STRING, lang STRING, source STRING, n_tokens INT, part INT, "
    "seq BIGINT"
)
META2_SCHEMA = pa.schema([("doc_id", pa.string()), ("piece", pa.int32()), ("split", pa.string()),
                          ("role", pa.string()), ("lang", pa.string()), ("source", pa.string()),
                          ("n_tokens", pa.int32()), ("part", pa.int32()), ("seq", pa.int64())])  # fmt: skip
TASK_DDL = "result STRING"
INPUT_COLUMNS = ["doc_id", "source", "lang", "text"]


def task_tag() -> str:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    if ctx is None:
        return f"p{os.getpid()}"
    return f"{ctx.stageId()}-{ctx.partitionId()}-{ctx.attemptNumber()}-{os.getpid()}"


def record(stage: str, split: str, role: str, lang: str, source: str, part: int) -> dict:
    return {"stage": stage, "split": split, "role": role, "lang": lang, "source": source, "part": part,
            "path": part_path(stage, split, role, lang, source, part)}  # fmt: skip


class OpenShards:
    """The shards a task is writing, by key. Closing one finishes its files, reads them back and checks them
    against what was added, moves them into place, then writes the shard's record beside it (``<prefix>.json``):
    a record means a whole, verified shard."""

    def __init__(self, root: str, eod: int, dtype: np.dtype, tag: str):
        self.root, self.eod, self.dtype, self.tag = root, eod, dtype, tag
        self._open: dict[tuple, tuple] = {}  # key -> (uri, context manager, writer, record)

    def get(self, key: tuple, rec: dict) -> shards.ShardWriter:
        entry = self._open.get(key)
        if entry is None:
            uri = storage.join(self.root, rec["path"])
            cm = shards.shard_output(uri, self.tag)
            writer = shards.ShardWriter(cm.__enter__(), self.dtype)
            entry = self._open[key] = (uri, cm, writer, rec)
        return entry[2]

    def close_all(self) -> None:
        for key in sorted(self._open):
            uri, cm, w, rec = self._open.pop(key)
            w.finish()
            expected = w.expected()
            files = shards.verify(w.prefix, expected, self.eod, self.dtype)
            cm.__exit__(None, None, None)
            body = {**rec, **asdict(expected), "files": files, "bins": w.length_bins()}
            storage.write_bytes(storage.suffixed(uri, ".json"), json.dumps(body).encode())

    def abort(self, exc: BaseException) -> None:
        for _uri, cm, _w, _rec in self._open.values():
            cm.__exit__(type(exc), exc, exc.__traceback__)
        self._open.clear()


class ReplayTally:
    """One later stage's tally, per split: the long documents' tokens (as pieces) and the short documents' tokens
    per sample bucket, so the driver picks the sample's cutoff without another pass over the documents."""

    def __init__(self, min_tokens: int, max_tokens: int):
        self.min, self.max = min_tokens, max_tokens
        self.long: dict[str, int] = {}
        self.short: dict[str, np.ndarray] = {}

    def add(self, splits: list[str], n_tokens: np.ndarray, buckets: np.ndarray) -> None:
        split_arr = np.array(splits, dtype=object)
        for split in set(splits):
            mask = (split_arr == split) & (n_tokens > 0)
            n, b = n_tokens[mask], buckets[mask]
            is_long = n >= self.min
            if is_long.any():
                self.long[split] = self.long.get(split, 0) + int(piece_tokens(n[is_long], self.max).sum())
            if (~is_long).any():
                acc = self.short.setdefault(split, np.zeros(REPLAY_BUCKETS, dtype=np.int64))
                acc += np.bincount(b[~is_long], weights=n[~is_long], minlength=REPLAY_BUCKETS).astype(np.int64)

    def as_dict(self) -> dict:
        short = {}
        for split, acc in self.short.items():
            nz = np.flatnonzero(acc)
            short[split] = [nz.tolist(), acc[nz].tolist()]
        return {"long": self.long, "short": short}


def _task_record(root: str, part: int, documents: int, rejected: list[str], replay: dict) -> None:
    """What a stage-1 partition read: every partition writes one (a missing one is a partition that did not
    finish). ``replay``: per later stage, its tally."""
    body = {"part": part, "documents": documents, "rejected": len(rejected), "rejected_doc_ids": rejected[:100],
            "replay": replay}  # fmt: skip
    storage.write_bytes(storage.join(root, "_tasks", f"stage1-{part:05d}.json"), json.dumps(body).encode())


class _Stage1Partition:
    """One stage-1 partition: its documents, in the order they come, routed to the shard of their (split, lang,
    source)."""

    def __init__(self, root: str, tok, eod: int, dtype: np.dtype, splitter: Splitter, part: int, tag: str,
                 tallies: list[tuple]):  # fmt: skip
        self.root, self.tok, self.eod, self.dtype, self.splitter, self.part = root, tok, eod, dtype, splitter, part
        self.shards = OpenShards(root, eod, dtype, tag)
        # stage -> (its tally, seed, bucket label)
        self.tallies = {stage: (ReplayTally(lo, hi), seed, label) for stage, lo, hi, seed, label in tallies}
        self.documents, self.rejected = 0, []
        self._writers: dict[tuple, shards.ShardWriter] = {}

    def add(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        self.documents += n
        ids = batch.column("doc_id").to_pylist()
        langs, sources = batch.column("lang").to_pylist(), batch.column("source").to_pylist()
        splits = [self.splitter(d) for d in ids]
        flat, lengths = shards.encode(self.tok, batch.column("text").to_pylist())
        keep = lengths > 0
        kept = np.flatnonzero(keep)
        if len(kept) < n:
            self.rejected += [ids[i] for i in np.flatnonzero(~keep)]
        tokens, ends = shards.with_eod(flat, lengths[keep], self.eod, self.dtype)
        seq = np.full(n, -1, dtype=np.int64)
        lo = 0
        for j, i in enumerate(kept.tolist()):
            hi = int(ends[j])
            key = (splits[i], langs[i], sources[i])
            writer = self._writers.get(key)
            if writer is None:
                rec = record("stage1", key[0], "all", key[1], key[2], self.part)
                writer = self._writers[key] = self.shards.get(key, rec)
            seq[i] = writer.add(tokens[lo:hi])
            lo = hi
        n_tokens = np.where(keep, lengths + 1, 0).astype(np.int32)
        buckets = []
        for stage in EXTENSION_STAGES:
            b = np.full(n, -1, dtype=np.int32)
            if stage in self.tallies:
                tally, seed, label = self.tallies[stage]
                b = np.fromiter((replay_bucket(d, seed, label) for d in ids), dtype=np.int32, count=n)
                tally.add(splits, n_tokens, b)
            buckets.append(pa.array(b))
        return pa.RecordBatch.from_arrays(
            [batch.column("doc_id"), pa.array(splits, pa.string()), batch.column("lang"), batch.column("source"),
             pa.array(n_tokens), pa.array(np.full(n, self.part, dtype=np.int32)), pa.array(seq), *buckets],
            schema=META1_SCHEMA,
        )  # fmt: skip

    def close(self) -> None:
        self.shards.close_all()
        tallies = {stage: tally.as_dict() for stage, (tally, _seed, _label) in self.tallies.items()}
        _task_record(self.root, self.part, self.documents, self.rejected, tallies)


def stage1_writer(root: str, tok_json: str, tok_sha: str, eod: int, dtype_name: str, split: tuple,
                  tallies: list[tuple], files: list[list[tuple[int, list]]] | None, batch_docs: int):  # fmt: skip
    """mapInArrow function for stage 1; yields one row per document (n_tokens 0 and seq -1 for a document with
    no tokens, which is not written). ``split``: (valid, test, seed); ``tallies``: per later stage that takes a
    sample, (stage, min_tokens, max_tokens, seed, bucket label) to tally for its selection
    (:meth:`spark_jobs.emit.config.ExtensionStage.tally`). ``files``: per Spark task, its partitions as
    (``part``, the Parquet file pieces it reads itself); the input rows are then the task numbers (``id``, one row
    per Spark partition: ``spark.range(n, numPartitions=n)``). Without ``files`` the input rows are the documents
    of this Spark partition."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        dtype, tag = np.dtype(dtype_name), task_tag()
        # the tokenizer's Rust thread pool gets the cores Spark gave this task (spark.task.cpus): with a Python
        # worker per core, pools as wide as the machine oversubscribe it (~10 % slower on 2 cores, measured).
        # Read once, when the worker's pool starts; a RAYON_NUM_THREADS the user set wins.
        ctx = TaskContext.get()
        if ctx is not None:
            os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, ctx.cpus())))
        tok = shards.load_tokenizer(tok_json, tok_sha)
        splitter = Splitter(*split)
        if files is not None:
            for batch in batches:
                for task in batch.column("id").to_pylist():
                    for part, pieces in files[task]:
                        p = _Stage1Partition(root, tok, eod, dtype, splitter, part, tag, tallies)
                        try:
                            for docs in _read_files(pieces, batch_docs):
                                yield p.add(docs)
                            p.close()
                        except BaseException as exc:
                            p.shards.abort(exc)
                            raise
            return
        p = _Stage1Partition(root, tok, eod, dtype, splitter, ctx.partitionId() if ctx else 0, tag, tallies)
        try:
            for batch in batches:
                if batch.num_rows:
                    yield p.add(batch)
            p.close()
        except BaseException as exc:
            p.shards.abort(exc)
            raise

    return run


def _read_files(pieces: list, batch_docs: int) -> Iterator[pa.RecordBatch]:
    """The documents of (Parquet file, first row, end row) pieces, in order, at most ``batch_docs`` at a time: row
    groups outside a piece are not read."""
    from spark_jobs.emit.inputs import parquet_file

    for path, first, end in pieces:
        with parquet_file(path) as pf:
            wanted, start, row0 = [], 0, 0  # row groups overlapping [first, end); the row the first one starts at
            for i in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(i).num_rows
                if row0 < end and row0 + n > first:
                    if not wanted:
                        start = row0
                    wanted.append(i)
                row0 += n
            pos = start
            for batch in pf.iter_batches(batch_size=batch_docs, row_groups=wanted, columns=INPUT_COLUMNS):
                lo, hi = max(first - pos, 0), min(end - pos, batch.num_rows)
                pos += batch.num_rows
                if lo < hi:
                    yield batch.slice(lo, hi - lo)


def extension_writer(root: str, stage: str, eod: int, dtype_name: str, max_tokens: int):
    """mapInArrow function: copy the selected stage-1 documents into ``stage``'s shards (stage2, stage3; long
    documents cut into pieces that fit ``max_tokens``, sampled ones whole); yields one row per piece. Rows arrive
    sorted by stage-1 shard and index."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from contextlib import ExitStack

        dtype = np.dtype(dtype_name)
        out_shards = OpenShards(root, eod, dtype, task_tag())
        source_key, source_ds, stack = None, None, ExitStack()
        try:
            for batch in batches:
                cols = {c: batch.column(c).to_pylist() for c in ("doc_id", "split", "lang", "source", "role",
                                                                 "n_tokens", "part", "seq")}  # fmt: skip
                out: dict[str, list] = {f.name: [] for f in META2_SCHEMA}
                for i in range(batch.num_rows):
                    split, lang, src, role, part = (cols[c][i] for c in ("split", "lang", "source", "role", "part"))
                    if (split, lang, src, part) != source_key:
                        source_ds = None
                        stack.close()
                        stack = ExitStack()
                        uri = storage.join(root, part_path("stage1", split, "all", lang, src, part))
                        source_ds = shards.read_dataset(stack.enter_context(shards.shard_input(uri)))
                        source_key = (split, lang, src, part)
                    doc = source_ds[cols["seq"][i]]
                    if len(doc) != cols["n_tokens"][i]:
                        raise shards.ShardError(f"stage-1 document {cols['doc_id'][i]} has {len(doc)} tokens, "
                                                f"its row says {cols['n_tokens'][i]}")  # fmt: skip
                    writer = out_shards.get((split, role, lang, src, part),
                                            record(stage, split, role, lang, src, part))  # fmt: skip
                    bounds = shards.piece_bounds(len(doc), max_tokens) if role == "long" else [(0, len(doc) - 1)]
                    for piece, (a, b) in enumerate(bounds):
                        tokens = np.empty(b - a + 1, dtype=dtype)
                        tokens[:-1] = doc[a:b]
                        tokens[-1] = eod
                        index = writer.add(tokens)
                        for k, v in (("doc_id", cols["doc_id"][i]), ("piece", piece), ("split", split),
                                     ("role", role), ("lang", lang), ("source", src), ("n_tokens", len(tokens)),
                                     ("part", part), ("seq", index)):  # fmt: skip
                            out[k].append(v)
                yield pa.RecordBatch.from_pydict(out, schema=META2_SCHEMA)
            source_ds = None
            stack.close()
            out_shards.close_all()
        except BaseException as exc:
            out_shards.abort(exc)
            raise
        finally:
            source_ds = None
            stack.close()

    return run


def merge_task(root: str, eod: int, dtype_name: str):
    """Concatenate each group's shards into one, verify it against the sum of the parts' records, record it,
    then remove the parts."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from contextlib import ExitStack

        tag, dtype, results = task_tag(), np.dtype(dtype_name), []
        for batch in batches:
            for spec in map(json.loads, batch.column("spec").to_pylist()):
                uri = storage.join(root, spec["path"])
                with ExitStack() as stack:
                    parts = [stack.enter_context(shards.shard_input(storage.join(root, p))) for p in spec["parts"]]
                    with shards.shard_output(uri, tag) as out:
                        shards.merge(parts, out, dtype)
                        files = shards.verify(out, shards.Expected(**spec["expected"]), eod, dtype)
                body = {k: v for k, v in spec.items() if k != "expected"} | spec["expected"] | {"files": files}
                storage.write_bytes(storage.suffixed(uri, ".json"), json.dumps(body).encode())
                for p in spec["parts"]:
                    shards.remove_shard(storage.join(root, p))
                    storage.remove_file(storage.suffixed(storage.join(root, p), ".json"))
                results.append(json.dumps({"path": spec["path"]}))
        yield pa.RecordBatch.from_pydict({"result": results})

    return run
