"""Every Delta table moru writes: its name, its schema, and the one way rows get into it.

Tables live at ``<workdir>/tables/<name>``. Writes are MERGEs on the table's key, so re-running
a job with the same input leaves the same rows; a job that dies before its commit leaves the
previous table version intact (Delta commits are atomic).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from spark_jobs import storage


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    ddl: str
    doc: str

    @property
    def schema(self) -> StructType:
        return StructType.fromDDL(self.ddl)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]


RAW_DOCUMENTS = Table(
    name="raw_documents",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, record_key STRING NOT NULL, "
        "source_file STRING NOT NULL, record_index BIGINT NOT NULL, text STRING NOT NULL, "
        "url STRING, metadata MAP<STRING, STRING>, text_bytes INT NOT NULL, "
        "record_sha1 STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="one row per accepted source record; text exactly as extracted (not yet normalized)",
)

QUARANTINE = Table(
    name="quarantine",
    key=("quarantine_id",),
    ddl=(
        "quarantine_id STRING NOT NULL, stage STRING NOT NULL, source STRING NOT NULL, "
        "source_file STRING NOT NULL, record_index BIGINT NOT NULL, reason STRING NOT NULL, "
        "detail STRING, raw_payload STRING, payload_bytes BIGINT NOT NULL, "
        "doc_id STRING, input_fingerprint STRING, quarantined_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "every rejected record with its reason and its raw payload (truncated); rows rejected after "
        "ingest carry the doc_id and a fingerprint of the input+settings that rejected them, so a re-run "
        "skips them until either changes"
    ),
)

DOCUMENTS = Table(
    name="documents",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, url STRING, text STRING NOT NULL, "
        "lang STRING NOT NULL, lid_label STRING NOT NULL, lid_score DOUBLE NOT NULL, "
        "hangul_ratio DOUBLE NOT NULL, latin_ratio DOUBLE NOT NULL, han_ratio DOUBLE NOT NULL, "
        "n_chars INT NOT NULL, n_bytes INT NOT NULL, n_words INT NOT NULL, n_lines INT NOT NULL, "
        "metadata MAP<STRING, STRING>, raw_sha1 STRING NOT NULL, "
        "normalize_fingerprint STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="normalized text with language, script ratios and lengths",
)

ALL_TABLES = {t.name: t for t in (RAW_DOCUMENTS, QUARANTINE, DOCUMENTS)}


def table_uri(workdir: str, table: Table | str) -> str:
    name = table if isinstance(table, str) else table.name
    return storage.to_spark_path(storage.join(workdir, "tables", name))


def exists(spark: SparkSession, workdir: str, table: Table) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_uri(workdir, table))


def read(spark: SparkSession, workdir: str, table: Table, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_uri(workdir, table))


def version(spark: SparkSession, workdir: str, table: Table) -> int | None:
    """Latest committed version, or None if the table does not exist yet."""
    from delta.tables import DeltaTable

    uri = table_uri(workdir, table)
    if not DeltaTable.isDeltaTable(spark, uri):
        return None
    return DeltaTable.forPath(spark, uri).history(1).select("version").head()[0]


def ensure(spark: SparkSession, workdir: str, table: Table) -> None:
    """Create the table empty, with its declared schema, if it does not exist."""
    from delta.tables import DeltaTable

    (DeltaTable.createIfNotExists(spark).location(table_uri(workdir, table)).addColumns(table.schema).execute())


def merge(
    spark: SparkSession,
    df: DataFrame,
    workdir: str,
    table: Table,
    changed: list[str] | None = None,
) -> None:
    """Upsert ``df`` into ``table`` on its key.

    Rows whose key is new are inserted; rows whose key exists are updated only when one of the
    ``changed`` columns differs (so a re-run with the same input changes no row). ``df`` must
    hold at most one row per key.
    """
    from delta.tables import DeltaTable

    ensure(spark, workdir, table)
    target = DeltaTable.forPath(spark, table_uri(workdir, table))
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in table.key)
    builder = target.alias("t").merge(df.select(*table.columns).alias("s"), on)
    if changed:
        cond = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in changed)
        builder = builder.whenMatchedUpdateAll(condition=cond)
    builder.whenNotMatchedInsertAll().execute()
