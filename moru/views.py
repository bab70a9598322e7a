"""What a CLI command prints after its jobs ran, for the jobs whose numbers deserve more than the stage table:
one function per job name, reading the job's StageStats (and the files it wrote). Jobs without a view run through
the pipeline, which prints the stage table and writes the report."""

from __future__ import annotations

import math
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.stats import StageStats


def show_classifier(console: Console, cfg, stats: StageStats) -> None:
    r = stats.extra["report"]
    console.print(
        f"trained on {r['train_positive']:,} positive + {r['train_negative']:,} negative texts "
        f"({r['dropped_duplicates']:,} duplicate texts dropped, {r['downsampled']:,} downsampled to balance)"
    )
    auc = r.get("auc")
    if auc is None or math.isnan(auc):  # an empty held-out split measures nothing
        console.print("[yellow]no held-out texts (the sets are too small to hold any out): no precision / recall / AUC")
    else:
        console.print(
            f"held out {r['holdout_positive']:,} + {r['holdout_negative']:,}: precision {r['precision']:.3f}, "
            f"recall {r['recall']:.3f}, F1 {r['f1']:.3f} at p >= {r['threshold']}, AUC {r['auc']:.3f}"
        )
    for note in r.get("notes") or []:
        console.print(f"[yellow]{escape(str(note))}")
    console.print(f"model: {r['model_path']} (sha256 {r['model_sha256'][:12]}…), report beside it")


def show_gate(console: Console, cfg, stats: StageStats) -> None:
    from spark_jobs import gate as gate_job

    result = gate_job.read_latest(cfg.workdir)
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
    else:
        console.print(f"[green]gate passed in {stats.seconds:.0f} s")


def show_emit(console: Console, cfg, stats: StageStats) -> None:
    from eval.report import emit_token_rows

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
    for stage in ("stage1", "stage2", "stage3"):
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
    for split, r in sorted((e.get("rehearsal") or {}).items()):
        console.print(
            f"  stage 3 {split}: rehearsed {r['rehearsal_tokens']:,} tokens for {r['long_tokens']:,} long "
            f"({100 * r['rehearsal_token_share']:.1f}% of its tokens, "
            f"{r.get('rehearsal_tokens_from_stage2_long', 0):,} from stage 2's long documents; blend weight "
            f"{e['rehearsal_share']:g})"
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


def show_tokenizer(console: Console, cfg, stats: StageStats) -> None:
    r = stats.extra
    rounds = r.get("rounds") or []
    table = Table(title="tokenizer training (calibration rounds, then the final training)")
    for col in ("round", "text bytes", "Korean byte share", "Hangul tokens", "Latin tokens", "Korean token share", "s"):
        table.add_column(col, justify="right")
    for i, row in enumerate(rounds):
        final = i == len(rounds) - 1
        table.add_row(
            "final" if final else str(row.get("round", i + 1)), f"{sum(row['bytes'].values()):,}",
            f"{row['korean_byte_share']:.3f}", f"{row['hangul_tokens']:,}", f"{row['latin_tokens']:,}",
            f"{row['korean_token_share']:.3f}", f"{row['train_seconds']:.0f}",
        )  # fmt: skip
    console.print(table)
    split = r["split"]
    ok = abs(r["korean_token_share"] - r["target_korean_token_share"]) <= cfg.tokenizer.steer.tolerance
    console.print(
        f"{'[green]' if ok else '[yellow]'}vocabulary: {r['vocab_size']:,} tokens "
        f"({r['vocab_size_wanted']:,} wanted): {split['hangul']:,} Hangul, {split['latin']:,} Latin "
        f"({split['mixed']:,} both), {split['other']:,} other, {split['special']} special; "
        f"Korean share {r['korean_token_share']:.3f} (target {r['target_korean_token_share']:.3f})"
    )
    if r["vocab_size"] < r["vocab_size_wanted"]:
        console.print("[yellow]the sample ran out of pairs to merge before the wanted vocabulary size (little text)")
    heldout = r.get("heldout") or {}
    held = f" (held-out documents for eval: {heldout['docs']})" if "docs" in heldout else ""
    console.print(f"tokenizer: {r['output_dir']}{held}")
    for note in r.get("notes") or []:
        console.print(f"[yellow]{escape(str(note))}")
    console.print(f"[green]tokenizer trained in {r['seconds']:.0f} s")


View = Callable[[Console, object, StageStats], None]

VIEWS: dict[str, View] = {
    "classifier": show_classifier,
    "gate": show_gate,
    "emit": show_emit,
    "tokenizer": show_tokenizer,
}
