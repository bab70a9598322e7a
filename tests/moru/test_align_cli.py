"""`moru align`: the command's wiring and its preflight, without training (tests/megatron_train/test_align.py trains
the recipe): an invalid align section, an unknown step, a missing pretrained checkpoint or emitted blend each stop
with exit code 2 and a message naming the file and the command that makes it; with everything in place the recipe
runs with the steps and process count asked for, each reward model's scores land in the Delta table pair_scores on
one Spark session, and the summary table is printed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from moru.cli import app

runner = CliRunner()


def _config(tmp_path: Path, align: str = "") -> Path:
    path = tmp_path / "moru.yaml"
    path.write_text(f"workdir: wd\ntrain: {{model: tiny, precision: fp32}}\n{align}", encoding="utf-8")
    return path


def _flat(result) -> str:
    return " ".join(result.output.split())


def _has(result, needle: str) -> bool:
    """``needle`` in the output, whitespace ignored (rich folds long paths at the console's width)."""
    return "".join(needle.split()) in "".join(result.output.split())


def _pretrained(wd: Path) -> Path:
    """A complete-looking checkpoint under WORKDIR/train/pretrain/checkpoints (what the preflight looks for)."""
    ckpt = wd / "train" / "pretrain" / "checkpoints" / "iter_0000010"
    ckpt.mkdir(parents=True)
    (ckpt / "moru_checkpoint.json").write_text(json.dumps({"iteration": 10}), encoding="utf-8")
    (ckpt.parent / "latest").write_text("10", encoding="utf-8")
    return ckpt


def _blends(wd: Path, kinds=("sft", "pairs")) -> None:
    out = wd / "posttrain_emit"
    out.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        (out / f"{kind}_blend.json").write_text("{}", encoding="utf-8")


def test_align_is_a_command_with_its_options():
    result = runner.invoke(app, ["align", "--help"])
    assert result.exit_code == 0
    text = _flat(result)
    for option in ("--config", "--step", "--nproc"):
        assert option in text
    assert "align" in _flat(runner.invoke(app, ["--help"]))


@pytest.mark.parametrize(
    ("align", "needle"),
    [
        ("align: {stages: []}\n", "stages: at least one preference stage"),
        ("align: {stages: [{name: M1}, {name: M1}]}\n", "each needs a unique name"),
        ("align: {reward: {models: 0}}\n", "align.reward: models"),
        ("align: {preference: {loss: orpo}}\n", "loss"),
        ("align: {sft: {global_batch_size: 3, micro_batch_size: 2}}\n", "align sft (merged over train)"),
        ("align: {bogus: 1}\n", "align.bogus: unknown key"),
    ],
)
def test_an_invalid_align_section_exits_2_naming_it(tmp_path, align, needle):
    result = runner.invoke(app, ["align", "--config", str(_config(tmp_path, align))])
    assert result.exit_code == 2, result.output
    assert needle in _flat(result)
    assert "Traceback" not in result.output


def test_missing_pretrained_checkpoint_and_blends_name_the_file_and_the_command(tmp_path):
    cfg = _config(tmp_path)
    wd = tmp_path / "wd"
    result = runner.invoke(app, ["align", "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert _has(result, f"no complete checkpoint under {wd / 'train' / 'pretrain' / 'checkpoints'}")
    assert _has(result, f"train it with: moru train --config {cfg}")
    assert _has(result, f"the SFT blend is missing: {wd / 'posttrain_emit' / 'sft_blend.json'}")
    assert _has(result, f"the preference-pair blend is missing: {wd / 'posttrain_emit' / 'pairs_blend.json'}")
    assert _has(result, f"emit it with: moru posttrain emit --config {cfg}")

    _pretrained(wd)
    _blends(wd, kinds=("sft",))
    result = runner.invoke(app, ["align", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "checkpoint" not in _flat(result) and "SFT blend" not in _flat(result)
    assert _has(result, f"the preference-pair blend is missing: {wd / 'posttrain_emit' / 'pairs_blend.json'}")
    # SFT alone needs no pairs
    from moru.align import preflight_problems

    plan, problems = preflight_problems(cfg, ["sft"])
    assert problems == [] and plan.steps() == ["sft", "reward/rm1", "reward/rm2", "M1", "M2"]


def test_align_init_from_is_named_when_it_holds_no_checkpoint(tmp_path):
    cfg = _config(tmp_path, "align: {init_from: elsewhere/ckpts}\n")
    _blends(tmp_path / "wd")
    result = runner.invoke(app, ["align", "--config", str(cfg)])
    assert result.exit_code == 2
    assert _has(result, f"no complete checkpoint under {tmp_path / 'elsewhere' / 'ckpts'}")
    assert "set align.init_from to a complete checkpoint" in _flat(result)


def test_unknown_steps_and_steps_before_sft_exit_2(tmp_path):
    cfg = _config(tmp_path)
    wd = tmp_path / "wd"
    _pretrained(wd)
    _blends(wd)
    result = runner.invoke(app, ["align", "--config", str(cfg), "--step", "M3"])
    assert result.exit_code == 2
    assert "--step M3: not a step of this recipe (steps: sft, reward/rm1, reward/rm2, M1, M2)" in _flat(result)
    result = runner.invoke(app, ["align", "--config", str(cfg), "--step", "M1"])
    assert result.exit_code == 2
    assert _has(result, f"run it with: moru align --config {cfg} --step sft")


def _fake_report(steps: list[str]) -> dict:
    def metrics(loss, **extra):
        return {"steps": len(loss), "train": {"loss": loss, **extra}, "eval": []}

    out = {}
    for step in steps:
        if step == "sft":
            out[step] = {"status": "finished", "seconds": 12.5, "metrics": metrics([4.0, 3.5, 3.0])}
        elif step.startswith("reward/"):
            out[step] = {"status": "finished", "seconds": 8.0, "held_out": {"accuracy": 0.75, "loss": 0.6},
                         "metrics": metrics([0.69, 0.6], accuracy=[0.5, 0.75], margin=[0.0, 0.2])}  # fmt: skip
        else:
            out[step] = {"skipped": True, "loss": "dpo", "beta": 0.1,
                         "agreement": {"pairs": 10, "kept": 6, "preferred_by": {"rm1": 0.8, "rm2": 0.7}},
                         "metrics": metrics([math.log(2), 0.5], accuracy=[0.0, 1.0], margin=[0.0, 0.4])}  # fmt: skip
    return {"steps": out}


def test_align_runs_the_recipe_and_writes_pair_scores(spark, tmp_path, monkeypatch):
    """The recipe itself is faked (training is tests/megatron_train's): the command hands it the config, the steps,
    --nproc and an on_scores that writes pair_scores on the one Spark session; the summary table follows."""
    import megatron_train.align as align_mod
    from spark_jobs import tables

    cfg = _config(tmp_path)
    wd = tmp_path / "wd"
    _pretrained(wd)
    _blends(wd)
    scores = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"doc_id": ["a", "b", "c"], "pair_index": [0, 1, 0], "split": ["train", "train", "test"],
                             "chosen_score": [1.0, 0.5, 0.2], "rejected_score": [0.0, 0.7, 0.1],
                             "margin": [1.0, -0.2, 0.1]}), scores)  # fmt: skip
    calls = {}

    def fake_recipe(config_path, *, nproc, echo, on_scores, steps):
        calls.update(config=str(config_path), nproc=nproc, steps=steps)
        echo("[bold]align reward/rm1[/] (fake)")
        report = _fake_report(["sft", "reward/rm1", "reward/rm2", "M1", "M2"])
        for rm in ("rm1", "rm2"):
            report["steps"][f"reward/{rm}"]["pair_scores"] = on_scores(scores, rm)
        return report

    monkeypatch.setattr(align_mod, "run_recipe", fake_recipe)
    result = runner.invoke(app, ["align", "--config", str(cfg), "--nproc", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert calls == {"config": str(cfg), "nproc": 3, "steps": None}
    text = _flat(result)
    assert "pair_scores v1: 3 rows of rm1 (test 1, train 2; 0 rows of an earlier write replaced)" in text
    assert "pair_scores v2: 3 rows of rm2" in text
    rows = tables.read(spark, str(wd), tables.PAIR_SCORES)
    assert rows.count() == 6
    assert {r["reward_model"] for r in rows.select("reward_model").collect()} == {"rm1", "rm2"}
    # the summary table: a row per step with its status, seconds, loss and the agreement filter's kept share
    assert "moru align: steps" in text
    assert "sft finished 12 3.000" in text
    assert "reward/rm1 finished 8 0.600 0.750 0.200 acc 0.750" in text
    assert "M1 skipped - 0.500 1.000 0.400 - 6/10 60%" in text
    assert _has(result, f"report: {wd / 'align' / 'align_report.json'}")

    # again, only some steps: they are handed on; the same scores replace their rows (no duplicates)
    result = runner.invoke(app, ["align", "--config", str(cfg), "--step", "sft", "--step", "reward/rm1"])
    assert result.exit_code == 0, result.output
    assert calls["steps"] == ["sft", "reward/rm1"] and calls["nproc"] >= 1
    assert "3 rows of an earlier write replaced" in _flat(result)
    assert tables.read(spark, str(wd), tables.PAIR_SCORES).count() == 6


def test_a_failed_step_exits_1_with_its_message(tmp_path, monkeypatch):
    import megatron_train.align as align_mod

    cfg = _config(tmp_path)
    _pretrained(tmp_path / "wd")
    _blends(tmp_path / "wd")

    def failing(config_path, **_):
        raise RuntimeError("align step reward/rm1 failed (exit 1); its output is above")

    monkeypatch.setattr(align_mod, "run_recipe", failing)
    result = runner.invoke(app, ["align", "--config", str(cfg)])
    assert result.exit_code == 1
    assert "error: align step reward/rm1 failed (exit 1)" in _flat(result)


def test_check_config_accepts_the_align_section(tmp_path):
    cfg = _config(tmp_path, "align:\n  sft: {train_iters: 5}\n  stages: [{name: M1, beta: 0.2}]\n")
    result = runner.invoke(app, ["check-config", "--config", str(cfg)])
    assert "align:" in result.output and "unknown key" not in result.output
