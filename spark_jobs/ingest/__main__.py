"""spark-submit entry point: ``python -m spark_jobs.ingest --config moru.yaml``."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main("ingest")
