"""Storage URIs: a local path, ``file://``, ``s3://`` / ``s3a://`` or ``dbfs:/``.

Spark reads and writes every one of these through its own Hadoop file systems; the few files
that moru writes outside Spark (run reports, manifests) go through :func:`write_bytes`, which
uses pyarrow's file systems (local, S3) and the ``/dbfs`` mount on Databricks.

A URI that only pyarrow opens (emit's output) may carry pyarrow's S3 options after its path, and keys before
the bucket, for an S3-compatible store: ``s3://KEY:SECRET@bucket/emit?endpoint_override=minio:9000&scheme=http``.
:func:`join` keeps the options at the end; :func:`public` drops options and keys (what manifests, blends and
logs show).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

# pyarrow's options after a remote URI's path (?region=...&endpoint_override=http://host:9000), not a glob's '?'
_OPTIONS = re.compile(r"\?[A-Za-z_][A-Za-z0-9_]*=[^?&]*(?:&[A-Za-z_][A-Za-z0-9_]*=[^?&]*)*$")


def is_remote(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return scheme not in ("", "file") and not (len(scheme) == 1 and os.name == "nt")


def split_options(uri: str) -> tuple[str, str]:
    """(the URI without pyarrow's ``?options``, the options with their ``?`` or "")."""
    if is_remote(uri):
        m = _OPTIONS.search(uri)
        if m:
            return uri[: m.start()], m.group()
    return uri, ""


def join(base: str, *parts: str) -> str:
    out, options = split_options(base)
    out = out.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out + options


def basename(uri: str) -> str:
    """The last part of a local path or URI (``s3a://b/x/y.bin`` → ``y.bin``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def suffixed(uri: str, suffix: str) -> str:
    """``uri`` with ``suffix`` added to its last path component (before pyarrow's options)."""
    out, options = split_options(uri)
    return out + suffix + options


def public(uri: str) -> str:
    """``uri`` without pyarrow's options and without keys before the host: safe to write into a manifest."""
    out, _ = split_options(uri)
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", out)


def to_spark_path(uri: str) -> str:
    """Spark wants absolute paths; S3 on open-source Hadoop wants ``s3a://``."""
    if not is_remote(uri):
        return str(Path(uri.removeprefix("file://")).resolve())
    if uri.startswith("s3://") and os.environ.get("MORU_S3A", "0") == "1":
        return "s3a://" + uri[len("s3://") :]
    return uri


def local_path(uri: str) -> Path | None:
    """The local file-system path for ``uri`` if it has one (``dbfs:/`` maps to ``/dbfs``)."""
    if not is_remote(uri):
        return Path(uri.removeprefix("file://")).resolve()
    if uri.startswith("dbfs:/"):
        return Path("/dbfs") / uri[len("dbfs:/") :].lstrip("/")
    return None


def write_bytes(uri: str, data: bytes) -> None:
    path = local_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return
    from pyarrow import fs

    filesystem, inner = fs.FileSystem.from_uri(_pyarrow_uri(uri))
    with filesystem.open_output_stream(inner) as out:
        out.write(data)


def filesystem(uri: str):
    """(pyarrow file system, path in it) for ``uri``: local paths (and ``dbfs:/`` through ``/dbfs``) on the local
    file system, anything else through ``pyarrow.fs.FileSystem.from_uri`` (its ``?options`` applied)."""
    from pyarrow import fs

    path = local_path(uri)
    if path is not None:
        return fs.LocalFileSystem(), str(path)
    return fs.FileSystem.from_uri(_pyarrow_uri(uri))


def _pyarrow_uri(uri: str) -> str:
    """Hadoop's ``s3a://`` / ``s3n://`` (a workdir Spark writes through S3A) as the ``s3://`` pyarrow knows."""
    return re.sub(r"^s3[an]://", "s3://", uri, flags=re.IGNORECASE)


def read_bytes(uri: str) -> bytes:
    fsys, path = filesystem(uri)
    with fsys.open_input_stream(path) as stream:
        return stream.read()


def exists(uri: str) -> bool:
    from pyarrow import fs

    fsys, path = filesystem(uri)
    return fsys.get_file_info(path).type == fs.FileType.File


def remove_file(uri: str) -> None:
    """Delete the file at ``uri`` if there is one."""
    from pyarrow import fs

    fsys, path = filesystem(uri)
    if fsys.get_file_info(path).type == fs.FileType.File:
        fsys.delete_file(path)


def remove_dir(uri: str) -> None:
    """Delete the folder at ``uri`` and everything in it, if there is one."""
    from pyarrow import fs

    fsys, path = filesystem(uri)
    if fsys.get_file_info(path).type == fs.FileType.Directory:
        fsys.delete_dir(path)


def list_dir(uri: str, recursive: bool = False) -> list:
    """pyarrow ``FileInfo``s under the folder at ``uri`` (none when it is missing), sorted by path."""
    from pyarrow import fs

    fsys, path = filesystem(uri)
    infos = fsys.get_file_info(fs.FileSelector(path, recursive=recursive, allow_not_found=True))
    return sorted(infos, key=lambda i: i.path)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a local file, read in 8 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 << 20), b""):
            h.update(block)
    return h.hexdigest()
