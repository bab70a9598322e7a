"""session.local_frame: driver rows to a DataFrame through one Arrow table."""

from __future__ import annotations

from pyspark.sql import types as T

from spark_jobs.session import local_frame

SCHEMA = T.StructType([
    T.StructField("name", T.StringType()),
    T.StructField("n", T.IntegerType()),
    T.StructField("big", T.LongType()),
    T.StructField("share", T.DoubleType()),
])  # fmt: skip


def test_rows_round_trip_with_their_types_and_nulls(spark):
    rows = [("한국어", 1, 2**40, 0.25), ("en", None, -3, None), (None, 7, 0, 1.0)]
    df = local_frame(spark, rows, SCHEMA)
    assert df.schema == SCHEMA
    assert [tuple(r) for r in df.collect()] == rows


def test_no_rows_give_an_empty_frame_with_the_schema(spark):
    df = local_frame(spark, [], SCHEMA)
    assert df.schema == SCHEMA
    assert df.count() == 0
