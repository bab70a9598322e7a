"""The ``train`` config section: model, parallelism, precision, batch, optimizer, schedule, data, checkpoints.

Stage 1 (``pretrain``) uses the section as written; stage 2 (``extend``, 32K context extension) is the same
section with ``train.extend`` merged over it (nested mappings merge key by key), e.g.::

    train:
      model: exaone-3.5-2.4b
      model_overrides: {rotary_base: 500000, rope_scaling: false}   # stage 1: 4K, θ 500k
      seq_length: 4096
      data: {blend: emit/stage1_blend.json, tokenizer: tokenizer/}
      extend:
        seq_length: 32768
        model_overrides: {rotary_base: 1000000, rope_scaling: true}
        data: {blend: emit/stage2_blend.json}
        recompute: {granularity: full}
        parallel: {context: 2}

A blend JSON maps each split to megatron's flattened list of weights and path prefixes (the ``.bin``/``.idx``
pair without its suffix): ``{"train": [0.7, "data/ko_web", 0.3, "data/en_web"], "valid": [...], "test": [...]}``;
a missing split is not built. Relative paths are relative to the config file.

This module imports neither torch nor megatron-core, so ``moru check-config`` stays fast.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from core import locations
from core.config import ConfigError, read_yaml
from core.paths import ConfigPath, resolve
from megatron_train.model_configs import PRESETS, ModelShape, resolve_shape

STAGES = ("pretrain", "extend")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParallelConfig(_Section):
    """``train.parallel``: model-parallel sizes; data parallelism is what is left of the world size."""

    tensor: int = Field(default=1, ge=1)
    pipeline: int = Field(default=1, ge=1)
    context: int = Field(default=1, ge=1, description="context parallelism (needs Transformer Engine attention)")
    sequence_parallel: bool | None = Field(default=None, description="default: tensor > 1 with TE")


class Fp8Config(_Section):
    """``train.fp8``: Transformer Engine FP8 settings, used when ``precision: fp8``."""

    format: Literal["hybrid", "e4m3"] = Field(default="hybrid", description="hybrid: E4M3 forward, E5M2 grads")
    recipe: Literal["delayed", "current"] = Field(
        default="delayed", description="delayed: amax history; current: per-tensor current scaling"
    )
    amax_history_len: int = Field(default=1024, ge=1)
    amax_compute_algo: Literal["max", "most_recent"] = "max"
    margin: int = Field(default=0, ge=0)


class OptimizerConfig(_Section):
    """``train.optimizer``: AdamW (megatron-core's distributed optimizer) and gradient clipping."""

    lr: float = Field(default=3e-4, gt=0, description="peak learning rate")
    min_lr: float = Field(default=3e-5, ge=0)
    init_lr: float = Field(default=0.0, ge=0, description="learning rate at the start of warmup")
    weight_decay: float = Field(default=0.1, ge=0)
    adam_beta1: float = Field(default=0.9, gt=0, lt=1)
    adam_beta2: float = Field(default=0.95, gt=0, lt=1)
    adam_eps: float = Field(default=1e-8, gt=0)
    clip_grad: float = Field(default=1.0, ge=0, description="max global gradient norm (0: no clipping)")

    @model_validator(mode="after")
    def _order(self):
        if not self.init_lr <= self.lr or not self.min_lr <= self.lr:
            raise ValueError(f"need init_lr <= lr and min_lr <= lr (got {self.init_lr}, {self.min_lr}, {self.lr})")
        return self


class ScheduleConfig(_Section):
    """``train.schedule``: linear warmup, then cosine / WSD (warmup-stable-decay) / linear / constant."""

    style: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_iters: int = Field(default=0, ge=0)
    decay_iters: int | None = Field(default=None, gt=0, description="end of the decay (default: train_iters)")
    wsd_decay_iters: int | None = Field(
        default=None, gt=0, description="wsd: length of the final decay (default: 10% of decay_iters)"
    )
    wsd_decay_style: Literal["linear", "cosine", "exponential", "minus_sqrt"] = "linear"


class DataConfig(_Section):
    """``train.data``: where training sequences come from (BlendedMegatronDatasetBuilder)."""

    blend: ConfigPath | None = Field(default=None, description="blend JSON: {train|valid|test: [w, prefix, ...]}")
    blend_per_split: dict[str, list[Any]] | None = Field(default=None, description="the blend JSON's content inline")
    mock: bool = Field(default=False, description="megatron-core's MockGPTDataset instead of a blend")
    tokenizer: ConfigPath | None = Field(
        default=None, description="tokenizer folder (MegatronTokenizer.from_pretrained); real data needs it for EOD"
    )
    cache_dir: ConfigPath | None = Field(default=None, description="index cache (default: OUTPUT_DIR/data_cache)")
    num_workers: int = Field(default=0, ge=0, description="DataLoader worker processes per rank")
    eod_mask_loss: bool = False
    reset_position_ids: bool = False
    reset_attention_mask: bool = False

    @field_validator("blend_per_split")
    @classmethod
    def _splits(cls, v):
        if v is not None:
            bad = set(v) - {"train", "valid", "test"}
            if bad:
                raise ValueError(f"splits are train, valid and test (got {sorted(bad)})")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        sources = [self.blend is not None, self.blend_per_split is not None, self.mock]
        if sum(sources) != 1:
            raise ValueError("set exactly one of blend (a blend JSON), blend_per_split, or mock: true")
        return self


class CheckpointConfig(_Section):
    """``train.checkpoint``: sharded megatron-core dist_checkpointing checkpoints, saved atomically."""

    dir: ConfigPath | None = Field(default=None, description="default: OUTPUT_DIR/checkpoints")
    save: bool = Field(
        default=True,
        description="False: no checkpoint is written, not even at the end or on preemption (throughput benchmarks)",
    )
    save_interval: int | None = Field(default=None, gt=0, description="iterations between saves (also at the end)")
    keep_last: int | None = Field(default=2, gt=0, description="older iter_* folders are deleted (None: keep all)")
    optimizer_format: Literal["dp_reshardable", "fully_reshardable"] = Field(
        default="dp_reshardable",
        description="DistributedOptimizer layout: dp_reshardable loads at another DP size; fully_reshardable "
        "also at other TP/PP sizes (gathers optimizer state on DP rank 0 when saving)",
    )
    init_from: ConfigPath | None = Field(
        default=None,
        description="checkpoint folder whose model weights start this run when its own dir holds none "
        "(extend: default the pretrain stage's checkpoints)",
    )
    init_optimizer: bool = Field(default=False, description="also take optimizer state from init_from")


class LoggingConfig(_Section):
    """``train.logging``: console, TensorBoard and metrics.jsonl."""

    interval: int = Field(default=1, gt=0, description="iterations between log lines")
    tensorboard: bool = True
    peak_tflops: float | None = Field(
        default=None, gt=0, description="per-device peak for MFU (default: known GPUs; none on CPU)"
    )


class EvalConfig(_Section):
    """``train.eval``: validation loss on the valid split."""

    interval: int = Field(default=0, ge=0, description="iterations between evaluations (0: never)")
    iters: int = Field(default=10, gt=0, description="global batches per evaluation")


class RecomputeConfig(_Section):
    """``train.recompute``: activation recomputation."""

    granularity: Literal["full", "selective"] | None = None
    method: Literal["uniform", "block"] = "uniform"
    num_layers: int = Field(default=1, gt=0)


class TrainConfig(_Section):
    """``train``: one training run (stage 1); ``extend`` holds what stage 2 changes."""

    model: str = Field(default="tiny", description=f"preset: {', '.join(PRESETS)}")
    model_overrides: dict[str, Any] = Field(default_factory=dict, description="preset fields to replace")
    transformer_impl: Literal["auto", "local", "transformer_engine"] = Field(
        default="auto", description="auto: Transformer Engine layer spec on GPU, megatron-core's local spec on CPU"
    )
    precision: Literal["fp32", "bf16", "fp8"] = "bf16"
    fp8: Fp8Config = Field(default_factory=Fp8Config)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    seq_length: int = Field(default=4096, gt=0)
    micro_batch_size: int = Field(default=1, gt=0)
    global_batch_size: int = Field(default=8, gt=0)
    train_iters: int = Field(default=100, gt=0)
    seed: int = 1234
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    data: DataConfig = Field(default_factory=lambda: DataConfig(mock=True))
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    recompute: RecomputeConfig = Field(default_factory=RecomputeConfig)
    output_dir: ConfigPath | None = Field(default=None, description="default: WORKDIR/train/<stage>")
    nproc_per_node: int | None = Field(default=None, gt=0, description="processes (default: GPUs, or 1 on CPU)")
    extend: dict[str, Any] = Field(
        default_factory=lambda: {"seq_length": 32768},
        description="stage 2 (moru train --stage extend): fields merged over this section",
    )

    # the folder relative paths resolve against (kept so that train.extend's paths, merged later, resolve alike)
    _config_dir: str | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        self._config_dir = context.get("config_dir") if isinstance(context, dict) else None

    @model_validator(mode="after")
    def _consistent(self):
        self.shape()  # unknown preset or bad override
        sched = self.schedule
        decay = sched.decay_iters or self.train_iters
        if sched.warmup_iters >= decay:
            raise ValueError(f"schedule.warmup_iters ({sched.warmup_iters}) must be < decay_iters ({decay})")
        wsd = sched.style == "wsd" and sched.wsd_decay_iters is not None
        if wsd and sched.wsd_decay_iters > decay - sched.warmup_iters:
            raise ValueError("schedule.wsd_decay_iters is longer than the decay phase")
        if self.global_batch_size % self.micro_batch_size:
            raise ValueError(
                f"global_batch_size {self.global_batch_size} is not a multiple of micro_batch_size "
                f"{self.micro_batch_size}"
            )
        self._check_extend()
        return self

    def shape(self) -> ModelShape:
        try:
            return resolve_shape(self.model, self.model_overrides)
        except ValidationError as exc:
            raise ValueError(_errors(exc, "model_overrides.")) from None

    def for_stage(self, stage: str, workdir: str | None) -> TrainConfig:
        """The concrete config of one stage: extend merged in, output and checkpoint folders filled in."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        base = self.model_dump()
        base.pop("extend")
        if stage == "extend":
            data = _deep_merge(base, self.extend)
        else:
            data = base
        data["extend"] = {}
        if data.get("output_dir") is None or (stage == "extend" and "output_dir" not in self.extend):
            if workdir is None:
                raise ValueError("train.output_dir is not set and there is no workdir to put train/<stage> under")
            data["output_dir"] = locations.train_output(workdir, stage)
        if stage == "extend" and not (self.extend.get("checkpoint") or {}).get("dir"):
            data["checkpoint"]["dir"] = None
        if stage == "extend" and not data["checkpoint"].get("init_from"):
            data["checkpoint"]["init_from"] = self.for_stage("pretrain", workdir).checkpoint_dir
        try:
            return TrainConfig.model_validate(data, context={"config_dir": self._config_dir})
        except ValidationError as exc:
            raise ValueError(f"train.extend merged over train: {_errors(exc)}") from None

    def _check_extend(self) -> None:
        if not self.extend:
            return
        if "extend" in self.extend:
            raise ValueError("extend cannot itself hold extend")
        data = _deep_merge({k: v for k, v in self.model_dump().items() if k != "extend"}, self.extend)
        data["extend"] = {}
        try:
            TrainConfig.model_validate(data, context={"config_dir": self._config_dir})
        except ValidationError as exc:
            raise ValueError(f"extend (merged over train): {_errors(exc, 'extend.')}") from None

    @property
    def checkpoint_dir(self) -> str:
        if self.checkpoint.dir:
            return self.checkpoint.dir
        if not self.output_dir:
            raise ValueError("no checkpoint.dir and no output_dir (call for_stage first)")
        return str(Path(self.output_dir) / "checkpoints")


_DATA_SOURCES = ("blend", "blend_per_split", "mock")


def _deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``: mappings key by key (``model_overrides`` too), other values replaced; a data
    source set in ``over`` (blend, blend_per_split or mock) replaces the base's source instead of adding one."""
    out = copy.deepcopy(base)
    data_over = over.get("data")
    if isinstance(data_over, dict) and isinstance(out.get("data"), dict) and set(data_over) & set(_DATA_SOURCES):
        for key in _DATA_SOURCES:
            out["data"][key] = False if key == "mock" else None
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "model_overrides":
            out[key] = _deep_merge(out[key], value)
        elif key == "model_overrides" and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def _errors(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        key = prefix + (".".join(str(p) for p in err["loc"]) or "(top level)")
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{key}: {msg}")
    return "; ".join(parts)


# --- paths and loading ----------------------------------------------------------------------------------------


class TrainConfigError(ValueError):
    """A config whose ``train`` section (or workdir) cannot be used; the message names the bad keys."""


def load_train_config(path: str | Path) -> tuple[TrainConfig, str | None]:
    """``(train section, workdir)`` of a moru config file, without validating the other sections (the training
    processes launched by torchrun or srun read only these). Relative paths are relative to the config file."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None
    base = Path(path).resolve().parent
    workdir = data.get("workdir")
    if isinstance(workdir, str):
        workdir = resolve(workdir, base)
    try:
        cfg = TrainConfig.model_validate(data.get("train") or {}, context={"config_dir": str(base)})
    except ValidationError as exc:
        raise TrainConfigError(f"config error in {path}: {_errors(exc, 'train.')}") from None
    return cfg, workdir


def dump_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
