"""Scaling on the local standalone cluster: the same input at 1 and 2 workers (1 core each), docs/s per stage with
the per-stage ratio, and the cost of an s3a:// workdir against a local-disk one.

    .venv/bin/python benchmarks/cluster_scaling.py [--docs 2000]

It starts its own cluster with scripts/local_cluster.sh (free ports, a temporary folder; SeaweedFS and the S3A jars
from scripts/setup.sh), puts a generated bilingual corpus (demo.corpus) in the bucket, ships the environment archive
of the working tree (moru.package.cached_archive) and runs `moru run --stage …` (ingest → select) three times, each
a fresh driver (`moru` in a subprocess, the standalone profile):

  1. one worker, workdir s3a://moru/bench/w1
  2. two workers, workdir s3a://moru/bench/w2
  3. two workers, workdir on the local disk (the workers share this machine's disk)

Seconds per stage come from each run's manifest (what `moru run` reports); docs/s = the documents the stage read /
its seconds. The application's start (driver JVM, executors, the archive unpacked on each) is reported apart. The
machine's load average is printed before and after: other processes share the 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.helpers import STAGES, Cluster, _ports, _stop_all, cache_dir, output, require_setup  # noqa: E402


def start_cluster(folder: Path, workers: int) -> Cluster:
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    taken: set[int] = set()
    weed = _ports(rng, taken, (0, 1, 2, 10000, 10001, 10002))
    s3 = _ports(rng, taken, (0, 10000))
    master, master_ui = _ports(rng, taken, (0,)), _ports(rng, taken, (0,))
    env = dict(os.environ)
    env.update({
        "MORU_CLUSTER_DIR": str(folder), "MORU_WORKERS": str(workers), "MORU_WORKER_MEMORY": "1g",
        "MORU_MASTER_PORT": str(master), "MORU_MASTER_UI_PORT": str(master_ui), "MORU_WEED_PORT": str(weed),
        "MORU_S3_PORT": str(s3), "MORU_S3_ACCESS_KEY": "bench", "MORU_S3_SECRET_KEY": "bench-secret",
        "MORU_BUCKET": "moru", "MORU_PYTHON": str(ROOT / ".venv" / "bin" / "python"),
    })  # fmt: skip
    events = folder / "events"
    events.mkdir(parents=True, exist_ok=True)
    c = Cluster(dir=folder, env=env, master=f"spark://127.0.0.1:{master}", master_ui=f"http://127.0.0.1:{master_ui}",
                endpoint=f"http://127.0.0.1:{s3}", access_key="bench", secret_key="bench-secret", bucket="moru",
                events=events)  # fmt: skip
    c.script("start")
    return c


def manifest(cluster: Cluster, workdir: str) -> dict:
    from core import storage

    with _s3_env(cluster):
        folder = storage.join(workdir, "manifests")
        (latest,) = [i for i in storage.list_dir(folder) if i.path.endswith(".json")][-1:]
        fsys, _ = storage.filesystem(workdir)
        with fsys.open_input_stream(latest.path) as stream:
            return json.loads(stream.read())


class _s3_env:
    def __init__(self, cluster: Cluster):
        self.env = {"AWS_ENDPOINT_URL": cluster.endpoint, "AWS_ACCESS_KEY_ID": cluster.access_key,
                    "AWS_SECRET_ACCESS_KEY": cluster.secret_key, "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(cluster: Cluster, folder: Path, name: str, workdir: str) -> dict:
    cfg = cluster.config(folder / f"{name}.yaml", workdir, app_name=f"bench-{name}")
    started = time.time()
    proc = cluster.moru(cfg, "run", *[a for s in STAGES for a in ("--stage", s)])
    wall = time.time() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name}: moru run failed:\n{output(proc)[-4000:]}")
    m = manifest(cluster, workdir)
    stages = {s["stage"]: s for s in m["stages"]}
    staged = sum(s["seconds"] for s in stages.values())
    print(f"  {name}: {wall:.0f} s wall, stages {staged:.0f} s", file=sys.stderr, flush=True)
    return {"wall": wall, "stages": stages, "staged": staged}


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _archive(cache: Path) -> Path:
    """The environment archive the cluster tests ship (moru.package.cached_archive), built in a child process: the
    benchmarks do not import the CLI package."""
    code = ("import sys; from pathlib import Path; from moru.package import cached_archive; "
            "print(cached_archive(Path(sys.argv[1])).archive)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, str(cache)], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=2000)
    args = p.parse_args()
    require_setup_or_exit()
    from demo.corpus import generate_jsonl

    load_before = loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="moru-cluster-bench-"))
    archive = _archive(cache_dir() / "cluster-env")
    print(f"archive: {archive} ({archive.stat().st_size >> 20} MiB)", file=sys.stderr)
    (corpus,) = generate_jsonl(tmp / "input", n_docs=args.docs, seed=11)
    results: dict[str, dict] = {}
    cluster = None
    try:
        for workers in (1, 2):
            cluster = start_cluster(tmp / f"cluster-{workers}", workers)
            cluster.archive = archive
            cluster.upload(Path(corpus), "input/part-00000.jsonl")
            results[f"w{workers}"] = run(cluster, tmp, f"w{workers}", f"s3a://moru/bench/w{workers}")
            if workers == 2:
                results["local"] = run(cluster, tmp, "local", str(tmp / "local-workdir"))
            _stop_all(cluster.env, cluster.dir)
            cluster = None
    finally:
        if cluster is not None:
            _stop_all(cluster.env, cluster.dir)
    load_after = loadavg()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster_scaling.json").write_text(json.dumps(results, indent=2, default=str))  # before any printing
    shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    header = ("stage", "docs in", "1 worker docs/s", "2 workers docs/s", "2w / 1w", "local-disk docs/s (2w)",
              "s3a / local time")  # fmt: skip
    for stage in STAGES:
        if not all(stage in results[k]["stages"] for k in ("w1", "w2", "local")):
            continue  # skipped without its inputs (classifier, decontaminate)
        w1, w2, lo = (results[k]["stages"][stage] for k in ("w1", "w2", "local"))
        n = w1["rows_in"]

        def rate(s, n=n):
            return n / s["seconds"] if s["seconds"] else float("nan")

        rows.append((stage, f"{n:,}", f"{rate(w1):,.0f}", f"{rate(w2):,.0f}", f"{w1['seconds'] / w2['seconds']:.2f}x",
                     f"{rate(lo):,.0f}", f"{w2['seconds'] / lo['seconds']:.2f}x"))  # fmt: skip
    t1, t2, tl = (results[k]["staged"] for k in ("w1", "w2", "local"))
    rows.append(("all stages", f"{args.docs:,}", f"{args.docs / t1:,.0f}", f"{args.docs / t2:,.0f}",
                 f"{t1 / t2:.2f}x", f"{args.docs / tl:,.0f}", f"{t2 / tl:.2f}x"))  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in rows:
        print("| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in
                                enumerate(zip(r, widths, strict=True))) + " |")  # fmt: skip
    starts = {k: v["wall"] - v["staged"] for k, v in results.items()}
    print(f"\napplication start + report (wall - stages): 1 worker {starts['w1']:.0f} s, 2 workers "
          f"{starts['w2']:.0f} s, 2 workers local-disk workdir {starts['local']:.0f} s")  # fmt: skip
    print(f"load average (1/5/15 min) before: {load_before}, after: {load_after} (2 cores, shared)")
    print(f"\nheadline: 2 workers / 1 worker = {t1 / t2:.2f}x docs/s over the stages; an s3a:// workdir costs "
          f"{t2 / tl:.2f}x the time of a local-disk one (2 workers, {args.docs:,} documents)")  # fmt: skip


def require_setup_or_exit() -> None:
    import pytest

    try:
        require_setup()
    except pytest.fail.Exception as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
