"""The loss curve of a run (train and valid loss per step) as a PNG, from its metrics.jsonl."""

from __future__ import annotations

from pathlib import Path

from megatron_train.metrics import read_metrics


def plot_loss(metrics_path: str | Path, png_path: str | Path, title: str = "loss") -> Path | None:
    """Write the PNG; None when the run logged no training step yet."""
    train = read_metrics(metrics_path, "train")
    if not train:
        return None
    valid = read_metrics(metrics_path, "eval")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a resumed run appends: keep the last value logged for each step
    by_step = {r["iteration"]: r["loss"] for r in train}
    steps = sorted(by_step)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot(steps, [by_step[s] for s in steps], label="train", linewidth=1.2)
    if valid:
        v = {r["iteration"]: r["loss"] for r in valid}
        ax.plot(sorted(v), [v[s] for s in sorted(v)], "o-", label="valid", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
