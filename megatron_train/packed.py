"""Post-training data as the trainer sees it: packed SFT sequences and preference pairs (the files
``spark_jobs.posttrain.emit`` writes), turned into packed micro-batches, and per-sequence sums of a packed forward.

**One micro-batch is one packed row** (THD: batch 1, ``T`` tokens) whatever the method:

- SFT: ``m`` packed sequences of the blend (each ``<= seq_length`` tokens, holding whole examples) laid end to end,
  then one padding segment up to ``m × seq_length`` (a fixed shape: FP8 and CUDA graphs want one);
- pairs: for each of ``m`` pairs, ``prompt + chosen`` then ``prompt + rejected`` — chosen and rejected of a pair
  in the same forward — then padding up to a multiple of ``pad_multiple``.

``cu_seqlens`` holds the boundaries of every segment (examples and padding), so attention never crosses an
example: on a GPU with Transformer Engine the row goes through ``PackedSeqParams(qkv_format="thd")``; on CPU,
whose megatron-core attention has no THD path, through the equivalent block-diagonal causal mask (``True`` =
masked). Position ids restart at every boundary. (RoPE makes a query-key score depend only on the distance between
them, so the causal block mask gives the same logits as restarting positions; the CPU test of
tests/megatron_train/test_packed.py compares packed with one-example-at-a-time forwards.)

**Targets.** ``labels[t] = tokens[t + 1]`` and ``weights[t] = loss_mask[t + 1]`` (the emitted mask marks target
tokens). Every example starts with a mask-0 token (``[|system|]``, or a pair's prompt), and padding is mask 0,
so no weight ever pairs a token with the first token of the next segment. ``segment[t]`` is the segment of position
``t``; a per-sequence sum (the log-probability of a response, its supervised-token count) is a scatter-add over it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPLITS = ("train", "valid", "test")
SFT_DATASETS = ("tokens", "loss_mask", "cu_seqlens")
PAIR_DATASETS = ("prompt", "chosen", "rejected", "chosen_loss_mask", "rejected_loss_mask")


class PackedDataError(ValueError):
    """Post-training data that cannot be trained on; the message names the file and the fix."""


# --- blends --------------------------------------------------------------------------------------------------


def read_blend(path: str | Path, kind: str) -> dict[str, list[str]]:
    """Part folders per split of an ``sft_blend.json`` / ``pairs_blend.json`` (weights are the parts' shares of
    the split; every part is read whole, so they are not needed)."""
    path = Path(path)
    if not path.is_file():
        raise PackedDataError(f"{kind} blend not found: {path} (run `moru posttrain emit`, or set the data.blend)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PackedDataError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not set(raw) <= set(SPLITS):
        raise PackedDataError(f"{path}: expected {{split: [weight, part folder, ...]}} with splits {SPLITS}")
    names = SFT_DATASETS if kind == "sft" else PAIR_DATASETS
    out = {}
    for split, items in raw.items():
        parts = [p for p in items[1::2]] if items and not isinstance(items[0], str) else list(items)
        for part in parts:
            missing = [f"{part}/{n}{ext}" for n in names for ext in (".bin", ".idx")
                       if not Path(f"{part}/{n}{ext}").is_file()]  # fmt: skip
            if missing:
                wrong = Path(f"{part}/prompt.bin" if kind == "sft" else f"{part}/cu_seqlens.bin").is_file()
                hint = f" (is this a {'pairs' if kind == 'sft' else 'SFT'} blend?)" if wrong else ""
                raise PackedDataError(f"{path} [{split}]: missing {', '.join(missing[:3])}{hint}")
        out[split] = parts
    return out


def blend_fingerprint(path: str | Path) -> str:
    """SHA-256 of a blend file's bytes: which emitted run (and parts) it names."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def emit_manifest(part: str | Path) -> dict | None:
    """The manifest of the emitted run a part folder belongs to (``runs/<run>/manifest.json``), if there is one."""
    for parent in Path(part).resolve().parents:
        if parent.parent.name == "runs" and (parent / "manifest.json").is_file():
            return json.loads((parent / "manifest.json").read_text(encoding="utf-8"))
    return None


def _open(prefix: str):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return IndexedDataset(prefix, multimodal=False, mmap=True)


# --- datasets ------------------------------------------------------------------------------------------------


class SFTSequences:
    """The packed sequences of some part folders, in order: item ``i`` is ``(tokens, loss_mask, cu_seqlens)``."""

    def __init__(self, parts: list[str]):
        self.parts = parts
        self._ds = [{n: _open(f"{p}/{n}") for n in SFT_DATASETS} for p in parts]
        sizes = [len(d["tokens"]) for d in self._ds]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = int(np.searchsorted(self._offsets, i, side="right") - 1)
        d, j = self._ds[p], int(i - self._offsets[p])
        return d["tokens"][j], d["loss_mask"][j], d["cu_seqlens"][j]

    def supervised_tokens(self) -> int:
        return int(sum(int(np.asarray(d["loss_mask"][j], dtype=np.int64).sum()) for d in self._ds
                       for j in range(len(d["loss_mask"]))))  # fmt: skip

    def max_length(self) -> int:
        return int(max((int(d["tokens"].sequence_lengths.max()) for d in self._ds if len(d["tokens"])), default=0))


class PairSet:
    """The preference pairs of some part folders, in order: item ``i`` is a dict of the five arrays; ``doc_ids``
    from each part's pairs.parquet."""

    def __init__(self, parts: list[str]):
        self.parts = parts
        self._ds = [{n: _open(f"{p}/{n}") for n in PAIR_DATASETS} for p in parts]
        sizes = [len(d["prompt"]) for d in self._ds]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        p = int(np.searchsorted(self._offsets, i, side="right") - 1)
        d, j = self._ds[p], int(i - self._offsets[p])
        return {n: d[n][j] for n in PAIR_DATASETS}

    def doc_ids(self) -> list[str]:
        import pyarrow.parquet as pq

        out: list[str] = []
        for p in self.parts:
            f = Path(p) / "pairs.parquet"
            out += pq.read_table(f, columns=["doc_id"]).column("doc_id").to_pylist() if f.is_file() else [
                f"{p}#{j}" for j in range(len(_open(f"{p}/prompt")))]  # fmt: skip
        return out

    def max_pair_tokens(self) -> int:
        out = 0
        for d in self._ds:
            p = d["prompt"].sequence_lengths.astype(np.int64)
            out = max(out, int((2 * p + d["chosen"].sequence_lengths + d["rejected"].sequence_lengths).max(initial=0)))
        return out


# --- sample order --------------------------------------------------------------------------------------------


def epoch_order(n: int, seed: int, epoch: int, subset: np.ndarray | None = None) -> np.ndarray:
    """The items of one epoch in training order: a permutation of ``range(n)`` (or of ``subset``) drawn from
    ``(seed, epoch)`` alone, so a resumed run sees the same order."""
    items = np.arange(n, dtype=np.int64) if subset is None else np.asarray(subset, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    return items[rng.permutation(len(items))]


def sample_indices(consumed: int, count: int, n: int, seed: int, subset: np.ndarray | None = None,
                   cache: dict[int, np.ndarray] | None = None) -> list[int]:  # fmt: skip
    """Items ``consumed .. consumed + count`` of the endless sequence of epochs (module docstring of
    megatron_train.data: the position saved in a checkpoint is the number of samples consumed). ``cache``: epoch →
    order, kept by a caller that draws many batches (an epoch's permutation is drawn once)."""
    size = n if subset is None else len(subset)
    if size == 0:
        raise PackedDataError("no items to train on")
    out: list[int] = []
    cache = {} if cache is None else cache
    for s in range(consumed, consumed + count):
        e = s // size
        if e not in cache:
            for old in [k for k in cache if k < e]:  # epochs behind us are never drawn again
                del cache[old]
            cache[e] = epoch_order(n, seed, e, subset)
        out.append(int(cache[e][s % size]))
    return out


# --- micro-batches -------------------------------------------------------------------------------------------


@dataclass
class PackedRow:
    """One packed micro-batch (numpy; :meth:`tensors` for the model)."""

    tokens: np.ndarray  # [T] int64
    labels: np.ndarray  # [T] int64
    weights: np.ndarray  # [T] float32: 1 where position t is trained to predict token t + 1
    position_ids: np.ndarray  # [T] int64, restarting per segment
    cu_seqlens: np.ndarray  # [k + 1] int32: segment boundaries (examples, then padding)
    segment: np.ndarray  # [T] int64
    n_segments: int
    used: int  # tokens before the padding segment

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {
            "tokens": torch.from_numpy(self.tokens).unsqueeze(0).to(device),
            "labels": torch.from_numpy(self.labels).unsqueeze(0).to(device),
            "weights": torch.from_numpy(self.weights).unsqueeze(0).to(device),
            "position_ids": torch.from_numpy(self.position_ids).unsqueeze(0).to(device),
            "cu_seqlens": torch.from_numpy(self.cu_seqlens).to(device),
            "segment": torch.from_numpy(self.segment).to(device),
            "used": torch.tensor(float(self.used), device=device),
        }


def pack_segments(segments: list[tuple[np.ndarray, np.ndarray]], total: int) -> PackedRow:
    """Segments ``(tokens, loss_mask)`` end to end, then one padding segment (token 0, mask 0) up to ``total``."""
    lengths = [len(t) for t, _ in segments]
    used = sum(lengths)
    if used > total:
        raise PackedDataError(f"{used} tokens do not fit a packed row of {total}")
    if used < total:
        lengths.append(total - used)
    tokens = np.zeros(total, dtype=np.int64)
    mask = np.zeros(total, dtype=np.float32)
    pos = 0
    for t, m in segments:
        tokens[pos : pos + len(t)] = t
        mask[pos : pos + len(m)] = m
        pos += len(t)
    cu = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=cu[1:])
    segment = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    position_ids = np.arange(total, dtype=np.int64) - cu[:-1].astype(np.int64)[segment]
    labels = np.zeros(total, dtype=np.int64)
    labels[:-1] = tokens[1:]
    weights = np.zeros(total, dtype=np.float32)
    weights[:-1] = mask[1:]
    # a target never crosses into the next segment (its first token is mask 0 by construction; enforced here)
    weights[cu[1:-1] - 1] = 0.0
    return PackedRow(tokens, labels, weights, position_ids, cu, segment, len(lengths), used)


def sft_row(sequences: list[tuple[np.ndarray, np.ndarray, np.ndarray]], seq_length: int) -> PackedRow:
    """SFT micro-batch: each packed sequence split into its examples (its own ``cu_seqlens``), all end to end,
    padded to ``len(sequences) × seq_length``."""
    segments = []
    for tokens, mask, cu in sequences:
        if len(tokens) > seq_length:
            raise PackedDataError(f"a packed sequence of {len(tokens)} tokens is longer than seq_length {seq_length} "
                                  "(emit with posttrain.emit.seq_length <= the training seq_length)")  # fmt: skip
        for a, b in zip(cu[:-1], cu[1:], strict=True):
            segments.append((np.asarray(tokens[a:b], dtype=np.int64), np.asarray(mask[a:b], dtype=np.float32)))
    return pack_segments(segments, len(sequences) * seq_length)


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def pair_row(pairs: list[dict[str, np.ndarray]], pad_multiple: int) -> PackedRow:
    """Preference micro-batch: segments ``2j`` = prompt + chosen and ``2j + 1`` = prompt + rejected of pair ``j``
    (the prompt's mask is 0), padded to a multiple of ``pad_multiple``."""
    segments = []
    for p in pairs:
        prompt = np.asarray(p["prompt"], dtype=np.int64)
        zeros = np.zeros(len(prompt), dtype=np.float32)
        for side in ("chosen", "rejected"):
            segments.append(
                (
                    np.concatenate([prompt, np.asarray(p[side], dtype=np.int64)]),
                    np.concatenate([zeros, np.asarray(p[f"{side}_loss_mask"], dtype=np.float32)]),
                )
            )
    used = sum(len(t) for t, _ in segments)
    return pack_segments(segments, round_up(max(used, 1), pad_multiple))


# --- the packed forward --------------------------------------------------------------------------------------


def packed_seq_params(cu_seqlens: torch.Tensor):
    """megatron-core's THD description of a packed row."""
    from megatron.core.packed_seq_params import PackedSeqParams

    cu = cu_seqlens.to(torch.int32)
    longest = int((cu[1:] - cu[:-1]).max().item())
    return PackedSeqParams(qkv_format="thd", cu_seqlens_q=cu, cu_seqlens_kv=cu, max_seqlen_q=longest,
                           max_seqlen_kv=longest)  # fmt: skip


def block_causal_mask(segment: torch.Tensor) -> torch.Tensor:
    """[1, 1, T, T] bool, True where attention is *not* allowed: a later position or another segment."""
    t = segment.shape[0]
    same = segment.unsqueeze(0) == segment.unsqueeze(1)
    causal = torch.ones(t, t, dtype=torch.bool, device=segment.device).tril()
    return ~(same & causal).view(1, 1, t, t)


def forward_kwargs(batch: dict[str, torch.Tensor], thd: bool) -> dict:
    """The attention arguments of GPTModel.forward for a packed row: THD params (Transformer Engine) or the
    block-diagonal causal mask (megatron-core's local attention)."""
    if thd:
        return {"attention_mask": None, "packed_seq_params": packed_seq_params(batch["cu_seqlens"])}
    return {"attention_mask": block_causal_mask(batch["segment"]), "packed_seq_params": None}


def segment_sums(values: torch.Tensor, segment: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Sum of ``values`` ([T] or [1, T]) over each segment: [n_segments] (differentiable)."""
    out = torch.zeros(n_segments, dtype=values.dtype, device=values.device)
    return out.index_add(0, segment, values.reshape(-1))


def rank_samples(consumed: int, n: int, seed: int, micro_batch_size: int, dp_rank: int, dp_size: int,
                 num_microbatches: int, subset: np.ndarray | None = None) -> Iterator[list[int]]:  # fmt: skip
    """This data-parallel rank's micro-batches (item indices) from sample ``consumed`` on, in megatron's
    pretraining order over the endless shuffled epochs: global batch ``b`` is samples ``[b·G, (b+1)·G)``,
    micro-batch ``k`` of rank ``r`` starts at ``b·G + k·m·D + r·m``."""
    global_batch = micro_batch_size * dp_size * num_microbatches
    start = consumed
    cache: dict[int, np.ndarray] = {}
    while True:
        for k in range(num_microbatches):
            first = start + k * micro_batch_size * dp_size + dp_rank * micro_batch_size
            yield sample_indices(first, micro_batch_size, n, seed, subset, cache)
        start += global_batch
