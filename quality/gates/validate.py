"""Runs the suites with Great Expectations 1.x on Spark DataFrames and writes Data Docs.

One ephemeral data context per run (nothing of GX's own is stored: the suites are code, the
result is moru's JSON), one Spark data source with a dataframe asset and a whole-dataframe batch
definition per table, and one checkpoint per table whose ``UpdateDataDocsAction`` writes that
table's validation page and the site index. One checkpoint per table, not one for both: a
checkpoint passes the same ``batch_parameters`` (``{"dataframe": df}``) to every validation
definition it holds, so two tables cannot share one run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from quality.gates.result import ExpectationOutcome, GateResult, TableGate

log = logging.getLogger("moru.gates")
SITE_NAME = "moru_gates"
# unexpected values kept per failed row-wise expectation (in Data Docs and in the JSON result)
SAMPLE_SIZE = 10


@dataclass
class TableInput:
    """One table to validate: the DataFrame read at ``version``, and its suite."""

    name: str
    dataframe: Any  # pyspark.sql.DataFrame
    suite: gx.ExpectationSuite
    version: int | None = None


def _context(docs_dir: Path):
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(
    inputs: list[TableInput], docs_dir: str | Path, config_fingerprint: str, persist: bool = True
) -> GateResult:
    """Validate each input with its suite; Data Docs go to ``docs_dir`` (``index.html`` there)."""
    docs_dir = Path(docs_dir)
    docs_dir.mkdir(parents=True, exist_ok=True)
    context = _context(docs_dir)
    source = context.data_sources.add_spark(name="moru", persist=persist)
    run_time = dt.datetime.now(dt.UTC)
    run_id = RunIdentifier(run_name="moru_gate", run_time=run_time)
    tables: dict[str, TableGate] = {}
    for item in inputs:
        batch_definition = source.add_dataframe_asset(
            name=item.name, batch_metadata={"delta_table": item.name, "delta_version": item.version}
        ).add_batch_definition_whole_dataframe("whole_table")
        suite = context.suites.add(item.suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{item.name}_gate", data=batch_definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"moru_gate_{item.name}",
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
            )
        )
        try:
            outcome = checkpoint.run(batch_parameters={"dataframe": item.dataframe}, run_id=run_id)
        finally:
            if persist:
                item.dataframe.unpersist()
        (validation,) = outcome.run_results.values()
        columns = set(item.dataframe.columns)
        order = {e.id: i for i, e in enumerate(suite.expectations)}  # GX groups results by domain: keep suite order
        ordered = sorted(validation.results, key=lambda r: order.get(r.expectation_config.id, len(order)))
        results = [_outcome(item.name, r, columns) for r in ordered]
        rows = next((r.observed.get("observed_value") for r in results if r.check == "row_count"), None)
        tables[item.name] = TableGate(
            name=item.name,
            version=item.version,
            rows=rows,
            passed=bool(validation.success),
            expectations=results,
        )
        log.info("%s v%s: %s", item.name, item.version, "passed" if validation.success else "FAILED")
    return GateResult(
        passed=all(t.passed for t in tables.values()),
        run_time=run_time.isoformat(timespec="seconds"),
        tables=tables,
        data_docs_index=str(docs_dir / "index.html"),
        config_fingerprint=config_fingerprint,
        gx_version=gx.__version__,
    )


def _outcome(table: str, r, columns: set[str]) -> ExpectationOutcome:
    config = r.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    meta = config.meta or {}
    check = meta.get("moru_check", "")
    result = r.result or {}
    observed: dict[str, Any] = {}
    if "observed_value" in result:
        observed["observed_value"] = result["observed_value"]
    if "unexpected_count" in result:
        observed["unexpected_count"] = int(result["unexpected_count"] or 0)
        if "element_count" in result:
            observed["element_count"] = int(result["element_count"] or 0)
    if result.get("partial_unexpected_list"):
        observed["sample"] = list(result["partial_unexpected_list"])[:SAMPLE_SIZE]
    if check.startswith("lang_share_") and observed.get("element_count"):
        n, total = observed["unexpected_count"], observed["element_count"]
        # in_set(lang, [x]) flags rows of other languages; not_in_set(lang, [x]) flags rows of x
        observed["share"] = (total - n) / total if check.startswith("lang_share_min") else n / total
    if check == "schema" and isinstance(result.get("details"), dict):
        observed["details"] = result["details"].get("mismatched")
    error = _error(r.exception_info)
    if error and kwargs.get("column") and kwargs["column"] not in columns:
        error = f"column {kwargs['column']!r} does not exist"
    return ExpectationOutcome(
        table=table,
        type=config.type,
        column=kwargs.get("column"),
        kwargs=_jsonable(kwargs),
        success=bool(r.success),
        observed=_jsonable(observed),
        check=check,
        description=config.description or "",
        error=error,
    )


def _error(info: Any) -> str | None:
    """The exception message of a result that raised; GX nests it per metric for metric failures."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "exception") if info["raised_exception"] else None
    messages = {_error(v) for v in info.values()} - {None}
    return "; ".join(sorted(messages)) or None


def _jsonable(value: Any) -> Any:
    """Plain JSON types (GX results can hold numpy scalars and sets)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)
