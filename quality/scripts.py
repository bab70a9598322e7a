"""Script ratios: the share of Hangul, Latin and Han (CJK ideograph) characters among letters.

Counting runs over code points as a numpy array (one UTF-32 encode per text), which is an order
of magnitude faster than per-character Python or regex passes on long documents.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

_HANGUL_CLASS = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff"
_LATIN_CLASS = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"
_HAN_CLASS = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0002fa1f"
_HANGUL = re.compile(f"[{_HANGUL_CLASS}]")
_LATIN = re.compile(f"[{_LATIN_CLASS}]")
_HAN = re.compile(f"[{_HAN_CLASS}]")
_LATIN_RUN = re.compile(f"[{_LATIN_CLASS}][{_LATIN_CLASS}'’\\-]*")

# (first, last) code points, inclusive
HANGUL_RANGES = ((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF))
LATIN_RANGES = ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF))
HAN_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))


class ScriptRatios(NamedTuple):
    hangul: float
    latin: float
    han: float
    letters: int


# classes in the per-code-point table
_NOT_LETTER, _OTHER, _HANGUL_C, _LATIN_C, _HAN_C = range(5)


@lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    """The script class of every BMP code point (letters by str.isalpha), built once per process."""
    table = np.fromiter((chr(i).isalpha() for i in range(0x10000)), dtype=np.uint8, count=0x10000)
    for cls, ranges in ((_LATIN_C, LATIN_RANGES), (_HAN_C, HAN_RANGES), (_HANGUL_C, HANGUL_RANGES)):
        for lo, hi in ranges:
            if lo < 0x10000:
                table[lo : hi + 1] = cls
    return table


def script_ratios(text: str) -> ScriptRatios:
    """Shares of Hangul (syllables and jamo), Latin and Han among all alphabetic characters."""
    if text.isascii():
        raw = text.encode("ascii")
        letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        return ScriptRatios(0.0, 1.0 if letters else 0.0, 0.0, letters)
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    astral = cp > 0xFFFF
    counts = np.bincount(_bmp_classes()[np.minimum(cp, 0xFFFF)], minlength=5)
    if astral.any():
        # astral code points were looked up as U+FFFF (not a letter); count Han extensions as Han,
        # historic scripts (below U+1F000) as other letters, emoji and symbols as nothing
        a = cp[astral]
        han = int(((a >= 0x20000) & (a <= 0x3134F)).sum())
        other = int(((a >= 0x10000) & (a < 0x1F000)).sum())
        counts[_HAN_C] += han
        counts[_OTHER] += other
    letters = int(counts[1:].sum())
    if letters == 0:
        return ScriptRatios(0.0, 0.0, 0.0, 0)
    total = float(letters)
    return ScriptRatios(
        float(counts[_HANGUL_C]) / total, float(counts[_LATIN_C]) / total, float(counts[_HAN_C]) / total, letters
    )


_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))


def latin_words(text: str) -> str:
    """The Latin-script words of ``text`` joined by spaces (for identifying the other language
    in code-switched text)."""
    return " ".join(_LATIN_RUN.findall(text))


class TokenMix(NamedTuple):
    hangul_tokens: int
    latin_tokens: int
    tokens: int
    longest_latin_phrase: int


def token_mix(text: str) -> TokenMix:
    """Whitespace tokens that carry Hangul vs tokens made of Latin letters only, and the longest
    run of consecutive Latin tokens that reads as a phrase: one with at least one lower-case
    word in it ("we agreed to ship"), unlike names and acronyms ("New York Times", "GPU CPU")."""
    hangul = latin = run = longest = total = 0
    run_has_lower = False
    for token in text.split():
        total += 1
        if _HANGUL.search(token):
            hangul += 1
            run, run_has_lower = 0, False
        elif _LATIN.search(token) and not _HAN.search(token):
            latin += 1
            run += 1
            run_has_lower = run_has_lower or token.strip(".,;:!?\"'()[]").islower()
            if run_has_lower:
                longest = max(longest, run)
        else:
            # numbers and punctuation neither break nor extend a Latin phrase
            continue
    return TokenMix(hangul, latin, total, longest)
