"""Reward models' scores of the emitted preference pairs into the Delta table ``pair_scores``.

``moru align`` trains the reward models (megatron_train.reward); each scores every pair of the pair blend to a
Parquet file (``doc_id, pair_index, split, chosen_score, rejected_score, margin``), which :func:`write_pair_scores`
appends to ``pair_scores`` with the reward model's name, its checkpoint and when it scored. The table is then what
the agreement filter's decisions can be queried from beside the other post-training tables (join on ``doc_id`` with
``preference_corpus``), and its Delta versions go into the run manifests with theirs.

Re-running is idempotent: the rows of one (reward model, checkpoint) are replaced in one commit (``replaceWhere``),
so scoring again with the same checkpoint leaves the same rows, and a reward model retrained to a new checkpoint
adds its rows beside the old ones (each checkpoint's scores stay queryable).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core import storage
from spark_jobs import tables

#: the columns megatron_train.reward.score writes
SCORE_COLUMNS = ("doc_id", "pair_index", "split", "chosen_score", "rejected_score", "margin")
_TYPES = {"doc_id": "string", "pair_index": "bigint", "split": "string", "chosen_score": "double",
          "rejected_score": "double", "margin": "double"}  # fmt: skip


def _literal(value: str) -> str:
    """A Spark SQL string literal (backslash escapes are on by default)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def scored_at(parquet_path: str | Path) -> datetime:
    """When the scores were made: the Parquet file's modification time (so writing the same file again writes the
    same rows); now for files on object stores."""
    local = storage.local_path(str(parquet_path))
    if local is not None and local.is_file():
        return datetime.fromtimestamp(local.stat().st_mtime, UTC)
    return datetime.now(UTC)


def write_pair_scores(spark, workdir: str, parquet_path: str | Path, reward_model: str, checkpoint: str) -> dict:
    """Write one reward model's scores file into ``pair_scores`` (module docstring), replacing that reward model's
    rows for the same checkpoint. Returns the counts (``rows_in`` read from the file, ``rows_written`` committed,
    ``rows_replaced`` removed from an earlier write of the same scores, per split) and the table's new version.
    Raises ValueError for a file without the score columns or with an empty reward model / checkpoint name, and
    RuntimeError when the commit's row count differs from the file's."""
    import json

    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not reward_model or not checkpoint:
        raise ValueError(f"pair_scores: reward_model and checkpoint must be named (got {reward_model!r}, "
                         f"{checkpoint!r})")  # fmt: skip
    source = spark.read.parquet(storage.to_spark_path(str(parquet_path)))
    missing = [c for c in SCORE_COLUMNS if c not in source.columns]
    if missing:
        raise ValueError(f"{parquet_path}: no column {', '.join(missing)} (a reward model's scores file has "
                         f"{', '.join(SCORE_COLUMNS)})")  # fmt: skip
    by_split = {r["split"]: int(r["count"]) for r in source.groupBy("split").count().collect()}
    rows_in = sum(by_split.values())
    table = tables.PAIR_SCORES
    when = scored_at(parquet_path)
    frame = source.select(
        *[F.col(c).cast(_TYPES[c]).alias(c) for c in SCORE_COLUMNS],
        F.lit(reward_model).alias("reward_model"),
        F.lit(str(checkpoint)).alias("checkpoint"),
        F.lit(when).cast("timestamp").alias("scored_at"),
    ).select(*table.columns)
    predicate = f"reward_model = {_literal(reward_model)} AND checkpoint = {_literal(str(checkpoint))}"
    created = tables.ensure(spark, workdir, table)
    replaced = 0 if created else tables.read(spark, workdir, table).filter(predicate).count()
    uri = tables.table_uri(workdir, table)
    note = json.dumps({"reward_model": reward_model, "checkpoint": str(checkpoint), "source": str(parquet_path)})
    (frame.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
     .option("userMetadata", note).save(uri))  # fmt: skip
    version, metrics = DeltaTable.forPath(spark, uri).history(1).select("version", "operationMetrics").head()
    metrics = metrics or {}
    written = int(metrics.get("numOutputRows", 0))
    if written != rows_in:
        raise RuntimeError(f"pair_scores v{version}: {written} rows committed for {rows_in} read from {parquet_path}")
    return {
        "table": table.name,
        "reward_model": reward_model,
        "checkpoint": str(checkpoint),
        "source": str(parquet_path),
        "scored_at": when.isoformat(),
        "rows_in": rows_in,
        "rows_written": written,
        "rows_replaced": replaced,
        "by_split": dict(sorted(by_split.items())),
        "version": int(version),
    }
