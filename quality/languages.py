"""Languages as configuration: the codes moru knows, their word splitters and stop words.

The top-level ``languages`` key (default ``[ko, en]``) names the languages a run keeps apart from
"other". Each known language has:

- a fastText lid.176 label (the same ISO 639-1 code) and a script check (:mod:`quality.langid`);
- a word splitter for the Gopher-style word rules (:func:`words`): MeCab (mecab-ko-dic) morphemes for
  Korean, fugashi (MeCab) with UniDic-lite morphemes for Japanese, and for English, German and
  Vietnamese whitespace tokens (Python's ``str.split``: every Unicode space, NBSP included). German
  and Vietnamese tokens also lose leading/trailing punctuation (``„Haus“,`` → ``Haus``; Unicode
  categories P* and S*), so that stop words and word lengths are read from words;
- stop words (:data:`STOP_WORDS`): the Gopher list for English (and, as before, for every
  language without its own), FineWeb-2's per-language lists for de/ja/vi.

Japanese analyser choice: fugashi 1.5.2 + unidic-lite 1.0.8 both install from PyPI (a manylinux
wheel and a pure-data sdist, ~33 s to install); the tagger loads in ~0.02 s; on one (shared) core it splits
~0.57 M characters/s of short news prose and 0.08-0.17 M characters/s of real web text (the 500 OSCAR
documents of shared/data/langid: 1.46 M characters → 597 K words in 17.8 s, the per-word Python objects
being most of it), the same order as MeCab-ko here. SudachiPy was not needed, so not measured.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable

KNOWN = ("ko", "en", "de", "ja", "vi")
DEFAULT = ("ko", "en")

# Gopher (Rae et al. 2021, App. A.1.1): "the", "be", "to", "of", "and", "that", "have", "with".
ENGLISH_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
# FineWeb-2 (Penedo et al. 2025, arXiv:2506.20920), huggingface/fineweb-2 configs/{deu_Latn,jpn_Jpan,vie_Latn}.yml
# ``stopwords`` (the language's most frequent words; a document needs two of them, as in Gopher).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": ENGLISH_STOP_WORDS,
    "de": frozenset(
        {"der", "und", "die", "in", "von", "im", "den", "des", "mit", "das", "er", "dem", "als", "wurde", "für"}
    ),
    "ja": frozenset({"の", "に", "を", "は", "た", "て", "が", "と", "で", "年", "し", "・", "月", "れ", "さ"}),
    "vi": frozenset({"là", "và", "của", "một", "được", "trong", "năm", "các", "có", "loài", "này", "đã", "người"}),
}

# what each language's word splitter needs installed: (module to import, pip package names)
_SPLITTER_MODULES = {"ja": (("fugashi", "unidic_lite"), "fugashi unidic-lite")}


def check_languages(value: Iterable[str]) -> list[str]:
    """The configured languages, checked: known codes, no repeats, and every word splitter they
    need installed. Raises ValueError naming the bad code (the config loader adds the key)."""
    out: list[str] = []
    for code in value:
        if code not in KNOWN:
            raise ValueError(f"unknown language code {code!r} (known: {', '.join(KNOWN)})")
        if code in out:
            raise ValueError(f"language {code!r} is listed twice")
        out.append(code)
    if not out:
        raise ValueError("name at least one language")
    for code in out:
        if code in _SPLITTER_MODULES:
            modules, packages = _SPLITTER_MODULES[code]
            for module in modules:
                try:
                    __import__(module)
                except ImportError as e:
                    raise ValueError(
                        f"language {code!r} needs its word splitter, not installed: pip install {packages} ({e})"
                    ) from e
    return out


def extra_languages(languages: Iterable[str]) -> tuple[str, ...]:
    """The configured languages beyond the default ko/en, in order."""
    return tuple(code for code in languages if code not in DEFAULT)


_local = threading.local()
# UniDic part-of-speech (pos1) of punctuation/symbols and blanks: not words
JA_SYMBOL_POS = frozenset({"補助記号", "空白"})


def japanese_tagger():
    """One fugashi tagger (UniDic-lite) per thread, made on first use."""
    t = getattr(_local, "ja_tagger", None)
    if t is None:
        import fugashi

        t = _local.ja_tagger = fugashi.Tagger()
    return t


def japanese_words(text: str) -> list[str]:
    """UniDic short-unit morphemes of ``text`` without punctuation, symbols and blanks."""
    return [w.surface for w in japanese_tagger()(text) if w.feature.pos1 not in JA_SYMBOL_POS]


def _is_edge(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def spaced_words(text: str) -> list[str]:
    """Whitespace tokens (every Unicode space) without leading/trailing punctuation and symbols;
    tokens that are only punctuation/symbols are dropped."""
    out = []
    for token in text.split():
        start, end = 0, len(token)
        while start < end and _is_edge(token[start]):
            start += 1
        while end > start and _is_edge(token[end - 1]):
            end -= 1
        if start < end:
            out.append(token[start:end])
    return out


def stop_words(lang: str) -> frozenset[str]:
    """The stop words Gopher's ``gopher_stop_words`` counts for ``lang`` (English's for ko, ko+en,
    other and und, as before)."""
    return STOP_WORDS.get(lang, ENGLISH_STOP_WORDS)
