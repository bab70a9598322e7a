"""posttrain_dedup on small conversations / preference_pairs tables: exact duplicates through the canonical form
(Korean re-spaced, English re-cased), near duplicates through the Korean-aware MinHash shingles, first-user and
whole-prompt keys, pairs on prompt + chosen, and each keeper rule choosing the survivor."""

from __future__ import annotations

import pytest

from quality.dedup.canonical import CanonicalForm
from spark_jobs import tables
from spark_jobs.posttrain.dedup import (
    PosttrainDedupConfig,
    choose_keepers,
    conversation_keys,
    pair_key,
    response_chars,
)
from spark_jobs.posttrain.dedup import run as dedup_run
from tests.spark_jobs.posttrain.helpers_selection import conversation, pair, write_conversations, write_pairs

TRIP = (
    "Please write a detailed travel plan for a five day trip to Busan in late autumn, including where to stay near "
    "the beach, which seafood markets to visit, how to use the subway, and a budget for two adults who prefer quiet "
    "places and local food over tourist spots and shopping malls"
)
TRIP_KO = (
    "부산에서 닷새 동안 머무를 가을 여행 계획을 자세히 짜 주세요. 해변 근처 숙소, 꼭 가 볼 수산 시장, 지하철 타는 법, "
    "그리고 조용한 곳과 현지 음식을 좋아하는 어른 두 명의 예산까지 포함해 주세요. 관광지와 쇼핑몰은 빼 주세요."
)
U, A, S = "user", "assistant", "system"

CONVERSATIONS = [
    # Korean, the same question re-spaced: exact under the default (whitespace-blind) form; ko2 answers longer
    conversation("ko1", (U, "서울에서 가장 높은 건물은 무엇인가요?"), (A, "롯데월드타워입니다."), lang="ko"),
    conversation("ko2", (U, "서울에서 가장높은 건물은 무엇 인가요?"), (A, "서울의 최고층 건물은 롯데월드타워."),
                 lang="ko"),  # fmt: skip
    # English, the same question re-cased; en2 answers longer; en_sys adds a system prompt (same first user turn,
    # another prompt)
    conversation("en1", (U, "What is the capital of France?"), (A, "Paris.")),
    conversation("en2", (U, "WHAT IS THE CAPITAL OF FRANCE?"), (A, "The capital of France is Paris.")),
    conversation("en_sys", (S, "Answer briefly."), (U, "what is the capital of france?"), (A, "Paris")),
    # near duplicates (one word changed at the end), English and Korean
    conversation("near_en1", (U, TRIP), (A, "Day 1: Haeundae.")),
    conversation("near_en2", (U, TRIP.replace("shopping malls", "shopping centers")), (A, "Day 1: Gwangalli beach.")),
    conversation("near_ko1", (U, TRIP_KO), (A, "첫째 날: 해운대."), lang="ko"),
    conversation("near_ko2", (U, TRIP_KO.replace("빼 주세요.", "제외해 주세요.")), (A, "첫째 날: 광안리."), lang="ko"),
    # multi-turn: the same first question, then different follow-ups (first_user duplicates, prompts differ)
    conversation("multi1", (U, "Name a prime number."), (A, "7"), (U, "A bigger one?"), (A, "13")),
    conversation("multi2", (U, "Name a prime number."), (A, "7"), (U, "An even one?"), (A, "2 is the only one.")),
    conversation("unique", (U, "How do magnets work?"), (A, "Aligned electron spins.")),
]
Q = "Explain recursion in one sentence."
PAIRS = [
    # same prompt + chosen, different rejected: highest chosen_score keeps p_hi
    pair("p_hi", Q, "A function calling itself.", "No idea.", 0.9, 0.1),
    pair("p_lo", Q, "A function calling itself.", "Loops.", 0.7, 0.6),
    # same chosen_score: the larger margin keeps m_big
    pair("m_small", "Define entropy.", "Disorder, measured.", "Heat.", 0.8, 0.7),
    pair("m_big", "Define entropy.", "Disorder, measured.", "A city.", 0.8, 0.2),
    # near (punctuation only differs in chosen): longest_response keeps l_long; "first" keeps the priority source
    pair("l_long", "Say hi in Korean.", "Annyeonghaseyo!!", "Hello", 0.5, 0.4, source="b"),
    pair("l_short", "Say hi in Korean.", "Annyeonghaseyo", "Hola", 0.6, 0.1, source="a"),
    # same prompt, another chosen: a different comparison, kept
    pair("other_chosen", Q, "Defining something in terms of itself.", "Loops.", 0.5, 0.4),
]

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def workdir(spark, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("pt_dedup") / "wd")
    write_conversations(spark, wd, CONVERSATIONS)
    write_pairs(spark, wd, PAIRS)
    return wd


def _rows(spark, wd) -> dict[tuple[str, str], dict]:
    rows = tables.read(spark, wd, tables.POSTTRAIN_DUPLICATES).collect()
    return {(r["key_kind"], r["doc_id"]): r.asDict() for r in rows}


def _clusters(rows, kind) -> set[frozenset]:
    by: dict[str, set] = {}
    for (k, doc), r in rows.items():
        if k == kind:
            by.setdefault(r["cluster_id"], set()).add(doc)
    return {frozenset(v) for v in by.values() if len(v) > 1}


def test_keys_are_canonical_and_keep_roles():
    form = CanonicalForm(lowercase=True, whitespace="remove")
    ko1 = conversation_keys([{"role": U, "content": "서울에서 가장 높은"}, {"role": A, "content": "x"}], form)
    ko2 = conversation_keys([{"role": U, "content": "서울에서 가장높은"}, {"role": A, "content": "yy"}], form)
    assert ko1["first_user"][1] == ko2["first_user"][1] and ko1["prompt"][1] == ko2["prompt"][1]
    sys = conversation_keys([{"role": S, "content": "Be brief."}, {"role": U, "content": "서울에서 가장 높은"},
                             {"role": A, "content": "x"}], form)  # fmt: skip
    assert sys["first_user"][1] == ko1["first_user"][1] and sys["prompt"][1] != ko1["prompt"][1]
    # a turn boundary is part of the prompt key even when whitespace is removed
    one = conversation_keys([{"role": U, "content": "ab c"}, {"role": A, "content": "x"}], form)
    assert one["prompt"][1] == conversation_keys([{"role": U, "content": "a bc"}, {"role": A, "content": "x"}],
                                                 form)["prompt"][1]  # fmt: skip
    two = [{"role": U, "content": "ab"}, {"role": A, "content": "x"}, {"role": U, "content": "c"},
           {"role": A, "content": "y"}]  # fmt: skip
    assert conversation_keys(two, form)["prompt"][1] != one["prompt"][1]
    assert response_chars(two) == 1
    p = pair_key([{"role": U, "content": "Q"}], [{"role": A, "content": "Yes"}], form)
    assert p != pair_key([{"role": U, "content": "QYes"}], [{"role": A, "content": ""}], form)


def test_duplicates_and_default_keepers(spark, workdir):
    stats = dedup_run(spark, workdir, PosttrainDedupConfig())
    rows = _rows(spark, workdir)
    assert _clusters(rows, "first_user") == {
        frozenset({"ko1", "ko2"}), frozenset({"en1", "en2", "en_sys"}), frozenset({"near_en1", "near_en2"}),
        frozenset({"near_ko1", "near_ko2"}), frozenset({"multi1", "multi2"}),
    }  # fmt: skip
    assert _clusters(rows, "prompt") == {
        frozenset({"ko1", "ko2"}), frozenset({"en1", "en2"}), frozenset({"near_en1", "near_en2"}),
        frozenset({"near_ko1", "near_ko2"}),
    }  # fmt: skip
    assert _clusters(rows, "pair") == {frozenset({"p_hi", "p_lo"}), frozenset({"m_small", "m_big"}),
                                       frozenset({"l_long", "l_short"})}  # fmt: skip
    keepers = {doc for (_k, doc), r in rows.items() if r["is_keeper"]}
    dropped = {doc for (_k, doc), r in rows.items() if not r["is_keeper"]}
    survivors = {doc for doc in keepers if doc not in dropped}
    # longest response for conversations, highest chosen score (then margin) for pairs
    assert survivors == {"ko2", "en2", "near_en2", "near_ko1", "multi2", "unique", "p_hi", "m_big", "l_short",
                         "other_chosen"}  # fmt: skip
    r = rows[("first_user", "en_sys")]
    assert (r["cluster_size"], r["keeper_doc_id"], r["is_keeper"], r["cluster_id"]) == (3, "en2", False, "en1")
    assert rows[("prompt", "en_sys")]["cluster_size"] == 1 and rows[("prompt", "en_sys")]["is_keeper"]
    assert rows[("pair", "m_small")]["margin"] == pytest.approx(0.1)
    assert stats.rows_in == len(CONVERSATIONS) + len(PAIRS)
    assert stats.rows_rejected == len(CONVERSATIONS) + len(PAIRS) - len(survivors)
    assert stats.by_reason["duplicate:pair"] == 3


def test_other_keeper_rules(spark, workdir):
    """The clusters of the default run, their keepers chosen again under the other rules."""
    if not tables.exists(spark, workdir, tables.POSTTRAIN_DUPLICATES):
        dedup_run(spark, workdir, PosttrainDedupConfig())
    members = tables.read(spark, workdir, tables.POSTTRAIN_DUPLICATES).drop("cluster_size", "is_keeper",
                                                                              "keeper_doc_id")  # fmt: skip

    def keepers(cfg):
        return {(r["key_kind"], r["doc_id"]): r["keeper_doc_id"] for r in choose_keepers(members, cfg).collect()}

    got = keepers(PosttrainDedupConfig(keep_conversation="first", keep_pair="longest_response", source_priority=["a"]))
    # first: source priority (all conversations share a source), then the smallest doc_id
    assert got[("first_user", "ko2")] == "ko1" and got[("first_user", "en_sys")] == "en1"
    assert got[("prompt", "near_en1")] == "near_en1"
    assert got[("pair", "l_short")] == "l_long"  # the longer chosen response, over the priority source
    assert got[("pair", "p_lo")] == "p_hi"  # the same chosen text: a tie, then doc_id
    got = keepers(PosttrainDedupConfig(keep_pair="first", source_priority=["a"]))
    # first: the priority source wins over the smaller doc_id; then the smallest doc_id, whatever the scores
    assert got[("pair", "l_long")] == "l_short" and got[("pair", "m_small")] == "m_big"
    got = keepers(PosttrainDedupConfig(keep_pair="first"))
    assert got[("pair", "l_short")] == "l_long"
