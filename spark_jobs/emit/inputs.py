"""How stage 1 gets the documents of ``training_corpus`` at the gated version.

``files`` (the default when the table allows it): the Python workers read the table's Parquet files themselves
(pyarrow), so the text never passes through the JVM (no scan, no shuffle, no Arrow conversion of the text). The
files of the pinned version come from the Delta log (delta-rs, ``deltalake``); each partition gets a fixed group
of files (greedy by size over the files sorted by path), read in path order and row order. Shards therefore
depend on the table version's files, which is what a re-run reads: same version, same bytes, on any cluster.
A table the Parquet files alone do not describe (deletion vectors in use, column mapping, partition columns, a
reader feature delta-rs reports) is read the other way.

``spark``: Spark reads the table; rows are shuffled to ``partitions`` partitions by a hash of doc_id and sorted by
doc_id in each, so the shards depend only on the documents, not on the files (a rewrite of the same rows gives
the same bytes), at the cost of a shuffle of the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from spark_jobs import storage

log = logging.getLogger("moru.emit")


@dataclass(frozen=True)
class FilePlan:
    groups: list[list[str]]  # per partition: file URIs, in the order read
    files: int
    bytes: int


def plan_files(table_uri: str, version: int, partitions: int) -> tuple[FilePlan | None, str]:
    """The file groups of the table at ``version``, or None and why the table must be read through Spark."""
    try:
        from deltalake import DeltaTable
    except ImportError:  # pragma: no cover - a declared dependency
        return None, "deltalake is not installed"
    local = storage.local_path(table_uri)
    uri = str(local) if local is not None else table_uri
    try:
        import pyarrow as pa

        dt = DeltaTable(uri, version=version)
        protocol, meta = dt.protocol(), dt.metadata()
        actions = pa.table(dt.get_add_actions(flatten=True))
        columns = actions.column_names
        paths = [str(p) for p in actions["path"].to_pylist()]
        sizes = actions["size_bytes"].to_pylist()
        uris = dt.file_uris()
    except Exception as exc:  # noqa: BLE001  any reason delta-rs cannot read it: Spark can
        return None, f"delta-rs cannot read the table ({type(exc).__name__}: {exc})"
    features = set(protocol.reader_features or [])
    if meta.configuration.get("delta.columnMapping.mode", "none") != "none":
        return None, "column mapping is on"
    if meta.partition_columns:
        return None, f"the table is partitioned by {meta.partition_columns}"
    if any(c.startswith("deletionVector") for c in columns):
        dv = next(c for c in columns if c.startswith("deletionVector"))
        if any(v is not None for v in actions[dv].to_pylist()):
            return None, "deletion vectors are in use"
    unknown = features - {"deletionVectors", "timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"}
    if unknown or (protocol.min_reader_version > 1 and not features):
        return None, f"reader protocol {protocol.min_reader_version} with features {sorted(features)}"
    by_name = {u.rsplit("/", 1)[-1]: u for u in uris}
    files = sorted((by_name[p.rsplit("/", 1)[-1]], int(s)) for p, s in zip(paths, sizes, strict=True))
    groups: list[list[str]] = [[] for _ in range(partitions)]
    load = [0] * partitions
    # greedy, largest first (ties by path): each file to the lightest partition so far (ties by index)
    for path, size in sorted(files, key=lambda f: (-f[1], f[0])):
        i = min(range(partitions), key=lambda k: (load[k], k))
        groups[i].append(path)
        load[i] += size
    return FilePlan([sorted(g) for g in groups], len(files), sum(s for _, s in files)), ""
