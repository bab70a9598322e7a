"""Every preset on a tiny file in its published layout."""

from __future__ import annotations

import pytest

from spark_jobs.decontaminate.benchmarks import PRESETS, Example

from .conftest import load, texts, write_csv, write_json, write_jsonl


def test_gsm8k(tmp_path):
    f = write_jsonl(
        tmp_path / "test.jsonl",
        [{"question": "Q1?", "answer": "A <<1+1=2>>2\n#### 2"}, {"question": "Q2", "answer": "x"}],
    )
    ex = load(f, "gsm8k")
    assert ex[0] == Example("b", "test", "test.jsonl#0", "Q1?\nA <<1+1=2>>2\n#### 2")
    assert ex[1].example_id == "test.jsonl#1"


def test_math_both_layouts(tmp_path):
    folder = tmp_path / "MATH" / "test"
    write_json(
        folder / "algebra" / "1.json",
        {"problem": "Solve $x+1=2$.", "level": "Level 1", "type": "Algebra", "solution": "$x=1$"},
    )
    write_jsonl(
        folder / "foundry.jsonl.gz",
        [{"context": "What is 2+2?", "answer": "4", "chain_of_thought": "2+2=4", "category": "x"}],
    )
    ex = load(tmp_path / "MATH", "math")
    assert texts(ex) == [
        ("test/algebra/1.json#0", "Solve $x+1=2$.\n$x=1$"),
        ("test/foundry.jsonl.gz#0", "What is 2+2?\n2+2=4\n4"),
    ]


def test_humaneval_gz(tmp_path):
    f = write_jsonl(
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
    assert texts(load(f, "humaneval")) == [("HumanEval/0", "def f():\n\n    return 1\n\nassert f() == 1\n")]


def test_mbpp(tmp_path):
    f = write_jsonl(
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
    assert texts(load(f, "mbpp")) == [("11", "Write f.\ndef f(): pass\nassert f() is None\nassert True")]


def test_mmlu_headered_and_headerless(tmp_path):
    write_csv(
        tmp_path / "test" / "a_test.csv",
        [["question", "choice0", "choice1", "choice2", "choice3", "answer"], ["Q?", "w", "x", "y", "z", "1"]],
    )
    # the original hendrycks layout: no header, answer letter last (here an "A", which names no layout)
    write_csv(
        tmp_path / "test" / "b_test.csv", [["Which?", "A", "p", "q", "r", "A"], ["Then?", "1", "2", "3", "4", "D"]]
    )
    ex = load(tmp_path / "test", "mmlu")
    assert texts(ex) == [
        ("a_test.csv#0", "Q?\nw\nx\ny\nz"),
        ("b_test.csv#0", "Which?\nA\np\nq\nr"),
        ("b_test.csv#1", "Then?\n1\n2\n3\n4"),
    ]


def test_kmmlu(tmp_path):
    f = write_jsonl(
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
    assert texts(load(f, "kmmlu")) == [("Accounting-test.jsonl#0", "재고자산은?\n10\n20\n30\n40")]


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
    assert texts(load(write_jsonl(tmp_path / "arc.jsonl", rows), "arc")) == [
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
    f = write_csv(tmp_path / "gpqa_diamond.csv", [head, ["old", "What, exactly?", "right", "w1", "w2", "w3", "rec42"]])
    assert texts(load(f, "gpqa")) == [("rec42", "What, exactly?\nright\nw1\nw2\nw3")]


def test_bbh(tmp_path):
    write_json(
        tmp_path / "bbh" / "navigate.json",
        {
            "canary": "BENCHMARK DATA SHOULD NEVER APPEAR",
            "examples": [{"input": "Go left?", "target": "No"}, {"input": "Go right?", "target": "Yes"}],
        },
    )
    ex = load(tmp_path / "bbh", "bbh")
    assert texts(ex) == [("navigate.json#0", "Go left?\nNo"), ("navigate.json#1", "Go right?\nYes")]


def test_ifeval(tmp_path):
    f = write_jsonl(
        tmp_path / "input_data.jsonl",
        [{"key": 1000, "prompt": "Write 300 words.", "instruction_id_list": ["length"], "kwargs": [{}]}],
    )
    assert texts(load(f, "ifeval")) == [("1000", "Write 300 words.")]


@pytest.mark.parametrize("preset", ["mt_bench", "komt_bench"])
def test_mt_bench(tmp_path, preset):
    f = write_jsonl(
        tmp_path / "question.jsonl",
        [{"question_id": 81, "category": "writing", "turns": ["하와이 여행 글을 써 주세요.", "다시 써 주세요."]}],
    )
    assert texts(load(f, preset)) == [("81", "하와이 여행 글을 써 주세요.\n다시 써 주세요.")]


def test_logickor_questions_or_turns(tmp_path):
    rows = [
        {"id": 1, "category": "추론(Reasoning)", "questions": ["정의란?", "요약하라."], "references": [None, None]},
        {"id": 2, "category": "수학(Math)", "turns": ["1+1은?", "2+2는?"]},
    ]
    assert texts(load(write_jsonl(tmp_path / "questions.jsonl", rows), "logickor")) == [
        ("1", "정의란?\n요약하라."),
        ("2", "1+1은?\n2+2는?"),
    ]


def test_alpaca_eval_json_list(tmp_path):
    f = write_json(
        tmp_path / "alpaca_eval.json",
        [{"dataset": "helpful_base", "instruction": "What is X?", "output": "model answer", "generator": "gpt4"}],
    )
    assert texts(load(f, "alpaca_eval")) == [("alpaca_eval.json#0", "What is X?")]


def test_arena_hard_v01_and_v2(tmp_path):
    write_jsonl(
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
    write_jsonl(
        tmp_path / "v2" / "question.jsonl",
        [{"uid": "u1", "category": "hard_prompt", "subcategory": "coding", "prompt": "Explain monads."}],
    )
    assert texts(load(tmp_path, "arena_hard")) == [("q1", "Write a parser."), ("u1", "Explain monads.")]


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
    f = write_json(tmp_path / "dev.json", doc)
    assert texts(load(f, "korquad")) == [
        ("dev.json#0", "본문 하나.\n질문 1?\n질문 2?"),
        ("dev.json#1", "본문 둘.\n질문 3?"),
    ]


def test_click_and_haerae(tmp_path):
    f = write_json(
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
    assert texts(load(f, "click")) == [("click.json#0", "언제인가?\n1999년\n2000년")]
    g = write_csv(
        tmp_path / "haerae.csv",
        [
            ["question", "a", "b", "c", "d", "e", "answer", "split"],
            ["무엇입니까?", "추석", "제사", "성묘", "백일", "장례", "b", "KGK"],
        ],
    )
    assert texts(load(g, "haerae")) == [("haerae.csv#0", "무엇입니까?\n추석\n제사\n성묘\n백일\n장례")]


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
