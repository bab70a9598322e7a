"""Synthetic post-training data for the alignment throughput benchmarks (benchmarks/align_throughput.py): packed
SFT sequences and preference pairs written exactly as ``spark_jobs.posttrain.emit`` writes them, and the same
examples as the pre-tokenized ``datasets.Dataset`` columns TRL 1.16 trains on without tokenizing.

    .venv/bin/python benchmarks/align_data.py --out DIR --vocab-size 102400 --seq-length 4096 \\
        --sft-examples 8000 --pairs 640 --seed 0

**What is written** under ``--out`` (the layout of ``posttrain.emit.output``, one run, one part, split ``train``)::

    sft_blend.json / pairs_blend.json          {"train": [1.0, "<abs path of the part folder>"]}
    manifest.json, runs/<run>/manifest.json    generator settings, counts, packing efficiency, every file's SHA-256
    runs/<run>/sft/train/part-00000/{tokens,loss_mask,cu_seqlens}.{bin,idx} + examples.parquet
    runs/<run>/pairs/train/part-00000/{prompt,chosen,rejected,chosen_loss_mask,rejected_loss_mask}.{bin,idx}
                                        + pairs.parquet

``<run>`` is ``synthetic-<12 hex of the settings' SHA-256>``. The datasets go through megatron-core's
``IndexedDatasetBuilder`` by way of moru's own emission helpers (:mod:`spark_jobs.emit.shards`: ``shard_output``,
``ShardWriter``, ``verify``, ``token_dtype``) and the packing is :func:`quality.posttrain.packing.pack_bfd` at
``seq_length``; the write loops are those of emit's ``_SftPartition._write`` / ``_PairPartition._write``, which
cannot be imported where Spark is absent (the GPU image). Where ``spark_jobs.posttrain.emit`` imports (here),
``--check-emit`` writes the same examples through emit's own ``_SftPartition._write`` / ``_PairPartition._write``
too and requires byte-identical ``.bin``/``.idx`` files; emit's ``check_sft_part`` / ``check_pairs_part`` read
every part back whenever they import.

**The examples** (deterministic in ``seed``; token ids uniform in ``[4, vocab_size)``, ids 0-3 being left to the
peer's tokenizer: pad, bos, eos, unk):

- SFT: total length ``L = clip(round(seq_length * exp(N(ln 0.17, 0.9^2))), 8, seq_length)`` — a lognormal capped
  at the sequence (at 4,096: median 694, mean 994, 2.4 % of examples cut to exactly 4,096 tokens); a prompt of
  ``clip(round(L * U(0.1, 0.6)), 1, L - 1)`` tokens with mask 0, then a response of the rest with mask 1 (65 % of
  the tokens supervised; every example starts with a mask-0 token, as emit's do).
- pairs: prompt ``p = clip(round(seq_length * exp(N(ln 0.045, 1.0^2))), 4, seq_length // 2)`` (at 4,096: median
  185, mean 300), chosen and rejected each ``clip(round(seq_length * exp(N(ln 0.07, 0.8^2))), 4, seq_length - p)``
  (median 286, mean 393), so prompt + longer response <= seq_length, as emit requires; response masks are all 1.
  A pair is ~1,390 tokens when both rows are run (prompt twice).

**The same examples for TRL** (:func:`trl_sft_dataset`, :func:`trl_sft_bins_dataset`, :func:`trl_dpo_dataset`)
are read back from the written files (:func:`read_sft`, :func:`read_pairs`), so both sides train on one copy:

- ``input_ids`` + ``completion_mask`` per example (the bins unpacked at their ``cu_seqlens``): with
  ``completion_only_loss=True`` TRL's ``SFTTrainer`` builds ``labels`` from them and packs them itself (BFD);
- ``input_ids`` + ``labels`` (-100 where the mask is 0) + ``seq_lengths`` per packed sequence: moru's own bins,
  for ``dataset_kwargs={"skip_prepare_dataset": True}`` (TRL's padding-free collator reads ``seq_lengths``);
- ``prompt_ids`` + ``chosen_ids`` + ``rejected_ids`` per pair: the columns ``DPOTrainer``'s tokenizing step
  produces (TRL 1.16's DPO has no switch to skip that step; align_throughput.py passes the columns through).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # moru's packages, as when the script is run from anywhere

import numpy as np  # noqa: E402

FORMAT_VERSION = "1"  # bump when the same settings give other bytes
FIRST_ID = 4  # ids below are left to the peer's tokenizer (pad, bos, eos, unk)

# the length distributions, as fractions of seq_length (lognormal medians and sigmas)
SFT_MEDIAN, SFT_SIGMA, SFT_MIN = 0.17, 0.9, 8
SFT_PROMPT_SHARE = (0.1, 0.6)
PAIR_PROMPT_MEDIAN, PAIR_PROMPT_SIGMA = 0.045, 1.0
PAIR_RESPONSE_MEDIAN, PAIR_RESPONSE_SIGMA = 0.07, 0.8
PAIR_MIN = 4

SFT_DATASETS = ("tokens", "loss_mask", "cu_seqlens")
PAIR_DATASETS = ("prompt", "chosen", "rejected", "chosen_loss_mask", "rejected_loss_mask")


@dataclass
class Example:
    ids: np.ndarray  # int64
    mask: np.ndarray  # uint8, 1 = a training target


@dataclass
class Pair:
    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    chosen_mask: np.ndarray
    rejected_mask: np.ndarray


# -- generating ----------------------------------------------------------------------------------------------


def _lognormal(rng: np.random.Generator, n: int, seq_length: int, median: float, sigma: float) -> np.ndarray:
    return np.rint(seq_length * np.exp(rng.normal(math.log(median), sigma, n)))


def _tokens(rng: np.random.Generator, lengths: np.ndarray, vocab_size: int) -> list[np.ndarray]:
    if vocab_size <= FIRST_ID:
        raise ValueError(f"vocab_size must exceed {FIRST_ID}")
    flat = rng.integers(FIRST_ID, vocab_size, size=int(lengths.sum()), dtype=np.int64)
    return np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []


def make_sft_examples(n: int, vocab_size: int, seq_length: int, seed: int) -> list[Example]:
    """``n`` SFT examples: a mask-0 prompt then a mask-1 response, ``<= seq_length`` tokens in all."""
    if seq_length < SFT_MIN:
        raise ValueError(f"seq_length must be at least {SFT_MIN}")
    rng = np.random.default_rng([seed, 0])
    total = np.clip(_lognormal(rng, n, seq_length, SFT_MEDIAN, SFT_SIGMA), SFT_MIN, seq_length).astype(np.int64)
    share = rng.uniform(*SFT_PROMPT_SHARE, n)
    prompt = np.clip(np.rint(total * share).astype(np.int64), 1, total - 1)
    out = []
    for ids, p in zip(_tokens(rng, total, vocab_size), prompt.tolist(), strict=True):
        mask = np.ones(len(ids), dtype=np.uint8)
        mask[:p] = 0
        out.append(Example(ids, mask))
    return out


def make_pairs(n: int, vocab_size: int, seq_length: int, seed: int) -> list[Pair]:
    """``n`` preference pairs whose prompt + longer response fits ``seq_length``; response masks all 1."""
    if seq_length < 3 * PAIR_MIN:
        raise ValueError(f"seq_length must be at least {3 * PAIR_MIN}")
    rng = np.random.default_rng([seed, 1])
    p = np.clip(_lognormal(rng, n, seq_length, PAIR_PROMPT_MEDIAN, PAIR_PROMPT_SIGMA), PAIR_MIN, seq_length // 2)
    p = p.astype(np.int64)
    room = seq_length - p
    c = np.clip(_lognormal(rng, n, seq_length, PAIR_RESPONSE_MEDIAN, PAIR_RESPONSE_SIGMA), PAIR_MIN, room)
    r = np.clip(_lognormal(rng, n, seq_length, PAIR_RESPONSE_MEDIAN, PAIR_RESPONSE_SIGMA), PAIR_MIN, room)
    c, r = c.astype(np.int64), r.astype(np.int64)
    prompts, chosen, rejected = (_tokens(rng, x, vocab_size) for x in (p, c, r))
    return [Pair(a, b, d, np.ones(len(b), np.uint8), np.ones(len(d), np.uint8))
            for a, b, d in zip(prompts, chosen, rejected, strict=True)]  # fmt: skip


# -- writing (emit's layout and writers) ---------------------------------------------------------------------


def settings_fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps({**settings, "format": FORMAT_VERSION}, sort_keys=True).encode()).hexdigest()


def _emit_checks():
    """emit's part checks where spark_jobs.posttrain.emit imports (it needs Spark), else None."""
    try:
        from spark_jobs.posttrain.emit import check_pairs_part, check_sft_part
    except ImportError:
        return None
    return check_sft_part, check_pairs_part


def _write_parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), str(path), compression="zstd")


def write_sft_part(
    part: Path, examples: list[Example], seq_length: int, dtype: np.dtype, tag: str = "synthetic"
) -> dict:
    """Pack ``examples`` with pack_bfd and write one SFT part folder (emit's ``_SftPartition._write``)."""
    import pyarrow as pa

    from quality.posttrain.packing import pack_bfd
    from spark_jobs.emit import shards

    packing = pack_bfd([len(e.ids) for e in examples], seq_length, overlong="truncate")
    lengths = packing.lengths
    bin_of, offset = packing.assignment()
    supervised = 0
    with ExitStack() as stack:
        w = shards.open_writers(stack, str(part), {"tokens": dtype, "loss_mask": np.dtype(np.uint8),
                                   "cu_seqlens": np.dtype(np.int32)}, tag)  # fmt: skip
        for b, items in enumerate(packing.bins):
            mask = np.concatenate([examples[i].mask[: lengths[i]] for i in items])
            w["tokens"].add(np.concatenate([examples[i].ids[: lengths[i]] for i in items]))
            w["loss_mask"].add(mask)
            w["cu_seqlens"].add(packing.cu_seqlens(b))
            supervised += int(mask.sum())
        files = shards.finish_writers(w)
    checks = _emit_checks()
    if checks:
        checks[0]({name: str(part / name) for name in SFT_DATASETS}, supervised)
    n_sup = [int(e.mask[: lengths[i]].sum()) for i, e in enumerate(examples)]
    truncated = np.zeros(len(examples), dtype=bool)
    truncated[packing.truncated] = True
    _write_parquet(part / "examples.parquet", {
        "doc_id": [f"synthetic-sft-{i:08d}" for i in range(len(examples))],
        "source": ["synthetic"] * len(examples), "lang": ["xx"] * len(examples),
        "bin": pa.array(bin_of, pa.int32()), "offset": pa.array(offset, pa.int32()),
        "n_tokens": pa.array(lengths, pa.int32()), "n_supervised": pa.array(n_sup, pa.int32()),
        "truncated": pa.array(truncated), "original_tokens": pa.array([len(e.ids) for e in examples], pa.int32()),
    })  # fmt: skip
    return {"kind": "sft", "split": "train", "examples": len(examples), "sequences": packing.n_bins,
            "tokens": packing.packed_tokens, "supervised_tokens": supervised, "efficiency": packing.efficiency,
            "truncated": int(truncated.sum()), "datasets": files}  # fmt: skip


def write_pairs_part(part: Path, pairs: list[Pair], dtype: np.dtype, tag: str = "synthetic") -> dict:
    """One pairs part folder, one document per pair in each dataset (emit's ``_PairPartition._write``)."""
    import pyarrow as pa

    from spark_jobs.emit import shards

    u8 = np.dtype(np.uint8)
    with ExitStack() as stack:
        w = shards.open_writers(stack, str(part), {"prompt": dtype, "chosen": dtype, "rejected": dtype,
                                   "chosen_loss_mask": u8, "rejected_loss_mask": u8}, tag)  # fmt: skip
        for p in pairs:
            for name in PAIR_DATASETS:
                w[name].add(getattr(p, name.replace("_loss_mask", "_mask")))
        files = shards.finish_writers(w)
    checks = _emit_checks()
    if checks:
        checks[1]({name: str(part / name) for name in PAIR_DATASETS})
    counts = {name: [len(getattr(p, name)) for p in pairs] for name in ("prompt", "chosen", "rejected")}
    sup = {side: [int(getattr(p, f"{side}_mask").sum()) for p in pairs] for side in ("chosen", "rejected")}
    _write_parquet(part / "pairs.parquet", {
        "doc_id": [f"synthetic-pair-{i:08d}" for i in range(len(pairs))],
        "source": ["synthetic"] * len(pairs), "lang": ["xx"] * len(pairs),
        "chosen_score": pa.array([1.0] * len(pairs), pa.float64()),
        "rejected_score": pa.array([0.0] * len(pairs), pa.float64()),
        **{f"{name}_tokens": pa.array(v, pa.int32()) for name, v in counts.items()},
        **{f"{side}_supervised": pa.array(v, pa.int32()) for side, v in sup.items()},
    })  # fmt: skip
    return {"kind": "pairs", "split": "train", "pairs": len(pairs),
            **{f"{name}_tokens": sum(v) for name, v in counts.items()},
            **{f"{side}_supervised_tokens": sum(v) for side, v in sup.items()}, "datasets": files}  # fmt: skip


def write(out: str | Path, vocab_size: int, seq_length: int, sft_examples: int, pairs: int, seed: int) -> dict:
    """Generate and write both kinds under ``out`` (emit's layout); returns the manifest. The same settings give
    byte-identical datasets (an existing run folder of the same settings is replaced)."""
    import shutil

    from spark_jobs.emit import shards

    started = time.time()
    out = Path(out).resolve()
    settings = {"vocab_size": vocab_size, "seq_length": seq_length, "sft_examples": sft_examples, "pairs": pairs,
                "seed": seed}  # fmt: skip
    fp = settings_fingerprint(settings)
    run = f"synthetic-{fp[:12]}"
    run_dir = out / "runs" / run
    if run_dir.exists():
        shutil.rmtree(run_dir)
    dtype = shards.token_dtype(vocab_size)
    manifest = {"run_id": run, "fingerprint": fp, "created_utc": datetime.now(UTC).isoformat(),
                "synthetic": {**settings, "generator": "benchmarks/align_data.py", "format": FORMAT_VERSION},
                "tokenizer": {"vocab_size": vocab_size, "dtype": dtype.name},
                "config": {"seq_length": seq_length, "supervise": "all", "overlong": "truncate", "partitions": 1},
                "run_dir": str(run_dir), "blends": {}, "parts": []}  # fmt: skip
    if sft_examples:
        part = run_dir / "sft" / "train" / "part-00000"
        info = write_sft_part(part, make_sft_examples(sft_examples, vocab_size, seq_length, seed), seq_length, dtype)
        manifest["sft"] = {k: v for k, v in info.items() if k != "datasets"}
        manifest["parts"].append({"path": str(part.relative_to(run_dir)), **info})
        (out / "sft_blend.json").write_text(json.dumps({"train": [1.0, str(part)]}, indent=1))
        manifest["blends"]["sft"] = str(out / "sft_blend.json")
    if pairs:
        part = run_dir / "pairs" / "train" / "part-00000"
        info = write_pairs_part(part, make_pairs(pairs, vocab_size, seq_length, seed), dtype)
        manifest["pairs"] = {k: v for k, v in info.items() if k != "datasets"}
        manifest["parts"].append({"path": str(part.relative_to(run_dir)), **info})
        (out / "pairs_blend.json").write_text(json.dumps({"train": [1.0, str(part)]}, indent=1))
        manifest["blends"]["pairs"] = str(out / "pairs_blend.json")
    manifest["seconds"] = time.time() - started
    text = json.dumps(manifest, indent=1)
    (run_dir / "manifest.json").write_text(text)
    (out / "manifest.json").write_text(text)
    return manifest


def check_against_emit(out: str | Path, vocab_size: int, seq_length: int, sft_examples: int, pairs: int,
                       seed: int) -> list[str]:  # fmt: skip
    """Write the same examples through emit's own ``_SftPartition._write`` / ``_PairPartition._write`` into a
    temporary folder and compare every ``.bin``/``.idx`` byte for byte with what :func:`write` wrote under
    ``out``; returns the files compared. Needs ``spark_jobs.posttrain.emit`` importable (Spark installed)."""
    import tempfile

    from spark_jobs.emit import shards
    from spark_jobs.posttrain import emit

    out = Path(out).resolve()
    manifest = json.loads((out / "manifest.json").read_text())
    run_dir = Path(manifest["run_dir"])
    dtype = shards.token_dtype(vocab_size)
    compared = []
    with tempfile.TemporaryDirectory(prefix="align-emit-") as tmp:
        if sft_examples:
            ex = [emit._Example(f"synthetic-sft-{i:08d}", "synthetic", "xx", e.ids, e.mask)
                  for i, e in enumerate(make_sft_examples(sft_examples, vocab_size, seq_length, seed))]  # fmt: skip
            sft = emit._SftPartition(None, None, "all", seq_length, "truncate")
            sft._write(tmp, "train", 0, ex, dtype, "check")
        if pairs:
            ps = [emit._Pair(f"synthetic-pair-{i:08d}", "synthetic", "xx", (1.0, 0.0), p.prompt, p.chosen, p.rejected,
                             p.chosen_mask, p.rejected_mask)
                  for i, p in enumerate(make_pairs(pairs, vocab_size, seq_length, seed))]  # fmt: skip
            emit._PairPartition(None, None, seq_length)._write(tmp, "train", 0, ps, dtype, "check")
        for kind, names, n in (("sft", SFT_DATASETS, sft_examples), ("pairs", PAIR_DATASETS, pairs)):
            if not n:
                continue
            for name in names:
                for ext in (".bin", ".idx"):
                    rel = f"{kind}/train/part-00000/{name}{ext}"
                    a, b = (run_dir / rel).read_bytes(), (Path(tmp) / rel).read_bytes()
                    if a != b:
                        raise AssertionError(f"{rel}: differs from what spark_jobs.posttrain.emit writes")
                    compared.append(rel)
    return compared


# -- reading back, and the same examples for TRL ---------------------------------------------------------------


def _part(blend: str | Path) -> str:
    items = json.loads(Path(blend).read_text())["train"]
    parts = items[1::2] if items and not isinstance(items[0], str) else items
    if len(parts) != 1:
        raise ValueError(f"{blend}: expected one train part, found {len(parts)}")
    return parts[0]


def read_sft(blend: str | Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The packed sequences of an SFT blend's train part: ``(tokens int64, loss_mask uint8, cu_seqlens int64)``."""
    from spark_jobs.emit import shards

    part = _part(blend)
    ds = {n: shards.read_dataset(f"{part}/{n}") for n in SFT_DATASETS}
    return [(ds["tokens"][i].astype(np.int64), ds["loss_mask"][i].astype(np.uint8),
             ds["cu_seqlens"][i].astype(np.int64)) for i in range(len(ds["tokens"]))]  # fmt: skip


def read_pairs(blend: str | Path) -> list[Pair]:
    from spark_jobs.emit import shards

    part = _part(blend)
    ds = {n: shards.read_dataset(f"{part}/{n}") for n in PAIR_DATASETS}
    return [Pair(*(ds[n][i].astype(np.uint8 if n.endswith("mask") else np.int64) for n in PAIR_DATASETS))
            for i in range(len(ds["prompt"]))]  # fmt: skip


def unpack(bins: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[Example]:
    """The examples of packed sequences, cut at their ``cu_seqlens`` (bin order, then order within a bin)."""
    return [Example(tok[a:b], mask[a:b]) for tok, mask, cu in bins for a, b in zip(cu[:-1], cu[1:], strict=True)]


def _list_column(arrays: list[np.ndarray], pa_type):
    import pyarrow as pa

    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)  # list<…> with int32 offsets, as datasets' own columns
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa_type))


def _dataset(columns: dict):
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    return Dataset(InMemoryTable(pa.table(columns)))


def trl_sft_dataset(examples: list[Example]):
    """``input_ids`` + ``completion_mask`` per example (TRL builds labels with ``completion_only_loss=True``)."""
    import pyarrow as pa

    return _dataset(
        {
            "input_ids": _list_column([e.ids for e in examples], pa.int64()),
            "completion_mask": _list_column([e.mask.astype(np.int8) for e in examples], pa.int8()),
        }
    )


def trl_sft_bins_dataset(bins: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """moru's packed sequences as TRL's packed rows: ``input_ids``, ``labels`` (-100 off the mask),
    ``seq_lengths`` (for ``skip_prepare_dataset``)."""
    import pyarrow as pa

    return _dataset({
        "input_ids": _list_column([t for t, _, _ in bins], pa.int64()),
        "labels": _list_column([np.where(m > 0, t, -100) for t, m, _ in bins], pa.int64()),
        "seq_lengths": _list_column([np.diff(cu) for _, _, cu in bins], pa.int64()),
    })  # fmt: skip


def trl_dpo_dataset(pairs: list[Pair]):
    """``prompt_ids`` / ``chosen_ids`` / ``rejected_ids`` per pair: what DPOTrainer's tokenizing step produces."""
    import pyarrow as pa

    return _dataset({name: _list_column([getattr(p, name[:-4]) for p in pairs], pa.int64())
                     for name in ("prompt_ids", "chosen_ids", "rejected_ids")})  # fmt: skip


# -- the command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vocab-size", type=int, default=102_400)
    ap.add_argument("--seq-length", type=int, default=4096)
    ap.add_argument("--sft-examples", type=int, default=8000)
    ap.add_argument("--pairs", type=int, default=640)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--check-emit",
        action="store_true",
        help="also write through spark_jobs.posttrain.emit's own writers and compare bytes (needs Spark)",
    )
    args = ap.parse_args(argv)
    m = write(args.out, args.vocab_size, args.seq_length, args.sft_examples, args.pairs, args.seed)
    print(f"wrote {m['run_dir']} in {m['seconds']:.1f}s")
    if "sft" in m:
        s = m["sft"]
        print(f"  sft:   {s['examples']:,} examples -> {s['sequences']:,} sequences of <= {args.seq_length}, "
              f"{s['tokens']:,} tokens ({s['supervised_tokens']:,} supervised), packing efficiency "
              f"{s['efficiency']:.4f}")  # fmt: skip
    if "pairs" in m:
        p = m["pairs"]
        print(f"  pairs: {p['pairs']:,} pairs, prompt/chosen/rejected tokens {p['prompt_tokens']:,} / "
              f"{p['chosen_tokens']:,} / {p['rejected_tokens']:,}")  # fmt: skip
    print(f"  emit's part checks: {'ran' if _emit_checks() else 'not importable here (no Spark): skipped'}")
    if args.check_emit:
        files = check_against_emit(args.out, args.vocab_size, args.seq_length, args.sft_examples, args.pairs,
                                   args.seed)  # fmt: skip
        print(f"  byte-identical to spark_jobs.posttrain.emit's writers: {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
