"""K-EXAONE on megatron-core, on CPU: the shapes against megatron-core's own GPTModel (meta device), sliding-window
vs global layers, Muon, MoE + hybrid attention + MTP training that resumes bit for bit, the CI config through
``moru train``, the memory estimate and the config-time errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from megatron_train import checkpoint, train
from megatron_train.config import TrainConfig, load_train_config
from megatron_train.metrics import read_metrics
from megatron_train.model import build_gpt_model, transformer_config
from megatron_train.model_configs import PRESETS
from tests.megatron_train.conftest import REPO

CI_CONFIG = REPO / "configs" / "train_k_exaone_tiny_cpu.yaml"
K_SHAPES = ["k-exaone-236b", "k-exaone-small", "k-exaone-small-dense", "k-exaone-tiny"]


def _build(name: str, device: str = "meta", seq_length: int = 128, **overrides):
    cfg = TrainConfig(model=name, precision="fp32", seq_length=seq_length, model_overrides=overrides)
    tconfig = transformer_config(cfg, on_gpu=False, use_te=False)
    if device == "meta":
        tconfig.perform_initialization = False
        with torch.device("meta"):
            return build_gpt_model(cfg, tconfig, use_te=False)
    return build_gpt_model(cfg, tconfig, use_te=False)


@pytest.mark.parametrize("name", K_SHAPES)
def test_parameter_counter_matches_megatron_core_on_the_meta_device(megatron_world, name):
    model = _build(name)
    assert sum(p.numel() for p in model.parameters()) == PRESETS[name].num_parameters()
    if name != "k-exaone-small-dense":
        assert any(".mlp.router." in n for n, _ in model.named_parameters())
        assert any("mtp.layers.0" in n for n, _ in model.named_parameters())
        assert any("q_layernorm" in n for n, _ in model.named_parameters())


def test_published_k_exaone_numbers():
    s = PRESETS["k-exaone-236b"]
    dims = (s.num_layers, s.hidden_size, s.num_attention_heads, s.num_query_groups, s.head_dim)
    assert dims == (48, 6144, 64, 8, 128)
    assert (s.num_experts, s.moe_top_k, s.moe_ffn_hidden_size, s.moe_shared_expert_size) == (128, 8, 2048, 2048)
    assert (s.vocab_size, s.max_position_embeddings, s.window, s.mtp_layers) == (153_600, 262_144, 128, 1)
    assert s.layer_kinds()[:4] == ["L", "L", "L", "G"] and s.moe_layers()[:2] == [False, True]
    # Hugging Face counts 237.1B in the released weights (MTP included); the card says 23B active
    assert round(s.num_parameters() / 1e9, 1) == 237.1
    assert round(s.num_active_parameters(with_embedding=False, with_mtp=False) / 1e9) == 23
    small, dense = PRESETS["k-exaone-small"], PRESETS["k-exaone-small-dense"]
    # the dense comparison has the MoE shape's active size (up to the router)
    routers = (small.num_layers - small.moe_dense_layers) * small.hidden_size * small.num_experts
    assert small.num_active_parameters() - dense.num_active_parameters() == routers


def _layer_outputs(model, tokens):
    outs = {}
    hooks = [layer.register_forward_hook(lambda m, a, o, i=i: outs.__setitem__(i, o[0].detach().clone()))
             for i, layer in enumerate(model.decoder.layers)]  # fmt: skip
    positions = torch.arange(tokens.shape[1]).unsqueeze(0)
    with torch.no_grad():
        logits = model(tokens, positions, None)
    for h in hooks:
        h.remove()
    return outs, logits


@pytest.mark.parametrize("pattern", ["LG", "GL"])
def test_a_token_beyond_the_window_changes_a_global_layer_but_not_a_sliding_window_layer(megatron_world, pattern):
    window, seq = 4, 16
    model = _build("k-exaone-tiny", device="cpu", seq_length=seq, num_layers=2, attention_pattern=pattern,
                   window=window, mtp_layers=0)  # fmt: skip
    model.eval()
    tokens = torch.randint(0, 512, (2, seq), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, 0] = (tokens[:, 0] + 1) % 512
    a, _ = _layer_outputs(model, tokens)
    b, _ = _layer_outputs(model, changed)
    first, second = a[0], b[0]  # [s, b, h] of the first layer, whose input differs only at position 0
    if pattern[0] == "L":
        # positions i >= window see keys i-window+1 .. i: token 0 is masked out exactly (softmax weight 0)
        assert torch.equal(first[window:], second[window:])
        assert not torch.equal(first[window - 1], second[window - 1])  # the last position that sees token 0
    else:
        assert not torch.equal(first[-1], second[-1])  # the global layer's last position sees token 0
    assert not torch.equal(a[1][-1], b[1][-1])  # after two layers the last position differs either way


def test_sliding_window_layer_equals_attention_over_the_window_alone(megatron_world):
    """Reference: a one-layer sliding-window model's logits at position i are those of the same model run on the
    window's tokens alone (RoPE is relative, so shifted positions give the same scores)."""
    window, seq = 4, 12
    model = _build("k-exaone-tiny", device="cpu", seq_length=seq, num_layers=1, attention_pattern="L", window=window,
                   rope_layers="all", mtp_layers=0, num_experts=None, moe_ffn_hidden_size=None,
                   moe_shared_expert_size=None, moe_dense_layers=0)  # fmt: skip
    model.eval()
    tokens = torch.randint(0, 512, (1, seq), generator=torch.Generator().manual_seed(1))
    _, full = _layer_outputs(model, tokens)
    for i in range(window - 1, seq):
        _, alone = _layer_outputs(model, tokens[:, i - window + 1 : i + 1])
        torch.testing.assert_close(full[0, i], alone[0, -1], rtol=0, atol=2e-5)


def test_mtp_head_logits_and_self_drafting_acceptance(megatron_world):
    import torch.nn.functional as F

    from megatron_train.mtp_draft import acceptance, greedy, head_logits

    model = _build("k-exaone-tiny", device="cpu", seq_length=32)
    model.eval()
    tokens = torch.randint(0, 512, (2, 16), generator=torch.Generator().manual_seed(3))
    main, mtp, loss = head_logits(model, tokens)
    # the main head's logits are the ones megatron-core's own loss comes from
    torch.testing.assert_close(F.cross_entropy(main.reshape(-1, 512), tokens.reshape(-1), reduction="none"),
                               loss.reshape(-1).float(), rtol=0, atol=1e-5)  # fmt: skip
    assert len(mtp) == 1 and mtp[0].shape == main.shape and not torch.equal(mtp[0], main)
    result = acceptance(model, tokens[:1, :6], new_tokens=4)
    assert torch.equal(result["tokens"], greedy(model, tokens[:1, :6], 4))
    assert result["drafts"] == 3 and 1.0 <= result["tokens_per_step"] <= 2.0


def test_newton_schulz_orthogonalizes_and_muon_takes_matrices_adamw_the_rest(megatron_world):
    from megatron_train.muon import Muon, newton_schulz, split_params

    g = torch.randn(48, 32, generator=torch.Generator().manual_seed(0))
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    ortho = newton_schulz(g, steps=5)
    sv = torch.linalg.svdvals(ortho)
    assert sv.min() > 0.5 and sv.max() < 1.3  # the quintic iteration's band around 1
    cos = (ortho * (u @ vh)).sum() / (ortho.norm() * (u @ vh).norm())
    assert cos > 0.95

    # one step by hand: momentum 0.9, Nesterov, weight decay, scale 0.2 · √max(rows, cols)
    p = torch.nn.Parameter(torch.randn(48, 32, generator=torch.Generator().manual_seed(2)))
    before = p.detach().clone()
    p.grad = g.clone()
    Muon([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, scale=0.2).step()
    expected = before * (1 - 0.1 * 0.01) - 0.1 * 0.2 * 48**0.5 * newton_schulz(g + 0.9 * g)
    torch.testing.assert_close(p.detach(), expected)

    model = _build("k-exaone-tiny", device="cpu")
    muon, adam = split_params(model)
    muon_names, adam_names = {n for n, _ in muon}, {n for n, _ in adam}
    assert all(p.dim() == 2 for _, p in muon)
    assert {"embedding.word_embeddings.weight", "output_layer.weight"} <= adam_names
    assert all(n in adam_names for n in {*muon_names, *adam_names} if n.endswith("router.weight"))
    assert any("local_experts.0.linear_fc1" in n for n in muon_names) and any("eh_proj" in n for n in muon_names)
    assert all("layernorm" in n or "norm" in n or n.startswith(("embedding", "output")) or "router" in n
               for n in adam_names)  # fmt: skip


def test_ci_config_trains_moe_hybrid_mtp_with_muon_and_resumes_bit_for_bit(tmp_path):
    """configs/train_k_exaone_tiny_cpu.yaml (fewer steps, a tmp workdir) through the training entry point that
    ``moru train`` starts in each process; then the same config stopped after step 2 and resumed matches it loss
    for loss, bit for bit (weights, Muon momentum, Adam moments and steps, schedule, RNG, data position)."""
    data = yaml.safe_load(CI_CONFIG.read_text(encoding="utf-8"))
    data["workdir"] = str(tmp_path / "work")
    data["train"].update(train_iters=4, checkpoint={"save_interval": None},
                         schedule={"style": "wsd", "warmup_iters": 1, "wsd_decay_iters": 1})  # fmt: skip
    config = tmp_path / "moru.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert train.main(["--config", str(config)]) == 0
    base, workdir = load_train_config(config)
    straight = base.for_stage("pretrain", workdir)
    paused = TrainConfig.model_validate({**straight.model_dump(), "output_dir": str(tmp_path / "paused")})
    assert train.run(paused, exit_after=2).status == "stopped"
    assert checkpoint.find_latest(paused.checkpoint_dir).name == "iter_0000002"
    assert train.run(paused).status == "finished"
    a = read_metrics(Path(straight.output_dir) / "metrics.jsonl")
    b = read_metrics(Path(paused.output_dir) / "metrics.jsonl")
    assert [r["iteration"] for r in a] == [r["iteration"] for r in b] == [1, 2, 3, 4]
    for key in ("loss", "grad_norm", "lr", "mtp_1_loss", "moe_seq_load_balancing_loss", "moe_z_loss", "expert_load"):
        assert [r[key] for r in a] == [r[key] for r in b], key
    assert a[-1]["loss"] < a[0]["loss"] and a[-1]["mtp_1_loss"] < a[0]["mtp_1_loss"]  # both heads learn
    # dropless: every token reaches its top-k experts in each MoE layer (layers 1..3; the MTP layer is dense)
    shape = straight.shape()
    tokens = straight.global_batch_size * straight.seq_length
    assert all(len(r["expert_load"]) == 3 for r in a)
    assert all(sum(layer) == tokens * shape.moe_top_k for r in a for layer in r["expert_load"])
    assert all(r["moe_dropped_tokens"] == 0 for r in a)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"parallel": {"expert": 3}}, "num_experts 4 is not divisible by parallel.expert 3"),
        ({"seq_length": 8}, "window 16 is longer than seq_length 8"),
        ({"parallel": {"context": 3}}, "not divisible by 2 × parallel.context"),
        ({"parallel": {"pipeline": 2}}, "mtp_layers 1 with parallel.pipeline 2"),
        ({"model": "tiny", "parallel": {"expert": 2}}, "needs an MoE model"),
        ({"long": {"seq_length": 8}}, "long (merged over train + extend): long.(top level): Value error, window 16"),
        ({"model_overrides": {"attention_pattern": "LXG"}}, "use the letters L (sliding window) and G"),
        ({"parallel": {"context": 2, "cp_comm_type": "p2p"}}, "takes a window only with all_gather or a2a"),
    ],
)
def test_bad_architecture_settings_fail_at_config_time(over, message):
    data = {"model": "k-exaone-tiny", "seq_length": 64, "precision": "fp32", "extend": {}, **over}
    with pytest.raises(ValueError, match=None) as err:
        TrainConfig.model_validate(data)
    assert message in str(err.value)


def test_memory_estimate_moe_swa_cp():
    from megatron_train.memory import estimate

    base = dict(model="k-exaone-236b", precision="bf16", seq_length=32768, micro_batch_size=1,
                global_batch_size=64, recompute={"granularity": "full"}, extend={})  # fmt: skip
    one = estimate(TrainConfig.model_validate({**base, "parallel": {"tensor": 8, "expert": 8}}), world_size=64)
    cp = estimate(TrainConfig.model_validate({**base, "parallel": {"tensor": 8, "expert": 8, "context": 2}}),
                  world_size=64)  # fmt: skip
    # weights + optimizer state are split over more ranks with expert parallelism; CP halves activations
    assert cp.activations_gib < one.activations_gib
    assert one.weights_gib > 0 and one.total_gib == pytest.approx(
        one.weights_gib + one.grads_gib + one.optimizer_gib + one.activations_gib + one.logits_gib
    )
    # sliding-window layers keep only window-long attention: less than the same model all-global without flash
    dense = estimate(TrainConfig.model_validate({**base, "model": "k-exaone-small-dense", "parallel": {}}), 8)
    assert "k-exaone-small-dense" in dense.report()
