"""Opening a file's bytes with its codec, and the errors a damaged stream raises.

:func:`open_decompressed` wraps bytes or a binary stream; reading the result may raise any of
:data:`CODEC_ERRORS` where the data is damaged. The readers of :mod:`core.formats.readers` catch them and report
one ``corrupt_file`` problem (see :func:`describe`); nothing here decides what a damaged file means.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO

from core.formats.names import Compression


def _codec_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, EOFError, ValueError, zlib.error, lzma.LZMAError]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        pass
    return tuple(errors)


# what reading a damaged gzip / zstd / bz2 / xz stream raises (BadGzipFile is an OSError)
CODEC_ERRORS: tuple[type[BaseException], ...] = _codec_errors()


def describe(exc: BaseException) -> str:
    """``Type: message`` for a problem's detail (the codec's own words)."""
    text = str(exc).strip() or "(no message)"
    name = type(exc).__name__
    if name == "error":  # zlib.error says nothing by its name alone
        name = f"{type(exc).__module__}.error"
    return f"{name}: {text}"


Source = bytes | bytearray | memoryview | BinaryIO


def as_stream(source: Source) -> BinaryIO:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    return source


def open_decompressed(source: Source, compression: Compression | None) -> BinaryIO:
    """A buffered binary stream of ``source``'s decompressed bytes (``compression=None``: as they are).
    Opening never fails on bad data; reading may raise one of :data:`CODEC_ERRORS`."""
    raw = as_stream(source)
    if compression is None:
        return raw if isinstance(raw, io.BufferedIOBase | io.BytesIO) else io.BufferedReader(raw)  # type: ignore[arg-type]
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        return io.BufferedReader(ZstdFrames(raw))  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    raise ValueError(f"unknown compression {compression!r}")


class ZstdFrames(io.RawIOBase):
    """Streaming zstd decompression over every frame of a stream that raises EOFError when the last frame is cut
    short (zstandard's own stream reader stops there silently) and ZstdError on bytes that are not zstd."""

    def __init__(self, raw: BinaryIO, chunk: int = 1 << 20):
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()
        self._raw = raw
        self._chunk = chunk
        self._obj = None
        self._pending = b""
        self._offset = 0  # bytes of _pending already handed out
        self._carry = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while self._offset >= len(self._pending):
            if self._obj is not None and self._obj.eof:
                # the frame ended inside the last piece: its remainder starts the next frame
                self._carry = bytes(self._obj.unused_data)
                self._obj = None
            if self._carry:
                piece, self._carry = self._carry, b""
            else:
                piece = b"" if self._done else self._raw.read(self._chunk)
                if not piece:
                    self._done = True
                    if self._obj is not None:
                        raise EOFError("zstd stream ends in the middle of a frame (truncated file)")
                    return False
            if self._obj is None:
                self._obj = self._dctx.decompressobj()
            self._pending = self._obj.decompress(piece)
            self._offset = 0
        return True

    def readinto(self, buffer) -> int:
        if not self._fill():
            return 0
        n = min(len(buffer), len(self._pending) - self._offset)
        buffer[:n] = self._pending[self._offset : self._offset + n]
        self._offset += n
        return n
