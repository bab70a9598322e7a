"""Training throughput of megatron_train on one GPU: EXAONE 3.5 2.4B shape, full training steps.

Each run is ``python -m megatron_train.train`` itself (the same loop ``moru train`` starts): megatron-core
GPTModel with the Transformer Engine layer spec, megatron-core DDP + distributed optimizer (AdamW), clipping,
the LR schedule, the real data loader (``BlendedMegatronDatasetBuilder`` over the emitted blend). No checkpoint
is written (``checkpoint.save: false``) so that the timing is the training step alone.

Runs (``--runs``, comma-separated):
  bf16, fp8          seq 4,096 × micro-batch 4, global batch 8 (2 micro-batches: gradient accumulation),
                     ``--steps`` steps each on the same data from the same initial weights
  fp8_32k, bf16_32k  seq 32,768 × micro-batch 1, full activation recompute, ``--long-steps`` steps

Reported per run: tokens/s (all tokens of the global batch per wall-clock step, optimizer included, steps after
``--skip`` warm-up steps), model TFLOP/s (PaLM's 6N + attention convention, recompute not counted), MFU against
the GPU's dense BF16 peak (989.4 TFLOP/s on H100/H200; NeMo reports FP8 runs this way too), and the mean loss
of the last 10 steps. Correctness checks first (finite, decreasing loss; FP8 within 1% of BF16), then the
table; the headline ratios last.

Baselines (``../shared/device/README.md``, bare megatron-core forward+backward, no optimizer, same shape, H100):
BF16 25,382 / FP8 30,685 tok/s at 4096 × 2; BF16 25,958 / FP8 31,549 at 4096 × 4; FP8 10,786 at 32768 × 1.
Targets (issue 8): FP8 ≥ 30,000 tok/s; FP8 ≥ 1.18 × BF16; FP8 loss within 1% of BF16 after 200 steps;
FP8 at 32K × 1 with recompute ≥ 10,800 tok/s.

    python benchmarks/train_throughput.py --blend EMIT/stage1_blend.json --tokenizer TOK --runs bf16,fp8 --out DIR
    python benchmarks/train_throughput.py --summarize DIR [DIR ...]     # the table from runs made in other calls

Each run leaves ``DIR/<run>.json`` (settings, per-step metrics, summary) and ``DIR/<run>.log``.
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
BASELINE = {  # bare megatron-core forward+backward on the H100 (shared/device/README.md)
    ("bf16", 4096, 2): 25_382,
    ("fp8", 4096, 2): 30_685,
    ("bf16", 4096, 4): 25_958,
    ("fp8", 4096, 4): 31_549,
    ("bf16", 32768, 1): 9_775,
    ("fp8", 32768, 1): 10_786,
}
TARGETS = {"fp8_tok_s": 30_000, "fp8_over_bf16": 1.18, "loss_rel": 0.01, "fp8_32k_tok_s": 10_800}


def run_settings(name: str, args) -> dict:
    precision = name.split("_")[0]
    long = name.endswith("_32k")
    recipe = "current" if "_current" in name else "delayed" if "_delayed" in name else args.fp8_recipe
    train = {
        "model": args.model,
        "precision": precision,
        "transformer_impl": "transformer_engine",
        "seq_length": 32_768 if long else 4096,
        "micro_batch_size": 1 if long else args.micro_batch,
        "global_batch_size": 1 if long else args.global_batch,
        "train_iters": args.long_steps if long else args.steps,
        "seed": 1234,
        "optimizer": {"lr": 3e-4, "min_lr": 3e-5, "clip_grad": 1.0},
        "schedule": {"style": "cosine", "warmup_iters": 20 if not long else 2},
        "checkpoint": {"save": False},
        "logging": {"interval": 1, "tensorboard": False},
        "eval": {"interval": 0},
        "data": {"mock": True} if args.mock else {"blend": args.blend, "tokenizer": args.tokenizer, "num_workers": 2},
        "fp8": {"format": "hybrid", "recipe": recipe},
    }
    if long:
        train["recompute"] = {"granularity": "full", "method": "uniform", "num_layers": 1}
    return train


def summarize_run(name: str, settings: dict, rows: list[dict], skip: int) -> dict:
    timed = [r for r in rows if r["iteration"] > skip] or rows
    tokens = settings["global_batch_size"] * settings["seq_length"]
    seconds = sum(r["step_seconds"] for r in timed)
    tok_s = tokens * len(timed) / seconds if seconds else float("nan")
    from megatron_train.model_configs import resolve_shape

    flops = resolve_shape(settings["model"]).training_flops_per_token(settings["seq_length"])
    tflops = tok_s * flops / 1e12
    last = rows[-10:]
    base = BASELINE.get((settings["precision"], settings["seq_length"], settings["micro_batch_size"]))
    return {
        "run": name,
        "precision": settings["precision"],
        "seq_length": settings["seq_length"],
        "micro_batch_size": settings["micro_batch_size"],
        "global_batch_size": settings["global_batch_size"],
        "steps": len(rows),
        "timed_steps": len(timed),
        "tokens_per_s": tok_s,
        "tflops": tflops,
        "mfu_bf16_peak": tflops / BF16_PEAK,
        "step_seconds_median": sorted(r["step_seconds"] for r in timed)[len(timed) // 2],
        "first_loss": rows[0]["loss"],
        "final_loss": sum(r["loss"] for r in last) / len(last),
        "all_finite": all(r["loss"] == r["loss"] and abs(r["loss"]) != float("inf") for r in rows),
        "baseline_fwd_bwd_tok_s": base,
        "vs_baseline": tok_s / base if base else None,
    }


def launch(name: str, args, out: Path) -> dict:
    import yaml

    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = run_settings(name, args)
    settings["output_dir"] = str(run_dir)
    cfg_path = run_dir / "moru.yaml"
    cfg_path.write_text(yaml.safe_dump({"workdir": str(run_dir), "train": settings}, sort_keys=False))
    metrics = run_dir / "metrics.jsonl"
    metrics.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CUDA_DEVICE_MAX_CONNECTIONS": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    cmd = [sys.executable, "-m", "megatron_train.train", "--config", str(cfg_path)]
    print(f"== {name}: {' '.join(cmd)}", flush=True)
    started = time.time()
    log_path = out / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        for line in proc.stdout:
            log.write(line)
            if line.startswith("step "):  # "step   10/200 | loss ...": print steps 1-3 and every 10th
                it = line.split()[1].split("/")[0]
                if it.isdigit() and int(it) > 3 and int(it) % 10:
                    continue
            print(line, end="", flush=True)
        rc = proc.wait()
    wall = time.time() - started
    from megatron_train.metrics import read_metrics

    rows = read_metrics(metrics, "train") if metrics.exists() else []
    result = {"run": name, "returncode": rc, "wall_seconds": wall, "settings": settings, "steps": rows}
    if rc == 0 and rows:
        skip = args.long_skip if name.endswith("_32k") else args.skip
        result["summary"] = summarize_run(name, settings, rows, skip)
    else:
        print(f"!! {name} failed with exit code {rc}; the end of its log:", flush=True)
        print("".join(log_path.read_text().splitlines(keepends=True)[-40:]), flush=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    return result


def report(results: list[dict]) -> int:
    """Checks, then the table, then the headline ratios; returns the number of failed checks."""
    by = {r["run"]: r["summary"] for r in results if "summary" in r}
    results_by_run = {r["run"]: r for r in results}
    failed = [r["run"] for r in results if "summary" not in r]
    checks = []
    for name, s in by.items():
        checks.append((f"{name}: every loss finite", s["all_finite"]))
        if s["seq_length"] == 4096:  # the 32K runs are a dozen throughput steps: their loss is not judged
            checks.append((f"{name}: loss fell ({s['first_loss']:.3f} -> {s['final_loss']:.3f})",
                           s["final_loss"] < s["first_loss"]))  # fmt: skip
    fp8_runs = [n for n, s in by.items() if s["precision"] == "fp8" and s["seq_length"] == 4096]
    rels = {}
    if "bf16" in by:
        for n in fp8_runs:
            rels[n] = abs(by[n]["final_loss"] - by["bf16"]["final_loss"]) / by["bf16"]["final_loss"]
    for n, rel in rels.items():
        checks.append((f"{n}: loss within 1% of BF16 after {by[n]['steps']} steps (mean of the last 10: "
                       f"{by[n]['final_loss']:.4f} vs {by['bf16']['final_loss']:.4f}, off by {100 * rel:.2f}%)",
                       rel <= TARGETS["loss_rel"]))  # fmt: skip
    for name in failed:
        checks.append((f"{name}: ran to the end", False))
    print("\ncorrectness")
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
    print()
    head = ("run", "seq x mbs (gbs)", "steps", "tok/s", "TFLOP/s", "MFU", "final loss", "bare fwd+bwd", "ratio")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, s in by.items():
        base = f"{s['baseline_fwd_bwd_tok_s']:,}" if s["baseline_fwd_bwd_tok_s"] else "-"
        ratio = f"{s['vs_baseline']:.3f}" if s["vs_baseline"] else "-"
        print(f"| {name} | {s['seq_length']} x {s['micro_batch_size']} ({s['global_batch_size']}) | {s['steps']} | "
              f"{s['tokens_per_s']:,.0f} | {s['tflops']:.0f} | {100 * s['mfu_bf16_peak']:.1f}% | "
              f"{s['final_loss']:.4f} | {base} | {ratio} |")  # fmt: skip
    print()
    if "fp8_32k" in by:
        print(f"FP8 32K x 1, recompute: {by['fp8_32k']['tokens_per_s']:,.0f} tok/s (target >= "
              f"{TARGETS['fp8_32k_tok_s']:,})")  # fmt: skip
    for n in fp8_runs:
        recipe = results_by_run[n]["settings"]["fp8"]["recipe"]
        line = f"{n} ({recipe} scaling): {by[n]['tokens_per_s']:,.0f} tok/s (target >= {TARGETS['fp8_tok_s']:,})"
        if "bf16" in by:
            line += (f"; {by[n]['tokens_per_s'] / by['bf16']['tokens_per_s']:.3f}x BF16 (target >= "
                     f"{TARGETS['fp8_over_bf16']}); loss {100 * rels[n]:.2f}% from BF16's (target <= 1%)")  # fmt: skip
        print(line)
    return sum(not ok for _, ok in checks)


def plot(results: list[dict], path: Path) -> Path:
    """Loss per step of the 4K runs (left) and tokens/s of every run against the bare forward+backward
    baseline (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6), dpi=110)
    for r in results:
        s = r.get("summary")
        if not s or s["seq_length"] != 4096:
            continue
        label = r["run"] + (f" ({r['settings']['fp8']['recipe']})" if s["precision"] == "fp8" else "")
        ax1.plot([x["iteration"] for x in r["steps"]], [x["loss"] for x in r["steps"]], label=label, linewidth=1)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss")
    ax1.set_title("EXAONE 3.5 2.4B shape, seq 4096, same data and initial weights", fontsize=10)
    ax1.set_ylim(top=13)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    runs = [r for r in results if r.get("summary")]
    names = [r["run"] for r in runs]
    ours = [r["summary"]["tokens_per_s"] for r in runs]
    base = [r["summary"]["baseline_fwd_bwd_tok_s"] or 0 for r in runs]
    x = range(len(runs))
    b1 = ax2.bar([i - 0.2 for i in x], ours, 0.4, label="moru training step (optimizer, data loader)")
    b2 = ax2.bar([i + 0.2 for i in x], base, 0.4, label="bare megatron-core fwd+bwd (H100, shared/device)")
    ax2.bar_label(b1, fmt="{:,.0f}", fontsize=7)
    ax2.bar_label(b2, fmt="{:,.0f}", fontsize=7)
    ax2.set_xticks(list(x), names, fontsize=8)
    ax2.set_ylim(top=1.25 * max(ours + base))
    ax2.set_ylabel("tokens / s")
    ax2.set_title("throughput, one GPU", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--runs",
        default="bf16,fp8,fp8_current,fp8_32k",
        help="bf16, fp8, fp8_current, fp8_delayed, fp8_32k, bf16_32k (fp8 uses --fp8-recipe)",
    )
    ap.add_argument("--blend", help="stage-1 blend JSON from `moru emit`")
    ap.add_argument("--tokenizer", help="the tokenizer folder the blend was emitted with")
    ap.add_argument("--mock", action="store_true", help="megatron-core's MockGPTDataset instead of a blend")
    ap.add_argument("--model", default="exaone-3.5-2.4b")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--long-steps", type=int, default=12)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--skip", type=int, default=10, help="warm-up steps left out of the timing (4K runs)")
    ap.add_argument("--long-skip", type=int, default=2, help="warm-up steps left out of the timing (32K runs)")
    ap.add_argument("--fp8-recipe", default="delayed", choices=["delayed", "current"])
    ap.add_argument("--out", type=Path, default=Path("runs/train_throughput"))
    ap.add_argument("--summarize", nargs="+", type=Path, help="folders of earlier runs' <run>.json: print the table")
    ap.add_argument("--plot", type=Path, help="with --summarize: write the loss + throughput PNG here")
    args = ap.parse_args()
    if args.summarize:
        results = []
        for d in args.summarize:
            results += [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))]
        order = {"bf16": 0, "fp8": 1, "fp8_current": 2, "fp8_delayed": 3, "bf16_32k": 4, "fp8_32k": 5}
        results.sort(key=lambda r: (order.get(r["run"], 9), r["run"]))
        if args.plot:
            print(f"plot: {plot(results, args.plot)}")
        return 1 if report(results) else 0
    if not args.mock and not (args.blend and args.tokenizer):
        ap.error("give --blend and --tokenizer (emitted data), or --mock")
    if not args.mock:
        args.blend, args.tokenizer = str(Path(args.blend).resolve()), str(Path(args.tokenizer).resolve())
    import torch

    if not torch.cuda.is_available():
        print("no GPU: this benchmark runs on an H100/H200 (see benchmarks/RESULTS.md for how it was run)")
        return 2
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | python {sys.version.split()[0]}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = [launch(name, args, args.out) for name in args.runs.split(",")]
    return 1 if report(results) else 0


if __name__ == "__main__":
    sys.exit(main())
