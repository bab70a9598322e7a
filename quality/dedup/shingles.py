"""Shingles (n-grams of text units) for MinHash.

The unit depends on the script, not on a language label, so that a near copy whose label flipped
(``ko`` ↔ ``ko+en``) still shares its shingles, and code-switched text gets both kinds. A text is
read as two streams:

- words: runs of word characters outside Hangul (Latin, digits, other spaced scripts; Han and kana,
  which are not spaced, one character per unit), lowercased → word ``n``-grams. English therefore
  gets word n-grams.
- Hangul, chosen by ``korean_units``, → ``korean_n``-grams:
  ``char``: the text's Hangul syllables in order, whitespace ignored. Korean spacing is
  unreliable (``정책을 발표했다`` / ``정책을발표했다``), and character n-grams are blind to it.
  ``morpheme``: MeCab (mecab-ko-dic) morphemes of each Hangul run (cached per run); blind to most
  re-spacing, at MeCab's cost.
  ``eojeol``: no Hangul stream: Hangul words join the word stream whole, spaced as written, as
  English-first tools do (kept to measure against).

With ``cjk_chars`` (set when Japanese is a configured language, and only for ``char`` units), kana
and Han characters leave the word stream and join the Hangul character stream, so Japanese gets
``korean_n``-grams of characters (spacing-blind) as Korean does; German and Vietnamese, being
spaced, get word ``n``-grams (word characters cover their accented letters; text is NFC from normalize).

A stream with fewer than ``n`` units gives one shingle holding all of them, so short distinct
documents keep distinct signatures instead of all collapsing to the empty set's. A document with no
unit at all (only punctuation) has no shingle; the MinHash job leaves it out of fuzzy dedup and
says so.
"""

from __future__ import annotations

import re
from typing import Literal

KoreanUnits = Literal["char", "morpheme", "eojeol"]

_HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"  # syllables, jamo, compatibility jamo
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han

_WORDS = re.compile(rf"[{_CJK}]|[^\W_{_HANGUL}{_CJK}]+")  # words outside Hangul; CJK per character
_WORDS_EOJEOL = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")  # Hangul words kept whole, as spaced
_HANGUL_CHAR = re.compile(rf"[{_HANGUL}]")
# with cjk_chars: also the iteration/closing marks 々 〆 〇 and half-width katakana (NFC keeps them)
_JAPANESE = _CJK + "\u3005-\u3007\uff66-\uff9d"
_WORDS_NO_CJK = re.compile(rf"[^\W_{_HANGUL}{_JAPANESE}]+")  # words outside Hangul, kana and Han
_HANGUL_CJK_CHAR = re.compile(rf"[{_HANGUL}{_JAPANESE}]")
_HANGUL_RUN = re.compile(rf"[{_HANGUL}]+")
_MORPH_CACHE_LIMIT = 500_000
_morph_cache: dict[str, list[str]] = {}


def streams(text: str, korean_units: KoreanUnits = "char", cjk_chars: bool = False) -> tuple[list[str], list[str]]:
    """(word units, Hangul units) of ``text``; with ``cjk_chars`` and ``char`` units, kana and Han
    are in the second stream with Hangul."""
    text = text.lower()
    if korean_units == "eojeol":
        return _WORDS_EOJEOL.findall(text), []
    if korean_units == "char" and cjk_chars:
        return _WORDS_NO_CJK.findall(text), _HANGUL_CJK_CHAR.findall(text)
    words = _WORDS.findall(text)
    if korean_units == "char":
        return words, _HANGUL_CHAR.findall(text)
    if korean_units == "morpheme":
        hangul: list[str] = []
        for run in _HANGUL_RUN.findall(text):
            hangul.extend(_morphemes(run))
        return words, hangul
    raise ValueError(f"korean_units must be char, morpheme or eojeol, got {korean_units!r}")


def _morphemes(run: str) -> list[str]:
    got = _morph_cache.get(run)
    if got is None:
        from quality.korean import morphemes

        if len(_morph_cache) > _MORPH_CACHE_LIMIT:
            _morph_cache.clear()
        got = _morph_cache[run] = [surface for surface, _tag in morphemes(run)]
    return got


def _ngrams(units: list[str], n: int, sep: str, out: set[bytes]) -> None:
    if not units:
        return
    if len(units) <= n:
        out.add(sep.join(units).encode("utf-8", "surrogatepass"))
    elif n == 1:
        out.update(u.encode("utf-8", "surrogatepass") for u in units)
    else:
        out.update(sep.join(units[i : i + n]).encode("utf-8", "surrogatepass") for i in range(len(units) - n + 1))


def shingles(
    text: str,
    n: int = 5,
    korean_units: KoreanUnits = "char",
    korean_n: int | None = None,
    cjk_chars: bool = False,
) -> set[bytes]:
    """The set of UTF-8 encoded shingles of ``text``: word ``n``-grams (words joined by a space)
    and Hangul ``korean_n``-grams (characters joined directly, morphemes by a space); with
    ``cjk_chars`` kana and Han are characters of the second stream."""
    if n < 1 or (korean_n is not None and korean_n < 1):
        raise ValueError("n-gram sizes must be >= 1")
    words, hangul = streams(text, korean_units, cjk_chars)
    out: set[bytes] = set()
    _ngrams(words, n, " ", out)
    _ngrams(hangul, korean_n or n, "" if korean_units == "char" else " ", out)
    return out


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
