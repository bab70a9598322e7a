"""Script ratios: the share of Hangul, Latin and Han (CJK ideograph) characters among letters."""

from __future__ import annotations

import re
from typing import NamedTuple

_HANGUL_CLASS = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff"
_LATIN_CLASS = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"
_HAN_CLASS = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0002fa1f"
_HANGUL = re.compile(f"[{_HANGUL_CLASS}]")
_LATIN = re.compile(f"[{_LATIN_CLASS}]")
_HAN = re.compile(f"[{_HAN_CLASS}]")
# runs, so that counting allocates one string per run instead of one per character
_HANGUL_RUN = re.compile(f"[{_HANGUL_CLASS}]+")
_LATIN_RUN_CHARS = re.compile(f"[{_LATIN_CLASS}]+")
_HAN_RUN = re.compile(f"[{_HAN_CLASS}]+")
_NOT_LETTER = re.compile(r"[\W\d_]+")


def _count(pattern: re.Pattern, text: str) -> int:
    return sum(map(len, pattern.findall(text)))
_LATIN_RUN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff][A-Za-z\u00c0-\u024f\u1e00-\u1eff'’\-]*")


class ScriptRatios(NamedTuple):
    hangul: float
    latin: float
    han: float
    letters: int


def script_ratios(text: str) -> ScriptRatios:
    """Shares of Hangul (syllables and jamo), Latin and Han among all alphabetic characters."""
    letters = len(_NOT_LETTER.sub("", text))
    if letters == 0:
        return ScriptRatios(0.0, 0.0, 0.0, 0)
    if text.isascii():
        return ScriptRatios(0.0, 1.0, 0.0, letters)
    hangul = _count(_HANGUL_RUN, text)
    latin = _count(_LATIN_RUN_CHARS, text)
    han = _count(_HAN_RUN, text)
    return ScriptRatios(hangul / letters, latin / letters, han / letters, letters)


def latin_words(text: str) -> str:
    """The Latin-script words of ``text`` joined by spaces (for identifying the other language
    in code-switched text)."""
    return " ".join(_LATIN_RUN.findall(text))


class TokenMix(NamedTuple):
    hangul_tokens: int
    latin_tokens: int
    tokens: int
    longest_latin_run: int


def token_mix(text: str) -> TokenMix:
    """Whitespace tokens that carry Hangul vs tokens made of Latin letters only, and the longest
    run of consecutive Latin tokens (a phrase rather than a borrowed term)."""
    hangul = latin = run = longest = total = 0
    for token in text.split():
        total += 1
        if _HANGUL.search(token):
            hangul += 1
            run = 0
        elif _LATIN.search(token) and not _HAN.search(token):
            latin += 1
            run += 1
            longest = max(longest, run)
        else:
            # numbers and punctuation neither break nor extend a Latin phrase
            continue
    return TokenMix(hangul, latin, total, longest)
