"""``moru export`` (a moru checkpoint → a Hugging Face LlamaForCausalLM folder) and ``moru import-hf`` (back), around
megatron_train.export. ``register(app)`` adds both commands to the ``moru`` Typer app. Exit code 2 with one
paragraph naming the file and the fix for input they cannot use."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.markup import escape

console = Console()


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
    app.command("import-hf")(import_hf_cmd)


def _fail(exc: BaseException) -> None:
    console.print(f"[red]{escape(str(exc))}")
    raise typer.Exit(2) from None


def export_cmd(
    checkpoint: Path = typer.Option(
        ..., "--checkpoint", help="a checkpoint folder (…/checkpoints/iter_0000100) or its checkpoints folder (newest)"
    ),
    out: Path = typer.Option(..., "--out", help="the Hugging Face folder to write (replaced if an earlier export)"),
    tokenizer: Path | None = typer.Option(
        None, "--tokenizer", help="tokenizer folder (default: train.data.tokenizer in the checkpoint's config)"
    ),
    dtype: str = typer.Option("bfloat16", "--dtype", help="bfloat16 | float32 | float16"),
) -> None:
    """Export a Megatron checkpoint (pretrain, extend, SFT, DPO/SimPO) as Hugging Face LlamaForCausalLM safetensors +
    config.json + the tokenizer with its chat template: loads with AutoModelForCausalLM.from_pretrained and vLLM,
    no remote code. moru_export.json records the source checkpoint, its lineage and the files' sha256."""
    from megatron_train.checkpoint import CheckpointError
    from megatron_train.export import ExportError, export_hf

    try:
        with console.status(f"exporting {checkpoint}"):
            record = export_hf(checkpoint, out, tokenizer=tokenizer, dtype=dtype)
    except (ExportError, CheckpointError) as exc:
        _fail(exc)
    src, shape = record["source"], record["shape"]
    rows = {
        "from": f"{src['checkpoint']} (step {src.get('iteration')}, {src.get('stage') or '?'})",
        "model": f"{record['config']['model']} {record['config']['model_overrides'] or ''}".strip(),
        "shape": f"{shape['num_layers']} layers, d {shape['hidden_size']}, {shape['num_attention_heads']} heads / "
        f"{shape['num_query_groups']} KV, vocab {shape['vocab_size']:,}, RoPE θ {shape['rotary_base']:g}"
        + (f" llama3 ×{shape['rope_scaling_factor']:g}" if shape["rope_scaling"] else ""),
        "dtype": record["dtype"],
        "weights": ", ".join(f"{name} ({sha[:12]})" for name, sha in record["files"].items()),
        "tokenizer": f"{record['tokenizer']['path']} (eos {record['tokenizer']['eos_token_id']})",
        "out": record["out"],
    }
    console.print("[green]Hugging Face export written")
    for key, value in rows.items():
        console.print(f"[bold]{key:>9}[/bold]  {escape(str(value))}", highlight=False, soft_wrap=True)


def import_hf_cmd(
    hf: Path = typer.Option(..., "--hf", help="a Hugging Face LlamaForCausalLM folder (config.json + safetensors)"),
    out: Path = typer.Option(..., "--out", help="checkpoints folder to create (iter_0000000 goes in it)"),
    model: str | None = typer.Option(
        None, "--model", help="the preset to express the shape against (default: the closest preset)"
    ),
) -> None:
    """Import a Hugging Face LlamaForCausalLM checkpoint as a Megatron checkpoint that `moru train` / `moru align`
    start from (train.checkpoint.init_from); prints the train keys to put in the config."""
    from megatron_train.checkpoint import CheckpointError
    from megatron_train.export import ExportError, import_hf, train_section

    try:
        with console.status(f"importing {hf}"):
            path = import_hf(hf, out, model=model)
    except (ExportError, CheckpointError) as exc:
        _fail(exc)
    console.print(f"[green]imported {escape(str(hf))} → {escape(str(path))}")
    console.print("start from it with these keys in your config (train.model / model_overrides must stay as shown):")
    snippet = yaml.safe_dump({"train": train_section(path)}, sort_keys=False, allow_unicode=True)
    console.print(escape(snippet), highlight=False, soft_wrap=True)
