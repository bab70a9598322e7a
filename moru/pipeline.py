"""Runs the stages in order on one Spark session, with progress, a manifest and a report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from core import locations, storage
from core.stats import StageStats
from eval.report import write_report
from moru.config import MoruConfig
from moru.manifest import write_manifest
from moru.progress import SparkProgress
from spark_jobs import ingest, normalize, signals, summaries
from spark_jobs import select as select_job
from spark_jobs.dedup import exact, minhash

STAGES = (
    "ingest",
    "normalize",
    "exact_dedup",
    "minhash_dedup",
    "classifier",
    "signals",
    "decontaminate",
    "select",
    "gate",
    "tokenizer",
    "emit",
)


def train_classifier(cfg: MoruConfig, force: bool = False, progress=None) -> StageStats:
    """Train the fastText quality classifier from ``quality.classifier``'s sets when they (or its
    parameters) changed since the model was trained, or ``force``. The model goes to
    ``quality.classifier.model_path`` (default ``<workdir>/models/quality.bin``), its held-out
    report beside it (``.report.json``)."""
    import tempfile
    import time
    from pathlib import Path

    from quality import classifier

    started = time.time()
    stats = StageStats("classifier")
    ccfg = cfg.quality.classifier
    path = signals.model_path(cfg.workdir, ccfg)
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


@dataclass
class RunResult:
    stages: list[StageStats] = field(default_factory=list)
    report_uri: str = ""
    manifest_uri: str = ""
    dedup: dict = field(default_factory=dict)


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
    gate_result = None
    before = summaries.table_versions(spark, cfg.workdir)
    with SparkProgress(spark, console) as progress:
        for name in STAGES:
            if name not in stages:
                continue
            if name == "exact_dedup" and not cfg.dedup.exact.enabled:
                continue
            if name == "minhash_dedup" and not cfg.dedup.minhash.enabled:
                continue
            ccfg = cfg.quality.classifier
            if name == "classifier" and not (ccfg.positive and ccfg.negative):
                continue
            if name == "decontaminate" and not cfg.decontaminate.benchmarks:
                continue
            with progress.stage(name) as note:
                if name == "ingest":
                    stats = ingest.run(spark, cfg.workdir, cfg.sources, cfg.ingest)
                elif name == "normalize":
                    stats = normalize.run(spark, cfg.workdir, cfg.normalize)
                elif name == "exact_dedup":
                    stats = exact.run(spark, cfg.workdir, cfg.dedup)
                elif name == "minhash_dedup":
                    stats = minhash.run(spark, cfg.workdir, cfg.dedup)
                elif name == "classifier":
                    stats = train_classifier(cfg)
                elif name == "signals":
                    stats = signals.run(spark, cfg.workdir, cfg.quality.classifier)
                elif name == "decontaminate":
                    from spark_jobs.decontaminate.contamination import run_stage

                    stats = run_stage(spark, cfg.workdir, cfg.decontaminate)
                elif name == "select":
                    stats = select_job.run(spark, cfg.workdir, cfg.select)
                elif name == "tokenizer":
                    from tokenizer.stage import run_stage as tokenizer_stage

                    stats = tokenizer_stage(spark, cfg.workdir, cfg.tokenizer, progress=note)
                elif name == "emit":
                    from spark_jobs.emit import job as emit_job
                    from tokenizer.train import output_dir as tokenizer_dir

                    stats = emit_job.run(spark, cfg.workdir, cfg.emit, cfg.gates, progress=note,
                                         tokenizer_dir=str(tokenizer_dir(cfg.tokenizer, cfg.workdir)))  # fmt: skip
                else:
                    from spark_jobs import gate as gate_job

                    t0 = time.time()
                    gate_result = gate_job.run(spark, cfg.workdir, cfg.gates)
                    stats = gate_job.stage_stats(gate_result, time.time() - t0)
            result.stages.append(stats)
            if gate_result is not None and not gate_result.passed:
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
                "classifier": _classifier_report(cfg),
                "tokenizer": next((s.extra for s in result.stages if s.stage == "tokenizer"), None),
                "emit": next((s.extra for s in result.stages if s.stage == "emit"), None),
                "gate": None
                if gate_result is None
                else {
                    "passed": gate_result.passed,
                    "failed": gate_result.failure_messages(),
                    "data_docs": "data_docs/index.html",
                    "table_versions": gate_result.table_versions,
                },
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
    if gate_result is not None and not gate_result.passed:
        from quality.gates.result import GateFailed

        raise GateFailed(
            "the gate failed, so the run stops here (no training data is emitted past it):\n  "
            + "\n  ".join(gate_result.failure_messages())
            + f"\nData Docs: {gate_result.data_docs_index}"
        )
    return result


def _classifier_report(cfg: MoruConfig) -> dict | None:
    from quality import classifier

    local = storage.local_path(signals.model_path(cfg.workdir, cfg.quality.classifier))
    return classifier.read_report(local) if local is not None else None


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
            verb = (
                "flagged (kept in its table, left out of training)"
                if s.stage.endswith("dedup") or s.stage == "decontaminate"
                else "dropped (each with its failing rules in `selection`)"
                if s.stage == "select"
                else "left out"
                if s.stage in ("classifier", "emit")
                else "failed expectations:"
                if s.stage == "gate"
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
