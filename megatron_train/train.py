"""Pretraining and context extension on megatron-core, top to bottom.

    python -m megatron_train.train --config moru.yaml [--stage pretrain|extend]

runs one process of a run (start it with torchrun, srun, or alone for one process; ``moru train`` starts
torchrun for you). :func:`run` reads as the recipe: parallel state → model → DDP + distributed optimizer →
LR schedule → resume or initialize from a checkpoint → data → loop (forward/backward, non-finite guard, clip,
update, log, evaluate, checkpoint, preemption) → final checkpoint.

Exit codes: 0 finished; 2 bad config or data; 3 a non-finite loss or gradient norm stopped the run (its state is
saved under ``nan_iter_*`` for inspection); 75 preempted by SIGTERM/SIGUSR1 after saving (requeue and resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path

import torch

from megatron_train import checkpoint, distributed
from megatron_train import engine as engine_mod
from megatron_train.config import STAGES, TrainConfig, TrainConfigError, dump_yaml, load_train_config
from megatron_train.data import DataError, batch_iterator, build_datasets, build_tokenizer, read_blend
from megatron_train.engine import EXIT_CONFIG, EXIT_NONFINITE, EXIT_OK, RunResult  # noqa: F401 - re-exported


def run(cfg: TrainConfig, stage: str = "pretrain", console=None, exit_after: int | None = None) -> RunResult:
    """Train one stage; ``cfg`` is the concrete stage config (``TrainConfig.for_stage``). ``exit_after``: save and
    stop once this iteration is done (a planned pause; the schedule still spans ``train_iters``). Collective."""
    with engine_mod.running(cfg):
        layout, created_group = distributed.init(cfg.parallel, cfg.seed)
        try:
            return _train(cfg, stage, layout, console, exit_after)
        finally:
            distributed.teardown(created_group)


class PretrainTask:
    """Language modelling on the blend (or mock data) through BlendedMegatronDatasetBuilder, from the saved
    position."""

    def __init__(self, cfg: TrainConfig, layout: distributed.Layout, device: torch.device):
        self.cfg, self.layout, self.device = cfg, layout, device
        self.num_microbatches = engine_mod.microbatches(cfg, layout)
        gbs = cfg.global_batch_size
        tokenizer = build_tokenizer(cfg.data, cfg.shape().vocab_size)
        self.blend = read_blend(cfg.data)
        eval_samples = cfg.eval.iters * gbs if cfg.eval.interval else 0
        cache_dir = cfg.data.cache_dir or str(Path(cfg.output_dir) / "data_cache")
        self.train_ds, self.valid_ds, _ = build_datasets(
            cfg.data,
            self.blend,
            tokenizer,
            cfg.seq_length,
            cfg.seed,
            (cfg.train_iters * gbs, eval_samples, 0),
            cache_dir,
        )
        if cfg.eval.interval and self.valid_ds is None:
            raise DataError("train.eval.interval is set but the blend has no valid split")
        self.forward_step = partial(_forward_step, device=device, cp=layout.cp, mtp=cfg.shape().mtp_layers > 0)
        self.stats = None  # megatron_train.moe_metrics.StepStats for MoE / MTP models (set by _train)

    def batches(self, consumed: int):
        cfg, layout = self.cfg, self.layout
        return batch_iterator(self.train_ds, consumed, cfg.micro_batch_size, layout.dp_rank, layout.dp,
                              cfg.data.num_workers, pin_memory=layout.on_gpu)  # fmt: skip

    def samples_per_step(self) -> int:
        return self.cfg.global_batch_size

    def reduce(self, losses: list[dict]) -> dict:
        record = {"loss": _global_mean_loss(losses, self.device)}
        if self.stats is not None:
            values, show = self.stats.collect()
            record.update(values)
            record["show"] = show
        return record

    def evaluate(self, engine: engine_mod.Engine) -> float:
        return _evaluate(engine.model, self.forward_step, self.valid_ds, self.cfg, self.layout, self.device)


def _train(cfg: TrainConfig, stage: str, layout: distributed.Layout, console, exit_after: int | None) -> RunResult:
    eng = engine_mod.build(cfg, layout, console)
    hint = " (run stage pretrain first: moru train --config ...)" if stage == "extend" else ""
    iteration, consumed, latest = engine_mod.restore(eng, hint)
    task = PretrainTask(cfg, layout, eng.device)
    shape = cfg.shape()
    if shape.is_moe or shape.mtp_layers:
        from megatron_train.moe_metrics import StepStats

        model = eng.model
        task.stats = StepStats(model if (shape.is_moe and cfg.moe.log_expert_load) else torch.nn.Module(),
                               eng.tconfig, eng.device, task.num_microbatches)  # fmt: skip
    _print_header(eng.log, cfg, stage, layout, shape, task.num_microbatches, task.blend, eng.use_te)
    return engine_mod.train_loop(
        eng, task, stage=stage, iteration=iteration, consumed=consumed, last_saved=latest,
        run_info={"stage": stage, "config": cfg.model_dump(mode="json")}, exit_after=exit_after,
        tokens_per_sample=cfg.seq_length, flops_per_token=cfg.shape().training_flops_per_token(cfg.seq_length),
    )  # fmt: skip


def _forward_step(data_iterator, model, *, device: torch.device, cp: int, mtp: bool = False):
    """One micro-batch forward: per-token losses, and the loss function megatron's schedule calls on them. With MTP
    the model also gets the loss mask (its MTP losses skip masked targets) and adds the weighted MTP loss to the
    gradients itself; the loss returned here stays the language-model loss."""
    batch = {k: v.to(device, non_blocking=True) for k, v in next(data_iterator).items()}
    if cp > 1:
        from megatron.core.utils import get_batch_on_this_cp_rank

        batch = get_batch_on_this_cp_rank(batch)  # this rank's two sequence chunks (load-balanced causal split)
    extra = {"loss_mask": batch["loss_mask"]} if mtp else {}
    output = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"], **extra)
    return output, partial(_loss_func, batch["loss_mask"], cp)


def _loss_func(loss_mask: torch.Tensor, cp: int, per_token_loss: torch.Tensor):
    """Mean over the micro-batch's unmasked tokens. With context parallelism each rank holds part of every
    sequence: the token count is summed over the CP group, and the loss scaled by the CP size because megatron
    averages gradients over data × context parallel ranks."""
    mask = loss_mask.reshape(-1).float()
    local_sum = (per_token_loss.float().reshape(-1) * mask).sum()
    totals = torch.stack([local_sum.detach(), mask.sum()])
    if cp > 1:
        from megatron.core import parallel_state as ps

        torch.distributed.all_reduce(totals, group=ps.get_context_parallel_group())
    loss = local_sum * cp / totals[1]
    return loss, {"lm loss": totals[0] / totals[1]}


def _global_mean_loss(losses: list[dict], device: torch.device) -> float:
    """The step's loss: mean over micro-batches and data-parallel ranks, known on every rank (only the last
    pipeline stage computes it; a sum over the pipeline group passes it to the others)."""
    from megatron.core import parallel_state as ps

    value = torch.zeros(1, dtype=torch.float32, device=device)
    if ps.is_pipeline_last_stage() and losses:
        value += torch.stack([d["lm loss"].float() for d in losses]).mean()
        torch.distributed.all_reduce(value, group=ps.get_data_parallel_group())
        value /= ps.get_data_parallel_world_size()
    if ps.get_pipeline_model_parallel_world_size() > 1:
        torch.distributed.all_reduce(value, group=ps.get_pipeline_model_parallel_group())
    return float(value.item())


def _evaluate(model, step_fn, valid_ds, cfg: TrainConfig, layout, device) -> float:
    """Mean loss over the first ``eval.iters`` global batches of the valid split (the same batches each time)."""
    from megatron.core.pipeline_parallel import get_forward_backward_func

    forward_backward = get_forward_backward_func()
    model.eval()
    batches = batch_iterator(valid_ds, 0, cfg.micro_batch_size, layout.dp_rank, layout.dp, 0, layout.on_gpu)
    num_microbatches = cfg.global_batch_size // (cfg.micro_batch_size * layout.dp)
    total = 0.0
    with torch.no_grad():
        for _ in range(cfg.eval.iters):
            losses = forward_backward(
                forward_step_func=step_fn, data_iterator=batches, model=[model], num_microbatches=num_microbatches,
                seq_length=cfg.seq_length, micro_batch_size=cfg.micro_batch_size, forward_only=True,
            )  # fmt: skip
            total += _global_mean_loss(losses, device)
    return total / cfg.eval.iters


def _print_header(log, cfg, stage, layout, shape, num_microbatches, blend, use_te) -> None:
    params = shape.num_parameters()
    data = "megatron-core MockGPTDataset" if blend is None else blend.origin
    scaling = f" + llama3 scaling ×{shape.rope_scaling_factor:g}" if shape.rope_scaling else ""
    arch = ""
    if shape.is_moe:
        arch += (f", {shape.num_experts} experts top-{shape.moe_top_k}"
                 f"{' + shared' if shape.moe_shared_expert_size else ''}, "
                 f"{shape.num_active_parameters(with_embedding=False, with_mtp=False) / 1e9:.3g}B active")  # fmt: skip
    if shape.attention_pattern:
        arch += f", attention {shape.attention_pattern} window {shape.window} RoPE {shape.rope_layers}"
    if shape.mtp_layers:
        arch += f", MTP {shape.mtp_layers} (weight {cfg.mtp.loss_weight:g})"
    log.print(
        f"{stage}: {cfg.model} ({params / 1e9:.3g}B parameters, {shape.num_layers} layers, d {shape.hidden_size}, "
        f"RoPE θ {shape.rotary_base:g}{scaling}{arch}) "
        f"| {'GPU' if layout.on_gpu else 'CPU'} × {layout.world_size}: TP {layout.tp} PP {layout.pp} CP {layout.cp} "
        f"EP {cfg.parallel.expert} DP {layout.dp} | {cfg.precision}"
        f"{' (Transformer Engine)' if use_te else ' (local spec)'} "
        f"| {cfg.optimizer.name} | seq {cfg.seq_length} × global batch {cfg.global_batch_size} ({num_microbatches} "
        f"micro-batches of {cfg.micro_batch_size} per rank) | {cfg.train_iters} steps | data: {data}"
    )  # fmt: skip


def memory_line(cfg: TrainConfig, world_size: int) -> str:
    """The per-GPU memory estimate against this machine's GPU (no capacity on CPU)."""
    from megatron_train.memory import estimate

    capacity = None
    if torch.cuda.is_available():
        capacity = torch.cuda.get_device_properties(0).total_memory / 2**30
    return estimate(cfg, world_size).report(capacity)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m megatron_train.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-c", required=True, help="moru YAML config (its train section)")
    parser.add_argument("--stage", choices=STAGES, default="pretrain")
    parser.add_argument("--exit-after", type=int, default=None, metavar="N", help="save and stop after step N")
    parser.add_argument("--print-config", action="store_true", help="print the stage's resolved config and exit")
    parser.add_argument("--estimate-memory", action="store_true",
                        help="print the per-GPU memory estimate (megatron_train.memory) and exit")  # fmt: skip
    parser.add_argument("--world-size", type=int, default=None,
                        help="GPUs for --estimate-memory (default: WORLD_SIZE / SLURM_NTASKS, else 1)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        base, workdir = load_train_config(args.config)
        cfg = base.for_stage(args.stage, workdir)
    except (TrainConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.print_config:
        print(dump_yaml(cfg))
        return EXIT_OK
    world = args.world_size or int(os.environ.get("WORLD_SIZE", os.environ.get("SLURM_NTASKS", "1")))
    if args.estimate_memory or int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0:
        print(memory_line(cfg, world), flush=True)  # before any process group or GPU memory exists
        if args.estimate_memory:
            return EXIT_OK
    console = None
    try:
        from rich.console import Console

        console = Console(highlight=False)
    except ImportError:  # pragma: no cover - rich is a dependency
        pass
    try:
        result = run(cfg, args.stage, console=console, exit_after=args.exit_after)
    except (DataError, checkpoint.CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if torch.distributed.is_initialized():  # pragma: no cover - run() destroys what it created
        torch.distributed.destroy_process_group()
    if int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0:
        print(json.dumps({"status": result.status, "iteration": result.iteration, "checkpoint": result.checkpoint}))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
