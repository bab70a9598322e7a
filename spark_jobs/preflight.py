"""Preflight: what can be checked before Spark starts a stage, and plain words for what Spark raises.

:func:`check` looks at a config (``workdir``, ``sources``, ``spark``) and returns a :class:`Problem` per thing that
would make a stage fail: the workdir cannot be created or written (a local one gets a probe file, removed again;
a remote one is reached through pyarrow, bounded by a few seconds), a source path does not exist or matches no
file ingest reads, the Delta jars of the local profile are missing; on a cluster (standalone, emr) the workdir's
bucket does not exist or refuses the keys, no Delta package is shipped, the environment archive is missing or was
built for another Python than the driver's. :func:`explain` maps a failure a stage raised
(a ``Py4JJavaError`` or a PySpark exception carrying a Java message) to one short paragraph that names the config
key and the fix, or None when it is not one it knows. Both take the composed config (``moru.config`` or
``spark_jobs.config.JobsConfig``); keys a config lacks are not checked.

The CLI runs :func:`check` before every command and ``moru check-config`` (exit 2, one paragraph per problem),
and prints :func:`explain`'s paragraph instead of a traceback (which ``--verbose`` shows).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core import formats, storage

T = TypeVar("T")

# a remote file system that does not answer within this many seconds is reported, not waited for
REMOTE_TIMEOUT_S = 4.0


@dataclass(frozen=True)
class Problem:
    """``key``: the config key at fault (``workdir``, ``sources.0.path``, ``spark.jars_dir``); ``message``: what
    is wrong; ``fix``: what to change."""

    key: str
    message: str
    fix: str

    def paragraph(self) -> str:
        return f"{self.key}: {self.message}. Fix: {self.fix}"


class _TimedOut(Exception):
    pass


def _within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()``'s result, or :class:`_TimedOut` when it takes longer than ``seconds`` (it is left running in a
    daemon thread: a file system that does not answer must not hold the command)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="moru-preflight")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _TimedOut(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


# ---------------------------------------------------------------------------- checks


def check_workdir(workdir: str, key: str = "workdir") -> list[Problem]:
    """The workdir can be created and written (local: a probe file is written and removed, and folders made for
    it are removed again); a remote one can be reached."""
    if not workdir:
        return [Problem(key, "no workdir is set", "set workdir to a local folder, s3://bucket/prefix or dbfs:/path")]
    if workdir.startswith("dbfs:") and not Path("/dbfs").is_dir():
        return [Problem(key, f"{workdir} is on DBFS, but this machine has no /dbfs mount",
                        "run on a Databricks cluster, or use a local path or s3:// workdir")]  # fmt: skip
    local = storage.local_path(workdir)
    if local is not None:
        return _check_local_workdir(str(local), key)
    return _check_remote(workdir, key, must_exist=False)


def _check_local_workdir(path: str, key: str) -> list[Problem]:
    created: list[str] = []
    probe = os.path.join(path, f".moru-preflight-{uuid.uuid4().hex}")
    try:
        missing = []
        head = path
        while not os.path.exists(head):
            missing.append(head)
            head = os.path.dirname(head)
        if not os.path.isdir(head):
            return [Problem(key, f"cannot create {path}: {head} is a file, not a folder",
                            "choose a workdir whose parents are folders")]  # fmt: skip
        for folder in reversed(missing):
            os.mkdir(folder)
            created.append(folder)
        with open(probe, "wb") as fh:
            fh.write(b"moru")
        os.remove(probe)
    except OSError as exc:
        what = "write into" if os.path.isdir(path) else "create"
        return [Problem(key, f"cannot {what} {path}: {exc.strerror or exc}",
                        "choose a folder you can write (relative paths are relative to the config file), or fix "
                        "its permissions / free some space")]  # fmt: skip
    finally:
        for folder in reversed(created):
            try:
                os.rmdir(folder)
            except OSError:
                pass
    return []


def _check_remote(uri: str, key: str, must_exist: bool) -> list[Problem]:
    from pyarrow import fs

    shown = storage.public(uri)

    def probe():
        fsys, inner = formats.filesystem_for(uri)
        return fsys.get_file_info(inner).type

    try:
        kind = _within(REMOTE_TIMEOUT_S, probe)
    except _TimedOut as exc:
        return [Problem(key, f"cannot reach {shown}: {exc}",
                        "check the network, the endpoint (?endpoint_override=host:port) and the credentials "
                        "(AWS_* variables, a profile or the instance role)")]  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - pyarrow raises OSError, ValueError, ArrowException ...
        if _refused(exc):
            return [Problem(key, f"the store refused the credentials for {shown}: {_first_line(exc)}", _KEYS_FIX)]
        return [Problem(key, f"cannot use {shown}: {_first_line(exc)}",
                        "check the URI's scheme and bucket, the credentials (AWS_* variables, a profile or the "
                        "instance role) and pyarrow's ?options")]  # fmt: skip
    if must_exist and kind == fs.FileType.NotFound:
        return [Problem(key, f"{shown} does not exist", "fix the path")]
    bucket = _bucket(uri)
    if bucket is not None:

        def bucket_probe():
            fsys, _ = formats.filesystem_for(uri)
            return fsys.get_file_info(bucket).type

        try:
            if _within(REMOTE_TIMEOUT_S, bucket_probe) == fs.FileType.NotFound:
                return [Problem(key, f"the bucket {bucket!r} of {shown} does not exist",
                                f"create the bucket {bucket!r} (or fix its name) before the run: moru makes folders "
                                "in a bucket, never the bucket")]  # fmt: skip
        except _TimedOut as exc:
            return [Problem(key, f"cannot reach the bucket of {shown}: {exc}",
                            "check the endpoint (spark.hadoop.fs.s3a.endpoint) and the network")]  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            what = "the store refused the credentials for" if _refused(exc) else "cannot use"
            return [Problem(key, f"{what} the bucket {bucket!r} of {shown}: {_first_line(exc)}", _KEYS_FIX)]
    return []


_KEYS_FIX = ("check the credentials (spark.hadoop.fs.s3a.access.key / secret.key, AWS_* variables, a profile or the "
             "instance role) and the endpoint (spark.hadoop.fs.s3a.endpoint)")  # fmt: skip


def _refused(exc: BaseException) -> bool:
    """An S3 error that says the keys were refused (pyarrow's ACCESS_DENIED, S3's 403 codes)."""
    return bool(re.search(r"ACCESS_DENIED|AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|403", str(exc)))


def _bucket(uri: str) -> str | None:
    """The bucket of an ``s3://`` / ``s3a://`` / ``s3n://`` URI (keys before it dropped), else None."""
    m = re.match(r"^s3[an]?://(?:[^/@]*@)?([^/?]+)", uri, re.IGNORECASE)
    return m.group(1) if m else None


def check_sources(sources: list[Any], key: str = "sources") -> list[Problem]:
    """Every source path exists and matches at least one file that ingest reads."""
    if not sources:
        return [Problem(key, "no sources are configured", "add at least one source (name and path)")]
    out: list[Problem] = []
    for i, src in enumerate(sources):
        k = f"{key}.{i}.path"
        hidden = getattr(src, "hidden_files", "skip")
        try:
            listing = _within(
                REMOTE_TIMEOUT_S * 2, lambda src=src, hidden=hidden: formats.list_files(src.path, hidden=hidden)
            )
        except _TimedOut:
            continue  # a large remote listing: it exists, or listing would have failed fast
        except FileNotFoundError as exc:
            out.append(Problem(k, f"source {src.name!r}: {exc}",
                               "fix the path (relative paths are relative to the config file's folder)"))  # fmt: skip
            continue
        except Exception as exc:  # noqa: BLE001
            out.append(Problem(k, f"source {src.name!r}: cannot list {storage.public(src.path)}: {_first_line(exc)}",
                               "check the URI, the credentials and pyarrow's ?options"))  # fmt: skip
            continue
        if not listing.files:
            reasons = formats.listing.describe_skipped(listing.skipped)
            why = f" ({', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))} skipped)" if reasons else ""
            fix = "point it at the data"
            if reasons.get("hidden"):
                fix += f", or set {key}.{i}.hidden_files: include to read names starting with '_' or '.'"
            out.append(Problem(k, f"source {src.name!r}: {storage.public(src.path)} matches no file{why}", fix))
            continue
        fmt = getattr(src, "format", "auto")
        if fmt == "auto":
            from spark_jobs.ingest.readers import detect_format

            if not any(detect_format(f.relpath) for f in listing.files):
                sample = ", ".join(f.relpath for f in listing.files[:3])
                out.append(Problem(f"{key}.{i}.format",
                                   f"source {src.name!r}: none of its {len(listing.files)} files has a name that "
                                   f"tells its format ({sample})",
                                   "set the source's format (jsonl, json, csv, tsv, parquet, warc, text)"))  # fmt: skip
    return out


def check_spark(spark_cfg: Any, key: str = "spark", paths: tuple[str, ...] = ()) -> list[Problem]:
    """What the session needs besides the config's paths: the local and standalone profiles' Delta jars; on a cluster
    (standalone, emr) a Delta package or jar among what is shipped, and an environment archive built for the driver's
    Python (``spark.archive``; standalone workers have no moru without it); S3A's jars where ``paths`` (the workdir,
    the sources) are on S3 and the standalone profile puts S3A on the class path."""
    profile = getattr(spark_cfg, "profile", "local") if spark_cfg is not None else None
    if profile not in ("local", "standalone", "emr"):
        return []
    from spark_jobs import session

    out: list[Problem] = []
    jars = list(getattr(spark_cfg, "jars", None) or [])
    packages = list(getattr(spark_cfg, "packages", None) or [])
    if profile == "local" or (profile == "standalone" and not jars):
        try:
            session.local_delta_jars(getattr(spark_cfg, "jars_dir", None))
        except FileNotFoundError as exc:
            out.append(Problem(f"{key}.jars_dir", str(exc).split(". Run", 1)[0],
                               "run scripts/setup.sh (it fetches the Delta jars into .cache/jars), or set "
                               "spark.jars_dir / MORU_JARS_DIR to the folder holding them"))  # fmt: skip
    elif (jars or packages) and not any("delta-spark" in j for j in jars + packages):
        where = f"{key}.packages" if packages or not jars else f"{key}.jars"
        out.append(Problem(where, f"no Delta Lake package is shipped to the cluster ({', '.join(jars + packages)}): "
                                  "every stage reads and writes Delta tables",
                           f"add io.delta:delta-spark_{session.SCALA_VERSION}:{session.DELTA_VERSION} to "
                           f"{key}.packages (or its jar to {key}.jars)"))  # fmt: skip
    if profile == "local":
        return out
    archive = getattr(spark_cfg, "archive", None)
    conf = dict(getattr(spark_cfg, "conf", None) or {})
    own_python = any(k in conf for k in ("spark.pyspark.python", "spark.executorEnv.PYSPARK_PYTHON", "spark.archives"))
    if archive:
        out += check_archive(archive, f"{key}.archive")
    elif profile == "standalone" and not own_python:
        out.append(
            Problem(
                f"{key}.archive",
                "no environment archive is set: the workers of a standalone cluster "
                "have no moru and no Python packages, so the first Python task fails",
                "build one with `moru package --out dist` and set spark.archive: dist/moru-env.tar.gz",
            )
        )
    if profile == "standalone" and any(_bucket(p) for p in paths):
        try:
            session.s3a_jars(getattr(spark_cfg, "s3a_jars_dir", None))
        except FileNotFoundError as exc:
            out.append(Problem(f"{key}.s3a_jars_dir", str(exc).split(". Run", 1)[0],
                               "run scripts/setup.sh (it fetches hadoop-aws and the AWS SDK bundle from Maven "
                               "Central), or set spark.s3a_jars_dir to the folder holding them"))  # fmt: skip
    return out


def check_archive(archive: str, key: str = "spark.archive") -> list[Problem]:
    """The environment archive exists and was built for the driver's Python (:func:`core.env_archive.check_archive`,
    which reads only its first member)."""
    from core.env_archive import ArchiveError
    from core.env_archive import check_archive as check

    try:
        _within(REMOTE_TIMEOUT_S * 3, lambda: check(archive))
    except _TimedOut as exc:
        return [Problem(key, f"cannot read the environment archive {storage.public(archive)}: {exc}",
                        "check the path, the endpoint and the credentials")]  # fmt: skip
    except ArchiveError as exc:
        message, _, fix = str(exc).partition(" Rebuild it")
        if "cannot open" in message:
            return [Problem(key, message.rstrip(". "),
                            "build it with `moru package --out dist` and point spark.archive at "
                            "dist/moru-env.tar.gz")]  # fmt: skip
        return [Problem(key, message.rstrip(". "), ("rebuild it" + fix).rstrip(". ") if fix else
                        "build it with `moru package --out dist`")]  # fmt: skip
    return []


def check(cfg: Any, sources: bool = True) -> list[Problem]:
    """Every problem :func:`check_workdir`, :func:`check_sources` (``sources=False``: skipped, for commands that
    do not ingest) and :func:`check_spark` find in ``cfg``. S3 is reached with the endpoint and keys the Spark
    profile gives S3A (``spark.hadoop.fs.s3a.*``), as the run's own writes will be."""
    from spark_jobs.session import s3_env

    out: list[Problem] = []
    with s3_env(getattr(cfg, "spark", None)):
        if hasattr(cfg, "workdir"):
            out += check_workdir(cfg.workdir)
        if hasattr(cfg, "spark"):
            paths = [getattr(cfg, "workdir", "") or ""] + [s.path for s in getattr(cfg, "sources", None) or []]
            out += check_spark(cfg.spark, paths=tuple(paths))
        if sources and hasattr(cfg, "sources"):
            out += check_sources(cfg.sources)
    return out


# ---------------------------------------------------------------------------- explaining failures


def _message(exc: BaseException) -> str:
    """The Java message chain of a Py4J error (its toString and causes), else the exception's text."""
    parts: list[str] = []
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            cause, depth = java, 0
            while cause is not None and depth < 8:
                parts.append(str(cause.toString()))
                cause, depth = cause.getCause(), depth + 1
        except Exception:  # noqa: BLE001 - the JVM may be gone
            pass
    parts.append(str(exc))
    seen = exc.__cause__ or exc.__context__
    if seen is not None and seen is not exc:
        parts.append(str(seen))
    return "\n".join(parts)


_PATH = re.compile(r"((?:[a-z][a-z0-9+.-]*:)?/[^\s'\"`,;]*)", re.IGNORECASE)


def _paths_in(text: str) -> list[str]:
    return [m.group(1).rstrip(".") for m in _PATH.finditer(text)]


def _normal(path: str) -> str:
    """A path as Spark prints it (``file:/x``, ``s3a://b/k``) made comparable with a config value."""
    path = re.sub(r"^file:/+", "/", path)
    path = re.sub(r"^s3[an]?://", "s3://", path)
    path = re.sub(r"^dbfs:/+", "dbfs:/", path)
    return path.rstrip("/")


def _config_paths(cfg: Any) -> list[tuple[str, str]]:
    """(key, value) of every path a stage may touch, most specific first."""
    out: list[tuple[str, str]] = []
    for i, src in enumerate(getattr(cfg, "sources", None) or []):
        out.append((f"sources.{i}.path", src.path))
    if getattr(cfg, "workdir", None):
        out.append(("workdir", cfg.workdir))
    return out


def _key_for(cfg: Any, paths: list[str], scheme: str | None = None) -> tuple[str, str] | None:
    candidates = _config_paths(cfg) if cfg is not None else []
    for path in paths:
        p = _normal(path)
        for key, value in candidates:
            v = _normal(storage.split_options(value)[0])
            fixed = re.split(r"[*?\[]", v, maxsplit=1)[0] if formats.listing.has_magic(v) else ""
            if p == v or p.startswith(v + "/") or (fixed and p.startswith(fixed)):
                return key, value
    if scheme is not None:
        for key, value in candidates:
            if value.lower().startswith(scheme.lower() + ":"):
                return key, value
    return None


def _named(found: tuple[str, str] | None, fallback: str = "workdir") -> str:
    if found is None:
        return fallback
    key, value = found
    return f"{key} ({storage.public(value)})"


def explain(exc: BaseException, cfg: Any = None) -> str | None:
    """One short paragraph for a failure Spark raised that comes from the configuration (a missing file system,
    a path that cannot be created or read, missing credentials or jars, too little memory), naming the config key
    (``cfg`` lets it find which key holds the path) and the fix; None for anything else."""
    text = _message(exc)
    m = re.search(r'No FileSystem for scheme "?([A-Za-z0-9+.-]+)"?', text)
    if m:
        scheme = m.group(1)
        key = _named(_key_for(cfg, _paths_in(text), scheme))
        if scheme.lower().startswith("s3"):
            fix = (
                "on the local profile write s3a:// (or set MORU_S3A=1) and add org.apache.hadoop:hadoop-aws to "
                "spark.packages; on EMR and Databricks s3:// works through the cluster's own file system"
            )
        else:
            fix = f"use a scheme this Spark knows, or add the Hadoop connector for {scheme}:// to spark.packages"
        return f'Spark has no file system for "{scheme}://" paths, used by {key}. Fix: {fix}.'
    if re.search(r"ClassNotFoundException: [\w.]*delta|DeltaSparkSessionExtension|delta\.DefaultSource", text, re.I):
        return ("Spark cannot find Delta Lake (spark.jars_dir): its jars are not on the classpath. Fix: run "
                "scripts/setup.sh (it fetches the Delta jars into .cache/jars), or set spark.jars_dir / MORU_JARS_DIR "
                "to the folder holding them; on EMR add io.delta:delta-spark to spark.packages.")  # fmt: skip
    create = re.search(
        r"DELTA_CANNOT_CREATE_LOG_PATH|Cannot create (?:file|directory)|Mkdirs failed to create|"
        r"Unable to create (?:directory|file)|Parent path is not a directory|ParentNotDirectoryException|"
        r"Read-only file system",
        text,
        re.I,
    )
    denied = re.search(r"Permission denied|AccessDeniedException|Access Denied|403 Forbidden|Status Code: 403", text,
                       re.I)  # fmt: skip
    if create or denied:
        found = _key_for(cfg, _paths_in(text))
        what = "cannot be created or written" if create else "cannot be accessed (permission denied)"
        paths = [p for p in _paths_in(text) if "/" in p]
        where = f" ({paths[0]})" if paths else ""
        if found is not None and found[0].startswith("sources."):
            fix = "make the source readable by the user Spark runs as, or fix the path"
        else:
            fix = ("choose a workdir you can write (a local folder, s3://bucket/prefix with write access, dbfs:/...), "
                   "or fix its permissions / the bucket policy")  # fmt: skip
        return f"A path of {_named(found)} {what}{where}. Fix: {fix}."
    if re.search(r"No AWS Credentials|Unable to load (?:AWS )?credentials|NoAuthWithAWSException|"
                 r"InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken", text, re.I):  # fmt: skip
        found = _key_for(cfg, _paths_in(text), "s3") or _key_for(cfg, [], "s3a")
        return (f"S3 refused the credentials for {_named(found)}. Fix: set AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), give the cluster an instance role, or set "
                "spark.hadoop.fs.s3a.* in spark.conf.")  # fmt: skip
    m = re.search(r"(?:PATH_NOT_FOUND\]\s*)?Path does not exist: (\S+)|FileNotFoundException: (\S+)", text)
    if m:
        path = (m.group(1) or m.group(2)).rstrip(".")
        found = _key_for(cfg, [path])
        if found is not None and found[0] == "workdir":
            return (f"{path} is missing under workdir ({storage.public(found[1])}): a stage reads a table an "
                    "earlier stage writes. Fix: run the earlier stages first (moru run), or point workdir at the "
                    "run that has them.")  # fmt: skip
        return f"{path} does not exist ({_named(found, 'sources')}). Fix: fix the path in the config."
    if re.search(r"No space left on device", text, re.I):
        found = _key_for(cfg, _paths_in(text))
        return (f"The disk is full ({_named(found)}, or Spark's scratch folder spark.local.dir). Fix: free space, "
                "or move the workdir / set spark.conf spark.local.dir to a larger disk.")  # fmt: skip
    if re.search(r"OutOfMemoryError: Java heap space|GC overhead limit exceeded", text):
        return ("The Spark driver ran out of memory (spark.driver_memory). Fix: raise spark.driver_memory (e.g. "
                "8g), or lower the work per task (spark.shuffle_partitions up).")  # fmt: skip
    m = re.search(r"Unable to execute HTTP request: Connect to (\S+) .{0,40}?failed: (Connection refused|connect timed "
                  r"out|Read timed out)", text)  # fmt: skip
    if m:  # the AWS SDK (S3A) lost the object store in the middle of a run
        found = _key_for(cfg, _paths_in(text))
        if found is None and isinstance(getattr(cfg, "workdir", None), str):
            found = ("workdir", cfg.workdir)  # stages write there: the usual place a lost store is noticed
        return (f"The object store at {m.group(1)} stopped answering ({m.group(2).lower()}) while a stage used "
                f"{_named(found)}. Delta commits are atomic: every table still reads as its last committed version. "
                "Fix: bring the store back (or check spark.hadoop.fs.s3a.endpoint and the network), then run the "
                "same command again.")  # fmt: skip
    m = re.search(r"UnknownHostException: (\S+)", text)
    if m:
        found = _key_for(cfg, _paths_in(text), "s3")
        return (f"The host {m.group(1)} is unknown, used by {_named(found)}. Fix: check the bucket name and the "
                "endpoint (?endpoint_override= or spark.hadoop.fs.s3a.endpoint), and the network.")  # fmt: skip
    return None
