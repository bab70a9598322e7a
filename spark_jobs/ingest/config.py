"""Configuration of the ingest job: the sources and their field mappings."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.paths import ConfigPath

Format = Literal["auto", "jsonl", "json", "csv", "tsv", "parquet", "warc", "text"]


class FieldMapping(BaseModel):
    """Where each field lives in a source record. Dotted paths reach into nested objects."""

    model_config = ConfigDict(extra="forbid")

    text: str = "text"
    id: str | None = Field(
        default=None,
        description="stable record id; without one the key is the file's relative path and the record's position",
    )
    url: str | None = None
    metadata: dict[str, str] | list[str] = Field(
        default_factory=list,
        description="fields kept as metadata: a list of paths, or {name: path}",
    )

    def metadata_paths(self) -> dict[str, str]:
        if isinstance(self.metadata, dict):
            return dict(self.metadata)
        return {path: path for path in self.metadata}


class FileSource(BaseModel):
    """What every source of files has (pretraining's ``sources`` and ``posttrain.sources``): a name, the files and
    how they are read."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short source name; part of every doc_id")
    path: ConfigPath = Field(description="a file, a folder (read recursively) or a glob; local path, s3:// or dbfs:/")
    format: Format = Field(
        default="auto",
        description="auto: by file name (.jsonl/.ndjson, .json, .csv, .tsv, .parquet, .warc/.arc; .gz .zst .bz2 .xz); "
        "text (one document per file) only when set",
    )
    hidden_files: Literal["skip", "include"] = Field(
        default="skip",
        description="names starting with '_' or '.' (Hadoop's hidden files: _SUCCESS, .crc) are skipped and "
        "reported as skipped; include reads them",
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError("source names use letters, digits, '_', '-' and '.' only")
        return v


class SourceConfig(FileSource):
    fields: FieldMapping = Field(default_factory=FieldMapping)
    priority: int = Field(default=100, description="lower wins when dedup picks a keeper")


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_text_bytes: int = Field(default=4 * 1024 * 1024, ge=1, description="longer texts are quarantined")
    binary_max_ratio: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="texts whose share of control/replacement characters exceeds this are binary garbage",
    )
    payload_max_bytes: int = Field(default=2048, ge=64, description="raw payload kept per quarantine row")
    records_per_batch: int = Field(default=2000, ge=1, description="rows per Arrow batch out of the readers")
    tasks_per_core: int = Field(
        default=4,
        ge=1,
        description="input files are split into at most this many tasks per core, balanced by size (files are "
        "never split)",
    )
