"""``moru align``: the staged alignment recipe (megatron_train.align.run_recipe: SFT → reward models → agreement
filter → preference stages M1, M2, ...), with what only the CLI puts around it:

- **preflight** (:func:`preflight_problems`): the ``align`` section is valid, the steps asked for exist, the
  pretrained checkpoint SFT starts from and the post-training emit's blends are there — each problem names the file
  and the command that makes it, before anything starts;
- **pair_scores**: each reward model's scores file goes into the Delta table ``pair_scores``
  (spark_jobs.posttrain.scores) on the one Spark session the command builds on first use;
- **a summary table** at the end (eval.alignment.step_rows).

The demo runs the same through the callback the CLI hands it (demo.app.run_demo's ``run_align``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _complete_checkpoint(path: str) -> bool:
    """``path`` is a complete checkpoint, or a checkpoint root holding one."""
    from megatron_train import checkpoint

    return (Path(path) / checkpoint.MARKER).is_file() or checkpoint.find_latest(path) is not None


def preflight_problems(config_path: Path, steps: Sequence[str] | None = None) -> tuple[Any, list[str]]:
    """``(plan, problems)``: the align plan of ``config_path`` (None when the section is invalid) and one message
    per problem that would stop the recipe — each naming the file and the command that makes it."""
    from megatron_train.align import finished
    from megatron_train.align_config import load_plan
    from megatron_train.config import TrainConfigError

    try:
        plan = load_plan(config_path)
    except TrainConfigError as exc:
        return None, [str(exc)]
    problems: list[str] = []
    known = plan.steps()
    unknown = [s for s in steps or [] if s not in known]
    if unknown:
        return plan, [f"--step {', '.join(unknown)}: not a step of this recipe (steps: {', '.join(known)})"]
    wanted = list(steps or known)
    config = str(config_path)
    sft_pending = "sft" in wanted and not finished(plan, "sft")
    if sft_pending:
        init = plan.init_from("sft")
        if not _complete_checkpoint(init):
            how = (
                f"set align.init_from to a complete checkpoint (it names {init})"
                if plan.align.init_from
                else f"train it with: moru train --config {config}"
            )
            problems.append(f"the pretrained checkpoint SFT starts from is missing: no complete checkpoint under "
                            f"{init}; {how}")  # fmt: skip
        blend = plan.blend("sft")
        if not Path(blend).is_file():
            problems.append(f"the SFT blend is missing: {blend}; emit it with: moru posttrain emit --config {config}")
    elif "sft" not in wanted and not finished(plan, "sft"):
        problems.append(f"the steps asked for start from M0 (SFT), which has not finished under "
                        f"{plan.config('sft').checkpoint_dir}; run it with: moru align --config {config} "
                        "--step sft")  # fmt: skip
    if any(s != "sft" for s in wanted):
        blend = plan.blend("pairs")
        if not Path(blend).is_file():
            problems.append(f"the preference-pair blend is missing: {blend}; emit it with: "
                            f"moru posttrain emit --config {config}")  # fmt: skip
    return plan, problems


def run_align(config_path: Path, workdir: str, *, console: Console, spark: Callable[[], Any],
              steps: Sequence[str] | None = None, nproc: int | None = None) -> dict:  # fmt: skip
    """Run the recipe (steps already finished are skipped), each reward model's scores written to ``pair_scores``
    on ``spark()`` (called on first use), then print the summary table; returns the recipe's report. Raises
    RuntimeError naming the step that failed (the caller has run :func:`preflight_problems`)."""
    from megatron_train import checkpoint
    from megatron_train.align import run_recipe
    from megatron_train.align_config import load_plan
    from megatron_train.launch import default_nproc
    from spark_jobs.posttrain.scores import write_pair_scores

    plan = load_plan(config_path)
    n = nproc or default_nproc(plan.config(plan.steps()[0]))

    def on_scores(path: Path, reward_model: str) -> dict:
        latest = checkpoint.find_latest(plan.config(f"reward/{reward_model}").checkpoint_dir)
        session = spark()  # its own "starting Spark" status first: rich shows one at a time
        with console.status(f"pair_scores: writing {reward_model}'s scores"):
            counts = write_pair_scores(session, workdir, path, reward_model, str(latest or path.parent))
        splits = ", ".join(f"{k} {v:,}" for k, v in counts["by_split"].items())
        console.print(f"pair_scores v{counts['version']}: {counts['rows_written']:,} rows of {reward_model} ({splits}; "
                      f"{counts['rows_replaced']:,} rows of an earlier write replaced)")  # fmt: skip
        return counts

    report = run_recipe(config_path, nproc=n, echo=console.print, on_scores=on_scores,
                        steps=list(steps) if steps else None)  # fmt: skip
    report["path"] = str(Path(plan.output("")) / "align_report.json")
    print_summary(console, report)
    return report


def print_summary(console: Console, report: dict) -> None:
    """One row per step: status, seconds, final loss, accuracy and margin (last step), the held-out number, the
    agreement filter's kept share."""
    from rich import box

    from eval.alignment import fmt, held_out_text, kept_text, step_rows

    table = Table(title="moru align: steps", box=box.SIMPLE_HEAD, pad_edge=False)  # fits 80 columns
    for col in ("step", "status", "s", "loss", "acc", "margin", "held out", "kept"):
        table.add_column(col, justify="left" if col in ("step", "status", "held out") else "right", no_wrap=True)
    for r in step_rows(report):
        table.add_row(r["step"], r["status"], fmt(r["seconds"], ".0f"), fmt(r["final_loss"], ".3f"),
                      fmt(r["accuracy"], ".3f"), fmt(r["margin"], ".3f"), held_out_text(r, short=True),
                      kept_text(r, short=True))  # fmt: skip
    console.print(table)
    console.print("[dim]s: wall seconds; loss, acc (pair accuracy), margin: the last step's; held out: valid loss "
                  "(SFT), pair accuracy (reward models, preference stages); kept: the stage's pairs both reward "
                  "models prefer (agreement filter)")  # fmt: skip
    if report.get("path"):
        console.print(f"report: {escape(report['path'])} (each step's metrics.jsonl, loss.png and checkpoints "
                      "beside it; lineage in every checkpoint's moru_checkpoint.json)")  # fmt: skip
