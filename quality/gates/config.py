"""``gates`` in the config: the bounds the Great Expectations suites check.

Defaults suit a Korean/English corpus: ``documents`` may hold every language label the
normalizer gives (``ko``, ``en``, ``ko+en``, ``other``, ``und``) in any mix; ``training_corpus``
holds only ``ko``, ``en`` and ``ko+en``, neither Korean nor English below 5 % or above 95 % of
the documents, no two documents with the same exact-dedup ``content_hash`` and no blank text.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LanguageShare(BaseModel):
    """Bounds on the share of a table's documents that carry one language label."""

    model_config = ConfigDict(extra="forbid")

    min: float = Field(default=0.0, ge=0.0, le=1.0)
    max: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class TableGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_rows: int = Field(default=1, ge=0, description="fewer rows fail the gate (an empty table is a failed step)")
    languages: list[str] = Field(min_length=1, description="the only `lang` values allowed")
    language_share: dict[str, LanguageShare] = Field(
        default_factory=dict, description="per language label: min/max share of the table's documents"
    )
    min_chars: int = Field(default=1, ge=0, description="every document has at least this many characters")
    max_chars: int | None = Field(default=None, ge=1, description="every document has at most this many")
    median_chars_min: float | None = Field(default=None, ge=0, description="lower bound on the median n_chars")
    median_chars_max: float | None = Field(default=None, ge=0, description="upper bound on the median n_chars")

    @model_validator(mode="after")
    def _consistent(self):
        unknown = sorted(set(self.language_share) - set(self.languages))
        if unknown:
            raise ValueError(f"language_share names languages not in languages: {', '.join(unknown)}")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) is below min_chars ({self.min_chars})")
        lo, hi = self.median_chars_min, self.median_chars_max
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"median_chars_min ({lo}) is above median_chars_max ({hi})")
        if sum(s.min for s in self.language_share.values()) > 1.0:
            raise ValueError("the language_share minimums add up to more than 1")
        return self


class DocumentsGateConfig(TableGateConfig):
    """``gates.documents``: what normalize + language id must have produced."""

    languages: list[str] = Field(default_factory=lambda: ["ko", "en", "ko+en", "other", "und"], min_length=1)


class TrainingCorpusGateConfig(TableGateConfig):
    """``gates.training_corpus``: what may go on to emission."""

    languages: list[str] = Field(default_factory=lambda: ["ko", "en", "ko+en"], min_length=1)
    language_share: dict[str, LanguageShare] = Field(
        default_factory=lambda: {
            "ko": LanguageShare(min=0.05, max=0.95),
            "en": LanguageShare(min=0.05, max=0.95),
        },
        description="per language label: min/max share of the table's documents",
    )
    max_duplicate_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of rows whose content_hash another row also has (exact duplicates that leaked)",
    )
    max_contaminated_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of rows with contaminated = true; checked only when the table has that column",
    )
    max_residual_pii_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of the re-scanned rows in which the pii step's detector still finds PII; checked only when "
        "the pii step is enabled",
    )
    residual_pii_sample: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="share of training_corpus rows re-scanned for residual PII (a fixed-seed sample below 1)",
    )


class GatesConfig(BaseModel):
    """``gates``: one section per validated table."""

    model_config = ConfigDict(extra="forbid")

    documents: DocumentsGateConfig = Field(default_factory=DocumentsGateConfig)
    training_corpus: TrainingCorpusGateConfig = Field(default_factory=TrainingCorpusGateConfig)
    persist: bool = Field(
        default=True,
        description="cache each table in Spark while its expectations run (one read of the Delta table, not one per "
        "metric); released afterwards",
    )

    def fingerprint(self) -> str:
        """Hash of the bounds: a gate passed under other bounds does not count as passed under these."""
        data = self.model_dump(mode="json", exclude={"persist"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
