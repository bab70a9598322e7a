"""The demo's training runs: the tiny EXAONE-shaped model on the emitted stage-1 blend (``moru train``'s launch:
torchrun, gloo on CPU), summarized for the report with the demo's checks on it; then its alignment (``moru align``'s
recipe: SFT, two reward models, DPO stages M1 and M2) on the emitted post-training data."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console


def model_vocab_size(tokenizer_vocab: int) -> int:
    """The model's vocabulary for a tokenizer's: rounded up to a multiple of 128, as megatron pads it."""
    return -(-tokenizer_vocab // 128) * 128


def set_vocab_size(config_path: Path, vocab: int) -> bool:
    """Write ``train.model_overrides.vocab_size: vocab`` into the config file; False if it already said so."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if raw["train"].get("model_overrides", {}).get("vocab_size") == vocab:
        return False
    raw["train"].setdefault("model_overrides", {})["vocab_size"] = vocab
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return True


def train_tiny_model(config_path: Path, cfg: Any, *, console: Console, load_config: Callable[[Path], Any]) -> dict:
    """Train the tiny model on the emitted stage-1 blend and summarize it for the report: the loss curve, the first
    and last losses, the valid loss, throughput; and the demo's checks on it under ``checks`` (the run finished;
    training and valid loss fell). The config file's model vocabulary is first set to the trained tokenizer's
    (``load_config`` reads it back)."""
    from rich.markup import escape

    from megatron_train.launch import torchrun_command
    from megatron_train.metrics import read_metrics
    from tokenizer.config import output_dir as tokenizer_dir

    info = json.loads((tokenizer_dir(cfg.tokenizer, cfg.workdir) / "moru_tokenizer.json").read_text(encoding="utf-8"))
    if set_vocab_size(config_path, model_vocab_size(info["vocab_size"])):
        cfg = load_config(config_path)
    stage_cfg = cfg.train.for_stage("pretrain", cfg.workdir)
    out = Path(stage_cfg.output_dir)
    if out.exists():
        shutil.rmtree(out)  # the demo trains from scratch each time (a re-run would resume at the end)
    cmd = torchrun_command(config_path, "pretrain", 1)
    console.print(f"[bold]training the tiny model on the emitted data[/] [dim]{escape(' '.join(cmd))}")
    started = time.time()
    rc = subprocess.call(cmd)
    seconds = time.time() - started
    metrics = out / "metrics.jsonl"
    train = read_metrics(metrics, "train") if metrics.exists() else []
    valid = read_metrics(metrics, "eval") if metrics.exists() else []
    shape = stage_cfg.shape()
    first, last = (train[0]["loss"], train[-1]["loss"]) if train else (float("nan"), float("nan"))
    tail = [r["loss"] for r in train[-5:]]
    summary = {
        "model": stage_cfg.model,
        "parameters": shape.num_parameters(),
        "precision": stage_cfg.precision,
        "seq_length": stage_cfg.seq_length,
        "global_batch_size": stage_cfg.global_batch_size,
        "steps": len(train),
        "train_iters": stage_cfg.train_iters,
        "tokens": len(train) * stage_cfg.global_batch_size * stage_cfg.seq_length,
        "first_loss": first,
        "final_loss": sum(tail) / len(tail) if tail else float("nan"),
        "last_loss": last,
        "valid": [{"iteration": r["iteration"], "loss": r["loss"]} for r in valid],
        "tokens_per_s": (sum(r["tokens_per_s"] for r in train[1:]) / (len(train) - 1)) if len(train) > 1 else None,
        "seconds": round(seconds, 1),
        "exit_code": rc,
        "output_dir": str(out),
        "blend": stage_cfg.data.blend,
    }
    png = out / "loss.png"
    if png.is_file():
        from core import locations, storage

        storage.write_bytes(storage.join(locations.report(cfg.workdir), "train_loss.png"), png.read_bytes())
        summary["loss_png"] = "train_loss.png"
    ok = rc == 0 and len(train) == stage_cfg.train_iters
    fell = bool(train) and summary["final_loss"] < first
    valid_fell = len(valid) >= 2 and valid[-1]["loss"] < valid[0]["loss"]
    colour = "[green]" if ok and fell and valid_fell else "[red]"
    console.print(
        f"{colour}tiny model ({shape.num_parameters():,} parameters): {len(train)} of {stage_cfg.train_iters} steps "
        f"in {seconds:.0f} s, loss {first:.3f} -> {summary['final_loss']:.3f} (mean of the last 5)"
        + (f", valid {valid[0]['loss']:.3f} -> {valid[-1]['loss']:.3f}" if len(valid) >= 2 else "")
        + f"; loss curve {png}"
    )
    summary["checks"] = [
        {"check": "tiny model trained on the emitted stage-1 blend (megatron-core, CPU)",
         "result": f"{len(train)} of {stage_cfg.train_iters} steps, exit {rc}",
         "expected": f"{stage_cfg.train_iters} steps, exit 0", "ok": ok},
        {"check": "training loss: first step vs mean of the last 5",
         "result": f"{first:.3f} -> {summary['final_loss']:.3f}", "expected": "lower", "ok": fell},
        {"check": "valid loss: first vs last evaluation",
         "result": f"{valid[0]['loss']:.3f} -> {valid[-1]['loss']:.3f}" if len(valid) >= 2 else "no evaluation",
         "expected": "lower", "ok": valid_fell},
    ]  # fmt: skip
    return summary


def align_tiny_model(config_path: Path, cfg: Any, spark, *, console: Console,
                     run_align: Callable[[Path, Any, Any], dict]) -> dict:  # fmt: skip
    """Align the tiny model trained by :func:`train_tiny_model` with the config's ``align`` section, from scratch
    (WORKDIR/align is removed first: the pretrained model it starts from is new). ``run_align(config_path, cfg, spark)``
    runs ``moru align``'s recipe (preflight, pair_scores on ``spark``, summary table). Returns the recipe's report with
    ``seconds`` (wall time), or ``{"error": ...}`` when it stopped."""
    from core import locations

    out = Path(locations.align_output(cfg.workdir))
    if out.exists():
        shutil.rmtree(out)
    console.print("[bold]aligning the tiny model on the emitted post-training data[/] (SFT → reward models → M1 → M2)")
    started = time.time()
    try:
        report = run_align(config_path, cfg, spark)
    except Exception as exc:  # noqa: BLE001 - a failed step or preflight is a failed check, the report still written
        code = getattr(exc, "exit_code", None)  # the CLI's exit (its message is printed already)
        report = {"error": str(exc) or (f"exit code {code}" if code is not None else type(exc).__name__), "steps": {}}
    report["seconds"] = round(time.time() - started, 1)
    return report
