"""The staged alignment recipe, M0 → M1 → M2 (EXAONE 3.5: SFT, then offline preference optimisation in stages),
and the entry point of each of its steps.

    python -m megatron_train.align --config moru.yaml --step sft|reward/rm1|M1 [--with-reference]

runs one step in one process of a run (under torchrun or srun, as megatron_train.train). ``moru align`` runs the
whole recipe (:func:`run_recipe`), each step under torchrun, skipping what is finished:

1. **M0 — SFT** from the pretrained checkpoint (megatron_train.sft).
2. **Reward models** ``rm1, rm2, ...`` from M0 (megatron_train.reward), each then scoring every pair of the
   blend (``WORKDIR/align/reward/rm<k>/scores.parquet``; ``on_scores`` appends them to the Delta table
   ``pair_scores``).
3. For each preference stage (M1 from M0, M2 from M1, ...): its shard of the train pairs (``shard: [k, n]``:
   items with index % n == k; default stage i of n), then the **agreement filter** — a pair is kept when every
   reward model prefers its chosen side by more than ``agreement.margin`` — written to the stage's
   ``pairs_keep.npy``, the dropped share reported; then the stage trains (megatron_train.preference) with its
   reference log-probs computed first by the starting model.

Every checkpoint's ``moru_checkpoint.json`` records, besides the run's config, the step, the blend and its
SHA-256, the emitted run's manifest (Delta table versions of the post-training tables, tokenizer), the
checkpoint it started from and, for preference stages, the reward models and the kept share: the lineage from
Delta versions to the aligned model. ``WORKDIR/align/align_report.json`` sums the recipe up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from megatron_train.align_config import Plan, load_plan

REPORT = "align_report.json"


def lineage(plan: Plan, step: str) -> dict:
    """What a step trains on, for its checkpoints' markers."""
    from megatron_train.packed import blend_fingerprint, emit_manifest, read_blend

    cfg = plan.config(step)
    out: dict = {"align_step": step, "blend": cfg.data.blend, "init_from": cfg.checkpoint.init_from}
    try:
        out["blend_sha256"] = blend_fingerprint(cfg.data.blend)
        parts = read_blend(cfg.data.blend, "sft" if step == "sft" else "pairs").get("train") or []
        manifest = emit_manifest(parts[0]) if parts else None
    except (OSError, ValueError):
        manifest = None
    if manifest:
        out["posttrain_emit"] = {"run_id": manifest.get("run_id"), "inputs": manifest.get("inputs"),
                                 "tokenizer": manifest.get("tokenizer", {}).get("sha256"),
                                 "gate": (manifest.get("gate") or {}).get("checked")}  # fmt: skip
    selection = Path(cfg.output_dir) / "selection.json"
    if selection.is_file():
        out["selection"] = json.loads(selection.read_text(encoding="utf-8"))
    return out


def run_step(config_path: str, step: str, with_reference: bool = False, exit_after: int | None = None,
             console=None):  # fmt: skip
    """One step in this process (collective under torchrun)."""
    from megatron_train import preference, reward, sft

    plan = load_plan(config_path)
    cfg = plan.config(step)
    info = lineage(plan, step)
    if step == "sft":
        return sft.run(cfg, console=console, exit_after=exit_after, run_info=info)
    if step.startswith("reward/"):
        result = reward.run(cfg, plan.reward_options, console=console, exit_after=exit_after, run_info=info)
        if result.status == "finished":
            result.extra["scores"] = reward.score(cfg, plan.reward_options, scores_path(plan, step),
                                                  splits=("train", "valid", "test"), console=console)  # fmt: skip
        return result
    options, _ = plan.preference(step)
    return preference.run(cfg, options, console=console, exit_after=exit_after, run_info=info, stage=step,
                          config_path=config_path, with_reference=with_reference)  # fmt: skip


def scores_path(plan: Plan, step: str) -> Path:
    return Path(plan.output(step)) / "scores.parquet"


# --- the agreement filter -------------------------------------------------------------------------------------


def agreement(score_files: list[Path], n_train: int, shard: tuple[int, int], margin: float,
              enabled: bool = True) -> tuple[np.ndarray, dict]:  # fmt: skip
    """The train-pair indices of ``shard`` that every reward model prefers the chosen side of by more than
    ``margin``, and a summary (pairs in the shard, kept, dropped share, per-model agreement with the labels)."""
    import pyarrow.parquet as pq

    k, n = shard
    in_shard = np.arange(n_train)[np.arange(n_train) % n == k]
    keep = np.ones(len(in_shard), dtype=bool)
    per_model = {}
    for path in score_files:
        t = pq.read_table(path).to_pandas()
        t = t[t["split"] == "train"].sort_values("pair_index")
        if len(t) != n_train:
            raise ValueError(f"{path}: scores of {len(t)} train pairs, the blend has {n_train} (re-score)")
        margins = t["margin"].to_numpy()[in_shard]
        ok = margins > margin
        per_model[path.parent.name] = float(ok.mean()) if len(ok) else 0.0
        if enabled:
            keep &= ok
    kept = in_shard[keep]
    summary = {"shard": list(shard), "pairs": int(len(in_shard)), "kept": int(len(kept)),
               "dropped_share": float(1 - len(kept) / len(in_shard)) if len(in_shard) else 0.0,
               "margin": margin, "filter": enabled, "preferred_by": per_model}  # fmt: skip
    return kept, summary


# --- the recipe -----------------------------------------------------------------------------------------------


def align_command(config_path: str | Path, step: str, nproc: int, with_reference: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "megatron_train.align", "--config", str(Path(config_path).resolve()), "--step", step]  # fmt: skip
    return cmd + (["--with-reference"] if with_reference else [])


def finished(plan: Plan, step: str) -> bool:
    """The step trained to its ``train_iters`` (and, for a reward model, scored the pairs)."""
    from megatron_train import checkpoint

    cfg = plan.config(step)
    latest = checkpoint.find_latest(cfg.checkpoint_dir)
    done = latest is not None and checkpoint.read_marker(latest)["iteration"] >= cfg.train_iters
    if done and step.startswith("reward/"):  # trained but not scored (it died scoring): launching it scores
        return scores_path(plan, step).is_file()
    return done


def _scored_with(score_files: list[Path]) -> dict:
    """Which reward-model checkpoint scored each file (the ``pair_scores`` rows a stage's pairs were kept by)."""
    import pyarrow.parquet as pq

    from megatron_train import checkpoint

    out = {}
    for f in score_files:
        if f.is_file():
            meta = pq.read_schema(f).metadata or {}
            named = meta.get(b"moru_checkpoint")
            latest = checkpoint.find_latest(f.parent / "checkpoints")
            out[f.parent.name] = named.decode() if named else (str(latest) if latest else None)
    return out


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def run_recipe(config_path: str | Path, *, nproc: int = 1, echo: Callable[[str], None] = print,
               on_scores: Callable[[Path, str], dict] | None = None,
               steps: list[str] | None = None) -> dict:  # fmt: skip
    """Run the recipe (module docstring), skipping finished steps; returns the report (also written to
    ``WORKDIR/align/align_report.json``). Raises RuntimeError naming the step that failed."""
    plan = load_plan(config_path)
    wanted = steps or plan.steps()
    report: dict = {"config": str(config_path), "steps": {}, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = Path(plan.output(""))
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}  # fmt: skip

    def launch(step: str, with_reference: bool = False) -> dict:
        cmd = align_command(config_path, step, nproc, with_reference)
        echo(f"[bold]align {step}[/] [dim]{' '.join(cmd)}")
        started = time.time()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        result = _last_json(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError(f"align step {step} failed (exit {proc.returncode}); its output is above")
        result["seconds"] = round(time.time() - started, 1)
        return result

    for step in plan.steps():
        if step not in wanted:
            continue
        cfg = plan.config(step)
        entry: dict = {"output_dir": cfg.output_dir}
        if step in plan.stage_names:
            options, shard = plan.preference(step)
            from megatron_train.packed import PairSet, read_blend

            n_train = len(PairSet(read_blend(cfg.data.blend, "pairs")["train"]))
            files = [scores_path(plan, s) for s in plan.steps() if s.startswith("reward/")]
            missing = [str(f) for f in files if not f.is_file()]
            if missing and plan.align.agreement.enabled:
                raise RuntimeError(f"align {step}: reward-model scores missing ({', '.join(missing)}): run the reward "
                                   "steps first")  # fmt: skip
            kept, summary = agreement([f for f in files if f.is_file()], n_train, shard, plan.align.agreement.margin,
                                      plan.align.agreement.enabled)  # fmt: skip
            summary["reward_checkpoints"] = _scored_with(files)
            Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
            keep_file = Path(cfg.output_dir) / "pairs_keep.npy"
            if not finished(plan, step):
                np.save(keep_file, kept)
                (Path(cfg.output_dir) / "selection.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
            entry["agreement"] = summary
            entry["loss"] = options.loss
            entry["beta"] = options.beta_value
            echo(f"{step}: shard {shard[0]}/{shard[1]}: {summary['pairs']} pairs, both reward models agree on "
                 f"{summary['kept']} (dropped {100 * summary['dropped_share']:.1f}%)")  # fmt: skip
        if finished(plan, step):
            echo(f"align {step}: finished already ({cfg.checkpoint_dir})")
            entry["skipped"] = True
        else:
            entry.update(launch(step, with_reference=step in plan.stage_names))
        if step.startswith("reward/") and scores_path(plan, step).is_file() and on_scores is not None:
            entry["pair_scores"] = on_scores(scores_path(plan, step), step.removeprefix("reward/"))
        entry["metrics"] = _metrics_summary(Path(cfg.output_dir) / "metrics.jsonl")
        report["steps"][step] = entry
        (out / REPORT).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (out / REPORT).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return report


def _metrics_summary(path: Path) -> dict:
    from megatron_train.metrics import read_metrics

    if not path.is_file():
        return {}
    train = {r["iteration"]: r for r in read_metrics(path, "train")}
    evals = {r["iteration"]: r for r in read_metrics(path, "eval")}
    rows = [train[k] for k in sorted(train)]
    keys = ("loss", "accuracy", "margin", "reward_chosen", "reward_rejected")
    return {
        "steps": len(rows),
        "train": {k: [r.get(k) for r in rows] for k in keys if any(k in r for r in rows)},
        "eval": [evals[k] for k in sorted(evals)],
    }


def main(argv: list[str] | None = None) -> int:
    from megatron_train import checkpoint
    from megatron_train.config import TrainConfigError
    from megatron_train.data import DataError
    from megatron_train.engine import EXIT_CONFIG
    from megatron_train.packed import PackedDataError

    parser = argparse.ArgumentParser(prog="python -m megatron_train.align", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-c", required=True)
    parser.add_argument("--step", required=True, help="sft | reward/rm<k> | a preference stage's name")
    parser.add_argument(
        "--with-reference",
        action="store_true",
        help="preference stage: compute and store the reference log-probs first if missing",
    )
    parser.add_argument("--exit-after", type=int, default=None, metavar="N")
    args = parser.parse_args(argv)
    console = None
    try:
        from rich.console import Console

        console = Console(highlight=False)
    except ImportError:  # pragma: no cover
        pass
    try:
        result = run_step(args.config, args.step, args.with_reference, args.exit_after, console)
    except (TrainConfigError, DataError, PackedDataError, checkpoint.CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0:
        print(json.dumps({"status": result.status, "iteration": result.iteration, "checkpoint": result.checkpoint,
                          **result.extra}, default=str))  # fmt: skip
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
