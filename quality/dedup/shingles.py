"""Shingles (n-grams of text units) for MinHash.

The unit depends on the script, not on a language label, so that a near copy whose label flipped
(``ko`` ↔ ``ko+en``) still shares its shingles, and code-switched text gets both kinds:

- Latin, digits and other spaced scripts: words (runs of word characters), lowercased. English
  therefore gets word n-grams.
- Hangul, chosen by ``korean_units``:
  ``char``: every syllable is a unit and whitespace is ignored. Korean spacing is unreliable
  (``정책을 발표했다`` / ``정책을발표했다``), and character n-grams are blind to it.
  ``morpheme``: MeCab (mecab-ko-dic) morphemes of each eojeol (cached per eojeol); also blind
  to most re-spacing, at MeCab's cost.
  ``eojeol``: whitespace words, as most English-first tools do (kept to measure against).
- Han and kana (unspaced): every character is a unit.

A document with fewer than ``n`` units gets one shingle holding all of them, so short distinct
documents keep distinct signatures instead of all collapsing to the empty set's. A document with
no unit at all (only punctuation) has no shingle; the MinHash job leaves it out of fuzzy dedup
and says so.
"""

from __future__ import annotations

import re
from typing import Literal

KoreanUnits = Literal["char", "morpheme", "eojeol"]

_HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"  # syllables, jamo, compatibility jamo
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han

# one unit per Hangul/CJK character, or a run of other word characters
_UNITS_CHAR = re.compile(rf"[{_HANGUL}{_CJK}]|[^\W_{_HANGUL}{_CJK}]+")
# Hangul runs kept whole (eojeol-like), CJK per character, other words as runs
_UNITS_EOJEOL = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_HAS_HANGUL = re.compile(rf"[{_HANGUL}]")
_MORPH_CACHE_LIMIT = 500_000
_morph_cache: dict[str, list[str]] = {}


def units(text: str, korean_units: KoreanUnits = "char") -> list[str]:
    text = text.lower()
    if korean_units == "char":
        return _UNITS_CHAR.findall(text)
    if korean_units == "eojeol":
        return _UNITS_EOJEOL.findall(text)
    if korean_units == "morpheme":
        out: list[str] = []
        for word in text.split():
            if _HAS_HANGUL.search(word):
                out.extend(_morphemes(word))
            else:
                out.extend(_UNITS_EOJEOL.findall(word))
        return out
    raise ValueError(f"korean_units must be char, morpheme or eojeol, got {korean_units!r}")


def _morphemes(eojeol: str) -> list[str]:
    got = _morph_cache.get(eojeol)
    if got is None:
        from quality.korean import morphemes

        if len(_morph_cache) > _MORPH_CACHE_LIMIT:
            _morph_cache.clear()
        got = []
        for surface, _tag in morphemes(eojeol):
            got.extend(_UNITS_EOJEOL.findall(surface))  # drops punctuation/symbol morphemes
        _morph_cache[eojeol] = got
    return got


def shingles(text: str, n: int = 5, korean_units: KoreanUnits = "char") -> set[bytes]:
    """The set of UTF-8 encoded n-grams of ``text``'s units, units joined by one space."""
    if n < 1:
        raise ValueError("n must be >= 1")
    u = units(text, korean_units)
    if len(u) <= n:
        return {" ".join(u).encode("utf-8", "surrogatepass")} if u else set()
    if n == 1:
        return {w.encode("utf-8", "surrogatepass") for w in u}
    return {" ".join(u[i : i + n]).encode("utf-8", "surrogatepass") for i in range(len(u) - n + 1)}


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
