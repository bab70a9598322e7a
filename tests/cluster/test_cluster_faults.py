"""Faults on the cluster: a worker killed (SIGKILL to its process group: the worker, its executor and the executor's
Python workers) while a stage's tasks run on it; the S3 store killed while a stage writes a Delta table. Spark's task
retry finishes the first with the clean run's tables; after the second the previous Delta version is still what a
reader sees, and the rerun completes."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import urllib.request

from pyarrow import fs

from tests.cluster.helpers import assert_same_rows, finish, kill_quietly, output, read_table

FAIL_WITHIN = 120  # seconds a run gets to fail on its own once its store is gone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    """The driver UI's JSON, or None while it is not (yet) serving it: refused, reset, an HTML page or a cut-off body
    while the application starts."""
    try:
        return json.load(urllib.request.urlopen(url, timeout=2))
    except (OSError, ValueError, http.client.HTTPException):
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
        if proc.poll() is None:  # the test failed while the run was going: it must not outlive the test
            kill_quietly(proc.pid)
            proc.wait()
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
    # S3A's and Spark's retries shortened for this run (defaults: 7 S3A retries with back-off inside each of 4 task
    # attempts, minutes against a dead store); a run still retrying after FAIL_WITHIN seconds is stopped, as an
    # operator would stop it
    fast_fail = {"spark.hadoop.fs.s3a.retry.limit": "1", "spark.hadoop.fs.s3a.attempts.maximum": "1",
                 "spark.hadoop.fs.s3a.retry.interval": "200ms", "spark.task.maxFailures": "2",
                 "spark.hadoop.fs.s3a.connection.establish.timeout": "2s"}  # fmt: skip
    cfg = cluster.config(tmp_path / "store.yaml", f"s3a://{dst_root}", sources=sources, conf=fast_fail)
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
        stopped = False
        try:
            finish(proc, timeout=FAIL_WITHIN)
        except subprocess.TimeoutExpired:
            stopped = True  # finish() killed it: still retrying against the dead store
        assert killed_at_version is not None, "ingest finished before it wrote:\n" + output(proc)[-3000:]
        assert proc.returncode != 0, output(proc)[-3000:]  # the run fails: the store is gone
        if not stopped:  # it failed on its own: with one paragraph naming the store and the workdir
            assert "stopped answering" in " ".join(output(proc).split()), output(proc)[-3000:]
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
