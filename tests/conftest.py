"""One local Spark session (Delta-enabled, 2 cores) for the whole test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from spark_jobs.session import SparkConfig, build_session

    session = build_session(SparkConfig(master="local[2]", shuffle_partitions=2, driver_memory="3g"))
    yield session
    session.stop()
