"""Dedup jobs: exact (``exact_duplicates``), then MinHash-LSH (``minhash_signatures``,
``near_duplicate_clusters``). ``python -m spark_jobs.dedup --config x.yaml`` runs both."""

from spark_jobs.dedup import exact, minhash
from spark_jobs.dedup.config import DedupConfig

__all__ = ["DedupConfig", "exact", "minhash"]
