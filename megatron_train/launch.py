"""Start a training run on this machine: torchrun with one process per GPU (one process on CPU, gloo).

Multi-node runs use the sbatch templates in ``megatron_train/slurm/`` instead (srun starts one process per GPU
and the same entry point, ``python -m megatron_train.train``, reads its rank from Slurm's environment).
"""

from __future__ import annotations

import sys
from pathlib import Path

from megatron_train.config import TrainConfig


def default_nproc(cfg: TrainConfig) -> int:
    if cfg.nproc_per_node:
        return cfg.nproc_per_node
    import torch

    return torch.cuda.device_count() or 1


def torchrun_command(config_path: str | Path, stage: str, nproc: int, exit_after: int | None = None) -> list[str]:
    """The command line: ``python -m torch.distributed.run --standalone --nproc_per_node N -m megatron_train.train
    --config PATH --stage STAGE``."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "megatron_train.train", "--config", str(Path(config_path).resolve()), "--stage", stage,
    ]  # fmt: skip
    if exit_after is not None:
        cmd += ["--exit-after", str(exit_after)]
    return cmd
