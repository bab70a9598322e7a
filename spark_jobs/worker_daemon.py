"""PySpark's Python worker daemon, with the heavy modules moru's workers use imported once, before it forks.

PySpark starts Python workers by forking them from one daemon process per executor (``pyspark.daemon``), and
the JVM stops a worker that has been idle for a minute (``PythonWorkerFactory``'s fixed idle timeout). A worker
forked from the stock daemon imports what its task needs itself: for the emit job that is megatron-core's
``indexed_dataset`` (megatron-core imports torch: ~6 core-seconds), paid again by every worker that replaces a
stopped one. This module is the daemon moru's sessions name in ``spark.python.daemon.module``: it imports the
modules first, then runs PySpark's own daemon loop, so each forked worker starts with them already imported
(copy-on-write memory, nothing imported twice).

The modules: ``MORU_WORKER_PRELOAD`` (comma-separated; ``spark.worker_preload`` in the config sets it for the
executors through ``spark.executorEnv``, and the CLI sets :data:`BASE_PRELOAD` for commands that do not emit),
else :data:`DEFAULT_PRELOAD`. A module that fails to import is reported on stderr and skipped: the
worker that needs it imports it (and fails) as it would under the stock daemon. Nothing here starts a thread
before the fork (importing torch, tokenizers or pyarrow does not).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import warnings

PRELOAD_ENV = "MORU_WORKER_PRELOAD"
# what every moru worker uses; the emit job's workers also tokenize and write shards (megatron-core imports torch:
# ~4 s more before a session's first Python task, worth it only where something emits)
BASE_PRELOAD = ("numpy", "pyarrow", "pandas")
DEFAULT_PRELOAD = (*BASE_PRELOAD, "tokenizers", "megatron.core.datasets.indexed_dataset")


def preload_names() -> list[str]:
    raw = os.environ.get(PRELOAD_ENV)
    if raw is None:
        return list(DEFAULT_PRELOAD)
    return [n.strip() for n in raw.split(",") if n.strip()]


def preload(names: list[str]) -> dict[str, str]:
    """Import ``names``; returns what happened to each (``ok`` or the error). The daemon's stdout carries its port
    to the JVM, so anything an import prints goes to stderr instead (at the file-descriptor level)."""
    outcome: dict[str, str] = {}
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # megatron-core warns that Transformer Engine and Apex are absent
            for name in names:
                t0 = time.perf_counter()
                try:
                    importlib.import_module(name)
                    outcome[name] = f"ok ({time.perf_counter() - t0:.1f} s)"
                except Exception as exc:  # noqa: BLE001  (reported; the worker that needs it fails as before)
                    outcome[name] = f"{type(exc).__name__}: {exc}"
                    print(f"moru worker daemon: could not preload {name}: {outcome[name]}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return outcome


if __name__ == "__main__":
    preload(preload_names())
    from pyspark import daemon

    daemon.manager()
