"""The THD path of packed post-training rows on a GPU with Transformer Engine: a packed row through
``PackedSeqParams(qkv_format="thd")`` gives each example the log-probs it gets alone (no packing, plain causal
attention), and the packed SFT loss equals the unpacked per-token mean. CPU CI has no GPU, so these are skipped
there; they run on the lent GPU (benchmarks/align_throughput.py's device command runs them first) and the CPU
equivalents (block-diagonal mask) are tests/megatron_train/test_reference.py's."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or importlib.util.find_spec("transformer_engine") is None,
    reason="needs a GPU with Transformer Engine (the THD attention path)",
)


@pytest.fixture(scope="module")
def te_model():
    from megatron_train import distributed
    from megatron_train.config import ParallelConfig, TrainConfig
    from megatron_train.model import build_gpt_model, transformer_config

    cfg = TrainConfig.model_validate({
        "model": "tiny", "model_overrides": {"num_layers": 2, "hidden_size": 256, "num_attention_heads": 8,
                                             "num_query_groups": 4, "ffn_hidden_size": 512, "vocab_size": 1024},
        "precision": "bf16", "seq_length": 512, "transformer_impl": "transformer_engine", "output_dir": "/tmp/thd",
    })  # fmt: skip
    layout, created = distributed.init(ParallelConfig(), seed=7)
    tconfig = transformer_config(cfg, True, True)
    model = build_gpt_model(cfg, tconfig, True).cuda().eval()
    yield model
    distributed.teardown(created)


def _examples(rng, n, vocab):
    out = []
    for _ in range(n):
        length = int(rng.integers(20, 120))
        tokens = rng.integers(1, vocab, size=length)
        mask = np.zeros(length, dtype=np.float32)
        mask[length // 3 :] = 1.0
        mask[0] = 0.0
        out.append((tokens, mask))
    return out


def _alone(model, tokens, mask):
    """Σ log p over the example's targets and its supervised-token count, the example alone (sbhd, causal)."""
    t = torch.as_tensor(tokens, device="cuda").view(1, -1)
    pos = torch.arange(t.shape[1], device="cuda").view(1, -1)
    labels = torch.roll(t, -1, dims=1)
    w = torch.zeros_like(t, dtype=torch.float32)
    w[0, :-1] = torch.as_tensor(mask[1:], device="cuda")
    with torch.no_grad():
        ce = model(t, pos, None, labels=labels)
    return float((-ce.float() * w).sum()), float(w.sum()), float((ce.float() * w).sum())


def test_thd_row_gives_each_example_its_own_log_probs(te_model):
    from megatron_train.packed import forward_kwargs, pack_segments, segment_sums

    rng = np.random.default_rng(0)
    examples = _examples(rng, 6, 1024)
    row = pack_segments(examples, 1024).tensors(torch.device("cuda"))
    with torch.no_grad():
        ce = te_model(row["tokens"], row["position_ids"], labels=row["labels"], **forward_kwargs(row, thd=True))
    n = row["cu_seqlens"].numel() - 1
    w = row["weights"]
    packed = segment_sums(-ce.float() * w, row["segment"], n)[: len(examples)].cpu().numpy()
    alone = np.array([_alone(te_model, t, m)[0] for t, m in examples])
    assert np.max(np.abs(packed - alone)) < 1e-2 * np.max(np.abs(alone)), (packed, alone)
    # without the THD boundaries (one causal sequence) the later examples see the earlier ones: different values
    with torch.no_grad():
        plain = te_model(row["tokens"], row["position_ids"], None, labels=row["labels"])
    crossed = segment_sums(-plain.float() * w, row["segment"], n)[: len(examples)].cpu().numpy()
    assert np.max(np.abs(crossed[1:] - alone[1:])) > 1e-2


def test_packed_sft_loss_is_the_unpacked_token_mean(te_model):
    from megatron_train.packed import forward_kwargs, sft_row

    rng = np.random.default_rng(1)
    examples = _examples(rng, 8, 1024)
    sequences = []
    for chunk in (examples[:4], examples[4:]):
        tokens = np.concatenate([t for t, _ in chunk])
        mask = np.concatenate([m for _, m in chunk])
        cu = np.concatenate([[0], np.cumsum([len(t) for t, _ in chunk])]).astype(np.int32)
        sequences.append((tokens, mask, cu))
    row = sft_row(sequences, 512).tensors(torch.device("cuda"))
    with torch.no_grad():
        ce = te_model(row["tokens"], row["position_ids"], labels=row["labels"], **forward_kwargs(row, thd=True))
    packed = float((ce.float() * row["weights"]).sum() / row["weights"].sum())
    sums = np.array([_alone(te_model, t, m)[1:] for t, m in examples])
    unpacked = sums[:, 1].sum() / sums[:, 0].sum()
    assert abs(packed - unpacked) < 5e-3 * abs(unpacked), (packed, unpacked)
