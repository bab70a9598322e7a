"""The configuration the Spark jobs read: workdir, Spark profile, sources and each job's section.

A job submitted on its own (``spark-submit -m spark_jobs.ingest --config x.yaml``) loads only
these sections; ``moru/config.py`` composes them with the other packages' sections. Errors name
the bad key (``sources.0.format: ...``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import ConfigError, load
from core.paths import ConfigPath
from quality.classifier import ClassifierConfig
from quality.gates.config import GatesConfig
from quality.languages import DEFAULT as DEFAULT_LANGUAGES
from quality.languages import KNOWN as KNOWN_LANGUAGES
from quality.languages import check_languages, extra_languages
from quality.pii import PiiConfig
from spark_jobs.decontaminate.contamination import DecontaminateConfig
from spark_jobs.dedup.config import DedupConfig
from spark_jobs.emit.config import EmitConfig
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.normalize import NormalizeConfig
from spark_jobs.posttrain.config import PosttrainConfig
from spark_jobs.select import SelectConfig
from spark_jobs.session import SparkConfig
from tokenizer.config import DEFAULT_OTHER_SHARE, SampleConfig, TokenizerConfig


class QualityConfig(BaseModel):
    """``quality``: the fastText quality classifier (its training sets, parameters and model path)."""

    model_config = ConfigDict(extra="forbid")

    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workdir: ConfigPath = Field(description="where tables/ and report/ go: a local path, s3:// or dbfs:/")
    languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        description=f"languages kept apart from 'other' (of {', '.join(KNOWN_LANGUAGES)}): language id, word "
        "splitting, stop words and per-language thresholds; languages beyond ko/en join select.languages "
        "(unless it is given) with their default thresholds",
    )
    spark: SparkConfig = Field(default_factory=SparkConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    emit: EmitConfig = Field(default_factory=EmitConfig)
    posttrain: PosttrainConfig = Field(default_factory=PosttrainConfig)

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: list[str]) -> list[str]:
        return check_languages(value)

    @model_validator(mode="after")
    def _select_languages(self):
        """Languages beyond ko/en are selected (when ``select.languages`` is not given) and get their
        default thresholds (when ``select.thresholds`` has none for them) and join the gates' allowed
        labels (when ``gates.<table>.languages`` is not given); with Japanese, MinHash
        shingles kana and kanji as characters (:mod:`quality.dedup.shingles`)."""
        extra = extra_languages(self.languages)
        self.dedup.minhash._cjk_chars = "ja" in extra  # Japanese: character n-grams, as Korean
        if extra:
            self.select = self.select.with_languages(
                extra, add_to_selected="languages" not in self.select.model_fields_set
            )
            # the tokenizer samples them too (each language not named in other_langs at the default share)
            sample = self.tokenizer.sample
            missing = [lang for lang in extra if lang not in sample.other_langs]
            if missing:
                other = {**sample.other_langs, **dict.fromkeys(missing, DEFAULT_OTHER_SHARE)}
                self.tokenizer = self.tokenizer.model_copy(
                    update={"sample": SampleConfig.model_validate({**sample.model_dump(), "other_langs": other})}
                )
            # the gates' allowed labels (unless given): documents and training_corpus may hold them now
            for name in ("documents", "training_corpus"):
                gate = getattr(self.gates, name)
                if "languages" not in gate.model_fields_set:
                    labels = [*gate.languages, *(lang for lang in extra if lang not in gate.languages)]
                    setattr(self.gates, name, gate.model_copy(update={"languages": labels}))
        return self


def load_jobs_config(path: str | Path) -> JobsConfig:
    """The sections the Spark jobs read (other packages' sections are ignored)."""
    return load(JobsConfig, path, sections=True)


__all__ = ["ConfigError", "JobsConfig", "QualityConfig", "load_jobs_config"]
