"""megatron_train on what emit wrote: stage 1 (pretrain) on the stage-1 blend, then stage 2 (`--stage extend`,
longer sequences, RoPE θ 1e6 + llama3 scaling, full recompute) on the stage-2 blend from the stage-1 checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[3]


def _train(config: Path, stage: str) -> subprocess.CompletedProcess:
    # a rendezvous an earlier in-process test left in this process's environment (its store still listening on
    # MASTER_PORT) must not be inherited: the training process picks its own free port
    rendezvous = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in rendezvous}
    return subprocess.run(
        [sys.executable, "-m", "megatron_train.train", "--config", str(config), "--stage", stage],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def test_pretrain_then_extend_on_the_emitted_blends(emitted, tmp_path):
    from megatron_train.metrics import read_metrics

    vocab = emitted.manifest["tokenizer"]["vocab_size"]
    stage2 = emitted.blend("stage2")
    assert stage2["train"], "the emit fixture has stage-2 documents"
    cfg = {
        "workdir": str(tmp_path),
        "train": {
            "model": "tiny",
            "model_overrides": {"vocab_size": -(-vocab // 128) * 128},
            "precision": "fp32",
            "seq_length": 128,
            "micro_batch_size": 2,
            "global_batch_size": 4,
            "train_iters": 30,
            "optimizer": {"lr": 3e-3, "min_lr": 3e-4},
            "schedule": {"warmup_iters": 2},
            "data": {
                "blend": str(emitted.out / "stage1_blend.json"),
                "tokenizer": str(emitted.workdir / "tokenizer" / "model"),
            },
            "eval": {"interval": 10, "iters": 1},
            "logging": {"tensorboard": False},
            "extend": {
                "seq_length": 1024,
                "micro_batch_size": 1,
                "global_batch_size": 2,
                "train_iters": 3,
                "model_overrides": {"rotary_base": 1_000_000, "rope_scaling": True},
                "data": {"blend": str(emitted.out / "stage2_blend.json")},
                "recompute": {"granularity": "full"},
                "eval": {"interval": 0},
            },
        },
    }
    config = tmp_path / "moru.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")

    first = _train(config, "pretrain")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert str(emitted.out / "stage1_blend.json") in first.stdout  # the header names the blend it reads
    steps = read_metrics(tmp_path / "train" / "pretrain" / "metrics.jsonl", "train")
    assert [r["iteration"] for r in steps] == list(range(1, 31))
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert len(read_metrics(tmp_path / "train" / "pretrain" / "metrics.jsonl", "eval")) == 3

    second = _train(config, "extend")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "initialized from" in second.stdout and "iter_0000030" in second.stdout
    ext = read_metrics(tmp_path / "train" / "extend" / "metrics.jsonl", "train")
    assert [r["iteration"] for r in ext] == [1, 2, 3]
    # stage 2 starts from the stage-1 weights: its first loss is near stage 1's last, far below a fresh model's
    assert ext[0]["loss"] < steps[0]["loss"] - 0.5, (ext[0]["loss"], steps[0]["loss"], steps[-1]["loss"])
    status = json.loads(second.stdout.strip().splitlines()[-1])
    assert status["status"] == "finished" and status["iteration"] == 3
