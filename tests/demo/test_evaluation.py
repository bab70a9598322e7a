"""demo.evaluation's choice of checkpoint and demo.checks.evaluation_checks / eval.report's section when the evaluation
stopped (tests/demo/test_demo.py runs the whole path on the demo's tiny model)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import yaml
from rich.console import Console

from demo.app import demo_config
from demo.checks import evaluation_checks
from demo.evaluation import final_checkpoint
from eval.report import evaluation_section

from .test_app import MANIFEST, POSTTRAIN


def _checkpoint(root: Path, iteration: int) -> Path:
    path = root / "checkpoints" / f"iter_{iteration:07d}"
    path.mkdir(parents=True)
    (path / "moru_checkpoint.json").write_text(json.dumps({"iteration": iteration}), encoding="utf-8")
    return path


def test_final_checkpoint_is_the_last_step_that_saved_one(tmp_path):
    path = tmp_path / "moru.yaml"
    config = demo_config(tmp_path, MANIFEST, "p", "n", posttrain=POSTTRAIN)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    cfg = SimpleNamespace(workdir=str(tmp_path))
    assert final_checkpoint(path, cfg, aligned=True) is None
    pretrain = _checkpoint(tmp_path / "train" / "pretrain", 100)
    assert final_checkpoint(path, cfg, aligned=True) == ("pretrain", pretrain)
    sft = _checkpoint(tmp_path / "align" / "sft", 30)
    assert final_checkpoint(path, cfg, aligned=True) == ("sft", sft)
    _checkpoint(tmp_path / "align" / "reward" / "rm1", 40)  # a reward model is never the one exported
    m1 = _checkpoint(tmp_path / "align" / "M1", 30)
    assert final_checkpoint(path, cfg, aligned=True) == ("M1", m1)
    m2 = _checkpoint(tmp_path / "align" / "M2", 30)
    assert final_checkpoint(path, cfg, aligned=True) == ("M2", m2)
    assert final_checkpoint(path, cfg, aligned=False) == ("pretrain", pretrain)  # alignment off: the base model


def test_a_stopped_evaluation_fails_every_check_and_the_report_says_why(tmp_path):
    ev = {"tasks": ["gsm8k", "kmmlu"], "limit": 10, "num_fewshot": 2, "dtype": "float32", "stage": "M2",
          "checkpoint": str(tmp_path / "ckpt"), "export": str(tmp_path / "export" / "M2"),
          "error": "export: ExportError: no such folder", "seconds": {"total": 0.1}}  # fmt: skip
    checks = evaluation_checks(ev, console=Console(file=io.StringIO()))
    assert len(checks) == 4 and not any(c["ok"] for c in checks)
    assert "no such folder" in checks[0]["result"] and checks[3]["result"] == "missing"
    html = evaluation_section(ev, files := {})
    assert "<b>Stopped:</b> export: ExportError: no such folder" in html and not files


def test_evaluation_section_shows_scores_side_by_side_niah_and_the_report_link(tmp_path):
    png = tmp_path / "niah_ko.png"
    png.write_bytes(b"\x89PNG fake")
    ev = {
        "stage": "M2", "checkpoint": "/w/align/M2/checkpoints/iter_0000030", "export": "/w/export/M2",
        "dtype": "float32", "limit": 10, "num_fewshot": 2, "chat_template": {"applied": True},
        "chance": {"arc_challenge": 0.25, "kobest_copa": 0.5},
        "results": {"arc_challenge": {"language": "en", "n": 10, "metrics": {"acc,none": 0.3, "acc_stderr,none": 0.1}},
                    "kobest_copa": {"language": "ko", "n": 10, "metrics": {"acc,none": 0.6, "f1,none": 0.5}}},
        "niah": {"lengths": [256, 512], "depths": [0.0, 1.0], "languages": ["ko", "en"],
                 "summary": {"ko": {"mean": 0.25, "by_length": {"256": 0.5, "512": 0.0}},
                             "en": {"mean": 0.0, "by_length": {"256": 0.0, "512": 0.0}}},
                 "cells": [{}], "heatmaps": {"ko": str(png), "en": str(tmp_path / "missing.png")}},
        "report_link": "../eval/eval_report.html", "reports_index": "/w/align/M2/checkpoints/iter_0000030/x.json",
        "seconds": {"total": 20.0, "export": 4.0},
    }  # fmt: skip
    files: dict[str, bytes] = {}
    html = evaluation_section(ev, files)
    assert files == {"eval_niah_ko.png": b"\x89PNG fake"}  # copied into the report folder; a missing one left out
    assert '<img src="eval_niah_ko.png"' in html and "eval_niah_en.png" not in html
    assert '<a href="../eval/eval_report.html">' in html
    assert "<td>arc_challenge</td><td>acc</td><td>30.0 ± 10.0</td><td>25.0</td>" in html
    assert "<td>kobest_copa</td><td>acc</td><td>60.0</td><td>50.0</td>" in html
    assert "<tr><td>256</td><td>50.0</td><td>0.0</td></tr>" in html
    assert "Wall time 20.0 s (export 4.0 s" in html
