"""eval.harness: lm-eval 0.4.13 over moru's task YAMLs and small benchmark files the tests write in the real
layouts (data README, bench/ section), with a tiny random Llama and a byte-level BPE tokenizer made here."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from eval import harness
from eval.harness import EvalInputError
from eval.tasks import moru_task_utils as tu

CONTEXT = 160  # short enough that GSM8K's 5-shot prompts overflow it (a warning), long enough for the rest


def _tiny_model(out: Path, context: int = CONTEXT) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from tokenizer.hf import CHAT_TEMPLATE

    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "[|endofturn|]", "[|system|]", "[|user|]", "[|assistant|]", "<pad>"]
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(
        ["Question: apples? Answer: 4 #### 4", "질문: 정답은? 답변: 예 아니오 그래서"] * 30, trainer
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="[|endofturn|]",
                                   pad_token="<pad>", chat_template=CHAT_TEMPLATE)  # fmt: skip
    fast.save_pretrained(out)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=context,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def _tsv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")


def write_bench(root: Path) -> Path:
    """A few records of each benchmark, in the layouts of ../shared/data/bench."""
    _jsonl(root / "gsm8k_test.jsonl", [{"question": f"Tom has {i} apples and buys 2. How many now?",
                                        "answer": f"He has {i} + 2 = <<{i}+2={i + 2}>>{i + 2}.\n#### {i + 2}"}
                                       for i in range(8)])  # fmt: skip
    copa = [[1, "전쟁이 시작되었다.", "결과", "병사들이 돌아왔다.", "병사들이 파견되었다.", 2],
            [2, "영화를 보고 울었다.", "원인", "재밌는 영화를 봤다.", "\"슬픈\" 영화를 봤다.", 2],
            [3, "바지가 컸다.", "결과", "밑단을 잘랐다.", "벨트를 맸다.", 2]]  # fmt: skip
    for split in ("test", "dev"):
        _tsv(root / "kobest" / "COPA" / f"{split}.tsv", ["ID", "sentence", "question", "1", "2", "Answer"], copa)
    arc = {"text": ["a feather", "a stone", "air"], "label": ["A", "B", "C"]}
    _jsonl(root / "arc_challenge_test.jsonl.gz",
           [{"id": f"q{i}", "question": f"Which is heavier, case {i}?", "answerKey": "B", "choices": arc}
            for i in range(3)])  # fmt: skip
    (root / "haerae").mkdir(parents=True, exist_ok=True)
    for part, e in (("general_knowledge", "다섯"), ("reading_comprehension", "")):
        (root / "haerae" / f"haerae_{part}.csv").write_text(
            "question,a,b,c,d,e,answer,split\n"
            + "".join(f'"질문 {i}, 무엇?",하나,둘,셋,넷,{e},b,X\n' for i in range(3)), encoding="utf-8")  # fmt: skip
    (root / "click").mkdir(parents=True, exist_ok=True)
    click = [{"id": "KIIP_law_1", "paragraph": "", "question": "법은?", "choices": ["가", "나", "다", "라"],
              "answer": "다"}]  # fmt: skip
    (root / "click" / "Culture__Korean_Law__Law_KIIP.json").write_text(json.dumps(click, ensure_ascii=False),
                                                                       encoding="utf-8")  # fmt: skip
    (root / "bbh").mkdir(parents=True, exist_ok=True)
    (root / "bbh" / "boolean_expressions.json").write_text(
        json.dumps(
            {"canary": "x", "examples": [{"input": f"not {b} is", "target": str(not b)} for b in (True, False)] * 3}
        )
    )
    _jsonl(root / "kmmlu_test" / "Law-test.jsonl", [{"question": "법?", "answer": 2, "A": "1", "B": "2", "C": "3",
                                                      "D": "4", "Category": "Law", "Human Accuracy": 0.5}])  # fmt: skip
    _jsonl(root / "mt_bench" / "question.jsonl", [{"question_id": 81, "category": "writing",
                                                   "turns": ["Say hi.", "Again."]}])  # fmt: skip
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return write_bench(tmp_path_factory.mktemp("bench"))


def test_evaluate_scores_tasks_and_stores_two_turn_answers(model, bench, tmp_path):
    out = tmp_path / "out"
    res = harness.evaluate(str(model), ["kobest_copa", "arc_challenge", "gsm8k", "mt_bench"], str(bench), str(out),
                           limit=2, gen_kwargs={"max_gen_toks": 4}, max_new_tokens=4)  # fmt: skip
    assert json.loads((out / "eval_results.json").read_text(encoding="utf-8")) == res
    assert res["lm_eval_version"] == "0.4.13"
    r = res["results"]
    assert set(r) == {"kobest_copa", "arc_challenge", "gsm8k"}
    assert r["kobest_copa"]["language"] == "ko" and r["arc_challenge"]["language"] == "en"
    assert {k for k in r["kobest_copa"]["metrics"] if "stderr" not in k} == {"acc,none", "f1,none"}
    assert {k for k in r["gsm8k"]["metrics"] if "stderr" not in k} == {
        "exact_match,strict-match",
        "exact_match,flexible-extract",
    }
    assert all(x["n"] == 2 and x["n_original"] == 3 for t, x in r.items() if t != "gsm8k")
    assert r["gsm8k"]["n_original"] == 8 and r["gsm8k"]["num_fewshot"] == 5
    assert all(0.0 <= v <= 1.0 for x in r.values() for k, v in x["metrics"].items() if "stderr" not in k)
    copa = bench / "kobest" / "COPA" / "test.tsv"
    assert r["kobest_copa"]["files"][str(copa)] == hashlib.sha256(copa.read_bytes()).hexdigest()
    rows = {(s["task"], s["metric"], s["filter"]) for s in res["scores"]}
    assert ("arc_challenge", "acc_norm", "none") in rows
    # base model: no moru_export.json, so no chat template, and the decision says why
    assert res["chat_template"]["applied"] is False and "moru_export.json" in res["chat_template"]["reason"]
    # GSM8K's five examples do not fit 160 tokens: lm-eval cut them, and the results say so
    [warn] = res["warnings"]
    assert warn["task"] == "gsm8k" and warn["requests"] == warn["of"] == 2 and warn["longest"] > CONTEXT
    # the judged benchmark: both turns answered, in FastChat's model_answer layout, no score
    j = res["judged"]["mt_bench"]
    [rec] = [json.loads(x) for x in Path(j["answers"]).read_text(encoding="utf-8").splitlines()]
    assert rec["question_id"] == 81 and len(rec["choices"][0]["turns"]) == 2 and j["turns_answered"] == 2
    assert "not run" in j["judge"]
    assert (out / "tasks" / "moru_task_utils.py").is_file() and (out / "samples" / "kobest_copa.jsonl").is_file()


def test_a_loaded_model_scores_the_same_as_a_fresh_load(model, bench, tmp_path):
    """``load_lm`` + ``evaluate(lm=)`` (one load shared by several evaluations, as the GPU benchmark times it) gives
    what ``evaluate`` gives when it loads the folder itself, and the loaded model is reused, not reloaded."""
    fresh = harness.evaluate(str(model), ["kobest_copa", "arc_challenge"], str(bench), str(tmp_path / "a"), limit=2)
    lm = harness.load_lm(model, backend="hf", device="cpu", batch_size=8)
    shared = [harness.evaluate(str(model), [t], str(bench), str(tmp_path / t), limit=2, lm=lm)
              for t in ("kobest_copa", "arc_challenge")]  # fmt: skip
    for res in shared:
        [(task, got)] = res["results"].items()
        assert got["metrics"] == fresh["results"][task]["metrics"] and got["n"] == fresh["results"][task]["n"] == 2
    with pytest.raises(harness.EvalInputError, match="unknown backend"):
        harness.load_lm(model, backend="tgi")


def _no_tokenizer(model: Path, tmp: Path) -> Path:
    d = tmp / "no_tok"
    shutil.copytree(model, d)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (d / f).unlink()
    return d


def _wrong_columns(bench: Path, tmp: Path) -> Path:
    d = tmp / "bench_bad"
    shutil.copytree(bench, d)
    _jsonl(d / "gsm8k_test.jsonl", [{"prompt": "1+1?", "answer": "#### 2"}])
    return d


@pytest.mark.parametrize(
    ("case", "tasks", "expect"),
    [
        ("unknown task", ["gsm8kk"], ["unknown task 'gsm8kk'", "did you mean gsm8k"]),
        ("missing file", ["kmmlu", "haerae", "mmlu"], ["mmlu/test/abstract_algebra_test.csv", "--data-dir"]),
        ("wrong columns", ["gsm8k"], ["bench_bad/gsm8k_test.jsonl", "no column(s) ['question']", "gsm8k.yaml"]),
        ("no tokenizer", ["kobest_copa"], ["has no tokenizer", "tokenizer.json"]),
        ("beyond the context", ["kobest_copa"], ["--max-length 4096", f"max_position_embeddings={CONTEXT}"]),
        ("generation beyond the context", ["bbh_boolean_expressions"], ["max_gen_toks", "beyond the model's context"]),
        ("vllm on CPU", ["kobest_copa"], ["vllm", "--backend hf"]),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_the_file_and_the_fix(model, bench, tmp_path, case, tasks, expect):
    kw: dict = {}
    model_dir, data = model, bench
    if case == "no tokenizer":
        model_dir = _no_tokenizer(model, tmp_path)
    elif case == "wrong columns":
        data = _wrong_columns(bench, tmp_path)
    elif case == "beyond the context":
        kw["max_length"] = 4096
    elif case == "generation beyond the context":
        kw["gen_kwargs"] = {"max_gen_toks": CONTEXT}
    elif case == "vllm on CPU":
        if importlib.util.find_spec("vllm") is not None:
            pytest.skip("vllm is installed here")
        kw["backend"] = "vllm"
    with pytest.raises(EvalInputError) as info:
        harness.evaluate(str(model_dir), tasks, str(data), str(tmp_path / "out"), limit=1, **kw)
    for piece in expect:
        assert piece in str(info.value), str(info.value)


def test_rendered_folder_loads_in_lm_eval_task_manager(bench, tmp_path):
    from lm_eval.tasks import TaskManager

    rendered = harness.render_tasks(bench, tmp_path / "tasks")
    assert "@DATA_DIR@" not in "".join(p.read_text(encoding="utf-8") for p in rendered.glob("*.yaml"))
    tm = TaskManager(include_path=str(rendered), include_defaults=False)
    names = set(tm.all_tasks)
    assert {"gsm8k", "mmlu", "mmlu_anatomy", "kmmlu", "kobest", "kobest_wic", "haerae", "click", "arc_challenge",
            "bbh", "bbh_word_sorting"} <= names  # fmt: skip
    assert set(harness.task_names()) - {"mt_bench", "komt_bench", "logickor"} == names
    tasks = tm.load(["kobest_copa", "haerae_reading_comprehension", "click", "bbh_boolean_expressions"])["tasks"]
    copa = next(t for name, t in tasks.items() if "kobest_copa" in str(name))
    docs = list(copa.test_docs())
    assert len(docs) == 3 and docs[1]["2"] == '"슬픈" 영화를 봤다.'  # a TSV cell keeps its quotes
    assert copa.doc_to_text(docs[0]) == "전쟁이 시작되었다. 그래서" and copa.doc_to_target(docs[0]) == 1
    rc = next(t for name, t in tasks.items() if "haerae_reading" in str(name))
    doc = next(iter(rc.test_docs()))
    assert rc.doc_to_choice(doc) == ["(A)", "(B)", "(C)", "(D)"] and rc.doc_to_target(doc) == 1  # empty e dropped
    click = next(t for name, t in tasks.items() if str(name).endswith("click"))
    assert click.doc_to_target(next(iter(click.test_docs()))) == 2


def test_loader_keeps_csv_cells_as_text_and_names_a_missing_column(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("question,choice0,answer\nx,1.50,0\ny,NA,1\n", encoding="utf-8")
    ds = tu.load_local({"test": str(f)}, "csv", ["question", "choice0", "answer"])
    assert ds["test"]["choice0"] == ["1.50", "NA"]
    with pytest.raises(tu.BenchmarkFileError, match=r"t\.csv: record 1 has no column\(s\) \['choice1'\]"):
        tu.load_local({"test": str(f)}, "csv", ["question", "choice1"])
    gz = tmp_path / "big_test.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as g:
        g.write("question\nz\n")
    assert tu.expand(str(tmp_path / "big_test.csv")) == [str(gz)]  # a file kept compressed is found


@pytest.mark.parametrize(
    ("manifest", "applied"),
    [(None, False), ({"source": {"stage": "pretrain"}}, False), ({"source": {"stage": "extend"}}, False),
     ({"source": {"stage": "sft"}}, True), ({"source": {"stage": "M1"}}, True),
     ({"source": {"stage": "import"}}, False), ({"source": {"checkpoint": "x"}}, False)],
)  # fmt: skip
def test_chat_template_default_follows_the_export_stage(tmp_path, manifest, applied):
    if manifest is not None:
        (tmp_path / "moru_export.json").write_text(json.dumps(manifest), encoding="utf-8")
    got, reason = harness.chat_template_default(tmp_path)
    assert got is applied and "moru_export.json" in reason


def test_cli_reports_bad_input_with_exit_code_2(bench, tmp_path):
    import typer
    from typer.testing import CliRunner

    from moru.eval_cli import register

    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `eval` a subcommand
    register(app)
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "run", "--model", str(tmp_path / "nope"), "--tasks", "gsm8k",
                              "--data-dir", str(bench), "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["eval", "tasks"])
    assert res.exit_code == 0 and "kobest_wic" in res.output and "logickor" in res.output


@pytest.mark.parametrize(
    ("response", "answer", "strict", "flexible"),
    [("9 * 2 = 18 dollars.\n#### 18", 18, 1, 1), ("She makes $1,018.", 1018, 0, 1),
     ("#### 1,018 and then 7", 1018, 1, 0), ("no number at all", 18, 0, 0)],
)  # fmt: skip
def test_gsm8k_filters_score_the_final_number(response, answer, strict, flexible):
    """gsm8k.yaml's two filters and its exact-match normalisation, run through lm-eval's own filter and metric."""
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    cfg = harness._read_yaml(harness.TASKS_DIR / "gsm8k.yaml")
    kw = {k: v for k, v in cfg["metric_list"][0].items() if k not in ("metric", "aggregation", "higher_is_better")}
    gold = f"The reasoning, 1 + 2 = <<1+2=3>>3.\n#### {answer}"
    got = {}
    for f in cfg["filter_list"]:
        spec = f["filter"][0]
        extract = RegexFilter(regex_pattern=spec["regex_pattern"], group_select=spec.get("group_select", 0))
        [[pred]] = extract.apply([[response]], [{}])
        got[f["name"]] = int(exact_match_hf_evaluate([pred], [gold], **kw)["exact_match"])
    assert got == {"strict-match": strict, "flexible-extract": flexible}


def test_cli_run_writes_the_report_and_links_it_beside_the_source_checkpoint(model, bench, tmp_path):
    """`moru eval run` ends with the eval report of its output folder, linked in the source checkpoint's
    eval_reports.json when the model's moru_export.json names one (the lineage's last link)."""
    import shutil

    import typer
    from typer.testing import CliRunner

    from moru.eval_cli import register

    exported = tmp_path / "exported"
    shutil.copytree(model, exported)
    ckpt = tmp_path / "ckpt" / "iter_0000010"
    ckpt.mkdir(parents=True)
    (exported / "moru_export.json").write_text(json.dumps({"source": {"checkpoint": str(ckpt), "iteration": 10,
                                                                       "stage": "pretrain"}}))  # fmt: skip
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["eval", "run", "--model", str(exported), "--tasks", "kobest_copa",
                                   "--data-dir", str(bench), "--out", str(out), "--limit", "2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    html = (out / "eval_report.html").read_text(encoding="utf-8")
    assert "kobest_copa" in html.lower() or "copa" in html.lower()
    index = json.loads((ckpt / "eval_reports.json").read_text())
    entries = index if isinstance(index, list) else index.get("reports", [])
    assert [Path(e["report"]).resolve() for e in entries] == [(out / "eval_report.html").resolve()]
    assert "linked in" in res.output
