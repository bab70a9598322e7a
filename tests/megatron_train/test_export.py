"""`moru export` / `moru import-hf` (megatron_train.export): a moru checkpoint → a Hugging Face folder that
``AutoModelForCausalLM.from_pretrained`` loads (no remote code) and that computes what megatron-core computes; and
back, exactly.

Checkpoints are saved with ``checkpoint.save`` from tiny GPTModels whose weights are drawn large enough that logits
are O(10) and every norm weight differs from 1 (as in test_hf.py): one tied with default RoPE, one untied with
llama3 scaling; a BF16 run marked FP8 in its marker (an FP8 run's checkpoint holds BF16 parameters); a reward
model. The tokenizer is a real moru BBPE folder (tokenizer.hf.save: chat template, ``[|endofturn|]`` as EOS).

Tolerances: an fp32 export computes megatron's logits to < 1e-4 (the two implementations' float32 rounding, the
same bound as test_hf.py) with identical greedy continuations; a bf16 export holds exactly the weights rounded to
bf16, which move the logits by < 0.05 × max |logit| (measured: 0.19 at max |logit| 35 with fp32
arithmetic, 0.29 computing in bf16; printed with -s).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from megatron_train import checkpoint
from megatron_train.export import (
    EXPORT_MARKER,
    FP32_LOGIT_TOLERANCE,
    ExportError,
    export_hf,
    import_hf,
    megatron_logits,
    preset_for,
    shape_from_hf_config,
)
from megatron_train.model_configs import PRESETS, resolve_shape

from .conftest import tiny_train
from .test_hf import VARIANTS  # noqa: E402 - the shapes the mapping is tested on, exported the same way

SEQ, PROMPT, NEW = 24, 16, 8
ITERATION = 7
LINEAGE = {"align_step": "dpo/m1", "blend": "/data/pairs_blend.json", "blend_sha256": "ab" * 32,
           "init_from": "/runs/sft/checkpoints"}  # fmt: skip
TEXTS = [
    "모루는 한국어와 영어 문서를 학습 데이터로 바꿉니다. The anvil turns raw text into training data.",
    "Hello world, 안녕하세요 세계! Numbers 12345 and more text here.",
] * 20


def _tokenizer(folder: Path) -> Path:
    from tokenizer import bbpe, hf
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(vocab_size=400)
    return hf.save(bbpe.train(TEXTS, cfg), cfg, folder, {"test": True})


def _randomize(model, seed: int = 7) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # RMSNorm weights away from 1
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            elif "word_embeddings" in name or "output_layer" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))


def _tokens(batch=2, seq=SEQ):
    return torch.randint(0, 512, (batch, seq), generator=torch.Generator().manual_seed(11))


def _megatron_logits(model, tokens):
    pos = torch.arange(tokens.shape[1]).unsqueeze(0).expand_as(tokens)
    with torch.no_grad():
        return model(tokens, pos, None).float()


def _megatron_greedy(model, prompt):
    seq = prompt
    for _ in range(NEW):
        seq = torch.cat([seq, _megatron_logits(model, seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def _save(eng, cfg, root: Path, stage: str, **info) -> Path:
    config = cfg.model_dump(mode="json")
    config.update(info.pop("config", {}))
    return checkpoint.save(root, ITERATION, eng.model, eng.optimizer, eng.scheduler, 28,
                           optimizer_format="dp_reshardable", keep_last=None,
                           run_info={"stage": stage, "config": config, **info})  # fmt: skip


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The checkpoints, the megatron logits / greedy continuations / weights they hold, and the tokenizer."""
    from megatron_train import cpu_compat, distributed, engine
    from megatron_train.config import ParallelConfig
    from megatron_train.reward import build_reward_model

    root = tmp_path_factory.mktemp("export")
    tok = _tokenizer(root / "tokenizer")
    tokens = _tokens()
    out: dict = {"root": root, "tokenizer": tok, "tokens": tokens, "variants": {}}
    with cpu_compat.enabled():
        layout, created = distributed.init(ParallelConfig(), seed=1234)
        try:
            for variant, overrides in VARIANTS.items():
                cfg = tiny_train(root, name=variant, model_overrides=overrides,
                                 data={"mock": True, "tokenizer": str(tok)})  # fmt: skip
                eng = engine.build(cfg, layout)
                checkpoint._materialize_optimizer_state(eng.optimizer)  # before the weights: it steps
                model = eng.unwrapped()
                _randomize(model)
                eng.optimizer.reload_model_params()
                model.eval()
                out["variants"][variant] = {
                    "shape": cfg.shape(),
                    "logits": _megatron_logits(model, tokens),
                    "greedy": _megatron_greedy(model, tokens[:, :PROMPT]),
                    "weights": _weights(model),
                    "checkpoint": _save(eng, cfg, root / variant / "checkpoints", "dpo/m1", **LINEAGE),
                }
            # a BF16 run whose marker says FP8 (FP8 runs hold BF16 parameters; FP8 needs TE on a GPU)
            cfg = tiny_train(root, name="fp8", precision="bf16", data={"mock": True, "tokenizer": str(tok)})
            eng = engine.build(cfg, layout)
            checkpoint._materialize_optimizer_state(eng.optimizer)
            _randomize(eng.unwrapped())
            eng.optimizer.reload_model_params()
            out["fp8"] = {
                "weights": _weights(eng.unwrapped()),
                "checkpoint": _save(eng, cfg, root / "fp8" / "checkpoints", "pretrain", config={"precision": "fp8"}),
            }
            cfg = tiny_train(root, name="reward", data={"mock": True, "tokenizer": str(tok)})
            eng = engine.build(cfg, layout, model_builder=build_reward_model)
            checkpoint._materialize_optimizer_state(eng.optimizer)
            out["reward"] = _save(eng, cfg, root / "reward" / "checkpoints", "reward")
        finally:
            distributed.teardown(created)
    return out


@pytest.fixture(scope="module")
def fp32_exports(made):
    """fp32 exports of both variants, from the checkpoints root (the newest complete checkpoint)."""
    return {
        v: export_hf(made["variants"][v]["checkpoint"].parent, made["root"] / "hf32" / v, dtype="float32")
        for v in VARIANTS
    }


def _hf(path, **kw):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), **kw).eval()


def _hf_logits(model, tokens):
    with torch.no_grad():
        return model(input_ids=tokens).logits.float()


def _safetensors_keys(folder: Path) -> dict[str, str]:
    """{tensor name: safetensors dtype ("F32", "BF16")} over the folder's files."""
    from safetensors import safe_open

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as fh:
            out.update({k: fh.get_slice(k).get_dtype() for k in fh.keys()})  # noqa: SIM118 - safe_open has no iter
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fp32_export_computes_megatrons_logits_and_greedy_tokens(made, fp32_exports, variant):
    from transformers import LlamaForCausalLM

    ref = made["variants"][variant]
    shape = ref["shape"]
    record = fp32_exports[variant]
    out = Path(record["out"])
    model = _hf(out)  # no trust_remote_code: a plain LlamaForCausalLM
    assert type(model) is LlamaForCausalLM
    assert model.dtype == torch.float32
    assert (model.lm_head.weight is model.model.embed_tokens.weight) == shape.tie_embeddings

    logits = _hf_logits(model, made["tokens"])
    assert ref["logits"].abs().max() > 5  # not near zero, so the bound means something
    delta = (logits - ref["logits"]).abs().max().item()
    print(f"{variant} fp32 export: max |Δlogit| = {delta:.3g} (max |logit| {ref['logits'].abs().max().item():.3g})")
    assert delta < 1e-4
    assert torch.equal(logits.argmax(-1), ref["logits"].argmax(-1))

    prompt = made["tokens"][:, :PROMPT]
    model.generation_config.eos_token_id = None  # random weights may pick the end-of-turn id: run all NEW steps
    with torch.no_grad():
        gen = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW, do_sample=False)
    assert torch.equal(gen, ref["greedy"])
    assert not torch.equal(gen[0, PROMPT:], gen[1, PROMPT:])

    # the files: one safetensors, no lm_head tensor when tied; RoPE carried over in both spellings
    keys = _safetensors_keys(out)
    assert ("lm_head.weight" in keys) == (not shape.tie_embeddings)
    assert set(keys.values()) == {"F32"}
    assert not (out / "model.safetensors.index.json").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    assert config["rope_parameters"]["rope_theta"] == config["rope_theta"] == shape.rotary_base
    assert config["tie_word_embeddings"] == shape.tie_embeddings
    if shape.rope_scaling:
        assert config["rope_parameters"]["rope_type"] == config["rope_scaling"]["rope_type"] == "llama3"
        assert config["rope_scaling"]["factor"] == shape.rope_scaling_factor
        assert model.config.rope_parameters["rope_type"] == "llama3"
    else:
        assert config["rope_scaling"] is None and config["rope_parameters"]["rope_type"] == "default"


def test_megatron_logits_of_the_saved_checkpoint_are_the_models_and_the_exports(made, fp32_exports):
    """megatron_logits (what `moru demo` checks its export against) reads the checkpoint back into megatron-core's
    GPTModel: the logits of the model that saved it, and an fp32 export's within FP32_LOGIT_TOLERANCE."""
    for variant in VARIANTS:
        ref = made["variants"][variant]
        got = megatron_logits(ref["checkpoint"].parent, made["tokens"])
        assert got.dtype == torch.float32 and got.shape == ref["logits"].shape
        assert (got - ref["logits"]).abs().max().item() < 1e-5, variant
        hf = _hf_logits(_hf(fp32_exports[variant]["out"]), made["tokens"])
        assert (hf - got).abs().max().item() < FP32_LOGIT_TOLERANCE, variant


def test_export_record_and_tokenizer(made, fp32_exports):
    from transformers import AutoTokenizer

    from tokenizer.hf import folder_sha256, render_chat

    record = fp32_exports["tied"]
    out = Path(record["out"])
    on_disk = json.loads((out / EXPORT_MARKER).read_text())
    assert on_disk == {k: v for k, v in record.items() if k != "out"}
    src = record["source"]
    assert src["checkpoint"] == str(made["variants"]["tied"]["checkpoint"].resolve())  # the root's newest
    assert (src["iteration"], src["consumed_samples"], src["stage"]) == (ITERATION, 28, "dpo/m1")
    assert {k: src[k] for k in LINEAGE} == LINEAGE
    assert record["config"]["model"] == "tiny" and record["dtype"] == "float32"
    assert record["shape"] == resolve_shape("tiny").model_dump()
    assert record["files"] == {"model.safetensors": checkpoint_sha(out / "model.safetensors")}
    assert record["tokenizer"]["sha256"] == folder_sha256(made["tokenizer"])

    tok = AutoTokenizer.from_pretrained(str(out))
    eot = tok.convert_tokens_to_ids("[|endofturn|]")
    config = json.loads((out / "config.json").read_text())
    generation = json.loads((out / "generation_config.json").read_text())
    assert config["eos_token_id"] == generation["eos_token_id"] == tok.eos_token_id == eot
    assert config["bos_token_id"] == tok.bos_token_id and config["pad_token_id"] == tok.pad_token_id
    assert record["tokenizer"]["files"] == ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                                            "tokenizer_metadata.json", "moru_tokenizer.json"]  # fmt: skip
    for name in record["tokenizer"]["files"]:
        assert (out / name).read_bytes() == (made["tokenizer"] / name).read_bytes(), name
    messages = [{"role": "user", "content": "안녕하세요"}, {"role": "assistant", "content": "Hello"}]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == render_chat(messages)
    ids = tok.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert tok.decode(ids) == render_chat(messages[:1], add_generation_prompt=True)


def checkpoint_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bf16_export_rounds_the_weights_and_stays_close(made, fp32_exports):
    ref = made["variants"]["untied-llama3"]
    record = export_hf(ref["checkpoint"], made["root"] / "hf16", tokenizer=made["tokenizer"])  # default bfloat16
    out = Path(record["out"])
    assert record["dtype"] == "bfloat16" and json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert set(_safetensors_keys(out).values()) == {"BF16"}
    native = _hf(out)
    assert native.dtype == torch.bfloat16  # from_pretrained's default dtype="auto" reads config.json
    # exactly the fp32 export's tensors rounded to bf16
    exact = _hf(fp32_exports["untied-llama3"]["out"]).state_dict()
    for k, v in native.state_dict().items():
        assert torch.equal(v, exact[k].to(torch.bfloat16)), k

    tokens, scale = made["tokens"], ref["logits"].abs().max().item()
    upcast = _hf(out, dtype=torch.float32)  # bf16 weights, fp32 arithmetic: the rounding's own effect
    d_weights = (_hf_logits(upcast, tokens) - ref["logits"]).abs().max().item()
    d_native = (_hf_logits(native, tokens) - ref["logits"]).abs().max().item()
    print(f"bf16 export: max |Δlogit| = {d_weights:.3g} with fp32 arithmetic, {d_native:.3g} in bf16 "
          f"(max |logit| {scale:.3g})")  # fmt: skip
    assert 0 < d_weights < 0.05 * scale
    assert d_native < 0.05 * scale


def test_fp8_run_exports_its_bf16_parameters(made):
    record = export_hf(made["fp8"]["checkpoint"], made["root"] / "hf_fp8")
    assert record["config"]["precision"] == "fp8" and "FP8" in record["weights"]
    out = Path(record["out"])
    weights = made["fp8"]["weights"]
    sd = _hf(out).state_dict()
    assert sd["model.embed_tokens.weight"].dtype == torch.bfloat16
    assert torch.equal(sd["model.embed_tokens.weight"], weights["embedding.word_embeddings.weight"])
    assert torch.equal(sd["model.layers.1.mlp.down_proj.weight"], weights["decoder.layers.1.mlp.linear_fc2.weight"])


def test_sharded_export_loads_the_same(made, fp32_exports):
    ref = made["variants"]["tied"]
    record = export_hf(ref["checkpoint"], made["root"] / "sharded", dtype="fp32", max_shard_bytes=60_000)
    out = Path(record["out"])
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and set(record["files"]) == set(shards)
    assert "lm_head.weight" not in index["weight_map"]
    single = _hf(fp32_exports["tied"]["out"])
    assert torch.equal(_hf_logits(_hf(out), made["tokens"]), _hf_logits(single, made["tokens"]))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_import_of_the_export_is_the_identity(made, fp32_exports, tmp_path, variant):
    """export (fp32) → import → load as `moru train` does from `checkpoint.init_from`: every tensor equal."""
    from megatron_train import cpu_compat, distributed, engine
    from megatron_train.config import ParallelConfig

    ref = made["variants"][variant]
    root = tmp_path / "imported"
    path = import_hf(fp32_exports[variant]["out"], root)
    assert path == root / "iter_0000000" and checkpoint.find_latest(root) == path
    marker = checkpoint.read_marker(path)
    assert marker["iteration"] == 0 and marker["stage"] == "import"
    assert marker["config"]["model"] == "tiny" and marker["config"]["model_overrides"] == VARIANTS[variant]
    assert marker["config"]["data"]["tokenizer"] == str(Path(fp32_exports[variant]["out"]).resolve())

    cfg = tiny_train(tmp_path, name="resume", model_overrides=VARIANTS[variant], checkpoint={"init_from": str(root)})
    with cpu_compat.enabled():
        layout, created = distributed.init(ParallelConfig(), seed=99)  # other seed: other initial weights
        try:
            eng = engine.build(cfg, layout)
            assert engine.restore(eng) == (0, 0, None)  # initialized from init_from (weights only)
            got = {k: v for k, v in eng.unwrapped().state_dict().items() if isinstance(v, torch.Tensor)}
        finally:
            distributed.teardown(created)
    assert set(got) == set(ref["weights"])
    for k, v in ref["weights"].items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k

    with pytest.raises(ExportError, match="already holds a checkpoint"):
        import_hf(fp32_exports[variant]["out"], root)


def test_preset_rule():
    untied = resolve_shape("tiny", VARIANTS["untied-llama3"])
    assert preset_for(untied) == ("tiny", VARIANTS["untied-llama3"])
    assert preset_for(PRESETS["exaone-3.5-7.8b"]) == ("exaone-3.5-7.8b", {})
    # 7.8B's architecture with 3.0's RoPE and context: 3.0's preset (no architecture field differs from either;
    # fewer fields overall)
    mixed = resolve_shape("exaone-3.5-7.8b", {"rotary_base": 500_000.0, "rope_scaling": False,
                                              "max_position_embeddings": 4096})  # fmt: skip
    assert preset_for(mixed) == ("exaone-3.0-7.8b", {})
    name, over = preset_for(untied, "exaone-3.5-2.4b")
    assert name == "exaone-3.5-2.4b" and over["num_layers"] == 2 and resolve_shape(name, over) == untied
    with pytest.raises(ExportError, match="not a preset"):
        preset_for(untied, "llama-7b")


def _config_json(**over) -> dict:
    from megatron_train.hf import llama_config

    data = json.loads(llama_config(resolve_shape("tiny"), architectures=["LlamaForCausalLM"]).to_json_string())
    data.update(over)
    return data


def test_hf_config_shapes_and_refusals():
    assert shape_from_hf_config(_config_json()) == resolve_shape("tiny")
    # transformers 4.x spelling of llama3 RoPE
    v4 = _config_json(
        rope_theta=1e6,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    )
    v4.pop("rope_parameters")
    got = shape_from_hf_config(v4)
    assert (got.rotary_base, got.rope_scaling, got.rope_scaling_factor) == (1e6, True, 8.0)
    cases = {
        "hidden_act 'gelu'": _config_json(hidden_act="gelu"),
        "attention_bias": _config_json(attention_bias=True),
        "rope_type 'yarn'": _config_json(rope_parameters={"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0}),
        "low_freq_factor": _config_json(rope_parameters={"rope_type": "llama3", "rope_theta": 1e4, "factor": 8.0,
                                                         "low_freq_factor": 2.0, "high_freq_factor": 4.0,
                                                         "original_max_position_embeddings": 8192}),
        "head_dim 32": _config_json(head_dim=32),
    }  # fmt: skip
    for needle, raw in cases.items():
        with pytest.raises(ExportError, match="not a shape moru") as err:
            shape_from_hf_config(raw)
        assert needle in str(err.value), (needle, str(err.value))


def _marker_edit(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst)
    marker = json.loads((dst / checkpoint.MARKER).read_text())
    edit(marker)
    (dst / checkpoint.MARKER).write_text(json.dumps(marker))
    return dst


def test_bad_inputs_say_what_and_how_to_fix(made, fp32_exports, tmp_path):
    src = made["variants"]["tied"]["checkpoint"]
    no_tok = _marker_edit(
        src, tmp_path / "no_tok" / "iter_0000007", lambda m: m["config"]["data"].update(tokenizer=None)
    )
    with pytest.raises(ExportError, match=r"moru_checkpoint\.json: the checkpoint's config names no tokenizer .*"
                                          r"pass --tokenizer"):  # fmt: skip
        export_hf(no_tok, tmp_path / "a")
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob(".tmp_*"))
    empty = tmp_path / "empty_tok"
    empty.mkdir()
    with pytest.raises(ExportError, match=rf"{empty / 'tokenizer.json'}: not found \(the tokenizer folder from "
                                          r"--tokenizer\): pass --tokenizer"):  # fmt: skip
        export_hf(src, tmp_path / "b", tokenizer=empty)
    with pytest.raises(ExportError, match=r"a reward-model checkpoint .*reward_head.*export the SFT or preference"):
        export_hf(made["reward"], tmp_path / "c")
    assert not (tmp_path / "c").exists()
    other = _marker_edit(src, tmp_path / "emitted" / "iter_0000007",
                         lambda m: m.update(posttrain_emit={"tokenizer": "f" * 64}))  # fmt: skip
    with pytest.raises(ExportError, match="differs from the one this checkpoint's data was emitted with"):
        export_hf(other, tmp_path / "d")
    with pytest.raises(ExportError, match="no complete moru checkpoint"):
        export_hf(tmp_path / "empty_tok", tmp_path / "e")
    with pytest.raises(ExportError, match="--dtype 'int8'"):
        export_hf(src, tmp_path / "f", dtype="int8")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty and not an earlier export"):
        export_hf(src, busy)

    mistral = tmp_path / "mistral"
    shutil.copytree(fp32_exports["tied"]["out"], mistral)
    config = json.loads((mistral / "config.json").read_text())
    (mistral / "config.json").write_text(json.dumps({**config, "architectures": ["MistralForCausalLM"],
                                                     "model_type": "mistral"}))  # fmt: skip
    with pytest.raises(ExportError, match=r"config\.json: architectures \['MistralForCausalLM'\] \(model_type "
                                          r"'mistral'\): moru imports LlamaForCausalLM checkpoints only"):  # fmt: skip
        import_hf(mistral, tmp_path / "g")
    (mistral / "config.json").write_text(json.dumps(config))
    (mistral / "model.safetensors").unlink()
    with pytest.raises(ExportError, match=r"model\.safetensors: not found"):
        import_hf(mistral, tmp_path / "g")


def test_cli_commands(made, fp32_exports, tmp_path):
    import typer
    from typer.testing import CliRunner

    from moru.export_cli import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    ckpt_root = made["variants"]["tied"]["checkpoint"].parent
    result = runner.invoke(app, ["export", "--checkpoint", str(ckpt_root), "--out", str(tmp_path / "hf"),
                                 "--dtype", "fp32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    assert "model.safetensors" in flat and "iter_0000007" in flat
    assert (tmp_path / "hf" / EXPORT_MARKER).is_file()

    result = runner.invoke(app, ["import-hf", "--hf", str(tmp_path / "hf"), "--out", str(tmp_path / "mc")])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    assert "model:tiny" in flat and "init_from:" in flat and (tmp_path / "mc" / "iter_0000000").is_dir()

    result = runner.invoke(app, ["export", "--checkpoint", str(made["reward"]), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "reward-model checkpoint" in " ".join(result.output.split())
    (tmp_path / "nonllama").mkdir()
    (tmp_path / "nonllama" / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"],
                                                                   "model_type": "gpt2"}))  # fmt: skip
    result = runner.invoke(app, ["import-hf", "--hf", str(tmp_path / "nonllama"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "LlamaForCausalLM checkpoints only" in " ".join(result.output.split())
