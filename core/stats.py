"""Row accounting for a stage: rows in = rows out + rows rejected (+ rows skipped as unchanged)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageStats:
    stage: str
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    rows_unchanged: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0
    # set by a job whose outcome must stop the pipeline after it (a failed gate): the message says why
    halt: str | None = None
    skipped: str | None = None  # the job did not run: why (set by the pipeline, not by jobs)

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_rejected

    def check(self) -> None:
        if not self.balanced:
            raise RuntimeError(
                f"{self.stage}: counts do not add up: in={self.rows_in} out={self.rows_out} "
                f"rejected={self.rows_rejected}"
            )

    def as_dict(self) -> dict:
        return {
            "stage": self.stage,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_rejected": self.rows_rejected,
            "rows_unchanged": self.rows_unchanged,
            "by_reason": self.by_reason,
            "by_source": self.by_source,
            "extra": self.extra,
            "seconds": round(self.seconds, 3),
            **({"halt": self.halt} if self.halt else {}),
            **({"skipped": self.skipped} if self.skipped else {}),
        }
