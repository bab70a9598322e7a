"""Tokenizer benchmark: training time for the full vocabulary and encode throughput, moru's byte-level BPE (HF
``tokenizers``, MeCab-segmented Korean) against SentencePiece's BPE trainer on the same text and vocabulary size,
in the same run; then compression on held-out text against the fetched baselines.

    .venv/bin/python benchmarks/tokenizer.py                     # 500 MB, 102,400 tokens (both trainers)
    .venv/bin/python benchmarks/tokenizer.py --mb 50 --only hf   # smaller, one trainer
    .venv/bin/python benchmarks/tokenizer.py --compression-only --ko-text K --en-text E

Text: the demo generator's documents (demo.corpus.generate_jsonl) cover only ~20k distinct words, which
cannot fill 102,400 tokens, so half of the bytes are "lexicon documents": sentences of words drawn by a Zipf law
(s = 1.05) from 500k Korean and 500k English pseudo-words made by character Markov chains trained on the demo
corpus's own words (Korean: syllable bigrams, with particles and endings; English: letter trigrams). Half the
bytes are Korean, half English. Everything is generated here from a seed; nothing is downloaded.

Steps, each timed on its own (2 cores): generating the text; MeCab marking of the Korean documents
(``tokenizer.mecab.mark_boundaries``, 2 processes); HF BPE training (``tokenizer.bbpe.train``); SentencePiece BPE
training (``model_type=bpe``, ``byte_fallback``, every core, sentences = lines, none skipped for length);
encoding a held-out slice with each (HF ``encode_batch``; SentencePiece's batched ``encode``, 2 threads).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # moru's packages, as when the script is run from anywhere

import numpy as np  # noqa: E402
import orjson  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "tokenizer"

KO_ENDINGS = ["은", "는", "이", "가", "을", "를", "에", "에서", "으로", "로", "의", "와", "과", "도", "만", "까지",
              "부터", "에게", "한다", "했다", "하는", "하고", "하며", "된다", "되었다", "이다", "였다", "습니다",
              "했습니다", "지만", "는데", "면서", "니까", "라고", "처럼", "보다"]  # fmt: skip


# -- text ---------------------------------------------------------------------------------------------------


def _markov_words(seed_words: list[str], n: int, rng: random.Random, order: int, max_len: int) -> list[str]:
    """``n`` distinct pseudo-words from a character Markov chain of ``order`` over ``seed_words``; when the
    chain stops yielding new words (small seed vocabularies), compounds of two of them fill the rest."""
    start, trans = "\x02" * order, {}
    for w in seed_words:
        s = start + w + "\x03"
        for i in range(len(s) - order):
            trans.setdefault(s[i : i + order], []).append(s[i + order])
    out, seen, attempts = [], set(), 0
    while len(out) < n and attempts < 20 * n:
        attempts += 1
        state, word = start, ""
        while len(word) < max_len:
            c = rng.choice(trans[state])
            if c == "\x03":
                break
            word += c
            state = (state + c)[-order:]
        if len(word) >= 2 and word not in seen:
            seen.add(word)
            out.append(word)
    base = list(out)
    while len(out) < n:
        word = rng.choice(base) + rng.choice(base)
        if word not in seen:
            seen.add(word)
            out.append(word)
    rng.shuffle(out)  # Zipf ranks independent of the order found
    return out


class LexiconText:
    """Sentences of Zipf-drawn pseudo-words for one language."""

    def __init__(self, lang: str, words: list[str], rng: random.Random, np_rng: np.random.Generator, s: float = 1.05):
        self.lang, self.words, self.rng, self.np = lang, words, rng, np_rng
        p = 1.0 / np.arange(1, len(words) + 1) ** s
        self.cdf = np.cumsum(p / p.sum())

    def document(self, n_sentences: int) -> str:
        paras, sent = [], []
        lengths = self.np.integers(6, 22, size=n_sentences)
        idx = np.minimum(np.searchsorted(self.cdf, self.np.random(int(lengths.sum()))), len(self.words) - 1)
        pos = 0
        for k, n in enumerate(lengths):
            ws = [self.words[i] for i in idx[pos : pos + n]]
            pos += n
            if self.lang == "ko":
                ws = [w + self.rng.choice(KO_ENDINGS) if self.rng.random() < 0.6 else w for w in ws]
            else:
                ws[0] = ws[0].capitalize()
            if self.rng.random() < 0.15:
                ws.insert(self.rng.randrange(len(ws)), str(self.rng.randrange(1, 100_000)))
            sent.append(" ".join(ws) + self.rng.choice(".....?!"))
            if k % 4 == 3:
                paras.append(" ".join(sent))
                sent = []
        if sent:
            paras.append(" ".join(sent))
        return "\n\n".join(paras)


def make_corpus(out_dir: Path, total_mb: int, seed: int = 0) -> tuple[list[Path], dict]:
    """JSONL shards of {"text", "lang"}: demo documents and lexicon documents, half the bytes Korean."""
    from demo.corpus import generate_jsonl
    from tokenizer.mecab import has_hangul

    out_dir.mkdir(parents=True, exist_ok=True)
    demo_paths = generate_jsonl(out_dir / "demo", n_docs=20_000, seed=seed)
    demo = {"ko": [], "en": []}
    for p in demo_paths:
        for line in open(p, "rb"):
            if line.strip():
                t = orjson.loads(line)["text"]
                lang = "ko" if has_hangul(t) else "en" if sum(c.isascii() for c in t) > 0.95 * len(t) else None
                if lang:
                    demo[lang].append(t)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    ko_words = [w.strip(".,!?\"'()[]~…") for t in demo["ko"] for w in t.split()]
    en_words = [w.strip(".,!?\"'()[]~…").lower() for t in demo["en"] for w in t.split()]
    ko_words = [w for w in ko_words if w and all("가" <= c <= "힣" for c in w)]
    en_words = [w for w in en_words if w.isalpha() and w.isascii()]
    lex = {
        "ko": LexiconText("ko", _markov_words(ko_words, 500_000, rng, 1, 4), rng, np_rng),
        "en": LexiconText("en", _markov_words(en_words, 500_000, rng, 2, 12), rng, np_rng),
    }
    budget = total_mb * 1_000_000
    written = Counter()
    paths, shard, n_docs = [], [], 0
    while sum(written.values()) < budget:
        lang = "ko" if written["ko"] <= written["en"] else "en"
        if rng.random() < 0.5:
            text = rng.choice(demo[lang])
        else:
            text = lex[lang].document(rng.randrange(4, 40))
        b = len(text.encode())
        written[lang] += b
        shard.append(orjson.dumps({"text": text, "lang": lang}))
        n_docs += 1
        if len(shard) == 20_000:
            paths.append(_flush(out_dir, len(paths), shard))
            shard = []
    if shard:
        paths.append(_flush(out_dir, len(paths), shard))
    return paths, {"docs": n_docs, "bytes": dict(written)}


def _flush(out_dir: Path, i: int, rows: list[bytes]) -> Path:
    p = out_dir / f"part-{i:04d}.jsonl"
    p.write_bytes(b"\n".join(rows) + b"\n")
    return p


def read_corpus(paths: list[Path]) -> list[tuple[str, str]]:
    return [(r["lang"], r["text"]) for p in paths for r in map(orjson.loads, open(p, "rb")) if r]


def _mark_chunk(texts: list[str]) -> list[str]:
    from tokenizer.mecab import mark_boundaries

    return [mark_boundaries(t) for t in texts]


def mark_parallel(texts: list[str], workers: int = 2, chunk: int = 2000) -> list[str]:
    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    with ProcessPoolExecutor(workers) as pool:
        return [t for part in pool.map(_mark_chunk, chunks) for t in part]


# -- benchmark ----------------------------------------------------------------------------------------------


def bench_hf(
    train_texts: list[str], vocab: int, enc_texts: list[str], docs: list[tuple[str, str]] | None = None
) -> dict:
    """moru's trainer: on MeCab-marked ``train_texts`` (``bbpe.train_direct``: every text fed to HF's trainer, the
    path before issue 25), or on raw ``docs`` (lang, text) with ``bbpe.train_raw`` (chunk counting, MeCab on
    distinct Korean chunks, the word-frequency table; its phases timed inside)."""
    from tokenizer import bbpe
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(vocab_size=vocab)
    timings: dict = {}
    t0 = time.time()
    if docs is None:
        tok = bbpe.train_direct(train_texts, cfg, length=len(train_texts))
    else:
        tok = bbpe.train_raw([(t, lang) for lang, t in docs], cfg, workers=os.cpu_count() or 1, timings=timings)
    train_s = time.time() - t0
    tok.save(str(OUT / "moru-bbpe.json"))
    split = bbpe.vocab_split(tok)
    t0 = time.time()
    n = sum(len(e.ids) for e in tok.encode_batch(enc_texts, add_special_tokens=False))
    enc_s = time.time() - t0
    return {"train_s": train_s, "vocab": tok.get_vocab_size(), "split": split.as_dict(), "enc_tokens": n,
            "enc_s": enc_s, "phases": timings, "load_avg": os.getloadavg()}  # fmt: skip


def bench_marked(texts: list[str], vocab: int, enc_texts: list[str]) -> dict:
    """moru's trainer (``bbpe.train``) on the sample with Korean already MeCab-marked per document, as
    ``moru tokenizer train`` runs it after Spark's sample step."""
    from tokenizer import bbpe
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(vocab_size=vocab)
    timings: dict = {}
    t0 = time.time()
    tok = bbpe.train(texts, cfg, timings=timings)
    train_s = time.time() - t0
    t0 = time.time()
    n = sum(len(e.ids) for e in tok.encode_batch(enc_texts, add_special_tokens=False))
    return {"train_s": train_s, "vocab": tok.get_vocab_size(), "split": bbpe.vocab_split(tok).as_dict(),
            "enc_tokens": n, "enc_s": time.time() - t0, "phases": timings, "load_avg": os.getloadavg(),
            "native": bbpe.native() is not None}  # fmt: skip


def bench_spm(train_texts: list[str], vocab: int, enc_texts: list[str], timeout_note: str = "") -> dict:
    import sentencepiece as spm

    path = OUT / "spm_train.txt"
    with open(path, "w", encoding="utf-8") as fh:
        for t in train_texts:
            for line in t.split("\n"):
                if line.strip():
                    fh.write(line + "\n")
    t0 = time.time()
    spm.SentencePieceTrainer.train(
        input=str(path), model_prefix=str(OUT / "spm-bpe"), vocab_size=vocab, model_type="bpe",
        character_coverage=0.9995, byte_fallback=True, num_threads=os.cpu_count(), max_sentence_length=1 << 20,
        input_sentence_size=0, train_extremely_large_corpus=False, minloglevel=1,
    )  # fmt: skip
    train_s = time.time() - t0
    sp = spm.SentencePieceProcessor(model_file=str(OUT / "spm-bpe.model"), num_threads=2)
    t0 = time.time()
    n = sum(len(ids) for ids in sp.encode(enc_texts, num_threads=2))
    enc_s = time.time() - t0
    return {"train_s": train_s, "vocab": sp.get_piece_size(), "enc_tokens": n, "enc_s": enc_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=500, help="MB of training text (default 500)")
    ap.add_argument("--vocab", type=int, default=102_400)
    ap.add_argument(
        "--only",
        choices=["hf", "marked", "spm"],
        default=None,
        help="run one: hf (raw documents end to end), marked (the trainer on the MeCab-marked sample), spm",
    )
    ap.add_argument(
        "--direct",
        action="store_true",
        help="moru's trainer as before issue 25: per-document MeCab, every text fed to HF's trainer",
    )
    ap.add_argument("--encode-mb", type=int, default=50, help="MB of held-out text for encode throughput")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate-only", action="store_true", help="only write the text (reused by later runs)")
    ap.add_argument("--compression-only", action="store_true", help="only the compression table (needs a trained run)")
    ap.add_argument("--ko-train", action="append", default=[], help="real Korean training files (compression part)")
    ap.add_argument("--en-train", action="append", default=[], help="real English training files")
    ap.add_argument("--ko-text", action="append", default=[], help="real held-out Korean files (.txt/.jsonl/.json)")
    ap.add_argument("--en-text", action="append", default=[], help="real held-out English files")
    ap.add_argument("--steer", action="store_true", help="run `moru tokenizer train`'s steering on the real files")
    ap.add_argument("--real-vocab", type=int, default=32_000, help="vocabulary of the real-text tokenizers")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    results_path = OUT / f"results-{args.mb}mb-{args.vocab}{'-direct' if args.direct else ''}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if not args.compression_only:
        t0 = time.time()
        corpus_dir = OUT / f"corpus-{args.mb + args.encode_mb}mb-seed{args.seed}"
        manifest = corpus_dir / "manifest.json"
        if manifest.exists():  # generated by an earlier run: the same bytes (same seed)
            info = json.loads(manifest.read_text())
            paths = [corpus_dir / p for p in info.pop("paths")]
        else:
            paths, info = make_corpus(corpus_dir, args.mb + args.encode_mb, args.seed)
            manifest.write_text(json.dumps({**info, "paths": [p.name for p in paths], "seconds": time.time() - t0}))
        if args.generate_only:
            print(f"corpus: {corpus_dir} {info}")
            return 0
        docs = read_corpus(paths)
        results["generate_s"] = time.time() - t0
        # the last --encode-mb of documents are held out for encoding
        cut, acc = len(docs), 0
        while cut > 0 and acc < args.encode_mb * 1_000_000:
            cut -= 1
            acc += len(docs[cut][1].encode())
        train, held = docs[:cut], [t for _, t in docs[cut:]]
        train_bytes = sum(len(t.encode()) for _, t in train)
        results.update(corpus=info, train_bytes=train_bytes, train_docs=len(train), encode_bytes=acc,
                       encode_docs=len(held))  # fmt: skip
        print(f"text: {train_bytes / 1e6:,.0f} MB training ({len(train):,} docs), {acc / 1e6:,.0f} MB held out for "
              f"encoding; generated in {results['generate_s']:.0f} s", flush=True)  # fmt: skip
        if args.only in (None, "marked") and not args.direct:
            # the sample as `moru tokenizer train` hands it to the trainer: Korean documents MeCab-marked where
            # Spark draws them (executors); here 2 processes, timed apart and kept for later runs
            marked_path = OUT / f"marked-{args.mb}mb-seed{args.seed}.jsonl"
            if marked_path.exists():
                marked_info = json.loads(marked_path.with_suffix(".json").read_text())
                texts = [orjson.loads(line) for line in open(marked_path, "rb")]
            else:
                t0 = time.time()
                ko = [t for lang, t in train if lang == "ko"]
                it = iter(mark_parallel(ko))
                texts = [next(it) if lang == "ko" else t for lang, t in train]
                marked_info = {"mecab_s": time.time() - t0, "mecab_bytes": sum(len(t.encode()) for t in ko)}
                with open(marked_path, "wb") as fh:
                    fh.writelines(orjson.dumps(t) + b"\n" for t in texts)
                marked_path.with_suffix(".json").write_text(json.dumps(marked_info))
            print(f"load average {os.getloadavg()}", flush=True)
            results["marked"] = {**bench_marked(texts, args.vocab, held), **marked_info}
            del texts
            print(f"moru trainer on the marked sample: {results['marked']}", flush=True)
            results_path.write_text(json.dumps(results, indent=2))
        if args.only in (None, "hf") and not args.direct:
            print(f"load average {os.getloadavg()}", flush=True)
            results["hf"] = bench_hf([], args.vocab, held, docs=train)
            results["mecab_s"] = 0.0  # inside train_s (phases.mecab_s)
            print(f"HF BPE (word-count table, MeCab on distinct chunks): {results['hf']}", flush=True)
            results_path.write_text(json.dumps(results, indent=2))
        if args.only in (None, "hf") and args.direct:
            t0 = time.time()
            ko = [t for lang, t in train if lang == "ko"]
            marked = iter(mark_parallel(ko))
            texts = [next(marked) if lang == "ko" else t for lang, t in train]
            results["mecab_s"] = time.time() - t0
            results["mecab_bytes"] = sum(len(t.encode()) for t in ko)
            print(f"MeCab marking: {results['mecab_bytes'] / 1e6:,.0f} MB Korean in {results['mecab_s']:.0f} s",
                  flush=True)  # fmt: skip
            results["hf"] = bench_hf(texts, args.vocab, held)
            print(f"HF BPE: {results['hf']}", flush=True)
            results_path.write_text(json.dumps(results, indent=2))
        if args.only in (None, "spm"):
            print(f"load average {os.getloadavg()}", flush=True)
            results["spm"] = bench_spm([t for _, t in train], args.vocab, held)
            results["spm"]["load_avg"] = os.getloadavg()
            print(f"SentencePiece BPE: {results['spm']}", flush=True)
            results_path.write_text(json.dumps(results, indent=2))
    if results:
        print(table(results, args))
    if args.steer:
        print(steer_on_real(args))
    elif args.ko_train or args.en_train:
        print(compression(args))
    return 0


def table(r: dict, args) -> str:
    lines = [f"tokenizer training: {r.get('train_bytes', 0) / 1e6:,.0f} MB, vocabulary {args.vocab:,}, "
             f"{os.cpu_count()} cores", "",
             "| trainer | MeCab marking s | training s | total s | vocabulary | encode MB/s | encode tokens/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    word_table = "phases" in r.get("hf", {}) and "mecab_s" in r["hf"]["phases"]
    names = {
        "marked": "moru trainer on the MeCab-marked sample (`bbpe.train`; MeCab per document, as Spark's sample step)",
        "hf": "moru from raw documents (chunks, MeCab on distinct Korean chunks, word table, BPE: `bbpe.train_raw`)"
        if word_table
        else "moru (HF tokenizers BPE, MeCab-marked Korean)",
        "spm": "SentencePiece BPE",
    }
    for key, name in names.items():
        if key not in r:
            continue
        x = r[key]
        mecab = x.get("mecab_s", 0) if key == "marked" else r.get("mecab_s", 0) if key == "hf" else 0
        train = x["train_s"]
        if key == "hf" and word_table:  # MeCab runs inside train_raw: shown apart, counted once
            mecab, train = x["phases"]["mecab_s"], x["train_s"] - x["phases"]["mecab_s"]
        lines.append(
            f"| {name} | {mecab:.0f} | {train:.0f} | {train + mecab:.0f} | {x['vocab']:,} | "
            f"{r['encode_bytes'] / 1e6 / x['enc_s']:.1f} | {x['enc_tokens'] / x['enc_s']:,.0f} |"
        )
    for key in ("marked", "hf"):
        if "phases" in r.get(key, {}):
            ph = r[key]["phases"]
            lines += ["", f"moru's phases, {key} (s): " + ", ".join(
                f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in ph.items())]  # fmt: skip
    if "spm" in r:
        spm = r["spm"]["train_s"]
        lines.append("")
        if "hf" in r:
            total = r["hf"]["train_s"] + r.get("mecab_s", 0)
            lines.append(f"from raw documents, MeCab included (2 cores): SentencePiece / moru = {spm / total:.2f}x")
            lines.append(
                f"encode tokens/s: moru / SentencePiece = "
                f"{(r['hf']['enc_tokens'] / r['hf']['enc_s']) / (r['spm']['enc_tokens'] / r['spm']['enc_s']):.2f}x"
            )
        if "marked" in r:
            lines.append(
                f"training on the same sample (moru's trainer on its MeCab-marked form): SentencePiece / moru = "
                f"{spm / r['marked']['train_s']:.2f}x"
            )
    return "\n".join(lines)


def compression(args) -> str:
    """Train moru's tokenizer (MeCab-marked Korean) and SentencePiece BPE on the real training files at
    ``--real-vocab`` and compare them with the fetched baselines on the real held-out files."""
    from tokenizer import baselines, bbpe, evaluate, hf
    from tokenizer.config import BaselineConfig, TokenizerConfig

    out = OUT / "real"
    out.mkdir(parents=True, exist_ok=True)
    train = [t for f in [*args.ko_train, *args.en_train] for t in _read_any(Path(f), None)]
    ko_train = sum(len(t.encode()) for f in args.ko_train for t in _read_any(Path(f), None))
    cfg = TokenizerConfig(vocab_size=args.real_vocab)
    t0 = time.time()
    tok = bbpe.train(mark_parallel(train), cfg, length=len(train))
    seconds = time.time() - t0
    info = {"train_bytes": sum(len(t.encode()) for t in train), "korean_train_bytes": ko_train,
            "vocab": tok.get_vocab_size(), "split": bbpe.vocab_split(tok).as_dict(), "seconds": seconds}  # fmt: skip
    hf.save(tok, cfg, out / "moru-real", info)
    counters = {"moru (released)": evaluate.hf_counter(tok), "moru (MeCab at encode)": evaluate.mecab_counter(tok)}
    spm_model = _train_spm(train, args.real_vocab, out / "spm-real")
    counters["SentencePiece BPE (same text)"] = evaluate.load_baseline(BaselineConfig(name="s", path=str(spm_model)))
    for name, (path, kind) in baselines.shipped().items():
        counters[name] = evaluate.load_baseline(BaselineConfig(name=name, path=str(path), kind=kind))
    sets = [(Path(f).name.removesuffix(".gz"), lang, _read_any(Path(f))) for lang, fs in (("ko", args.ko_text),
            ("en", args.en_text)) for f in fs]  # fmt: skip
    rows = evaluate.measure(counters, sets)
    paths = evaluate.write(
        rows, out / "compression", title=f"Compression on real held-out text (moru: {args.real_vocab:,} tokens)"
    )
    (out / "train_info.json").write_text(json.dumps(info, indent=2))
    head = (
        f"real-text tokenizers: {info['train_bytes'] / 1e6:.1f} MB of training text ({ko_train / 1e6:.1f} MB Korean), "
        f"moru {info['vocab']:,} tokens (Korean token share {info['split']['korean_share']:.3f}) in {seconds:.0f} s"
    )
    return head + "\n\n" + evaluate.markdown_table(rows) + f"\n\nchart: {paths['png']}"


def steer_on_real(args) -> str:
    """`moru tokenizer train`'s code path on the real training files: a training_corpus Delta table made from
    them (lang from the flag they came with), then sampling, steering rounds and the final training."""
    from spark_jobs import tables
    from spark_jobs.session import SparkConfig, build_session
    from spark_jobs.tokenizer.train import run
    from tokenizer.config import TokenizerConfig

    workdir = str(OUT / "real-steer")
    spark = build_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="6g"))
    rows = []
    for lang, files in (("ko", args.ko_train), ("en", args.en_train)):
        for f in files:
            for i, t in enumerate(_read_any(Path(f), None)):
                rows.append((f"{Path(f).name}:{i}", "bench", lang, None, t, len(t), len(t.encode()), len(t.split()),
                             str(len(rows)), None, False, "bench"))  # fmt: skip
    spark.createDataFrame(rows, schema=tables.TRAINING_CORPUS.schema).write.format("delta").mode("overwrite").save(
        tables.table_uri(workdir, tables.TRAINING_CORPUS)
    )
    total = sum(r[6] for r in rows)
    cfg = TokenizerConfig(
        vocab_size=args.real_vocab,
        sample={"bytes": int(total * 0.6), "holdout_fraction": 0.05},
        steer={"rounds": 3, "sample_bytes": int(total * 0.6), "tolerance": 0.02},
    )
    report = run(spark, workdir, cfg, progress=lambda m: print(m, flush=True))
    lines = ["| round | text bytes | Korean byte share | Hangul tokens | Latin tokens | Korean token share |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in [*report["calibration"], report["final"]]:
        lines.append(f"| {r['round']} | {sum(r['bytes'].values()):,} | {r['korean_byte_share']:.3f} | "
                     f"{r['hangul_tokens']:,} | {r['latin_tokens']:,} | {r['korean_token_share']:.3f} |")  # fmt: skip
    spark.stop()
    return "\n".join(lines) + f"\n\nfinal: {report['vocab_size']:,} tokens, Korean share {report['korean_token_share']}"


def _train_spm(texts: list[str], vocab: int, prefix: Path) -> Path:
    import sentencepiece as spm

    path = prefix.with_suffix(".txt")
    path.write_text("\n".join(line for t in texts for line in t.split("\n") if line.strip()) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(path), model_prefix=str(prefix), vocab_size=vocab, model_type="bpe", character_coverage=0.9995,
        byte_fallback=True, num_threads=os.cpu_count(), max_sentence_length=1 << 20, minloglevel=1,
    )  # fmt: skip
    return prefix.with_suffix(".model")


def _read_any(path: Path, max_chars: int | None = 5_000_000) -> list[str]:
    """KorQuAD's SQuAD JSON (contexts), or what tokenizer.evaluate.read_texts reads (.txt[.gz] blocks, .jsonl[.gz])."""
    from tokenizer import evaluate

    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "data" in data:
            return list(dict.fromkeys(p["context"] for a in data["data"] for p in a["paragraphs"]))
    return evaluate.read_texts(path, max_chars=max_chars)


if __name__ == "__main__":
    sys.exit(main())
