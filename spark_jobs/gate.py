"""Gate job: Great Expectations suites over the Delta tables ``documents`` and ``training_corpus``.

Each table is read at its current Delta version (pinned: the version read is the version
recorded), validated with its suite (:mod:`quality.gates.suites`) in a GX checkpoint, and Data
Docs are written to ``<workdir>/report/data_docs/index.html``. The result, with every
expectation's outcome and the validated versions, goes to ``<workdir>/gates/latest.json`` (and a
copy per run beside it). :func:`require_passed_gate` is what a step that produces training data
calls first: it raises :class:`GateFailed` unless the latest gate passed, on the
``training_corpus`` version that is current now.

    python -m spark_jobs.gate --config moru.yaml      # exits 1 when the gate fails
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from pyspark.sql import SparkSession

from core import locations, storage
from core.job import Job, JobContext
from core.stats import StageStats
from quality.gates.config import GatesConfig
from quality.gates.result import GateFailed, GateResult
from quality.pii import PiiConfig
from spark_jobs import tables

log = logging.getLogger("moru.gate")

GATED_TABLES = (tables.DOCUMENTS, tables.TRAINING_CORPUS)


def result_uri(workdir: str) -> str:
    return storage.join(locations.gates(workdir), "latest.json")


def data_docs_uri(workdir: str) -> str:
    return storage.join(locations.report(workdir), "data_docs")


def expected_schema(table: tables.Table, columns: dict[str, str] | None = None) -> dict[str, str]:
    """``{column: Spark type class name}`` as tables.py declares it. For ``training_corpus``, a
    ``contaminated`` column the table has (``columns``: the table as read) is expected too, so the
    suite checks contamination once the decontamination step adds it."""
    schema = {f.name: type(f.dataType).__name__ for f in table.schema.fields}
    if table is tables.TRAINING_CORPUS and columns and "contaminated" in columns and "contaminated" not in schema:
        schema["contaminated"] = "BooleanType"
    return schema


def run(spark: SparkSession, workdir: str, cfg: GatesConfig | None = None, pii: PiiConfig | None = None) -> GateResult:
    """Validate ``documents`` and ``training_corpus``; write Data Docs and the result JSON. With ``pii`` (enabled),
    also ``training_corpus`` re-scanned with the pii step's detector (``training_corpus_pii``: the residual PII
    rate). Raises FileNotFoundError when either table does not exist yet."""
    from quality.gates.suites import documents_suite, residual_pii_suite, training_corpus_suite
    from quality.gates.validate import TableInput

    cfg = cfg or GatesConfig()
    versions = {t.name: tables.version(spark, workdir, t) for t in GATED_TABLES}
    missing = [name for name, v in versions.items() if v is None]
    if missing:
        raise FileNotFoundError(
            f"gate: no Delta table {', '.join(missing)} under {locations.tables(workdir)} "
            "(documents come from normalize, training_corpus from select)"
        )
    inputs = []
    for table in GATED_TABLES:
        df = tables.read(spark, workdir, table, version=versions[table.name])
        schema = expected_schema(table, {f.name: type(f.dataType).__name__ for f in df.schema.fields})
        if table is tables.DOCUMENTS:
            suite = documents_suite(cfg.documents, schema)
        else:
            suite = training_corpus_suite(cfg.training_corpus, schema)
        inputs.append(TableInput(table.name, df, suite, versions[table.name]))
    if pii is not None and pii.enabled:
        from spark_jobs.pii import residual_scan

        version = versions[tables.TRAINING_CORPUS.name]
        corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS, version=version)
        scan = residual_scan(corpus, pii, cfg.training_corpus.residual_pii_sample)
        inputs.append(TableInput("training_corpus_pii", scan, residual_pii_suite(cfg.training_corpus), version))

    return publish(inputs, cfg.fingerprint(), cfg.persist, data_docs_uri(workdir), locations.gates(workdir))


def publish(inputs: list, fingerprint: str, persist: bool, docs_uri: str, results_dir: str) -> GateResult:
    """Validate ``inputs`` (quality.gates.validate.TableInput) in one GX checkpoint, write its Data Docs to
    ``docs_uri`` (this run only) and the result to ``results_dir`` (``latest.json`` + ``gate-<time>.json``). Shared
    by every gate (pretraining's here, the post-training one)."""
    from quality.gates.validate import validate

    local = storage.local_path(docs_uri)
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)  # the site shows this run only
        result = validate(inputs, local, fingerprint, persist=persist)
    else:  # s3:// and the like: build in a temporary folder, then upload the site
        with tempfile.TemporaryDirectory() as tmp:
            result = validate(inputs, tmp, fingerprint, persist=persist)
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    storage.write_bytes(storage.join(docs_uri, path.relative_to(tmp).as_posix()), path.read_bytes())
        result.data_docs_index = storage.join(docs_uri, "index.html")
    write_result(results_dir, result)
    return result


def write_result(results_dir: str, result: GateResult) -> str:
    data = result.to_json().encode()
    stamp = result.run_time.replace(":", "").replace("-", "").replace("+0000", "Z")
    storage.write_bytes(storage.join(results_dir, f"gate-{stamp}.json"), data)
    uri = storage.join(results_dir, "latest.json")
    storage.write_bytes(uri, data)
    return uri


def read_result(results_dir: str) -> GateResult | None:
    """The latest result a gate wrote to ``results_dir``, or None."""
    try:
        data = storage.read_bytes(storage.join(results_dir, "latest.json"))
    except (FileNotFoundError, OSError):
        return None
    return GateResult.from_json(data.decode("utf-8"))


def read_latest(workdir: str) -> GateResult | None:
    return read_result(locations.gates(workdir))


def require_passed_gate(spark: SparkSession, workdir: str, cfg: GatesConfig | None = None) -> GateResult:
    """The latest gate result, if it passed and ``training_corpus`` is still the version it
    validated (and, given ``cfg``, the gate ran with the same bounds); GateFailed otherwise."""
    latest = read_latest(workdir)
    if latest is None:
        raise GateFailed(
            f"no gate result at {result_uri(workdir)}: run `moru gate --config ...` before emitting training data"
        )
    if not latest.passed:
        failures = "\n  ".join(latest.failure_messages())
        raise GateFailed(
            f"the latest gate ({latest.run_time}) failed; no training data is emitted past it:\n  {failures}\n"
            f"Data Docs: {latest.data_docs_index}"
        )
    validated = latest.table_versions.get(tables.TRAINING_CORPUS.name)
    current = tables.version(spark, workdir, tables.TRAINING_CORPUS)
    if current != validated:
        raise GateFailed(
            f"training_corpus is at Delta version {current}, but the latest gate ({latest.run_time}) validated "
            f"version {validated}: run the gate again"
        )
    if cfg is not None and cfg.fingerprint() != latest.config_fingerprint:
        raise GateFailed(f"the gate bounds changed since the latest gate ({latest.run_time}): run the gate again")
    return latest


def stage_stats(result: GateResult, seconds: float = 0.0) -> StageStats:
    """The gate as a pipeline stage: expectations in = passed + failed."""
    outcomes = [e for t in result.tables.values() for e in t.expectations]
    failed = result.failed
    stats = StageStats("gate", rows_in=len(outcomes), rows_out=len(outcomes) - len(failed), rows_rejected=len(failed))
    for e in failed:
        key = f"{e.table}: {e.name}"
        stats.by_reason[key] = stats.by_reason.get(key, 0) + 1
    stats.extra = {
        "passed": result.passed,
        "table_versions": result.table_versions,
        "data_docs_index": result.data_docs_index,
        "failed": result.failure_messages(),
    }
    stats.seconds = seconds
    return stats


def run_job(ctx: JobContext) -> StageStats:
    started = time.time()
    result = run(ctx.spark, ctx.workdir, ctx.cfg.gates, ctx.cfg.pii)
    stats = stage_stats(result, time.time() - started)
    if not result.passed:
        stats.halt = (
            "the gate failed, so the run stops here (no training data is emitted past it):\n  "
            + "\n  ".join(result.failure_messages())
            + f"\nData Docs: {result.data_docs_index}"
        )
    return stats


JOB = Job(
    name="gate",
    run=run_job,
    summary="Great Expectations gates on documents and training_corpus (schema, text, language set and mix, lengths, "
    "leaked duplicates): prints each expectation's outcome, writes Data Docs and gates/latest.json; exits 1 on "
    "failure, and emission refuses to run past a failed gate.",
    reads=("documents", "training_corpus"),
    writes=("file:gate",),
    section="gates",
)


__all__ = ["JOB", "GateFailed", "read_latest", "require_passed_gate", "run", "run_job", "stage_stats"]

if __name__ == "__main__":
    from spark_jobs.entry import main

    main("gate")
