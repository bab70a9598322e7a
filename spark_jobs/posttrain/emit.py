"""The post-training emit job: ``sft_corpus`` and ``preference_corpus`` → packed SFT datasets and preference-pair
datasets (Megatron ``MMIDIDX`` ``.bin``/``.idx`` pairs that megatron-core's ``IndexedDataset`` reads), a manifest
and one blend JSON per kind.

**What a trainer reads** (``posttrain.emit.output``, default ``WORKDIR/posttrain_emit``)::

    manifest.json                 the published run: input tables and their Delta versions, the gate, the
                                  tokenizer's SHA-256, config, counts, packing efficiency, mask share, every shard
                                  with its sizes and SHA-256
    sft_blend.json                {"train": [tokens, PART, tokens, PART, ...], "valid": [...], "test": [...]}
    pairs_blend.json              {"train": [pairs, PART, ...], ...}
    runs/<run>/sft/<split>/part-00003/tokens.{bin,idx}      one document = one packed sequence (<= seq_length)
                                      loss_mask.{bin,idx}   uint8, the same lengths: 1 = a training target
                                      cu_seqlens.{bin,idx}  int32, one document per packed sequence: [0, l0, l0+l1,
                                                            ..., its length], the examples' boundaries
                                      examples.parquet      doc_id, source, lang, bin, offset, n_tokens, ...
    runs/<run>/pairs/<split>/part-00003/{prompt,chosen,rejected}.{bin,idx}          one document per pair
                                        {chosen,rejected}_loss_mask.{bin,idx}       uint8, aligned with them
                                        pairs.parquet       doc_id, source, lang, scores, token counts

``PART`` in a blend is the part folder's absolute path (a URI on object stores); each dataset in it is
``IndexedDataset(PART + "/tokens")`` and so on. Document ``i`` of ``tokens``, ``loss_mask`` and ``cu_seqlens`` is
packed sequence ``i``: megatron-core trains it as one THD sequence with
``PackedSeqParams(qkv_format="thd", cu_seqlens_q=cu_seqlens, cu_seqlens_kv=cu_seqlens, max_seqlen_q=max(diff))``
so attention never crosses an example, and position ids restart at each boundary
(``arange(len) - cu_seqlens[segment]``). Sequences are not padded: the trainer pads to its own multiple. The
loss mask marks the *target tokens* (as ``apply_chat_template(..., return_assistant_tokens_mask=True)`` does):
shift it with the labels (position ``t`` predicts token ``t + 1``, weighted by ``loss_mask[t + 1]``). Every
example starts with ``[|system|]`` (mask 0), so no loss crosses a boundary. No end-of-document token is
appended: each example already ends with the template's ``[|endofturn|]\\n``.

A pair's ``prompt`` is the rendered prompt up to and including the ``[|assistant|]`` generation prompt;
``chosen`` / ``rejected`` are what follows it when the whole conversation is rendered (the response's content,
``[|endofturn|]``, ``\\n``, and any tool turns between assistant turns), so ``prompt + chosen`` is exactly the
rendered conversation prompt + chosen. Their masks are 1 on the response's assistant content and its
``[|endofturn|]`` only.

**Mask** (:mod:`tokenizer.chat`): 1 on each supervised assistant turn's content and its ``[|endofturn|]``; 0 on
headers, system / user / tool turns and the ``\\n`` after ``[|endofturn|]`` — the chat template's
``{% generation %}`` spans. ``posttrain.emit.supervise``: ``all`` assistant turns, or ``last`` (the assistant
turns after the last user turn), :func:`quality.posttrain.turns.supervised_mask`. Pairs supervise the response
only.

**How it runs.** The gate first (:func:`check_gate`), then each input table is read at its current Delta version
(the version the gate validated; both recorded in the manifest), shuffled into ``partitions`` partitions by a hash
of ``doc_id`` and sorted by it, so a partition's rows depend only on the data. A ``mapInArrow`` task loads the
tokenizer once per Python worker, renders and tokenizes every row of its partition, gives each row its split
(train / valid / test, a hash of ``doc_id`` as in pretraining emission), and, for SFT, packs the partition's
examples of each split with best-fit decreasing (:func:`quality.posttrain.packing.pack_bfd`) into ``seq_length``
bins — packing is per partition and split, so fewer partitions pack a little tighter, more use more cores. Each
dataset is written with megatron-core's ``IndexedDatasetBuilder``, read back with ``IndexedDataset`` and checked
(counts, lengths, sizes; tokens, masks and boundaries aligned) before it is moved into place
(:mod:`spark_jobs.emit.shards`, shared with pretraining emission). Publishing is pretraining emission's: shards
under ``_staging/<run>/``, the run folder renamed into ``runs/`` (object stores: written in place and their sizes
checked), then the run's manifest, the blends, and ``manifest.json`` last. A run is ``<UTC time>-<fingerprint of
inputs, versions, tokenizer, settings>``; the same fingerprint does nothing unless forced, and a forced run writes
byte-identical shards.

**Rows**: every input row is emitted or rejected with a reason (counted per kind and source; a few doc_ids each
in the manifest): ``invalid_messages`` (a role or content the schema refuses), ``no_supervised_turn`` (nothing
to train on under ``supervise``; a pair response without an assistant turn), ``too_long`` (longer than
``seq_length`` with ``overlong: drop``; a pair whose prompt + longer response does not fit, always),
``no_supervised_tokens_after_truncation`` (``overlong: truncate`` cut every target). Truncated SFT examples keep
their first ``seq_length`` tokens and are counted as ``truncated``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from core import locations, storage
from core.job import Halt, Job, JobContext
from core.paths import ConfigPath
from core.stats import StageStats
from quality.gates.result import GateFailed, GateResult
from quality.posttrain.packing import pack_bfd
from quality.posttrain.schema import Message
from quality.posttrain.turns import supervised_mask
from spark_jobs import tables
from spark_jobs.emit import job as emit_job  # its run folders, manifests and publishing are this job's too
from spark_jobs.emit import shards
from spark_jobs.emit.config import SplitConfig
from spark_jobs.emit.layout import Splitter
from tokenizer.chat import ChatEncoder
from tokenizer.hf import chat_template_sha256

log = logging.getLogger("moru.posttrain.emit")

# the input tables: the selected corpora (the post-training select job writes them), or with
# ``posttrain.emit.input: normalized`` the tables before dedup / decontamination / selection
SFT_TABLE = "sft_corpus"
PAIRS_TABLE = "preference_corpus"
SFT_NORMALIZED = tables.CONVERSATIONS.name
PAIRS_NORMALIZED = tables.PREFERENCE_PAIRS.name

# Bump when the bytes emitted for the same input and settings change: a re-run then emits a new run.
FORMAT_VERSION = "1"

SFT_DATASETS = ("tokens", "loss_mask", "cu_seqlens")
PAIR_DATASETS = ("prompt", "chosen", "rejected", "chosen_loss_mask", "rejected_loss_mask")
SFT_COLUMNS = ["doc_id", "source", "lang", "messages"]
PAIR_COLUMNS = ["doc_id", "source", "lang", "prompt", "chosen", "rejected", "chosen_score", "rejected_score"]
MAX_LISTED = 20  # rejected doc_ids kept per reason and partition (the manifest keeps 100 per reason)


def output_default(workdir: str) -> str:
    return locations.posttrain_emit_output(workdir)


def gate_result_uri(workdir: str) -> str:
    """Where the post-training gate writes its verdict (GateResult JSON)."""
    return storage.join(locations.posttrain_gates(workdir), "latest.json")


class PosttrainEmitConfig(BaseModel):
    """``posttrain.emit``: packed SFT datasets and preference-pair datasets from the post-training corpora."""

    model_config = ConfigDict(extra="forbid")

    input: Literal["corpus", "normalized"] = Field(
        default="corpus",
        description=f"corpus: {SFT_TABLE} and {PAIRS_TABLE} (deduplicated, decontaminated, selected); normalized: "
        f"{SFT_NORMALIZED} and {PAIRS_NORMALIZED} as they come out of normalize",
    )
    output: ConfigPath | None = Field(
        default=None, description="where runs/, the blends and manifest.json go (default WORKDIR/posttrain_emit)"
    )
    tokenizer: ConfigPath | None = Field(
        default=None, description="Hugging Face tokenizer folder (default: tokenizer.output_dir)"
    )
    seq_length: int = Field(
        default=4096, ge=16, le=1 << 20, description="tokens per packed SFT sequence; longest pair (prompt + response)"
    )
    supervise: Literal["all", "last"] = Field(
        default="all", description="SFT targets: every assistant turn, or the assistant turns after the last user turn"
    )
    overlong: Literal["truncate", "drop"] = Field(
        default="truncate",
        description="an SFT example longer than seq_length: keep its first seq_length tokens, or drop it",
    )
    partitions: int = Field(
        default=4,
        ge=1,
        le=100_000,
        description="partitions per kind (by a hash of doc_id); SFT examples are packed within a partition and split",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    require_gate: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="always: refuse without a passed, current post-training gate; auto: check it when a result "
        "exists, else emit with a note in the stats; never: do not check",
    )
    keep_runs: int = Field(default=2, ge=1, description="published runs kept under runs/")

    def fingerprint(self) -> str:
        """What decides the emitted bytes (not where they go, nor the gate policy)."""
        data = self.model_dump(mode="json", exclude={"output", "tokenizer", "require_gate", "keep_runs"})
        data["format"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def input_tables(self) -> tuple[str, str]:
        return (SFT_TABLE, PAIRS_TABLE) if self.input == "corpus" else (SFT_NORMALIZED, PAIRS_NORMALIZED)


# -- inside the tasks ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _encoder(json_text: str, sha256: str) -> ChatEncoder:
    """One chat encoder per Python worker and tokenizer (special-token text in messages encoded as text)."""
    return ChatEncoder(shards.load_tokenizer(json_text, sha256))


class _Tally:
    """Rows in, out and rejected (by reason, a few doc_ids each), in all and per source."""

    def __init__(self):
        self.rows = self.out = 0
        self.rejected: dict[str, int] = {}
        self.rejected_ids: dict[str, list[str]] = {}
        self.by_source: dict[str, dict[str, int]] = {}

    def seen(self, source: str) -> None:
        self.rows += 1
        self.by_source.setdefault(source, {"in": 0, "out": 0, "rejected": 0})["in"] += 1

    def emitted(self, source: str) -> None:
        self.out += 1
        self.by_source[source]["out"] += 1

    def reject(self, reason: str, doc_id: str, source: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        ids = self.rejected_ids.setdefault(reason, [])
        if len(ids) < MAX_LISTED:
            ids.append(doc_id)
        self.by_source[source]["rejected"] += 1

    def as_dict(self) -> dict:
        return {"rows": self.rows, "out": self.out, "rejected": self.rejected, "rejected_ids": self.rejected_ids,
                "by_source": self.by_source}  # fmt: skip


def _messages(items) -> tuple[Message, ...]:
    if items is None:
        raise ValueError("no messages")
    return tuple(Message.from_dict(m) for m in items)


def _lengths(prefix: str) -> np.ndarray:
    ds = shards.read_dataset(prefix)
    out = ds.sequence_lengths.astype(np.int64)
    del ds
    return out


def check_sft_part(prefixes: dict[str, str], supervised_tokens: int | None = None) -> None:
    """The aligned reading of one SFT part (local prefixes of tokens / loss_mask / cu_seqlens) through
    ``IndexedDataset``: as many sequences in each; a mask of 0s and 1s as long as each sequence; boundaries that
    start at 0, rise, and end at the sequence's length. Raises ShardError naming what differs."""
    tokens, mask, cu = (shards.read_dataset(prefixes[n]) for n in SFT_DATASETS)
    problems = []
    n_tok, n_mask, n_cu = (d.sequence_lengths.astype(np.int64) for d in (tokens, mask, cu))
    if not (len(n_tok) == len(n_mask) == len(n_cu)):
        problems.append(f"{len(n_tok)} token, {len(n_mask)} mask and {len(n_cu)} boundary sequences")
    elif not np.array_equal(n_tok, n_mask):
        problems.append("a loss mask's length differs from its sequence's")
    else:
        for i in range(len(n_tok)):
            b = cu[i].astype(np.int64)
            if len(b) < 2 or b[0] != 0 or b[-1] != n_tok[i] or np.any(np.diff(b) <= 0):
                problems.append(f"sequence {i}: boundaries {b.tolist()[:8]} do not partition its {n_tok[i]} tokens")
                break
        m = np.fromfile(prefixes["loss_mask"] + shards.BIN, dtype=np.uint8)
        if m.size and m.max() > 1:
            problems.append("a loss mask holds values other than 0 and 1")
        if supervised_tokens is not None and int(m.sum()) != supervised_tokens:
            problems.append(f"{int(m.sum())} supervised tokens, expected {supervised_tokens}")
    del tokens, mask, cu
    if problems:
        raise shards.ShardError(f"{prefixes['tokens']}: " + "; ".join(problems))


def check_pairs_part(prefixes: dict[str, str]) -> None:
    """One pair part's datasets, read with ``IndexedDataset``: one document per pair in each, every mask as long
    as its response. Raises ShardError naming what differs."""
    n = {name: _lengths(prefixes[name]) for name in PAIR_DATASETS}
    problems = []
    if len({len(v) for v in n.values()}) != 1:
        problems.append("the datasets hold different numbers of pairs: " + str({k: len(v) for k, v in n.items()}))
    else:
        for side in ("chosen", "rejected"):
            if not np.array_equal(n[side], n[f"{side}_loss_mask"]):
                problems.append(f"a {side} loss mask's length differs from its response's")
    if problems:
        raise shards.ShardError(f"{prefixes['prompt']}: " + "; ".join(problems))


def _write_parquet(uri: str, table: pa.Table) -> None:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    storage.write_bytes(uri, buf.getvalue())


@dataclass
class _Example:
    doc_id: str
    source: str
    lang: str
    ids: np.ndarray
    mask: np.ndarray


class _SftPartition:
    """The SFT rows of one partition: rendered and tokenized as they come, packed per split at the end."""

    def __init__(self, enc: ChatEncoder, splitter: Splitter, supervise: str, seq_length: int, overlong: str):
        self.enc, self.splitter, self.supervise = enc, splitter, supervise
        self.seq_length, self.overlong = seq_length, overlong
        self.by_split: dict[str, list[_Example]] = {}
        self.tally = _Tally()

    def add(self, batch: pa.RecordBatch) -> None:
        doc_ids, sources, langs, messages = (batch.column(c).to_pylist() for c in SFT_COLUMNS)
        rows, convs, flags = [], [], []
        for i, (doc_id, source) in enumerate(zip(doc_ids, sources, strict=True)):
            self.tally.seen(source)
            try:
                msgs = _messages(messages[i])
            except (ValueError, KeyError, TypeError):
                self.tally.reject("invalid_messages", doc_id, source)
                continue
            flag = supervised_mask(msgs, self.supervise)  # type: ignore[arg-type]
            if not any(flag):
                self.tally.reject("no_supervised_turn", doc_id, source)
                continue
            rows.append(i)
            convs.append(msgs)
            flags.append(flag)
        for i, enc in zip(rows, self.enc.encode_batch(convs, flags), strict=True):
            doc_id, source = doc_ids[i], sources[i]
            if len(enc) > self.seq_length:
                if self.overlong == "drop":
                    self.tally.reject("too_long", doc_id, source)
                    continue
                if not enc.mask[: self.seq_length].any():
                    self.tally.reject("no_supervised_tokens_after_truncation", doc_id, source)
                    continue
            self.tally.emitted(source)
            split = self.splitter(doc_id)
            self.by_split.setdefault(split, []).append(_Example(doc_id, source, langs[i], enc.ids, enc.mask))

    def close(self, root: str, part: int, dtype: np.dtype, tag: str) -> list[dict]:
        return [self._write(root, split, part, self.by_split[split], dtype, tag) for split in sorted(self.by_split)]

    def _write(self, root: str, split: str, part: int, examples: list[_Example], dtype: np.dtype, tag: str) -> dict:
        packing = pack_bfd([len(e.ids) for e in examples], self.seq_length, overlong="truncate")
        lengths = packing.lengths
        bin_of, offset = packing.assignment()
        path = f"sft/{split}/part-{part:05d}"
        supervised = 0
        with ExitStack() as stack:
            w = shards.open_writers(stack, storage.join(root, path), {"tokens": dtype, "loss_mask": np.dtype(np.uint8),
                                                  "cu_seqlens": np.dtype(np.int32)}, tag)  # fmt: skip
            for b, items in enumerate(packing.bins):
                mask = np.concatenate([examples[i].mask[: lengths[i]] for i in items])
                w["tokens"].add(np.concatenate([examples[i].ids[: lengths[i]] for i in items]))
                w["loss_mask"].add(mask)
                w["cu_seqlens"].add(packing.cu_seqlens(b))
                supervised += int(mask.sum())
            files = shards.finish_writers(w)
            check_sft_part({name: x.prefix for name, x in w.items()}, supervised)
        n_sup = [int(e.mask[: lengths[i]].sum()) for i, e in enumerate(examples)]
        truncated = np.zeros(len(examples), dtype=bool)
        truncated[packing.truncated] = True
        _write_parquet(storage.join(root, path, "examples.parquet"), pa.table({
            "doc_id": [e.doc_id for e in examples], "source": [e.source for e in examples],
            "lang": [e.lang for e in examples], "bin": pa.array(bin_of, pa.int32()),
            "offset": pa.array(offset, pa.int32()), "n_tokens": pa.array(lengths, pa.int32()),
            "n_supervised": pa.array(n_sup, pa.int32()), "truncated": pa.array(truncated),
            "original_tokens": pa.array([len(e.ids) for e in examples], pa.int32()),
        }))  # fmt: skip
        return {"kind": "sft", "split": split, "part": part, "path": path, "examples": len(examples),
                "sequences": packing.n_bins, "tokens": packing.packed_tokens, "supervised_tokens": supervised,
                "truncated": int(truncated.sum()), "datasets": files}  # fmt: skip


@dataclass
class _Pair:
    doc_id: str
    source: str
    lang: str
    scores: tuple
    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    chosen_mask: np.ndarray
    rejected_mask: np.ndarray


class _PairPartition:
    """The preference pairs of one partition: prompt + chosen and prompt + rejected rendered and cut where the
    response starts (after the ``[|assistant|]`` generation prompt)."""

    def __init__(self, enc: ChatEncoder, splitter: Splitter, seq_length: int):
        self.enc, self.splitter, self.seq_length = enc, splitter, seq_length
        self.by_split: dict[str, list[_Pair]] = {}
        self.tally = _Tally()

    def add(self, batch: pa.RecordBatch) -> None:
        cols = {c: batch.column(c).to_pylist() for c in PAIR_COLUMNS}
        rows, convs, flags = [], [], []
        for i, (doc_id, source) in enumerate(zip(cols["doc_id"], cols["source"], strict=True)):
            self.tally.seen(source)
            try:
                prompt, chosen, rejected = (_messages(cols[c][i]) for c in ("prompt", "chosen", "rejected"))
            except (ValueError, KeyError, TypeError):
                self.tally.reject("invalid_messages", doc_id, source)
                continue
            if not all(any(m.role == "assistant" for m in r) for r in (chosen, rejected)):
                self.tally.reject("no_supervised_turn", doc_id, source)
                continue
            rows.append((i, len(prompt), chosen[0].role == "assistant" and rejected[0].role == "assistant"))
            for response in (chosen, rejected):
                convs.append(prompt + response)
                flags.append([False] * len(prompt) + [m.role == "assistant" for m in response])
        encoded = self.enc.encode_batch(convs, flags)
        for j, (i, k, generation_prompt) in enumerate(rows):
            doc_id, source = cols["doc_id"][i], cols["source"][i]
            c, r = encoded[2 * j], encoded[2 * j + 1]
            cut = int(c.turn_starts[k]) + int(generation_prompt)  # the same in both: the same text before it
            if not np.array_equal(c.ids[:cut], r.ids[:cut]) or c.mask[:cut].any() or r.mask[:cut].any():
                raise RuntimeError(f"pair {doc_id}: the rendered prompt differs between chosen and rejected")
            if cut + max(len(c) - cut, len(r) - cut) > self.seq_length:
                self.tally.reject("too_long", doc_id, source)
                continue
            self.tally.emitted(source)
            pair = _Pair(doc_id, source, cols["lang"][i], (cols["chosen_score"][i], cols["rejected_score"][i]),
                         c.ids[:cut], c.ids[cut:], r.ids[cut:], c.mask[cut:], r.mask[cut:])  # fmt: skip
            self.by_split.setdefault(self.splitter(doc_id), []).append(pair)

    def close(self, root: str, part: int, dtype: np.dtype, tag: str) -> list[dict]:
        return [self._write(root, split, part, self.by_split[split], dtype, tag) for split in sorted(self.by_split)]

    def _write(self, root: str, split: str, part: int, pairs: list[_Pair], dtype: np.dtype, tag: str) -> dict:
        path = f"pairs/{split}/part-{part:05d}"
        u8 = np.dtype(np.uint8)
        with ExitStack() as stack:
            names = {"prompt": dtype, "chosen": dtype, "rejected": dtype, "chosen_loss_mask": u8,
                     "rejected_loss_mask": u8}  # fmt: skip
            w = shards.open_writers(stack, storage.join(root, path), names, tag)
            for p in pairs:
                for name in PAIR_DATASETS:
                    w[name].add(getattr(p, name.replace("_loss_mask", "_mask")))
            files = shards.finish_writers(w)
            check_pairs_part({name: x.prefix for name, x in w.items()})
        counts = {name: [len(getattr(p, name)) for p in pairs] for name in ("prompt", "chosen", "rejected")}
        sup = {side: [int(getattr(p, f"{side}_mask").sum()) for p in pairs] for side in ("chosen", "rejected")}
        _write_parquet(storage.join(root, path, "pairs.parquet"), pa.table({
            "doc_id": [p.doc_id for p in pairs], "source": [p.source for p in pairs], "lang": [p.lang for p in pairs],
            "chosen_score": pa.array([p.scores[0] for p in pairs], pa.float64()),
            "rejected_score": pa.array([p.scores[1] for p in pairs], pa.float64()),
            **{f"{name}_tokens": pa.array(v, pa.int32()) for name, v in counts.items()},
            **{f"{side}_supervised": pa.array(v, pa.int32()) for side, v in sup.items()},
        }))  # fmt: skip
        return {"kind": "pairs", "split": split, "part": part, "path": path, "pairs": len(pairs),
                **{f"{name}_tokens": sum(v) for name, v in counts.items()},
                **{f"{side}_supervised_tokens": sum(v) for side, v in sup.items()}, "datasets": files}  # fmt: skip


def emit_task(kind: str, root: str, tok_json: str, tok_sha: str, dtype_name: str, split: tuple, supervise: str,
              seq_length: int, overlong: str):  # fmt: skip
    """mapInArrow function for one kind (``sft`` or ``pairs``): the rows of a partition in, one row out (JSON:
    the partition's tally and what it wrote)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        from spark_jobs.emit.tasks import task_tag

        ctx = TaskContext.get()
        if ctx is not None:  # the tokenizer's thread pool gets this task's cores (as in pretraining emission)
            os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, ctx.cpus())))
        enc = _encoder(tok_json, tok_sha)
        splitter = Splitter(*split)
        p = _SftPartition(enc, splitter, supervise, seq_length, overlong) if kind == "sft" else _PairPartition(
            enc, splitter, seq_length)  # fmt: skip
        for batch in batches:
            if batch.num_rows:
                p.add(batch)
        part = ctx.partitionId() if ctx is not None else 0
        written = p.close(root, part, np.dtype(dtype_name), task_tag())
        result = {"kind": kind, "part": part, "tally": p.tally.as_dict(), "parts": written}
        yield pa.RecordBatch.from_pydict({"result": [json.dumps(result)]})

    return run


# -- the gate ----------------------------------------------------------------------------------------------------


def check_gate(workdir: str, mode: str, versions: dict[str, int]) -> dict:
    """What the manifest records of the post-training gate; raises GateFailed where emission must not go on.

    ``always``: the latest post-training gate result must exist, have passed, and have validated the versions of
    the input tables that are current now (``versions``). ``auto``: the same when a result exists; without one,
    emission goes on and the returned note says so (the post-training gate is not written yet). ``never``: no
    check, noted."""
    uri = gate_result_uri(workdir)
    if mode == "never":
        return {"checked": False, "note": "posttrain.emit.require_gate is never: no gate was checked"}
    try:
        latest = GateResult.from_json(storage.read_bytes(uri).decode("utf-8"))
    except (FileNotFoundError, OSError):
        latest = None
    if latest is None:
        if mode == "always":
            raise GateFailed(f"no post-training gate result at {storage.public(uri)}: run the post-training gate "
                             "before emitting (or set posttrain.emit.require_gate)")  # fmt: skip
        return {"checked": False, "note": f"no post-training gate result at {storage.public(uri)} yet: emitted "
                                          "without a gate (posttrain.emit.require_gate: auto)"}  # fmt: skip
    if not latest.passed:
        failures = "\n  ".join(latest.failure_messages())
        raise GateFailed(f"the latest post-training gate ({latest.run_time}) failed; nothing is emitted past it:\n"
                         f"  {failures}\nData Docs: {latest.data_docs_index}")  # fmt: skip
    for name, version in sorted(versions.items()):
        validated = latest.table_versions.get(name)
        if validated != version:
            raise GateFailed(f"{name} is at Delta version {version}, but the latest post-training gate "
                             f"({latest.run_time}) validated {validated}: run the gate again")  # fmt: skip
    return {"checked": True, "run_time": latest.run_time, "table_versions": latest.table_versions,
            "config_fingerprint": latest.config_fingerprint}  # fmt: skip


# -- the driver ----------------------------------------------------------------------------------------------------


def _table_version(spark, workdir: str, name: str) -> int | None:
    from delta.tables import DeltaTable

    uri = tables.table_uri(workdir, name)
    if not DeltaTable.isDeltaTable(spark, uri):
        return None
    return DeltaTable.forPath(spark, uri).history(1).select("version").head()[0]


def fingerprint(cfg: PosttrainEmitConfig, inputs: dict[str, tuple[str, int]], tokenizer_sha: str) -> str:
    data = {"emit": cfg.fingerprint(), "inputs": inputs, "tokenizer": tokenizer_sha}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass
class _KindResult:
    rows: int = 0
    out: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_ids: dict[str, list[str]] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    parts: list[dict] = field(default_factory=list)

    def add(self, task: dict) -> None:
        t = task["tally"]
        self.rows += t["rows"]
        self.out += t["out"]
        for reason, n in t["rejected"].items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        for reason, ids in t["rejected_ids"].items():
            self.rejected_ids[reason] = sorted(self.rejected_ids.get(reason, []) + ids)[:100]
        for source, c in t["by_source"].items():
            acc = self.by_source.setdefault(source, {"in": 0, "out": 0, "rejected": 0})
            for k, v in c.items():
                acc[k] += v
        self.parts += task["parts"]


def _emit_kind(spark, kind: str, table_uri: str, version: int, root: str, cfg: PosttrainEmitConfig,
               tok: shards.TokenizerInfo) -> _KindResult:  # fmt: skip
    """One Spark job: the table at ``version`` into ``cfg.partitions`` partitions by doc_id, each rendered, packed
    (SFT) and written by :func:`emit_task`."""
    columns = SFT_COLUMNS if kind == "sft" else PAIR_COLUMNS
    df = spark.read.format("delta").option("versionAsOf", version).load(storage.to_spark_path(table_uri))
    df = df.select(*columns).repartition(cfg.partitions, "doc_id").sortWithinPartitions("doc_id")
    fn = emit_task(kind, root, tok.json_text, tok.sha256, tok.dtype, (cfg.split.valid, cfg.split.test,
                   cfg.split.seed), cfg.supervise, cfg.seq_length, cfg.overlong)  # fmt: skip
    tasks = [json.loads(r["result"]) for r in df.mapInArrow(fn, "result STRING").collect()]
    if sorted(t["part"] for t in tasks) != list(range(cfg.partitions)):
        raise RuntimeError(f"{kind}: {len(tasks)} of {cfg.partitions} partitions reported their work")
    result = _KindResult()
    for t in sorted(tasks, key=lambda t: t["part"]):
        result.add(t)
    result.parts.sort(key=lambda p: p["path"])
    if result.rows != result.out + sum(result.rejected.values()):
        raise RuntimeError(f"{kind}: rows in, out and rejected do not add up")
    return result


def blend(parts: list[dict], run_uri: str, weight: str) -> dict[str, list]:
    """Per split, megatron's ``[weight, PART, weight, PART, ...]`` list (weights: ``weight`` of each part,
    normalized per split; PART: the part folder)."""
    out: dict[str, list] = {}
    for split in ("train", "valid", "test"):
        members = sorted((p for p in parts if p["split"] == split and p[weight] > 0), key=lambda p: p["path"])
        mass = sum(p[weight] for p in members)
        flat: list = []
        for p in members:
            flat += [p[weight] / mass, emit_job._blend_prefix(run_uri, p["path"])]
        if flat:
            out[split] = flat
    return out


def _sft_summary(parts: list[dict], seq_length: int) -> dict:
    tokens = sum(p["tokens"] for p in parts)
    sequences = sum(p["sequences"] for p in parts)
    supervised = sum(p["supervised_tokens"] for p in parts)
    per_split = {}
    for split in sorted({p["split"] for p in parts}):
        ps = [p for p in parts if p["split"] == split]
        per_split[split] = {k: sum(p[k] for p in ps) for k in ("examples", "sequences", "tokens", "supervised_tokens",
                                                                "truncated")}  # fmt: skip
    return {
        "examples": sum(p["examples"] for p in parts), "sequences": sequences, "tokens": tokens,
        "supervised_tokens": supervised, "truncated": sum(p["truncated"] for p in parts),
        "mask_share": supervised / tokens if tokens else 0.0,
        "packing_efficiency": tokens / (sequences * seq_length) if sequences else 1.0,
        "seq_length": seq_length, "splits": per_split,
    }  # fmt: skip


def _pairs_summary(parts: list[dict]) -> dict:
    keys = ("pairs", "prompt_tokens", "chosen_tokens", "rejected_tokens", "chosen_supervised_tokens",
            "rejected_supervised_tokens")  # fmt: skip
    per_split = {s: {k: sum(p[k] for p in parts if p["split"] == s) for k in keys} for s in sorted({p["split"]
                                                                                                      for p in parts})}
    return {k: sum(p[k] for p in parts) for k in keys} | {"splits": per_split}


def run(
    spark,
    workdir: str,
    cfg: PosttrainEmitConfig,
    tokenizer_dir: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
) -> StageStats:
    """Emit the SFT and pair datasets (module docstring). Raises Halt when neither input table exists, GateFailed
    where the gate forbids it."""
    started = time.time()
    stats = StageStats("posttrain_emit")
    kinds = dict(zip(("sft", "pairs"), cfg.input_tables(), strict=True))
    versions = {kind: _table_version(spark, workdir, name) for kind, name in kinds.items()}
    present = {kind: v for kind, v in versions.items() if v is not None}
    if not present:
        raise Halt(f"posttrain emit: no {kinds['sft']} or {kinds['pairs']} table under {locations.tables(workdir)} "
                   f"(posttrain.emit.input: {cfg.input}): run the post-training jobs that write them")  # fmt: skip
    gate = check_gate(workdir, cfg.require_gate, {kinds[k]: v for k, v in present.items()})
    tok_uri = cfg.tokenizer or tokenizer_dir or locations.tokenizer_model(workdir)
    tok_local = storage.local_path(tok_uri)
    if tok_local is None:
        raise ValueError(f"posttrain.emit.tokenizer must be a local folder (or dbfs:/); got {tok_uri}")
    tok = shards.read_tokenizer(tok_local)
    out = cfg.output or output_default(workdir)
    inputs = {k: (tables.table_uri(workdir, kinds[k]), v) for k, v in present.items()}
    fp = fingerprint(cfg, inputs, tok.sha256)

    current = emit_job.read_manifest(out)
    if not force and current and current.get("fingerprint") == fp and emit_job._published_whole(out, current):
        stats.rows_unchanged = current["counts"]["rows_in"]
        stats.extra = {**summary(current), "unchanged": True}
        stats.seconds = time.time() - started
        return stats

    run_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{fp[:8]}"
    progress(f"run {run_id}: " + ", ".join(f"{kinds[k]} v{v}" for k, v in present.items())
             + f"; tokenizer {tok.sha256[:12]}; output {storage.public(out)}")  # fmt: skip
    local_out = storage.local_path(out)
    staging = storage.join(out, "_staging", run_id)
    root = storage.join(staging, "data") if local_out is not None else storage.join(out, "runs", run_id)
    emit_job._remove_stale_staging(out, keep=run_id)
    results: dict[str, _KindResult] = {}
    seconds: dict[str, float] = {}
    for kind, version in present.items():
        t = time.time()
        progress(f"{kind}: {kinds[kind]} v{version} in {cfg.partitions} partitions")
        results[kind] = _emit_kind(spark, kind, tables.table_uri(workdir, kinds[kind]), version, root, cfg, tok)
        seconds[kind] = time.time() - t

    run_uri = storage.join(out, "runs", run_id)
    all_parts = [p for r in results.values() for p in r.parts]
    files = [{"path": f"{p['path']}/{name}", "kind": p["kind"], "split": p["split"], "part": p["part"],
              "dataset": name, "files": f} for p in all_parts for name, f in p["datasets"].items()]  # fmt: skip
    if local_out is not None:
        src, target = storage.local_path(root), storage.local_path(run_uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        src.mkdir(parents=True, exist_ok=True)  # an empty run when nothing was emitted
        os.rename(src, target)  # the whole run appears at once
    else:  # object stores: each dataset was uploaded whole; check what the store holds before naming it
        for f in files:
            got = shards.remote_sizes(storage.join(run_uri, f["path"]))
            if got != (f["files"]["bin_bytes"], f["files"]["idx_bytes"]):
                raise shards.ShardError(f"{f['path']}: the store holds {got} bytes, verified {f['files']}")

    blends = {}
    if "sft" in results:
        blends["sft"] = blend(results["sft"].parts, run_uri, "tokens")
    if "pairs" in results:
        blends["pairs"] = blend(results["pairs"].parts, run_uri, "pairs")
    rows_in = sum(r.rows for r in results.values())
    rows_out = sum(r.out for r in results.values())
    manifest = {
        "run_id": run_id,
        "fingerprint": fp,
        "created_utc": datetime.now(UTC).isoformat(),
        "moru_version": emit_job._moru_version(),
        "inputs": {kind: {"table": kinds[kind], "uri": storage.public(inputs[kind][0]), "version": inputs[kind][1]}
                   if kind in inputs else None for kind in kinds},  # fmt: skip
        "gate": gate,
        "tokenizer": tok.describe(),
        "chat_template": {"sha256": chat_template_sha256(tok_local)},
        "config": cfg.model_dump(mode="json"),
        "run_dir": storage.public(run_uri),
        "blends": {kind: storage.public(blend_uri(out, kind)) for kind, b in blends.items() if b},
        "counts": {
            "rows_in": rows_in, "rows_out": rows_out, "rows_rejected": rows_in - rows_out,
            **{kind: {"in": r.rows, "out": r.out, "rejected": r.rejected, "rejected_doc_ids": r.rejected_ids,
                      "by_source": r.by_source} for kind, r in results.items()},
        },  # fmt: skip
        "sft": _sft_summary(results["sft"].parts, cfg.seq_length) if "sft" in results else None,
        "pairs": _pairs_summary(results["pairs"].parts) if "pairs" in results else None,
        "parts": [{k: v for k, v in p.items() if k != "datasets"} for p in all_parts],
        "shards": files,
        "seconds": seconds,
    }
    if "sft" in results:
        manifest["counts"]["sft"]["truncated"] = manifest["sft"]["truncated"]
    # the run's own manifest, then the blends, then the top-level manifest: each names only published shards
    storage.write_bytes(storage.join(run_uri, "manifest.json"), emit_job._json(manifest))
    for kind in ("sft", "pairs"):
        if blends.get(kind):
            storage.write_bytes(blend_uri(out, kind), emit_job._json(blends[kind]))
        else:  # no such blend this run: an older one must not stay behind, naming an older run
            storage.remove_file(blend_uri(out, kind))
    storage.write_bytes(storage.join(out, "manifest.json"), emit_job._json(manifest))
    storage.remove_dir(staging)
    for old in emit_job._list_runs(out)[: -cfg.keep_runs]:
        if old != run_id:
            storage.remove_dir(storage.join(out, "runs", old))

    stats.rows_in, stats.rows_out, stats.rows_rejected = rows_in, rows_out, rows_in - rows_out
    for kind, r in results.items():
        for reason, n in r.rejected.items():
            stats.by_reason[f"{kind}: {reason}"] = n
        for source, c in r.by_source.items():
            acc = stats.by_source.setdefault(source, {"in": 0, "out": 0, "rejected": 0})
            for k, v in c.items():
                acc[k] += v
    stats.extra = summary(manifest)
    stats.seconds = time.time() - started
    stats.check()
    log.info("posttrain emit %s: %d rows in, %d emitted, %d datasets", run_id, rows_in, rows_out, len(files))
    return stats


def blend_uri(out_uri: str, kind: str) -> str:
    return storage.join(out_uri, f"{kind}_blend.json")


def summary(manifest: dict) -> dict:
    """What the run report and the CLI show of a run (from its manifest)."""
    notes = [] if manifest["gate"].get("checked") else [manifest["gate"]["note"]]
    missing = [k for k, v in manifest["inputs"].items() if v is None]
    notes += [f"no {k} input table: nothing emitted for it" for k in missing]
    return {
        "run_id": manifest["run_id"],
        "run_dir": manifest["run_dir"],
        "blends": manifest["blends"],
        "inputs": manifest["inputs"],
        "gate": manifest["gate"],
        "tokenizer": {k: manifest["tokenizer"][k] for k in ("sha256", "vocab_size", "dtype")},
        "sft": manifest["sft"],
        "pairs": manifest["pairs"],
        "notes": notes,
        "seconds": manifest["seconds"],
    }


def _emit_config(cfg) -> PosttrainEmitConfig:
    """``posttrain.emit`` of the composed config (the defaults until the section declares it)."""
    return getattr(cfg.posttrain, "emit", None) or PosttrainEmitConfig()


def run_job(ctx: JobContext) -> StageStats:
    tokenizer = getattr(getattr(ctx.cfg, "tokenizer", None), "output_dir", None)
    return run(ctx.spark, ctx.workdir, _emit_config(ctx.cfg), tokenizer_dir=tokenizer, force=ctx.force,
               progress=ctx.progress)  # fmt: skip


JOB = Job(
    name="posttrain_emit",
    run=run_job,
    summary="Render sft_corpus conversations with the chat template into token ids and loss masks (assistant turns "
    "and their [|endofturn|]), pack them into posttrain.emit.seq_length sequences with example boundaries, and "
    "write preference pairs as aligned prompt / chosen / rejected datasets: Megatron .bin/.idx, verified, published "
    "under posttrain.emit.output with blends and a manifest. Refuses to run past a failed post-training gate.",
    reads=("sft_corpus", "preference_corpus", "file:posttrain_gate", "file:tokenizer"),
    writes=("file:posttrain_emit",),
    section="posttrain",
    command="posttrain emit",
    force="flag",
    loads_tokenizer=True,
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_emit")
