"""Every Spark-side job, in pipeline order. The pipeline, the ``moru`` subcommands, ``python -m spark_jobs <job>``
and cluster tasks are all generated from this list; :func:`core.job.order` checks that the order agrees with what
each job reads and writes. Adding a stage = one job module with a ``JOB`` and one line here."""

from __future__ import annotations

import importlib

from core.job import Job, order

# module paths, imported on first use (each defines JOB)
MODULES = (
    "spark_jobs.ingest.job",
    "spark_jobs.normalize",
    "spark_jobs.dedup.exact",
    "spark_jobs.dedup.minhash",
    "spark_jobs.classifier",
    "spark_jobs.signals",
    "spark_jobs.decontaminate.contamination",
    "spark_jobs.pii",
    "spark_jobs.select",
    "spark_jobs.gate",
    "spark_jobs.tokenizer.job",
    "spark_jobs.emit.job",
    "spark_jobs.posttrain.ingest",
    "spark_jobs.posttrain.normalize",
    "spark_jobs.posttrain.dedup",
    "spark_jobs.posttrain.decontaminate",
    "spark_jobs.posttrain.signals",
    "spark_jobs.posttrain.select",
    "spark_jobs.posttrain.gate",
    "spark_jobs.posttrain.emit",
)

_JOBS: tuple[Job, ...] | None = None


def jobs() -> tuple[Job, ...]:
    """The jobs in the order they run."""
    global _JOBS
    if _JOBS is None:
        _JOBS = tuple(order([importlib.import_module(m).JOB for m in MODULES]))
    return _JOBS


def names() -> tuple[str, ...]:
    return tuple(j.name for j in jobs())
