"""Which pairs a list of rated responses makes (UltraFeedback-like records: one prompt, several scored completions).

Rules, over the scored responses of one prompt (indices into that list):
- ``best_vs_worst``: the highest score against the lowest (the first listed among equals), one pair;
- ``best_vs_random``: the highest against one response drawn from those scored strictly lower,
  drawn with a generator seeded by the configured seed and a key of the record's content, so the
  draw is the same on every run, every machine and in any record order;
- ``all_pairs``: every (i, j) with ``score_i - score_j >= min_margin``, ordered by i then j.

Every rule needs ``score_chosen - score_rejected >= min_margin`` and, whatever ``min_margin`` is,
a strictly higher chosen score: ties never make a pair.

"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

PairRule = Literal["best_vs_worst", "best_vs_random", "all_pairs"]


def rated_pairs(
    scores: Sequence[float],
    rule: PairRule = "best_vs_worst",
    min_margin: float = 0.0,
    seed: int = 0,
    key: str = "",
    texts: Sequence[str] | None = None,
) -> list[tuple[int, int]]:
    """(chosen index, rejected index) pairs for ``scores`` under ``rule``; ``key`` seeds best_vs_random.

    With ``texts``, two responses of the same text never pair (best and worst are still picked by
    score alone, so best_vs_worst then gives no pair when they are the same text).
    """
    n = len(scores)
    if n < 2:
        return []

    def ok(i: int, j: int) -> bool:
        return (
            scores[i] > scores[j]
            and scores[i] - scores[j] >= min_margin
            and (texts is None or texts[i].strip() != texts[j].strip())
        )

    if rule == "all_pairs":
        return [(i, j) for i in range(n) for j in range(n) if ok(i, j)]
    best = max(range(n), key=lambda i: (scores[i], -i))
    if rule == "best_vs_worst":
        worst = min(range(n), key=lambda i: (scores[i], i))
        return [(best, worst)] if ok(best, worst) else []
    if rule == "best_vs_random":
        lower = [j for j in range(n) if ok(best, j)]
        if not lower:
            return []
        return [(best, random.Random(f"{seed}\x1f{key}").choice(lower))]
    raise ValueError(f"unknown pair rule {rule!r}")
