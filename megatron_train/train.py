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
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from megatron_train import checkpoint, cpu_compat, distributed
from megatron_train.config import STAGES, TrainConfig, TrainConfigError, dump_yaml, load_train_config
from megatron_train.data import DataError, batch_iterator, build_datasets, build_tokenizer, read_blend
from megatron_train.metrics import MetricsLogger, default_peak_tflops
from megatron_train.model import build_gpt_model, transformer_config, use_transformer_engine
from megatron_train.preemption import EXIT_PREEMPTED, PreemptionHandler

EXIT_OK, EXIT_CONFIG, EXIT_NONFINITE = 0, 2, 3


@dataclass
class RunResult:
    status: str  # finished | stopped (exit_after) | preempted | nonfinite
    iteration: int
    checkpoint: str | None

    @property
    def exit_code(self) -> int:
        return {"finished": EXIT_OK, "stopped": EXIT_OK, "preempted": EXIT_PREEMPTED, "nonfinite": EXIT_NONFINITE}[
            self.status
        ]


def run(cfg: TrainConfig, stage: str = "pretrain", console=None, exit_after: int | None = None) -> RunResult:
    """Train one stage; ``cfg`` is the concrete stage config (``TrainConfig.for_stage``). ``exit_after``: save and
    stop once this iteration is done (a planned pause; the schedule still spans ``train_iters``). Collective."""
    compat = cpu_compat.enabled() if cpu_compat.needed() else contextlib.nullcontext()
    with compat:
        layout, created_group = distributed.init(cfg.parallel, cfg.seed)
        try:
            return _train(cfg, stage, layout, console, exit_after)
        finally:
            distributed.teardown(created_group)


def _train(cfg: TrainConfig, stage: str, layout: distributed.Layout, console, exit_after: int | None) -> RunResult:
    from megatron.core import parallel_state as ps
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig, finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
    from megatron.core.pipeline_parallel import get_forward_backward_func
    from megatron.core.transformer.module import Float16Module

    device = torch.device("cuda", torch.cuda.current_device()) if layout.on_gpu else torch.device("cpu")
    shape = cfg.shape()
    log = MetricsLogger(cfg.output_dir, layout.is_logging_rank, cfg.logging.tensorboard, console)

    # --- model: GPTModel (this rank's pipeline stage) → bf16 wrapper → megatron-core DDP ----------------------
    use_te = use_transformer_engine(cfg, layout.on_gpu)
    tconfig = transformer_config(cfg, layout.on_gpu, use_te)
    gpt = build_gpt_model(
        cfg, tconfig, use_te, pre_process=ps.is_pipeline_first_stage(), post_process=ps.is_pipeline_last_stage()
    )
    if layout.on_gpu:
        gpt.cuda(torch.cuda.current_device())
    if tconfig.bf16:
        gpt = Float16Module(tconfig, gpt)
    ddp_config = DistributedDataParallelConfig(
        grad_reduce_in_fp32=True,
        use_distributed_optimizer=True,
        overlap_grad_reduce=layout.on_gpu,  # needs CUDA streams
        average_in_collective=layout.on_gpu,
    )
    model = DistributedDataParallel(config=tconfig, ddp_config=ddp_config, module=gpt)

    # --- distributed optimizer (AdamW, fp32 main weights and states, sharded over data-parallel ranks) ---------
    opt = cfg.optimizer
    optimizer = get_megatron_optimizer(
        OptimizerConfig(
            optimizer="adam",
            lr=opt.lr,
            min_lr=opt.min_lr,
            weight_decay=opt.weight_decay,
            adam_beta1=opt.adam_beta1,
            adam_beta2=opt.adam_beta2,
            adam_eps=opt.adam_eps,
            clip_grad=opt.clip_grad,
            bf16=tconfig.bf16,
            params_dtype=tconfig.params_dtype,
            use_distributed_optimizer=True,
        ),
        [model],
    )
    sched = cfg.schedule
    decay_iters = sched.decay_iters or cfg.train_iters
    scheduler = OptimizerParamScheduler(
        optimizer,
        init_lr=opt.init_lr,
        max_lr=opt.lr,
        min_lr=opt.min_lr,
        lr_warmup_steps=sched.warmup_iters,
        lr_decay_steps=decay_iters,
        lr_decay_style={"cosine": "cosine", "wsd": "WSD", "linear": "linear", "constant": "constant"}[sched.style],
        start_wd=opt.weight_decay,
        end_wd=opt.weight_decay,
        wd_incr_steps=cfg.train_iters,
        wd_incr_style="constant",
        use_checkpoint_opt_param_scheduler=False,
        override_opt_param_scheduler=True,  # the config's schedule wins over a checkpoint's; its step count is kept
        wsd_decay_steps=(sched.wsd_decay_iters or max(1, (decay_iters - sched.warmup_iters) // 10))
        if sched.style == "wsd"
        else None,
        lr_wsd_decay_style=sched.wsd_decay_style,
    )
    # the schedule hooks megatron's forward/backward uses: gradient all-reduce / reduce-scatter across data
    # parallel ranks, tied-embedding and sequence-parallel norm gradients, loss scaling
    tconfig.no_sync_func = model.no_sync
    tconfig.finalize_model_grads_func = finalize_model_grads
    tconfig.grad_scale_func = optimizer.scale_loss

    # --- resume this stage, or start it from another checkpoint (stage 2 from stage 1) -------------------------
    ckpt_root = cfg.checkpoint_dir
    iteration, consumed = 0, 0
    latest = checkpoint.find_latest(ckpt_root)
    if latest is not None:
        marker = checkpoint.load(latest, model, optimizer, scheduler)
        iteration, consumed = marker["iteration"], marker["consumed_samples"]
        log.print(f"resumed from {latest} at step {iteration} ({consumed:,} samples consumed)")
    elif cfg.checkpoint.init_from:
        source = _init_source(cfg.checkpoint.init_from, stage)
        checkpoint.load(
            source, model, optimizer, scheduler, with_optimizer=cfg.checkpoint.init_optimizer, with_scheduler=False
        )
        what = "model weights and optimizer state" if cfg.checkpoint.init_optimizer else "model weights"
        log.print(f"initialized from {source} ({what})")

    # --- data: the blend (or mock data) through BlendedMegatronDatasetBuilder, from the saved position ----------
    mbs, gbs = cfg.micro_batch_size, cfg.global_batch_size
    if gbs % (mbs * layout.dp):
        raise ValueError(
            f"global_batch_size {gbs} is not a multiple of micro_batch_size × data-parallel size = {mbs} × {layout.dp}"
        )
    num_microbatches = gbs // (mbs * layout.dp)
    tokenizer = build_tokenizer(cfg.data, shape.vocab_size)
    blend = read_blend(cfg.data)
    eval_samples = cfg.eval.iters * gbs if cfg.eval.interval else 0
    cache_dir = cfg.data.cache_dir or str(Path(cfg.output_dir) / "data_cache")
    train_ds, valid_ds, _ = build_datasets(
        cfg.data, blend, tokenizer, cfg.seq_length, cfg.seed, (cfg.train_iters * gbs, eval_samples, 0), cache_dir
    )
    if cfg.eval.interval and valid_ds is None:
        raise DataError("train.eval.interval is set but the blend has no valid split")
    train_batches = batch_iterator(
        train_ds, consumed, mbs, layout.dp_rank, layout.dp, cfg.data.num_workers, pin_memory=layout.on_gpu
    )

    # --- the loop -----------------------------------------------------------------------------------------------
    forward_backward = get_forward_backward_func()
    step_fn = partial(_forward_step, device=device, cp=layout.cp)
    tokens_per_step = gbs * cfg.seq_length
    flops_per_token = shape.training_flops_per_token(cfg.seq_length)
    peak = cfg.logging.peak_tflops or default_peak_tflops(cfg.precision)
    run_info = {"stage": stage, "config": cfg.model_dump(mode="json")}
    first_iteration = iteration
    _print_header(log, cfg, stage, layout, shape, num_microbatches, blend, use_te)
    log.event("start", iteration=iteration, stage=stage, world_size=layout.world_size, dp=layout.dp)
    save_kwargs = dict(optimizer_format=cfg.checkpoint.optimizer_format, keep_last=cfg.checkpoint.keep_last)
    last_saved = latest
    model.train()
    with PreemptionHandler() as preemption:
        while iteration < cfg.train_iters:
            started = time.perf_counter()
            model.zero_grad_buffer()
            optimizer.zero_grad()
            losses = forward_backward(
                forward_step_func=step_fn,
                data_iterator=train_batches,
                model=[model],
                num_microbatches=num_microbatches,
                seq_length=cfg.seq_length,
                micro_batch_size=mbs,
                forward_only=False,
            )
            loss = _global_mean_loss(losses, device)
            # megatron's optimizer.step(), opened up so that a non-finite loss or gradient norm stops the run
            # before the update: the saved state is the one that produced it
            optimizer.prepare_grads()
            grad_norm = optimizer.clip_grad_norm(opt.clip_grad) if opt.clip_grad > 0 else optimizer.get_grad_norm()
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                path = checkpoint.save(
                    ckpt_root, iteration + 1, model, optimizer, scheduler, consumed, run_info=run_info,
                    prefix="nan_iter", **save_kwargs,
                )  # fmt: skip
                log.print(
                    f"[red]step {iteration + 1}: loss {loss}, gradient norm {grad_norm}: stopping before the update. "
                    f"The state that produced it (weights, optimizer, data position: {consumed:,} samples "
                    f"consumed) is saved in {path}; lower the learning rate or inspect the batch, then resume from "
                    f"{last_saved or 'the start'}"
                )
                log.event("nonfinite", iteration=iteration + 1, loss=str(loss), grad_norm=str(grad_norm))
                return _finish(log, cfg, stage, RunResult("nonfinite", iteration, str(path)))
            scheduler.step(1)  # the LR of this update: warmup reaches opt.lr at step warmup_iters
            optimizer.step_with_ready_grads()
            iteration += 1
            consumed += gbs
            seconds = time.perf_counter() - started

            if iteration % cfg.logging.interval == 0 or iteration == cfg.train_iters:
                tokens_per_s = tokens_per_step / seconds
                tflops = flops_per_token * tokens_per_s / layout.world_size / 1e12
                record = {
                    "loss": loss,
                    "lr": scheduler.get_lr(optimizer.param_groups[0]),
                    "grad_norm": float(grad_norm),
                    "step_seconds": seconds,
                    "tokens_per_s": tokens_per_s,
                    "tflops_per_device": tflops,
                    "mfu": tflops / peak if peak else None,
                    "consumed_samples": consumed,
                }
                log.train_step(iteration, cfg.train_iters, first_iteration, record)
            if cfg.eval.interval and (iteration % cfg.eval.interval == 0 or iteration == cfg.train_iters):
                log.eval_step(iteration, _evaluate(model, forward_backward, step_fn, valid_ds, cfg, layout, device))
                model.train()

            stop = preemption.should_stop(device)
            pause = exit_after is not None and iteration >= exit_after and iteration < cfg.train_iters
            interval = cfg.checkpoint.save_interval
            due = stop or pause or iteration == cfg.train_iters or (interval and iteration % interval == 0)
            if due and cfg.checkpoint.save:
                last_saved = checkpoint.save(
                    ckpt_root, iteration, model, optimizer, scheduler, consumed, run_info=run_info, **save_kwargs
                )
                log.print(f"checkpoint: {last_saved}")
            if stop:
                log.print(f"[yellow]{preemption.signal_name or 'a signal on another rank'}: saved step {iteration}, "
                          f"exiting with {EXIT_PREEMPTED} to be requeued")  # fmt: skip
                log.event("preempted", iteration=iteration, signal=preemption.signal_name)
                return _finish(log, cfg, stage, RunResult("preempted", iteration, str(last_saved)))
            if pause:
                log.print(f"stopping after step {iteration} as asked (--exit-after); resume with the same command")
                log.event("stopped", iteration=iteration)
                return _finish(log, cfg, stage, RunResult("stopped", iteration, str(last_saved)))
    log.event("finished", iteration=iteration)
    log.print(f"[green]{stage}: {iteration} steps done; checkpoint {last_saved}")
    return _finish(log, cfg, stage, RunResult("finished", iteration, str(last_saved) if last_saved else None))


def _finish(log: MetricsLogger, cfg: TrainConfig, stage: str, result: RunResult) -> RunResult:
    """Close the metrics and draw the loss curve (OUTPUT_DIR/loss.png) on the logging rank."""
    log.close()
    if log.enabled:
        from megatron_train.plots import plot_loss

        try:
            png = plot_loss(
                Path(cfg.output_dir) / "metrics.jsonl", Path(cfg.output_dir) / "loss.png", f"{cfg.model} {stage}"
            )
        except ImportError:  # a bare GPU image without matplotlib: metrics.jsonl has the numbers
            png = None
            log.print("matplotlib is not installed: no loss.png")
        if png is not None:
            log.print(f"loss curve: {png}")
    return result


def _forward_step(data_iterator, model, *, device: torch.device, cp: int):
    """One micro-batch forward: per-token losses, and the loss function megatron's schedule calls on them."""
    batch = {k: v.to(device, non_blocking=True) for k, v in next(data_iterator).items()}
    if cp > 1:
        from megatron.core.utils import get_batch_on_this_cp_rank

        batch = get_batch_on_this_cp_rank(batch)  # this rank's two sequence chunks (load-balanced causal split)
    output = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"])
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


def _evaluate(model, forward_backward, step_fn, valid_ds, cfg: TrainConfig, layout, device) -> float:
    """Mean loss over the first ``eval.iters`` global batches of the valid split (the same batches each time)."""
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


def _init_source(init_from: str, stage: str) -> Path:
    path = Path(init_from)
    if (path / checkpoint.MARKER).is_file():
        return path
    found = checkpoint.find_latest(path)
    if found is None:
        hint = " (run stage pretrain first: moru train --config ...)" if stage == "extend" else ""
        raise checkpoint.CheckpointError(f"checkpoint.init_from: no complete checkpoint under {path}{hint}")
    return found


def _print_header(log, cfg, stage, layout, shape, num_microbatches, blend, use_te) -> None:
    params = shape.num_parameters()
    data = "megatron-core MockGPTDataset" if blend is None else blend.origin
    scaling = f" + llama3 scaling ×{shape.rope_scaling_factor:g}" if shape.rope_scaling else ""
    log.print(
        f"{stage}: {cfg.model} ({params / 1e9:.3g}B parameters, {shape.num_layers} layers, d {shape.hidden_size}, "
        f"RoPE θ {shape.rotary_base:g}{scaling}) "
        f"| {'GPU' if layout.on_gpu else 'CPU'} × {layout.world_size}: TP {layout.tp} PP {layout.pp} CP {layout.cp} "
        f"DP {layout.dp} | {cfg.precision}{' (Transformer Engine)' if use_te else ' (local spec)'} "
        f"| seq {cfg.seq_length} × global batch {cfg.global_batch_size} ({num_microbatches} micro-batches of "
        f"{cfg.micro_batch_size} per rank) | {cfg.train_iters} steps | data: {data}"
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m megatron_train.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-c", required=True, help="moru YAML config (its train section)")
    parser.add_argument("--stage", choices=STAGES, default="pretrain")
    parser.add_argument("--exit-after", type=int, default=None, metavar="N", help="save and stop after step N")
    parser.add_argument("--print-config", action="store_true", help="print the stage's resolved config and exit")
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
