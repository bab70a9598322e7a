"""spark_jobs.posttrain.scores.write_pair_scores: a reward model's scores file into the Delta table pair_scores —
counts in = counts written, the declared schema, and re-writing the same (reward model, checkpoint) replaces its
rows (idempotent) while other reward models' and other checkpoints' rows stay."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs import tables
from spark_jobs.posttrain.scores import write_pair_scores


def _scores(path, n_train: int = 7, n_test: int = 2, offset: float = 0.0):
    splits = ["train"] * n_train + ["test"] * n_test
    index = list(range(n_train)) + list(range(n_test))
    chosen = [0.5 + offset + 0.1 * i for i in range(len(splits))]
    rejected = [0.2 - 0.05 * i for i in range(len(splits))]
    pq.write_table(pa.table({
        "doc_id": [f"{s}-{i}" for s, i in zip(splits, index, strict=True)], "pair_index": index, "split": splits,
        "chosen_score": chosen, "rejected_score": rejected,
        "margin": [c - r for c, r in zip(chosen, rejected, strict=True)],
    }), path)  # fmt: skip
    return path


def _rows(spark, workdir):
    df = tables.read(spark, workdir, tables.PAIR_SCORES)
    return sorted(tuple(r) for r in df.drop("scored_at").collect())


def test_write_counts_schema_and_idempotent_rewrite(spark, tmp_path):
    workdir = str(tmp_path / "wd")
    rm1 = _scores(tmp_path / "rm1.parquet")
    first = write_pair_scores(spark, workdir, rm1, "rm1", "/ck/rm1/iter_0000040")
    assert first["rows_in"] == first["rows_written"] == 9 and first["rows_replaced"] == 0
    assert first["by_split"] == {"test": 2, "train": 7} and first["table"] == "pair_scores"
    assert first["version"] == tables.version(spark, workdir, tables.PAIR_SCORES)
    df = tables.read(spark, workdir, tables.PAIR_SCORES)
    assert df.schema == tables.PAIR_SCORES.schema  # the declared columns, types and nullability
    row = df.filter("split = 'train' AND pair_index = 3").head()
    assert (row["doc_id"], row["reward_model"], row["checkpoint"]) == ("train-3", "rm1", "/ck/rm1/iter_0000040")
    assert row["margin"] == pytest.approx(row["chosen_score"] - row["rejected_score"])
    assert row["scored_at"] is not None
    before = _rows(spark, workdir)
    stamps = {r["scored_at"] for r in df.select("scored_at").collect()}

    # the same file again: the same rows (scored_at is the file's time), one more version
    again = write_pair_scores(spark, workdir, rm1, "rm1", "/ck/rm1/iter_0000040")
    assert again["rows_written"] == 9 and again["rows_replaced"] == 9 and again["version"] == first["version"] + 1
    assert _rows(spark, workdir) == before
    assert {r["scored_at"] for r in tables.read(spark, workdir, tables.PAIR_SCORES).select("scored_at").collect()} \
        == stamps  # fmt: skip

    # rescored by the same checkpoint (new scores): its rows replaced, no duplicates
    _scores(rm1, offset=1.0)
    write_pair_scores(spark, workdir, rm1, "rm1", "/ck/rm1/iter_0000040")
    after = tables.read(spark, workdir, tables.PAIR_SCORES)
    assert after.count() == 9
    assert after.filter("split = 'train' AND pair_index = 0").head()["chosen_score"] == pytest.approx(1.5)

    # another reward model, and rm1 at another checkpoint (with a quote in its path), are added beside
    write_pair_scores(spark, workdir, _scores(tmp_path / "rm2.parquet", offset=2.0), "rm2", "/ck/rm2/iter_0000040")
    odd = "/ck/rm1's/iter_0000080"
    write_pair_scores(spark, workdir, rm1, "rm1", odd)
    counts = {(r["reward_model"], r["checkpoint"]): r["count"] for r in tables.read(spark, workdir, tables.PAIR_SCORES)
              .groupBy("reward_model", "checkpoint").count().collect()}  # fmt: skip
    assert counts == {("rm1", "/ck/rm1/iter_0000040"): 9, ("rm2", "/ck/rm2/iter_0000040"): 9, ("rm1", odd): 9}
    # re-writing the odd one replaces only its own rows
    again = write_pair_scores(spark, workdir, rm1, "rm1", odd)
    assert again["rows_replaced"] == 9 and tables.read(spark, workdir, tables.PAIR_SCORES).count() == 27


def test_scored_at_is_the_files_time(spark, tmp_path):
    workdir = str(tmp_path / "wd")
    path = _scores(tmp_path / "rm1.parquet", n_train=3, n_test=0)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    out = write_pair_scores(spark, workdir, path, "rm1", "/ck/a")
    assert out["scored_at"].startswith("2023-11-14T22:13:20")
    assert out["by_split"] == {"train": 3}


def test_a_file_without_the_score_columns_is_refused(spark, tmp_path):
    workdir = str(tmp_path / "wd")
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"doc_id": ["a"], "pair_index": [0], "split": ["train"], "chosen_score": [1.0]}), bad)
    with pytest.raises(ValueError, match="no column rejected_score, margin"):
        write_pair_scores(spark, workdir, bad, "rm1", "/ck/a")
    with pytest.raises(ValueError, match="must be named"):
        write_pair_scores(spark, workdir, _scores(tmp_path / "ok.parquet"), "", "/ck/a")
    assert not tables.exists(spark, workdir, tables.PAIR_SCORES)
