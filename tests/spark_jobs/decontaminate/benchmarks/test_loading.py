"""Benchmark registry: every preset on a tiny file in its published layout, explicit fields, and
errors that name the file and the line."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs
from pydantic import ValidationError

from spark_jobs.decontaminate import registry
from spark_jobs.decontaminate.registry import (
    PRESETS,
    BenchmarkConfig,
    BenchmarkError,
    Example,
    RemoteFile,
    detect_format,
    list_files,
    load_examples,
)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def _load(path: Path, preset: str | None = None, **kw) -> list[Example]:
    return list(load_examples(BenchmarkConfig(name="b", path=str(path), preset=preset, **kw)))


def _texts(examples):
    return [(e.example_id, e.text) for e in examples]


# ---------------------------------------------------------------------------- presets


def test_gsm8k(tmp_path):
    f = _jsonl(
        tmp_path / "test.jsonl",
        [{"question": "Q1?", "answer": "A <<1+1=2>>2\n#### 2"}, {"question": "Q2", "answer": "x"}],
    )
    ex = _load(f, "gsm8k")
    assert ex[0] == Example("b", "test", "test.jsonl#0", "Q1?\nA <<1+1=2>>2\n#### 2")
    assert ex[1].example_id == "test.jsonl#1"


def test_math_both_layouts(tmp_path):
    folder = tmp_path / "MATH" / "test"
    _json(
        folder / "algebra" / "1.json",
        {"problem": "Solve $x+1=2$.", "level": "Level 1", "type": "Algebra", "solution": "$x=1$"},
    )
    _jsonl(
        folder / "foundry.jsonl.gz",
        [{"context": "What is 2+2?", "answer": "4", "chain_of_thought": "2+2=4", "category": "x"}],
    )
    ex = _load(tmp_path / "MATH", "math")
    assert _texts(ex) == [
        ("test/algebra/1.json#0", "Solve $x+1=2$.\n$x=1$"),
        ("test/foundry.jsonl.gz#0", "What is 2+2?\n2+2=4\n4"),
    ]


def test_humaneval_gz(tmp_path):
    f = _jsonl(
        tmp_path / "HumanEval.jsonl.gz",
        [
            {
                "task_id": "HumanEval/0",
                "prompt": "def f():\n",
                "entry_point": "f",
                "canonical_solution": "    return 1\n",
                "test": "assert f() == 1\n",
            }
        ],
    )
    assert _texts(_load(f, "humaneval")) == [("HumanEval/0", "def f():\n\n    return 1\n\nassert f() == 1\n")]


def test_mbpp(tmp_path):
    f = _jsonl(
        tmp_path / "mbpp.jsonl",
        [
            {
                "text": "Write f.",
                "code": "def f(): pass",
                "task_id": 11,
                "test_setup_code": "",
                "test_list": ["assert f() is None", "assert True"],
                "challenge_test_list": [],
            }
        ],
    )
    assert _texts(_load(f, "mbpp")) == [("11", "Write f.\ndef f(): pass\nassert f() is None\nassert True")]


def test_mmlu_headered_and_headerless(tmp_path):
    _csv(
        tmp_path / "test" / "a_test.csv",
        [["question", "choice0", "choice1", "choice2", "choice3", "answer"], ["Q?", "w", "x", "y", "z", "1"]],
    )
    # the original hendrycks layout: no header, answer letter last (here an "A", which names no layout)
    _csv(tmp_path / "test" / "b_test.csv", [["Which?", "A", "p", "q", "r", "A"], ["Then?", "1", "2", "3", "4", "D"]])
    ex = _load(tmp_path / "test", "mmlu")
    assert _texts(ex) == [
        ("a_test.csv#0", "Q?\nw\nx\ny\nz"),
        ("b_test.csv#0", "Which?\nA\np\nq\nr"),
        ("b_test.csv#1", "Then?\n1\n2\n3\n4"),
    ]


def test_kmmlu(tmp_path):
    f = _jsonl(
        tmp_path / "Accounting-test.jsonl",
        [
            {
                "question": "재고자산은?",
                "answer": 2,
                "A": "10",
                "B": "20",
                "C": "30",
                "D": "40",
                "Category": "Accounting",
                "Human Accuracy": 0.0,
            }
        ],
    )
    assert _texts(_load(f, "kmmlu")) == [("Accounting-test.jsonl#0", "재고자산은?\n10\n20\n30\n40")]


def test_arc_three_layouts(tmp_path):
    rows = [
        {"id": "a1", "question": "Q1?", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "A"},
        {
            "id": "a2",
            "question": "Q2?",
            "choices": [{"text": "x2", "label": "A"}, {"text": "y2", "label": "B"}],
            "answerKey": "B",
        },
        {
            "id": "a3",
            "question": {"stem": "Q3?", "choices": [{"text": "x3", "label": "1"}, {"text": "y3", "label": "2"}]},
            "answerKey": "1",
        },
    ]
    assert _texts(_load(_jsonl(tmp_path / "arc.jsonl", rows), "arc")) == [
        ("a1", "Q1?\nx\ny"),
        ("a2", "Q2?\nx2\ny2"),
        ("a3", "Q3?\nx3\ny3"),
    ]


def test_gpqa_csv(tmp_path):
    head = [
        "Pre-Revision Question",
        "Question",
        "Correct Answer",
        "Incorrect Answer 1",
        "Incorrect Answer 2",
        "Incorrect Answer 3",
        "Record ID",
    ]
    f = _csv(tmp_path / "gpqa_diamond.csv", [head, ["old", "What, exactly?", "right", "w1", "w2", "w3", "rec42"]])
    assert _texts(_load(f, "gpqa")) == [("rec42", "What, exactly?\nright\nw1\nw2\nw3")]


def test_bbh(tmp_path):
    _json(
        tmp_path / "bbh" / "navigate.json",
        {
            "canary": "BENCHMARK DATA SHOULD NEVER APPEAR",
            "examples": [{"input": "Go left?", "target": "No"}, {"input": "Go right?", "target": "Yes"}],
        },
    )
    ex = _load(tmp_path / "bbh", "bbh")
    assert _texts(ex) == [("navigate.json#0", "Go left?\nNo"), ("navigate.json#1", "Go right?\nYes")]


def test_ifeval(tmp_path):
    f = _jsonl(
        tmp_path / "input_data.jsonl",
        [{"key": 1000, "prompt": "Write 300 words.", "instruction_id_list": ["length"], "kwargs": [{}]}],
    )
    assert _texts(_load(f, "ifeval")) == [("1000", "Write 300 words.")]


@pytest.mark.parametrize("preset", ["mt_bench", "komt_bench"])
def test_mt_bench(tmp_path, preset):
    f = _jsonl(
        tmp_path / "question.jsonl",
        [{"question_id": 81, "category": "writing", "turns": ["하와이 여행 글을 써 주세요.", "다시 써 주세요."]}],
    )
    assert _texts(_load(f, preset)) == [("81", "하와이 여행 글을 써 주세요.\n다시 써 주세요.")]


def test_logickor_questions_or_turns(tmp_path):
    rows = [
        {"id": 1, "category": "추론(Reasoning)", "questions": ["정의란?", "요약하라."], "references": [None, None]},
        {"id": 2, "category": "수학(Math)", "turns": ["1+1은?", "2+2는?"]},
    ]
    assert _texts(_load(_jsonl(tmp_path / "questions.jsonl", rows), "logickor")) == [
        ("1", "정의란?\n요약하라."),
        ("2", "1+1은?\n2+2는?"),
    ]


def test_alpaca_eval_json_list(tmp_path):
    f = _json(
        tmp_path / "alpaca_eval.json",
        [{"dataset": "helpful_base", "instruction": "What is X?", "output": "model answer", "generator": "gpt4"}],
    )
    assert _texts(_load(f, "alpaca_eval")) == [("alpaca_eval.json#0", "What is X?")]


def test_arena_hard_v01_and_v2(tmp_path):
    _jsonl(
        tmp_path / "v01" / "question.jsonl",
        [
            {
                "question_id": "q1",
                "category": "arena-hard-v0.1",
                "cluster": "c",
                "turns": [{"content": "Write a parser."}],
            }
        ],
    )
    _jsonl(
        tmp_path / "v2" / "question.jsonl",
        [{"uid": "u1", "category": "hard_prompt", "subcategory": "coding", "prompt": "Explain monads."}],
    )
    assert _texts(_load(tmp_path, "arena_hard")) == [("q1", "Write a parser."), ("u1", "Explain monads.")]


def test_korquad_nesting(tmp_path):
    doc = {
        "version": "KorQuAD_v1.0_dev",
        "data": [
            {
                "title": "t1",
                "paragraphs": [
                    {
                        "context": "본문 하나.",
                        "qas": [
                            {"id": "1", "question": "질문 1?", "answers": [{"text": "하나", "answer_start": 3}]},
                            {"id": "2", "question": "질문 2?", "answers": []},
                        ],
                    }
                ],
            },
            {
                "title": "t2",
                "paragraphs": [{"context": "본문 둘.", "qas": [{"id": "3", "question": "질문 3?", "answers": []}]}],
            },
        ],
    }
    f = _json(tmp_path / "dev.json", doc)
    assert _texts(_load(f, "korquad")) == [
        ("dev.json#0", "본문 하나.\n질문 1?\n질문 2?"),
        ("dev.json#1", "본문 둘.\n질문 3?"),
    ]


def test_click_and_haerae(tmp_path):
    f = _json(
        tmp_path / "click.json",
        [
            {
                "id": "KIIP_1",
                "paragraph": "",
                "question": "언제인가?",
                "choices": ["1999년", "2000년"],
                "answer": "2000년",
            }
        ],
    )
    assert _texts(_load(f, "click")) == [("click.json#0", "언제인가?\n1999년\n2000년")]
    g = _csv(
        tmp_path / "haerae.csv",
        [
            ["question", "a", "b", "c", "d", "e", "answer", "split"],
            ["무엇입니까?", "추석", "제사", "성묘", "백일", "장례", "b", "KGK"],
        ],
    )
    assert _texts(_load(g, "haerae")) == [("haerae.csv#0", "무엇입니까?\n추석\n제사\n성묘\n백일\n장례")]


def test_every_preset_is_tested():
    tested = {
        "gsm8k",
        "math",
        "humaneval",
        "mbpp",
        "mmlu",
        "kmmlu",
        "arc",
        "gpqa",
        "bbh",
        "ifeval",
        "mt_bench",
        "komt_bench",
    }
    tested |= {"logickor", "alpaca_eval", "arena_hard", "squad", "korquad", "click", "haerae"}
    assert set(PRESETS) == tested


# ---------------------------------------------------------------------------- explicit fields and formats


def test_explicit_fields_with_nesting_and_index(tmp_path):
    rows = [
        {
            "meta": {"uid": "x-1"},
            "body": {"q": "Question?", "opts": [{"t": "o1"}, {"t": "o2"}]},
            "turns": ["t0", "t1"],
            "n": 7,
        }
    ]
    f = _jsonl(tmp_path / "b.jsonl", rows)
    ex = _load(f, fields={"text": ["body.q", "body.opts.t", "turns.1", "n"], "id": "meta.uid"}, split="dev")
    assert ex == [Example("b", "dev", "x-1", "Question?\no1\no2\nt1\n7")]


def test_explicit_fields_text_may_be_one_string(tmp_path):
    f = _jsonl(tmp_path / "b.jsonl", [{"prompt": "p"}])
    assert _texts(_load(f, fields={"text": "prompt"})) == [("b.jsonl#0", "p")]


def test_tsv_parquet_and_glob(tmp_path):
    _csv(tmp_path / "d" / "x.tsv", [["sentence", "label"], ["문장, 하나", "1"]], delimiter="\t")
    pq.write_table(pa.table({"sentence": ["row zero", "row one"], "label": [0, 1]}), tmp_path / "d" / "y.parquet")
    (tmp_path / "d" / "notes.txt").write_text("not a benchmark")
    ex = _load(tmp_path / "d" / "[xy].*", fields={"text": ["sentence"]})
    assert _texts(ex) == [("x.tsv#0", "문장, 하나"), ("y.parquet#0", "row zero"), ("y.parquet#1", "row one")]
    # a folder lists the files of known formats only
    assert len(_load(tmp_path / "d", fields={"text": ["sentence"]})) == 3


def test_headerless_csv_with_columns(tmp_path):
    f = _csv(tmp_path / "b.csv", [["q1", "a1"], ["q2", "a2"]])
    ex = _load(f, fields={"text": ["q", "a"]}, csv_columns=["q", "a"], csv_header=False)
    assert _texts(ex) == [("b.csv#0", "q1\na1"), ("b.csv#1", "q2\na2")]


def test_detect_format():
    assert detect_format("a.jsonl.gz") == "jsonl"
    assert detect_format("a.JSON") == "json"
    assert detect_format("a.csv.gz") == "csv"
    assert detect_format("a.parquet") == "parquet"
    assert detect_format("a.parquet.gz") is None
    assert detect_format("a.txt") is None


# ---------------------------------------------------------------------------- config errors


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


# ---------------------------------------------------------------------------- file errors name file and line


def _error(path: Path, preset: str | None = "gsm8k", **kw) -> str:
    with pytest.raises(BenchmarkError) as e:
        _load(path, preset, **kw)
    return str(e.value)


def test_bad_json_line(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text('{"question": "q", "answer": "a"}\n\n{"question": "q2", "answer": \n')
    msg = _error(f)
    assert f"{f}:3: bad JSON line" in msg


def test_missing_field_names_line_and_fields(tmp_path):
    f = _jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2", "solution": "s"}])
    msg = _error(f)
    assert f"{f}:2:" in msg and "answer missing" in msg and "question, solution" in msg


def test_no_layout_matches(tmp_path):
    f = _jsonl(tmp_path / "m.jsonl", [{"question": "q"}])
    msg = _error(f, "math")
    assert f"{f}:1:" in msg and "(problem, solution) or (context, chain_of_thought, answer)" in msg


def test_bad_gzip(tmp_path):
    f = tmp_path / "g.jsonl.gz"
    f.write_bytes(b"this is not gzip at all")
    assert str(f) in _error(f)
    truncated = tmp_path / "t.jsonl.gz"
    data = gzip.compress(b"".join(b'{"question": "q%d", "answer": "a"}\n' % i for i in range(5000)))
    truncated.write_bytes(data[: len(data) // 2])
    assert f"{truncated}: unreadable after line" in _error(truncated)


def test_bad_utf8(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_bytes(b'{"question": "q", "answer": "a"}\n{"question": "\xff", "answer": "a"}\n')
    assert f"{f}:2: not UTF-8" in _error(f)


def test_csv_without_the_columns(tmp_path):
    f = _csv(tmp_path / "k.csv", [["prompt", "A", "B"], ["q", "1", "2"]])
    msg = _error(f, "kmmlu")
    assert f"{f}:2:" in msg and "question" in msg and "C" in msg


def test_csv_row_with_too_many_columns(tmp_path):
    f = _csv(
        tmp_path / "k.csv",
        [["question", "A", "B", "C", "D"], ["q", "1", "2", "3", "4"], ["q", "1", "2", "3", "4", "5"]],
    )
    assert f"{f}:3: 6 columns" in _error(f, "kmmlu")


def test_json_syntax_error_names_line(tmp_path):
    f = tmp_path / "b.json"
    f.write_text('{\n  "examples": [\n    {"input": "x", "target": "y"},\n    {"input": }\n  ]\n}\n')
    assert f"{f}:4: bad JSON" in _error(f, "bbh")


def test_records_path_errors(tmp_path):
    f = _json(tmp_path / "b.json", {"canary": "x"})
    assert f"{f}: records path 'examples' not found" in _error(f, "bbh")
    g = _json(tmp_path / "c.json", {"examples": {"input": "x"}})
    assert "not a list" in _error(g, "bbh")
    h = _json(tmp_path / "d.json", {"examples": [{"input": "x", "target": "y"}, {"input": "x2"}]})
    assert f"{h}, record 1: fields target missing" in _error(h, "bbh")


def test_field_holding_an_object(tmp_path):
    f = _jsonl(tmp_path / "g.jsonl", [{"question": {"stem": "q"}, "answer": "a"}])
    assert f"{f}:1: field 'question' holds dict" in _error(f)


def test_duplicate_ids(tmp_path):
    f = _jsonl(tmp_path / "h.jsonl", [{"task_id": "T/0", "prompt": "p", "canonical_solution": "c", "test": "t"}] * 2)
    msg = _error(f, "humaneval")
    assert f"{f}:2" in msg and "'T/0' repeats" in msg and f"{f}:1" in msg


def test_missing_path_and_empty_folder(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    assert "no benchmark files" in _error(tmp_path / "empty")


def test_unknown_suffix_in_glob(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert "unknown format" in _error(tmp_path / "*.txt")


def test_bad_parquet(tmp_path):
    f = tmp_path / "b.parquet"
    f.write_bytes(b"PAR1 garbage")
    assert str(f) in _error(f, fields={"text": ["x"]}, preset=None)


def test_csv_bad_utf8_and_bom(tmp_path):
    f = tmp_path / "k.csv"
    f.write_bytes("\ufeffquestion,A,B,C,D\nq,1,2,3,4\n".encode() + b"q\xff,1,2,3,4\n")
    assert f"{f}:3: not UTF-8" in _error(f, "kmmlu")
    g = tmp_path / "ok.csv"
    g.write_bytes("\ufeffquestion,A,B,C,D\nq,1,2,3,4\n".encode())
    assert _texts(_load(g, "kmmlu")) == [("ok.csv#0", "q\n1\n2\n3\n4")]


# ---------------------------------------------------------------------------- remote files (through pyarrow.fs)
# file:// URIs go through pyarrow's LocalFileSystem, the same code path as s3:// or gs://, and
# messages name files by URI, which the local route never does.


def _remote_files(uri: str, **kw) -> list[tuple[str, str]]:
    files = list_files(BenchmarkConfig(name="b", path=uri, fields={"text": ["q"]}, **kw))
    assert all(isinstance(f, RemoteFile) for f, _ in files)
    return [(str(f), rel) for f, rel in files]


def _bench_folder(root: Path) -> Path:
    _jsonl(root / "a.jsonl", [{"q": "alpha", "answer": "1"}, {"q": "beta", "answer": "2"}])
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "b.csv.gz").write_bytes(gzip.compress(b'q,answer\n"gamma, with comma",3\n'))
    _jsonl(root / ".hidden" / "c.jsonl", [{"q": "hidden"}])
    _jsonl(root / "sub" / ".d.jsonl", [{"q": "hidden too"}])
    (root / "sub" / "notes.txt").write_text("not a benchmark")
    (root / "_SUCCESS").write_text("")
    return root


def test_remote_folder_of_jsonl_and_gzipped_csv(tmp_path):
    root = _bench_folder(tmp_path / "bench")
    uri = root.as_uri()
    assert uri.startswith("file:///")
    assert _remote_files(uri) == [(f"{uri}/a.jsonl", "a.jsonl"), (f"{uri}/sub/b.csv.gz", "sub/b.csv.gz")]
    assert _remote_files(uri + "/") == _remote_files(uri)
    assert _texts(_load(uri, fields={"text": ["q"]})) == [
        ("a.jsonl#0", "alpha"),
        ("a.jsonl#1", "beta"),
        ("sub/b.csv.gz#0", "gamma, with comma"),
    ]
    # the same examples as through the local route
    assert _load(uri, fields={"text": ["q"]}) == _load(root, fields={"text": ["q"]})


def test_remote_glob(tmp_path):
    root = _bench_folder(tmp_path / "bench")
    uri = root.as_uri()
    assert _remote_files(uri + "/*.jsonl") == [(f"{uri}/a.jsonl", "a.jsonl")]
    assert _remote_files(uri + "/**/*.gz") == [(f"{uri}/sub/b.csv.gz", "sub/b.csv.gz")]
    # ids are relative to the glob's fixed prefix, as for a local glob
    ex = _load(uri + "/s[uv]b/?.csv.*", fields={"text": ["q"]})
    assert _texts(ex) == [("sub/b.csv.gz#0", "gamma, with comma")]
    assert "no benchmark files" in _error(uri + "/*.parquet", preset=None, fields={"text": ["q"]})


@pytest.mark.parametrize("pattern", ["*", "*.jsonl", "**", "**/*", "**/*.jsonl", "sub/*", "*/b*", "[as]*", "?.jsonl"])
def test_remote_glob_matches_like_local_glob(tmp_path, pattern):
    root = _bench_folder(tmp_path / "bench")
    _jsonl(root / "sub" / "deeper" / "e.jsonl", [{"q": "deep"}])
    local = list_files(BenchmarkConfig(name="b", path=f"{root}/{pattern}", fields={"text": ["q"]}))
    remote = _remote_files(f"{root.as_uri()}/{pattern}")
    assert [rel for _, rel in remote] == [rel for _, rel in local]


def test_remote_single_parquet(tmp_path):
    f = tmp_path / "test-00000.parquet"
    pq.write_table(pa.table({"question": ["p0", "p1"], "answer": ["a0", "a1"], "n": [0, 1]}), f)
    assert _remote_files(f.as_uri()) == [(f.as_uri(), "test-00000.parquet")]
    assert _texts(_load(f.as_uri(), "gsm8k")) == [
        ("test-00000.parquet#0", "p0\na0"),
        ("test-00000.parquet#1", "p1\na1"),
    ]
    g = tmp_path / "bad.parquet"
    g.write_bytes(b"PAR1 garbage")
    assert f"{g.as_uri()}: unreadable Parquet" in _error(g.as_uri(), preset=None, fields={"text": ["x"]})


def test_remote_errors_name_the_uri_and_line(tmp_path):
    root = tmp_path / "bench"
    _jsonl(root / "a.jsonl", [{"question": "q", "answer": "a"}])
    (root / "b.jsonl").write_text('{"question": "q", "answer": "a"}\n\n{"question": "q2", "answer": \n')
    uri = root.as_uri()
    assert f"{uri}/b.jsonl:3: bad JSON line" in _error(uri)
    c = tmp_path / "c.csv.gz"
    c.write_bytes(gzip.compress(b"question,answer\nq,a\nq\xff,a\n"))
    assert f"{c.as_uri()}:3: not UTF-8" in _error(c.as_uri())
    d = tmp_path / "d.jsonl.gz"
    d.write_bytes(b"this is not gzip at all")
    assert f"{d.as_uri()}: unreadable" in _error(d.as_uri())
    e = _jsonl(tmp_path / "e.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2"}])
    assert f"{e.as_uri()}:2: fields answer missing" in _error(e.as_uri())


def test_remote_missing_path(tmp_path):
    missing = (tmp_path / "nope" / "gsm8k.jsonl").as_uri()
    msg = _error(missing)
    assert missing in msg and "does not exist" in msg
    assert "no benchmark files" in _error((tmp_path / "nope").as_uri() + "/*.jsonl")
    (tmp_path / "empty").mkdir()
    assert "no benchmark files" in _error((tmp_path / "empty").as_uri())


def test_unknown_scheme():
    msg = _error("nosuch://x/y.jsonl")
    assert "benchmark 'b'" in msg and "nosuch://x/y.jsonl" in msg and "Unrecognized filesystem type" in msg


def test_file_uri_with_a_host_is_refused_with_pyarrows_reason():
    msg = _error("file://somehost/data/gsm8k.jsonl")
    assert "file://somehost/data/gsm8k.jsonl" in msg and "hostname" in msg


def test_dbfs_is_the_local_mount():
    # dbfs:/ is read through /dbfs, as elsewhere in moru; pyarrow knows no dbfs scheme
    msg = _error("dbfs:/no/such/moru-benchmark.jsonl")
    assert "does not exist" in msg and "Unrecognized" not in msg


def test_object_store_paths(tmp_path, monkeypatch):
    """An object store's paths are bucket/key, without a leading slash; a stand-in for S3 (a
    sub-tree of the local file system) checks the names and the URI handed to pyarrow."""
    _jsonl(tmp_path / "bucket" / "evals" / "gsm8k" / "main" / "test.jsonl", [{"question": "q", "answer": "a"}])
    _jsonl(tmp_path / "bucket" / "evals" / "gsm8k" / "socratic" / "test.jsonl.gz", [{"question": "s"}])
    asked: list[str] = []

    def from_uri(uri: str):
        asked.append(uri)
        assert uri.startswith("s3://")
        return pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()), uri[5:].split("?")[0].rstrip("/")

    monkeypatch.setattr(registry, "_from_uri", from_uri)
    path = "s3a://bucket/evals/gsm8k?region=eu-west-1&endpoint_override=minio:9000"
    assert _remote_files(path) == [
        ("s3a://bucket/evals/gsm8k/main/test.jsonl", "main/test.jsonl"),
        ("s3a://bucket/evals/gsm8k/socratic/test.jsonl.gz", "socratic/test.jsonl.gz"),
    ]
    assert asked == ["s3://bucket/evals/gsm8k?region=eu-west-1&endpoint_override=minio:9000"]
    msg = _error(path)
    assert "s3a://bucket/evals/gsm8k/socratic/test.jsonl.gz:1: fields answer missing" in msg
    asked.clear()
    ex = _load("s3://bucket/evals/*/main/*.jsonl", "gsm8k")
    assert asked == ["s3://bucket/evals"]
    assert _texts(ex) == [("gsm8k/main/test.jsonl#0", "q\na")]


def test_remote_reason_is_reported(tmp_path, monkeypatch):
    def from_uri(uri: str):
        raise OSError("AWS Error ACCESS_DENIED during HeadObject operation\nsecond line of detail")

    monkeypatch.setattr(registry, "_from_uri", from_uri)
    msg = _error("s3://bucket/gsm8k.jsonl")
    assert "s3://bucket/gsm8k.jsonl" in msg and "ACCESS_DENIED" in msg and "second line" not in msg
