"""posttrain_ingest on real Spark + Delta over one folder of every layout and format (conftest.write_corpus):
rows per table, every quarantine reason end to end, counts that add up, skipped files, and re-runs that change
nothing but what changed in the input."""

from __future__ import annotations

import json
import shutil

import pytest
from deltalake import DeltaTable

from quality.posttrain.schema import doc_id
from spark_jobs.posttrain import ingest
from tests.spark_jobs.posttrain.conftest import (
    EN_A,
    EN_A2,
    EN_Q,
    EN_Q2,
    EXPECTED,
    KO_A2,
    KO_Q2,
    SKIPPED,
    write_corpus,
)


def _table(workdir: str, name: str) -> list[dict]:
    return DeltaTable(f"{workdir}/tables/{name}").to_pyarrow_table().to_pylist()


@pytest.fixture(scope="module")
def tables_(posttrain_workdir):
    wd = posttrain_workdir.workdir
    return {name: _table(wd, name) for name in ("raw_conversations", "raw_preference_pairs", "quarantine")}


def test_every_source_lands_in_its_table_with_the_expected_counts(posttrain_workdir, tables_):
    stats = posttrain_workdir.ingest
    for source, want in EXPECTED.items():
        got = stats.by_source[source]
        assert got == {"read": want["read"], "accepted": want["accepted"],
                       "quarantined": sum(want["quarantined"].values())}, source  # fmt: skip
        convs = [r for r in tables_["raw_conversations"] if r["source"] == source]
        pairs = [r for r in tables_["raw_preference_pairs"] if r["source"] == source]
        assert len(convs) == want.get("conversations", 0), source
        assert len(pairs) == want.get("pairs", 0), source
        quarantined: dict[str, int] = {}
        for r in tables_["quarantine"]:
            if r["source"] == source and r["stage"] == "posttrain_ingest":
                quarantined[r["reason"]] = quarantined.get(r["reason"], 0) + 1
        assert quarantined == want["quarantined"], source


def test_counts_add_up(posttrain_workdir, tables_):
    stats = posttrain_workdir.ingest
    assert stats.rows_in == stats.rows_out + stats.rows_rejected
    assert stats.rows_in == sum(w["read"] for w in EXPECTED.values())
    assert stats.rows_rejected == sum(1 for r in tables_["quarantine"] if r["stage"] == "posttrain_ingest")
    assert stats.extra["rows_written"] == {
        "raw_conversations": len(tables_["raw_conversations"]),
        "raw_preference_pairs": len(tables_["raw_preference_pairs"]),
    }
    assert stats.extra["duplicate_items"] == 1  # the rated record whose one pair record 0 already gave
    for name in ("raw_conversations", "raw_preference_pairs"):
        ids = [r["doc_id"] for r in tables_[name]]
        assert len(ids) == len(set(ids)), name
    reasons = {r["reason"] for r in tables_["quarantine"] if r["stage"] == "posttrain_ingest"}
    assert reasons == set(stats.by_reason)


def test_every_quarantine_reason_is_reached_and_every_row_says_where_and_why(tables_):
    rows = [r for r in tables_["quarantine"] if r["stage"] == "posttrain_ingest"]
    assert {r["reason"] for r in rows} == set(ingest.REASONS)
    for r in rows:
        assert r["detail"], r
        assert r["source_file"] and r["record_index"] >= 0, r
        if r["reason"] not in ("corrupt_file", "blank_line", "unknown_format"):  # these have no record bytes
            assert r["raw_payload"] and r["payload_bytes"] > 0, r
    by = {(r["source"], r["source_file"], r["record_index"]): r for r in rows}
    assert by[("msgs", "chat.jsonl", 13)]["reason"] == "invalid_utf8"  # bytes that are not UTF-8
    assert by[("msgs", "chat.jsonl", 17)]["reason"] == "invalid_utf8"  # a lone surrogate escape
    assert by[("msgs", "broken.jsonl.gz", 2)]["reason"] == "corrupt_file"  # after its two records
    assert "BadGzipFile" in by[("msgs", "broken.jsonl.gz", 2)]["detail"]
    assert by[("pref", "binary.parquet", 1)]["reason"] == "invalid_utf8"  # a Parquet binary cell
    assert by[("qa", "chatbot.csv", 2)]["reason"] == "corrupt_record"
    assert by[("alpaca", "notes.txt", 0)]["reason"] == "unknown_format"
    assert by[("msgs", "chat.jsonl", 15)]["reason"] == "duplicate_record_key"
    assert by[("rated", "rated.jsonl", 2)]["reason"] == "duplicate_record_key"


def test_skipped_files_are_reported_with_their_reason(posttrain_workdir):
    extra = posttrain_workdir.ingest.extra
    skipped = {(s["source"], s["file"]): s["reason"] for s in extra["skipped_files"]}
    assert skipped == SKIPPED
    assert extra["files"]["read"] == extra["files"]["listed"] - 1  # blank.jsonl was listed, read, held nothing


def test_rows_hold_what_each_layout_says(tables_):
    convs = {(r["source"], r["record_index"], r["source_file"]): r for r in tables_["raw_conversations"]}
    qa = convs[("qa", 0, "chatbot.csv")]
    assert qa["messages"] == [{"role": "user", "content": KO_Q2}, {"role": "assistant", "content": KO_A2}]
    assert qa["layout"] == "qa" and qa["n_turns"] == 2 and qa["n_chars"] == len(KO_Q2) + len(KO_A2)
    assert qa["doc_id"] == doc_id("qa", qa["record_key"]) and qa["record_key"].startswith("sha:")
    parts = convs[("msgs", 3, "chat.jsonl")]  # content given as a list of text parts
    assert [m["content"] for m in parts["messages"]] == [EN_Q2, EN_A]
    alpaca = [r for r in tables_["raw_conversations"] if r["source"] == "alpaca" and r["source_file"] == "more.json"]
    assert sorted(r["record_index"] for r in alpaca) == [0, 1]  # a JSON array: a record per element
    sg = convs[("sg", 1, "sg.jsonl.gz")]
    assert [m["role"] for m in sg["messages"]] == ["system", "user", "assistant"]
    assert convs[("alpaca", 1, "al.jsonl.zst")]["messages"][0]["content"] == f"Summarize the text.\n\n{EN_A}"

    pairs = tables_["raw_preference_pairs"]
    hh = {r["record_key"]: r for r in pairs if r["source"] == "hh"}
    assert set(hh) == {"id:hh-0", "id:hh-1"}
    multi = hh["id:hh-1"]
    assert [m["role"] for m in multi["prompt"]] == ["user", "assistant", "user"]
    assert multi["chosen"] == [{"role": "assistant", "content": EN_A2}]
    assert multi["doc_id"] == doc_id("hh", "id:hh-1")
    scored = next(r for r in pairs if r["source"] == "pref" and r["prompt"][0]["content"] == EN_Q)
    assert (scored["chosen_score"], scored["rejected_score"]) == (7.5, 1.0)
    rated = [r for r in pairs if r["source"] == "rated"]
    assert sorted((r["record_index"], r["chosen_score"], r["rejected_score"]) for r in rated) == [
        (0, 5.0, 2.0), (0, 9.0, 2.0), (0, 9.0, 5.0), (3, 4.0, 2.0), (3, 9.0, 4.0),
    ]  # fmt: skip
    assert all(r["layout"] == "rated" and r["prompt"] == [{"role": "user", "content": EN_Q}] for r in rated)


def test_a_rerun_changes_only_what_changed_in_the_input(posttrain_workdir, run_posttrain, tmp_path):
    """Same input again: no row inserted, updated or duplicated. Here one record is added and one (with its own id)
    changed so that it now normalizes to nothing: exactly those two rows move, and the changed record loses its
    stale normalized row."""
    before = {name: _table(posttrain_workdir.workdir, name)
              for name in ("raw_conversations", "raw_preference_pairs", "quarantine", "conversations",
                           "preference_pairs")}  # fmt: skip
    workdir = posttrain_workdir.copy_to(tmp_path / "wd")
    sources = write_corpus(tmp_path / "in")  # the same files, written again
    with open(tmp_path / "in" / "qa" / "chatbot.csv", "ab") as fh:
        fh.write("새로 추가된 질문입니다,새로 추가된 답변입니다,0\n".encode())
    hh_file = tmp_path / "in" / "hh" / "hh.jsonl"
    lines = hh_file.read_text("utf-8").splitlines()
    record = json.loads(lines[0])
    record["chosen"] = f"\n\nHuman: {EN_Q}\n\nAssistant: &nbsp;"
    hh_file.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n", "utf-8")

    again = run_posttrain(workdir, sources)

    merged = again.ingest.extra["merged"]
    assert merged["raw_conversations"] == {"inserted": 1, "updated": 0, "deleted": 0}
    assert merged["raw_preference_pairs"] == {"inserted": 0, "updated": 1, "deleted": 0}
    assert again.ingest.rows_in == posttrain_workdir.ingest.rows_in + 1
    norm = again.normalize
    assert (norm.rows_in, norm.rows_out, norm.rows_rejected) == (2, 1, 1)
    assert norm.rows_unchanged == len(before["raw_conversations"]) + len(before["raw_preference_pairs"]) - 1
    assert norm.by_reason == {"empty_assistant_turn": 1}

    after = {name: _table(workdir, name) for name in before}
    changed = doc_id("hh", "id:hh-0")
    for name, rows in before.items():
        key = "quarantine_id" if name == "quarantine" else "doc_id"
        old = {r[key]: r for r in rows}
        new = {r[key]: r for r in after[name]}
        assert len(new) == len(after[name]), f"{name}: duplicate keys"
        untouched = {k for k in old if k != changed}
        assert {k: new[k] for k in untouched if k in new} == {k: old[k] for k in untouched}, name
    assert changed not in {r["doc_id"] for r in after["preference_pairs"]}  # its stale normalized row is gone
    added = [r for r in after["conversations"] if r["messages"][0]["content"] == "새로 추가된 질문입니다"]
    assert len(added) == 1 and added[0]["lang"] == "ko"
    new_quarantine = [r for r in after["quarantine"] if r["quarantine_id"] not in {q["quarantine_id"]
                                                                                   for q in before["quarantine"]}]
    assert [(r["stage"], r["source"], r["reason"], r["doc_id"]) for r in new_quarantine] == [
        ("posttrain_normalize", "hh", "empty_assistant_turn", changed)
    ]
    shutil.rmtree(tmp_path / "wd")

