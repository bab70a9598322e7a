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

STAGES = ("pretrain", "extend", "long")
_PREVIOUS = {"extend": "pretrain", "long": "extend"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParallelConfig(_Section):
    """``train.parallel``: model-parallel sizes; data parallelism is what is left of the world size."""

    tensor: int = Field(default=1, ge=1)
    pipeline: int = Field(default=1, ge=1)
    context: int = Field(default=1, ge=1, description="context parallelism (needs Transformer Engine attention)")
    expert: int = Field(default=1, ge=1, description="expert parallelism (MoE models): experts split over EP ranks")
    expert_tensor: int | None = Field(
        default=None, ge=1, description="tensor parallelism inside experts (default: tensor)"
    )
    cp_comm_type: Literal["auto", "p2p", "all_gather", "a2a"] = Field(
        default="auto", description="TE context-parallel attention: auto = all_gather when the model has "
        "sliding-window layers (TE's p2p ring refuses a window), else p2p"
    )
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
    """``train.optimizer``: AdamW (megatron-core's distributed optimizer) or Muon (megatron_train.muon: Muon on the
    2-D weight matrices, AdamW on embeddings, output layer, norms and the MoE router), and gradient clipping."""

    name: Literal["adamw", "muon"] = Field(default="adamw", description="muon: Muon on matrices + AdamW on the rest")
    muon_momentum: float = Field(default=0.95, gt=0, lt=1)
    muon_nesterov: bool = True
    muon_ns_steps: int = Field(default=5, ge=1, description="Newton-Schulz iterations")
    muon_scale: float = Field(
        default=0.2, gt=0, description="update RMS (Moonlight: 0.2 matches AdamW's, so lr and weight decay carry over)"
    )
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


class MoeConfig(_Section):
    """``train.moe``: routing and balancing of MoE models (the shape's experts, top-k and router scores)."""

    load_balancing: Literal["seq_aux_loss", "aux_loss", "global_aux_loss", "none"] = Field(
        default="seq_aux_loss", description="auxiliary balancing loss: per sequence (K-EXAONE), per micro-batch, ..."
    )
    aux_loss_coeff: float = Field(default=1e-4, ge=0, description="weight of the balancing loss")
    z_loss_coeff: float | None = Field(default=None, ge=0, description="router z-loss weight (None: off; 1e-3 common)")
    capacity_factor: float | None = Field(
        default=None, gt=0, description="None: dropless (every token reaches its top-k experts); else drop beyond it"
    )
    token_dispatcher: Literal["auto", "alltoall", "allgather"] = Field(
        default="auto", description="auto: alltoall on GPUs, allgather on CPU"
    )
    grouped_gemm: bool | None = Field(default=None, description="grouped expert GEMMs (default: with TE)")
    router_dtype: Literal["fp32", "fp64"] | None = Field(default="fp32", description="router in fp32 (stability)")
    expert_bias: bool = Field(default=False, description="aux-loss-free balancing bias (sigmoid scores only)")
    log_expert_load: bool = Field(default=True, description="per-expert token counts in metrics.jsonl")


class MtpConfig(_Section):
    """``train.mtp``: the multi-token-prediction loss (depth is the shape's ``mtp_layers``)."""

    loss_weight: float = Field(default=0.1, ge=0, description="MTP loss weight (averaged over the MTP layers)")


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
    """``train``: one training run (stage 1); ``extend`` holds what stage 2 changes, ``long`` what stage 3 changes
    over stage 2."""

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
    moe: MoeConfig = Field(default_factory=MoeConfig)
    mtp: MtpConfig = Field(default_factory=MtpConfig)
    output_dir: ConfigPath | None = Field(default=None, description="default: WORKDIR/train/<stage>")
    nproc_per_node: int | None = Field(default=None, gt=0, description="processes (default: GPUs, or 1 on CPU)")
    extend: dict[str, Any] = Field(
        default_factory=lambda: {"seq_length": 32768},
        description="stage 2 (moru train --stage extend): fields merged over this section",
    )
    long: dict[str, Any] = Field(
        default_factory=dict,
        description="stage 3 (moru train --stage long, e.g. 32K -> 256K): fields merged over train + extend; "
        "starts from the extend stage's checkpoint",
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
        self._check_architecture()
        self._check_extend()
        return self

    def _check_architecture(self) -> None:
        """What megatron-core would reject later (or silently get wrong), said at config time, before any process
        group or GPU memory exists: MoE vs expert parallelism, window vs sequence, CP vs sequence, MTP vs
        pipeline layouts, Muon vs other settings."""
        shape, par = self.shape(), self.parallel
        if par.expert > 1 or par.expert_tensor not in (None, 1, par.tensor):
            if not shape.is_moe:
                raise ValueError(f"parallel.expert {par.expert} needs an MoE model ({self.model} has no experts)")
        if shape.is_moe and shape.num_experts % par.expert:
            raise ValueError(f"num_experts {shape.num_experts} is not divisible by parallel.expert {par.expert} "
                             "(each expert-parallel rank holds num_experts / expert experts)")  # fmt: skip
        if shape.is_moe and self.moe.expert_bias and shape.moe_score_function != "sigmoid":
            raise ValueError("moe.expert_bias needs moe_score_function sigmoid")
        if shape.window is not None and "L" in (shape.attention_pattern or "") and shape.window > self.seq_length:
            raise ValueError(f"window {shape.window} is longer than seq_length {self.seq_length}: the sliding-window "
                             "layers would be global (shorten the window or drop the L layers)")  # fmt: skip
        if par.context > 1:
            if self.seq_length % (2 * par.context):
                raise ValueError(f"seq_length {self.seq_length} is not divisible by 2 × parallel.context = "
                                 f"{2 * par.context} (context parallelism splits each sequence into 2 × CP "
                                 "load-balanced chunks)")  # fmt: skip
        swa = shape.window is not None and "L" in (shape.attention_pattern or "")
        if par.context > 1 and swa and par.cp_comm_type == "p2p":
            raise ValueError("parallel.cp_comm_type p2p with sliding-window layers: Transformer Engine's context "
                             "parallelism takes a window only with all_gather or a2a (use auto)")  # fmt: skip
        if par.context > 1 and par.cp_comm_type == "a2a" and (shape.num_attention_heads // par.tensor) % par.context:
            raise ValueError(f"parallel.cp_comm_type a2a needs the attention heads per tensor-parallel rank "
                             f"({shape.num_attention_heads // par.tensor}) divisible by parallel.context "
                             f"{par.context}")  # fmt: skip
        if par.tensor > 1 and shape.num_query_groups % par.tensor:
            raise ValueError(f"num_query_groups {shape.num_query_groups} is not divisible by parallel.tensor "
                             f"{par.tensor}")  # fmt: skip
        if shape.num_layers % par.pipeline:
            raise ValueError(f"num_layers {shape.num_layers} is not divisible by parallel.pipeline {par.pipeline}")
        if shape.mtp_layers and par.pipeline > 1:
            raise ValueError(f"mtp_layers {shape.mtp_layers} with parallel.pipeline {par.pipeline}: megatron-core 0.16 "
                             "builds every MTP layer on the last pipeline stage (a layout that splits them is "
                             "rejected) and that stage then needs its own copy of the input embedding, which moru's "
                             "pipeline path does not set up; train MTP models with pipeline 1 (tensor, expert, "
                             "context and data parallelism)")  # fmt: skip
        if shape.is_moe and par.expert > 1 and par.tensor > 1 and par.sequence_parallel is False:
            raise ValueError("expert parallelism with tensor parallelism needs sequence_parallel (megatron-core)")

    def shape(self) -> ModelShape:
        try:
            return resolve_shape(self.model, self.model_overrides)
        except ValidationError as exc:
            raise ValueError(_errors(exc, "model_overrides.")) from None

    def for_stage(self, stage: str, workdir: str | None) -> TrainConfig:
        """The concrete config of one stage: extend (and for ``long`` also long) merged in, output and checkpoint
        folders filled in; a later stage starts from the previous stage's checkpoints unless it names init_from."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        if stage == "long" and not self.long:
            raise ValueError("train.long is empty: stage long (e.g. the 32K -> 256K extension) merges train.long over "
                             "train + train.extend; set at least its seq_length")  # fmt: skip
        base = self.model_dump()
        base.pop("extend")
        base.pop("long")
        data = base
        over: dict = {}
        if stage in ("extend", "long"):
            data = _deep_merge(data, self.extend)
            over = self.extend
        if stage == "long":
            data = _deep_merge(data, self.long)
            over = self.long
        data["extend"], data["long"] = {}, {}
        if data.get("output_dir") is None or (stage != "pretrain" and "output_dir" not in over):
            if workdir is None:
                raise ValueError("train.output_dir is not set and there is no workdir to put train/<stage> under")
            data["output_dir"] = locations.train_output(workdir, stage)
        if stage != "pretrain" and not (over.get("checkpoint") or {}).get("dir"):
            data["checkpoint"]["dir"] = None
        if stage != "pretrain" and not (over.get("checkpoint") or {}).get("init_from"):
            data["checkpoint"]["init_from"] = self.for_stage(_PREVIOUS[stage], workdir).checkpoint_dir
        try:
            return TrainConfig.model_validate(data, context={"config_dir": self._config_dir})
        except ValidationError as exc:
            raise ValueError(f"train.{stage} merged over train: {_errors(exc)}") from None

    def _check_extend(self) -> None:
        for key in ("extend", "long"):
            value = getattr(self, key)
            if value and ("extend" in value or "long" in value):
                raise ValueError(f"{key} cannot itself hold extend or long")
        if not self.extend and not self.long:
            return
        data = {k: v for k, v in self.model_dump().items() if k not in ("extend", "long")}
        for key in ("extend", "long"):
            value = getattr(self, key)
            if not value:
                continue
            data = _deep_merge(data, value)
            data["extend"], data["long"] = {}, {}
            try:
                TrainConfig.model_validate(data, context={"config_dir": self._config_dir})
            except ValidationError as exc:
                where = "extend" if key == "extend" else "long (merged over train + extend)"
                raise ValueError(f"{where}: {_errors(exc, key + '.')}") from None

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
