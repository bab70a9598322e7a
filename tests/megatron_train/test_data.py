"""Blends, the tokenizer, megatron-core datasets from real .bin/.idx shards, and the pretraining sample order."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from megatron_train.config import DataConfig
from megatron_train.data import DataError, PretrainingBatchSampler, parse_blend_list, read_blend

from .conftest import tiny_train

SPECIALS = ["[PAD]", "[BOS]", "[EOS]", "[UNK]"]


def make_tokenizer_folder(path: Path, n_words: int = 300) -> Path:
    """A word-level Hugging Face tokenizer folder with the metadata megatron-core's MegatronTokenizer reads."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + [f"w{i}" for i in range(n_words)])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", bos_token="[BOS]", eos_token="[EOS]", unk_token="[UNK]"
    )
    fast.save_pretrained(str(path))
    meta = {"library": "huggingface", "class_name": None, "class_path": None, "model_type": "gpt"}
    (path / "tokenizer_metadata.json").write_text(json.dumps({**meta, "chat_template": None}))
    return path


def make_shard(prefix: Path, n_docs: int, seed: int, eod: int = 2, lo: int = 4, hi: int = 304) -> list[list[int]]:
    """An indexed dataset (.bin/.idx) written with megatron-core's own builder, as the emit stage writes them."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    rng = np.random.default_rng(seed)
    builder = IndexedDatasetBuilder(str(prefix) + ".bin", dtype=np.int32)
    docs = []
    for _ in range(n_docs):
        doc = [*rng.integers(lo, hi, size=int(rng.integers(20, 200))).tolist(), eod]
        builder.add_item(torch.tensor(doc, dtype=torch.int32))
        builder.end_document()
        docs.append(doc)
    builder.finalize(str(prefix) + ".idx")
    return docs


@pytest.fixture
def blend_dir(tmp_path):
    make_shard(tmp_path / "ko_web", 300, seed=1)
    make_shard(tmp_path / "en_web", 300, seed=2)
    make_shard(tmp_path / "valid", 100, seed=3)
    (tmp_path / "blend.json").write_text(
        json.dumps({"train": [0.7, "ko_web", 0.3, "en_web"], "valid": ["valid"]}), encoding="utf-8"
    )
    make_tokenizer_folder(tmp_path / "tok")
    return tmp_path


def test_sampler_order_does_not_depend_on_the_data_parallel_size():
    gbs, mbs = 8, 2

    def global_batches(dp: int, consumed: int) -> list[list[int]]:
        per_rank = [list(PretrainingBatchSampler(40, consumed, mbs, r, dp)) for r in range(dp)]
        micro_per_rank = gbs // (mbs * dp)
        steps = len(per_rank[0]) // micro_per_rank
        out = []
        for s in range(steps):
            chunk = [per_rank[r][s * micro_per_rank + k] for k in range(micro_per_rank) for r in range(dp)]
            out.append(sorted(i for mb in chunk for i in mb))
        return out

    expected = [list(range(b * gbs, (b + 1) * gbs)) for b in range(5)]
    for dp in (1, 2, 4):
        assert global_batches(dp, 0) == expected
        assert global_batches(dp, 16) == expected[2:]  # resuming after two global batches
    assert list(PretrainingBatchSampler(10, 0, 2, 1, 2)) == [[2, 3], [6, 7]]  # rank 1 of 2: the second half
    with pytest.raises(DataError, match="resuming at sample 12"):
        PretrainingBatchSampler(10, 12, 2, 0, 1)


def test_blend_lists_and_errors(tmp_path, blend_dir):
    prefixes, weights = parse_blend_list([0.7, "a", 0.3, "/abs/b"], "x", tmp_path)
    assert prefixes == [str(tmp_path / "a"), "/abs/b"] and weights == [0.7, 0.3]
    assert parse_blend_list(["a", "b"], "x", None) == (["a", "b"], None)
    with pytest.raises(DataError, match="alternates weight, prefix"):
        parse_blend_list([1, "a", 2], "x", None)
    with pytest.raises(DataError, match="non-negative"):
        parse_blend_list([-1, "a"], "x", None)

    blend = read_blend(DataConfig(blend=str(blend_dir / "blend.json")))
    assert blend.per_split["train"] == ([str(blend_dir / "ko_web"), str(blend_dir / "en_web")], [0.7, 0.3])
    assert blend.per_split["valid"] == ([str(blend_dir / "valid")], None) and "test" not in blend.per_split

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": [1.0, "missing_shard"]}))
    with pytest.raises(DataError, match=r"missing dataset files: .*missing_shard\.bin, .*missing_shard\.idx"):
        read_blend(DataConfig(blend=str(bad)))
    bad.write_text(json.dumps({"valid": ["valid"]}))
    with pytest.raises(DataError, match="no train split"):
        read_blend(DataConfig(blend=str(bad)))
    with pytest.raises(DataError, match="blend file not found"):
        read_blend(DataConfig(blend=str(tmp_path / "nope.json")))


def test_megatron_datasets_from_real_shards(megatron_world, blend_dir):
    from megatron.core.datasets.blended_dataset import BlendedDataset

    from megatron_train.data import batch_iterator, build_datasets, build_tokenizer

    cfg = DataConfig(blend=str(blend_dir / "blend.json"), tokenizer=str(blend_dir / "tok"))
    tok = build_tokenizer(cfg, model_vocab_size=512)
    assert (tok.vocab_size, tok.eod) == (304, 2)
    with pytest.raises(DataError, match="more than the model's vocab_size"):
        build_tokenizer(cfg, model_vocab_size=100)
    train, valid, test = build_datasets(
        cfg, read_blend(cfg), tok, seq_length=64, seed=7, num_samples=(96, 16, 0), cache_dir=str(blend_dir / "c")
    )
    assert isinstance(train, BlendedDataset) and len(train) >= 96 and len(valid) >= 16 and test is None
    batch = next(batch_iterator(train, 0, 4, 0, 1, 0, False))
    assert batch["tokens"].shape == (4, 64) and batch["labels"].shape == (4, 64)
    assert torch.equal(batch["tokens"][:, 1:], batch["labels"][:, :-1])  # next-token targets
    assert int(batch["tokens"].max()) < 304
    weights = [0, 0]
    for i in range(96):  # the blend's weights hold in the drawn samples: ko_web 70 %, en_web 30 %
        weights[train.dataset_index[i]] += 1
    assert weights[0] / 96 == pytest.approx(0.7, abs=0.05)


def test_training_on_a_real_blend(blend_dir, tmp_path):
    from megatron_train import train
    from megatron_train.metrics import read_metrics

    cfg = tiny_train(
        tmp_path,
        train_iters=4,
        data={"mock": False, "blend": str(blend_dir / "blend.json"), "tokenizer": str(blend_dir / "tok")},
        eval={"interval": 2, "iters": 1},
    )
    result = train.run(cfg)
    assert result.status == "finished" and result.iteration == 4
    rows = read_metrics(Path(cfg.output_dir) / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert rows[0]["loss"] == pytest.approx(math.log(512), abs=0.3)  # an untrained model: about uniform
    assert len(read_metrics(Path(cfg.output_dir) / "metrics.jsonl", "eval")) == 2
    assert (Path(cfg.output_dir) / "loss.png").stat().st_size > 1000
