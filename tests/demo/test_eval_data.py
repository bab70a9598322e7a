"""demo.eval_data: the demo's benchmark files are read by moru's task YAMLs as the real files are (eval.harness's
column checks, lm-eval's TaskManager), and every multiple-choice target is the right answer."""

from __future__ import annotations

import random
import re

import pytest

from demo.benchmark import benchmark_examples, write_benchmark
from demo.eval_data import COPA_DEV_ROWS, ROWS, write_benchmark_files
from demo.evaluation import CHANCE, TASKS
from eval import harness


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_data")
    bench = root / "demo_bench.jsonl"
    write_benchmark(bench, benchmark_examples(random.Random(3), n=2 * 2 * ROWS))
    info = write_benchmark_files(root / "data", bench, seed=3)
    return root, info


def _number(answer: str) -> int:
    return int(re.search(r"#### (-?[0-9]+)", answer).group(1))


def test_every_demo_task_file_passes_the_harness_checks(data, tmp_path):
    root, info = data
    assert sorted(info["files"]) == sorted(TASKS) == sorted(CHANCE)
    cat = harness.catalogue(harness.render_tasks(root / "data", tmp_path / "tasks"))
    for task in TASKS:
        files = harness.check_task_files(cat[task])  # every row has the columns the YAML reads
        assert {str((root / "data" / f).resolve()) for f in info["files"][task]} == set(files), task


def test_lm_eval_reads_the_demo_files_with_the_right_targets(data, tmp_path):
    from lm_eval.tasks import TaskManager

    root, _ = data
    rendered = harness.render_tasks(root / "data", tmp_path / "tasks")
    tasks = TaskManager(include_path=str(rendered), include_defaults=False).load(TASKS)["tasks"]
    by_name = {next(t for t in TASKS if str(name).endswith(t)): task for name, task in tasks.items()}
    docs = {name: list(task.test_docs()) for name, task in by_name.items()}
    assert {name: len(d) for name, d in docs.items()} == dict.fromkeys(TASKS, ROWS)
    for doc in docs["gsm8k"]:  # English word problems, GSM8K's own answers
        assert not re.search("[가-힣]", doc["question"]) and by_name["gsm8k"].doc_to_target(doc).endswith(
            f"#### {_number(doc['answer'])}"
        )
    for name in ("arc_challenge", "kmmlu"):  # the target option is the right number; four distinct options
        task = by_name[name]
        for doc in docs[name]:
            choices = task.doc_to_choice(doc)
            assert len(choices) == 4
            text = task.doc_to_text(doc)
            options = doc["choices"]["text"] if name == "arc_challenge" else [doc[k] for k in "ABCD"]
            assert len(set(options)) == 4 and all(o.replace(",", "").isdigit() for o in options)
            assert bool(re.search("[가-힣]", text)) == (name == "kmmlu")
    copa = by_name["kobest_copa"]
    assert len(list(copa.fewshot_docs())) == COPA_DEV_ROWS
    for doc in docs["kobest_copa"]:
        assert doc["question"] in ("원인", "결과") and copa.doc_to_target(doc) in (0, 1)
        assert copa.doc_to_text(doc).endswith(("왜냐하면", "그래서"))
    answers = {copa.doc_to_target(d) for d in docs["kobest_copa"]}
    assert answers == {0, 1}  # the right alternative is not always first


def test_multiple_choice_answers_match_the_word_problems(data):
    import gzip
    import json

    root, _ = data
    bench = [json.loads(x) for x in (root / "demo_bench.jsonl").read_text(encoding="utf-8").splitlines()]
    right = {r["question"]: _number(r["answer"]) for r in bench}
    kmmlu = [json.loads(x) for x in (root / "data" / "kmmlu_test" / "Demo-Word-Problems-test.jsonl")
             .read_text(encoding="utf-8").splitlines()]  # fmt: skip
    for row in kmmlu:
        assert int(row["ABCD"[row["answer"] - 1]].replace(",", "")) == right[row["question"]]
    with gzip.open(root / "data" / "arc_challenge_test.jsonl.gz", "rt", encoding="utf-8") as fh:
        arc = [json.loads(x) for x in fh]
    gsm8k = {json.loads(x)["question"] for x in (root / "data" / "gsm8k_test.jsonl").read_text().splitlines()}
    for row in arc:
        at = row["choices"]["label"].index(row["answerKey"])
        assert int(row["choices"]["text"][at]) == right[row["question"]] and row["question"] not in gsm8k
    assert len({row["answerKey"] for row in arc}) > 1 and len({row["answer"] for row in kmmlu}) > 1


def test_too_small_a_benchmark_is_refused(tmp_path):
    bench = tmp_path / "b.jsonl"
    write_benchmark(bench, benchmark_examples(random.Random(1), n=6))
    with pytest.raises(ValueError, match="needs 24 and 12"):
        write_benchmark_files(tmp_path / "data", bench)
