"""A model shape + a train config → megatron-core ``TransformerConfig`` and ``GPTModel``.

EXAONE is a Llama-style decoder: pre-RMSNorm, SwiGLU MLP, rotary embeddings, grouped-query attention, no
biases. The layer spec is Transformer Engine's on a GPU (needed for FP8) and megatron-core's local one on CPU.

K-EXAONE-style shapes add (all megatron-core 0.16 features, wired here):
- MoE layers (``num_moe_experts``, ``moe_layer_freq`` as a per-layer list: leading dense layers), shared expert,
  sigmoid / softmax router scores with top-k scaling, dropless routing unless ``moe.capacity_factor`` is set,
  sequence-level auxiliary loss (``seq_aux_loss``), z-loss, expert parallelism, grouped GEMMs with TE (FP8 there
  when ``precision: fp8``: TE's grouped linear runs under the same fp8 autocast as every other linear);
- hybrid attention: ``window_size`` with ``window_attn_skip_freq`` as a per-layer list (1 = sliding window),
  ``no_rope_freq`` as a per-layer list (1 = NoPE). megatron-core's local attention honours ``window_size``
  (``FusedScaleMaskSoftmax`` builds the sliding-window causal mask on the unfused path, the only one on CPU);
  TE passes it to its attention backends;
- ``qk_layernorm`` (per-head RMSNorm of queries and keys);
- MTP (``mtp_num_layers``, ``mtp_loss_scaling_factor``) with a dense or MoE MTP layer.

The window: moru's ``window`` counts the tokens a query sees, itself included (Hugging Face's
``sliding_window``), so megatron's ``window_size`` is ``(window - 1, 0)``: key j is visible to query i when
``i - (window - 1) <= j <= i``.
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
    if shape.head_dim_override is not None:
        kwargs["kv_channels"] = shape.head_dim
    if par.context > 1:
        swa = shape.window is not None and "L" in (shape.attention_pattern or "")
        kwargs["cp_comm_type"] = par.cp_comm_type if par.cp_comm_type != "auto" else ("all_gather" if swa else "p2p")
    if shape.qk_norm:
        kwargs["qk_layernorm"] = True
    kwargs.update(attention_kwargs(shape))
    if shape.is_moe:
        kwargs.update(moe_kwargs(cfg, on_gpu, use_te))
    if shape.mtp_layers:
        kwargs.update(mtp_num_layers=shape.mtp_layers, mtp_loss_scaling_factor=cfg.mtp.loss_weight)
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


def attention_kwargs(shape: ModelShape) -> dict:
    """Sliding-window / global layer pattern and which layers skip RoPE, as megatron-core's per-layer lists. The
    lists get one entry per MTP layer too (megatron indexes them by layer number, and an MTP layer's number
    follows the decoder's); an MTP layer repeats the last decoder layer's kind."""
    out: dict = {}
    kinds = shape.layer_kinds()
    if "L" in kinds:
        out["window_size"] = (shape.window - 1, 0)
        out["window_attn_skip_freq"] = [1 if k == "L" else 0 for k in kinds]
    if shape.rope_layers != "all":
        rope_kind = "L" if shape.rope_layers == "local" else "G"
        out["no_rope_freq"] = [0 if k == rope_kind else 1 for k in kinds]
    return out


def extend_for_mtp(tconfig, shape: ModelShape) -> None:
    """Per-layer lists cover the MTP layers after TransformerConfig's own checks (its ``no_rope_freq`` check wants
    exactly num_layers entries, but the MTP layer's attention reads entry num_layers + k)."""
    if not shape.mtp_layers:
        return
    for name in ("window_attn_skip_freq", "no_rope_freq"):
        value = getattr(tconfig, name, None)
        if isinstance(value, list) and len(value) == shape.num_layers:
            setattr(tconfig, name, value + [value[-1]] * shape.mtp_layers)


def moe_kwargs(cfg: TrainConfig, on_gpu: bool, use_te: bool) -> dict:
    """TransformerConfig's MoE fields from the shape (experts, sizes, router scores) and ``train.moe`` (balancing,
    z-loss, dropless or capacity, dispatcher, grouped GEMM) and ``train.parallel.expert``."""
    shape, moe, par = cfg.shape(), cfg.moe, cfg.parallel
    grouped = moe.grouped_gemm if moe.grouped_gemm is not None else use_te
    kwargs = dict(
        num_moe_experts=shape.num_experts,
        moe_ffn_hidden_size=shape.moe_ffn_hidden_size,
        moe_router_topk=shape.moe_top_k,
        moe_layer_freq=[1 if m else 0 for m in shape.moe_layers()],
        moe_shared_expert_intermediate_size=shape.moe_shared_expert_size,
        moe_router_score_function=shape.moe_score_function,
        moe_router_topk_scaling_factor=shape.moe_topk_scaling_factor,
        moe_router_load_balancing_type=moe.load_balancing if moe.load_balancing != "none" else "none",
        moe_aux_loss_coeff=moe.aux_loss_coeff if moe.load_balancing != "none" else 0.0,
        moe_z_loss_coeff=moe.z_loss_coeff,
        moe_expert_capacity_factor=moe.capacity_factor,
        # auto: alltoall on GPUs; allgather on CPU (the alltoall dispatcher creates a CUDA stream when built)
        moe_token_dispatcher_type=moe.token_dispatcher if moe.token_dispatcher != "auto" else
        ("alltoall" if on_gpu else "allgather"),
        moe_grouped_gemm=grouped,
        moe_router_dtype=moe.router_dtype,
        moe_router_enable_expert_bias=moe.expert_bias,
        expert_model_parallel_size=par.expert,
        expert_tensor_parallel_size=par.expert_tensor or par.tensor,
    )
    if shape.moe_score_function == "sigmoid":
        kwargs["moe_router_pre_softmax"] = False
    if use_te and grouped:
        kwargs["moe_permute_fusion"] = False  # TE's fused permute needs TE >= 2.1 built with it; off is safe
    return kwargs


def layer_spec(use_te: bool, tconfig=None, shape: ModelShape | None = None):
    """The decoder's layer spec: one spec for dense shapes; a block spec with a dense / MoE spec per layer for MoE
    shapes (megatron-core's ``get_gpt_decoder_block_spec``); QK-norm from the config."""
    from megatron.core.models.gpt import gpt_layer_specs

    if shape is not None and shape.is_moe:
        return gpt_layer_specs.get_gpt_decoder_block_spec(tconfig, use_transformer_engine=use_te,
                                                          normalization="RMSNorm")  # fmt: skip
    qk = bool(shape and shape.qk_norm)
    if use_te:
        return gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec(qk_layernorm=qk)
    return gpt_layer_specs.get_gpt_layer_local_spec(normalization="RMSNorm", qk_layernorm=qk)


def mtp_block_spec(use_te: bool, tconfig, shape: ModelShape, decoder_spec):
    """The MTP block: layers like the last decoder layer (``mtp_moe``) or dense ones (K-EXAONE)."""
    from megatron.core.models.gpt import gpt_layer_specs

    if not shape.mtp_layers:
        return None
    if shape.is_moe and not shape.mtp_moe:
        if use_te:
            layer = gpt_layer_specs.get_gpt_layer_with_transformer_engine_spec(qk_layernorm=shape.qk_norm)
        else:
            layer = gpt_layer_specs.get_gpt_layer_local_spec(normalization="RMSNorm", qk_layernorm=shape.qk_norm)
    else:
        layer = decoder_spec
    return gpt_layer_specs.get_gpt_mtp_block_spec(tconfig, layer, use_transformer_engine=use_te)


def build_gpt_model(cfg: TrainConfig, tconfig, use_te: bool, pre_process: bool = True, post_process: bool = True):
    """megatron-core GPTModel of this rank's pipeline stage (RoPE base and scaling from the shape)."""
    from megatron.core.models.gpt import GPTModel

    shape = cfg.shape()
    if cfg.seq_length > shape.max_position_embeddings:
        raise ValueError(
            f"seq_length {cfg.seq_length} exceeds the model's max_position_embeddings "
            f"{shape.max_position_embeddings} (raise it in model_overrides)"
        )
    extend_for_mtp(tconfig, shape)
    spec = layer_spec(use_te, tconfig, shape)
    return GPTModel(
        config=tconfig,
        transformer_layer_spec=spec,
        mtp_block_spec=mtp_block_spec(use_te, tconfig, shape, spec),
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
