"""Post-training throughput, the moru side: megatron_train.sft and megatron_train.preference (DPO) on the synthetic
data of benchmarks/align_data.py — the same files TRL reads in benchmarks/align_throughput.py.

    python benchmarks/align_moru.py --which moru-sft|moru-dpo --shape exaone-3.5-2.4b --seq-length 4096 \\
        --steps 20 --warmup 5 --tokens-per-step 32768 --pairs-per-step 32 --data DIR --json out.json

**moru-sft**: ``megatron_train.sft.run``: the model of the shape, random init, ``--precision`` (bf16 default:
bf16 weights with fp32 main weights and AdamW state in megatron-core's distributed optimizer; fp8: Transformer
Engine's delayed-scaling hybrid FP8), Transformer Engine layer spec, fused RoPE / cross-entropy, no activation
recompute. A micro-batch is ``--micro-batch`` packed rows laid end to end in one THD row (``PackedSeqParams``);
``--tokens-per-step`` / ``seq_length`` packed rows per optimizer step. lr 1e-5 constant, clip 1.0, no
checkpoints. **tokens/s** counts every token of the packed sequences (no padding), as TRL's side does.

**moru-dpo**: ``megatron_train.preference.run`` with ``loss: dpo`` (β 0.1): the reference log-probs of every pair
are computed first by the same model (the scoring pass, timed on its own; the peak-memory counter is reset after
it, as TRL's side resets after its precompute), then training holds the one model. A micro-batch is
``--dpo-micro-batch`` pairs, chosen and rejected of each in one packed THD row (the prompt appears in both
segments, as in TRL's padded batch). lr 5e-7 constant.

Both: the steady state is steps ``warmup + 1 ..`` of the run's metrics.jsonl (each step's wall time measured by the
training loop from zero-grad to the end of the optimizer step, the data collation included); tokens and pairs are
what those steps consumed; peak memory is ``torch.cuda.max_memory_allocated()`` at the last step.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path.pop(0)  # benchmarks/tokenizer.py must not shadow the tokenizer package
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _config(args, blend: str, out: str, micro: int, global_batch: int, lr: float):
    from megatron_train.config import TrainConfig

    return TrainConfig.model_validate({
        "model": args.shape, "precision": args.precision, "seq_length": args.seq_length,
        "micro_batch_size": micro, "global_batch_size": global_batch, "train_iters": args.warmup + args.steps,
        "optimizer": {"lr": lr, "min_lr": lr, "weight_decay": 0.0, "clip_grad": 1.0},
        "schedule": {"style": "constant"}, "data": {"blend": blend}, "checkpoint": {"save": False},
        "logging": {"tensorboard": False}, "output_dir": out, "seed": args.seed,
    })  # fmt: skip


def _steady(metrics: Path, warmup: int) -> dict:
    from megatron_train.metrics import read_metrics

    rows = read_metrics(metrics, "train")
    steady = [r for r in rows if r["iteration"] > warmup]
    seconds = sum(r["step_seconds"] for r in steady)
    tokens = sum(r["tokens_per_s"] * r["step_seconds"] for r in steady)
    losses = [r["loss"] for r in rows]
    return {"steps": len(steady), "seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds,
            "losses": losses, "finite": all(map(lambda x: x == x and abs(x) != float("inf"), losses)),
            "max_memory_gib": rows[-1].get("max_memory_gib"), "first_loss": losses[0] if losses else None}  # fmt: skip


def moru_sft(args) -> dict:
    from megatron_train import sft

    out = tempfile.mkdtemp(prefix="moru_sft_")
    rows = args.tokens_per_step // args.seq_length
    cfg = _config(args, str(Path(args.data) / "sft_blend.json"), out, args.micro_batch, rows, 1e-5)
    started = time.perf_counter()
    result = sft.run(cfg)
    res = _steady(Path(out) / "metrics.jsonl", args.warmup)
    res.update(which="moru-sft", status=result.status, wall_s=time.perf_counter() - started, rows_per_step=rows,
               micro_batch=args.micro_batch, precision=args.precision)  # fmt: skip
    return res


def moru_dpo(args) -> dict:
    from megatron_train import preference
    from megatron_train.align_config import PreferenceOptions
    from megatron_train.metrics import read_metrics

    out = tempfile.mkdtemp(prefix="moru_dpo_")
    cfg = _config(args, str(Path(args.data) / "pairs_blend.json"), out, args.dpo_micro_batch, args.pairs_per_step,
                  5e-7)  # fmt: skip
    # no init_from: the reference pass scores the seeded random initialization, which training then starts from
    options = PreferenceOptions(loss="dpo", beta=0.1)
    started = time.perf_counter()
    result = preference.run(cfg, options, stage="dpo", with_reference=True)
    res = _steady(Path(out) / "metrics.jsonl", args.warmup)
    ref = read_metrics(Path(out) / "metrics.jsonl", "reference")
    res.update(which="moru-dpo", status=result.status, wall_s=time.perf_counter() - started,
               pairs_per_s=args.pairs_per_step * res["steps"] / res["seconds"], pairs_per_step=args.pairs_per_step,
               micro_batch=args.dpo_micro_batch, precision=args.precision,
               reference_seconds=ref[-1]["seconds"] if ref else None,
               reference_max_memory_gib=ref[-1].get("max_memory_gib") if ref else None)  # fmt: skip
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--which", choices=("moru-sft", "moru-dpo"), required=True)
    p.add_argument("--shape", default="exaone-3.5-2.4b")
    p.add_argument("--precision", default="bf16", choices=("fp32", "bf16", "fp8"))
    p.add_argument("--seq-length", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--tokens-per-step", type=int, default=32768)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--pairs-per-step", type=int, default=32)
    p.add_argument("--dpo-micro-batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--data", required=True)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    res = moru_sft(args) if args.which == "moru-sft" else moru_dpo(args)
    res["losses"] = res["losses"][:50]
    print(json.dumps(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0 if res["status"] == "finished" and res["finite"] else 1


if __name__ == "__main__":
    sys.exit(main())
