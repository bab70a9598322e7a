"""Unicode and whitespace normalization of document text.

NFC is the default because it composes Hangul (conjoining jamo from NFD sources such as macOS
file names become precomposed syllables) and leaves compatibility characters alone; NFKC is
optional (it also folds full-width Latin, circled numbers and the like). NFD / NFKD are refused:
they would decompose every Hangul syllable into jamo.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Literal

NormalForm = Literal["NFC", "NFKC"]

# Characters that are not text: C0/C1 controls except \t and \n, plus DEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible format characters that only add noise: zero-width space, word joiner, BOM,
# soft hyphen, LRM/RLM and bidi embeddings. ZWJ/ZWNJ stay: emoji sequences and some scripts
# need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Every horizontal space (tabs, NBSP, ideographic space, en/em spaces...) becomes one ASCII space.
_HSPACE = re.compile("[\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_LINE_BREAKS = re.compile("\r\n|\r|[\u2028\u2029\u0085\x0b\x0c]")
_TRAILING = re.compile(" +\n")
_LEADING = re.compile("\n +")
_MANY_NEWLINES = re.compile("\n{3,}")
_ENTITY = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def normalize_text(text: str, form: NormalForm = "NFC", unescape_html: bool = True) -> str:
    """Return ``text`` normalized for training.

    Order matters: entities are unescaped first (``&nbsp;`` becomes a space that the whitespace
    rules then fold), then Unicode normalization, then control/format characters are dropped
    (and the text normalized again if that joined pieces that compose) and whitespace folded:
    runs of horizontal space become one space, lines lose leading and trailing spaces, and more
    than one blank line becomes one. Entities are unescaped one level: ``&amp;lt;`` becomes
    ``&lt;``, the text the page showed, not ``<``.
    """
    if form not in ("NFC", "NFKC"):
        raise ValueError(f"normalization form must be NFC or NFKC (Hangul must stay composed), got {form!r}")
    if unescape_html and "&" in text and _ENTITY.search(text):
        text = html.unescape(text)
    text = unicodedata.normalize(form, text)  # returns at once when already normalized
    # Fast path: no control, format or exotic space characters anywhere (\n is the only
    # non-printable character), so only the plain-space and newline rules can apply.
    if not text.replace("\n", "").isprintable():
        text = _LINE_BREAKS.sub("\n", text)
        removed = _CONTROL.sub("", _INVISIBLE.sub("", text))
        if len(removed) != len(text):
            # a dropped character may have separated pieces that now compose (jamo, accents)
            removed = unicodedata.normalize(form, removed)
        text = _HSPACE.sub(" ", removed)
    elif "  " in text:
        text = _HSPACE.sub(" ", text)
    if " \n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n " in text:
        text = _LEADING.sub("\n", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()
