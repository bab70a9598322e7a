"""Deduplication kernels: canonical text for exact hashing, shingles, MinHash signatures, LSH bands.

Plain functions over strings and numpy arrays; the Spark jobs (``spark_jobs.exact_dedup``,
``spark_jobs.minhash_dedup``) apply them in Arrow UDFs, and tests call them directly.
"""
