"""Ingest job: JSON lines, JSON, CSV/TSV (plain, .gz, .zst, .bz2, .xz), Parquet and WARC/ARC sources (read through
:mod:`core.formats`) → raw_documents + quarantine; every file matched is read, quarantined or skipped with a reason."""

from spark_jobs.ingest.config import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.ingest.job import run

__all__ = ["FieldMapping", "IngestConfig", "SourceConfig", "run"]
