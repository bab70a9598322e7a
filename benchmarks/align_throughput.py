"""Post-training throughput, the TRL side: TRL 1.16's ``SFTTrainer`` and ``DPOTrainer`` training a randomly
initialised ``LlamaForCausalLM`` of a moru shape on the synthetic data of benchmarks/align_data.py — the peers
that moru's megatron-core SFT and DPO are measured against, on the same GPU in the same call.

    python benchmarks/align_throughput.py --which trl-sft,trl-dpo --shape exaone-3.5-2.4b --seq-length 4096 \\
        --steps 20 --warmup 5 --tokens-per-step 32768 --pairs-per-step 32 --data runs/align_data --json out.json
    .venv/bin/python benchmarks/align_throughput.py --shape tiny --seq-length 256 --steps 2 --warmup 1 \\
        --tokens-per-step 1024 --pairs-per-step 4                       # the CPU check (fp32)

Each ``--which`` entry runs in its own Python process (so one run's memory cannot inflate the next one's peak);
the table comes last and ``--json`` gets every result with its settings and software versions.

**Data, both sides.** ``--data DIR`` holds align_data.py's output (emit's format: packed SFT sequences with
``tokens`` / ``loss_mask`` / ``cu_seqlens``, pairs with ``prompt`` / ``chosen`` / ``rejected`` + masks, the two
blend JSONs); when ``DIR/manifest.json`` is missing it is written there first, with enough examples for
``warmup + steps`` optimizer steps (SFT: ``4.4 ×`` the packed rows needed, whose mean is ~0.243 × seq_length tokens;
pairs: exactly ``(warmup + steps) × pairs-per-step``). moru's trainer reads the blends; TRL reads the same files
back (align_data.read_sft / read_pairs), so both train on one copy of the examples. Token ids are uniform random,
so the loss stays near ln(vocab); the runs measure speed and memory, not learning.

**The model.** ``LlamaForCausalLM(megatron_train.hf.llama_config(shape))`` — the Llama layout moru's GPTModel
converts to and from (tested in tests/megatron_train/test_hf.py): same layers, widths, GQA groups, vocabulary,
tied embeddings (2.4B), RoPE θ 1e6 with llama3 scaling ×8. Random init (normal, std 0.02) on the GPU, seed
``--seed``. ``--params fp32`` (default): fp32 parameters, gradients and AdamW state with bf16 autocast
(``bf16=True``), the usual HF mixed precision and what megatron-core's bf16 + fp32 main parameters matches;
``--params bf16``: bf16 parameters and AdamW state (faster and smaller, no fp32 master copy). On CPU everything is
fp32. Optimizer ``adamw_torch_fused`` (``adamw_torch`` on CPU), lr constant (1e-5 SFT, 5e-7 DPO), no weight
decay, gradient clipping at 1.0, dropout 0. Gradient checkpointing: ``--gradient-checkpointing`` (default
``off``; TRL's own default is on — off is faster wherever memory allows; for the 2.4B shape at 4,096 and
micro-batch 1 the estimate is ~55 GB: fp32 parameters + gradients + AdamW ~38 GB, autocast's bf16 weight copies
~5 GB, activations ~3 MB a token — an estimate until a GPU run reports the peak). TRL's fused LM head is on in
both trainers (TRL 1.16 always patches it in: the per-token log-probs come out in tiles, never the whole
``(tokens, vocab)`` logits).

**Attention.** ``--attn auto`` takes ``flash_attention_2`` when the ``flash_attn`` package imports, else
``sdpa`` (the GPU image has no flash-attn and no internet for the ``kernels`` hub). TRL's padding-free collator
flattens a micro-batch into one row with ``position_ids`` restarting at each example (and passes
``cu_seq_lens_q/k``, used by the flash-attention kernels only); with ``sdpa`` (and ``eager`` / ``flex_attention``)
transformers' ``create_causal_mask`` detects the packed ``position_ids`` (no 2-D attention mask is passed) and
builds the block-diagonal causal mask, so examples never attend to each other — checked before training on the
packed row of the most examples among those trained on (``packing check``, in the parameters' dtype: per-token
log-probs of the packed forward against one forward per example, and against a forward that ignores the
boundaries; a failure is reported as FAIL and the timing still runs). SDPA with an explicit mask runs PyTorch's
memory-efficient (or cuDNN) kernel, not flash, and cannot skip masked blocks. ``--attn flex_attention`` is the
block-sparse alternative (GPU only: no backward on CPU; compiled on first use; SFT rows are then padded to
``seq_length`` so one shape is compiled, while DPO batches keep their padded lengths and may recompile).

**trl-sft** (``SFTTrainer``, padding-free packing). ``--sft-input examples`` (default): the examples, as
``input_ids`` + ``completion_mask`` with ``completion_only_loss=True``, ``packing=True``,
``packing_strategy="bfd"``, ``max_length=seq_length``: TRL builds the labels and packs with its own BFD in its
constructor (not timed; its packing efficiency is reported). ``--sft-input bins``: moru's packed sequences
themselves, as ``input_ids`` + ``labels`` + ``seq_lengths`` with ``dataset_kwargs={"skip_prepare_dataset":
True}`` and ``padding_free=True`` — the same rows moru trains on. A micro-batch is ``--micro-batch`` packed rows
(default 1) flattened into one; gradient accumulation makes ``--tokens-per-step`` nominal tokens per optimizer
step (``micro-batch × seq_length × accumulation``). Reported: **tokens/s** = every token of the packed rows
(prompt and response; padding-free, so no padding) per second of steady state, and supervised tokens/s (mask-1
targets) beside it.

**trl-dpo** (``DPOTrainer``, ``precompute_ref_log_probs=True``, sigmoid loss, β 0.1). The pairs as
``prompt_ids`` / ``chosen_ids`` / ``rejected_ids`` — the columns DPOTrainer's tokenizing step produces; TRL 1.16's
DPO has no switch to skip that step for pre-tokenized data, so the subclass here passes the columns through
(``_prepare_dataset``; nothing else is changed). ``padding_free`` is unavailable in TRL 1.16's DPO (it warns and
pads), so a micro-batch of ``--dpo-micro-batch`` pairs (default 1) is one padded batch: the chosen rows, then the
rejected rows, each ``prompt + response``, right-padded to the longest (2 × pairs rows; the prompt is run twice).
``--pairs-per-step`` pairs per optimizer step. The reference log-probs are computed in the trainer's constructor
over the whole dataset, ``--precompute-batch`` pairs per forward, under ``torch.no_grad`` — timed on its own (and
its peak memory), and not part of the training figures. Reported: **pairs/s** of steady state, tokens/s (real
tokens of both rows of each pair) and padded tokens/s, and **peak GPU memory** of the training steps
(``torch.cuda.max_memory_allocated()``, reset after the precompute, so it covers the forward/backward and the
AdamW state created at the first step), with ``max_memory_reserved`` beside it.

**Timing (both).** ``max_steps = warmup + steps``; a callback synchronises CUDA and reads the clock at the end of
each optimizer step; the steady state is the wall time from the end of step ``warmup`` to the end of the last
step (data loading, collation, TRL's per-step metrics and logging included — all of a training step); the tokens /
pairs those steps consumed (counted from each micro-batch as it enters ``training_step``, summed on the device and
read after each step's synchronisation) are divided by it.
The per-step loss is recorded (``logging_steps=1``) and must be finite.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # moru's packages, as when the script is run from anywhere

import numpy as np  # noqa: E402

WHICH = ("trl-sft", "trl-dpo")
SHAPES = ("tiny", "exaone-3.5-2.4b")
SFT_ROWS_PER_EXAMPLE = 4.4  # examples to generate per packed row needed (mean example ~0.243 x seq_length)
PAD, BOS, EOS, UNK = 0, 1, 2, 3  # align_data draws tokens from [4, vocab)


def _sibling(name: str):
    """Another benchmark script as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- data ------------------------------------------------------------------------------------------------------


def sft_rows_needed(args) -> int:
    return (args.warmup + args.steps) * args.micro_batch * grad_accum_sft(args)


def grad_accum_sft(args) -> int:
    per_micro = args.micro_batch * args.seq_length
    if args.tokens_per_step % per_micro:
        raise SystemExit(f"--tokens-per-step {args.tokens_per_step} is not a multiple of micro-batch x seq-length "
                         f"({per_micro})")  # fmt: skip
    return args.tokens_per_step // per_micro


def grad_accum_dpo(args) -> int:
    if args.pairs_per_step % args.dpo_micro_batch:
        raise SystemExit(f"--pairs-per-step {args.pairs_per_step} is not a multiple of --dpo-micro-batch")
    return args.pairs_per_step // args.dpo_micro_batch


def ensure_data(args) -> dict:
    """The manifest of ``--data``; written there first (align_data.write) when it has none."""
    ad = _sibling("align_data")
    data = Path(args.data)
    if not (data / "manifest.json").is_file():
        n_sft = math.ceil(sft_rows_needed(args) * SFT_ROWS_PER_EXAMPLE) + 16
        n_pairs = (args.warmup + args.steps) * args.pairs_per_step
        vocab = shape_of(args.shape).vocab_size
        print(f"writing synthetic data to {data}: {n_sft:,} SFT examples, {n_pairs:,} pairs, vocab {vocab:,}, "
              f"seq {args.seq_length}, seed {args.seed}", flush=True)  # fmt: skip
        ad.write(data, vocab, args.seq_length, n_sft, n_pairs, args.seed)
    manifest = json.loads((data / "manifest.json").read_text())
    syn = manifest["synthetic"]
    if syn["seq_length"] != args.seq_length or syn["vocab_size"] != shape_of(args.shape).vocab_size:
        raise SystemExit(f"{data} holds data for seq {syn['seq_length']} / vocab {syn['vocab_size']}, not "
                         f"{args.seq_length} / {shape_of(args.shape).vocab_size}: give another --data")  # fmt: skip
    return manifest


# -- model and tokenizer ---------------------------------------------------------------------------------------


def shape_of(name: str):
    from megatron_train.model_configs import resolve_shape

    return resolve_shape(name)


def pick_attn(requested: str) -> str:
    if requested != "auto":
        return requested
    import importlib.util

    return "flash_attention_2" if importlib.util.find_spec("flash_attn") is not None else "sdpa"


def build_model(args, cuda: bool):
    import torch
    from transformers import LlamaForCausalLM

    from megatron_train.hf import llama_config

    dtype = "bfloat16" if (cuda and args.params == "bf16") else "float32"
    config = llama_config(shape_of(args.shape), dtype=dtype, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    config._attn_implementation = args.attn_impl
    torch.manual_seed(args.seed)
    with torch.device("cuda" if cuda else "cpu"):
        model = LlamaForCausalLM(config)
    model.to(getattr(torch, dtype))
    return model


def build_tokenizer(vocab_size: int):
    """A word-level tokenizer over ids ``0 … vocab-1`` (pad, bos, eos, unk, then ``t4`` …): the trainers want a
    processing class with a pad token; the data is already token ids, so nothing is ever encoded with it."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": PAD, "<s>": BOS, "</s>": EOS, "<unk>": UNK, **{f"t{i}": i for i in range(4, vocab_size)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")  # fmt: skip


# -- counting and timing ---------------------------------------------------------------------------------------


class Counter:
    """Tokens and pairs of every micro-batch that enters ``training_step``. The sums stay tensors (on the GPU,
    where the batches already are: no synchronisation inside a step) until :meth:`flush`, which the clock calls
    after it has synchronised at the end of a step."""

    KEYS = ("micro_batches", "tokens", "supervised_tokens", "padded_tokens", "pairs")

    def __init__(self, kind: str):
        self.kind = kind
        self.totals = dict.fromkeys(self.KEYS, 0)
        self._pending: list[tuple[str, object]] = []

    def add(self, inputs: dict) -> None:
        ids = inputs["input_ids"]
        p = self._pending
        p += [("micro_batches", 1), ("padded_tokens", ids.numel())]
        if self.kind == "sft":
            p.append(("tokens", (ids != PAD).sum()))  # padding-free: only a pad_to_multiple_of tail is padding
            p.append(("supervised_tokens", (inputs["labels"] != -100).sum()))
        else:
            p.append(("tokens", inputs["attention_mask"].sum()))
            p.append(("supervised_tokens", inputs["completion_mask"].sum()))
            p.append(("pairs", ids.shape[0] // 2))

    def flush(self) -> dict:
        for key, value in self._pending:
            self.totals[key] += int(value)
        self._pending.clear()
        return dict(self.totals)


def make_clock(counter: Counter, cuda: bool):
    import torch
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        """CUDA-synchronised wall clock at the end of each optimizer step, the counts so far, the logged losses."""

        def __init__(self):
            self.begin = None
            self.ends: list[float] = []
            self.snaps: list[dict] = []
            self.losses: list[float] = []

        def _now(self) -> float:
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.begin = self._now()

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(self._now())
            self.snaps.append(counter.flush())

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    return Clock()


def steady(clock, warmup: int) -> dict:
    """Figures of the steps after ``warmup`` (from the end of step ``warmup`` to the end of the last)."""
    if len(clock.ends) <= warmup:
        raise RuntimeError(f"only {len(clock.ends)} steps ran; need more than --warmup {warmup}")
    start = clock.ends[warmup - 1] if warmup else clock.begin
    seconds = clock.ends[-1] - start
    first = clock.snaps[warmup - 1] if warmup else {k: 0 for k in clock.snaps[-1]}
    done = {k: clock.snaps[-1][k] - first[k] for k in clock.snaps[-1]}
    starts = [start] + clock.ends[warmup:-1]
    step_s = [b - a for a, b in zip(starts, clock.ends[warmup:], strict=True)]
    return {"timed_steps": len(clock.ends) - warmup, "seconds": seconds,
            "step_seconds_median": float(np.median(step_s)), "step_seconds": step_s, **done}  # fmt: skip


def _reset_peak(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peaks(cuda: bool) -> dict:
    if not cuda:
        return {"max_memory_allocated_gib": None, "max_memory_reserved_gib": None}
    import torch

    return {"max_memory_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
            "max_memory_reserved_gib": torch.cuda.max_memory_reserved() / 2**30}  # fmt: skip


def common_args(args, cuda: bool, output_dir: str, grad_accum: int, micro_batch: int, lr: float) -> dict:
    return dict(
        output_dir=output_dir, max_steps=args.warmup + args.steps, per_device_train_batch_size=micro_batch,
        gradient_accumulation_steps=grad_accum, learning_rate=lr, lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch_fused" if cuda else "adamw_torch",
        bf16=cuda, fp16=False, use_cpu=not cuda,
        gradient_checkpointing=args.gradient_checkpointing == "on",
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
        seed=args.seed, data_seed=args.seed, dataloader_num_workers=args.workers if cuda else 0,
        remove_unused_columns=True,
    )  # fmt: skip


# -- the packing check -----------------------------------------------------------------------------------------


def packing_check(model, row: dict) -> dict:
    """Per-token log-probs of one packed row (TRL's padding-free collator output; every token but each example's
    first taken as a target) against one forward per example and against the row run as one causal sequence
    (boundaries ignored), in the parameters' dtype without autocast (fp32 unless ``--params bf16``).
    Block-diagonal attention makes the first difference rounding-sized (<= 1e-3 in fp32) and much smaller than the
    second."""
    import torch

    p = next(model.parameters())
    batch = {k: (v.to(p.device) if torch.is_tensor(v) else v) for k, v in row.items()}
    ids, pos = batch["input_ids"], batch["position_ids"]
    # every token a target except each example's first: the fused head scores only targets, and a leak shows in
    # prompt positions as much as in response ones
    batch["labels"] = labels = ids.masked_fill(pos == 0, -100)
    starts = (pos[0] == 0).nonzero().flatten().tolist() + [ids.shape[1]]
    was_training = model.training
    model.eval()
    with torch.no_grad(), torch.autocast(p.device.type, enabled=False):
        packed = model(**batch, fused_lm_head=True).log_probs[0].float()
        leaky = model(input_ids=ids, labels=labels, fused_lm_head=True).log_probs[0].float()
        alone = torch.zeros_like(packed)
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            if b - a < 2:
                continue
            alone[a : b - 1] = model(input_ids=ids[:, a:b], labels=labels[:, a:b], fused_lm_head=True).log_probs[0]
    model.train(was_training)
    target = labels[0, 1:] != -100
    d_packed = float((packed - alone)[target].abs().max())
    d_leaky = float((leaky - alone)[target].abs().max())
    tol = 1e-3 if p.dtype == torch.float32 else 0.1
    ok = len(starts) > 2 and d_packed <= max(tol, 0.1 * d_leaky) and d_packed < 0.5 * d_leaky
    return {"examples": len(starts) - 1, "tokens": int(ids.shape[1]), "dtype": str(p.dtype).removeprefix("torch."),
            "max_abs_diff_vs_separate": d_packed, "max_abs_diff_boundaries_ignored": d_leaky,
            "ok": bool(ok)}  # fmt: skip


# -- the two runs ----------------------------------------------------------------------------------------------


def run_trl_sft(args, cuda: bool) -> dict:
    import torch
    from trl import SFTConfig, SFTTrainer

    ad = _sibling("align_data")
    manifest = ensure_data(args)
    bins = ad.read_sft(manifest["blends"]["sft"])
    need = sft_rows_needed(args)
    if args.sft_input == "bins":
        dataset = ad.trl_sft_bins_dataset(bins)
    else:
        dataset = ad.trl_sft_dataset(ad.unpack(bins))
    ga = grad_accum_sft(args)
    flex = args.attn_impl == "flex_attention"
    cfg = SFTConfig(
        **common_args(args, cuda, args.tmp, ga, args.micro_batch, 1e-5),
        padding_free=True,
        packing=args.sft_input == "examples",
        packing_strategy="bfd",
        max_length=args.seq_length if args.sft_input == "examples" else None,
        completion_only_loss=True,
        shuffle_dataset=False,
        pad_to_multiple_of=args.seq_length if flex else None,
        dataset_kwargs={"skip_prepare_dataset": True} if args.sft_input == "bins" else None,
    )
    counter = Counter("sft")

    class TimedSFTTrainer(SFTTrainer):
        def training_step(self, model, inputs, *a, **kw):
            counter.add(inputs)
            return super().training_step(model, inputs, *a, **kw)

    model = build_model(args, cuda)
    tok = build_tokenizer(model.config.vocab_size)
    clock = make_clock(counter, cuda)
    t0 = time.perf_counter()
    trainer = TimedSFTTrainer(model=model, args=cfg, train_dataset=dataset, processing_class=tok, callbacks=[clock])
    init_s = time.perf_counter() - t0
    rows = trainer.train_dataset
    if len(rows) < need:
        raise SystemExit(f"TRL packed {len(rows)} rows; {need} are needed for {args.warmup + args.steps} steps: "
                         "give a --data with more SFT examples")  # fmt: skip
    seq_lengths = rows["seq_lengths"]
    lengths = np.array([sum(r) for r in seq_lengths], dtype=np.int64)
    check = None
    if args.check_packing:  # on the row of the most examples among those trained on
        i = int(np.argmax([len(r) for r in seq_lengths[:need]]))
        check = {"row": i, **packing_check(trainer.model, trainer.data_collator([rows[i]]))}
        print(f"packing check{'' if check['ok'] else ' FAILED (reported; the timing runs all the same)'}: {check}",
              flush=True)  # fmt: skip
    gc.collect()
    _reset_peak(cuda)
    t0 = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t0
    s = steady(clock, args.warmup)
    result = {
        "run": "trl-sft", "init_seconds": init_s, "train_seconds": train_s, "grad_accum": ga,
        "rows": len(rows), "row_tokens_mean": float(lengths.mean()),
        "trl_packing_efficiency": float(lengths.sum() / (len(lengths) * args.seq_length)),
        "moru_packing_efficiency": manifest["sft"]["efficiency"],
        "tokens_per_s": s["tokens"] / s["seconds"], "supervised_tokens_per_s": s["supervised_tokens"] / s["seconds"],
        "tokens_per_step": s["tokens"] / s["timed_steps"], "steady": s, "losses": clock.losses,
        "packing_check": check, **_peaks(cuda),
    }  # fmt: skip
    del trainer, model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


def run_trl_dpo(args, cuda: bool) -> dict:
    import torch
    from trl import DPOConfig, DPOTrainer

    ad = _sibling("align_data")
    manifest = ensure_data(args)
    need = (args.warmup + args.steps) * args.pairs_per_step
    pairs = ad.read_pairs(manifest["blends"]["pairs"])
    if len(pairs) < need:
        raise SystemExit(f"{len(pairs)} pairs in --data; {need} are needed: give a --data with more pairs")
    pairs = pairs[:need]  # the precompute covers exactly the pairs that are trained on
    dataset = ad.trl_dpo_dataset(pairs)
    ga = grad_accum_dpo(args)
    cfg = DPOConfig(
        **common_args(args, cuda, args.tmp, ga, args.dpo_micro_batch, 5e-7),
        precompute_ref_log_probs=True,
        precompute_ref_batch_size=args.precompute_batch,
        max_length=args.seq_length,
        pad_to_multiple_of=None,
        padding_free=False,
        loss_type=["sigmoid"],
        beta=0.1,
    )
    counter = Counter("dpo")
    pre: dict = {}

    class TimedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset  # already prompt_ids / chosen_ids / rejected_ids: what its tokenizing step makes

        def _precompute_ref_logps(self, dataset, name, batch_size):
            _reset_peak(cuda)
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = super()._precompute_ref_logps(dataset, name, batch_size)
            if cuda:
                torch.cuda.synchronize()
            pre.update(seconds=time.perf_counter() - t, pairs=len(dataset), batch=batch_size, **_peaks(cuda))
            return out

        def training_step(self, model, inputs, *a, **kw):
            counter.add(inputs)
            return super().training_step(model, inputs, *a, **kw)

    model = build_model(args, cuda)
    tok = build_tokenizer(model.config.vocab_size)
    clock = make_clock(counter, cuda)
    t0 = time.perf_counter()
    trainer = TimedDPOTrainer(model=model, args=cfg, train_dataset=dataset, processing_class=tok, callbacks=[clock])
    init_s = time.perf_counter() - t0
    if not pre:
        raise RuntimeError("the reference log-probs were not precomputed")
    gc.collect()
    _reset_peak(cuda)
    t0 = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t0
    s = steady(clock, args.warmup)
    result = {
        "run": "trl-dpo", "init_seconds": init_s, "train_seconds": train_s, "grad_accum": ga, "pairs_total": need,
        "pairs_per_s": s["pairs"] / s["seconds"], "tokens_per_s": s["tokens"] / s["seconds"],
        "padded_tokens_per_s": s["padded_tokens"] / s["seconds"], "steady": s, "losses": clock.losses,
        "precompute": {**pre, "pairs_per_s": pre["pairs"] / pre["seconds"]}, **_peaks(cuda),
    }  # fmt: skip
    del trainer, model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


# -- reporting -------------------------------------------------------------------------------------------------


def environment() -> dict:
    import importlib.metadata as md

    import torch

    out = {"python": platform.python_version(), "device": torch.cuda.get_device_name() if torch.cuda.is_available()
           else platform.processor() or "cpu"}  # fmt: skip
    for pkg in ("torch", "transformers", "trl", "datasets", "accelerate", "megatron-core", "flash-attn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def settings(args) -> dict:
    keys = ("shape", "seq_length", "steps", "warmup", "tokens_per_step", "micro_batch", "pairs_per_step",
            "dpo_micro_batch", "precompute_batch", "attn", "attn_impl", "params", "gradient_checkpointing",
            "sft_input", "seed", "workers", "data")  # fmt: skip
    return {k: getattr(args, k) for k in keys}


def check(result: dict) -> list[str]:
    problems = []
    losses = result.get("losses") or []
    if not losses or not all(math.isfinite(x) for x in losses):
        problems.append(f"{result['run']}: losses not all finite ({losses[:4]}...)")
    if result.get("packing_check") and not result["packing_check"]["ok"]:
        problems.append(f"{result['run']}: packing check failed")
    return problems


def table(results: list[dict]) -> str:
    head = ("run", "steady steps", "step s (median)", "tokens/s", "supervised tok/s", "pairs/s", "peak alloc GiB",
            "precompute")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['run']} | failed: {r['error'][:80]} |" + " |" * (len(head) - 2))
            continue
        s = r["steady"]
        mem = f"{r['max_memory_allocated_gib']:.1f}" if r.get("max_memory_allocated_gib") is not None else "-"
        pre = (f"{r['precompute']['seconds']:.1f} s ({r['precompute']['pairs_per_s']:.1f} pairs/s)"
               if "precompute" in r else "-")  # fmt: skip
        pairs = f"{r['pairs_per_s']:.2f}" if "pairs_per_s" in r else "-"
        lines.append(f"| {r['run']} | {s['timed_steps']} | {s['step_seconds_median']:.3f} | {r['tokens_per_s']:,.0f} | "
                     f"{s['supervised_tokens'] / s['seconds']:,.0f} | {pairs} | {mem} | {pre} |")  # fmt: skip
    return "\n".join(lines)


def run_one(args) -> dict:
    import torch

    cuda = torch.cuda.is_available() and not args.cpu
    print(f"== {args.which} on {environment()['device']}: shape {args.shape}, seq {args.seq_length}, "
          f"attn {args.attn_impl}, params {args.params if cuda else 'fp32 (CPU)'}, gradient checkpointing "
          f"{args.gradient_checkpointing}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="align-trl-") as tmp:
        args.tmp = tmp
        fn = run_trl_sft if args.which == "trl-sft" else run_trl_dpo
        result = fn(args, cuda)
    result["precision"] = ("bf16 autocast, " + args.params + " parameters") if cuda else "fp32 (CPU)"
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--which", default="trl-sft,trl-dpo", help=f"comma-separated: {', '.join(WHICH)}")
    ap.add_argument("--shape", default="exaone-3.5-2.4b", choices=SHAPES)
    ap.add_argument("--seq-length", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=20, help="timed (steady-state) optimizer steps")
    ap.add_argument("--warmup", type=int, default=5, help="optimizer steps before the timing starts (>= 1)")
    ap.add_argument("--tokens-per-step", type=int, default=32768, help="SFT: nominal tokens per optimizer step")
    ap.add_argument("--micro-batch", type=int, default=1, help="SFT: packed rows per micro-batch")
    ap.add_argument("--sft-input", default="examples", choices=["examples", "bins"])
    ap.add_argument("--pairs-per-step", type=int, default=32, help="DPO: pairs per optimizer step")
    ap.add_argument("--dpo-micro-batch", type=int, default=1, help="DPO: pairs per micro-batch")
    ap.add_argument("--precompute-batch", type=int, default=8, help="DPO: pairs per reference forward")
    ap.add_argument("--attn", default="auto", choices=["auto", "sdpa", "flash_attention_2", "flex_attention", "eager"])
    ap.add_argument("--params", default="fp32", choices=["fp32", "bf16"], help="parameter dtype on the GPU")
    ap.add_argument("--gradient-checkpointing", default="off", choices=["on", "off"])
    ap.add_argument("--no-check-packing", dest="check_packing", action="store_false")
    ap.add_argument("--workers", type=int, default=2, help="data-loader workers on the GPU (0 on CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="align_data.py output (written here when missing)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cpu", action="store_true", help="run on the CPU even where a GPU is present")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one run of a parent's list
    args = ap.parse_args(argv)
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    bad = [w for w in which if w not in WHICH]
    if bad:
        ap.error(f"unknown --which {bad}; one or more of {', '.join(WHICH)}")
    if args.warmup < 1:
        ap.error("--warmup must be at least 1")
    args.attn_impl = pick_attn(args.attn)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="align-data-") as tmp_data:
        if args.data is None:
            args.data = tmp_data
        args.data = str(Path(args.data).resolve())
        if len(which) == 1:
            args.which = which[0]
            try:
                results = [run_one(args)]
            except Exception as exc:  # noqa: BLE001 - a failed run is reported in the table and the JSON
                import traceback

                traceback.print_exc()
                results = [{"run": which[0], "error": f"{type(exc).__name__}: {exc}"}]
        else:  # one process per run: each run's peak memory is its own
            ensure_data(args)
            results = []
            for w in which:
                with tempfile.NamedTemporaryFile(suffix=".json") as part:
                    cmd = [sys.executable, str(Path(__file__).resolve()), *(argv if argv is not None else sys.argv[1:]),
                           "--which", w, "--data", args.data, "--json", part.name, "--child"]  # fmt: skip
                    rc = subprocess.run(cmd, check=False).returncode
                    got = json.loads(Path(part.name).read_text() or "{}") if Path(part.name).stat().st_size else {}
                    results += got.get("results") or [{"run": w, "error": f"exit code {rc}"}]
        manifest_file = Path(args.data) / "manifest.json"
        data = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    env = environment()
    out = {
        "environment": env,
        "settings": settings(args),
        "results": results,
        "data": {k: data.get(k) for k in ("run_id", "fingerprint", "synthetic", "sft", "pairs", "blends")},
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    problems = [p for r in results if "error" not in r for p in check(r)]
    problems += [f"{r['run']}: {r['error']}" for r in results if "error" in r]
    if args.child:
        return 1 if problems else 0  # the parent prints the table
    print()
    for p in problems:
        print(f"[FAIL] {p}")
    print(f"{env['device']} | torch {env['torch']} | transformers {env['transformers']} | trl {env['trl']} | "
          f"python {env['python']}")  # fmt: skip
    print(table(results))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
