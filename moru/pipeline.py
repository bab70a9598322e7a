"""Runs the stages in order on one Spark session, with progress, a manifest and a report."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from eval.report import write_report
from moru.config import MoruConfig
from moru.manifest import write_manifest
from moru.progress import SparkProgress
from spark_jobs import ingest, normalize, storage, summaries
from spark_jobs.stats import StageStats

STAGES = ("ingest", "normalize")


@dataclass
class RunResult:
    stages: list[StageStats] = field(default_factory=list)
    report_uri: str = ""
    manifest_uri: str = ""


def run_stages(
    spark,
    cfg: MoruConfig,
    stages: tuple[str, ...] = STAGES,
    console: Console | None = None,
    title: str = "moru run report",
) -> RunResult:
    console = console or Console()
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s): {', '.join(sorted(unknown))}; stages are {', '.join(STAGES)}")
    result = RunResult()
    before = summaries.table_versions(spark, cfg.workdir)
    with SparkProgress(spark, console) as progress:
        for name in STAGES:
            if name not in stages:
                continue
            with progress.stage(name):
                if name == "ingest":
                    stats = ingest.run(spark, cfg.workdir, cfg.sources, cfg.ingest)
                else:
                    stats = normalize.run(spark, cfg.workdir, cfg.normalize)
            result.stages.append(stats)
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
            summary = {
                "title": title,
                "workdir": cfg.workdir,
                "stages": [s.as_dict() for s in result.stages],
                "funnel": funnel,
                "quarantine": quarantine,
                "documents": summaries.document_summary(spark, cfg.workdir),
                "table_versions": after,
                "table_counts": counts,
            }
            report_dir = storage.join(cfg.workdir, "report")
            write_report(summary, lambda name, data: storage.write_bytes(storage.join(report_dir, name), data))
            result.report_uri = storage.join(report_dir, "index.html")
            result.manifest_uri = write_manifest(
                cfg.workdir, cfg.model_dump(mode="json"), summary["stages"], before, after
            )
    print_summary(console, result)
    return result


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
            console.print(f"[yellow]{s.stage}: quarantined {s.rows_rejected:,} ({reasons})")
        if s.stage == "ingest":
            for src, c in sorted(s.by_source.items()):
                console.print(
                    f"  source {src}: read {c['read']:,} = accepted {c['accepted']:,} "
                    f"+ quarantined {c['quarantined']:,}"
                )
    console.print(f"report: {result.report_uri}")
    console.print(f"manifest: {result.manifest_uri}")
