"""Spark session settings per deployment profile (no session started here)."""

from __future__ import annotations

import pytest

from spark_jobs.session import SparkConfig, local_delta_jars, session_settings


def test_local_profile_puts_cached_delta_jars_on_the_classpath():
    s = session_settings(SparkConfig(master="local[2]"))
    assert s["spark.master"] == "local[2]"
    jars = s["spark.jars"].split(",")
    assert [j.rsplit("/", 1)[-1] for j in jars] == ["delta-spark_2.13-4.0.0.jar", "delta-storage-4.0.0.jar"]
    assert s["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert s["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def test_missing_jars_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/setup.sh"):
        local_delta_jars(str(tmp_path))


def test_emr_profile_uses_packages_or_given_jars_and_no_master():
    s = session_settings(SparkConfig(profile="emr"))
    assert s["spark.jars.packages"] == "io.delta:delta-spark_2.13:4.0.0"
    assert "spark.master" not in s and "spark.jars" not in s
    s = session_settings(
        SparkConfig(profile="emr", jars=["s3://b/jars/delta-spark.jar", "s3://b/jars/delta-storage.jar"])
    )
    assert s["spark.jars"] == "s3://b/jars/delta-spark.jar,s3://b/jars/delta-storage.jar"
    assert "spark.jars.packages" not in s


def test_databricks_profile_adds_nothing_but_user_conf():
    assert session_settings(SparkConfig(profile="databricks", conf={"spark.sql.shuffle.partitions": "64"})) == {
        "spark.sql.shuffle.partitions": "64"
    }


def test_user_conf_wins():
    s = session_settings(SparkConfig(conf={"spark.sql.shuffle.partitions": "3"}))
    assert s["spark.sql.shuffle.partitions"] == "3"


def test_local_profile_jit_choice():
    options = session_settings(SparkConfig())["spark.driver.extraJavaOptions"]
    assert "-XX:TieredStopAtLevel=1" in options and "-XX:ReservedCodeCacheSize=512m" in options
    assert "TieredStopAtLevel" not in session_settings(SparkConfig(c1_jit=False))["spark.driver.extraJavaOptions"]
    assert "spark.driver.extraJavaOptions" not in session_settings(SparkConfig(profile="emr"))
