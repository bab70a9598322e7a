"""spark-submit entry point: ``python -m spark_jobs.dedup --config x.yaml`` (exact, then MinHash)."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main("dedup")
