"""SuperBPE vs BBPE vs o200k on real held-out text (issue 25), and the word-count trainer's compression check.

    .venv/bin/python benchmarks/superbpe.py            # the real files of RESULTS.md's tokenizer compression section
    .venv/bin/python benchmarks/superbpe.py --ja       # + Japanese (OSCAR sample: 400 documents train, 99 held out)

Trains on the same real files as ``benchmarks/tokenizer.py --compression-only`` (Korean news, KorQuAD dev contexts;
WikiText-2, DCLM, dolma) at 32,000 tokens:

- moru BBPE, per-document MeCab marking (``bbpe.train``: the word-count table of the marked texts, the same
  tokenizer as feeding the texts to HF's trainer, which is what RESULTS.md recorded);
- moru BBPE, ``bbpe.train_raw``: MeCab on the distinct chunks only (the benchmark's fast path);
- SuperBPE at transition sizes 28,800 (the default, 90 %) and 24,000 (75 %);
- o200k_base (fetched by scripts/fetch_tokenizer_baselines.sh) as the reference;

then measures tokens per word and bytes per token per held-out set and writes a table and a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.tokenizer import _read_any, mark_parallel  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
KO_TRAIN = ["text/korean_news/0_text_0.jsonl.gz", "text/korean_news/0_text_1.jsonl.gz",
            "text/korean_news/1_text_0.jsonl.gz", "bench/korquad_v1.0_dev.json"]  # fmt: skip
EN_TRAIN = ["text/wikitext2_valid_test.txt.gz", "text/english_dclm_labeled/majority_data.jsonl.gz",
            "text/english_cc_dolma/cc_en_head-0091.jsonl", "text/english_cc_dolma/cc_en_head-0174.jsonl"]  # fmt: skip
KO_TEXT = ["text/korean_news/1_text_1.jsonl.gz", "langid/ko_en_parallel_news/korean-english-park.test.ko"]
EN_TEXT = ["text/english_dclm_labeled/agreement_data.jsonl", "langid/ko_en_parallel_news/korean-english-park.test.en"]
JA_FILE = "langid/oscar-2201_ja_00000-1.jsonl.gz"  # 499 real Japanese web documents (OSCAR 22.01)
JA_TRAIN_DOCS = 400  # the first 400 train, the rest are held out
OUT = ROOT / "benchmarks" / "out" / "superbpe"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=32_000)
    ap.add_argument("--transitions", type=int, nargs="*", default=[28_800, 24_000])
    ap.add_argument("--png", default=None, help="chart (default benchmarks/superbpe_compression[_ja].png)")
    ap.add_argument("--ja", action="store_true", help="add Japanese training and held-out text (UniDic-marked)")
    args = ap.parse_args(argv)
    args.png = args.png or str(ROOT / "benchmarks" / f"superbpe_compression{'_ja' if args.ja else ''}.png")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    from tokenizer import baselines, bbpe, evaluate, hf, superbpe
    from tokenizer.config import BaselineConfig, TokenizerConfig

    OUT.mkdir(parents=True, exist_ok=True)
    ko = [t for f in KO_TRAIN for t in _read_any(DATA / f, None)]
    en = [t for f in EN_TRAIN for t in _read_any(DATA / f, None)]
    ja_all = _read_any(DATA / JA_FILE, None) if args.ja else []
    ja, ja_held = ja_all[:JA_TRAIN_DOCS], ja_all[JA_TRAIN_DOCS:]
    mb, ko_mb = sum(len(t.encode()) for t in ko + en + ja) / 1e6, sum(len(t.encode()) for t in ko) / 1e6
    ja_mb = sum(len(t.encode()) for t in ja) / 1e6
    print(f"training text: {mb:.1f} MB ({ko_mb:.1f} MB Korean, {ja_mb:.1f} MB Japanese); load average "
          f"{os.getloadavg()}", flush=True)  # fmt: skip
    from tokenizer.mecab import mark_boundaries

    marked = mark_parallel(ko) + en + ja  # Korean marked, Japanese not: the default tokenizer.mecab_langs [ko]
    info: dict = {"load_avg_start": os.getloadavg()}
    counters, toks = {}, {}

    def timed(name, f):
        t0 = time.time()
        tok = f()
        info[name] = {"seconds": round(time.time() - t0, 1), "vocab": tok.get_vocab_size()}
        print(f"{name}: {info[name]}", flush=True)
        toks[name] = tok
        counters[name] = evaluate.hf_counter(tok)
        return tok

    cfg = TokenizerConfig(vocab_size=args.vocab)
    timed("moru BBPE (per-document MeCab)", lambda: bbpe.train(marked, cfg))
    timed("moru BBPE (MeCab on distinct chunks)",
          lambda: bbpe.train_raw([(t, "ko") for t in ko] + [(t, "en") for t in en] + [(t, "ja") for t in ja], cfg,
                                 workers=2))  # fmt: skip
    if ja:  # what Japanese marks do (mecab_langs [ko, ja]): the same text with UniDic-lite marks in Japanese
        ja_cfg = TokenizerConfig(vocab_size=args.vocab, mecab_langs=["ko", "ja"])
        ja_marked = marked[: len(ko) + len(en)] + [mark_boundaries(t, "ja") for t in ja]
        timed("moru BBPE (Japanese marked)", lambda: bbpe.train(ja_marked, ja_cfg))
    for t in args.transitions:
        sb_cfg = TokenizerConfig(vocab_size=args.vocab, algorithm="superbpe", superbpe={"transition_vocab_size": t})
        stage = {}
        tok = timed(f"SuperBPE t={t:,}", lambda sb_cfg=sb_cfg, stage=stage: superbpe.train(marked, sb_cfg, info=stage))
        info[f"SuperBPE t={t:,}"].update(stage, superwords=len(superbpe.superwords(tok)))
        hf.save(tok, sb_cfg, OUT / f"superbpe-t{t}", {"algorithm": "superbpe", **stage})
    for name, (path, kind) in baselines.shipped().items():
        if name == "o200k_base":
            counters[name] = evaluate.load_baseline(BaselineConfig(name=name, path=str(path), kind=kind))
    if "o200k_base" not in counters:
        print("o200k_base ranks missing: run scripts/fetch_tokenizer_baselines.sh", flush=True)
    sets = [(Path(f).name.removesuffix(".gz"), lang, _read_any(DATA / f)) for lang, fs in (("ko", KO_TEXT),
            ("en", EN_TEXT)) for f in fs]  # fmt: skip
    if ja_held:
        sets.append((f"{Path(JA_FILE).name.removesuffix('.jsonl.gz')} held out", "ja", ja_held))
    rows = evaluate.measure(counters, sets)
    info["load_avg_end"] = os.getloadavg()
    (OUT / "rows.json").write_text(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    (OUT / "info.json").write_text(json.dumps(info, indent=2, ensure_ascii=False))
    print(evaluate.markdown_table(rows))
    _plot(rows, Path(args.png))
    sb = toks[f"SuperBPE t={args.transitions[0]:,}"]
    for text in ["나는 오늘 학교에 갔다. 날씨가 좋아서 기분이 좋았다.", "By the way, I am a fan of the Milky Way.",
                 *(["東京都に住んでいます。今日はいい天気ですね。"] if ja else [])]:  # fmt: skip
        pieces = [bbpe.token_bytes(x).decode("utf-8", "replace") for x in sb.encode(text).tokens]
        print(" | ".join(pieces))
    return 0


def _plot(rows, path: Path) -> None:
    from textwrap import fill

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r.tokenizer for r in rows))
    sets = list(dict.fromkeys((r.set, r.lang) for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / len(names)
    for ax, metric, label in ((axes[0], "tokens_per_word", "tokens per word (lower is better)"),
                              (axes[1], "bytes_per_token", "UTF-8 bytes per token (higher is better)")):  # fmt: skip
        for k, name in enumerate(names):
            vals = [
                next(getattr(r, metric) for r in rows if r.tokenizer == name and (r.set, r.lang) == s) for s in sets
            ]
            bars = ax.bar([i + k * width for i in range(len(sets))], vals, width, label=name)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
        ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(sets))])
        ax.set_xticklabels([fill(s.replace(".", ". "), 16) + f"\n({lang})" for s, lang in sets], fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.margins(y=0.15)
    axes[0].legend(fontsize=7)
    fig.suptitle("SuperBPE vs BBPE (32,000 tokens, same real training text) vs o200k_base, held-out text", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"chart: {path}")


if __name__ == "__main__":
    sys.exit(main())
