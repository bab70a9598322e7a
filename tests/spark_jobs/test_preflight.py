"""Preflight: config problems found before Spark runs, and Spark's failures explained in one paragraph."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spark_jobs import preflight
from spark_jobs.ingest import SourceConfig
from spark_jobs.session import SparkConfig


@dataclass
class JobsConfig:
    """The keys preflight reads, as the composed config has them (spark_jobs.config.JobsConfig, moru's config)."""

    workdir: str
    spark: SparkConfig = field(default_factory=SparkConfig)
    sources: list[SourceConfig] = field(default_factory=list)


def _keys(problems) -> list[str]:
    return [p.key for p in problems]


def test_a_writable_workdir_passes_and_leaves_no_trace(tmp_path):
    assert preflight.check_workdir(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []
    deep = tmp_path / "a" / "b" / "wd"
    assert preflight.check_workdir(str(deep)) == []
    assert list(tmp_path.iterdir()) == []  # the folders made for the probe are gone again


def test_a_workdir_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    (p,) = preflight.check_workdir(str(tmp_path / "file" / "wd"))
    assert p.key == "workdir" and "is a file" in p.message and p.fix
    (p,) = preflight.check_workdir("/proc/moru-preflight/wd")
    assert p.key == "workdir" and "cannot create" in p.message
    assert "workdir: cannot create" in p.paragraph()


@pytest.mark.skipif(Path("/dbfs").exists(), reason="a Databricks machine has /dbfs")
def test_a_dbfs_workdir_off_databricks():
    (p,) = preflight.check_workdir("dbfs:/moru/wd")
    assert p.key == "workdir" and "/dbfs" in p.message


def test_remote_workdirs_reached_or_reported_quickly(monkeypatch):
    monkeypatch.setattr(preflight, "REMOTE_TIMEOUT_S", 1.0)  # the S3 client retries a refused connection
    started = time.time()
    (p,) = preflight.check_workdir("s3://k:s@bucket/wd?endpoint_override=127.0.0.1:1&scheme=http&region=us-east-1")
    assert p.key == "workdir" and "127.0.0.1" not in p.message.split("cannot")[0]
    assert "k:s@" not in p.message  # keys never shown
    assert time.time() - started < 10
    (p,) = preflight.check_workdir("nosuchscheme://bucket/wd")
    assert p.key == "workdir" and "cannot use" in p.message


def test_a_remote_workdir_that_answers(tmp_path, monkeypatch):
    from moto.server import ThreadedMotoServer

    # what is tested is that an answering store passes, not how fast a loaded machine answers
    monkeypatch.setattr(preflight, "REMOTE_TIMEOUT_S", 60.0)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        opts = f"endpoint_override={host}:{port}&scheme=http&region=us-east-1"
        (p,) = preflight.check_workdir(f"s3a://k:s@bucket/wd?{opts}")  # moru makes folders, never the bucket
        assert p.key == "workdir" and "the bucket 'bucket' of s3a://bucket/wd does not exist" in p.message
        assert "create the bucket 'bucket'" in p.fix
        from pyarrow import fs

        fs.S3FileSystem(access_key="k", secret_key="s", endpoint_override=f"{host}:{port}", scheme="http",
                        region="us-east-1", allow_bucket_creation=True).create_dir("bucket")  # fmt: skip
        assert preflight.check_workdir(f"s3a://k:s@bucket/wd?{opts}") == []
    finally:
        server.stop()


def test_sources_missing_empty_hidden_only_and_formatless(tmp_path):
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "a.jsonl").write_text('{"text": "x"}\n')
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "_part.jsonl").write_text('{"text": "x"}\n')
    (hidden / "empty.jsonl").write_text("")
    txt = tmp_path / "txt"
    txt.mkdir()
    (txt / "notes.txt").write_text("hello")
    sources = [
        SourceConfig(name="ok", path=str(ok)),
        SourceConfig(name="missing", path=str(tmp_path / "nope")),
        SourceConfig(name="hidden", path=str(hidden)),
        SourceConfig(name="txt", path=str(txt)),
        SourceConfig(name="txt_set", path=str(txt), format="text"),
        SourceConfig(name="glob", path=str(tmp_path / "none" / "*.jsonl")),
    ]
    problems = preflight.check_sources(sources)
    assert _keys(problems) == ["sources.1.path", "sources.2.path", "sources.3.format", "sources.5.path"]
    assert "'missing'" in problems[0].message
    assert "1 hidden" in problems[1].message and "1 empty" in problems[1].message
    assert "hidden_files: include" in problems[1].fix
    assert "notes.txt" in problems[2].message
    assert preflight.check_sources([]) and preflight.check_sources([SourceConfig(name="ok", path=str(ok))]) == []


def test_missing_delta_jars(tmp_path):
    (p,) = preflight.check_spark(SparkConfig(jars_dir=str(tmp_path)))
    assert p.key == "spark.jars_dir" and "setup.sh" in p.fix
    assert preflight.check_spark(SparkConfig(profile="databricks", jars_dir=str(tmp_path))) == []


def _archive(path: Path, python: str) -> str:
    import io
    import json
    import tarfile

    data = json.dumps({"format": 1, "python": python, "python_tag": "cp" + "".join(python.split(".")[:2])}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("moru-env.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_cluster_profiles_need_delta_and_an_archive_for_the_drivers_python(tmp_path):
    import sys

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    good = _archive(tmp_path / "good.tar.gz", f"{here}.1")
    standalone = SparkConfig(profile="standalone", master="spark://127.0.0.1:7077", archive=good)
    assert preflight.check_spark(standalone) == []
    (p,) = preflight.check_spark(standalone.model_copy(update={"archive": None}))
    assert p.key == "spark.archive" and "no environment archive" in p.message and "moru package" in p.fix
    (p,) = preflight.check_spark(standalone.model_copy(update={"archive": _archive(tmp_path / "o.tar.gz", "3.9.2")}))
    assert p.key == "spark.archive" and "built for Python 3.9.2" in p.message and f"under Python {here}" in p.fix
    (p,) = preflight.check_spark(standalone.model_copy(update={"archive": str(tmp_path / "none.tar.gz")}))
    assert p.key == "spark.archive" and "cannot open" in p.message
    (p,) = preflight.check_spark(standalone.model_copy(update={"jars_dir": str(tmp_path)}))
    assert p.key == "spark.jars_dir"
    (p,) = preflight.check_spark(standalone.model_copy(update={"jars": ["/opt/a.jar"]}))
    assert p.key == "spark.jars" and "no Delta Lake package" in p.message and "io.delta:delta-spark_2.13" in p.fix
    (p,) = preflight.check_spark(SparkConfig(profile="emr", packages=["org.apache.hadoop:hadoop-aws:3.4.1"]))
    assert p.key == "spark.packages" and "no Delta Lake package is shipped" in p.message
    assert preflight.check_spark(SparkConfig(profile="emr")) == []  # the default package is Delta's
    (p,) = preflight.check_spark(standalone.model_copy(update={"s3a_jars_dir": str(tmp_path)}), paths=("s3a://b/wd",))
    assert p.key == "spark.s3a_jars_dir" and "setup.sh" in p.fix


def test_check_composes_every_check(tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = JobsConfig(
        workdir=str(tmp_path / "file" / "wd"),
        spark=SparkConfig(jars_dir=str(tmp_path)),
        sources=[SourceConfig(name="gone", path=str(tmp_path / "gone"))],
    )
    assert _keys(preflight.check(cfg)) == ["workdir", "spark.jars_dir", "sources.0.path"]
    assert _keys(preflight.check(cfg, sources=False)) == ["workdir", "spark.jars_dir"]
    (tmp_path / "data.jsonl").write_text('{"text": "x"}\n')
    good = JobsConfig(workdir=str(tmp_path / "wd"), sources=[SourceConfig(name="f", path=str(tmp_path / "data.jsonl"))])
    started = time.time()
    assert preflight.check(good) == []
    assert time.time() - started < 10


def _raised(fn) -> BaseException:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no failure")


def test_explain_real_spark_failures(spark, tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = JobsConfig(
        workdir=str(tmp_path / "file" / "wd"),
        sources=[SourceConfig(name="web", path="s3://crawl-bucket/2024/*.warc.gz")],
    )
    no_fs = _raised(lambda: spark.read.text("s3://crawl-bucket/2024/x.warc.gz").collect())
    text = preflight.explain(no_fs, cfg)
    assert text is not None and "sources.0.path" in text and "s3a://" in text and "\n" not in text
    cannot_create = _raised(
        lambda: spark.range(1).write.format("delta").mode("overwrite").save(str(tmp_path / "file" / "wd" / "t"))
    )
    text = preflight.explain(cannot_create, cfg)
    assert text is not None and text.startswith("A path of workdir") and "Fix:" in text
    missing = _raised(lambda: spark.read.parquet(str(tmp_path / "file" / "wd" / "tables" / "documents")).collect())
    text = preflight.explain(missing, cfg)
    assert text is not None and "earlier stage" in text
    assert preflight.explain(ValueError("something else entirely"), cfg) is None
    assert preflight.explain(no_fs) is not None  # without a config it still explains, naming no key it cannot know


def test_explain_a_store_lost_mid_run():
    """The AWS SDK's message when the S3 store stops answering under S3A (tests/cluster's store-kill run prints it)."""
    cfg = JobsConfig(workdir="s3a://moru/runs/x", sources=[SourceConfig(name="web", path="s3a://moru/input/")])
    exc = RuntimeError(
        "org.apache.hadoop.fs.s3a.AWSClientIOException: PUT 0-byte object on runs/x/tables/raw_documents/part-0"
        ".parquet: software.amazon.awssdk.core.exception.SdkClientException: Unable to execute HTTP request: "
        "Connect to 127.0.0.1:23307 [/127.0.0.1] failed: Connection refused: Unable to execute HTTP request"
    )
    text = preflight.explain(exc, cfg)
    assert text is not None and "127.0.0.1:23307 stopped answering (connection refused)" in text
    assert "workdir (s3a://moru/runs/x)" in text and "last committed version" in text and "\n" not in text
