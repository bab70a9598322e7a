"""What a gate run found, as plain data: stored as JSON, read back by every step that must not run
past a failed gate. No Great Expectations import here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from core.job import Halt


class GateFailed(Halt):
    """Raised where training data would be produced without a passed, current gate."""


@dataclass
class ExpectationOutcome:
    """One expectation's outcome. ``observed`` is the expectation's observed value, or for
    row-wise expectations its counts (``unexpected_count`` of ``element_count``) and a few of the
    unexpected values; ``check`` is moru's short name for what the expectation guards
    (``lang_share_min:ko``, ``duplicate_fraction``, ``schema``, ...)."""

    table: str
    type: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    observed: dict[str, Any]
    check: str = ""
    description: str = ""
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.type}({self.column})" if self.column else self.type

    def observed_text(self, sample: bool = True) -> str:
        """The observation in a few words: ``3 of 200 unexpected (1.5%), e.g. 'a1f…'`` or ``observed 0.02``
        (without the unexpected values when not ``sample``)."""
        if self.error:
            return f"error: {self.error}"
        obs = self.observed
        if "share" in obs:  # a language-share bound
            return f"observed share {obs['share']:.3f} of {obs.get('element_count', 0):,} documents"
        if obs.get("details"):  # the schema check: which columns are missing or unexpected
            parts = [f"{k} {', '.join(map(str, v))}" for k, v in sorted(obs["details"].items()) if v]
            return "; ".join(parts)
        if "unexpected_count" in obs and "element_count" in obs:
            n, total = obs["unexpected_count"], obs["element_count"]
            text = f"{n:,} of {total:,} unexpected"
            if total:
                text += f" ({100 * n / total:.1f}%)"
            values = obs.get("sample") or []
            if n and values and sample:
                distinct = list(dict.fromkeys(_short(v) for v in values))
                text += ", e.g. " + ", ".join(distinct[:3])
            return text
        if "observed_value" in obs:
            value = obs["observed_value"]
            if isinstance(value, float):
                return f"observed {value:.4g}"
            if isinstance(value, str):
                return f"observed {value}"
            if self.check == "schema" and isinstance(value, list):
                return f"{len(value)} columns"
            return f"observed {_short(value, 120)}"
        if obs.get("sample"):
            return "unexpected " + ", ".join(_short(v) for v in obs["sample"][:5])
        return ""

    def message(self) -> str:
        """``training_corpus: expect_column_values_to_be_unique(content_hash) failed: 3 of 200 unexpected ...``"""
        verdict = "passed" if self.success else "failed"
        text = f"{self.table}: {self.name} {verdict}"
        observed = self.observed_text()
        if observed:
            text += f": {observed}"
        if self.description:
            text += f" [{self.description}]"
        return text


@dataclass
class TableGate:
    name: str
    version: int | None
    rows: int | None
    passed: bool
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


@dataclass
class GateResult:
    """A gate run: ``passed`` only when every expectation of every table passed."""

    passed: bool
    run_time: str
    tables: dict[str, TableGate]
    data_docs_index: str
    config_fingerprint: str
    gx_version: str = ""

    @property
    def table_versions(self) -> dict[str, int | None]:
        """The Delta version of each validated table (the version the expectations read)."""
        return {name: t.version for name, t in self.tables.items()}

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for t in self.tables.values() for e in t.failed]

    def failure_messages(self) -> list[str]:
        return [e.message() for e in self.failed]

    def to_json(self) -> str:
        data = asdict(self)
        data["table_versions"] = self.table_versions
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> GateResult:
        data = json.loads(text)
        data.pop("table_versions", None)
        tables = {}
        for name, t in data.pop("tables").items():
            outcomes = [ExpectationOutcome(**e) for e in t.pop("expectations")]
            tables[name] = TableGate(**t, expectations=outcomes)
        return cls(**data, tables=tables)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
