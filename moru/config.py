"""The whole moru config: composes the sections each package owns.

A minimal config names a workdir and its sources; every other section has defaults::

    workdir: ./my_run
    sources:
      - name: news
        path: ./data/news          # a file, a folder or a glob; local, s3:// or dbfs:/
        fields: {text: body, id: id, url: url, metadata: [section]}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from megatron_train.config import TrainConfig, resolve_train_paths
from spark_jobs.config import ConfigError, JobsConfig, _resolve, read_yaml, validate
from tokenizer.config import TokenizerConfig


class MoruConfig(JobsConfig):
    """Top-level config. Later stages add their own sections here."""

    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


def load_config(path: str | Path) -> MoruConfig:
    data = read_yaml(path)
    _resolve_tokenizer_paths(data, Path(path).resolve().parent)
    resolve_train_paths(data, Path(path).resolve().parent)  # train.* (and train.extend.*) paths
    return validate(MoruConfig, data, str(path))


def _resolve_tokenizer_paths(data: dict, base: Path) -> None:
    """tokenizer.output_dir and the eval sets' and baselines' paths are relative to the config file too."""
    tok = data.get("tokenizer")
    if not isinstance(tok, dict):
        return
    if isinstance(tok.get("output_dir"), str):
        tok["output_dir"] = _resolve(tok["output_dir"], base)
    ev = tok.get("eval")
    if isinstance(ev, dict):
        for key in ("texts", "baselines"):
            for item in ev.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    item["path"] = _resolve(item["path"], base)


__all__ = ["ConfigError", "MoruConfig", "load_config"]
