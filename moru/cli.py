"""The ``moru`` command line: one subcommand per stage, ``run`` for the whole pipeline so far,
``demo`` for everything end to end on a generated bilingual corpus."""

from __future__ import annotations

import json
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
    from moru.demo_corpus import classifier_sets, generate

    workdir = workdir.resolve()
    started = time.time()
    with console.status(f"generating {docs:,} demo documents"):
        manifest = generate(workdir / "input", n_docs=docs, seed=seed)
    (workdir / "corpus_manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    planted = sum(manifest.malformed.values())
    console.print(
        f"demo corpus: {manifest.n_docs:,} documents + {planted:,} malformed records in "
        f"{len(manifest.sources)} sources under {workdir / 'input'}"
    )
    bench = manifest.benchmark
    console.print(
        f"demo benchmark: {bench['examples']:,} word problems ({bench['by_lang'].get('ko', 0)} Korean, "
        f"{bench['by_lang'].get('en', 0)} English; GSM8K layout) in {bench['path']}, planted in "
        f"{len(manifest.contaminated_docs)} documents (whole, partial, perturbed)"
    )
    positive, negative = classifier_sets(workdir / "input" / "classifier", n_per_class=1500, seed=seed + 1)
    console.print(f"quality classifier sets: {positive}, {negative}")
    config_path = workdir / "moru.yaml"
    demo_cfg = {
        "workdir": str(workdir),
        "sources": manifest.sources,
        # the classifier is trained on sets generated with another seed than the corpus it scores;
        # 100k n-gram buckets keep its model at ~25 MB (fastText's default, 2M, makes 500 MB)
        "quality": {"classifier": {"positive": [positive], "negative": [negative], "bucket": 100_000}},
        # the generated test set whose examples are planted in the corpus (exhaustive mode, the default)
        "decontaminate": {"benchmarks": [bench["config"]]},
        "select": {"thresholds": {lang: {"fasttext_quality": {"min": 0.5}} for lang in ("ko", "en", "ko+en")}},
        # a small vocabulary for a small corpus (the default is EXAONE's 102,400); samples of 0.9 MB of the
        # ~1.3 MB training_corpus leave room to steer the Korean/English split; 5% of documents are held out
        "tokenizer": {
            "vocab_size": 4096,
            "sample": {"bytes": 900_000, "holdout_fraction": 0.05},
            "steer": {"rounds": 2, "sample_bytes": 900_000, "tolerance": 0.05},
        },
        # 5% of documents in valid (the demo's training evaluates on it), 1% in test
        # stage 2 at the demo's scale: its documents run to ~1,000 tokens, so "long" is 256+ tokens and pieces are
        # at most 512 (the default, 4,096 / 32,768, is EXAONE's stage-1 context / stage-2 context)
        "emit": {"split": {"valid": 0.05, "test": 0.01}, "stage2": {"min_tokens": 256, "max_tokens": 512}},
        # the tiny EXAONE-shaped model, a few dozen steps on CPU, on the emitted stage-1 blend
        "train": DEMO_TRAIN,
    }
    config_path.write_text(yaml.safe_dump(demo_cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    console.print(f"config: {config_path} (re-run with: moru run --config {config_path})")
    cfg = _load(config_path)
    _run(cfg, title="moru demo report")
    from moru.quality_eval import demo_classifier_auc

    spark = _session(cfg)
    q = demo_classifier_auc(spark, cfg.workdir, manifest.doc_styles)
    console.print(
        f"quality classifier on the demo corpus (held out: trained on another seed): AUC {q['auc']:.4f} for "
        f"{q['clean']:,} clean vs {q['junk']:,} junk documents; at p >= 0.5 precision {q['precision']:.3f}, "
        f"recall {q['recall']:.3f}"
    )
    checks = [
        {"check": f"quality classifier AUC, {q['clean']:,} clean vs {q['junk']:,} junk documents (held out)",
         "result": f"{q['auc']:.4f}", "expected": ">= 0.95", "ok": q["auc"] >= 0.95},
    ]  # fmt: skip
    d = demo_decontamination(spark, cfg.workdir, manifest.contaminated_docs)
    kinds = ", ".join(f"{kind} {n}/{of}" for kind, (n, of) in d["by_kind"].items())
    ok = d["flagged_with_example"] == d["planted"] and not d["other_flagged"] and not d["in_training_corpus"]
    console.print(
        f"{'[green]' if ok else '[red]'}decontamination on the demo corpus ({cfg.decontaminate.mode} mode): "
        f"{d['flagged_with_example']} of {d['planted']} planted documents flagged with their example ({kinds}); "
        f"{d['other_flagged']} other documents flagged; {d['in_training_corpus']} planted documents in training_corpus"
    )
    checks += [
        {"check": f"planted benchmark copies flagged with their example ({kinds})",
         "result": f"{d['flagged_with_example']} of {d['planted']}", "expected": f"{d['planted']} of {d['planted']}",
         "ok": d["flagged_with_example"] == d["planted"]},
        {"check": "documents flagged that have no planted copy", "result": str(d["other_flagged"]), "expected": "0",
         "ok": d["other_flagged"] == 0},
        {"check": "planted documents in training_corpus", "result": str(d["in_training_corpus"]), "expected": "0",
         "ok": d["in_training_corpus"] == 0},
    ]  # fmt: skip
    checks += demo_tokenizer_checks(cfg)
    checks += demo_emit_checks(spark, cfg)
    training = demo_training(config_path, cfg)
    checks += training.pop("checks")
    _add_demo_checks(cfg.workdir, checks, training=training)
    console.print(f"report with the demo's checks: {workdir / 'report' / 'index.html'}")
    console.print(f"[green]demo finished in {time.time() - started:.0f} s")


DEMO_TRAIN = {
    "model": "tiny",
    "model_overrides": {"vocab_size": 4096},  # set to the trained tokenizer's size (rounded up to 128) before training
    "precision": "fp32",
    "seq_length": 256,
    "micro_batch_size": 4,
    "global_batch_size": 8,
    "train_iters": 100,
    "optimizer": {"lr": 3.0e-3, "min_lr": 3.0e-4},
    "schedule": {"style": "cosine", "warmup_iters": 4},
    "data": {"blend": "emit/stage1_blend.json", "tokenizer": "tokenizer/model"},
    "eval": {"interval": 20, "iters": 2},
    "checkpoint": {"save_interval": 50},
    "logging": {"tensorboard": False},
}


def demo_training(config_path: Path, cfg: MoruConfig) -> dict:
    """Train the tiny model on the emitted stage-1 blend (``moru train``: torchrun, gloo on CPU) and summarize it
    for the report: the loss curve, the first and last losses, the valid loss, throughput; and the demo's checks
    on it (the run finished; training and valid loss fell)."""
    import shutil
    import subprocess

    from rich.markup import escape

    from megatron_train.launch import torchrun_command
    from megatron_train.metrics import read_metrics

    # the model's vocabulary: the trained tokenizer's, rounded up to a multiple of 128 as megatron pads it
    from tokenizer.train import output_dir as tokenizer_dir

    info = json.loads((tokenizer_dir(cfg.tokenizer, cfg.workdir) / "moru_tokenizer.json").read_text(encoding="utf-8"))
    vocab = -(-info["vocab_size"] // 128) * 128
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if raw["train"].get("model_overrides", {}).get("vocab_size") != vocab:
        raw["train"].setdefault("model_overrides", {})["vocab_size"] = vocab
        config_path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
        cfg = _load(config_path)
    stage_cfg = cfg.train.for_stage("pretrain", cfg.workdir)
    out = Path(stage_cfg.output_dir)
    if out.exists():
        shutil.rmtree(out)  # the demo trains from scratch each time (a re-run would resume at the end)
    cmd = torchrun_command(config_path, "pretrain", 1)
    console.print(f"[bold]training the tiny model on the emitted data[/] [dim]{escape(' '.join(cmd))}")
    started = time.time()
    rc = subprocess.call(cmd)
    seconds = time.time() - started
    metrics = out / "metrics.jsonl"
    train = read_metrics(metrics, "train") if metrics.exists() else []
    valid = read_metrics(metrics, "eval") if metrics.exists() else []
    shape = stage_cfg.shape()
    first, last = (train[0]["loss"], train[-1]["loss"]) if train else (float("nan"), float("nan"))
    tail = [r["loss"] for r in train[-5:]]
    summary = {
        "model": stage_cfg.model,
        "parameters": shape.num_parameters(),
        "precision": stage_cfg.precision,
        "seq_length": stage_cfg.seq_length,
        "global_batch_size": stage_cfg.global_batch_size,
        "steps": len(train),
        "train_iters": stage_cfg.train_iters,
        "tokens": len(train) * stage_cfg.global_batch_size * stage_cfg.seq_length,
        "first_loss": first,
        "final_loss": sum(tail) / len(tail) if tail else float("nan"),
        "last_loss": last,
        "valid": [{"iteration": r["iteration"], "loss": r["loss"]} for r in valid],
        "tokens_per_s": (sum(r["tokens_per_s"] for r in train[1:]) / (len(train) - 1)) if len(train) > 1 else None,
        "seconds": round(seconds, 1),
        "exit_code": rc,
        "output_dir": str(out),
        "blend": stage_cfg.data.blend,
    }
    png = out / "loss.png"
    if png.is_file():
        from core import storage

        storage.write_bytes(storage.join(cfg.workdir, "report", "train_loss.png"), png.read_bytes())
        summary["loss_png"] = "train_loss.png"
    ok = rc == 0 and len(train) == stage_cfg.train_iters
    fell = bool(train) and summary["final_loss"] < first
    valid_fell = len(valid) >= 2 and valid[-1]["loss"] < valid[0]["loss"]
    colour = "[green]" if ok and fell and valid_fell else "[red]"
    console.print(
        f"{colour}tiny model ({shape.num_parameters():,} parameters): {len(train)} of {stage_cfg.train_iters} steps "
        f"in {seconds:.0f} s, loss {first:.3f} -> {summary['final_loss']:.3f} (mean of the last 5)"
        + (f", valid {valid[0]['loss']:.3f} -> {valid[-1]['loss']:.3f}" if len(valid) >= 2 else "")
        + f"; loss curve {png}"
    )
    summary["checks"] = [
        {"check": "tiny model trained on the emitted stage-1 blend (megatron-core, CPU)",
         "result": f"{len(train)} of {stage_cfg.train_iters} steps, exit {rc}",
         "expected": f"{stage_cfg.train_iters} steps, exit 0", "ok": ok},
        {"check": "training loss: first step vs mean of the last 5",
         "result": f"{first:.3f} -> {summary['final_loss']:.3f}", "expected": "lower", "ok": fell},
        {"check": "valid loss: first vs last evaluation",
         "result": f"{valid[0]['loss']:.3f} -> {valid[-1]['loss']:.3f}" if len(valid) >= 2 else "no evaluation",
         "expected": "lower", "ok": valid_fell},
    ]  # fmt: skip
    return summary


def demo_tokenizer_checks(cfg: MoruConfig) -> list[dict]:
    """The demo's tokenizer: loads with transformers.AutoTokenizer offline, gives back every held-out
    document exactly (decode(encode(x)) == x), and has the configured Hangul/Latin split."""
    import json as json_

    from transformers import AutoTokenizer

    from core import storage
    from tokenizer.sample import iter_column
    from tokenizer.train import output_dir

    out = output_dir(cfg.tokenizer, cfg.workdir)
    report = json_.loads((out / "moru_tokenizer.json").read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    texts = list(iter_column(storage.join(cfg.workdir, "tokenizer", "heldout"), "text"))
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    exact = sum(tok.decode(i) == t for i, t in zip(ids, texts, strict=True))
    share, target = report["korean_token_share"], report["target_korean_token_share"]
    tol = cfg.tokenizer.steer.tolerance
    console.print(
        f"{'[green]' if exact == len(texts) else '[red]'}tokenizer: {report['vocab_size']:,} tokens, Korean share "
        f"{share:.3f} (target {target}); {exact} of {len(texts)} held-out documents decode back exactly"
    )
    # a corpus too small to fill the vocabulary (a few hundred documents) leaves no merges to steer with
    exhausted = report["vocab_size"] < report["vocab_size_wanted"]
    share_ok = abs(share - target) <= tol or exhausted
    share_result = f"{share:.3f}" + (
        f" ({report['vocab_size']:,} of {report['vocab_size_wanted']:,} tokens: out of merges)" if exhausted else ""
    )
    return [
        {"check": "held-out documents that decode(encode(x)) gives back exactly (AutoTokenizer, offline)",
         "result": f"{exact} of {len(texts)}", "expected": f"{len(texts)} of {len(texts)}", "ok": exact == len(texts)},
        {"check": "tokenizer: Korean share of Hangul + Latin tokens", "result": share_result,
         "expected": f"{target} ± {tol} (unless the text ran out of merges)", "ok": share_ok},
    ]  # fmt: skip


def demo_emit_checks(spark, cfg: MoruConfig) -> list[dict]:
    """The demo's emitted datasets, read back with megatron-core's IndexedDataset: every shard holds the documents
    and tokens its manifest records, stage 1 holds every training_corpus document, stage-2 documents are within
    the configured lengths, and the stage-2 train blend gives replay its configured share."""
    import json as json_
    from pathlib import Path as Path_

    import numpy as np

    from spark_jobs import tables
    from spark_jobs.emit import job
    from spark_jobs.emit.shards import read_dataset

    out = job.output_uri(cfg.emit, cfg.workdir)
    m = job.read_manifest(out)
    if m is None:
        return [{"check": "emitted datasets", "result": "none", "expected": "a published run", "ok": False}]
    s2 = cfg.emit.stage2
    whole = in_bounds = long_docs = 0
    for s in m["shards"]:
        ds = read_dataset(str(Path_(m["run_dir"]) / s["path"]))
        lengths = np.array(ds.sequence_lengths)
        whole += (len(ds), int(lengths.sum())) == (s["documents"], s["tokens"])
        if s["stage"] == "stage2" and s["role"] == "long":
            long_docs += len(lengths)
            in_bounds += int(((lengths >= s2.min_tokens) & (lengths <= s2.max_tokens)).sum())
        del ds
    stage1 = sum(r["documents"] for r in m["token_stats"] if r["stage"] == "stage1")
    corpus = tables.read(spark, cfg.workdir, tables.TRAINING_CORPUS, version=m["inputs"]["training_corpus"]["version"])
    n_corpus = corpus.count()
    replay = None
    blend_file = m["blends"].get("stage2")
    if blend_file:
        items = json_.loads(Path_(blend_file).read_text(encoding="utf-8"))["train"]
        replay = sum(w for w, p in zip(items[0::2], items[1::2], strict=True) if "/replay/" in p)
    n = len(m["shards"])
    console.print(
        f"{'[green]' if whole == n and stage1 == n_corpus else '[red]'}emit: {n} shards read back whole, "
        f"{stage1:,} of {n_corpus:,} training_corpus documents in stage 1, {in_bounds} of {long_docs} long stage-2 "
        f"documents within {s2.min_tokens}-{s2.max_tokens} tokens"
    )
    return [
        {"check": "emitted shards that megatron-core's IndexedDataset reads back with their recorded documents and "
                  "tokens", "result": f"{whole} of {n}", "expected": f"{n} of {n}", "ok": whole == n},
        {"check": "training_corpus documents in stage 1", "result": f"{stage1:,}", "expected": f"{n_corpus:,}",
         "ok": stage1 == n_corpus},
        {"check": f"stage-2 long documents within {s2.min_tokens:,}-{s2.max_tokens:,} tokens",
         "result": f"{in_bounds} of {long_docs}", "expected": f"{long_docs} of {long_docs} (> 0)",
         "ok": in_bounds == long_docs > 0},
        {"check": "replay share of the stage-2 train blend", "result": "-" if replay is None else f"{replay:.4f}",
         "expected": f"{s2.replay_ratio}", "ok": replay is not None and abs(replay - s2.replay_ratio) < 1e-9},
    ]  # fmt: skip


def demo_decontamination(spark, workdir: str, planted: dict[str, dict]) -> dict:
    """The planted benchmark copies (the corpus manifest's ``contaminated_docs``: "source/id" ->
    example_id, kind, …) against ``contamination`` and ``training_corpus``: planted documents
    flagged with their planted example, per kind; documents flagged without a planted copy;
    planted documents that reached training_corpus."""
    from pyspark.sql import functions as F

    from spark_jobs import tables

    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select(
        "doc_id", F.concat_ws("/", "source", F.regexp_replace("record_key", "^id:", "")).alias("key")
    )
    found: dict[str, set[str]] = {}
    if tables.exists(spark, workdir, tables.CONTAMINATION):
        cont = tables.read(spark, workdir, tables.CONTAMINATION).select("doc_id", "example_id")
        for r in cont.join(raw, "doc_id").collect():
            found.setdefault(r["key"], set()).add(r["example_id"])
    planted_ids = [r["doc_id"] for r in raw.filter(F.col("key").isin(list(planted))).collect()] if planted else []
    in_corpus = 0
    if planted_ids and tables.exists(spark, workdir, tables.TRAINING_CORPUS):
        corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS)
        in_corpus = corpus.filter(F.col("doc_id").isin(planted_ids)).count()
    by_kind: dict[str, tuple[int, int]] = {}
    for key, p in planted.items():
        n, of = by_kind.get(p["kind"], (0, 0))
        by_kind[p["kind"]] = (n + (p["example_id"] in found.get(key, ())), of + 1)
    return {
        "planted": len(planted),
        "flagged": sum(key in found for key in planted),
        "flagged_with_example": sum(n for n, _ in by_kind.values()),
        "by_kind": by_kind,
        "other_flagged": len(set(found) - set(planted)),
        "in_training_corpus": in_corpus,
    }


def _add_demo_checks(workdir: str, checks: list[dict], training: dict | None = None) -> None:
    """Re-render the run report (from its summary.json) with the demo's checks (and its training run) in it."""
    import json

    from core import storage
    from eval.report import write_report

    report_dir = storage.join(workdir, "report")
    summary = json.loads(storage.read_bytes(storage.join(report_dir, "summary.json")))
    summary["demo_checks"] = checks
    if training:
        summary["training"] = training
    write_report(summary, lambda name, data: storage.write_bytes(storage.join(report_dir, name), data))


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
