"""Training metrics on the logging rank: a console line, TensorBoard scalars and ``metrics.jsonl``.

Throughput: tokens/s counts every token of the global batch per wall-clock step (optimizer included);
TFLOP/s per device and MFU use :meth:`ModelShape.training_flops_per_token` (no recompute counted) and the
device's dense peak for the run's precision (``train.logging.peak_tflops``, else the known GPUs below; on CPU
none, so no MFU).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

# dense tensor-core peaks (TFLOP/s) from NVIDIA's data sheets; fp32 runs use TF32
_PEAKS = {
    "H100": {"bf16": 989.4, "fp8": 1978.9, "fp32": 494.7},
    "H200": {"bf16": 989.4, "fp8": 1978.9, "fp32": 494.7},
    "A100": {"bf16": 312.0, "fp32": 156.0},
}


def default_peak_tflops(precision: str) -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for gpu, peaks in _PEAKS.items():
        if gpu in name:
            return peaks.get(precision)
    return None


def _fmt_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class MetricsLogger:
    """Writes only where ``enabled`` (the logging rank); a no-op elsewhere."""

    def __init__(self, out_dir: str | Path, enabled: bool, tensorboard: bool, console=None):
        self.enabled = enabled
        self.console = console
        self.writer = None
        self.started = time.perf_counter()
        self.jsonl = None
        if not enabled:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(out / "metrics.jsonl", "a", encoding="utf-8")  # appended across resumes
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))

    def print(self, message: str) -> None:
        if not self.enabled:
            return
        if self.console is not None:
            self.console.print(message, highlight=False, soft_wrap=True)
            return
        try:
            from rich.text import Text

            plain = Text.from_markup(message).plain
        except ImportError:  # a bare GPU image without rich: drop the [style] tags
            import re

            plain = re.sub(r"\[/?[a-z ]+\]", "", message)
        print(plain, flush=True)

    def train_step(self, iteration: int, total: int, first_iteration: int, record: dict) -> None:
        """One optimizer step: ``record`` has loss, lr, grad_norm, step_seconds, tokens_per_s and optionally
        tflops_per_device and mfu."""
        if not self.enabled:
            return
        done = iteration - first_iteration
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (total - iteration) if done else float("nan")
        parts = [
            f"step {iteration:>{len(str(total))}}/{total}",
            f"loss {record['loss']:.4f}",
            f"lr {record['lr']:.3e}",
            f"grad norm {record['grad_norm']:.3f}",
            f"{record['tokens_per_s']:,.0f} tok/s",
        ]
        if record.get("tflops_per_device") is not None:
            parts.append(f"{record['tflops_per_device']:.3g} TFLOP/s/dev")
        if record.get("mfu") is not None:
            parts.append(f"MFU {100 * record['mfu']:.1f}%")
        for key, value in (record.get("show") or {}).items():
            parts.append(f"{key} {value:.4g}")
        parts.append(f"{record['step_seconds']:.2f} s/step")
        if not math.isnan(eta):
            parts.append(f"ETA {_fmt_duration(eta)}")
        self.print(" | ".join(parts))
        row = {k: v for k, v in record.items() if k != "show"} | dict(record.get("show") or {})
        self._write({"kind": "train", "iteration": iteration, **row})
        if self.writer is not None:
            for key in ("loss", "lr", "grad_norm"):
                self.writer.add_scalar(f"train/{key}", record[key], iteration)
            for key, value in (record.get("show") or {}).items():
                self.writer.add_scalar(f"train/{key}", value, iteration)
            for key in ("tokens_per_s", "tflops_per_device", "mfu", "step_seconds"):
                if record.get(key) is not None:
                    self.writer.add_scalar(f"perf/{key}", record[key], iteration)

    def eval_step(self, iteration: int, result: float | dict) -> None:
        """A validation result: a language-model loss, or a dict of metrics with ``loss`` among them."""
        if not self.enabled:
            return
        values = result if isinstance(result, dict) else {"loss": result}
        if isinstance(result, dict):
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            self.print(f"eval at step {iteration}: {shown}")
        else:
            self.print(f"eval at step {iteration}: valid loss {result:.4f} (ppl {math.exp(min(result, 50)):.2f})")
        self._write({"kind": "eval", "iteration": iteration, **values})
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"eval/{key}", value, iteration)

    def event(self, kind: str, **fields) -> None:
        if self.enabled:
            self._write({"kind": kind, **fields})

    def _write(self, row: dict) -> None:
        self.jsonl.write(json.dumps(row) + "\n")
        self.jsonl.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.jsonl is not None:
            self.jsonl.close()


def read_metrics(path: str | Path, kind: str = "train") -> list[dict]:
    """The rows of one kind from a run's metrics.jsonl, in order."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("kind") == kind:
                rows.append(row)
    return rows
