"""Training the tokenizer without Spark: the byte-level BPE on a written sample, and the steering math.

Steering: the vocabulary's Korean share (Hangul tokens / (Hangul + Latin tokens)) grows with the Korean
share of the training bytes, but not one to one (Hangul needs more merges per word; a corpus's variety
matters as much as its size). Each calibration round trains the full vocabulary on a smaller sample,
measures the split and moves the byte share by a secant step in logit space (:func:`next_share`; the first
step assumes slope 1); the final training uses the last share on the full sample. The loop that draws the
samples is the tokenizer job's, outside this package, since it needs Spark.
"""

from __future__ import annotations

import math

from tokenizers import Tokenizer

from tokenizer import bbpe
from tokenizer.config import TokenizerConfig
from tokenizer.sample import SampleStats, count_rows, iter_column


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def next_share(history: list[tuple[float, float]], target: float, lo: float, hi: float) -> float:
    """The next Korean byte share from (byte share, token share) pairs measured so far: a secant step on
    the last two distinct points in logit space (slope 1 with one point, or when the measured slope is not
    positive), clipped to [lo, hi]."""
    s1, h1 = history[-1]
    slope = 1.0
    for s0, h0 in reversed(history[:-1]):
        if abs(_logit(s1) - _logit(s0)) > 1e-6:
            measured = (_logit(h1) - _logit(h0)) / (_logit(s1) - _logit(s0))
            if measured > 0.05:
                slope = measured
            break
    return min(hi, max(lo, _sigmoid(_logit(s1) + (_logit(target) - _logit(h1)) / slope)))


def train_on(uri: str, cfg: TokenizerConfig, show_progress: bool = False) -> Tokenizer:
    """The BPE (``cfg.algorithm``: bbpe, or superbpe) trained on a sample's ``train_text`` column (a Parquet
    folder, streamed)."""
    if cfg.algorithm == "superbpe":
        from tokenizer import superbpe

        return superbpe.train(iter_column(uri, "train_text"), cfg, show_progress=show_progress)
    return bbpe.train(iter_column(uri, "train_text"), cfg, length=count_rows(uri), show_progress=show_progress)


def round_summary(i: int, stats: SampleStats, split: bbpe.VocabSplit, seconds: float) -> dict:
    """One training (calibration round or the final one) as the report lists it."""
    return {
        "round": i,
        "korean_byte_share_wanted": round(stats.korean_share_wanted, 4),
        "korean_byte_share": round(stats.korean_share, 4),
        "bytes": stats.bytes,
        "docs": stats.docs,
        "available_bytes": stats.available_bytes,
        "korean_token_share": round(split.korean_share, 4),
        "hangul_tokens": split.hangul,
        "latin_tokens": split.latin,
        "train_seconds": round(seconds, 1),
    }
