"""Eval throughput on one GPU: ``moru eval`` with the vLLM backend vs lm-eval's Hugging Face backend, the same
exported folder, the same rendered task files, the same examples; examples/s per task and in all.

    python benchmarks/eval_throughput.py --tokenizer TOK_DIR --data-dir DATA --out OUT \\
        [--shape exaone-3.5-2.4b] [--tasks gsm8k,arc_challenge,kobest_copa] [--limit 400] [--hf-batch 32]

The model folder is what ``moru export`` writes for the shape (``config.json`` from ``megatron_train.export``'s
writer, RoPE carried over, the moru tokenizer files with its chat template), with random weights (transformers'
init, seed 0) in bfloat16: the benchmark measures the serving path, not a trained model, and every example runs
to the same stop (random weights generate to ``max_gen_toks``). Each backend is loaded once (``eval.harness.load_lm``,
timed as *load*), then ``eval.harness.evaluate(..., lm=)`` runs every task (timed as *eval*). The HF side is
lm-eval's own ``HFLM`` at ``--hf-batch`` (lm-eval's default is 1; 32 fits the 2.4B shape at 4K context on an
80 GB card); vLLM takes lm-eval's ``batch_size=auto`` (the engine schedules every request). Both compute the same
scores up to bf16 kernels: the table prints both. Last line: ``vllm / hf = X× (eval), Y× (load + eval)``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/tokenizer.py would shadow the tokenizer package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from eval.harness import evaluate, load_lm  # noqa: E402

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "tokenizer_metadata.json",
                   "moru_tokenizer.json", "special_tokens_map.json")  # fmt: skip


def exported_folder(out: Path, shape_name: str, tokenizer: Path, seed: int = 0) -> Path:
    """The shape as ``moru export`` lays it out, random bf16 weights."""
    import torch
    from transformers import LlamaForCausalLM

    from megatron_train.export import _hf_config_json, _tokenizer_info
    from megatron_train.hf import llama_config
    from megatron_train.model_configs import PRESETS

    shape = PRESETS[shape_name]
    folder = out / f"model_{shape_name}"
    if (folder / "model.safetensors.index.json").is_file() or (folder / "model.safetensors").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if shape_name == "tiny":  # the CPU trial of this script: widen the vocabulary to the tokenizer's
        from transformers import AutoTokenizer

        shape = shape.model_copy(update={"vocab_size": len(AutoTokenizer.from_pretrained(str(tokenizer)))})
    tok = _tokenizer_info(tokenizer, shape)
    torch.manual_seed(seed)
    cfg = llama_config(shape, dtype="bfloat16", bos_token_id=tok["bos_token_id"], eos_token_id=tok["eos_token_id"],
                       pad_token_id=tok["pad_token_id"])  # fmt: skip
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="5GB")
    del model
    gc.collect()
    (folder / "config.json").write_text(json.dumps(_hf_config_json(shape, torch.bfloat16, tok), indent=2,
                                                   sort_keys=True) + "\n", encoding="utf-8")  # fmt: skip
    for name in TOKENIZER_FILES:
        if (tokenizer / name).is_file():
            shutil.copy2(tokenizer / name, folder / name)
    return folder


def run_backend(backend: str, folder: Path, tasks: list[str], data_dir: str, out: Path, limit: int | None,
                batch: int | str) -> dict:  # fmt: skip
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: only to try the script on a tiny shape
    t0 = time.perf_counter()
    lm = load_lm(folder, backend=backend, device=device, batch_size=batch, dtype="bfloat16")
    t1 = time.perf_counter()
    res = evaluate(str(folder), tasks, data_dir, str(out / backend), limit=limit, backend=backend, device=device,
                   batch_size=batch, dtype="bfloat16", apply_chat_template=False, lm=lm)  # fmt: skip
    t2 = time.perf_counter()
    per_task = {}
    for t in tasks:
        r = res["results"][t]
        per_task[t] = {"n": r["n"], "metrics": {k: v for k, v in r["metrics"].items() if "stderr" not in k}}
    # vLLM keeps its engine (and GPU memory) until the object goes
    if backend == "vllm":
        try:
            lm.model.llm_engine.engine_core.shutdown()
        except Exception:  # noqa: BLE001 - best effort; the process ends soon anyway
            pass
    del lm
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"load_s": t1 - t0, "eval_s": t2 - t1, "tasks": per_task}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True, type=Path)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--shape", default="exaone-3.5-2.4b")
    ap.add_argument("--tasks", default="gsm8k,arc_challenge,kobest_copa")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--hf-batch", type=int, default=32)
    ap.add_argument("--backends", default="hf,vllm")  # HF first: vLLM holds 90 % of the card until it exits
    args = ap.parse_args()
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in args.tasks.split(",") if t]
    t0 = time.perf_counter()
    folder = exported_folder(args.out, args.shape, args.tokenizer)
    print(f"model folder {folder} ({time.perf_counter() - t0:.0f} s)", flush=True)
    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    runs = {}
    for b in args.backends.split(","):
        runs[b] = run_backend(b, folder, tasks, args.data_dir, args.out, args.limit,
                              "auto" if b == "vllm" else args.hf_batch)  # fmt: skip
        print(f"{b}: load {runs[b]['load_s']:.1f} s, eval {runs[b]['eval_s']:.1f} s", flush=True)
    record = {"card": card, "shape": args.shape, "tasks": tasks, "limit": args.limit, "hf_batch": args.hf_batch,
              "runs": runs}  # fmt: skip
    (args.out / "eval_throughput.json").write_text(json.dumps(record, indent=2), encoding="utf-8")

    n = {t: runs[next(iter(runs))]["tasks"][t]["n"] for t in tasks}
    total = sum(n.values())
    print(f"\n{card}, {args.shape}, limit {args.limit} per task, HF batch {args.hf_batch}, vLLM batch auto")
    print("| backend | load s | eval s | examples | examples/s (eval) | examples/s (load + eval) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for b, r in runs.items():
        print(f"| {b} | {r['load_s']:.1f} | {r['eval_s']:.1f} | {total} | {total / r['eval_s']:.2f} | "
              f"{total / (r['load_s'] + r['eval_s']):.2f} |")  # fmt: skip
    print("\n| task | n | " + " | ".join(f"{b} score" for b in runs) + " |")
    print("| --- | ---: |" + " ---: |" * len(runs))
    for t in tasks:
        keys = sorted(runs[next(iter(runs))]["tasks"][t]["metrics"])
        for k in keys:
            vals = " | ".join(f"{runs[b]['tasks'][t]['metrics'].get(k, float('nan')):.4f}" for b in runs)
            print(f"| {t} {k} | {n[t]} | {vals} |")
    if "vllm" in runs and "hf" in runs:
        v, h = runs["vllm"], runs["hf"]
        print(
            f"\nvllm / hf = {h['eval_s'] / v['eval_s']:.2f}x (eval), "
            f"{(h['load_s'] + h['eval_s']) / (v['load_s'] + v['eval_s']):.2f}x (load + eval) on {card}"
        )


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # vLLM 0.21's engine threads abort the interpreter's shutdown ("terminate called without an active exception")
    # after everything is written; leave without it
    os._exit(0)
