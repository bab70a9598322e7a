"""Reward models: the same decoder with a scalar head, trained on preference pairs with the Bradley–Terry loss.

:class:`RewardModel` is megatron-core's GPTModel whose output layer is replaced, in ``_postprocess``, by a linear
head ``hidden → 1`` read at the last token of each sequence (after the final norm), as TRL's reward models read
``AutoModelForSequenceClassification``'s score at the last non-padding token. It starts from an SFT checkpoint
(M0): every weight but the head (initialized N(0, init_method_std)) comes from there; an untied output layer is
kept but frozen (it is never used). A micro-batch is ``micro_batch_size`` pairs, chosen and rejected of each pair
packed in one row (megatron_train.packed.pair_row); the loss is ``-logsigmoid(r_chosen - r_rejected)`` averaged
over the global batch's pairs. Pair accuracy on the held-out split (valid, else test) is reported at each
evaluation and at the end.

**Scoring** (:func:`score`): every pair of a split through a trained reward model, written as a Parquet file
(``doc_id, pair_index, split, chosen_score, rejected_score, margin``) that ``moru align`` appends to the Delta
table ``pair_scores`` and that the agreement filter reads.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch

from megatron_train import distributed
from megatron_train import engine as engine_mod
from megatron_train.config import TrainConfig
from megatron_train.packed import PackedDataError, PairSet, forward_kwargs, pair_row, rank_samples, read_blend

HEAD = "reward_head"


def _reward_model_class():
    from megatron.core.models.gpt import GPTModel

    class RewardModel(GPTModel):
        """GPTModel with a scalar head in place of the output layer (module docstring)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            cfg = self.config
            self.reward_head = torch.nn.Linear(cfg.hidden_size, 1, bias=False, dtype=cfg.params_dtype)
            with torch.no_grad():
                self.reward_head.weight.normal_(0.0, cfg.init_method_std)
            if getattr(self, "output_layer", None) is not None and not self.share_embeddings_and_output_weights:
                self.output_layer.weight.requires_grad_(False)

        def _postprocess(self, hidden_states, *args, **kwargs):  # noqa: ANN001 - megatron's signature
            if self.config.sequence_parallel:
                from megatron.core.tensor_parallel import gather_from_sequence_parallel_region

                hidden_states = gather_from_sequence_parallel_region(hidden_states, tensor_parallel_output_grad=False)
            values = self.reward_head(hidden_states).squeeze(-1)  # [s, b]
            return values.transpose(0, 1).float()  # [b, s]

    return RewardModel


def build_reward_model(cfg: TrainConfig, tconfig, use_te: bool, pre_process: bool = True, post_process: bool = True):
    from megatron_train.model import layer_spec

    shape = cfg.shape()
    return _reward_model_class()(
        config=tconfig, transformer_layer_spec=layer_spec(use_te), vocab_size=shape.vocab_size,
        max_sequence_length=cfg.seq_length, pre_process=pre_process, post_process=post_process,
        share_embeddings_and_output_weights=shape.tie_embeddings, position_embedding_type="rope",
        rotary_percent=1.0, rotary_base=int(shape.rotary_base), rope_scaling=shape.rope_scaling,
        rope_scaling_factor=shape.rope_scaling_factor,
    )  # fmt: skip


def pair_scores(model, batch: dict, thd: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) scores of the pairs of a packed row: the head at each sequence's last token."""
    values = model(batch["tokens"], batch["position_ids"], **forward_kwargs(batch, thd)).reshape(-1)
    cu = batch["cu_seqlens"].long()
    n_pairs = int(batch["n_pairs"].item())
    last = cu[1 : 2 * n_pairs + 1] - 1
    scores = values[last]
    return scores[0::2], scores[1::2]


def pad_multiple(option: int, on_gpu: bool) -> int:
    return option or (128 if on_gpu else 8)


def pair_batch(pairs: list[dict], multiple: int, device: torch.device, extra: dict | None = None) -> dict:
    batch = pair_row(pairs, multiple).tensors(device)
    batch["n_pairs"] = torch.tensor(len(pairs), device=device)
    for k, v in (extra or {}).items():
        batch[k] = v.to(device)
    return batch


def open_pairs(cfg: TrainConfig) -> tuple[dict[str, list[str]], PairSet]:
    """The pair blend's parts per split and its train pairs, checked: a train split with pairs, the emission's
    tokenizer."""
    from megatron_train.sft import check_tokenizer

    blend = read_blend(cfg.data.blend, "pairs")
    if not blend.get("train"):
        raise PackedDataError(f"{cfg.data.blend}: no train split of pairs")
    check_tokenizer(blend["train"], cfg.data.tokenizer)
    train = PairSet(blend["train"])
    if len(train) == 0:
        raise PackedDataError(f"{cfg.data.blend}: the train split has no pairs")
    return blend, train


def held_out_split(blend: dict) -> str | None:
    return "valid" if blend.get("valid") else "test" if blend.get("test") else None


class RewardTask:
    def __init__(self, cfg: TrainConfig, layout, device, thd: bool, multiple: int):
        self.cfg, self.layout, self.device, self.thd, self.multiple = cfg, layout, device, thd, multiple
        self.num_microbatches = engine_mod.microbatches(cfg, layout)
        blend, self.train = open_pairs(cfg)
        split = held_out_split(blend)
        self.held_out = PairSet(blend[split]) if split else None
        self.forward_step = partial(_forward_step, thd=thd)

    def batches(self, consumed: int):
        cfg, layout = self.cfg, self.layout
        for idx in rank_samples(consumed, len(self.train), cfg.seed, cfg.micro_batch_size, layout.dp_rank,
                                layout.dp, self.num_microbatches):  # fmt: skip
            yield pair_batch([self.train[i] for i in idx], self.multiple, self.device)

    def samples_per_step(self) -> int:
        return self.cfg.global_batch_size

    def reduce(self, losses: list[dict]) -> dict:
        loss, pairs, correct, margin, used = engine_mod.reduce_sums(losses, "sums", self.device).tolist()
        return {"loss": loss / pairs, "tokens": used,
                "show": {"accuracy": correct / pairs, "margin": margin / pairs}}  # fmt: skip

    def evaluate(self, engine: engine_mod.Engine) -> dict | None:
        if self.held_out is None or len(self.held_out) == 0:
            return None
        chosen, rejected = score_pairs(engine.model, self.held_out, self.cfg.micro_batch_size, self.multiple,
                                       self.layout, self.device, self.thd)  # fmt: skip
        loss = float(np.mean(np.logaddexp(0.0, -(chosen - rejected))))
        return {"loss": loss, "accuracy": float(np.mean(chosen > rejected)), "pairs": float(len(chosen))}


def _forward_step(data_iterator, model, *, thd: bool):
    batch = next(data_iterator)
    values = model(batch["tokens"], batch["position_ids"], **forward_kwargs(batch, thd))

    def loss_func(out: torch.Tensor):
        cu = batch["cu_seqlens"].long()
        n = int(batch["n_pairs"].item())
        scores = out.reshape(-1)[cu[1 : 2 * n + 1] - 1]
        from megatron_train.losses import bradley_terry

        pl = bradley_terry(scores[0::2], scores[1::2])
        total = pl.loss.sum()
        stats = torch.stack([total.detach(), torch.tensor(float(n), device=total.device), pl.correct.sum(),
                             pl.margins.sum(), batch["used"]])  # fmt: skip
        return total, torch.tensor(n, dtype=torch.int, device=total.device), {"sums": stats}

    return values, loss_func


def score_pairs(model, pairs: PairSet, micro_batch_size: int, multiple: int, layout, device, thd: bool,
                indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(chosen, rejected) scores of every pair (or of ``indices``), each data-parallel rank scoring a share;
    every rank gets all of them, in order."""
    items = np.arange(len(pairs)) if indices is None else np.asarray(indices)
    mine = np.array_split(items, layout.dp)[layout.dp_rank]
    out: list[tuple[int, float, float]] = []
    model.eval()
    with torch.no_grad():
        for chunk in np.array_split(mine, max(1, -(-len(mine) // micro_batch_size))):
            if len(chunk) == 0:
                continue
            batch = pair_batch([pairs[int(i)] for i in chunk], multiple, device)
            c, r = pair_scores(model, batch, thd)
            out += list(zip(chunk.tolist(), c.tolist(), r.tolist(), strict=True))
    gathered: list = [None] * layout.dp
    from megatron.core import parallel_state as ps

    torch.distributed.all_gather_object(gathered, out, group=ps.get_data_parallel_group())
    rows = sorted(r for part in gathered for r in part)
    return np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def run(cfg: TrainConfig, options, console=None, exit_after: int | None = None, run_info: dict | None = None):
    """Train one reward model (collective)."""
    engine_mod.check_alignment_layout(cfg)
    with engine_mod.running(cfg):
        layout, created = distributed.init(cfg.parallel, cfg.seed)
        try:
            eng = engine_mod.build(cfg, layout, console, per_token_loss=True, model_builder=build_reward_model)
            iteration, consumed, latest = engine_mod.restore(eng, " (run SFT first)", partial_init=(HEAD,))
            task = RewardTask(cfg, layout, eng.device, eng.thd, pad_multiple(options.pad_multiple, layout.on_gpu))
            eng.log.print(f"reward model: {len(task.train):,} train pairs, {cfg.global_batch_size} pairs per step, "
                          f"{cfg.train_iters} steps, held out: "
                          f"{len(task.held_out) if task.held_out else 0} pairs")  # fmt: skip
            result = engine_mod.train_loop(
                eng, task, stage="reward", iteration=iteration, consumed=consumed, last_saved=latest,
                run_info={"stage": "reward", "config": cfg.model_dump(mode="json"), **(run_info or {})},
                exit_after=exit_after,
            )  # fmt: skip
            if result.status == "finished":
                final = task.evaluate(eng)
                if final is not None:
                    result.extra["held_out"] = final
            return result
        finally:
            distributed.teardown(created)


def score(cfg: TrainConfig, options, out_path: str | Path, splits: tuple[str, ...] = ("train",), console=None) -> dict:
    """Score the pairs of ``splits`` with the reward model of ``cfg``'s checkpoints; write the Parquet file on
    rank 0 (module docstring). Returns counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from megatron_train import checkpoint

    engine_mod.check_alignment_layout(cfg)
    with engine_mod.running(cfg):
        layout, created = distributed.init(cfg.parallel, cfg.seed)
        try:
            eng = engine_mod.build(cfg, layout, console, per_token_loss=True, model_builder=build_reward_model)
            latest = checkpoint.find_latest(cfg.checkpoint_dir)
            if latest is None:
                raise checkpoint.CheckpointError(f"{cfg.checkpoint_dir}: no trained reward model to score with")
            checkpoint.load(latest, eng.model, eng.optimizer, eng.scheduler, with_optimizer=False, with_scheduler=False)
            blend = read_blend(cfg.data.blend, "pairs")
            columns: dict[str, list] = {k: [] for k in ("doc_id", "pair_index", "split", "chosen_score",
                                                        "rejected_score")}  # fmt: skip
            multiple = pad_multiple(options.pad_multiple, layout.on_gpu)
            for split in splits:
                if not blend.get(split):
                    continue
                pairs = PairSet(blend[split])
                c, r = score_pairs(eng.model, pairs, cfg.micro_batch_size, multiple, layout, eng.device, eng.thd)
                columns["doc_id"] += pairs.doc_ids()
                columns["pair_index"] += list(range(len(pairs)))
                columns["split"] += [split] * len(pairs)
                columns["chosen_score"] += c.tolist()
                columns["rejected_score"] += r.tolist()
            table = pa.table(columns).append_column(
                "margin", pa.array(np.array(columns["chosen_score"]) - np.array(columns["rejected_score"]))
            )
            table = table.replace_schema_metadata({"moru_checkpoint": str(latest)})
            if layout.rank == 0:
                Path(out_path).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(table, str(out_path))
            return {"pairs": table.num_rows, "checkpoint": str(latest), "path": str(out_path)}
        finally:
            distributed.teardown(created)
