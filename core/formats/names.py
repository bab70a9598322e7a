"""What a file holds, told from its name: the record format and the compression codec."""

from __future__ import annotations

from typing import Literal

Format = Literal["jsonl", "json", "csv", "tsv", "parquet", "warc", "text"]
Compression = Literal["gzip", "zstd", "bz2", "xz"]

FORMATS: tuple[str, ...] = ("jsonl", "json", "csv", "tsv", "parquet", "warc", "text")

# lower-case suffix -> codec (checked at the end of the name, before the format's suffix)
COMPRESSION_SUFFIXES: dict[str, Compression] = {
    ".gz": "gzip",
    ".gzip": "gzip",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".bz2": "bz2",
    ".xz": "xz",
}

FORMAT_SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".warc": "warc",
    ".arc": "warc",
    ".txt": "text",
    ".text": "text",
}

# Parquet compresses its own pages; a compressed Parquet file is not something a reader here opens
_NOT_COMPRESSIBLE = {"parquet"}


def _split(name: str) -> tuple[str, Compression | None]:
    base = name.rsplit("/", 1)[-1].lower()
    for suffix, codec in COMPRESSION_SUFFIXES.items():
        if base.endswith(suffix):
            return base[: -len(suffix)], codec
    return base, None


def detect_compression(name: str) -> Compression | None:
    """The codec a file name ends in (``.gz``/``.gzip``, ``.zst``/``.zstd``, ``.bz2``, ``.xz``), or None."""
    return _split(name)[1]


def detect_format(name: str) -> Format | None:
    """The record format of a file from its name, compression suffix set aside, or None when the name does not
    tell. ``.jsonl``/``.ndjson`` are JSON lines; ``.json`` is ``json`` (a JSON document, or JSON lines: see
    :func:`core.formats.readers.iter_json`); ``.arc`` is read as WARC; ``.txt`` is plain text; a compressed
    ``.parquet`` is None (Parquet compresses its own pages)."""
    base, codec = _split(name)
    dot = base.rfind(".")
    if dot < 0:
        return None
    fmt = FORMAT_SUFFIXES.get(base[dot:])
    if fmt is None or (codec is not None and fmt in _NOT_COMPRESSIBLE):
        return None
    return fmt
