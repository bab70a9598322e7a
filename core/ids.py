"""Stable, content-derived row ids: the same parts give the same id on any machine, so any stage can be re-run
and MERGEd without duplicating rows. Pretraining documents and post-training rows use the same convention."""

from __future__ import annotations

import hashlib


def stable_id(*parts: str) -> str:
    """128-bit hex id (BLAKE2b) of its parts, each followed by a unit separator."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def doc_id(source: str, record_key: str) -> str:
    """A row's id: its source's name and its key within the source (an id field, or file and position)."""
    return stable_id(source, record_key)
