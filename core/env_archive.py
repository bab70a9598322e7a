"""The manifest of a cluster environment archive (``moru package``) and the check that it fits the driver.

``moru package`` packs a virtual environment (venv-pack) that Spark unpacks beside every driver and executor
(``spark.archives`` / ``--archives moru-env.tar.gz#environment``, ``spark.pyspark.python=./environment/bin/python``).
Its first member is ``moru-env.json``: the Python it was built for, the packages in it, what the cluster has to
provide (pyspark, py4j, Delta's Python module). Reading the first member streams a few kilobytes, whatever the
archive's size, so a preflight can check an archive on S3 before any stage starts.

PySpark refuses to run Python workers whose minor version differs from the driver's ("Python in worker has
different version"), and a wheel with C extensions built for cp312 does not import under 3.11:
:func:`check_archive` turns both into one clear error before Spark starts.
"""

from __future__ import annotations

import json
import sys
import tarfile
from typing import Any

MANIFEST = "moru-env.json"
FORMAT = 1


class ArchiveError(ValueError):
    """An environment archive that cannot serve this run; the message says why and how to fix it."""


def _minor(version: str | tuple | None) -> str:
    if version is None:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    if isinstance(version, tuple):
        return ".".join(str(v) for v in version[:2])
    return ".".join(str(version).split(".")[:2])


def read_manifest(uri: str) -> dict[str, Any]:
    """The ``moru-env.json`` of the archive at ``uri`` (a local path or any URI :mod:`core.storage` opens)."""
    from core import storage

    fsys, path = storage.filesystem(uri)
    try:
        stream = fsys.open_input_stream(path, compression=None)
    except (FileNotFoundError, OSError) as exc:
        raise ArchiveError(f"{uri}: cannot open the environment archive ({exc})") from None
    with stream:
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                first = next(iter(tar), None)
                if first is None or first.name.lstrip("./") != MANIFEST:
                    raise ArchiveError(
                        f"{uri}: not an environment archive of `moru package` (its first member is "
                        f"{first.name if first else 'missing'!r}, not {MANIFEST}); build one with "
                        "`moru package --out dist`"
                    )
                data = tar.extractfile(first).read()
        except tarfile.TarError as exc:
            raise ArchiveError(f"{uri}: not a readable .tar.gz archive ({exc})") from None
    manifest = json.loads(data)
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{uri}: manifest format {manifest.get('format')!r}, this moru reads format {FORMAT}")
    return manifest


def check_manifest(manifest: dict[str, Any], python_version: str | tuple | None = None, origin: str = "") -> None:
    """Raise :class:`ArchiveError` unless ``manifest`` was built for ``python_version``'s minor version (default:
    the running interpreter's, i.e. the driver's)."""
    want = _minor(python_version)
    got = _minor(manifest.get("python"))
    if got != want:
        where = f"{origin}: " if origin else ""
        raise ArchiveError(
            f"{where}the environment archive was built for Python {manifest.get('python')} "
            f"({manifest.get('python_tag', '?')}), but the driver runs Python {want}: PySpark needs the same "
            f"Python minor version on the driver and the executors, and the archive's compiled packages only import "
            f"under Python {got}. Rebuild it with `moru package` under Python {want} (or run the driver on "
            f"Python {got})."
        )


def check_archive(path: str, python_version: str | tuple | None = None) -> dict[str, Any]:
    """The manifest of the archive at ``path``, after checking that it was built for ``python_version``."""
    manifest = read_manifest(path)
    check_manifest(manifest, python_version, origin=path)
    return manifest
