"""Per-GPU memory of a training run, estimated from the config alone (printed before launch: ``python -m
megatron_train.train --config ... --estimate-memory``, and by every run's rank 0 before it builds anything).

The estimate is for the GPU path (Transformer Engine layers, flash / fused attention, so attention keeps O(s)
activations; a sliding-window layer saves compute, not activation memory there) and the busiest rank:

- **weights**: non-expert parameters / (TP × PP) and expert parameters / (EP × expert-TP × PP) (the embedding and
  output layer counted whole on that rank: first and last stage hold one each, one rank both when PP = 1);
  2 bytes each in bf16 / fp8 (TE keeps bf16 weights), 4 in fp32.
- **grads**: 4 bytes per weight (``grad_reduce_in_fp32``).
- **optimizer**: AdamW with the distributed optimizer: fp32 main weights (bf16 runs) + two fp32 moments, sharded
  over the data-parallel ranks of each parameter (× CP for dense parameters: megatron shards over DP × CP;
  experts over the expert-data-parallel ranks = world / (EP × expert-TP × PP)). Muon: not sharded; main weights +
  one momentum for Muon's matrices, main weights + two moments for AdamW's rest.
- **activations** (bf16, per micro-batch, Korthikanti et al. 2022 counting with flash attention and no dropout),
  per layer for s = seq / CP tokens, divided by TP (sequence parallelism):
  attention 2sbh (norm) + 2sb(q + 2kv) (QKV) + 2sbq (core output); dense MLP 2sbh + 6sbf (fc1 out, activation);
  MoE 2sbh (norm) + 2sbh·k (permuted tokens) + 6sb·f_e·k (routed experts) + 6sb·f_s (shared) + router 4sbE.
  Full recompute keeps 2sbh per layer plus one layer's activations. 1F1B pipelining keeps min(PP, micro-batches)
  micro-batches of the first stage's layers.
- **logits**: s·b·V/TP × 4 bytes (bf16 logits and their gradient: TE's fused vocab-parallel cross-entropy, on
  with TE, keeps no fp32 copy) per output head (1 + MTP layers). With a large vocabulary this is what grows
  fastest with the sequence: 153,600 × 32K tokens is 18.8 GiB per head.

Nothing here measures; benchmarks/moe_gpu.py records measured peaks beside this estimate (``max_memory_gib`` in
metrics.jsonl on GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass

from megatron_train.config import TrainConfig

GIB = 2**30


@dataclass(frozen=True)
class MemoryEstimate:
    model: str
    world_size: int
    weights_gib: float
    grads_gib: float
    optimizer_gib: float
    activations_gib: float
    logits_gib: float
    layout: str

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.grads_gib + self.optimizer_gib + self.activations_gib + self.logits_gib

    def report(self, capacity_gib: float | None = None) -> str:
        fits = ""
        if capacity_gib:
            fits = f" of {capacity_gib:.0f} GiB: " + ("fits" if self.total_gib < 0.9 * capacity_gib else
                                                      "DOES NOT FIT (raise TP/EP/CP/PP, recompute or lower the "
                                                      "micro-batch)")  # fmt: skip
        return (f"memory estimate per GPU ({self.model}, {self.layout}, world {self.world_size}): weights "
                f"{self.weights_gib:.1f} + grads {self.grads_gib:.1f} + optimizer {self.optimizer_gib:.1f} + "
                f"activations {self.activations_gib:.1f} + logits {self.logits_gib:.1f} = {self.total_gib:.1f} GiB"
                f"{fits}")  # fmt: skip


def _split_params(cfg: TrainConfig) -> tuple[float, float, float]:
    """(non-expert layer parameters, routed-expert parameters, embedding + output parameters) of the model."""
    shape = cfg.shape()
    h = shape.hidden_size
    emb = shape.vocab_size * h * (1 if shape.tie_embeddings else 2)
    expert = 0.0
    if shape.is_moe:
        per_layer = shape.num_experts * 3 * h * shape.moe_ffn_hidden_size
        expert = per_layer * (sum(shape.moe_layers()) + (shape.mtp_layers if shape.mtp_moe else 0))
    return shape.num_parameters() - expert - emb, expert, emb


def estimate(cfg: TrainConfig, world_size: int) -> MemoryEstimate:
    shape, par = cfg.shape(), cfg.parallel
    tp, pp, cp, ep = par.tensor, par.pipeline, par.context, par.expert
    etp = par.expert_tensor or tp
    dp_cp = max(1, world_size // (tp * pp))  # megatron's distributed optimizer shards dense params over DP × CP
    edp = max(1, world_size // (ep * etp * pp))
    dense, expert, emb = _split_params(cfg)
    emb_here = emb if pp == 1 else emb / (1 if shape.tie_embeddings else 2)
    n_dense = dense / (tp * pp) + emb_here / tp
    n_expert = expert / (ep * etp * pp)
    wbytes = 4 if cfg.precision == "fp32" else 2
    weights = (n_dense + n_expert) * wbytes
    grads = (n_dense + n_expert) * 4
    main = 0 if cfg.precision == "fp32" else 4
    if cfg.optimizer.name == "muon":
        emb_share = emb_here / tp
        optimizer = (n_dense - emb_share + n_expert) * (main + 4) + emb_share * (main + 8)
    else:
        optimizer = n_dense * (main + 8) / dp_cp + n_expert * (main + 8) / edp

    s, b, h = cfg.seq_length / cp, cfg.micro_batch_size, shape.hidden_size
    q, kv = shape.num_attention_heads * shape.head_dim, shape.num_query_groups * shape.head_dim
    attn = 2 * s * b * h + 2 * s * b * (q + 2 * kv) + 2 * s * b * q

    def mlp(moe: bool) -> float:
        if not moe:
            return 2 * s * b * h + 6 * s * b * shape.ffn_hidden_size
        k = shape.moe_top_k
        shared = 6 * s * b * shape.moe_shared_expert_size if shape.moe_shared_expert_size else 0
        routed = 6 * s * b * shape.moe_ffn_hidden_size * k
        return 2 * s * b * h * (1 + k) + routed + shared + 4 * s * b * shape.num_experts

    layers = [attn + mlp(m) for m in shape.moe_layers()]
    layers += [attn + mlp(shape.is_moe and shape.mtp_moe) + 4 * s * b * h] * shape.mtp_layers
    per_stage = len(layers) / pp
    if cfg.recompute.granularity == "full":
        acts = per_stage * 2 * s * b * h + max(layers)
    else:
        acts = per_stage * (sum(layers) / len(layers))
    in_flight = min(pp, max(1, cfg.global_batch_size // (cfg.micro_batch_size * max(1, world_size // (tp * pp * cp)))))
    acts = acts * in_flight / tp
    logits = s * b * shape.vocab_size / tp * 4 * (1 + shape.mtp_layers)
    layout = (
        f"TP {tp} PP {pp} CP {cp} EP {ep}, {cfg.precision}, seq {cfg.seq_length} x mbs {b}, "
        + (f"recompute {cfg.recompute.granularity}" if cfg.recompute.granularity else "no recompute")
        + f", {cfg.optimizer.name}"
    )
    return MemoryEstimate(cfg.model, world_size, weights / GIB, grads / GIB, optimizer / GIB, acts / GIB,
                          logits / GIB, layout)  # fmt: skip
