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
    runs = {n: _load(d, f"{n}.json") for n in ("moru_sft", "moru_sft_fp8", "trl_sft", "moru_dpo", "trl_dpo")}
    print(f"\ncard: {card}")
    print(f"{'run':<14} {'tokens/s':>10} {'pairs/s':>8} {'peak GiB':>9}  note")
    for name, r in runs.items():
        if r is None:
            print(f"{name:<14} {'-':>10} {'-':>8} {'-':>9}  not run")
            continue
        if "error" in r:
            print(f"{name:<14} {'-':>10} {'-':>8} {'-':>9}  error: {r['error']}")
            continue
        mem = r.get("max_memory_gib") or r.get("max_memory_allocated_gib")
        pairs = r.get("pairs_per_s")
        print(f"{name:<14} {r['tokens_per_s']:>10,.0f} {pairs if pairs is None else f'{pairs:.2f}':>8} "
              f"{mem if mem is None else f'{mem:.1f}':>9}")  # fmt: skip
    ms, ts, md, td = runs["moru_sft"], runs["trl_sft"], runs["moru_dpo"], runs["trl_dpo"]
    ok = lambda r: r is not None and "error" not in r  # noqa: E731
    if ok(ms) and ok(ts):
        print(f"SFT packed tokens/s, moru bf16 / TRL SFTTrainer: {ms['tokens_per_s'] / ts['tokens_per_s']:.2f}x")
    if ok(runs["moru_sft_fp8"]) and ok(ts):
        print(
            f"SFT packed tokens/s, moru fp8 / TRL SFTTrainer: {runs['moru_sft_fp8']['tokens_per_s'] / ts['tokens_per_s']:.2f}x"
        )
    if ok(md) and ok(td):
        mem_m, mem_t = md.get("max_memory_gib"), td.get("max_memory_allocated_gib")
        print(f"DPO pairs/s, moru / TRL DPOTrainer(precompute_ref_log_probs): {md['pairs_per_s'] / td['pairs_per_s']:.2f}x"
              + (f" at peak memory {mem_m:.1f} vs {mem_t:.1f} GiB" if mem_m and mem_t else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
