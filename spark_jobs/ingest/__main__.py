"""spark-submit entry point: ``python -m spark_jobs.ingest --config moru.yaml`` (see :mod:`spark_jobs.entry`:
preflight first, exit 2 with one paragraph for a config problem or a failure it explains; ``--skip-checks``,
``--verbose``)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    from spark_jobs.entry import main as run

    run("ingest", argv)


if __name__ == "__main__":
    main()
