"""The run report's sections rendered from hand-made summaries (the demo's end-to-end test renders them from a real
run: tests/demo/test_demo.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib.image as mpimg

from eval.report import measured_detection_plot, posttrain_section, write_report


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    h, w = mpimg.imread(io.BytesIO(data)).shape[:2]
    return w, h


def test_report_decontamination_section_without_the_measured_plot(tmp_path, monkeypatch):
    import eval.report as report

    assert measured_detection_plot(Path(__file__).resolve().parents[2]) is not None  # committed in the repo
    assert measured_detection_plot(tmp_path) is None
    summary = {
        "contamination": [{"benchmark": "b", "indexed_examples": 5, "contaminated_examples": 1,
                           "contaminated_docs": 2, "mode": "sampled"}],
        "contamination_by_length": {"edges": [0, 500, 10**12], "mode": "sampled", "buckets": [
            {"bin": 0, "lo": 0, "hi": 500, "docs": 10, "flagged": 2},
            {"bin": 1, "lo": 500, "hi": 10**12, "docs": 0, "flagged": 0}]},
    }  # fmt: skip
    files: dict[str, bytes] = {}
    monkeypatch.setattr(report, "measured_detection_plot", lambda root=None: None)  # an install without it
    written = write_report(summary, files.__setitem__)
    index = files["index.html"].decode()
    assert "contamination_lengths.png" in written and "decontam_detection.png" not in written
    assert 'src="decontam_detection.png"' not in index and "is not next to the installed package" in index
    assert "<td>&lt;500</td><td>10</td><td>2</td><td>20.00%</td>" in index
    assert json.loads(files["summary.json"]) == summary


def _funnel(kind: str, read: int, accepted: int, steps: list[tuple[str, dict[str, int]]]) -> list[dict]:
    rows = [{"kind": kind, "stage": "records read", "lang": "all", "rows": read},
            {"kind": kind, "stage": "accepted", "lang": "all", "rows": accepted}]  # fmt: skip
    for stage, by_lang in steps:
        rows += [{"kind": kind, "stage": stage, "lang": lang, "rows": n} for lang, n in by_lang.items()]
    return rows


POSTTRAIN = {
    "funnel": _funnel("conversations", 60, 50, [("normalized", {"ko": 30, "en": 20}),
                                                 ("after dedup", {"ko": 25, "en": 20}),
                                                 ("selected (after decontamination)", {"ko": 24, "en": 18}),
                                                 ("emitted", {"ko": 24, "en": 17})])
    + _funnel("pairs", 12, 14, [("normalized", {"en": 14}), ("after dedup", {"en": 13}),
                                ("selected (after decontamination)", {"en": 11}), ("emitted", {"en": 11})]),
    "quarantine": [
        {"stage": "posttrain_ingest", "kind": "conversations", "source": "chat", "reason": "missing_field", "count": 2},
        {"stage": "posttrain_ingest", "kind": "conversations", "source": "qa", "reason": "missing_field", "count": 1},
        {"stage": "posttrain_ingest", "kind": "pairs", "source": "hh", "reason": "unparseable_hh", "count": 7},
    ],
    "selection_rules": [{"kind": "conversations", "step": "dedup", "rule": "duplicate:first_user", "count": 5},
                        {"kind": "pairs", "step": "contamination", "rule": "contaminated:gsm8k", "count": 2}],
    "contamination": [
        {"table": "conversations", "turn_column": "messages", "role": "user", "benchmark": "gsm8k", "turns": 4,
         "examples": 3, "benchmark_examples": 2},
        {"table": "preference_pairs", "turn_column": "rejected", "role": "assistant", "benchmark": "gsm8k",
         "turns": 2, "examples": 2, "benchmark_examples": 2},
    ],
    "gate": {"passed": False, "run_time": "2026-01-01T00:00:00", "expectations": 17,
             "failed": ["sft_corpus: share of lang ko 0.97 above 0.95"], "data_docs": "posttrain_data_docs/index.html",
             "table_versions": {"sft_corpus": 3, "preference_corpus": 2}},
    "emit": {
        "run_id": "20260101T000000Z-abc", "run_dir": "/w/posttrain_emit/runs/20260101T000000Z-abc", "notes": [],
        "sft": {"examples": 41, "sequences": 4, "tokens": 3900, "supervised_tokens": 1500, "truncated": 1,
                "mask_share": 1500 / 3900, "packing_efficiency": 3900 / 4096, "seq_length": 1024,
                "splits": {"train": {"examples": 40, "sequences": 3, "tokens": 3000, "supervised_tokens": 1200,
                                     "truncated": 1},
                           "valid": {"examples": 1, "sequences": 1, "tokens": 900, "supervised_tokens": 300,
                                     "truncated": 0}}},
        "pairs": {"pairs": 11, "prompt_tokens": 500, "chosen_tokens": 400, "rejected_tokens": 300,
                  "chosen_supervised_tokens": 380, "rejected_supervised_tokens": 290,
                  "splits": {"train": {"pairs": 11, "prompt_tokens": 500, "chosen_tokens": 400, "rejected_tokens": 300,
                                       "chosen_supervised_tokens": 380, "rejected_supervised_tokens": 290}}},
        "counts": {"rows_in": 54, "rows_out": 52, "sft": {"in": 42, "out": 41, "rejected": {"no_supervised_turn": 1}},
                   "pairs": {"in": 12, "out": 11, "rejected": {"too_long": 1}}},
    },
}  # fmt: skip


def test_posttrain_section_from_a_hand_made_summary():
    files: dict[str, bytes] = {}
    written = write_report({"posttrain": POSTTRAIN}, files.__setitem__)
    index = files["index.html"].decode()
    assert {"posttrain_funnel.png", "posttrain_flags.png"} <= set(written)
    assert 'src="posttrain_funnel.png"' in index and 'src="posttrain_flags.png"' in index
    w, h = _png_size(files["posttrain_funnel.png"])
    assert w > 1000 and h > 300  # two panels side by side, a row per stage
    assert _png_size(files["posttrain_flags.png"])[0] > 1000
    assert "Post-training data: conversations and preference pairs" in index
    # the headline numbers: packing efficiency and mask share of the SFT datasets, pairs emitted
    assert "41 conversations packed into 4 sequences of at most 1,024 tokens" in index
    assert "packing efficiency <b>0.952</b>" in index and "mask share <b>0.385</b>" in index
    assert (
        "Post-training gate (Great Expectations): <b>FAILED: nothing is emitted past it</b> (17 expectations on "
        "sft_corpus v3, preference_corpus v2)" in index
    )
    assert '<a href="posttrain_data_docs/index.html">Data Docs</a>' in index
    assert "<li>sft_corpus: share of lang ko 0.97 above 0.95</li>" in index
    assert "Train split alone: packing efficiency 0.977" in index and "Preference pairs: 11." in index
    # funnel tables per kind: totals and each language (a kind without a language shows "-")
    assert "<td>records read</td><td>60</td><td>-</td><td>-</td>" in index
    assert "<td>after dedup</td><td>45</td><td>25</td><td>20</td>" in index
    assert "<td>emitted</td><td>41</td><td>24</td><td>17</td>" in index
    assert "<td>emitted</td><td>11</td><td>11</td></tr>" in index  # pairs: English only
    # quarantine: one row per stage, kind and reason, with its sources
    assert (
        "<td>posttrain_ingest</td><td>conversations</td><td>missing_field</td><td>3</td><td>chat 2, qa 1</td>" in index
    )
    assert "<td>pairs</td><td>unparseable_hh</td><td>7</td><td>hh 7</td>" in index
    assert "<td>conversations</td><td>dedup</td><td>duplicate:first_user</td><td>5</td>" in index
    # contamination per table, turn column, role and benchmark
    assert "<td>preference_pairs</td><td>rejected</td><td>assistant</td><td>gsm8k</td><td>2</td><td>2</td>" in index
    # the emitted datasets per split; emission's own rejections
    assert "<td>sft train</td><td>40</td><td>3</td><td>3,000</td><td>1,200</td><td>0.400</td><td>0.977</td>" in index
    assert "<td>sft valid</td><td>1</td><td>1</td><td>900</td><td>300</td><td>0.333</td><td>0.879</td>" in index
    assert "<td>pairs train</td><td>11</td><td>-</td><td>1,200</td><td>670</td><td>0.950 (chosen)</td>" in index
    assert "sft: no_supervised_turn 1, pairs: too_long 1" in index
    assert json.loads(files["summary.json"]) == {"posttrain": POSTTRAIN}


def test_posttrain_section_before_anything_is_emitted_or_flagged():
    files: dict[str, bytes] = {}
    pt = {"funnel": POSTTRAIN["funnel"][:2], "quarantine": [], "selection_rules": [], "contamination": [], "gate": None,
          "emit": None}  # fmt: skip
    body = posttrain_section(pt, files)
    assert "Nothing emitted yet" in body and "nothing quarantined" in body
    assert "no benchmark text found in any turn" in body and "Emitted datasets" not in body
    assert "Post-training gate" not in body
    assert set(files) == {"posttrain_funnel.png", "posttrain_flags.png"}
    # no post-training sources: no section at all
    files = {}
    write_report({"posttrain": None, "stages": []}, files.__setitem__)
    assert "Post-training" not in files["index.html"].decode() and "posttrain_funnel.png" not in files


def test_emit_token_rows_keep_stage_3_apart_from_stage_2():
    from eval.report import emit_token_rows

    def row(stage, role, tokens, split="train"):
        return {"stage": stage, "role": role, "split": split, "lang": "ko", "source": "news", "documents": 1,
                "tokens": tokens, "blend_weight": 0.5 if split == "train" else 0.0}  # fmt: skip

    stats = [row("stage1", "all", 100), row("stage2", "long", 40), row("stage2", "replay", 10),
             row("stage3", "long", 70), row("stage3", "rehearsal", 30), row("stage3", "long", 5, "valid")]  # fmt: skip
    got = {r["stage"]: r for r in emit_token_rows(stats)}
    assert list(got) == ["stage1", "stage2 long", "stage2 replay", "stage3 long", "stage3 rehearsal"]
    assert got["stage3 long"]["tokens"] == 75 and got["stage2 long"]["tokens"] == 40
    assert got["stage3 long"]["share"] == 75 / 105 and got["stage2 replay"]["share"] == 10 / 50
