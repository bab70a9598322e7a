"""``posttrain``: the post-training sources and each post-training job's settings.

A source names its files like a pretraining source (``name``, ``path``, ``format``, ``hidden_files``) and says how
its records are laid out (``layout``: one of quality.posttrain.readers' layouts, with its field names)::

    posttrain:
      sources:
        - {name: chat_ko, path: data/chatbot.csv, layout: {layout: qa, question_field: Q, answer_field: A}}
        - {name: hh, path: data/hh.jsonl.gz, layout: {layout: hh}}
      ingest: {payload_max_bytes: 2048}
      normalize: {mismatch_min_chars: 20}

Text normalization and language id use the pretraining ``normalize`` section (``form``, ``unescape_html``,
``langid``), and the prompt hashes the exact-dedup canonical form (``dedup.exact.canonical``), so post-training
text is normalized, labelled and hashed exactly as pretraining text is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quality.gates.posttrain import PosttrainGateConfig
from quality.posttrain.readers import LayoutConfig, MessagesConfig
from spark_jobs.ingest.config import FileSource
from spark_jobs.posttrain.dedup import PosttrainDedupConfig
from spark_jobs.posttrain.emit import PosttrainEmitConfig
from spark_jobs.posttrain.select import PosttrainSelectConfig
from spark_jobs.posttrain.signals import PosttrainSignalsConfig

# the record formats post-training data comes in (WARC and plain text hold no conversations)
PosttrainFormat = Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"]


class PosttrainSource(FileSource):
    format: PosttrainFormat = Field(
        default="auto",
        description="auto: by file name (.jsonl/.ndjson, .json, .csv, .tsv, .parquet; .gz .zst .bz2 .xz); other "
        "names are quarantined as unknown_format",
    )
    layout: LayoutConfig = Field(default_factory=MessagesConfig, description="how a record holds its turns")


class PosttrainIngestConfig(BaseModel):
    """``posttrain.ingest``: how files are spread over tasks and how much of a rejected record is kept."""

    model_config = ConfigDict(extra="forbid")

    payload_max_bytes: int = Field(default=2048, ge=64, description="raw payload kept per quarantine row")
    records_per_batch: int = Field(default=2000, ge=1, description="rows per Arrow batch out of the readers")
    tasks_per_core: int = Field(
        default=4, ge=1, description="input files are split into at most this many tasks per core, balanced by size"
    )


class PosttrainNormalizeConfig(BaseModel):
    """``posttrain.normalize``: the language-mismatch rule (normalization and language id: the ``normalize``
    section)."""

    model_config = ConfigDict(extra="forbid")

    mismatch_min_chars: int = Field(
        default=20,
        ge=0,
        description="a question or answer shorter than this (stripped) counts as und for lang_mismatch: too short "
        "for language id to be trusted (quality.posttrain.signals.language_signals)",
    )


class PosttrainConfig(BaseModel):
    """``posttrain``: empty ``sources`` (the default) turns every post-training job off."""

    model_config = ConfigDict(extra="forbid")

    sources: list[PosttrainSource] = Field(default_factory=list)
    ingest: PosttrainIngestConfig = Field(default_factory=PosttrainIngestConfig)
    normalize: PosttrainNormalizeConfig = Field(default_factory=PosttrainNormalizeConfig)
    dedup: PosttrainDedupConfig = Field(default_factory=PosttrainDedupConfig)
    signals: PosttrainSignalsConfig = Field(default_factory=PosttrainSignalsConfig)
    select: PosttrainSelectConfig = Field(default_factory=PosttrainSelectConfig)
    gate: PosttrainGateConfig = Field(default_factory=PosttrainGateConfig)
    emit: PosttrainEmitConfig = Field(default_factory=PosttrainEmitConfig)

    @field_validator("sources")
    @classmethod
    def _names_unique(cls, v: list[PosttrainSource]) -> list[PosttrainSource]:
        names = [s.name for s in v]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ValueError(f"source names must be unique (they are part of every doc_id): {dups}")
        return v
