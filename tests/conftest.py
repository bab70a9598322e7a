"""Fixtures every test package shares: one local Spark session (Delta-enabled, 2 cores) for the whole test
session, and the demo generator's bilingual texts."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from spark_jobs.session import SparkConfig, build_session

    session = build_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="3g"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo_texts(tmp_path_factory) -> list[str]:
    """1,500 documents of the demo generator's bilingual corpus (made once per test session)."""
    import orjson

    from demo.corpus import generate_jsonl

    paths = generate_jsonl(tmp_path_factory.mktemp("tok_corpus"), n_docs=1500, seed=7)
    texts = []
    for p in paths:
        with open(p, "rb") as fh:
            texts += [orjson.loads(line)["text"] for line in fh if line.strip()]
    return texts
