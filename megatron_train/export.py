"""A moru Megatron checkpoint ⇄ a Hugging Face ``LlamaForCausalLM`` folder (``moru export`` / ``moru import-hf``).

Export (:func:`export_hf`): any complete checkpoint ``moru train`` or ``moru align`` saved (pretrain, extend, SFT,
DPO/SimPO; not a reward model, whose head replaces the output layer) → a folder that
``AutoModelForCausalLM.from_pretrained`` and vLLM load with no remote code::

    config.json                 LlamaConfig of the checkpoint's shape: RoPE θ and llama3 scaling, tied embeddings,
                                dtype, bos/eos/pad ids of the tokenizer (eos: ``[|endofturn|]``, the end of an
                                assistant turn)
    generation_config.json      the same token ids
    model.safetensors           the weights (``model-0000i-of-0000n.safetensors`` + ``model.safetensors.index.json``
                                above ``max_shard_bytes``); tied embeddings: no ``lm_head.weight`` tensor
    tokenizer.json, tokenizer_config.json, chat_template.jinja, special_tokens_map.json (those present), and
                                tokenizer_metadata.json + moru_tokenizer.json: the folder is a moru tokenizer
                                folder too (train.data.tokenizer), so an imported export trains with its tokenizer
    moru_export.json            where it came from (:data:`EXPORT_MARKER`)

The checkpoint's shape comes from its marker's config (``model`` + ``model_overrides``). Its weights are loaded in
one process on the CPU, whatever the GPU and parallel layout that saved them: dist_checkpointing reshards
tensor/pipeline-parallel shards into the one-rank GPTModel (megatron-core's local layer spec, whose
``sharded_state_dict_keys_map`` stores its norms under Transformer Engine's names, so both specs' checkpoints
hold the same keys), built directly in the export dtype (float16: through float32) so the weights are held once;
then :func:`megatron_train.hf.megatron_to_hf` splits the fused QKV and gate/up matrices, and shards are written one
at a time. Peak memory: about the weights in the export dtype plus the split QKV and one shard. Weights only: the
optimizer state is not read. FP8 runs keep BF16 parameters (Transformer Engine casts to FP8 inside each matmul;
moru does not use FP8 parameter storage), so their export is exactly the BF16 weights the run held; ``float32``
upcasts them, ``float16`` rounds them.

The folder is written under a temporary name beside ``out`` and renamed when complete (a re-export replaces it).

Import (:func:`import_hf`): a Hugging Face ``LlamaForCausalLM`` folder (config.json + safetensors) → a moru
checkpoint (``OUT/iter_0000000``) that ``train.checkpoint.init_from: OUT`` starts ``moru train`` / ``moru align``
from. Its shape becomes a preset plus ``model_overrides`` (:func:`preset_for`: the named preset, or the closest
one); the marker's config holds exactly those, so ``checkpoint.check_shape`` compares it with the run's config.
The checkpoint is a normal one (fp32 weights, a freshly initialized distributed optimizer, iteration 0), so the
import holds the model, its gradient buffer and the Adam state in fp32: about 16 bytes a parameter.

Megatron-Bridge (``megatron-bridge`` on PyPI, 0.3.0 and 0.3.1) is not used: both releases require
``transformers<5.0.0`` (moru pins 5.24), ``transformer-engine[core_cu13,pytorch]``, ``mamba-ssm`` and
``causal-conv1d`` (CUDA builds: no CPU install, so no CPU CI), although their ``megatron-core[dev,mlm]>=0.15,<0.17``
would admit the pinned 0.16.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

from core.storage import file_sha256 as _sha256
from megatron_train import checkpoint as ckpt
from megatron_train.hf import LLAMA3_ROPE, hf_to_megatron, llama_config, megatron_to_hf
from megatron_train.model_configs import PRESETS, ModelShape, resolve_shape

__all__ = [
    "EXPORT_MARKER",
    "FP32_LOGIT_TOLERANCE",
    "ExportError",
    "export_hf",
    "import_hf",
    "megatron_logits",
    "preset_for",
    "shape_from_hf_config",
]

EXPORT_MARKER = "moru_export.json"
END_OF_TURN = "[|endofturn|]"
# what transformers reads, then what makes the folder a moru tokenizer folder too (train.data.tokenizer: megatron's
# MegatronTokenizer reads tokenizer_metadata.json; moru_tokenizer.json says how it was made)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
                   "tokenizer_metadata.json", "moru_tokenizer.json")  # fmt: skip
MAX_SHARD_BYTES = 5 * 2**30  # transformers' default max_shard_size
# max |Δlogit| of an fp32 export against megatron-core's forward: the two implementations' float32 rounding
# (tests/megatron_train/test_export.py measures 1.9e-5 with logits of O(10))
FP32_LOGIT_TOLERANCE = 1e-4
_TOKENIZER_FIX = ("pass --tokenizer <the tokenizer folder: tokenizer.json + tokenizer_config.json, e.g. "
                  "WORKDIR/tokenizer/model, which `moru tokenizer train` writes>")  # fmt: skip

_DTYPES = {
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float32": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "fp16": torch.float16,
}  # fmt: skip
_DTYPE_NAME = {torch.bfloat16: "bfloat16", torch.float32: "float32", torch.float16: "float16"}


class ExportError(ValueError):
    """Input that export or import cannot use; the message names the file and the fix."""


# ---------------------------------------------------------------------------------------------------------------
# small helpers


def _torch_dtype(dtype: str) -> torch.dtype:
    if dtype not in _DTYPES:
        raise ExportError(f"--dtype {dtype!r}: one of bfloat16 (bf16), float32 (fp32), float16 (fp16)")
    return _DTYPES[dtype]


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("megatron-core", "transformers", "torch", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@contextlib.contextmanager
def _one_rank_world(seed: int = 1234) -> Iterator:
    """torch.distributed (gloo) and megatron's parallel state for one process on the CPU, even where a GPU is
    present (the model is built, loaded and converted in host memory); an existing one-rank world is reused."""
    from megatron.core import parallel_state as ps

    from megatron_train import cpu_compat, distributed
    from megatron_train.config import ParallelConfig

    dist = torch.distributed
    with cpu_compat.enabled():
        if dist.is_initialized() and dist.get_world_size() != 1:
            raise ExportError("export and import run in one process (not under torchrun or srun)")
        if dist.is_initialized() and ps.model_parallel_is_initialized():
            yield _cpu_layout()
            return
        created = False
        if not dist.is_initialized():
            port = distributed._free_port()
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
            created = True
        try:
            distributed.init(ParallelConfig(), seed=seed)
            yield _cpu_layout()
        finally:
            distributed.teardown(created)


def _cpu_layout():
    from megatron_train import distributed

    return distributed.Layout(rank=0, world_size=1, local_rank=0, tp=1, pp=1, cp=1, dp=1, dp_rank=0, on_gpu=False)


def _cpu_config(model: str, overrides: dict, precision: str, out_dir: str):
    """The TrainConfig of a one-rank CPU GPTModel of this shape (megatron-core's local spec)."""
    from megatron_train.config import TrainConfig

    shape = resolve_shape(model, overrides)
    return TrainConfig.model_validate({
        "model": model, "model_overrides": overrides, "precision": precision, "transformer_impl": "local",
        "seq_length": min(4096, shape.max_position_embeddings), "micro_batch_size": 1, "global_batch_size": 1,
        "train_iters": 1, "data": {"mock": True}, "output_dir": out_dir, "extend": {},
        "logging": {"tensorboard": False},
    })  # fmt: skip


class _Wrapped:
    """What checkpoint.load reads from a DDP model (``.module``), around a bare GPTModel."""

    def __init__(self, module):
        self.module = module


class _NoOptimizer:
    """checkpoint.load(with_optimizer=False) refreshes the optimizer's fp32 copies; a bare model has none."""

    def reload_model_params(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------------------
# export


def resolve_checkpoint(path: str | Path) -> Path:
    """A complete checkpoint folder, or the newest complete one under a checkpoint root."""
    p = Path(path)
    if not p.is_dir():
        raise ExportError(f"{p}: no such folder (--checkpoint takes a checkpoint folder such as "
                          "OUTPUT_DIR/checkpoints/iter_0000100, or the checkpoints folder above it)")  # fmt: skip
    if (p / ckpt.MARKER).is_file():
        if p.name.startswith("nan_iter_"):
            raise ExportError(f"{p}: the state that produced a non-finite loss, kept for inspection; export an "
                              "iter_* checkpoint")  # fmt: skip
        return p
    latest = ckpt.find_latest(p)
    if latest is None:
        raise ExportError(f"{p}: no complete moru checkpoint (no {ckpt.MARKER} in it, and no iter_*/{ckpt.MARKER} "
                          "under it); pass a folder `moru train` or `moru align` saved, or its checkpoints "
                          "folder")  # fmt: skip
    return latest


def _marker_config(path: Path, marker: dict) -> tuple[dict, ModelShape]:
    config = marker.get("config") or {}
    if "model" not in config:
        raise ExportError(f"{path / ckpt.MARKER}: its config names no model (train.model / model_overrides), so "
                          "the shape is unknown; export checkpoints saved by moru train, moru align or moru "
                          "import-hf")  # fmt: skip
    try:
        shape = resolve_shape(config["model"], config.get("model_overrides") or {})
    except ValueError as exc:
        raise ExportError(f"{path / ckpt.MARKER}: its model does not resolve: {exc}") from None
    return config, shape


def _refuse_reward_model(path: Path, marker: dict) -> None:
    from megatron.core import dist_checkpointing

    from megatron_train.reward import HEAD

    stage = marker.get("stage")
    has_head = any(HEAD in key for key in dist_checkpointing.load_tensors_metadata(str(path)))
    if stage == "reward" or has_head:
        raise ExportError(f"{path}: a reward-model checkpoint (stage {stage!r}; its weights hold {HEAD}, a scalar "
                          "head in place of the language-model output layer), not a GPT language model: export "
                          "the SFT or preference (DPO/SimPO) step's checkpoint instead")  # fmt: skip


def _tokenizer_folder(tokenizer: str | Path | None, config: dict, path: Path) -> Path:
    configured = (config.get("data") or {}).get("tokenizer")
    src = tokenizer or configured
    if not src:
        raise ExportError(f"{path / ckpt.MARKER}: the checkpoint's config names no tokenizer (train.data.tokenizer "
                          f"is unset) and --tokenizer was not given: {_TOKENIZER_FIX}")  # fmt: skip
    folder = Path(src)
    where = "--tokenizer" if tokenizer else f"train.data.tokenizer in {path / ckpt.MARKER}"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not (folder / name).is_file():
            raise ExportError(f"{folder / name}: not found (the tokenizer folder from {where}): {_TOKENIZER_FIX}")
    return folder


def _check_emitted_tokenizer(marker: dict, folder: Path, path: Path) -> None:
    """A post-trained checkpoint records the tokenizer its data was emitted with; exporting another one would
    pair the weights with other ids or another chat template."""
    from tokenizer.hf import folder_sha256

    emitted = (marker.get("posttrain_emit") or {}).get("tokenizer")
    mine = folder_sha256(folder)
    if emitted and emitted != mine:
        raise ExportError(f"{folder}: tokenizer sha256 {mine[:12]} differs from the one this checkpoint's data was "
                          f"emitted with ({emitted[:12]}, recorded in {path / ckpt.MARKER}): pass --tokenizer the "
                          "emission's tokenizer folder")  # fmt: skip


def _tokenizer_info(folder: Path, shape: ModelShape) -> dict:
    from transformers import AutoTokenizer

    from tokenizer.hf import chat_template_sha256, folder_sha256

    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - transformers raises many types; name the folder
        raise ExportError(f"{folder}: AutoTokenizer cannot load it ({type(exc).__name__}: {exc})") from None
    vocab = tok.get_vocab()
    if len(tok) > shape.vocab_size:
        raise ExportError(f"{folder}: the tokenizer has {len(tok):,} tokens, more than the model's vocabulary of "
                          f"{shape.vocab_size:,}: pass the tokenizer the checkpoint was trained with")  # fmt: skip
    eos = vocab.get(END_OF_TURN, tok.eos_token_id)
    return {
        "path": str(folder.resolve()),
        "sha256": folder_sha256(folder),
        "chat_template_sha256": chat_template_sha256(folder),
        "tokens": len(tok),
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": eos,
        "pad_token_id": tok.pad_token_id,
    }


def _load_gpt(path: Path, config: dict, precision: str, work: str):
    """The checkpoint's one-rank CPU GPTModel (local spec), built in ``precision`` (bf16 | fp32) and loaded."""
    from megatron_train.model import build_gpt_model, transformer_config

    cfg = _cpu_config(config["model"], config.get("model_overrides") or {}, precision, work)
    gpt = build_gpt_model(cfg, transformer_config(cfg, on_gpu=False, use_te=False), use_te=False)
    ckpt.load(path, _Wrapped(gpt), _NoOptimizer(), None, with_optimizer=False, with_scheduler=False)
    return gpt


def _load_weights(path: Path, config: dict, dtype: torch.dtype, work: str) -> dict[str, torch.Tensor]:
    """The checkpoint's GPT weights ({GPTModel parameter name: tensor}, local-spec names) in ``dtype``."""
    # built in the export dtype where megatron-core has it, so the loaded weights are held once
    gpt = _load_gpt(path, config, "bf16" if dtype == torch.bfloat16 else "fp32", work)
    return {name: p.detach().to(dtype) for name, p in gpt.named_parameters()}


def megatron_logits(checkpoint: str | Path, input_ids: torch.Tensor) -> torch.Tensor:
    """The logits megatron-core's GPTModel computes from a checkpoint (folder or checkpoints root: the newest
    complete one) for ``input_ids`` ([batch, seq] token ids), in float32 on the CPU: what an fp32 export's logits
    equal within :data:`FP32_LOGIT_TOLERANCE` (``moru demo`` checks its export with it)."""
    source = resolve_checkpoint(checkpoint)
    config, _ = _marker_config(source, ckpt.read_marker(source))
    with _one_rank_world(), tempfile.TemporaryDirectory() as work:
        gpt = _load_gpt(source, config, "fp32", work).eval()
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
        with torch.no_grad():
            return gpt(input_ids, positions, None).float()


def _own_storage(t: torch.Tensor) -> torch.Tensor:
    """safetensors writes no tensor that shares storage (gate/up are halves of megatron's fc1)."""
    t = t.contiguous()
    if t.untyped_storage().nbytes() != t.numel() * t.element_size():
        t = t.clone()
    return t


def _write_safetensors(hf_sd: dict[str, torch.Tensor], out: Path, max_shard_bytes: int) -> dict[str, str]:
    """Write (and release) the tensors shard by shard; returns {file name: sha256}."""
    from safetensors.torch import save_file

    shards: list[list[str]] = [[]]
    size = 0
    for name, t in hf_sd.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    total = sum(t.numel() * t.element_size() for t in hf_sd.values())
    files: dict[str, str] = {}
    weight_map: dict[str, str] = {}
    for i, names in enumerate(shards):
        fname = "model.safetensors" if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: _own_storage(hf_sd[n]) for n in names}, str(out / fname), metadata={"format": "pt"})
        for n in names:
            weight_map[n] = fname
            del hf_sd[n]
        files[fname] = _sha256(out / fname)
    if len(shards) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return files


def _hf_config_json(shape: ModelShape, dtype: torch.dtype, tok: dict) -> dict:
    """config.json: transformers 5's LlamaConfig, plus the transformers 4.x spelling of RoPE (``rope_theta``,
    ``rope_scaling``) for loaders still on 4.x (vLLM releases pin one); 5.x reads either to the same
    ``rope_parameters`` (``convert_rope_params_to_dict``)."""
    cfg = llama_config(shape, dtype=_DTYPE_NAME[dtype], bos_token_id=tok["bos_token_id"],
                       eos_token_id=tok["eos_token_id"], pad_token_id=tok["pad_token_id"],
                       architectures=["LlamaForCausalLM"])  # fmt: skip
    data = json.loads(cfg.to_json_string())
    rope = dict(data["rope_parameters"])
    data["rope_theta"] = rope.pop("rope_theta")
    data["rope_scaling"] = rope if rope.get("rope_type") != "default" else None
    return data


def _generation_config_json(tok: dict) -> dict:
    from transformers import GenerationConfig

    gen = GenerationConfig(bos_token_id=tok["bos_token_id"], eos_token_id=tok["eos_token_id"],
                           pad_token_id=tok["pad_token_id"])  # fmt: skip
    return json.loads(gen.to_json_string())


def _prepare_out(out: Path, source: Path) -> Path:
    out = out.resolve()
    if out == source.resolve() or source.resolve() in out.parents:
        raise ExportError(f"{out}: inside the checkpoint {source}; choose another --out")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPORT_MARKER).is_file():
        raise ExportError(f"{out}: not empty and not an earlier export (no {EXPORT_MARKER}); choose another --out "
                          "or remove it")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp_{out.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def _finish_out(tmp: Path, out: Path) -> None:
    out = out.resolve()
    if out.exists():
        old = out.parent / f".tmp_old_{out.name}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(tmp, out)


def _weights_note(precision: str | None) -> str:
    if precision == "fp8":
        return ("the run's BF16 parameters: FP8 training keeps BF16 parameters and uses FP8 only inside Transformer "
                "Engine's matmuls")  # fmt: skip
    if precision == "bf16":
        return "the run's BF16 parameters (what its forward computed with), not the optimizer's fp32 master copies"
    return f"the run's {precision} parameters"


def export_hf(checkpoint: str | Path, out: str | Path, tokenizer: str | Path | None = None, dtype: str = "bfloat16",
              *, max_shard_bytes: int = MAX_SHARD_BYTES) -> dict:  # fmt: skip
    """Export a moru checkpoint (folder or checkpoints root: the newest complete one) to a Hugging Face
    ``LlamaForCausalLM`` folder at ``out`` (module docstring). ``tokenizer``: the tokenizer folder (default: the
    checkpoint config's ``train.data.tokenizer``). ``dtype``: bfloat16 (default), float32 or float16. Returns what
    ``moru_export.json`` holds, plus ``out``. Raises ExportError for input it cannot use."""
    torch_dtype = _torch_dtype(dtype)
    source = resolve_checkpoint(checkpoint)
    marker = ckpt.read_marker(source)
    config, shape = _marker_config(source, marker)
    tok_folder = _tokenizer_folder(tokenizer, config, source)
    _check_emitted_tokenizer(marker, tok_folder, source)
    tok = _tokenizer_info(tok_folder, shape)
    out = Path(out)
    tmp = _prepare_out(out, source)
    try:
        with _one_rank_world(), tempfile.TemporaryDirectory() as work:
            _refuse_reward_model(source, marker)
            weights = _load_weights(source, config, torch_dtype, work)
        hf_sd = megatron_to_hf(weights, shape)
        del weights
        if shape.tie_embeddings:
            del hf_sd["lm_head.weight"]  # the embedding itself; transformers ties it again on load
        files = _write_safetensors(hf_sd, tmp, max_shard_bytes)
        (tmp / "config.json").write_text(json.dumps(_hf_config_json(shape, torch_dtype, tok), indent=2,
                                                    sort_keys=True) + "\n", encoding="utf-8")  # fmt: skip
        (tmp / "generation_config.json").write_text(json.dumps(_generation_config_json(tok), indent=2) + "\n",
                                                    encoding="utf-8")  # fmt: skip
        copied = []
        for name in TOKENIZER_FILES:
            if (tok_folder / name).is_file():
                shutil.copy2(tok_folder / name, tmp / name)
                copied.append(name)
        precision = config.get("precision")
        record = {
            "format": 1,
            "exported_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": {"checkpoint": str(source.resolve()), **{k: v for k, v in marker.items() if k != "config"}},
            "config": {
                "model": config["model"],
                "model_overrides": config.get("model_overrides") or {},
                "precision": precision,
                "seq_length": config.get("seq_length"),
                "data": {k: (config.get("data") or {}).get(k) for k in ("blend", "tokenizer")},
            },
            "shape": shape.model_dump(),
            "dtype": _DTYPE_NAME[torch_dtype],
            "weights": _weights_note(precision),
            "tokenizer": {**tok, "files": copied},
            "files": files,
            "converter": "megatron_train.hf (moru's own mapping; Megatron-Bridge needs transformers<5)",
            "versions": _versions(),
        }
        (tmp / EXPORT_MARKER).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _finish_out(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**record, "out": str(out.resolve())}


# ---------------------------------------------------------------------------------------------------------------
# import


def _read_hf_config(hf_dir: Path) -> dict:
    path = hf_dir / "config.json"
    if not path.is_file():
        raise ExportError(f"{path}: not found (--hf takes a Hugging Face model folder: config.json + "
                          "model.safetensors)")  # fmt: skip
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}: not valid JSON ({exc})") from None
    arch, model_type = raw.get("architectures") or [], raw.get("model_type")
    if model_type != "llama" or arch not in ([], ["LlamaForCausalLM"]):
        raise ExportError(f"{path}: architectures {arch} (model_type {model_type!r}): moru imports "
                          "LlamaForCausalLM checkpoints only (model_type llama: pre-RMSNorm, SwiGLU, RoPE, "
                          "grouped-query attention, no biases), the layout moru trains")  # fmt: skip
    return raw


def shape_from_hf_config(raw: dict, where: str = "config.json") -> ModelShape:
    """The ModelShape of a Llama config.json (either transformers 4.x's or 5.x's RoPE spelling). What megatron-core's
    GPTModel cannot compute the same way is refused, naming the key."""
    import warnings

    from transformers import LlamaConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = LlamaConfig.from_dict(dict(raw))
    bad = []
    if cfg.hidden_act != "silu":
        bad.append(f"hidden_act {cfg.hidden_act!r} (moru's MLP is SwiGLU: silu)")
    if cfg.attention_bias or cfg.mlp_bias:
        bad.append("attention_bias / mlp_bias (moru's linears have no biases)")
    heads = cfg.num_attention_heads
    if cfg.head_dim != cfg.hidden_size // heads or cfg.hidden_size % heads:
        bad.append(f"head_dim {cfg.head_dim} (moru's is hidden_size / num_attention_heads = "
                   f"{cfg.hidden_size / heads:g})")  # fmt: skip
    rope = dict(cfg.rope_parameters or {})
    rope_type = rope.get("rope_type", "default")
    if rope.get("partial_rotary_factor", 1.0) != 1.0:
        bad.append(f"partial_rotary_factor {rope['partial_rotary_factor']} (moru rotates the whole head)")
    if rope_type == "llama3":
        other = {k: rope.get(k) for k, v in LLAMA3_ROPE.items() if float(rope.get(k, v)) != v}
        if other:
            bad.append(f"llama3 RoPE {other} (megatron-core 0.16's GPTModel uses {LLAMA3_ROPE})")
    elif rope_type != "default":
        bad.append(f"rope_type {rope_type!r} (moru has default and llama3 RoPE)")
    if bad:
        raise ExportError(f"{where}: not a shape moru's GPTModel computes the same way: {'; '.join(bad)}")
    try:
        return ModelShape(
            num_layers=cfg.num_hidden_layers, hidden_size=cfg.hidden_size, num_attention_heads=heads,
            num_query_groups=cfg.num_key_value_heads or heads, ffn_hidden_size=cfg.intermediate_size,
            vocab_size=cfg.vocab_size, max_position_embeddings=cfg.max_position_embeddings,
            rotary_base=float(rope["rope_theta"]), rope_scaling=rope_type == "llama3",
            rope_scaling_factor=float(rope.get("factor", 8.0)), tie_embeddings=bool(cfg.tie_word_embeddings),
            norm_eps=cfg.rms_norm_eps, init_method_std=cfg.initializer_range,
        )  # fmt: skip
    except ValueError as exc:
        raise ExportError(f"{where}: {exc}") from None


def preset_for(shape: ModelShape, model: str | None = None) -> tuple[str, dict]:
    """``(train.model, train.model_overrides)`` that resolve to ``shape``. With ``model``: that preset, the
    overrides every field that differs from it. Without: the preset differing in the fewest architecture fields
    (checkpoint.SHAPE_FIELDS: layers, hidden size, heads, KV heads, FFN size, vocabulary, tied embeddings), then
    in the fewest fields overall, the first listed (model_configs.PRESETS) on a tie."""

    def diff(name: str) -> dict:
        base = PRESETS[name]
        return {f: getattr(shape, f) for f in ModelShape.model_fields if getattr(shape, f) != getattr(base, f)}

    if model is not None:
        if model not in PRESETS:
            raise ExportError(f"--model {model!r}: not a preset; presets: {', '.join(PRESETS)}")
        name = model
    else:
        name = min(PRESETS, key=lambda n: (sum(f in ckpt.SHAPE_FIELDS for f in diff(n)), len(diff(n))))
    overrides = diff(name)
    assert resolve_shape(name, overrides) == shape
    return name, overrides


def _hf_weight_files(hf_dir: Path) -> list[Path]:
    index = hf_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        files = [hf_dir / n for n in names]
        for f in files:
            if not f.is_file():
                raise ExportError(f"{f}: named in {index.name} but not found")
        return files
    single = hf_dir / "model.safetensors"
    if single.is_file():
        return [single]
    if any(hf_dir.glob("*.bin")) or any(hf_dir.glob("*.pt")):
        raise ExportError(f"{single}: not found, only PyTorch pickles: re-save the model with safetensors "
                          "(transformers' save_pretrained writes model.safetensors by default)")  # fmt: skip
    raise ExportError(f"{single}: not found (and no model.safetensors.index.json)")


def import_hf(hf_dir: str | Path, out_root: str | Path, model: str | None = None) -> Path:
    """Import a Hugging Face ``LlamaForCausalLM`` folder as the moru checkpoint ``OUT_ROOT/iter_0000000``
    (module docstring); returns its folder. Its marker's config holds ``model``, ``model_overrides``
    (:func:`preset_for`) and, when the folder is also a moru tokenizer folder (an export's: tokenizer.json +
    tokenizer_metadata.json), that folder as ``data.tokenizer``. Raises ExportError for input it cannot use."""
    from safetensors.torch import load_file

    from megatron_train import engine

    hf = Path(hf_dir)
    raw = _read_hf_config(hf)
    shape = shape_from_hf_config(raw, str(hf / "config.json"))
    name, overrides = preset_for(shape, model)
    out_root = Path(out_root)
    if ckpt.find_latest(out_root) is not None:
        raise ExportError(f"{out_root}: already holds a checkpoint ({ckpt.find_latest(out_root).name}); import "
                          "into an empty folder")  # fmt: skip
    files = _hf_weight_files(hf)
    hf_sd: dict[str, torch.Tensor] = {}
    for f in files:
        hf_sd.update(load_file(str(f)))
    source_dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in hf_sd.values()})
    try:
        msd = hf_to_megatron(hf_sd, shape)
    except ValueError as exc:
        raise ExportError(f"{hf}: the weights do not fit config.json's shape: {exc}") from None
    del hf_sd
    config = {"model": name, "model_overrides": overrides, "precision": "fp32"}
    if (hf / "tokenizer.json").is_file() and (hf / "tokenizer_metadata.json").is_file():  # a moru tokenizer folder
        config["data"] = {"tokenizer": str(hf.resolve())}
    run_info = {
        "stage": "import",
        "config": config,
        "imported_from": {
            "path": str(hf.resolve()),
            "files": {f.name: _sha256(f) for f in files},
            "dtypes": source_dtypes,
            "versions": _versions(),
        },  # fmt: skip
    }
    with _one_rank_world() as layout, tempfile.TemporaryDirectory() as work:
        eng = engine.build(_cpu_config(name, overrides, "fp32", work), layout)
        eng.log.close()
        # Adam state must exist to be saved: megatron-core's zero-gradient step (it moves the weights by the
        # weight decay, so the weights are loaded after it)
        ckpt._materialize_optimizer_state(eng.optimizer)
        with torch.no_grad():
            eng.unwrapped().load_state_dict(msd, strict=True)
        eng.optimizer.reload_model_params()
        del msd
        return ckpt.save(out_root, 0, eng.model, eng.optimizer, eng.scheduler, 0, optimizer_format="dp_reshardable",
                         keep_last=None, run_info=run_info)  # fmt: skip


def train_section(path: str | Path) -> dict:
    """The ``train`` keys a config needs to start from an imported checkpoint (its marker's model, overrides and
    tokenizer, and ``checkpoint.init_from``)."""
    config = ckpt.read_marker(path)["config"]
    section: dict = {"model": config["model"]}
    if config.get("model_overrides"):
        section["model_overrides"] = config["model_overrides"]
    section["checkpoint"] = {"init_from": str(Path(path).parent.resolve())}
    tok = (config.get("data") or {}).get("tokenizer")
    if tok:
        section["data"] = {"tokenizer": tok}
    return section
