"""Near-duplicate dedup at corpus scale: moru vs text-dedup (Spark) vs datatrove, one corpus, one run.

    benchmarks/setup_peers.sh                    # once: the peers' venvs
    .venv/bin/python benchmarks/dedup.py [--docs 300000] [--workers 2] [--skip-peers]

The corpus is :func:`demo.dedup_eval.make_corpus`: ``--docs`` Korean (55 %) and English news-like
documents with boilerplate headers/footers, 20 % of the bases with 1-3 independently edited copies
(word insertions/deletions/substitutions up to 30 %, boilerplate swaps, Korean re-spacing), and 5 %
distinct one-sentence posts. It is written once as 8 Parquet shards of ``{"id", "text"}`` that every
tool reads. Same settings for all: word 5-grams, 128 permutations, threshold 0.8, 16 bands x 8 rows.

- **moru** (this venv): ingest + normalize to Delta first (not timed), then, timed, the two dedup
  jobs as ``moru dedup`` runs them: exact dedup (canonical hash) and MinHash-LSH
  (``spark_jobs.dedup.minhash``: signatures, bands, candidate verification, components) with its
  defaults (Hangul character 12-grams, exact Jaccard verification), Spark ``local[--workers]``.
- **text-dedup 0.3.1** (``--textdedup-python``, default ``.venv-textdedup/bin/python``;
  ``python3.11 -m venv .venv-textdedup && .venv-textdedup/bin/pip install "pyspark==3.5.7" "numpy<2"
  "scipy<1.14" "rich<13" pyarrow pandas && .venv-textdedup/bin/pip install --no-deps text-dedup==0.3.1``;
  its pins, pyspark < 4 and numpy < 2, clash with moru's). Its ``text_dedup/minhash_spark.py``
  reads a BigQuery table; the driver here runs the released module's own functions
  (``generate_hash_values``, ``generate_edges``, ``large_star_*``, ``small_star_*``) in the order
  its ``__main__`` does, with ``spark.read.parquet`` in place of the BigQuery reader and
  ``--b 16 --r 8``, on the same local Spark (``local[--workers]``, 4g driver). 0.4.0 needs
  GraphFrames for its components, and no GraphFrames jar for Spark 3.5/4.0 is on Maven Central.
- **datatrove 0.10.1** (``--bench-python``, default ``.venv-bench/bin/python``, with ``spacy``
  for its English word tokenizer): the four MinHash stages (signature, buckets, cluster, filter)
  with ``MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8)``, English tokenization for
  every document (one language per pipeline), ``LocalPipelineExecutor(workers=--workers)``.

Each tool runs in a fresh process; its interpreter, JVM/pool start and (for moru) the ingest and
normalize that build its input table are not timed. Throughput = documents / timed seconds.

**F1.** Pair level, at 0.8. Truth: the planted pairs whose true Jaccard (word 5-grams of the logical
words, see ``moru/dedup_eval.py``) is >= 0.8, pooled with every pair any tool merged across planted
groups that turns out to be a true near duplicate when its true Jaccard is computed (clusters up to
200 members are checked pair by pair; larger ones by a sample of 2,000 pairs, reported). Predicted
pairs: every pair inside a tool's cluster (for moru, the near cluster of a document's exact keeper).
Connected components are transitive, so two copies edited apart (Jaccard < 0.8 to each other, both
>= 0.8 to their base) land in one cluster and count as a false pair for every tool. Also printed:
document-level F1 (a document with a true near duplicate should be in a cluster, and only those).

moru also runs at ``--docs``/4 and ``--docs``/2 (own corpora) to show how its time grows with size.
Results: ``benchmarks/out/dedup/results.json`` and ``scaling.png``; the headline ratio is the last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import random
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NGRAM, NUM_PERM, THRESHOLD, BANDS, ROWS = 5, 128, 0.8, 16, 8
SHARDS = 8


# ----------------------------------------------------------------------------- children
def _textdedup_child(args: argparse.Namespace) -> None:
    """text-dedup 0.3.1's minhash_spark ``__main__``, step by step, reading Parquet (runs in its venv)."""
    import numpy as np
    from pyspark import SparkConf
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from text_dedup import minhash_spark as td

    conf = SparkConf()
    conf.set("spark.app.name", "MinHashLSH")
    conf.set("spark.debug.maxToStringFields", "100")
    conf.setMaster(f"local[{args.workers}]").set("spark.driver.memory", "4g")
    conf.set("spark.ui.enabled", "false")
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    B, R = BANDS, ROWS
    HASH_RANGES = [(i * R, (i + 1) * R) for i in range(B)]
    PERMUTATIONS = np.array(
        [
            (
                td.RNG.randint(1, td.MERSENNE_PRIME, dtype=np.uint64),
                td.RNG.randint(0, td.MERSENNE_PRIME, dtype=np.uint64),
            )
            for _ in range(NUM_PERM)
        ],
        dtype=np.uint64,
    ).T
    num_perm, ngram_size, min_length = NUM_PERM, NGRAM, 5

    started = time.perf_counter()
    df = spark.read.parquet(args.input)
    df = df.withColumn("__id__", F.monotonically_increasing_id()).cache()
    records = df.select("__id__", "text").rdd
    records = records.repartition(num_perm * 2).cache()
    edges = (
        records.flatMap(
            lambda x: td.generate_hash_values(
                content=x[1],
                idx=x[0],
                num_perm=num_perm,
                ngram_size=ngram_size,
                min_length=min_length,
                hashranges=HASH_RANGES,
                permutations=PERMUTATIONS,
            )  # fmt: skip
        )
        .groupBy(lambda x: (x[0], x[1]))
        .flatMap(lambda x: td.generate_edges([i[2] for i in x[1]]))
        .distinct()
        .cache()
    )
    a = edges
    rounds = 0
    while True:
        rounds += 1
        b = a.flatMap(td.large_star_map).groupByKey().flatMap(td.large_star_reduce).distinct().cache()
        a = b.map(td.small_star_map).groupByKey().flatMap(td.small_star_reduce).distinct().cache()
        changes = a.subtract(b).union(b.subtract(a)).collect()
        if len(changes) == 0:
            break
    results = a.collect()
    components = spark.createDataFrame(results, schema=["__id__", "component"]).sort(["component", "__id__"])
    kept = df.join(components, on="__id__", how="left")
    kept = kept.filter(F.col("component").isNull()).drop("__id__", "component").cache()
    kept.write.json(args.output + "/kept", mode="overwrite")
    seconds = time.perf_counter() - started

    # not timed: the id -> component map for scoring (each component's minimum is its root)
    members = df.join(components, on="__id__", how="inner").select("id", F.col("component").cast("string"))
    roots = df.join(components.select(F.col("component").alias("__id__")).distinct(), "__id__").select(
        "id", F.col("__id__").cast("string").alias("component")
    )
    members.union(roots).write.parquet(args.output + "/clusters", mode="overwrite")
    print(json.dumps({"seconds": seconds, "rounds": rounds, "kept": spark.read.json(args.output + "/kept").count()}))
    spark.stop()


def _datatrove_child(args: argparse.Namespace) -> None:
    """datatrove's four MinHash stages with 2 workers (runs in .venv-bench)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    out = Path(args.output)
    cfg = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    logs = str(out / "logs")

    def executor(name: str, pipeline: list, tasks: int) -> LocalPipelineExecutor:
        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=args.workers, logging_dir=f"{logs}/{name}")

    def reader() -> ParquetReader:
        return ParquetReader(args.input, text_key="text", id_key="id")

    stages = [
        executor("signatures", [reader(), MinhashDedupSignature(output_folder=str(out / "sigs"), config=cfg)], SHARDS),
        executor(
            "buckets",
            [MinhashDedupBuckets(input_folder=str(out / "sigs"), output_folder=str(out / "buckets"), config=cfg)],
            BANDS,
        ),
        executor(
            "clusters",
            [
                MinhashDedupCluster(
                    input_folder=str(out / "buckets"),
                    output_folder=str(out / "remove"),
                    config=cfg,
                    save_cluster_id=True,
                )
            ],
            1,
        ),
        executor(
            "filter",
            [
                reader(),
                MinhashDedupFilter(
                    input_folder=str(out / "remove"),
                    exclusion_writer=JsonlWriter(str(out / "removed"), compression=None),
                    load_cluster_ids=True,
                ),
                JsonlWriter(str(out / "kept"), compression=None),
            ],
            SHARDS,
        ),
    ]
    started = time.perf_counter()
    stage_seconds = {}
    for name, ex in zip(("signatures", "buckets", "clusters", "filter"), stages, strict=True):
        t = time.perf_counter()
        ex.run()
        stage_seconds[name] = round(time.perf_counter() - t, 1)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "stages": stage_seconds}))


def _moru_child(args: argparse.Namespace) -> None:
    """moru: ingest + normalize (not timed), then exact + MinHash dedup (timed), then the cluster map."""
    from pyspark.sql import functions as F

    from spark_jobs import ingest, normalize, tables
    from spark_jobs.dedup import DedupConfig, exact, minhash
    from spark_jobs.dedup.config import MinHashConfig
    from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
    from spark_jobs.session import SparkConfig, build_session

    workdir = args.output + "/workdir"
    shutil.rmtree(workdir, ignore_errors=True)
    spark = build_session(SparkConfig(master=f"local[{args.workers}]"))
    t = time.perf_counter()
    src = SourceConfig(name="bench", path=args.input, format="parquet", fields=FieldMapping(id="id", text="text"))
    ingest.run(spark, workdir, [src], IngestConfig())
    normalize.run(spark, workdir)
    prepare = time.perf_counter() - t
    cfg = DedupConfig(minhash=MinHashConfig(ngram=NGRAM, num_perm=NUM_PERM, threshold=THRESHOLD))
    started = time.perf_counter()
    ex = exact.run(spark, workdir, cfg)
    exact_seconds = time.perf_counter() - started
    mh = minhash.run(spark, workdir, cfg)
    seconds = time.perf_counter() - started
    # not timed: record id -> duplicate group (near cluster of the document's exact keeper)
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select(
        "doc_id", F.regexp_replace("record_key", "^id:", "").alias("id")
    )
    keeper = tables.read(spark, workdir, tables.EXACT_DUPLICATES).select("doc_id", "keeper_doc_id")
    near = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).select(
        F.col("doc_id").alias("keeper_doc_id"), F.col("cluster_id").alias("component")
    )
    groups = raw.join(keeper, "doc_id").join(near, "keeper_doc_id", "left")
    groups = groups.select("id", F.coalesce("component", "keeper_doc_id").alias("component"))
    groups.write.mode("overwrite").parquet(args.output + "/clusters")
    print(json.dumps({"seconds": seconds, "exact_seconds": exact_seconds, "prepare_seconds": prepare,
                      "exact": ex.as_dict(), "minhash": mh.as_dict()}, default=str))  # fmt: skip
    spark.stop()


# ----------------------------------------------------------------------------- parent
def _write_corpus(n_docs: int, seed: int, folder: Path) -> Path:
    """The corpus as Parquet shards plus a pickle of the truth; reused when already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from demo.dedup_eval import make_corpus

    stamp = folder / "corpus.pkl"
    if stamp.exists():
        return stamp
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "parquet").mkdir(parents=True)
    t = time.perf_counter()
    corpus = make_corpus(n_docs, seed)
    per = math.ceil(len(corpus.docs) / SHARDS)
    for i in range(SHARDS):
        part = corpus.docs[i * per : (i + 1) * per]
        table = pa.table({"id": [d["id"] for d in part], "text": [d["text"] for d in part]})
        pq.write_table(table, folder / "parquet" / f"part-{i:03d}.parquet")
    with open(stamp, "wb") as f:
        pickle.dump(corpus, f, protocol=pickle.HIGHEST_PROTOCOL)
    took = time.perf_counter() - t
    print(f"corpus: {len(corpus.docs):,} documents, {len(corpus.pairs):,} planted pairs in {took:.0f} s", flush=True)
    return stamp


def _child(python: str, tool: str, input_dir: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [python, str(Path(__file__).resolve()), "--child", tool, "--input", str(input_dir), "--output", str(out),
           "--workers", str(workers)]  # fmt: skip
    env = {**os.environ, "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}
    if tool == "moru":
        env["PYTHONPATH"] = str(REPO)
    print(f"running {tool} …", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO if tool == "moru" else out))
    (out / f"{tool}.log").write_text(proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{tool} failed (exit {proc.returncode}); log in {out / f'{tool}.log'}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {tool}: {result['seconds']:.1f} s", flush=True)
    return result


def _clusters(tool: str, out: Path) -> dict[str, str]:
    """document id -> cluster label, for documents in a cluster of two or more."""
    import pyarrow.parquet as pq

    got: dict[str, str] = {}
    if tool in ("moru", "text-dedup"):
        table = pq.read_table(out / "clusters", columns=["id", "component"]).to_pydict()
        got = dict(zip(table["id"], map(str, table["component"]), strict=True))
    else:
        for sub in ("kept", "removed"):
            for path in sorted((out / sub).glob("*.jsonl")):
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        doc = json.loads(line)
                        cid = doc.get("metadata", {}).get("minhash_cluster_id", -1)
                        if cid != -1:
                            got[doc["id"]] = str(cid)
    sizes = Counter(got.values())
    return {d: c for d, c in got.items() if sizes[c] > 1}


def _score(corpus, predicted: dict[str, dict[str, str]], threshold: float) -> dict[str, dict]:
    """Pooled pair-level precision/recall/F1 per tool and language (see the module docstring)."""
    from demo.dedup_eval import true_jaccard

    lang = {d["id"]: d["lang"] for d in corpus.docs}
    group = {d["id"]: d["group"] for d in corpus.docs}
    truth = {(p.a, p.b) if p.a < p.b else (p.b, p.a) for p in corpus.pairs if p.true_jaccard >= threshold}
    rng = random.Random(0)
    sampled: dict[str, dict] = {}
    members: dict[str, dict[str, list[str]]] = {}
    for tool, clusters in predicted.items():  # pool: merged pairs across planted groups that are true
        by: dict[str, list[str]] = defaultdict(list)
        for d, c in clusters.items():
            by[c].append(d)
        members[tool] = by
        checked = positive = 0
        for docs in by.values():
            if len(docs) <= 200:
                cands = [(x, y) for i, x in enumerate(sorted(docs)) for y in sorted(docs)[i + 1 :]]
            else:
                cands = [tuple(sorted(rng.sample(docs, 2))) for _ in range(2000)]
            for x, y in cands:
                if group[x] == group[y]:
                    continue
                j = true_jaccard(corpus.words[x], corpus.words[y])
                if len(docs) > 200:
                    checked += 1
                    positive += j >= threshold
                elif j >= threshold:
                    truth.add((x, y))
        sampled[tool] = {"big_clusters": sum(len(v) > 200 for v in by.values()), "sampled_pairs": checked,
                         "sampled_true": positive}  # fmt: skip
    out: dict[str, dict] = {}
    for tool, clusters in predicted.items():
        res = {}
        for lg in ("ko", "en", "all"):
            t = {q for q in truth if lg == "all" or lang[q[0]] == lg}
            tp = sum(clusters.get(x) is not None and clusters.get(x) == clusters.get(y) for x, y in t)
            n_pred = 0
            for docs in members[tool].values():
                k = len(docs) if lg == "all" else sum(lang[d] == lg for d in docs)
                n_pred += k * (k - 1) // 2
            p = tp / n_pred if n_pred else 1.0
            r = tp / len(t) if t else 1.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            res[lg] = {"precision": p, "recall": r, "f1": f1, "tp": tp, "predicted_pairs": n_pred, "positives": len(t)}
        # document level: a document with a true near duplicate should be in a cluster, and only those
        pos_docs = {d for q in truth for d in q}
        pred_docs = set(clusters)
        tp_docs = len(pos_docs & pred_docs)
        p = tp_docs / len(pred_docs) if pred_docs else 1.0
        r = tp_docs / len(pos_docs) if pos_docs else 1.0
        res["docs"] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
        res["pool"] = sampled[tool]
        res["docs_in_clusters"] = len(clusters)
        res["largest_cluster"] = max((len(v) for v in members[tool].values()), default=0)
        out[tool] = res
    return out


def _plot(scaling: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [s["docs"] for s in scaling]
    ys = [s["seconds"] for s in scaling]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, "-o", label="moru exact + MinHash dedup")
    ax.plot([0, xs[-1]], [0, ys[-1]], ":", color="grey", label="linear through the largest run")
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.0f} s\n{x / y:,.0f} docs/s", (x, y), textcoords="offset points", xytext=(-10, 8), fontsize=8)
    ax.set_xlabel("documents")
    ax.set_ylabel("seconds (timed dedup jobs)")
    ax.set_title("moru dedup time vs corpus size")
    ax.set_xlim(0, xs[-1] * 1.1)
    ax.set_ylim(0, max(ys) * 1.25)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "out" / "dedup"))
    parser.add_argument("--textdedup-python", default=str(REPO / ".venv-textdedup" / "bin" / "python"))
    parser.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--skip-peers", action="store_true", help="moru only (scaling and F1)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the two smaller moru runs")
    parser.add_argument("--rescore", action="store_true", help="score the last run's outputs again, run nothing")
    parser.add_argument("--child", choices=["moru", "text-dedup", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"moru": _moru_child, "text-dedup": _textdedup_child, "datatrove": _datatrove_child}[args.child](args)
        return

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stamp = _write_corpus(args.docs, args.seed, out / f"corpus-{args.docs}")
    with open(stamp, "rb") as f:
        corpus = pickle.load(f)
    parquet = stamp.parent / "parquet"
    runs: dict[str, dict] = {}
    tools = [("moru", sys.executable)]
    if not args.skip_peers:
        for tool, python in (("text-dedup", args.textdedup_python), ("datatrove", args.bench_python)):
            if not Path(python).exists():
                raise SystemExit(f"{python} not found: set up the peer's venv as the docstring says")
            tools.append((tool, python))
    if args.rescore:
        runs = json.loads((out / "runs.json").read_text(encoding="utf-8"))
    else:
        for tool, python in tools:
            runs[tool] = _child(python, tool, parquet, out / tool, args.workers)
            (out / "runs.json").write_text(json.dumps(runs, indent=1, default=str), encoding="utf-8")
    predicted = {tool: _clusters(tool, out / tool) for tool in runs}
    scores = _score(corpus, predicted, THRESHOLD)

    scaling = []
    if not args.no_scaling and not args.rescore:
        for n in (args.docs // 4, args.docs // 2):
            s = _write_corpus(n, args.seed, out / f"corpus-{n}")
            r = _child(sys.executable, "moru", s.parent / "parquet", out / f"moru-{n}", args.workers)
            scaling.append({"docs": n, "seconds": r["seconds"]})
        scaling.append({"docs": args.docs, "seconds": runs["moru"]["seconds"]})
        _plot(scaling, out / "scaling.png")

    n = len(corpus.docs)
    result = {"docs": n, "machine": f"{platform.node()} ({os.cpu_count()} cores)", "date": time.strftime("%Y-%m-%d"),
              "workers": args.workers, "runs": runs, "scores": scores, "scaling": scaling}  # fmt: skip
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")

    print(f"\n{n:,} documents, {len(corpus.pairs):,} planted pairs, threshold {THRESHOLD}, "
          f"{NGRAM}-grams, {NUM_PERM} perms, {BANDS}x{ROWS} bands, {args.workers} workers")  # fmt: skip
    print(f"{'tool':12} {'seconds':>8} {'docs/s':>8} {'F1 all':>7} {'F1 ko':>6} {'F1 en':>6} {'P all':>6} "
          f"{'R all':>6} {'doc F1':>7} {'largest':>8}")  # fmt: skip
    for tool in runs:
        s = scores[tool]
        sec = runs[tool]["seconds"]
        f1s = f"{s['all']['f1']:7.3f} {s['ko']['f1']:6.3f} {s['en']['f1']:6.3f}"
        pr = f"{s['all']['precision']:6.3f} {s['all']['recall']:6.3f} {s['docs']['f1']:7.3f}"
        print(f"{tool:12} {sec:8.1f} {n / sec:8.0f} {f1s} {pr} {s['largest_cluster']:8,}")
    if scaling:
        a, b = scaling[0], scaling[-1]
        exponent = math.log(b["seconds"] / a["seconds"]) / math.log(b["docs"] / a["docs"])
        sizes = ", ".join(f"{s['docs']:,}: {s['seconds']:.0f} s" for s in scaling)
        print(f"moru scaling: {sizes}; time ~ size^{exponent:.2f}")
    if "text-dedup" in runs:
        ratio = runs["text-dedup"]["seconds"] / runs["moru"]["seconds"]
        print(f"moru / text-dedup = {ratio:.2f}x documents/second (F1 {scores['moru']['all']['f1']:.3f} vs "
              f"{scores['text-dedup']['all']['f1']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
