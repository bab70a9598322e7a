"""Process group and megatron-core parallel state for one training run.

Ranks come from torchrun (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), from Slurm's srun (``SLURM_PROCID``,
``SLURM_NTASKS``, ``SLURM_LOCALID``; ``MASTER_ADDR``/``MASTER_PORT`` set by the sbatch script), or, with neither,
a single process on a free local port. NCCL on GPUs, gloo on CPU.
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass

import torch

from megatron_train.config import ParallelConfig


@dataclass(frozen=True)
class Layout:
    rank: int
    world_size: int
    local_rank: int
    tp: int
    pp: int
    cp: int
    dp: int
    dp_rank: int
    on_gpu: bool

    @property
    def is_logging_rank(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_ranks() -> tuple[int, int, int]:
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if "SLURM_PROCID" in os.environ and "SLURM_NTASKS" in os.environ and "MASTER_ADDR" in os.environ:
        return int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"]), int(os.environ["SLURM_LOCALID"])
    return 0, 1, 0


def init(parallel: ParallelConfig, seed: int, timeout_minutes: int = 30) -> tuple[Layout, bool]:
    """Initialize torch.distributed (unless already initialized) and megatron's parallel state.

    Returns the layout and whether this call created the process group (so :func:`teardown` knows whether to
    destroy it). Must be called inside ``cpu_compat.enabled()`` on a machine without GPUs (the RNG seeding)."""
    from megatron.core import parallel_state, tensor_parallel

    dist = torch.distributed
    on_gpu = torch.cuda.is_available()
    created = False
    if not dist.is_initialized():
        rank, world, local_rank = _env_ranks()
        if world == 1 and "MASTER_ADDR" not in os.environ:
            os.environ["MASTER_ADDR"] = "127.0.0.1"
            os.environ["MASTER_PORT"] = str(_free_port())
        os.environ.setdefault("MASTER_PORT", "29500")
        if on_gpu:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(
            backend="nccl" if on_gpu else "gloo",
            init_method="env://",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(minutes=timeout_minutes),
        )
        created = True
    rank, world = dist.get_rank(), dist.get_world_size()
    model_parallel = parallel.tensor * parallel.pipeline * parallel.context
    if world % model_parallel:
        raise ValueError(
            f"world size {world} is not a multiple of tensor × pipeline × context = {parallel.tensor} × "
            f"{parallel.pipeline} × {parallel.context} = {model_parallel}"
        )
    parallel_state.destroy_model_parallel()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=parallel.tensor,
        pipeline_model_parallel_size=parallel.pipeline,
        context_parallel_size=parallel.context,
        expert_model_parallel_size=parallel.expert,
        expert_tensor_parallel_size=parallel.expert_tensor,
        distributed_timeout_minutes=timeout_minutes,
    )
    # the same seed on every data-parallel replica; megatron offsets the tensor-parallel stream per TP rank
    torch.manual_seed(seed)
    tensor_parallel.model_parallel_cuda_manual_seed(seed, force_reset_rng=True)
    layout = Layout(
        rank=rank,
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", 0))),
        tp=parallel.tensor,
        pp=parallel.pipeline,
        cp=parallel.context,
        dp=parallel_state.get_data_parallel_world_size(),
        dp_rank=parallel_state.get_data_parallel_rank(),
        on_gpu=on_gpu,
    )
    return layout, created


def teardown(destroy_process_group: bool) -> None:
    from megatron.core import parallel_state

    parallel_state.destroy_model_parallel()
    if destroy_process_group and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
