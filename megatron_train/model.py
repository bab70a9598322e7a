"""A model shape + a train config → megatron-core ``TransformerConfig`` and ``GPTModel``.

EXAONE is a Llama-style decoder: pre-RMSNorm, SwiGLU MLP, rotary embeddings, grouped-query attention, no
biases. The layer spec is Transformer Engine's on a GPU (needed for FP8) and megatron-core's local one on CPU.
"""

from __future__ import annotations

import importlib.util

import torch

from megatron_train.config import TrainConfig
from megatron_train.model_configs import ModelShape

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp8": torch.bfloat16}


def te_available() -> bool:
    return importlib.util.find_spec("transformer_engine") is not None


def use_transformer_engine(cfg: TrainConfig, on_gpu: bool) -> bool:
    """Which layer spec a run uses; raises with the reason when the config asks for the impossible."""
    if cfg.transformer_impl == "local":
        if cfg.precision == "fp8":
            raise ValueError("precision fp8 needs transformer_impl transformer_engine (or auto on a GPU)")
        if cfg.parallel.context > 1:
            raise ValueError("context parallelism needs Transformer Engine attention (transformer_impl local)")
        return False
    want = cfg.transformer_impl == "transformer_engine" or (on_gpu and te_available())
    if not want:
        if cfg.precision == "fp8":
            raise ValueError(
                "precision fp8 needs Transformer Engine on a GPU"
                + ("" if on_gpu else " (no GPU here)")
                + ("" if te_available() else " (transformer_engine is not installed)")
            )
        if cfg.parallel.context > 1:
            raise ValueError("parallel.context > 1 needs Transformer Engine on a GPU (megatron-core's local "
                             "attention has no context parallelism)")  # fmt: skip
        return False
    if not on_gpu:
        raise ValueError("transformer_impl transformer_engine needs a GPU")
    if not te_available():
        raise ValueError("transformer_impl transformer_engine: transformer_engine is not installed")
    return True


def transformer_config(cfg: TrainConfig, on_gpu: bool, use_te: bool):
    """The megatron-core TransformerConfig of a run."""
    from megatron.core.transformer.transformer_config import TransformerConfig

    return TransformerConfig(**transformer_config_kwargs(cfg, on_gpu, use_te))


def transformer_config_kwargs(cfg: TrainConfig, on_gpu: bool, use_te: bool) -> dict:
    """TransformerConfig's arguments (TransformerConfig itself checks that Transformer Engine is installed when
    fused kernels or FP8 are asked for)."""
    shape: ModelShape = cfg.shape()
    dtype = _DTYPES[cfg.precision]
    par = cfg.parallel
    # sequence parallelism by default with TP on Transformer Engine; megatron-core's torch norms (CPU) lack it
    default_sp = par.tensor > 1 and use_te
    sequence_parallel = par.sequence_parallel if par.sequence_parallel is not None else default_sp
    rec = cfg.recompute
    kwargs = dict(
        num_layers=shape.num_layers,
        hidden_size=shape.hidden_size,
        num_attention_heads=shape.num_attention_heads,
        num_query_groups=shape.num_query_groups,
        kv_channels=shape.head_dim,
        ffn_hidden_size=shape.ffn_hidden_size,
        normalization="RMSNorm",
        layernorm_epsilon=shape.norm_eps,
        gated_linear_unit=True,  # SwiGLU: silu(x W_gate) * (x W_up)
        activation_func=torch.nn.functional.silu,
        add_bias_linear=False,
        add_qkv_bias=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        init_method_std=shape.init_method_std,
        tensor_model_parallel_size=par.tensor,
        pipeline_model_parallel_size=par.pipeline,
        context_parallel_size=par.context,
        sequence_parallel=sequence_parallel,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=dtype == torch.bfloat16,
        use_cpu_initialization=not on_gpu,
        recompute_granularity=rec.granularity,
        recompute_method=rec.method if rec.granularity == "full" else None,
        recompute_num_layers=rec.num_layers if rec.granularity == "full" else None,
    )
    if use_te:
        # fused kernels exist only with CUDA; on CPU they stay at megatron-core's defaults (off)
        kwargs.update(
            bias_activation_fusion=True,
            masked_softmax_fusion=True,
            apply_rope_fusion=True,
            persist_layer_norm=True,
            cross_entropy_loss_fusion=True,
            cross_entropy_fusion_impl="te",
        )
    if cfg.precision == "fp8":
        kwargs.update(
            fp8=cfg.fp8.format,
            fp8_recipe="delayed" if cfg.fp8.recipe == "delayed" else "tensorwise",
            fp8_margin=cfg.fp8.margin,
            fp8_amax_history_len=cfg.fp8.amax_history_len,
            fp8_amax_compute_algo=cfg.fp8.amax_compute_algo,
        )
    return kwargs


def layer_spec(use_te: bool):
    from megatron.core.models.gpt import gpt_layer_specs

    if use_te:
        return gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec()
    return gpt_layer_specs.get_gpt_layer_local_spec(normalization="RMSNorm")


def build_gpt_model(cfg: TrainConfig, tconfig, use_te: bool, pre_process: bool = True, post_process: bool = True):
    """megatron-core GPTModel of this rank's pipeline stage (RoPE base and scaling from the shape)."""
    from megatron.core.models.gpt import GPTModel

    shape = cfg.shape()
    if cfg.seq_length > shape.max_position_embeddings:
        raise ValueError(
            f"seq_length {cfg.seq_length} exceeds the model's max_position_embeddings "
            f"{shape.max_position_embeddings} (raise it in model_overrides)"
        )
    return GPTModel(
        config=tconfig,
        transformer_layer_spec=layer_spec(use_te),
        vocab_size=shape.vocab_size,
        max_sequence_length=cfg.seq_length,
        pre_process=pre_process,
        post_process=post_process,
        share_embeddings_and_output_weights=shape.tie_embeddings,
        position_embedding_type="rope",
        rotary_percent=1.0,
        rotary_base=int(shape.rotary_base),
        rope_scaling=shape.rope_scaling,
        rope_scaling_factor=shape.rope_scaling_factor,
    )
