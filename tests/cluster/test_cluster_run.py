"""`moru run` on a Spark standalone cluster whose workers have no moru, with its input and its workdir in an S3 store
(SeaweedFS): the Delta tables in the bucket, read by delta-rs, equal a local[*] run of the same input row for row, and
the executors, not the driver, ran the Python work with the Python of the environment archive."""

from __future__ import annotations

import json

from tests.cluster.helpers import (
    STAGES,
    TABLES,
    assert_same_rows,
    output,
    python_stages_on_executors,
    read_table,
    task_executors,
)


def test_moru_run_on_the_cluster_equals_the_local_run(cluster, clean_run):
    run, local = clean_run
    text = " ".join(output(run.proc).split())
    assert "read 240 = accepted 240 + quarantined 0" in text
    rows = {}
    for name in TABLES:
        remote = read_table(run.workdir, name, cluster.storage_options())
        here = read_table(str(local), name)
        assert_same_rows(remote, here, name)
        rows[name] = 0 if remote is None else len(remote)
    assert rows["documents"] == 240 and 0 < rows["training_corpus"] < 240, rows
    # the driver's own writes (report, run manifest) went to the bucket too
    s3 = cluster.s3()
    from pyarrow import fs

    manifests = s3.get_file_info(fs.FileSelector(f"{cluster.bucket}/runs/clean/manifests"))
    (manifest,) = [m for m in manifests if m.path.endswith(".json")]
    with s3.open_input_stream(manifest.path) as stream:
        stages = [s["stage"] for s in json.loads(stream.read())["stages"]]
    assert stages == [s for s in STAGES if s not in ("classifier", "decontaminate")]  # those two skip: no inputs
    assert s3.get_file_info(f"{cluster.bucket}/runs/clean/report/index.html").size > 1000


def test_the_executors_ran_the_python_work_from_the_archive(cluster, clean_run):
    run, _ = clean_run
    counts = task_executors(cluster.events, "moru-test-clean")
    executors = {e for e in counts if e != "driver"}
    assert len(executors) >= 2, counts  # both workers' executors ran tasks
    assert "driver" not in counts  # a standalone driver runs no task
    assert python_stages_on_executors(cluster.events, "moru-test-clean") > 0
    # each executor unpacked the archive it was shipped (spark.archives …#environment) and ran its Python: the
    # workers' own environment has no virtualenv and no PYTHONPATH (scripts/local_cluster.sh starts them with env -i)
    unpacked = sorted(cluster.dir.glob("worker-*/app-*/*/environment/moru-env.json"))
    assert {p.parts[-5] for p in unpacked} == {"worker-1", "worker-2"}, unpacked
    manifest = json.loads(unpacked[0].read_text())
    assert manifest["wheel"].startswith("moru-") and "spark_jobs" not in manifest["not_inside"]
