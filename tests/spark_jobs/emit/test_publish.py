"""Publishing: merged shards are the unmerged ones end to end; a re-run with the same input does nothing and a
forced one writes byte-identical shards; a job killed (SIGKILL) after writing shards but before publishing
leaves the blends naming the previous run, whole and verified, and the next run cleans up after it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from spark_jobs import tables

from .conftest import EMIT, copy_workdir

pytestmark = pytest.mark.spark

MERGED = {**EMIT, "merge": True}
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def merged(spark, gated_workdir, tmp_path_factory):
    """A workdir of its own with a published run of merged shards."""
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    wd = copy_workdir(gated_workdir, tmp_path_factory.mktemp("publish") / "wd")
    stats = job.run(spark, str(wd), EmitConfig.model_validate(MERGED))
    return wd, stats


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}  # fmt: skip


def _manifest(wd: Path) -> dict:
    return json.loads((wd / "emit" / "manifest.json").read_text())


def test_merged_shards_are_the_partition_shards_end_to_end(spark, merged, emitted):
    from spark_jobs.emit.shards import read_dataset

    wd, stats = merged
    m = _manifest(wd)
    run_dir = Path(m["run_dir"])
    groups = {(s["stage"], s["split"], s["role"], s["lang"], s["source"]) for s in emitted.manifest["shards"]}
    assert len(m["shards"]) == len(groups) and all(s["parts"] >= 1 for s in m["shards"])
    assert not list(run_dir.rglob("part-*"))  # the parts are gone once merged
    unmerged = Path(emitted.manifest["run_dir"])
    for s in m["shards"]:
        parts = sorted(
            (p for p in emitted.manifest["shards"] if p["path"].startswith(s["path"] + "/part-")),
            key=lambda p: p["path"],
        )
        assert len(parts) == s["parts"]
        joined = b"".join((unmerged / f"{p['path']}.bin").read_bytes() for p in parts)
        assert (run_dir / f"{s['path']}.bin").read_bytes() == joined
        assert s["tokens"] == sum(p["tokens"] for p in parts) and s["documents"] == sum(p["documents"] for p in parts)
    # Delta's index of each document points into the merged file
    rows = tables.read(spark, str(wd), tables.EMITTED_DOCUMENTS).collect()
    open_ds = {s["path"]: read_dataset(str(run_dir / s["path"])) for s in m["shards"]}
    for r in rows:
        assert open_ds[r["dataset"]].sequence_lengths[r["seq_index"]] == r["n_tokens"]
    assert sorted((r["stage"], r["doc_id"], r["piece"], r["n_tokens"]) for r in rows) == sorted(
        (r["stage"], r["doc_id"], r["piece"], r["n_tokens"])
        for r in tables.read(spark, str(emitted.workdir), tables.EMITTED_DOCUMENTS).collect()
    )


def test_rerun_is_idempotent_and_byte_identical(spark, merged):
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    wd, _ = merged
    first = _manifest(wd)
    again = job.run(spark, str(wd), EmitConfig.model_validate(MERGED))
    assert again.extra["unchanged"] and again.rows_unchanged == first["counts"]["documents_in"]
    assert _manifest(wd)["run_id"] == first["run_id"]
    # forced, with other Arrow batch sizes: a new run, the same bytes
    forced = job.run(spark, str(wd), EmitConfig.model_validate({**MERGED, "batch_docs": 7}), force=True)
    second = _manifest(wd)
    assert second["run_id"] == forced.extra["run_id"] != first["run_id"]
    a, b = _files(Path(first["run_dir"])), _files(Path(second["run_dir"]))
    assert a.keys() == b.keys() and len(a) == 3 * len(first["shards"])  # .bin, .idx and the shard's record
    assert all(a[k] == b[k] for k in a)
    assert [s["files"] for s in first["shards"]] == [s["files"] for s in second["shards"]]
    blend = (wd / "emit" / "stage1_blend.json").read_text()
    assert first["run_id"] not in blend and second["run_id"] in blend


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_job_killed_before_publishing_leaves_the_blends_whole(spark, merged, tmp_path):
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig
    from spark_jobs.emit.shards import Expected, verify

    wd, _ = merged
    out = wd / "emit"
    published = _manifest(wd)
    names = ("manifest.json", "stage1_blend.json", "stage2_blend.json", "stage3_blend.json")
    before = {name: (out / name).read_bytes() for name in names}
    runs_before = sorted(p.name for p in (out / "runs").iterdir())
    cfg = tmp_path / "moru.yaml"
    cfg.write_text(yaml.safe_dump({
        "workdir": str(wd), "spark": {"master": "local[2]", "driver_memory": "1g"},
        "emit": {**MERGED, "batch_docs": 10},
    }))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT")}
    cmd = [sys.executable, "-m", "spark_jobs.emit", "--config", str(cfg), "--force"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    written = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            written = list((out / "_staging").glob("*/data/stage1/*/*/*/part-*.bin"))
            if written:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver, its JVM and the Python workers: the whole job dies
        log = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert written, f"no shard was written before the deadline (exit {proc.returncode}):\n{log[-3000:]}"

    # nothing that names data changed, and everything it names is whole
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in (out / "runs").iterdir()) == runs_before
    staged = list((out / "_staging").iterdir())
    assert len(staged) == 1 and list(staged[0].rglob("*.bin"))  # the dead run's half-written output
    for stage in ("stage1", "stage2", "stage3"):
        for prefix in json.loads(before[f"{stage}_blend.json"])["train"][1::2]:
            assert prefix.startswith(published["run_dir"] + "/") and "_staging" not in prefix
    eod, dtype = published["tokenizer"]["eod_id"], np.dtype(published["tokenizer"]["dtype"])
    for s in published["shards"]:
        got = verify(str(Path(published["run_dir"]) / s["path"]), Expected(s["documents"], s["tokens"], s["moment"]),
                     eod, dtype)  # fmt: skip
        assert got == s["files"]

    # the next run removes the dead run's staging folder and publishes
    stats = job.run(spark, str(wd), EmitConfig.model_validate(MERGED), force=True)
    assert not list((out / "_staging").iterdir())
    after = _manifest(wd)
    assert after["run_id"] == stats.extra["run_id"] and Path(after["run_dir"]).is_dir()
    assert [s["files"] for s in after["shards"]] == [s["files"] for s in published["shards"]]


def test_read_through_spark_emits_the_same_documents(spark, gated_workdir, emitted, tmp_path):
    """emit.read: spark (the path for tables whose Parquet files alone do not describe them): Spark reads the
    table, shuffles by doc_id and sorts; the same documents and token counts as the files path, each shard in
    doc_id order."""
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    wd = copy_workdir(gated_workdir, tmp_path / "wd")
    stats = job.run(spark, str(wd), EmitConfig.model_validate({**EMIT, "read": "spark"}))
    assert stats.extra["read"] == "spark (emit.read is spark)" and emitted.manifest["read"] == "files"
    got = tables.read(spark, str(wd), tables.EMITTED_DOCUMENTS).collect()
    want = tables.read(spark, str(emitted.workdir), tables.EMITTED_DOCUMENTS).collect()
    key = lambda r: (r["stage"], r["split"], r["role"], r["doc_id"], r["piece"], r["n_tokens"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, want))
    by_dataset: dict[str, list] = {}
    for r in got:
        by_dataset.setdefault(r["dataset"], []).append((r["seq_index"], r["doc_id"]))
    for rows in by_dataset.values():
        ids = [d for _, d in sorted(rows)]
        assert ids == sorted(ids)
