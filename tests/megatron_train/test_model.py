"""EXAONE shapes against megatron-core's own GPTModel, RoPE settings, causal attention, CPU compatibility."""

from __future__ import annotations

import math

import pytest
import torch

from megatron_train.config import TrainConfig
from megatron_train.model import build_gpt_model, transformer_config, transformer_config_kwargs, use_transformer_engine
from megatron_train.model_configs import PRESETS, resolve_shape

# published sizes (billions) of the released models
PUBLISHED = {"exaone-3.5-2.4b": 2.4, "exaone-3.5-7.8b": 7.8, "exaone-3.5-32b": 32.0, "exaone-3.0-7.8b": 7.8}


def _meta_model(name: str, **over):
    cfg = TrainConfig(model=name, precision="fp32", seq_length=128, **over)
    tconfig = transformer_config(cfg, on_gpu=False, use_te=False)
    tconfig.perform_initialization = False
    with torch.device("meta"):
        return build_gpt_model(cfg, tconfig, use_te=False)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_shapes_build_in_megatron_core_with_their_parameter_counts(megatron_world, name):
    model = _meta_model(name)
    counted = sum(p.numel() for p in model.parameters())
    assert counted == PRESETS[name].num_parameters()
    # the published size is the count to the first decimal (2.41B -> 2.4B); untied 2.4B embeddings would be 2.67B
    assert round(counted / 1e9, 1) == PUBLISHED[name]


def test_published_details():
    s24, s78, s32, s30 = (
        PRESETS[k] for k in ("exaone-3.5-2.4b", "exaone-3.5-7.8b", "exaone-3.5-32b", "exaone-3.0-7.8b")
    )
    assert (s24.head_dim, s78.head_dim, s32.head_dim) == (80, 128, 128)
    assert {s.num_query_groups for s in (s24, s78, s32, s30)} == {8}
    assert s24.tie_embeddings and not s78.tie_embeddings and not s32.tie_embeddings
    assert {s.vocab_size for s in (s24, s78, s32, s30)} == {102_400}
    assert (s24.rotary_base, s24.rope_scaling, s24.rope_scaling_factor, s24.max_position_embeddings) == (
        1e6, True, 8.0, 32_768,
    )  # fmt: skip
    assert (s30.rotary_base, s30.rope_scaling, s30.max_position_embeddings) == (5e5, False, 4096)
    untied = resolve_shape("exaone-3.5-2.4b", {"tie_embeddings": False}).num_parameters()
    assert round(untied / 1e9, 2) == 2.67


def _llama3_inv_freq(base: float, dim: int, factor: float, low=1.0, high=4.0, original=8192) -> torch.Tensor:
    """Llama 3.1's RoPE frequency scaling, written from its definition: wavelengths longer than original/low are
    divided by the factor, shorter than original/high kept, and the band between interpolated smoothly."""
    inv = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    out = []
    for f in inv.tolist():
        wavelen = 2 * math.pi / f
        if wavelen < original / high:
            out.append(f)
        elif wavelen > original / low:
            out.append(f / factor)
        else:
            smooth = (original / wavelen - low) / (high - low)
            out.append((1 - smooth) * f / factor + smooth * f)
    return torch.tensor(out, dtype=torch.float64)


def test_rope_frequencies_follow_the_shape(megatron_world):
    m35 = _meta_model("exaone-3.5-2.4b")
    want = _llama3_inv_freq(1e6, 80, 8.0)
    assert m35.rotary_pos_emb.inv_freq.shape == (40,)
    torch.testing.assert_close(m35.rotary_pos_emb.inv_freq.double(), want, rtol=1e-5, atol=0)
    assert not torch.allclose(want, 1.0 / 1e6 ** (torch.arange(0, 80, 2, dtype=torch.float64) / 80))  # scaled
    m30 = _meta_model("exaone-3.0-7.8b")
    plain = 1.0 / 5e5 ** (torch.arange(0, 128, 2, dtype=torch.float64) / 128)
    torch.testing.assert_close(m30.rotary_pos_emb.inv_freq.double(), plain, rtol=1e-6, atol=0)


def test_tiny_model_is_causal_and_runs_on_cpu(megatron_world):
    cfg = TrainConfig(model="tiny", precision="fp32", seq_length=64)
    model = build_gpt_model(cfg, transformer_config(cfg, False, False), use_te=False).eval()
    tokens = torch.randint(0, 500, (1, 64), generator=torch.Generator().manual_seed(0))
    pos = torch.arange(64).unsqueeze(0)
    with torch.no_grad():
        before = model(tokens, pos, None)
        changed = tokens.clone()
        changed[0, 40] = (changed[0, 40] + 1) % 500
        after = model(changed, pos, None)
    assert before.shape == (1, 64, 512)
    torch.testing.assert_close(before[:, :40], after[:, :40], rtol=0, atol=0)  # the past does not see position 40
    assert not torch.allclose(before[:, 40:], after[:, 40:])


def test_choices_needing_transformer_engine_fail_clearly():
    with pytest.raises(ValueError, match="fp8 needs Transformer Engine on a GPU"):
        use_transformer_engine(TrainConfig(precision="fp8"), on_gpu=False)
    with pytest.raises(ValueError, match="context"):
        use_transformer_engine(TrainConfig(parallel={"context": 2}), on_gpu=False)
    with pytest.raises(ValueError, match="needs a GPU"):
        use_transformer_engine(TrainConfig(transformer_impl="transformer_engine"), on_gpu=False)
    assert use_transformer_engine(TrainConfig(), on_gpu=False) is False


def test_fp8_settings_reach_the_transformer_config():
    kw = transformer_config_kwargs(TrainConfig(precision="fp8", fp8={"recipe": "current"}), on_gpu=True, use_te=True)
    assert (kw["fp8"], kw["fp8_recipe"], kw["bf16"], kw["params_dtype"]) == (
        "hybrid",
        "tensorwise",
        True,
        torch.bfloat16,
    )
    kw = transformer_config_kwargs(TrainConfig(precision="fp8"), on_gpu=True, use_te=True)
    assert (kw["fp8_recipe"], kw["fp8_amax_history_len"], kw["fp8_amax_compute_algo"]) == ("delayed", 1024, "max")
    assert kw["apply_rope_fusion"] and not transformer_config_kwargs(TrainConfig(), False, False).get(
        "apply_rope_fusion"
    )
    cpu = transformer_config_kwargs(TrainConfig(precision="fp32", recompute={"granularity": "full"}), False, False)
    assert (cpu["use_cpu_initialization"], cpu["recompute_method"], cpu["recompute_num_layers"]) == (True, "uniform", 1)


def test_flops_per_token_is_six_n_plus_attention():
    s = PRESETS["exaone-3.5-2.4b"]
    # tied embeddings: every parameter but the RMSNorm weights is in a matmul (the embedding as the output layer)
    matmul = s.num_parameters() - (2 * s.num_layers + 1) * s.hidden_size
    attention = 12 * s.num_layers * 4096 * s.hidden_size
    assert s.training_flops_per_token(4096) == pytest.approx(6 * matmul + attention, rel=1e-12)


def test_cpu_compat_is_scoped():
    from megatron.core.tensor_parallel import random as mrandom

    from megatron_train import cpu_compat

    original_tracker = mrandom.CudaRNGStatesTracker
    with cpu_compat.enabled():
        assert torch.zeros(2, device="cuda").device.type == "cpu"
        assert torch.ones(1).cuda().device.type == "cpu"
        assert torch.ones(1).type() == "torch.cuda.FloatTensor"
        assert torch.ones(1, dtype=torch.bfloat16).type() == "torch.cuda.BFloat16Tensor"
        assert torch.cuda.current_device() == torch.device("cpu")
        assert mrandom.CudaRNGStatesTracker is not original_tracker
    assert mrandom.CudaRNGStatesTracker is original_tracker
    assert torch.ones(1).type() == "torch.FloatTensor"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.zeros(1, device="cuda")


def test_cpu_rng_tracker_forks_named_streams(megatron_world):
    from megatron.core import tensor_parallel

    tracker = tensor_parallel.get_cuda_rng_tracker()
    torch.manual_seed(5)
    outside = torch.get_rng_state()
    with tracker.fork():
        a = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), outside)  # the default stream is untouched
    with tracker.fork():
        b = torch.rand(3)
    assert not torch.equal(a, b)  # the named stream advanced
