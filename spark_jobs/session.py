"""Builds the Delta-enabled SparkSession for each deployment profile.

Profiles:
  local       ``local[*]`` (or any master), Delta jars put on ``spark.jars`` from a local cache
              folder filled by ``scripts/setup.sh`` (Maven Central), tables on the local disk.
  databricks  the cluster's existing session; Delta is built in, nothing is added.
  emr         a cluster session; Delta comes from ``jars`` (paths/URIs) or ``packages``
              (Maven coordinates resolved by Spark), storage on ``s3://``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DELTA_VERSION = "4.0.0"
SCALA_VERSION = "2.13"
DELTA_JARS = (f"delta-spark_{SCALA_VERSION}-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class SparkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Literal["local", "databricks", "emr"] = "local"
    master: str = "local[*]"
    app_name: str = "moru"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    jars_dir: str | None = Field(
        default=None, description="local profile: folder holding the Delta jars (default .cache/jars)"
    )
    jars: list[str] = Field(default_factory=list, description="emr: jar paths/URIs for spark.jars")
    packages: list[str] = Field(default_factory=list, description="emr: Maven coordinates for spark.jars.packages")
    ui: bool = False
    c1_jit: bool = Field(
        default=True,
        description=(
            "local profile: the JVM compiles with its quick C1 compiler only (-XX:TieredStopAtLevel=1). "
            "On 2 cores the optimizing C2 compiler took ~25 core-s of a 50 s job for no faster task code; "
            "turn it off for long-running sessions (the code cache is raised to 512 MB, as C1-only would shrink it "
            "to 48 MB)"
        ),
    )
    worker_daemon: bool = Field(
        default=True,
        description=(
            "local and emr profiles: Python workers fork from spark_jobs.worker_daemon, which imports the heavy "
            "modules the workers use (megatron-core's indexed_dataset, tokenizers, pyarrow, ...) once before it "
            "forks, instead of each worker importing them (~6 core-s each, again for every worker that replaces "
            "one the JVM stopped after a minute idle). Off: PySpark's own daemon"
        ),
    )
    worker_preload: list[str] | None = Field(
        default=None,
        description=(
            "modules the worker daemon imports before forking (None: numpy, pyarrow, pandas, tokenizers, "
            "megatron-core's indexed_dataset; the CLI drops the last two for commands that do not emit)"
        ),
    )
    conf: dict[str, str] = Field(default_factory=dict, description="any extra Spark settings")


def default_jars_dir() -> Path:
    env = os.environ.get("MORU_JARS_DIR")
    if env:
        return Path(env)
    repo_cache = Path(__file__).resolve().parent.parent / ".cache" / "jars"
    if repo_cache.is_dir():
        return repo_cache
    return Path.home() / ".cache" / "moru" / "jars"


def local_delta_jars(jars_dir: str | None) -> list[str]:
    folder = Path(jars_dir) if jars_dir else default_jars_dir()
    paths = [folder / name for name in DELTA_JARS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Delta Lake jars not found: {', '.join(missing)}. Run scripts/setup.sh (it fetches "
            f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION} from Maven Central) or set "
            "spark.jars_dir / MORU_JARS_DIR."
        )
    return [str(p) for p in paths]


def session_settings(cfg: SparkConfig) -> dict[str, str]:
    """The Spark settings moru adds for ``cfg.profile`` (local and emr; databricks adds none)."""
    if cfg.profile == "databricks":
        return dict(cfg.conf)
    settings: dict[str, str] = dict(_DELTA_CONF)
    settings.update(
        {
            "spark.app.name": cfg.app_name,
            "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.enabled": str(cfg.ui).lower(),
            "spark.log.structuredLogging.enabled": "false",
            # schema auto-merge stays off: tables.py owns every schema
            "spark.databricks.delta.schema.autoMerge.enabled": "false",
        }
    )
    if cfg.worker_daemon:
        settings["spark.python.daemon.module"] = "spark_jobs.worker_daemon"
        if cfg.worker_preload is not None:
            settings["spark.executorEnv.MORU_WORKER_PRELOAD"] = ",".join(cfg.worker_preload)
    if cfg.profile == "local":
        scratch = Path(os.environ.get("MORU_SCRATCH", Path.home() / ".cache" / "moru"))
        settings["spark.master"] = cfg.master
        settings["spark.jars"] = ",".join(local_delta_jars(cfg.jars_dir))
        settings["spark.driver.memory"] = cfg.driver_memory
        settings["spark.sql.warehouse.dir"] = str(scratch / "spark-warehouse")
        log4j = Path(__file__).with_name("log4j2.properties")
        java_options = f"-Dderby.system.home={scratch / 'derby'} -Dlog4j2.configurationFile=file:{log4j}"
        if cfg.c1_jit:
            # with C1 only, the JVM's code cache shrinks to 48 MB, which a session that runs many
            # different jobs (the test suite, a whole pipeline) fills up, and then it stops compiling
            java_options += " -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m"
        settings["spark.driver.extraJavaOptions"] = java_options
        settings["spark.python.worker.reuse"] = "true"
        # Delta rebuilds table state with 50 partitions by default: far too many for local[*]
        settings["spark.databricks.delta.snapshotPartitions"] = "2"
        settings["spark.ui.showConsoleProgress"] = "false"
    else:  # emr: Delta from the given jars, else from Maven Central through spark.jars.packages
        if cfg.jars:
            settings["spark.jars"] = ",".join(cfg.jars)
        packages = cfg.packages or ([] if cfg.jars else [f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"])
        if packages:
            settings["spark.jars.packages"] = ",".join(packages)
    settings.update(cfg.conf)
    return settings


def build_session(cfg: SparkConfig | None = None):
    """Return a Delta-enabled SparkSession for ``cfg.profile``."""
    from pyspark.sql import SparkSession

    cfg = cfg or SparkConfig()
    if cfg.profile == "databricks":
        # Databricks: the cluster's session as is; Delta and storage are the platform's.
        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        for key, value in cfg.conf.items():
            spark.conf.set(key, value)
        return spark
    if cfg.profile == "local":
        # Python workers must run the driver's interpreter (the venv with the kernels' deps)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in session_settings(cfg).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def session_conf(spark, settings: dict[str, str]) -> Iterator[None]:
    """Set Spark session settings for the jobs run inside, and restore the previous values (or unset) after."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def local_frame(spark, rows: list[tuple], schema):
    """A DataFrame of driver-side rows (tuples in ``schema``'s field order; ``schema`` a ``StructType``) that goes
    to the JVM as one Arrow table. ``spark.createDataFrame(rows)`` pickles the rows instead and has them unpickled
    by Python workers, a Spark job of its own (0.2-0.6 s on 2 cores for a few dozen rows, measured)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    arrow_schema = to_arrow_schema(schema)
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema.fields]
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, arrow_schema, strict=True)],
                                 schema=arrow_schema)  # fmt: skip
    return spark.createDataFrame(table, schema)


def config_for(cfg: SparkConfig, loads_tokenizer: bool) -> SparkConfig:
    """The Spark settings for a run of jobs: when none of them tokenizes in Python workers, the workers fork
    without megatron-core and tokenizers imported (~4 s less before the first Python task), unless
    ``spark.worker_preload`` is set."""
    from spark_jobs.worker_daemon import BASE_PRELOAD

    if loads_tokenizer or cfg.worker_preload is not None:
        return cfg
    return cfg.model_copy(update={"worker_preload": list(BASE_PRELOAD)})
