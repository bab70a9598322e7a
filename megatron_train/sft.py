"""Supervised fine-tuning (M0) on the packed SFT datasets of the post-training emit.

A micro-batch is ``micro_batch_size`` packed sequences laid end to end in one THD row (megatron_train.packed):
attention stays inside each example (``PackedSeqParams`` with Transformer Engine, the block-diagonal mask on CPU),
position ids restart per example, and the loss is the mean over the global batch's supervised tokens —
``Σ mask × CE / Σ mask`` over every micro-batch and data-parallel rank (megatron-core's
``calculate_per_token_loss``), never over padding. ``global_batch_size`` counts packed sequences. Sequences are
drawn in shuffled epochs from ``(seed, epoch)``; the data position (sequences consumed) is in every checkpoint,
so a resumed run continues with the same sequences.

Checks before training (each names the file and the fix): the blend's parts exist, the train split has
supervised tokens, every packed sequence fits ``seq_length``, and the tokenizer (with its chat template) is the one
the data was emitted with.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch

from megatron_train import distributed
from megatron_train import engine as engine_mod
from megatron_train.config import TrainConfig
from megatron_train.packed import PackedDataError, SFTSequences, forward_kwargs, rank_samples, read_blend, sft_row


def check_tokenizer(parts: list[str], tokenizer_dir: str | None) -> None:
    """The training tokenizer must be the emission's: the same files (ids, end-of-document token, chat template;
    the hash emission records) — the chat template named on its own when that is what differs."""
    from megatron_train.packed import emit_manifest
    from tokenizer.hf import chat_template_sha256, folder_sha256

    manifest = emit_manifest(parts[0]) if parts else None
    if manifest is None or tokenizer_dir is None:
        return
    folder = Path(tokenizer_dir)
    if not (folder / "tokenizer.json").is_file():
        raise PackedDataError(f"{folder}: no tokenizer.json (train.data.tokenizer must be the tokenizer folder)")
    emitted = manifest.get("tokenizer", {})
    template = (manifest.get("chat_template") or {}).get("sha256")
    mine = chat_template_sha256(folder)
    fix = "train with the emission's tokenizer folder or re-emit the data with this one (`moru posttrain emit --force`)"
    if template and mine != template:
        raise PackedDataError(f"{folder}: its chat template (sha256 {str(mine)[:12]}) differs from the one the "
                              f"data was emitted with ({template[:12]}, {emitted.get('path')}): {fix}")  # fmt: skip
    sha = folder_sha256(folder)
    if emitted.get("sha256") and sha != emitted["sha256"]:
        raise PackedDataError(f"{folder}: tokenizer sha256 {sha[:12]} differs from the one the data was emitted with "
                              f"({emitted['sha256'][:12]}, {emitted.get('path')}): {fix}")  # fmt: skip


class SFTTask:
    """Masked next-token loss on packed SFT rows."""

    def __init__(self, cfg: TrainConfig, layout: distributed.Layout, device: torch.device, thd: bool):
        self.cfg, self.layout, self.device, self.thd = cfg, layout, device, thd
        self.num_microbatches = engine_mod.microbatches(cfg, layout)
        blend = read_blend(cfg.data.blend, "sft")
        if not blend.get("train"):
            raise PackedDataError(f"{cfg.data.blend}: no train split")
        check_tokenizer(blend["train"], cfg.data.tokenizer)
        self.train = SFTSequences(blend["train"])
        self.valid = SFTSequences(blend["valid"]) if blend.get("valid") else None
        if len(self.train) == 0 or self.train.supervised_tokens() == 0:
            raise PackedDataError(f"{cfg.data.blend}: the train split has no supervised tokens (loss_mask is 0 "
                                  "everywhere): check posttrain.emit.supervise and the data's assistant "
                                  "turns")  # fmt: skip
        longest = max(self.train.max_length(), self.valid.max_length() if self.valid else 0)
        if longest > cfg.seq_length:
            raise PackedDataError(f"{cfg.data.blend}: packed sequences of up to {longest} tokens, longer than "
                                  f"seq_length {cfg.seq_length} (set the SFT seq_length >= "
                                  "posttrain.emit.seq_length)")  # fmt: skip
        vocab = cfg.shape().vocab_size
        self.forward_step = partial(sft_forward_step, thd=thd, device=device)
        self._vocab = vocab

    def batches(self, consumed: int):
        cfg, layout = self.cfg, self.layout
        for idx in rank_samples(consumed, len(self.train), cfg.seed, cfg.micro_batch_size, layout.dp_rank,
                                layout.dp, self.num_microbatches):  # fmt: skip
            yield sft_row([self.train[i] for i in idx], cfg.seq_length).tensors(self.device)

    def samples_per_step(self) -> int:
        return self.cfg.global_batch_size

    def reduce(self, losses: list[dict]) -> dict:
        loss_sum, tokens, supervised = engine_mod.reduce_sums(losses, "sums", self.device).tolist()
        return {"loss": loss_sum / max(supervised, 1), "tokens": tokens,
                "show": {"supervised_tokens": supervised}}  # fmt: skip

    def evaluate(self, engine: engine_mod.Engine) -> dict | None:
        """Mean loss per supervised token over the valid split (all of it, each rank its share)."""
        if self.valid is None:
            return None
        engine.model.eval()
        cfg, layout = self.cfg, self.layout
        mine = np.array_split(np.arange(len(self.valid)), layout.dp)[layout.dp_rank]
        sums = torch.zeros(2, device=self.device)
        with torch.no_grad():
            for chunk in np.array_split(mine, max(1, -(-len(mine) // cfg.micro_batch_size))):
                if len(chunk) == 0:
                    continue
                batch = sft_row([self.valid[int(i)] for i in chunk], cfg.seq_length).tensors(self.device)
                out = engine.model(batch["tokens"], batch["position_ids"], labels=batch["labels"],
                                   **forward_kwargs(batch, self.thd))  # fmt: skip
                w = batch["weights"]
                sums += torch.stack([(out.float() * w).sum(), w.sum()])
        from megatron.core import parallel_state as ps

        torch.distributed.all_reduce(sums, group=ps.get_data_parallel_group())
        return {"loss": float(sums[0] / sums[1].clamp(min=1))}


def sft_forward_step(data_iterator, model, *, thd: bool, device: torch.device):
    """One packed micro-batch: per-token cross-entropy, and a loss function returning (Σ masked CE, supervised
    tokens, sums for the log) for megatron's per-token normalization."""
    batch = next(data_iterator)
    out = model(batch["tokens"], batch["position_ids"], labels=batch["labels"], **forward_kwargs(batch, thd))

    def loss_func(per_token: torch.Tensor):
        w = batch["weights"]
        total = (per_token.float() * w).sum()
        n = w.sum()
        stats = torch.stack([total.detach(), batch["used"], n.detach()])
        return total, n.to(torch.int), {"sums": stats}

    return out, loss_func


def run(cfg: TrainConfig, console=None, exit_after: int | None = None, run_info: dict | None = None):
    """Train SFT (collective): resume from its own checkpoints, else start from ``checkpoint.init_from``."""
    engine_mod.check_alignment_layout(cfg)
    with engine_mod.running(cfg):
        layout, created = distributed.init(cfg.parallel, cfg.seed)
        try:
            eng = engine_mod.build(cfg, layout, console, per_token_loss=True)
            iteration, consumed, latest = engine_mod.restore(eng, " (train the pretrained model first: moru train)")
            task = SFTTask(cfg, layout, eng.device, eng.thd)
            eng.log.print(
                f"sft: {cfg.model} | {len(task.train):,} packed sequences ({task.train.supervised_tokens():,} "
                f"supervised tokens) | {cfg.global_batch_size} sequences × seq {cfg.seq_length} per step | "
                f"{'THD (Transformer Engine)' if eng.thd else 'block-diagonal mask (local attention)'} | "
                f"{cfg.precision} | {cfg.train_iters} steps"
            )
            shape = cfg.shape()
            return engine_mod.train_loop(
                eng, task, stage="sft", iteration=iteration, consumed=consumed, last_saved=latest,
                run_info={"stage": "sft", "config": cfg.model_dump(mode="json"), **(run_info or {})},
                exit_after=exit_after, flops_per_token=shape.training_flops_per_token(cfg.seq_length),
            )  # fmt: skip
        finally:
            distributed.teardown(created)
