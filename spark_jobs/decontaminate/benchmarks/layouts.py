"""What a benchmark layout is: where an example's text, id and (in a JSON document) the list of
examples sit in a record, as dotted paths; and a preset, the layouts of one published test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Fields(BaseModel):
    """Where an example's id and text are in a record (dotted paths)."""

    model_config = ConfigDict(extra="forbid")

    text: list[str] = Field(min_length=1, description="paths whose values are joined with newlines")
    id: str | None = Field(default=None, description="example id; default: <file>#<position>")
    records: str | None = Field(default=None, description="path of the list of examples inside a JSON document")

    @field_validator("text", mode="before")
    @classmethod
    def _one_path_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("text")
    @classmethod
    def _paths_are_not_empty(cls, v: list[str]) -> list[str]:
        for path in v:
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"bad field path {path!r}: use names joined by '.'")
        return v


@dataclass(frozen=True)
class Preset:
    """A known benchmark layout: alternative field mappings, tried in order on each record (the
    first whose paths are all present wins), and column names for CSV files without a header."""

    name: str
    layouts: tuple[Fields, ...]
    csv_columns: tuple[str, ...] | None = None
