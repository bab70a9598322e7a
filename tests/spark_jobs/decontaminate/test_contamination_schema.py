"""The ``contamination`` table's provenance columns (source_table, turn_column, turn, role): a table written by
older code, without them, is read as documents' rows, evolved (ADD COLUMNS, its rows marked documents) before the
next write, and each job replaces only its own tables' rows."""

from __future__ import annotations

import pytest

from spark_jobs import tables
from spark_jobs.decontaminate.contamination import (
    ContaminationConfig,
    build_substrings,
    ensure_contamination_schema,
    read_contamination,
    write_contamination,
)
from spark_jobs.decontaminate.contamination import run as contamination_run
from spark_jobs.session import local_frame
from tests.spark_jobs.posttrain.helpers_selection import table_row

pytestmark = pytest.mark.spark

# the declaration before post-training decontamination existed
OLD_DDL = (
    "doc_id STRING NOT NULL, benchmark STRING NOT NULL, split STRING NOT NULL, example_id STRING NOT NULL, "
    "matched_substring STRING NOT NULL, offset INT NOT NULL, matched_windows INT NOT NULL, mode STRING NOT NULL, "
    "match STRING NOT NULL"
)
QUESTION = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
FILLER = "The weather was mild and the market opened early on the riverside that morning. "


def _old_table(spark, workdir):
    from pyspark.sql.types import StructType

    uri = tables.table_uri(workdir, tables.CONTAMINATION)
    rows = [("stale", "toyqa", "test", "q1", "nataliasoldclips", 0, 1, "exhaustive", "window")]
    spark.createDataFrame(rows, StructType.fromDDL(OLD_DDL)).write.format("delta").save(uri)


def test_an_old_table_is_evolved_and_each_job_keeps_to_its_rows(spark, tmp_path):
    wd = str(tmp_path / "wd")
    docs = [("clean", FILLER * 3), ("planted", FILLER + QUESTION.upper() + " " + FILLER)]
    frame = local_frame(spark, [table_row(tables.DOCUMENTS, {"doc_id": d, "text": t, "n_chars": len(t)})
                                for d, t in docs], tables.DOCUMENTS.schema)  # fmt: skip
    tables.overwrite(spark, frame, wd, tables.DOCUMENTS)
    examples = [{"benchmark": "toyqa", "split": "test", "example_id": "q1", "text": QUESTION}]
    build_substrings(spark, wd, spark.createDataFrame(examples), ContaminationConfig())
    _old_table(spark, wd)

    # read as it is: its rows are documents' rows, with no turn
    (old,) = read_contamination(spark, wd, "documents").collect()
    assert (old["doc_id"], old["source_table"], old["turn_column"], old["turn"], old["role"]) == (
        "stale", "documents", None, None, None)  # fmt: skip
    assert read_contamination(spark, wd, "conversations").count() == 0

    # evolved: the declared columns, the old row marked documents
    assert ensure_contamination_schema(spark, wd) == ["source_table", "turn_column", "turn", "role"]
    table = tables.read(spark, wd, tables.CONTAMINATION)
    assert table.columns == tables.CONTAMINATION.columns
    assert [r["source_table"] for r in table.collect()] == ["documents"]
    assert ensure_contamination_schema(spark, wd) == []

    # a post-training row, then the pretraining job: it replaces the documents rows only
    turn = spark.createDataFrame(
        [("conv1", "toyqa", "test", "q1", "nataliasoldclips", 5, 2, "exhaustive", "window", "conversations",
          "messages", 0, "user")],
        tables.CONTAMINATION.ddl.replace(" NOT NULL", ""),
    )  # fmt: skip
    write_contamination(spark, wd, turn, ("conversations",))
    stats = contamination_run(spark, wd, ContaminationConfig())
    assert (stats.rows_in, stats.rows_rejected) == (2, 1)
    rows = {(r["source_table"], r["doc_id"], r["turn"]) for r in tables.read(spark, wd, tables.CONTAMINATION).collect()}
    assert rows == {("documents", "planted", None), ("conversations", "conv1", 0)}

    # and the post-training side replaces its rows only
    empty = spark.createDataFrame([], tables.CONTAMINATION.schema)
    write_contamination(spark, wd, empty, ("conversations", "preference_pairs"))
    assert {r["doc_id"] for r in tables.read(spark, wd, tables.CONTAMINATION).collect()} == {"planted"}


def test_a_write_outside_its_tables_is_refused(spark, tmp_path):
    wd = str(tmp_path / "wd")
    row = spark.createDataFrame(
        [("d", "b", "test", "e", "x", 0, 1, "exhaustive", "window", "documents", None, None, None)],
        tables.CONTAMINATION.ddl.replace(" NOT NULL", ""),
    )
    with pytest.raises(Exception, match="(?i)replaceWhere|does not conform|predicate"):
        write_contamination(spark, wd, row, ("conversations",))
