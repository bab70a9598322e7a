"""moru's ``evaluate`` (eval.harness, lm-eval's Python API) against lm-eval's own CLI, on the same model folder and
the same rendered task files, in one run: prints both score tables, then the largest |Δ| over every (task, metric)
both report.

    .venv/bin/python benchmarks/eval_equality.py --data-dir ../shared/data/bench \\
        --tasks gsm8k,kmmlu,kobest_copa,arc_challenge,haerae --limit 8 [--model DIR] [--chat-template]

Without ``--model`` a tiny random Llama (2 layers, d 32) with a byte-level BPE tokenizer and moru's chat template
is written to OUT/tiny_model (seeded: the same weights every run). moru runs first and renders the tasks into
OUT/moru/tasks; the CLI then runs ``python -m lm_eval run --model hf --model_args <the same dict> --tasks ...
--include_path OUT/moru/tasks`` in a subprocess with the same limit, batch size, device and (default) seeds, so
both load the same YAML, the same loader code and the same files. Both runs are offline (HF_HUB_OFFLINE=1).
Exit code 1 when |Δ| reaches --tolerance (default 0.005: equal to the second decimal).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.harness import evaluate, model_args  # noqa: E402


def tiny_model(out: Path, context: int = 2048, seed: int = 0) -> Path:
    """A random LlamaForCausalLM + a byte-level BPE tokenizer (any text encodes) with moru's chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from tokenizer.hf import CHAT_TEMPLATE

    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "[|endofturn|]", "[|system|]", "[|user|]", "[|assistant|]", "<pad>"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    corpus = ["Question: how many eggs does she sell? Answer: 9 * 2 = 18 #### 18",
              "정답은 무엇인가요? 질문: 다음 중 옳은 것은? A. 하나 B. 둘 답변: 예 아니오",
              "The following are multiple choice questions (with answers). True False (A) (B)"] * 50  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="[|endofturn|]",
                                   pad_token="<pad>", chat_template=CHAT_TEMPLATE,
                                   clean_up_tokenization_spaces=False)  # fmt: skip
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                      pad_token_id=fast.pad_token_id, tie_word_embeddings=False)  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def flat(results: dict) -> dict[tuple[str, str], float]:
    """{(task, "metric,filter"): value} of an lm-eval results dict (tasks and groups)."""
    out = {}
    for section in ("results", "groups"):
        for task, entry in (results.get(section) or {}).items():
            for key, value in entry.items():
                if (
                    "," in key
                    and "_stderr," not in key
                    and isinstance(value, int | float)
                    and not isinstance(value, bool)
                ):
                    out[(task, key)] = float(value)
    return out


def _leaves(x) -> list:
    """The scalars of a logged response, numbers as floats (the CLI writes them as strings, moru as numbers)."""
    if isinstance(x, list | tuple):
        return [v for item in x for v in _leaves(item)]
    if isinstance(x, bool) or x in ("True", "False"):
        return [str(x)]
    if isinstance(x, int | float):
        return [float(x)]
    try:
        return [float(x)]
    except (TypeError, ValueError):
        return [x]


def _samples(folder: Path, pattern: str) -> dict[str, dict[int, dict]]:
    """{task: {doc_id: sample}} from lm-eval's logged samples (one JSONL per task)."""
    out: dict[str, dict[int, dict]] = {}
    for f in sorted(folder.glob(pattern)):
        task = f.stem.removeprefix("samples_").rsplit("_20", 1)[0] if f.name.startswith("samples_") else f.stem
        rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        out[task] = {r["doc_id"]: r for r in rows}
    return out


def sample_diffs(a: dict[str, dict[int, dict]], b: dict[str, dict[int, dict]]) -> dict[str, dict]:
    """Per task: documents compared, the largest |Δ| of any log-likelihood, and how many responses (generated text
    or per-choice greedy flags) differ."""
    out = {}
    for task in sorted(set(a) & set(b)):
        docs = sorted(set(a[task]) & set(b[task]))
        worst, differ = 0.0, 0
        for d in docs:
            ra, rb = _leaves(a[task][d]["resps"]), _leaves(b[task][d]["resps"])
            nums = [(x, y) for x, y in zip(ra, rb, strict=False) if isinstance(x, float) and isinstance(y, float)]
            worst = max([worst] + [abs(x - y) for x, y in nums])
            rest = [(x, y) for x, y in zip(ra, rb, strict=False) if not (isinstance(x, float) and isinstance(y, float))]
            differ += len(ra) != len(rb) or any(x != y for x, y in rest)
        out[task] = {"docs": len(docs), "of": (len(a[task]), len(b[task])), "max_loglik_delta": worst,
                     "responses_differ": differ}  # fmt: skip
    return out


def table(title: str, scores: dict[tuple[str, str], float]) -> str:
    lines = [title, f"  {'task':30} {'metric':32} {'value':>8}"]
    lines += [f"  {t:30} {m:32} {v:8.4f}" for (t, m), v in sorted(scores.items())]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--tasks", default="gsm8k,kmmlu,kobest_copa,arc_challenge,haerae")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--model", default=None, help="a Hugging Face model folder (default: a tiny random Llama)")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "eval_equality"))
    ap.add_argument("--batch-size", default="8")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--chat-template", action="store_true", help="both sides with the chat template")
    ap.add_argument("--tolerance", type=float, default=0.005)
    args = ap.parse_args()

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = Path(args.model).resolve() if args.model else tiny_model(out / "tiny_model")
    tasks = [t for t in args.tasks.split(",") if t]
    bs = int(args.batch_size) if args.batch_size.isdigit() else args.batch_size

    t0 = time.time()
    mine = evaluate(str(model), tasks, args.data_dir, str(out / "moru"), limit=args.limit, device=args.device,
                    batch_size=bs, apply_chat_template=args.chat_template, log_samples=True)  # fmt: skip
    t_moru = time.time() - t0
    moru_raw = json.loads((out / "moru" / "lm_eval_results.json").read_text(encoding="utf-8"))

    margs = model_args(model, "hf", args.device)
    cli_out = out / "cli"
    shutil.rmtree(cli_out, ignore_errors=True)
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf",
           "--model_args", ",".join(f"{k}={v}" for k, v in margs.items()),
           "--tasks", ",".join(tasks), "--include_path", mine["tasks_dir"], "--limit", str(args.limit),
           "--batch_size", str(args.batch_size), "--device", args.device, "--output_path", str(cli_out),
           "--log_samples"]  # fmt: skip
    if args.chat_template:
        cmd.append("--apply_chat_template")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    t_cli = time.time() - t0
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-8000:], sep="\n")
        print(f"lm-eval CLI failed (exit {proc.returncode})")
        return 2
    found = sorted(glob.glob(str(cli_out / "**" / "results_*.json"), recursive=True), key=os.path.getmtime)
    cli_raw = json.loads(Path(found[-1]).read_text(encoding="utf-8"))

    a, b = flat(moru_raw), flat(cli_raw)
    common = sorted(set(a) & set(b))
    only = sorted(set(a) ^ set(b))
    deltas = {k: abs(a[k] - b[k]) for k in common}
    print(f"model {model}\ntasks {','.join(tasks)}  limit {args.limit}  batch {args.batch_size}  device {args.device}"
          f"  chat template {'on' if args.chat_template else 'off'}  lm-eval {mine['lm_eval_version']}")  # fmt: skip
    print(f"rendered tasks {mine['tasks_dir']}")
    print(table(f"moru evaluate ({t_moru:.0f} s)", a))
    print(table(f"lm-eval CLI ({t_cli:.0f} s): {' '.join(cmd[1:])}", b))
    if only:
        print("reported by one side only:", only)
    per_doc = sample_diffs(_samples(out / "moru" / "samples", "*.jsonl"),
                           _samples(Path(found[-1]).parent, "samples_*.jsonl"))  # fmt: skip
    print("per document (logged samples): task, documents compared, max |Δ log-likelihood|, responses that differ")
    for task, d in per_doc.items():
        print(f"  {task:30} {d['docs']:4d} {d['max_loglik_delta']:12.3g} {d['responses_differ']:4d}")
    worst = max(deltas.items(), key=lambda kv: kv[1]) if deltas else (None, float("nan"))
    print(f"compared {len(common)} (task, metric) pairs; max |Δ| = {worst[1]:.6f} at {worst[0]}")
    return 0 if common and not only and worst[1] < args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
