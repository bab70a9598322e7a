"""Emit to an S3 bucket: moto's S3 server (the S3 HTTP API, on localhost) stands in for AWS; moru's own code and
pyarrow's real S3 client talk to it over HTTP from the Spark Python workers. The shards land in the bucket
byte-identical to the local run's, the blends and manifest name ``s3://bucket/...`` keys without the keys or
the endpoint options, nothing is left in staging, and a re-run finds the published run whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import EMIT, copy_workdir

pytestmark = pytest.mark.spark

BUCKET = "moru-emit"
KEYS = "moru-key:moru-secret"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def _bucket(endpoint: str):
    from pyarrow import fs

    key, secret = KEYS.split(":")
    s3 = fs.S3FileSystem(access_key=key, secret_key=secret, endpoint_override=endpoint, scheme="http",
                         region="us-east-1", allow_bucket_creation=True)  # fmt: skip
    s3.create_dir(BUCKET)
    return s3


def _read(s3, path: str) -> bytes:
    with s3.open_input_stream(path) as fh:
        return fh.read()


def test_emit_to_an_s3_bucket(spark, gated_workdir, emitted, s3_endpoint, tmp_path):
    from pyarrow import fs

    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    s3 = _bucket(s3_endpoint)
    wd = copy_workdir(gated_workdir, tmp_path / "wd")
    out = f"s3://{KEYS}@{BUCKET}/corpus/emit?endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    cfg = EmitConfig.model_validate({**EMIT, "output": out})
    stats = job.run(spark, str(wd), cfg)
    assert stats.rows_out == emitted.stats.rows_out and stats.rows_rejected == emitted.stats.rows_rejected

    m = json.loads(_read(s3, f"{BUCKET}/corpus/emit/manifest.json"))
    run_dir = f"s3://{BUCKET}/corpus/emit/runs/{m['run_id']}"
    assert m["run_dir"] == run_dir
    assert m["blends"]["stage1"] == f"s3://{BUCKET}/corpus/emit/stage1_blend.json"
    # the same table content and settings as the local run: the same shards, byte for byte
    local_run = Path(emitted.manifest["run_dir"])
    same = [(s["path"], s["files"]) for s in emitted.manifest["shards"]]
    assert [(s["path"], s["files"]) for s in m["shards"]] == same
    for s in m["shards"]:
        for ext in (".bin", ".idx"):
            assert (
                _read(s3, f"{BUCKET}/corpus/emit/runs/{m['run_id']}/{s['path']}{ext}")
                == (local_run / (s["path"] + ext)).read_bytes()
            ), s["path"] + ext
    # blends name s3:// prefixes of published shards, no keys, no endpoint options
    for stage in ("stage1", "stage2", "stage3"):
        text = _read(s3, f"{BUCKET}/corpus/emit/{stage}_blend.json").decode()
        assert "moru-secret" not in text and "endpoint_override" not in text
        blend = json.loads(text)
        prefixes = blend["train"][1::2]
        assert prefixes and all(p.startswith(run_dir + "/") for p in prefixes)
        local = json.loads((emitted.out / f"{stage}_blend.json").read_text())
        assert blend["train"][0::2] == pytest.approx(local["train"][0::2])
    # staging and the per-document rows are gone; the published run is the only one
    names = {i.base_name for i in s3.get_file_info(fs.FileSelector(f"{BUCKET}/corpus/emit"))}
    assert "_staging" not in names or not s3.get_file_info(fs.FileSelector(f"{BUCKET}/corpus/emit/_staging"))
    assert not (wd / "_emit_meta").exists() or not any((wd / "_emit_meta").iterdir())
    runs = s3.get_file_info(fs.FileSelector(f"{BUCKET}/corpus/emit/runs"))
    assert [i.base_name for i in runs] == [m["run_id"]]

    again = job.run(spark, str(wd), cfg)
    assert again.extra["unchanged"] and again.extra["run_id"] == m["run_id"]
