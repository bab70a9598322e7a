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


def pii_checks(spark, cfg: Any, planted: dict[str, list[dict]], *, console: Console) -> list[dict]:
    """The made-up PII planted in the corpus (the manifest's ``pii_docs``): every value found in its document with
    its type (pii_findings, matched by the value's keyed hash), none of them left in training_corpus, and
    training_corpus re-scanned with the same detector finds nothing (see :func:`pii`)."""
    if not cfg.pii.enabled:
        return [{"check": "PII redaction", "result": "pii.enabled is false", "expected": "enabled", "ok": False}]
    p = pii(spark, cfg, planted)
    kinds = ", ".join(f"{t} {n}/{of}" for t, (n, of) in sorted(p["by_type"].items()))
    ok = p["found"] == p["planted"] and not p["left_in_corpus"] and not p["residual_docs"]
    console.print(
        f"{'[green]' if ok else '[red]'}PII on the demo corpus: {p['found']} of {p['planted']} planted values found "
        f"with their type ({kinds}); {p['planted_in_corpus']} planted documents reached training_corpus, "
        f"{p['left_in_corpus']} still holding their value; training_corpus re-scanned: {p['residual_docs']} documents "
        f"with PII left; {p['other_findings']} other findings (the corpus's own boilerplate emails and phones)"
    )
    return [
        {"check": f"planted PII found with its type ({kinds})", "result": f"{p['found']} of {p['planted']}",
         "expected": f"{p['planted']} of {p['planted']}", "ok": p["found"] == p["planted"]},
        {"check": f"planted PII values left in training_corpus ({p['planted_in_corpus']} planted documents there)",
         "result": str(p["left_in_corpus"]), "expected": "0", "ok": p["left_in_corpus"] == 0},
        {"check": "training_corpus documents where the detector still finds PII (re-scan)",
         "result": str(p["residual_docs"]), "expected": "0", "ok": p["residual_docs"] == 0},
    ]  # fmt: skip


def pii(spark, cfg: Any, planted: dict[str, list[dict]]) -> dict:
    """The planted PII ("source/id" -> [{type, lang, value}]) against ``pii_findings`` (a planted value counts as found
    when its document has a finding of its type whose value hash is the value's), ``training_corpus`` (planted
    documents there, and those whose text still holds the value) and a re-scan of training_corpus."""
    from pyspark.sql import functions as F

    from quality.pii import detector_for
    from spark_jobs import tables
    from spark_jobs.pii import residual_scan

    det = detector_for(cfg.pii)
    workdir = cfg.workdir
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select(
        "doc_id", F.concat_ws("/", "source", F.regexp_replace("record_key", "^id:", "")).alias("key")
    )
    ids = {r["key"]: r["doc_id"] for r in raw.filter(F.col("key").isin(list(planted))).collect()} if planted else {}
    findings = tables.read(spark, workdir, tables.PII_FINDINGS)
    got = {
        (r["doc_id"], r["pii_type"], r["value_hash"])
        for r in findings.filter(F.col("doc_id").isin(list(ids.values()))).collect()
    }
    by_type: dict[str, tuple[int, int]] = {}
    for key, values in planted.items():
        for v in values:
            hit = (ids.get(key), v["type"], det.value_hash(v["value"])) in got
            n, of = by_type.get(v["type"], (0, 0))
            by_type[v["type"]] = (n + hit, of + 1)
    corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS)
    texts = {r["doc_id"]: r["text"] for r in corpus.filter(F.col("doc_id").isin(list(ids.values()))).collect()}
    left = sum(
        v["value"] in texts[ids[key]] for key, values in planted.items() if ids.get(key) in texts for v in values
    )
    residual = residual_scan(corpus, cfg.pii).filter(F.col("residual_findings") > 0).count()
    planted_ids = set(ids.values())
    other = findings.filter(~F.col("doc_id").isin(list(planted_ids))).count() if planted_ids else findings.count()
    return {
        "planted": sum(of for _, of in by_type.values()),
        "found": sum(n for n, _ in by_type.values()),
        "by_type": by_type,
        "planted_in_corpus": len(texts),
        "left_in_corpus": left,
        "residual_docs": residual,
        "other_findings": other,
    }


def tokenizer_checks(cfg: Any, *, console: Console) -> list[dict]:
    """The demo's tokenizer: loads with transformers.AutoTokenizer offline, gives back every held-out
    document exactly (decode(encode(x)) == x), and has the configured Hangul/Latin split."""
    from transformers import AutoTokenizer

    from core import locations
    from tokenizer.config import output_dir
    from tokenizer.sample import iter_column

    out = output_dir(cfg.tokenizer, cfg.workdir)
    report = json.loads((out / "moru_tokenizer.json").read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    texts = list(iter_column(locations.tokenizer_heldout(cfg.workdir), "text"))
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


def language_checks(spark, cfg: Any, *, console: Console) -> list[dict]:
    """With languages beyond ko/en (``moru demo --languages``): the generated de/ja/vi documents (source ``langs``,
    ids ``<lang>-NNNNN``) are labelled with their language, reach ``training_corpus``, and the tokenizer's final
    sample holds text of each language. Nothing when the run is ko/en only."""
    from pyspark.sql import functions as F

    from spark_jobs import tables
    from tokenizer.config import output_dir

    extra = [lang for lang in cfg.languages if lang not in ("ko", "en")]
    if not extra:
        return []
    raw = tables.read(spark, cfg.workdir, tables.RAW_DOCUMENTS).filter(F.col("source") == "langs")
    made = raw.select("doc_id", F.regexp_extract("record_key", r"^id:([a-z]+)-", 1).alias("made"))
    docs = tables.read(spark, cfg.workdir, tables.DOCUMENTS).select("doc_id", "lang")
    kept = tables.read(spark, cfg.workdir, tables.TRAINING_CORPUS).select("doc_id", F.lit(True).alias("kept"))
    rows = (
        made.join(docs, "doc_id", "left")
        .join(kept, "doc_id", "left")
        .groupBy("made")
        .agg(
            F.count("*").alias("n"),
            F.sum((F.col("lang") == F.col("made")).cast("int")).alias("labelled"),
            F.sum(F.col("kept").isNotNull().cast("int")).alias("kept"),
        )
        .collect()
    )
    by_lang = {r["made"]: r for r in rows}
    report = json.loads((output_dir(cfg.tokenizer, cfg.workdir) / "moru_tokenizer.json").read_text(encoding="utf-8"))
    sampled = (report.get("final") or {}).get("bytes", {})
    n = sum(int(by_lang[lang]["n"]) if lang in by_lang else 0 for lang in extra)
    labelled = sum(int(by_lang[lang]["labelled"] or 0) if lang in by_lang else 0 for lang in extra)
    per_lang = ", ".join(
        f"{lang} {int(by_lang[lang]['labelled'] or 0)}/{int(by_lang[lang]['n'])}" if lang in by_lang else f"{lang} 0/0"
        for lang in extra
    )
    reached = {lang: int(by_lang[lang]["kept"] or 0) if lang in by_lang else 0 for lang in extra}
    in_sample = {lang: int(sampled.get(lang, 0)) for lang in extra}
    ok_label = n > 0 and labelled == n
    console.print(
        f"{'[green]' if ok_label and all(reached.values()) and all(in_sample.values()) else '[red]'}languages: "
        f"{per_lang} generated documents labelled with their language; in training_corpus {reached}; "
        f"tokenizer sample bytes {in_sample}"
    )
    return [
        {"check": f"generated documents labelled with their language ({per_lang})", "result": f"{labelled} of {n}",
         "expected": f"{n} of {n} (> 0)", "ok": ok_label},
        {"check": "languages beyond ko/en with documents in training_corpus",
         "result": ", ".join(f"{k} {v}" for k, v in reached.items()), "expected": "each > 0",
         "ok": all(reached.values())},
        {"check": "languages beyond ko/en in the tokenizer's final training sample (bytes)",
         "result": ", ".join(f"{k} {v:,}" for k, v in in_sample.items()), "expected": "each > 0",
         "ok": all(in_sample.values())},
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


# where a planted benchmark copy is -> (contamination.source_table, turn_column, role)
_PLANTED_AT = {
    "user_turn": ("conversations", "messages", "user"),
    "assistant_turn": ("conversations", "messages", "assistant"),
    "prompt": ("preference_pairs", "prompt", "user"),
    "chosen": ("preference_pairs", "chosen", "assistant"),
    "rejected": ("preference_pairs", "rejected", "assistant"),
}
CONTROLS = 20  # kept examples per kind whose turns the search of the decoded emitted tokens must find


def posttrain_checks(spark, cfg: Any, manifest: Any, *, console: Console) -> list[dict]:
    """The post-training jobs against the post-training generator's ground truth (``manifest``: a
    demo.posttrain.PosttrainManifest): the tables written, every planted malformed record quarantined with its
    reason, every planted benchmark copy flagged at its table and turn and absent from the corpora and from the
    emitted tokens (decoded), the planted duplicates collapsed, the planted problem examples dropped, the gate, the
    emitted datasets read back, packing efficiency and mask share (see :func:`posttrain`)."""
    p = posttrain(spark, cfg, manifest)
    e, sft = p["emit"], (p["emit"] or {}).get("sft") or {}
    where = ", ".join(f"{k} {n}/{of}" for k, (n, of) in p["flagged_by_where"].items())
    seq = cfg.posttrain.emit.seq_length
    eff, share = sft.get("packing_efficiency"), sft.get("mask_share")
    eff_min, share_lo, share_hi = 0.9, 0.1, 0.9
    ok_cont = (p["flagged"] == p["planted"] and not p["other_flagged"] and not p["in_corpora"]
               and not p["in_emitted"])  # fmt: skip
    color = "[green]" if ok_cont else "[red]"
    console.print(
        f"{color}post-training: {p['conversations']:,} conversations and {p['pairs']:,} preference pairs "
        f"(planted {manifest.conversations:,} and {manifest.pairs:,}); {p['quarantined_ok']} of {p['malformed']} "
        f"planted malformed records quarantined with their reason ({p['quarantined_other']} others); "
        f"{p['flagged']} of {p['planted']} planted benchmark copies flagged at their turn ({where}), "
        f"{p['other_flagged']} other examples flagged, {p['in_corpora']} in sft_corpus/preference_corpus, "
        f"{p['in_emitted']} in the decoded emitted tokens ({p['controls_found']} of {p['controls']} kept examples "
        f"found there); {p['dups_collapsed']} of {p['dup_groups']} planted duplicate groups collapsed to one keeper"
    )
    if e:
        console.print(
            f"{'[green]' if p['emit_ok'] else '[red]'}post-training emit: {sft['examples']:,} conversations in "
            f"{sft['sequences']:,} packed sequences of {seq:,} tokens, packing efficiency {eff:.3f}, mask share "
            f"{share:.3f}; {e['pairs']['pairs']:,} preference pairs; {p['datasets_whole']} of {p['datasets']} "
            "datasets read back whole"
        )
    bench_ok = p["flagged"] == p["planted"] > 0
    return [
        {"check": "post-training conversations / preference pairs written (normalized)",
         "result": f"{p['conversations']:,} / {p['pairs']:,}",
         "expected": f"{manifest.conversations:,} / {manifest.pairs:,}",
         "ok": (p["conversations"], p["pairs"]) == (manifest.conversations, manifest.pairs)},
        {"check": "planted malformed post-training records quarantined with their planted reason (others quarantined)",
         "result": f"{p['quarantined_ok']} of {p['malformed']} ({p['quarantined_other']})",
         "expected": f"{p['malformed']} of {p['malformed']} (0)",
         "ok": p["quarantined_ok"] == p["malformed"] > 0 and p["quarantined_other"] == 0},
        {"check": f"planted benchmark copies in conversations / pairs flagged with their table, turn and example "
                  f"({where})", "result": f"{p['flagged']} of {p['planted']}",
         "expected": f"{p['planted']} of {p['planted']}", "ok": bench_ok},
        {"check": "conversations / pairs flagged that have no planted copy", "result": str(p["other_flagged"]),
         "expected": "0", "ok": p["other_flagged"] == 0},
        {"check": "planted benchmark copies in sft_corpus / preference_corpus", "result": str(p["in_corpora"]),
         "expected": "0", "ok": p["in_corpora"] == 0},
        {"check": "planted benchmark turns in the emitted SFT / pair tokens, decoded (kept examples' turns found "
                  "there)", "result": f"{p['in_emitted']} of {p['searched']} ({p['controls_found']} of "
                                      f"{p['controls']})",
         "expected": f"0 of {p['planted']} ({p['controls']} of {p['controls']})",
         "ok": e is not None and p["searched"] == p["planted"] and p["in_emitted"] == 0
               and p["controls_found"] == p["controls"] > 0},
        {"check": "planted duplicate groups (exact, re-spaced Korean, re-cased English) collapsed to one keeper",
         "result": f"{p['dups_collapsed']} of {p['dup_groups']}", "expected": f"{p['dup_groups']} of {p['dup_groups']}",
         "ok": p["dups_collapsed"] == p["dup_groups"] > 0},
        {"check": "planted refusals, template leftovers and language mismatches in sft_corpus / preference_corpus",
         "result": f"{p['problems_kept']} of {p['problems']}", "expected": f"0 of {p['problems']}",
         "ok": p["problems"] > 0 and p["problems_kept"] == 0},
        {"check": "post-training gate (Great Expectations) on sft_corpus and preference_corpus",
         "result": p["gate"], "expected": "passed", "ok": p["gate"] == "passed"},
        {"check": "packed SFT + pair datasets that IndexedDataset reads back with their recorded sizes; corpus rows "
                  "in them", "result": f"{p['datasets_whole']} of {p['datasets']}; {p['emitted_rows']:,} of "
                  f"{p['corpus_rows']:,}",
         "expected": f"{p['datasets']} of {p['datasets']} (> 0); {p['corpus_rows']:,} of {p['corpus_rows']:,}",
         "ok": p["emit_ok"]},
        {"check": f"SFT packing efficiency at seq_length {seq:,} (0.97 is the target at 4,096 on real sizes)",
         "result": "-" if eff is None else f"{eff:.3f}", "expected": f">= {eff_min}",
         "ok": eff is not None and eff >= eff_min},
        {"check": "SFT mask share (supervised tokens / tokens)", "result": "-" if share is None else f"{share:.3f}",
         "expected": f"{share_lo}-{share_hi}", "ok": share is not None and share_lo <= share <= share_hi},
    ]  # fmt: skip


def posttrain(spark, cfg: Any, manifest: Any) -> dict:
    """The post-training tables and emitted datasets held against the generator's ``manifest``
    (demo.posttrain.PosttrainManifest). The collected rows are the planted ones and the post-training rows of
    ``quarantine`` and ``contamination`` (a few dozen each); the emitted tokens are decoded on the driver."""
    from pyspark.sql import functions as F

    from core import storage
    from quality.gates.result import GateResult
    from spark_jobs import tables
    from spark_jobs.emit import job as emit_job
    from spark_jobs.posttrain import emit as pt_emit

    wd = cfg.workdir

    def read(table):
        return tables.read(spark, wd, table) if tables.exists(spark, wd, table) else None

    def count(table) -> int:
        df = read(table)
        return 0 if df is None else df.count()

    out: dict[str, Any] = {"conversations": count(tables.CONVERSATIONS), "pairs": count(tables.PREFERENCE_PAIRS)}
    # malformed records: (source, file, record index) -> reason, as planted and as quarantined
    planted_bad = {(m["source"], m["file"], m["index"]): m["reason"] for m in manifest.malformed}
    q = read(tables.QUARANTINE)
    got = {}
    if q is not None:
        for r in q.filter(F.col("stage").startswith("posttrain_")).collect():
            got[r["source"], r["source_file"], r["record_index"]] = r["reason"]
    out["malformed"] = len(planted_bad)
    out["quarantined_ok"] = sum(got.get(k) == reason for k, reason in planted_bad.items())
    out["quarantined_other"] = len(set(got) - set(planted_bad))
    # planted benchmark copies: flagged at their table, turn column, turn index and role with their example
    cont = read(tables.CONTAMINATION)
    flagged: dict[tuple, set] = {}
    if cont is not None:
        rows = cont.filter(F.col("source_table").isin("conversations", "preference_pairs")).collect()
        for r in rows:
            flagged.setdefault((r["source_table"], r["doc_id"], r["turn_column"], r["turn"], r["role"]), set()).add(
                r["example_id"]
            )
    planted = manifest.contaminated
    by_where: dict[str, tuple[int, int]] = {}
    for c in planted:
        table, column, role = _PLANTED_AT[c["where"]]
        hit = c["example_id"] in flagged.get((table, c["doc_id"], column, c["turn"], role), ())
        n, of = by_where.get(c["where"], (0, 0))
        by_where[c["where"]] = (n + hit, of + 1)
    out["planted"] = len(planted)
    out["flagged"] = sum(n for n, _ in by_where.values())
    out["flagged_by_where"] = by_where
    planted_ids = {c["doc_id"] for c in planted}
    out["other_flagged"] = len({k[1] for k in flagged} - planted_ids)
    corpora = {column: df for column, df in (("messages", read(tables.SFT_CORPUS)),
                                             ("chosen", read(tables.PREFERENCE_CORPUS))) if df is not None}  # fmt: skip
    groups = manifest.duplicate_groups
    members = {d for g in groups for d in g["members"]}
    # planted problem examples the select step must drop (a refusal as the rejected answer is a fine negative)
    problems = {r["doc_id"] for r in manifest.refusals if r["where"] == "response"}
    problems |= {r["doc_id"] for r in manifest.template_leftovers} | set(manifest.lang_mismatch)
    # which of the planted examples the corpora hold (one query per corpus)
    asked = sorted(planted_ids | members | problems)
    kept = {r["doc_id"] for df in corpora.values() for r in df.filter(F.col("doc_id").isin(asked)).select("doc_id")
            .collect()}  # fmt: skip
    out["in_corpora"] = len(kept & planted_ids)
    out["problems"], out["problems_kept"] = len(problems), len(kept & problems)
    # planted duplicates: every group in one cluster of its key, exactly one member kept
    dups = read(tables.POSTTRAIN_DUPLICATES)
    cluster: dict[tuple[str, str], str] = {}
    if dups is not None and members:
        for r in dups.filter(F.col("doc_id").isin(sorted(members))).collect():
            cluster[r["key_kind"], r["doc_id"]] = r["cluster_id"]
    out["dup_groups"] = len(groups)
    out["dups_collapsed"] = sum(
        len({cluster.get((g["key"], d)) for d in g["members"]} - {None}) == 1
        and all((g["key"], d) in cluster for d in g["members"])
        and sum(d in kept for d in g["members"]) == 1
        for g in groups
    )
    # the post-training gate
    try:
        gate = GateResult.from_json(storage.read_bytes(pt_emit.gate_result_uri(wd)).decode("utf-8"))
        out["gate"] = "passed" if gate.passed else "FAILED: " + "; ".join(gate.failure_messages())
    except (FileNotFoundError, OSError):
        out["gate"] = "no result"
    # the emitted datasets: read back, rows, and the planted turns searched in the decoded tokens
    m = emit_job.read_manifest(cfg.posttrain.emit.output or pt_emit.output_default(wd))
    out["emit"] = None if m is None else pt_emit.summary(m)
    out.update(datasets=0, datasets_whole=0, emitted_rows=0, corpus_rows=0, searched=0, in_emitted=0, controls=0,
               controls_found=0, emit_ok=False)  # fmt: skip
    if m is None:
        return out
    out.update(_emitted(spark, cfg, m, planted, corpora))
    out["corpus_rows"] = count(tables.SFT_CORPUS) + count(tables.PREFERENCE_CORPUS)
    out["emitted_rows"] = m["counts"]["rows_out"]
    out["emit_ok"] = out["datasets_whole"] == out["datasets"] > 0 and out["emitted_rows"] == out["corpus_rows"]
    return out


def _emitted(spark, cfg: Any, m: dict, planted: list[dict], corpora: dict) -> dict:
    """Every dataset of the published post-training emit run read with megatron-core's IndexedDataset (documents and
    elements as recorded), its token datasets decoded with the tokenizer; the planted benchmark turns searched in
    that text, and the turns of the first ``CONTROLS`` kept examples of each kind (which must be found there)."""
    from pyspark.sql import functions as F
    from tokenizers import Tokenizer

    from spark_jobs import tables
    from spark_jobs.emit.shards import read_dataset
    from tokenizer.config import output_dir

    tok_dir = cfg.posttrain.emit.tokenizer or output_dir(cfg.tokenizer, cfg.workdir)
    tok = Tokenizer.from_file(str(Path(tok_dir) / "tokenizer.json"))
    whole, texts = 0, []
    for s in m["shards"]:
        ds = read_dataset(str(Path(m["run_dir"]) / s["path"]))
        seqs = [ds[i] for i in range(len(ds))]
        whole += (len(seqs), sum(len(x) for x in seqs)) == (s["files"]["documents"], s["files"]["elements"])
        if s["dataset"] in ("tokens", "prompt", "chosen", "rejected"):
            texts += tok.decode_batch([x.tolist() for x in seqs], skip_special_tokens=False)
        del ds
    emitted = "\x00".join(texts)
    # the planted turns, as normalize wrote them (what emission would have rendered): one query per table
    rows: dict[tuple[str, str], Any] = {}
    for name, columns in (("conversations", ["messages"]), ("preference_pairs", ["prompt", "chosen", "rejected"])):
        ids = sorted({c["doc_id"] for c in planted if _PLANTED_AT[c["where"]][0] == name})
        if ids:
            df = tables.read(spark, cfg.workdir, tables.ALL_TABLES[name])
            rows |= {(name, r["doc_id"]): r for r in df.filter(F.col("doc_id").isin(ids)).select("doc_id", *columns)
                     .collect()}  # fmt: skip
    turns = []
    for c in planted:
        table, column, _ = _PLANTED_AT[c["where"]]
        row = rows.get((table, c["doc_id"]))
        if row is not None and c["turn"] < len(row[column]):
            turns.append(row[column][c["turn"]]["content"])
    controls = []
    for column, df in corpora.items():
        for r in df.orderBy("doc_id").select(column).limit(CONTROLS).collect():
            controls.append(next(t["content"] for t in r[0] if t["role"] == "assistant"))
    return {"datasets": len(m["shards"]), "datasets_whole": whole,
            "searched": len(turns), "in_emitted": sum(t in emitted for t in turns),
            "controls": len(controls), "controls_found": sum(t in emitted for t in controls)}  # fmt: skip


def alignment_checks(spark, cfg: Any, report: dict, *, console: Console) -> list[dict]:
    """The tiny model's alignment (``report``: megatron_train.align.run_recipe's, from demo.training.align_tiny_model):
    every step of the recipe finished; the SFT loss fell; each DPO stage's first loss is ln 2 (policy = reference
    before the first update) within 1e-4; each reward model's held-out pair accuracy is reported; the agreement
    filter kept a share in (0, 1] of each stage's pairs; ``pair_scores`` holds every emitted pair once per reward
    model (its rows for the reward models' current checkpoints: 2 × pairs with two models)."""
    import math

    from eval.alignment import step_rows
    from megatron_train.align_config import load_plan

    rows = {r["step"]: r for r in step_rows(report)}
    wanted: list[str] = []
    dpo_stages: list[str] = []
    try:
        plan = load_plan(Path(cfg.workdir) / "moru.yaml")
        wanted = plan.steps()
        dpo_stages = [s for s in plan.stage_names if plan.preference(s)[0].loss == "dpo"]
    except ValueError as exc:  # TrainConfigError
        console.print(f"[red]align section: {exc}")
    done = [s for s in wanted if s in rows and rows[s]["status"] in ("finished", "skipped")]
    finished_ok = bool(wanted) and len(done) == len(wanted) and not report.get("error")
    losses = [v for v in (((report.get("steps") or {}).get("sft") or {}).get("metrics") or {}).get("train", {})
              .get("loss", []) if v is not None]  # fmt: skip
    tail = losses[-5:]
    sft_first, sft_last = (losses[0], sum(tail) / len(tail)) if losses else (float("nan"), float("nan"))
    sft_fell = bool(losses) and len(losses) > 1 and sft_last < sft_first
    ln2 = math.log(2)
    dpo_first = {s: (rows.get(s) or {}).get("first_loss") for s in dpo_stages}
    dpo_ok = bool(dpo_first) and all(v is not None and abs(v - ln2) <= 1e-4 for v in dpo_first.values())
    rms = [r for r in rows.values() if r["kind"] == "reward"]
    n_rm = len([s for s in wanted if s.startswith("reward/")])
    acc = {r["step"].removeprefix("reward/"): r["held_out_accuracy"] for r in rms}
    acc_ok = len(acc) == n_rm > 0 and all(isinstance(a, float) and 0.0 <= a <= 1.0 for a in acc.values())
    kept = {r["step"]: (r["kept"], r["pairs"]) for r in rows.values() if r["kind"] == "preference"}
    kept_ok = bool(kept) and all(p and 0 < k <= p for k, p in kept.values())
    scores = pair_scores_rows(spark, cfg, report)
    report["pair_scores_table"] = {"version": scores["version"], "rows": scores["table_rows"]}  # for the report
    scores_ok = scores["pairs"] > 0 and scores["rows"] == n_rm * scores["pairs"] and scores["models"] == n_rm
    ok = finished_ok and sft_fell and dpo_ok and acc_ok and kept_ok and scores_ok
    console.print(
        f"{'[green]' if ok else '[red]'}alignment: {len(done)} of {len(wanted)} steps finished in "
        f"{report.get('seconds', 0):.0f} s; SFT loss {sft_first:.3f} -> {sft_last:.3f}; DPO first-step loss "
        + ", ".join(f"{s} {v:.6f}" if v is not None else f"{s} -" for s, v in dpo_first.items())
        + f" (ln 2 = {ln2:.6f}); reward models' held-out accuracy "
        + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} -" for k, v in acc.items())
        + "; agreement kept "
        + ", ".join(f"{s} {k}/{p}" for s, (k, p) in kept.items())
        + f"; pair_scores {scores['rows']:,} rows for {scores['pairs']:,} pairs"
        + (f" [red]({report['error']})" if report.get("error") else "")
    )
    return [
        {"check": "alignment recipe: every step finished (SFT, reward models, preference stages)",
         "result": f"{len(done)} of {len(wanted)}" + (f" ({report['error']})" if report.get("error") else ""),
         "expected": f"{len(wanted)} of {len(wanted)}", "ok": finished_ok},
        {"check": "SFT (M0) loss: first step vs mean of the last 5", "result": f"{sft_first:.3f} -> {sft_last:.3f}",
         "expected": "lower", "ok": sft_fell},
        {"check": "DPO first-step loss (policy = reference: ln 2)",
         "result": ", ".join(f"{s} {v:.6f}" if v is not None else f"{s} -" for s, v in dpo_first.items()) or "-",
         "expected": f"{ln2:.6f} ± 1e-4", "ok": dpo_ok},
        {"check": "reward models' held-out pair accuracy reported",
         "result": ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} -" for k, v in acc.items()) or "-",
         "expected": f"{n_rm} values in [0, 1]", "ok": acc_ok},
        {"check": "agreement filter: kept share of each stage's pairs",
         "result": ", ".join(f"{s} {k}/{p}" for s, (k, p) in kept.items()) or "-", "expected": "in (0, 1]",
         "ok": kept_ok},
        {"check": "pair_scores (Delta): rows of the reward models' checkpoints = reward models × emitted pairs",
         "result": f"{scores['rows']:,} ({scores['models']} models)",
         "expected": f"{n_rm} × {scores['pairs']:,} = {n_rm * scores['pairs']:,}", "ok": scores_ok},
    ]  # fmt: skip


def pair_scores_rows(spark, cfg: Any, report: dict) -> dict:
    """``pair_scores``' rows for the (reward model, checkpoint)s this recipe run wrote, the distinct reward models
    among them, and the emitted pairs (every split of the post-training emit's pair datasets, from its manifest)."""
    from pyspark.sql import functions as F

    from spark_jobs import tables
    from spark_jobs.emit import job as emit_job
    from spark_jobs.posttrain import emit as pt_emit

    m = emit_job.read_manifest(cfg.posttrain.emit.output or pt_emit.output_default(cfg.workdir))
    pairs = int(((m and pt_emit.summary(m).get("pairs")) or {}).get("pairs") or 0)
    written = [(e["pair_scores"]["reward_model"], e["pair_scores"]["checkpoint"])
               for e in (report.get("steps") or {}).values() if isinstance(e.get("pair_scores"), dict)]  # fmt: skip
    if not written or not tables.exists(spark, cfg.workdir, tables.PAIR_SCORES):
        return {"rows": 0, "models": 0, "pairs": pairs, "table_rows": 0, "version": None}
    cond = F.lit(False)
    for rm, ckpt in written:
        cond = cond | ((F.col("reward_model") == rm) & (F.col("checkpoint") == ckpt))
    agg = (tables.read(spark, cfg.workdir, tables.PAIR_SCORES)
           .agg(F.count(F.when(cond, 1)).alias("rows"), F.countDistinct(F.when(cond, F.col("reward_model")))
                .alias("models"), F.count(F.lit(1)).alias("table_rows")).head())  # fmt: skip
    version = tables.version(spark, cfg.workdir, tables.PAIR_SCORES)
    return {"rows": int(agg["rows"]), "models": int(agg["models"]), "pairs": pairs,
            "table_rows": int(agg["table_rows"]), "version": version}  # fmt: skip


def add_to_report(workdir: str, checks: list[dict], training: dict | None = None, alignment: dict | None = None,
                  evaluation: dict | None = None) -> None:  # fmt: skip
    """Re-render the run report (from its summary.json) with the demo's checks (and its training and alignment runs,
    and the exported model's evaluation) in it."""
    from core import storage
    from eval.report import write_report

    report_dir = storage.join(workdir, "report")
    summary = json.loads(storage.read_bytes(storage.join(report_dir, "summary.json")))
    summary["demo_checks"] = checks
    if training:
        summary["training"] = training
    if evaluation:
        summary["evaluation"] = evaluation
    if alignment:
        summary["alignment"] = alignment
        table = alignment.get("pair_scores_table") or {}
        if table.get("version") is not None:  # written after the pipeline's report: its row in the tables' list
            summary.setdefault("table_versions", {})["pair_scores"] = table["version"]
            summary.setdefault("table_counts", {})["pair_scores"] = table["rows"]
    write_report(summary, lambda name, data: storage.write_bytes(storage.join(report_dir, name), data))


PARITY_TOKENS = 32  # tokens per text of the export's logit comparison


def evaluation_checks(ev: dict, *, console: Console) -> list[dict]:
    """The tiny model's evaluation (demo.evaluation.evaluate_tiny_model's ``ev``), read back from its files: the
    exported folder loads with AutoModelForCausalLM and computes megatron-core's logits of the checkpoint (a Korean
    and an English text of the demo's benchmark files) within the fp32 export tolerance with the same argmax;
    eval_results.json has a numeric metric for every requested task; niah_results.json has every (language, length,
    depth) cell and both heatmaps exist; the eval report exists and the checkpoint's eval_reports.json links it."""
    import math

    error = ev.get("error")
    exported = bool(ev.get("export")) and (Path(ev["export"]) / "config.json").is_file()
    parity = _export_parity(ev) if exported else None
    # every requested task with a numeric metric in the file evaluate wrote
    scored = (_read_json(ev.get("results_file")) or {}).get("results") or {}

    def numeric(entry: dict) -> bool:
        return any(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                   and "_stderr" not in k for k, v in (entry.get("metrics") or {}).items())  # fmt: skip

    tasks = ev.get("tasks") or []
    with_metric = [t for t in tasks if t in scored and numeric(scored[t])]
    # every NIAH cell, both heatmaps
    niah = _read_json(ev.get("niah_file")) or {}
    langs, lengths, depths = ["ko", "en"], niah.get("lengths") or [], niah.get("depths") or []
    want = {(lang, n, d) for lang in langs for n in lengths for d in depths}
    cells = {(c["language"], c["length"], c["depth"]) for c in niah.get("cells") or []
             if isinstance(c.get("accuracy"), int | float)}  # fmt: skip
    pngs = [Path(niah.get("out_dir") or "", (niah.get("heatmaps") or {}).get(lang, "-")) for lang in langs]
    pngs_ok = [p for p in pngs if p.is_file() and p.stat().st_size > 1000]
    niah_ok = bool(want) and want <= cells and len(pngs_ok) == len(langs)
    # the report and its link beside the checkpoint
    report = Path(ev["report"]) if ev.get("report") else None
    index = Path(ev["checkpoint"]) / "eval_reports.json" if ev.get("checkpoint") else None
    linked = [e for e in (_read_json(index) or []) if isinstance(e, dict)] if index else []
    link_ok = report is not None and report.is_file() and any(e.get("report") == str(report.resolve()) for e in linked)

    from megatron_train.export import FP32_LOGIT_TOLERANCE

    p_ok = parity is not None and parity.get("delta") is not None and parity["delta"] <= FP32_LOGIT_TOLERANCE \
        and parity["argmax_equal"]  # fmt: skip
    p_text = ("not run" + (f" ({error})" if error else "") if parity is None else parity.get("error") or
              f"max |Δlogit| {parity['delta']:.2g} (max |logit| {parity['max_logit']:.3g}), argmax "
              f"{'equal' if parity['argmax_equal'] else 'DIFFERS'}, {parity['tokens']} tokens")  # fmt: skip
    secs = ev.get("seconds") or {}
    ok = p_ok and len(with_metric) == len(tasks) > 0 and niah_ok and link_ok
    console.print(
        f"{'[green]' if ok else '[red]'}evaluation of the {ev.get('stage', '?')} checkpoint in "
        f"{secs.get('total', 0):.0f} s (export {secs.get('export', '-')} s, scores {secs.get('evaluate', '-')} s, "
        f"NIAH {secs.get('niah', '-')} s): export vs megatron-core {p_text}; {len(with_metric)} of {len(tasks)} "
        f"tasks with a metric; {len(cells & want)} of {len(want)} NIAH cells, {len(pngs_ok)} heatmaps; report "
        f"{'linked' if link_ok else 'NOT linked'} in {index}" + (f" [red]({error})" if error else "")
    )
    cells_text = f"{len(cells & want)} of {len(want)}, heatmaps {len(pngs_ok)} of {len(langs)}"
    return [
        {"check": f"Hugging Face export ({ev.get('dtype')}) of the {ev.get('stage', '?')} checkpoint: "
                  "AutoModelForCausalLM's logits vs megatron-core's (Korean + English text)",
         "result": p_text, "expected": f"max |Δlogit| <= {FP32_LOGIT_TOLERANCE:g}, argmax equal", "ok": p_ok},
        {"check": f"benchmark slice (lm-eval, {ev.get('limit')} examples, {ev.get('num_fewshot')}-shot): tasks with "
                  "a numeric metric in eval_results.json",
         "result": f"{len(with_metric)} of {len(tasks)}" + (f" ({error})" if error and not with_metric else ""),
         "expected": f"{len(tasks)} of {len(tasks)} ({', '.join(tasks)})", "ok": len(with_metric) == len(tasks) > 0},
        {"check": "NIAH (Korean and English haystacks): (language, length, depth) cells in niah_results.json, "
                  "heatmap PNGs", "result": cells_text,
         "expected": f"{len(want)} of {len(want)} (> 0), heatmaps {len(langs)} of {len(langs)}", "ok": niah_ok},
        {"check": "eval report written and linked in the checkpoint's eval_reports.json",
         "result": ("linked" if link_ok else "written, not linked" if report and report.is_file() else "missing"),
         "expected": "linked", "ok": link_ok},
    ]  # fmt: skip


def _read_json(path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        return None


def _export_parity(ev: dict) -> dict:
    """The exported folder's logits (AutoModelForCausalLM) against megatron-core's forward of the checkpoint, on the
    first Korean and English questions of the evaluation files (``PARITY_TOKENS`` tokens each)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from demo.eval_data import GSM8K_FILE, KMMLU_FILE
    from megatron_train.export import megatron_logits

    try:
        data = Path((ev.get("data") or {}).get("dir") or "")
        texts = [json.loads((data / f).read_text(encoding="utf-8").splitlines()[0])["question"]
                 for f in (GSM8K_FILE, KMMLU_FILE)]  # fmt: skip
        tok = AutoTokenizer.from_pretrained(ev["export"])
        ids = [i[:PARITY_TOKENS] for i in tok(texts, add_special_tokens=False)["input_ids"]]
        n = min(map(len, ids))
        tokens = torch.tensor([i[:n] for i in ids])
        model = AutoModelForCausalLM.from_pretrained(ev["export"]).eval()
        with torch.no_grad():
            got = model(input_ids=tokens).logits.float()
        ref = megatron_logits(ev["checkpoint"], tokens)
        return {
            "delta": (got - ref).abs().max().item(),
            "max_logit": ref.abs().max().item(),
            "argmax_equal": bool(torch.equal(got.argmax(-1), ref.argmax(-1))),
            "tokens": int(tokens.numel()),
        }
    except Exception as exc:  # noqa: BLE001 - the check fails, naming why
        return {"delta": None, "argmax_equal": False, "error": f"{type(exc).__name__}: {exc}"}
