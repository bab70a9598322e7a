"""Builds the Delta-enabled SparkSession for each deployment profile.

Profiles:
  local       ``local[*]`` (or any master), Delta jars put on ``spark.jars`` from a local cache
              folder filled by ``scripts/setup.sh`` (Maven Central), tables on the local disk.
  databricks  the cluster's existing session; Delta is built in, nothing is added.
  emr         a cluster session; Delta comes from ``jars`` (paths/URIs) or ``packages``
              (Maven coordinates resolved by Spark), storage on ``s3://``.
  standalone  a ``spark://`` master whose workers have no moru: Python (moru and every dependency) reaches the
              executors only through the environment archive of ``moru package`` (``spark.archive`` ->
              ``spark.archives …#environment``, ``spark.pyspark.python=./environment/bin/python``); the Delta jars
              are shipped from ``jars_dir`` (``spark.jars``); S3A (hadoop-aws + the AWS SDK bundle, fetched by
              ``scripts/setup.sh``) is on every node's class path (``s3a_jars_dir``), and the driver's own S3
              writes (reports, manifests) go to the endpoint and keys of ``spark.hadoop.fs.s3a.*``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.paths import ConfigPath

DELTA_VERSION = "4.0.0"
SCALA_VERSION = "2.13"
DELTA_JARS = (f"delta-spark_{SCALA_VERSION}-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
# what the standalone profile's archive is unpacked as in every executor's working folder (spark.archives' #name)
ARCHIVE_ALIAS = "environment"
ARCHIVE_PYTHON = f"./{ARCHIVE_ALIAS}/bin/python"
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class SparkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Literal["local", "databricks", "emr", "standalone"] = "local"
    master: str = "local[*]"
    app_name: str = "moru"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    jars_dir: str | None = Field(
        default=None, description="local profile: folder holding the Delta jars (default .cache/jars)"
    )
    jars: list[str] = Field(default_factory=list, description="emr: jar paths/URIs for spark.jars")
    packages: list[str] = Field(default_factory=list, description="emr: Maven coordinates for spark.jars.packages")
    archive: ConfigPath | None = Field(
        default=None,
        description=(
            "standalone: the environment archive of `moru package` (moru-env.tar.gz; a local path or a URI Spark "
            "reads), unpacked on every executor as ./environment; its Python runs the Python workers"
        ),
    )
    executor_memory: str | None = Field(default=None, description="standalone: spark.executor.memory")
    executor_cores: int | None = Field(default=None, description="standalone: spark.executor.cores")
    s3a_jars_dir: str | None = Field(
        default=None,
        description=(
            "standalone: folder holding hadoop-aws and the AWS SDK bundle, at the same path on every node (default: "
            "the folder scripts/setup.sh fills, ${XDG_CACHE_HOME:-~/.cache}/moru/jars/s3a-hadoop-<Hadoop version>)"
        ),
    )
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


def cache_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/moru``: what scripts/setup.sh keeps outside the working tree (S3A jars, weed)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "moru"


def hadoop_version() -> str:
    """The Hadoop version of the installed pyspark's own jars (``hadoop-client-api-3.4.1.jar`` -> ``3.4.1``)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    for jar in sorted(jars.glob("hadoop-client-api-*.jar")):
        return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    raise FileNotFoundError(f"no hadoop-client-api jar in {jars}")


def s3a_jars(jars_dir: str | None = None) -> list[str]:
    """hadoop-aws (the version of pyspark's Hadoop) and the AWS SDK v2 jar(s) beside it, from ``jars_dir`` (default
    the cache folder scripts/setup.sh fills)."""
    version = hadoop_version()
    folder = Path(jars_dir) if jars_dir else cache_dir() / "jars" / f"s3a-hadoop-{version}"
    aws = folder / f"hadoop-aws-{version}.jar"
    sdk = sorted(folder.glob("bundle-*.jar"))
    if not aws.is_file() or not sdk:
        raise FileNotFoundError(
            f"S3A jars not found in {folder} (hadoop-aws-{version}.jar and the AWS SDK bundle-*.jar). Run "
            "scripts/setup.sh (it fetches them from Maven Central) or set spark.s3a_jars_dir."
        )
    return [str(aws), *map(str, sdk)]


def s3a_settings(cfg: SparkConfig) -> dict[str, str]:
    """The S3A endpoint, path style and keys ``cfg.conf`` gives (``spark.hadoop.fs.s3a.*``), by short name."""
    prefix = "spark.hadoop.fs.s3a."
    return {k.removeprefix(prefix): v for k, v in cfg.conf.items() if k.startswith(prefix)}


def s3_environment(cfg: SparkConfig) -> dict[str, str]:
    """The AWS variables that point pyarrow (the driver's own S3 reads and writes, preflight) at the store and keys
    Spark's S3A is configured with; empty when ``cfg.conf`` names no S3A endpoint or keys."""
    s3a = s3a_settings(cfg)
    env: dict[str, str] = {}
    if s3a.get("endpoint"):
        endpoint = s3a["endpoint"]
        if "://" not in endpoint:
            secure = s3a.get("connection.ssl.enabled", "true").lower() == "true"
            endpoint = ("https://" if secure else "http://") + endpoint
        env["AWS_ENDPOINT_URL"] = endpoint
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env.setdefault("AWS_REGION", s3a.get("endpoint.region") or os.environ.get("AWS_REGION") or "us-east-1")
    if s3a.get("access.key") and s3a.get("secret.key"):
        env["AWS_ACCESS_KEY_ID"] = s3a["access.key"]
        env["AWS_SECRET_ACCESS_KEY"] = s3a["secret.key"]
    return env


@contextmanager
def s3_env(cfg: SparkConfig | None) -> Iterator[None]:
    """:func:`s3_environment` set in ``os.environ`` for the block (what preflight checks with), restored after."""
    env = s3_environment(cfg) if cfg is not None else {}
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    elif cfg.profile == "standalone":
        settings["spark.master"] = cfg.master
        settings["spark.driver.memory"] = cfg.driver_memory
        settings["spark.jars"] = ",".join(cfg.jars or local_delta_jars(cfg.jars_dir))
        if cfg.packages:
            settings["spark.jars.packages"] = ",".join(cfg.packages)
        # hadoop-aws + the SDK bundle (~560 MB) lie at the same path on every node: put on the class path, not
        # copied into every application's folder as spark.jars would (missing: preflight names them where a path is
        # on S3, and Spark's "No FileSystem for scheme" is explained)
        try:
            class_path = ":".join(s3a_jars(cfg.s3a_jars_dir))
        except FileNotFoundError:
            class_path = ""
        if class_path:
            settings["spark.driver.extraClassPath"] = class_path
            settings["spark.executor.extraClassPath"] = class_path
        if cfg.archive:
            settings["spark.archives"] = f"{to_spark_uri(cfg.archive)}#{ARCHIVE_ALIAS}"
            settings["spark.pyspark.python"] = ARCHIVE_PYTHON
            settings["spark.executorEnv.PYSPARK_PYTHON"] = ARCHIVE_PYTHON
        # pyarrow in Python workers (ingest reading a source on S3) reaches the store S3A is configured for
        for name, value in s3_environment(cfg).items():
            settings.setdefault(f"spark.executorEnv.{name}", value)
        if cfg.executor_memory:
            settings["spark.executor.memory"] = cfg.executor_memory
        if cfg.executor_cores:
            settings["spark.executor.cores"] = str(cfg.executor_cores)
        scratch = Path(os.environ.get("MORU_SCRATCH", cache_dir()))
        settings["spark.sql.warehouse.dir"] = str(scratch / "spark-warehouse")
        log4j = Path(__file__).with_name("log4j2.properties")
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dderby.system.home={scratch / 'derby'} -Dlog4j2.configurationFile=file:{log4j}"
        )
        settings["spark.ui.showConsoleProgress"] = "false"
    else:  # emr: Delta from the given jars, else from Maven Central through spark.jars.packages
        if cfg.jars:
            settings["spark.jars"] = ",".join(cfg.jars)
        packages = cfg.packages or ([] if cfg.jars else [f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"])
        if packages:
            settings["spark.jars.packages"] = ",".join(packages)
    settings.update(cfg.conf)
    return settings


def to_spark_uri(path: str) -> str:
    """A local path as an absolute ``file:`` URI (what spark.archives wants), a URI as it is."""
    if "://" in path:
        return path
    return Path(path).expanduser().resolve().as_uri()


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
    if cfg.profile == "standalone":
        # the driver runs here (client mode) in this interpreter; the executors' Python is the archive's
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if cfg.archive:
            os.environ["PYSPARK_PYTHON"] = ARCHIVE_PYTHON
        # the driver's own S3 reads and writes (reports, manifests) go where Spark's S3A goes
        os.environ.update(s3_environment(cfg))
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
