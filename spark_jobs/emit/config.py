"""The ``emit`` section of the config: where the Megatron datasets go, how documents are split into train /
valid / test, how the blends are weighted, and what stage 2 (long context + replay) and stage 3 (longer context +
rehearsal) take."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.paths import ConfigPath

# Bump when the bytes emitted for the same input and settings change: a re-run then emits a new run.
FORMAT_VERSION = "1"


class SplitConfig(BaseModel):
    """``emit.split``: the share of documents in valid and test, drawn by a hash of ``doc_id`` (a document keeps
    its split on every run, in both stages, and whatever else the corpus gains or loses)."""

    model_config = ConfigDict(extra="forbid")

    valid: float = Field(default=0.005, ge=0, lt=0.5, description="share of documents in the valid split")
    test: float = Field(default=0.005, ge=0, lt=0.5, description="share of documents in the test split")
    seed: int = Field(default=0, ge=0, description="another seed draws other documents for valid and test")


class MultipliersConfig(BaseModel):
    """Blend weight multipliers: a dataset's weight is its token count times ``lang[its lang]`` times
    ``source[its source]`` (1 where not listed), so 1 everywhere samples every token equally often and
    ``lang: {ko: 2}`` samples Korean tokens twice as often as the others."""

    model_config = ConfigDict(extra="forbid")

    lang: dict[str, float] = Field(default_factory=dict, description="multiplier per lang value (default 1)")
    source: dict[str, float] = Field(default_factory=dict, description="multiplier per source name (default 1)")

    @model_validator(mode="after")
    def _non_negative(self):
        for kind, table in (("lang", self.lang), ("source", self.source)):
            for name, value in table.items():
                if value < 0:
                    raise ValueError(f"{kind}.{name}: a multiplier cannot be negative (got {value})")
        return self

    def factor(self, lang: str, source: str) -> float:
        return self.lang.get(lang, 1.0) * self.source.get(source, 1.0)


@dataclass(frozen=True)
class ExtensionStage:
    """A stage past stage 1 (stage 2, stage 3) as selection, tasks and blends use it: documents of at least
    ``min_tokens`` are ``long`` (cut into pieces of at most ``max_tokens``); shorter ones are sampled by a hash of
    doc_id and ``seed`` into ``sample_role`` (replay, rehearsal) until ``sample_share`` of the stage's tokens is
    theirs; the blend gives them ``sample_share`` of the weight."""

    stage: str
    sample_role: str
    min_tokens: int
    max_tokens: int
    sample_share: float
    seed: int
    multipliers: MultipliersConfig

    def tally(self) -> tuple:
        """What a stage-1 task needs to tally for the selection (plain values: it rides in the task closure)."""
        return (self.stage, self.min_tokens, self.max_tokens, self.seed, self.sample_role)


class Stage2Config(BaseModel):
    """``emit.stage2``: the 32K context-extension set (EXAONE 3.5): every document of at least ``min_tokens``
    tokens, cut into near-equal pieces of at most ``max_tokens`` when longer, plus a replayed sample of the
    shorter stage-1 documents so that ``replay_ratio`` of stage 2's tokens (and of its blend weight) is replay."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_tokens: int = Field(
        default=4096,
        ge=2,
        le=32_768,
        description="a document is long when it has at least this many tokens (its end-of-document token "
        "included); the default is stage 1's context, so stage 2 holds what stage 1 had to cut",
    )
    max_tokens: int = Field(
        default=32_768,
        ge=4,
        description="longest stage-2 document (end-of-document token included); longer documents are split into "
        "the fewest near-equal pieces that fit, each ending with the end-of-document token",
    )
    replay_ratio: float = Field(
        default=0.3,
        ge=0,
        lt=1,
        description="share of stage 2's tokens that are replayed stage-1 documents (shorter than min_tokens)",
    )
    multipliers: MultipliersConfig | None = Field(
        default=None, description="blend multipliers for stage 2 (default: emit.multipliers)"
    )
    seed: int = Field(default=0, ge=0, description="another seed replays other documents")

    @model_validator(mode="after")
    def _pieces_fit(self):
        # a document longer than max_tokens is split into k = ceil(c / (max - 1)) near-equal pieces of content
        # (c content tokens); each then has more than (max - 1) / 2 content tokens, so at least max // 2 tokens
        # with its end-of-document token: every piece is long too exactly when min_tokens <= max_tokens // 2
        if self.min_tokens > self.max_tokens // 2:
            raise ValueError(
                f"min_tokens ({self.min_tokens}) must be at most max_tokens // 2 ({self.max_tokens // 2}): pieces "
                "of a split document can be that short, and every stage-2 document must reach min_tokens"
            )
        return self


class Stage3Config(BaseModel):
    """``emit.stage3`` (off by default): the 256K context-extension set (K-EXAONE's 32K → 256K stage): every
    document of at least ``min_doc_tokens`` tokens, cut into near-equal pieces of at most ``max_doc_tokens`` when
    longer, plus a rehearsal sample of the shorter documents (stage-1 documents, the stage-2 long ones among them:
    drawn by a hash of doc_id, so in proportion to their tokens) so that ``rehearsal_share`` of stage 3's tokens
    and blend weight is rehearsal and ``long_share`` is long documents. Set one share and the other is the rest;
    set both and they must add up to 1."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    min_doc_tokens: int = Field(
        default=32_768,
        ge=2,
        description="a document is long for stage 3 when it has at least this many tokens (its end-of-document "
        "token included); the default is stage 2's context, so stage 3 holds what stage 2 had to cut",
    )
    max_doc_tokens: int = Field(
        default=262_144,
        ge=4,
        description="longest stage-3 document (end-of-document token included); longer documents are split into "
        "the fewest near-equal pieces that fit, each ending with the end-of-document token",
    )
    long_share: float = Field(
        default=0.7, gt=0, le=1, description="share of stage 3's tokens and blend weight that is long documents"
    )
    rehearsal_share: float = Field(
        default=0.3,
        ge=0,
        lt=1,
        description="share of stage 3's tokens and blend weight that is rehearsal: documents shorter than "
        "min_doc_tokens (stage-1 documents, stage 2's long ones included)",
    )
    multipliers: MultipliersConfig | None = Field(
        default=None, description="blend multipliers for stage 3 (default: emit.multipliers)"
    )
    seed: int = Field(default=0, ge=0, description="another seed rehearses other documents")

    @model_validator(mode="after")
    def _shares_and_pieces(self):
        given = self.model_fields_set & {"long_share", "rehearsal_share"}
        if given == {"long_share"}:
            self.rehearsal_share = 1.0 - self.long_share
        elif given == {"rehearsal_share"}:
            self.long_share = 1.0 - self.rehearsal_share
        elif abs(self.long_share + self.rehearsal_share - 1.0) > 1e-9:
            raise ValueError(
                f"long_share ({self.long_share}) + rehearsal_share ({self.rehearsal_share}) must be 1: they share out "
                "stage 3's tokens and blend weight (set one and the other is the rest)"
            )
        if not 0 <= self.rehearsal_share < 1:  # long_share = 1 - rehearsal_share, in (0, 1]
            raise ValueError(f"rehearsal_share must be at least 0 and below 1 (got {self.rehearsal_share})")
        # as for stage 2: every piece of a split document has at least max_doc_tokens // 2 tokens
        if self.min_doc_tokens > self.max_doc_tokens // 2:
            raise ValueError(
                f"min_doc_tokens ({self.min_doc_tokens}) must be at most max_doc_tokens // 2 "
                f"({self.max_doc_tokens // 2}): pieces of a split document can be that short, and every stage-3 "
                "long document must reach min_doc_tokens"
            )
        return self


class EmitConfig(BaseModel):
    """``emit``: Megatron indexed datasets (``.bin``/``.idx``) and blend JSONs from ``training_corpus``."""

    model_config = ConfigDict(extra="forbid")

    output: ConfigPath | None = Field(
        default=None, description="where runs/, the blends and manifest.json go (default WORKDIR/emit): local, "
        "s3://… or dbfs:/…"
    )  # fmt: skip
    tokenizer: ConfigPath | None = Field(
        default=None,
        description="Hugging Face tokenizer folder (default: tokenizer.output_dir, else WORKDIR/tokenizer/model)",
    )
    partitions: int = Field(
        default=8,
        ge=1,
        le=100_000,
        description="partitions of stage 1 = shards per (split, lang, source) before merging; a partition gets a "
        "fixed group of the table's files (read: files) or the documents of a doc_id hash bucket (read: spark), so "
        "the shards are the same on any cluster",
    )
    read: Literal["auto", "files", "spark"] = Field(
        default="auto",
        description="how stage 1 reads training_corpus: files (the Python workers read the version's Parquet files "
        "themselves, no shuffle; shards follow the table's files), spark (Spark reads it and shuffles by doc_id: "
        "shards follow the documents only), auto (files when the table allows it, see spark_jobs/emit/inputs.py)",
    )
    merge: bool = Field(default=False, description="merge each (stage, split, lang, source)'s shards into one file")
    batch_docs: int = Field(
        default=4000,
        ge=1,
        le=100_000,
        description="documents per Arrow batch handed to encode_batch_fast (larger batches keep both cores busy "
        "longer between the batch's slowest documents)",
    )
    batch_bytes: int = Field(
        default=64 << 20, ge=1 << 20, description="bytes per Arrow batch at most (long documents make small batches)"
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    multipliers: MultipliersConfig = Field(default_factory=MultipliersConfig)
    stage2: Stage2Config = Field(default_factory=Stage2Config)
    stage3: Stage3Config = Field(default_factory=Stage3Config)
    keep_runs: int = Field(
        default=2, ge=1, description="published runs kept under runs/ (a trainer may still read the previous one)"
    )

    @model_validator(mode="after")
    def _stage3_follows_stage2(self):
        s2, s3 = self.stage2, self.stage3
        if s3.enabled and not s2.enabled:
            raise ValueError(
                "stage3 is enabled but stage2 is not: stage 3 extends the context stage 2 trained (the trainer's long "
                "stage starts from the extend stage's checkpoint); enable stage2 too"
            )
        if s3.enabled and s3.min_doc_tokens <= s2.min_tokens:
            raise ValueError(
                f"stage3.min_doc_tokens ({s3.min_doc_tokens}) must be above stage2.min_tokens ({s2.min_tokens}): "
                "stage 3's long documents are longer than stage 2's"
            )
        return self

    def stage2_multipliers(self) -> MultipliersConfig:
        return self.stage2.multipliers or self.multipliers

    def stage3_multipliers(self) -> MultipliersConfig:
        return self.stage3.multipliers or self.multipliers

    def extension_stages(self) -> list[ExtensionStage]:
        """The enabled stages past stage 1, as the job and the tasks take them."""
        out = []
        if self.stage2.enabled:
            s2 = self.stage2
            out.append(ExtensionStage("stage2", "replay", s2.min_tokens, s2.max_tokens, s2.replay_ratio, s2.seed,
                                      self.stage2_multipliers()))  # fmt: skip
        if self.stage3.enabled:
            s3 = self.stage3
            out.append(ExtensionStage("stage3", "rehearsal", s3.min_doc_tokens, s3.max_doc_tokens, s3.rehearsal_share,
                                      s3.seed, self.stage3_multipliers()))  # fmt: skip
        return out

    def fingerprint(self) -> str:
        """What decides the emitted bytes and blends (not where they go, nor batch sizes; nor stage 3 while it is
        off, so configs from before it existed keep their fingerprint)."""
        exclude = {"output", "tokenizer", "batch_docs", "batch_bytes", "keep_runs"}
        if not self.stage3.enabled:
            exclude.add("stage3")
        data = self.model_dump(mode="json", exclude=exclude)
        data["format"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
