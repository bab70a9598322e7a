"""The table of benchmarks/align_gpu.sh: moru (megatron_train.sft / preference) vs TRL (SFTTrainer / DPOTrainer) on
one card, from the JSON files the runs wrote into one folder; the headline ratios come last."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(folder: Path, name: str) -> dict | None:
    path = folder / name
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if "results" in data:  # align_throughput.py's file: one result per run
        good = [r for r in data["results"] if "error" not in r]
        return good[0] if good else {"error": data["results"][0].get("error") if data["results"] else "no result"}
    return data


def main(folder: str) -> int:
    d = Path(folder)
    card = (d / "card.txt").read_text().strip() if (d / "card.txt").is_file() else "unknown card"
    names = ["moru_sft", "moru_sft_fp8", "trl_sft", "moru_dpo", "trl_dpo"]
    names += sorted(p.stem for p in d.glob("*_mb*.json"))  # other micro-batch sizes of the same runs
    runs = {n: _load(d, f"{n}.json") for n in names}
    print(f"\ncard: {card}")
    print(f"{'run':<14} {'tokens/s':>10} {'pairs/s':>8} {'peak GiB':>9}  note")
    for name, r in runs.items():
        if r is None:
            print(f"{name:<14} {'-':>10} {'-':>8} {'-':>9}  not run")
            continue
        if "error" in r:
            print(f"{name:<14} {'-':>10} {'-':>8} {'-':>9}  error: {str(r['error'])[:90]}")
            continue
        mem = r.get("max_memory_gib") or r.get("max_memory_allocated_gib")
        pairs = r.get("pairs_per_s")
        pairs_s = "-" if pairs is None else f"{pairs:.2f}"
        mem_s = "-" if mem is None else f"{mem:.1f}"
        note = f"micro-batch {r.get('micro_batch', r.get('settings', {}).get('dpo_micro_batch', ''))}"
        print(f"{name:<14} {r['tokens_per_s']:>10,.0f} {pairs_s:>8} {mem_s:>9}  {note}")
    ms, ts, td = runs["moru_sft"], runs["trl_sft"], runs["trl_dpo"]
    ok = lambda r: r is not None and "error" not in r  # noqa: E731
    if ok(ms) and ok(ts):
        print(f"SFT packed tokens/s, moru bf16 / TRL SFTTrainer: {ms['tokens_per_s'] / ts['tokens_per_s']:.2f}x")
    if ok(runs["moru_sft_fp8"]) and ok(ts):
        fp8 = runs["moru_sft_fp8"]["tokens_per_s"] / ts["tokens_per_s"]
        print(f"SFT packed tokens/s, moru fp8 / TRL SFTTrainer: {fp8:.2f}x")
    if ok(td):
        # the DPO goal: pairs/s at no more than TRL's peak memory — the best moru micro-batch that fits
        limit = td.get("max_memory_allocated_gib") or float("inf")
        fits = [(n, r) for n, r in runs.items() if n.startswith("moru_dpo") and ok(r)
                and (r.get("max_memory_gib") or 0) <= limit]  # fmt: skip
        if fits:
            name, best = max(fits, key=lambda nr: nr[1]["pairs_per_s"])
            print(f"DPO pairs/s, moru ({name}, micro-batch {best.get('micro_batch')}) / TRL DPOTrainer("
                  f"precompute_ref_log_probs, micro-batch 1, its largest that fits): "
                  f"{best['pairs_per_s'] / td['pairs_per_s']:.2f}x at peak memory {best['max_memory_gib']:.1f} vs "
                  f"{limit:.1f} GiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
