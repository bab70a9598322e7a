"""One real cluster for every test in tests/cluster: a Spark standalone master and two workers (1 core each) from the
installed pyspark, and SeaweedFS's S3 gateway (`weed server -s3`), all on 127.0.0.1 with free ports and a temporary
folder, started by scripts/local_cluster.sh (what the README's standalone section runs) and stopped on success and
failure alike (fixture finalizer, atexit, each process in its own process group).

The workers run with an empty environment: no virtualenv, no moru. Python reaches their executors only through the
environment archive of `moru package` (built once per sources hash, its dependency layer kept in
${XDG_CACHE_HOME:-~/.cache}/moru/cluster-env). Every run on the cluster is `moru run --config …` in a subprocess, as a
user runs it: its driver is its own, not the local[*] session of tests/conftest.py.

The clean run (ingest → select on a few hundred generated ko/en documents in the bucket, workdir s3a://…) and the
local[*] run of the same input are made once per session and shared by the tests that compare against them.
"""

from __future__ import annotations

import atexit
import os
import random
import time
from pathlib import Path

import pytest

from tests.cluster.helpers import (
    N_DOCS,
    ROOT,
    STAGES,
    Cluster,
    Run,
    _ports,
    _stop_all,
    cache_dir,
    finish,
    local_run,
    output,
    require_setup,
)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    require_setup()
    folder = tmp_path_factory.mktemp("cluster")
    rng = random.Random(os.getpid() ^ int(time.time()))
    taken: set[int] = set()
    weed = _ports(rng, taken, (0, 1, 2, 10000, 10001, 10002))
    s3 = _ports(rng, taken, (0, 10000))
    master = _ports(rng, taken, (0,))
    master_ui = _ports(rng, taken, (0,))
    env = dict(os.environ)
    env.update({
        "MORU_CLUSTER_DIR": str(folder), "MORU_WORKERS": "2", "MORU_WORKER_MEMORY": "1g",
        "MORU_MASTER_PORT": str(master), "MORU_MASTER_UI_PORT": str(master_ui), "MORU_WEED_PORT": str(weed),
        "MORU_S3_PORT": str(s3), "MORU_S3_ACCESS_KEY": "moru-test", "MORU_S3_SECRET_KEY": "moru-test-secret",
        "MORU_BUCKET": "moru", "MORU_PYTHON": str(ROOT / ".venv" / "bin" / "python"),
    })  # fmt: skip
    atexit.register(_stop_all, env, folder)
    events = folder / "events"
    events.mkdir()
    c = Cluster(dir=folder, env=env, master=f"spark://127.0.0.1:{master}", master_ui=f"http://127.0.0.1:{master_ui}",
                endpoint=f"http://127.0.0.1:{s3}", access_key="moru-test", secret_key="moru-test-secret",
                bucket="moru", events=events)  # fmt: skip
    try:
        c.script("start")
        yield c
    finally:
        _stop_all(env, folder)


@pytest.fixture(scope="session")
def env_archive() -> Path:
    """The environment archive of the working tree (moru.package.cached_archive: rebuilt when a source changes, the
    dependencies' environment reused while pyproject.toml and the installed versions stay the same)."""
    from moru.package import cached_archive

    result = cached_archive(cache_dir() / "cluster-env")
    print(f"\nenvironment archive: {result.archive} ({result.archive.stat().st_size >> 20} MiB, "
          f"{result.seconds:.0f} s)")  # fmt: skip
    return result.archive


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A few hundred documents of the demo generator's bilingual corpus (ko, en, mixed), one JSONL file."""
    from demo.corpus import generate_jsonl

    folder = tmp_path_factory.mktemp("input")
    (path,) = generate_jsonl(folder, n_docs=N_DOCS, seed=23)
    return Path(path)


@pytest.fixture(scope="session")
def clean_run(cluster, env_archive, corpus, tmp_path_factory, spark) -> tuple[Run, Path]:
    """The clean cluster run (`moru run --stage …` on the standalone profile, workdir s3a://moru/runs/clean) and,
    while it runs, the local[*] run of the same input in this process (tests/conftest.py's session): (run, local
    workdir)."""
    cluster.archive = env_archive
    cluster.upload(corpus, "input/part-00000.jsonl")
    folder = tmp_path_factory.mktemp("clean")
    cfg = cluster.config(folder / "clean.yaml", f"s3a://{cluster.bucket}/runs/clean")
    started = time.time()
    proc = cluster.moru(cfg, "run", *[a for s in STAGES for a in ("--stage", s)], wait=False)
    local = folder / "local"
    local_run(spark, corpus, local)
    finish(proc)
    run = Run(f"s3a://{cluster.bucket}/runs/clean", cfg, proc, time.time() - started)
    assert proc.returncode == 0, output(proc)[-6000:]
    return run, local
