"""The train section: stages, merging, paths, errors that name the key."""

from __future__ import annotations

import pytest
import yaml

from megatron_train.config import TrainConfig, TrainConfigError, load_train_config


def test_extend_merges_over_pretrain():
    cfg = TrainConfig(
        model="exaone-3.5-2.4b",
        model_overrides={"rotary_base": 500_000, "rope_scaling": False, "max_position_embeddings": 4096},
        seq_length=4096,
        data={"mock": True},
        extend={
            "seq_length": 32768,
            "model_overrides": {"rotary_base": 1_000_000, "rope_scaling": True, "max_position_embeddings": 32768},
            "data": {"blend": "/data/stage2.json", "tokenizer": "/tok"},
            "recompute": {"granularity": "full"},
            "parallel": {"context": 2},
        },
    )
    pre = cfg.for_stage("pretrain", "/work")
    ext = cfg.for_stage("extend", "/work")
    assert (pre.seq_length, pre.shape().rotary_base, pre.shape().rope_scaling) == (4096, 500_000, False)
    assert (ext.seq_length, ext.shape().rotary_base, ext.shape().rope_scaling) == (32768, 1_000_000, True)
    assert ext.shape().num_layers == 30  # the rest of the preset is kept
    assert ext.data.blend == "/data/stage2.json" and not ext.data.mock  # a new data source replaces the old
    assert (ext.recompute.granularity, ext.parallel.context, ext.parallel.tensor) == ("full", 2, 1)
    assert (pre.output_dir, ext.output_dir) == ("/work/train/pretrain", "/work/train/extend")
    assert ext.checkpoint_dir == "/work/train/extend/checkpoints"
    assert ext.checkpoint.init_from == "/work/train/pretrain/checkpoints"  # stage 2 starts from stage 1
    assert pre.checkpoint.init_from is None


def test_errors_name_the_key():
    with pytest.raises(ValueError, match=r"extend\.bogus: unknown key"):
        TrainConfig(extend={"bogus": 1})
    with pytest.raises(ValueError, match=r"extend\.seq_length"):
        TrainConfig(extend={"seq_length": 0})
    with pytest.raises(ValueError, match="model_overrides.num_layers"):
        TrainConfig(model_overrides={"num_layers": 0})
    with pytest.raises(ValueError, match="unknown model 'exaone-9b'"):
        TrainConfig(model="exaone-9b")
    with pytest.raises(ValueError, match="exactly one of blend"):
        TrainConfig(data={"mock": True, "blend": "x.json"})
    with pytest.raises(ValueError, match="warmup_iters"):
        TrainConfig(train_iters=10, schedule={"warmup_iters": 10})
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        TrainConfig(global_batch_size=6, micro_batch_size=4)
    with pytest.raises(ValueError, match="splits are train, valid and test"):
        TrainConfig(data={"blend_per_split": {"training": ["a"]}})


def test_load_resolves_paths_against_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "moru.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "workdir": "work",
                "sources": [],
                "train": {
                    "data": {"blend": "emit/blend.json", "tokenizer": "tok"},
                    "extend": {"data": {"blend": "emit/stage2.json"}, "checkpoint": {"init_from": "/abs/ckpt"}},
                },
            }
        )
    )
    cfg, workdir = load_train_config(path)
    assert workdir == str(tmp_path / "sub" / "work")
    assert cfg.data.blend == str(tmp_path / "sub" / "emit" / "blend.json")
    assert cfg.data.tokenizer == str(tmp_path / "sub" / "tok")
    ext = cfg.for_stage("extend", workdir)
    assert ext.data.blend == str(tmp_path / "sub" / "emit" / "stage2.json")
    assert ext.data.tokenizer == str(tmp_path / "sub" / "tok")
    assert ext.checkpoint.init_from == "/abs/ckpt"

    from moru.config import load_config

    full = load_config(path)  # the whole moru config composes the same section, same paths
    assert full.train == cfg

    path.write_text(yaml.safe_dump({"workdir": "w", "train": {"optimizer": {"lr": -1}}}))
    with pytest.raises(TrainConfigError, match=r"train\.optimizer\.lr"):
        load_train_config(path)


@pytest.mark.parametrize("name", ["train_tiny_cpu.yaml", "train_exaone_2.4b.yaml"])
def test_shipped_train_configs_validate_for_both_stages(name):
    from pathlib import Path

    cfg, workdir = load_train_config(Path(__file__).resolve().parents[2] / "configs" / name)
    pre, ext = cfg.for_stage("pretrain", workdir), cfg.for_stage("extend", workdir)
    assert ext.seq_length > pre.seq_length
    assert ext.checkpoint.init_from == pre.checkpoint_dir
