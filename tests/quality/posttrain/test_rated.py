"""Rated completions → preference pairs: the pair rules and the UltraFeedback-like reader."""

from __future__ import annotations

import pytest

from quality.posttrain.rated import rated_pairs
from quality.posttrain.readers import RatedConfig, read_rated, read_record
from quality.posttrain.schema import Message, PreferencePair


def test_best_vs_worst_first_among_equals():
    assert rated_pairs([3, 9, 1, 9, 1]) == [(1, 2)]
    assert rated_pairs([5, 5, 5]) == []
    assert rated_pairs([7]) == []
    assert rated_pairs([7, 6], min_margin=1.5) == []
    assert rated_pairs([7, 5], min_margin=1.5) == [(0, 1)]


def test_all_pairs_margin_and_no_ties():
    scores = [4.0, 2.0, 4.0, 1.0]
    assert rated_pairs(scores, "all_pairs") == [(0, 1), (0, 3), (1, 3), (2, 1), (2, 3)]
    assert rated_pairs(scores, "all_pairs", min_margin=2.0) == [(0, 1), (0, 3), (2, 1), (2, 3)]
    assert rated_pairs(scores, "all_pairs", min_margin=3.0) == [(0, 3), (2, 3)]
    # a margin of 0 still never pairs a tie
    assert rated_pairs([1.0, 1.0], "all_pairs", min_margin=0.0) == []


def test_best_vs_random_is_seeded_and_deterministic():
    scores = [9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0]
    draws = {rated_pairs(scores, "best_vs_random", seed=0, key=f"record-{k}")[0] for k in range(60)}
    assert {c for c, _ in draws} == {0}  # the first of the tied best
    assert {r for _, r in draws} == {1, 2, 3, 4, 5}  # never the tied 9.0, and every lower one comes up
    again = rated_pairs(scores, "best_vs_random", seed=0, key="record-7")
    assert again == rated_pairs(list(scores), "best_vs_random", seed=0, key="record-7")
    by_seed = {rated_pairs(scores, "best_vs_random", seed=s, key="record-7")[0] for s in range(40)}
    assert len(by_seed) > 1
    assert rated_pairs(scores, "best_vs_random", min_margin=7.5, key="x") == [(0, 1)]


def test_same_text_never_pairs():
    texts = ["A", "B", " A "]
    assert rated_pairs([9, 5, 1], "all_pairs", texts=texts) == [(0, 1), (1, 2)]
    assert rated_pairs([9, 5, 1], "best_vs_worst", texts=texts) == []


def test_unknown_rule():
    with pytest.raises(ValueError, match="unknown pair rule"):
        rated_pairs([1, 2], "best_vs_median")


def completion(model: str, response: str, score) -> dict:
    return {"model": model, "response": response, "overall_score": score}


ULTRAFEEDBACK = {
    "source": "evol_instruct",
    "instruction": "Explain what a hash map is in one sentence.",
    "models": ["gpt-4", "llama-2-7b-chat", "falcon-40b-instruct", "ultralm-13b"],
    "completions": [
        completion("gpt-4", "A hash map stores key-value pairs and finds values by hashing keys.", 8.5),
        completion("llama-2-7b-chat", "It is a map.", 3.0),
        completion("falcon-40b-instruct", "A table that maps keys to buckets via a hash function.", 7.0),
        completion("ultralm-13b", "해시 맵은 키를 해시해서 값을 찾는 자료구조입니다.", "N/A"),
    ],
}


def rated(prompt, *scored) -> dict:
    """A rated record: ``scored`` are (response, score) pairs; a score of ... leaves the score field out."""
    items = [{"response": r} if sc is ... else {"response": r, "overall_score": sc} for r, sc in scored]
    return {"prompt": prompt, "completions": items}


def test_ultrafeedback_record_best_vs_worst():
    pairs = read_rated(ULTRAFEEDBACK)
    assert pairs == [
        PreferencePair(
            (Message("user", "Explain what a hash map is in one sentence."),),
            (Message("assistant", "A hash map stores key-value pairs and finds values by hashing keys."),),
            (Message("assistant", "It is a map."),),
            8.5,
            3.0,
        )
    ]


def test_ultrafeedback_all_pairs_and_keys():
    cfg = RatedConfig(rule="all_pairs", min_margin=1.0, id_field="source")
    pairs = read_rated(ULTRAFEEDBACK, cfg)
    assert [(p.chosen_score, p.rejected_score) for p in pairs] == [(8.5, 3.0), (8.5, 7.0), (7.0, 3.0)]
    out = read_record(ULTRAFEEDBACK, cfg)
    assert len(set(out.keys)) == 3 and all(k.startswith("id:evol_instruct/sha:") for k in out.keys)
    assert out.keys == read_record(ULTRAFEEDBACK, cfg).keys


def test_ultrafeedback_best_vs_random_stable_over_runs():
    cfg = RatedConfig(rule="best_vs_random", seed=13)
    first = read_rated(ULTRAFEEDBACK, cfg)
    assert len(first) == 1 and first[0].chosen_score == 8.5 and first[0].rejected_score in (3.0, 7.0)
    assert read_rated(dict(ULTRAFEEDBACK), cfg) == first


def test_text_completions_and_message_prompt():
    record = {
        "prompt": [{"role": "system", "content": "한국어로 답하세요."}, {"role": "user", "content": "1+1은?"}],
        "completions": [{"text": "2입니다.", "overall_score": 5}, {"text": "11입니다.", "overall_score": 1}],
    }
    (pair,) = read_rated(record)
    assert [m.role for m in pair.prompt] == ["system", "user"]
    assert pair.chosen == (Message("assistant", "2입니다."),)


TWO_TURN = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(
    ("record", "cfg", "reason"),
    [
        (rated("q", ("a", 3), ("b", 3)), RatedConfig(), "no_pairs"),
        (rated("q", ("a", 3), ("b", ...)), RatedConfig(), "no_pairs"),
        (rated("q", ("a", 3), ("b", None)), RatedConfig(), "no_pairs"),
        (rated("q", ("a", 3), ("b", float("nan"))), RatedConfig(), "no_pairs"),
        (rated("q", ("a", 3), (" ", 1)), RatedConfig(), "no_pairs"),
        (rated("q", ("a", 5), ("a", 1)), RatedConfig(), "chosen_equals_rejected"),
        (rated("q", ("a" * 20, 5), ("b", 1)), RatedConfig(max_chars=10), "too_long"),
        (rated("", ("a", 5), ("b", 1)), RatedConfig(), "empty_prompt"),
        (rated(TWO_TURN, ("a", 5), ("b", 1)), RatedConfig(), "roles_out_of_order"),
        (rated("q", ("a", [5])), RatedConfig(), "wrong_type"),
        (rated("q", ("a", True)), RatedConfig(), "wrong_type"),
        ({"prompt": "q", "completions": {"response": "a"}}, RatedConfig(), "wrong_type"),
        ({"prompt": "q", "completions": ["a", "b"]}, RatedConfig(), "wrong_type"),
        ({"completions": []}, RatedConfig(), "missing_field"),
        ({"prompt": "q"}, RatedConfig(), "missing_field"),
    ],
)
def test_rejections(record, cfg, reason):
    out = read_rated(record, cfg)
    assert not isinstance(out, list), out
    assert out.reason == reason, out


def test_long_completions_are_left_out_not_the_record():
    record = {
        "prompt": "q",
        "completions": [
            {"response": "x" * 50, "overall_score": 9},
            {"response": "good", "overall_score": 7},
            {"response": "bad", "overall_score": 2},
        ],
    }
    (pair,) = read_rated(record, RatedConfig(max_chars=20))
    assert (pair.chosen[0].content, pair.rejected[0].content) == ("good", "bad")
