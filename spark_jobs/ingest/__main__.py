"""spark-submit entry point: ``python -m spark_jobs.ingest --config moru.yaml``.

The config is checked first (:func:`spark_jobs.preflight.check`: workdir writable, sources present, Delta jars);
a problem, or a failure :func:`spark_jobs.preflight.explain` knows, is printed as one paragraph naming the config
key and the fix, with exit code 2 (``--verbose`` also shows the traceback).
"""

import argparse
import json
import sys

from spark_jobs import preflight
from spark_jobs.config import load_jobs_config
from spark_jobs.ingest.job import run
from spark_jobs.session import build_session


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moru ingest: sources -> raw_documents + quarantine")
    parser.add_argument("--config", required=True)
    parser.add_argument("--skip-checks", action="store_true", help="do not check the config before Spark starts")
    parser.add_argument("--verbose", action="store_true", help="show the traceback of a failure")
    args = parser.parse_args(argv)
    cfg = load_jobs_config(args.config)
    problems = [] if args.skip_checks else preflight.check(cfg)
    if problems:
        print("\n".join(p.paragraph() for p in problems), file=sys.stderr)
        sys.exit(2)
    try:
        spark = build_session(cfg.spark)
        stats = run(spark, cfg.workdir, cfg.sources, cfg.ingest)
    except Exception as exc:
        text = preflight.explain(exc, cfg)
        if text is None:
            raise
        print(text, file=sys.stderr)
        if args.verbose:
            raise
        sys.exit(2)
    print(json.dumps(stats.as_dict(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
