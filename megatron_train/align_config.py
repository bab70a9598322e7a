"""The ``align`` config section: SFT (M0), reward models, and staged preference optimisation (M1, M2, ...).

Each method's section holds its own options and any ``train`` keys it changes; the method's run is the ``train``
section with those keys merged over it (as ``train.extend`` is), its own output folder, and its starting
checkpoint::

    align:
      sft:                        # M0, from the pretrained checkpoint (default: WORKDIR/train/pretrain)
        train_iters: 200
        seq_length: 4096          # packed rows of the emitted SFT blend (<= this many tokens each)
        global_batch_size: 64     # packed rows per step
        optimizer: {lr: 1.0e-5, min_lr: 1.0e-6}
      reward:                     # reward models over M0, Bradley–Terry on the pair blend's train split
        models: 2                 # the agreement filter needs two
        train_iters: 100
      preference:                 # what every preference stage shares
        loss: dpo                 # dpo | ipo | simpo
        beta: 0.1
        global_batch_size: 32     # pairs per step
      stages:                     # M1 from M0, M2 from M1, ...; each on its shard of the train pairs
        - {name: M1, train_iters: 100}
        - {name: M2, train_iters: 100, beta: 0.05}
      agreement: {margin: 0.0}    # keep a pair when both reward models prefer its chosen side by > margin

Defaults where they are not given: data from the post-training emit (``WORKDIR/posttrain_emit/{sft,pairs}_blend.json``),
the tokenizer of the workdir, outputs under ``WORKDIR/align/<step>``. This module imports neither torch nor
megatron-core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core import locations, storage
from core.config import ConfigError, read_yaml
from core.paths import ConfigPath, resolve
from megatron_train.config import TrainConfig, _deep_merge, _errors

LOSS_DEFAULT_BETA = {"dpo": 0.1, "ipo": 0.1, "simpo": 2.5}


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SFTOptions(_Options):
    """Nothing beyond ``train`` keys yet; a section of its own so that SFT-only keys have a home."""


class RewardOptions(_Options):
    models: int = Field(default=2, ge=1, description="reward models trained (seeds seed, seed+1, ...)")
    pad_multiple: int = Field(default=0, ge=0, description="packed rows padded to a multiple (0: 128 on GPU, 8 on CPU)")


class PreferenceOptions(_Options):
    loss: Literal["dpo", "ipo", "simpo"] = "dpo"
    beta: float | None = Field(default=None, gt=0, description="default: 0.1 (dpo, ipo as TRL), 2.5 (simpo, paper)")
    gamma: float = Field(default=1.375, ge=0, description="simpo's target reward margin γ (paper: γ/β 0.55, β 2.5)")
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    pad_multiple: int = Field(default=0, ge=0, description="packed rows padded to a multiple (0: 128 on GPU, 8 on CPU)")

    @model_validator(mode="after")
    def _smoothing(self):
        if self.label_smoothing and self.loss == "ipo":
            raise ValueError("label_smoothing applies to dpo (conservative DPO) and simpo, not ipo")
        return self

    @property
    def beta_value(self) -> float:
        return self.beta if self.beta is not None else LOSS_DEFAULT_BETA[self.loss]


class AgreementConfig(_Options):
    enabled: bool = True
    margin: float = Field(default=0.0, ge=0, description="both reward models' chosen − rejected must exceed it")


class AlignConfig(_Options):
    init_from: ConfigPath | None = Field(default=None, description="M0's start (default: train/pretrain checkpoints)")
    sft: dict[str, Any] = Field(default_factory=dict)
    reward: dict[str, Any] = Field(default_factory=dict)
    preference: dict[str, Any] = Field(default_factory=lambda: {})
    stages: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "M1"}, {"name": "M2"}])
    agreement: AgreementConfig = Field(default_factory=AgreementConfig)

    @model_validator(mode="after")
    def _names(self):
        names = [s.get("name") for s in self.stages]
        if not self.stages:
            raise ValueError("stages: at least one preference stage")
        if any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
            raise ValueError(f"stages: each needs a unique name (got {names})")
        if set(names) & {"sft", "reward"}:
            raise ValueError("stages: 'sft' and 'reward' are the names of other steps")
        return self


def _split(section: dict, options: type[_Options], where: str) -> tuple[_Options, dict]:
    keys = set(options.model_fields)
    try:
        opts = options.model_validate({k: v for k, v in section.items() if k in keys})
    except ValidationError as exc:
        raise ValueError(f"align.{where}: {_errors(exc)}") from None
    return opts, {k: v for k, v in section.items() if k not in keys}


class Plan:
    """The concrete runs of an ``align`` section: each step's TrainConfig and options."""

    def __init__(self, train: TrainConfig, align: AlignConfig, workdir: str | None, config_dir: str | None):
        if workdir is None:
            raise ValueError("align needs a workdir (its outputs go under WORKDIR/align)")
        self.train, self.align, self.workdir, self.config_dir = train, align, workdir, config_dir
        self.sft_options, self._sft = _split(align.sft, SFTOptions, "sft")
        self.reward_options, self._reward = _split(align.reward, RewardOptions, "reward")
        shared, self._pref = _split(align.preference, PreferenceOptions, "preference")
        self.stage_names = [s["name"] for s in align.stages]
        self._stages = {}
        for i, stage in enumerate(align.stages):
            body = {k: v for k, v in stage.items() if k not in ("name", "shard")}
            opts, over = _split({**shared.model_dump(exclude_unset=True), **body}, PreferenceOptions,
                                f"stages[{i}]")  # fmt: skip
            shard = stage.get("shard", [i, len(align.stages)])
            if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
                raise ValueError(f"align.stages[{i}].shard: [k, n] with 0 <= k < n (got {shard!r})")
            self._stages[stage["name"]] = (opts, _deep_merge(self._pref, over), tuple(shard))
        for step in self.steps():  # every step's config is valid before anything runs
            self.config(step)

    def steps(self) -> list[str]:
        return ["sft", *[f"reward/rm{k + 1}" for k in range(self.reward_options.models)], *self.stage_names]

    def output(self, step: str) -> str:
        return locations.align_output(self.workdir, step)

    def blend(self, kind: str) -> str:
        return storage.join(locations.posttrain_emit_output(self.workdir), f"{kind}_blend.json")

    def init_from(self, step: str) -> str:
        if step == "sft":
            return self.align.init_from or str(Path(locations.train_output(self.workdir, "pretrain")) / "checkpoints")
        if step.startswith("reward/") or step == self.stage_names[0]:
            return str(Path(self.output("sft")) / "checkpoints")
        previous = self.stage_names[self.stage_names.index(step) - 1]
        return str(Path(self.output(previous)) / "checkpoints")

    def config(self, step: str) -> TrainConfig:
        """The step's TrainConfig: ``train`` with the step's keys merged over it."""
        if step == "sft":
            over, kind = self._sft, "sft"
        elif step.startswith("reward/"):
            over, kind = self._reward, "pairs"
        elif step in self._stages:
            over, kind = self._stages[step][1], "pairs"
        else:
            raise ValueError(f"unknown align step {step!r}; steps: {', '.join(self.steps())}")
        base = {k: v for k, v in self.train.model_dump().items() if k != "extend"}
        base["extend"] = {}
        base["output_dir"] = None
        base["checkpoint"] = {**base["checkpoint"], "dir": None, "init_from": None}
        base["data"] = {"blend": self.blend(kind), "tokenizer": base["data"].get("tokenizer")
                        or locations.tokenizer_model(self.workdir)}  # fmt: skip
        data = _deep_merge(base, over)
        data["output_dir"] = data.get("output_dir") or self.output(step)
        if not data["checkpoint"].get("init_from"):
            data["checkpoint"]["init_from"] = self.init_from(step)
        if step.startswith("reward/"):
            data["seed"] = data.get("seed", self.train.seed) + int(step.removeprefix("reward/rm")) - 1
        try:
            return TrainConfig.model_validate(data, context={"config_dir": self.config_dir})
        except ValidationError as exc:
            raise ValueError(f"align {step} (merged over train): {_errors(exc)}") from None

    def preference(self, stage: str) -> tuple[PreferenceOptions, tuple[int, int]]:
        opts, _, shard = self._stages[stage]
        return opts, shard


def load_plan(path: str | Path) -> Plan:
    """The align plan of a moru config file (its ``train`` and ``align`` sections and ``workdir``)."""
    from megatron_train.config import TrainConfigError, load_train_config

    train, workdir = load_train_config(path)
    try:
        raw = read_yaml(path).get("align") or {}
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None
    base = str(Path(path).resolve().parent)
    try:
        align = AlignConfig.model_validate(raw, context={"config_dir": base})
    except ValidationError as exc:
        raise TrainConfigError(f"config error in {path}: {_errors(exc, 'align.')}") from None
    try:
        return Plan(train, align, workdir if workdir is None else resolve(workdir, Path(base)), base)
    except ValueError as exc:
        raise TrainConfigError(f"config error in {path}: {exc}") from None
