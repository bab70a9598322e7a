"""``python -m spark_jobs.emit --config moru.yaml [--force]`` (also as a spark-submit module): the emit job alone.
Exits 1 when the gate has not passed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from quality.gates.result import GateFailed
    from spark_jobs.config import _resolve, load_jobs_config, read_yaml
    from spark_jobs.emit import job
    from spark_jobs.session import build_session

    parser = argparse.ArgumentParser(description="moru emit: training_corpus -> Megatron .bin/.idx shards + blends")
    parser.add_argument("--config", required=True)
    parser.add_argument("--force", action="store_true", help="emit again even when nothing changed")
    args = parser.parse_args(argv)
    cfg = load_jobs_config(args.config)
    # the tokenizer section belongs to the tokenizer package; only its output folder is needed here
    tok = (read_yaml(args.config).get("tokenizer") or {}).get("output_dir")
    if isinstance(tok, str):
        tok = _resolve(tok, Path(args.config).resolve().parent)
    try:
        stats = job.run(build_session(cfg.spark), cfg.workdir, cfg.emit, cfg.gates, tokenizer_dir=tok,
                        force=args.force, progress=lambda m: print(m, file=sys.stderr))  # fmt: skip
    except GateFailed as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    print(json.dumps(stats.as_dict(), indent=2, default=str))


if __name__ == "__main__":
    main()
