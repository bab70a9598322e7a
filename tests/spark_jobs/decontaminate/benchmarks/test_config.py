"""Benchmark configs: every key and the errors that name the bad one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spark_jobs.decontaminate.benchmarks import BenchmarkConfig


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "gsm8k", "fields": {"text": ["q"]}}, "either a preset or fields"),
        ({}, "either a preset or fields"),
        ({"preset": "nope"}, "unknown preset 'nope'"),
        ({"preset": "gsm8k", "colour": "red"}, "colour"),
        ({"fields": {"text": ["q"], "txt": ["x"]}}, "txt"),
        ({"fields": {"text": []}}, "at least 1"),
        ({"fields": {"text": ["a..b"]}}, "bad field path 'a..b'"),
        ({"preset": "gsm8k", "name": "has space"}, "benchmark names"),
        ({"fields": {"text": ["q"]}, "csv_header": False}, "csv_columns"),
    ],
)
def test_config_errors(kwargs, message):
    args = {"name": "b", "path": "x.jsonl", **kwargs}
    with pytest.raises(ValidationError, match=message):
        BenchmarkConfig(**args)


@pytest.mark.parametrize(
    "path", ["s3://bucket/gsm8k.jsonl", "s3a://bucket/gsm8k/", "gs://b/*.jsonl", "abfss://c@a.dfs.core.windows.net/x"]
)
def test_config_takes_remote_paths_without_touching_them(path):
    # validation opens nothing: the file system is resolved when the examples are loaded
    assert BenchmarkConfig(name="b", path=path, preset="gsm8k").path == path
