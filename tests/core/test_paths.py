"""One path type: relative local paths resolve against the config file's folder, wherever the key is."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from core.config import ConfigError, validate
from core.paths import ConfigPath, is_local, resolve


class _M(BaseModel):
    one: ConfigPath
    many: list[ConfigPath] = []
    maybe: ConfigPath | None = None


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("data/x.jsonl", "/base/data/x.jsonl"),
        ("./a b/%41#?.jsonl", "/base/a b/%41#?.jsonl"),
        ("/abs/p", "/abs/p"),
        ("s3://bucket/k?endpoint_override=h:9", "s3://bucket/k?endpoint_override=h:9"),
        ("s3a://b/k", "s3a://b/k"),
        ("dbfs:/mnt/x", "dbfs:/mnt/x"),
        ("file:///tmp/x", "file:///tmp/x"),
    ],
)
def test_resolve(value, want):
    assert resolve(value, "/base") == want


def test_home_is_expanded_and_no_base_keeps_relative_paths():
    assert resolve("~/x", "/base") == str(Path.home() / "x")
    assert resolve("x", None) == "x"
    assert not is_local("s3://b/k") and is_local("a/s3://b")


def test_validate_resolves_every_config_path_field(tmp_path):
    m = validate(_M, {"one": "a", "many": ["b", "/c"], "maybe": "d"}, "x.yaml", tmp_path)
    assert (m.one, m.many, m.maybe) == (str(tmp_path / "a"), [str(tmp_path / "b"), "/c"], str(tmp_path / "d"))
    with pytest.raises(ConfigError, match="one"):
        validate(_M, {}, "x.yaml", tmp_path)


def test_every_path_key_of_the_moru_config_is_relative_to_the_config_file(tmp_path):
    from moru.config import load_config

    cfg = tmp_path / "conf" / "moru.yaml"
    cfg.parent.mkdir()
    cfg.write_text(
        """
workdir: wd
sources: [{name: a, path: data/a.jsonl}]
quality: {classifier: {positive: [p.jsonl], negative: [n.jsonl], model_path: m/q.bin}}
decontaminate: {benchmarks: [{name: b, path: bench/b.jsonl, preset: gsm8k}]}
tokenizer: {output_dir: tok, eval: {texts: [{name: t, lang: ko, path: t.txt}], baselines: [{name: x, path: x.json}]}}
emit: {output: out, tokenizer: tok}
train: {data: {blend: emit/b.json, tokenizer: tok}, checkpoint: {dir: ck}, extend: {data: {blend: emit/s2.json}}}
""",
        encoding="utf-8",
    )
    c = load_config(cfg)
    base = cfg.parent

    def p(x):
        return str(base / x)

    assert c.workdir == p("wd") and c.sources[0].path == p("data/a.jsonl")
    clf = c.quality.classifier
    assert (clf.positive, clf.negative, clf.model_path) == ([p("p.jsonl")], [p("n.jsonl")], p("m/q.bin"))
    assert c.decontaminate.benchmarks[0].path == p("bench/b.jsonl")
    assert c.tokenizer.output_dir == p("tok")
    assert c.tokenizer.eval.texts[0].path == p("t.txt") and c.tokenizer.eval.baselines[0].path == p("x.json")
    assert (c.emit.output, c.emit.tokenizer) == (p("out"), p("tok"))
    assert (c.train.data.blend, c.train.data.tokenizer, c.train.checkpoint.dir) == (
        p("emit/b.json"), p("tok"), p("ck"),
    )  # fmt: skip
    extend = c.train.for_stage("extend", c.workdir)
    assert extend.data.blend == p("emit/s2.json")  # merged later, resolved against the same folder
    assert extend.output_dir == p("wd/train/extend")
