"""The demo's evaluation of its tiny model: the final checkpoint (the last preference stage; SFT or the pretrained
model when alignment is off or stopped before) exported to a Hugging Face folder (``moru export``'s export_hf,
float32: the tiny model's weights are fp32 and the export's logits are checked against megatron-core's), a small
slice of four benchmark tasks (two English, two Korean) over files in the tasks' real layouts made from the demo's
own content (demo.eval_data), a short needle-in-a-haystack grid on the corpus's Korean and English documents, and
the eval report written beside them and linked beside the checkpoint (``moru eval run`` / ``moru eval niah``'s
eval.harness.evaluate, eval.niah.run_niah, eval.model_report.report_for). All on the CPU.

The tiny model's scores are near chance (``CHANCE``): what is shown is that the path from checkpoint to linked report
works and is checked (demo.checks.evaluation_checks)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

EXPORT_DTYPE = "float32"
# two English and two Korean tasks; 10 examples each, 2 few-shot examples (the tiny model was trained on 256-token
# sequences, and aligned on 1,024); generations capped at 64 tokens
TASKS = ["gsm8k", "arc_challenge", "kmmlu", "kobest_copa"]
LIMIT = 10
NUM_FEWSHOT = 2
MAX_GEN_TOKS = 64
# accuracy of a random guess on the demo's files (gsm8k: an exact number, none)
CHANCE = {"gsm8k": 0.0, "arc_challenge": 0.25, "kmmlu": 0.25, "kobest_copa": 0.5}
NIAH_LENGTHS = [256, 512, 1024]
NIAH_DEPTHS = [0.0, 0.5, 1.0]


def final_checkpoint(config_path: Path, cfg: Any, aligned: bool) -> tuple[str, Path] | None:
    """(stage, checkpoint folder) of the newest complete checkpoint of the last step that has one: the preference
    stages from the last, then SFT (when the demo aligned), then the pretrained model; None when there is none."""
    from core import locations
    from megatron_train import checkpoint

    candidates: list[tuple[str, Path]] = []
    if aligned:
        from megatron_train.align_config import load_plan

        try:
            plan = load_plan(config_path)
            candidates += [(s, Path(plan.output(s)) / "checkpoints") for s in reversed(plan.stage_names)]
            candidates.append(("sft", Path(plan.output("sft")) / "checkpoints"))
        except ValueError:  # TrainConfigError: the alignment checks report it
            pass
    candidates.append(("pretrain", Path(locations.train_output(cfg.workdir, "pretrain")) / "checkpoints"))
    for stage, root in candidates:
        latest = checkpoint.find_latest(root)
        if latest is not None:
            return stage, Path(latest)
    return None


def evaluate_tiny_model(config_path: Path, cfg: Any, spark, bench_path: str, *, seed: int, aligned: bool,
                        console: Console) -> dict:  # fmt: skip
    """Export, score, NIAH and report (module docstring) under WORKDIR/export/<stage>, WORKDIR/eval_data and
    WORKDIR/eval; returns what the report and the checks read (``error`` when a step stopped)."""
    from core import locations

    workdir = Path(cfg.workdir)
    out = {"tasks": TASKS, "limit": LIMIT, "num_fewshot": NUM_FEWSHOT, "max_gen_toks": MAX_GEN_TOKS,
           "chance": CHANCE, "dtype": EXPORT_DTYPE, "eval_dir": str(workdir / "eval"), "seconds": {}}  # fmt: skip
    started = time.time()
    out["step"] = "export"
    try:
        found = final_checkpoint(config_path, cfg, aligned)
        if found is None:
            raise RuntimeError("no complete checkpoint to export (training failed)")
        stage, ckpt = found
        out.update(stage=stage, checkpoint=str(ckpt), export=str(workdir / "export" / stage))
        _run(out, spark, workdir, bench_path, seed, console)
        out["report_link"] = os.path.relpath(out["report"], locations.report(str(workdir)))
    except Exception as exc:  # noqa: BLE001 - a failed step is a failed check; the run report is still written
        out["error"] = f"{out['step']}: {type(exc).__name__}: {exc}"
        console.print(f"[red]evaluation stopped at {out['step']}: {exc}")
    out["seconds"]["total"] = round(time.time() - started, 1)
    return out


def _run(out: dict, spark, workdir: Path, bench_path: str, seed: int, console: Console) -> None:
    """The steps, each recording its name in ``out["step"]`` before it starts and its wall time after."""
    from rich.markup import escape

    from demo.eval_data import write_benchmark_files, write_haystacks
    from eval.harness import evaluate, scores_table
    from eval.model_report import report_for
    from eval.niah import run_niah
    from megatron_train.export import export_hf

    eval_dir, data_dir = workdir / "eval", workdir / "eval_data"
    for d in (eval_dir, data_dir, workdir / "export"):
        if d.exists():
            shutil.rmtree(d)  # outputs of this run only (the report reads whatever the folder holds)
    secs = out["seconds"]
    out["step"] = "export"
    t = time.time()
    console.print(f"[bold]exporting the {out['stage']} checkpoint[/] {escape(out['checkpoint'])} → "
                  f"{escape(out['export'])} ({EXPORT_DTYPE})")  # fmt: skip
    record = export_hf(out["checkpoint"], out["export"], dtype=EXPORT_DTYPE)
    out["max_position_embeddings"] = record["shape"]["max_position_embeddings"]
    secs["export"] = round(time.time() - t, 1)

    out["step"] = "benchmark files"
    t = time.time()
    out["data"] = write_benchmark_files(data_dir, bench_path, seed=seed)
    out["haystack_files"] = write_haystacks(spark, str(workdir), data_dir / "haystack")
    secs["data"] = round(time.time() - t, 1)

    out["step"] = "evaluate"
    t = time.time()
    console.print(f"[bold]scoring it on {', '.join(TASKS)}[/] ({LIMIT} examples each, {NUM_FEWSHOT}-shot; lm-eval on "
                  f"the files in {escape(str(data_dir))})")  # fmt: skip
    results = evaluate(out["export"], TASKS, str(data_dir), str(eval_dir), limit=LIMIT, num_fewshot=NUM_FEWSHOT,
                       batch_size=8, gen_kwargs={"max_gen_toks": MAX_GEN_TOKS})  # fmt: skip
    console.print(escape(scores_table(results)), highlight=False, soft_wrap=True)
    out["results_file"] = str(eval_dir / "eval_results.json")
    out["results"] = {task: {k: r.get(k) for k in ("language", "n", "num_fewshot", "metrics")}
                      for task, r in results["results"].items()}  # fmt: skip
    out["chat_template"] = results["chat_template"]
    out["warnings"] = [w.get("message") for w in results.get("warnings") or []]
    secs["evaluate"] = round(time.time() - t, 1)

    out["step"] = "niah"
    t = time.time()
    niah = run_niah(out["export"], str(eval_dir), lengths=NIAH_LENGTHS, depths=NIAH_DEPTHS,
                    haystack_files=out["haystack_files"], seed=seed)  # fmt: skip
    out["niah_file"] = str(eval_dir / "niah_results.json")
    out["niah"] = {k: niah[k] for k in ("lengths", "depths", "languages", "summary", "cells", "samples_per_cell")}
    out["niah"]["heatmaps"] = {lang: str(eval_dir / name) for lang, name in niah["heatmaps"].items()}
    secs["niah"] = round(time.time() - t, 1)

    out["step"] = "report"
    report, index = report_for(eval_dir, out["export"])
    out["report"], out["reports_index"] = str(report), None if index is None else str(index)
    console.print(
        f"[green]eval report[/] {escape(str(report))}"
        + (f" (linked in {escape(str(index))})" if index else " (not linked: no source checkpoint)")
    )
    out["step"] = "done"
