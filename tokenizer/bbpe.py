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
from functools import lru_cache

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from tokenizer.config import TokenizerConfig
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


def train(
    texts: Iterable[str], cfg: TokenizerConfig, *, length: int | None = None, show_progress: bool = False
) -> Tokenizer:
    """Train on ``texts`` (MeCab-marked where ``cfg.mecab``; marks in unmarked text are simply removed) and
    return the release tokenizer: special tokens first (ids 0, 1, …), then the 256 bytes, then merges."""
    tok = new_tokenizer(cfg.pattern, training=True)
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=cfg.all_special_tokens(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=cfg.max_token_length,
        show_progress=show_progress,
    )
    tok.train_from_iterator(texts, trainer, length=length)
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


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet back to bytes: printable Latin-1 bytes stand for themselves, the other
    68 bytes are shifted to U+0100 onward, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shifted)
            shifted += 1
    return {c: b for b, c in chars.items()}


def token_bytes(token: str) -> bytes:
    table = byte_decoder()
    return bytes(table[c] for c in token)


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
