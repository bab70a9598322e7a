"""Sharded, atomic, resumable checkpoints with megatron-core ``dist_checkpointing``.

Layout of a checkpoint root (``train.checkpoint.dir``)::

    iter_0000100/          one complete checkpoint (dist_checkpointing's torch_dist format + moru_checkpoint.json)
    iter_0000200/
    latest                 "200": the newest complete checkpoint
    .tmp_iter_0000300/     a save in progress (or one that was interrupted): never loaded, removed by the next save
    nan_iter_0000250/      the state that produced a NaN/inf loss, for inspection: never resumed from

A save writes everything into ``.tmp_iter_N`` (all ranks, each its shards), waits for every rank, then rank 0
writes ``moru_checkpoint.json`` last and renames the folder to ``iter_N`` (one atomic rename on POSIX
filesystems, Lustre and GPFS included) before updating ``latest`` (write + rename). A folder is therefore either
complete under its final name or not there, and loading only ever considers ``iter_*`` folders that hold
``moru_checkpoint.json``.

What is saved: the model (``GPTModel.sharded_state_dict``), the distributed optimizer (``dp_reshardable`` by
default: loads at another data-parallel size; ``fully_reshardable``: also at other TP/PP sizes), the LR
scheduler, the RNG states of each (pipeline, tensor) rank (CPU, CUDA, megatron's tracker streams, Python,
NumPy) and the data position (samples consumed), plus the iteration and the run's config.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch

MARKER = "moru_checkpoint.json"
LATEST = "latest"
_ITER = re.compile(r"^iter_(\d{7,})$")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be saved or loaded; the message names the folder."""


def iter_dir(root: str | Path, iteration: int, prefix: str = "iter") -> Path:
    return Path(root) / f"{prefix}_{iteration:07d}"


def find_latest(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root``: the one ``latest`` names when it is complete, else the
    highest-numbered complete ``iter_*`` folder; None when there is none."""
    root = Path(root)
    if not root.is_dir():
        return None
    latest = root / LATEST
    if latest.is_file():
        try:
            named = iter_dir(root, int(latest.read_text().strip()))
        except ValueError:
            named = None
        if named is not None and (named / MARKER).is_file():
            return named
    complete = [(int(m.group(1)), p) for p in root.iterdir() if (m := _ITER.match(p.name)) and (p / MARKER).is_file()]
    return max(complete)[1] if complete else None


def read_marker(path: str | Path) -> dict:
    marker = Path(path) / MARKER
    if not marker.is_file():
        raise CheckpointError(f"{path}: not a complete moru checkpoint (no {MARKER})")
    return json.loads(marker.read_text(encoding="utf-8"))


# --- RNG ------------------------------------------------------------------------------------------------------


def rng_state() -> dict:
    from megatron.core import tensor_parallel

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch_cpu": torch.get_rng_state(),
        "tracker": {k: v.clone() for k, v in tensor_parallel.get_cuda_rng_tracker().get_states().items()},
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    from megatron.core import tensor_parallel

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch_cpu"])
    if torch.cuda.is_available() and "torch_cuda" in state:
        torch.cuda.set_rng_state(state["torch_cuda"])
    tensor_parallel.get_cuda_rng_tracker().set_states(state["tracker"])


# --- the sharded state dict -----------------------------------------------------------------------------------


def _layout() -> dict:
    from megatron.core import parallel_state as ps

    return {
        "tp": ps.get_tensor_model_parallel_world_size(),
        "pp": ps.get_pipeline_model_parallel_world_size(),
        "cp": ps.get_context_parallel_world_size(),
        "dp": ps.get_data_parallel_world_size(),
        "world": torch.distributed.get_world_size(),
    }


def _sharded_state_dict(model, optimizer, common: dict, optimizer_format: str, is_loading: bool,
                        with_optimizer: bool, with_rng: bool) -> dict:  # fmt: skip
    from megatron.core import parallel_state as ps
    from megatron.core.dist_checkpointing.mapping import ShardedObject

    metadata = {"distrib_optim_sharding_type": optimizer_format, "singleton_local_shards": False}
    state = {"model": model.module.sharded_state_dict(metadata=metadata), **common}
    if with_optimizer:
        state["optimizer"] = optimizer.sharded_state_dict(state, is_loading=is_loading, metadata=metadata)
    if with_rng:
        # one RNG state per (pipeline, tensor) rank; identical across data/context-parallel replicas
        state["rng_state"] = ShardedObject(
            "rng_state",
            rng_state() if not is_loading else None,
            (ps.get_pipeline_model_parallel_world_size(), ps.get_tensor_model_parallel_world_size()),
            (ps.get_pipeline_model_parallel_rank(), ps.get_tensor_model_parallel_rank()),
            replica_id=ps.get_data_parallel_rank(with_context_parallel=True),
        )
    return state


# --- save -----------------------------------------------------------------------------------------------------


def save(root: str | Path, iteration: int, model, optimizer, scheduler, consumed_samples: int, *,
         optimizer_format: str, keep_last: int | None, run_info: dict, prefix: str = "iter") -> Path:  # fmt: skip
    """Save atomically (module docstring) and return the final folder. Collective: every rank calls it."""
    from megatron.core import dist_checkpointing

    dist = torch.distributed
    rank = dist.get_rank()
    root = Path(root)
    final = iter_dir(root, iteration, prefix)
    tmp = root / f".tmp_{final.name}"
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(".tmp_*"):  # an interrupted earlier save
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir()
    dist.barrier()
    common = {"iteration": iteration, "consumed_samples": consumed_samples, "scheduler": scheduler.state_dict()}
    state = _sharded_state_dict(model, optimizer, common, optimizer_format, False, True, True)
    layout = _layout()
    dist_checkpointing.save(
        state, str(tmp), content_metadata={"distrib_optim_sharding_type": optimizer_format, **layout}
    )
    dist.barrier()
    if rank == 0:
        marker = {
            "iteration": iteration,
            "consumed_samples": consumed_samples,
            "layout": layout,
            "optimizer_format": optimizer_format,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **run_info,
        }
        _write_atomic(tmp / MARKER, json.dumps(marker, indent=2))
        _fsync_dir(tmp)
        if final.exists():  # the same iteration saved again (e.g. a re-run): replace it
            old = root / f".tmp_old_{final.name}"
            os.rename(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, final)
        if prefix == "iter":
            _write_atomic(root / LATEST, str(iteration))
            if keep_last:
                _prune(root, keep_last)
        _fsync_dir(root)
    dist.barrier()
    return final


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(root: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints (folders it did not write are left alone)."""
    complete = sorted(
        (int(m.group(1)), p) for p in root.iterdir() if (m := _ITER.match(p.name)) and (p / MARKER).is_file()
    )
    for _, path in complete[:-keep_last]:
        shutil.rmtree(path, ignore_errors=True)


# --- load -----------------------------------------------------------------------------------------------------


def _unwrapped_key(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def _saved_keys(path: Path) -> set[str]:
    """The sharded keys a dist_checkpointing checkpoint holds."""
    from megatron.core import dist_checkpointing

    try:
        metadata = dist_checkpointing.load_tensors_metadata(str(path))
    except Exception as exc:  # noqa: BLE001 - name the folder
        raise CheckpointError(f"reading {path}'s metadata failed: {type(exc).__name__}: {exc}") from exc
    return set(metadata)


def _restore_adam_steps(optimizer) -> None:
    """With torch's Adam (no Apex / TE FusedAdam, e.g. on CPU), megatron-core 0.16's DistributedOptimizer keeps
    the Adam step count in the checkpoint's param groups (``param_group["step"]``), and its load_state_dict then
    (a) hands every parameter the *same* step tensor, which torch's Adam increments in place once per parameter,
    and (b) with ``dp_reshardable`` overwrites the per-parameter steps with the placeholder state it loaded into.
    Either way bias correction after a resume would differ from the uninterrupted run. Each parameter gets its
    own step tensor holding its group's saved step, as in the run that saved it."""
    for opt in getattr(optimizer, "chained_optimizers", [optimizer]):
        inner = getattr(opt, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            continue
        for group in inner.param_groups:
            step = group.get("step")
            if step is None:
                continue
            for param in group["params"]:
                state = inner.state.get(param)
                if state is not None and isinstance(state.get("step"), torch.Tensor):
                    state["step"] = torch.tensor(float(step), dtype=state["step"].dtype, device=state["step"].device)


def _materialize_optimizer_state(optimizer) -> None:
    """A fresh optimizer has no Adam state yet, and DistributedOptimizer.state_dict() (which building the loading
    state dict calls) needs its ``step`` when the inner optimizer is torch's Adam (no Apex / TE FusedAdam, e.g. on
    CPU). megatron-core's own remedy, as its FSDP loading path uses it: one step with zero gradients to create
    the state, which the checkpoint then overwrites in place (weights included, loaded after it)."""
    for opt in getattr(optimizer, "chained_optimizers", [optimizer]):
        inner = getattr(opt, "optimizer", None)
        if inner is not None and not inner.state and hasattr(opt, "_init_optimizer_states_with_dummy_values"):
            opt._init_optimizer_states_with_dummy_values()


# the fields that make two checkpoints' weights interchangeable (RoPE θ/scaling and the context may change)
SHAPE_FIELDS = ("num_layers", "hidden_size", "num_attention_heads", "num_query_groups", "ffn_hidden_size",
                "vocab_size", "tie_embeddings", "head_dim_override", "qk_norm", "num_experts", "moe_ffn_hidden_size",
                "moe_shared_expert_size", "moe_dense_layers", "mtp_layers", "mtp_moe")  # fmt: skip


def saved_shape(path: str | Path) -> dict | None:
    """The model shape a checkpoint was trained with (from its marker's config), or None when it does not say."""
    from megatron_train.model_configs import resolve_shape

    config = read_marker(path).get("config") or {}
    if "model" not in config:
        return None
    return resolve_shape(config["model"], config.get("model_overrides") or {}).model_dump()


def check_shape(path: str | Path, shape) -> None:
    """Raise when the checkpoint at ``path`` holds another shape than ``shape`` (a ModelShape), naming both."""
    saved = saved_shape(path)
    if saved is None:
        return
    diff = {k: (saved.get(k), getattr(shape, k)) for k in SHAPE_FIELDS if saved.get(k) != getattr(shape, k)}
    if diff:
        what = ", ".join(f"{k} {a} in the checkpoint vs {b} in the config" for k, (a, b) in diff.items())
        raise CheckpointError(f"{path}: the checkpoint's model shape does not match the config: {what} (set "
                              "train.model / model_overrides to the checkpoint's shape, or start from another "
                              "checkpoint)")  # fmt: skip


def load(path: str | Path, model, optimizer, scheduler, *, with_optimizer: bool = True,
         with_scheduler: bool = True, missing_ok: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """Load a checkpoint saved by :func:`save` into ``model`` (and the optimizer, scheduler and RNG when asked;
    the RNG only when the pipeline/tensor layout is the one it was saved with). ``missing_ok``: parameter-name
    prefixes the checkpoint may lack (a new head over a language model's weights; weights only); they keep their
    initial values. Returns the marker with ``iteration`` and ``consumed_samples``. Collective."""
    from megatron.core import dist_checkpointing

    path = Path(path)
    marker = read_marker(path)
    content = dist_checkpointing.load_content_metadata(str(path)) or {}
    fmt = content.get("distrib_optim_sharding_type", marker.get("optimizer_format", "dp_reshardable"))
    layout, saved = _layout(), marker["layout"]
    same_mp = saved["tp"] == layout["tp"] and saved["pp"] == layout["pp"]
    if with_optimizer and fmt == "dp_reshardable" and not same_mp:
        raise CheckpointError(
            f"{path}: its optimizer state was saved as dp_reshardable with TP={saved['tp']} PP={saved['pp']}; "
            f"this run has TP={layout['tp']} PP={layout['pp']} (load weights only, or save fully_reshardable)"
        )
    if with_optimizer:
        _materialize_optimizer_state(optimizer)
    state = _sharded_state_dict(model, optimizer, {}, fmt, True, with_optimizer, with_rng=with_optimizer and same_mp)
    skipped: list[str] = []
    if missing_ok:
        if with_optimizer:
            raise CheckpointError(f"{path}: a partial load (without {missing_ok}) takes weights only")
        saved_keys = _saved_keys(path)
        for key in [k for k in state["model"] if _unwrapped_key(k).startswith(missing_ok)]:
            sharded = state["model"][key]
            if getattr(sharded, "key", key) not in saved_keys:
                skipped.append(key)
                del state["model"][key]
    try:
        loaded = dist_checkpointing.load(state, str(path))
    except Exception as exc:  # dist_checkpointing raises many types; name the folder
        raise CheckpointError(f"loading {path} failed: {type(exc).__name__}: {exc}") from exc
    if skipped:
        result = model.module.load_state_dict(loaded["model"], strict=False)
        unexpected = [k for k in result.missing_keys if not _unwrapped_key(k).startswith(missing_ok)]
        if unexpected or result.unexpected_keys:
            raise CheckpointError(f"{path}: missing {unexpected[:5]}, unexpected {result.unexpected_keys[:5]}")
    else:
        model.module.load_state_dict(loaded["model"])
    if with_optimizer:
        # no_grad: with fp32 weights the main params are views of the model's leaf parameters, and
        # DistributedOptimizer's dp_reshardable load copies into them in place (megatron-core 0.16 does not wrap
        # that path in no_grad, unlike its fully_sharded_model_space one)
        with torch.no_grad():
            optimizer.load_state_dict(loaded["optimizer"])
        _restore_adam_steps(optimizer)
    else:
        optimizer.reload_model_params()  # fp32 main copies follow the loaded weights
    if with_scheduler:
        scheduler.load_state_dict(loaded["scheduler"])  # common (non-sharded) part of the checkpoint
    if "rng_state" in loaded:
        set_rng_state(loaded["rng_state"])
    return marker
