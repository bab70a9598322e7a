"""Heuristic quality signals throughput, moru vs datatrove, on the same documents.

    benchmarks/setup_peers.sh                     # once: .venv-bench with datatrove 0.10.1
    .venv/bin/python benchmarks/quality.py [--docs 200000] [--repeat 1] [--workers 2]

One command, both tools, one run. The input is ``--docs`` bilingual documents from
:func:`demo.corpus.generate_jsonl` (the generator ``benchmarks/ingest_lid.py`` uses), ingested
and normalized once by moru into a Delta ``documents`` table (not timed). Both tools then score
exactly the rows of that table: moru reads it, datatrove reads the same ``doc_id`` / ``text`` rows
exported to Parquet (also not timed). Each side gets the machine to itself in turn, in ``--repeat``
alternating rounds (datatrove, moru, ...), each run in a fresh process; the last printed line is
``moru / datatrove = X.XX×`` in documents/second, from the median times. ``--repeat`` defaults to 1
here, not 3 as in ``ingest_lid.py``: datatrove's Korean pipeline scores about 26 documents/second on
2 cores, so one datatrove run over 200,000 documents takes well over an hour, and the gap between
the tools is far wider than this machine's ±20 % drift between identical runs.

moru (this venv): ``spark_jobs.signals.run`` on Spark ``local[--workers]``: Delta ``documents`` →
the Gopher quality + repetition, C4, FineWeb and Korean kernels of :mod:`quality.signals` in a
``mapInArrow`` UDF → Delta ``quality_signals`` (37 numbers per document, every document), with the
``quality_signals`` table removed before each run so that every document is scored. Timed around
``signals.run`` (reads, UDF, Delta write and commit); the Spark session's start-up is excluded and
shown in the notes. No quality classifier is trained in this workdir, so ``fasttext_quality`` is
null and not computed.

datatrove 0.10.1 (``--bench-python``, default ``.venv-bench/bin/python``, made by
``benchmarks/setup_peers.sh``): this same file runs in that interpreter with ``--datatrove-child``.
datatrove's filters take their language in the constructor (``language=``, default English), and
split words with the tokenizer its ``tokenizer_assignment.csv`` gives that language: spaCy's
English tokenizer for ``eng``, kiwipiepy's ``Kiwi(model_type="sbg")`` for ``kor``. So the documents
are exported in two folders by moru's language label (``ko`` / ``ko+en`` → ``kor``, the Korean
word rules moru applies too; everything else → ``eng``), and one ``LocalPipelineExecutor(tasks=
--shards, workers=--workers)`` per language runs ``ParquetReader`` → ``GopherQualityFilter`` →
``GopherRepetitionFilter`` → ``C4QualityFilter`` → ``FineWebQualityFilter``, each with its default
thresholds and that language; the two executors run one after the other, timed together around
their ``run()`` (worker pool and tokenizer start-up included, interpreter start and imports not).
Nothing is written after the filters (a writer would only add to datatrove's time).

What is computed differs, and the differences favour datatrove: its filters stop at the first rule
a document fails (a document dropped by the Gopher quality filter is never tokenized again or seen
by the other three), while moru computes every signal of every document, adds the Korean signals
(script ratios, jamo runs, eojeol lengths, sentence endings, MeCab morpheme count) and writes them
to Delta. The notes print how many documents each datatrove filter saw and dropped, and why.

CPU core-seconds of each tool's process tree, and of everything else on the machine, are metered
with ``CpuMeter`` from ``benchmarks/ingest_lid.py``. Results: ``benchmarks/out/quality.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# This file's name shadows moru's `quality` package for any script run from benchmarks/ (Python puts
# a script's folder first on sys.path). Imported under that name, it hands the importer the real
# package instead (the import system returns whatever sys.modules holds once the module has run);
# run as the benchmark, it drops its folder from the import path.
_elsewhere = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if __name__ == "quality":
    _path, sys.path[:] = sys.path[:], _elsewhere
    del sys.modules["quality"]
    import quality as _package  # noqa: E402

    sys.modules["quality"], sys.path[:] = _package, _path
else:
    sys.path[:] = _elsewhere
# The helpers of ingest_lid.py (stdlib only, so usable in .venv-bench too), loaded from their file.
_spec = importlib.util.spec_from_file_location("ingest_lid", HERE / "ingest_lid.py")
_ingest_lid = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ingest_lid)
CpuMeter, _step_stats = _ingest_lid.CpuMeter, _ingest_lid._step_stats

KOREAN_LABELS = ("ko", "ko+en")  # moru's quality.signals.compute.KOREAN_LANGS
DATATROVE_LANGS = ("kor", "eng")  # datatrove's Languages.korean / Languages.english


# ----------------------------------------------------------------------------- datatrove side
# Runs inside .venv-bench (no moru imports here).


def _datatrove_child(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import ParquetReader

    executors = []
    for lang in DATATROVE_LANGS:
        folder = Path(args.input) / lang
        tasks = len(list(folder.glob("*.parquet")))
        if not tasks:
            continue
        pipeline = [
            ParquetReader(str(folder), glob_pattern="*.parquet", text_key="text", id_key="id"),
            GopherQualityFilter(language=lang),
            GopherRepetitionFilter(language=lang),
            C4QualityFilter(language=lang),
            FineWebQualityFilter(language=lang),
        ]
        executor = LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=tasks,
            workers=args.workers,
            logging_dir=str(Path(args.logs) / lang),
            skip_completed=False,
        )
        executors.append((lang, executor))
    seconds_by_lang = {}
    with CpuMeter() as meter:
        started = time.perf_counter()
        for lang, executor in executors:
            t = time.perf_counter()
            executor.run()
            seconds_by_lang[lang] = time.perf_counter() - t
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "seconds_by_lang": seconds_by_lang,
                "version": version("datatrove"),
                "kiwipiepy": version("kiwipiepy"),
                "spacy": version("spacy"),
                "cpu": meter.result,
            }
        )
    )


def _run_datatrove(args: argparse.Namespace, input_dir: Path, out: Path) -> dict:
    logs = out / "datatrove_logs"
    shutil.rmtree(logs, ignore_errors=True)
    cmd = [
        args.bench_python,
        str(Path(__file__).resolve()),
        "--datatrove-child",
        "--input",
        str(input_dir),
        "--logs",
        str(logs),
        "--workers",
        str(args.workers),
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH="")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(out))
    (out / "datatrove.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"datatrove run failed (exit {proc.returncode}); log in {out / 'datatrove.log'}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["steps"] = {}
    for lang in DATATROVE_LANGS:
        if (logs / lang / "stats.json").is_file():
            result["steps"][lang] = _step_stats(logs / lang / "stats.json")
    return result


# ----------------------------------------------------------------------------- moru side


def _prepare_child(args: argparse.Namespace) -> None:
    """Not timed: JSONL → Delta raw_documents → documents (moru's ingest + normalize), then the same
    documents as Parquet for datatrove, one folder per datatrove language."""
    from pyspark.sql import functions as F

    from spark_jobs import ingest, normalize, tables
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
    from spark_jobs.session import SparkConfig, build_session

    workdir, export = Path(args.output), Path(args.export)
    for d in (workdir, export):
        shutil.rmtree(d, ignore_errors=True)
    spark = build_session(SparkConfig(master=f"local[{args.workers}]"))
    started = time.perf_counter()
    source = SourceConfig(
        name="bench", path=args.input, format="jsonl", fields=FieldMapping(text="text", id="id", url="url")
    )
    ingest.run(spark, str(workdir), [source], IngestConfig())
    normalize_stats = normalize.run(spark, str(workdir))
    docs = tables.read(spark, str(workdir), tables.DOCUMENTS)
    is_korean = F.col("lang").isin(*KOREAN_LABELS)
    for lang, cond in zip(DATATROVE_LANGS, (is_korean, ~is_korean), strict=True):
        (
            docs.filter(cond)
            .select(F.col("doc_id").alias("id"), "text")
            .repartition(args.shards, "id")
            .write.parquet(str(export / lang))
        )
    lang_counts = {r["lang"]: r["count"] for r in docs.groupBy("lang").count().collect()}
    stats = docs.agg(F.count("*").alias("n"), F.sum("n_chars").alias("chars"), F.max("n_chars").alias("longest")).head()
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "documents": stats["n"],
                "chars": stats["chars"],
                "longest": stats["longest"],
                "lang_counts": lang_counts,
                "quarantined": normalize_stats.rows_rejected,
                "documents_files": len(list((workdir / "tables" / "documents").rglob("*.parquet"))),
            }
        )
    )
    spark.stop()


def _moru_child(args: argparse.Namespace) -> None:
    """One timed signals job in a fresh interpreter and JVM, every document scored."""
    from spark_jobs import signals, tables
    from spark_jobs.session import SparkConfig, build_session

    workdir = args.output
    shutil.rmtree(Path(workdir) / "tables" / tables.QUALITY_SIGNALS.name, ignore_errors=True)
    started = time.perf_counter()
    spark = build_session(SparkConfig(master=f"local[{args.workers}]"))
    session_seconds = time.perf_counter() - started
    with CpuMeter() as meter:
        started = time.perf_counter()
        stats = signals.run(spark, workdir)
        seconds = time.perf_counter() - started
    scored = tables.read(spark, workdir, tables.QUALITY_SIGNALS).count()  # not timed
    spark.stop()
    result = {"seconds": seconds, "session_seconds": session_seconds, "cpu": meter.result, "rows": scored}
    print(json.dumps({**result, "stats": stats.as_dict()}, default=str))


def _run_moru_child(args: argparse.Namespace, mode: str, **paths: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), f"--{mode}-child", "--workers", str(args.workers)]
    cmd += ["--shards", str(args.shards)]
    for key, value in paths.items():
        cmd += [f"--{key}", value]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO))
    log = Path(paths["output"]).parent / f"moru-{mode}.log"
    log.write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"moru {mode} failed (exit {proc.returncode}); log in {log}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report


def _filter_lines(steps: dict[str, dict[str, dict]]) -> list[str]:
    """Per language and filter: documents seen, dropped, and the main drop reasons."""
    lines = []
    for lang, by_step in steps.items():
        parts = []
        for name, s in by_step.items():
            if "FILTER" not in name:
                continue
            name = re.sub(r"^[^A-Za-z]+", "", name.split(":", 1)[-1])  # "🔻 - FILTER: 🥇 Gopher Quality"
            seen = int(s.get("total", 0))
            dropped = int(s.get("dropped", 0))
            reasons = sorted(
                ((k.removeprefix("dropped_"), int(v)) for k, v in s.items() if k.startswith("dropped_")),
                key=lambda kv: -kv[1],
            )
            why = ", ".join(f"{k} {v:,}" for k, v in reasons[:3])
            parts.append(f"{name}: saw {seen:,}, dropped {dropped:,}" + (f" ({why})" if why else ""))
        lines.append(f"  datatrove {lang}: " + "; ".join(parts))
    return lines


def _table(res: dict) -> list[str]:
    n = res["documents"]
    prep = res["prepare"]
    med = lambda runs, f: statistics.median(f(r) for r in runs)  # noqa: E731
    every = lambda runs: "  ".join(f"{r['seconds']:.1f}" for r in runs)  # noqa: E731
    m_runs, d_runs = res["moru_runs"], res["datatrove_runs"]
    d = d_runs[-1]
    rows = [
        (
            f"moru (Spark local[{res['workers']}] + Delta)",
            res["moru_seconds_median"],
            med(m_runs, lambda r: r["cpu"]["ours_cpu_s"]),
            every(m_runs),
        ),
        (
            f"datatrove {d['version']} (workers={res['workers']})",
            res["datatrove_seconds_median"],
            med(d_runs, lambda r: r["cpu"]["ours_cpu_s"]),
            every(d_runs),
        ),
    ]
    ko = sum(v for k, v in prep["lang_counts"].items() if k in KOREAN_LABELS)
    lines = [
        f"heuristic quality signals, {n:,} documents ({ko:,} ko/ko+en, {n - ko:,} other; "
        f"{prep['chars'] / 1e6:.0f} M characters), {res['machine']}; medians of {res['repeat']} alternating runs",
        "",
        f"{'':36} {'seconds':>9} {'docs/s':>9} {'CPU core-s':>11}   every run (s)",
    ]
    for name, secs, cpu, runs in rows:
        lines.append(f"{name:36} {secs:>9.1f} {n / secs:>9,.0f} {cpu:>11.0f}   {runs}")
    for lang in DATATROVE_LANGS:
        if lang in d["seconds_by_lang"]:
            docs_lang = ko if lang == "kor" else n - ko
            secs = med(d_runs, lambda r, lang=lang: r["seconds_by_lang"][lang])
            lines.append(f"{'  ' + lang + ' pipeline':36} {secs:>9.1f} {docs_lang / secs:>9,.0f}")
    shares = [r["cpu"]["others_share"] for r in m_runs + d_runs]
    m = m_runs[-1]
    lines += [
        "",
        "notes:",
        f"  input: moru ingest + normalize of {res['docs']:,} generated documents → {n:,} rows of Delta documents "
        f"(not timed, {prep['seconds']:.0f} s); datatrove reads the same rows exported to Parquet",
        f"  moru: signals.run scored {m['stats']['rows_out']:,} documents, quality_signals holds {m['rows']:,} rows "
        f"({'all accounted for' if m['rows'] == n == m['stats']['rows_out'] else 'COUNTS DO NOT ADD UP'}); "
        f"Spark session start-up ({m['session_seconds']:.1f} s) not timed",
        "  moru CPU by process: " + ", ".join(f"{k} {v:.0f} core-s" for k, v in m["cpu"]["by_name"].items()),
        f"  datatrove words: spaCy {d['spacy']} (eng), kiwipiepy {d['kiwipiepy']} Kiwi sbg (kor); filters "
        "stop at a document's first failed rule",
        *_filter_lines(d["steps"]),
        "  moru computes all 37 signals of every document (Korean ones included) and writes them to Delta",
        f"  CPU used by other processes during the timed runs: at most {max(shares):.0%} of the machine"
        + ("  <- NOISY, re-run on a quiet machine" if max(shares) > 0.10 else ""),
        "  per-pair ratios (datatrove s / moru s): " + "  ".join(f"{r:.2f}" for r in res["pair_ratios"]),
        "",
        f"moru / datatrove = {res['ratio']:.2f}× (documents/second, medians)",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=16, help="input JSONL files, and Parquet files per language")
    parser.add_argument("--workers", type=int, default=2, help="Spark local[N] and datatrove workers")
    parser.add_argument("--out", default=str(HERE / "out" / "quality"))
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternating datatrove / moru runs; the headline compares the medians"
    )
    parser.add_argument(
        "--reuse-input",
        action="store_true",
        help="keep the documents table and export of an earlier run with the same --docs, --shards and generator",
    )
    parser.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    # internal: the children
    for name in ("--datatrove-child", "--moru-child", "--prepare-child"):
        parser.add_argument(name, action="store_true", help=argparse.SUPPRESS)
    for name in ("--input", "--output", "--export", "--logs"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datatrove_child:
        _datatrove_child(args)
        return
    if args.moru_child:
        _moru_child(args)
        return
    if args.prepare_child:
        _prepare_child(args)
        return

    if not Path(args.bench_python).is_file():
        raise SystemExit(f"{args.bench_python} not found: run benchmarks/setup_peers.sh")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    input_dir, workdir, export, marker = out / "input", out / "workdir", out / "datatrove_input", out / "input.json"
    from demo.corpus import generator_digest

    generator = generator_digest()
    wanted = {"docs": args.docs, "shards": args.shards, "seed": 0, "generator": generator}
    if args.reuse_input and marker.is_file() and json.loads(marker.read_text())["wanted"] == wanted:
        prep = json.loads(marker.read_text())["prepare"]
        print(f"reusing {workdir} ({prep['documents']:,} documents, same generator)", flush=True)
    else:
        from demo.corpus import generate_jsonl

        shutil.rmtree(input_dir, ignore_errors=True)
        marker.unlink(missing_ok=True)
        print(f"generating {args.docs:,} docs in {args.shards} shards ...", flush=True)
        generate_jsonl(input_dir, args.docs, seed=0, shard_docs=-(-args.docs // args.shards))
        print("moru ingest + normalize → documents, and the Parquet export for datatrove (not timed) ...", flush=True)
        prep = _run_moru_child(args, "prepare", input=str(input_dir), output=str(workdir), export=str(export))
        marker.write_text(json.dumps({"wanted": wanted, "prepare": prep}))
    print(f"  {prep['documents']:,} documents", flush=True)

    load_start = os.getloadavg()
    dts, morus = [], []
    for i in range(args.repeat):
        tag = f"[{i + 1}/{args.repeat}]"
        print(f"{tag} datatrove ...", flush=True)
        dts.append(_run_datatrove(args, export, out))
        print(f"  {dts[-1]['seconds']:.1f} s", flush=True)
        print(f"{tag} moru ...", flush=True)
        morus.append(_run_moru_child(args, "moru", output=str(workdir)))
        print(f"  {morus[-1]['seconds']:.1f} s", flush=True)

    moru_median = statistics.median(m["seconds"] for m in morus)
    dt_median = statistics.median(d["seconds"] for d in dts)
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    n = prep["documents"]
    res = {
        "docs": args.docs,
        "documents": n,
        "shards": args.shards,
        "workers": args.workers,
        "machine": f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, "
        f"{platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "repeat": args.repeat,
        "prepare": prep,
        "moru_runs": morus,
        "datatrove_runs": dts,
        "moru_seconds_median": moru_median,
        "datatrove_seconds_median": dt_median,
        "docs_per_s": {"moru": n / moru_median, "datatrove": n / dt_median},
        "pair_ratios": [d["seconds"] / m["seconds"] for d, m in zip(dts, morus, strict=True)],
        "ratio": dt_median / moru_median,
    }
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "quality.json").write_text(json.dumps(res, indent=1, default=str))
    print()
    print("\n".join(_table(res)))


if __name__ == "__main__":
    main()
