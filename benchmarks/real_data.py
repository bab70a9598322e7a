"""Run ingest + normalize (language id) on the real public data in ../shared/data and report
language-id results per source against the language each source is known to be in.

    .venv/bin/python benchmarks/real_data.py [--data ../shared/data] [--workdir benchmarks/out/real_data]

Not a test (tests never read ../shared/data): a check of what the pipeline does on text nobody
here wrote. Line-aligned parallel text (.ko / .en files) is turned into JSONL first, one record a
line; everything else is read as it is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/tokenizer.py shadows `tokenizer`

from pyspark.sql import functions as F  # noqa: E402

from core.job import JobContext  # noqa: E402
from core.job import select as select_jobs  # noqa: E402
from spark_jobs import tables  # noqa: E402
from spark_jobs.config import JobsConfig  # noqa: E402
from spark_jobs.jobs import jobs  # noqa: E402
from spark_jobs.session import build_session, config_for  # noqa: E402

# source name -> (path under data/, field mapping, language the text is known to be in)
SOURCES = {
    "korean_news": ("text/korean_news", {"text": "text"}, "ko"),
    "nsmc_reviews": ("text/nsmc_reviews.jsonl.gz", {"text": "text", "id": "review_id"}, "ko"),
    "en_cc_dolma": ("text/english_cc_dolma/cc_en_head-*.jsonl", {"text": "text", "id": "id"}, "en"),
    "en_dclm": ("text/english_dclm_labeled/agreement_data.jsonl", {"text": "text"}, "en"),
    "parallel_ko": ("parallel/ko", {"text": "text"}, "ko"),
    "parallel_en": ("parallel/en", {"text": "text"}, "en"),
    "oscar_ja": ("langid/oscar-2201_ja_00000-1.jsonl.gz", {"text": "text"}, "other"),
    "thai": ("langid/thai_text.jsonl", {"text": "text"}, "other"),
    "warc": ("warc", {}, None),
}


def main() -> None:
    here = HERE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(here.parent.parent / "shared" / "data"))
    parser.add_argument("--workdir", default=str(here / "out" / "real_data"))
    args = parser.parse_args()
    data, workdir = Path(args.data).resolve(), Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    staged = workdir / "staged"
    for lang in ("ko", "en"):
        out = staged / "parallel" / lang
        out.mkdir(parents=True)
        with (out / "lines.jsonl").open("w", encoding="utf-8") as fh:
            for f in sorted((data / "langid" / "ko_en_parallel_news").glob(f"*.{lang}")):
                for i, line in enumerate(f.read_text(encoding="utf-8").splitlines()):
                    if line.strip():
                        fh.write(json.dumps({"text": line, "line": f"{f.name}:{i}"}, ensure_ascii=False) + "\n")
    sources = []
    for name, (rel, fields, _) in SOURCES.items():
        base = staged if rel.startswith("parallel/") else data
        src = {"name": name, "path": str(base / rel)}
        if fields:
            src["fields"] = fields
            src["format"] = "jsonl"
        else:
            src["format"] = "warc"
        sources.append(src)
    cfg = JobsConfig.model_validate({"workdir": str(workdir), "sources": sources, "spark": {"master": "local[2]"}})
    todo = select_jobs(jobs(), ("ingest", "normalize"))
    spark = build_session(config_for(cfg.spark, any(j.loads_tokenizer for j in todo)))
    ctx = JobContext(cfg=cfg, spark_factory=lambda: spark, progress=lambda m: print(m, flush=True))
    started = time.time()
    for job in todo:
        stats = job(ctx)
        print(f"{job.name}: {stats.rows_in:,} in, {stats.rows_out:,} out, {stats.rows_rejected:,} rejected "
              f"{dict(stats.by_reason)} ({stats.seconds:.0f} s)", flush=True)  # fmt: skip
    docs = tables.read(spark, str(workdir), tables.DOCUMENTS)
    rows = docs.groupBy("source", "lang").agg(F.count("*").alias("n")).collect()
    by_source: dict[str, dict[str, int]] = {}
    for r in rows:
        by_source.setdefault(r["source"], {})[r["lang"]] = r["n"]
    print(f"\nlanguage id on real data ({time.time() - started:.0f} s)")
    print(f"{'source':<14} {'expected':>8} {'docs':>7} {'accuracy':>9}  labels")
    for name, (_, _, expected) in SOURCES.items():
        counts = by_source.get(name, {})
        total = sum(counts.values())
        acc = f"{counts.get(expected, 0) / total:.4f}" if expected and total else "-"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"{name:<14} {expected or '-':>8} {total:>7} {acc:>9}  {labels}")
    # a few misses per source, to see what they are
    for name, (_, _, expected) in SOURCES.items():
        if not expected:
            continue
        misses = (
            docs.filter((F.col("source") == name) & (F.col("lang") != expected))
            .select("lang", "lid_label", "lid_score", "hangul_ratio", F.substring("text", 1, 90).alias("text"))
            .limit(3)
            .collect()
        )
        for m in misses:
            print(
                f"  miss {name}: {m['lang']} (lid {m['lid_label']} {m['lid_score']:.2f}, "
                f"hangul {m['hangul_ratio']:.2f}) "
                f"{m['text']!r}"
            )


if __name__ == "__main__":
    main()
