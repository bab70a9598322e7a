"""moru's alignment losses against TRL on the same tiny model (fp32, CPU).

The tiny Llama-layout model is built in megatron-core (local spec, random weights, seeded) and copied into
transformers' ``LlamaForCausalLM`` with megatron_train.hf; a second, differently seeded model is the reference.
Four preference pairs are laid out as moru's emit writes them: the prompt (mask 0), then each response's content
and ``[|endofturn|]`` (mask 1) and the ``\\n`` after it (mask 0); one chosen response holds a tool turn (mask 0)
between two assistant turns. moru packs all four pairs into ONE row (``pair_row``: eight segments plus padding,
block-diagonal causal mask) and takes per-sequence log-probs with ``sequence_logps``; TRL gets the same pairs as
text through a word-level tokenizer built in memory whose words are the token ids (the test asserts that TRL's
tokenization gives back moru's arrays).

What is compared with what:

- **log-probs**: moru's packed per-sequence Σ log p and supervised-token counts = the HF model's, one sequence at
  a time (log_softmax + gather); also moru's reference pass (``preference._score_logps``, in chunks) = TRL's
  ``precompute_ref_log_probs`` pass (``DPOTrainer.compute_ref_log_probs``).
- **DPO** (``loss_type="sigmoid"``) and **IPO**: the real ``trl.DPOTrainer`` (constructed with the HF policy, the
  HF reference model and a 4-pair dataset; ``compute_loss`` on its own collated batch); DPO's reference log-probs
  computed by TRL from ``ref_model``, IPO's read from the batch (TRL's precomputed ones, or moru's given values).
  The loss and the logged rewards / margins / accuracies / mean log-probs = moru's ``pair_losses`` and the
  training step ``preference._forward_step`` on moru's packed log-probs and stored reference log-probs.
- **SimPO**: the real ``trl.experimental.cpo.CPOTrainer`` (``loss_type="simpo"``, ``cpo_alpha=0``), with and
  without label smoothing.
- **Bradley–Terry**: the real ``trl.RewardTrainer.compute_loss`` on ``LlamaForSequenceClassification`` holding
  the weights of moru's ``RewardModel`` (scalar head = ``score``) = moru's ``score_pairs`` + ``bradley_terry`` and
  its training step ``reward._forward_step`` on a packed row.
- **SFT**: the masked mean loss of ``sft.sft_forward_step`` on several examples packed in one row = the
  token-weighted mean of per-example losses, each example alone through the same megatron model (no mask) and
  through the HF model (its own ``labels`` loss); negative control: the row without the block mask.

**Masks.** TRL's collators supervise every completion token (``completion_mask`` / ``labels`` = 1 / the token on
the whole completion). Each preference comparison therefore runs twice: ``full`` — moru's masks all 1 on the
responses, TRL's batch exactly as its collator made it; ``emit`` — moru's real masks (zeros on the ``\\n`` and the
tool turn), TRL's *own loss code* on its collated batch with ``completion_mask`` (DPO/IPO) or ``labels`` (CPO)
set to the same mask (TRL's code honours any mask there; only its collator would not produce it).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from megatron_train.align_config import PreferenceOptions
from megatron_train.hf import llama_config, megatron_to_hf
from megatron_train.losses import bradley_terry
from megatron_train.model import build_gpt_model, transformer_config
from megatron_train.packed import block_causal_mask
from megatron_train.preference import _forward_step as preference_step
from megatron_train.preference import _score_logps, pair_losses, sequence_logps
from megatron_train.reward import _forward_step as reward_step
from megatron_train.reward import build_reward_model, pair_batch, score_pairs
from megatron_train.sft import sft_forward_step

from .conftest import one_rank_world, tiny_train

CPU = torch.device("cpu")
PAD, UNK, EOT, NL = 0, 1, 2, 3  # pad, unknown, [|endofturn|], the "\n" after it
FIRST = 4  # content tokens are drawn from [FIRST, vocab)
N_PAIRS = 4
MULTIPLE = 8  # moru's CPU pad multiple
LOGP_TOL = 1e-4  # max |Δ Σ log p| per sequence
RTOL, ATOL = 1e-5, 1e-6  # losses and logged values


# --- models --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    """torch.distributed (gloo, one rank) and megatron's parallel state for the whole module (as conftest's
    ``megatron_world``, module-scoped so the models are built once)."""
    with one_rank_world() as layout:
        yield layout


def _randomize(model, seed: int):
    """Weights giving O(1) logits (per-token log-probs around -8, spread of a few nats) and norms away from 1."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif "word_embeddings" in name:
                p.copy_(0.25 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
    return model.eval()


@pytest.fixture(scope="module")
def models(world, tmp_path_factory):
    cfg = tiny_train(tmp_path_factory.mktemp("reference"))
    tconfig = transformer_config(cfg, on_gpu=False, use_te=False)
    policy = _randomize(build_gpt_model(cfg, tconfig, use_te=False), seed=7)
    reference = _randomize(build_gpt_model(cfg, tconfig, use_te=False), seed=8)
    return SimpleNamespace(cfg=cfg, shape=cfg.shape(), tconfig=tconfig, policy=policy, reference=reference)


def _hf_causal(shape, model):
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM(llama_config(shape)).eval()
    hf.load_state_dict(megatron_to_hf(model.state_dict(), shape), strict=True)
    return hf


def _tokenizer():
    """A word-level tokenizer whose word ``<i>`` is id ``i`` (no special tokens added). Its eos is the ``\\n`` token
    every response ends with, so TRL appends nothing to the completions (its add-EOS step keys on the eos)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({f"<{i}>": i for i in range(512)}, unk_token=f"<{UNK}>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=f"<{PAD}>", unk_token=f"<{UNK}>",
                                   eos_token=f"<{NL}>")  # fmt: skip


def _text(ids) -> str:
    return " ".join(f"<{int(i)}>" for i in ids)


def _trl_args(config_cls, tmp_path, **kw):
    return config_cls(output_dir=str(tmp_path), report_to="none", use_cpu=True, bf16=False, fp16=False,
                      gradient_checkpointing=False, per_device_train_batch_size=N_PAIRS, **kw)  # fmt: skip


# --- data ----------------------------------------------------------------------------------------------------


def _pairs(vocab: int) -> dict[str, list[dict[str, np.ndarray]]]:
    """``N_PAIRS`` pairs with moru's emit masks (``emit``) and the same tokens with all-1 response masks (``full``)."""
    rng = np.random.default_rng(2024)

    def content(lo, hi):
        return rng.integers(FIRST, vocab, int(rng.integers(lo, hi)))

    def turn():
        c = content(2, 8)
        return np.r_[c, EOT, NL], np.r_[np.ones(len(c) + 1), 0.0]  # content + [|endofturn|] supervised, "\n" not

    emit = []
    for j in range(N_PAIRS):
        pair = {"prompt": content(3, 9)}
        for side in ("chosen", "rejected"):
            tokens, mask = turn()
            if j == 1 and side == "chosen":  # a tool turn between two assistant turns
                tool = content(2, 5)
                second, second_mask = turn()
                tokens = np.r_[tokens, tool, second]
                mask = np.r_[mask, np.zeros(len(tool)), second_mask]
            pair[side], pair[f"{side}_loss_mask"] = tokens.astype(np.int64), mask.astype(np.float32)
        emit.append(pair)
    full = [{**p, "chosen_loss_mask": np.ones_like(p["chosen_loss_mask"]),
             "rejected_loss_mask": np.ones_like(p["rejected_loss_mask"])} for p in emit]  # fmt: skip
    return {"emit": emit, "full": full}


@pytest.fixture(scope="module")
def pairs(models):
    return _pairs(models.shape.vocab_size)


def _text_dataset(pairs):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": _text(p["prompt"]), "chosen": " " + _text(p["chosen"]),
                               "rejected": " " + _text(p["rejected"])} for p in pairs])  # fmt: skip


def _completion_mask(pairs, shape) -> torch.Tensor:
    """TRL's [chosen rows; rejected rows] completion mask (on input positions) holding moru's masks."""
    out = torch.zeros(shape, dtype=torch.long)
    for k, side in enumerate(("chosen", "rejected")):
        for j, p in enumerate(pairs):
            start = len(p["prompt"])
            m = torch.from_numpy(p[f"{side}_loss_mask"]).long()
            out[k * len(pairs) + j, start : start + len(m)] = m
    return out


def _moru_logps(model, pairs):
    batch = pair_batch(pairs, MULTIPLE, CPU)
    assert batch["tokens"].shape[0] == 1 and int(batch["n_pairs"]) == len(pairs)  # one packed row
    with torch.no_grad():
        return sequence_logps(model, batch, thd=False)


def _moru_reference(model, pairs, layout) -> torch.Tensor:
    """moru's reference pass (``preference._score_logps`` in chunks of 3 pairs) as the training step reads it:
    [pairs, 2] (Σ log π_ref chosen, rejected)."""
    scored = _score_logps(model, pairs, 3, MULTIPLE, layout, CPU, False)
    return torch.from_numpy(scored[:, :2].copy())


def _moru_step(model, pairs, options, ref) -> dict:
    """moru's training forward step on the packed row: mean loss and the values it logs (PreferenceTask.reduce)."""
    batch = pair_batch(pairs, MULTIPLE, CPU, None if ref is None else {"ref": ref})
    task = SimpleNamespace(thd=False, options=options)
    with torch.no_grad():
        out, loss_func = preference_step(iter([batch]), model, task=task)
        total, n, extra = loss_func(out)
    loss, n_pairs, chosen, rejected, correct, _ = extra["sums"].tolist()
    assert int(n) == n_pairs == len(pairs)
    return {"loss": total.item() / n_pairs, "rewards/chosen": chosen / n_pairs, "rewards/rejected": rejected / n_pairs,
            "rewards/margins": (chosen - rejected) / n_pairs, "rewards/accuracies": correct / n_pairs}  # fmt: skip


def _close(a, b, what: str) -> float:
    a, b = float(a), float(b)
    assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), f"{what}: moru {a!r} vs TRL {b!r} (Δ {a - b:.3g})"
    return abs(a - b) / max(abs(b), 1e-12)


def _hf_sequence_logps(hf, pairs) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ log p over the supervised response tokens and their count, one sequence at a time: [chosen, rejected, ...]."""
    lps, counts = [], []
    for p in pairs:
        for side in ("chosen", "rejected"):
            ids = torch.from_numpy(np.r_[p["prompt"], p[side]]).unsqueeze(0)
            mask = torch.from_numpy(np.r_[np.zeros(len(p["prompt"])), p[f"{side}_loss_mask"]]).double()
            with torch.no_grad():
                logp = hf(input_ids=ids).logits[0, :-1].double().log_softmax(-1)
            per_token = logp.gather(-1, ids[0, 1:, None])[:, 0]
            lps.append((per_token * mask[1:]).sum())
            counts.append(mask[1:].sum())
    return torch.stack(lps), torch.stack(counts)


# --- per-sequence log-probs ----------------------------------------------------------------------------------


def test_packed_sequence_logps_equal_hf_unpacked(models, pairs):
    worst = 0.0
    for name in ("policy", "reference"):
        model = getattr(models, name)
        hf = _hf_causal(models.shape, model)
        for variant in ("emit", "full"):
            lp, ct = _moru_logps(model, pairs[variant])
            n_seg = 2 * N_PAIRS
            assert lp.shape[0] == n_seg + 1 and lp[n_seg] == 0 and ct[n_seg] == 0  # the padding segment: nothing
            ref_lp, ref_ct = _hf_sequence_logps(hf, pairs[variant])
            assert torch.equal(ct[:n_seg].double(), ref_ct)
            delta = (lp[:n_seg].double() - ref_lp).abs().max().item()
            worst = max(worst, delta)
            print(f"{name}/{variant}: max |Δ Σ log p| = {delta:.3g} (|Σ log p| up to {ref_lp.abs().max():.3g})")
            assert delta < LOGP_TOL
        # the emit masks' zeros are applied: every sequence loses at least its "\n" term
        emit, _ = _moru_logps(model, pairs["emit"])
        full, _ = _moru_logps(model, pairs["full"])
        assert ((full - emit)[: 2 * N_PAIRS].abs() > 100 * LOGP_TOL).all()
    print(f"worst max |Δ Σ log p| = {worst:.3g}")


# --- DPO / IPO: trl.DPOTrainer -------------------------------------------------------------------------------


def _dpo_trainer(models, pairs, tmp_path, **config):
    from trl import DPOConfig, DPOTrainer

    trainer = DPOTrainer(
        _hf_causal(models.shape, models.policy), ref_model=_hf_causal(models.shape, models.reference),
        args=_trl_args(DPOConfig, tmp_path, **config), train_dataset=_text_dataset(pairs["full"]),
        processing_class=_tokenizer(),
    )  # fmt: skip
    for j, p in enumerate(pairs["full"]):  # TRL's tokenization is moru's arrays
        row = trainer.train_dataset[j]
        assert [row["prompt_ids"], row["chosen_ids"], row["rejected_ids"]] == [
            p["prompt"].tolist(), p["chosen"].tolist(), p["rejected"].tolist()]  # fmt: skip
    return trainer


def _trl_dpo(trainer, batch) -> dict:
    trainer._metrics["eval"].clear()  # the HF model is in eval mode: TRL logs under "eval"
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch)
    return {"loss": loss.item(), **{k: v[-1] for k, v in trainer._metrics["eval"].items()}}


def _dpo_batch(trainer, pairs, variant):
    batch = trainer.data_collator([trainer.train_dataset[j] for j in range(N_PAIRS)])
    mask = _completion_mask(pairs[variant], batch["completion_mask"].shape)
    if variant == "full":  # TRL's collator supervises every completion token: the full variant's masks
        assert torch.equal(batch["completion_mask"], mask)
    else:
        assert not torch.equal(batch["completion_mask"], mask)
        batch["completion_mask"] = mask
    return batch


def _compare(moru: dict, trl: dict, keys, what: str) -> None:
    worst = max(_close(moru[k], trl[k], f"{what} {k}") for k in keys)
    print(f"  {what}: {', '.join(keys)} equal, max relative Δ {worst:.2g}")


REWARD_KEYS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")


def test_dpo_equals_trl_dpo_trainer(models, pairs, world, tmp_path):
    """Sigmoid DPO, β 0.1: TRL computes the reference log-probs itself from ``ref_model`` (with the batch's
    completion mask), moru reads its stored reference pass."""
    trainer = _dpo_trainer(models, pairs, tmp_path, loss_type=["sigmoid"], beta=0.1)
    options = PreferenceOptions(loss="dpo", beta=0.1)
    for variant in ("full", "emit"):
        trl = _trl_dpo(trainer, _dpo_batch(trainer, pairs, variant))
        ref = _moru_reference(models.reference, pairs[variant], world)
        lp, ct = _moru_logps(models.policy, pairs[variant])
        pl = pair_losses(options, lp, ct, N_PAIRS, ref)
        moru = {"loss": pl.loss.mean(), "rewards/chosen": pl.chosen_rewards.mean(),
                "rewards/rejected": pl.rejected_rewards.mean(), "rewards/margins": pl.margins.mean(),
                "rewards/accuracies": pl.correct.mean(), "logps/chosen": lp[0 : 2 * N_PAIRS : 2].mean(),
                "logps/rejected": lp[1 : 2 * N_PAIRS : 2].mean()}  # fmt: skip
        print(f"dpo/{variant}: moru {float(moru['loss']):.7g} TRL {trl['loss']:.7g} margin "
              f"{float(moru['rewards/margins']):.4g} accuracy {float(moru['rewards/accuracies']):.2f}")  # fmt: skip
        assert 0.05 < trl["loss"] < 5 and abs(trl["rewards/margins"]) > 0.1  # not a degenerate comparison
        assert 0 < trl["rewards/accuracies"] < 1  # both signs of the margin occur
        _compare(moru, trl, ("loss", *REWARD_KEYS, "logps/chosen", "logps/rejected"), f"dpo/{variant}")
        _compare(_moru_step(models.policy, pairs[variant], options, ref), trl, ("loss", *REWARD_KEYS),
                 f"dpo/{variant} training step")  # fmt: skip


def test_ipo_equals_trl_dpo_trainer_with_precomputed_reference(models, pairs, world, tmp_path):
    """IPO, β 0.1, ``precompute_ref_log_probs``: TRL's reference pass over the dataset = moru's; the loss with the
    batch's reference log-probs (TRL's own for ``full``, moru's stored ones given for ``emit``)."""
    trainer = _dpo_trainer(models, pairs, tmp_path, loss_type=["ipo"], beta=0.1, precompute_ref_log_probs=True,
                           precompute_ref_batch_size=N_PAIRS)  # fmt: skip
    rows = [trainer.train_dataset[j] for j in range(N_PAIRS)]
    trl_ref = torch.tensor([[r["ref_chosen_logps"], r["ref_rejected_logps"]] for r in rows], dtype=torch.float64)
    moru_ref = _moru_reference(models.reference, pairs["full"], world)
    delta = (moru_ref - trl_ref).abs().max().item()
    print(f"reference pass: max |Δ Σ log π_ref| moru vs TRL precompute = {delta:.3g}")
    assert delta < LOGP_TOL
    options = PreferenceOptions(loss="ipo", beta=0.1)
    for variant in ("full", "emit"):
        batch = _dpo_batch(trainer, pairs, variant)
        ref = _moru_reference(models.reference, pairs[variant], world)
        if variant == "emit":  # reference log-probs of the emit masks, given as TRL's precomputed columns
            batch["ref_chosen_logps"], batch["ref_rejected_logps"] = ref[:, 0].float(), ref[:, 1].float()
        trl = _trl_dpo(trainer, batch)
        lp, ct = _moru_logps(models.policy, pairs[variant])
        pl = pair_losses(options, lp, ct, N_PAIRS, ref)
        moru = {"loss": pl.loss.mean(), "rewards/chosen": pl.chosen_rewards.mean(),
                "rewards/rejected": pl.rejected_rewards.mean(), "rewards/margins": pl.margins.mean(),
                "rewards/accuracies": pl.correct.mean()}  # fmt: skip
        print(f"ipo/{variant}: moru {float(moru['loss']):.7g} TRL {trl['loss']:.7g}")
        assert trl["loss"] > 1
        _compare(moru, trl, ("loss", *REWARD_KEYS), f"ipo/{variant}")
        _compare(_moru_step(models.policy, pairs[variant], options, ref), trl, ("loss", *REWARD_KEYS),
                 f"ipo/{variant} training step")  # fmt: skip
    # the per-token normalization matters: IPO on summed log-ratios is another number
    summed = ((pl.chosen_rewards - pl.rejected_rewards) / 0.1 - 1 / (2 * 0.1)) ** 2
    assert abs(summed.mean().item() - trl["loss"]) > 1e-2 * trl["loss"]


# --- SimPO: trl.experimental.cpo.CPOTrainer ------------------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_simpo_equals_trl_cpo_trainer(models, pairs, tmp_path, label_smoothing):
    """SimPO, β 2.5, γ 1.375 (TRL's ``simpo_gamma``), ``cpo_alpha=0`` (no NLL term): length-normalized log-probs."""
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    beta, gamma = 2.5, 1.375
    trainer = CPOTrainer(
        _hf_causal(models.shape, models.policy),
        args=_trl_args(CPOConfig, tmp_path, loss_type="simpo", cpo_alpha=0.0, beta=beta, simpo_gamma=gamma,
                       label_smoothing=label_smoothing, max_length=128, remove_unused_columns=False),
        train_dataset=_text_dataset(pairs["full"]), processing_class=_tokenizer(),
    )  # fmt: skip
    options = PreferenceOptions(loss="simpo", beta=beta, gamma=gamma, label_smoothing=label_smoothing)
    for variant in ("full", "emit"):
        batch = trainer.data_collator([trainer.train_dataset[j] for j in range(N_PAIRS)])
        for side in ("chosen", "rejected"):
            labels = batch[f"{side}_labels"]
            for j, p in enumerate(pairs[variant]):
                start, n = len(p["prompt"]), len(p[side])
                assert labels[j, :start].eq(-100).all() and labels[j, start : start + n].tolist() == p[side].tolist()
                labels[j, start : start + n][torch.from_numpy(p[f"{side}_loss_mask"]) == 0] = -100
        trainer._stored_metrics["train"].clear()
        with torch.no_grad():
            loss = trainer.compute_loss(trainer.model, batch).item()
        trl = {"loss": loss, **{k: v[-1] for k, v in trainer._stored_metrics["train"].items()}}
        lp, ct = _moru_logps(models.policy, pairs[variant])
        pl = pair_losses(options, lp, ct, N_PAIRS, None)
        avg = lp[: 2 * N_PAIRS] / ct[: 2 * N_PAIRS]
        moru = {"loss": pl.loss.mean(), "rewards/chosen": pl.chosen_rewards.mean(),
                "rewards/rejected": pl.rejected_rewards.mean(), "rewards/margins": pl.margins.mean(),
                "rewards/accuracies": pl.correct.mean(), "logps/chosen": avg[0::2].mean(),
                "logps/rejected": avg[1::2].mean()}  # fmt: skip
        print(f"simpo(ε {label_smoothing})/{variant}: moru {float(moru['loss']):.7g} TRL {loss:.7g}")
        assert 0.05 < loss < 10 and 0 < trl["rewards/accuracies"] < 1
        _compare(moru, trl, ("loss", *REWARD_KEYS, "logps/chosen", "logps/rejected"), f"simpo/{variant}")
        _compare(_moru_step(models.policy, pairs[variant], options, None), trl, ("loss", *REWARD_KEYS),
                 f"simpo/{variant} training step")  # fmt: skip


# --- reward model: trl.RewardTrainer -------------------------------------------------------------------------


def test_bradley_terry_equals_trl_reward_trainer(models, pairs, world, tmp_path):
    """moru's RewardModel (scalar head at each sequence's last token, pairs packed in one row) vs
    ``LlamaForSequenceClassification`` with the same weights (score at the last non-padding token) under
    ``RewardTrainer.compute_loss``: the scores, the loss, the logged accuracy and margin."""
    from transformers import LlamaForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    rm = build_reward_model(models.cfg, models.tconfig, use_te=False)
    _randomize(rm, seed=9)
    sd = rm.state_dict()
    hf_sd = megatron_to_hf({k: v for k, v in sd.items() if not k.startswith("reward_head")}, models.shape)
    hf_sd.pop("lm_head.weight", None)
    hf_sd["score.weight"] = sd["reward_head.weight"]
    config = llama_config(models.shape)
    config.num_labels = 1
    hf = LlamaForSequenceClassification(config).eval()
    hf.load_state_dict(hf_sd, strict=True)

    from datasets import Dataset

    data = pairs["emit"]
    rows = [{f"{side}_ids": np.r_[p["prompt"], p[side]].tolist() for side in ("chosen", "rejected")} for p in data]
    dataset = Dataset.from_list(rows)
    trainer = RewardTrainer(hf, args=_trl_args(RewardConfig, tmp_path), train_dataset=dataset,
                            processing_class=_tokenizer())  # fmt: skip
    batch = trainer.data_collator([trainer.train_dataset[j] for j in range(N_PAIRS)])
    with torch.no_grad():
        trl_scores = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
        trl_loss = trainer.compute_loss(trainer.model, batch).item()
    trl = {k: v[-1] for k, v in trainer._metrics["eval"].items()}

    chosen, rejected = score_pairs(rm, data, 3, MULTIPLE, world, CPU, False)
    delta = np.abs(np.r_[chosen, rejected] - trl_scores.double().numpy()).max()
    print(f"reward scores: max |Δ| = {delta:.3g} (|score| up to {trl_scores.abs().max():.3g}); loss TRL {trl_loss:.7g}")
    assert delta < 1e-4 and trl_scores.abs().max() > 0.1
    pl = bradley_terry(torch.from_numpy(chosen), torch.from_numpy(rejected))
    assert 0 < trl["accuracy"] < 1
    _close(pl.loss.mean(), trl_loss, "bradley-terry loss")
    _close(pl.correct.mean(), trl["accuracy"], "reward accuracy")
    _close(pl.margins.mean(), trl["margin"], "reward margin")

    batch = pair_batch(data, MULTIPLE, CPU)
    with torch.no_grad():
        out, loss_func = reward_step(iter([batch]), rm, thd=False)
        total, n, extra = loss_func(out)
    loss, n_pairs, correct, margin, _ = extra["sums"].tolist()
    assert int(n) == n_pairs == N_PAIRS
    _close(total.item() / n_pairs, trl_loss, "bradley-terry training step loss")
    _close(correct / n_pairs, trl["accuracy"], "training step accuracy")
    _close(margin / n_pairs, trl["margin"], "training step margin")


# --- SFT: packed = unpacked ----------------------------------------------------------------------------------


def _sft_sequences(vocab: int, seq_length: int):
    """Packed SFT sequences as emit writes them: examples end to end, each starting with a mask-0 token, a prompt
    (mask 0), an assistant turn (content + [|endofturn|] mask 1, "\\n" mask 0); the second example of the first
    sequence has two assistant turns."""
    rng = np.random.default_rng(11)
    sequences, examples = [], []
    for lengths in ((3, 2, 2), (2, 2)):
        toks, masks, cu = [], [], [0]
        for k, _ in enumerate(lengths):
            t = [np.array([FIRST]), rng.integers(FIRST, vocab, int(rng.integers(3, 7)))]
            m = [np.zeros(1), np.zeros(len(t[1]))]
            for _turn in range(2 if k == 1 and len(lengths) == 3 else 1):
                c = rng.integers(FIRST, vocab, int(rng.integers(3, 8)))
                t.append(np.r_[c, EOT, NL])
                m.append(np.r_[np.ones(len(c) + 1), 0.0])
            tokens, mask = np.concatenate(t).astype(np.int64), np.concatenate(m).astype(np.float32)
            examples.append((tokens, mask))
            toks.append(tokens)
            masks.append(mask)
            cu.append(cu[-1] + len(tokens))
        assert cu[-1] <= seq_length
        sequences.append((np.concatenate(toks), np.concatenate(masks), np.array(cu, dtype=np.int32)))
    return sequences, examples


def test_sft_packed_loss_equals_unpacked_per_example_loss(models):
    from megatron_train.packed import sft_row

    seq_length = 48
    sequences, examples = _sft_sequences(models.shape.vocab_size, seq_length)
    row = sft_row(sequences, seq_length)
    assert row.n_segments == len(examples) + 1 and row.tokens.shape == (2 * seq_length,)
    batch = row.tensors(CPU)
    with torch.no_grad():
        out, loss_func = sft_forward_step(iter([batch]), models.policy, thd=False, device=CPU)
        total, n, extra = loss_func(out)
    packed = total.item() / n.item()
    supervised = sum(float(m[1:].sum()) for _, m in examples)
    assert n.item() == supervised == extra["sums"][2].item()

    hf = _hf_causal(models.shape, models.policy)
    sums_megatron, sums_hf = 0.0, 0.0
    for tokens, mask in examples:
        ids = torch.from_numpy(tokens).unsqueeze(0)
        labels = torch.zeros_like(ids)
        labels[0, :-1] = ids[0, 1:]
        w = torch.zeros(ids.shape[1])
        w[:-1] = torch.from_numpy(mask[1:])
        with torch.no_grad():
            ce = models.policy(ids, torch.arange(ids.shape[1]).unsqueeze(0), None, labels=labels)
            sums_megatron += float((ce[0].double() * w).sum())
            hf_labels = ids.masked_fill(torch.from_numpy(mask).unsqueeze(0) == 0, -100)
            sums_hf += hf(input_ids=ids, labels=hf_labels).loss.item() * float(mask[1:].sum())
    unpacked, unpacked_hf = sums_megatron / supervised, sums_hf / supervised
    print(f"sft: packed {packed:.7g} | unpacked megatron {unpacked:.7g} (Δ {packed - unpacked:.2g}) | unpacked HF "
          f"{unpacked_hf:.7g} (Δ {packed - unpacked_hf:.2g}); {len(examples)} examples, {int(supervised)} supervised "
          "tokens")  # fmt: skip
    assert packed > 1
    assert math.isclose(packed, unpacked, rel_tol=RTOL, abs_tol=ATOL)
    assert math.isclose(packed, unpacked_hf, rel_tol=RTOL, abs_tol=ATOL)

    # negative control: the same packed row under plain causal attention (examples see the ones before them)
    t = batch["tokens"].shape[1]
    plain = torch.ones(t, t, dtype=torch.bool).triu(1).view(1, 1, t, t)
    assert not torch.equal(plain, block_causal_mask(batch["segment"]))
    with torch.no_grad():
        ce = models.policy(batch["tokens"], batch["position_ids"], plain, labels=batch["labels"])
    leaky = float((ce.float() * batch["weights"]).sum() / batch["weights"].sum())
    print(f"sft without the block mask: {leaky:.7g} (Δ {leaky - packed:.3g})")
    assert abs(leaky - packed) > 1e3 * (ATOL + RTOL * packed)
