"""Weights and config between moru's megatron-core GPTModel and Hugging Face ``transformers.LlamaForCausalLM``.

EXAONE in moru is a Llama-layout decoder (pre-RMSNorm, SwiGLU, RoPE, GQA, no biases), so a
:class:`~megatron_train.model_configs.ModelShape` maps onto a ``LlamaConfig`` and a GPTModel's weights onto
Llama's by renaming and splitting two fused matrices. Only whole models are handled: one tensor- and one
pipeline-parallel rank (TP=1, PP=1), i.e. what ``GPTModel.state_dict()`` returns on a single rank.

What was checked, and where (megatron-core 0.16.1 and transformers 5.24.0 installed; transformers 5.17.0, the
GPU image's, read from its wheel, and the test below also passed with that wheel on ``PYTHONPATH``, on CPU):

- Fused QKV (``linear_qkv.weight``): ``SelfAttention.get_query_key_value_tensors``
  (megatron/core/transformer/attention.py) views the projection as ``[groups, (heads/groups + 2) * head_dim]``
  and splits each group's rows into its ``heads/groups`` query heads, then one key head, then one value head;
  the query heads are reshaped in that order, so query head ``g * heads/groups + j`` attends with KV head
  ``g``, which is HF's ``repeat_kv`` pairing (query head ``i`` uses KV head ``i // (heads/groups)``).
- Fused MLP input (``linear_fc1.weight``): megatron's ``MLP`` gated path (megatron/core/transformer/mlp.py)
  does ``x_glu, x_linear = torch.chunk(x, 2, dim=-1)`` and ``silu(x_glu) * x_linear``: the first half of the
  rows is HF's ``gate_proj``, the second ``up_proj``.
- RoPE: megatron's ``_rotate_half`` (megatron/core/models/common/embeddings/rope_utils.py) with
  ``rotary_interleaved=False`` (moru never sets it; TransformerConfig's default) rotates the first half of the
  head dimension against the second, the same ``rotate_half`` HF's Llama uses with ``cat(freqs, freqs)``, so no
  row permutation of q/k is needed (the Meta → HF permutation would be wrong here; the test shows it breaks
  the logits).
- llama3 RoPE scaling: ``RotaryEmbedding.__init__`` calls ``_apply_scaling(inv_freq, factor=...)`` and
  leaves the other arguments at their defaults ``low_freq_factor=1, high_freq_factor=4,
  original_max_position_embeddings=8192`` (megatron/core/models/common/embeddings/rotary_pos_embedding.py),
  the formula of HF's ``_compute_llama3_parameters``; the test compares the two models' inverse frequencies.
- RoPE config spelling: transformers 5.x keeps RoPE in ``config.rope_parameters`` (``rope_type``,
  ``rope_theta`` and the scaling fields in one dict); ``rope_theta=`` / ``rope_scaling=`` keyword arguments
  are only a backwards-compatibility path (``convert_rope_params_to_dict`` in modeling_rope_utils.py) and
  ``config.rope_scaling`` is a deprecated alias. 5.17's and 5.24's ``LlamaConfig`` and their
  ``convert_rope_params_to_dict`` / ``standardize_rope_params`` read a flat ``rope_parameters`` dict the same
  way, so :func:`llama_config` passes exactly that. (transformers 4.x configs spell it ``rope_theta`` +
  ``rope_scaling``; a ``config.json`` written from this config is for 5.x.)
- Layer specs: megatron-core's local spec keeps the norms as ``input_layernorm`` / ``pre_mlp_layernorm``;
  the Transformer Engine spec fuses them into the following linear as ``layer_norm_weight`` — the renaming
  megatron's own local spec declares in its ``sharded_state_dict_keys_map`` (megatron/core/models/gpt/
  gpt_layer_specs.py), which the test uses to check the TE key names. The local spec's state dict also holds
  ``_extra_state`` entries (``None``) for its parallel linears; TE's hold FP8 metadata. Both are skipped on the
  way to HF.

The test (tests/megatron_train/test_hf.py) runs the tiny model in megatron-core on CPU and in
``LlamaForCausalLM`` after conversion, tied and untied, with and without llama3 scaling: same logits to
< 1e-4 in fp32, same argmax, same 8-token greedy continuation; and exact round trips of both key layouts.
"""

from __future__ import annotations

import torch

from megatron_train.model_configs import ModelShape

__all__ = ["LLAMA3_ROPE", "hf_to_megatron", "llama_config", "megatron_to_hf"]

# megatron-core 0.16 RotaryEmbedding._apply_scaling's defaults (only the factor is passed by GPTModel)
LLAMA3_ROPE = {"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}

_DTYPE_NAMES = {
    "float32": "float32", "fp32": "float32",
    "bfloat16": "bfloat16", "bf16": "bfloat16", "fp8": "bfloat16",  # fp8 runs keep bf16 parameters
    "float16": "float16", "fp16": "float16",
}  # fmt: skip

# per-layer names: megatron local spec / Transformer Engine spec for the two norms
_LOCAL_NORMS = ("input_layernorm.weight", "pre_mlp_layernorm.weight")
_TE_NORMS = ("self_attention.linear_qkv.layer_norm_weight", "mlp.linear_fc1.layer_norm_weight")
# linears that carry an ``_extra_state`` entry in a local-spec GPTModel.state_dict() (value None)
_LOCAL_EXTRA_STATE = (
    "self_attention.linear_proj",
    "self_attention.linear_qkv",
    "mlp.linear_fc1",
    "mlp.linear_fc2",
)


def llama_config(shape: ModelShape, dtype: str = "float32", **overrides):
    """The ``transformers.LlamaConfig`` of a model shape.

    ``dtype`` is a torch dtype name (``float32``, ``bfloat16``, ``float16``) or moru's precision name (``fp32``,
    ``bf16``, ``fp8`` → bfloat16). Token ids (``bos_token_id``, ``eos_token_id``, ``pad_token_id``) belong to the
    tokenizer, not the shape: they are None unless given in ``overrides``, which are passed on to LlamaConfig.
    RoPE θ is ``shape.rotary_base`` as given; model.build_gpt_model passes ``int(shape.rotary_base)`` to
    megatron-core, the same number for every integral θ (all presets).
    """
    from transformers import LlamaConfig

    if dtype not in _DTYPE_NAMES:
        raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(_DTYPE_NAMES)}")
    rope: dict = {"rope_type": "default", "rope_theta": float(shape.rotary_base)}
    if shape.rope_scaling:
        rope = {
            "rope_type": "llama3",
            "rope_theta": float(shape.rotary_base),
            "factor": float(shape.rope_scaling_factor),
            **LLAMA3_ROPE,
        }
    kwargs = dict(
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.ffn_hidden_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_query_groups,
        head_dim=shape.head_dim,
        hidden_act="silu",
        max_position_embeddings=shape.max_position_embeddings,
        initializer_range=shape.init_method_std,
        rms_norm_eps=shape.norm_eps,
        tie_word_embeddings=shape.tie_embeddings,
        rope_parameters=rope,
        attention_bias=False,
        attention_dropout=0.0,
        mlp_bias=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        dtype=_DTYPE_NAMES[dtype],
    )
    kwargs.update(overrides)
    return LlamaConfig(**kwargs)


# ---------------------------------------------------------------------------------------------------------------
# shapes and checks


def _shapes(shape: ModelShape) -> dict[str, tuple[int, ...]]:
    h, d = shape.hidden_size, shape.head_dim
    return {
        "embedding": (shape.vocab_size, h),
        "norm": (h,),
        "qkv": ((shape.num_attention_heads + 2 * shape.num_query_groups) * d, h),
        "q": (shape.num_attention_heads * d, h),
        "kv": (shape.num_query_groups * d, h),
        "proj": (h, shape.num_attention_heads * d),
        "fc1": (2 * shape.ffn_hidden_size, h),
        "gate": (shape.ffn_hidden_size, h),
        "fc2": (h, shape.ffn_hidden_size),
    }


def _take(sd: dict, key: str, want: tuple[int, ...], used: set[str]) -> torch.Tensor:
    if key not in sd:
        raise ValueError(f"{key}: missing from the state dict (expected shape {want})")
    t = sd[key]
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{key}: expected a tensor of shape {want}, got {type(t).__name__}")
    if tuple(t.shape) != tuple(want):
        raise ValueError(f"{key}: expected shape {tuple(want)}, got {tuple(t.shape)}")
    used.add(key)
    return t


def _refuse_leftovers(sd: dict, used: set[str], ignore, what: str) -> None:
    left = sorted(k for k in sd if k not in used and not ignore(k))
    if left:
        shown = ", ".join(f"{k} {tuple(sd[k].shape) if isinstance(sd[k], torch.Tensor) else ''}" for k in left[:8])
        more = f" (and {len(left) - 8} more)" if len(left) > 8 else ""
        raise ValueError(f"{what}: keys this shape has no place for: {shown}{more}")


def _strip_module(sd: dict) -> dict:
    while sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


# ---------------------------------------------------------------------------------------------------------------
# fused QKV


def _split_qkv(w: torch.Tensor, shape: ModelShape) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """megatron's per-group [q heads of the group; k; v] rows → HF's q_proj, k_proj, v_proj."""
    groups, d, h = shape.num_query_groups, shape.head_dim, shape.hidden_size
    per_group = shape.num_attention_heads // groups
    w = w.reshape(groups, (per_group + 2) * d, h)
    q = w[:, : per_group * d].reshape(groups * per_group * d, h)
    k = w[:, per_group * d : (per_group + 1) * d].reshape(groups * d, h)
    v = w[:, (per_group + 1) * d :].reshape(groups * d, h)
    return q.contiguous(), k.contiguous(), v.contiguous()


def _fuse_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shape: ModelShape) -> torch.Tensor:
    groups, d, h = shape.num_query_groups, shape.head_dim, shape.hidden_size
    per_group = shape.num_attention_heads // groups
    parts = (q.reshape(groups, per_group * d, h), k.reshape(groups, d, h), v.reshape(groups, d, h))
    return torch.cat(parts, dim=1).reshape(-1, h)


# ---------------------------------------------------------------------------------------------------------------
# conversions


def megatron_to_hf(state_dict: dict, shape: ModelShape) -> dict[str, torch.Tensor]:
    """A whole (TP=1, PP=1) megatron-core GPTModel state dict → a ``LlamaForCausalLM`` state dict.

    ``state_dict`` is GPTModel's own ``state_dict()`` (keys ``embedding.…``, ``decoder.…``, ``output_layer.…``);
    a wrapper's (DDP, Float16Module: every key under ``module.``) is accepted too, the prefix removed. Either
    layer spec is read: megatron-core's local one (``input_layernorm`` / ``pre_mlp_layernorm``) or Transformer
    Engine's (the norms as ``linear_qkv.layer_norm_weight`` / ``linear_fc1.layer_norm_weight``);
    ``_extra_state`` entries are skipped. A missing key, a tensor of the wrong shape, or a key this shape has no
    place for (biases, QK norms, a layer beyond ``num_layers``) raises ValueError.

    The result has the keys of ``LlamaForCausalLM(llama_config(shape)).state_dict()``, so
    ``load_state_dict(..., strict=True)`` accepts it. With tied embeddings ``lm_head.weight`` is the embedding
    tensor itself (as in HF's model); drop it before writing safetensors directly (``save_pretrained`` does).
    Tensors keep their dtype and may share storage with the input.
    """
    sd = _strip_module(dict(state_dict))
    s = _shapes(shape)
    te = any(k.endswith(_TE_NORMS[0]) for k in sd)
    norm_in, norm_mlp = _TE_NORMS if te else _LOCAL_NORMS
    used: set[str] = set()
    out: dict[str, torch.Tensor] = {}

    emb = _take(sd, "embedding.word_embeddings.weight", s["embedding"], used)
    out["model.embed_tokens.weight"] = emb
    for i in range(shape.num_layers):
        m, hf = f"decoder.layers.{i}.", f"model.layers.{i}."
        out[hf + "input_layernorm.weight"] = _take(sd, m + norm_in, s["norm"], used)
        q, k, v = _split_qkv(_take(sd, m + "self_attention.linear_qkv.weight", s["qkv"], used), shape)
        out[hf + "self_attn.q_proj.weight"] = q
        out[hf + "self_attn.k_proj.weight"] = k
        out[hf + "self_attn.v_proj.weight"] = v
        out[hf + "self_attn.o_proj.weight"] = _take(sd, m + "self_attention.linear_proj.weight", s["proj"], used)
        out[hf + "post_attention_layernorm.weight"] = _take(sd, m + norm_mlp, s["norm"], used)
        gate, up = torch.chunk(_take(sd, m + "mlp.linear_fc1.weight", s["fc1"], used), 2, dim=0)
        out[hf + "mlp.gate_proj.weight"] = gate.contiguous()
        out[hf + "mlp.up_proj.weight"] = up.contiguous()
        out[hf + "mlp.down_proj.weight"] = _take(sd, m + "mlp.linear_fc2.weight", s["fc2"], used)
    out["model.norm.weight"] = _take(sd, "decoder.final_layernorm.weight", s["norm"], used)
    if shape.tie_embeddings:
        if "output_layer.weight" in sd:
            if not torch.equal(_take(sd, "output_layer.weight", s["embedding"], used), emb):
                raise ValueError("output_layer.weight: the shape ties embeddings, but it differs from "
                                 "embedding.word_embeddings.weight")  # fmt: skip
        out["lm_head.weight"] = emb
    else:
        out["lm_head.weight"] = _take(sd, "output_layer.weight", s["embedding"], used)
    _refuse_leftovers(sd, used, lambda k: k.endswith("_extra_state"), "megatron state dict")
    return out


def hf_to_megatron(hf_state_dict: dict, shape: ModelShape, transformer_engine: bool = False) -> dict:
    """A ``LlamaForCausalLM`` state dict → a megatron-core GPTModel state dict (TP=1, PP=1).

    Keys are the local spec's when ``transformer_engine`` is False — including its ``_extra_state`` entries
    (``None``), so a local-spec ``GPTModel.load_state_dict(..., strict=True)`` accepts the result — and the
    Transformer Engine spec's when True, without TE's ``_extra_state`` entries (its FP8 metadata; load those
    with ``strict=False`` and check that only ``_extra_state`` keys are missing). With tied embeddings
    ``lm_head.weight`` may be absent (HF checkpoints omit it) or present and equal to the embedding; an untied
    shape needs it. ``rotary_emb.inv_freq`` buffers of old checkpoints are ignored; any other key this shape has
    no place for, a missing key, or a tensor of the wrong shape raises ValueError.
    """
    sd = dict(hf_state_dict)
    s = _shapes(shape)
    norm_in, norm_mlp = _TE_NORMS if transformer_engine else _LOCAL_NORMS
    used: set[str] = set()
    out: dict = {}

    emb = _take(sd, "model.embed_tokens.weight", s["embedding"], used)
    out["embedding.word_embeddings.weight"] = emb
    for i in range(shape.num_layers):
        m, hf = f"decoder.layers.{i}.", f"model.layers.{i}."
        q = _take(sd, hf + "self_attn.q_proj.weight", s["q"], used)
        k = _take(sd, hf + "self_attn.k_proj.weight", s["kv"], used)
        v = _take(sd, hf + "self_attn.v_proj.weight", s["kv"], used)
        gate = _take(sd, hf + "mlp.gate_proj.weight", s["gate"], used)
        up = _take(sd, hf + "mlp.up_proj.weight", s["gate"], used)
        layer = {
            norm_in: _take(sd, hf + "input_layernorm.weight", s["norm"], used),
            "self_attention.linear_qkv.weight": _fuse_qkv(q, k, v, shape),
            "self_attention.linear_proj.weight": _take(sd, hf + "self_attn.o_proj.weight", s["proj"], used),
            norm_mlp: _take(sd, hf + "post_attention_layernorm.weight", s["norm"], used),
            "mlp.linear_fc1.weight": torch.cat([gate, up], dim=0),
            "mlp.linear_fc2.weight": _take(sd, hf + "mlp.down_proj.weight", s["fc2"], used),
        }
        if not transformer_engine:
            layer.update({f"{name}._extra_state": None for name in _LOCAL_EXTRA_STATE})
        out.update({m + name: t for name, t in layer.items()})
    out["decoder.final_layernorm.weight"] = _take(sd, "model.norm.weight", s["norm"], used)
    if shape.tie_embeddings:
        if "lm_head.weight" in sd and not torch.equal(_take(sd, "lm_head.weight", s["embedding"], used), emb):
            raise ValueError("lm_head.weight: the shape ties embeddings, but it differs from "
                             "model.embed_tokens.weight")  # fmt: skip
    else:
        out["output_layer.weight"] = _take(sd, "lm_head.weight", s["embedding"], used)
    if not transformer_engine:
        out["output_layer._extra_state"] = None
    _refuse_leftovers(sd, used, lambda k: k.endswith("rotary_emb.inv_freq"), "HF state dict")
    return out
