"""Preference and reward losses on per-sequence log-probabilities / scores (pure torch; per-pair values, the
caller reduces).

- **DPO** (Rafailov et al. 2023), TRL's ``loss_type="sigmoid"``: ``-logsigmoid(β((π_c - ref_c) - (π_r - ref_r)))``,
  β default 0.1 (TRL). With label smoothing ε > 0 it is conservative DPO (cDPO, Mitchell 2023):
  ``-(1-ε) logsigmoid(βΔ) - ε logsigmoid(-βΔ)`` — TRL 1.16's sigmoid loss ignores ``label_smoothing``, so only ε = 0
  is compared with TRL.
- **IPO** (Azar et al. 2023), TRL's ``loss_type="ipo"``: the log-ratios averaged over each response's supervised
  tokens, ``(Δ_avg - 1/(2β))²``.
- **SimPO** (Meng et al. 2024), TRL's CPO trainer with ``loss_type="simpo"``: no reference; length-normalised
  log-probabilities ``π/|y|``, ``-logsigmoid(β(π_c/|y_c| - π_r/|y_r|) - γ)`` with γ the target reward margin (TRL's
  ``simpo_gamma``). Defaults from the SimPO paper's Llama-3-8B-Instruct recipe: β 2.5, γ/β 0.55, so γ 1.375.
- **Bradley–Terry** reward loss: ``-logsigmoid(r_c - r_r)`` (TRL's RewardTrainer without margin).

"Rewards" logged per pair are TRL's: DPO ``β(π - ref)`` per side; SimPO ``β π/|y|``.
tests/megatron_train/test_reference.py checks each against TRL on the same model and pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOSSES = ("dpo", "ipo", "simpo")


@dataclass
class PairLosses:
    loss: torch.Tensor  # [pairs]
    chosen_rewards: torch.Tensor  # [pairs], detached
    rejected_rewards: torch.Tensor

    @property
    def margins(self) -> torch.Tensor:
        return self.chosen_rewards - self.rejected_rewards

    @property
    def correct(self) -> torch.Tensor:
        return (self.chosen_rewards > self.rejected_rewards).float()


def dpo(chosen: torch.Tensor, rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
        beta: float = 0.1, label_smoothing: float = 0.0) -> PairLosses:  # fmt: skip
    """Sigmoid DPO on summed log-probabilities."""
    delta = (chosen - ref_chosen) - (rejected - ref_rejected)
    loss = -(1 - label_smoothing) * F.logsigmoid(beta * delta) - label_smoothing * F.logsigmoid(-beta * delta)
    return PairLosses(loss, (beta * (chosen - ref_chosen)).detach(), (beta * (rejected - ref_rejected)).detach())


def ipo(chosen: torch.Tensor, rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
        chosen_tokens: torch.Tensor, rejected_tokens: torch.Tensor, beta: float = 0.1) -> PairLosses:  # fmt: skip
    """IPO on log-ratios averaged per supervised token (as TRL, normalized with the IPO authors)."""
    c = (chosen - ref_chosen) / chosen_tokens.clamp(min=1)
    r = (rejected - ref_rejected) / rejected_tokens.clamp(min=1)
    loss = (c - r - 1 / (2 * beta)) ** 2
    return PairLosses(loss, (beta * (chosen - ref_chosen)).detach(), (beta * (rejected - ref_rejected)).detach())


def simpo(chosen: torch.Tensor, rejected: torch.Tensor, chosen_tokens: torch.Tensor, rejected_tokens: torch.Tensor,
          beta: float = 2.5, gamma: float = 1.375, label_smoothing: float = 0.0) -> PairLosses:  # fmt: skip
    """SimPO: length-normalised, reference-free, with a target reward margin γ."""
    c = chosen / chosen_tokens.clamp(min=1)
    r = rejected / rejected_tokens.clamp(min=1)
    logits = beta * (c - r) - gamma
    loss = -(1 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)
    return PairLosses(loss, (beta * c).detach(), (beta * r).detach())


def bradley_terry(chosen_scores: torch.Tensor, rejected_scores: torch.Tensor) -> PairLosses:
    """Reward-model loss on scalar scores."""
    loss = -F.logsigmoid(chosen_scores - rejected_scores)
    return PairLosses(loss, chosen_scores.detach(), rejected_scores.detach())
