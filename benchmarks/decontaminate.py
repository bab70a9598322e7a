"""Decontamination throughput and recall, moru (both modes) vs allenai's decon and datatrove, same data.

    benchmarks/setup_peers.sh            # once: .venv-decon (decon), .venv-bench (datatrove 0.10.1)
    .venv/bin/python benchmarks/decontaminate.py [--docs 200000] [--bench-dir ../shared/data/bench]
        [--tools exhaustive,sampled,decon,datatrove] [--reuse] [--prepare-only]

Documents: ``--docs`` documents in the demo corpus's styles and proportions
(``demo.corpus.generate_jsonl``: Korean and English news, forum posts, boilerplate pages,
code-switched text, 17k-character long reads, junk), with one test example planted in every
``--plant-every``-th document (whole, a partial suffix of >= 60 normalized characters, or with
changed case/spacing/punctuation, in turn). Test sets: the real ones under ``--bench-dir`` when it
exists (GSM8K, MATH, HumanEval, MBPP, MMLU, KMMLU, ARC, BBH, IFEval, MT-Bench, KoMT-Bench,
LogicKor, read by moru's registry presets), otherwise ``--examples`` generated benchmark-like
examples. Every tool gets the same examples (moru's registry text: question, choices, solutions …;
decon the same fields split as its eval format wants: question = the preset's first field, answer =
the others) and the same documents (the rows of moru's ``documents`` table: Parquet for datatrove,
JSONL for decon).

Not timed: generating, planting, moru's ingest + normalize (which make ``documents``), the exports
(``--reuse`` keeps them in ``--out`` for the next run with the same parameters).

Session (``--session``): ``pipeline`` (default) times moru's jobs in a Spark session that has run jobs before,
as decontaminate runs in ``moru run`` after ingest, normalize and dedup (a reused preparation is replaced by an
untimed warm-up on 500 documents); ``cold`` times them as the session's first jobs (class loading, JIT, Python
worker start included: the state of a standalone ``moru decontaminate``). decon starts as its own process
either way; its reported times exclude its process start.

moru (this venv), Spark ``local[--workers]``: ``build_substrings`` (examples → Delta
``benchmark_examples`` + the substring index file: the index) then ``contamination.run`` (Delta
``documents`` → Delta ``contamination``: the match), once per mode. A mode's time includes the index.

decon (``--decon-python``, default ``.venv-decon/bin/python``; PyPI ``decontaminate``, its Python
bindings, built from source by setup_peers.sh): ``decon.detect`` with its defaults (cl100k tokens,
5-gram probes every 10 tokens, cluster expansion, IDF-weighted score >= 0.8, eval entries under 20
tokens skipped) and ``worker_threads`` = ``--workers``; index and match seconds as it reports them,
total = the wall time of ``detect``. Its report's (training file, line) pairs give the flagged ids.

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

Throughput is the documents' UTF-8 megabytes per second of wall time per core (wall × workers), on
the total (index + match) and, in brackets, on the match alone. Printed, per tool: index s, match s,
total s, MB/s per core, documents flagged, planted documents found, by kind (whole / partial /
changed case-spacing) and by host language (moru's language label of the document), false positives
(flagged documents with nothing planted); the start time and load average (the machine may be
shared); the last line is ``exhaustive / decon = X.XX×`` (decon's total over exhaustive's).
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


# ----------------------------------------------------------------------------- decon side
# Runs inside .venv-decon (no moru imports here).


def _decon_child(args: argparse.Namespace) -> None:
    """decon's ``detect`` with its defaults (cl100k, 5-grams probed every 10 tokens, ...) and the worker threads."""
    from importlib.metadata import version

    import decon

    out = Path(args.output)
    cfg = decon.Config(training_dir=args.input, evals_dir=str(out / "evals"), report_output_dir=str(out / "report"),
                       worker_threads=args.workers)  # fmt: skip
    started = time.perf_counter()
    decon.detect(cfg)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "version": version("decontaminate")}), flush=True)


def _write_decon_evals(examples: list[dict], folder: Path) -> None:
    """decon's eval format: one JSONL file per benchmark, question = the preset's first field, answer = the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    by_benchmark: dict[str, list[str]] = {}
    for i, e in enumerate(examples):
        row = {"doc_id": i, "eval_key": e["benchmark"], "eval_instance_index": i, "split": e["split"],
               "question": e["question"]}  # fmt: skip
        if e["answer"]:
            row["answer"] = e["answer"]
        by_benchmark.setdefault(e["benchmark"], []).append(json.dumps(row, ensure_ascii=False))
    for name, lines in by_benchmark.items():
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run_decon(args: argparse.Namespace, prepared: Path, examples: list[dict], out: Path) -> dict:
    import re

    shutil.rmtree(out, ignore_errors=True)
    _write_decon_evals(examples, out / "evals")
    cmd = [args.decon_python, str(Path(__file__).resolve()), "--decon-child", "--input", str(prepared / "jsonl")]
    cmd += ["--output", str(out), "--workers", str(args.workers)]
    env = dict(os.environ, PYTHONPATH="")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(out))
    (out / "decon.log").write_text(proc.stdout + "\n" + proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"decon run failed (exit {proc.returncode}); log in {out / 'decon.log'}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key, label in (("index_seconds", "Index building time"), ("match_seconds", "Detection time")):
        found = re.search(label + r"\s+([0-9.]+)s", proc.stdout)
        result[key] = float(found.group(1)) if found else float("nan")
    # its report: (training file, line) of every contaminated document -> the document's id
    ids = {}
    for part in sorted((prepared / "jsonl").glob("*.jsonl")):
        with open(part, encoding="utf-8") as f:
            ids[part.stem] = [json.loads(line)["id"] for line in f]
    flagged = set()
    for report in (out / "report").rglob("*.jsonl"):
        for line in filter(None, report.read_text(encoding="utf-8").split("\n")):
            row = json.loads(line)
            stem = Path(row["training_file"]).name.split(".")[0]
            flagged.add(ids[stem][row["training_line"]])
    result["flagged"] = sorted(flagged)
    return result


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
            cfg = BenchmarkConfig(name=name, path=str(bench / rel), preset=preset)
            for e, (question, answer) in zip(load_examples(cfg), _question_answer(cfg), strict=True):
                rows.append({"benchmark": e.benchmark, "split": e.split, "example_id": e.example_id, "text": e.text,
                             "question": question, "answer": answer})  # fmt: skip
        return rows, f"real test sets under {bench}"
    rng = random.Random(5)
    rows = [{"benchmark": f"gen{i % 8}", "split": "test", "example_id": f"ex{i}", "text": example_text(rng, i)}
            for i in range(args.examples)]  # fmt: skip
    for r in rows:
        r["question"], r["answer"] = r["text"], ""
    return rows, "generated benchmark-like examples (no --bench-dir)"


def _question_answer(cfg):
    """(question, answer) of each example of ``cfg``, in load_examples' order: the first field of the layout
    that moru's loader uses for the record (its strings joined with newlines) and the other fields' strings.
    Their parts, joined with newlines, are the example's text."""
    from spark_jobs.decontaminate.benchmarks.files import detect_format, list_files, read_records
    from spark_jobs.decontaminate.benchmarks.loading import _MISSING, _records, _strings, lookup

    layouts = cfg.layouts()
    for file in list_files(cfg):
        fmt = cfg.format if cfg.format != "auto" else detect_format(file.relpath)
        for where, doc in read_records(file, fmt, cfg):
            for record in _records(doc, layouts[0].records, where):
                for layout in layouts:
                    values = [lookup(record, path) for path in layout.text]
                    if layout.id and lookup(record, layout.id) is _MISSING or any(v is _MISSING for v in values):
                        continue
                    parts = [_strings(v, path, where) for path, v in zip(layout.text, values, strict=True)]
                    yield ("\n".join(x for x in parts[0] if x), "\n".join(x for ps in parts[1:] for x in ps if x))
                    break


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
    parser.add_argument("--decon-python", default=str(REPO / ".venv-decon" / "bin" / "python"))
    parser.add_argument("--tools", default="exhaustive,sampled,decon,datatrove",
                        help="comma-separated: exhaustive, sampled (moru's modes), decon, datatrove")  # fmt: skip
    parser.add_argument("--skip-datatrove", action="store_true", help="the same as leaving datatrove out of --tools")
    parser.add_argument("--reuse", action="store_true", help="keep a preparation of the same parameters in --out")
    parser.add_argument("--prepare-only", action="store_true", help="prepare the inputs (untimed part) and stop")
    parser.add_argument(
        "--session", choices=("pipeline", "cold"), default="pipeline",
        help="pipeline (default): the timed jobs run in a Spark session that has run jobs before, as in `moru run`, "
             "where decontaminate follows ingest, normalize and dedup (a reused preparation gets an untimed warm-up "
             "on 500 documents); cold: they are the session's first jobs (needs --reuse of an earlier preparation)",
    )  # fmt: skip
    # datatrove child
    parser.add_argument("--datatrove-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--examples-file", help=argparse.SUPPRESS)
    parser.add_argument("--datatrove-part", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--decon-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datatrove_part:
        _datatrove_part(args)
        return
    if args.datatrove_child:
        _datatrove_child(args)
        return
    if args.decon_child:
        _decon_child(args)
        return
    run(args)


def _warm_up(spark, folder: Path, examples: list[dict]) -> None:
    """Untimed: what a pipeline session has done before decontaminate (Delta writes and reads, Python workers
    started, a substring index shipped), on 500 generated documents and 200 of the examples."""
    from demo.corpus import generate_jsonl
    from spark_jobs import ingest, normalize
    from spark_jobs.decontaminate.contamination import ContaminationConfig, build_substrings
    from spark_jobs.decontaminate.contamination import run as contamination_run
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

    t = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    generate_jsonl(folder / "in", 500, seed=5)
    workdir = str(folder / "work")
    ingest.run(spark, workdir, [SourceConfig(name="warmup", path=str(folder / "in"), format="jsonl",
                                             fields=FieldMapping(text="text", id="id", url="url"))],
               IngestConfig())  # fmt: skip
    normalize.run(spark, workdir)
    rows = [(e["benchmark"], e["split"], e["example_id"], e["text"]) for e in examples]
    build_substrings(spark, workdir, rows, ContaminationConfig())
    contamination_run(spark, workdir, ContaminationConfig())
    print(f"[warm-up] pipeline session: ingest + normalize + decontaminate of 500 documents, "
          f"{time.perf_counter() - t:.0f} s (untimed)", flush=True)  # fmt: skip


def prepare(args: argparse.Namespace, spark) -> dict:
    """Generate, plant, ingest + normalize (moru's ``documents``), export (Parquet per language for datatrove,
    JSONL for decon); untimed. With ``--reuse`` a preparation of the same parameters in ``--out`` is kept."""
    from pyspark.sql import functions as F

    from demo.corpus import generate_jsonl
    from spark_jobs import ingest, normalize, tables
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

    out = Path(args.out).resolve()
    params = {"docs": args.docs, "plant_every": args.plant_every, "bench_dir": args.bench_dir,
              "examples": args.examples, "format": 2}  # fmt: skip
    meta_file = out / "prepared.json"
    if args.reuse and meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta["params"] == params:
            print(f"[prepare] reused {out}", flush=True)
            return {**meta, "reused": True}
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
    workdir = str(out / "work")
    t = time.perf_counter()
    ingest.run(spark, workdir, [SourceConfig(name="bench", path=str(out / "in"), format="jsonl",
                                             fields=FieldMapping(text="text", id="id", url="url"))],
               IngestConfig(max_text_bytes=16 << 20))  # fmt: skip
    normalize.run(spark, workdir)
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select("doc_id", "record_key")
    key_of = {r["doc_id"]: r["record_key"].removeprefix("id:") for r in raw.collect()}
    lang_of = {r["doc_id"]: r["lang"] for r in docs.select("doc_id", "lang").collect()}
    agg = docs.agg(F.count("*").alias("n"), F.sum(F.octet_length("text")).alias("bytes"),
                   F.sum("n_chars").alias("chars")).head()  # fmt: skip
    is_korean = F.col("lang").isin(*KOREAN_LABELS)
    export = out / "export"
    for lang, cond in zip(DATATROVE_LANGS, (is_korean, ~is_korean), strict=True):
        docs.filter(cond).select(F.col("doc_id").alias("id"), "text").repartition(4 * args.workers).write.parquet(
            str(export / lang)
        )
    # decon reads JSONL files and reports (file, line): one JSONL file per exported Parquet file
    import pyarrow.parquet as pq

    (out / "jsonl").mkdir()
    for i, part in enumerate(sorted(export.rglob("*.parquet"))):
        rows = pq.read_table(part, columns=["id", "text"]).to_pylist()
        with open(out / "jsonl" / f"part-{i:05d}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
    planted_docs = {d: [*planted[k], lang_of[d]] for d, k in key_of.items() if k in planted}
    meta = {"params": params, "documents": agg["n"], "mb": agg["bytes"] / 1e6, "chars": agg["chars"],
            "examples": len(examples), "examples_from": examples_from, "workdir": workdir,
            "planted": planted_docs}  # fmt: skip
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    print(f"[prepare] documents: {agg['n']:,} ({meta['mb']:,.1f} MB UTF-8, {agg['chars']:,} chars); ingest + "
          f"normalize + export {time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
    return meta


def run(args: argparse.Namespace) -> None:
    from spark_jobs import tables
    from spark_jobs.decontaminate.contamination import ContaminationConfig, build_substrings
    from spark_jobs.decontaminate.contamination import run as contamination_run
    from spark_jobs.session import SparkConfig, build_session, config_for

    # the session `moru run` starts for a job that does not tokenize: the local profile's JIT setting (C1 only:
    # on 2 cores C2's compiling costs more than it gains in a job of this length, 27.5 s vs 32.5 s measured) and
    # Python workers that preload no tokenizer (config_for)
    spark = build_session(config_for(SparkConfig(master=f"local[{args.workers}]"), loads_tokenizer=False))
    meta = prepare(args, spark)
    out = Path(args.out).resolve()
    workdir = meta["workdir"]
    n_docs, mb = meta["documents"], meta["mb"]
    planted_docs = set(meta["planted"])
    export = out / "export"
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text(encoding="utf-8").split("\n") if line]
    if examples and "question" not in examples[0]:  # prepared before decon was a peer
        examples, _ = _examples(args)
        (out / "examples.jsonl").write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8"
        )
    examples_from = meta["examples_from"]
    if args.prepare_only:
        spark.stop()
        return
    if args.session == "cold" and not meta.get("reused"):
        raise SystemExit("--session cold times the first jobs of a Spark session: prepare first (--prepare-only), "
                         "then run again with --reuse")  # fmt: skip
    if args.session == "pipeline" and meta.get("reused"):
        _warm_up(spark, out / "warmup", examples[:200])
    tools = [t for t in args.tools.split(",") if t and not (t == "datatrove" and args.skip_datatrove)]
    load_at_start = os.getloadavg()
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"[run] {started_at}, {args.session} session, load average at start {load_at_start[0]:.2f} "
          f"{load_at_start[1]:.2f} {load_at_start[2]:.2f}, {os.cpu_count()} cores", flush=True)  # fmt: skip

    results: dict[str, dict] = {}
    modes = [m for m in ("exhaustive", "sampled") if m in tools]
    if modes:
        # the stage's own path: the examples as the driver read them (contamination.ensure_index)
        rows = [(e["benchmark"], e["split"], e["example_id"], e["text"]) for e in examples]
        t = time.perf_counter()
        sub_stats = build_substrings(spark, workdir, rows, ContaminationConfig())
        t_index = time.perf_counter() - t
        print(f"[moru] benchmark_examples + substring index ({sub_stats.extra['index']}): {t_index:.1f} s, "
              f"{sub_stats.extra['substrings']:,} substrings of {sub_stats.rows_out:,} examples "
              f"({sub_stats.extra['short_examples']:,} short; {sub_stats.rows_rejected:,} too short)",
              flush=True)  # fmt: skip
    for mode in modes:
        t = time.perf_counter()
        stats = contamination_run(spark, workdir, ContaminationConfig(mode=mode))
        seconds = time.perf_counter() - t
        flagged = {r["doc_id"] for r in tables.read(spark, workdir, tables.CONTAMINATION).select("doc_id").collect()}
        results[mode] = {"label": f"moru {mode}" + (" (N = 10)" if mode == "sampled" else ""),
                         "index_seconds": t_index, "match_seconds": seconds, "seconds": t_index + seconds,
                         "flagged": sorted(flagged), "stats": stats.extra}  # fmt: skip
        print(f"[moru {mode}] {seconds:.1f} s; {len(flagged):,} flagged, {len(flagged & planted_docs):,}/"
              f"{len(planted_docs):,} planted", flush=True)  # fmt: skip
    spark.stop()

    if "decon" in tools:
        dc = _run_decon(args, out, examples, out / "decon")
        results["decon"] = {"label": f"decon {dc['version']}", "index_seconds": dc["index_seconds"],
                            "match_seconds": dc["match_seconds"], "seconds": dc["seconds"],
                            "flagged": dc["flagged"]}  # fmt: skip
        print(f"[decon] {dc['seconds']:.1f} s (index {dc['index_seconds']:.1f} s); {len(dc['flagged']):,} flagged",
              flush=True)  # fmt: skip

    if "datatrove" in tools:
        dt = _run_datatrove(args, export, out / "examples.jsonl", out / "datatrove")
        removed = {doc_id for doc_id, _ in dt["removed"]}
        results["datatrove"] = {"label": f"datatrove {dt['version']}", "seconds": dt["seconds"],
                                "index_seconds": sum(dt["index_seconds"].values()),
                                "match_seconds": dt["filter_seconds"], "flagged": sorted(removed)}  # fmt: skip
        print(f"[datatrove] {dt['seconds']:.1f} s (index {sum(dt['index_seconds'].values()):.1f} s); "
              f"{len(removed):,} flagged", flush=True)  # fmt: skip

    cores = args.workers
    planted = meta["planted"]  # doc_id -> [benchmark, example_id, kind, host language]
    kinds = ("whole", "partial", "perturbed")
    langs = sorted({v[3] for v in planted.values()})
    summary = {}
    for name, r in results.items():
        flagged = set(r["flagged"])
        found = flagged & planted_docs
        summary[name] = {
            "label": r["label"], "index_seconds": r["index_seconds"], "match_seconds": r["match_seconds"],
            "seconds": r["seconds"], "mb_s_core": mb / r["seconds"] / cores,
            "mb_s_core_match": mb / r["match_seconds"] / cores, "flagged": len(flagged), "planted_found": len(found),
            "by_kind": {k: sum(1 for d in found if planted[d][2] == k) for k in kinds},
            "by_lang": {lg: sum(1 for d in found if planted[d][3] == lg) for lg in langs},
            "false_positives": len(flagged - planted_docs), "stats": r.get("stats"),
        }  # fmt: skip
    (out / "results.json").write_text(
        json.dumps({"documents": n_docs, "mb": mb, "workers": cores, "examples": len(examples),
                    "examples_from": examples_from, "planted": len(planted_docs), "started": started_at,
                    "load_at_start": load_at_start, "session": args.session,
                    "planted_by_kind": {k: sum(1 for v in planted.values() if v[2] == k) for k in kinds},
                    "planted_by_lang": {lg: sum(1 for v in planted.values() if v[3] == lg) for lg in langs},
                    "results": summary}, indent=1),
        encoding="utf-8",
    )  # fmt: skip
    print()
    print(f"{n_docs:,} documents, {mb:,.1f} MB; {len(examples):,} test examples ({examples_from}); "
          f"{len(planted_docs):,} documents with a planted example; {cores} workers")  # fmt: skip
    total = {k: sum(1 for v in planted.values() if v[2] == k) for k in kinds}
    total_lang = {lg: sum(1 for v in planted.values() if v[3] == lg) for lg in langs}
    print("planted by kind: " + ", ".join(f"{k} {total[k]:,}" for k in kinds)
          + "; by host language: " + ", ".join(f"{lg} {total_lang[lg]:,}" for lg in langs))  # fmt: skip
    print(f"{'tool':<24} {'index s':>8} {'match s':>8} {'total s':>8} {'MB/s/core':>10} {'(match)':>8} "
          f"{'flagged':>8} {'planted':>8} {'whole':>6} {'partial':>7} {'changed':>7} "
          + " ".join(f"{lg:>6}" for lg in langs) + f" {'false pos.':>10}")  # fmt: skip
    for r in summary.values():
        print(f"{r['label']:<24} {r['index_seconds']:>8.1f} {r['match_seconds']:>8.1f} {r['seconds']:>8.1f} "
              f"{r['mb_s_core']:>10.2f} {r['mb_s_core_match']:>8.2f} {r['flagged']:>8,} {r['planted_found']:>8,} "
              f"{r['by_kind']['whole']:>6,} {r['by_kind']['partial']:>7,} {r['by_kind']['perturbed']:>7,} "
              + " ".join(f"{r['by_lang'][lg]:>6,}" for lg in langs) + f" {r['false_positives']:>10,}")  # fmt: skip
    for peer in ("datatrove", "decon"):
        for mode in ("sampled", "exhaustive"):
            if peer in summary and mode in summary:
                print(f"{mode} / {peer} = {summary[peer]['seconds'] / summary[mode]['seconds']:.2f}×")


if __name__ == "__main__":
    main()
