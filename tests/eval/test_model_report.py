"""The per-checkpoint eval report from hand-made inputs: scores side by side per language, the lineage header, NIAH
heatmaps linked by relative path, escaped samples, and the checkpoint's list of reports (link_report)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.model_report import link_report, normalize_results, side_by_side, write_model_report
from eval.niah import heatmap_png

EVAL = {
    "results": {
        "mmlu": {"metrics": {"acc": 0.4123, "acc_stderr": 0.004}, "language": "en", "n": 14042},
        "mmlu_anatomy": {"metrics": {"acc": 0.39}, "language": "en", "n": 135},
        "kmmlu": {"metrics": {"acc": 0.3517}, "language": "ko", "n": 35030},
        "gsm8k": {"metrics": {"exact_match": 0.251}, "language": "en", "n": 1319},
        "arc_challenge": {"metrics": {"acc": 0.40, "acc_norm": 0.4365}, "language": "en", "n": 1172},
        "click": {"metrics": {"acc": 0.4821}, "language": "ko", "n": 1995},
        "haerae": {"metrics": {"acc": 0.5233}, "language": "ko", "n": 623},
        "kobest": {"metrics": {"acc,none": 0.61, "acc_stderr,none": None}, "language": "ko", "n": 2000},
        "kobest_copa": {"metrics": {"acc,none": 0.588}, "language": "ko", "n": 1000},
        "my_new_bench": {"metrics": {"acc": 0.1011}, "language": "ko", "n": 10},
        "broken": {"note": "no numbers here"},
    },
    "judged": {"komt_bench": {"language": "ko", "n": 80, "answers": "/out/judged/komt_bench.jsonl",
                              "judge": "not run (needs an LLM judge)"}},
    "warnings": [{"task": "kmmlu", "message": "task kmmlu: 3 of 10 requests are longer than the model's context"}],
}  # fmt: skip
EXPORT = {
    "source_checkpoint": "/runs/align/dpo_m2/iter_0000400",
    "iteration": 400,
    "stage": "dpo/stage2",
    "marker": {
        "blend": "/emit/posttrain/run_7/pairs_blend.json",
        "blend_sha256": "9f2c1e0d4b5a6978877666554433221100ffeeddccbbaa998877665544332211",
        "posttrain_emit": {
            "run_id": "20260101T000000-7",
            "inputs": {
                "conversations": {"table": "conversations", "uri": "s3://lake/conversations", "version": 12},
                "preference_pairs": {"table": "preference_pairs", "uri": "s3://lake/preference_pairs", "version": 5},
            },
        },
    },
    "tokenizer": {"sha256": "abcdef0123456789"},
}


def _row_of(page: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", page, flags=re.S) if text in r]
    assert len(rows) >= 1, text
    return rows[0]


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "hf_model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 30,
                                               "hidden_size": 2560, "max_position_embeddings": 32768}))  # fmt: skip
    (d / "moru_export.json").write_text(json.dumps(EXPORT))
    return d


@pytest.fixture
def niah(tmp_path) -> dict:
    """run_niah's result as it would be, with its heatmaps in a folder beside the report's."""
    d = tmp_path / "niah_out"
    d.mkdir()
    lengths, depths = [1024, 2048], [0.0, 0.5, 1.0]
    for lang in ("ko", "en"):
        acc = {(n, x): 1.0 for n in lengths for x in depths}
        (d / f"niah_{lang}.png").write_bytes(heatmap_png(lang, lengths, depths, acc, lang))
    return {
        "out_dir": str(d), "lengths": lengths, "depths": depths, "languages": ["ko", "en"], "samples_per_cell": 1,
        "max_position_embeddings": 32768, "heatmaps": {"ko": "niah_ko.png", "en": "niah_en.png"},
        "summary": {"ko": {"mean": 0.75, "by_length": {"1024": 1.0, "2048": 0.5}},
                    "en": {"mean": 0.9, "by_length": {"1024": 1.0, "2048": 0.8}}},
        "samples": [{"task": "niah", "language": "en", "length": 1024, "depth": 0.5, "prompt": "… is: 4821973. …",
                     "output": " 4821973", "target": "4821973", "score": 1.0}],
    }  # fmt: skip


def test_report_puts_korean_and_english_scores_side_by_side(tmp_path, model_dir, niah):
    samples = [{"task": "kmmlu", "language": "ko", "prompt": "<script>alert('x')</script> 다음 중 옳은 것은?",
                "output": "A & <b>B</b>", "target": "A"}]  # fmt: skip
    out = tmp_path / "report"
    page_path = write_model_report(str(out), str(model_dir), EVAL, niah, samples)
    assert page_path == out / "eval_report.html"
    page = page_path.read_text(encoding="utf-8")
    # scores in %, the pairs in one row: English task, then its Korean counterpart
    row = _row_of(page, ">mmlu<")
    assert ">kmmlu<" in row and "41.2 ± 0.4" in row and "35.2" in row
    assert row.index(">mmlu<") < row.index(">kmmlu<")
    arc = _row_of(page, ">arc_challenge<")
    assert ">click<" in arc and "43.6" in arc  # acc_norm preferred over acc
    assert ">haerae<" in page and "52.3" in page
    gsm = _row_of(page, ">gsm8k<")
    assert "25.1" in gsm and "—" in gsm  # no Korean counterpart
    assert ">my_new_bench<" in _row_of(page, ">Other")
    # a pair's subtask stays beside its group: KoBEST COPA and KoBEST (all) both have rows
    assert "58.8" in _row_of(page, ">kobest_copa<") and "61.0" in _row_of(page, ">kobest<")
    assert "English</th>" in page and "Korean</th>" in page
    # the subtask is not a row of the side-by-side table (it is in the full list)
    assert "mmlu_anatomy" not in page.split("<details><summary>all")[0].split("Benchmarks")[1]
    assert "mmlu_anatomy" in page
    # lineage: Delta versions → blend → checkpoint
    assert "conversations v12" in page and "preference_pairs v5" in page
    assert "9f2c1e0d4b5a" in page and "/runs/align/dpo_m2/iter_0000400" in page and "iteration 400" in page
    assert "20260101T000000-7" in page and "abcdef0123456789" in page
    # heatmaps by a path relative to the report that leads to the PNG
    srcs = re.findall(r"<img src='([^']+)'", page)
    assert sorted(srcs) == ["../niah_out/niah_en.png", "../niah_out/niah_ko.png"]
    assert all((out / s).is_file() for s in srcs)
    assert "75.0" in _row_of(page, "all lengths") and "90.0" in _row_of(page, "all lengths")
    # samples escaped, NIAH's sample added, its value marked
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "A &amp; &lt;b&gt;B&lt;/b&gt;" in page
    assert "<mark>4821973</mark>" in page
    # judged answers and the harness's warnings
    assert "komt_bench" in _row_of(page, "/out/judged/komt_bench.jsonl") and "Korean" in _row_of(page, "komt_bench<")
    assert "3 of 10 requests are longer" in page
    # the JSON beside it
    record = json.loads((out / "eval_report.json").read_text(encoding="utf-8"))
    assert record["lineage"]["iteration"] == 400 and record["lineage"]["stage"] == "dpo/stage2"
    assert {t["task"] for t in record["scores"]} == set(EVAL["results"]) - {"broken"}
    assert {"group": "Knowledge (MMLU ↔ KMMLU)", "en": "mmlu", "ko": "kmmlu"} in record["side_by_side"]
    assert record["niah"]["heatmaps"] == {"ko": "../niah_out/niah_ko.png", "en": "../niah_out/niah_en.png"}
    assert len(record["samples"]) == 2


def test_lm_eval_layout_and_missing_language_are_read():
    raw = {
        "results": {
            "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.25, "exact_match_stderr,strict-match": 0.01},
            "kobest_boolq": {"alias": "kobest_boolq", "acc,none": 0.6, "f1,none": 0.55},
            "hellaswag": {"acc,none": 0.5, "acc_norm,none": 0.62},
        },
        "n-samples": {"gsm8k": {"original": 1319, "effective": 1319}},
    }
    tasks = {t["task"]: t for t in normalize_results(raw)}
    assert tasks["gsm8k"]["metric"] == "exact_match (strict-match)" and tasks["gsm8k"]["value"] == 0.25
    assert tasks["gsm8k"]["stderr"] == 0.01 and tasks["gsm8k"]["n"] == 1319 and tasks["gsm8k"]["language"] == "en"
    assert tasks["kobest_boolq"]["language"] == "ko" and tasks["kobest_boolq"]["metric"] == "acc"
    assert tasks["hellaswag"]["metric"] == "acc_norm" and tasks["hellaswag"]["value"] == 0.62
    rows = side_by_side(list(tasks.values()))
    assert {"en": "hellaswag", "ko": None} in [{"en": r["en"] and r["en"]["task"], "ko": r["ko"]} for r in rows]
    boolq = [r for r in rows if r["ko"] and r["ko"]["task"] == "kobest_boolq"]
    assert len(boolq) == 1 and boolq[0]["group"].startswith("Yes/no")
    assert normalize_results(None) == [] and normalize_results({"results": "nonsense"}) == []


def test_report_without_inputs_says_what_is_missing(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    page = write_model_report(str(tmp_path / "r"), str(bare), None, None).read_text(encoding="utf-8")
    assert "No benchmark results given" in page and "No <code>moru_export.json</code>" in page
    assert "<img" not in page and "Needle in a haystack" not in page
    record = json.loads((tmp_path / "r" / "eval_report.json").read_text(encoding="utf-8"))
    assert record["scores"] == [] and record["niah"] is None and record["export"] is None


def test_link_report_appends_beside_the_checkpoint(tmp_path, model_dir):
    ckpt = tmp_path / "iter_0000400"
    ckpt.mkdir()
    first = write_model_report(str(tmp_path / "r1"), str(model_dir), EVAL, None)
    second = write_model_report(str(tmp_path / "r2"), str(model_dir), None, None)
    index = link_report(str(ckpt), str(first))
    assert index == ckpt / "eval_reports.json"
    link_report(str(ckpt), str(second))
    entries = json.loads(index.read_text(encoding="utf-8"))
    assert [e["report"] for e in entries] == [str(first.resolve()), str(second.resolve())]
    assert all(e["model_dir"] == str(model_dir) and e["created"] for e in entries)
    link_report(str(ckpt), str(first))  # linked again: one entry, now the last
    entries = json.loads(index.read_text(encoding="utf-8"))
    assert [e["report"] for e in entries] == [str(second.resolve()), str(first.resolve())]
    with pytest.raises(FileNotFoundError, match="no_such_ckpt"):
        link_report(str(tmp_path / "no_such_ckpt"), str(first))
    with pytest.raises(FileNotFoundError, match="missing.html"):
        link_report(str(ckpt), str(tmp_path / "missing.html"))
    index.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="eval_reports.json"):
        link_report(str(ckpt), str(first))
