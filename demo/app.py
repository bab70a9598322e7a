"""``moru demo``: generate the corpus and the classifier's training sets, write WORKDIR/moru.yaml (the fixed
sections of configs/demo.yaml + what was generated), run every stage, train the tiny model and align it (SFT,
reward models, DPO M1 → M2), export and evaluate the aligned model (demo.evaluation: a benchmark slice, a NIAH grid,
the eval report linked beside the checkpoint), then check the results against the generator's ground truth and
re-render the report with the checks, the tiny model's training run, its alignment and its evaluation. The
post-training sources (conversations and preference pairs, demo.posttrain) are generated beside the corpus, so the
post-training jobs run in the same pipeline.

The CLI hands in what only it has (config loading with its error handling, the pipeline run, the Spark session, the
alignment recipe with its preflight and summary), so this package never imports ``moru``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

#: the demo config's fixed sections (train, tokenizer, emit, select thresholds, the classifier's bucket, posttrain)
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
# good post-training records generated (planted ones among them; malformed ones on top): small, since every
# post-training job's cost here is Spark's per-job overhead, not the rows
POSTTRAIN_CONVERSATIONS = 200
POSTTRAIN_PAIRS = 120
LANGUAGE_DOCS = 60  # documents per language beyond ko/en (--languages)


def demo_config(
    workdir: Path, manifest: Any, positive: str, negative: str, fixed: dict | None = None, posttrain: Any = None
) -> dict:
    """The demo's config: ``fixed`` (default: configs/demo.yaml) with the generated parts filled in: the workdir,
    the corpus's sources, the classifier's training sets (generated with another seed than the corpus it scores)
    and the benchmark test set whose examples are planted in the corpus (exhaustive mode, the default); with
    ``posttrain`` (demo.posttrain's manifest) its sources go first in the ``posttrain`` section, and the fixed
    ``align`` section follows it. Without it the fixed ``posttrain`` and ``align`` settings are left out (no sources:
    the post-training jobs would not run, and there would be nothing to align on)."""
    fixed = dict(fixed if fixed is not None else yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8")))
    quality = dict(fixed.pop("quality", {}))
    classifier = {"positive": [positive], "negative": [negative], **quality.pop("classifier", {})}
    decontaminate = dict(fixed.pop("decontaminate", {}))
    benchmarks = [manifest.benchmark["config"], *decontaminate.pop("benchmarks", [])]
    posttrain_fixed = dict(fixed.pop("posttrain", {}))
    align = fixed.pop("align", None)
    out = {
        "workdir": str(workdir),
        "sources": manifest.sources,
        "quality": {"classifier": classifier, **quality},
        "decontaminate": {"benchmarks": benchmarks, **decontaminate},
        **fixed,
    }
    if posttrain is not None:
        out["posttrain"] = {"sources": [*posttrain.sources, *posttrain_fixed.pop("sources", [])], **posttrain_fixed}
        if align is not None:
            out["align"] = align
    return out


def run_demo(
    workdir: Path,
    docs: int,
    seed: int,
    *,
    console: Console,
    load_config: Callable[[Path], Any],
    run_pipeline: Callable[[Any, str], None],
    session: Callable[[Any], Any],
    run_align: Callable[[Path, Any, Any], dict] | None = None,
    languages: list[str] | None = None,
) -> None:
    """Run the demo in ``workdir``: ``docs`` generated documents from ``seed``. ``load_config(path)`` reads a
    config file, ``run_pipeline(cfg, title)`` runs every stage and ``session(cfg)`` gives the Spark session, each
    as the CLI does them (exiting on errors); ``run_align(config_path, cfg, spark)`` runs ``moru align``'s recipe
    (preflight, pair_scores, summary table) after the tiny model's pretraining (without it, no alignment: the
    pretrained model is the one evaluated). ``languages`` beyond ko/en (de, ja, vi) add demo.languages' documents
    (``LANGUAGE_DOCS`` each) as the source ``langs`` and set the config's ``languages`` key; the default corpus is
    unchanged."""
    from demo.checks import (
        add_to_report,
        alignment_checks,
        decontamination_checks,
        emit_checks,
        evaluation_checks,
        language_checks,
        pii_checks,
        posttrain_checks,
        quality_checks,
        tokenizer_checks,
    )
    from demo.corpus import classifier_sets, generate
    from demo.evaluation import evaluate_tiny_model
    from demo.posttrain import generate as generate_posttrain
    from demo.training import align_tiny_model, train_tiny_model

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
        f"demo PII: made-up emails, phone numbers, resident registration numbers, card and bank account numbers and "
        f"IP addresses planted in {len(manifest.pii_docs)} Korean and English documents"
    )
    console.print(
        f"demo benchmark: {bench['examples']:,} word problems ({bench['by_lang'].get('ko', 0)} Korean, "
        f"{bench['by_lang'].get('en', 0)} English; GSM8K layout) in {bench['path']}, planted in "
        f"{len(manifest.contaminated_docs)} documents (whole, partial, perturbed)"
    )
    with console.status("generating the post-training conversations and preference pairs"):
        posttrain = generate_posttrain(workdir / "input", seed=seed, n_conversations=POSTTRAIN_CONVERSATIONS,
                                       n_pairs=POSTTRAIN_PAIRS, benchmark=bench["path"])  # fmt: skip
    (workdir / "posttrain_manifest.json").write_text(posttrain.to_json(), encoding="utf-8")
    console.print(
        f"demo post-training data: {posttrain.conversations:,} conversations and {posttrain.pairs:,} preference pairs "
        f"+ {len(posttrain.malformed):,} malformed records in {len(posttrain.sources)} sources under "
        f"{workdir / 'input' / 'posttrain'}; {len(posttrain.contaminated)} benchmark copies planted in turns, "
        f"{len(posttrain.duplicate_groups)} duplicate groups"
    )
    positive, negative = classifier_sets(workdir / "input" / "classifier", n_per_class=1500, seed=seed + 1)
    console.print(f"quality classifier sets: {positive}, {negative}")
    config_path = workdir / "moru.yaml"
    config = demo_config(workdir, manifest, positive, negative, posttrain=posttrain)
    if languages and list(languages) != ["ko", "en"]:
        from demo.languages import generate as generate_languages

        extra = generate_languages(workdir / "input", languages, LANGUAGE_DOCS, seed=seed)
        (workdir / "languages_manifest.json").write_text(json.dumps(extra, ensure_ascii=False), encoding="utf-8")
        config = {"workdir": config["workdir"], "languages": list(languages), **config}
        if extra["source"] is not None:
            config["sources"] = [*config["sources"], extra["source"]]
            console.print(f"demo languages: {extra['lang_counts']} documents in {workdir / 'input' / 'langs'}")
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    console.print(f"config: {config_path} (re-run with: moru run --config {config_path})")
    cfg = load_config(config_path)
    run_pipeline(cfg, "moru demo report")
    spark = session(cfg)
    checks = quality_checks(spark, cfg, manifest.doc_styles, console=console)
    checks += decontamination_checks(spark, cfg, manifest.contaminated_docs, console=console)
    checks += pii_checks(spark, cfg, manifest.pii_docs, console=console)
    checks += tokenizer_checks(cfg, console=console)
    checks += language_checks(spark, cfg, console=console)
    checks += emit_checks(spark, cfg, console=console)
    checks += posttrain_checks(spark, cfg, posttrain, console=console)
    training = train_tiny_model(config_path, cfg, console=console, load_config=load_config)
    checks += training.pop("checks")
    alignment = None
    if run_align is not None:
        if training["exit_code"] == 0:
            alignment = align_tiny_model(config_path, cfg, spark, console=console, run_align=run_align)
        else:
            alignment = {"error": "not run: the tiny model's pretraining failed", "steps": {}}
        checks += alignment_checks(spark, cfg, alignment, console=console)
    evaluation = evaluate_tiny_model(config_path, cfg, spark, bench["path"], seed=seed, aligned=run_align is not None,
                                     console=console)  # fmt: skip
    checks += evaluation_checks(evaluation, console=console)
    add_to_report(cfg.workdir, checks, training=training, alignment=alignment, evaluation=evaluation)
    console.print(f"report with the demo's checks: {workdir / 'report' / 'index.html'}")
    console.print(f"[green]demo finished in {time.time() - started:.0f} s")
