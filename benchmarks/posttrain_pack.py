"""Post-training packing benchmark: render + loss mask + pack, tokens/second, moru against TRL on the same
conversations, the same tokenizer and the same chat template, in the same run (2 cores).

    .venv/bin/python benchmarks/posttrain_pack.py                        # 100,000 conversations, 3 rounds
    .venv/bin/python benchmarks/posttrain_pack.py --convs 20000 --rounds 5

Inputs: ``demo.posttrain.conversations(n, seed)``, the demo's post-training conversation maker with pooled
sentences (Korean 45 %, English 45 %, code-switched 10 %; 1-4 exchanges; 30 % with a system turn; 0.5 % ask to
summarise a 16k-40k character report, so some conversations are longer than the sequence and get truncated).
The tokenizer is benchmarks/emit.py's (``make_tokenizer``: ``tokenizer.bbpe`` on MeCab-marked Korean + English
demo and lexicon text, saved as moru saves it, chat template included) at **32,768** tokens, not EXAONE's 102,400:
that one takes many minutes to train on 2 cores and the vocabulary size barely moves encode speed. It is trained
once and cached under benchmarks/out/emit/.

Measured, alternating in each round (the headline uses the medians):

- **moru**: ``tokenizer.chat.ChatEncoder.encode_batch`` (4,000 conversations per call: the template's pieces
  tokenized in one ``encode_batch_fast``, token ids + loss mask per conversation), then
  ``quality.posttrain.packing.pack_bfd`` at ``--seq`` (4,096, truncating longer ones), then the packed sequences
  materialised: one flat array of token ids and one of mask bits in bin order, each bin's sequence lengths.
- **TRL**: ``transformers`` ``apply_chat_template(..., tokenize=True, return_dict=True,
  return_assistant_tokens_mask=True)`` (1,000 conversations per call: Jinja rendering with the template's
  ``{% generation %}`` spans, the fast tokenizer with offsets, the assistant mask from the spans' characters),
  a ``datasets.Dataset`` of ``input_ids`` + ``assistant_masks``, then ``trl.pack_dataset(dataset, seq_length,
  strategy="bfd")`` (TRL's best-fit decreasing, per ``Dataset.map`` batch of 1,000 examples as it ships).

Before timing, both paths run on ``--check`` conversations and must agree: the same token ids and masks per
conversation, and the same packed sequences (token ids and mask of every sequence, truncation included; the bins
they share may differ, because the two BFDs break ties differently). Every timed round also checks that both
packed the same number of tokens. tokens/s counts the conversations' rendered tokens (before truncation), the same
number for both. The last line is the headline: moru / TRL and the packing efficiency of each (non-padding share of
the emitted ``seq``-token rows).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # moru's packages, as when the script is run from anywhere

import numpy as np  # noqa: E402


def _sibling(name: str):
    """Another benchmark script as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- moru ----------------------------------------------------------------------------------------------------


def moru_encode(convs: list, enc, batch: int) -> list:
    out = []
    for k in range(0, len(convs), batch):
        out.extend(enc.encode_batch(convs[k : k + batch]))
    return out


def moru_pack(toks: list, seq: int) -> dict:
    """pack_bfd over the lengths, then the packed rows as flat arrays (ids, mask) in bin order + sequence lengths."""
    from quality.posttrain.packing import pack_bfd

    packing = pack_bfd(np.fromiter((len(t.ids) for t in toks), np.int64, len(toks)), seq, overlong="truncate")
    order = list(itertools.chain.from_iterable(packing.bins))
    keep = packing.lengths
    ids = np.concatenate([toks[i].ids[: keep[i]] for i in order])
    mask = np.concatenate([toks[i].mask[: keep[i]] for i in order])
    seq_lengths = keep[order]
    per_bin = np.fromiter((len(b) for b in packing.bins), np.int64, packing.n_bins)
    return {"ids": ids, "mask": mask, "seq_lengths": seq_lengths, "seqs_per_bin": per_bin, "rows": packing.n_bins}


def run_moru(convs: list, enc, seq: int, batch: int) -> dict:
    t0 = time.perf_counter()
    c0 = time.process_time()
    toks = moru_encode(convs, enc, batch)
    t1 = time.perf_counter()
    packed = moru_pack(toks, seq)
    t2 = time.perf_counter()
    tokens = sum(len(t.ids) for t in toks)
    return {"seconds": t2 - t0, "render_mask_s": t1 - t0, "pack_s": t2 - t1, "cpu_s": time.process_time() - c0,
            "tokens": tokens, "packed_tokens": int(packed["seq_lengths"].sum()), "rows": packed["rows"]}  # fmt: skip


# -- TRL -----------------------------------------------------------------------------------------------------


def trl_encode(convs: list, hf_tok, batch: int) -> tuple[list, list]:
    ids: list = []
    masks: list = []
    for k in range(0, len(convs), batch):
        out = hf_tok.apply_chat_template(
            convs[k : k + batch], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids.extend(out["input_ids"])
        masks.extend(out["assistant_masks"])
    return ids, masks


def trl_pack(ids: list, masks: list, seq: int, map_batch: int | None = None):
    from datasets import Dataset
    from trl import pack_dataset

    ds = Dataset.from_dict({"input_ids": ids, "assistant_masks": masks})
    kwargs = {"map_kwargs": {"batch_size": map_batch}} if map_batch else {}
    return pack_dataset(ds, seq_length=seq, strategy="bfd", **kwargs)


def _trl_stats(packed, seq: int) -> tuple[int, int]:
    import pyarrow.compute as pc

    table = packed.data.table if hasattr(packed.data, "table") else packed.data
    tokens = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py())
    return tokens, packed.num_rows


def run_trl(convs: list, hf_tok, seq: int, batch: int) -> dict:
    t0 = time.perf_counter()
    c0 = time.process_time()
    ids, masks = trl_encode(convs, hf_tok, batch)
    t1 = time.perf_counter()
    packed = trl_pack(ids, masks, seq)
    t2 = time.perf_counter()
    tokens = sum(map(len, ids))
    packed_tokens, rows = _trl_stats(packed, seq)
    return {"seconds": t2 - t0, "render_mask_s": t1 - t0, "pack_s": t2 - t1, "cpu_s": time.process_time() - c0,
            "tokens": tokens, "packed_tokens": packed_tokens, "rows": rows}  # fmt: skip


def sft_style_tokenize(example: dict, hf_tok) -> dict:
    """One conversation as TRL's SFTTrainer tokenizes it (``tokenize_fn``, language-modeling case, conversational,
    ``assistant_only_loss=True``)."""
    out = hf_tok.apply_chat_template(
        example["messages"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return {"input_ids": out["input_ids"], "assistant_masks": out["assistant_masks"]}


def run_trl_sft_style(dataset, hf_tok, seq: int) -> dict:
    """``Dataset.map`` one example at a time, as SFTTrainer prepares a dataset, then ``pack_dataset``."""
    import pyarrow.compute as pc
    from trl import pack_dataset

    t0 = time.perf_counter()
    c0 = time.process_time()
    tokenized = dataset.map(sft_style_tokenize, fn_kwargs={"hf_tok": hf_tok}, remove_columns=["messages"])
    t1 = time.perf_counter()
    packed = pack_dataset(tokenized, seq_length=seq, strategy="bfd")
    t2 = time.perf_counter()
    table = tokenized.data.table if hasattr(tokenized.data, "table") else tokenized.data
    tokens = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py())
    packed_tokens, rows = _trl_stats(packed, seq)
    return {"seconds": t2 - t0, "render_mask_s": t1 - t0, "pack_s": t2 - t1, "cpu_s": time.process_time() - c0,
            "tokens": tokens, "packed_tokens": packed_tokens, "rows": rows}  # fmt: skip


# -- equality ------------------------------------------------------------------------------------------------


def check_equal(convs: list, enc, hf_tok, seq: int) -> list[str]:
    """Both paths on ``convs``: per-conversation ids and masks, then packed sequences; raises on a difference."""
    toks = moru_encode(convs, enc, 4000)
    ids, masks = trl_encode(convs, hf_tok, 1000)
    bad = [i for i, (t, a, m) in enumerate(zip(toks, ids, masks, strict=True))
           if t.ids.tolist() != a or t.mask.tolist() != m]  # fmt: skip
    if bad:
        i = bad[0]
        a, b = toks[i], (ids[i], masks[i])
        at = next((k for k, (x, y) in enumerate(zip(a.mask.tolist(), b[1], strict=False)) if x != y), None)
        raise SystemExit(f"{len(bad)} of {len(convs)} conversations differ; first: #{i} (ids equal: "
                         f"{a.ids.tolist() == b[0]}, first mask difference at token {at})")  # fmt: skip
    notes = [f"equal per conversation: token ids and loss masks of all {len(convs):,} conversations (supervised "
             f"tokens {sum(int(t.mask.sum()) for t in toks):,} of {sum(len(t.ids) for t in toks):,})"]  # fmt: skip
    mine = moru_pack(toks, seq)
    ours = Counter()
    at = 0
    for n in mine["seq_lengths"]:
        ours[(mine["ids"][at : at + n].tobytes(), mine["mask"][at : at + n].tobytes())] += 1
        at += n
    for label, map_batch in (("TRL as it ships (map batches of 1,000)", None), ("TRL in one map batch", len(convs))):
        packed = trl_pack(ids, masks, seq, map_batch)
        theirs = Counter()
        for row in packed:
            at = 0
            for n in row["seq_lengths"]:
                seq_ids = np.asarray(row["input_ids"][at : at + n], np.int64).tobytes()
                seq_mask = np.asarray(row["assistant_masks"][at : at + n], np.uint8).tobytes()
                theirs[(seq_ids, seq_mask)] += 1
                at += n
        if theirs != ours:
            raise SystemExit(f"packed sequences differ ({label}): {sum((ours - theirs).values())} only in moru's, "
                             f"{sum((theirs - ours).values())} only in TRL's")  # fmt: skip
        notes.append(f"equal packed sequences, {label}: {sum(ours.values()):,} sequences (truncated to {seq}: "
                     f"{sum(len(t.ids) > seq for t in toks)}) in {mine['rows']:,} moru rows, {packed.num_rows:,} "
                     "TRL rows")  # fmt: skip
    return notes


def profile(convs: list, enc, hf_tok, args) -> None:
    """Where each path's time goes: pyinstrument (``pip install pyinstrument``), one run each, Python frames only
    (time inside the Rust tokenizer shows as the call that entered it)."""
    from pyinstrument import Profiler

    for name, fn in (("moru", lambda: run_moru(convs, enc, args.seq, args.moru_batch)),
                     ("TRL", lambda: run_trl(convs, hf_tok, args.seq, args.trl_batch))):  # fmt: skip
        profiler = Profiler(interval=0.005)
        profiler.start()
        fn()
        profiler.stop()
        print(f"--- profile: {name}, {len(convs):,} conversations")
        print(profiler.output_text(unicode=False, color=False, show_all=False, timeline=False))


# -- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--convs", type=int, default=100_000, help="generated conversations")
    ap.add_argument("--seq", type=int, default=4096, help="packed sequence length")
    ap.add_argument("--vocab", type=int, default=32_768, help="tokenizer vocabulary (trained once, cached)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of both, alternating (medians reported)")
    ap.add_argument("--check", type=int, default=3000, help="conversations both paths must agree on before timing")
    ap.add_argument("--moru-batch", type=int, default=4000)
    ap.add_argument("--trl-batch", type=int, default=1000)
    ap.add_argument("--no-sft-style", action="store_true", help="leave out the SFTTrainer-style TRL path")
    ap.add_argument(
        "--profile", type=int, default=0, help="pyinstrument one run of each path on this many conversations"
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

    import datasets
    import transformers
    import trl
    from transformers import AutoTokenizer

    from demo.posttrain import conversations
    from tokenizer.chat import ChatEncoder

    datasets.disable_progress_bars()
    CpuMeter = _sibling("ingest_lid").CpuMeter  # noqa: N806
    t0 = time.perf_counter()
    tok_dir = _sibling("emit").make_tokenizer(args.vocab, args.seed)
    print(f"tokenizer {tok_dir} ({time.perf_counter() - t0:.0f} s)", flush=True)
    t0 = time.perf_counter()
    convs = conversations(args.convs, seed=args.seed)
    print(f"{len(convs):,} conversations generated in {time.perf_counter() - t0:.0f} s", flush=True)
    enc = ChatEncoder.from_folder(tok_dir)
    hf_tok = AutoTokenizer.from_pretrained(str(tok_dir))

    t0 = time.perf_counter()
    notes = check_equal(convs[: args.check], enc, hf_tok, args.seq)
    for note in notes:
        print(note, flush=True)
    print(f"(checked in {time.perf_counter() - t0:.0f} s)", flush=True)

    if args.profile:
        profile(convs[: args.profile], enc, hf_tok, args)

    names = ["moru", "trl"] + ([] if args.no_sft_style else ["trl_sft"])
    messages = None
    if not args.no_sft_style:
        from datasets import Dataset

        messages = Dataset.from_dict({"messages": convs})  # SFTTrainer gets its dataset loaded: not timed
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            with CpuMeter() as meter:
                if name == "moru":
                    res = run_moru(convs, enc, args.seq, args.moru_batch)
                elif name == "trl":
                    res = run_trl(convs, hf_tok, args.seq, args.trl_batch)
                else:
                    res = run_trl_sft_style(messages, hf_tok, args.seq)
            res["others"] = meter.result["others_share"]
            runs[name].append(res)
            print(f"round {r + 1} {name}: {res['seconds']:.1f} s ({res['render_mask_s']:.1f} render+mask, "
                  f"{res['pack_s']:.1f} pack), {res['tokens'] / res['seconds']:,.0f} tokens/s, "
                  f"others used {100 * res['others']:.0f} % of the machine", flush=True)  # fmt: skip
        if len({runs[name][-1]["tokens"] for name in names}) != 1:
            raise SystemExit("the paths rendered different numbers of tokens")
        if len({runs[name][-1]["packed_tokens"] for name in names}) != 1:
            raise SystemExit("the paths packed different numbers of tokens")

    n_tokens = runs["moru"][0]["tokens"]
    packed_tokens = runs["moru"][0]["packed_tokens"]
    med = {name: statistics.median(x["seconds"] for x in rs) for name, rs in runs.items()}
    rate = {name: n_tokens / s for name, s in med.items()}
    eff = {name: packed_tokens / (rs[0]["rows"] * args.seq) for name, rs in runs.items()}
    cpu = {name: statistics.median(x["cpu_s"] for x in rs) for name, rs in runs.items()}
    noisy = max(x["others"] for rs in runs.values() for x in rs)
    labels = {
        "moru": "moru: ChatEncoder.encode_batch + pack_bfd",
        "trl": f"TRL {trl.__version__}: apply_chat_template (transformers {transformers.__version__}) + pack_dataset",
        "trl_sft": "TRL as SFTTrainer runs it: Dataset.map one example at a time + pack_dataset (not the headline)",
    }
    lines = [
        f"post-training pack benchmark, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores; {len(convs):,} conversations, {n_tokens:,} tokens ({packed_tokens:,} after "
        f"truncation to {args.seq}); tokenizer {args.vocab:,}; medians of {args.rounds}",
        "",
        f"| path | median s | tokens/s | render+mask s | pack s | runs (s) | CPU core-s | rows of {args.seq} "
        "| efficiency |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, rs in runs.items():
        mid = sorted(rs, key=lambda x: x["seconds"])[len(rs) // 2]
        each = ", ".join(format(x["seconds"], ".1f") for x in rs)
        cells = [labels[name], f"{med[name]:.1f}", f"{rate[name]:,.0f}", f"{mid['render_mask_s']:.1f}",
                 f"{mid['pack_s']:.1f}", each, f"{mid['cpu_s']:.0f}", f"{rs[0]['rows']:,}",
                 f"{eff[name]:.4f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        *notes,
        "per round (same minutes): moru / TRL "
        + ", ".join(f"{t['seconds'] / m['seconds']:.2f}x" for m, t in zip(runs["moru"], runs["trl"], strict=True))
        + "; CPU core-s of the medians: moru / TRL "
        + f"{cpu['trl'] / cpu['moru']:.2f}x"
        + (f"; moru / TRL as SFTTrainer runs it {rate['moru'] / rate['trl_sft']:.2f}x" if "trl_sft" in rate else ""),
        f"other processes used up to {100 * noisy:.0f} % of the machine during a run"
        + ("  <- NOISY, re-run on a quiet machine" if noisy > 0.10 else ""),
        "",
        f"moru / TRL = {rate['moru'] / rate['trl']:.2f}x (goal >= 2x); packing efficiency at {args.seq}: "
        f"moru {eff['moru']:.4f}, TRL {eff['trl']:.4f} (goal >= 0.97)",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
