"""Exact and MinHash dedup on real public data in ../shared/data, and what it finds.

    .venv/bin/python benchmarks/real_dedup.py [--data ../shared/data] [--out benchmarks/out/real_dedup]

Not a test (tests never read ../shared/data). Three sources, all through the real jobs (ingest →
normalize → exact dedup → MinHash dedup with the defaults: threshold 0.8, word 5-grams, Hangul
character 12-grams):

- ``neardup/clough_stevenson_plagiarism``: 95 short English answers written for 5 tasks under 4
  instructions (``cut``: copy-paste from the task's Wikipedia source, ``light``/``heavy``
  revision of it, ``non``: written without it) plus the 5 sources. Printed: per category, how many
  answers share a duplicate group with their source, and their true word 5-gram Jaccard to it.
  Files are text; the ones that are not UTF-8 are read as cp1252 (staging, outside moru).
- ``text/nsmc_reviews.jsonl.gz``: 79k Naver movie reviews (short, informal Korean): exact and near
  duplicate rates, and examples of near-duplicate groups to look at.
- ``text/korean_chatbot.csv``: 11.8k Korean chatbot questions (many near-identical): the same.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

from demo.dedup_eval import true_jaccard
from spark_jobs import ingest, normalize, tables
from spark_jobs.dedup import DedupConfig, exact, minhash
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.session import SparkConfig, build_session

_WORDS = re.compile(r"\S+")


def _stage(data: Path, staged: Path) -> dict[str, str]:
    """JSONL copies of the three sources; returns clough file id -> category."""
    clough = data / "neardup" / "clough_stevenson_plagiarism"
    category = {}
    with open(clough / "file_information.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            category[row["File"].removesuffix(".txt")] = row["Category"]
    rows = []
    for path in sorted(clough.glob("*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        rows.append({"id": path.stem, "text": text})
        if path.stem.startswith("orig_"):
            category[path.stem] = "source"
    (staged / "clough").mkdir(parents=True)
    (staged / "clough" / "docs.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (staged / "chatbot").mkdir(parents=True)
    with open(data / "text" / "korean_chatbot.csv", encoding="utf-8") as f:
        qs = [{"id": i, "text": row["Q"]} for i, row in enumerate(csv.DictReader(f))]
    (staged / "chatbot" / "q.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in qs), encoding="utf-8"
    )
    return category


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(here.parent.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(here / "out" / "real_dedup"))
    args = parser.parse_args()
    data, out = Path(args.data).resolve(), Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    category = _stage(data, out / "staged")
    sources = [
        SourceConfig(name="clough", path=str(out / "staged" / "clough"), fields=FieldMapping(id="id")),
        SourceConfig(
            name="nsmc", path=str(data / "text" / "nsmc_reviews.jsonl.gz"), fields=FieldMapping(id="review_id")
        ),
        SourceConfig(name="chatbot", path=str(out / "staged" / "chatbot"), fields=FieldMapping(id="id")),
    ]
    spark = build_session(SparkConfig())
    workdir = str(out / "workdir")
    ing = ingest.run(spark, workdir, sources, IngestConfig())
    normalize.run(spark, workdir)
    cfg = DedupConfig()
    ex = exact.run(spark, workdir, cfg)
    mh = minhash.run(spark, workdir, cfg)
    print(f"ingest: {ing.rows_in:,} read, {ing.rows_out:,} accepted, {ing.rows_rejected:,} quarantined {ing.by_reason}")
    print(f"exact: {ex.rows_rejected:,} duplicates; minhash: {mh.rows_rejected:,} near duplicates, {mh.extra}")

    def rows(table):
        return tables.read(spark, workdir, table).collect()

    raw = {r["doc_id"]: (r["source"], r["record_key"].removeprefix("id:")) for r in rows(tables.RAW_DOCUMENTS)}
    text = {r["doc_id"]: r["text"] for r in rows(tables.DOCUMENTS)}
    keeper = {r["doc_id"]: r["keeper_doc_id"] for r in rows(tables.EXACT_DUPLICATES)}
    near = {r["doc_id"]: r["cluster_id"] for r in rows(tables.NEAR_DUPLICATE_CLUSTERS)}
    group = {d: near.get(k, k) for d, k in keeper.items()}
    report: dict = {"ingest": ing.as_dict(), "exact": ex.as_dict(), "minhash": mh.as_dict()}

    # clough: answers vs their task's source
    by_key = {raw[d][1]: d for d in raw if raw[d][0] == "clough"}
    answers = defaultdict(list)
    for key, cat in category.items():
        if cat == "source" or key not in by_key:
            continue
        src = by_key[f"orig_task{key[-1]}"]
        d = by_key[key]
        j = true_jaccard(_WORDS.findall(text[d]), _WORDS.findall(text[src]))
        answers[cat].append((group[d] == group[src], j))
    print("\nclough_stevenson: answers grouped with their task's source at 0.8")
    print(f"{'category':9} {'answers':>7} {'grouped':>7} {'Jaccard to source: min / median / max':>40}")
    report["clough"] = {}
    for cat in ("cut", "light", "heavy", "non"):
        got = answers[cat]
        js = sorted(j for _, j in got)
        grouped = sum(g for g, _ in got)
        print(f"{cat:9} {len(got):7} {grouped:7} {js[0]:14.3f} / {js[len(js) // 2]:.3f} / {js[-1]:.3f}")
        report["clough"][cat] = {"answers": len(got), "grouped": grouped, "jaccard": js}
        for g, j in got:
            if (j >= 0.8) != g:
                print(f"  {'missed' if j >= 0.8 else 'extra'}: Jaccard {j:.3f}")

    for name in ("nsmc", "chatbot"):
        docs = [d for d in raw if raw[d][0] == name]
        n_exact = sum(keeper[d] != d for d in docs)
        members = defaultdict(list)
        for d in docs:
            if keeper[d] == d:
                members[group[d]].append(d)
        clusters = [m for m in members.values() if len(m) > 1]
        sizes = Counter(len(m) for m in clusters)
        print(f"\n{name}: {len(docs):,} documents; exact duplicates {n_exact:,} ({n_exact / len(docs):.1%}); "
              f"near duplicates of exact keepers {sum(len(m) - 1 for m in clusters):,} in {len(clusters):,} "
              f"clusters (sizes {dict(sorted(sizes.items())[:8])})")  # fmt: skip
        examples = sorted(clusters, key=len, reverse=True)[:3] + clusters[:: max(1, len(clusters) // 4)][:4]
        for m in examples:
            print("  - " + " | ".join(text[d].replace("\n", " ")[:60] for d in sorted(m)[:4]))
        report[name] = {"docs": len(docs), "exact": n_exact, "near": sum(len(m) - 1 for m in clusters),
                        "clusters": len(clusters), "sizes": dict(sizes)}  # fmt: skip
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    spark.stop()


if __name__ == "__main__":
    main()
