"""FineWeb heuristic signals.

Source: Penedo et al., "The FineWeb Datasets: Decanting the Web for the Finest Text Data at Scale"
(NeurIPS 2024 Datasets and Benchmarks), Section 3.3 "Developing additional heuristic filters":
the fraction of lines ending with punctuation (dropped when <= 0.12), the fraction of characters in
duplicated lines (dropped when >= 0.1), and the fraction of lines of 30 characters or fewer
(dropped when >= 0.67). Also the list-likeness ratio (newlines per word) used in FineWeb-2.
"""

from __future__ import annotations

from quality.signals.c4 import TERMINAL

LINE_END_PUNCT = TERMINAL + ("…",)  # terminal punctuation and the ellipsis
SHORT_LINE_CHARS = 30


def fineweb_signals(text: str, n_words: int) -> dict[str, float]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n = max(1, len(lines))
    seen: set[str] = set()
    dup_chars = 0
    for line in lines:
        if line in seen:
            dup_chars += len(line)
        seen.add(line)
    chars = max(1, sum(len(line) for line in lines))
    return {
        "fineweb_line_punct_ratio": sum(line.endswith(LINE_END_PUNCT) for line in lines) / n,
        "fineweb_short_line_ratio": sum(len(line) <= SHORT_LINE_CHARS for line in lines) / n,
        "fineweb_dup_line_char_ratio": dup_chars / chars,
        "fineweb_newlines_per_word": text.count("\n") / n_words if n_words else 0.0,
    }
