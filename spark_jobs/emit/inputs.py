"""How stage 1 gets the documents of ``training_corpus`` at the gated version.

``files`` (the default when the table allows it): the Python workers read the table's Parquet files themselves
(pyarrow), so the text never passes through the JVM (no scan, no shuffle, no Arrow conversion of the text). The
files of the pinned version and their row counts come from the Delta log (delta-rs, ``deltalake``); their rows,
files sorted by path and rows in file order, are cut into ``partitions`` runs of equal length, one per
partition. Shards therefore depend on the table version's files, which is what a re-run reads: same version,
same bytes, on any cluster. A table the Parquet files alone do not describe (deletion vectors in use, column
mapping, partition columns, a reader feature delta-rs reports) is read the other way.

``spark``: Spark reads the table; rows are shuffled to ``partitions`` partitions by a hash of doc_id and sorted by
doc_id in each, so the shards depend only on the documents, not on the files (a rewrite of the same rows gives
the same bytes), at the cost of a shuffle of the text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import storage

log = logging.getLogger("moru.emit")


@dataclass(frozen=True)
class FilePlan:
    groups: list[list[tuple[str, int, int]]]  # per partition: (file URI, first row, end row), in the order read
    files: int
    rows: int
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
    rows = actions["num_records"].to_pylist() if "num_records" in columns else [None] * len(paths)
    files = sorted((by_name[p.rsplit("/", 1)[-1]], int(size), n) for p, size, n in zip(paths, sizes, rows, strict=True))
    if any(n is None for _, _, n in files):  # no row counts in the log: the files' footers have them
        files = [(u, size, n if n is not None else _footer_rows(u)) for u, size, n in files]
    return FilePlan(split_rows([(u, int(n)) for u, _, n in files], partitions), len(files),
                    sum(int(n) for _, _, n in files), sum(size for _, size, _ in files)), ""  # fmt: skip


def split_rows(files: list[tuple[str, int]], partitions: int) -> list[list[tuple[str, int, int]]]:
    """The files' rows end to end (files in the order given), cut into ``partitions`` runs of equal length (±1):
    partition p reads rows [p·N/P, (p+1)·N/P) of that sequence, as (file, first row, end row) pieces."""
    total = sum(n for _, n in files)
    bounds = [p * total // partitions for p in range(partitions + 1)]
    groups: list[list[tuple[str, int, int]]] = [[] for _ in range(partitions)]
    offset = 0
    for uri, n in files:
        for p in range(partitions):
            lo, hi = max(bounds[p], offset), min(bounds[p + 1], offset + n)
            if lo < hi:
                groups[p].append((uri, lo - offset, hi - offset))
        offset += n
    return groups


def parquet_file(uri: str):
    """``pyarrow.parquet.ParquetFile`` of a data file (local, ``dbfs:/`` or an object store); it owns the file it
    opens: use it in a ``with`` block to close it."""
    import pyarrow.parquet as pq

    filesystem, path = storage.filesystem(uri)
    return pq.ParquetFile(path, filesystem=filesystem)


def _footer_rows(uri: str) -> int:
    with parquet_file(uri) as pf:
        return pf.metadata.num_rows
