"""`moru demo` end to end on a small corpus: every stage (pretraining and post-training), tables, report, counts
against the generators' ground truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from demo.posttrain import PAIR_SOURCES, SFT_SOURCES
from moru.cli import app
from quality.dedup.shingles import jaccard, shingles
from spark_jobs import tables
from spark_jobs.dedup.config import MinHashConfig


def test_demo_end_to_end(spark, tmp_path):
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--workdir", str(workdir), "--docs", "400", "--seed", "5"])
    assert result.exit_code == 0, result.output
    truth = json.loads((workdir / "corpus_manifest.json").read_text(encoding="utf-8"))
    raw = tables.read(spark, str(workdir), tables.RAW_DOCUMENTS)
    assert raw.count() == truth["n_docs"]
    reasons = Counter(
        {
            r["reason"]: r["count"]
            for r in tables.read(spark, str(workdir), tables.QUARANTINE)
            .filter("stage NOT LIKE 'posttrain_%'")
            .groupBy("reason")
            .count()
            .collect()
        }
    )
    assert reasons == Counter(truth["malformed"])
    docs = tables.read(spark, str(workdir), tables.DOCUMENTS)
    assert docs.count() == truth["n_docs"]
    langs = {r["lang"]: r["count"] for r in docs.groupBy("lang").count().collect()}
    assert set(langs) >= {"ko", "en", "ko+en", "other"}
    # every source is there, with its own field mapping applied
    assert {r[0] for r in raw.select("source").distinct().collect()} == {"news", "forum", "web", "docs", "misc"}
    assert raw.filter("source = 'news' AND metadata['section'] IS NOT NULL").count() > 0
    assert raw.filter("source = 'web' AND url LIKE 'https://web.demo.moru/%'").count() > 0
    index = (workdir / "report" / "index.html").read_text(encoding="utf-8")
    # dedup: the planted exact-duplicate groups are exactly the exact duplicates, and the planted
    # near-duplicate pairs whose true Jaccard (the pipeline's own shingles) reaches the threshold
    # end up in one duplicate group (near cluster of their exact keepers). Some planted edits (a
    # boilerplate swap on a short page) fall below 0.8 and are rightly not duplicates.
    ids = {r["doc_id"]: (r["source"], r["record_key"].removeprefix("id:")) for r in raw.collect()}
    doc_of = {v: k for k, v in ids.items()}
    exact_rows = tables.read(spark, str(workdir), tables.EXACT_DUPLICATES).collect()
    by_hash: dict[str, set] = {}
    for r in exact_rows:
        by_hash.setdefault(r["content_hash"], set()).add(tuple(ids[r["doc_id"]]))
    planted = {frozenset(tuple(x) for x in g) for g in truth["exact_duplicate_groups"]}
    assert {frozenset(g) for g in by_hash.values() if len(g) > 1} == planted
    keeper_of = {r["doc_id"]: r["keeper_doc_id"] for r in exact_rows}
    near = {
        r["doc_id"]: r["cluster_id"] for r in tables.read(spark, str(workdir), tables.NEAR_DUPLICATE_CLUSTERS).collect()
    }
    text = {r["doc_id"]: r["text"] for r in docs.select("doc_id", "text").collect()}
    mh = MinHashConfig()
    above, found = 0, 0
    for a, b, _kind in truth["near_duplicate_pairs"]:
        da, db = doc_of[tuple(a)], doc_of[tuple(b)]
        sa = shingles(text[da], mh.ngram, mh.korean_units, mh.hangul_ngram())
        sb = shingles(text[db], mh.ngram, mh.korean_units, mh.hangul_ngram())
        if jaccard(sa, sb) >= mh.threshold:
            above += 1
            found += near[keeper_of[da]] == near[keeper_of[db]]
    assert above >= 10 and found >= 0.9 * above, (found, above)
    for png in ("funnel.png", "quarantine.png", "languages.png", "lengths.png", "cluster_sizes.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    out = " ".join(result.output.split())
    total_read = truth["n_docs"] + sum(truth["malformed"].values())
    assert f"ingest │ {total_read:,} │ {truth['n_docs']:,} │ {sum(truth['malformed'].values()):,}" in out
    # quality: the classifier was trained and scored every document; it separates the corpus's clean
    # documents from its junk (the generator's ground truth; the classifier saw another seed's sets)
    from demo.quality_eval import demo_classifier_auc

    q = demo_classifier_auc(spark, str(workdir), truth["doc_styles"])
    assert q["junk"] >= 10 and q["clean"] >= 200 and q["auc"] > 0.95, q
    assert "quality classifier on the demo corpus" in out and "AUC" in out
    # select: every document has a verdict; counts add up; the gate passed on the training corpus
    sel = tables.read(spark, str(workdir), tables.SELECTION)
    kept = tables.read(spark, str(workdir), tables.TRAINING_CORPUS).count()
    assert sel.count() == truth["n_docs"] and sel.filter("kept").count() == kept > 0
    assert sel.filter("NOT kept AND (first_failed_rule IS NULL OR size(failed_rules) = 0)").count() == 0
    assert sel.filter("kept AND size(failed_rules) > 0").count() == 0
    assert sel.filter("lang IN ('other', 'und') AND kept").count() == 0
    gate = json.loads((workdir / "gates" / "latest.json").read_text(encoding="utf-8"))
    assert gate["passed"], gate
    assert (workdir / "report" / "data_docs" / "index.html").is_file()
    assert "Funnel: documents and characters kept per stage and language" in index
    assert "Selection: why documents were dropped" in index and "Quality classifier (fastText)" in index
    # decontaminate ran on the generated benchmark (exhaustive mode): the documents with a planted
    # copy (whole, partial, perturbed) are exactly the flagged ones, each with its planted example,
    # and select kept none of them
    planted = truth["contaminated_docs"]
    assert len(planted) == 12 and {p["kind"] for p in planted.values()} == {"whole", "partial", "perturbed"}
    assert max(p["chars"] for p in planted.values()) > 10_000 and min(p["chars"] for p in planted.values()) < 500
    summary = json.loads((workdir / "report" / "summary.json").read_text(encoding="utf-8"))
    stage = next(s for s in summary["stages"] if s["stage"] == "decontaminate")
    assert stage["rows_rejected"] == len(planted) and stage["extra"]["mode"] == "exhaustive"
    key_of = {doc: f"{src}/{rid}" for doc, (src, rid) in ids.items()}
    found: dict[str, set] = {}
    for r in (
        tables.read(spark, str(workdir), tables.CONTAMINATION)
        .filter("coalesce(source_table, 'documents') = 'documents'")
        .collect()
    ):
        assert r["benchmark"] == "demo_bench" and r["mode"] == "exhaustive"
        found.setdefault(key_of[r["doc_id"]], set()).add(r["example_id"])
    assert set(found) == set(planted), (set(planted) - set(found), set(found) - set(planted))
    assert all(p["example_id"] in found[k] for k, p in planted.items())
    planted_ids = [doc_of[tuple(k.split("/", 1))] for k in planted]
    training = tables.read(spark, str(workdir), tables.TRAINING_CORPUS)
    assert training.filter(training.doc_id.isin(planted_ids)).count() == 0
    rules = {r["doc_id"]: r["failed_rules"] for r in sel.filter(sel.doc_id.isin(planted_ids)).collect()}
    assert len(rules) == len(planted) and all("contaminated:demo_bench" in f for f in rules.values())
    assert summary["contamination"] == [
        {"benchmark": "demo_bench", "examples": 200, "indexed_examples": 200, "contaminated_examples": len(planted),
         "contaminated_docs": len(planted), "mode": "exhaustive"}
    ]  # fmt: skip
    by_length = summary["contamination_by_length"]
    assert sum(b["flagged"] for b in by_length["buckets"]) == len(planted)
    assert sum(b["docs"] for b in by_length["buckets"]) == truth["n_docs"]
    assert "Decontamination: benchmark examples found in the documents" in index
    assert "Flagged documents by length (this run)" in index
    for png in ("contamination_lengths.png", "decontam_detection.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    assert "benchmarks/decontam_quality.py" in index
    # the demo's ground-truth checks, printed and in the report
    assert f"decontamination on the demo corpus (exhaustive mode): {len(planted)} of {len(planted)} planted" in out
    assert "0 other documents flagged; 0 planted documents in training_corpus" in out
    checks = summary["demo_checks"]
    assert len(checks) == 38 and all(c["ok"] for c in checks), checks
    names = " | ".join(c["check"] for c in checks)
    for part in ("decode(encode(x))", "Korean share", "emitted stage-1 blend", "training loss", "valid loss",
                 "IndexedDataset reads back", "stage-2 long documents", "replay share", "post-training gate",
                 "emitted SFT / pair tokens, decoded", "SFT packing efficiency", "SFT mask share",
                 "alignment recipe: every step finished", "SFT (M0) loss", "DPO first-step loss (policy = reference",
                 "held-out pair accuracy", "agreement filter: kept share", "pair_scores (Delta)",
                 "Hugging Face export (float32) of the M2 checkpoint", "tasks with a numeric metric",
                 "NIAH (Korean and English haystacks)", "linked in the checkpoint's eval_reports.json",
                 "planted PII found with its type", "planted PII values left in training_corpus",
                 "training_corpus documents where the detector still finds PII"):  # fmt: skip
        assert part in names, names
    # the alignment (moru align's recipe on the tiny model): report section, plots, pair_scores
    alignment = summary["alignment"]
    assert list(alignment["steps"]) == ["sft", "reward/rm1", "reward/rm2", "M1", "M2"]
    assert all(e["status"] == "finished" for e in alignment["steps"].values())
    assert "Alignment (M0 → M1 → M2)" in index
    for png in ("align_sft_loss.png", "align_preference.png", "align_agreement.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    scores = tables.read(spark, str(workdir), tables.PAIR_SCORES)
    emitted_pairs = json.loads((workdir / "posttrain_emit" / "manifest.json").read_text())["pairs"]["pairs"]
    assert scores.count() == 2 * emitted_pairs
    assert "moru align: steps" in out
    # the evaluation: the final (M2) checkpoint exported, scored on a slice of four tasks and a NIAH grid, its eval
    # report linked beside the checkpoint and from the run report
    ev = summary["evaluation"]
    assert ev["stage"] == "M2" and not ev.get("error") and ev["dtype"] == "float32"
    assert Path(ev["checkpoint"]).parent == workdir / "align" / "M2" / "checkpoints"
    assert json.loads((workdir / "export" / "M2" / "moru_export.json").read_text())["source"]["checkpoint"] == str(
        Path(ev["checkpoint"]).resolve()
    )
    results = json.loads((workdir / "eval" / "eval_results.json").read_text(encoding="utf-8"))
    assert set(results["results"]) == {"gsm8k", "arc_challenge", "kmmlu", "kobest_copa"}
    assert {r["language"] for r in results["results"].values()} == {"ko", "en"}
    assert all(r["n"] == 10 for r in results["results"].values())
    niah = json.loads((workdir / "eval" / "niah_results.json").read_text(encoding="utf-8"))
    assert niah["lengths"] == [256, 512, 1024] and len(niah["cells"]) == 2 * 3 * 3
    linked = json.loads((Path(ev["checkpoint"]) / "eval_reports.json").read_text(encoding="utf-8"))
    assert [e["report"] for e in linked] == [str(workdir / "eval" / "eval_report.html")]
    assert "Evaluation of the exported model" in index and '<a href="../eval/eval_report.html">' in index
    for png in ("eval_niah_ko.png", "eval_niah_en.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    assert "Demo: checks against the generated corpus" in index and ">FAIL<" not in index
    assert "PII redaction: findings per type and language" in index
    gated = summary["gate"]["table_versions"]
    assert gated["training_corpus_pii"] == gated["training_corpus"]  # the residual PII re-scan of that version
    # the tokenizer and the training run on the emitted data, in the report
    assert "Tokenizer (byte-level BPE, EXAONE-style)" in index
    assert "Training (megatron-core) on the emitted data" in index
    assert "Emitted Megatron datasets" in index and "stage2 replay" in index
    for png in ("tokenizer_compression.png", "train_loss.png", "emit_tokens.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    assert summary["training"]["steps"] == summary["training"]["train_iters"] == 100
    assert {r["tokenizer"] for r in summary["tokenizer"]["compression"]} >= {"moru", "moru + MeCab at encode"}

    # post-training: the generated conversations and preference pairs went through every post-training job
    pt = json.loads((workdir / "posttrain_manifest.json").read_text(encoding="utf-8"))
    wd = str(workdir)
    assert tables.read(spark, wd, tables.CONVERSATIONS).count() == pt["conversations"] > 0
    assert tables.read(spark, wd, tables.PREFERENCE_PAIRS).count() == pt["pairs"] > 0
    quarantined = tables.read(spark, wd, tables.QUARANTINE).filter("stage LIKE 'posttrain_%'").collect()
    assert Counter(r["reason"] for r in quarantined) == Counter(m["reason"] for m in pt["malformed"])
    assert {(r["source"], r["source_file"], r["record_index"]) for r in quarantined} == {
        (m["source"], m["file"], m["index"]) for m in pt["malformed"]
    }
    # every planted benchmark copy flagged with its example at its table and turn; nothing else; none selected
    where = {"user_turn": ("conversations", "messages"), "assistant_turn": ("conversations", "messages"),
             "prompt": ("preference_pairs", "prompt"), "chosen": ("preference_pairs", "chosen"),
             "rejected": ("preference_pairs", "rejected")}  # fmt: skip
    cont = tables.read(spark, wd, tables.CONTAMINATION).filter("source_table IN ('conversations', 'preference_pairs')")
    flagged = {(r["source_table"], r["turn_column"], r["doc_id"], r["turn"], r["example_id"]) for r in cont.collect()}
    planted_pt = {(*where[c["where"]], c["doc_id"], c["turn"], c["example_id"]) for c in pt["contaminated"]}
    assert len(planted_pt) >= 10 and {c["where"] for c in pt["contaminated"]} == set(where)
    assert planted_pt <= flagged and {f[2] for f in flagged} == {p[2] for p in planted_pt}
    planted_ids = sorted({c["doc_id"] for c in pt["contaminated"]})
    sft = tables.read(spark, wd, tables.SFT_CORPUS)
    pref = tables.read(spark, wd, tables.PREFERENCE_CORPUS)
    assert sft.filter(sft.doc_id.isin(planted_ids)).count() == pref.filter(pref.doc_id.isin(planted_ids)).count() == 0
    # the packed SFT and pair datasets: every corpus row emitted, blends written, efficiency and mask share recorded
    emitted = json.loads((workdir / "posttrain_emit" / "manifest.json").read_text(encoding="utf-8"))
    assert emitted["counts"]["sft"]["out"] == sft.count() > 0 and emitted["counts"]["pairs"]["out"] == pref.count() > 0
    assert (workdir / "posttrain_emit" / "sft_blend.json").is_file()
    assert (workdir / "posttrain_emit" / "pairs_blend.json").is_file()
    assert 0.9 <= emitted["sft"]["packing_efficiency"] <= 1 and 0.1 < emitted["sft"]["mask_share"] < 0.9
    # the report's post-training section, from summary["posttrain"]
    post = summary["posttrain"]
    funnel = Counter()
    for r in post["funnel"]:
        funnel[r["kind"], r["stage"]] += r["rows"]
    assert funnel["conversations", "records read"] == sum(pt["records"][s] for s in SFT_SOURCES)
    assert funnel["pairs", "records read"] == sum(pt["records"][s] for s in PAIR_SOURCES)
    assert funnel["conversations", "accepted"] == funnel["conversations", "normalized"] == pt["conversations"]
    assert funnel["pairs", "accepted"] == funnel["pairs", "normalized"] == pt["pairs"]
    assert (
        funnel["conversations", "selected (after decontamination)"] == funnel["conversations", "emitted"] == sft.count()
    )
    assert funnel["pairs", "selected (after decontamination)"] == funnel["pairs", "emitted"] == pref.count()
    assert {r["lang"] for r in post["funnel"] if r["stage"] == "emitted"} == {"ko", "en", "ko+en"}
    assert sum(r["count"] for r in post["quarantine"]) == len(pt["malformed"])
    assert sum(r["examples"] for r in post["contamination"]) == len(planted_pt)
    assert {(r["table"], r["turn_column"]) for r in post["contamination"]} == set(where.values())
    assert post["emit"]["sft"]["packing_efficiency"] == emitted["sft"]["packing_efficiency"]
    assert post["gate"]["passed"] and "Post-training gate (Great Expectations): <b>passed</b>" in index
    assert "Post-training data: conversations and preference pairs" in index
    assert f"packing efficiency <b>{emitted['sft']['packing_efficiency']:.3f}</b>" in index
    for png in ("posttrain_funnel.png", "posttrain_flags.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    n = len(planted_pt)
    assert f"{n} of {n} planted benchmark copies flagged at their turn" in out
    assert "0 in sft_corpus/preference_corpus, 0 in the decoded emitted tokens" in out
