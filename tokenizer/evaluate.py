"""``moru tokenizer eval``: compression of held-out Korean and English text, trained tokenizer vs baselines.

Measures (per tokenizer and held-out set, over the whole set):

- tokens per word: tokens / whitespace-separated words (eojeol for Korean), the EXAONE 3.0 report's
  measure (it reports 1.44 for English and 2.46 for Korean for its own tokenizer): lower is better. Japanese
  has no spaces: its words are UniDic short-unit morphemes without punctuation (``tokenizer.mecab.japanese_word_count``,
  the quality rules' words);
- characters per token (Unicode code points, whitespace included) and UTF-8 bytes per token: higher is better.

The trained tokenizer is measured as released (``tokenizer.json``, no MeCab) and with MeCab segmentation
at encode time, so the cost of the encode-time choice is visible.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from core import locations
from core.formats import (
    Listing,
    Problem,
    detect_compression,
    detect_format,
    filesystem_for,
    iter_records,
    list_files,
)
from tokenizer.config import BaselineConfig, EvalTextConfig

Counter_ = Callable[[list[str]], int]
NO_HELDOUT = "no held-out documents: the training run held none out and no other held-out text is configured"


@dataclass
class Row:
    tokenizer: str
    set: str
    lang: str
    docs: int
    words: int
    chars: int
    bytes: int
    tokens: int

    @property
    def tokens_per_word(self) -> float:
        return self.tokens / max(1, self.words)

    @property
    def chars_per_token(self) -> float:
        return self.chars / max(1, self.tokens)

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / max(1, self.tokens)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "tokens_per_word": round(self.tokens_per_word, 4),
            "chars_per_token": round(self.chars_per_token, 4),
            "bytes_per_token": round(self.bytes_per_token, 4),
        }


# -- token counters: one function per tokenizer kind, list of texts -> total tokens


def hf_counter(tok) -> Counter_:
    """A ``tokenizers.Tokenizer``; ``encode_batch`` runs on every core."""

    def count(texts: list[str]) -> int:
        return sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))

    return count


def mecab_counter(tok) -> Counter_:
    """The trained tokenizer with MeCab segmentation at encode time."""
    from tokenizer.bbpe import with_mecab_boundaries
    from tokenizer.mecab import mark_boundaries

    marked_tok = with_mecab_boundaries(tok)

    def count(texts: list[str]) -> int:
        marked = [mark_boundaries(t) for t in texts]
        return sum(len(e.ids) for e in marked_tok.encode_batch(marked, add_special_tokens=False))

    return count


def tiktoken_counter(enc) -> Counter_:
    def count(texts: list[str]) -> int:
        return sum(len(ids) for ids in enc.encode_ordinary_batch(texts))

    return count


def sentencepiece_counter(sp) -> Counter_:
    def count(texts: list[str]) -> int:
        return sum(len(ids) for ids in sp.encode(texts))

    return count


def load_baseline(b: BaselineConfig) -> Counter_:
    """A counter for a baseline file; the kind from ``b.kind`` or the file name."""
    path = Path(b.path)
    if not path.exists():
        raise FileNotFoundError(f"baseline {b.name!r}: no such file or folder {path}")
    kind = b.kind
    if kind == "auto":
        if path.is_dir() or path.suffix == ".json":
            kind = "hf"
        elif path.suffix == ".tiktoken":
            kind = "tiktoken"
        elif path.suffix == ".model":
            kind = "sentencepiece"
        else:
            raise ValueError(
                f"baseline {b.name!r}: cannot tell the kind of {path} (a tokenizer.json or its folder, a .tiktoken "
                "file or a SentencePiece .model); set kind"
            )
    if kind == "hf":
        from tokenizer.hf import load

        return hf_counter(load(path))
    if kind == "tiktoken":
        from tokenizer.baselines import load_tiktoken

        return tiktoken_counter(load_tiktoken(path, b.pattern))
    import sentencepiece as spm

    return sentencepiece_counter(spm.SentencePieceProcessor(model_file=str(path)))


# -- held-out text


def read_texts(path: str | Path, field: str = "text", max_chars: int | None = None) -> list[str]:
    """Documents of held-out text, at most ``max_chars`` characters: plain text (``.txt``, or any name that does
    not tell a format; documents are separated by blank or whitespace-only lines), JSON lines (``.jsonl``,
    ``.json``: ``field``), CSV/TSV (column ``field``), Parquet (``field``), each possibly compressed (``.gz``,
    ``.zst``, ...), or a folder or glob of such files (hidden ``_x`` / ``.x`` names skipped). Local or remote."""
    listing = _listing(str(path))
    remote = filesystem_for(str(path))[0] if listing.remote else None
    out: list[str] = []
    total = 0
    for f in listing.files:
        for text in _read_one(f.path, f.relpath, field, remote):
            if not text:
                continue
            if max_chars is not None and total + len(text) > max_chars:
                if not out:
                    out.append(text[:max_chars])
                return out
            out.append(text)
            total += len(text)
    return out


def _listing(path: str) -> Listing:
    try:
        return list_files(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"held-out text not found: {path}") from None


_PROBLEM_WORDS = {"invalid_json": "is not JSON", "invalid_utf8": "is not UTF-8", "corrupt_record": "is broken"}


def _read_one(path: str, name: str, field: str, remote) -> Iterable[str]:
    """The texts of one listed file (``remote``: the pyarrow file system it is on, None for a local file)."""
    fmt = detect_format(name) or "text"
    if fmt == "warc":
        raise ValueError(f"{path}: held-out text cannot be read from WARC; give text, JSON lines, CSV or Parquet")
    options: dict = {"split": "blocks"} if fmt == "text" else {"columns": [field]} if fmt == "parquet" else {}
    unit = {"text": "block", "parquet": "row", "csv": "row", "tsv": "row"}.get(fmt, "line")
    fh = remote.open_input_file(path) if remote is not None else open(path, "rb")
    with fh:
        for item in iter_records(fmt, fh, detect_compression(name), **options):
            where = f"{path}: {unit} {item.index + 1}"
            if isinstance(item, Problem):
                if item.kind == "blank_line":
                    continue
                raise ValueError(f"{where} {_PROBLEM_WORDS.get(item.kind, 'cannot be read')} ({item.detail})")
            if fmt == "text":
                yield item.value
                continue
            for rec in item.value if fmt == "json" and isinstance(item.value, list) else [item.value]:
                value = rec.get(field) if isinstance(rec, dict) else None
                if value is None and fmt == "parquet":
                    continue  # a null in a column
                if not isinstance(value, str):
                    raise ValueError(f"{where} has no string field {field!r}")
                yield value


def heldout_sets(heldout_uri: str, max_chars: int) -> list[tuple[str, str, list[str]]]:
    """The training run's held-out documents, one set per language: (name, lang, texts)."""
    import pyarrow.dataset as ds

    from core import storage

    local = storage.local_path(heldout_uri)
    source = str(local) if local is not None else heldout_uri
    table = ds.dataset(source, format="parquet").to_table(columns=["group", "text"])
    sets = []
    groups = table.column("group").to_pylist()
    for lang in ["ko", "en", *sorted(set(groups) - {"ko", "en"})]:  # then the other sampled languages
        texts, total = [], 0
        for g, t in zip(groups, table.column("text").to_pylist(), strict=True):
            if g == lang and total < max_chars:
                texts.append(t[: max_chars - total])
                total += len(texts[-1])
        if texts:
            sets.append((f"heldout-{lang}", lang, texts))
    return sets


def configured_sets(texts: list[EvalTextConfig], max_chars: int) -> list[tuple[str, str, list[str]]]:
    return [(t.name, t.lang, read_texts(t.path, t.field, max_chars)) for t in texts]


# -- measuring


def count_words(text: str, lang: str) -> int:
    """Words of ``text`` for tokens per word: UniDic morphemes for Japanese, whitespace-separated otherwise."""
    if lang == "ja":
        from tokenizer.mecab import japanese_word_count

        return japanese_word_count(text)
    return len(text.split())


def measure(
    counters: dict[str, Counter_],
    sets: list[tuple[str, str, list[str]]],
    *,
    batch: int = 256,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[Row]:
    rows = []
    for set_name, lang, texts in sets:
        words = sum(count_words(t, lang) for t in texts)
        chars = sum(len(t) for t in texts)
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        for name, count in counters.items():
            progress(f"{name} on {set_name} ({len(texts):,} documents, {chars:,} characters)")
            tokens = sum(count(texts[i : i + batch]) for i in range(0, len(texts), batch))
            rows.append(Row(name, set_name, lang, len(texts), words, chars, nbytes, tokens))
    return rows


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| tokenizer | set | lang | docs | words | tokens | tokens / word | chars / token | bytes / token |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if not rows:
        return "\n".join([*lines, "", NO_HELDOUT])
    for r in rows:
        lines.append(
            f"| {r.tokenizer} | {r.set} | {r.lang} | {r.docs:,} | {r.words:,} | {r.tokens:,} | "
            f"{r.tokens_per_word:.3f} | {r.chars_per_token:.3f} | {r.bytes_per_token:.3f} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: str | Path, title: str = "Tokenizer compression on held-out text") -> Path:
    """Grouped bars: tokens per word (left) and characters per token (right), one group per held-out set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tokenizers = list(dict.fromkeys(r.tokenizer for r in rows))
    sets = list(dict.fromkeys(r.set for r in rows))
    by = {(r.tokenizer, r.set): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 2.2 * len(sets) + 5), 4.8))
    width = 0.8 / max(1, len(tokenizers))
    x = np.arange(len(sets))
    for ax, metric, label in (
        (axes[0], "tokens_per_word", "tokens per word (lower is better)"),
        (axes[1], "chars_per_token", "characters per token (higher is better)"),
    ):
        for i, name in enumerate(tokenizers):
            values = [getattr(by[(name, s)], metric) if (name, s) in by else 0 for s in sets]
            bars = ax.bar(x + (i - (len(tokenizers) - 1) / 2) * width, values, width, label=name)
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        ax.set_xticks(x, sets, fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        if not rows:
            ax.text(0.5, 0.5, "no held-out documents", ha="center", va="center", transform=ax.transAxes)
    if rows:
        axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write(rows: list[Row], out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compression.json").write_text(json.dumps([r.as_dict() for r in rows], indent=2), encoding="utf-8")
    (out / "compression.md").write_text(markdown_table(rows) + "\n", encoding="utf-8")
    png = plot(rows, out / "compression.png", **({"title": title} if title else {}))
    return {"json": out / "compression.json", "markdown": out / "compression.md", "png": png}


def run(
    workdir: str,
    cfg,
    *,
    tokenizer_dir: str | Path | None = None,
    baselines: list[BaselineConfig] = (),
    texts: list[EvalTextConfig] = (),
    out_dir: str | Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Row], dict[str, Path]]:
    """Measure the trained tokenizer (as released and with MeCab at encode time), the configured and given
    baselines and the fetched ones, on the run's held-out documents and the configured/given sets; write
    compression.{json,md,png} to ``out_dir`` (default WORKDIR/tokenizer/eval)."""
    from core import storage
    from tokenizer import baselines as shipped_baselines
    from tokenizer.config import output_dir
    from tokenizer.hf import load

    tok_dir = Path(tokenizer_dir) if tokenizer_dir else output_dir(cfg, workdir)
    tok = load(tok_dir)
    released, with_mecab = hf_counter(tok), mecab_counter(tok)
    counters: dict[str, Counter_] = {}
    if cfg.encode_mecab:
        counters["moru + MeCab at encode"] = with_mecab
        counters["moru"] = released
    else:
        counters["moru"] = released
        counters["moru + MeCab at encode"] = with_mecab
    for b in [*cfg.eval.baselines, *baselines]:
        if b.name in counters:
            raise ValueError(f"two tokenizers are named {b.name!r}")
        counters[b.name] = load_baseline(b)
    if cfg.eval.shipped_baselines:
        for name, (path, kind) in shipped_baselines.shipped().items():
            counters.setdefault(name, load_baseline(BaselineConfig(name=name, path=str(path), kind=kind)))
    sets = []
    heldout_uri = locations.tokenizer_heldout(workdir)
    local = storage.local_path(heldout_uri)
    trained = local is None or local.exists()
    if trained:
        sets += heldout_sets(heldout_uri, cfg.eval.max_chars)
    sets += configured_sets([*cfg.eval.texts, *texts], cfg.eval.max_chars)
    sets = [s for s in sets if s[2]]
    if not sets and not trained:
        raise FileNotFoundError(
            f"no held-out text: run `moru tokenizer train` first (it writes {heldout_uri}) or give tokenizer.eval.texts"
        )
    if not sets:  # a corpus so small that no document fell in the held-out split
        progress(NO_HELDOUT)
    rows = measure(counters, sets, progress=progress)
    out = Path(out_dir) if out_dir else output_dir(cfg, workdir).parent / "eval"
    return rows, write(rows, out)
