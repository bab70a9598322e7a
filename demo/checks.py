"""The demo's checks: the pipeline's results held against the generator's ground truth (the quality classifier's
AUC on the corpus's clean vs junk documents, the planted benchmark copies), and the tokenizer and emitted
datasets read back as their users would. Each returns rows for the report's demo table ({check, result, expected,
ok}) and prints a one-line summary; :func:`add_to_report` re-renders the run report with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console


def quality_checks(spark, cfg: Any, doc_styles: dict, *, console: Console) -> list[dict]:
    """The quality classifier (trained on sets of another seed) on the demo corpus: AUC of its score for the
    generator's clean vs junk documents."""
    from demo.quality_eval import demo_classifier_auc

    q = demo_classifier_auc(spark, cfg.workdir, doc_styles)
    console.print(
        f"quality classifier on the demo corpus (held out: trained on another seed): AUC {q['auc']:.4f} for "
        f"{q['clean']:,} clean vs {q['junk']:,} junk documents; at p >= 0.5 precision {q['precision']:.3f}, "
        f"recall {q['recall']:.3f}"
    )
    return [
        {"check": f"quality classifier AUC, {q['clean']:,} clean vs {q['junk']:,} junk documents (held out)",
         "result": f"{q['auc']:.4f}", "expected": ">= 0.95", "ok": q["auc"] >= 0.95},
    ]  # fmt: skip


def decontamination_checks(spark, cfg: Any, planted: dict[str, dict], *, console: Console) -> list[dict]:
    """The planted benchmark copies: every one flagged with its example, nothing else flagged, none of them in
    training_corpus (see :func:`decontamination`)."""
    d = decontamination(spark, cfg.workdir, planted)
    kinds = ", ".join(f"{kind} {n}/{of}" for kind, (n, of) in d["by_kind"].items())
    ok = d["flagged_with_example"] == d["planted"] and not d["other_flagged"] and not d["in_training_corpus"]
    console.print(
        f"{'[green]' if ok else '[red]'}decontamination on the demo corpus ({cfg.decontaminate.mode} mode): "
        f"{d['flagged_with_example']} of {d['planted']} planted documents flagged with their example ({kinds}); "
        f"{d['other_flagged']} other documents flagged; {d['in_training_corpus']} planted documents in training_corpus"
    )
    return [
        {"check": f"planted benchmark copies flagged with their example ({kinds})",
         "result": f"{d['flagged_with_example']} of {d['planted']}", "expected": f"{d['planted']} of {d['planted']}",
         "ok": d["flagged_with_example"] == d["planted"]},
        {"check": "documents flagged that have no planted copy", "result": str(d["other_flagged"]), "expected": "0",
         "ok": d["other_flagged"] == 0},
        {"check": "planted documents in training_corpus", "result": str(d["in_training_corpus"]), "expected": "0",
         "ok": d["in_training_corpus"] == 0},
    ]  # fmt: skip


def decontamination(spark, workdir: str, planted: dict[str, dict]) -> dict:
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


def tokenizer_checks(cfg: Any, *, console: Console) -> list[dict]:
    """The demo's tokenizer: loads with transformers.AutoTokenizer offline, gives back every held-out
    document exactly (decode(encode(x)) == x), and has the configured Hangul/Latin split."""
    from transformers import AutoTokenizer

    from core import storage
    from tokenizer.config import output_dir
    from tokenizer.sample import iter_column

    out = output_dir(cfg.tokenizer, cfg.workdir)
    report = json.loads((out / "moru_tokenizer.json").read_text(encoding="utf-8"))
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


def emit_checks(spark, cfg: Any, *, console: Console) -> list[dict]:
    """The demo's emitted datasets, read back with megatron-core's IndexedDataset: every shard holds the documents
    and tokens its manifest records, stage 1 holds every training_corpus document, stage-2 documents are within
    the configured lengths, and the stage-2 train blend gives replay its configured share."""
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
        ds = read_dataset(str(Path(m["run_dir"]) / s["path"]))
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
        items = json.loads(Path(blend_file).read_text(encoding="utf-8"))["train"]
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


def add_to_report(workdir: str, checks: list[dict], training: dict | None = None) -> None:
    """Re-render the run report (from its summary.json) with the demo's checks (and its training run) in it."""
    from core import storage
    from eval.report import write_report

    report_dir = storage.join(workdir, "report")
    summary = json.loads(storage.read_bytes(storage.join(report_dir, "summary.json")))
    summary["demo_checks"] = checks
    if training:
        summary["training"] = training
    write_report(summary, lambda name, data: storage.write_bytes(storage.join(report_dir, name), data))
