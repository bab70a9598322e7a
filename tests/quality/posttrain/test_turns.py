"""Supervised turns and the prompt / response split."""

from __future__ import annotations

import pytest

from quality.posttrain.schema import Conversation, Message, PreferencePair
from quality.posttrain.turns import (
    pair_conversations,
    response_start,
    split_prompt_response,
    supervised_mask,
    supervised_turns,
)

CONV = Conversation(
    (
        Message("system", "도구를 쓸 수 있습니다."),
        Message("user", "환율 알려줘"),
        Message("assistant", "어느 통화요?"),
        Message("user", "달러"),
        Message("assistant", "조회할게요."),
        Message("tool", '{"usd_krw": 1380}'),
        Message("assistant", "1달러는 1,380원입니다."),
    )
)


def test_split_prompt_response():
    prompt, response = split_prompt_response(CONV)
    assert [m.role for m in prompt] == ["system", "user", "assistant", "user"]
    assert [m.role for m in response] == ["assistant", "tool", "assistant"]
    assert response_start(CONV) == 4
    assert split_prompt_response(CONV.messages[:2]) == (CONV.messages[:2], ())


def test_supervised_all_and_last():
    assert supervised_turns(CONV, "all") == [2, 4, 6]
    assert supervised_turns(CONV, "last") == [4, 6]
    assert supervised_mask(CONV, "last") == [False, False, False, False, True, False, True]
    single = CONV.messages[1:3]
    assert supervised_turns(single, "all") == supervised_turns(single, "last") == [1]
    with pytest.raises(ValueError):
        supervised_mask(CONV, "first")


def test_pair_conversations_mask_exactly_the_responses():
    pair = PreferencePair(CONV.messages[:4], CONV.messages[4:], (Message("assistant", "몰라요."),))
    chosen, rejected = pair_conversations(pair)
    assert split_prompt_response(chosen) == (pair.prompt, pair.chosen)
    assert split_prompt_response(rejected) == (pair.prompt, pair.rejected)
    assert supervised_turns(rejected, "last") == [4]
