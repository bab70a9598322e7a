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
) -> Tokenizer:
    """Train on ``texts`` (MeCab-marked where ``cfg.mecab``; marks in unmarked text are simply removed) and
    return the release tokenizer: special tokens first (ids 0, 1, …), then the 256 bytes, then merges.

    With the default split pattern the trainer learns from the word-frequency table of the distinct chunks
    (:mod:`tokenizer.wordcount`): the same words and counts as :func:`train_direct`, hence the same merges, in a
    fraction of the time. ``vocab_size`` overrides ``cfg.vocab_size`` (SuperBPE's first stage)."""
    if cfg.pattern != DEFAULT_PATTERN:  # chunking at spaces is proven for the default pattern only
        return train_direct(texts, cfg, length=length, show_progress=show_progress, vocab_size=vocab_size)
    return train_chunks(wordcount.count_chunks(texts), cfg, show_progress=show_progress, vocab_size=vocab_size)


def train_chunks(
    chunk_counts: dict[str, int], cfg: TokenizerConfig, *, show_progress: bool = False, vocab_size: int | None = None
) -> Tokenizer:
    """Train from distinct (MeCab-marked) chunks and their counts (:func:`tokenizer.wordcount.count_chunks`)."""
    pre = training_pre_tokenizer(cfg.pattern)
    words = wordcount.word_counts(chunk_counts, pre, cfg.pattern == DEFAULT_PATTERN)
    return train_words(words, cfg, show_progress=show_progress, vocab_size=vocab_size)


def train_words(
    words: dict[str, int], cfg: TokenizerConfig, *, show_progress: bool = False, vocab_size: int | None = None
) -> Tokenizer:
    """Train from a table of byte-level words and counts: the trainer sees each word ``count`` times under a
    whitespace split (no byte-level character is whitespace), so its word table is exactly ``words``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(wordcount.feed(words), _trainer(cfg, show_progress, vocab_size))
    return _released(tok, cfg.pattern)


def train_raw(
    docs: Iterable[tuple[str, str]],
    cfg: TokenizerConfig,
    *,
    show_progress: bool = False,
    workers: int = 1,
    timings: dict | None = None,
) -> Tokenizer:
    """Train on raw documents ``(text, group)``: the chunks are counted first and only the distinct chunks of
    Korean documents (group ``ko``) are MeCab-marked (when ``cfg.mecab``), many per MeCab call, instead of every
    document (:func:`tokenizer.wordcount.mark_chunks`: MeCab sees a chunk beside other chunks, not in its
    sentence, so a few boundaries differ from per-document marking)."""
    import time
    from collections import Counter

    timings = {} if timings is None else timings
    t0 = time.time()
    ko: list[str] = []
    other: list[str] = []
    for text, group in docs:
        (ko if group == "ko" else other).append(text)
    counts = wordcount.count_chunks(other, keep_marks=False)
    ko_counts = wordcount.count_chunks(ko, keep_marks=False)
    timings["count_chunks_s"] = time.time() - t0
    timings["distinct_chunks"] = len(counts) + len(ko_counts)
    t0 = time.time()
    if cfg.mecab:
        keys = list(ko_counts)
        marked = wordcount.mark_chunks(keys, workers=workers)
        ko_counts = Counter(dict(zip(marked, (ko_counts[k] for k in keys), strict=True)))
        timings["mecab_chunk_bytes"] = sum(len(k.encode()) for k in keys)
    counts.update(ko_counts)
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
