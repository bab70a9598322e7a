"""Post-training gate: Great Expectations suites over ``sft_corpus`` and ``preference_corpus``.

As the pretraining gate (spark_jobs.gate), each table is read at its current Delta version, validated in a GX
checkpoint (suites: :mod:`quality.gates.posttrain`, after the per-row check columns are added) and Data Docs are
written, here to ``<workdir>/report/posttrain_data_docs/``. The result goes to its own folder,
``<workdir>/gates/posttrain/latest.json`` (and ``gate-<time>.json`` per run beside it), so the two gates never
overwrite each other. :func:`require_passed_posttrain_gate` is what the post-training emit calls first: it raises
:class:`GateFailed` unless the latest post-training gate passed on the corpus versions that are current now.

    python -m spark_jobs.posttrain.gate --config moru.yaml      # exits 1 when the gate fails
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from core import locations, storage
from core.job import Job, JobContext
from core.stats import StageStats
from quality.gates.posttrain import PAIR_CHECKS, SFT_CHECKS, PosttrainGateConfig
from quality.gates.result import GateFailed, GateResult
from spark_jobs import tables
from spark_jobs.gate import publish, read_result, stage_stats

log = logging.getLogger("moru.posttrain.gate")

GATED = (
    (tables.SFT_CORPUS, tables.CONVERSATIONS),
    (tables.PREFERENCE_CORPUS, tables.PREFERENCE_PAIRS),
)


def results_dir(workdir: str) -> str:
    return locations.posttrain_gates(workdir)


def result_uri(workdir: str) -> str:
    """Where the latest post-training gate result is (GateResult JSON)."""
    return storage.join(results_dir(workdir), "latest.json")


def data_docs_uri(workdir: str) -> str:
    return storage.join(locations.report(workdir), "posttrain_data_docs")


def _checks_mapper(table: str):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from quality.gates.posttrain import conversation_checks, pair_checks

        for batch in batches:
            if table == tables.SFT_CORPUS.name:
                rows = [conversation_checks(m) for m in batch.column("messages").to_pylist()]
                types = (pa.string(), pa.int32(), pa.float64())
            else:
                cols = [batch.column(c).to_pylist() for c in ("prompt", "chosen", "rejected")]
                rows = [pair_checks(p, c, r) for p, c, r in zip(*cols, strict=True)]
                types = (pa.string(), pa.int32(), pa.bool_())
            checks = list(zip(*rows, strict=True)) if rows else [[], [], []]
            out = batch
            names = SFT_CHECKS if table == tables.SFT_CORPUS.name else PAIR_CHECKS
            for name, values, t in zip(names, checks, types, strict=True):
                out = out.append_column(name, pa.array(list(values), t))
            yield out

    return run


def with_checks(df: DataFrame, table: tables.Table) -> DataFrame:
    """``df`` (the corpus as read) with the check columns its suite reads."""
    from pyspark.sql import types as T

    checks = SFT_CHECKS if table is tables.SFT_CORPUS else PAIR_CHECKS
    schema = T.StructType(list(df.schema.fields))
    for name, type_name in checks.items():
        schema = schema.add(name, getattr(T, type_name)())
    return df.mapInArrow(_checks_mapper(table.name), schema)


def expected_schema(table: tables.Table) -> dict[str, str]:
    """``{column: Spark type class name}``: the declared columns and the check columns."""
    schema = {f.name: type(f.dataType).__name__ for f in table.schema.fields}
    return {**schema, **(SFT_CHECKS if table is tables.SFT_CORPUS else PAIR_CHECKS)}


def run(spark: SparkSession, workdir: str, cfg: PosttrainGateConfig | None = None) -> GateResult:
    """Validate ``sft_corpus`` and ``preference_corpus``; write Data Docs and the result JSON. Raises
    FileNotFoundError when either corpus does not exist yet (the post-training select step writes both)."""
    from quality.gates.posttrain import preference_corpus_suite, sft_corpus_suite
    from quality.gates.validate import TableInput

    cfg = cfg or PosttrainGateConfig()
    versions = {t.name: tables.version(spark, workdir, t) for t, _ in GATED}
    missing = [name for name, v in versions.items() if v is None]
    if missing:
        raise FileNotFoundError(
            f"posttrain gate: no Delta table {', '.join(missing)} under {locations.tables(workdir)} "
            "(the post-training select step writes them)"
        )
    inputs = []
    for table, source in GATED:
        df = tables.read(spark, workdir, table, version=versions[table.name])
        rows = df.count()
        input_rows = tables.read(spark, workdir, source).count() if tables.exists(spark, workdir, source) else 0
        if table is tables.SFT_CORPUS:
            suite = sft_corpus_suite(cfg.sft_corpus, expected_schema(table), rows, input_rows)
        else:
            suite = preference_corpus_suite(cfg.preference_corpus, expected_schema(table), rows, input_rows)
        inputs.append(TableInput(table.name, with_checks(df, table), suite, versions[table.name]))

    return publish(inputs, cfg.fingerprint(), cfg.persist, data_docs_uri(workdir), results_dir(workdir))


def read_latest(workdir: str) -> GateResult | None:
    return read_result(results_dir(workdir))


def gate_config(cfg) -> PosttrainGateConfig:
    """The post-training gate's bounds: ``cfg`` itself, or ``posttrain.gate`` of a composed config (its defaults
    until that section is declared)."""
    if cfg is None or isinstance(cfg, PosttrainGateConfig):
        return cfg or PosttrainGateConfig()
    return getattr(cfg.posttrain, "gate", None) or PosttrainGateConfig()


def require_passed_posttrain_gate(spark: SparkSession, workdir: str, cfg=None) -> GateResult:
    """The latest post-training gate result, if it passed and ``sft_corpus`` and ``preference_corpus`` are still
    the versions it validated (and, given ``cfg`` — the gate's bounds or the composed config — the gate ran with
    the same bounds); GateFailed otherwise."""
    latest = read_latest(workdir)
    if latest is None:
        raise GateFailed(
            f"no post-training gate result at {result_uri(workdir)}: run `moru posttrain gate --config ...` before "
            "emitting post-training data"
        )
    if not latest.passed:
        failures = "\n  ".join(latest.failure_messages())
        raise GateFailed(
            f"the latest post-training gate ({latest.run_time}) failed; no post-training data is emitted past it:\n"
            f"  {failures}\nData Docs: {latest.data_docs_index}"
        )
    for table, _ in GATED:
        validated = latest.table_versions.get(table.name)
        current = tables.version(spark, workdir, table)
        if current != validated:
            raise GateFailed(
                f"{table.name} is at Delta version {current}, but the latest post-training gate ({latest.run_time}) "
                f"validated version {validated}: run the gate again"
            )
    if cfg is not None and gate_config(cfg).fingerprint() != latest.config_fingerprint:
        raise GateFailed(
            f"the post-training gate bounds changed since the latest gate ({latest.run_time}): run the gate again"
        )
    return latest


def run_job(ctx: JobContext) -> StageStats:
    started = time.time()
    result = run(ctx.spark, ctx.workdir, gate_config(ctx.cfg))
    stats = stage_stats(result, time.time() - started)
    stats.stage = "posttrain_gate"
    if not result.passed:
        stats.halt = (
            "the post-training gate failed, so the run stops here (no post-training data is emitted past it):\n  "
            + "\n  ".join(result.failure_messages())
            + f"\nData Docs: {result.data_docs_index}"
        )
    return stats


JOB = Job(
    name="posttrain_gate",
    run=run_job,
    summary="Great Expectations gates on sft_corpus and preference_corpus (roles, empty assistant turns, supervised "
    "character share, languages, duplicates, contamination): writes Data Docs and gates/posttrain/latest.json; exits "
    "1 on failure, and the post-training emit refuses to run past a failed gate.",
    reads=("sft_corpus", "preference_corpus", "conversations", "preference_pairs"),
    writes=("file:posttrain_gate",),
    section="posttrain.gate",
    command="posttrain gate",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


__all__ = ["JOB", "GateFailed", "read_latest", "require_passed_posttrain_gate", "result_uri", "run", "run_job"]

if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_gate")
