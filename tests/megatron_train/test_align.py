"""Alignment (megatron_train.align): SFT and DPO exact resume, DPO's ln 2 start, the checks that stop a run before
training, the non-finite stop, the agreement filter and the align config, and the whole recipe end to end — on
the tiny model and tiny post-training data written in emit's on-disk format (tests/megatron_train/align_data.py).

One tiny pretrained checkpoint is built per module (a few in-process steps on mock data); the steps run in this
process (``align.run_step``), except the recipe, which launches each step under torchrun as ``moru align`` does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from megatron_train import align, checkpoint
from megatron_train.align_config import load_plan
from megatron_train.config import TrainConfigError
from megatron_train.metrics import read_metrics
from megatron_train.packed import PackedDataError

from . import align_data
from .conftest import TINY, merged, tiny_train

# what every test's align section starts from: a few steps each, small batches
ALIGN = {
    "sft": {"train_iters": 6, "micro_batch_size": 2, "global_batch_size": 4, "eval": {"interval": 3},
            "schedule": {"warmup_iters": 1}},
    "reward": {"train_iters": 4, "micro_batch_size": 4, "global_batch_size": 8, "eval": {"interval": 4},
               "optimizer": {"lr": 3e-3, "min_lr": 3e-4}, "schedule": {"warmup_iters": 1}},
    "preference": {"train_iters": 4, "micro_batch_size": 2, "global_batch_size": 4, "eval": {"interval": 2},
                   "optimizer": {"lr": 1e-3, "min_lr": 1e-4}, "schedule": {"warmup_iters": 1}},
}  # fmt: skip


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> str:
    """The checkpoint root of a tiny model pretrained for 4 steps on mock data (in this process)."""
    from megatron_train import train

    cfg = tiny_train(tmp_path_factory.mktemp("pretrain"), "pretrain", train_iters=4)
    assert train.run(cfg).status == "finished"
    return cfg.checkpoint_dir


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A workdir with the tokenizer (WORKDIR/tokenizer/model) and the post-training emit output made with it."""
    work = tmp_path / "work"
    tok = align_data.write_tokenizer(work / "tokenizer" / "model")
    align_data.write_emit(work / "posttrain_emit", tokenizer=tok)
    return work


def write_config(path: Path, workdir: Path, pretrained: str | None, align_over: dict | None = None,
                 **train_over) -> str:  # fmt: skip
    section = merged(ALIGN, align_over or {})
    if pretrained is not None:
        section.setdefault("init_from", pretrained)
    body = {"workdir": str(workdir), "train": merged(TINY, train_over), "align": section}
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(path)


def train_rows(output_dir: str | Path, kind: str = "train") -> list[dict]:
    path = Path(output_dir) / "metrics.jsonl"
    return read_metrics(path, kind) if path.is_file() else []


def saved_tensors(path: str | Path) -> dict:
    """Every tensor of a checkpoint (weights and optimizer state), read in a one-rank megatron world."""
    from megatron.core import dist_checkpointing

    from megatron_train import cpu_compat, distributed
    from megatron_train.config import ParallelConfig

    with cpu_compat.enabled():
        _, created = distributed.init(ParallelConfig(), seed=1)
        try:
            state = dist_checkpointing.load_plain_tensors(str(path))
        finally:
            distributed.teardown(created)
    return {k: v for k, v in state.items() if hasattr(v, "shape")}


def assert_same_tensors(a: dict, b: dict) -> None:
    import torch

    assert sorted(a) == sorted(b)
    assert any(k.startswith("decoder.") for k in a) and any("exp_avg" in k for k in a)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ: {different[:5]}"


def _nothing_trained(output_dir: str | Path) -> None:
    assert train_rows(output_dir, "start") == [] and train_rows(output_dir) == []
    assert checkpoint.find_latest(Path(output_dir) / "checkpoints") is None


# --- 1. SFT exact resume -----------------------------------------------------------------------------------------


def test_sft_resume_is_exact(tmp_path, workdir, pretrained):
    straight = write_config(tmp_path / "straight.yaml", workdir, pretrained)
    paused = write_config(tmp_path / "paused.yaml", workdir, pretrained,
                          {"sft": {"output_dir": str(tmp_path / "paused_sft")}})  # fmt: skip
    a = align.run_step(straight, "sft")
    assert (a.status, a.iteration) == ("finished", 6)
    first = align.run_step(paused, "sft", exit_after=3)
    assert (first.status, first.iteration) == ("stopped", 3)
    assert Path(first.checkpoint).name == "iter_0000003"
    second = align.run_step(paused, "sft")
    assert (second.status, second.iteration) == ("finished", 6)

    out_a, out_b = workdir / "align" / "sft", tmp_path / "paused_sft"
    rows_a, rows_b = train_rows(out_a), train_rows(out_b)
    assert [r["iteration"] for r in rows_b] == [1, 2, 3, 4, 5, 6]
    assert [s["iteration"] for s in train_rows(out_b, "start")] == [0, 3]
    for key in ("loss", "grad_norm", "lr", "consumed_samples", "supervised_tokens"):
        assert [r[key] for r in rows_a] == [r[key] for r in rows_b], key
    assert [r["loss"] for r in train_rows(out_a, "eval")] == [r["loss"] for r in train_rows(out_b, "eval")]
    assert all(math.isfinite(r["loss"]) for r in rows_a) and rows_a[-1]["loss"] < rows_a[0]["loss"]
    assert_same_tensors(saved_tensors(a.checkpoint), saved_tensors(second.checkpoint))
    # it started from the pretrained model: its marker says so
    marker = checkpoint.read_marker(a.checkpoint)
    assert marker["align_step"] == "sft" and marker["init_from"] == pretrained


# --- 2. DPO: ln 2 at the start, exact resume ---------------------------------------------------------------------


def test_dpo_starts_at_ln2_and_resumes_exactly(tmp_path, workdir, pretrained):
    # two identical DPO stages from the same start (the pretrained model): A straight, B paused and resumed
    stages = [{"name": n, "checkpoint": {"init_from": pretrained}} for n in ("A", "B")]
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained, {"stages": stages})
    a = align.run_step(config, "A", with_reference=True)
    assert (a.status, a.iteration) == ("finished", 4)
    first = align.run_step(config, "B", with_reference=True, exit_after=2)
    assert (first.status, first.iteration) == ("stopped", 2)
    second = align.run_step(config, "B")  # the stored reference log-probs are read back
    assert (second.status, second.iteration) == ("finished", 4)

    out_a, out_b = workdir / "align" / "A", workdir / "align" / "B"
    meta = json.loads((out_a / "reference" / "reference.json").read_text())
    blend = workdir / "posttrain_emit" / "pairs_blend.json"
    assert meta["checkpoint"] == str(checkpoint.find_latest(pretrained))
    assert meta["blend_sha256"] == align_data.sha256(blend) and meta["pairs"] == {"train": 32, "valid": 8}
    with np.load(out_a / "reference" / "logps.npz") as ra, np.load(out_b / "reference" / "logps.npz") as rb:
        assert sorted(ra.files) == ["train", "valid"] and ra["train"].shape == (32, 4)
        assert np.array_equal(ra["train"], rb["train"]) and np.array_equal(ra["valid"], rb["valid"])
        # Σ log p < 0 over each response; the counts are the responses' supervised tokens (masks of all 1s)
        assert (ra["train"][:, :2] < 0).all()
        from megatron_train.packed import PairSet, read_blend

        pairs = PairSet(read_blend(blend, "pairs")["train"])
        assert ra["train"][:, 2].tolist() == [float(len(pairs[i]["chosen"])) for i in range(len(pairs))]
        assert ra["train"][:, 3].tolist() == [float(len(pairs[i]["rejected"])) for i in range(len(pairs))]

    rows_a, rows_b = train_rows(out_a), train_rows(out_b)
    # policy == reference at the first step: every log-ratio is 0, so the loss is -log σ(0) = ln 2 (up to the
    # float32 rounding of per-sequence sums packed with other neighbours than in the reference pass)
    assert rows_a[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert abs(rows_a[0]["reward_chosen"]) < 1e-5 and abs(rows_a[0]["reward_rejected"]) < 1e-5
    assert rows_a[-1]["loss"] < math.log(2) - 1e-3  # and then it moves
    assert [r["iteration"] for r in rows_b] == [1, 2, 3, 4]
    for key in ("loss", "grad_norm", "lr", "margin", "accuracy", "reward_chosen"):
        assert [r[key] for r in rows_a] == [r[key] for r in rows_b], key
    assert [r["loss"] for r in train_rows(out_a, "eval")] == [r["loss"] for r in train_rows(out_b, "eval")]
    assert_same_tensors(saved_tensors(a.checkpoint), saved_tensors(second.checkpoint))


# --- 3. bad input stops before training, naming the file and the fix ----------------------------------------------


def test_dpo_without_reference_logps_stops(tmp_path, workdir, pretrained, capsys):
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained,
                          {"stages": [{"name": "M1", "checkpoint": {"init_from": pretrained}}]})  # fmt: skip
    out = workdir / "align" / "M1"
    with pytest.raises(PackedDataError) as err:
        align.run_step(config, "M1")
    message = str(err.value)
    assert str(out / "reference") in message and "no precomputed reference log-probs" in message
    assert str(workdir / "posttrain_emit" / "pairs_blend.json") in message
    assert f"--config {config} --step M1 --with-reference" in message and "loss: simpo" in message
    _nothing_trained(out)
    # the step's command line: exit status 2 and the message
    assert align.main(["--config", config, "--step", "M1"]) == 2
    assert "error: " in capsys.readouterr().err
    _nothing_trained(out)
    # reference log-probs stored for another pair dataset: stale, the same stop
    (out / "reference").mkdir(parents=True)
    np.savez(out / "reference" / "logps.npz", train=np.zeros((32, 4)))
    (out / "reference" / "reference.json").write_text(json.dumps({"blend": "/elsewhere/pairs_blend.json",
                                                                  "blend_sha256": "0" * 64}))  # fmt: skip
    with pytest.raises(PackedDataError) as err:
        align.run_step(config, "M1")
    message = str(err.value)
    assert message.startswith(f"{out / 'reference' / 'reference.json'}: computed for another pair dataset")
    assert "/elsewhere/pairs_blend.json" in message and "--step M1 --with-reference" in message
    _nothing_trained(out)
    # stored for this blend but by another starting checkpoint (e.g. SFT retrained since): stale too
    from megatron_train.packed import blend_fingerprint

    blend = workdir / "posttrain_emit" / "pairs_blend.json"
    (out / "reference" / "reference.json").write_text(
        json.dumps(
            {"blend": str(blend), "blend_sha256": blend_fingerprint(blend), "checkpoint": "/old/sft/iter_0000001"}
        )
    )
    with pytest.raises(PackedDataError) as err:
        align.run_step(config, "M1")
    message = str(err.value)
    assert "computed with /old/sft/iter_0000001, but this stage starts from" in message
    assert str(checkpoint.find_latest(pretrained) or pretrained) in message and "--with-reference" in message
    _nothing_trained(out)


@pytest.mark.parametrize(
    "overrides, what",
    [({"num_layers": 3}, "num_layers 2 in the checkpoint vs 3 in the config"),
     ({"hidden_size": 96}, "hidden_size 64 in the checkpoint vs 96 in the config")],
)  # fmt: skip
def test_init_checkpoint_of_another_shape_stops(tmp_path, workdir, pretrained, overrides, what):
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained, model_overrides=overrides)
    with pytest.raises(checkpoint.CheckpointError) as err:
        align.run_step(config, "sft")
    message = str(err.value)
    assert str(checkpoint.find_latest(pretrained)) in message and what in message
    assert "set train.model / model_overrides to the checkpoint's shape" in message
    _nothing_trained(workdir / "align" / "sft")


def test_sft_data_without_supervised_tokens_stops(tmp_path, pretrained):
    work = tmp_path / "work"
    tok = align_data.write_tokenizer(work / "tokenizer" / "model")
    blends = align_data.write_emit(work / "posttrain_emit", tokenizer=tok, supervised=False)
    config = write_config(tmp_path / "moru.yaml", work, pretrained)
    with pytest.raises(PackedDataError) as err:
        align.run_step(config, "sft")
    message = str(err.value)
    assert message.startswith(f"{blends['sft']}: the train split has no supervised tokens")
    assert "loss_mask is 0 everywhere" in message and "posttrain.emit.supervise" in message
    _nothing_trained(work / "align" / "sft")


@pytest.mark.parametrize("change", ["chat_template", "tokenizer.json"])
def test_tokenizer_other_than_the_emissions_stops(tmp_path, workdir, pretrained, change):
    other = align_data.write_tokenizer(
        tmp_path / "other_tokenizer",
        chat_template=align_data.CHAT_TEMPLATE + "{{ eos }}" if change == "chat_template" else align_data.CHAT_TEMPLATE,
    )  # fmt: skip
    if change == "tokenizer.json":
        (other / "tokenizer.json").write_text((other / "tokenizer.json").read_text().replace("t511", "x511"))
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained, data={"mock": True, "tokenizer": str(other)})
    with pytest.raises(PackedDataError) as err:
        align.run_step(config, "sft")
    message = str(err.value)
    assert message.startswith(f"{other}: ")
    what = "its chat template" if change == "chat_template" else "tokenizer sha256"
    assert what in message and "differs from the one the data was emitted with" in message
    assert str(workdir / "tokenizer" / "model") in message  # the emission's tokenizer
    assert "train with the emission's tokenizer folder or re-emit the data with this one" in message
    _nothing_trained(workdir / "align" / "sft")


# --- 4. a non-finite loss stops the run -----------------------------------------------------------------------


def test_a_non_finite_loss_stops_with_a_message(tmp_path, workdir, pretrained, capsys):
    # Adam moves every weight by about lr per step: lr 1e20 overflows the logits on the second step
    over = {"sft": {"optimizer": {"lr": 1e20, "min_lr": 0.0}, "schedule": {"warmup_iters": 0}}}
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained, over)
    assert align.main(["--config", config, "--step", "sft"]) == 3
    printed = capsys.readouterr().out
    result = json.loads([line for line in printed.splitlines() if line.startswith("{")][-1])
    assert result["status"] == "nonfinite"
    out = workdir / "align" / "sft"
    saved = Path(result["checkpoint"])
    assert saved.parent == out / "checkpoints" and saved.name == f"nan_iter_{result['iteration'] + 1:07d}"
    assert checkpoint.read_marker(saved)["align_step"] == "sft"
    assert checkpoint.find_latest(out / "checkpoints") is None  # never resumed from
    assert "stopping before the update" in printed and "lower the learning rate" in printed
    assert str(saved) in " ".join(printed.split())  # the console may wrap the line
    event = train_rows(out, "nonfinite")[0]
    assert event["iteration"] == result["iteration"] + 1
    assert not (math.isfinite(float(event["loss"])) and math.isfinite(float(event["grad_norm"])))
    assert len(train_rows(out)) == result["iteration"]  # the failing step was not logged as a step


# --- 5. the agreement filter and the align config ----------------------------------------------------------------


def _scores(path: Path, margins: list[float], valid: list[float]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(margins)
    order = list(reversed(range(n)))  # not in pair order: the filter sorts
    rows = {"doc_id": [f"d{i}" for i in order] + [f"v{i}" for i in range(len(valid))],
            "pair_index": order + list(range(len(valid))), "split": ["train"] * n + ["valid"] * len(valid),
            "chosen_score": [1.0] * (n + len(valid)),
            "rejected_score": [1.0 - margins[i] for i in order] + [1.0 - m for m in valid]}  # fmt: skip
    rows["margin"] = [c - r for c, r in zip(rows["chosen_score"], rows["rejected_score"], strict=True)]
    pq.write_table(pa.table(rows), path)
    return path


def test_agreement_filter(tmp_path):
    rm1 = _scores(tmp_path / "rm1" / "scores.parquet", [1, -1, 2, 0.5, 0, 3, 1, 1, -2, 0.25], [-5, -5])
    rm2 = _scores(tmp_path / "rm2" / "scores.parquet", [0.5, 2, 1, -0.125, 1, 0.0625, 2, 1, 1, 0.375], [-5, -5])
    files = [rm1, rm2]

    kept, s = align.agreement(files, 10, (0, 2), 0.0)
    assert kept.tolist() == [0, 2, 6]  # pair 4: rm1's margin is 0, not > 0; pair 8: rm1 prefers rejected
    assert (s["shard"], s["pairs"], s["kept"], s["dropped_share"]) == ([0, 2], 5, 3, pytest.approx(0.4))
    assert s["preferred_by"] == {"rm1": pytest.approx(0.6), "rm2": pytest.approx(1.0)}
    kept, s = align.agreement(files, 10, (1, 2), 0.0)
    assert kept.tolist() == [5, 7, 9] and s["dropped_share"] == pytest.approx(0.4)
    kept, s = align.agreement(files, 10, (1, 2), 0.25)  # both above the margin: 0.25 itself is not
    assert kept.tolist() == [7] and s["dropped_share"] == pytest.approx(0.8) and s["margin"] == 0.25
    kept, _ = align.agreement(files, 10, (0, 1), 0.0)
    assert kept.tolist() == [0, 2, 5, 6, 7, 9]
    kept, _ = align.agreement([rm1], 10, (0, 1), 0.0)
    assert kept.tolist() == [0, 2, 3, 5, 6, 7, 9]
    kept, s = align.agreement(files, 10, (2, 3), 0.0, enabled=False)  # the shard only
    assert kept.tolist() == [2, 5, 8] and s["dropped_share"] == 0.0 and s["filter"] is False
    assert s["preferred_by"] == {"rm1": pytest.approx(2 / 3), "rm2": pytest.approx(1.0)}
    with pytest.raises(ValueError, match=r"rm2/scores.parquet: scores of 10 train pairs, the blend has 12 \(re-sc"):
        align.agreement([rm2], 12, (0, 1), 0.0)


def _plan(tmp_path: Path, align_section: dict | None, workdir: bool = True, **train_over):
    body = {"train": merged(TINY, train_over)}
    if workdir:
        body["workdir"] = str(tmp_path / "work")
    if align_section is not None:
        body["align"] = align_section
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return load_plan(path)


def test_align_config_defaults(tmp_path):
    plan = _plan(tmp_path, None, seed=7)
    work = tmp_path / "work"
    assert plan.steps() == ["sft", "reward/rm1", "reward/rm2", "M1", "M2"]
    ckpts = {s: plan.config(s).checkpoint.init_from for s in plan.steps()}
    assert ckpts == {"sft": str(work / "train" / "pretrain" / "checkpoints"),
                     "reward/rm1": str(work / "align" / "sft" / "checkpoints"),
                     "reward/rm2": str(work / "align" / "sft" / "checkpoints"),
                     "M1": str(work / "align" / "sft" / "checkpoints"),
                     "M2": str(work / "align" / "M1" / "checkpoints")}  # fmt: skip
    for step in plan.steps():
        cfg = plan.config(step)
        assert cfg.output_dir == str(work / "align" / step)
        assert cfg.checkpoint_dir == str(work / "align" / step / "checkpoints")
        kind = "sft" if step == "sft" else "pairs"
        assert cfg.data.blend == str(work / "posttrain_emit" / f"{kind}_blend.json") and not cfg.data.mock
        assert cfg.data.tokenizer == str(work / "tokenizer" / "model")
    # reward models differ in their seed only; the other steps keep the run's
    assert [plan.config(s).seed for s in plan.steps()] == [7, 7, 8, 7, 7]
    assert plan.config("reward/rm1").model_dump(exclude={"seed", "output_dir", "checkpoint"}) == plan.config(
        "reward/rm2").model_dump(exclude={"seed", "output_dir", "checkpoint"})  # fmt: skip
    for stage in ("M1", "M2"):
        options, _ = plan.preference(stage)
        assert (options.loss, options.beta_value) == ("dpo", 0.1)
    assert [plan.preference(s)[1] for s in ("M1", "M2")] == [(0, 2), (1, 2)]
    assert (plan.align.agreement.enabled, plan.align.agreement.margin) == (True, 0.0)
    assert plan.reward_options.models == 2
    with pytest.raises(ValueError, match="unknown align step 'M3'; steps: sft, reward/rm1, reward/rm2, M1, M2"):
        plan.config("M3")


def test_align_config_stages_and_overrides(tmp_path):
    section = {
        "init_from": "pre/checkpoints",  # relative to the config file
        "sft": {"train_iters": 11},
        "reward": {"models": 3, "global_batch_size": 8},
        "preference": {"loss": "ipo", "train_iters": 5},
        "stages": [{"name": "dpo", "loss": "dpo"}, {"name": "simpo", "loss": "simpo", "train_iters": 9},
                   {"name": "ipo", "beta": 0.3, "shard": [0, 1]}, {"name": "simpo2", "loss": "simpo", "beta": 2.0}],
    }  # fmt: skip
    plan = _plan(tmp_path, section)
    assert plan.steps() == ["sft", "reward/rm1", "reward/rm2", "reward/rm3", "dpo", "simpo", "ipo", "simpo2"]
    assert plan.config("sft").checkpoint.init_from == str(tmp_path / "pre" / "checkpoints")
    assert plan.config("sft").train_iters == 11 and plan.config("reward/rm1").train_iters == TINY["train_iters"]
    assert [plan.config(f"reward/rm{k}").seed for k in (1, 2, 3)] == [1234, 1235, 1236]
    assert plan.config("reward/rm3").global_batch_size == 8 and plan.config("sft").global_batch_size == 4
    assert [plan.config(s).train_iters for s in ("dpo", "simpo", "ipo", "simpo2")] == [5, 9, 5, 5]
    got = {s: (plan.preference(s)[0].loss, plan.preference(s)[0].beta_value, plan.preference(s)[1])
           for s in ("dpo", "simpo", "ipo", "simpo2")}  # fmt: skip
    assert got == {"dpo": ("dpo", 0.1, (0, 4)), "simpo": ("simpo", 2.5, (1, 4)), "ipo": ("ipo", 0.3, (0, 1)),
                   "simpo2": ("simpo", 2.0, (3, 4))}  # fmt: skip
    assert plan.config("simpo").checkpoint.init_from == str(tmp_path / "work" / "align" / "dpo" / "checkpoints")
    assert plan.config("simpo2").checkpoint.init_from == str(tmp_path / "work" / "align" / "ipo" / "checkpoints")


@pytest.mark.parametrize(
    "section, message",
    [
        ({"stages": [{"name": "M1", "shard": [2, 2]}]}, "align.stages[0].shard: [k, n] with 0 <= k < n (got [2, 2])"),
        ({"stages": [{"name": "M1"}, {"name": "M2", "shard": [1]}]}, "align.stages[1].shard"),
        ({"stages": [{"name": "M1", "shard": [-1, 2]}]}, "align.stages[0].shard"),
        ({"stages": [{"name": "M1"}, {"name": "M1"}]}, "each needs a unique name"),
        ({"stages": [{"name": "sft"}]}, "'sft' and 'reward' are the names of other steps"),
        ({"stages": [{"loss": "dpo"}]}, "each needs a unique name"),
        ({"stages": []}, "at least one preference stage"),
        ({"preference": {"loss": "kto"}}, "align.preference"),
        ({"preference": {"beta": 0}}, "align.preference"),
        ({"reward": {"models": 0}}, "align.reward"),
        ({"stages": [{"name": "M1", "train_iters": -1}]}, "align M1 (merged over train)"),
        ({"agreement": {"margin": -1}}, "align.agreement"),
    ],
)  # fmt: skip
def test_align_config_errors(tmp_path, section, message):
    with pytest.raises(TrainConfigError) as err:
        _plan(tmp_path, section)
    assert message in str(err.value) and str(tmp_path / "moru.yaml") in str(err.value)


def test_align_needs_a_workdir(tmp_path):
    with pytest.raises(TrainConfigError, match="align needs a workdir"):
        _plan(tmp_path, {}, workdir=False)


# --- 6. the whole recipe ----------------------------------------------------------------------------------------


def _launch_in_process(monkeypatch, real: tuple[str, ...] = ()) -> list[list[str]]:
    """run_recipe's launches: the steps in ``real`` as it makes them (torchrun, a process each), the others through
    the same command line in this process (``align.main``), which saves the ~20 s of imports each new process
    pays. Returns the commands, in order."""
    import contextlib
    import io
    import subprocess
    import sys
    from types import SimpleNamespace

    commands: list[list[str]] = []

    def run(cmd, **kwargs):
        commands.append(cmd)
        assert cmd[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
        step = cmd[cmd.index("--step") + 1]
        if step in real:
            return subprocess.run(cmd, **kwargs)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = align.main(cmd[cmd.index("megatron_train.align") + 1 :])
        return subprocess.CompletedProcess(cmd, code, out.getvalue())

    monkeypatch.setattr(align, "subprocess", SimpleNamespace(run=run, PIPE=subprocess.PIPE))
    return commands


def test_recipe_end_to_end_then_skips_what_is_finished(tmp_path, workdir, pretrained, monkeypatch):
    over = {"sft": {"train_iters": 4}, "preference": {"train_iters": 3},
            "stages": [{"name": "M1"}, {"name": "M2", "loss": "simpo"}]}  # fmt: skip
    config = write_config(tmp_path / "moru.yaml", workdir, pretrained, over)
    commands = _launch_in_process(monkeypatch, real=("sft",))
    lines: list[str] = []
    report = align.run_recipe(config, echo=lines.append)
    steps = ["sft", "reward/rm1", "reward/rm2", "M1", "M2"]
    assert [c[c.index("--step") + 1 :] for c in commands] == [
        ["sft"], ["reward/rm1"], ["reward/rm2"], ["M1", "--with-reference"], ["M2", "--with-reference"]]  # fmt: skip
    assert all(c[c.index("--config") + 1] == str(Path(config).resolve()) for c in commands)
    iters = {"sft": 4, "reward/rm1": 4, "reward/rm2": 4, "M1": 3, "M2": 3}
    out = workdir / "align"
    assert json.loads((out / "align_report.json").read_text()) == json.loads(json.dumps(report, default=str))
    assert list(report["steps"]) == steps and "finished" in report
    for step in steps:
        entry = report["steps"][step]
        assert entry["status"] == "finished" and entry["iteration"] == iters[step] and not entry.get("skipped")
        assert entry["metrics"]["steps"] == iters[step]
        assert all(math.isfinite(x) for x in entry["metrics"]["train"]["loss"])

    # reward models: trained with different seeds, every pair of every split scored
    import pyarrow.parquet as pq

    for rm in ("rm1", "rm2"):
        scores = pq.read_table(out / "reward" / rm / "scores.parquet").to_pandas()
        assert scores.groupby("split").size().to_dict() == {"train": 32, "valid": 8}
        assert np.allclose(scores["margin"], scores["chosen_score"] - scores["rejected_score"])
    a, b = (pq.read_table(out / "reward" / rm / "scores.parquet").column("margin").to_numpy() for rm in ("rm1", "rm2"))
    assert not np.array_equal(a, b)

    # preference stages: each its shard, filtered by both reward models
    blend_sha = {"sft": align_data.sha256(workdir / "posttrain_emit" / "sft_blend.json"),
                 "pairs": align_data.sha256(workdir / "posttrain_emit" / "pairs_blend.json")}  # fmt: skip
    files = [out / "reward" / rm / "scores.parquet" for rm in ("rm1", "rm2")]
    for k, stage in enumerate(("M1", "M2")):
        selection = json.loads((out / stage / "selection.json").read_text())
        kept = np.load(out / stage / "pairs_keep.npy")
        expected, summary = align.agreement(files, 32, (k, 2), 0.0)
        # which reward-model checkpoints scored the pairs this stage kept (the pair_scores rows it was filtered by)
        assert selection == {**summary, "reward_checkpoints": selection["reward_checkpoints"]}
        assert selection == report["steps"][stage]["agreement"]
        assert selection["reward_checkpoints"] == {
            rm: str(checkpoint.find_latest(out / "reward" / rm / "checkpoints")) for rm in ("rm1", "rm2")
        }
        assert kept.tolist() == expected.tolist() and len(kept) > 0 and all(i % 2 == k for i in kept)
        assert selection["pairs"] == 16 and selection["kept"] == len(kept)
    assert (report["steps"]["M1"]["loss"], report["steps"]["M1"]["beta"]) == ("dpo", 0.1)
    assert (report["steps"]["M2"]["loss"], report["steps"]["M2"]["beta"]) == ("simpo", 2.5)
    sft_ckpt = checkpoint.find_latest(out / "sft" / "checkpoints")
    assert json.loads((out / "M1" / "reference" / "reference.json").read_text())["checkpoint"] == str(sft_ckpt)
    assert not (out / "M2" / "reference").exists()  # simpo needs none

    # lineage in every checkpoint
    init = {"sft": pretrained, "reward/rm1": str(out / "sft" / "checkpoints"),
            "reward/rm2": str(out / "sft" / "checkpoints"), "M1": str(out / "sft" / "checkpoints"),
            "M2": str(out / "M1" / "checkpoints")}  # fmt: skip
    manifest = json.loads((workdir / "posttrain_emit" / "runs" / align_data.RUN / "manifest.json").read_text())
    for step in steps:
        latest = checkpoint.find_latest(out / step / "checkpoints")
        marker = checkpoint.read_marker(latest)
        assert marker["iteration"] == iters[step] and marker["align_step"] == step
        assert marker["init_from"] == init[step]
        assert marker["blend_sha256"] == blend_sha["sft" if step == "sft" else "pairs"]
        assert marker["posttrain_emit"]["run_id"] == align_data.RUN
        assert marker["posttrain_emit"]["tokenizer"] == manifest["tokenizer"]["sha256"]
        if step in ("M1", "M2"):
            assert marker["selection"] == report["steps"][step]["agreement"]
        else:
            assert "selection" not in marker

    # again: every step is finished, nothing runs
    starts = {s: len(train_rows(out / s, "start")) for s in steps}
    lines.clear()
    commands.clear()
    again = align.run_recipe(config, echo=lines.append)
    assert commands == [] and all(again["steps"][s].get("skipped") for s in steps)
    assert {s: len(train_rows(out / s, "start")) for s in steps} == starts
    assert sum("finished already" in line for line in lines) == len(steps)
    assert again["steps"]["M1"]["agreement"] == report["steps"]["M1"]["agreement"]

    # a reward model trained but never scored (the step died while scoring): only its scoring runs again
    scores = (out / "reward" / "rm2" / "scores.parquet").read_bytes()
    (out / "reward" / "rm2" / "scores.parquet").unlink()
    third = align.run_recipe(config, echo=lines.append)
    assert [c[c.index("--step") + 1] for c in commands] == ["reward/rm2"]
    assert (out / "reward" / "rm2" / "scores.parquet").read_bytes() == scores
    assert third["steps"]["reward/rm2"]["status"] == "finished" and len(train_rows(out / "reward" / "rm2")) == 4
    assert all(third["steps"][s].get("skipped") for s in steps if s != "reward/rm2")
