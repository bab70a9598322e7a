"""The ``moru`` command line: one subcommand per job (generated from the job list, ``spark_jobs.jobs``), ``run``
for the whole pipeline, ``check-config`` for the config and the preflight checks, ``demo`` for everything end to
end on a generated bilingual corpus, ``tokenizer eval``, ``train`` and ``align``.

Exit codes: 0 done; 1 a job failed or halted the run (a failed gate); 2 a user error (config, preflight, or a
known failure a stage ran into, explained in one paragraph; ``--verbose`` adds the traceback)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from core.job import Halt, Job, JobContext
from core.job import commands as job_commands
from core.job import select as select_jobs
from moru.config import ConfigError, MoruConfig, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
_verbose = False

ConfigOpt = typer.Option(..., "--config", "-c", help="YAML config (see README: a workdir and its sources suffice)")


def _load(path: Path) -> MoruConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[red]{escape(str(exc))}")
        raise typer.Exit(2) from None


def _jobs() -> tuple[Job, ...]:
    from spark_jobs.jobs import jobs

    return jobs()


def spark_config(cfg: MoruConfig, emits: bool = True):
    """The Spark settings for a command (see spark_jobs.session.config_for)."""
    from spark_jobs.session import config_for

    return config_for(cfg.spark, emits)


def _session(cfg: MoruConfig, emits: bool = True):
    from spark_jobs.session import build_session

    with console.status("starting Spark"):
        return build_session(spark_config(cfg, emits))


def _preflight(cfg: MoruConfig, jobs: Sequence[Job]) -> None:
    """Stop with exit code 2 and one paragraph per problem before Spark starts, when the workdir cannot be written,
    a source matches no file, the Delta jars are missing, ..."""
    from spark_jobs.entry import preflight_problems

    problems = preflight_problems(cfg, [j.name for j in jobs])
    if problems:
        console.print(f"[red]{escape(chr(10).join(p.paragraph() for p in problems))}")
        raise typer.Exit(2)


def _explain(exc: BaseException, cfg: MoruConfig | None = None) -> None:
    """A failure a stage ran into: a known one (a Java/Py4J error with a user-side cause) is one paragraph and exit
    code 2; any other is re-raised. ``--verbose`` prints the traceback too."""
    from spark_jobs import preflight

    message = preflight.explain(exc, cfg)
    if message is None:
        raise exc
    if _verbose:
        console.print(escape("".join(traceback.format_exception(exc))), style="dim")
    console.print(f"[red]{escape(message)}")
    if not _verbose:
        console.print("[dim](the Java traceback: run again with moru --verbose ...)")
    raise typer.Exit(2) from None


def _run(
    cfg: MoruConfig, stages: Sequence[str] | None = None, title: str = "moru run report", force: bool = False
) -> None:
    """Run ``stages`` (job names or commands; default every job) through the pipeline: stage table, report,
    manifest."""
    from moru.pipeline import run_stages

    todo = list(_jobs()) if stages is None else select_jobs(_jobs(), stages)
    _preflight(cfg, todo)
    spark = _session(cfg, emits=any(j.loads_tokenizer for j in todo))
    try:
        run_stages(spark, cfg, stages, console=console, title=title, force=force)
    except Halt as exc:
        console.print(f"[red]{escape(str(exc))}")
        raise typer.Exit(1) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - mapped to a message or re-raised
        _explain(exc, cfg)


def _run_direct(cfg: MoruConfig, todo: Sequence[Job], force: bool) -> None:
    """Run jobs that have a view (gate, emit, classifier, tokenizer) and print it: no report."""
    from moru.views import VIEWS

    _preflight(cfg, todo)
    spark = None
    if any(j.uses_spark for j in todo):
        spark = _session(cfg, emits=any(j.loads_tokenizer for j in todo))
    ctx = JobContext(cfg=cfg, spark_factory=lambda: spark, force=force,
                     progress=lambda m: console.print(f"[dim]{escape(m)}"))  # fmt: skip
    failed = False
    for job in todo:
        reason = job.skip_reason(cfg)
        if reason and not force:
            console.print(f"[yellow]{job.name}: nothing to do ({escape(reason)})")
            continue
        try:
            stats = job(ctx)
        except Halt as exc:
            console.print(f"[red]{escape(str(exc))}")
            raise typer.Exit(1) from None
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            if type(exc).__name__ == "Py4JJavaError":
                _explain(exc, cfg)
            console.print(f"[red]error: {escape(str(exc))}")
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - mapped to a message or re-raised
            _explain(exc, cfg)
        VIEWS[job.name](console, cfg, stats)
        failed = failed or bool(stats.halt)
    if failed:
        raise typer.Exit(1)


def _command(name: str, jobs: list[Job]):
    """A typer command that runs ``jobs`` (one CLI command may run several, e.g. dedup)."""
    from moru.views import VIEWS

    direct = all(j.name in VIEWS for j in jobs)
    always = any(j.force == "always" for j in jobs)

    def execute(config: Path, force: bool) -> None:
        cfg = _load(config)
        if direct:
            _run_direct(cfg, jobs, force or always)
        else:
            _run(cfg, [j.name for j in jobs], force=force or always)

    if any(j.force == "flag" for j in jobs):

        def command(
            config: Path = ConfigOpt,
            force: bool = typer.Option(False, "--force", help="redo the work even with the same input and settings"),
        ) -> None:
            execute(config, force)
    else:

        def command(config: Path = ConfigOpt) -> None:
            execute(config, False)

    command.__doc__ = jobs[0].summary
    command.__name__ = name.replace(" ", "_").replace("-", "_")
    return command


def _groups() -> dict[str, typer.Typer]:
    return {
        "quality": typer.Typer(no_args_is_help=True, help="The fastText quality classifier."),
        "tokenizer": typer.Typer(no_args_is_help=True, help="The bilingual byte-level BPE tokenizer (EXAONE-style)."),
    }


GROUPS = _groups()


def _add_job_commands() -> None:
    for command, jobs in job_commands(_jobs()).items():
        group, _, sub = command.partition(" ")
        if sub:
            if group not in GROUPS:
                GROUPS[group] = typer.Typer(no_args_is_help=True, help=f"moru {group} commands")
            GROUPS[group].command(sub)(_command(command, jobs))
        else:
            app.command(command)(_command(command, jobs))
    for group, sub_app in GROUPS.items():
        app.add_typer(sub_app, name=group)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log each job's counts; tracebacks of failures"),
) -> None:
    global _verbose
    _verbose = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s")


@app.command()
def run(
    config: Path = ConfigOpt,
    stage: list[str] = typer.Option(None, "--stage", help="run only these stages (job names or commands), in order"),
) -> None:
    """Run every stage in order (ingest, normalize + language id, exact and near-duplicate dedup, quality classifier
    training when its sets changed, quality signals, decontamination, select, the gate, the tokenizer, emit) and
    write the report."""
    cfg = _load(config)
    if stage:
        try:
            select_jobs(_jobs(), stage)
        except ValueError as exc:
            console.print(f"[red]{escape(str(exc))}")
            raise typer.Exit(2) from None
    _run(cfg, stage or None)


_add_job_commands()


@app.command("check-config")
def check_config(config: Path = ConfigOpt) -> None:
    """Validate a config, run the preflight checks (workdir writable, sources match files, Delta jars present) and
    print the config with every default filled in."""
    cfg = _load(config)
    console.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
    _preflight(cfg, _jobs())
    console.print("[green]preflight: workdir, sources and Spark's jars are usable")


def _align(config: Path, cfg: MoruConfig, steps: Sequence[str] | None = None, nproc: int | None = None,
           spark=None) -> dict:  # fmt: skip
    """Preflight (exit 2 naming each missing file and the command that makes it), then the recipe; a failed step
    exits 1. ``spark``: the Spark session to write pair_scores with (default: built on first use)."""
    from moru.align import preflight_problems, run_align

    _, problems = preflight_problems(config, steps)
    if problems:
        console.print(f"[red]{escape(chr(10).join(problems))}")
        raise typer.Exit(2)
    session: list = [spark] if spark is not None else []

    def get_spark():
        if not session:
            session.append(_session(cfg, emits=False))
        return session[0]

    try:
        return run_align(config, cfg.workdir, console=console, spark=get_spark, steps=steps, nproc=nproc)
    except typer.Exit:
        raise
    except RuntimeError as exc:
        if type(exc).__name__ == "Py4JJavaError":
            _explain(exc, cfg)
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - mapped to a message or re-raised
        _explain(exc, cfg)
        raise


@app.command()
def demo(
    workdir: Path = typer.Option(Path("demo_run"), help="where input/, tables/ and report/ go"),
    docs: int = typer.Option(3000, help="documents in the generated corpus"),
    seed: int = typer.Option(0, help="corpus seed (same seed, same corpus)"),
    languages: str = typer.Option(
        "ko,en",
        help="the run's languages (ko, en, de, ja, vi): de/ja/vi add generated documents in input/langs "
        "and set the config's languages key",
    ),
) -> None:
    """Generate a bilingual Korean/English corpus and a benchmark test set whose examples are planted in it,
    run every stage (decontaminate included), and check the results against the generator's ground truth."""
    from demo.app import run_demo
    from demo.languages import parse_languages

    try:
        langs = parse_languages(languages)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--languages") from e
    run_demo(
        workdir,
        docs,
        seed,
        languages=langs,
        console=console,
        load_config=_load,
        run_pipeline=lambda cfg, title: _run(cfg, title=title),
        session=_session,
        run_align=lambda path, cfg, spark: _align(path, cfg, spark=spark),
    )


@GROUPS["tokenizer"].command("eval")
def tokenizer_eval(
    config: Path = ConfigOpt,
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="tokenizer folder (default: the trained one)"),
    baseline: list[str] = typer.Option(
        [], "--baseline", help="NAME=PATH: a tokenizer.json (or its folder), .tiktoken or SentencePiece .model"
    ),
    text: list[str] = typer.Option([], "--text", help="LANG=PATH (ko or en): held-out .txt, .jsonl[.gz], Parquet"),
    out: Path | None = typer.Option(
        None, "--out", help="folder for compression.{md,json,png} (WORKDIR/tokenizer/eval)"
    ),
) -> None:
    """Compression on held-out Korean and English text (tokens per word, characters per token) for the trained
    tokenizer and every baseline: a table, compression.json and a PNG bar chart."""
    from rich.markup import escape
    from rich.table import Table

    from tokenizer.config import BaselineConfig, EvalTextConfig
    from tokenizer.evaluate import run as eval_tokenizer

    cfg = _load(config)
    try:
        extra_b = []
        for item in baseline:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise ValueError(f"--baseline takes NAME=PATH (got {item!r})")
            extra_b.append(BaselineConfig(name=name, path=str(Path(path).resolve())))
        extra_t = []
        for item in text:
            lang, sep, path = item.partition("=")
            if not sep or lang not in ("ko", "en") or not path:
                raise ValueError(f"--text takes LANG=PATH with LANG ko or en (got {item!r})")
            name = Path(path).name.split(".")[0]
            extra_t.append(EvalTextConfig(name=name, lang=lang, path=str(Path(path).resolve())))
        rows, paths = eval_tokenizer(
            cfg.workdir, cfg.tokenizer, tokenizer_dir=tokenizer, baselines=extra_b, texts=extra_t, out_dir=out,
            progress=lambda m: console.print(f"[dim]{escape(m)}"),
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    table = Table(title="tokenizer compression on held-out text")
    for col in ("tokenizer", "set", "docs", "words", "tokens", "tokens / word", "chars / token"):
        table.add_column(col, justify="left" if col in ("tokenizer", "set") else "right")
    for r in rows:
        table.add_row(
            escape(r.tokenizer), escape(r.set), f"{r.docs:,}", f"{r.words:,}", f"{r.tokens:,}",
            f"{r.tokens_per_word:.3f}", f"{r.chars_per_token:.3f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"table: {paths['markdown']}  chart: {paths['png']}  numbers: {paths['json']}")


@app.command("train")
def train_cmd(
    config: Path = ConfigOpt,
    stage: str = typer.Option(
        "pretrain", "--stage", help="pretrain (stage 1) | extend (32K, from stage 1) | long (256K, from extend)"
    ),
    nproc: int | None = typer.Option(
        None, "--nproc", help="processes on this machine (default: train.nproc_per_node, else one per GPU, else 1)"
    ),
    exit_after: int | None = typer.Option(None, "--exit-after", help="save a checkpoint and stop after step N"),
) -> None:
    """Train the train section's model with megatron-core on this machine (torchrun; gloo on CPU): resumes from the
    stage's latest checkpoint; extend starts from the stage-1 checkpoint with train.extend merged over train.
    Exit code 75 means preempted (SIGTERM/SIGUSR1) after saving: run the same command again to resume."""
    import subprocess

    from rich.markup import escape

    from megatron_train import checkpoint
    from megatron_train.config import STAGES
    from megatron_train.launch import default_nproc, torchrun_command

    cfg = _load(config)
    if stage not in STAGES:
        console.print(f"[red]--stage must be one of {', '.join(STAGES)} (got {stage!r})")
        raise typer.Exit(2)
    try:
        stage_cfg = cfg.train.for_stage(stage, cfg.workdir)
    except ValueError as exc:
        console.print(f"[red]config error: {escape(str(exc))}")
        raise typer.Exit(2) from None
    init_from = stage_cfg.checkpoint.init_from
    if init_from and checkpoint.find_latest(stage_cfg.checkpoint_dir) is None:
        if not (Path(init_from) / checkpoint.MARKER).is_file() and checkpoint.find_latest(init_from) is None:
            hint = " (train stage pretrain first: moru train --config ...)" if stage == "extend" else ""
            console.print(f"[red]checkpoint.init_from: no complete checkpoint under {escape(init_from)}{hint}")
            raise typer.Exit(2)
    n = nproc or default_nproc(stage_cfg)
    cmd = torchrun_command(config, stage, n, exit_after)
    console.print(f"[dim]{escape(' '.join(cmd))}")
    console.print(f"[dim]output: {stage_cfg.output_dir} (metrics.jsonl, tensorboard/, loss.png)")
    rc = subprocess.call(cmd)
    if rc == 75:
        console.print("[yellow]preempted: the checkpoint is saved; run the same command to resume")
    elif rc != 0:
        console.print(f"[red]training exited with code {rc}")
    raise typer.Exit(rc)


@app.command("align")
def align_cmd(
    config: Path = ConfigOpt,
    step: list[str] = typer.Option(
        [], "--step", help="run only these steps (repeatable): sft, reward/rm1, reward/rm2, ..., a preference stage"
    ),
    nproc: int | None = typer.Option(
        None, "--nproc", help="processes per step (default: train.nproc_per_node, else one per GPU, else 1)"
    ),
) -> None:
    """Align the pretrained model (the align section): SFT (M0), reward models that score every emitted pair into
    the Delta table pair_scores, then preference stages M1, M2, ... on the pairs both reward models agree on. Each
    step runs under torchrun; finished steps are skipped, so the same command resumes. Ends with a summary table;
    WORKDIR/align/align_report.json holds the numbers."""
    cfg = _load(config)
    _align(config, cfg, steps=step or None, nproc=nproc)


# Hugging Face export / import (megatron_train.export) and evaluation (eval/): their commands live in their modules
from moru.eval_cli import register as _register_eval  # noqa: E402
from moru.export_cli import register as _register_export  # noqa: E402
from moru.package_cli import register as _register_package  # noqa: E402

_register_export(app)
_register_eval(app)
_register_package(app)


if __name__ == "__main__":
    sys.exit(app())
