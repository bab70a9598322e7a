"""GPT-2's byte-level alphabet (what tokenizers' ByteLevel pre-tokenizer maps bytes to), shared by the BPE trainer
(tokenizer.bbpe) and the word-count table (tokenizer.wordcount) without an import cycle between them."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet back to bytes: printable Latin-1 bytes stand for themselves, the other
    68 bytes are shifted to U+0100 onward, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shifted)
            shifted += 1
    return {c: b for b, c in chars.items()}


@lru_cache(maxsize=1)
def _byte_table() -> dict[int, str]:
    return {b: c for c, b in byte_decoder().items()}


def byte_level(text: str) -> str:
    """``text``'s UTF-8 bytes in GPT-2's byte-level alphabet (what the ByteLevel pre-tokenizer makes of it)."""
    return text.encode("utf-8").decode("latin-1").translate(_byte_table())


def token_bytes(token: str) -> bytes:
    table = byte_decoder()
    return bytes(table[c] for c in token)
