"""Offline preference optimisation on megatron-core: DPO (sigmoid), IPO and SimPO (megatron_train.losses).

**Reference log-probs are computed once** (:func:`store_reference`, before the first update of a stage run with
``with_reference``): the starting checkpoint scores every pair
of the blend (``Σ log π_ref`` over each response's supervised tokens, and their count), written to
``OUTPUT_DIR/reference/logps.npz`` with ``reference.json`` naming the checkpoint, the blend and its SHA-256.
Training then holds one model: DPO and IPO read the stored values, SimPO needs none. A stale or missing file
stops the run before training with the command that makes it.

**One packed forward per micro-batch**: for each of ``micro_batch_size`` pairs, ``prompt + chosen`` and
``prompt + rejected`` are segments of one THD row (megatron_train.packed.pair_row); per-sequence log-probs are
``-Σ CE × mask`` over each segment (megatron-core's vocab-parallel cross-entropy, so tensor parallelism works).
The loss is the mean over the global batch's pairs (megatron-core's per-token normalization with one "token"
per pair). Each step logs chosen/rejected rewards (TRL's definitions), their margin and the pair accuracy.

**Which pairs**: the blend's train split, or the item indices in ``OUTPUT_DIR/pairs_keep.npy`` when ``moru align``
wrote one (a stage's shard after the reward models' agreement filter). Held out: valid, else test.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import torch

from megatron_train import distributed
from megatron_train import engine as engine_mod
from megatron_train.config import TrainConfig
from megatron_train.losses import dpo, ipo, simpo
from megatron_train.packed import (
    PackedDataError,
    PairSet,
    blend_fingerprint,
    forward_kwargs,
    rank_samples,
    read_blend,
    segment_sums,
)
from megatron_train.reward import held_out_split, open_pairs, pad_multiple, pair_batch

REFERENCE = "reference"
KEEP = "pairs_keep.npy"


def reference_dir(cfg: TrainConfig) -> Path:
    return Path(cfg.output_dir) / REFERENCE


def sequence_logps(model, batch: dict, thd: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ log p over each segment's supervised tokens, supervised token count) of a packed row: [segments]."""
    per_token = model(batch["tokens"], batch["position_ids"], labels=batch["labels"], **forward_kwargs(batch, thd))
    n_seg = batch["cu_seqlens"].numel() - 1
    w = batch["weights"]
    return segment_sums(-per_token.float() * w, batch["segment"], n_seg), segment_sums(w, batch["segment"], n_seg)


def pair_losses(options, logps: torch.Tensor, counts: torch.Tensor, n: int, ref: torch.Tensor | None):
    """The configured loss of ``n`` pairs from their segments' log-probs (chosen = even segments)."""
    chosen, rejected = logps[0 : 2 * n : 2], logps[1 : 2 * n : 2]
    nc, nr = counts[0 : 2 * n : 2], counts[1 : 2 * n : 2]
    beta = options.beta_value
    if options.loss == "simpo":
        return simpo(chosen, rejected, nc, nr, beta=beta, gamma=options.gamma, label_smoothing=options.label_smoothing)
    ref_c, ref_r = ref[:, 0], ref[:, 1]
    if options.loss == "ipo":
        return ipo(chosen, rejected, ref_c, ref_r, nc, nr, beta=beta)
    return dpo(chosen, rejected, ref_c, ref_r, beta=beta, label_smoothing=options.label_smoothing)


# --- the reference pass ----------------------------------------------------------------------------------------


def _score_logps(model, pairs: PairSet, mbs: int, multiple: int, layout, device, thd: bool) -> np.ndarray:
    """[pairs, 4]: Σ log p (chosen, rejected) and supervised tokens (chosen, rejected), every rank all of them."""
    from megatron.core import parallel_state as ps

    mine = np.array_split(np.arange(len(pairs)), layout.dp)[layout.dp_rank]
    rows: list[tuple] = []
    model.eval()
    with torch.no_grad():
        for chunk in np.array_split(mine, max(1, -(-len(mine) // mbs))):
            if len(chunk) == 0:
                continue
            batch = pair_batch([pairs[int(i)] for i in chunk], multiple, device)
            logps, counts = sequence_logps(model, batch, thd)
            n = len(chunk)
            lp, ct = logps[: 2 * n].double().cpu().numpy(), counts[: 2 * n].double().cpu().numpy()
            for j, i in enumerate(chunk.tolist()):
                rows.append((i, lp[2 * j], lp[2 * j + 1], ct[2 * j], ct[2 * j + 1]))
    gathered: list = [None] * layout.dp
    torch.distributed.all_gather_object(gathered, rows, group=ps.get_data_parallel_group())
    ordered = sorted(r for part in gathered for r in part)
    return np.array([r[1:] for r in ordered], dtype=np.float64).reshape(-1, 4)


def store_reference(eng: engine_mod.Engine, cfg: TrainConfig, options, source: Path | str) -> dict:
    """Score every pair of the blend with the engine's model as it is now (the starting checkpoint) and store the
    log-probs (module docstring). Collective."""
    import time

    layout = eng.layout
    started = time.perf_counter()
    blend = read_blend(cfg.data.blend, "pairs")
    multiple = pad_multiple(options.pad_multiple, layout.on_gpu)
    arrays, counts = {}, {}
    for split, parts in blend.items():
        pairs = PairSet(parts)
        arrays[split] = _score_logps(eng.model, pairs, cfg.micro_batch_size, multiple, layout, eng.device, eng.thd)
        counts[split] = len(pairs)
    meta = {"checkpoint": str(source), "blend": str(cfg.data.blend),
            "blend_sha256": blend_fingerprint(cfg.data.blend), "pairs": counts}  # fmt: skip
    if layout.rank == 0:
        out = reference_dir(cfg)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "logps.npz", **arrays)
        (out / "reference.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    torch.distributed.barrier()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if layout.on_gpu else None
    eng.log.event("reference", seconds=seconds, pairs=sum(counts.values()), max_memory_gib=peak)
    if layout.on_gpu:  # the training steps' peak is measured apart from the scoring pass's
        torch.cuda.reset_peak_memory_stats()
    eng.log.print(f"reference log-probs of {sum(counts.values()):,} pairs from {source} → {reference_dir(cfg)}")
    return meta


def load_reference(cfg: TrainConfig, config_path: str | None = None) -> dict[str, np.ndarray]:
    """The stored reference log-probs of the blend, checked against it (a message with the fix otherwise)."""
    folder = reference_dir(cfg)
    stage = Path(cfg.output_dir).name
    how = (
        f"`python -m megatron_train.align --config {config_path or 'CONFIG'} --step {stage} --with-reference` "
        "(moru align does it)"
    )
    if not (folder / "logps.npz").is_file() or not (folder / "reference.json").is_file():
        raise PackedDataError(f"{folder}: no precomputed reference log-probs for {cfg.data.blend} (DPO and IPO need "
                              f"them; make them with {how}, or use loss: simpo)")  # fmt: skip
    meta = json.loads((folder / "reference.json").read_text(encoding="utf-8"))
    if meta.get("blend_sha256") != blend_fingerprint(cfg.data.blend):
        raise PackedDataError(f"{folder}/reference.json: computed for another pair dataset ({meta.get('blend')}, "
                              f"sha256 {str(meta.get('blend_sha256'))[:12]}) than {cfg.data.blend}; "
                              f"recompute with {how}")  # fmt: skip
    init = cfg.checkpoint.init_from
    start = str(engine_mod.init_source(init)) if init else f"the seeded initialization (seed {cfg.seed})"
    if meta.get("checkpoint") != start:
        raise PackedDataError(f"{folder}/reference.json: computed with {meta.get('checkpoint')}, but this stage starts "
                              f"from {start}; delete {folder} and recompute with {how}")  # fmt: skip
    with np.load(folder / "logps.npz") as data:
        return {k: data[k] for k in data.files}


# --- training --------------------------------------------------------------------------------------------------


class PreferenceTask:
    def __init__(self, cfg: TrainConfig, options, layout, device, thd: bool, reference: dict | None):
        self.cfg, self.options, self.layout, self.device, self.thd = cfg, options, layout, device, thd
        self.multiple = pad_multiple(options.pad_multiple, layout.on_gpu)
        self.num_microbatches = engine_mod.microbatches(cfg, layout)
        blend, self.train = open_pairs(cfg)
        keep = Path(cfg.output_dir) / KEEP
        self.subset = np.load(keep) if keep.is_file() else None
        if self.subset is not None and len(self.subset) == 0:
            raise PackedDataError(f"no pairs to train on ({keep if self.subset is not None else cfg.data.blend})")
        self.split = held_out_split(blend)
        self.held_out = PairSet(blend[self.split]) if self.split else None
        self.reference = reference
        if reference is not None and len(reference["train"]) != len(self.train):
            raise PackedDataError(f"{reference_dir(cfg)}: reference log-probs of {len(reference['train'])} pairs, "
                                  f"the blend has {len(self.train)}: recompute them")  # fmt: skip
        self.forward_step = partial(_forward_step, task=self)

    def ref_for(self, split: str, idx) -> torch.Tensor | None:
        if self.reference is None:
            return None
        return torch.from_numpy(self.reference[split][np.asarray(idx)][:, :2].copy())

    def batches(self, consumed: int):
        cfg, layout = self.cfg, self.layout
        for idx in rank_samples(consumed, len(self.train), cfg.seed, cfg.micro_batch_size, layout.dp_rank, layout.dp,
                                self.num_microbatches, self.subset):  # fmt: skip
            extra = {} if self.reference is None else {"ref": self.ref_for("train", idx)}
            yield pair_batch([self.train[i] for i in idx], self.multiple, self.device, extra)

    def samples_per_step(self) -> int:
        return self.cfg.global_batch_size

    def reduce(self, losses: list[dict]) -> dict:
        loss, n, chosen, rejected, correct, used = engine_mod.reduce_sums(losses, "sums", self.device).tolist()
        return {"loss": loss / n, "tokens": used, "show": {
            "reward_chosen": chosen / n, "reward_rejected": rejected / n, "margin": (chosen - rejected) / n,
            "accuracy": correct / n}}  # fmt: skip

    def evaluate(self, engine: engine_mod.Engine) -> dict | None:
        if self.held_out is None or len(self.held_out) == 0:
            return None
        if self.reference is not None and self.split not in self.reference:
            return None
        from megatron.core import parallel_state as ps

        model, layout = engine.model, self.layout
        model.eval()
        mine = np.array_split(np.arange(len(self.held_out)), layout.dp)[layout.dp_rank]
        sums = torch.zeros(4, device=self.device, dtype=torch.float64)
        with torch.no_grad():
            for chunk in np.array_split(mine, max(1, -(-len(mine) // self.cfg.micro_batch_size))):
                if len(chunk) == 0:
                    continue
                ref = self.ref_for(self.split, chunk)
                batch = pair_batch([self.held_out[int(i)] for i in chunk], self.multiple, self.device)
                logps, counts = sequence_logps(model, batch, self.thd)
                pl = pair_losses(self.options, logps, counts, len(chunk), None if ref is None else ref.to(self.device))
                sums += torch.stack([pl.loss.sum(), torch.tensor(float(len(chunk)), device=self.device),
                                     pl.correct.sum(), pl.margins.sum()]).double()  # fmt: skip
        torch.distributed.all_reduce(sums, group=ps.get_data_parallel_group())
        loss, n, correct, margin = sums.tolist()
        return {"loss": loss / n, "accuracy": correct / n, "margin": margin / n}


def _forward_step(data_iterator, model, *, task: PreferenceTask):
    batch = next(data_iterator)
    per_token = model(batch["tokens"], batch["position_ids"], labels=batch["labels"],
                      **forward_kwargs(batch, task.thd))  # fmt: skip

    def loss_func(out: torch.Tensor):
        n_seg = batch["cu_seqlens"].numel() - 1
        w = batch["weights"]
        logps = segment_sums(-out.float() * w, batch["segment"], n_seg)
        counts = segment_sums(w, batch["segment"], n_seg)
        n = int(batch["n_pairs"].item())
        pl = pair_losses(task.options, logps, counts, n, batch.get("ref"))
        total = pl.loss.sum()
        stats = torch.stack([total.detach(), torch.tensor(float(n), device=total.device), pl.chosen_rewards.sum(),
                             pl.rejected_rewards.sum(), pl.correct.sum(), batch["used"]])  # fmt: skip
        return total, torch.tensor(n, dtype=torch.int, device=total.device), {"sums": stats}

    return per_token, loss_func


def run(cfg: TrainConfig, options, console=None, exit_after: int | None = None, run_info: dict | None = None,
        stage: str = "preference", config_path: str | None = None, with_reference: bool = False):  # fmt: skip
    """Train one preference stage (collective): resume from its own checkpoints, else start from
    ``checkpoint.init_from`` (the previous stage). ``with_reference``: first compute and store the reference
    log-probs with the starting model (the scoring pass), unless they are stored already for this blend; without
    it, DPO and IPO stop when they are missing."""
    engine_mod.check_alignment_layout(cfg)
    needs_reference = options.loss != "simpo"
    reference = None
    if needs_reference and not with_reference:
        reference = load_reference(cfg, config_path)
    with engine_mod.running(cfg):
        layout, created = distributed.init(cfg.parallel, cfg.seed)
        try:
            eng = engine_mod.build(cfg, layout, console, per_token_loss=True)
            iteration, consumed, latest = engine_mod.restore(eng, " (run the previous stage first)")
            if needs_reference and reference is None:
                try:
                    reference = load_reference(cfg, config_path)
                except PackedDataError:
                    if iteration > 0:
                        raise
                    init = cfg.checkpoint.init_from
                    source = engine_mod.init_source(init) if init else f"the seeded initialization (seed {cfg.seed})"
                    store_reference(eng, cfg, options, source)
                    reference = load_reference(cfg, config_path)
            task = PreferenceTask(cfg, options, layout, eng.device, eng.thd, reference)
            used = len(task.subset) if task.subset is not None else len(task.train)
            beta = options.beta_value
            eng.log.print(
                f"{stage}: {options.loss} (β {beta:g}{f', γ {options.gamma:g}' if options.loss == 'simpo' else ''}) "
                f"on {used:,} of {len(task.train):,} train pairs, {cfg.global_batch_size} pairs per step, "
                f"{cfg.train_iters} steps | {'THD' if eng.thd else 'block-diagonal mask'} | {cfg.precision}"
            )
            result = engine_mod.train_loop(
                eng, task, stage=stage, iteration=iteration, consumed=consumed, last_saved=latest,
                run_info={"stage": stage, "config": cfg.model_dump(mode="json"), **(run_info or {})},
                exit_after=exit_after,
            )  # fmt: skip
            return result
        finally:
            distributed.teardown(created)
