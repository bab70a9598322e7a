"""The ``classifier`` job: train the fastText quality classifier from ``quality.classifier``'s sets.

It retrains only when the sets (their contents) or its parameters changed since the model was trained, or when
forced (``moru quality train``). The model goes to ``quality.classifier.model_path`` (default
``WORKDIR/models/quality.bin``), its held-out report beside it (``.report.json``); the ``signals`` job scores
documents with it. No Spark: fastText trains in this process.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core import storage
from core.job import Job, JobContext
from core.stats import StageStats
from quality import classifier
from quality.classifier import ClassifierConfig
from spark_jobs.signals import model_path


def train(
    workdir: str, ccfg: ClassifierConfig, force: bool = False, progress: Callable[[str], None] | None = None
) -> StageStats:
    started = time.time()
    stats = StageStats("classifier")
    path = model_path(workdir, ccfg)
    local = storage.local_path(path)
    current = classifier.read_report(local) if local is not None else None
    if not force and current and current.get("fingerprint") == classifier.training_fingerprint(ccfg):
        stats.extra = {"report": current, "retrained": False}
        stats.rows_unchanged = current["train_positive"] + current["train_negative"]
        stats.seconds = time.time() - started
        return stats
    with tempfile.TemporaryDirectory() as tmp:
        target = str(local) if local is not None else str(Path(tmp) / "quality.bin")
        report = classifier.train(ccfg, target, progress=progress)
        if local is None:  # s3:// and the like: upload the model and its report
            storage.write_bytes(path, Path(target).read_bytes())
            storage.write_bytes(path + ".report.json", report.to_json().encode())
    used = report.train_positive + report.train_negative + report.holdout_positive + report.holdout_negative
    stats.rows_out = used
    stats.rows_rejected = report.dropped_duplicates + report.downsampled
    stats.rows_in = used + stats.rows_rejected
    stats.by_reason = {
        k: v for k, v in (("duplicate_text", report.dropped_duplicates), ("balance", report.downsampled)) if v
    }
    stats.extra = {"report": json.loads(report.to_json()), "retrained": True}
    stats.seconds = time.time() - started
    stats.check()
    return stats


def saved_report(workdir: str, ccfg: ClassifierConfig) -> dict | None:
    """The held-out report of the model at the configured path, if one was trained (local paths only)."""
    local = storage.local_path(model_path(workdir, ccfg))
    return classifier.read_report(local) if local is not None else None


def run_job(ctx: JobContext) -> StageStats:
    return train(ctx.workdir, ctx.cfg.quality.classifier, force=ctx.force, progress=ctx.progress)


def _unless_sets(cfg) -> str | None:
    c = cfg.quality.classifier
    return None if c.positive and c.negative else "quality.classifier.positive / .negative are not both set"


JOB = Job(
    name="classifier",
    run=run_job,
    summary="Train the fastText quality classifier on quality.classifier.positive vs .negative (JSONL) and print its "
    "held-out precision / recall / AUC; documents are scored by the next signals step.",
    reads=("classifier_sets",),
    writes=("file:classifier_model",),
    section="quality.classifier",
    command="quality train",
    force="always",
    enabled=_unless_sets,
    uses_spark=False,
)
