"""The whole moru config: composes the sections each package owns.

A minimal config names a workdir and its sources; every other section has defaults::

    workdir: ./my_run
    sources:
      - name: news
        path: ./data/news          # a file, a folder or a glob; local, s3:// or dbfs:/
        fields: {text: body, id: id, url: url, metadata: [section]}

Paths are :data:`core.paths.ConfigPath` fields: relative local paths resolve against the config file's folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import ConfigError, load
from megatron_train.align_config import AlignConfig
from megatron_train.config import TrainConfig
from spark_jobs.config import JobsConfig


class MoruConfig(JobsConfig):
    """Top-level config: the Spark jobs' sections, training's and alignment's."""

    train: TrainConfig = Field(default_factory=TrainConfig)
    align: AlignConfig = Field(default_factory=AlignConfig)


def load_config(path: str | Path) -> MoruConfig:
    return load(MoruConfig, path)


__all__ = ["ConfigError", "MoruConfig", "load_config"]
