"""Benchmark files: the benchmark format by name, local paths, folders and globs (listed by
:mod:`core.formats`), and remote ones on an S3 store, named by their URI in messages."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs.decontaminate.benchmarks import BenchmarkConfig
from spark_jobs.decontaminate.benchmarks.files import detect_format, list_files

from .conftest import load, load_error, texts, write_jsonl


def test_detect_format():
    assert detect_format("a.jsonl.gz") == "jsonl"
    assert detect_format("a.JSON") == "json"
    assert detect_format("a.csv.gz") == "csv"
    assert detect_format("a.parquet") == "parquet"
    assert detect_format("a.parquet.gz") is None
    assert detect_format("a.txt") is None
    # core.formats' other codecs; formats no benchmark is published in are none
    assert detect_format("a.jsonl.zst") == "jsonl"
    assert detect_format("a.warc.gz") is None


def test_missing_path_and_empty_folder(tmp_path):
    assert "does not exist" in load_error(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    assert "no benchmark files" in load_error(tmp_path / "empty")


def test_unknown_suffix_in_glob(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert "unknown format" in load_error(tmp_path / "*.txt")


def _bench_folder(root: Path) -> Path:
    write_jsonl(root / "a.jsonl", [{"q": "alpha", "answer": "1"}, {"q": "beta", "answer": "2"}])
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "b.csv.gz").write_bytes(gzip.compress(b'q,answer\n"gamma, with comma",3\n'))
    write_jsonl(root / ".hidden" / "c.jsonl", [{"q": "hidden"}])
    write_jsonl(root / "sub" / ".d.jsonl", [{"q": "hidden too"}])
    (root / "sub" / "notes.txt").write_text("not a benchmark")
    (root / "_SUCCESS").write_text("")
    return root


def _files(path: str, **kw) -> list[tuple[str, str]]:
    return [(str(f), f.relpath) for f in list_files(BenchmarkConfig(name="b", path=path, fields={"text": ["q"]}, **kw))]


def test_a_file_uri_is_the_local_path(tmp_path):
    root = _bench_folder(tmp_path / "bench")
    uri = root.as_uri()
    assert uri.startswith("file:///")
    assert _files(uri) == [(f"{root}/a.jsonl", "a.jsonl"), (f"{root}/sub/b.csv.gz", "sub/b.csv.gz")]
    assert load(uri, fields={"text": ["q"]}) == load(root, fields={"text": ["q"]})


def test_dbfs_is_the_local_mount():
    # dbfs:/ is read through /dbfs, as elsewhere in moru; pyarrow knows no dbfs scheme
    msg = load_error("dbfs:/no/such/moru-benchmark.jsonl")
    assert "does not exist" in msg and "Unrecognized" not in msg


def test_unknown_scheme():
    msg = load_error("nosuch://x/y.jsonl")
    assert "benchmark 'b'" in msg and "nosuch://x/y.jsonl" in msg and "Unrecognized filesystem type" in msg


@pytest.mark.xfail(
    strict=True,
    reason="core.formats reads file://host/path as the relative local path host/path; pyarrow refuses a host",
)
def test_file_uri_with_a_host_is_refused_with_pyarrows_reason():
    msg = load_error("file://somehost/data/gsm8k.jsonl")
    assert "file://somehost/data/gsm8k.jsonl" in msg and "hostname" in msg


def test_remote_reason_is_reported(tmp_path, monkeypatch):
    # HDFS needs a JVM; pyarrow's reason for a missing one lists every path it tried: its first line is kept
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    msg = load_error("hdfs://localhost:8020/bench/gsm8k.jsonl")
    assert "hdfs://localhost:8020/bench/gsm8k.jsonl" in msg and "libjvm" in msg and "dlopen" not in msg


# ---------------------------------------------------------------------------- remote files on an S3 store
# moto's S3 server (the S3 HTTP API, on localhost) stands in for a bucket; pyarrow's real S3 client lists and
# reads it. URIs carry the keys and the endpoint as pyarrow's options; messages name files without either.

BUCKET = "moru-bench"
OPTIONS = "scheme=http&region=us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


class Bucket:
    """A fresh prefix of the bucket: ``upload`` puts local files there, ``uri`` names a key as a config would
    (keys before the bucket, the endpoint as options), ``public`` as messages should."""

    def __init__(self, store, endpoint: str, prefix: str):
        self.store, self.endpoint, self.prefix = store, endpoint, prefix

    def upload(self, local: Path, key: str = "") -> None:
        paths = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
        for p in paths:
            rel = key if local.is_file() else "/".join(filter(None, [key, p.relative_to(local).as_posix()]))
            with self.store.open_output_stream(f"{BUCKET}/{self.prefix}/{rel}", compression=None) as out:
                out.write(p.read_bytes())

    def uri(self, key: str = "", scheme: str = "s3") -> str:
        return (
            f"{scheme}://k:s@{BUCKET}/{self.prefix}/{key}".rstrip("/") + f"?endpoint_override={self.endpoint}&{OPTIONS}"
        )

    def public(self, key: str = "", scheme: str = "s3") -> str:
        return f"{scheme}://{BUCKET}/{self.prefix}/{key}".rstrip("/")


@pytest.fixture
def s3(s3_endpoint, request) -> Bucket:
    from pyarrow import fs

    store = fs.S3FileSystem(access_key="k", secret_key="s", endpoint_override=s3_endpoint, scheme="http",
                            region="us-east-1", allow_bucket_creation=True)  # fmt: skip
    store.create_dir(BUCKET)
    return Bucket(store, s3_endpoint, re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name))


def test_remote_folder_of_jsonl_and_gzipped_csv(tmp_path, s3):
    s3.upload(_bench_folder(tmp_path / "bench"))
    public = s3.public()
    assert _files(s3.uri()) == [(f"{public}/a.jsonl", "a.jsonl"), (f"{public}/sub/b.csv.gz", "sub/b.csv.gz")]
    assert _files(s3.uri().replace(f"{s3.prefix}?", f"{s3.prefix}/?")) == _files(s3.uri())
    assert texts(load(s3.uri(), fields={"text": ["q"]})) == [
        ("a.jsonl#0", "alpha"),
        ("a.jsonl#1", "beta"),
        ("sub/b.csv.gz#0", "gamma, with comma"),
    ]
    # the same examples as through the local route
    assert load(s3.uri(), fields={"text": ["q"]}) == load(tmp_path / "bench", fields={"text": ["q"]})


def test_remote_glob(tmp_path, s3):
    s3.upload(_bench_folder(tmp_path / "bench"))
    public = s3.public()
    assert _files(s3.uri("*.jsonl")) == [(f"{public}/a.jsonl", "a.jsonl")]
    assert _files(s3.uri("**/*.gz")) == [(f"{public}/sub/b.csv.gz", "sub/b.csv.gz")]
    # ids are relative to the glob's fixed prefix, as for a local glob
    ex = load(s3.uri("s[uv]b/?.csv.*"), fields={"text": ["q"]})
    assert texts(ex) == [("sub/b.csv.gz#0", "gamma, with comma")]
    assert "no benchmark files" in load_error(s3.uri("*.parquet"), preset=None, fields={"text": ["q"]})


@pytest.mark.parametrize("pattern", ["*", "*.jsonl", "**", "**/*", "**/*.jsonl", "sub/*", "*/b*", "[as]*", "?.jsonl"])
def test_remote_glob_matches_like_local_glob(tmp_path, s3, pattern):
    root = _bench_folder(tmp_path / "bench")
    write_jsonl(root / "sub" / "deeper" / "e.jsonl", [{"q": "deep"}])
    s3.upload(root)
    local = [rel for _, rel in _files(f"{root}/{pattern}")]
    assert local and [rel for _, rel in _files(s3.uri(pattern))] == local


def test_remote_single_parquet(tmp_path, s3):
    f = tmp_path / "test-00000.parquet"
    pq.write_table(pa.table({"question": ["p0", "p1"], "answer": ["a0", "a1"], "n": [0, 1]}), f)
    s3.upload(f, "test-00000.parquet")
    assert _files(s3.uri("test-00000.parquet")) == [(s3.public("test-00000.parquet"), "test-00000.parquet")]
    assert texts(load(s3.uri("test-00000.parquet"), "gsm8k")) == [
        ("test-00000.parquet#0", "p0\na0"),
        ("test-00000.parquet#1", "p1\na1"),
    ]
    g = tmp_path / "bad.parquet"
    g.write_bytes(b"PAR1 garbage")
    s3.upload(g, "bad.parquet")
    msg = load_error(s3.uri("bad.parquet"), preset=None, fields={"text": ["x"]})
    assert f"{s3.public('bad.parquet')}: unreadable Parquet" in msg


def test_remote_errors_name_the_uri_and_line(tmp_path, s3):
    root = tmp_path / "bench"
    write_jsonl(root / "a.jsonl", [{"question": "q", "answer": "a"}])
    (root / "b.jsonl").write_text('{"question": "q", "answer": "a"}\n\n{"question": "q2", "answer": \n')
    s3.upload(root, "bench")
    assert f"{s3.public('bench/b.jsonl')}:3: bad JSON line" in load_error(s3.uri("bench"))
    c = tmp_path / "c.csv.gz"
    c.write_bytes(gzip.compress(b"question,answer\nq,a\nq\xff,a\n"))
    s3.upload(c, "c.csv.gz")
    assert f"{s3.public('c.csv.gz')}, row 1: not UTF-8" in load_error(s3.uri("c.csv.gz"))
    d = tmp_path / "d.jsonl.gz"
    d.write_bytes(b"this is not gzip at all")
    s3.upload(d, "d.jsonl.gz")
    assert f"{s3.public('d.jsonl.gz')}: unreadable" in load_error(s3.uri("d.jsonl.gz"))
    e = write_jsonl(tmp_path / "e.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2"}])
    s3.upload(e, "e.jsonl")
    msg = load_error(s3.uri("e.jsonl"))
    assert f"{s3.public('e.jsonl')}:2: fields answer missing" in msg
    # neither the keys nor the endpoint options appear in a message
    assert "k:s@" not in msg and "endpoint_override" not in msg


def test_remote_missing_path(s3):
    msg = load_error(s3.uri("nope/gsm8k.jsonl"))
    assert s3.public("nope/gsm8k.jsonl") in msg and "does not exist" in msg and "k:s@" not in msg
    assert "no benchmark files" in load_error(s3.uri("nope/*.jsonl"))
    s3.store.create_dir(f"{BUCKET}/{s3.prefix}/empty")
    assert "no benchmark files" in load_error(s3.uri("empty"))


def test_object_store_paths(tmp_path, s3):
    """Hadoop's s3a:// is S3; pyarrow's options after the path reach the client (the endpoint, region,
    scheme); names are bucket/key, without a leading slash."""
    write_jsonl(tmp_path / "evals" / "gsm8k" / "main" / "test.jsonl", [{"question": "q", "answer": "a"}])
    write_jsonl(tmp_path / "evals" / "gsm8k" / "socratic" / "test.jsonl.gz", [{"question": "s"}])
    s3.upload(tmp_path / "evals", "evals")
    path = s3.uri("evals/gsm8k", scheme="s3a")
    assert _files(path) == [
        (s3.public("evals/gsm8k/main/test.jsonl", scheme="s3a"), "main/test.jsonl"),
        (s3.public("evals/gsm8k/socratic/test.jsonl.gz", scheme="s3a"), "socratic/test.jsonl.gz"),
    ]
    msg = load_error(path)
    assert f"{s3.public('evals/gsm8k/socratic/test.jsonl.gz', scheme='s3a')}:1: fields answer missing" in msg
    ex = load(s3.uri("evals/*/main/*.jsonl"), "gsm8k")
    assert texts(ex) == [("gsm8k/main/test.jsonl#0", "q\na")]
