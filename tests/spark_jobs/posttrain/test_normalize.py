"""posttrain_normalize: the kernels on their own (real fastText language id, no Spark), then the job's tables from
the shared workdir (conftest): normalized turns, per-turn languages, the planted Korean-question/English-answer
mismatch, dedup hashes, rejections after normalization, counts."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from quality.dedup.canonical import CanonicalForm, content_hash
from quality.posttrain.validate import Rejection
from spark_jobs.normalize import NormalizeConfig
from spark_jobs.posttrain.normalize import (
    Settings,
    labeller,
    normalize_conversations,
    normalize_pairs,
    turns_hash,
)
from tests.spark_jobs.posttrain.conftest import (
    EN_A,
    EN_A2,
    EN_Q,
    EN_Q2,
    EXPECTED_NORMALIZE_REJECTED,
    KO_A,
    KO_Q,
    MISMATCH_A,
    MISMATCH_Q,
    SYSTEM,
    msg,
)

SPANISH = "La capital de Corea del Sur es Seúl, una ciudad con unos diez millones de habitantes."
SETTINGS = Settings(NormalizeConfig(), CanonicalForm())
LABEL = labeller(SETTINGS.normalize)


# ---------------------------------------------------------------------------------------------- kernels


def test_a_korean_question_answered_in_english_is_a_mismatch_and_short_or_same_language_answers_are_not():
    rows = normalize_conversations(
        [
            [msg("user", MISMATCH_Q), msg("assistant", MISMATCH_A)],
            [msg("system", SYSTEM), msg("user", KO_Q), msg("assistant", KO_A)],
            [msg("user", KO_Q), msg("assistant", "OK, Seoul.")],  # too short to tell: und agrees with anything
            [msg("user", EN_Q), msg("assistant", EN_A), msg("user", MISMATCH_Q), msg("assistant", KO_A)],
            # fastText gives this English question 'en' at ~0.3 only: lang 'other', but not a language switch
            [msg("user", "What’s black culture?"), msg("assistant", EN_A)],
            # a confident other language is one
            [msg("user", MISMATCH_Q), msg("assistant", SPANISH)],
        ],
        SETTINGS,
        LABEL,
    )
    mismatch, korean, short, switched, unsure, spanish = rows
    assert (unsure["prompt_lang"], unsure["response_lang"], unsure["lang_mismatch"]) == ("other", "en", False)
    assert (spanish["prompt_lang"], spanish["response_lang"], spanish["lang_mismatch"]) == ("ko", "other", True)
    assert (mismatch["prompt_lang"], mismatch["response_lang"], mismatch["lang_mismatch"]) == ("ko", "en", True)
    assert mismatch["turn_langs"] == ["ko", "en"]
    assert korean["turn_langs"] == ["en", "ko", "ko"] and korean["lang"] == "ko"  # the system prompt is left out
    assert dict(korean["lang_mix"]) == {"en": 1, "ko": 2}
    assert not korean["lang_mismatch"] and not short["lang_mismatch"]
    # the last question is Korean, and so is the answer: the earlier English exchange does not count
    assert (switched["prompt_lang"], switched["response_lang"], switched["lang_mismatch"]) == ("ko", "ko", False)
    assert switched["turn_langs"] == ["en", "en", "ko", "ko"]


def test_turns_are_normalized_and_rules_checked_again():
    rows = normalize_conversations(
        [
            [msg("system", "&nbsp;"), msg("user", "caf\u0065\u0301 &amp; \u1100\u1161\u11a8  menu?"),
             msg("assistant", "Two   spaces\r\nand a line.")],
            [msg("user", EN_Q), msg("assistant", "&nbsp;\u200b")],
            [msg("user", "&#8203;"), msg("assistant", EN_A)],
        ],
        SETTINGS,
        LABEL,
    )  # fmt: skip
    ok, empty_answer, empty_question = rows
    assert ok["messages"] == [{"role": "user", "content": "caf\u00e9 & \uac01 menu?"},
                              {"role": "assistant", "content": "Two spaces\nand a line."}]  # fmt: skip
    assert ok["n_turns"] == 2 and ok["n_chars"] == len("caf\u00e9 & \uac01 menu?") + len("Two spaces\nand a line.")
    assert isinstance(empty_answer, Rejection) and empty_answer.reason == "empty_assistant_turn"
    assert isinstance(empty_question, Rejection) and empty_question.reason == "empty_prompt"
    assert "after normalization" in empty_answer.detail


def test_hashes_are_canonical_content_hashes():
    a, b, c = normalize_conversations(
        [
            [msg("user", EN_Q), msg("assistant", EN_A)],
            [msg("system", SYSTEM), msg("user", EN_Q), msg("assistant", EN_A2)],
            [msg("user", EN_Q), msg("assistant", EN_A), msg("user", EN_Q2), msg("assistant", EN_A2)],
        ],
        SETTINGS,
        LABEL,
    )
    form = CanonicalForm()
    assert a["first_user_hash"] == b["first_user_hash"] == c["first_user_hash"] == content_hash(EN_Q, form)
    assert a["prompt_hash"] != b["prompt_hash"]  # the system turn is part of the prompt
    assert a["prompt_hash"] != c["prompt_hash"]
    removed = Settings(NormalizeConfig(), CanonicalForm(whitespace="remove", punctuation=False))
    spaced = normalize_conversations([[msg("user", "서울은 어디 있나요?"), msg("assistant", KO_A)]], removed, LABEL)
    joined = normalize_conversations([[msg("user", "서울은 어디있나요"), msg("assistant", KO_A)]], removed, LABEL)
    assert spaced[0]["first_user_hash"] == joined[0]["first_user_hash"]
    assert spaced[0]["prompt_hash"] == joined[0]["prompt_hash"]
    # turn boundaries count: one turn "a b" is not the turns "a", "b"
    assert turns_hash([msg_("user", "a b")], form) != turns_hash([msg_("user", "a"), msg_("user", "b")], form)


def msg_(role, content):
    from quality.posttrain.schema import Message

    return Message(role, content)


def test_pairs_languages_and_hashes():
    rows = normalize_pairs(
        [
            {"prompt": [msg("user", MISMATCH_Q)], "chosen": [msg("assistant", MISMATCH_A)],
             "rejected": [msg("assistant", KO_A)]},
            {"prompt": [msg("user", MISMATCH_Q)], "chosen": [msg("assistant", MISMATCH_A)],
             "rejected": [msg("assistant", "몰라요. 저는 그런 질문에는 답할 수 없습니다.")]},
            {"prompt": [msg("user", EN_Q)], "chosen": [msg("assistant", "A &amp; B")],
             "rejected": [msg("assistant", "A & B")]},
        ],
        SETTINGS,
        LABEL,
    )  # fmt: skip
    first, second, same = rows
    assert (first["prompt_lang"], first["chosen_lang"], first["rejected_lang"]) == ("ko", "en", "ko")
    assert first["lang_mismatch"] and first["prompt_turn_langs"] == ["ko"]
    assert first["pair_hash"] == second["pair_hash"]  # prompt + chosen: the rejected answer is not in the key
    assert first["prompt_hash"] == second["prompt_hash"]
    assert first["first_user_hash"] == content_hash(MISMATCH_Q, CanonicalForm())
    assert isinstance(same, Rejection) and same.reason == "chosen_equals_rejected"


def test_settings_fingerprint_changes_with_every_setting():
    base = SETTINGS.fingerprint()
    assert Settings(NormalizeConfig(form="NFKC"), CanonicalForm()).fingerprint() != base
    assert Settings(NormalizeConfig(langid={"min_score": 0.9}), CanonicalForm()).fingerprint() != base
    assert Settings(NormalizeConfig(), CanonicalForm(lowercase=True)).fingerprint() != base
    assert Settings(NormalizeConfig(), CanonicalForm(), mismatch_min_chars=5).fingerprint() != base
    assert Settings(NormalizeConfig(), CanonicalForm()).fingerprint() == base


# ---------------------------------------------------------------------------------------------- the job


@pytest.fixture(scope="module")
def normalized(posttrain_workdir):
    wd = posttrain_workdir.workdir
    read = lambda name: DeltaTable(f"{wd}/tables/{name}").to_pyarrow_table().to_pylist()  # noqa: E731
    return {name: read(name) for name in ("raw_conversations", "raw_preference_pairs", "conversations",
                                          "preference_pairs", "quarantine")}  # fmt: skip


def _conv(rows, first_user: str, source: str | None = None) -> dict:
    found = [r for r in rows if next(m for m in r["messages"] if m["role"] == "user")["content"] == first_user
             and (source is None or r["source"] == source)]  # fmt: skip
    assert len(found) == 1, (first_user, source, len(found))
    return found[0]


def test_counts_add_up_and_every_raw_row_is_normalized_or_quarantined(posttrain_workdir, normalized):
    stats = posttrain_workdir.normalize
    raw = len(normalized["raw_conversations"]) + len(normalized["raw_preference_pairs"])
    assert stats.rows_in == raw and stats.rows_unchanged == 0
    assert stats.rows_in == stats.rows_out + stats.rows_rejected
    assert stats.by_reason == EXPECTED_NORMALIZE_REJECTED
    rejected = [r for r in normalized["quarantine"] if r["stage"] == "posttrain_normalize"]
    assert sorted(r["reason"] for r in rejected) == sorted(EXPECTED_NORMALIZE_REJECTED)
    out_ids = {r["doc_id"] for r in normalized["conversations"]} | {r["doc_id"] for r in normalized["preference_pairs"]}
    raw_ids = {r["doc_id"] for r in normalized["raw_conversations"]} | {
        r["doc_id"] for r in normalized["raw_preference_pairs"]}  # fmt: skip
    assert out_ids | {r["doc_id"] for r in rejected} == raw_ids
    assert not out_ids & {r["doc_id"] for r in rejected}
    assert all(r["input_fingerprint"].endswith(stats.extra["normalize_fingerprint"]) for r in rejected)
    assert {r["source"] for r in rejected} == {"msgs", "implicit"}
    extra = stats.extra
    assert extra["conversations"]["rows"] == len(normalized["conversations"])
    assert sum(extra["conversations"]["lang_counts"].values()) == len(normalized["conversations"])
    raw_sha1 = {r["doc_id"]: r["record_sha1"] for r in normalized["raw_conversations"]}
    assert all(r["raw_sha1"] == raw_sha1[r["doc_id"]] for r in normalized["conversations"])


def test_per_turn_languages_and_the_planted_mismatch(normalized):
    convs = normalized["conversations"]
    planted = _conv(convs, MISMATCH_Q)
    assert planted["turn_langs"] == ["ko", "en"]
    assert (planted["prompt_lang"], planted["response_lang"], planted["lang_mismatch"]) == ("ko", "en", True)
    korean = _conv(convs, KO_Q, "msgs")
    assert korean["turn_langs"] == ["en", "ko", "ko"] and korean["lang"] == "ko"
    assert dict(korean["lang_mix"]) == {"en": 1, "ko": 2}
    english = next(r for r in convs if r["n_turns"] == 4)
    assert english["turn_langs"] == ["en"] * 4 and english["lang"] == "en" and not english["lang_mismatch"]
    for r in convs:
        assert len(r["turn_langs"]) == r["n_turns"] == len(r["messages"])
        if r["lang_mismatch"]:  # (short texts count as und: differing labels need not be a mismatch)
            assert r["prompt_lang"] != r["response_lang"], r
            assert not {"und", "ko+en"} & {r["prompt_lang"], r["response_lang"]}, r
    assert not any(r["lang_mismatch"] for r in convs if r["prompt_lang"] == r["response_lang"])
    pairs = normalized["preference_pairs"]
    multi = next(r for r in pairs if r["source"] == "hh" and len(r["prompt"]) == 3)
    assert multi["prompt_turn_langs"] == ["en", "en", "en"] and multi["prompt_lang"] == "en"
    korean_pairs = [r for r in pairs if r["prompt"][-1]["content"] == KO_Q]
    assert len(korean_pairs) == 2 and all(r["prompt_lang"] == r["chosen_lang"] == "ko" for r in korean_pairs)


def test_turns_in_the_tables_are_normalized(normalized):
    convs = normalized["conversations"]
    entities = _conv(convs, "김치&찌개 각 레시피를 알려주세요")  # from "김치&amp;찌개 <NFD 각>&nbsp;레시피를 ..."
    assert entities["messages"][0]["content"] == "김치&찌개 각 레시피를 알려주세요"
    spaced = [r for r in convs if r["messages"][0]["content"] == EN_Q]
    assert len(spaced) == 2  # GOOD_EN, and SAME_QUESTION whose spacing normalization folded
    texts = [m["content"] for r in convs for m in r["messages"]]
    assert not any("&amp;" in t or "&nbsp;" in t or "  " in t or "\u1100" in t for t in texts)


def test_dedup_hashes_in_the_tables(normalized):
    convs = normalized["conversations"]
    form = CanonicalForm()
    for r in convs:
        first_user = next(m for m in r["messages"] if m["role"] == "user")["content"]
        assert r["first_user_hash"] == content_hash(first_user, form)
    same_question = [r for r in convs if r["messages"][0]["content"] == EN_Q]
    assert len({r["first_user_hash"] for r in same_question}) == 1
    pairs = normalized["preference_pairs"]
    korean = [r for r in pairs if r["prompt"][-1]["content"] == KO_Q]
    # the Parquet pair and the implicit-prompt pair: the same prompt and chosen answer, other rejected answers
    assert len({r["pair_hash"] for r in korean}) == 1 and len({r["doc_id"] for r in korean}) == 2
    rated = [r for r in pairs if r["source"] == "rated"]
    # five pairs, three chosen answers (EN_A is chosen in three): three pair keys
    assert len(rated) == 5 and len({r["pair_hash"] for r in rated}) == 3
    assert len({r["prompt_hash"] for r in rated}) == 1
