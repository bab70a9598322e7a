"""Decontamination on real public data in ../shared/data: real corpora against real test sets.

    .venv/bin/python benchmarks/real_decontam.py [--data ../shared/data] [--mode exhaustive]

Not a test (tests never read ../shared/data). Documents, through the real jobs (ingest → normalize →
benchmark_examples / benchmark_substrings → contamination): ``text/korean_news``, NSMC movie
reviews, Korean web comments, WikiText-2 valid+test articles, DCLM-labelled and Common Crawl
(dolma) English web pages, and, as a positive control, the KorQuAD dev paragraphs (Korean
Wikipedia) — KorQuAD is also one of the test sets, so every paragraph must be flagged. Test sets:
every real one under ``bench/`` that moru has a preset for. Printed: per test set its examples,
how many are indexed, and per source the documents flagged, with a few matched substrings each.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/quality.py shadows `quality`

from pyspark.sql import functions as F  # noqa: E402

from spark_jobs import ingest, normalize, summaries, tables  # noqa: E402
from spark_jobs.decontaminate.benchmarks import BenchmarkConfig  # noqa: E402
from spark_jobs.decontaminate.contamination import DecontaminateConfig, run_stage  # noqa: E402
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig  # noqa: E402
from spark_jobs.session import SparkConfig, build_session  # noqa: E402

SETS = (
    ("gsm8k", "gsm8k_test.jsonl", "gsm8k"),
    ("math", "math_test_5000.jsonl.gz", "math"),
    ("humaneval", "humaneval.jsonl.gz", "humaneval"),
    ("mbpp", "mbpp.jsonl", "mbpp"),
    ("mmlu", "mmlu/test", "mmlu"),
    ("kmmlu", "kmmlu_test", "kmmlu"),
    ("arc_challenge", "arc_challenge_test.jsonl.gz", "arc"),
    ("bbh", "bbh", "bbh"),
    ("ifeval", "ifeval_input_data.jsonl", "ifeval"),
    ("mt_bench", "mt_bench", "mt_bench"),
    ("komt_bench", "komt_bench_question_ko.jsonl", "komt_bench"),
    ("logickor", "logickor_questions.jsonl", "logickor"),
    ("korquad", "korquad_v1.0_dev.json", "korquad"),
    ("click", "click", "click"),
    ("haerae", "haerae", "haerae"),
)


def _jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _stage(data: Path, staged: Path) -> None:
    """JSONL copies of the sources that are not JSONL documents already."""
    squad = json.loads((data / "bench" / "korquad_v1.0_dev.json").read_text(encoding="utf-8"))
    ctx = list(dict.fromkeys(p["context"] for a in squad["data"] for p in a["paragraphs"]))
    _jsonl(staged / "korquad_paragraphs" / "p.jsonl", ({"id": i, "text": t} for i, t in enumerate(ctx)))
    with gzip.open(data / "text" / "korean_comments_unlabeled.txt.gz", "rt", encoding="utf-8") as fh:
        comments = [line.rstrip("\n") for line in fh if line.strip()]
    _jsonl(staged / "comments" / "c.jsonl", ({"id": i, "text": t} for i, t in enumerate(comments)))
    with gzip.open(data / "text" / "wikitext2_valid_test.txt.gz", "rt", encoding="utf-8") as fh:
        wiki = fh.read()
    articles = [a.strip() for a in re.split(r"\n (?== [^=])", wiki) if len(a.strip()) > 200]
    _jsonl(staged / "wikitext" / "w.jsonl", ({"id": i, "text": t} for i, t in enumerate(articles)))
    rows = []
    for f in sorted((data / "text" / "english_dclm_labeled").glob("*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            rows += [
                {"id": f"{f.name.split('.')[0]}-{i}", "text": json.loads(line)["text"]} for i, line in enumerate(fh)
            ]
    _jsonl(staged / "dclm" / "d.jsonl", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "out" / "real_decontam"))
    parser.add_argument("--mode", default="exhaustive", choices=["exhaustive", "sampled"])
    args = parser.parse_args()
    data, out = Path(args.data).resolve(), Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    _stage(data, out / "staged")
    st = out / "staged"
    sources = [
        SourceConfig(name="korean_news", path=str(data / "text" / "korean_news")),
        SourceConfig(name="nsmc", path=str(data / "text" / "nsmc_reviews.jsonl.gz"),
                     fields=FieldMapping(id="review_id")),
        SourceConfig(name="comments", path=str(st / "comments"), fields=FieldMapping(id="id")),
        SourceConfig(name="wikitext", path=str(st / "wikitext"), fields=FieldMapping(id="id")),
        SourceConfig(name="dclm", path=str(st / "dclm"), fields=FieldMapping(id="id")),
        SourceConfig(name="cc_dolma", path=str(data / "text" / "english_cc_dolma" / "cc_en_head-*.jsonl")),
        SourceConfig(name="korquad_paragraphs", path=str(st / "korquad_paragraphs"), fields=FieldMapping(id="id")),
    ]  # fmt: skip
    bench = data / "bench"
    cfg = DecontaminateConfig(
        mode=args.mode,
        benchmarks=[BenchmarkConfig(name=n, path=str(bench / rel), preset=p) for n, rel, p in SETS
                    if (bench / rel).exists()],
    )  # fmt: skip
    workdir = str(out / "work")
    spark = build_session(SparkConfig())
    started = time.time()
    ingest.run(spark, workdir, sources, IngestConfig(max_text_bytes=16 << 20))
    normalize.run(spark, workdir)
    t0 = time.time()
    stats = run_stage(spark, workdir, cfg)
    print(f"ingest + normalize {t0 - started:.0f} s; decontaminate ({args.mode}) {time.time() - t0:.0f} s: "
          f"{stats.rows_rejected:,} of {stats.rows_in:,} documents flagged; {stats.extra}")  # fmt: skip

    docs = tables.read(spark, workdir, tables.DOCUMENTS).select("doc_id", "source")
    per_source = {r["source"]: r["count"] for r in docs.groupBy("source").count().collect()}
    cont = tables.read(spark, workdir, tables.CONTAMINATION).join(docs, "doc_id")
    flagged = defaultdict(dict)
    for r in cont.groupBy("benchmark", "source").agg(F.countDistinct("doc_id").alias("n")).collect():
        flagged[r["benchmark"]][r["source"]] = r["n"]
    print("\ntest set       examples  indexed  found   documents flagged per source")
    for row in summaries.contamination_summary(spark, workdir):
        b = row["benchmark"]
        per = ", ".join(f"{s} {n:,}" for s, n in sorted(flagged[b].items(), key=lambda kv: -kv[1])) or "-"
        print(f"{b:14s} {row['examples']:8,} {row['indexed_examples']:8,} {row['contaminated_examples']:6,}   {per}")
    print("\ndocuments per source: " + ", ".join(f"{s} {n:,}" for s, n in sorted(per_source.items())))
    print("\nexamples of matches (source / test set: matched normalized substring):")
    shown = defaultdict(int)
    for r in cont.orderBy("doc_id").select("source", "benchmark", "example_id", "matched_substring", "match").collect():
        key = (r["source"], r["benchmark"])
        if shown[key] < 3 and r["source"] != "korquad_paragraphs":
            shown[key] += 1
            print(f"  {r['source']} / {r['benchmark']} {r['example_id']} ({r['match']}): {r['matched_substring']}")
    control = flagged["korquad"].get("korquad_paragraphs", 0)
    print(f"\npositive control: {control:,} of {per_source.get('korquad_paragraphs', 0):,} KorQuAD paragraphs "
          "flagged by the korquad test set")  # fmt: skip


if __name__ == "__main__":
    main()
