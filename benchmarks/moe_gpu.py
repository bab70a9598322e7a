"""K-EXAONE-style MoE training on one GPU (issue 24): MoE vs the dense shape of the same active size, BF16 and FP8;
the longest sequence one card trains with full recompute + sliding-window attention; Muon vs AdamW.

Each run is ``python -m megatron_train.train`` itself (the loop ``moru train`` starts), in its own process (an OOM
ends that run only), with ``checkpoint.save: false``. Runs (``--runs``, comma-separated; default all):

  moe_bf16, moe_fp8        k-exaone-small (1.78B total, 0.53B active without embedding/MTP: 32 experts of 512,
                           top-4 + a shared expert, dense first layer, LLLG window 128, QK-norm, MTP 1), AdamW
  dense_bf16, dense_fp8    k-exaone-small-dense: the same with every FFN (top-4 + shared) × 512 wide, i.e. the
                           MoE shape's active parameters (up to its routers)
  long                     k-exaone-small, BF16, micro-batch 1, full recompute: seq 32K, 64K, 128K, 256K in turn
                           (``--long-seqs``) until one fails; the longest that trains, its tok/s and peak memory
  muon, adamw              k-exaone-small BF16, same seed, data and token count: Muon (megatron_train.muon) vs
                           AdamW, the loss after ``--compare-steps`` steps (mean of the last 10)

Reported: tokens/s (every token of the global batch per wall-clock step, optimizer included, after ``--skip``
warm-up steps), model TFLOP/s on *active* parameters (``ModelShape.training_flops_per_token``: top-k + shared
experts + router, attention over min(window, s) keys on sliding-window layers, MTP layers included), MFU against
the dense BF16 peak (989.4 TFLOP/s H100/H200; FP8 runs reported the same way), peak memory (``max_memory_gib``),
the memory estimate made before the run (megatron_train.memory), and the last losses. The table comes last.

On a GPU (Transformer Engine must be installed: the TE layer spec is what runs FP8 and grouped expert GEMMs):

    python benchmarks/moe_gpu.py --out /tmp/moe                        # all runs, mock data (~20 min on an H100)
    python benchmarks/moe_gpu.py --blend EMIT/stage1_blend.json --tokenizer TOK --out /tmp/moe
    python benchmarks/moe_gpu.py --runs moe_bf16,dense_bf16 --steps 30 --out /tmp/moe

On CPU (what CI can run: the tiny shapes, fp32, a few steps, local layer spec; FP8 runs are skipped):

    python benchmarks/moe_gpu.py --cpu-tiny --out /tmp/moe_cpu
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BF16_PEAK = 989.4  # dense BF16 TFLOP/s, H100/H200 SXM data sheet
ALL_RUNS = ("moe_bf16", "dense_bf16", "moe_fp8", "dense_fp8", "long", "muon", "adamw")
TINY_DENSE = {"num_experts": None, "moe_ffn_hidden_size": None, "moe_shared_expert_size": None,
              "moe_dense_layers": 0, "moe_score_function": "softmax", "moe_topk_scaling_factor": None,
              "ffn_hidden_size": 144}  # fmt: skip  # (top-2 + shared) × 48: k-exaone-tiny's active FFN width


def settings(name: str, args, seq: int | None = None) -> dict:
    tiny = args.cpu_tiny
    moe = not name.startswith("dense")
    precision = "fp32" if tiny else ("fp8" if name.endswith("fp8") else "bf16")
    train: dict = {
        "model": ("k-exaone-tiny" if tiny else "k-exaone-small") if moe or tiny else "k-exaone-small-dense",
        "model_overrides": dict(TINY_DENSE) if (tiny and not moe) else {},
        "precision": precision,
        "transformer_impl": "local" if tiny else "transformer_engine",
        "seq_length": seq or args.seq,
        "micro_batch_size": args.micro_batch,
        "global_batch_size": args.global_batch,
        "train_iters": args.steps,
        "seed": 1234,
        "optimizer": {"name": "adamw", "lr": 3e-4 if not tiny else 3e-3, "min_lr": 3e-5, "clip_grad": 1.0},
        "schedule": {"style": "wsd", "warmup_iters": max(1, args.steps // 10)},
        "moe": {"load_balancing": "seq_aux_loss", "aux_loss_coeff": 1e-4},
        "checkpoint": {"save": False},
        "logging": {"interval": 1, "tensorboard": False},
        "eval": {"interval": 0},
        "data": {"mock": True}
        if not args.blend
        else {"blend": args.blend, "tokenizer": args.tokenizer, "num_workers": 2},  # fmt: skip
        "fp8": {"format": "hybrid", "recipe": "current"},
        "extend": {},
    }
    if name == "long":
        train.update(micro_batch_size=1, global_batch_size=1, train_iters=args.long_steps,
                     recompute={"granularity": "full", "method": "uniform", "num_layers": 1})  # fmt: skip
        train["schedule"] = {"style": "constant", "warmup_iters": 0}
    if name in ("muon", "adamw"):
        train["train_iters"] = args.compare_steps
        train["schedule"] = {"style": "wsd", "warmup_iters": max(1, args.compare_steps // 10)}
        train["optimizer"]["name"] = name
    return train


def launch(name: str, train: dict, out: Path) -> dict:
    import yaml

    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    train = {**train, "output_dir": str(run_dir)}
    cfg_path = run_dir / "moru.yaml"
    cfg_path.write_text(yaml.safe_dump({"workdir": str(run_dir), "train": train}, sort_keys=False))
    metrics = run_dir / "metrics.jsonl"
    metrics.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CUDA_DEVICE_MAX_CONNECTIONS": "1", "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    cmd = [sys.executable, "-m", "megatron_train.train", "--config", str(cfg_path)]
    print(f"== {name} (seq {train['seq_length']}): {' '.join(cmd)}", flush=True)
    started = time.time()
    estimate = None
    log_path = run_dir / "train.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        for line in proc.stdout:
            log.write(line)
            if line.startswith("memory estimate"):
                estimate = line.strip()
            if line.startswith("step "):
                it = line.split()[1].split("/")[0]
                if it.isdigit() and int(it) > 3 and int(it) % 10:
                    continue
            print(line, end="", flush=True)
        rc = proc.wait()
    from megatron_train.metrics import read_metrics

    rows = read_metrics(metrics, "train") if metrics.exists() else []
    result = {"run": name, "returncode": rc, "wall_seconds": time.time() - started, "settings": train,
              "memory_estimate": estimate, "steps": rows}  # fmt: skip
    if rc != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-15:])
        result["error_tail"] = tail
        print(f"!! {name} exited with {rc}; log tail:\n{tail}", flush=True)
    return result


def summary(result: dict, skip: int) -> dict | None:
    rows, s = result["steps"], result["settings"]
    if result["returncode"] != 0 or not rows:
        return None
    from megatron_train.model_configs import resolve_shape

    timed = [r for r in rows if r["iteration"] > skip] or rows
    tokens = s["global_batch_size"] * s["seq_length"]
    seconds = sum(r["step_seconds"] for r in timed)
    tok_s = tokens * len(timed) / seconds
    shape = resolve_shape(s["model"], s["model_overrides"])
    tflops = tok_s * shape.training_flops_per_token(s["seq_length"]) / 1e12
    last = rows[-10:]
    mem = [r.get("max_memory_gib") for r in rows if r.get("max_memory_gib") is not None]
    return {
        "run": result["run"], "model": s["model"], "precision": s["precision"], "optimizer": s["optimizer"]["name"],
        "seq": s["seq_length"], "mbs": s["micro_batch_size"], "gbs": s["global_batch_size"], "steps": len(rows),
        "tokens_seen": tokens * len(rows), "tok_s": tok_s, "tflops": tflops, "mfu": tflops / BF16_PEAK,
        "active_params": shape.num_active_parameters(with_embedding=False), "total_params": shape.num_parameters(),
        "peak_mem_gib": max(mem) if mem else None, "first_loss": rows[0]["loss"],
        "final_loss": sum(r["loss"] for r in last) / len(last),
        "mtp_loss": last[-1].get("mtp_1_loss"), "load_max_over_mean": last[-1].get("moe_load_max_over_mean"),
        "estimate_gib": _estimate_gib(result.get("memory_estimate")),
    }  # fmt: skip


def _estimate_gib(line: str | None) -> float | None:
    """The total of the memory estimate line the run printed before it started."""
    import re

    found = re.search(r"= ([0-9.]+) GiB", line or "")
    return float(found.group(1)) if found else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=",".join(ALL_RUNS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/moe_gpu"))
    parser.add_argument("--blend", default=None, help="a stage-1 blend JSON (default: megatron-core mock data)")
    parser.add_argument("--tokenizer", default=None)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--micro-batch", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--skip", type=int, default=5, help="warm-up steps left out of tok/s")
    parser.add_argument("--long-seqs", default="16384,32768,65536,131072,262144")
    parser.add_argument("--long-steps", type=int, default=4)
    parser.add_argument("--compare-steps", type=int, default=150, help="steps of the Muon / AdamW runs")
    parser.add_argument("--cpu-tiny", action="store_true", help="tiny shapes, fp32, CPU: the script's CI check")
    args = parser.parse_args(argv)
    if args.cpu_tiny:
        args.seq, args.micro_batch, args.global_batch = 64, 2, 4
        args.steps = min(args.steps, 4)
        args.skip = 1
        args.long_steps = 1
        args.compare_steps = min(args.compare_steps, 6)
        args.long_seqs = "128,256"
    runs = [r for r in args.runs.split(",") if r]
    if args.cpu_tiny:
        runs = [r for r in runs if not r.endswith("fp8")]
    args.out.mkdir(parents=True, exist_ok=True)
    device = "CPU"
    try:
        import torch

        if torch.cuda.is_available():
            device = torch.cuda.get_device_name()
    except ImportError:
        pass
    results, rows = [], []
    for name in runs:
        if name == "long":
            best = None
            for seq in (int(x) for x in args.long_seqs.split(",")):
                r = launch(f"long_{seq}", settings("long", args, seq), args.out)
                results.append(r)
                s = summary(r, skip=1)
                if s is None:
                    break
                best = s
            if best is not None:
                rows.append({**best, "run": "long (longest that trains)"})
            continue
        r = launch(name, settings(name, args), args.out)
        results.append(r)
        s = summary(r, args.skip)
        if s is not None:
            rows.append(s)
    (args.out / "moe_gpu.json").write_text(json.dumps({"device": device, "results": results, "rows": rows}, indent=1))
    by = {r["run"]: r for r in rows}
    print(f"\n{device}; runs and logs under {args.out}; numbers in {args.out / 'moe_gpu.json'}")
    for moe, dense in (("moe_bf16", "dense_bf16"), ("moe_fp8", "dense_fp8")):
        if moe in by and dense in by:
            print(f"{moe} / {dense} tok/s: {by[moe]['tok_s'] / by[dense]['tok_s']:.3f}")
    if "moe_fp8" in by and "moe_bf16" in by:
        print(f"moe fp8 / bf16 tok/s: {by['moe_fp8']['tok_s'] / by['moe_bf16']['tok_s']:.3f}")
    if "muon" in by and "adamw" in by:
        print(f"Muon vs AdamW after {by['muon']['tokens_seen']:,} tokens: loss {by['muon']['final_loss']:.4f} vs "
              f"{by['adamw']['final_loss']:.4f}")  # fmt: skip
    failed = [r["run"] for r in results if r["returncode"] != 0 and not r["run"].startswith("long_")]
    head = ("run", "model", "prec", "opt", "seq x mbs (gbs)", "steps", "tok/s", "TFLOP/s", "MFU (active)",
            "peak GiB (estimate)", "final loss", "MTP loss")  # fmt: skip
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for s in rows:
        mem = f"{s['peak_mem_gib']:.1f}" if s["peak_mem_gib"] is not None else "-"
        if s["estimate_gib"] is not None:
            mem += f" ({s['estimate_gib']:.1f})"
        mtp = f"{s['mtp_loss']:.3f}" if s["mtp_loss"] is not None else "-"
        print(f"| {s['run']} | {s['model']} | {s['precision']} | {s['optimizer']} | {s['seq']} x {s['mbs']} "
              f"({s['gbs']}) | {s['steps']} | {s['tok_s']:,.0f} | {s['tflops']:.3g} | {100 * s['mfu']:.2f}% | {mem} | "
              f"{s['final_loss']:.4f} | {mtp} |")  # fmt: skip
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
