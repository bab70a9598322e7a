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
"""

from __future__ import annotations

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

    @model_validator(mode="after")
    def _divisible(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_query_groups:
            raise ValueError(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_query_groups {self.num_query_groups}"
            )
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def num_parameters(self) -> int:
        """Parameters of the whole model (embedding counted once when tied)."""
        h, kv = self.hidden_size, self.num_query_groups * self.head_dim
        attn = h * h + 2 * h * kv + h * h  # q, k, v, o projections
        mlp = 3 * h * self.ffn_hidden_size  # gate, up (fused in megatron's fc1) and down
        norms = 2 * h
        embedding = self.vocab_size * h
        output = 0 if self.tie_embeddings else self.vocab_size * h
        return self.num_layers * (attn + mlp + norms) + h + embedding + output

    def training_flops_per_token(self, seq_length: int) -> float:
        """Model FLOPs of one training token (forward + backward = 3 × forward), PaLM's convention (Chowdhery et
        al. 2022, appendix B): 6 × the parameters in matrix multiplies (output layer included, input embedding
        not) plus 12 × L × s × d_attn for the attention scores and their weighted sum (2 matmuls × 2 FLOPs × 3
        for forward + backward; causal masking not discounted). Activation recompute is not counted: MFU
        measures useful work."""
        h, kv = self.hidden_size, self.num_query_groups * self.head_dim
        matmul_params = self.num_layers * (2 * h * h + 2 * h * kv + 3 * h * self.ffn_hidden_size)
        matmul_params += self.vocab_size * h
        attn = 12 * self.num_layers * seq_length * self.num_attention_heads * self.head_dim
        return 6.0 * matmul_params + attn


_EXAONE_35 = dict(
    num_query_groups=8,
    vocab_size=102_400,
    max_position_embeddings=32_768,
    rotary_base=1_000_000.0,
    rope_scaling=True,
    rope_scaling_factor=8.0,
    norm_eps=1e-5,
)

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
}  # fmt: skip


def resolve_shape(name: str, overrides: dict | None = None) -> ModelShape:
    """A preset by name, with some of its fields replaced (``{"num_layers": 4}``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; presets: {', '.join(PRESETS)}")
    base = PRESETS[name]
    if not overrides:
        return base
    return ModelShape.model_validate({**base.model_dump(), **overrides})
