"""Emit on real text (``../shared/data``): WikiText-2 articles, KorQuAD 1.0 (dev) Wikipedia paragraphs, Korean news,
NSMC movie reviews and English web pages, as a gated Delta ``training_corpus``, through ``spark_jobs.emit`` with a
32,000-token tokenizer trained on the same text; then every shard is read back with megatron-core's
``IndexedDataset`` against the Delta rows and every document is decoded back and compared with its text.

    .venv/bin/python benchmarks/real_emit.py [--data ../shared/data] [--out benchmarks/out/real_emit]

Not a test (tests never read ../shared/data). The documents go straight into ``training_corpus`` (no quality
filtering or decontamination: KorQuAD is a benchmark, here it is only Korean Wikipedia text); exact duplicates
are dropped so the gate's uniqueness check passes. Prints a table per source (documents, characters, tokens,
characters per token, the longest document, stage-2 documents and pieces) and the checks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import importlib.util
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _wikitext_articles(path: Path) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_real_pipeline", ROOT / "benchmarks" / "real_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [d["text"] for d in module.wikitext_articles(path)]


def _jsonl(paths, field: str = "text") -> list[str]:
    out = []
    for p in paths:
        opener = gzip.open if str(p).endswith(".gz") else open
        with opener(p, "rb") as fh:
            out += [orjson.loads(line)[field] for line in fh if line.strip()]
    return out


def read_sources(data: Path) -> dict[str, list[str]]:
    text = data / "text"
    korquad = json.loads((data / "bench" / "korquad_v1.0_dev.json").read_text(encoding="utf-8"))
    return {
        "wikitext": _wikitext_articles(text / "wikitext2_valid_test.txt.gz"),
        "korquad": list(dict.fromkeys(p["context"] for a in korquad["data"] for p in a["paragraphs"])),
        "korean_news": _jsonl(sorted((text / "korean_news").glob("*.jsonl*"))),
        "nsmc": _jsonl([text / "nsmc_reviews.jsonl.gz"]),
        "dclm": _jsonl(sorted((text / "english_dclm_labeled").glob("*data.jsonl*"))),
        "dolma_cc": _jsonl(sorted((text / "english_cc_dolma").glob("cc_en_head-*.jsonl*"))),
    }


def lang_of(text: str) -> str | None:
    hangul = sum("가" <= c <= "힣" for c in text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    letters = hangul + latin
    if not letters:
        return None
    if hangul / letters > 0.8:
        return "ko"
    if latin / letters > 0.95:
        return "en"
    return "ko+en"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "real_emit")
    ap.add_argument("--vocab", type=int, default=32_000)
    args = ap.parse_args(argv)

    import numpy as np
    from tokenizers import Tokenizer

    from quality.gates.config import GatesConfig
    from spark_jobs import gate, tables
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig
    from spark_jobs.emit.shards import read_dataset
    from spark_jobs.session import SparkConfig, build_session
    from tokenizer import bbpe, hf
    from tokenizer.config import TokenizerConfig
    from tokenizer.mecab import has_hangul, mark_boundaries

    wd = args.out.resolve()
    sources = read_sources(args.data.resolve())
    seen, rows = set(), []
    for source, texts in sources.items():
        for i, text in enumerate(texts):
            text = text.strip()
            h = hashlib.sha1(text.encode()).hexdigest()
            lang = lang_of(text)
            if not text or lang is None or h in seen:
                continue
            seen.add(h)
            rows.append({"doc_id": hashlib.sha1(f"{source}/{i}".encode()).hexdigest()[:16], "source": source,
                         "lang": lang, "text": text, "hash": h})  # fmt: skip
    print(f"{len(rows):,} documents from {len(sources)} sources, {sum(len(r['text']) for r in rows):,} characters")

    tok_dir = wd / "tokenizer" / "model"
    if not (tok_dir / "tokenizer.json").is_file():
        t0 = time.time()
        cfg = TokenizerConfig(vocab_size=args.vocab)
        texts = [mark_boundaries(r["text"]) if has_hangul(r["text"]) else r["text"] for r in rows]
        hf.save(bbpe.train(texts, cfg, length=len(texts)), cfg, tok_dir, {"benchmark": "real_emit"})
        print(f"tokenizer: {args.vocab:,} tokens trained in {time.time() - t0:.0f} s")

    spark = build_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="4g"))
    # NSMC's 79k short reviews make this corpus 98 % Korean documents: the gate's language bounds say so
    gates = GatesConfig(training_corpus={"language_share": {"ko": {"min": 0.05, "max": 0.99},
                                                            "en": {"min": 0.005, "max": 0.95}}})  # fmt: skip
    latest = gate.read_latest(str(wd))
    if latest is None or not latest.passed or not tables.exists(spark, str(wd), tables.TRAINING_CORPUS):
        now = dt.datetime(2026, 1, 1)
        docs = [{"doc_id": r["doc_id"], "source": r["source"], "url": None, "text": r["text"], "lang": r["lang"],
                 "lid_label": r["lang"], "lid_score": 1.0, "hangul_ratio": 0.0, "latin_ratio": 0.0, "han_ratio": 0.0,
                 "n_chars": len(r["text"]), "n_bytes": len(r["text"].encode()), "n_words": len(r["text"].split()),
                 "n_lines": r["text"].count("\n") + 1, "metadata": {}, "raw_sha1": r["hash"],
                 "normalize_fingerprint": "real_emit", "ingested_at": now} for r in rows]  # fmt: skip
        corpus = [{"doc_id": d["doc_id"], "source": d["source"], "lang": d["lang"], "url": None, "text": d["text"],
                   "n_chars": d["n_chars"], "n_bytes": d["n_bytes"], "n_words": d["n_words"],
                   "content_hash": d["raw_sha1"], "quality_score": None, "contaminated": False,
                   "rules_fingerprint": "real_emit"} for d in docs]  # fmt: skip
        tables.overwrite(spark, spark.createDataFrame(docs, tables.DOCUMENTS.schema), str(wd), tables.DOCUMENTS)
        tables.overwrite(spark, spark.createDataFrame(corpus, tables.TRAINING_CORPUS.schema), str(wd),
                         tables.TRAINING_CORPUS)  # fmt: skip
        result = gate.run(spark, str(wd), gates)
        if not result.passed:
            raise SystemExit("gate failed:\n" + "\n".join(result.failure_messages()))

    cfg = EmitConfig(partitions=4, stage2={"min_tokens": 2048, "max_tokens": 8192, "replay_ratio": 0.3})
    t0 = time.time()
    stats = job.run(spark, str(wd), cfg, gates, force=True)
    seconds = time.time() - t0
    m = job.read_manifest(str(wd / "emit"))
    print(f"emit: {seconds:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in m['seconds'].items())}); "
          f"{stats.rows_out:,} documents, {len(m['shards'])} shards")  # fmt: skip

    # read back: every shard against Delta, every document decoded against its text
    rows_delta = [r.asDict() for r in tables.read(spark, str(wd), tables.EMITTED_DOCUMENTS).collect()]
    text_of = {r["doc_id"]: (r["source"], r["lang"], r["text"]) for r in rows}
    tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    eod = m["tokenizer"]["eod_id"]
    open_ds = {s["path"]: read_dataset(str(Path(m["run_dir"]) / s["path"])) for s in m["shards"]}
    whole = sum((len(open_ds[s["path"]]), int(open_ds[s["path"]].sequence_lengths.sum())) ==
                (s["documents"], s["tokens"]) for s in m["shards"])  # fmt: skip
    by_source: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    decoded = mismatched = 0
    pieces: dict[str, list] = defaultdict(list)
    for r in rows_delta:
        seq = np.array(open_ds[r["dataset"]][r["seq_index"]])
        assert len(seq) == r["n_tokens"] and seq[-1] == eod
        src, lang, text = text_of[r["doc_id"]]
        if r["stage"] == "stage1":
            decoded += 1
            mismatched += tok.decode(seq[:-1].tolist(), skip_special_tokens=False) != text
            b = by_source[(src, lang)]
            b["documents"] += 1
            b["chars"] += len(text)
            b["tokens"] += r["n_tokens"]
            b["longest"] = max(b["longest"], r["n_tokens"])
        elif r["role"] == "long":
            pieces[r["doc_id"]].append(r["n_tokens"])
            by_source[(src, lang)]["stage2_pieces"] += 1
    for doc_id in pieces:
        by_source[text_of[doc_id][:2]]["stage2_docs"] += 1
    s2 = cfg.stage2
    in_bounds = all(s2.min_tokens <= n <= s2.max_tokens for ps in pieces.values() for n in ps)
    print("\n| source | lang | documents | characters | tokens | chars/token | longest (tokens) | stage-2 documents "
          "(pieces) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")  # fmt: skip
    for (src, lang), b in sorted(by_source.items()):
        print(f"| {src} | {lang} | {b['documents']:,} | {b['chars']:,} | {b['tokens']:,} | "
              f"{b['chars'] / (b['tokens'] - b['documents']):.2f} | {b['longest']:,} | "
              f"{b['stage2_docs']:,} ({b['stage2_pieces']:,}) |")  # fmt: skip
    total_tokens = sum(b["tokens"] for b in by_source.values())
    print(
        f"\nstage 1: {total_tokens:,} tokens; {total_tokens / seconds:,.0f} tokens/s for the whole job "
        f"({m['tokenizer']['vocab_size']:,}-token tokenizer, {m['tokenizer']['dtype']})"
    )
    for split, r in sorted(m["replay"].items()):
        print(
            f"stage 2 {split}: {r['long_tokens']:,} long tokens, {r['replay_tokens']:,} replayed "
            f"({100 * r['replay_token_share']:.1f}% of the split's stage-2 tokens)"
        )
    print(f"checks: {whole} of {len(m['shards'])} shards read back whole; {decoded - mismatched:,} of {decoded:,} "
          f"documents decode back to their text; stage-2 pieces within {s2.min_tokens}-{s2.max_tokens} tokens: "
          f"{in_bounds}")  # fmt: skip
    (args.out / "summary.json").write_text(
        json.dumps(
            {"seconds": seconds, "manifest_seconds": m["seconds"], "mismatched": mismatched, "decoded": decoded},
            indent=2,
        )
    )
    spark.stop()
    return 0 if whole == len(m["shards"]) and not mismatched and in_bounds else 1


if __name__ == "__main__":
    sys.exit(main())
