"""The pipeline's ``tokenizer`` stage: train the tokenizer once (after the gate), then keep it.

A tokenizer is not retrained because the corpus grew: emitted datasets and models are tied to its ids. It is
trained when none is saved at ``tokenizer.output_dir`` or when the training part of the ``tokenizer`` section
changed (its fingerprint, recorded in ``moru_tokenizer.json``); ``moru tokenizer train`` always retrains.
After training, the compression evaluation (``moru tokenizer eval``) runs on the held-out documents.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from core.stats import StageStats
from tokenizer.config import TokenizerConfig


def fingerprint(cfg: TokenizerConfig) -> str:
    """What decides the trained vocabulary: the section without ``eval`` and ``output_dir``."""
    import hashlib

    data = cfg.model_dump(mode="json", exclude={"eval", "output_dir"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def saved_report(out_dir: Path) -> dict | None:
    f = out_dir / "moru_tokenizer.json"
    if not (f.is_file() and (out_dir / "tokenizer.json").is_file()):
        return None
    return json.loads(f.read_text(encoding="utf-8"))


def summary(report: dict, compression: list[dict]) -> dict:
    """What the run report shows: the vocabulary split, the steering rounds, the compression table."""
    return {
        "output_dir": report.get("output_dir"),
        "vocab_size": report["vocab_size"],
        "vocab_size_wanted": report["vocab_size_wanted"],
        "target_korean_token_share": report["target_korean_token_share"],
        "korean_token_share": report["korean_token_share"],
        "split": report["split"],
        "rounds": [*report["calibration"], report["final"]],
        "mecab_training": report["mecab_training"],
        "seconds": report["seconds"],
        "compression": compression,
    }


def run_stage(
    spark,
    workdir: str,
    cfg: TokenizerConfig,
    *,
    force: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
) -> StageStats:
    from tokenizer import evaluate
    from tokenizer.train import output_dir
    from tokenizer.train import run as train

    started = time.time()
    stats = StageStats("tokenizer")
    out = output_dir(cfg, workdir)
    eval_dir = out.parent / "eval"
    current = saved_report(out)
    if not force and current is not None and current.get("fingerprint") == fingerprint(cfg):
        compression_file = eval_dir / "compression.json"
        compression = json.loads(compression_file.read_text(encoding="utf-8")) if compression_file.is_file() else []
        current.setdefault("output_dir", str(out))
        stats.rows_unchanged = sum(current["final"]["docs"].values())
        stats.extra = {**summary(current, compression), "retrained": False}
        stats.seconds = time.time() - started
        return stats
    report = train(spark, workdir, cfg, progress=progress)
    rows, _paths = evaluate.run(workdir, cfg, progress=progress)
    docs = sum(report["final"]["docs"].values())
    stats.rows_in = stats.rows_out = docs  # documents sampled for the final training (none are rejected)
    stats.extra = {**summary(report, [r.as_dict() for r in rows]), "retrained": True}
    stats.seconds = time.time() - started
    stats.check()
    return stats
