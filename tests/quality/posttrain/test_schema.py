"""Record types: dict round trips, strictness, and ids that follow pretraining's doc_id."""

from __future__ import annotations

import pytest

from quality.posttrain.schema import (
    Conversation,
    Message,
    PreferencePair,
    doc_id,
    record_key,
    stable_id,
)

CONV = Conversation(
    (
        Message("system", "당신은 친절한 한국어 비서입니다."),
        Message("user", "서울에서 부산까지 KTX로 얼마나 걸려요?"),
        Message("assistant", "보통 2시간 30분 정도 걸립니다."),
    )
)
PAIR = PreferencePair(
    (Message("user", "What is the capital of Australia?"),),
    (Message("assistant", "Canberra."),),
    (Message("assistant", "Sydney."),),
    chosen_score=8.5,
    rejected_score=3.0,
)


def test_conversation_round_trip_and_row_shape():
    row = CONV.to_dict()
    assert row == {
        "messages": [
            {"role": "system", "content": "당신은 친절한 한국어 비서입니다."},
            {"role": "user", "content": "서울에서 부산까지 KTX로 얼마나 걸려요?"},
            {"role": "assistant", "content": "보통 2시간 30분 정도 걸립니다."},
        ]
    }
    assert Conversation.from_dict(row) == CONV


def test_pair_round_trip_and_margin():
    row = PAIR.to_dict()
    assert row["chosen"] == [{"role": "assistant", "content": "Canberra."}]
    assert row["chosen_score"] == 8.5 and row["rejected_score"] == 3.0
    assert PreferencePair.from_dict(row) == PAIR
    assert PAIR.margin == 5.5
    unscored = PreferencePair.from_dict({k: row[k] for k in ("prompt", "chosen", "rejected")})
    assert unscored.margin is None and unscored.chosen_score is None


def test_pair_conversations_and_lengths():
    chosen, rejected = PAIR.conversations()
    assert [m.role for m in chosen.messages] == ["user", "assistant"]
    assert rejected.messages[-1].content == "Sydney."
    assert PAIR.n_chars == len("What is the capital of Australia?") + len("Canberra.")
    assert CONV.n_chars == sum(len(m.content) for m in CONV.messages)


def test_from_dict_refuses_what_to_dict_never_writes():
    with pytest.raises(ValueError, match="unknown role"):
        Message.from_dict({"role": "human", "content": "hi"})
    with pytest.raises(ValueError, match="expected a string"):
        Message.from_dict({"role": "user", "content": ["hi"]})
    with pytest.raises(KeyError):
        Conversation.from_dict({"conversations": []})


def test_stable_id_is_pretraining_doc_id():
    from core.ids import doc_id as ingest_doc_id
    from core.ids import stable_id as ingest_stable_id

    for parts in [("a",), ("src", "id:7"), ("한국어", "pos:x.jsonl:3"), ("", "")]:
        assert stable_id(*parts) == ingest_stable_id(*parts)
    assert doc_id("kochat", "id:42") == ingest_doc_id("kochat", "id:42")


def test_content_hash_depends_on_content_only():
    same = Conversation.from_dict(CONV.to_dict())
    assert same.content_hash() == CONV.content_hash()
    changed = Conversation((*CONV.messages[:2], Message("assistant", "보통 3시간 걸립니다.")))
    assert changed.content_hash() != CONV.content_hash()
    # a role is content too
    assert (
        Conversation((Message("user", "a"), Message("assistant", "b"))).content_hash()
        != Conversation((Message("system", "a"), Message("assistant", "b"))).content_hash()
    )
    # scores rate a pair, they do not make it another pair
    rescored = PreferencePair(PAIR.prompt, PAIR.chosen, PAIR.rejected, 1.0, 0.0)
    assert rescored.content_hash() == PAIR.content_hash()
    swapped = PreferencePair(PAIR.prompt, PAIR.rejected, PAIR.chosen)
    assert swapped.content_hash() != PAIR.content_hash()
    # no separator a message could forge: JSON keeps the turn boundaries
    one = Conversation((Message("user", 'a", "b'), Message("assistant", "c")))
    two = Conversation((Message("user", "a"), Message("assistant", "b")))
    assert one.content_hash() != two.content_hash()


def test_record_keys():
    assert record_key(CONV) == "sha:" + CONV.content_hash()
    assert record_key(CONV, "42") == "id:42"
    assert record_key(PAIR, "uf-1", several=True) == f"id:uf-1/sha:{PAIR.content_hash()}"
