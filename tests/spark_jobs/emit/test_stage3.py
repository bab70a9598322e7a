"""Stage 3 (256K context extension) on the shared emit run: its long documents are exactly those of
``min_doc_tokens``+ tokens, cut into pieces of at most ``max_doc_tokens``; its rehearsal is shorter documents
(stage-1 documents, stage 2's long ones among them) drawn by their own hash until ``rehearsal_share`` of the
stage's tokens; the blend gives rehearsal exactly that share in stage 2's format; documents in = out + rejected;
a stage-3 blend no emit run wrote is left alone, one it wrote goes when stage 3 is turned off, and turning it off
changes no stage-1/2 byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_jobs import tables

from .conftest import EMIT, copy_workdir

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def rows(spark, emitted) -> list[dict]:
    return [r.asDict() for r in tables.read(spark, str(emitted.workdir), tables.EMITTED_DOCUMENTS).collect()]


def test_stage3_lengths_and_rehearsal_share(emitted, rows):
    s2, s3 = emitted.cfg.stage2, emitted.cfg.stage3
    assert s3.enabled and s3.long_share == pytest.approx(0.7)  # rehearsal_share set alone: long_share is the rest
    stage1 = {r["doc_id"]: r for r in rows if r["stage"] == "stage1"}
    long = [r for r in rows if r["stage"] == "stage3" and r["role"] == "long"]
    rehearsal = [r for r in rows if r["stage"] == "stage3" and r["role"] == "rehearsal"]
    assert long and rehearsal and {r["role"] for r in rows if r["stage"] == "stage3"} == {"long", "rehearsal"}
    assert all(s3.min_doc_tokens <= r["n_tokens"] <= s3.max_doc_tokens for r in long)
    assert any(r["n_tokens"] > s3.max_doc_tokens for r in stage1.values())  # there was something to split
    assert {r["doc_id"] for r in long} == {d for d, r in stage1.items() if r["n_tokens"] >= s3.min_doc_tokens}
    # a long document's pieces hold its tokens, one end-of-document token per piece
    by_doc: dict[str, list[int]] = {}
    for r in long:
        by_doc.setdefault(r["doc_id"], []).append(r["n_tokens"])
    for doc_id, sizes in by_doc.items():
        assert sum(sizes) - len(sizes) == stage1[doc_id]["n_tokens"] - 1
    # rehearsal: whole shorter documents, from stage 1's short ones and stage 2's long ones alike
    assert all(r["piece"] == 0 and r["n_tokens"] == stage1[r["doc_id"]]["n_tokens"] for r in rehearsal)
    assert all(r["n_tokens"] < s3.min_doc_tokens for r in rehearsal)
    assert any(r["n_tokens"] >= s2.min_tokens for r in rehearsal) and any(r["n_tokens"] < s2.min_tokens
                                                                             for r in rehearsal)  # fmt: skip
    # its own draw (another hash than stage 2's replay): not stage 2's sample
    replayed = {r["doc_id"] for r in rows if r["stage"] == "stage2" and r["role"] == "replay"}
    short_rehearsed = {r["doc_id"] for r in rehearsal if r["n_tokens"] < s2.min_tokens}
    assert short_rehearsed != replayed and short_rehearsed - replayed
    max_short = max(r["n_tokens"] for r in stage1.values() if r["n_tokens"] < s3.min_doc_tokens)
    checked = []
    for split, info in emitted.manifest["rehearsal"].items():
        lt = sum(r["n_tokens"] for r in long if r["split"] == split)
        rt = sum(r["n_tokens"] for r in rehearsal if r["split"] == split)
        assert (info["long_tokens"], info["rehearsal_tokens"]) == (lt, rt)
        from_stage2 = sum(r["n_tokens"] for r in rehearsal if r["split"] == split and r["n_tokens"] >= s2.min_tokens)
        assert info.get("rehearsal_tokens_from_stage2_long", 0) == from_stage2
        target = s3.rehearsal_share / s3.long_share * lt
        if info["short_tokens_available"] >= target:  # enough shorter documents: the target, plus < 2 documents
            assert target <= rt < target + 2 * max_short, (split, rt, target)
            checked.append(split)
        else:  # too few: every shorter document of the split is rehearsed
            assert rt == info["short_tokens_available"]
    assert "train" in checked
    # the manifest's length histogram counts stage 3's roles
    hist = emitted.manifest["length_histogram"]
    for role, docs in (("long", long), ("rehearsal", rehearsal)):
        h = [x for x in hist if (x["stage"], x["role"]) == ("stage3", role)]
        assert sum(x["documents"] for x in h) == len(docs)
        assert sum(x["tokens"] for x in h) == sum(r["n_tokens"] for r in docs)
    # the blend: stage 2's format, rehearsal exactly its share of every split that has it, shards of stage 3 only
    blend = emitted.blend("stage3")
    assert set(blend) <= {"train", "valid", "test"} and "train" in blend
    for split, items in blend.items():
        weights = dict(zip(items[1::2], items[0::2], strict=True))
        assert all(isinstance(w, float) for w in weights.values()) and list(weights) == sorted(weights)
        assert all(f"/stage3/{split}/" in p for p in weights)
        rehearsed = sum(w for p, w in weights.items() if f"/stage3/{split}/rehearsal/" in p)
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
        if any(r["split"] == split for r in rehearsal):
            assert rehearsed == pytest.approx(s3.rehearsal_share, abs=1e-12)


def test_stage3_in_counts_manifest_and_tables(emitted, rows):
    m, stats = emitted.manifest, emitted.stats
    # a document too short for stage 3 and not rehearsed is simply not in it: documents in = out + rejected
    assert stats.rows_in == stats.rows_out + stats.rows_rejected == m["counts"]["documents_in"]
    assert {r["doc_id"] for r in rows if r["stage"] == "stage3"} < {r["doc_id"] for r in rows if r["stage"] == "stage1"}
    assert m["blends"]["stage3"] == str(emitted.out / "stage3_blend.json")
    assert m["config"]["stage3"]["enabled"] and any(s["stage"] == "stage3" for s in m["shards"])
    assert all(s["path"].startswith(f"stage3/{s['split']}/{s['role']}/") for s in m["shards"] if s["stage"] == "stage3")
    assert {r["role"] for r in m["token_stats"] if r["stage"] == "stage3"} == {"long", "rehearsal"}
    assert stats.extra["rehearsal"] == m["rehearsal"] and stats.extra["rehearsal_share"] == 0.3
    assert (stats.extra["min_doc_tokens"], stats.extra["max_doc_tokens"]) == (8192, 16384)
    assert "stage3" in m["seconds"]


def _files(run_dir: Path, leave_out: str = "") -> dict[str, bytes]:
    """The run's shards and records by path (without its manifest, and without the ``leave_out`` stage's)."""
    out = {}
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        if p.is_file() and p.name != "manifest.json" and rel.parts[0] != leave_out:
            out[rel.as_posix()] = p.read_bytes()
    return out


def test_turning_stage3_off(spark, gated_workdir, emitted, tmp_path):
    """A run with stage 3 off (the default) on a workdir whose published run has it: no stage-3 shards, rows or
    blend (the one the previous run wrote is removed), and stage 1 and 2 byte-identical to the run with stage 3.
    A stage-3 blend that no emit run wrote (made by hand) is left alone."""
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    wd = copy_workdir(gated_workdir, tmp_path / "wd")
    out = wd / "emit"
    out.mkdir()
    for name in ("manifest.json", "stage3_blend.json"):  # as if the shared run (stage 3 on) had been published here
        (out / name).write_bytes((emitted.out / name).read_bytes())
    off = EmitConfig.model_validate({k: v for k, v in EMIT.items() if k != "stage3"})
    assert not off.stage3.enabled
    stats = job.run(spark, str(wd), off)
    assert stats.rows_in == stats.rows_out + stats.rows_rejected == emitted.stats.rows_in
    m = json.loads((out / "manifest.json").read_text())
    assert "stage3" not in m["blends"] and not m["rehearsal"] and stats.extra["rehearsal_share"] is None
    assert not (out / "stage3_blend.json").exists()  # emit wrote it, naming its run: gone with stage 3
    assert not (Path(m["run_dir"]) / "stage3").exists()
    assert not [r for r in tables.read(spark, str(wd), tables.EMITTED_DOCUMENTS).collect() if r["stage"] == "stage3"]
    # stage 3 reads stage 1's shards and writes only its own: with it or without, stages 1 and 2 are the same bytes
    assert _files(Path(m["run_dir"])) == _files(Path(emitted.manifest["run_dir"]), "stage3")

    # a stage-3 blend that no emit run wrote (made by hand before emit had stage 3) is left alone
    (out / "stage3_blend.json").write_text('{"train": [1.0, "/by/hand"]}')
    job.run(spark, str(wd), off, force=True)
    assert (out / "stage3_blend.json").read_text() == '{"train": [1.0, "/by/hand"]}'
