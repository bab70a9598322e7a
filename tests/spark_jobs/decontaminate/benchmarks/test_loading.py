"""Examples from benchmark files: explicit fields (nesting, indexes), the formats, and errors that name
the file and the line."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq

from spark_jobs.decontaminate.benchmarks import Example

from .conftest import load, load_error, texts, write_csv, write_json, write_jsonl


def test_explicit_fields_with_nesting_and_index(tmp_path):
    rows = [
        {
            "meta": {"uid": "x-1"},
            "body": {"q": "Question?", "opts": [{"t": "o1"}, {"t": "o2"}]},
            "turns": ["t0", "t1"],
            "n": 7,
        }
    ]
    f = write_jsonl(tmp_path / "b.jsonl", rows)
    ex = load(f, fields={"text": ["body.q", "body.opts.t", "turns.1", "n"], "id": "meta.uid"}, split="dev")
    assert ex == [Example("b", "dev", "x-1", "Question?\no1\no2\nt1\n7")]


def test_explicit_fields_text_may_be_one_string(tmp_path):
    f = write_jsonl(tmp_path / "b.jsonl", [{"prompt": "p"}])
    assert texts(load(f, fields={"text": "prompt"})) == [("b.jsonl#0", "p")]


def test_tsv_parquet_and_glob(tmp_path):
    write_csv(tmp_path / "d" / "x.tsv", [["sentence", "label"], ["문장, 하나", "1"]], delimiter="\t")
    pq.write_table(pa.table({"sentence": ["row zero", "row one"], "label": [0, 1]}), tmp_path / "d" / "y.parquet")
    (tmp_path / "d" / "notes.txt").write_text("not a benchmark")
    ex = load(tmp_path / "d" / "[xy].*", fields={"text": ["sentence"]})
    assert texts(ex) == [("x.tsv#0", "문장, 하나"), ("y.parquet#0", "row zero"), ("y.parquet#1", "row one")]
    # a folder lists the files of known formats only
    assert len(load(tmp_path / "d", fields={"text": ["sentence"]})) == 3


def test_headerless_csv_with_columns(tmp_path):
    f = write_csv(tmp_path / "b.csv", [["q1", "a1"], ["q2", "a2"]])
    ex = load(f, fields={"text": ["q", "a"]}, csv_columns=["q", "a"], csv_header=False)
    assert texts(ex) == [("b.csv#0", "q1\na1"), ("b.csv#1", "q2\na2")]


# ---------------------------------------------------------------------------- file errors name file and line


def test_bad_json_line(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text('{"question": "q", "answer": "a"}\n\n{"question": "q2", "answer": \n')
    msg = load_error(f)
    assert f"{f}:3: bad JSON line" in msg


def test_missing_field_names_line_and_fields(tmp_path):
    f = write_jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": "a"}, {"question": "q2", "solution": "s"}])
    msg = load_error(f)
    assert f"{f}:2:" in msg and "answer missing" in msg and "question, solution" in msg


def test_no_layout_matches(tmp_path):
    f = write_jsonl(tmp_path / "m.jsonl", [{"question": "q"}])
    msg = load_error(f, "math")
    assert f"{f}:1:" in msg and "(problem, solution) or (context, chain_of_thought, answer)" in msg


def test_bad_gzip(tmp_path):
    f = tmp_path / "g.jsonl.gz"
    f.write_bytes(b"this is not gzip at all")
    assert str(f) in load_error(f)
    truncated = tmp_path / "t.jsonl.gz"
    data = gzip.compress(b"".join(b'{"question": "q%d", "answer": "a"}\n' % i for i in range(5000)))
    truncated.write_bytes(data[: len(data) // 2])
    assert f"{truncated}: unreadable after line" in load_error(truncated)


def test_bad_utf8(tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_bytes(b'{"question": "q", "answer": "a"}\n{"question": "\xff", "answer": "a"}\n')
    assert f"{f}:2: not UTF-8" in load_error(f)


def test_csv_without_the_columns(tmp_path):
    f = write_csv(tmp_path / "k.csv", [["prompt", "A", "B"], ["q", "1", "2"]])
    msg = load_error(f, "kmmlu")
    assert f"{f}, row 0:" in msg and "question" in msg and "C" in msg


def test_csv_row_with_too_many_columns(tmp_path):
    f = write_csv(
        tmp_path / "k.csv",
        [["question", "A", "B", "C", "D"], ["q", "1", "2", "3", "4"], ["q", "1", "2", "3", "4", "5"]],
    )
    assert f"{f}, row 1: bad CSV row: row has 6 fields, the header 5" in load_error(f, "kmmlu")


def test_json_syntax_error_names_line(tmp_path):
    f = tmp_path / "b.json"
    f.write_text('{\n  "examples": [\n    {"input": "x", "target": "y"},\n    {"input": }\n  ]\n}\n')
    assert f"{f}:4: bad JSON" in load_error(f, "bbh")


def test_records_path_errors(tmp_path):
    f = write_json(tmp_path / "b.json", {"canary": "x"})
    assert f"{f}: records path 'examples' not found" in load_error(f, "bbh")
    g = write_json(tmp_path / "c.json", {"examples": {"input": "x"}})
    assert "not a list" in load_error(g, "bbh")
    h = write_json(tmp_path / "d.json", {"examples": [{"input": "x", "target": "y"}, {"input": "x2"}]})
    assert f"{h}, record 1: fields target missing" in load_error(h, "bbh")


def test_field_holding_an_object(tmp_path):
    f = write_jsonl(tmp_path / "g.jsonl", [{"question": {"stem": "q"}, "answer": "a"}])
    assert f"{f}:1: field 'question' holds dict" in load_error(f)


def test_duplicate_ids(tmp_path):
    f = write_jsonl(
        tmp_path / "h.jsonl", [{"task_id": "T/0", "prompt": "p", "canonical_solution": "c", "test": "t"}] * 2
    )
    msg = load_error(f, "humaneval")
    assert f"{f}:2" in msg and "'T/0' repeats" in msg and f"{f}:1" in msg


def test_bad_parquet(tmp_path):
    f = tmp_path / "b.parquet"
    f.write_bytes(b"PAR1 garbage")
    assert str(f) in load_error(f, fields={"text": ["x"]}, preset=None)


def test_csv_bad_utf8_and_bom(tmp_path):
    f = tmp_path / "k.csv"
    f.write_bytes("\ufeffquestion,A,B,C,D\nq,1,2,3,4\n".encode() + b"q\xff,1,2,3,4\n")
    assert f"{f}, row 1: not UTF-8" in load_error(f, "kmmlu")
    g = tmp_path / "ok.csv"
    g.write_bytes("\ufeffquestion,A,B,C,D\nq,1,2,3,4\n".encode())
    assert texts(load(g, "kmmlu")) == [("ok.csv#0", "q\n1\n2\n3\n4")]
