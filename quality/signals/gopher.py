"""Gopher quality and repetition signals.

Source: Rae et al., "Scaling Language Models: Methods, Analysis & Insights from Training Gopher"
(2021, arXiv:2112.11446), Appendix A.1.1 "MassiveWeb" quality filters and Table A1 (repetition).
The paper gives thresholds; these functions give only the measured values (thresholds live in the
select job's config).

Quality: number of words; mean word length (characters); symbol-to-word ratio (``#`` and ellipses
per word); fraction of lines starting with a bullet; fraction of lines ending with an ellipsis;
fraction of words with at least one alphabetic character; number of distinct English stop words
of the paper's list present (the paper requires two).

Repetition: fraction of lines (paragraphs) that repeat an earlier line (paragraph), and the
fraction of characters in those repeats; for n = 2, 3, 4 the fraction of word characters taken by
the most frequent n-gram (its characters times its count); for n = 5 … 10 the fraction of word
characters covered by n-grams that occur more than once (each character counted once, as the
paper defines it, not the greedy skip of some reimplementations).
"""

from __future__ import annotations

import re
from collections import Counter

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "-", "*", "‣", "⁃", "◦", "–", "·")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
_ALPHA = re.compile(r"[^\W\d_]")


def gopher_quality(text: str, words: list[str]) -> dict[str, float]:
    n_words = len(words)
    lines = [line.strip() for line in _LINES.split(text.strip())] if text.strip() else []
    n_lines = max(1, len(lines))
    symbols = text.count("#") + len(_ELLIPSIS.findall(text))
    lowered = {w.lower() for w in words}
    return {
        "gopher_n_words": float(n_words),
        "gopher_mean_word_length": sum(map(len, words)) / n_words if n_words else 0.0,
        "gopher_symbol_word_ratio": symbols / n_words if n_words else 0.0,
        "gopher_bullet_lines_ratio": sum(line.startswith(BULLETS) for line in lines) / n_lines,
        "gopher_ellipsis_lines_ratio": sum(line.endswith(("...", "…")) for line in lines) / n_lines,
        "gopher_alpha_words_ratio": sum(bool(_ALPHA.search(w)) for w in words) / n_words if n_words else 0.0,
        "gopher_stop_words": float(len(STOP_WORDS & lowered)),
    }


def _repeats(items: list[str]) -> tuple[int, int]:
    """(number of items equal to an earlier one, their characters)."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def gopher_repetition(text: str, words: list[str]) -> dict[str, float]:
    stripped = text.strip()
    total = max(1, len(stripped))
    paragraphs = _PARAGRAPHS.split(stripped) if stripped else []
    lines = _LINES.split(stripped) if stripped else []
    para_dup, para_chars = _repeats(paragraphs)
    line_dup, line_chars = _repeats(lines)
    out = {
        "gopher_dup_para_frac": para_dup / len(paragraphs) if paragraphs else 0.0,
        "gopher_dup_para_char_frac": para_chars / total,
        "gopher_dup_line_frac": line_dup / len(lines) if lines else 0.0,
        "gopher_dup_line_char_frac": line_chars / total,
    }
    lengths = [len(w) for w in words]
    word_chars = max(1, sum(lengths))
    for n in (2, 3, 4):
        grams = Counter(_ngrams(words, n))
        if grams:
            gram, count = grams.most_common(1)[0]
            out[f"gopher_top_{n}gram_char_frac"] = sum(map(len, gram)) * count / word_chars if count > 1 else 0.0
        else:
            out[f"gopher_top_{n}gram_char_frac"] = 0.0
    for n in range(5, 11):
        grams = _ngrams(words, n)
        counts = Counter(grams)
        covered = [False] * len(words)
        for i, gram in enumerate(grams):
            if counts[gram] > 1:
                for k in range(i, i + n):
                    covered[k] = True
        out[f"gopher_dup_{n}gram_char_frac"] = sum(ln for ln, c in zip(lengths, covered, strict=True) if c) / word_chars
    return out
