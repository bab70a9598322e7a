"""Helpers for the megatron_train tests: a tiny CPU run config, an in-process megatron world of one rank, and
running ``python -m megatron_train.train`` (or torchrun) as a subprocess."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

TINY = {
    "model": "tiny",
    "precision": "fp32",
    "seq_length": 64,
    "micro_batch_size": 2,
    "global_batch_size": 4,
    "train_iters": 20,
    "optimizer": {"lr": 3e-3, "min_lr": 3e-4},
    "schedule": {"warmup_iters": 2},
    "data": {"mock": True},
    "logging": {"tensorboard": False},
}


def merged(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def tiny_train(tmp_path: Path, name: str = "run", **over):
    """A concrete stage-1 TrainConfig of the tiny model under tmp_path/name."""
    from megatron_train.config import TrainConfig

    return TrainConfig.model_validate(merged(TINY, {"output_dir": str(tmp_path / name), **over})).for_stage(
        "pretrain", None
    )


def write_config(path: Path, workdir: Path, **train_over) -> Path:
    """A moru.yaml with the tiny train section (train_over merged in)."""
    path.write_text(yaml.safe_dump({"workdir": str(workdir), "train": merged(TINY, train_over)}), encoding="utf-8")
    return path


def run_module(args: list[str], timeout: int = 300, torchrun_nproc: int | None = None, **kw):
    """``python -m megatron_train.train ARGS`` (or under torchrun with N processes), in the repo root."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env["PYTHONWARNINGS"] = "ignore"
    if torchrun_nproc:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun_nproc}"]
        cmd += ["-m", "megatron_train.train", *args]
    else:
        cmd = [sys.executable, "-m", "megatron_train.train", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, **kw)


@contextlib.contextmanager
def one_rank_world(seed: int = 1234):
    """torch.distributed (gloo, one rank) and megatron's parallel state, inside the CPU compatibility context."""
    from megatron_train import cpu_compat, distributed
    from megatron_train.config import ParallelConfig

    with cpu_compat.enabled():
        layout, created = distributed.init(ParallelConfig(), seed=seed)
        try:
            yield layout
        finally:
            distributed.teardown(created)


@pytest.fixture
def megatron_world():
    """A one-rank megatron world for one test (:func:`one_rank_world`)."""
    with one_rank_world() as layout:
        yield layout
