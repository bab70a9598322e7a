"""Benchmark files: the format by name, local paths, folders and globs, and remote ones through
pyarrow's file systems."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from spark_jobs.decontaminate.benchmarks import BenchmarkConfig, files
from spark_jobs.decontaminate.benchmarks.files import RemoteFile, detect_format, list_files

from .conftest import load, load_error, texts, write_jsonl


def test_detect_format():
    assert detect_format("a.jsonl.gz") == "jsonl"
    assert detect_format("a.JSON") == "json"
    assert detect_format("a.csv.gz") == "csv"
    assert detect_format("a.parquet") == "parquet"
    assert detect_format("a.parquet.gz") is None
    assert detect_format("a.txt") is None


def test_missing_path_and_empty_folder(tmp_path):
    assert "does not exist" in load_error(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    assert "no benchmark files" in load_error(tmp_path / "empty")


def test_unknown_suffix_in_glob(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert "unknown format" in load_error(tmp_path / "*.txt")


# ---------------------------------------------------------------------------- remote files (through pyarrow.fs)
# file:// URIs go through pyarrow's LocalFileSystem, the same code path as s3:// or gs://, and
# messages name files by URI, which the local route never does.


def _remote_files(uri: str, **kw) -> list[tuple[str, str]]:
    found = list_files(BenchmarkConfig(name="b", path=uri, fields={"text": ["q"]}, **kw))
    assert all(isinstance(f, RemoteFile) for f, _ in found)
    return [(str(f), rel) for f, rel in found]


def _bench_folder(root: Path) -> Path:
    write_jsonl(root / "a.jsonl", [{"q": "alpha", "answer": "1"}, {"q": "beta", "answer": "2"}])
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "b.csv.gz").write_bytes(gzip.compress(b'q,answer\n"gamma, with comma",3\n'))
    write_jsonl(root / ".hidden" / "c.jsonl", [{"q": "hidden"}])
    write_jsonl(root / "sub" / ".d.jsonl", [{"q": "hidden too"}])
    (root / "sub" / "notes.txt").write_text("not a benchmark")
    (root / "_SUCCESS").write_text("")
    return root


def test_remote_folder_of_jsonl_and_gzipped_csv(tmp_path):
    root = _bench_folder(tmp_path / "bench")
    uri = root.as_uri()
    assert uri.startswith("file:///")
    assert _remote_files(uri) == [(f"{uri}/a.jsonl", "a.jsonl"), (f"{uri}/sub/b.csv.gz", "sub/b.csv.gz")]
    assert _remote_files(uri + "/") == _remote_files(uri)
    assert texts(load(uri, fields={"text": ["q"]})) == [
        ("a.jsonl#0", "alpha"),
        ("a.jsonl#1", "beta"),
        ("sub/b.csv.gz#0", "gamma, with comma"),
    ]
    # the same examples as through the local route
    assert load(uri, fields={"text": ["q"]}) == load(root, fields={"text": ["q"]})


def test_remote_glob(tmp_path):
    root = _bench_folder(tmp_path / "bench")
    uri = root.as_uri()
    assert _remote_files(uri + "/*.jsonl") == [(f"{uri}/a.jsonl", "a.jsonl")]
    assert _remote_files(uri + "/**/*.gz") == [(f"{uri}/sub/b.csv.gz", "sub/b.csv.gz")]
    # ids are relative to the glob's fixed prefix, as for a local glob
    ex = load(uri + "/s[uv]b/?.csv.*", fields={"text": ["q"]})
    assert texts(ex) == [("sub/b.csv.gz#0", "gamma, with comma")]
    assert "no benchmark files" in load_error(uri + "/*.parquet", preset=None, fields={"text": ["q"]})


@pytest.mark.parametrize("pattern", ["*", "*.jsonl", "**", "**/*", "**/*.jsonl", "sub/*", "*/b*", "[as]*", "?.jsonl"])
def test_remote_glob_matches_like_local_glob(tmp_path, pattern):
    root = _bench_folder(tmp_path / "bench")
    write_jsonl(root / "sub" / "deeper" / "e.jsonl", [{"q": "deep"}])
    local = list_files(BenchmarkConfig(name="b", path=f"{root}/{pattern}", fields={"text": ["q"]}))
    remote = _remote_files(f"{root.as_uri()}/{pattern}")
    assert [rel for _, rel in remote] == [rel for _, rel in local]


def test_remote_single_parquet(tmp_path):
    f = tmp_path / "test-00000.parquet"
    pq.write_table(pa.table({"question": ["p0", "p1"], "answer": ["a0", "a1"], "n": [0, 1]}), f)
    assert _remote_files(f.as_uri()) == [(f.as_uri(), "test-00000.parquet")]
    assert texts(load(f.as_uri(), "gsm8k")) == [
        ("test-00000.parquet#0", "p0\na0"),
        ("test-00000.parquet#1", "p1\na1"),
    ]
    g = tmp_path / "bad.parquet"
    g.write_bytes(b"PAR1 garbage")
    assert f"{g.as_uri()}: unreadable Parquet" in load_error(g.as_uri(), preset=None, fields={"text": ["x"]})


def test_remote_errors_name_the_uri_and_line(tmp_path):
    root = tmp_path / "bench"
    write_jsonl(root / "a.jsonl", [{"question": "q", "answer": "a"}])
    (root / "b.jsonl").write_text('{"question": "q", "answer": "a"}\n\n{"question": "q2", "answer": \n')
    uri = root.as_uri()
    assert f"{uri}/b.jsonl:3: bad JSON line" in load_error(uri)
    c = tmp_path / "c.csv.gz"
    c.write_bytes(gzip.compress(b"question,answer\nq,a\nq\xff,a\n"))
    assert f"{c.as_uri()}:3: not UTF-8" in load_error(c.as_uri())
    d = tmp_path / "d.jsonl.gz"
    d.write_bytes(b"this is not gzip at all")
    assert f"{d.as_uri()}: unreadable" in load_error(d.as_uri())
    e = write_jsonl(tmp_path / "e.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2"}])
    assert f"{e.as_uri()}:2: fields answer missing" in load_error(e.as_uri())


def test_remote_missing_path(tmp_path):
    missing = (tmp_path / "nope" / "gsm8k.jsonl").as_uri()
    msg = load_error(missing)
    assert missing in msg and "does not exist" in msg
    assert "no benchmark files" in load_error((tmp_path / "nope").as_uri() + "/*.jsonl")
    (tmp_path / "empty").mkdir()
    assert "no benchmark files" in load_error((tmp_path / "empty").as_uri())


def test_unknown_scheme():
    msg = load_error("nosuch://x/y.jsonl")
    assert "benchmark 'b'" in msg and "nosuch://x/y.jsonl" in msg and "Unrecognized filesystem type" in msg


def test_file_uri_with_a_host_is_refused_with_pyarrows_reason():
    msg = load_error("file://somehost/data/gsm8k.jsonl")
    assert "file://somehost/data/gsm8k.jsonl" in msg and "hostname" in msg


def test_dbfs_is_the_local_mount():
    # dbfs:/ is read through /dbfs, as elsewhere in moru; pyarrow knows no dbfs scheme
    msg = load_error("dbfs:/no/such/moru-benchmark.jsonl")
    assert "does not exist" in msg and "Unrecognized" not in msg


def test_object_store_paths(tmp_path, monkeypatch):
    """An object store's paths are bucket/key, without a leading slash; a stand-in for S3 (a
    sub-tree of the local file system) checks the names and the URI handed to pyarrow."""
    write_jsonl(tmp_path / "bucket" / "evals" / "gsm8k" / "main" / "test.jsonl", [{"question": "q", "answer": "a"}])
    write_jsonl(tmp_path / "bucket" / "evals" / "gsm8k" / "socratic" / "test.jsonl.gz", [{"question": "s"}])
    asked: list[str] = []

    def from_uri(uri: str):
        asked.append(uri)
        assert uri.startswith("s3://")
        return pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()), uri[5:].split("?")[0].rstrip("/")

    monkeypatch.setattr(files, "_from_uri", from_uri)
    path = "s3a://bucket/evals/gsm8k?region=eu-west-1&endpoint_override=minio:9000"
    assert _remote_files(path) == [
        ("s3a://bucket/evals/gsm8k/main/test.jsonl", "main/test.jsonl"),
        ("s3a://bucket/evals/gsm8k/socratic/test.jsonl.gz", "socratic/test.jsonl.gz"),
    ]
    assert asked == ["s3://bucket/evals/gsm8k?region=eu-west-1&endpoint_override=minio:9000"]
    msg = load_error(path)
    assert "s3a://bucket/evals/gsm8k/socratic/test.jsonl.gz:1: fields answer missing" in msg
    asked.clear()
    ex = load("s3://bucket/evals/*/main/*.jsonl", "gsm8k")
    assert asked == ["s3://bucket/evals"]
    assert texts(ex) == [("gsm8k/main/test.jsonl#0", "q\na")]


def test_remote_reason_is_reported(tmp_path, monkeypatch):
    def from_uri(uri: str):
        raise OSError("AWS Error ACCESS_DENIED during HeadObject operation\nsecond line of detail")

    monkeypatch.setattr(files, "_from_uri", from_uri)
    msg = load_error("s3://bucket/gsm8k.jsonl")
    assert "s3://bucket/gsm8k.jsonl" in msg and "ACCESS_DENIED" in msg and "second line" not in msg
