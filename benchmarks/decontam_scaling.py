"""Decontamination time vs corpus size: moru's exhaustive mode and decon, 50k to 400k documents.

    benchmarks/setup_peers.sh                                  # once: .venv-decon
    .venv/bin/python benchmarks/decontam_scaling.py [--sizes 50000,100000,200000,400000] [--out DIR]
    .venv/bin/python benchmarks/decontam_scaling.py --plot-only   # redraw from DIR/scaling.json
    .venv/bin/python benchmarks/decontam_scaling.py --collect     # gather DIR/N/results.json of earlier runs

Each size is one ``benchmarks/decontaminate.py --docs N --tools exhaustive,decon --reuse`` run in its own
process (its own Spark session, in its pipeline state: see decontaminate.py ``--session``; the untimed
preparation is kept in ``DIR/N`` and reused), same test sets and planting as there. Writes ``DIR/scaling.json``
and ``benchmarks/decontam_scaling.png``: total seconds
(index + match) and MB/s per core against the corpus size, one line per tool.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _plot(rows: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"exhaustive": ("moru exhaustive", "tab:blue", "o"), "decon": ("decon (defaults)", "tab:orange", "s")}
    for tool, (label, color, marker) in styles.items():
        pts = [(r["mb"], r["results"][tool]) for r in rows if tool in r["results"]]
        if not pts:
            continue
        mb = [p[0] for p in pts]
        ax_t.plot(mb, [p[1]["seconds"] for p in pts], marker=marker, color=color, label=label)
        ax_t.plot(mb, [p[1]["match_seconds"] for p in pts], marker=marker, color=color, ls=":", alpha=0.6,
                  label=f"{label}: matching only")  # fmt: skip
        ax_r.plot(mb, [p[1]["mb_s_core"] for p in pts], marker=marker, color=color, label=label)
    for r in rows:
        ax_t.annotate(f"{r['documents'] // 1000}k docs", (r["mb"], 0), textcoords="offset points", xytext=(0, 4),
                      ha="center", fontsize=7, color="gray")  # fmt: skip
    ax_t.set_xlabel("corpus (MB of UTF-8 text)")
    ax_t.set_ylabel("seconds (index + match; dotted: match)")
    ax_t.set_ylim(bottom=0)
    ax_t.legend(fontsize=8)
    ax_t.grid(alpha=0.3)
    ax_r.set_xlabel("corpus (MB of UTF-8 text)")
    ax_r.set_ylabel("MB/s per core (total time)")
    ax_r.set_ylim(bottom=0)
    ax_r.legend(fontsize=8)
    ax_r.grid(alpha=0.3)
    workers = rows[0]["workers"] if rows else 0
    loads = [r["load_at_start"][0] for r in rows if r.get("load_at_start")]
    shared = f"; load average at start {min(loads):.0f}-{max(loads):.0f} (shared machine)" if loads else ""
    fig.suptitle(f"Decontamination against 65k real test examples, {workers} cores: time vs corpus size{shared}")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50000,100000,200000,400000")
    parser.add_argument("--out", default=str(HERE / "out" / "decontam_scaling"))
    parser.add_argument("--png", default=str(HERE / "decontam_scaling.png"))
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--tools", default="exhaustive,decon")
    parser.add_argument("--collect", action="store_true", help="take each size's DIR/N/results.json, run nothing")
    args, passthrough = parser.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "scaling.json"
    rows: list[dict] = json.loads(table.read_text()) if table.is_file() else []
    if not args.plot_only:
        for n in (int(x) for x in args.sizes.split(",")):
            run_dir = out / str(n)
            cmd = [sys.executable, str(HERE / "decontaminate.py"), "--docs", str(n), "--out", str(run_dir), "--reuse",
                   "--tools", args.tools, *passthrough]  # fmt: skip
            started = time.time()
            if not args.collect:
                subprocess.run(cmd, check=True, cwd=str(REPO))
            result = json.loads((run_dir / "results.json").read_text())
            result["wall"] = time.time() - started
            rows = [r for r in rows if r["documents"] != result["documents"]] + [result]
            rows.sort(key=lambda r: r["documents"])
            table.write_text(json.dumps(rows, indent=1))
    _plot(rows, Path(args.png))
    print(
        f"{'documents':>10} {'MB':>7} " + " ".join(f"{t + ' s':>14} {'MB/s/core':>10}" for t in ("exhaustive", "decon"))
    )
    for r in rows:
        cells = []
        for tool in ("exhaustive", "decon"):
            x = r["results"].get(tool)
            cells.append(f"{x['seconds']:>14.1f} {x['mb_s_core']:>10.2f}" if x else f"{'-':>14} {'-':>10}")
        print(f"{r['documents']:>10,} {r['mb']:>7.1f} " + " ".join(cells))
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
