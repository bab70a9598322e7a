"""The demo's config (configs/demo.yaml's fixed sections + what the demo generates) and the training run's
vocabulary update, without running the demo (tests/demo/test_demo.py runs it whole)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

from demo.app import DEMO_CONFIG, demo_config
from demo.training import model_vocab_size, set_vocab_size
from megatron_train.config import load_train_config
from spark_jobs.config import load_jobs_config

BENCH = {"name": "demo_bench", "path": "/w/input/benchmarks/demo_bench.jsonl", "preset": "gsm8k"}
MANIFEST = SimpleNamespace(
    sources=[{"name": "news", "path": "/w/input/news", "format": "jsonl", "fields": {"text": "body", "id": "id"}}],
    benchmark={**BENCH, "examples": 200, "config": BENCH},
)


def test_demo_config_is_the_fixed_sections_with_the_generated_ones_filled_in():
    cfg = demo_config(Path("/w"), MANIFEST, "/w/input/classifier/positive.jsonl", "/w/input/classifier/negative.jsonl")
    # what `moru demo` wrote to WORKDIR/moru.yaml before configs/demo.yaml held its fixed sections
    assert cfg == {
        "workdir": "/w",
        "sources": MANIFEST.sources,
        "quality": {"classifier": {"positive": ["/w/input/classifier/positive.jsonl"],
                                   "negative": ["/w/input/classifier/negative.jsonl"], "bucket": 100_000}},
        "decontaminate": {"benchmarks": [BENCH]},
        "select": {"thresholds": {lang: {"fasttext_quality": {"min": 0.5}} for lang in ("ko", "en", "ko+en")}},
        "tokenizer": {"vocab_size": 4096, "sample": {"bytes": 900_000, "holdout_fraction": 0.05},
                      "steer": {"rounds": 2, "sample_bytes": 900_000, "tolerance": 0.05}},
        "emit": {"split": {"valid": 0.05, "test": 0.01}, "stage2": {"min_tokens": 256, "max_tokens": 512}},
        "train": {"model": "tiny", "model_overrides": {"vocab_size": 4096}, "precision": "fp32", "seq_length": 256,
                  "micro_batch_size": 4, "global_batch_size": 8, "train_iters": 100,
                  "optimizer": {"lr": 3.0e-3, "min_lr": 3.0e-4}, "schedule": {"style": "cosine", "warmup_iters": 4},
                  "data": {"blend": "emit/stage1_blend.json", "tokenizer": "tokenizer/model"},
                  "eval": {"interval": 20, "iters": 2}, "checkpoint": {"save_interval": 50},
                  "logging": {"tensorboard": False}},
    }  # fmt: skip
    assert list(cfg) == ["workdir", "sources", "quality", "decontaminate", "select", "tokenizer", "emit", "train"]


def test_demo_config_file_validates(tmp_path):
    for f in ("positive.jsonl", "negative.jsonl"):
        (tmp_path / f).write_text('{"text": "x"}\n', encoding="utf-8")
    cfg = demo_config(tmp_path, MANIFEST, str(tmp_path / "positive.jsonl"), str(tmp_path / "negative.jsonl"))
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    jobs = load_jobs_config(path)
    assert jobs.quality.classifier.bucket == 100_000 and jobs.tokenizer.vocab_size == 4096
    assert [b.name for b in jobs.decontaminate.benchmarks] == ["demo_bench"]
    train, workdir = load_train_config(path)
    assert workdir == str(tmp_path) and train.model == "tiny" and train.train_iters == 100


def test_fixed_sections_extend_rather_than_replace_the_generated_ones():
    fixed = {"quality": {"classifier": {"bucket": 10}, "rules": {"x": 1}},
             "decontaminate": {"mode": "sampled", "benchmarks": [{"name": "other"}]}, "gates": {}}  # fmt: skip
    cfg = demo_config(Path("/w"), MANIFEST, "p", "n", fixed=fixed)
    assert cfg["quality"] == {"classifier": {"positive": ["p"], "negative": ["n"], "bucket": 10}, "rules": {"x": 1}}
    assert cfg["decontaminate"] == {"benchmarks": [BENCH, {"name": "other"}], "mode": "sampled"}
    assert list(cfg)[-1] == "gates" and fixed["quality"]["classifier"] == {"bucket": 10}  # not modified
    assert DEMO_CONFIG.is_file()


def test_model_vocab_size_rounds_up_to_128():
    assert [model_vocab_size(n) for n in (1, 128, 129, 4000, 4096, 4097)] == [128, 128, 256, 4096, 4096, 4224]


def test_set_vocab_size_rewrites_only_the_train_override(tmp_path):
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump({"workdir": "w", "train": {"model": "tiny"}, "emit": {}}, sort_keys=False))
    assert set_vocab_size(path, 384)
    raw = yaml.safe_load(path.read_text())
    assert list(raw) == ["workdir", "train", "emit"]
    assert raw["train"] == {"model": "tiny", "model_overrides": {"vocab_size": 384}}
    before = path.stat().st_mtime_ns
    assert not set_vocab_size(path, 384) and path.stat().st_mtime_ns == before


POSTTRAIN = SimpleNamespace(sources=[{"name": "chat", "path": "/w/input/posttrain/chat", "layout": "messages"}])
# configs/demo.yaml's align section, as `moru demo` writes it to WORKDIR/moru.yaml (changed deliberately: the demo's
# alignment must stay within ~5 minutes of CPU on 2 cores — SFT at 1,024 tokens costs ~1 s per step of 2 rows)
DEMO_ALIGN = {
    "sft": {"seq_length": 1024, "micro_batch_size": 1, "global_batch_size": 2, "train_iters": 30,
            "optimizer": {"lr": 1.0e-3, "min_lr": 1.0e-4}, "schedule": {"style": "cosine", "warmup_iters": 3},
            "eval": {"interval": 10, "iters": 1}, "checkpoint": {"save_interval": None}},
    "reward": {"models": 2, "seq_length": 1024, "micro_batch_size": 1, "global_batch_size": 8, "train_iters": 40,
               "optimizer": {"lr": 1.0e-3, "min_lr": 1.0e-4}, "schedule": {"style": "cosine", "warmup_iters": 3},
               "eval": {"interval": 20, "iters": 1}, "checkpoint": {"save_interval": None}},
    "preference": {"loss": "dpo", "beta": 0.1, "seq_length": 1024, "micro_batch_size": 1, "global_batch_size": 4,
                   "optimizer": {"lr": 5.0e-4, "min_lr": 5.0e-5}, "schedule": {"style": "cosine", "warmup_iters": 2},
                   "eval": {"interval": 10, "iters": 1}, "checkpoint": {"save_interval": None}},
    "stages": [{"name": "M1", "train_iters": 30}, {"name": "M2", "train_iters": 30, "beta": 0.2}],
    "agreement": {"margin": 0.0},
}  # fmt: skip


def test_demo_config_with_posttrain_data_has_the_posttrain_and_align_sections():
    cfg = demo_config(Path("/w"), MANIFEST, "p", "n", posttrain=POSTTRAIN)
    assert list(cfg) == ["workdir", "sources", "quality", "decontaminate", "select", "tokenizer", "emit", "train",
                         "posttrain", "align"]  # fmt: skip
    assert cfg["posttrain"]["sources"] == POSTTRAIN.sources
    assert cfg["posttrain"]["emit"] == {"seq_length": 1024, "partitions": 1, "split": {"valid": 0.1}}
    assert cfg["align"] == DEMO_ALIGN


def test_demo_align_section_plans_the_recipe(tmp_path):
    from megatron_train.align_config import load_plan

    cfg = demo_config(tmp_path, MANIFEST, "p", "n", posttrain=POSTTRAIN)
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    plan = load_plan(path)
    assert plan.steps() == ["sft", "reward/rm1", "reward/rm2", "M1", "M2"]
    sft, rm2, m2 = plan.config("sft"), plan.config("reward/rm2"), plan.config("M2")
    assert (sft.seq_length, sft.global_batch_size, sft.train_iters) == (1024, 2, 30)
    assert sft.data.blend == str(tmp_path / "posttrain_emit" / "sft_blend.json")
    assert sft.checkpoint.init_from == str(tmp_path / "train" / "pretrain" / "checkpoints")
    assert (rm2.train_iters, rm2.micro_batch_size, rm2.seed) == (40, 1, plan.train.seed + 1)
    assert m2.checkpoint.init_from == str(tmp_path / "align" / "M1" / "checkpoints")
    assert plan.preference("M1")[0].beta_value == 0.1 and plan.preference("M2")[0].beta_value == 0.2
    assert m2.model == "tiny" and m2.precision == "fp32"  # the train section's, merged under
