"""Ingest job: JSONL (plain, .gz, .zst), Parquet and WARC/ARC sources → raw_documents + quarantine."""

from spark_jobs.ingest.config import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.ingest.job import run

__all__ = ["FieldMapping", "IngestConfig", "SourceConfig", "run"]
