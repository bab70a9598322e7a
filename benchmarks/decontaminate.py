"""Decontamination throughput, moru (both modes) vs datatrove's n-gram decontamination, same data.

    benchmarks/setup_peers.sh                          # once: .venv-bench with datatrove 0.10.1
    .venv/bin/python benchmarks/decontaminate.py [--docs 200000] [--bench-dir ../shared/data/bench]

Documents: ``--docs`` documents in the demo corpus's styles and proportions
(``demo.corpus.generate_jsonl``: Korean and English news, forum posts, boilerplate pages,
code-switched text, 17k-character long reads, junk), with one test example planted in every
``--plant-every``-th document (whole, a partial suffix of >= 60 normalized characters, or with
changed case/spacing/punctuation, in turn). Test sets: the real ones under ``--bench-dir`` when it
exists (GSM8K, MATH, HumanEval, MBPP, MMLU, KMMLU, ARC, BBH, IFEval, MT-Bench, KoMT-Bench,
LogicKor, read by moru's registry presets), otherwise ``--examples`` generated benchmark-like
examples. Both tools get the same examples (moru's registry text: question, choices, solutions …)
and the same documents (the rows of moru's ``documents`` table, exported to Parquet).

Not timed: generating, planting, moru's ingest + normalize (which make ``documents``), the export.

moru (this venv), Spark ``local[--workers]``: ``build_substrings`` (examples → Delta
``benchmark_substrings``) then ``contamination.run`` (Delta ``documents`` → Delta ``contamination``),
once per mode. A mode's time includes building the substring table.

datatrove 0.10.1 (``--bench-python``, default ``.venv-bench/bin/python``), its n-gram
decontamination with its defaults (12-word n-grams, xxhash64, its text normalization): the index is
built with ``NGramsDecontIndexer.compute_hashes`` over every example, one ``<benchmark>.index.hashes``
file per benchmark and language, written as its ``run`` writes them (``run`` itself cannot be used
without lighteval: it loads lighteval's task registry after reading its input); then the chain
``ParquetReader`` → ``NGramsDecontFilter`` (with a JSONL exclusion writer, so that the removed ids
can be compared) as ``--workers`` ranks of one world, each rank in its own process. Documents that
moru's language id labelled ko/ko+en go through the Korean filter (Kiwi word tokenizer, index built
with it), the rest through the English one. (Its ``LocalPipelineExecutor`` cannot run the Korean
filter: the filter loads its tokenizer in its constructor and Kiwi can be neither pickled nor
deep-copied, which the executor does to the pipeline for every rank.) Its time includes building
the index.

Throughput is the documents' UTF-8 megabytes per second of wall time per core (wall × workers).
The filter stops at a document's first contaminated n-gram and moru's exhaustive mode matches every
window of every document (and records every matched example), so the comparison favours datatrove.
Printed: per tool, seconds, MB/s per core, documents flagged, planted documents found; the last
line is ``exhaustive / datatrove = X.XX×``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/quality.py shadows `quality`
KOREAN_LABELS = ("ko", "ko+en")
DATATROVE_LANGS = ("kor", "eng")

# (name, path under --bench-dir, preset): the real test sets, read by moru's registry
REAL_SETS = (
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
)


# ----------------------------------------------------------------------------- datatrove side
# Runs inside .venv-bench (no moru imports here).


def _datatrove_child(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    import numpy as np
    from datatrove.pipeline.decont.n_grams import NGramsDecontIndexer

    out = Path(args.output)
    examples = [json.loads(line) for line in Path(args.examples_file).read_text(encoding="utf-8").split("\n") if line]
    started = time.perf_counter()
    index_seconds = {}
    for lang in DATATROVE_LANGS:
        t = time.perf_counter()
        # run() would import lighteval's registry after its input; compute_hashes is the indexing itself
        indexer = object.__new__(NGramsDecontIndexer)
        indexer.__init__(output_folder=str(out / "index" / lang), language=lang)
        hashes: dict[str, set] = {}
        for e in examples:
            hashes.setdefault(e["benchmark"], set()).update(indexer.compute_hashes(e["text"]))
        folder = out / "index" / lang
        folder.mkdir(parents=True, exist_ok=True)
        for task, task_hashes in hashes.items():
            np.array(sorted(task_hashes), dtype=indexer.config.hash_config.np_dtype).tofile(
                folder / f"{task}.index.hashes"
            )
        index_seconds[lang] = time.perf_counter() - t
    # The filter loads its word tokenizer in its constructor and Kiwi (the Korean one) cannot be pickled or
    # deep-copied, so LocalPipelineExecutor cannot run it (it copies the pipeline for every rank). The same
    # chain (ParquetReader -> NGramsDecontFilter with its exclusion writer) runs here as --workers ranks of
    # one world, each in its own process.
    t = time.perf_counter()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--datatrove-part", "--input", args.input]
    cmd += ["--output", args.output, "--workers", str(args.workers)]
    procs = [subprocess.Popen([*cmd, "--rank", str(rank)], stdout=subprocess.PIPE, text=True)
             for rank in range(args.workers)]  # fmt: skip
    parts = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"datatrove rank failed (exit {proc.returncode})")
        parts.append(json.loads(stdout.strip().splitlines()[-1]))
    filter_seconds = time.perf_counter() - t
    seconds = time.perf_counter() - started
    removed = []
    for path in sorted((out / "removed").rglob("*.jsonl")):
        for line in filter(None, path.read_text(encoding="utf-8").split("\n")):
            doc = json.loads(line)
            removed.append([doc["id"], doc.get("metadata", {}).get("contaminated_task")])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "index_seconds": index_seconds,
                "filter_seconds": filter_seconds,
                "removed": removed,
                "version": version("datatrove"),
            }
        )
    )


def _datatrove_part(args: argparse.Namespace) -> None:
    from datatrove.pipeline.decont.n_grams import NGramsDecontFilter
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    out, rank, world = Path(args.output), args.rank, args.workers
    counts = {}
    for lang in DATATROVE_LANGS:
        folder = Path(args.input) / lang
        if not any(folder.glob("*.parquet")):
            continue
        reader = ParquetReader(str(folder), glob_pattern="*.parquet", text_key="text", id_key="id")
        decont = NGramsDecontFilter(
            index_folder=str(out / "index" / lang),
            language=lang,
            exclusion_writer=JsonlWriter(str(out / "removed" / lang), compression=None),
        )
        kept = sum(1 for _ in decont.run(reader.run(None, rank, world), rank, world))
        counts[lang] = kept
    print(json.dumps({"rank": rank, "kept": counts}))


def _run_datatrove(args: argparse.Namespace, export: Path, examples: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [args.bench_python, str(Path(__file__).resolve()), "--datatrove-child", "--input", str(export)]
    cmd += ["--examples-file", str(examples), "--output", str(out), "--workers", str(args.workers)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH="")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(out))
    (out / "datatrove.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"datatrove run failed (exit {proc.returncode}); log in {out / 'datatrove.log'}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- inputs


def _examples(args: argparse.Namespace) -> tuple[list[dict], str]:
    from demo.decontam_eval import example_text
    from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, load_examples

    bench = Path(args.bench_dir) if args.bench_dir else None
    if bench and bench.is_dir():
        rows = []
        for name, rel, preset in REAL_SETS:
            if not (bench / rel).exists():
                continue
            for e in load_examples(BenchmarkConfig(name=name, path=str(bench / rel), preset=preset)):
                rows.append({"benchmark": e.benchmark, "split": e.split, "example_id": e.example_id, "text": e.text})
        return rows, f"real test sets under {bench}"
    rng = random.Random(5)
    rows = [{"benchmark": f"gen{i % 8}", "split": "test", "example_id": f"ex{i}", "text": example_text(rng, i)}
            for i in range(args.examples)]  # fmt: skip
    return rows, "generated benchmark-like examples (no --bench-dir)"


def _plant(in_dir: Path, examples: list[dict], every: int, seed: int) -> dict[str, tuple[str, str, str]]:
    """Plant an example (whole / partial / perturbed, in turn) into every ``every``-th document, in place.
    Returns source id -> (benchmark, example_id, kind). Only examples of >= 60 normalized characters."""
    import orjson

    from demo.decontam_eval import KINDS, perturb
    from quality.decontam import normalize_for_matching

    rng = random.Random(seed)
    pool = [e for e in examples if len(normalize_for_matching(e["text"])) >= 60]
    planted, n = {}, 0
    for shard in sorted(in_dir.glob("*.jsonl")):
        lines = shard.read_bytes().splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            if n % every == 0:
                doc = orjson.loads(line)
                ex = rng.choice(pool)
                kind = KINDS[(n // every) % 3]
                passage = ex["text"]
                if kind == "partial":
                    cut = len(passage) // 3
                    while cut and len(normalize_for_matching(passage[cut:])) < 60:
                        cut //= 2
                    passage = passage[cut:]
                elif kind == "perturbed":
                    passage = perturb(rng, passage)
                text = doc["text"]
                at = rng.randint(0, len(text))
                while 0 < at < len(text) and not text[at - 1].isspace():
                    at -= 1
                doc["text"] = text[:at] + passage + "\n" + text[at:]
                lines[i] = orjson.dumps(doc)
                planted[doc["id"]] = (ex["benchmark"], ex["example_id"], kind)
            n += 1
        shard.write_bytes(b"\n".join(lines) + b"\n")
    return planted


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--examples", type=int, default=20_000, help="generated examples when --bench-dir is absent")
    default_bench = REPO.parent / "shared" / "data" / "bench"
    parser.add_argument("--bench-dir", default=str(default_bench) if default_bench.is_dir() else None)
    parser.add_argument("--plant-every", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--out", default=str(HERE / "out" / "decontaminate"))
    parser.add_argument("--skip-datatrove", action="store_true")
    # datatrove child
    parser.add_argument("--datatrove-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--examples-file", help=argparse.SUPPRESS)
    parser.add_argument("--datatrove-part", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datatrove_part:
        _datatrove_part(args)
        return
    if args.datatrove_child:
        _datatrove_child(args)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    from pyspark.sql import functions as F

    from demo.corpus import generate_jsonl
    from spark_jobs import ingest, normalize, tables
    from spark_jobs.decontaminate.contamination import ContaminationConfig, build_substrings
    from spark_jobs.decontaminate.contamination import run as contamination_run
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
    from spark_jobs.session import SparkConfig, build_session

    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    (out / "in").mkdir(parents=True)
    t = time.perf_counter()
    examples, examples_from = _examples(args)
    (out / "examples.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8"
    )
    generate_jsonl(out / "in", args.docs, seed=3)
    planted = _plant(out / "in", examples, args.plant_every, seed=4)
    print(f"[prepare] {len(examples):,} examples ({examples_from}); {args.docs:,} documents, {len(planted):,} "
          f"planted ({time.perf_counter() - t:.0f} s)", flush=True)  # fmt: skip

    # a long job: the JVM's optimizing compiler pays for itself (see SparkConfig.c1_jit)
    spark = build_session(SparkConfig(master=f"local[{args.workers}]", c1_jit=False))
    workdir = str(out / "work")
    t = time.perf_counter()
    ingest.run(spark, workdir, [SourceConfig(name="bench", path=str(out / "in"), format="jsonl",
                                             fields=FieldMapping(text="text", id="id", url="url"))],
               IngestConfig(max_text_bytes=16 << 20))  # fmt: skip
    normalize.run(spark, workdir)
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select("doc_id", "record_key")
    key_of = {r["doc_id"]: r["record_key"].removeprefix("id:") for r in raw.collect()}
    agg = docs.agg(F.count("*").alias("n"), F.sum(F.octet_length("text")).alias("bytes"),
                   F.sum("n_chars").alias("chars")).head()  # fmt: skip
    n_docs, mb = agg["n"], agg["bytes"] / 1e6
    is_korean = F.col("lang").isin(*KOREAN_LABELS)
    export = out / "export"
    for lang, cond in zip(DATATROVE_LANGS, (is_korean, ~is_korean), strict=True):
        docs.filter(cond).select(F.col("doc_id").alias("id"), "text").repartition(4 * args.workers).write.parquet(
            str(export / lang)
        )
    planted_docs = {d for d, k in key_of.items() if k in planted}
    print(f"[prepare] documents: {n_docs:,} ({mb:,.1f} MB UTF-8, {agg['chars']:,} chars); ingest + normalize + "
          f"export {time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip

    examples_df = spark.createDataFrame(examples, "benchmark STRING, split STRING, example_id STRING, text STRING")
    t = time.perf_counter()
    sub_stats = build_substrings(spark, workdir, examples_df, ContaminationConfig())
    t_index = time.perf_counter() - t
    print(f"[moru] benchmark_examples + benchmark_substrings: {t_index:.1f} s, {sub_stats.extra['substrings']:,} "
          f"substrings of {sub_stats.rows_out:,} examples ({sub_stats.extra['short_examples']:,} short; "
          f"{sub_stats.rows_rejected:,} too short)", flush=True)  # fmt: skip
    results: dict[str, dict] = {}
    for mode in ("exhaustive", "sampled"):
        t = time.perf_counter()
        stats = contamination_run(spark, workdir, ContaminationConfig(mode=mode))
        seconds = time.perf_counter() - t
        flagged = {r["doc_id"] for r in tables.read(spark, workdir, tables.CONTAMINATION).select("doc_id").collect()}
        results[mode] = {
            "index_seconds": t_index,
            "match_seconds": seconds,
            "seconds": t_index + seconds,
            "flagged": len(flagged),
            "planted_found": len(flagged & planted_docs),
            "flagged_unplanted": len(flagged - planted_docs),
            "stats": stats.extra,
        }
        print(f"[moru {mode}] {seconds:.1f} s; {len(flagged):,} flagged, {len(flagged & planted_docs):,}/"
              f"{len(planted_docs):,} planted", flush=True)  # fmt: skip
    spark.stop()

    if not args.skip_datatrove:
        dt = _run_datatrove(args, export, out / "examples.jsonl", out / "datatrove")
        removed = {doc_id for doc_id, _ in dt["removed"]}
        results["datatrove"] = {
            "seconds": dt["seconds"],
            "index_seconds": sum(dt["index_seconds"].values()),
            "match_seconds": dt["filter_seconds"],
            "flagged": len(removed),
            "planted_found": len(removed & planted_docs),
            "flagged_unplanted": len(removed - planted_docs),
            "version": dt["version"],
        }
        print(f"[datatrove] {dt['seconds']:.1f} s (index {sum(dt['index_seconds'].values()):.1f} s); "
              f"{len(removed):,} flagged", flush=True)  # fmt: skip

    cores = args.workers
    (out / "results.json").write_text(
        json.dumps({"documents": n_docs, "mb": mb, "workers": cores, "examples": len(examples),
                    "examples_from": examples_from, "planted": len(planted_docs), "results": results}, indent=1),
        encoding="utf-8",
    )  # fmt: skip
    print()
    print(f"{n_docs:,} documents, {mb:,.1f} MB; {len(examples):,} test examples ({examples_from}); "
          f"{len(planted_docs):,} documents with a planted example; {cores} workers")  # fmt: skip
    print(f"{'tool':<22} {'index s':>8} {'match s':>8} {'total s':>8} {'MB/s/core':>10} {'(match)':>8} "
          f"{'flagged':>8} {'planted found':>14} {'other flagged':>14}")  # fmt: skip
    for name, r in results.items():
        label = f"moru {name}" if name != "datatrove" else f"datatrove {r['version']}"
        print(f"{label:<22} {r['index_seconds']:>8.1f} {r['match_seconds']:>8.1f} {r['seconds']:>8.1f} "
              f"{mb / r['seconds'] / cores:>10.2f} {mb / r['match_seconds'] / cores:>8.2f} {r['flagged']:>8,} "
              f"{r['planted_found']:>6,}/{len(planted_docs):<7,} {r['flagged_unplanted']:>14,}")  # fmt: skip
    if "datatrove" in results:
        print(f"sampled / datatrove = {results['datatrove']['seconds'] / results['sampled']['seconds']:.2f}×")
        print(f"exhaustive / datatrove = {results['datatrove']['seconds'] / results['exhaustive']['seconds']:.2f}×")


if __name__ == "__main__":
    main()
