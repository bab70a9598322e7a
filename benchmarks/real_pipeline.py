"""Every stage on real public data (``../shared/data``): ingest → normalize → dedup → signals → decontaminate →
select → gate → tokenizer → emit, through ``moru run`` and ``moru emit`` on a config this script writes.

    .venv/bin/python benchmarks/real_pipeline.py [--data ../shared/data] [--workdir benchmarks/out/real_pipeline]

Not a test (tests never read ../shared/data). Sources, all written by others (licences in ../shared/data/README):
``text/korean_news`` (news headlines + leads), ``text/nsmc_reviews`` (movie reviews), ``text/english_cc_dolma``
(Common Crawl pages), ``text/english_dclm_labeled`` (web pages) as they are; WikiText-2 (valid + test) cut into
its articles (`` = Title = `` lines), so that some documents are long enough for stage 2. Decontaminated against
GSM8K, HumanEval and KorQuAD 1.0 (dev). The tokenizer has 32,000 tokens (the text is too small for 102,400).

The emitted stage-1 blend and the tokenizer are what ``benchmarks/train_throughput.py`` trains on (GPU).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def wikitext_articles(path: Path) -> list[dict]:
    """WikiText's raw file as one document per article: a new article starts at a `` = Title = `` line (one
    equals sign each side; sections have two or more)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    docs, title, body = [], None, []
    heading = re.compile(r"^ = ([^=].*[^=]) = $")
    for line in lines:
        m = heading.match(line)
        if m:
            if title is not None and body:
                docs.append({"id": f"wt-{len(docs)}", "title": title, "text": "\n".join(body).strip()})
            title, body = m.group(1).strip(), []
        elif title is not None and line.strip():
            body.append(line.strip())
    if title is not None and body:
        docs.append({"id": f"wt-{len(docs)}", "title": title, "text": "\n".join(body).strip()})
    return docs


def write_config(data: Path, workdir: Path) -> Path:
    staged = workdir / "input"
    staged.mkdir(parents=True, exist_ok=True)
    wiki = wikitext_articles(data / "text" / "wikitext2_valid_test.txt.gz")
    (staged / "wikitext.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in wiki))
    text = data / "text"
    bench = data / "bench"
    cfg = {
        "workdir": str(workdir),
        "sources": [
            {"name": "korean_news", "path": str(text / "korean_news"), "format": "jsonl"},
            {"name": "nsmc", "path": str(text / "nsmc_reviews.jsonl.gz"), "format": "jsonl",
             "fields": {"id": "review_id", "text": "text"}},
            {"name": "wikitext", "path": str(staged / "wikitext.jsonl"), "format": "jsonl",
             "fields": {"id": "id", "text": "text", "metadata": {"title": "title"}}},
            {"name": "dolma_cc", "path": str(text / "english_cc_dolma" / "cc_en_head-*.jsonl"), "format": "jsonl",
             "fields": {"id": "id", "text": "text"}},
            {"name": "dclm", "path": str(text / "english_dclm_labeled" / "*data.jsonl*"), "format": "jsonl"},
        ],
        "decontaminate": {"benchmarks": [
            {"name": "gsm8k", "path": str(bench / "gsm8k_test.jsonl"), "preset": "gsm8k"},
            {"name": "humaneval", "path": str(bench / "humaneval.jsonl.gz"), "preset": "humaneval"},
            {"name": "korquad", "path": str(bench / "korquad_v1.0_dev.json"), "preset": "korquad", "split": "dev"},
        ]},
        "tokenizer": {
            "vocab_size": 32_000,
            "sample": {"bytes": 200_000_000, "holdout_fraction": 0.02},
            "steer": {"rounds": 2, "sample_bytes": 200_000_000},
        },
        "emit": {"partitions": 4, "stage2": {"min_tokens": 2048, "max_tokens": 32_768, "replay_ratio": 0.3}},
    }  # fmt: skip
    path = workdir / "moru.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "out" / "real_pipeline")
    args = ap.parse_args()
    cfg = write_config(args.data.resolve(), args.workdir.resolve())
    print(f"config: {cfg}", flush=True)
    started = time.time()
    moru = [sys.executable, "-m", "moru.cli"]
    rc = subprocess.call([*moru, "run", "--config", str(cfg)], cwd=REPO)
    if rc:
        return rc
    if not (args.workdir / "emit" / "stage1_blend.json").exists():  # until the pipeline's emit stage runs it
        rc = subprocess.call([sys.executable, "-m", "spark_jobs.emit", "--config", str(cfg)], cwd=REPO)
    print(f"real pipeline finished in {time.time() - started:.0f} s: {args.workdir}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
