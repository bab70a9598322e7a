"""spark-submit entry point: ``python -m spark_jobs.ingest --config moru.yaml``."""

import argparse
import json

from spark_jobs.config import load_jobs_config
from spark_jobs.ingest.job import run
from spark_jobs.session import build_session


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moru ingest: sources -> raw_documents + quarantine")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    cfg = load_jobs_config(args.config)
    spark = build_session(cfg.spark)
    print(json.dumps(run(spark, cfg.workdir, cfg.sources, cfg.ingest).as_dict(), indent=2))


if __name__ == "__main__":
    main()
