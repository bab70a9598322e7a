"""MTP self-drafting, measured: how many tokens a greedy decode would accept per main-model step if the MTP head
drafted the token after next and the main head verified it (K-EXAONE reports ~1.5x decode throughput this way).

With depth-1 MTP, MTP layer output at position j (the decoder's state at j combined with the embedding of token
j + 1) predicts token j + 2. In self-speculative greedy decoding, each main-model step verifies the previous
draft: an accepted draft adds a second token to that step. So on a greedy continuation x (the main head's own
choices), the accepted tokens per step are ``1 + P(argmax MTP(j) == x[j + 2])`` over the generated positions —
what :func:`acceptance` measures, from one forward pass over the greedy sequence (no KV cache is needed for the
measurement, and the tokens are by construction the plain greedy ones).

megatron-core 0.16's GPTModel returns no MTP logits (with MTP it even needs labels to run), so :func:`head_logits`
captures the MTP block's output (the decoder's and each MTP layer's hidden states, concatenated along the
sequence) and applies the shared output layer itself; the test checks its main-head logits against the loss
megatron-core computes from its own.
"""

from __future__ import annotations

import torch


def head_logits(model, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """(main logits [b, s, V], per MTP layer logits [b, s, V], megatron's per-token loss of ``tokens`` as labels)
    of an unwrapped GPTModel with MTP, in eval mode, for ``tokens`` [b, s]."""
    captured = {}
    handle = model.mtp.register_forward_hook(lambda _m, _a, out: captured.__setitem__("h", out))
    positions = torch.arange(tokens.shape[1], device=tokens.device).unsqueeze(0).expand_as(tokens)
    try:
        with torch.no_grad():
            loss = model(tokens, positions, None, labels=tokens)
    finally:
        handle.remove()
    chunks = torch.chunk(captured["h"], 1 + model.config.mtp_num_layers, dim=0)
    weight = model.shared_embedding_or_output_weight() if model.share_embeddings_and_output_weights else None
    with torch.no_grad():
        logits = [model.output_layer(h, weight=weight)[0].transpose(0, 1).float() for h in chunks]
    return logits[0], logits[1:], loss


def greedy(model, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Plain greedy continuation with the main head (no cache: one forward per token; tiny models only)."""
    seq = prompt.clone()
    for _ in range(new_tokens):
        main, _, _ = head_logits(model, seq)
        seq = torch.cat([seq, main[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq


def acceptance(model, prompt: torch.Tensor, new_tokens: int) -> dict:
    """Greedy-decode ``new_tokens`` after ``prompt`` [b, p], then count the MTP drafts the main head would accept."""
    seq = greedy(model, prompt, new_tokens)
    _, mtp, _ = head_logits(model, seq)
    drafts = mtp[0].argmax(-1)  # [b, s]: draft of token j + 2 at position j
    p = prompt.shape[1]
    # drafts for generated tokens p + 1 .. end come from positions p - 1 .. end - 2
    proposed = drafts[:, p - 1 : seq.shape[1] - 2]
    target = seq[:, p + 1 :]
    accepted = int((proposed == target).sum())
    total = int(target.numel())
    rate = accepted / total if total else 0.0
    return {"tokens": seq, "drafts": total, "accepted": accepted, "acceptance_rate": rate,
            "tokens_per_step": 1.0 + rate}  # fmt: skip


def measure_checkpoint(path: str, prompts: list[list[int]], new_tokens: int) -> dict:
    """:func:`acceptance` summed over ``prompts`` for a checkpoint (folder or checkpoints root), loaded on the CPU
    in fp32 the way the export loads it."""
    import tempfile

    from megatron_train import checkpoint as ckpt
    from megatron_train import export

    source = export.resolve_checkpoint(path)
    config, _ = export._marker_config(source, ckpt.read_marker(source))
    accepted = drafts = 0
    with export._one_rank_world(), tempfile.TemporaryDirectory() as work:
        gpt = export._load_gpt(source, config, "fp32", work).eval()
        if not getattr(gpt, "mtp_process", False):
            raise ValueError(f"{source}: the model has no MTP layers (shape mtp_layers: 0)")
        for prompt in prompts:
            result = acceptance(gpt, torch.tensor([prompt]), new_tokens)
            accepted += result["accepted"]
            drafts += result["drafts"]
    rate = accepted / drafts if drafts else 0.0
    return {"checkpoint": str(source), "drafts": drafts, "accepted": accepted, "acceptance_rate": rate,
            "tokens_per_step": 1.0 + rate}  # fmt: skip


if __name__ == "__main__":  # python -m megatron_train.mtp_draft CHECKPOINT [NEW_TOKENS]: counting prompts (mock data)
    import json
    import sys

    starts = (54, 214, 267, 115)  # megatron-core's MockGPTDataset documents count up: 1, 2, 3, ...
    out = measure_checkpoint(sys.argv[1], [list(range(s, s + 8)) for s in starts],
                             int(sys.argv[2]) if len(sys.argv) > 2 else 16)  # fmt: skip
    print(json.dumps(out))
