"""The keeper rule shared by exact and near-duplicate dedup: which member of a group stays.

Order: a member that was the group's keeper on the previous run (so a new batch never demotes an
old keeper), then the configured source priority, then the earliest ``ingested_at``, then the
smallest ``doc_id``. Deterministic: the same rows give the same keepers on every run.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def source_rank(source_priority: list[str]) -> Column:
    """0, 1, … for sources in the list, len(list) for every other source."""
    if not source_priority:
        return F.lit(0)
    pos = F.array_position(F.array(*[F.lit(s) for s in source_priority]), F.col("source"))
    return F.when(pos > 0, pos - 1).otherwise(F.lit(len(source_priority)))


def pick_keepers(df: DataFrame, group: str, source_priority: list[str]) -> DataFrame:
    """Adds ``cluster_size``, ``keeper_doc_id`` and ``is_keeper`` to ``df`` (columns ``doc_id``,
    ``source``, ``ingested_at``, ``was_keeper`` and ``group``)."""
    order = Window.partitionBy(group).orderBy(
        F.col("was_keeper").desc(), source_rank(source_priority), F.col("ingested_at"), F.col("doc_id")
    )
    whole = Window.partitionBy(group)
    return (
        df.withColumn("cluster_size", F.count("*").over(whole).cast("int"))
        .withColumn("keeper_doc_id", F.first("doc_id").over(order))
        .withColumn("is_keeper", F.col("keeper_doc_id") == F.col("doc_id"))
    )
