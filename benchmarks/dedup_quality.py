"""Near-duplicate detection quality on demo.dedup_eval's labelled Korean/English set.

    .venv/bin/python benchmarks/dedup_quality.py [--per-lang 400] [--out benchmarks/out/dedup_quality]

Runs the real jobs (ingest → normalize → exact dedup → MinHash dedup, Spark local) once per
setting on the same documents and scores the clusters against the pairs' true Jaccard (word
5-grams of the logical, un-re-spaced text; see moru/dedup_eval.py):

1. Hangul shingling: characters (several n), MeCab morphemes, whitespace eojeol — at 0.8.
2. Candidate verification: exact shingle Jaccard, signature estimate, none — at 0.8.
3. The default setting over thresholds 0.5 … 0.9 (the curve).

Writes results.json, f1_by_threshold.png, schemes.png and index.html under --out, and prints a
table, the headline (F1 per language at 0.8 with the defaults) last.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from demo.dedup_eval import make_labelled_set, score, score_by_kind  # noqa: E402
from spark_jobs import ingest, normalize, tables  # noqa: E402
from spark_jobs.dedup import DedupConfig, exact, minhash  # noqa: E402
from spark_jobs.dedup.config import MinHashConfig  # noqa: E402
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig  # noqa: E402
from spark_jobs.session import SparkConfig, build_session  # noqa: E402

SCHEMES = [
    ("char 12 (default)", {}),
    ("char 8", {"korean_ngram": 8}),
    ("char 5", {"korean_ngram": 5}),
    ("morpheme 5", {"korean_units": "morpheme"}),
    ("morpheme 8", {"korean_units": "morpheme", "korean_ngram": 8}),
    ("eojeol 5 (as spaced)", {"korean_units": "eojeol"}),
]
VERIFY = [("exact (default)", "exact"), ("signature estimate", "signature"), ("none", "none")]
THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9]


def clusters(spark, workdir: str) -> dict[str, str]:
    """record id -> duplicate group (near cluster of the document's exact keeper)."""
    raw = {r["doc_id"]: r["record_key"].removeprefix("id:") for r in
           tables.read(spark, workdir, tables.RAW_DOCUMENTS).select("doc_id", "record_key").collect()}  # fmt: skip
    near = {r["doc_id"]: r["cluster_id"] for r in tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).collect()}
    keeper = {r["doc_id"]: r["keeper_doc_id"] for r in tables.read(spark, workdir, tables.EXACT_DUPLICATES).collect()}
    return {raw[d]: near[k] for d, k in keeper.items()}


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-lang", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(here / "out" / "dedup_quality"))
    args = parser.parse_args()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    (out / "in").mkdir(parents=True)
    docs, pairs = make_labelled_set(args.per_lang, args.seed)
    lines = [json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) for d in docs]
    (out / "in" / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spark = build_session(SparkConfig())
    workdir = str(out / "wd")
    src = SourceConfig(name="labelled", path=str(out / "in"), fields=FieldMapping(id="id"))
    ingest.run(spark, workdir, [src], IngestConfig())
    normalize.run(spark, workdir)
    results: dict[str, list] = {"schemes": [], "verify": [], "thresholds": []}

    def run(label: str, group: str, threshold: float, **mh) -> None:
        cfg = DedupConfig(minhash=MinHashConfig(threshold=threshold, **mh))
        started = time.time()
        exact.run(spark, workdir, cfg)
        stats = minhash.run(spark, workdir, cfg)
        got = clusters(spark, workdir)
        res = score(pairs, got, threshold)
        row = {"label": label, "threshold": threshold, "seconds": round(time.time() - started, 1),
               "bands": stats.extra["bands"], "rows": stats.extra["rows"],
               "candidate_pairs": stats.extra["candidate_pairs"], "score": res,
               "by_kind": score_by_kind(pairs, got, threshold)}  # fmt: skip
        results[group].append(row)
        f1 = f"F1 ko {res['ko']['f1']:.3f} en {res['en']['f1']:.3f}"
        pr = f"(P {res['all']['precision']:.3f} R {res['all']['recall']:.3f})"
        print(f"{group:10} {label:22} t={threshold:.1f} {f1} {pr} {row['seconds']} s", flush=True)

    for label, mh in SCHEMES:
        run(label, "schemes", 0.8, **mh)
    for label, verify in VERIFY:
        run(label, "verify", 0.8, verify=verify)
    for t in THRESHOLDS:
        run("default", "thresholds", t)
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, lang in zip(axes, ("ko", "en"), strict=True):
        ts = [r["threshold"] for r in results["thresholds"]]
        for key, style in (("f1", "-o"), ("precision", "--s"), ("recall", ":^")):
            ax.plot(ts, [r["score"][lang][key] for r in results["thresholds"]], style, label=key)
        ax.set_title(f"{lang}: pipeline vs true Jaccard label")
        ax.set_xlabel("Jaccard threshold")
        ax.set_ylim(0.5, 1.01)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "f1_by_threshold.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    labels = [r["label"] for r in results["schemes"]]
    ax.barh(labels[::-1], [r["score"]["ko"]["f1"] for r in results["schemes"]][::-1], color="#4c72b0")
    for i, r in enumerate(results["schemes"][::-1]):
        ax.text(r["score"]["ko"]["f1"], i, f" {r['score']['ko']['f1']:.3f}", va="center")
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("F1 on Korean pairs at 0.8")
    ax.set_title("Hangul shingling")
    fig.tight_layout()
    fig.savefig(out / "schemes.png", dpi=110)
    plt.close(fig)

    def table(rows: list[dict]) -> str:
        head = (
            "<tr><th>setting</th><th>t</th><th>bands×rows</th><th>candidates</th>"
            + "".join(f"<th>{lang} P</th><th>{lang} R</th><th>{lang} F1</th>" for lang in ("ko", "en"))
            + "</tr>"
        )
        body = "".join(
            f"<tr><td>{r['label']}</td><td>{r['threshold']}</td><td>{r['bands']}×{r['rows']}</td>"
            f"<td>{r['candidate_pairs']}</td>"
            + "".join(
                f"<td>{r['score'][lang]['precision']:.3f}</td><td>{r['score'][lang]['recall']:.3f}</td>"
                f"<td><b>{r['score'][lang]['f1']:.3f}</b></td>"
                for lang in ("ko", "en")
            )  # fmt: skip
            + "</tr>"
            for r in rows
        )
        return f"<table>{head}{body}</table>"

    n_pos = sum(p.true_jaccard >= 0.8 for p in pairs)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>moru near-duplicate quality</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}td:first-child{{text-align:left}}</style></head><body>
<h1>Near-duplicate detection quality</h1>
<p>{len(docs)} documents, {len(pairs)} labelled pairs ({n_pos} with true Jaccard ≥ 0.8), seed {args.seed};
truth = word 5-gram Jaccard of the un-re-spaced text (moru/dedup_eval.py).</p>
<h2>Over thresholds (defaults)</h2><img src="f1_by_threshold.png">{table(results["thresholds"])}
<h2>Hangul shingling at 0.8</h2><img src="schemes.png">{table(results["schemes"])}
<h2>Candidate verification at 0.8</h2>{table(results["verify"])}</body></html>"""
    (out / "index.html").write_text(page, encoding="utf-8")
    print(f"report: {out / 'index.html'}")
    best = results["schemes"][0]["score"]
    print(f"headline: F1 at 0.8 with the defaults: ko {best['ko']['f1']:.3f}, en {best['en']['f1']:.3f} "
          f"({len(pairs)} labelled pairs)")  # fmt: skip


if __name__ == "__main__":
    main()
