"""The one entry point for running jobs outside the ``moru`` CLI: ``python -m spark_jobs <job> --config x.yaml``
(also what spark-submit, a Databricks task or an EMR step runs) and every ``python -m spark_jobs.<module>``.

It loads only the sections the Spark jobs own (``spark_jobs.config.JobsConfig``), runs the preflight checks,
builds the session the jobs need, runs the jobs in order, prints each job's counts as JSON on stdout and
progress on stderr. Exit codes: 0 done, 1 a job halted the run (a failed gate) or failed, 2 a user error
(config, preflight).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from core.config import ConfigError
from core.job import Halt, JobContext
from core.job import select as select_jobs


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parser(name: str | None) -> argparse.ArgumentParser:
    from spark_jobs.jobs import jobs

    commands = sorted({j.cli_command for j in jobs()} | {j.name for j in jobs()})
    prog = "python -m spark_jobs" + (f".{name}" if name else "")
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    if name is None:
        p.add_argument("job", choices=commands, help="the job (or CLI command) to run")
    p.add_argument("--config", required=True, help="the moru YAML config")
    p.add_argument("--force", action="store_true", help="redo the work even when its inputs did not change")
    p.add_argument("--skip-checks", action="store_true", help="do not run the preflight checks before Spark starts")
    p.add_argument("--verbose", action="store_true", help="show the traceback of a failure preflight explains")
    return p


def main(name: str | None = None, argv: Sequence[str] | None = None) -> None:
    from spark_jobs.config import load_jobs_config
    from spark_jobs.jobs import jobs
    from spark_jobs.session import build_session, config_for

    args = parser(name).parse_args(argv)
    wanted = [name or args.job]
    try:
        cfg = load_jobs_config(args.config)
    except ConfigError as exc:
        _say(str(exc))
        sys.exit(2)
    todo = select_jobs(jobs(), wanted)
    problems = None if args.skip_checks else _preflight(cfg, todo)
    if problems:
        _say(problems)
        sys.exit(2)
    force = args.force or any(j.force == "always" for j in todo)
    spark_cfg = config_for(cfg.spark, any(j.loads_tokenizer for j in todo))
    ctx = JobContext(cfg=cfg, spark_factory=lambda: build_session(spark_cfg), progress=_say, force=force)
    out = []
    try:
        for job in todo:
            reason = job.skip_reason(cfg)
            if reason:
                _say(f"{job.name}: skipped ({reason})")
                continue
            stats = job(ctx)
            out.append(stats.as_dict())
            if stats.halt:
                print(json.dumps(out, indent=2, default=str))
                _say(stats.halt)
                sys.exit(1)
    except Halt as exc:
        _say(str(exc))
        sys.exit(1)
    except Exception as exc:
        from spark_jobs import preflight

        message = preflight.explain(exc, cfg)
        if message is None:
            raise
        _say(message)
        if args.verbose:
            raise
        sys.exit(2)
    print(json.dumps(out[0] if len(out) == 1 else out, indent=2, default=str))


def preflight_problems(cfg, names: Sequence[str]) -> list:
    """What :mod:`spark_jobs.preflight` finds wrong with ``cfg`` for running the jobs ``names`` (sources are
    checked only for the jobs that read them)."""
    from spark_jobs import preflight

    post = getattr(getattr(cfg, "posttrain", None), "sources", None) or []
    # a config may hold only post-training sources: then pretraining's empty list is not a problem
    problems = preflight.check(cfg, sources="ingest" in names and (bool(cfg.sources) or not post))
    if "posttrain_ingest" in names and post:
        problems += preflight.check_sources(post, key="posttrain.sources")
    return problems


def _preflight(cfg, todo) -> str | None:
    """The preflight problems as one message, or None."""
    problems = preflight_problems(cfg, [j.name for j in todo])
    return "\n".join(p.paragraph() for p in problems) if problems else None
