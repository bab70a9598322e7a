"""The configuration the Spark jobs read: workdir, Spark profile, sources and each job's section.

A job submitted on its own (``spark-submit -m spark_jobs.ingest --config x.yaml``) loads only
these sections; ``moru/config.py`` composes them with the other packages' sections. Errors name
the bad key (``sources.0.format: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quality.classifier import ClassifierConfig
from quality.gates.config import GatesConfig
from spark_jobs.decontaminate.contamination import DecontaminateConfig
from spark_jobs.dedup.config import DedupConfig
from spark_jobs.emit.config import EmitConfig
from spark_jobs.ingest.config import IngestConfig, SourceConfig
from spark_jobs.normalize import NormalizeConfig
from spark_jobs.select import SelectConfig
from spark_jobs.session import SparkConfig


class ConfigError(ValueError):
    """A config file that cannot be used; the message names every bad key."""


class QualityConfig(BaseModel):
    """``quality``: the fastText quality classifier (its training sets, parameters and model path)."""

    model_config = ConfigDict(extra="forbid")

    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)


class JobsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workdir: str = Field(description="where tables/ and report/ go: a local path, s3:// or dbfs:/")
    spark: SparkConfig = Field(default_factory=SparkConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    decontaminate: DecontaminateConfig = Field(default_factory=DecontaminateConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    emit: EmitConfig = Field(default_factory=EmitConfig)


def format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = [f"config error in {origin}:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = err.get("input")
        shown = (
            "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict | list) else f" (got {got!r})"
        )
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config error in {path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error in {path}: the top level must be a mapping of keys")
    # relative local paths are relative to the config file's folder
    base = path.resolve().parent
    if isinstance(data.get("workdir"), str):
        data["workdir"] = _resolve(data["workdir"], base)
    for src in data.get("sources") or []:
        if isinstance(src, dict) and isinstance(src.get("path"), str):
            src["path"] = _resolve(src["path"], base)
    dec = data.get("decontaminate")
    if isinstance(dec, dict) and isinstance(dec.get("benchmarks"), list):
        for b in dec["benchmarks"]:
            if isinstance(b, dict) and isinstance(b.get("path"), str):
                b["path"] = _resolve(b["path"], base)
    clf = (data.get("quality") or {}).get("classifier") if isinstance(data.get("quality"), dict) else None
    if isinstance(clf, dict):
        for key in ("positive", "negative"):
            if isinstance(clf.get(key), list):
                clf[key] = [_resolve(v, base) if isinstance(v, str) else v for v in clf[key]]
        if isinstance(clf.get("model_path"), str):
            clf["model_path"] = _resolve(clf["model_path"], base)
    emit = data.get("emit")
    if isinstance(emit, dict):
        for key in ("output", "tokenizer"):
            if isinstance(emit.get(key), str):
                emit[key] = _resolve(emit[key], base)
    return data


def _resolve(value: str, base: Path) -> str:
    if "://" in value or value.startswith(("dbfs:", "/")):
        return value
    return str((base / value).resolve())


def validate(model: type[BaseModel], data: dict[str, Any], origin: str):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin)) from None


def load_jobs_config(path: str | Path) -> JobsConfig:
    data = read_yaml(path)
    known = {k: v for k, v in data.items() if k in JobsConfig.model_fields}
    return validate(JobsConfig, known, str(path))
