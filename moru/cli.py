"""The ``moru`` command line: one subcommand per stage, ``run`` for the whole pipeline so far,
``demo`` for everything end to end on a generated bilingual corpus."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import typer
import yaml
from rich.console import Console

from moru.config import ConfigError, MoruConfig, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()

ConfigOpt = typer.Option(..., "--config", "-c", help="YAML config (see README: a workdir and its sources suffice)")


def _load(path: Path) -> MoruConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None


def spark_config(cfg: MoruConfig, emits: bool = True):
    """The Spark settings for a command: one that does not emit has its Python workers forked without megatron-core
    and tokenizers imported (~4 s less before its first Python task), unless ``spark.worker_preload`` is set."""
    from spark_jobs.worker_daemon import BASE_PRELOAD

    if emits or cfg.spark.worker_preload is not None:
        return cfg.spark
    return cfg.spark.model_copy(update={"worker_preload": list(BASE_PRELOAD)})


def _session(cfg: MoruConfig, emits: bool = True):
    from spark_jobs.session import build_session

    with console.status("starting Spark"):
        return build_session(spark_config(cfg, emits))


def _run(cfg: MoruConfig, stages: tuple[str, ...] | None = None, title: str = "moru run report") -> None:
    """Run ``stages`` (default: every stage of moru.pipeline.STAGES, in order)."""
    from moru.pipeline import STAGES, run_stages
    from quality.gates.result import GateFailed

    spark = _session(cfg, emits=stages is None or "emit" in stages)
    try:
        run_stages(spark, cfg, stages or STAGES, console=console, title=title)
    except GateFailed as exc:
        from rich.markup import escape

        console.print(f"[red]{escape(str(exc))}")
        raise typer.Exit(1) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error: {exc}")
        raise typer.Exit(1) from None


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="log each job's counts")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s")


@app.command()
def run(config: Path = ConfigOpt) -> None:
    """Run every stage (ingest, normalize + language id, exact and near-duplicate dedup, quality classifier
    training when its sets changed, quality signals, select) and write the report."""
    _run(_load(config))


@app.command()
def ingest(config: Path = ConfigOpt) -> None:
    """Read the sources into Delta raw_documents; bad records go to quarantine."""
    _run(_load(config), ("ingest",))


@app.command()
def normalize(config: Path = ConfigOpt) -> None:
    """Normalize text and identify languages: raw_documents -> documents."""
    _run(_load(config), ("normalize",))


@app.command()
def dedup(config: Path = ConfigOpt) -> None:
    """Exact dedup, then MinHash-LSH near-duplicate dedup: documents -> exact_duplicates,
    minhash_signatures, near_duplicate_clusters (incremental: only new documents are signed)."""
    _run(_load(config), ("exact_dedup", "minhash_dedup"))


quality_app = typer.Typer(no_args_is_help=True, help="The fastText quality classifier.")
app.add_typer(quality_app, name="quality")


@quality_app.command("train")
def quality_train(config: Path = ConfigOpt) -> None:
    """Train the fastText quality classifier on quality.classifier.positive vs .negative (JSONL) and print its
    held-out precision / recall / AUC; documents are scored by the next signals step."""
    from moru.pipeline import train_classifier

    cfg = _load(config)
    try:
        stats = train_classifier(cfg, force=True, progress=lambda m: console.print(f"[dim]{m}"))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error: {exc}")
        raise typer.Exit(1) from None
    r = stats.extra["report"]
    console.print(
        f"trained on {r['train_positive']:,} positive + {r['train_negative']:,} negative texts "
        f"({r['dropped_duplicates']:,} duplicate texts dropped, {r['downsampled']:,} downsampled to balance)"
    )
    console.print(
        f"held out {r['holdout_positive']:,} + {r['holdout_negative']:,}: precision {r['precision']:.3f}, "
        f"recall {r['recall']:.3f}, F1 {r['f1']:.3f} at p >= {r['threshold']}, AUC {r['auc']:.3f}"
    )
    console.print(f"model: {r['model_path']} (sha256 {r['model_sha256'][:12]}…), report beside it")


@app.command()
def signals(config: Path = ConfigOpt) -> None:
    """Quality signals (Gopher, C4, FineWeb, Korean, and the classifier's score when trained): documents ->
    quality_signals (incremental: only new or changed documents are scored)."""
    _run(_load(config), ("signals",))


@app.command()
def decontaminate(config: Path = ConfigOpt) -> None:
    """Index the configured benchmark test sets (every 50-character normalized substring) and flag the
    documents that contain one: -> benchmark_substrings, contamination (the select step drops them)."""
    _run(_load(config), ("decontaminate",))


@app.command()
def select(config: Path = ConfigOpt) -> None:
    """Apply the per-language thresholds and the dedup flags: documents + quality_signals -> selection,
    training_corpus (re-run alone after changing a threshold)."""
    _run(_load(config), ("select",))


@app.command()
def gate(config: Path = ConfigOpt) -> None:
    """Great Expectations gates on documents and training_corpus (schema, text, language set and mix, lengths,
    leaked duplicates): prints each expectation's outcome, writes Data Docs and gates/latest.json; exits 1 on
    failure, and emission refuses to run past a failed gate."""
    from rich.markup import escape
    from rich.table import Table

    from spark_jobs import gate as gate_job

    cfg = _load(config)
    spark = _session(cfg, emits=False)
    started = time.time()
    try:
        with console.status("validating documents and training_corpus (Great Expectations)"):
            result = gate_job.run(spark, cfg.workdir, cfg.gates)
    except FileNotFoundError as exc:
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    for t in result.tables.values():
        table = Table(title=f"gate: {t.name} (Delta version {t.version}, {t.rows or 0:,} rows)")
        for col in ("check", "result", "observed", "expectation"):
            table.add_column(col)
        types = [e for e in t.expectations if e.check.startswith("column_type:")]
        collapse = all(e.success for e in types)  # column types that all match: one row
        for e in t.expectations:
            if collapse and e in types:
                if e is types[0]:
                    table.add_row("column types", "[green]pass", f"{len(types)} columns", e.type)
                continue
            verdict = "[green]pass" if e.success else "[red]FAIL"
            table.add_row(escape(e.check), verdict, escape(e.observed_text(sample=False)), escape(e.name))
        console.print(table)
    for message in result.failure_messages():
        console.print(escape(message), style="red")
    console.print(f"data docs: {result.data_docs_index}")
    console.print(f"gate result: {gate_job.result_uri(cfg.workdir)}")
    if not result.passed:
        console.print(f"[red]gate failed: {len(result.failed)} expectation(s); no training data is emitted past it")
        raise typer.Exit(1)
    console.print(f"[green]gate passed in {time.time() - started:.0f} s")


@app.command()
def emit(
    config: Path = ConfigOpt,
    force: bool = typer.Option(False, "--force", help="emit again even with the same input, tokenizer and settings"),
) -> None:
    """Tokenize training_corpus with the trained tokenizer into Megatron .bin/.idx shards (stage 1: every document;
    stage 2: long documents + replayed stage-1 documents), verify them, publish them, and write the blend JSONs
    and manifest under emit.output (default WORKDIR/emit). Refuses to run past a failed or stale gate (exit 1)."""
    from rich.markup import escape
    from rich.table import Table

    from eval.report import emit_token_rows
    from quality.gates.result import GateFailed
    from spark_jobs.emit import job
    from tokenizer.train import output_dir

    cfg = _load(config)
    spark = _session(cfg)
    try:
        stats = job.run(spark, cfg.workdir, cfg.emit, cfg.gates, force=force,
                        tokenizer_dir=str(output_dir(cfg.tokenizer, cfg.workdir)),
                        progress=lambda m: console.print(f"[dim]{escape(m)}"))  # fmt: skip
    except GateFailed as exc:
        console.print(f"[red]{escape(str(exc))}")
        raise typer.Exit(1) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    e = stats.extra
    table = Table(title="emitted tokens per stage, language and source (all splits)")
    for col in ("stage", "lang", "source", "documents", "tokens", "share", "tokens / doc", "train weight"):
        table.add_column(col, justify="left" if col in ("stage", "lang", "source") else "right")
    for r in emit_token_rows(e["token_stats"]):
        table.add_row(
            r["stage"], r["lang"], r["source"], f"{r['documents']:,}", f"{r['tokens']:,}", f"{100 * r['share']:.1f}%",
            f"{r['tokens_per_doc']:,.0f}", f"{r['train_weight']:.4f}",
        )  # fmt: skip
    console.print(table)
    for stage in ("stage1", "stage2"):
        total = sum(r["tokens"] for r in e["token_stats"] if r["stage"] == stage)
        docs = sum(r["documents"] for r in e["token_stats"] if r["stage"] == stage)
        if stage in e["blends"]:
            console.print(f"{stage}: {docs:,} documents, {total:,} tokens; blend {e['blends'][stage]}")
        elif stage == "stage2" and e["replay_ratio"] is not None:
            console.print(f"[yellow]stage2: no train document has {e['min_tokens']:,} tokens or more; no blend")
    for split, r in sorted((e.get("replay") or {}).items()):
        console.print(
            f"  stage 2 {split}: replayed {r['replay_tokens']:,} tokens for {r['long_tokens']:,} long "
            f"({100 * r['replay_token_share']:.1f}% of its tokens; blend weight {e['replay_ratio']:g})"
        )
    if stats.rows_rejected:
        console.print(f"[yellow]{stats.rows_rejected:,} documents had no tokens, left out (the manifest lists them)")
    tok = e["tokenizer"]
    console.print(
        f"run {e['run_id']}: {e['shards']:,} shards in {e['run_dir']} (tokenizer {tok['sha256'][:12]}, "
        f"{tok['vocab_size']:,} tokens, {tok['dtype']}; training_corpus v{e['training_corpus_version']})"
    )
    if e.get("unchanged"):
        console.print("[green]unchanged: the published run already has this input, tokenizer and settings (--force "
                      "emits again)")  # fmt: skip
    else:
        console.print(f"[green]emitted and verified in {stats.seconds:.0f} s")


@app.command("check-config")
def check_config(config: Path = ConfigOpt) -> None:
    """Validate a config and print it with every default filled in."""
    cfg = _load(config)
    console.print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@app.command()
def demo(
    workdir: Path = typer.Option(Path("demo_run"), help="where input/, tables/ and report/ go"),
    docs: int = typer.Option(3000, help="documents in the generated corpus"),
    seed: int = typer.Option(0, help="corpus seed (same seed, same corpus)"),
) -> None:
    """Generate a bilingual Korean/English corpus and a benchmark test set whose examples are planted in it,
    run every stage (decontaminate included), and check the results against the generator's ground truth."""
    from demo.app import run_demo

    run_demo(
        workdir,
        docs,
        seed,
        console=console,
        load_config=_load,
        run_pipeline=lambda cfg, title: _run(cfg, title=title),
        session=_session,
    )


tokenizer_app = typer.Typer(no_args_is_help=True, help="The bilingual byte-level BPE tokenizer (EXAONE-style).")
app.add_typer(tokenizer_app, name="tokenizer")


@tokenizer_app.command("train")
def tokenizer_train(config: Path = ConfigOpt) -> None:
    """Sample Korean/English text from the Delta table (tokenizer.sample), steer the Korean byte share until the
    vocabulary is about tokenizer.target_korean_token_share Hangul, train the byte-level BPE with MeCab-segmented
    Korean, and save a Hugging Face tokenizer folder (AutoTokenizer and megatron-core load it offline)."""
    from rich.markup import escape
    from rich.table import Table

    from tokenizer.train import run as train_tokenizer

    cfg = _load(config)
    spark = _session(cfg, emits=False)
    try:
        report = train_tokenizer(
            spark, cfg.workdir, cfg.tokenizer, progress=lambda m: console.print(f"[dim]{escape(m)}"), show_progress=True
        )
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error: {escape(str(exc))}")
        raise typer.Exit(1) from None
    table = Table(title="tokenizer training (calibration rounds, then the final training)")
    for col in ("round", "text bytes", "Korean byte share", "Hangul tokens", "Latin tokens", "Korean token share", "s"):
        table.add_column(col, justify="right")
    for r in [*report["calibration"], report["final"]]:
        final = r is report["final"]
        table.add_row(
            "final" if final else str(r["round"]), f"{sum(r['bytes'].values()):,}",
            f"{r['korean_byte_share']:.3f}", f"{r['hangul_tokens']:,}", f"{r['latin_tokens']:,}",
            f"{r['korean_token_share']:.3f}", f"{r['train_seconds']:.0f}",
        )  # fmt: skip
    console.print(table)
    split = report["split"]
    ok = abs(report["korean_token_share"] - report["target_korean_token_share"]) <= cfg.tokenizer.steer.tolerance
    console.print(
        f"{'[green]' if ok else '[yellow]'}vocabulary: {report['vocab_size']:,} tokens "
        f"({report['vocab_size_wanted']:,} wanted): {split['hangul']:,} Hangul, {split['latin']:,} Latin "
        f"({split['mixed']:,} both), {split['other']:,} other, {split['special']} special; "
        f"Korean share {report['korean_token_share']:.3f} (target {report['target_korean_token_share']:.3f})"
    )
    if report["vocab_size"] < report["vocab_size_wanted"]:
        console.print("[yellow]the sample ran out of pairs to merge before the wanted vocabulary size (little text)")
    console.print(f"tokenizer: {report['output_dir']} (held-out documents for eval: {report['heldout']['docs']})")
    console.print(f"[green]tokenizer trained in {report['seconds']:.0f} s")


@tokenizer_app.command("eval")
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
        "pretrain", "--stage", help="pretrain (stage 1) | extend (32K context extension from the stage-1 checkpoint)"
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


if __name__ == "__main__":
    sys.exit(app())
