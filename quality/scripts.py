"""Script ratios: the share of Hangul, Latin and Han (CJK ideograph) characters among letters."""

from __future__ import annotations

import re
from typing import NamedTuple

_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_HAN = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0002fa1f]")
_LATIN_RUN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff][A-Za-z\u00c0-\u024f\u1e00-\u1eff'’\-]*")


class ScriptRatios(NamedTuple):
    hangul: float
    latin: float
    han: float
    letters: int


def script_ratios(text: str) -> ScriptRatios:
    """Shares of Hangul (syllables and jamo), Latin and Han among all alphabetic characters."""
    letters = sum(1 for ch in text if ch.isalpha())
    if letters == 0:
        return ScriptRatios(0.0, 0.0, 0.0, 0)
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text)) if not text.isascii() else letters
    han = len(_HAN.findall(text)) if hangul or not text.isascii() else 0
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
