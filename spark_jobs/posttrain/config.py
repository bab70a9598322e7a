"""``posttrain``: the post-training sources and each post-training job's settings.

A source names its files like a pretraining source (``name``, ``path``, ``format``, ``hidden_files``) and says how
its records are laid out (``layout``: one of quality.posttrain.readers' layouts, with its field names)::

    posttrain:
      sources:
        - {name: chat_ko, path: data/chatbot.csv, layout: {layout: qa, question_field: Q, answer_field: A}}
        - {name: hh, path: data/hh.jsonl.gz, layout: {layout: hh}}
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.paths import ConfigPath
from quality.posttrain.readers import LayoutConfig, MessagesConfig
from spark_jobs.ingest.config import Format


class PosttrainSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short source name; part of every doc_id")
    path: ConfigPath = Field(description="a file, a folder (read recursively) or a glob; local path, s3:// or dbfs:/")
    format: Format = Field(default="auto", description="as for pretraining sources (jsonl, json, csv, tsv, parquet)")
    hidden_files: Literal["skip", "include"] = "skip"
    layout: LayoutConfig = Field(default_factory=MessagesConfig, description="how a record holds its turns")

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError("source names use letters, digits, '_', '-' and '.' only")
        return v


class PosttrainConfig(BaseModel):
    """``posttrain``: empty ``sources`` (the default) turns every post-training job off."""

    model_config = ConfigDict(extra="forbid")

    sources: list[PosttrainSource] = Field(default_factory=list)
