"""A benchmark's configuration: its name, where its files are, their format, and either a preset
or explicit fields (the ``decontaminate.benchmarks`` entries of a moru config)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.paths import ConfigPath
from spark_jobs.decontaminate.benchmarks.layouts import Fields
from spark_jobs.decontaminate.benchmarks.presets import PRESETS

Format = Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"]


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="short benchmark name; part of every contamination row")
    path: ConfigPath = Field(
        description="a file, a folder (read recursively) or a glob: a local path, or a URI that pyarrow reads "
        "(file://, s3://, gs://, abfs(s)://, hdfs://)"
    )
    format: Format = Field(
        default="auto", description="auto: by file suffix (compressed .gz, .zst, .bz2, .xz allowed but for parquet)"
    )
    split: str = "test"
    preset: str | None = Field(default=None, description=f"one of: {', '.join(sorted(PRESETS))}")
    fields: Fields | None = None
    csv_columns: list[str] | None = Field(
        default=None,
        description="column names of CSV/TSV files without a header row (a preset may bring its own)",
    )
    csv_header: bool | None = Field(
        default=None,
        description="whether CSV/TSV files start with a header; default: a header unless csv_columns are known "
        "and the first row lacks the field names",
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", v):
            raise ValueError("benchmark names use letters, digits, '_', '-' and '.' only")
        return v

    @field_validator("preset")
    @classmethod
    def _preset_is_known(cls, v: str | None) -> str | None:
        if v is not None and v not in PRESETS:
            raise ValueError(f"unknown preset {v!r}; known: {', '.join(sorted(PRESETS))}")
        return v

    @model_validator(mode="after")
    def _preset_or_fields(self) -> BenchmarkConfig:
        if (self.preset is None) == (self.fields is None):
            raise ValueError(f"benchmark {self.name!r}: give either a preset or fields, not both or neither")
        if self.csv_header is False and not self.columns():
            raise ValueError(f"benchmark {self.name!r}: csv_header is false, so csv_columns must name the columns")
        return self

    def layouts(self) -> tuple[Fields, ...]:
        """The preset's layouts, or the explicit fields as the one layout."""
        return PRESETS[self.preset].layouts if self.preset else (self.fields,)  # type: ignore[return-value]

    def columns(self) -> list[str] | None:
        """Column names for CSV/TSV files without a header: the config's, else the preset's, else None."""
        if self.csv_columns is not None:
            return list(self.csv_columns)
        preset = PRESETS[self.preset] if self.preset else None
        return list(preset.csv_columns) if preset and preset.csv_columns else None
