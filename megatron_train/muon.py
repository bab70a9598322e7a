"""Muon (Jordan et al. 2024; Moonlight, Liu et al. 2025) for megatron-core models: Muon on the 2-D weight matrices of
the transformer layers, AdamW on everything else (input embedding, output layer, norms, the MoE router).

Why moru's own implementation: megatron-core 0.16's ``optimizer/muon.py`` wraps ``emerging-optimizers``, which
needs Python >= 3.12 (moru's environment is 3.11, so PyPI has no build of it here), and it puts *every* 2-D
non-embedding parameter under Muon, the MoE router included; K-EXAONE-style training keeps the router on AdamW.
The update (Keller Jordan's reference, with Moonlight's scale so AdamW's learning rate and weight decay carry
over)::

    m   ← μ m + g                                   (momentum buffer)
    u   ← g + μ m   (Nesterov)   or   m
    O   ← NewtonSchulz5(u)                          (≈ U Vᵀ of u's SVD; quintic, coefficients 3.4445, -4.7750, 2.0315)
    W   ← W (1 - lr λ) - lr · s · √max(rows, cols) · O   with s = 0.2 (update RMS ≈ AdamW's)

Fused QKV weights are orthogonalized per query group's Q, K and V blocks (as megatron-core's ``split_qkv``),
since they are three matrices stored as one. SwiGLU's fused gate+up (``linear_fc1``) is orthogonalized as one
matrix, as megatron-core does.

Muon keeps whole matrices per rank, so it runs with megatron-core's non-distributed mixed-precision optimizer
(``Float16OptimizerWithFloat16Params`` in bf16, ``FP32Optimizer`` in fp32) and DDP all-reduces gradients;
optimizer state is not sharded over data-parallel ranks (megatron-core's Muon has the same restriction).
Tensor parallelism: a TP-sharded matrix is orthogonalized per shard ("blockwise", megatron-core's default
``muon_tp_mode``). Checked in tests/megatron_train/test_k_exaone.py against a plain re-implementation on one
matrix, and that orthogonalization gives singular values near 1.
"""

from __future__ import annotations

import math

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(grad: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """The quintic Newton-Schulz iteration of Muon's reference implementation: an approximate ``U Vᵀ`` of
    ``grad = U S Vᵀ`` (singular values pushed towards ~[0.7, 1.2]), computed in fp32 here (bf16 on GPU in the
    reference; fp32 keeps CPU tests exact enough)."""
    a, b, c = NS_COEFFICIENTS
    x = grad.float()
    transposed = x.size(0) > x.size(1)
    if transposed:
        x = x.T
    x = x / (x.norm() + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    if transposed:
        x = x.T
    return x.to(grad.dtype)


class Muon(torch.optim.Optimizer):
    """Muon on 2-D parameters. A parameter with ``is_qkv`` set is orthogonalized per Q / K / V block
    (``qkv_split``: rows of Q, K and V per query group)."""

    def __init__(self, params, lr: float = 3e-4, momentum: float = 0.95, nesterov: bool = True,
                 weight_decay: float = 0.1, ns_steps: int = 5, scale: float = 0.2,
                 qkv_split: tuple[int, int, int] | None = None):  # fmt: skip
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay, ns_steps=ns_steps,
                        scale=scale)  # fmt: skip
        super().__init__(params, defaults)
        self.qkv_split = qkv_split

    def orthogonalize(self, param: torch.Tensor, update: torch.Tensor, steps: int) -> torch.Tensor:
        if self.qkv_split is not None and getattr(param, "is_qkv", False):
            rows = sum(self.qkv_split)
            groups = update.size(0) // rows
            blocks = torch.split(update.view(groups, rows, -1), list(self.qkv_split), dim=1)
            parts = [newton_schulz(b.reshape(-1, update.size(-1)), steps) * _scale(b.reshape(-1, update.size(-1)))
                     for b in blocks]  # fmt: skip
            return torch.cat([p.view(groups, -1, update.size(-1)) for p in parts], dim=1).view_as(update)
        return newton_schulz(update, steps) * _scale(update)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(mu).add_(grad)
                update = grad.add(buf, alpha=mu) if group["nesterov"] else buf
                ortho = self.orthogonalize(p, update, group["ns_steps"])
                if wd:
                    p.mul_(1 - lr * wd)
                p.add_(ortho.to(p.dtype), alpha=-lr * group["scale"])
        return loss


def _scale(matrix: torch.Tensor) -> float:
    """Moonlight's shape factor √max(rows, cols): with 0.2 in front, the update's RMS matches AdamW's."""
    return math.sqrt(max(matrix.size(0), matrix.size(1)))


def is_muon_param(name: str, param: torch.Tensor) -> bool:
    """Muon takes 2-D weights of the transformer layers (attention, MLP, experts, shared experts, the MTP layers'
    projections); AdamW the rest: embedding and output layer (megatron marks them
    ``is_embedding_or_output_parameter``), norms and biases (1-D), and the MoE router."""
    if param.dim() != 2 or getattr(param, "is_embedding_or_output_parameter", False):
        return False
    return not (name.endswith("router.weight") or "embedding" in name or "output_layer" in name)


def muon_state_init(opt, config=None) -> None:
    """Create Muon's state before a checkpoint's is loaded into it (megatron's ``init_state_fn``)."""
    for group in opt.param_groups:
        for p in group["params"]:
            if len(opt.state[p]) == 0:
                opt.state[p]["momentum_buffer"] = torch.zeros_like(p.data)


def split_params(model) -> tuple[list[tuple[str, torch.Tensor]], list[tuple[str, torch.Tensor]]]:
    """(Muon's, AdamW's) named trainable parameters of a (DDP / Float16Module wrapped) model."""
    muon, adam = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (muon if is_muon_param(name, param) else adam).append((name, param))
    return muon, adam


def get_muon_optimizer(config, model, opt_cfg):
    """megatron-core ChainedOptimizer of [Muon (dense matrices), Muon (expert matrices, if any), AdamW (the rest,
    megatron-core's own non-distributed optimizer)], each wrapped in megatron's mixed-precision / fp32 optimizer so
    that clipping, grad-norm, checkpoints (``sharded_state_dict``) and the LR scheduler see one optimizer.
    ``config``: megatron's OptimizerConfig (``use_distributed_optimizer`` False); ``opt_cfg``: moru's."""
    from megatron.core import parallel_state as ps
    from megatron.core.optimizer import _get_param_groups, get_megatron_optimizer
    from megatron.core.optimizer.optimizer import ChainedOptimizer, Float16OptimizerWithFloat16Params, FP32Optimizer

    if config.use_distributed_optimizer:
        raise ValueError("Muon keeps whole matrices: it runs without the distributed optimizer")
    inner = model.module if hasattr(model, "module") else model
    tconfig = inner.config
    group_size = tconfig.num_attention_heads // tconfig.num_query_groups
    qkv_split = (group_size * tconfig.kv_channels, tconfig.kv_channels, tconfig.kv_channels)
    muon_named, adam_named = split_params(model)
    for name, param in muon_named:
        if "linear_qkv.weight" in name:
            param.is_qkv = True
    muon_kwargs = dict(lr=config.lr, momentum=opt_cfg.muon_momentum, nesterov=opt_cfg.muon_nesterov,
                       weight_decay=config.weight_decay, ns_steps=opt_cfg.muon_ns_steps, scale=opt_cfg.muon_scale,
                       qkv_split=qkv_split)  # fmt: skip

    def wrap(opt):
        if not config.bf16:
            return FP32Optimizer(opt, config, muon_state_init)
        wrapped = Float16OptimizerWithFloat16Params(opt, config, None, muon_state_init)
        # the fp32 main copies Muon updates do not inherit the model parameters' is_qkv flag
        for model_group, main_group in zip(wrapped.float16_groups, wrapped.fp32_from_float16_groups, strict=True):
            for model_param, main_param in zip(model_group, main_group, strict=True):
                if getattr(model_param, "is_qkv", False):
                    main_param.is_qkv = True
        return wrapped

    # megatron's param groups (weight decay, lr multipliers, is_expert_parallel) over the Muon params alone:
    # freeze the others while the groups are made, then the reverse for AdamW's
    for _, param in adam_named:
        param.requires_grad = False
    groups = _get_param_groups([model], config, None)
    for _, param in adam_named:
        param.requires_grad = True
    dense = [g for g in groups if not g["is_expert_parallel"]]
    expert = [g for g in groups if g["is_expert_parallel"]]
    optimizers = []
    if dense:
        opt = wrap(Muon(dense, **muon_kwargs))
        opt.grad_stats_parallel_group = ps.get_model_parallel_group()
        optimizers.append(opt)
    if expert:
        opt = wrap(Muon(expert, **muon_kwargs))
        opt.grad_stats_parallel_group = ps.get_expert_tensor_model_pipeline_parallel_group()
        optimizers.append(opt)
    for _, param in muon_named:
        param.requires_grad = False
    try:
        adam = get_megatron_optimizer(config, [model])
    finally:
        for _, param in muon_named:
            param.requires_grad = True
    optimizers += list(getattr(adam, "chained_optimizers", [adam]))
    return ChainedOptimizer(optimizers)
