"""The alignment recipe's numbers for people: one row per step of ``WORKDIR/align/align_report.json``
(megatron_train.align.run_recipe's report) for the CLI's summary table and the run report, and the report's
alignment section with its PNG charts (SFT loss per step; each preference stage's reward margin and pair accuracy
per step; the agreement filter's kept share per stage)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STAGE_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
MODEL_COLORS = ("#c6d4ea", "#f3d9c4", "#cfe6cf", "#e8c9cb")  # light: each reward model alone


def step_kind(step: str) -> str:
    return "sft" if step == "sft" else "reward" if step.startswith("reward/") else "preference"


def _last(values: list | None):
    values = [v for v in (values or []) if v is not None]
    return values[-1] if values else None


def _finite(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def step_rows(report: dict) -> list[dict]:
    """Per step of an align report: kind, status (``finished`` this run, ``skipped`` when an earlier run finished it,
    or the step's own status), seconds, steps logged, first and final training loss, final training accuracy and margin
    (reward models and preference stages), the held-out numbers (SFT: valid loss; reward models: pair accuracy;
    preference stages: accuracy and margin), and for preference stages the agreement filter's pairs, kept pairs
    and kept share."""
    rows = []
    for step, entry in (report.get("steps") or {}).items():
        kind = step_kind(step)
        metrics = entry.get("metrics") or {}
        train = metrics.get("train") or {}
        losses = [v for v in train.get("loss") or [] if v is not None]
        evals = metrics.get("eval") or []
        last_eval = evals[-1] if evals else {}
        status = entry.get("status") or ("skipped" if entry.get("skipped") else "not run")
        row = {
            "step": step, "kind": kind, "status": status, "seconds": entry.get("seconds"),
            "steps": metrics.get("steps", 0), "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None, "accuracy": _last(train.get("accuracy")),
            "margin": _last(train.get("margin")), "held_out_loss": None, "held_out_accuracy": None,
            "held_out_margin": None, "pairs": None, "kept": None, "kept_share": None,
        }  # fmt: skip
        if kind == "sft":
            row["held_out_loss"] = last_eval.get("loss")
        elif kind == "reward":
            held = entry.get("held_out") or last_eval
            row["held_out_accuracy"] = held.get("accuracy")
            row["held_out_loss"] = held.get("loss")
        else:
            row["held_out_accuracy"] = last_eval.get("accuracy")
            row["held_out_margin"] = last_eval.get("margin")
            agreement = entry.get("agreement") or {}
            if agreement.get("pairs"):
                row.update(pairs=agreement["pairs"], kept=agreement["kept"],
                           kept_share=agreement["kept"] / agreement["pairs"])  # fmt: skip
        rows.append(row)
    return rows


def fmt(x, spec: str = ".4f") -> str:
    return format(x, spec) if _finite(x) else "-"


def held_out_text(row: dict, short: bool = False) -> str:
    """SFT: the valid loss; reward models: pair accuracy; preference stages: accuracy and margin (not ``short``)."""
    if row["kind"] == "sft":
        return f"loss {fmt(row['held_out_loss'], '.3f')}" if _finite(row["held_out_loss"]) else "-"
    if not _finite(row["held_out_accuracy"]):
        return "-"
    text = f"acc {fmt(row['held_out_accuracy'], '.3f')}"
    if row["kind"] == "preference" and not short and _finite(row["held_out_margin"]):
        text += f", margin {fmt(row['held_out_margin'])}"
    return text


def kept_text(row: dict, short: bool = False) -> str:
    if row["kept_share"] is None:
        return "-"
    if short:
        return f"{row['kept']:,}/{row['pairs']:,} {100 * row['kept_share']:.0f}%"
    return f"{row['kept']:,} of {row['pairs']:,} ({100 * row['kept_share']:.1f}%)"


# --- charts ----------------------------------------------------------------------------------------------------


def _png(fig, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> bytes:
    import io

    buf = io.BytesIO()
    fig.tight_layout(rect=rect)
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _series(entry: dict, key: str) -> tuple[list[int], list[float]]:
    values = ((entry.get("metrics") or {}).get("train") or {}).get(key) or []
    points = [(i + 1, v) for i, v in enumerate(values) if _finite(v)]
    return [p[0] for p in points], [p[1] for p in points]


def sft_loss_chart(entry: dict) -> bytes:
    """SFT (M0): training loss per step (mean over supervised tokens) and the valid loss at each evaluation."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    x, y = _series(entry, "loss")
    ax.plot(x, y, color=STAGE_COLORS[0], marker="." if len(x) <= 60 else None, label="train (supervised tokens)")
    evals = [e for e in (entry.get("metrics") or {}).get("eval") or [] if _finite(e.get("loss"))]
    if evals:
        ax.plot([e["iteration"] for e in evals], [e["loss"] for e in evals], "o--", color=STAGE_COLORS[1],
                label="valid")  # fmt: skip
    ax.set_title("SFT (M0): loss per step")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per supervised token")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def _evals(entry: dict, key: str) -> tuple[list[int], list[float]]:
    rows = [e for e in (entry.get("metrics") or {}).get("eval") or [] if _finite(e.get(key))]
    return [e["iteration"] for e in rows], [e[key] for e in rows]


def preference_chart(stages: dict[str, dict]) -> bytes:
    """Each preference stage (one colour each): loss, reward margin (chosen − rejected implicit reward) and pair
    accuracy (share of the step's pairs whose chosen reward is higher) per step; the held-out values at each
    evaluation as open circles."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    for i, (name, entry) in enumerate(stages.items()):
        color = STAGE_COLORS[i % len(STAGE_COLORS)]
        loss = entry.get("loss", "")
        label = f"{name} ({loss}, β {entry['beta']:g})" if "beta" in entry else name
        for ax, key in zip(axes, ("loss", "margin", "accuracy"), strict=True):
            x, y = _series(entry, key)
            ax.plot(x, y, color=color, lw=1.2, marker="." if len(x) <= 60 else None, label=label)
            ex, ey = _evals(entry, key)
            if ex:
                ax.plot(ex, ey, "o--", color=color, mfc="white", lw=0.8, label=f"{name} held out")
    axes[0].axhline(math.log(2), color="#888", lw=0.8, ls=":", label="ln 2 (policy = reference)")
    axes[1].axhline(0, color="#888", lw=0.8, ls=":")
    axes[2].axhline(0.5, color="#888", lw=0.8, ls=":")
    axes[2].set_ylim(-0.05, 1.05)
    for ax, title, ylabel in zip(axes, ("loss", "reward margin", "pair accuracy"),
                                 ("loss", "chosen − rejected reward", "share of pairs"), strict=True):  # fmt: skip
        ax.set_title(f"Preference stages: {title}")
        ax.set_xlabel("step (within its stage)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    return _png(fig, rect=(0, 0.08, 1, 1))


def agreement_chart(rows: list[dict], stages: dict[str, dict]) -> bytes:
    """The agreement filter per stage: the share of the stage's shard of train pairs each reward model prefers the
    chosen side of (light bars) and the share both do — the pairs kept (dark bar, labelled kept / pairs)."""
    rows = [r for r in rows if r["kept_share"] is not None]
    models = sorted({m for r in rows for m in ((stages.get(r["step"]) or {}).get("agreement") or {})
                     .get("preferred_by", {})})  # fmt: skip
    width = 0.8 / (len(models) + 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.2 * len(rows) + 2), 3.4))
    for i, r in enumerate(rows):
        preferred = ((stages.get(r["step"]) or {}).get("agreement") or {}).get("preferred_by", {})
        for k, m in enumerate(models):
            x = i - 0.4 + width * (k + 0.5)
            share = preferred.get(m)
            if share is None:
                continue
            ax.bar(x, share, width * 0.9, color=MODEL_COLORS[k % len(MODEL_COLORS)], edgecolor="#777",
                   label=f"{m} prefers chosen" if i == 0 else None)  # fmt: skip
            ax.text(x, share + 0.02, f"{100 * share:.0f}%", ha="center", va="bottom", fontsize=8, color="#555")
        x = i - 0.4 + width * (len(models) + 0.5)
        ax.bar(x, r["kept_share"], width * 0.9, color="#4c72b0", label="all agree: kept" if i == 0 else None)
        ax.text(x, r["kept_share"] + 0.02, f"{r['kept']:,} / {r['pairs']:,}\n{100 * r['kept_share']:.0f}%",
                ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_xticks(range(len(rows)), [r["step"] for r in rows])
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylabel("share of the stage's pairs")
    ax.set_title("Agreement filter: pairs the reward models prefer the chosen side of")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", ncol=len(models) + 1, frameon=False)
    return _png(fig)


# --- the report section ----------------------------------------------------------------------------------------


def alignment_section(report: dict, files: dict[str, bytes], table: Callable[[list[str], list[list]], str]) -> str:
    """The run report's alignment section: the steps' table, the charts (added to ``files``), where lineage is."""
    rows = step_rows(report)
    steps = report.get("steps") or {}
    source = html.escape(str(report.get("path", "align/align_report.json")))
    body = (
        "<h2>Alignment (M0 → M1 → M2)</h2>"
        f"<p>SFT, reward models with the agreement filter, then staged preference optimisation "
        f"(<code>moru align</code>); numbers from <code>{source}</code>. Every checkpoint's "
        "<code>moru_checkpoint.json</code> records the blend, its SHA-256, the emitted run's Delta table versions "
        "and the checkpoint it started from.</p>"
    )
    if report.get("seconds") is not None:
        body += f"<p>Wall time of the recipe: {fmt(report['seconds'], '.0f')} s.</p>"
    if report.get("error"):
        body += f"<p><b>Stopped:</b> {html.escape(str(report['error']))}</p>"
    body += table(
        ["step", "status", "seconds", "steps", "loss (first → last)", "accuracy", "margin", "held out",
         "kept by the agreement filter"],
        [[r["step"], r["status"], fmt(r["seconds"], ".1f"), r["steps"],
          f"{fmt(r['first_loss'])} → {fmt(r['final_loss'])}", fmt(r["accuracy"], ".3f"), fmt(r["margin"]),
          held_out_text(r), kept_text(r)] for r in rows],
    )  # fmt: skip
    if "sft" in steps and _series(steps["sft"], "loss")[0]:
        files["align_sft_loss.png"] = sft_loss_chart(steps["sft"])
        body += '<img src="align_sft_loss.png" alt="SFT loss per step">'
    stages = {r["step"]: steps[r["step"]] for r in rows if r["kind"] == "preference"}
    if any(_series(e, "loss")[0] for e in stages.values()):
        files["align_preference.png"] = preference_chart(stages)
        body += '<img src="align_preference.png" alt="preference stages: loss, reward margin and accuracy per step">'
    if any(r["kept_share"] is not None for r in rows):
        files["align_agreement.png"] = agreement_chart(rows, steps)
        body += '<img src="align_agreement.png" alt="agreement filter: kept share per stage">'
    scored = [e["pair_scores"] for e in steps.values() if isinstance(e.get("pair_scores"), dict)]
    if scored:
        body += "<h3>Reward models' scores (Delta table pair_scores)</h3>" + table(
            ["reward model", "checkpoint", "rows", "per split", "table version"],
            [[s["reward_model"], s["checkpoint"], s["rows_written"],
              ", ".join(f"{k} {v:,}" for k, v in s.get("by_split", {}).items()), s["version"]] for s in scored],
        )  # fmt: skip
    return body
