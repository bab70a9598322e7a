"""Where exhaustive decontamination spends its Python time, on one batch of real benchmark documents.

    .venv/bin/python benchmarks/decontaminate.py --docs 20000 --out /tmp/b20k --prepare-only
    .venv/bin/python benchmarks/decontam_profile.py --prepared /tmp/b20k [--rows 10000]

Reads ``--rows`` rows of the prepared ``documents`` table (its Parquet files, with pyarrow) and the prepared
examples, then times, single-threaded, with cProfile's top functions:

- ``join path``: what the Arrow UDF of the shuffle/broadcast-join path does per batch (normalize each text,
  hash every 50- and 25-character window, emit one row per window for Spark to join): the rows it emits
  are what Spark then has to join, group and aggregate;
- ``in-UDF path``: :func:`quality.substring_match.find` on the same texts (normalize the batch at once,
  probe, verify, emit only the hits), plus the one-off :func:`quality.substring_match.build_index`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/quality.py shadows `quality`
sys.path.insert(0, str(HERE.parent))


def _profile(label: str, fn, top: int) -> object:
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    result = fn()
    prof.disable()
    seconds = time.perf_counter() - started
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print(f"\n== {label}: {seconds:.2f} s (under cProfile)")
    print("\n".join(lines[start : start + top + 1]))
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", required=True, help="--out of a benchmarks/decontaminate.py preparation")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from quality import substring_match
    from quality.decontam import _get_tables, normalize_for_matching
    from spark_jobs.decontaminate.contamination import ContaminationConfig, _window_mapper

    prepared = Path(args.prepared)
    files = sorted((prepared / "work" / "tables" / "documents").rglob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f, columns=["doc_id", "text"]) for f in files])
    table = table.slice(0, args.rows)
    texts = table.column("text").to_pylist()
    chars = sum(len(t) for t in texts)
    print(f"{len(texts):,} documents, {chars:,} characters, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB")
    examples = [json.loads(x) for x in (prepared / "examples.jsonl").read_text(encoding="utf-8").split("\n") if x]
    _get_tables()  # the per-process normalization table (0.4 s), built before anything is timed

    cfg = ContaminationConfig()
    norms = [normalize_for_matching(e["text"]) for e in examples]
    sizes = [cfg.window if len(n) >= cfg.window else (cfg.short_window if len(n) >= cfg.short_window else 0)
             for n in norms]  # fmt: skip
    whole = [s == cfg.short_window for s in sizes]

    batch = pa.RecordBatch.from_arrays(
        [table.column("doc_id").combine_chunks(), table.column("text").combine_chunks(),
         pa.array(np.arange(len(texts), dtype=np.int64))],
        names=["text_id", "text", "text_key"],
    )  # fmt: skip
    mapper = _window_mapper(cfg, (cfg.window, cfg.short_window))
    rows, t_join = _profile("join path: windows -> rows", lambda: sum(b.num_rows for b in mapper(iter([batch]))),
                            args.top)  # fmt: skip
    print(f"   {rows:,} window rows emitted for the join ({chars / t_join / 1e6:.1f} M chars/s before the join)")
    index, t_index = _profile(
        "in-UDF path: build_index (once per job)",
        lambda: substring_match.build_index(norms, sizes, cfg.window, whole=whole),
        args.top,
    )
    print(f"   {index.n_substrings:,} substrings")
    found, t_find = _profile("in-UDF path: find", lambda: substring_match.find(texts, index), args.top)
    print(f"   {len(found.text):,} (text, example) pairs ({chars / t_find / 1e6:.1f} M chars/s)")
    started = time.perf_counter()
    substring_match.find(texts, index)
    plain = time.perf_counter() - started
    print(
        f"\nfind without the profiler: {plain:.2f} s, {chars / plain / 1e6:.1f} M chars/s, "
        f"{sum(len(t.encode()) for t in texts) / plain / 1e6:.1f} MB/s on one core"
    )


if __name__ == "__main__":
    main()
