"""Preemption (SIGUSR1 / SIGTERM to a running training), `moru train` with stage 2, and the Slurm template."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from megatron_train import checkpoint
from megatron_train.metrics import read_metrics
from megatron_train.preemption import EXIT_PREEMPTED, PreemptionHandler

from .conftest import REPO, write_config


def _wait_for_steps(metrics: Path, proc: subprocess.Popen, n: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        if metrics.is_file() and len(read_metrics(metrics)) >= n:
            return
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no {n} steps logged within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGTERM])
def test_signal_checkpoints_and_exits_for_requeue(tmp_path, sig):
    config = write_config(tmp_path / "moru.yaml", tmp_path / "work", train_iters=100_000)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR")}
    env["PYTHONWARNINGS"] = "ignore"
    proc = subprocess.Popen(
        [sys.executable, "-m", "megatron_train.train", "--config", str(config)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = tmp_path / "work" / "train" / "pretrain"
    _wait_for_steps(out / "metrics.jsonl", proc, 3)
    proc.send_signal(sig)  # what srun delivers to every task (--signal=USR1@T, or SIGTERM on preemption)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_PREEMPTED, stderr[-3000:]
    event = read_metrics(out / "metrics.jsonl", "preempted")[0]
    assert event["signal"] == sig.name
    saved = checkpoint.find_latest(out / "checkpoints")
    # the step in progress was finished, logged and saved
    assert (
        checkpoint.read_marker(saved)["iteration"]
        == event["iteration"]
        == read_metrics(out / "metrics.jsonl")[-1]["iteration"]
    )
    if sig == signal.SIGUSR1:  # the requeued job resumes there
        resumed = subprocess.run(
            [sys.executable, "-m", "megatron_train.train", "--config", str(config),
             "--exit-after", str(event["iteration"] + 2)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        starts = read_metrics(out / "metrics.jsonl", "start")
        assert starts[-1]["iteration"] == event["iteration"]
        assert read_metrics(out / "metrics.jsonl")[-1]["iteration"] == event["iteration"] + 2


def test_preemption_handler_in_process():
    previous = signal.getsignal(signal.SIGUSR1)
    with PreemptionHandler() as handler:
        assert not handler.should_stop(torch.device("cpu"))
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)
        assert handler.should_stop(torch.device("cpu")) and handler.signal_name == "SIGUSR1"
    assert signal.getsignal(signal.SIGUSR1) is previous


def test_moru_train_pretrain_then_extend(tmp_path):
    from typer.testing import CliRunner

    from moru.cli import app

    config = write_config(
        tmp_path / "moru.yaml",
        tmp_path / "work",
        train_iters=12,
        extend={
            "seq_length": 256,
            "micro_batch_size": 1,
            "train_iters": 3,
            "model_overrides": {"rotary_base": 1_000_000, "rope_scaling": True},
            "recompute": {"granularity": "full"},
        },
    )
    runner = CliRunner()
    early = runner.invoke(app, ["train", "--config", str(config), "--stage", "extend"])
    assert early.exit_code == 2 and "no complete checkpoint under" in early.output  # no stage-1 checkpoint yet
    pre = runner.invoke(app, ["train", "--config", str(config)])
    assert pre.exit_code == 0, pre.output
    ext = runner.invoke(app, ["train", "--config", str(config), "--stage", "extend"])
    assert ext.exit_code == 0, ext.output

    work = tmp_path / "work" / "train"
    pre_rows, ext_rows = (
        read_metrics(work / "pretrain" / "metrics.jsonl"),
        read_metrics(work / "extend" / "metrics.jsonl"),
    )
    assert len(pre_rows) == 12 and len(ext_rows) == 3
    assert checkpoint.find_latest(work / "extend" / "checkpoints").name == "iter_0000003"
    marker = checkpoint.read_marker(checkpoint.find_latest(work / "extend" / "checkpoints"))
    assert (marker["stage"], marker["config"]["seq_length"]) == ("extend", 256)
    assert marker["config"]["model_overrides"] == {"rotary_base": 1_000_000, "rope_scaling": True}
    # stage 2 starts from the stage-1 weights: its first loss is near where stage 1 ended, far below a fresh model's
    assert ext_rows[0]["loss"] < pre_rows[0]["loss"] - 0.3
    assert (work / "extend" / "loss.png").is_file()

    bad = runner.invoke(app, ["train", "--config", str(config), "--stage", "finetune"])
    assert bad.exit_code == 2 and "--stage must be one of" in bad.output


def _fake_bin(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_sbatch_template_runs_srun_tasks_and_requeues_on_75(tmp_path):
    template = REPO / "megatron_train" / "slurm" / "train.sbatch"
    assert subprocess.run(["bash", "-n", str(template)]).returncode == 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    # scontrol: hostnames of the allocation, and a log of requeue calls
    _fake_bin(bin_dir, "scontrol", f'echo "scontrol $*" >> {log}\n[ "$1" = show ] && echo node001 && echo node002\n')
    # srun: one local task with the rank variables Slurm sets, running the command after srun's own options
    _fake_bin(
        bin_dir,
        "srun",
        f'echo "srun $*" >> {log}\necho "master $MASTER_ADDR:$MASTER_PORT" >> {log}\n'
        'while [[ "$1" == --* ]]; do shift; done\n'
        "SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_LOCALID=0 "
        'MASTER_PORT=$((30000 + RANDOM % 20000)) MASTER_ADDR=127.0.0.1 "$@"\n',
    )
    config = write_config(tmp_path / "moru.yaml", tmp_path / "work", train_iters=3)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}", CONFIG=str(config), REPO=str(REPO), PYTHON=sys.executable,
        SLURM_JOB_ID="4242", SLURM_JOB_NODELIST="node[001-002]", SLURM_SUBMIT_DIR=str(REPO), PYTHONWARNINGS="ignore",
    )  # fmt: skip
    done = subprocess.run(["bash", str(template)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    calls = log.read_text()
    assert "srun --kill-on-bad-exit=1" in calls and "-m megatron_train.train --config" in calls
    assert "requeue" not in calls and "master node001:" in calls  # rendezvous on the allocation's first node
    assert read_metrics(tmp_path / "work" / "train" / "pretrain" / "metrics.jsonl")[-1]["iteration"] == 3

    # tasks that checkpointed on a signal exit 75: the job is requeued
    _fake_bin(bin_dir, "srun", f'echo "srun $*" >> {log}\nexit 75\n')
    requeued = subprocess.run(["bash", str(template)], env=env, capture_output=True, text=True, timeout=60)
    assert requeued.returncode == 0 and "scontrol requeue 4242" in log.read_text()
    _fake_bin(bin_dir, "srun", "exit 1\n")
    failed = subprocess.run(["bash", str(template)], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and log.read_text().count("requeue") == 1
    # with a container image, srun gets the pyxis options
    env["CONTAINER_IMAGE"] = "nvcr.io#nvidia/pytorch:25.10-py3"
    _fake_bin(bin_dir, "srun", f'echo "srun $*" >> {log}\nexit 0\n')
    subprocess.run(["bash", str(template)], env=env, capture_output=True, text=True, timeout=60)
    assert "--container-image=nvcr.io#nvidia/pytorch:25.10-py3" in log.read_text()
