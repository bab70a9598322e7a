"""The byte-level BPE itself: pre-tokenizers for training and for release, training with HF ``tokenizers``,
the vocabulary's Hangul/Latin split.

Training and release differ in one step only. At training time the pre-tokenizer first splits at the
MeCab boundary marks (:data:`tokenizer.mecab.MARK`, dropped), then by the split pattern, then maps bytes
to GPT-2's printable alphabet; merges are therefore learned inside morphemes only. The released
``tokenizer.json`` has the same pattern and byte mapping without the mark step, so it encodes any text
with nothing but ``tokenizers`` (no MeCab): this is what EXAONE's released tokenizer does too (its
pre-tokenizer is a digit rule + GPT-2's pattern, byte level; see the README's Tokenizer section).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from tokenizer import wordcount
from tokenizer.bytelevel import byte_decoder, byte_level, token_bytes  # noqa: F401 - re-exported
from tokenizer.config import DEFAULT_PATTERN, TokenizerConfig
from tokenizer.mecab import MARK


def release_pre_tokenizer(pattern: str) -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def training_pre_tokenizer(pattern: str) -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(MARK, behavior="removed"),
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def new_tokenizer(pattern: str, training: bool) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = training_pre_tokenizer(pattern) if training else release_pre_tokenizer(pattern)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _trainer(cfg: TokenizerConfig, show_progress: bool, vocab_size: int | None = None) -> trainers.BpeTrainer:
    return trainers.BpeTrainer(
        vocab_size=vocab_size or cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=cfg.all_special_tokens(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=cfg.max_token_length,
        show_progress=show_progress,
    )


def _released(tok: Tokenizer, pattern: str) -> Tokenizer:
    tok.pre_tokenizer = release_pre_tokenizer(pattern)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train(
    texts: Iterable[str],
    cfg: TokenizerConfig,
    *,
    length: int | None = None,
    show_progress: bool = False,
    vocab_size: int | None = None,
    timings: dict | None = None,
) -> Tokenizer:
    """Train on ``texts`` (MeCab-marked where ``cfg.mecab``; marks in unmarked text are simply removed) and
    return the release tokenizer: special tokens first (ids 0, 1, …), then the 256 bytes, then merges.

    With the default split pattern the trainer learns from the word-frequency table of the distinct chunks
    (:mod:`tokenizer.wordcount`): the same words and counts as :func:`train_direct`, hence the same merges, in a
    fraction of the time. ``vocab_size`` overrides ``cfg.vocab_size`` (SuperBPE's first stage)."""
    if cfg.pattern != DEFAULT_PATTERN:  # chunking at spaces is proven for the default pattern only
        return train_direct(texts, cfg, length=length, show_progress=show_progress, vocab_size=vocab_size)
    nat = native()
    if nat is not None:
        import time

        t0 = time.time()
        table = nat.ChunkTable()
        table.add(texts if isinstance(texts, list) else list(texts), keep_marks=True)
        if timings is not None:
            timings["count_chunks_s"] = time.time() - t0
            timings["distinct_chunks"] = table.stats()[0]
        return _train_table(table, cfg, show_progress, vocab_size, timings)
    return train_chunks(wordcount.count_chunks(texts), cfg, show_progress=show_progress, vocab_size=vocab_size)


def train_chunks(
    chunk_counts: dict[str, int], cfg: TokenizerConfig, *, show_progress: bool = False, vocab_size: int | None = None
) -> Tokenizer:
    """Train from distinct (MeCab-marked) chunks and their counts (:func:`tokenizer.wordcount.count_chunks`)."""
    pre = training_pre_tokenizer(cfg.pattern)
    words = wordcount.word_counts(chunk_counts, pre, cfg.pattern == DEFAULT_PATTERN)
    return train_words(words, cfg, show_progress=show_progress, vocab_size=vocab_size)


def native():
    """The compiled helper ``moru_bpe`` (tokenizer/native: chunk counting, word table and the ``tokenizers``
    crate's ``BpeTrainer::do_train`` on word counts), or None when it is not built or ``MORU_NATIVE_BPE=0``:
    then the pure-Python path runs, which trains the same tokenizer (tests/tokenizer/test_native.py), slower."""
    if os.environ.get("MORU_NATIVE_BPE", "1") == "0":
        return None
    try:
        import moru_bpe
    except ImportError:
        return None
    return moru_bpe


def from_model(model_json: str, special_tokens: list[str]) -> Tokenizer:
    """A tokenizer around a trained BPE model's JSON, with ``special_tokens`` added as the Python binding's
    ``train_from_iterator`` adds the trainer's (they are the model's first ids)."""
    tok = Tokenizer.from_str(
        json.dumps(
            {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
             "pre_tokenizer": None, "post_processor": None, "decoder": None, "model": json.loads(model_json)}
        )
    )  # fmt: skip
    tok.add_special_tokens(special_tokens)
    return tok


def train_word_table(words: dict[str, int], trainer: trainers.BpeTrainer) -> Tokenizer:
    """HF's BPE trainer on a table of words (no whitespace inside) and counts. Natively: the ``tokenizers`` crate's
    ``do_train`` on the table. Otherwise the Python binding sees each word ``count`` times under a whitespace
    split, so its word table is exactly ``words``. Either way the merges are those of feeding the texts."""
    nat = native()
    if nat is not None:
        specials = [t.content for t in trainer.special_tokens]
        return from_model(nat.train_words(words, trainer.__getstate__().decode()), specials)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(wordcount.feed(words), trainer)
    return tok


def train_words(
    words: dict[str, int], cfg: TokenizerConfig, *, show_progress: bool = False, vocab_size: int | None = None
) -> Tokenizer:
    """Train from a table of byte-level words and counts (:func:`train_word_table`)."""
    tok = train_word_table(words, _trainer(cfg, show_progress, vocab_size))
    return _released(tok, cfg.pattern)


def _train_table(table, cfg: TokenizerConfig, show_progress: bool, vocab_size: int | None, timings=None) -> Tokenizer:
    pre = training_pre_tokenizer(cfg.pattern).__getstate__().decode()
    trainer = _trainer(cfg, show_progress, vocab_size).__getstate__().decode()
    model, figures = table.train(pre, trainer, cfg.pattern == DEFAULT_PATTERN)
    if timings is not None:
        timings["distinct_words"] = int(figures["distinct_words"])
        timings["word_occurrences"] = int(figures["word_occurrences"])
        timings["word_table_s"] = figures["word_table_s"]
        timings["bpe_merges_s"] = figures["train_s"]
    return _released(from_model(model, cfg.all_special_tokens()), cfg.pattern)


def train_raw(
    docs: Iterable[tuple[str, str]],
    cfg: TokenizerConfig,
    *,
    show_progress: bool = False,
    workers: int = 1,
    timings: dict | None = None,
) -> Tokenizer:
    """Train on raw documents ``(text, group)``: the chunks are counted first and only the distinct chunks of
    documents of ``cfg.mecab_langs`` (groups ``ko``, ``ja``) are MeCab-marked (when ``cfg.mecab``; mecab-ko-dic,
    UniDic-lite), many per MeCab call, instead of every document (:func:`tokenizer.wordcount.mark_chunks`, or
    sorted batches with ``moru_bpe``: MeCab sees a chunk beside other chunks, not in its sentence, so a few
    boundaries differ from per-document marking)."""
    import time
    from collections import Counter

    timings = {} if timings is None else timings
    t0 = time.time()
    marked = cfg.marked_langs()
    by_group: dict[str, list[str]] = {g: [] for g in ("", *marked)}
    for text, group in docs:
        by_group[group if group in marked else ""].append(text)
    nat = native() if cfg.pattern == DEFAULT_PATTERN else None
    if nat is not None:  # the same steps in moru_bpe (word table and training timed together)
        table = nat.ChunkTable()
        for g in list(by_group):
            table.add(by_group.pop(g), mark=g or None)
        timings["count_chunks_s"] = time.time() - t0
        timings["distinct_chunks"] = table.stats()[0]
        t0 = time.time()
        timings["mecab_chunk_bytes"] = 0
        for g in marked:
            batches = table.pending_batches(g)
            table.resolve_batches(g, wordcount.mark_batches(batches, lang=g, workers=workers))
            timings["mecab_chunk_bytes"] += sum(len(b.encode()) for b in batches)
        timings["mecab_s"] = time.time() - t0
        t0 = time.time()
        tok = _train_table(table, cfg, show_progress, None, timings)
        timings["bpe_s"] = time.time() - t0  # word table + trainer (both also timed on their own)
        return tok
    counts = wordcount.count_chunks(by_group.pop(""), keep_marks=False)
    to_mark = {g: wordcount.count_chunks(texts, keep_marks=False) for g, texts in by_group.items()}
    timings["count_chunks_s"] = time.time() - t0
    timings["distinct_chunks"] = len(counts) + sum(len(c) for c in to_mark.values())
    t0 = time.time()
    timings["mecab_chunk_bytes"] = 0
    for g, group_counts in to_mark.items():
        keys = list(group_counts)
        marked_keys = wordcount.mark_chunks(keys, workers=workers, lang=g)
        counts.update(Counter(dict(zip(marked_keys, (group_counts[k] for k in keys), strict=True))))
        timings["mecab_chunk_bytes"] += sum(len(k.encode()) for k in keys)
    timings["mecab_s"] = time.time() - t0
    t0 = time.time()
    pre = training_pre_tokenizer(cfg.pattern)
    words = wordcount.word_counts(counts, pre, cfg.pattern == DEFAULT_PATTERN)
    timings["word_table_s"] = time.time() - t0
    timings["distinct_words"] = len(words)
    timings["word_occurrences"] = sum(words.values())
    t0 = time.time()
    tok = train_words(words, cfg, show_progress=show_progress)
    timings["bpe_s"] = time.time() - t0
    return tok


def train_direct(
    texts: Iterable[str],
    cfg: TokenizerConfig,
    *,
    length: int | None = None,
    show_progress: bool = False,
    vocab_size: int | None = None,
) -> Tokenizer:
    """The trainer fed the texts themselves (it pre-tokenizes every byte): moru's path before the word-count
    table, kept for non-default split patterns and as the reference the tests compare against."""
    tok = new_tokenizer(cfg.pattern, training=True)
    tok.train_from_iterator(texts, _trainer(cfg, show_progress, vocab_size), length=length)
    tok.pre_tokenizer = release_pre_tokenizer(cfg.pattern)
    return tok


def with_mecab_boundaries(tok: Tokenizer) -> Tokenizer:
    """A copy of ``tok`` that splits at MeCab marks before its pattern: encode
    ``mecab.mark_boundaries(text)`` with it to segment with MeCab at encode time (ids decode to the
    unmarked text, since marks are dropped before byte mapping)."""
    copy = Tokenizer.from_str(tok.to_str())
    pattern = pattern_of(tok)
    copy.pre_tokenizer = training_pre_tokenizer(pattern)
    return copy


def pattern_of(tok: Tokenizer) -> str:
    import json

    pre = json.loads(tok.to_str())["pre_tokenizer"]
    for p in pre.get("pretokenizers", [pre]):
        if p.get("type") == "Split" and "Regex" in p.get("pattern", {}):
            return p["pattern"]["Regex"]
    raise ValueError("tokenizer has no Split(Regex) pre-tokenizer")


_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")


@dataclass
class VocabSplit:
    """Learned tokens by script: a token is Hangul if its text has a Hangul letter, Latin if it has a Latin
    letter (both: counted in both and in ``mixed``); bytes, partial UTF-8 sequences, digits, punctuation
    and other scripts are ``other``. ``korean_share`` = hangul / (hangul + latin)."""

    hangul: int
    latin: int
    mixed: int
    other: int
    special: int

    @property
    def korean_share(self) -> float:
        return self.hangul / max(1, self.hangul + self.latin)

    def as_dict(self) -> dict:
        return {**asdict(self), "korean_share": round(self.korean_share, 4)}


def vocab_split(tok: Tokenizer) -> VocabSplit:
    specials = {t.content for t in tok.get_added_tokens_decoder().values()}
    hangul = latin = mixed = other = 0
    for token in tok.get_vocab(with_added_tokens=False):
        if token in specials:
            continue
        text = token_bytes(token).decode("utf-8", errors="ignore")
        h, la = bool(_HANGUL.search(text)), bool(_LATIN.search(text))
        hangul += h
        latin += la
        mixed += h and la
        other += not (h or la)
    return VocabSplit(hangul, latin, mixed, other, len(specials))
