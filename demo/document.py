"""One document of the demo corpus as the generator builds it, before it is written to a source's files."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class Doc:
    """One accepted document: its text, intended language and style, the parts it was made of (title,
    boilerplate lines, the document it copies), and where it goes (source, id, url)."""

    text: str
    lang: str
    style: str
    parts: dict
    source: str = ""
    id: str = ""
    url: str | None = None
