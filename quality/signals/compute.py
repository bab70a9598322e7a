"""All signals of one document, in one fixed column order, and the batch form the Spark job maps."""

from __future__ import annotations

import re

from quality.korean import SYMBOL_TAGS, tagger
from quality.languages import japanese_words, spaced_words
from quality.signals.c4 import c4_signals
from quality.signals.fineweb import fineweb_signals
from quality.signals.gopher import gopher_quality, gopher_repetition
from quality.signals.korean import korean_signals

# Bump when a signal's definition changes: every document's signals are recomputed.
SIGNALS_VERSION = "1"
KOREAN_LANGS = frozenset({"ko", "ko+en"})


# MeCab prints "first tag<TAB>surface" per morpheme (the "+"-joined tags of a compound analysis
# start with the first one); one regex then keeps the surfaces whose first tag is not a
# punctuation/symbol tag, without a Python loop over morphemes. Same morphemes as
# quality.korean.morphemes(text), filtered the same way.
_WORDS_FORMAT = r" --node-format=%f[0]\\t%m\\n --unk-format=%f[0]\\t%m\\n --eos-format="
_WORD_SURFACES = re.compile(r"^(?!(?:" + "|".join(sorted(SYMBOL_TAGS)) + r")[+\t])[^\t\n]*\t([^\n]*)$", re.MULTILINE)


def words_of(text: str, lang: str) -> list[str]:
    """Whitespace tokens, or for Korean MeCab morphemes without punctuation/symbols (eojeol glue
    particles and endings to stems; morphemes make Gopher's word rules mean the same thing); for
    Japanese (``ja``, only labelled when configured) UniDic morphemes without punctuation/symbols;
    for German and Vietnamese whitespace tokens without their leading/trailing punctuation
    (:mod:`quality.languages`)."""
    if lang in KOREAN_LANGS:
        return _WORD_SURFACES.findall(tagger(_WORDS_FORMAT).parse(text))
    if lang == "ja":
        return japanese_words(text)
    if lang in SPACED_LANGS:
        return spaced_words(text)
    return text.split()


SPACED_LANGS = frozenset({"de", "vi"})


def document_signals(text: str, lang: str) -> dict[str, float]:
    words = words_of(text, lang)
    out = gopher_quality(text, words, lang)
    out.update(gopher_repetition(text, words))
    out.update(c4_signals(text))
    out.update(fineweb_signals(text, len(words)))
    out.update(korean_signals(text))
    return out


SIGNAL_NAMES: tuple[str, ...] = tuple(document_signals("The cat sat. 고양이가 앉았다.", "en"))


def signals_batch(texts: list[str], langs: list[str]) -> dict[str, list[float]]:
    cols: dict[str, list[float]] = {name: [] for name in SIGNAL_NAMES}
    for text, lang in zip(texts, langs, strict=True):
        values = document_signals(text, lang)
        for name in SIGNAL_NAMES:
            cols[name].append(values[name])
    return cols
