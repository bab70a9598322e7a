"""The configuration the Spark jobs read: workdir, Spark profile, sources and each job's section.

A job submitted on its own (``spark-submit -m spark_jobs.ingest --config x.yaml``) loads only
these sections; ``moru/config.py`` composes them with the other packages' sections. Errors name
the bad key (``sources.0.format: ...``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.config import ConfigError, load
from core.paths import ConfigPath
from quality.classifier import ClassifierConfig
from quality.gates.config import GatesConfig
from spark_jobs.decontaminate.contamination import DecontaminateConfig
from spark_jobs.dedup.config import DedupConfig
from spark_jobs.emit.config import EmitConfig
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.normalize import NormalizeConfig
from spark_jobs.posttrain.config import PosttrainConfig
from spark_jobs.select import SelectConfig
from spark_jobs.session import SparkConfig
from tokenizer.config import TokenizerConfig


class QualityConfig(BaseModel):
    """``quality``: the fastText quality classifier (its training sets, parameters and model path)."""

    model_config = ConfigDict(extra="forbid")

    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workdir: ConfigPath = Field(description="where tables/ and report/ go: a local path, s3:// or dbfs:/")
    spark: SparkConfig = Field(default_factory=SparkConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    emit: EmitConfig = Field(default_factory=EmitConfig)
    posttrain: PosttrainConfig = Field(default_factory=PosttrainConfig)


def load_jobs_config(path: str | Path) -> JobsConfig:
    """The sections the Spark jobs read (other packages' sections are ignored)."""
    return load(JobsConfig, path, sections=True)


__all__ = ["ConfigError", "JobsConfig", "QualityConfig", "load_jobs_config"]
