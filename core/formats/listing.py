"""The files a configured path names: a file, a folder (read recursively) or a glob; local or remote.

Names are kept exactly as the file system has them (spaces, ``%``, ``#``, ``?``, ``[``, Hangul, emoji): a local
path is never parsed as a URL, and a remote URI's path is appended to its file system as written, never
percent-decoded. Every file the path matches is either listed or skipped with a reason:

- ``hidden``: a name (of the file or of a folder above it, below the root) starting with ``_`` or ``.``, or an
  in-progress copy ending in ``._COPYING_``. Hadoop and Spark hide these (``_SUCCESS``, ``_temporary/``,
  ``.crc``); ``hidden="include"`` lists them. A hidden folder is reported once, not file by file. A name the
  configured path spells out (the file itself, or a glob part starting with ``_`` / ``.``) is never hidden.
- ``empty``: a zero-byte file.
- ``duplicate``: a file (or folder) reached twice through symlinks; the first path wins, and paths without a
  symlink come before paths through one, so adding a symlink never renames a listed file.
- ``symlink_cycle``: a symlink to a folder above it.
- ``broken_symlink``, ``not_a_file`` (a FIFO, socket or device: reading one could block forever),
  ``unreadable`` (a folder that cannot be listed), ``unknown_format`` (only with ``known_formats_only``).

A glob (``*``, ``?``, ``[...]``, ``**`` across folders; no braces) is used only when the path does not exist as
written, so a folder named ``data[1]`` is that folder; a folder a glob matches is read recursively. A missing
path, or a glob whose fixed folder is missing, raises :class:`FileNotFoundError`; a folder or glob matching no
file is an empty listing.
"""

from __future__ import annotations

import fnmatch
import heapq
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from core import storage
from core.formats.names import detect_format

HiddenPolicy = Literal["skip", "include"]

SKIP_REASONS = {
    "hidden": "a name starting with '_' or '.' (hidden by Hadoop and Spark); set hidden: include to read it",
    "empty": "a zero-byte file",
    "duplicate": "the same file or folder reached again through a symlink; read once, under its first path",
    "symlink_cycle": "a symlink to a folder above it",
    "broken_symlink": "a symlink whose target does not exist",
    "not_a_file": "not a regular file (a FIFO, socket or device)",
    "unreadable": "a folder that cannot be listed",
    "unknown_format": "the file's format cannot be told from its name",
}

_MAGIC = re.compile(r"[*?\[]")
# Hadoop's names for S3, as Spark users write them; pyarrow knows s3://
_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3"}
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://([^/?]*)(.*)$")


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file to read: ``path`` opens it (a local path, or the path inside the remote file system), ``relpath``
    names it relative to the configured root (``/``-separated; a single file's base name), ``real_path`` is
    where a local file really is (symlinks resolved; None when remote)."""

    path: str
    relpath: str
    size: int
    real_path: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file (or folder) the path matches that is not read: ``reason`` is one of :data:`SKIP_REASONS`."""

    path: str
    relpath: str
    reason: str
    detail: str = ""


@dataclass
class Listing:
    root: str
    remote: bool
    files: list[ListedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def has_magic(part: str) -> bool:
    return _MAGIC.search(part) is not None


def is_hidden(name: str) -> bool:
    """Hadoop's rule for names its file listings leave out."""
    return name.startswith(("_", ".")) or name.endswith("._COPYING_")


def list_files(
    path: str, *, hidden: HiddenPolicy = "skip", known_formats_only: bool = False, filesystem: Any = None
) -> Listing:
    """Every file ``path`` names, and every one it skips with the reason (see the module docstring).
    ``filesystem``: a pyarrow file system to list ``path`` on as a path inside it (``path`` is then not a URI)."""
    if filesystem is not None:
        return _Remote(filesystem, "", path, hidden, known_formats_only).listing(path)
    local = _local_path(path)
    if local is not None:
        return _Local(hidden, known_formats_only).listing(path, local)
    fsys, inner, display = _remote_filesystem(path)
    return _Remote(fsys, display, inner, hidden, known_formats_only).listing(path)


def is_remote(path: str) -> bool:
    """Whether ``path`` is read through a remote file system (not a local path, ``file:`` or ``dbfs:/``)."""
    return _local_path(path) is None


def _local_path(path: str) -> str | None:
    """The local file-system path of ``path`` (a plain path, ``file://``, ``dbfs:/`` on the ``/dbfs`` mount),
    without any URL decoding, or None for a remote URI."""
    if path.startswith("file://"):
        return path[len("file://") :] or "/"
    if path.startswith("file:/"):
        return path[len("file:") :]
    if path.startswith("dbfs:/"):
        return "/dbfs/" + path[len("dbfs:/") :].lstrip("/")
    if _URI.match(path):
        return None
    return os.path.expanduser(path)


def filesystem_for(uri: str):
    """(pyarrow file system, path inside it) of a remote URI (``s3a://`` / ``s3n://`` as ``s3://``, keys before
    the bucket and pyarrow's ``?options`` honoured), the path exactly as written after the bucket/authority."""
    fsys, inner, _ = _remote_filesystem(uri)
    return fsys, inner


def _remote_filesystem(uri: str):
    from pyarrow import fs

    bare, options = storage.split_options(uri)
    m = _URI.match(bare)
    if m is None:
        raise ValueError(f"not a URI: {uri!r}")
    scheme, authority, rest = m.group(1).lower(), m.group(2), m.group(3)
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    # only the authority goes through the URI parser: the path is appended as written (no percent-decoding)
    fsys, base = fs.FileSystem.from_uri(f"{scheme}://{authority}{options}")
    base = base.rstrip("/")
    inner = f"{base}/{rest.lstrip('/')}" if base else (rest if scheme in ("hdfs", "viewfs") else rest.lstrip("/"))
    public = f"{m.group(1)}://{authority.rsplit('@', 1)[-1]}"
    return fsys, inner.rstrip("/") or "/", public


def _split_glob(parts: list[str]) -> int | None:
    return next((i for i, part in enumerate(parts) if has_magic(part)), None)


def _match(pattern: list[str], parts: list[str], partial: bool = False) -> bool:
    """Whether ``parts`` match ``pattern`` (``partial``: could be the folders above a match). ``**`` spans any
    number of folders. A folder the whole pattern matches matches everything under it."""
    if not pattern:
        return True  # the pattern ended at a folder: everything below it is in
    if not parts:
        return partial
    head = pattern[0]
    if head == "**":
        return _match(pattern[1:], parts, partial) or _match(pattern, parts[1:], partial)
    return fnmatch.fnmatchcase(parts[0], head) and _match(pattern[1:], parts[1:], partial)


def _hidden_part(rel_parts: list[str], pattern: list[str] | None) -> int | None:
    """Index of the first hidden name in ``rel_parts`` that the configured pattern does not spell out."""
    for i, part in enumerate(rel_parts):
        if not is_hidden(part):
            continue
        if pattern is not None and i < len(pattern) and pattern[i] != "**" and not has_magic(pattern[i]):
            continue  # the pattern names it literally
        if pattern is not None and i < len(pattern) and is_hidden(pattern[i]):
            continue
        return i
    return None


class _Base:
    def __init__(self, hidden: HiddenPolicy, known_formats_only: bool):
        if hidden not in ("skip", "include"):
            raise ValueError(f"hidden must be 'skip' or 'include', not {hidden!r}")
        self.hidden = hidden
        self.known_only = known_formats_only
        self.out: Listing | None = None

    def _skip(self, path: str, rel: str, reason: str, detail: str = "") -> None:
        assert self.out is not None
        self.out.skipped.append(SkippedFile(path, rel, reason, detail))

    def _hidden_here(self, rel_parts: list[str], pattern: list[str] | None) -> bool:
        if self.hidden == "include":
            return False
        i = _hidden_part(rel_parts, pattern)
        return i is not None and i == len(rel_parts) - 1

    def _add(self, path: str, rel: str, size: int, real: str | None) -> None:
        assert self.out is not None
        if size == 0:
            self._skip(path, rel, "empty", "0 bytes")
        elif self.known_only and detect_format(rel) is None:
            self._skip(path, rel, "unknown_format", "the name tells no format")
        else:
            self.out.files.append(ListedFile(path, rel, size, real))


class _Local(_Base):
    def listing(self, configured: str, path: str) -> Listing:
        self.out = Listing(root=configured, remote=False)
        self.seen_files: dict[str, str] = {}  # real path -> the relpath it was listed under
        self.seen_dirs: dict[str, str] = {}
        if os.path.lexists(path):
            self._from_existing(path)
        else:
            self._from_glob(path)
        self.out.files.sort(key=lambda f: f.relpath.split("/"))
        return self.out

    def _from_existing(self, path: str) -> None:
        if not os.path.exists(path):
            self._skip(path, os.path.basename(path), "broken_symlink", f"-> {os.readlink(path)}")
            return
        if os.path.isdir(path):
            self._walk([(path, [], os.path.realpath(path))], None)
            return
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            self._skip(path, os.path.basename(path), "not_a_file")
            return
        self._add(path, os.path.basename(path.rstrip("/")), st.st_size, os.path.realpath(path))

    def _from_glob(self, path: str) -> None:
        absolute = os.path.isabs(path)
        parts = [p for p in path.split("/") if p]
        magic = _split_glob(parts)
        if magic is None:
            raise FileNotFoundError(f"{path} does not exist")
        root = ("/" if absolute else "") + "/".join(parts[:magic]) or "."
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root} (the folder of the glob {path}) does not exist")
        self._walk([(root, [], os.path.realpath(root))], parts[magic:])

    def _walk(self, start: list[tuple[str, list[str], str]], pattern: list[str] | None) -> None:
        """Depth-first over real folders first; symlinks are followed after every plain path is listed."""
        todo = list(reversed(start))
        deferred: list[tuple[list[str], str, str]] = []  # heap of (rel parts, link path, real path of its folder)
        for _, _, real in start:
            self.seen_dirs.setdefault(real, "")
        while todo or deferred:
            if not todo:
                rel_parts, link, parent_real = heapq.heappop(deferred)
                self._follow(link, rel_parts, parent_real, pattern, todo)
                continue
            folder, rel_parts, real = todo.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._skip(folder, "/".join(rel_parts), "unreadable", f"{type(exc).__name__}: {exc.strerror}")
                continue
            subdirs = []
            for entry in entries:
                parts = [*rel_parts, entry.name]
                rel = "/".join(parts)
                is_folder = entry.is_symlink() or _is_dir(entry)  # a symlink may lead to a folder
                if pattern is not None and not _match(pattern, parts, partial=is_folder):
                    continue
                if self._hidden_here(parts, pattern):
                    self._skip(entry.path, rel, "hidden")
                    continue
                if entry.is_symlink():
                    heapq.heappush(deferred, (parts, entry.path, real))
                    continue
                entry_real = os.path.join(real, entry.name)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        self.seen_dirs.setdefault(entry_real, rel)
                        subdirs.append((entry.path, parts, entry_real))
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    self._skip(entry.path, rel, "unreadable", f"{type(exc).__name__}: {exc.strerror}")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self._skip(entry.path, rel, "not_a_file")
                    continue
                self._file(entry.path, rel, st.st_size, entry_real)
            todo.extend(reversed(subdirs))

    def _file(self, path: str, rel: str, size: int, real: str) -> None:
        first = self.seen_files.get(real)
        if first is not None:
            self._skip(path, rel, "duplicate", f"same file as {first}")
            return
        self.seen_files[real] = rel
        self._add(path, rel, size, real)

    def _follow(self, link: str, parts: list[str], parent_real: str, pattern: list[str] | None, todo: list) -> None:
        rel = "/".join(parts)
        try:
            target = os.readlink(link)
        except OSError:
            target = "?"
        if not os.path.exists(link):
            # a symlink loop (a -> b -> a) does not exist either; tell the two apart
            reason = "symlink_cycle" if _is_loop(link) else "broken_symlink"
            self._skip(link, rel, reason, f"-> {target}")
            return
        real = os.path.realpath(link)
        try:
            st = os.stat(link)
        except OSError as exc:
            self._skip(link, rel, "unreadable", f"{type(exc).__name__}: {exc.strerror}")
            return
        if stat.S_ISDIR(st.st_mode):
            if real == parent_real or parent_real.startswith(real.rstrip("/") + "/"):
                self._skip(link, rel, "symlink_cycle", f"-> {target} (a folder above it)")
                return
            first = self.seen_dirs.get(real)
            if first is not None:
                self._skip(link, rel, "duplicate", f"same folder as {first or '(the root)'}")
                return
            self.seen_dirs[real] = rel
            todo.append((link, parts, real))
            return
        if pattern is not None and not _match(pattern, parts):
            return
        if not stat.S_ISREG(st.st_mode):
            self._skip(link, rel, "not_a_file")
            return
        self._file(link, rel, st.st_size, real)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_loop(link: str) -> bool:
    try:
        os.stat(link)
    except OSError as exc:
        return exc.errno == 40  # ELOOP
    return False


class _Remote(_Base):
    def __init__(self, fsys, display: str, inner: str, hidden: HiddenPolicy, known_formats_only: bool):
        super().__init__(hidden, known_formats_only)
        self.fs = fsys
        self.display = display
        self.inner = inner

    def listing(self, configured: str) -> Listing:
        from pyarrow import fs

        self.out = Listing(root=configured, remote=True)
        info = self.fs.get_file_info(self.inner)
        if info.type == fs.FileType.File:
            self._add(self.inner, self.inner.rsplit("/", 1)[-1], info.size or 0, None)
            return self.out
        if info.type == fs.FileType.Directory:
            self._under(self.inner, None)
            return self.out
        parts = self.inner.split("/")
        magic = _split_glob(parts)
        if magic is None:
            raise FileNotFoundError(f"{storage.public(configured)} does not exist")
        root = "/".join(parts[:magic])
        if self.fs.get_file_info(root).type != fs.FileType.Directory:
            raise FileNotFoundError(f"{storage.public(configured)}: the folder of the glob does not exist")
        self._under(root, [p for p in parts[magic:] if p])
        return self.out

    def _under(self, root: str, pattern: list[str] | None) -> None:
        from pyarrow import fs

        prefix = root.rstrip("/") + "/"
        infos = self.fs.get_file_info(fs.FileSelector(root, recursive=True))
        hidden_dirs: dict[str, int] = {}
        files = []
        for info in infos:
            if info.type != fs.FileType.File:
                continue
            rel = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path.rsplit("/", 1)[-1]
            parts = rel.split("/")
            if pattern is not None and not _match(pattern, parts):
                continue
            i = None if self.hidden == "include" else _hidden_part(parts, pattern)
            if i is not None and i < len(parts) - 1:
                folder = "/".join(parts[: i + 1])
                hidden_dirs[folder] = hidden_dirs.get(folder, 0) + 1
                continue
            files.append((parts, info, i is not None))
        for folder, n in sorted(hidden_dirs.items()):
            self._skip(prefix + folder, folder, "hidden", f"a folder of {n} file(s)")
        for parts, info, hidden in sorted(files, key=lambda f: f[0]):
            rel = "/".join(parts)
            if hidden:
                self._skip(info.path, rel, "hidden")
            else:
                self._add(info.path, rel, info.size or 0, None)


def describe_skipped(skipped: Iterable[SkippedFile]) -> dict[str, int]:
    """Counts of skipped files by reason."""
    out: dict[str, int] = {}
    for s in skipped:
        out[s.reason] = out.get(s.reason, 0) + 1
    return out
