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

from spark_jobs.config import ConfigError, JobsConfig, read_yaml, validate


class MoruConfig(JobsConfig):
    """Top-level config. Later stages add their own sections here."""


def load_config(path: str | Path) -> MoruConfig:
    return validate(MoruConfig, read_yaml(path), str(path))


__all__ = ["ConfigError", "MoruConfig", "load_config"]
