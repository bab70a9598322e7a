"""The job contract: what a stage is, and the order stages run in.

A :class:`Job` declares its name, the tables and files it reads and writes, the config section it owns and one
``run(ctx) -> StageStats``. The pipeline, the CLI subcommands, the ``python -m`` entry points and cluster tasks
are all generated from one list of jobs (``spark_jobs.jobs.JOBS``); the order comes from the reads and writes
(:func:`order`), so a new stage is one job module and one line in that list.

Names in ``reads`` / ``writes`` are Delta table names (``documents``) or, for files, a ``file:`` prefix
(``file:tokenizer``); a name no job writes is an input from outside (``sources``, ``benchmarks``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.stats import StageStats

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass
class JobContext:
    """What a job's ``run`` gets: the composed config, a Spark session (built on first use), a progress callback
    and whether to redo work that is up to date."""

    cfg: Any
    spark_factory: Callable[[], Any] | None = None
    progress: Progress = _quiet
    force: bool = False
    _spark: Any = field(default=None, repr=False)

    @property
    def workdir(self) -> str:
        return self.cfg.workdir

    @property
    def spark(self):
        if self._spark is None:
            if self.spark_factory is None:
                raise RuntimeError("this job needs Spark, but its context has no session factory")
            self._spark = self.spark_factory()
        return self._spark

    def section(self, dotted: str) -> Any:
        """The config section at ``dotted`` (``"dedup"``, ``"quality.classifier"``)."""
        obj = self.cfg
        for part in dotted.split("."):
            obj = getattr(obj, part)
        return obj


Runner = Callable[[JobContext], StageStats]


@dataclass(frozen=True)
class Job:
    """One stage.

    ``run`` is the function or a ``"module:function"`` string (imported when the job runs, so listing jobs stays
    cheap). ``enabled(cfg)`` returns ``None`` when the job should run, else the reason it is skipped (the
    pipeline prints it). ``command`` is the CLI command that runs it (``"dedup"`` for both dedup jobs,
    ``"quality train"`` for a subcommand); ``force`` says whether that command always redoes the work
    (``"always"``), offers ``--force`` (``"flag"``) or neither (``"never"``). ``loads_tokenizer``: the job's
    Python workers need tokenizers and megatron-core (the worker daemon preloads them).
    """

    name: str
    run: Runner | str
    summary: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    section: str | None = None
    command: str | None = None
    force: Literal["always", "flag", "never"] = "never"
    enabled: Callable[[Any], str | None] | None = None
    loads_tokenizer: bool = False
    uses_spark: bool = True

    @property
    def cli_command(self) -> str:
        return self.command or self.name.replace("_", "-")

    def skip_reason(self, cfg: Any) -> str | None:
        return self.enabled(cfg) if self.enabled is not None else None

    def runner(self) -> Runner:
        if callable(self.run):
            return self.run
        module, _, attr = self.run.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __call__(self, ctx: JobContext) -> StageStats:
        started = time.time()
        stats = self.runner()(ctx)
        if not stats.seconds:
            stats.seconds = time.time() - started
        return stats


class Halt(RuntimeError):
    """Raised where a run must stop and say why (a failed or stale gate): the CLI prints the message and exits 1."""


class JobGraphError(ValueError):
    """Jobs whose reads and writes cannot be ordered (a cycle or a duplicate name)."""


def upstream(jobs: Sequence[Job], serialize_writes: bool = False) -> dict[str, list[str]]:
    """Job name -> the jobs that must finish before it (those that write something it reads), in list order: the
    edges of the pipeline's graph.

    ``serialize_writes``: also the job before it (in ``jobs``' order) that writes a table or file it writes too
    (``quarantine``, ``benchmark_substrings``), so that where the graph runs branches at once (Databricks tasks)
    no two jobs write one Delta table concurrently; cluster tasks' ``depends_on`` are these edges."""
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise JobGraphError(f"duplicate job names: {sorted({n for n in names if names.count(n) > 1})}")
    writers: dict[str, set[str]] = {}
    for j in jobs:
        for w in j.writes:
            writers.setdefault(w, set()).add(j.name)
    # a name several jobs write (quarantine) is read after all of them
    out = {}
    for i, j in enumerate(jobs):
        before = set().union(*(writers.get(r, set()) for r in j.reads)) - {j.name}
        if serialize_writes:
            for w in j.writes:
                earlier = [k.name for k in jobs[:i] if w in k.writes]
                before.update(earlier[-1:])
        out[j.name] = [n for n in names if n in before]
    return out


def order(jobs: Sequence[Job]) -> list[Job]:
    """The jobs in an order where every job runs after the jobs that write what it reads; among the jobs that
    are ready at once, the one listed first runs first (so the list's order is kept where the data allows)."""
    needs = {name: set(before) for name, before in upstream(jobs).items()}
    done: list[Job] = []
    left = list(jobs)
    while left:
        ready = next((j for j in left if needs[j.name] <= {d.name for d in done}), None)
        if ready is None:
            raise JobGraphError("jobs wait on each other: " + ", ".join(f"{j.name} <- {sorted(needs[j.name])}"
                                                                        for j in left))  # fmt: skip
        done.append(ready)
        left.remove(ready)
    return done


def select(jobs: Iterable[Job], names: Iterable[str]) -> list[Job]:
    """The jobs named (by job name or CLI command), in the order of ``jobs``; unknown names are an error."""
    jobs = list(jobs)
    wanted = list(names)
    known = {j.name for j in jobs} | {j.cli_command for j in jobs}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(
            f"unknown stage(s): {', '.join(unknown)}; stages are {', '.join(j.name for j in jobs)}"
        )
    return [j for j in jobs if j.name in wanted or j.cli_command in wanted]


def commands(jobs: Iterable[Job]) -> dict[str, list[Job]]:
    """CLI command -> the jobs it runs, in order."""
    out: dict[str, list[Job]] = {}
    for j in jobs:
        out.setdefault(j.cli_command, []).append(j)
    return out
