"""``moru tokenizer train``: sample, steer the Korean/English mix, train, save.

Steering: the vocabulary's Korean share (Hangul tokens / (Hangul + Latin tokens)) grows with the Korean
share of the training bytes, but not one to one (Hangul needs more merges per word; a corpus's variety
matters as much as its size). Each calibration round trains the full vocabulary on a smaller sample,
measures the split and moves the byte share by a secant step in logit space (the first step assumes
slope 1); the final training uses the last share on the full sample and reports the split it got.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from tokenizers import Tokenizer

from core import locations
from tokenizer import bbpe, hf
from tokenizer.config import TokenizerConfig
from tokenizer.sample import SampleStats, count_rows, heldout, iter_column, sample
from tokenizer.stage import fingerprint


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
    return bbpe.train(iter_column(uri, "train_text"), cfg, length=count_rows(uri), show_progress=show_progress)


def output_dir(cfg: TokenizerConfig, workdir: str) -> Path:
    from core import storage

    target = cfg.output_dir or locations.tokenizer_model(workdir)
    local = storage.local_path(target)
    if local is None:
        raise ValueError(f"tokenizer.output_dir must be a local folder (got {target}); set one for a remote workdir")
    return local


def run(
    spark,
    workdir: str,
    cfg: TokenizerConfig,
    *,
    progress: Callable[[str], None] = lambda _m: None,
    show_progress: bool = False,
) -> dict:
    """Sample, steer, train, save; return the report (also written to moru_tokenizer.json)."""
    from core import storage

    started = time.time()
    base = locations.tokenizer_work(workdir)
    out_dir = output_dir(cfg, workdir)
    target = cfg.target_korean_token_share
    share = cfg.sample.korean_byte_share
    rounds: list[dict] = []
    measured: list[tuple[float, float]] = []
    calib_bytes = min(cfg.steer.sample_bytes, cfg.sample.bytes)
    last: tuple[float, SampleStats, Tokenizer, float] | None = None  # the last round's share, sample, tokenizer, s
    for r in range(cfg.steer.rounds):
        progress(f"calibration round {r + 1}/{cfg.steer.rounds}: {calib_bytes:,} bytes, Korean share {share:.3f}")
        stats = sample(
            spark, workdir, cfg.sample, storage.join(base, "calibration"),
            korean_share=share, total_bytes=calib_bytes, mecab=cfg.mecab,
        )  # fmt: skip
        t0 = time.time()
        tok = train_on(stats.path, cfg, show_progress)
        split = bbpe.vocab_split(tok)
        last = (share, stats, tok, time.time() - t0)
        rounds.append(_round(r + 1, stats, split, last[3]))
        progress(
            f"  trained {stats.total_bytes:,} bytes ({stats.korean_share:.3f} Korean) in {time.time() - t0:.0f} s: "
            f"vocabulary {split.korean_share:.3f} Korean ({split.hangul:,} Hangul / {split.latin:,} Latin tokens)"
        )
        measured.append((stats.korean_share, split.korean_share))
        if abs(split.korean_share - target) <= cfg.steer.tolerance:
            break
        share = next_share(measured, target, cfg.steer.min_share, cfg.steer.max_share)
    if last is not None and last[0] == share and calib_bytes == cfg.sample.bytes:
        # the final sample would be the last round's (same share, same size, same hashes): same tokenizer
        progress("the last calibration round trained on the final sample: keeping its tokenizer")
        _, stats, tok, train_seconds = last
    else:
        progress(f"final sample: {cfg.sample.bytes:,} bytes, Korean share {share:.3f}")
        stats = sample(
            spark, workdir, cfg.sample, storage.join(base, "sample"),
            korean_share=share, total_bytes=cfg.sample.bytes, mecab=cfg.mecab,
        )  # fmt: skip
        progress(f"training the byte-level BPE ({cfg.vocab_size:,} tokens) on {stats.total_bytes:,} bytes")
        t0 = time.time()
        tok = train_on(stats.path, cfg, show_progress)
        train_seconds = time.time() - t0
    split = bbpe.vocab_split(tok)
    final = _round(len(rounds) + 1, stats, split, train_seconds)
    heldout_uri = storage.join(base, "heldout")
    progress("writing the held-out documents for `moru tokenizer eval`")
    held = heldout(spark, workdir, cfg.sample, heldout_uri)
    report = {
        "vocab_size": tok.get_vocab_size(),
        "vocab_size_wanted": cfg.vocab_size,
        "target_korean_token_share": target,
        "korean_token_share": round(split.korean_share, 4),
        "split": split.as_dict(),
        "calibration": rounds,
        "final": final,
        "mecab_training": cfg.mecab,
        "encode_time_mecab": False,
        "encode_mecab_reported": cfg.encode_mecab,
        "pattern": cfg.pattern,
        "special_tokens": cfg.all_special_tokens(),
        "heldout": {"path": heldout_uri, "docs": held},
        "seconds": round(time.time() - started, 1),
        "config": cfg.model_dump(mode="json"),
        "fingerprint": fingerprint(cfg),  # the pipeline's tokenizer stage retrains only when this changes
    }
    hf.save(tok, cfg, out_dir, report)
    report["output_dir"] = str(out_dir)
    return report


def _round(i: int, stats: SampleStats, split: bbpe.VocabSplit, seconds: float) -> dict:
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
