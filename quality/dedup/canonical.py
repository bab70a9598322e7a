"""The canonical form of a document for exact deduplication, and its content hash.

Two documents are exact duplicates when their canonical forms are equal. The text is already
normalized (NFC, whitespace cleanup) by the normalize job; the options here make the comparison
blind to case, to how whitespace is laid out, or to punctuation, as a corpus needs.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict, Field

_WS_RUN = re.compile(r"\s+")
# Unicode punctuation and symbols: anything that is neither a word character nor whitespace.
_PUNCT = re.compile(r"[^\w\s]|_")


class CanonicalForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lowercase: bool = Field(default=False, description="compare case-insensitively")
    whitespace: str = Field(
        default="collapse",
        pattern="^(keep|collapse|remove)$",
        description="keep the text's whitespace, collapse every run to one space, or remove it all "
        "(remove also makes Korean re-spacing an exact duplicate)",
    )
    punctuation: bool = Field(default=True, description="False drops punctuation and symbols before hashing")

    def key(self) -> str:
        return f"lower={int(self.lowercase)},ws={self.whitespace},punct={int(self.punctuation)}"


def canonical_text(text: str, form: CanonicalForm) -> str:
    if form.lowercase:
        text = text.lower()
    if not form.punctuation:
        text = _PUNCT.sub(" " if form.whitespace != "remove" else "", text)
    if form.whitespace == "collapse":
        text = _WS_RUN.sub(" ", text).strip()
    elif form.whitespace == "remove":
        text = _WS_RUN.sub("", text)
    return text


def content_hash(text: str, form: CanonicalForm) -> str:
    """Hex SHA-1 of the canonical form's UTF-8 bytes (a 160-bit key: collisions are not a concern)."""
    return hashlib.sha1(canonical_text(text, form).encode("utf-8", "surrogatepass")).hexdigest()
