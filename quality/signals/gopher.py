"""Gopher quality and repetition signals.

Source: Rae et al., "Scaling Language Models: Methods, Analysis & Insights from Training Gopher"
(2021, arXiv:2112.11446), Appendix A.1.1 "MassiveWeb" quality filters and Table A1 (repetition).
The paper gives thresholds; these functions give only the measured values (thresholds live in the
select job's config).

Quality: number of words; mean word length (characters); symbol-to-word ratio (``#`` and ellipses
per word); fraction of lines starting with a bullet; fraction of lines ending with an ellipsis;
fraction of words with at least one alphabetic character; number of distinct English stop words
of the paper's list present (the paper requires two); for de/ja/vi documents, of FineWeb-2's list
for that language (:data:`quality.languages.STOP_WORDS`).

Repetition: fraction of lines (paragraphs) that repeat an earlier line (paragraph), and the
fraction of characters in those repeats; for n = 2, 3, 4 the fraction of word characters taken by
the most frequent n-gram (its characters times its count); for n = 5 … 10 the fraction of word
characters covered by n-grams that occur more than once (each character counted once, as the
paper defines it, not the greedy skip of some reimplementations).
"""

from __future__ import annotations

import re

import numpy as np

from quality.languages import ENGLISH_STOP_WORDS as STOP_WORDS  # noqa: F401 (kept importable)
from quality.languages import stop_words

BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "-", "*", "‣", "⁃", "◦", "–", "·")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
_ALPHA = re.compile(r"[^\W\d_]")


def gopher_quality(text: str, words: list[str], lang: str = "en") -> dict[str, float]:
    n_words = len(words)
    lines = [line.strip() for line in _LINES.split(text.strip())] if text.strip() else []
    n_lines = max(1, len(lines))
    symbols = text.count("#") + len(_ELLIPSIS.findall(text))
    return {
        "gopher_n_words": float(n_words),
        "gopher_mean_word_length": sum(map(len, words)) / n_words if n_words else 0.0,
        "gopher_symbol_word_ratio": symbols / n_words if n_words else 0.0,
        "gopher_bullet_lines_ratio": sum(line.startswith(BULLETS) for line in lines) / n_lines,
        "gopher_ellipsis_lines_ratio": sum(line.endswith(("...", "…")) for line in lines) / n_lines,
        # map() keeps the per-word loop in C; same counts as a generator over the words
        "gopher_alpha_words_ratio": sum(map(bool, map(_ALPHA.search, words))) / n_words if n_words else 0.0,
        "gopher_stop_words": float(len(stop_words(lang).intersection(map(str.lower, words)))),
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


def _ngram_repetition(words: list[str]) -> tuple[list[tuple[int, int]], list[int]]:
    """For n = 2, 3, 4: (characters, count) of the most frequent word n-gram, the first to appear
    among equals (as ``Counter.most_common`` picks it); for n = 5 … 10: characters of the words
    covered by n-grams that occur more than once, each word counted once.

    Exact, with numpy: words get dense ids, and the n-grams of each length get dense ids from the
    pairs ((n-1)-gram id, next word id), so equal n-grams have equal ids and no hash can collide.
    An n-gram that repeats contains a repeated (n-1)-gram, so once none repeats, the rest are 0.
    """
    n_words = len(words)
    top: list[tuple[int, int]] = [(0, 0)] * 3
    dup: list[int] = [0] * 6
    if n_words < 2:
        return top, dup
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}  # loops over distinct words only
    ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.int64, count=n_words)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=n_words)
    prefix = np.zeros(n_words + 1, dtype=np.int64)
    np.cumsum(lengths, out=prefix[1:])
    level = ids
    for n in range(2, 11):
        if n_words < n:
            break
        keys = level[:-1] * len(vocab) + ids[n - 1 :]
        _, first, level, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        most = int(counts.max())
        if most < 2:
            break
        if n <= 4:
            i = int(first[counts == most].min())
            top[n - 2] = (int(prefix[i + n] - prefix[i]), most)
        else:
            starts = np.flatnonzero(counts[level] > 1)
            delta = np.bincount(starts, minlength=n_words + 1) - np.bincount(starts + n, minlength=n_words + 1)
            dup[n - 5] = int(lengths[np.cumsum(delta[:n_words]) > 0].sum())
    return top, dup


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
    word_chars = max(1, sum(map(len, words)))
    top, dup = _ngram_repetition(words)
    for n, (chars, count) in zip((2, 3, 4), top, strict=True):
        out[f"gopher_top_{n}gram_char_frac"] = chars * count / word_chars if count > 1 else 0.0
    for n, chars in zip(range(5, 11), dup, strict=True):
        out[f"gopher_dup_{n}gram_char_frac"] = chars / word_chars
    return out
