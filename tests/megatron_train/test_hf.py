"""megatron-core GPTModel ⇄ transformers LlamaForCausalLM: the converted model computes the same function.

The tiny model is built in megatron-core (local spec, CPU, fp32) with weights drawn large enough that logits are
O(10) and every norm weight differs from 1, converted, loaded strictly into LlamaForCausalLM, and both run on the
same tokens. Negative controls (a plain [q; k; v] split, gate/up swapped, the Meta→HF rotary row permutation)
show the comparison catches each layout mistake the conversion could make.
"""

from __future__ import annotations

import io
import math

import pytest
import torch

from megatron_train.hf import hf_to_megatron, llama_config, megatron_to_hf
from megatron_train.model import build_gpt_model, transformer_config

from .conftest import tiny_train

VARIANTS = {
    "tied": {},
    # untied output layer; llama3 scaling with EXAONE 3.5's θ and context, so the tiny head (dim 16) has
    # frequencies in all three llama3 bands (kept, interpolated, divided by the factor)
    "untied-llama3": {
        "tie_embeddings": False,
        "rope_scaling": True,
        "rotary_base": 1_000_000.0,
        "max_position_embeddings": 32_768,
    },
}
SEQ, NEW = 24, 8


def _megatron_model(tmp_path, overrides: dict):
    cfg = tiny_train(tmp_path, model_overrides=overrides) if overrides else tiny_train(tmp_path)
    model = build_gpt_model(cfg, transformer_config(cfg, on_gpu=False, use_te=False), use_te=False).eval()
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # RMSNorm weights: away from 1 so swapped or dropped norms show
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif "word_embeddings" in name or "output_layer" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:  # unit-variance activations through every matmul
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
    return cfg.shape(), model


def _hf_model(shape, hf_sd):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(llama_config(shape)).eval()
    model.load_state_dict(hf_sd, strict=True)
    return model


def _tokens(shape, batch=2, seq=SEQ):
    return torch.randint(0, shape.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(11))


def _megatron_logits(model, tokens):
    pos = torch.arange(tokens.shape[1]).unsqueeze(0).expand_as(tokens)
    with torch.no_grad():
        return model(tokens, pos, None)


def _hf_logits(model, tokens):
    with torch.no_grad():
        return model(input_ids=tokens).logits


def _sd_equal(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert isinstance(b[k], torch.Tensor) and a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        else:
            assert a[k] is None and b[k] is None, k


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_converted_model_computes_the_same_logits_and_greedy_tokens(megatron_world, tmp_path, variant):
    shape, mmodel = _megatron_model(tmp_path, VARIANTS[variant])
    assert shape.tie_embeddings == (variant == "tied")
    hf_sd = megatron_to_hf(mmodel.state_dict(), shape)
    hmodel = _hf_model(shape, hf_sd)
    assert set(hf_sd) == set(hmodel.state_dict())
    assert (hmodel.lm_head.weight is hmodel.model.embed_tokens.weight) == shape.tie_embeddings

    # RoPE: the same inverse frequencies (llama3-scaled in the second variant, the unscaled ones differ there)
    m_inv = mmodel.rotary_pos_emb.inv_freq.double()
    h_inv = hmodel.model.rotary_emb.inv_freq.double()
    torch.testing.assert_close(h_inv, m_inv, rtol=1e-6, atol=0)
    plain = 1.0 / shape.rotary_base ** (torch.arange(0, shape.head_dim, 2, dtype=torch.float64) / shape.head_dim)
    assert torch.allclose(m_inv, plain, rtol=1e-6) == (not shape.rope_scaling)

    tokens = _tokens(shape)
    ml, hl = _megatron_logits(mmodel, tokens), _hf_logits(hmodel, tokens)
    assert ml.shape == hl.shape == (2, SEQ, shape.vocab_size)
    assert ml.abs().max() > 5  # logits are not near zero, so the tolerance below means something
    delta = (ml - hl).abs().max().item()
    print(f"{variant}: max |Δlogit| = {delta:.3g} (max |logit| {ml.abs().max().item():.3g})")
    assert delta < 1e-4
    assert torch.equal(ml.argmax(-1), hl.argmax(-1))

    # greedy continuation: HF generate (KV cache) vs megatron re-running the whole sequence each step
    prompt = tokens[:, :16]
    seq = prompt
    for _ in range(NEW):
        nxt = _megatron_logits(mmodel, seq)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    with torch.no_grad():
        gen = hmodel.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW, do_sample=False, pad_token_id=0
        )
    assert gen.shape == seq.shape == (2, 16 + NEW)
    assert torch.equal(gen, seq)
    assert not torch.equal(seq[0, 16:], seq[1, 16:])  # the two rows continue differently: not a degenerate model


def test_layout_mistakes_change_the_logits(megatron_world, tmp_path):
    """Each plausible wrong layout moves the logits far beyond the tolerance above."""
    shape, mmodel = _megatron_model(tmp_path, {})
    sd = mmodel.state_dict()
    good = megatron_to_hf(sd, shape)
    tokens = _tokens(shape)
    ref = _megatron_logits(mmodel, tokens)
    h, d, n = shape.hidden_size, shape.head_dim, shape.num_attention_heads
    nkv = shape.num_query_groups

    naive = dict(good)  # megatron's QKV read as [all q; all k; all v]
    for i in range(shape.num_layers):
        q, k, v = torch.split(sd[f"decoder.layers.{i}.self_attention.linear_qkv.weight"], [n * d, nkv * d, nkv * d])
        naive.update({f"model.layers.{i}.self_attn.{p}_proj.weight": t for p, t in zip("qkv", (q, k, v), strict=True)})
    swapped = dict(good)  # gate and up exchanged
    rotary = dict(good)  # the Meta → HF interleaved-to-halves row permutation of q and k
    half_order = torch.arange(d).reshape(2, d // 2).t().reshape(-1)
    for i in range(shape.num_layers):
        p = f"model.layers.{i}."
        swapped[p + "mlp.gate_proj.weight"], swapped[p + "mlp.up_proj.weight"] = (
            good[p + "mlp.up_proj.weight"], good[p + "mlp.gate_proj.weight"],
        )  # fmt: skip
        for proj, heads in (("q", n), ("k", nkv)):
            w = good[p + f"self_attn.{proj}_proj.weight"].reshape(heads, d, h)
            rotary[p + f"self_attn.{proj}_proj.weight"] = w[:, half_order].reshape(heads * d, h)
    for what, wrong in (("naive qkv", naive), ("gate/up swapped", swapped), ("rotary permutation", rotary)):
        delta = (_hf_logits(_hf_model(shape, wrong), tokens) - ref).abs().max().item()
        print(f"{what}: max |Δlogit| = {delta:.3g}")
        assert delta > 1e-2


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_local_spec_round_trip_is_exact_and_loads_strictly(megatron_world, tmp_path, variant):
    shape, mmodel = _megatron_model(tmp_path, VARIANTS[variant])
    sd = mmodel.state_dict()
    back = hf_to_megatron(megatron_to_hf(sd, shape), shape)
    _sd_equal(back, sd)  # every key, `_extra_state` (None) included

    # a second GPTModel (different init) loads it strictly and then computes the same logits
    _, fresh = _megatron_model(tmp_path / "fresh", VARIANTS[variant])
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    fresh.load_state_dict(back, strict=True)
    tokens = _tokens(shape)
    assert torch.equal(_megatron_logits(fresh, tokens), _megatron_logits(mmodel, tokens))

    # a "module."-wrapped state dict (DDP / Float16Module) converts the same
    wrapped = {f"module.{k}": v for k, v in sd.items()}
    _sd_equal(megatron_to_hf(wrapped, shape), megatron_to_hf(sd, shape))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_transformer_engine_keys_round_trip(megatron_world, tmp_path, variant):
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec

    shape, mmodel = _megatron_model(tmp_path, VARIANTS[variant])
    local = {k: v for k, v in mmodel.state_dict().items() if not k.endswith("_extra_state")}
    hf_sd = megatron_to_hf(local, shape)
    te = hf_to_megatron(hf_sd, shape, transformer_engine=True)

    # TE names = local names renamed by megatron-core's own local→TE map (used for its distributed checkpoints)
    keys_map = get_gpt_layer_local_spec(normalization="RMSNorm").submodules.sharded_state_dict_keys_map
    assert keys_map == {"input_layernorm.": "self_attention.linear_qkv.layer_norm_",
                        "pre_mlp_layernorm.": "mlp.linear_fc1.layer_norm_"}  # fmt: skip

    def te_name(key: str) -> str:
        for old, new in keys_map.items():
            key = key.replace(f".{old}", f".{new}")
        return key

    _sd_equal(te, {te_name(k): v for k, v in local.items()})
    _sd_equal(megatron_to_hf(te, shape), hf_sd)

    # TE's `_extra_state` entries (FP8 metadata, io.BytesIO) are skipped on the way to HF
    with_extra = dict(te)
    for i in range(shape.num_layers):
        for mod in ("self_attention.linear_qkv", "self_attention.core_attention", "mlp.linear_fc1"):
            with_extra[f"decoder.layers.{i}.{mod}._extra_state"] = io.BytesIO(b"fp8 meta")
    _sd_equal(megatron_to_hf(with_extra, shape), hf_sd)


def test_llama_config_fields_and_serialization():
    from transformers import LlamaConfig

    from megatron_train.model_configs import PRESETS, resolve_shape

    s = PRESETS["exaone-3.5-7.8b"]
    c = llama_config(s, dtype="bf16")
    assert (c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers) == (102_400, 4096, 14336, 32)
    assert (c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.max_position_embeddings) == (32, 8, 128, 32768)
    assert (c.rms_norm_eps, c.tie_word_embeddings, c.attention_bias, c.mlp_bias, c.hidden_act) == (
        1e-5, False, False, False, "silu",
    )  # fmt: skip
    assert c.dtype == torch.bfloat16
    llama3 = {
        "rope_type": "llama3", "rope_theta": 1e6, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }  # fmt: skip
    assert c.rope_parameters == llama3
    # what a config.json holds reads back the same
    again = LlamaConfig.from_dict(c.to_dict())
    assert again.rope_parameters == llama3 and again.num_key_value_heads == 8
    assert llama_config(PRESETS["exaone-3.5-2.4b"]).tie_word_embeddings is True
    plain = llama_config(resolve_shape("exaone-3.0-7.8b"))
    assert plain.rope_parameters == {"rope_type": "default", "rope_theta": 5e5}
    assert llama_config(s, eos_token_id=7).eos_token_id == 7
    with pytest.raises(ValueError, match="unknown dtype"):
        llama_config(s, dtype="int8")


def test_mismatches_name_the_key_and_both_shapes(megatron_world, tmp_path):
    shape, mmodel = _megatron_model(tmp_path, {})
    sd = mmodel.state_dict()
    hf_sd = megatron_to_hf(sd, shape)

    missing = {k: v for k, v in sd.items() if k != "decoder.layers.1.mlp.linear_fc2.weight"}
    with pytest.raises(ValueError, match=r"decoder\.layers\.1\.mlp\.linear_fc2\.weight: missing .*\(64, 192\)"):
        megatron_to_hf(missing, shape)
    bad = dict(sd, **{"decoder.layers.0.self_attention.linear_qkv.weight": torch.zeros(192, 64)})
    with pytest.raises(ValueError, match=r"linear_qkv\.weight: expected shape \(128, 64\), got \(192, 64\)"):
        megatron_to_hf(bad, shape)
    # a TP=2 shard of fc1 is caught by its shape
    shard = dict(sd, **{"decoder.layers.0.mlp.linear_fc1.weight": torch.zeros(192, 64)})
    with pytest.raises(ValueError, match=r"linear_fc1\.weight: expected shape \(384, 64\), got \(192, 64\)"):
        megatron_to_hf(shard, shape)
    with pytest.raises(ValueError, match=r"no place for: decoder\.layers\.2\.input_layernorm\.weight \(64,\)"):
        megatron_to_hf(dict(sd, **{"decoder.layers.2.input_layernorm.weight": torch.ones(64)}), shape)

    with pytest.raises(ValueError, match=r"model\.layers\.0\.self_attn\.k_proj\.weight: expected shape \(32, 64\), "
                                         r"got \(64, 64\)"):  # fmt: skip
        hf_to_megatron(dict(hf_sd, **{"model.layers.0.self_attn.k_proj.weight": torch.zeros(64, 64)}), shape)
    with pytest.raises(ValueError, match=r"model\.norm\.weight: missing"):
        hf_to_megatron({k: v for k, v in hf_sd.items() if k != "model.norm.weight"}, shape)
    with pytest.raises(ValueError, match=r"no place for: model\.layers\.0\.self_attn\.q_proj\.bias"):
        hf_to_megatron(dict(hf_sd, **{"model.layers.0.self_attn.q_proj.bias": torch.zeros(64)}), shape)
    untied_head = dict(hf_sd, **{"lm_head.weight": hf_sd["lm_head.weight"] + 1})
    with pytest.raises(ValueError, match="ties embeddings"):
        hf_to_megatron(untied_head, shape)
    # HF checkpoints of tied models omit lm_head.weight; an untied shape needs it
    tied_ckpt = {k: v for k, v in hf_sd.items() if k != "lm_head.weight"}
    _sd_equal(hf_to_megatron(tied_ckpt, shape), sd)
    untied = shape.model_copy(update={"tie_embeddings": False})
    with pytest.raises(ValueError, match=r"lm_head\.weight: missing .*\(512, 64\)"):
        hf_to_megatron(tied_ckpt, untied)
    with pytest.raises(ValueError, match=r"output_layer\.weight: missing"):
        megatron_to_hf(sd, untied)
