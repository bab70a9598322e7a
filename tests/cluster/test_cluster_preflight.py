"""Bad input on the cluster, refused before any stage starts (no application reaches the master): a workdir on a
bucket that does not exist, keys the store refuses, an environment archive built for another Python, no Delta package
for the cluster. Each is one paragraph naming the config key and the fix, exit code 2, from `moru run` and
`moru check-config` alike."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.env_archive import MANIFEST
from moru.cli import app

runner = CliRunner()
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def _archive(path: Path, python: str) -> Path:
    """An archive of `moru package`'s layout (manifest first) whose manifest names ``python``."""
    manifest = json.dumps({"format": 1, "python": python, "python_tag": "cp" + "".join(python.split(".")[:2])})
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((MANIFEST, manifest.encode()), ("bin/python", b"#!/bin/sh\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _refused(cluster, cfg: Path) -> str:
    apps = cluster.applications()
    outputs = []
    for command in (["run"], ["check-config"]):
        result = runner.invoke(app, [*command, "--config", str(cfg)])
        assert result.exit_code == 2, result.output
        outputs.append("".join(result.output.split()))  # rich wraps long paths anywhere: compared without spaces
    assert cluster.applications() == apps  # no Spark application was started
    assert "Traceback" not in outputs[0] and "│ingest" not in outputs[0]
    return outputs[0]


def _has(text: str, needle: str) -> bool:
    return "".join(needle.split()) in text


@pytest.fixture
def good_archive(tmp_path) -> Path:
    return _archive(tmp_path / "moru-env.tar.gz", f"{HERE}.0")


def test_a_workdir_on_a_bucket_that_does_not_exist(cluster, tmp_path, good_archive):
    cfg = cluster.config(tmp_path / "c.yaml", "s3a://no-such-bucket/runs/x", archive=str(good_archive))
    text = _refused(cluster, cfg)
    assert _has(text, "workdir: the bucket 'no-such-bucket' of s3a://no-such-bucket/runs/x does not exist")
    assert _has(text, "create the bucket 'no-such-bucket'")


def test_keys_the_store_refuses(cluster, tmp_path, good_archive):
    cfg = cluster.config(tmp_path / "c.yaml", f"s3a://{cluster.bucket}/runs/x", archive=str(good_archive),
                         conf={"spark.hadoop.fs.s3a.secret.key": "not-the-secret"})  # fmt: skip
    text = _refused(cluster, cfg)
    assert _has(text, f"workdir: the store refused the credentials for s3a://{cluster.bucket}/runs/x")
    assert _has(text, "ACCESS_DENIED")
    assert _has(text, "check the credentials (spark.hadoop.fs.s3a.access.key / secret.key")
    assert "not-the-secret" not in text


def test_an_archive_built_for_another_python(cluster, tmp_path):
    other = "3.10.14" if HERE != "3.10" else "3.12.3"
    bad = _archive(tmp_path / "other.tar.gz", other)
    cluster.upload(bad, "dist/other-python.tar.gz")
    for where in (str(bad), f"s3a://{cluster.bucket}/dist/other-python.tar.gz"):
        cfg = cluster.config(tmp_path / "c.yaml", f"s3a://{cluster.bucket}/runs/x", archive=where)
        text = _refused(cluster, cfg)
        assert _has(text, f"spark.archive: {where}: the environment archive was built for Python {other}")
        assert _has(text, f"the driver runs Python {HERE}")
        assert _has(text, f"rebuild it with `moru package` under Python {HERE}")


def test_no_archive_and_no_delta_package_for_the_cluster(cluster, tmp_path, good_archive):
    cfg = cluster.config(tmp_path / "c.yaml", f"s3a://{cluster.bucket}/runs/x", archive=None,
                         jars_dir=str(tmp_path / "no-jars"))  # fmt: skip
    text = _refused(cluster, cfg)
    assert _has(text, "spark.jars_dir: Delta Lake jars not found")
    assert _has(text, "spark.archive: no environment archive is set")
    cfg = cluster.config(tmp_path / "c.yaml", f"s3a://{cluster.bucket}/runs/x", archive=str(good_archive),
                         jars=["/opt/jars/some-connector.jar"])  # fmt: skip
    text = _refused(cluster, cfg)
    assert _has(text, "spark.jars: no Delta Lake package is shipped to the cluster (/opt/jars/some-connector.jar)")
    assert _has(text, "add io.delta:delta-spark_2.13:4.0.0 to spark.packages")
