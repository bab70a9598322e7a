"""Runs the jobs in order on one Spark session, with progress, a manifest and a report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

import spark_jobs.jobs
from core import locations, storage
from core.job import Halt, Job, JobContext
from core.job import select as select_jobs
from core.stats import StageStats
from eval.report import write_report
from moru.config import MoruConfig
from moru.manifest import write_manifest
from moru.progress import SparkProgress
from spark_jobs import summaries
from spark_jobs.classifier import saved_report

log = logging.getLogger("moru.pipeline")


def jobs() -> tuple[Job, ...]:
    """Every stage, in the order it runs (``spark_jobs.jobs``: one list drives the pipeline, the CLI and the
    ``python -m`` entry points)."""
    return spark_jobs.jobs.jobs()


def __getattr__(name: str):
    if name == "STAGES":  # the stage names, in order (kept for callers of the old tuple)
        return spark_jobs.jobs.names()
    raise AttributeError(name)


@dataclass
class RunResult:
    stages: list[StageStats] = field(default_factory=list)
    report_uri: str = ""
    manifest_uri: str = ""
    dedup: dict = field(default_factory=dict)


def run_stages(
    spark,
    cfg: MoruConfig,
    stages: Sequence[str] | None = None,
    console: Console | None = None,
    title: str = "moru run report",
    force: bool = False,
) -> RunResult:
    """Run ``stages`` (job names or CLI commands; default every job) in pipeline order on ``spark``, then write
    the report and the run manifest. A job that halts (a failed gate) stops the run after the report:
    :class:`core.job.Halt` is raised with its message."""
    console = console or Console()
    todo = list(jobs()) if stages is None else select_jobs(jobs(), stages)
    result = RunResult()
    halt: str | None = None
    before = summaries.table_versions(spark, cfg.workdir)
    with SparkProgress(spark, console) as progress:
        for job in todo:
            reason = job.skip_reason(cfg)
            if reason:
                log.info("%s: skipped (%s)", job.name, reason)
                continue
            with progress.stage(job.name) as note:
                ctx = JobContext(cfg=cfg, spark_factory=lambda: spark, progress=note, force=force)
                stats = job(ctx)
            result.stages.append(stats)
            if stats.halt:
                halt = stats.halt
                break  # nothing runs past a failed gate
        with progress.stage("report"):
            after = summaries.table_versions(spark, cfg.workdir)
            counts = summaries.table_counts(spark, cfg.workdir)
            quarantine = summaries.quarantine_reasons(spark, cfg.workdir)
            ingest_rejected = sum(r["count"] for r in quarantine if r["stage"] == "ingest")
            funnel = []
            if "raw_documents" in counts:
                funnel.append(("records read", counts["raw_documents"] + ingest_rejected))
                funnel.append(("raw_documents", counts["raw_documents"]))
            if "documents" in counts:
                funnel.append(("documents", counts["documents"]))
            dedup = summaries.dedup_summary(spark, cfg.workdir)
            if dedup:
                docs_total = sum(r["docs"] for r in dedup["by_lang"])
                exact_dups = sum(r["exact_duplicates"] for r in dedup["by_lang"])
                near_dups = sum(r["near_duplicates"] or 0 for r in dedup["by_lang"])
                funnel.append(("after exact dedup", docs_total - exact_dups))
                if "near_duplicate_clusters" in counts:
                    funnel.append(("after near dedup", docs_total - exact_dups - near_dups))
            summary = {
                "title": title,
                "workdir": cfg.workdir,
                "stages": [s.as_dict() for s in result.stages],
                "funnel": funnel,
                "funnel_by_lang": summaries.funnel_by_language(spark, cfg.workdir, ingest_rejected),
                "selection_rules": summaries.selection_rules(spark, cfg.workdir),
                "contamination": summaries.contamination_summary(spark, cfg.workdir),
                "contamination_by_length": summaries.contamination_by_length(spark, cfg.workdir),
                "pii": summaries.pii_summary(spark, cfg.workdir),
                "classifier": saved_report(cfg.workdir, cfg.quality.classifier),
                "tokenizer": next((s.extra for s in result.stages if s.stage == "tokenizer"), None),
                "emit": next((s.extra for s in result.stages if s.stage == "emit"), None),
                "posttrain": summaries.posttrain_summary(spark, cfg.workdir, cfg.posttrain),
                "gate": _gate_summary(result),
                "quarantine": quarantine,
                "documents": summaries.document_summary(spark, cfg.workdir),
                "dedup": dedup,
                "table_versions": after,
                "table_counts": counts,
            }
            report_dir = locations.report(cfg.workdir)
            write_report(summary, lambda name, data: storage.write_bytes(storage.join(report_dir, name), data))
            result.report_uri = storage.join(report_dir, "index.html")
            result.manifest_uri = write_manifest(
                cfg.workdir, cfg.model_dump(mode="json"), summary["stages"], before, after
            )
    result.dedup = dedup
    print_summary(console, result)
    if halt:
        raise Halt(halt)
    return result


def _gate_summary(result: RunResult) -> dict | None:
    gate = next((s for s in result.stages if s.stage == "gate"), None)
    if gate is None:
        return None
    e = gate.extra
    return {"passed": e["passed"], "failed": e["failed"], "data_docs": "data_docs/index.html",
            "table_versions": e["table_versions"]}  # fmt: skip


def print_summary(console: Console, result: RunResult) -> None:
    table = Table(title="moru: rows per stage")
    for col in ("stage", "rows in", "rows out", "rejected", "unchanged", "seconds"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for s in result.stages:
        table.add_row(
            s.stage,
            f"{s.rows_in:,}",
            f"{s.rows_out:,}",
            f"{s.rows_rejected:,}",
            f"{s.rows_unchanged:,}",
            f"{s.seconds:.1f}",
        )
    console.print(table)
    for s in result.stages:
        if s.by_reason:
            reasons = ", ".join(f"{k}={v:,}" for k, v in sorted(s.by_reason.items()))
            kind = s.stage.removeprefix("posttrain_")  # post-training stages read as their pretraining peers
            verb = (
                "flagged (kept in its table, left out of training)"
                if kind.endswith("dedup") or kind == "decontaminate"
                else "dropped (each with its failing rules in its selection table)"
                if kind == "select"
                else "left out"
                if kind in ("classifier", "emit")
                else "failed expectations:"
                if kind == "gate"
                else "quarantined"
            )
            console.print(f"[yellow]{s.stage}: {verb} {s.rows_rejected:,} ({reasons})")
        if s.stage == "ingest":
            for src, c in sorted(s.by_source.items()):
                console.print(
                    f"  source {src}: read {c['read']:,} = accepted {c['accepted']:,} "
                    f"+ quarantined {c['quarantined']:,}"
                )
    if result.dedup and any(s.stage.endswith("dedup") for s in result.stages):
        for key, title in (("by_lang", "language"), ("by_source", "source")):
            t = Table(title=f"duplicates per {title}")
            for col in (title, "documents", "exact dups", "near dups", "duplicate rate"):
                t.add_column(col, justify="right" if col != title else "left")
            for r in result.dedup[key]:
                near = r["near_duplicates"] or 0
                rate = 100 * (r["exact_duplicates"] + near) / r["docs"] if r["docs"] else 0.0
                t.add_row(str(r[key.removeprefix("by_")]), f"{r['docs']:,}", f"{r['exact_duplicates']:,}",
                          f"{near:,}", f"{rate:.1f}%")  # fmt: skip
            console.print(t)
    console.print(f"report: {result.report_uri}")
    console.print(f"manifest: {result.manifest_uri}")
