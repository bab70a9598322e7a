"""EXAONE model shapes, and what follows from a shape: parameter count and training FLOPs per token.

Published shapes (EXAONE 3.5 technical report, arXiv 2412.04862, Table 1; EXAONE 3.0 7.8B report and its
released config). Checked with the search tool on the stored report summaries and a GGUF metadata dump of the
released EXAONE 3.0 7.8B weights: layers 30 / 32 / 64 and FFN 7,168 / 14,336 / 27,392 for 2.4B / 7.8B / 32B,
32,768 positions for 3.5; 32 layers, d 4,096, 32 heads, FFN 14,336 and 4,096 positions for 3.0. The rest (8 KV
heads, RoPE θ and llama3-style scaling, tied embeddings on 2.4B only, ε 1e-5) is as the issue states; the
parameter counts they imply (tested: 2.41B, 7.82B, 32.0B with megatron-core's own GPTModel on the meta device)
match the published sizes, which untied 2.4B embeddings (2.67B) would not.

megatron-core's ``rope_scaling=True`` is llama3-style scaling with low/high frequency factors 1 and 4 and an
original context of 8,192 positions; ``rope_scaling_factor`` is the factor (8 for EXAONE 3.5).

K-EXAONE (``k-exaone-236b``; K-EXAONE technical report, arXiv 2601.01739, and the released model card /
GGUF metadata of LGAI-EXAONE/K-EXAONE-236B-A23B, found with the search tool): d 6,144, 48 layers + 1 MTP layer,
64 query heads over 8 KV heads of 128, per-head RMSNorm on Q and K, vocab 153,600, 262,144 positions; layer 0
dense (FFN 18,432), layers 1-47 MoE with 128 routed experts of 2,048 (top-8, sigmoid scores, normalized top-k,
routed scaling 2.5) plus one 2,048-wide shared expert; attention "LLLG" (three sliding-window layers of 128
tokens, then one global layer), RoPE on the sliding-window layers only (EXAONE 4.0's choice: global layers are
NoPE); the MTP layer is dense (FFN 18,432) and shares the embedding and output layer. Not published in what was
found, so assumed: untied embeddings (236B total vs 234B without embeddings says two 0.94B matrices), RoPE θ 1e6,
ε 1e-5. The counter below gives 237.10B parameters with the MTP layer (Hugging Face's count of the released
weights: 237.1B; the card: "236B") and 22.7B active per token without the MTP layer and the input embedding
(the card: "23B"; 24.2B with both). tests/megatron_train/test_k_exaone.py checks the counter against
megatron-core's GPTModel built on the meta device.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelShape(BaseModel):
    """One decoder-only transformer shape (SwiGLU MLP, RMSNorm, RoPE, GQA, no biases)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    num_query_groups: int = Field(gt=0, description="KV heads (grouped-query attention)")
    ffn_hidden_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    rotary_base: float = Field(gt=0, description="RoPE θ")
    rope_scaling: bool = Field(default=False, description="llama3-style RoPE scaling (original context 8,192)")
    rope_scaling_factor: float = Field(default=8.0, gt=0)
    tie_embeddings: bool = False
    norm_eps: float = Field(default=1e-5, gt=0)
    init_method_std: float = Field(default=0.02, gt=0)
    head_dim_override: int | None = Field(
        default=None, gt=0, description="attention head size when it is not hidden_size / heads (K-EXAONE: 128)"
    )
    qk_norm: bool = Field(default=False, description="RMSNorm on each head's queries and keys")
    # --- mixture of experts (num_experts None: dense) ---
    num_experts: int | None = Field(default=None, gt=1, description="routed experts per MoE layer")
    moe_ffn_hidden_size: int | None = Field(default=None, gt=0, description="one routed expert's FFN size")
    moe_top_k: int = Field(default=2, gt=0, description="routed experts per token")
    moe_shared_expert_size: int | None = Field(default=None, gt=0, description="FFN size of the shared expert(s)")
    moe_dense_layers: int = Field(default=0, ge=0, description="leading dense layers (FFN ffn_hidden_size)")
    moe_score_function: Literal["softmax", "sigmoid"] = "softmax"
    moe_topk_scaling_factor: float | None = Field(default=None, gt=0, description="scale of the top-k weights")
    # --- attention pattern: L = sliding-window (local) layer, G = global layer, repeated over the layers ---
    attention_pattern: str | None = Field(default=None, description='e.g. "LLLG"; None: every layer global')
    window: int | None = Field(default=None, gt=0, description="sliding window of the L layers, in tokens (self incl.)")
    rope_layers: Literal["all", "local", "global"] = Field(
        default="all", description="which layers apply RoPE (EXAONE 4.0 / K-EXAONE: local; global layers NoPE)"
    )
    # --- multi-token prediction (DeepSeek-V3 style, megatron-core's MultiTokenPredictionBlock) ---
    mtp_layers: int = Field(default=0, ge=0, description="MTP depth (0: none)")
    mtp_moe: bool = Field(default=False, description="MTP layers MoE like the last decoder layer (K-EXAONE: dense)")

    @model_validator(mode="after")
    def _divisible(self):
        if self.head_dim_override is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_query_groups:
            raise ValueError(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_query_groups {self.num_query_groups}"
            )
        if self.num_experts is not None:
            if self.moe_ffn_hidden_size is None:
                raise ValueError("num_experts is set but moe_ffn_hidden_size is not")
            if self.moe_top_k > self.num_experts:
                raise ValueError(f"moe_top_k {self.moe_top_k} exceeds num_experts {self.num_experts}")
            if self.moe_dense_layers >= self.num_layers:
                raise ValueError(f"moe_dense_layers {self.moe_dense_layers} leaves no MoE layer of {self.num_layers}")
        if self.attention_pattern is not None:
            if not self.attention_pattern or set(self.attention_pattern) - {"L", "G"}:
                raise ValueError(f"attention_pattern {self.attention_pattern!r}: use the letters L (sliding window) "
                                 "and G (global), e.g. LLLG")  # fmt: skip
            if "L" in self.attention_pattern and self.window is None:
                raise ValueError("attention_pattern has sliding-window (L) layers but window is not set")
        if self.rope_layers != "all" and not self.is_hybrid:
            raise ValueError(f"rope_layers {self.rope_layers!r} needs an attention_pattern with both L and G layers")
        return self

    @property
    def head_dim(self) -> int:
        return self.head_dim_override or self.hidden_size // self.num_attention_heads

    @property
    def is_moe(self) -> bool:
        return self.num_experts is not None

    @property
    def is_hybrid(self) -> bool:
        return self.attention_pattern is not None and set(self.attention_pattern) == {"L", "G"}

    def layer_kinds(self) -> list[str]:
        """Per decoder layer: "L" (sliding window) or "G" (global)."""
        pattern = self.attention_pattern or "G"
        return [pattern[i % len(pattern)] for i in range(self.num_layers)]

    def moe_layers(self) -> list[bool]:
        """Per decoder layer: MoE (True) or dense."""
        return [self.is_moe and i >= self.moe_dense_layers for i in range(self.num_layers)]

    def _attn_params(self) -> int:
        h, q, kv = self.hidden_size, self.num_attention_heads * self.head_dim, self.num_query_groups * self.head_dim
        return h * q + 2 * h * kv + q * h + (2 * self.head_dim if self.qk_norm else 0)

    def _mlp_params(self, moe: bool, active: bool) -> int:
        h = self.hidden_size
        if not moe:
            return 3 * h * self.ffn_hidden_size  # gate, up (fused in megatron's fc1) and down
        experts = self.moe_top_k if active else self.num_experts
        shared = 3 * h * self.moe_shared_expert_size if self.moe_shared_expert_size else 0
        return experts * 3 * h * self.moe_ffn_hidden_size + shared + h * self.num_experts  # + router

    def _layer_params(self, moe: bool, active: bool = False) -> int:
        return self._attn_params() + self._mlp_params(moe, active) + 2 * self.hidden_size  # + two RMSNorms

    def _mtp_layer_params(self, active: bool = False) -> int:
        """One MTP layer: enorm, hnorm, eh_proj (2h → h), a transformer layer like the last decoder layer, final
        norm (the embedding and output layer are the model's)."""
        h = self.hidden_size
        return 2 * h + 2 * h * h + self._layer_params(self.is_moe and self.mtp_moe, active) + h

    def num_parameters(self) -> int:
        """Parameters of the whole model (embedding counted once when tied; MTP layers included)."""
        h = self.hidden_size
        layers = sum(self._layer_params(moe) for moe in self.moe_layers())
        embedding = self.vocab_size * h
        output = 0 if self.tie_embeddings else self.vocab_size * h
        return layers + self.mtp_layers * self._mtp_layer_params() + h + embedding + output

    def num_active_parameters(self, with_embedding: bool = True, with_mtp: bool = True) -> int:
        """Parameters one token passes through: routed experts counted top-k times, not num_experts (the input
        embedding is one row per token: counted whole by convention when ``with_embedding``)."""
        h = self.hidden_size
        layers = sum(self._layer_params(moe, active=True) for moe in self.moe_layers())
        mtp = self.mtp_layers * self._mtp_layer_params(active=True) if with_mtp else 0
        embedding = self.vocab_size * h if with_embedding else 0
        output = 0 if (self.tie_embeddings and with_embedding) else self.vocab_size * h
        return layers + mtp + h + embedding + output

    def training_flops_per_token(self, seq_length: int) -> float:
        """Model FLOPs of one training token (forward + backward = 3 × forward), PaLM's convention (Chowdhery et
        al. 2022, appendix B): 6 × the parameters in matrix multiplies (output layer included, input embedding
        not; for MoE the *active* ones: top-k routed experts + shared expert + router) plus 12 × s × d_attn per
        layer for the attention scores and their weighted sum (2 matmuls × 2 FLOPs × 3 for forward + backward;
        causal masking not discounted; a sliding-window layer attends to min(window, s) keys). MTP layers count
        like decoder layers, each with one more output-layer matmul. Activation recompute is not counted: MFU
        measures useful work."""
        h = self.hidden_size
        d_attn = self.num_attention_heads * self.head_dim
        matmul = sum(self._attn_params() + self._mlp_params(moe, active=True) for moe in self.moe_layers())
        matmul += self.vocab_size * h
        kinds = self.layer_kinds()
        keys = [min(self.window, seq_length) if k == "L" else seq_length for k in kinds]
        if self.mtp_layers:
            mtp_moe = self.is_moe and self.mtp_moe
            matmul += self.mtp_layers * (2 * h * h + self._attn_params() + self._mlp_params(mtp_moe, True)
                                         + self.vocab_size * h)  # fmt: skip
            keys += [keys[-1]] * self.mtp_layers
        attn = sum(12 * k * d_attn for k in keys)
        return 6.0 * matmul + attn


_EXAONE_35 = dict(
    num_query_groups=8,
    vocab_size=102_400,
    max_position_embeddings=32_768,
    rotary_base=1_000_000.0,
    rope_scaling=True,
    rope_scaling_factor=8.0,
    norm_eps=1e-5,
)

_K_EXAONE = dict(
    num_layers=48, hidden_size=6144, num_attention_heads=64, num_query_groups=8, head_dim_override=128,
    ffn_hidden_size=18_432, vocab_size=153_600, max_position_embeddings=262_144, rotary_base=1_000_000.0,
    qk_norm=True, num_experts=128, moe_ffn_hidden_size=2048, moe_top_k=8, moe_shared_expert_size=2048,
    moe_dense_layers=1, moe_score_function="sigmoid", moe_topk_scaling_factor=2.5,
    attention_pattern="LLLG", window=128, rope_layers="local", mtp_layers=1,
)  # fmt: skip
_K_EXAONE_SMALL = dict(
    num_layers=16, hidden_size=1536, num_attention_heads=12, num_query_groups=4, head_dim_override=128,
    ffn_hidden_size=2560, vocab_size=153_600, max_position_embeddings=262_144, rotary_base=1_000_000.0,
    qk_norm=True, num_experts=32, moe_ffn_hidden_size=512, moe_top_k=4, moe_shared_expert_size=512,
    moe_dense_layers=1, moe_score_function="sigmoid", moe_topk_scaling_factor=2.5,
    attention_pattern="LLLG", window=128, rope_layers="local", mtp_layers=1,
)  # fmt: skip

PRESETS: dict[str, ModelShape] = {
    "exaone-3.5-2.4b": ModelShape(
        num_layers=30, hidden_size=2560, num_attention_heads=32, ffn_hidden_size=7168, tie_embeddings=True,
        **_EXAONE_35,
    ),
    "exaone-3.5-7.8b": ModelShape(
        num_layers=32, hidden_size=4096, num_attention_heads=32, ffn_hidden_size=14336, **_EXAONE_35
    ),
    "exaone-3.5-32b": ModelShape(
        num_layers=64, hidden_size=5120, num_attention_heads=40, ffn_hidden_size=27392, **_EXAONE_35
    ),
    "exaone-3.0-7.8b": ModelShape(
        num_layers=32, hidden_size=4096, num_attention_heads=32, num_query_groups=8, ffn_hidden_size=14336,
        vocab_size=102_400, max_position_embeddings=4096, rotary_base=500_000.0, rope_scaling=False,
    ),
    # for tests and the CPU demo: the same architecture, small enough to train for a few dozen steps on a laptop
    "tiny": ModelShape(
        num_layers=2, hidden_size=64, num_attention_heads=4, num_query_groups=2, ffn_hidden_size=192,
        vocab_size=512, max_position_embeddings=4096, rotary_base=10_000.0, tie_embeddings=True,
    ),
    # K-EXAONE (module docstring): the published shape, on paper (no one trains it here)
    "k-exaone-236b": ModelShape(**_K_EXAONE),
    # one GPU (80 GB): the K-EXAONE recipe scaled down (1.78B total, 0.53B active without embedding and MTP) and
    # the dense shape of the same active size (every FFN = top-k + shared experts wide), side by side
    "k-exaone-small": ModelShape(**_K_EXAONE_SMALL),
    "k-exaone-small-dense": ModelShape(**{
        **_K_EXAONE_SMALL, "ffn_hidden_size": (4 + 1) * 512,  # (moe_top_k + shared) × moe_ffn_hidden_size
        "num_experts": None, "moe_ffn_hidden_size": None, "moe_shared_expert_size": None, "moe_dense_layers": 0,
        "moe_score_function": "softmax", "moe_topk_scaling_factor": None,
    }),
    # CPU tests / CI: every K-EXAONE feature (MoE + shared expert + dense first layer, LLLG with window, NoPE
    # global layers, QK-norm, MTP) in a few hundred thousand parameters
    "k-exaone-tiny": ModelShape(
        num_layers=4, hidden_size=64, num_attention_heads=4, num_query_groups=2, ffn_hidden_size=192,
        vocab_size=512, max_position_embeddings=4096, rotary_base=10_000.0, qk_norm=True,
        num_experts=4, moe_ffn_hidden_size=48, moe_top_k=2, moe_shared_expert_size=48, moe_dense_layers=1,
        moe_score_function="sigmoid", moe_topk_scaling_factor=2.5,
        attention_pattern="LLLG", window=16, rope_layers="local", mtp_layers=1,
    ),
}  # fmt: skip


def resolve_shape(name: str, overrides: dict | None = None) -> ModelShape:
    """A preset by name, with some of its fields replaced (``{"num_layers": 4}``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; presets: {', '.join(PRESETS)}")
    base = PRESETS[name]
    if not overrides:
        return base
    return ModelShape.model_validate({**base.model_dump(), **overrides})
