"""What every training method shares: model → megatron-core DDP → distributed optimizer → LR schedule, resume or
initialize from a checkpoint, and the loop (forward/backward, non-finite guard, clip, update, log, evaluate,
checkpoint, preemption). Pretraining (megatron_train.train), SFT, reward models and preference optimisation
(megatron_train.sft / reward / preference) differ only in their :class:`Task`: the data, the forward step and
loss, and what a step reports.

Exit codes of a run: 0 finished; 2 bad config or data; 3 a non-finite loss or gradient norm stopped the run (its
state is saved under ``nan_iter_*`` for inspection); 75 preempted by SIGTERM/SIGUSR1 after saving.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from megatron_train import checkpoint, cpu_compat, distributed
from megatron_train.config import TrainConfig
from megatron_train.metrics import MetricsLogger, default_peak_tflops
from megatron_train.model import build_gpt_model, transformer_config, use_transformer_engine
from megatron_train.preemption import EXIT_PREEMPTED, PreemptionHandler

EXIT_OK, EXIT_CONFIG, EXIT_NONFINITE = 0, 2, 3


@dataclass
class RunResult:
    status: str  # finished | stopped (exit_after) | preempted | nonfinite
    iteration: int
    checkpoint: str | None
    extra: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"finished": EXIT_OK, "stopped": EXIT_OK, "preempted": EXIT_PREEMPTED, "nonfinite": EXIT_NONFINITE}[
            self.status
        ]


@dataclass
class Engine:
    """A built run: the DDP-wrapped model, its optimizer and scheduler, and where it runs."""

    cfg: TrainConfig
    layout: distributed.Layout
    model: Any  # megatron-core DistributedDataParallel
    optimizer: Any
    scheduler: Any
    tconfig: Any
    use_te: bool
    device: torch.device
    log: MetricsLogger

    @property
    def thd(self) -> bool:
        """Packed rows go through Transformer Engine's THD attention (else a block-diagonal mask)."""
        return self.use_te

    def unwrapped(self):
        """The GPTModel (or subclass) inside DDP and the bf16 wrapper."""
        module = self.model.module
        return getattr(module, "module", module)


class Task(Protocol):
    """One training method, as the loop sees it."""

    num_microbatches: int

    def batches(self, consumed: int) -> Iterator:
        """This rank's micro-batches from sample ``consumed`` on."""

    def forward_step(self, data_iterator, model):
        """megatron's forward step: (output, loss function)."""

    def samples_per_step(self) -> int:
        """Samples (packed rows, pairs) one optimizer step consumes across data-parallel ranks."""

    def reduce(self, losses: list[dict]) -> dict:
        """The step's metrics from the loss functions' reduced dicts: ``loss`` (a float on every rank) and more."""

    def evaluate(self, engine: Engine) -> dict | None:
        """Metrics on held-out data, or None."""


def running(cfg: TrainConfig) -> contextlib.AbstractContextManager:
    """The CPU compatibility context where there is no GPU (megatron_train.cpu_compat), else nothing."""
    return cpu_compat.enabled() if cpu_compat.needed() else contextlib.nullcontext()


def build(cfg: TrainConfig, layout: distributed.Layout, console=None, *, per_token_loss: bool = False,
          model_builder: Callable | None = None, log_dir: str | None = None) -> Engine:  # fmt: skip
    """GPTModel (``model_builder(cfg, tconfig, use_te, pre_process, post_process)`` for another head) → bf16
    wrapper → DDP → distributed AdamW → schedule. ``per_token_loss``: the loss functions return (sum, count,
    metrics) and gradients are divided by the global count (megatron-core's ``calculate_per_token_loss``)."""
    from megatron.core import parallel_state as ps
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig, finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
    from megatron.core.transformer.module import Float16Module

    device = torch.device("cuda", torch.cuda.current_device()) if layout.on_gpu else torch.device("cpu")
    log = MetricsLogger(log_dir or cfg.output_dir, layout.is_logging_rank, cfg.logging.tensorboard, console)
    use_te = use_transformer_engine(cfg, layout.on_gpu)
    tconfig = transformer_config(cfg, layout.on_gpu, use_te)
    tconfig.calculate_per_token_loss = per_token_loss
    builder = model_builder or build_gpt_model
    gpt = builder(cfg, tconfig, use_te, pre_process=ps.is_pipeline_first_stage(),
                  post_process=ps.is_pipeline_last_stage())  # fmt: skip
    if layout.on_gpu:
        gpt.cuda(torch.cuda.current_device())
    if tconfig.bf16:
        gpt = Float16Module(tconfig, gpt)
    opt = cfg.optimizer
    muon = opt.name == "muon"
    ddp_config = DistributedDataParallelConfig(
        grad_reduce_in_fp32=True,
        use_distributed_optimizer=not muon,  # Muon needs whole matrices: gradients all-reduced, state unsharded
        overlap_grad_reduce=layout.on_gpu,  # needs CUDA streams
        average_in_collective=layout.on_gpu and not per_token_loss,
    )
    model = DistributedDataParallel(config=tconfig, ddp_config=ddp_config, module=gpt)
    megatron_opt_config = OptimizerConfig(
        optimizer="adam", lr=opt.lr, min_lr=opt.min_lr, weight_decay=opt.weight_decay, adam_beta1=opt.adam_beta1,
        adam_beta2=opt.adam_beta2, adam_eps=opt.adam_eps, clip_grad=opt.clip_grad, bf16=tconfig.bf16,
        params_dtype=tconfig.params_dtype, use_distributed_optimizer=not muon,
    )  # fmt: skip
    if muon:
        from megatron_train.muon import get_muon_optimizer

        optimizer = get_muon_optimizer(megatron_opt_config, model, opt)
    else:
        optimizer = get_megatron_optimizer(megatron_opt_config, [model])
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
    # the hooks megatron's forward/backward uses: gradient all-reduce / reduce-scatter across data-parallel ranks,
    # tied-embedding and sequence-parallel norm gradients (and the per-token division), loss scaling
    tconfig.no_sync_func = model.no_sync
    tconfig.finalize_model_grads_func = finalize_model_grads
    tconfig.grad_scale_func = optimizer.scale_loss
    return Engine(cfg, layout, model, optimizer, scheduler, tconfig, use_te, device, log)


def restore(engine: Engine, init_hint: str = "", partial_init: tuple[str, ...] = ()) -> tuple[int, int, Path | None]:
    """Resume this run from its newest checkpoint, else start from ``checkpoint.init_from`` (weights, and the
    optimizer when ``init_optimizer``). ``partial_init``: parameter-name prefixes the init checkpoint may lack
    (a reward head over a language model). Returns (iteration, consumed samples, the checkpoint resumed from)."""
    cfg, log = engine.cfg, engine.log
    latest = checkpoint.find_latest(cfg.checkpoint_dir)
    shape = cfg.shape()
    if latest is not None:
        checkpoint.check_shape(latest, shape)
        marker = checkpoint.load(latest, engine.model, engine.optimizer, engine.scheduler)
        log.print(f"resumed from {latest} at step {marker['iteration']} "
                  f"({marker['consumed_samples']:,} samples consumed)")  # fmt: skip
        return marker["iteration"], marker["consumed_samples"], latest
    if cfg.checkpoint.init_from:
        source = init_source(cfg.checkpoint.init_from, init_hint)
        checkpoint.check_shape(source, shape)
        checkpoint.load(source, engine.model, engine.optimizer, engine.scheduler,
                        with_optimizer=cfg.checkpoint.init_optimizer, with_scheduler=False,
                        missing_ok=partial_init)  # fmt: skip
        what = "model weights and optimizer state" if cfg.checkpoint.init_optimizer else "model weights"
        log.print(f"initialized from {source} ({what})")
    return 0, 0, None


def init_source(init_from: str, hint: str = "") -> Path:
    """A checkpoint folder, or the newest complete one under a checkpoint root."""
    path = Path(init_from)
    if (path / checkpoint.MARKER).is_file():
        return path
    found = checkpoint.find_latest(path)
    if found is None:
        raise checkpoint.CheckpointError(f"checkpoint.init_from: no complete checkpoint under {path}{hint}")
    return found


def train_loop(engine: Engine, task: Task, *, stage: str, iteration: int, consumed: int, last_saved: Path | None,
               run_info: dict, exit_after: int | None = None, tokens_per_sample: int = 0,
               flops_per_token: float | None = None) -> RunResult:  # fmt: skip
    """Steps until ``train_iters`` (or a stop): the step's non-finite loss or gradient norm stops the run before
    the update, with the state that produced it saved under ``nan_iter_*``."""
    from megatron.core.pipeline_parallel import get_forward_backward_func

    cfg, layout, log = engine.cfg, engine.layout, engine.log
    model, optimizer, scheduler = engine.model, engine.optimizer, engine.scheduler
    forward_backward = get_forward_backward_func()
    batches = task.batches(consumed)
    peak = cfg.logging.peak_tflops or default_peak_tflops(cfg.precision)
    first_iteration = iteration
    ckpt_root = cfg.checkpoint_dir
    save_kwargs = dict(optimizer_format=cfg.checkpoint.optimizer_format, keep_last=cfg.checkpoint.keep_last)
    log.event("start", iteration=iteration, stage=stage, world_size=layout.world_size, dp=layout.dp)
    clip = cfg.optimizer.clip_grad
    model.train()
    with PreemptionHandler() as preemption:
        while iteration < cfg.train_iters:
            started = time.perf_counter()
            model.zero_grad_buffer()
            optimizer.zero_grad()
            losses = forward_backward(
                forward_step_func=task.forward_step, data_iterator=batches, model=[model],
                num_microbatches=task.num_microbatches, seq_length=cfg.seq_length,
                micro_batch_size=cfg.micro_batch_size, forward_only=False,
            )  # fmt: skip
            record = task.reduce(losses)
            loss = record["loss"]
            # megatron's optimizer.step(), opened up so that a non-finite loss or gradient norm stops the run
            # before the update: the saved state is the one that produced it
            optimizer.prepare_grads()
            grad_norm = clip_grad_norm(optimizer, clip)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                path = checkpoint.save(ckpt_root, iteration + 1, model, optimizer, scheduler, consumed,
                                       run_info=run_info, prefix="nan_iter", **save_kwargs)  # fmt: skip
                log.print(
                    f"[red]{stage} step {iteration + 1}: loss {loss}, gradient norm {grad_norm}: stopping before the "
                    f"update. The state that produced it (weights, optimizer, data position: {consumed:,} samples "
                    f"consumed) is saved in {path}; lower the learning rate or inspect the batch, then resume from "
                    f"{last_saved or 'the start'}"
                )
                log.event("nonfinite", iteration=iteration + 1, loss=str(loss), grad_norm=str(grad_norm))
                return finish(engine, stage, RunResult("nonfinite", iteration, str(path)))
            scheduler.step(1)  # the LR of this update: warmup reaches lr at step warmup_iters
            optimizer.step_with_ready_grads()
            iteration += 1
            consumed += task.samples_per_step()
            seconds = time.perf_counter() - started

            if iteration % cfg.logging.interval == 0 or iteration == cfg.train_iters:
                tokens = record.pop("tokens", None) or task.samples_per_step() * tokens_per_sample
                tokens_per_s = tokens / seconds
                tflops = (flops_per_token * tokens_per_s / layout.world_size / 1e12) if flops_per_token else None
                record.update({
                    "lr": scheduler.get_lr(optimizer.param_groups[0]), "grad_norm": float(grad_norm),
                    "step_seconds": seconds, "tokens_per_s": tokens_per_s, "tflops_per_device": tflops,
                    "mfu": tflops / peak if (peak and tflops) else None, "consumed_samples": consumed,
                })  # fmt: skip
                if layout.on_gpu:  # the run's peak so far (weights, optimizer state, activations)
                    record["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
                log.train_step(iteration, cfg.train_iters, first_iteration, record)
            if cfg.eval.interval and (iteration % cfg.eval.interval == 0 or iteration == cfg.train_iters):
                result = task.evaluate(engine)
                if result is not None:
                    log.eval_step(iteration, result)
                model.train()

            stop = preemption.should_stop(engine.device)
            pause = exit_after is not None and iteration >= exit_after and iteration < cfg.train_iters
            interval = cfg.checkpoint.save_interval
            due = stop or pause or iteration == cfg.train_iters or (interval and iteration % interval == 0)
            if due and cfg.checkpoint.save:
                last_saved = checkpoint.save(ckpt_root, iteration, model, optimizer, scheduler, consumed,
                                             run_info=run_info, **save_kwargs)  # fmt: skip
                log.print(f"checkpoint: {last_saved}")
            if stop:
                log.print(f"[yellow]{preemption.signal_name or 'a signal on another rank'}: saved step {iteration}, "
                          f"exiting with {EXIT_PREEMPTED} to be requeued")  # fmt: skip
                log.event("preempted", iteration=iteration, signal=preemption.signal_name)
                return finish(engine, stage, RunResult("preempted", iteration, str(last_saved)))
            if pause:
                log.print(f"stopping after step {iteration} as asked (--exit-after); resume with the same command")
                log.event("stopped", iteration=iteration)
                return finish(engine, stage, RunResult("stopped", iteration, str(last_saved)))
    log.event("finished", iteration=iteration)
    log.print(f"[green]{stage}: {iteration} steps done; checkpoint {last_saved}")
    return finish(engine, stage, RunResult("finished", iteration, str(last_saved) if last_saved else None))


def clip_grad_norm(optimizer, clip: float) -> float:
    """The global gradient norm, gradients clipped to ``clip`` (0: not clipped). A ChainedOptimizer of several
    (MoE: dense + expert parameters; Muon: Muon + AdamW parts) has no clip_grad_norm of its own in megatron-core
    0.16: its norm is over all of them, each part clipped by that total, as its own step() does."""
    chained = getattr(optimizer, "chained_optimizers", None)
    if not chained or len(chained) == 1:
        return optimizer.clip_grad_norm(clip) if clip > 0 else optimizer.get_grad_norm()
    from megatron.core.optimizer.clip_grads import clip_grad_by_total_norm_fp32

    grad_norm = optimizer.get_grad_norm()
    if clip > 0:
        for opt in chained:
            params = opt.get_parameters()
            if params:
                decoupled = opt.config.use_precision_aware_optimizer_no_fp8_or_ds_fp8
                clip_grad_by_total_norm_fp32(params, max_norm=clip, total_norm=grad_norm, use_decoupled_grad=decoupled)
    return grad_norm


def finish(engine: Engine, stage: str, result: RunResult) -> RunResult:
    """Close the metrics and draw the loss curve (OUTPUT_DIR/loss.png) on the logging rank."""
    cfg, log = engine.cfg, engine.log
    log.close()
    if log.enabled:
        from megatron_train.plots import plot_loss

        try:
            png = plot_loss(Path(cfg.output_dir) / "metrics.jsonl", Path(cfg.output_dir) / "loss.png",
                            f"{cfg.model} {stage}")  # fmt: skip
        except ImportError:  # a bare GPU image without matplotlib: metrics.jsonl has the numbers
            png = None
            log.print("matplotlib is not installed: no loss.png")
        if png is not None:
            log.print(f"loss curve: {png}")
    return result


def reduce_sums(losses: list[dict], key: str, device: torch.device) -> torch.Tensor:
    """Per-micro-batch vectors of sums under ``key``, summed over micro-batches and data-parallel ranks (the
    post-training methods run without pipeline parallelism, so every rank has them)."""
    from megatron.core import parallel_state as ps

    total = torch.stack([d[key].float() for d in losses]).sum(0).to(device)
    torch.distributed.all_reduce(total, group=ps.get_data_parallel_group())
    return total


def microbatches(cfg: TrainConfig, layout: distributed.Layout) -> int:
    """Micro-batches per rank and step: global batch / (micro-batch × data-parallel size), which must divide."""
    mbs, gbs = cfg.micro_batch_size, cfg.global_batch_size
    if gbs % (mbs * layout.dp):
        raise ValueError(f"global_batch_size {gbs} is not a multiple of micro_batch_size × data-parallel size = "
                         f"{mbs} × {layout.dp}")  # fmt: skip
    return gbs // (mbs * layout.dp)


def check_alignment_layout(cfg: TrainConfig) -> None:
    """Packed post-training rows vary in length: no pipeline parallelism (its p2p shapes are fixed) and no context
    parallelism (THD with CP needs per-sequence padding moru does not do yet)."""
    if cfg.parallel.pipeline > 1:
        raise ValueError("post-training methods run without pipeline parallelism (set parallel.pipeline: 1; use "
                         "tensor and data parallelism)")  # fmt: skip
    if cfg.parallel.context > 1:
        raise ValueError("post-training methods run without context parallelism (set parallel.context: 1)")
