"""The ``tokenizer`` job: train the tokenizer once (after the gate), then keep it.

A tokenizer is not retrained because the corpus grew: emitted datasets and models are tied to its ids. It is
trained when none is saved at ``tokenizer.output_dir`` or when the training part of the ``tokenizer`` section
changed (its fingerprint, recorded in ``moru_tokenizer.json``), or when forced (``moru tokenizer train`` always
retrains). After training, the compression evaluation (``moru tokenizer eval``) runs on the held-out documents;
on a corpus so small that none is held out, the stage says so (``extra["notes"]``) and carries on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from pyspark.sql import SparkSession

from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs.tokenizer.train import run as train
from tokenizer import evaluate
from tokenizer.config import TokenizerConfig, fingerprint, output_dir
from tokenizer.hf import saved_report


def summary(report: dict, compression: list[dict]) -> dict:
    """What the run report shows: the vocabulary split, the steering rounds, the compression table, notes."""
    notes = list(report.get("notes") or [])
    if not compression:
        notes.append(f"compression not measured: {evaluate.NO_HELDOUT}")
    return {
        "output_dir": report.get("output_dir"),
        "vocab_size": report["vocab_size"],
        "vocab_size_wanted": report["vocab_size_wanted"],
        "target_korean_token_share": report["target_korean_token_share"],
        "korean_token_share": report["korean_token_share"],
        "split": report["split"],
        "rounds": [*report["calibration"], report["final"]],
        "mecab_training": report["mecab_training"],
        "heldout": report.get("heldout") or {},
        "seconds": report["seconds"],
        "compression": compression,
        "notes": notes,
    }


def run_stage(
    spark: SparkSession,
    workdir: str,
    cfg: TokenizerConfig,
    *,
    force: bool = False,
    progress: Callable[[str], None] = lambda _m: None,
) -> StageStats:
    """Train (when nothing is saved, the fingerprint changed, or ``force``) and evaluate; else report the saved
    tokenizer and its last compression table."""
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


def run_job(ctx: JobContext) -> StageStats:
    return run_stage(ctx.spark, ctx.workdir, ctx.cfg.tokenizer, force=ctx.force, progress=ctx.progress)


JOB = Job(
    name="tokenizer",
    run=run_job,
    summary="Sample Korean/English text from training_corpus, steer the Korean byte share until the vocabulary's "
    "Hangul/Latin split reaches tokenizer.target_korean_token_share, train the byte-level BPE (MeCab-segmented "
    "Korean), save it as a Hugging Face folder and measure its compression on the held-out documents. The pipeline "
    "keeps a saved tokenizer whose training settings did not change.",
    reads=("training_corpus", "file:gate"),
    writes=("file:tokenizer",),
    section="tokenizer",
    command="tokenizer train",
    force="always",
)
