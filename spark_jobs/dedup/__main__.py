"""spark-submit entry point: ``python -m spark_jobs.dedup --config x.yaml`` (exact, then MinHash)."""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> None:
    from spark_jobs.config import load_jobs_config
    from spark_jobs.dedup import exact, minhash
    from spark_jobs.session import build_session

    parser = argparse.ArgumentParser(description="moru dedup: exact, then MinHash-LSH near duplicates")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    cfg = load_jobs_config(args.config)
    spark = build_session(cfg.spark)
    out = []
    if cfg.dedup.exact.enabled:
        out.append(exact.run(spark, cfg.workdir, cfg.dedup).as_dict())
    if cfg.dedup.minhash.enabled:
        out.append(minhash.run(spark, cfg.workdir, cfg.dedup).as_dict())
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
