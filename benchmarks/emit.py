"""Emit benchmark: tokens/second from a Delta ``training_corpus`` to published Megatron shards, moru's Spark job
against a Megatron-LM ``tools/preprocess_data.py``-style baseline and against the raw ``encode_batch`` ceiling of
the same tokenizer, on the same documents, in the same run (2 cores).

    .venv/bin/python benchmarks/emit.py                      # 100,000 documents, 102,400-token tokenizer
    .venv/bin/python benchmarks/emit.py --docs 20000 --repeat 1

Inputs (made once, cached under benchmarks/out/emit/): the demo generator's bilingual documents
(``demo.corpus.generate_jsonl``, exact duplicates removed) as Delta ``documents`` + ``training_corpus``
(sources news/web/forum/wiki by a hash of the id), gated by the real Great Expectations gate; a 102,400-token
tokenizer trained by ``tokenizer.bbpe`` (MeCab-marked Korean) on benchmarks/tokenizer.py's text (demo + lexicon
documents, another seed), saved as moru saves it; the same documents as JSONL ``{"text": …}`` for the baseline,
which is the input preprocess_data.py reads.

Measured, each in the same process and alternating ``--repeat`` times (the headline uses the medians):

- **moru**: ``spark_jobs.emit.job.run(force=True)`` with the default emit settings (8 partitions, stage 2 on:
  long documents + replay, no merge), Spark ``local[2]``: gate check, the Delta version's Parquet files read
  by the 2 Python workers, split, tokenize (``encode_batch_fast`` per Arrow batch), shards via megatron-core's
  ``IndexedDatasetBuilder``, stage 2 from the stage-1 shards, read-back verification of every shard, publish,
  ``emitted_documents`` + ``emit_token_stats`` Delta commits, blends and manifests. A first run starts the
  Python worker daemon (it imports megatron-core once, then forks the workers) and warms the JVM; its time is
  printed as ``cold``.
- **baseline** (preprocess_data.py's loop): ``multiprocessing.Pool(2)`` whose workers ``json.loads`` a line and
  encode it (``tokenizers.Tokenizer.encode``, the fastest per-document HF encode: preprocess_data.py goes through
  megatron's HuggingFace wrapper and transformers, which is slower), ``imap(…, chunksize=32)`` in order, the
  main process appending each document + end-of-document token to one ``IndexedDatasetBuilder``; pool start
  and the index written included, megatron-core imported before timing.
- **ceiling**: ``Tokenizer.encode_batch_fast`` and ``encode_batch`` over the texts already in memory (10,000
  per call, the Rust thread pool on both cores); nothing read, nothing written. The faster one is the ceiling.

tokens/s counts the documents' tokens without the end-of-document token, the same number for all three
(checked). The last lines are the headline ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "emit"
SOURCES = ("news", "web", "forum", "wiki")


def _sibling(name: str):
    """Another benchmark script as a module (benchmarks/ is not a package; tokenizer.py would shadow moru's
    tokenizer package on sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- inputs --------------------------------------------------------------------------------------------------


def _lang(text: str) -> str | None:
    from tokenizer.mecab import has_hangul

    if has_hangul(text):
        return "ko"
    return "en" if sum(c.isascii() for c in text) > 0.9 * len(text) else None


def make_tokenizer(vocab: int, seed: int) -> Path:
    """A ``vocab``-token tokenizer folder trained as ``moru tokenizer train`` trains (MeCab-marked Korean)."""
    out = OUT / f"tokenizer-{vocab}-s{seed}"
    if (out / "tokenizer.json").is_file():
        return out
    from tokenizer import bbpe, hf
    from tokenizer.config import TokenizerConfig
    from tokenizer.mecab import has_hangul

    bench = _sibling("tokenizer")
    make_corpus, mark_parallel, read_corpus = bench.make_corpus, bench.mark_parallel, bench.read_corpus

    paths, _ = make_corpus(OUT / f"tokenizer-text-s{seed}", 60, seed)
    docs = read_corpus(paths)
    ko = [t for lang, t in docs if lang == "ko" or has_hangul(t)]
    en = [t for lang, t in docs if not (lang == "ko" or has_hangul(t))]
    t0 = time.time()
    texts = mark_parallel(ko) + en
    cfg = TokenizerConfig(vocab_size=vocab)
    tok = bbpe.train(texts, cfg, length=len(texts))
    hf.save(tok, cfg, out, {"benchmark": "emit", "seed": seed, "train_seconds": time.time() - t0})
    return out


def make_inputs(spark, docs: int, seed: int) -> tuple[str, Path, int]:
    """(workdir with gated Delta tables, JSONL for the baseline, documents)."""
    import datetime as dt

    import pandas as pd

    from spark_jobs import gate, tables
    from spark_jobs.gate import read_latest

    wd = OUT / f"workdir-{docs}-s{seed}"
    jsonl = OUT / f"corpus-{docs}-s{seed}.jsonl"
    latest = read_latest(str(wd)) if wd.is_dir() else None
    if latest is not None and latest.passed and jsonl.is_file():
        n = sum(1 for _ in open(jsonl, "rb"))
        return str(wd), jsonl, n
    shutil.rmtree(wd, ignore_errors=True)
    from demo.corpus import generate_jsonl

    paths = generate_jsonl(OUT / f"generated-{docs}-s{seed}", n_docs=docs, seed=seed + 100)
    seen, rows = set(), []
    for p in paths:
        for line in open(p, "rb"):
            if not line.strip():
                continue
            rec = orjson.loads(line)
            text, lang = rec["text"], _lang(rec["text"])
            h = hashlib.sha1(text.encode()).hexdigest()
            if lang is None or h in seen:
                continue
            seen.add(h)
            rows.append((rec["id"], text, lang, h))
    now = dt.datetime(2026, 1, 1)
    src = [SOURCES[int(h[:8], 16) % len(SOURCES)] for _, _, _, h in rows]
    docs_pd = pd.DataFrame({
        "doc_id": [r[0] for r in rows], "source": src, "url": None, "text": [r[1] for r in rows],
        "lang": [r[2] for r in rows], "lid_label": [r[2] for r in rows], "lid_score": 0.9,
        "hangul_ratio": [0.5 if r[2] == "ko" else 0.0 for r in rows], "latin_ratio": 0.5, "han_ratio": 0.0,
        "n_chars": [len(r[1]) for r in rows], "n_bytes": [len(r[1].encode()) for r in rows],
        "n_words": [len(r[1].split()) for r in rows], "n_lines": [r[1].count("\n") + 1 for r in rows],
        "metadata": [{} for _ in rows], "raw_sha1": "x", "normalize_fingerprint": "f", "ingested_at": now,
    })  # fmt: skip
    corpus_pd = docs_pd[["doc_id", "source", "lang", "url", "text", "n_chars", "n_bytes", "n_words"]].copy()
    corpus_pd["content_hash"] = [r[3] for r in rows]
    corpus_pd["quality_score"] = 0.8
    corpus_pd["contaminated"] = False
    corpus_pd["rules_fingerprint"] = "bench"
    tables.overwrite(spark, spark.createDataFrame(docs_pd, tables.DOCUMENTS.schema), str(wd), tables.DOCUMENTS)
    tables.overwrite(
        spark, spark.createDataFrame(corpus_pd, tables.TRAINING_CORPUS.schema), str(wd), tables.TRAINING_CORPUS
    )
    result = gate.run(spark, str(wd))
    if not result.passed:
        raise SystemExit("the benchmark corpus failed the gate:\n" + "\n".join(result.failure_messages()))
    with open(jsonl, "wb") as fh:
        for r in rows:
            fh.write(orjson.dumps({"text": r[1]}) + b"\n")
    return str(wd), jsonl, len(rows)


# -- the three contenders ------------------------------------------------------------------------------------


def run_moru(spark, workdir: str, tok_dir: Path) -> dict:
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    cfg = EmitConfig(output=str(OUT / "moru_emit"), keep_runs=1)
    t0 = time.perf_counter()
    stats = job.run(spark, workdir, cfg, tokenizer_dir=str(tok_dir), force=True)
    seconds = time.perf_counter() - t0
    manifest = job.read_manifest(str(OUT / "moru_emit"))
    s1 = [r for r in manifest["token_stats"] if r["stage"] == "stage1"]
    docs = sum(r["documents"] for r in s1)
    return {"seconds": seconds, "documents": docs, "tokens": sum(r["tokens"] for r in s1) - docs,
            "steps": manifest["seconds"], "shards": len(manifest["shards"]), "rows_out": stats.rows_out}  # fmt: skip


_TOK = None


def _init_worker(tok_json: str) -> None:
    global _TOK
    from tokenizers import Tokenizer

    _TOK = Tokenizer.from_file(tok_json)
    _TOK.encode_special_tokens = True


def _encode_line(line: str):
    text = json.loads(line)["text"]
    ids = _TOK.encode(text, add_special_tokens=False).ids
    return ids, len(line)


def run_baseline(jsonl: Path, tok_dir: Path, eod: int, vocab: int) -> dict:
    """preprocess_data.py's loop: a Pool of per-document encodes in order, one IndexedDatasetBuilder."""
    from spark_jobs.emit.shards import indexed_dataset

    mod = indexed_dataset()
    prefix = str(OUT / "baseline_text_document")
    t0 = time.perf_counter()
    builder = mod.IndexedDatasetBuilder(prefix + ".bin", dtype=mod.DType.optimal_dtype(vocab))
    docs = tokens = 0
    with (
        open(jsonl, encoding="utf-8") as fin,
        multiprocessing.Pool(2, initializer=_init_worker, initargs=(str(tok_dir / "tokenizer.json"),)) as pool,
    ):
        for ids, _bytes in pool.imap(_encode_line, fin, 32):
            if ids:
                tokens += len(ids)
                ids.append(eod)
                builder.add_document(ids, [len(ids)])
                docs += 1
    builder.finalize(prefix + ".idx")
    return {"seconds": time.perf_counter() - t0, "documents": docs, "tokens": tokens}


def run_ceiling(texts: list[str], tok_dir: Path, call: str, batch: int = 10_000) -> dict:
    """``call`` (encode_batch_fast or encode_batch) over the texts in memory, ``batch`` texts per call."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    tok.encode_special_tokens = True
    fn = getattr(tok, call)
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(texts), batch):
        n += sum(len(e) for e in fn(texts[i : i + batch], add_special_tokens=False))
    return {"seconds": time.perf_counter() - t0, "tokens": n, "call": call}


# -- report --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=100_000, help="generated documents (before duplicates are removed)")
    ap.add_argument("--vocab", type=int, default=102_400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="rounds of the three (medians reported)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    OUT.mkdir(parents=True, exist_ok=True)

    CpuMeter = _sibling("ingest_lid").CpuMeter  # noqa: N806

    from spark_jobs.emit.shards import indexed_dataset, read_tokenizer
    from spark_jobs.session import SparkConfig, build_session

    tok_dir = make_tokenizer(args.vocab, args.seed)
    info = read_tokenizer(tok_dir)
    t0 = time.perf_counter()
    spark = build_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="4g"))
    session_s = time.perf_counter() - t0
    workdir, jsonl, n_docs = make_inputs(spark, args.docs, args.seed)
    texts = [orjson.loads(line)["text"] for line in open(jsonl, "rb")]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    indexed_dataset()  # the baseline's megatron-core import, before timing (preprocess_data.py imports it first)
    print(f"{n_docs:,} documents, {mb:.1f} MB of text; tokenizer {info.vocab_size:,} tokens ({info.dtype}); "
          f"Spark session start {session_s:.1f} s (excluded)", flush=True)  # fmt: skip

    # which raw call is the ceiling: the faster of the two on these texts
    calls = {c: run_ceiling(texts, tok_dir, c) for c in ("encode_batch_fast", "encode_batch")}
    best = min(calls, key=lambda c: calls[c]["seconds"])
    with CpuMeter():
        cold = run_moru(spark, workdir, tok_dir)
    print(f"moru cold (Python workers start and import megatron-core): {cold['seconds']:.1f} s", flush=True)
    runs: dict[str, list[dict]] = {"moru": [], "baseline": [], "ceiling": []}
    order = ("moru", "baseline", "ceiling")
    for r in range(args.repeat):
        # each round in another order (the machine's speed drifts over minutes: no contender always goes first)
        for name in order[r % 3 :] + order[: r % 3]:
            with CpuMeter() as meter:
                if name == "moru":
                    res = run_moru(spark, workdir, tok_dir)
                elif name == "baseline":
                    res = run_baseline(jsonl, tok_dir, info.eod_id, info.vocab_size)
                else:
                    res = run_ceiling(texts, tok_dir, best)
            res["cpu"] = meter.result
            runs[name].append(res)
            print(f"run {r + 1} {name}: {res['seconds']:.1f} s, {res['tokens'] / res['seconds']:,.0f} tokens/s, "
                  f"others used {100 * meter.result['others_share']:.0f} % of the machine", flush=True)  # fmt: skip
    tokens = {name: {x["tokens"] for x in rs} for name, rs in runs.items()}
    if len(set().union(*tokens.values())) != 1:
        raise SystemExit(f"the three did not encode the same tokens: {tokens}")
    n_tokens = runs["ceiling"][0]["tokens"]
    med = {name: statistics.median(x["seconds"] for x in rs) for name, rs in runs.items()}
    rate = {name: n_tokens / s for name, s in med.items()}
    noisy = max(x["cpu"]["others_share"] for rs in runs.values() for x in rs)
    lines = [
        f"emit benchmark, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores; {n_docs:,} documents, {mb:.1f} MB, {n_tokens:,} tokens; tokenizer "
        f"{info.vocab_size:,} ({info.dtype}); medians of {args.repeat}",
        "",
        "| | median s | tokens/s | runs (s) | CPU core-s (median run) |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for name, label in (("ceiling", f"ceiling: raw {runs['ceiling'][0]['call']}, texts in memory"),
                        ("moru", "moru emit (Spark local[2], Delta → published shards, stage 1 + 2)"),
                        ("baseline", "preprocess_data.py-style Pool(2) + IndexedDatasetBuilder")):  # fmt: skip
        rs = runs[name]
        mid = sorted(rs, key=lambda x: x["seconds"])[len(rs) // 2]
        each = ", ".join(format(x["seconds"], ".1f") for x in rs)
        lines.append(f"| {label} | {med[name]:.1f} | {rate[name]:,.0f} | {each} | {mid['cpu']['ours_cpu_s']:.0f} |")
    mid_moru = sorted(runs["moru"], key=lambda x: x["seconds"])[len(runs["moru"]) // 2]
    steps = mid_moru["steps"]
    lines += [
        "",
        f"moru cold run (workers import megatron-core once): {cold['seconds']:.1f} s; steps of the median warm run: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()),
        "ceiling calls (once, before the runs): "
        + ", ".join(f"{k} {n_tokens / v['seconds']:,.0f} tokens/s" for k, v in calls.items()),
        "moru CPU in the median run: "
        + ", ".join(f"{k} {v:.0f} core-s" for k, v in sorted(mid_moru["cpu"]["by_name"].items())),
        "per round (same minutes): moru / baseline "
        + ", ".join(f"{b['seconds'] / m['seconds']:.2f}x" for m, b in zip(runs["moru"], runs["baseline"], strict=True))
        + "; moru / ceiling "
        + ", ".join(f"{c['seconds'] / m['seconds']:.2f}x" for m, c in zip(runs["moru"], runs["ceiling"], strict=True)),
        f"other processes used up to {100 * noisy:.0f} % of the machine during a run"
        + ("  <- NOISY, re-run on a quiet machine" if noisy > 0.10 else ""),
        "",
        f"moru / baseline = {rate['moru'] / rate['baseline']:.2f}x   (target >= 1.5x)",
        f"moru / ceiling  = {rate['moru'] / rate['ceiling']:.2f}x   (target >= 0.7x)",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    (OUT / "results.md").write_text(text + "\n", encoding="utf-8")
    (OUT / "results.json").write_text(
        json.dumps({"runs": runs, "cold": cold, "calls": calls, "rate": rate}, indent=2, default=str)
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
