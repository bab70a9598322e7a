"""Run manifests: what a run read and wrote (table versions before and after, config, stats), so
that any training dataset can be traced back to the exact data that made it."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime

from core import locations, storage
from moru import __version__


def write_manifest(workdir: str, config: dict, stages: list[dict], versions_before: dict, versions_after: dict) -> str:
    now = datetime.now(UTC)
    doc = {
        "moru_version": __version__,
        "started_utc": now.isoformat(),
        "host": platform.node(),
        "python": platform.python_version(),
        "config": config,
        "table_versions_before": versions_before,
        "table_versions_after": versions_after,
        "stages": stages,
    }
    uri = storage.join(locations.manifests(workdir), f"run-{now.strftime('%Y%m%dT%H%M%S%fZ')}.json")
    storage.write_bytes(uri, json.dumps(doc, indent=2, ensure_ascii=False, default=str).encode())
    return uri
