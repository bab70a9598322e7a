"""``moru tokenizer train``: sample, steer the Korean/English mix, train, save; write the held-out documents.

Each calibration round draws a smaller sample at the current Korean byte share, trains the full vocabulary on
it and measures its Hangul/Latin split; :func:`tokenizer.train.next_share` moves the share toward the target.
The final training uses the last share on the full sample (or keeps the last round's tokenizer when that round
already trained on the final sample) and reports the split it got.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pyspark.sql import SparkSession
from tokenizers import Tokenizer

from core import locations, storage
from spark_jobs.tokenizer.sample import heldout, sample
from tokenizer import bbpe, hf
from tokenizer.config import TokenizerConfig, fingerprint, output_dir
from tokenizer.sample import SampleStats
from tokenizer.train import next_share, round_summary, train_on


def run(
    spark: SparkSession,
    workdir: str,
    cfg: TokenizerConfig,
    *,
    progress: Callable[[str], None] = lambda _m: None,
    show_progress: bool = False,
) -> dict:
    """Sample, steer, train, save; return the report (also written to moru_tokenizer.json in the tokenizer
    folder). ``report["notes"]`` says what a small corpus changed (a stratum without a held-out split, no
    held-out documents at all)."""
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
            korean_share=share, total_bytes=calib_bytes, mecab=cfg.marked_langs(),
        )  # fmt: skip
        t0 = time.time()
        tok = train_on(stats.path, cfg, show_progress)
        split = bbpe.vocab_split(tok)
        last = (share, stats, tok, time.time() - t0)
        rounds.append(round_summary(r + 1, stats, split, last[3]))
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
            korean_share=share, total_bytes=cfg.sample.bytes, mecab=cfg.marked_langs(),
        )  # fmt: skip
        progress(f"training the byte-level BPE ({cfg.vocab_size:,} tokens) on {stats.total_bytes:,} bytes")
        t0 = time.time()
        tok = train_on(stats.path, cfg, show_progress)
        train_seconds = time.time() - t0
    split = bbpe.vocab_split(tok)
    final = round_summary(len(rounds) + 1, stats, split, train_seconds)
    heldout_uri = locations.tokenizer_heldout(workdir)
    progress("writing the held-out documents for `moru tokenizer eval`")
    held = heldout(spark, workdir, cfg.sample, heldout_uri)
    notes = list(stats.notes)
    if not sum(held.values()):
        notes.append(
            f"no held-out documents: none of {cfg.sample.table}'s documents fell in the held-out split "
            f"(tokenizer.sample.holdout_fraction = {cfg.sample.holdout_fraction}); compression is measured on "
            "tokenizer.eval.texts only"
        )
    for note in notes:
        progress(note)
    report = {
        "vocab_size": tok.get_vocab_size(),
        "vocab_size_wanted": cfg.vocab_size,
        "algorithm": cfg.algorithm,
        "target_korean_token_share": target,
        "korean_token_share": round(split.korean_share, 4),
        "split": split.as_dict(),
        "calibration": rounds,
        "final": final,
        "mecab_training": cfg.mecab,
        "mecab_langs": list(cfg.marked_langs()),
        "encode_time_mecab": False,
        "encode_mecab_reported": cfg.encode_mecab,
        "pattern": cfg.pattern,
        "special_tokens": cfg.all_special_tokens(),
        "heldout": {"path": heldout_uri, "docs": held},
        "notes": notes,
        "seconds": round(time.time() - started, 1),
        "config": cfg.model_dump(mode="json"),
        "fingerprint": fingerprint(cfg),  # the pipeline's tokenizer stage retrains only when this changes
    }
    hf.save(tok, cfg, out_dir, report)
    report["output_dir"] = str(out_dir)
    return report
