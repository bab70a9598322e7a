"""Layout readers: real-looking records of every layout (Korean and English), every rejection reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from quality.posttrain.readers import (
    AlpacaConfig,
    HHConfig,
    LayoutConfig,
    MessagesConfig,
    PreferenceConfig,
    QAConfig,
    RatedConfig,
    ShareGPTConfig,
    read_alpaca,
    read_messages,
    read_preference,
    read_qa,
    read_record,
    read_sharegpt,
)
from quality.posttrain.schema import Conversation, Message, PreferencePair
from quality.posttrain.validate import REASONS, Rejection


def roles(conv: Conversation) -> list[str]:
    return [m.role for m in conv.messages]


# ---------------------------------------------------------------------------------------------- messages


def test_openai_messages_korean():
    record = {
        "messages": [
            {"role": "system", "content": "당신은 EXAONE, LG AI 연구원에서 만든 AI 어시스턴트입니다."},
            {"role": "user", "content": "김치찌개 끓이는 법 알려줘."},
            {"role": "assistant", "content": "1. 김치와 돼지고기를 볶습니다.\n2. 물을 붓고 20분 끓입니다."},
            {"role": "user", "content": "두부는 언제 넣어?"},
            {"role": "assistant", "content": "마지막 5분 전에 넣으세요."},
        ]
    }
    conv = read_messages(record)
    assert isinstance(conv, Conversation)
    assert roles(conv) == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[-1] == Message("assistant", "마지막 5분 전에 넣으세요.")


def test_openai_tool_turns_and_content_parts():
    record = {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Use tools when needed."}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Weather in Seoul?"}, {"type": "text", "text": "In C."}],
            },
            {"role": "assistant", "content": "Let me check the forecast."},
            {"role": "tool", "content": '{"temp_c": 21}'},
            {"role": "tool", "content": '{"humidity": 40}'},
            {"role": "assistant", "content": "It is 21 °C with 40% humidity."},
        ]
    }
    conv = read_messages(record)
    assert roles(conv) == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert conv.messages[1].content == "Weather in Seoul?\nIn C."
    joined = read_messages(record, MessagesConfig(part_separator=" "))
    assert joined.messages[1].content == "Weather in Seoul? In C."


def test_openai_blank_system_dropped_and_numpy_lists_read():
    record = {
        "messages": np.array(
            [
                {"role": "system", "content": ""},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Hello! How can I help?"},
            ],
            dtype=object,
        )
    }
    conv = read_messages(record)
    assert roles(conv) == ["user", "assistant"]


def test_openai_custom_fields():
    cfg = MessagesConfig(
        messages_field="dialog.turns", role_field="speaker", content_field="text", role_map={"q": U, "a": A}
    )
    record = {"dialog": {"turns": [{"speaker": "Q", "text": "1+1?"}, {"speaker": "A", "text": "2"}]}}
    assert roles(read_messages(record, cfg)) == ["user", "assistant"]


def test_role_map_must_map_to_known_roles():
    with pytest.raises(ValidationError, match="role_map"):
        MessagesConfig(role_map={"bot": "robot"})
    with pytest.raises(ValidationError):
        MessagesConfig(messages_feild="x")  # a misspelt key is an error, not a silent default


# ---------------------------------------------------------------------------------------------- sharegpt


def test_sharegpt_korean_with_roles_mapped():
    record = {
        "id": "ko-sharegpt-0001",
        "conversations": [
            {"from": "system", "value": "친절하게 답하세요."},
            {"from": "human", "value": "파이썬에서 리스트를 뒤집는 방법은?"},
            {"from": "gpt", "value": "`lst[::-1]` 또는 `lst.reverse()`를 쓰면 됩니다."},
            {"from": "Human", "value": "차이가 뭐야?"},
            {"from": "GPT", "value": "`reverse()`는 제자리에서 바꾸고, 슬라이싱은 새 리스트를 만듭니다."},
        ],
    }
    conv = read_sharegpt(record)
    assert roles(conv) == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[1].content == "파이썬에서 리스트를 뒤집는 방법은?"


def test_sharegpt_function_calling_roles():
    record = {
        "conversations": [
            {"from": "human", "value": "Convert 100 USD to KRW"},
            {"from": "function_call", "value": '{"name": "convert", "arguments": {"amount": 100}}'},
            {"from": "observation", "value": '{"krw": 138000}'},
            {"from": "gpt", "value": "100 USD is about 138,000 KRW."},
        ]
    }
    assert roles(read_sharegpt(record)) == ["user", "assistant", "tool", "assistant"]


def test_sharegpt_unknown_speaker():
    record = {"conversations": [{"from": "narrator", "value": "Once upon a time"}, {"from": "gpt", "value": "…"}]}
    out = read_sharegpt(record)
    assert out == Rejection("unknown_role", "conversations[0].from is 'narrator'")


# ---------------------------------------------------------------------------------------------- alpaca


def test_alpaca_input_follows_instruction():
    record = {
        "instruction": "다음 문장을 영어로 번역하세요.",
        "input": "오늘 날씨가 정말 좋네요.",
        "output": "The weather is really nice today.",
    }
    conv = read_alpaca(record)
    assert conv.messages == (
        Message("user", "다음 문장을 영어로 번역하세요.\n\n오늘 날씨가 정말 좋네요."),
        Message("assistant", "The weather is really nice today."),
    )


def test_alpaca_without_input_and_variants():
    plain = read_alpaca({"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well."})
    assert plain.messages[0] == Message("user", "Give three tips for staying healthy.")
    no_key = read_alpaca({"instruction": "Name a prime.", "output": "7"})
    assert no_key.messages == (Message("user", "Name a prime."), Message("assistant", "7"))
    only_input = read_alpaca({"instruction": " ", "input": "2+2=?", "output": "4"})
    assert only_input.messages[0].content == "2+2=?"
    cfg = AlpacaConfig(system_field="system", input_separator="\n")
    with_system = read_alpaca({"system": "Be brief.", "instruction": "Sum:", "input": "1 2", "output": "3"}, cfg)
    assert roles(with_system) == ["system", "user", "assistant"]
    assert with_system.messages[1].content == "Sum:\n1 2"


# ---------------------------------------------------------------------------------------------- qa


def test_qa_korean_chatbot_rows():
    row = {"Q": "1지망 학교 떨어졌어", "A": "위로해 드립니다.", "label": "0"}
    assert read_qa(row).messages == (Message("user", "1지망 학교 떨어졌어"), Message("assistant", "위로해 드립니다."))
    cfg = QAConfig(question_field="question", answer_field="answer", system_field="persona")
    conv = read_qa({"question": "How many legs does a spider have?", "answer": 8, "persona": "Zoologist"}, cfg)
    assert conv.messages == (
        Message("system", "Zoologist"),
        Message("user", "How many legs does a spider have?"),
        Message("assistant", "8"),
    )


# ---------------------------------------------------------------------------------------------- preference (TRL)


def test_preference_explicit_strings_with_scores():
    record = {
        "prompt": "한국의 수도는 어디인가요?",
        "chosen": "대한민국의 수도는 서울입니다.",
        "rejected": "부산입니다.",
        "score_chosen": 9.0,
        "score_rejected": 2,
    }
    pair = read_preference(record)
    assert pair == PreferencePair(
        (Message("user", "한국의 수도는 어디인가요?"),),
        (Message("assistant", "대한민국의 수도는 서울입니다."),),
        (Message("assistant", "부산입니다."),),
        9.0,
        2.0,
    )


def test_preference_explicit_conversational():
    record = {
        "prompt": [{"role": "system", "content": "Answer tersely."}, {"role": "user", "content": "Is 91 prime?"}],
        "chosen": [{"role": "assistant", "content": "No, 91 = 7 × 13."}],
        "rejected": [{"role": "assistant", "content": "Yes."}],
    }
    pair = read_preference(record)
    assert [m.role for m in pair.prompt] == ["system", "user"]
    assert pair.chosen == (Message("assistant", "No, 91 = 7 × 13."),)
    assert pair.chosen_score is None


def test_preference_implicit_prompt_multi_turn():
    shared = [
        {"role": "user", "content": "추천할 만한 SF 소설 있어?"},
        {"role": "assistant", "content": "테드 창의 『당신 인생의 이야기』를 추천합니다."},
        {"role": "user", "content": "비슷한 작가도 알려줘."},
    ]
    record = {
        "chosen": [*shared, {"role": "assistant", "content": "켄 리우와 김초엽 작가도 좋아하실 거예요."}],
        "rejected": [*shared, {"role": "assistant", "content": "몰라요."}],
    }
    pair = read_preference(record)
    assert [m.role for m in pair.prompt] == ["user", "assistant", "user"]
    assert pair.chosen == (Message("assistant", "켄 리우와 김초엽 작가도 좋아하실 거예요."),)
    assert pair.rejected == (Message("assistant", "몰라요."),)


def test_preference_ultrafeedback_binarized_layout():
    # HuggingFaceH4/ultrafeedback_binarized: a string prompt, repeated inside whole-conversation lists
    prompt = "Write a haiku about autumn."
    record = {
        "prompt": prompt,
        "chosen": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "Red leaves drift and fall"}],
        "rejected": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "Autumn is a season."}],
        "score_chosen": 8.0,
        "score_rejected": 4.5,
    }
    pair = read_preference(record)
    assert pair.prompt == (Message("user", prompt),)
    assert pair.margin == 3.5


# ---------------------------------------------------------------------------------------------- every reason

LONG = "가" * 101


def turns(*pairs: tuple[str, object]) -> list[dict]:
    return [{"role": role, "content": body} for role, body in pairs]


def msgs(*pairs: tuple[str, object]) -> dict:
    return {"messages": turns(*pairs)}


U, A, S, T = "user", "assistant", "system", "tool"
M = MessagesConfig()
CASES = [
    # (config, record, reason)
    (M, msgs((U, b"\xff\xfe")), "invalid_utf8"),
    (QAConfig(), {"Q": "\ud800 broken", "A": "x"}, "invalid_utf8"),
    (M, msgs(("bot", "hi")), "unknown_role"),
    (M, msgs((A, "Hi!"), (U, "hi"), (A, "yes?")), "roles_out_of_order"),
    (M, msgs((U, "a"), (U, "b"), (A, "c")), "roles_out_of_order"),
    (M, msgs((U, "a"), (T, "{}"), (A, "c")), "roles_out_of_order"),
    (M, msgs((U, "a"), (A, "b"), (S, "late"), (U, "c"), (A, "d")), "roles_out_of_order"),
    (M, msgs((U, "안녕")), "no_final_assistant_turn"),
    (M, msgs((U, "a"), (A, "b"), (U, "c")), "no_final_assistant_turn"),
    (M, msgs(), "no_final_assistant_turn"),
    (M, msgs((U, "  "), (A, "b")), "empty_prompt"),
    (AlpacaConfig(), {"instruction": "", "input": "", "output": "x"}, "empty_prompt"),
    (PreferenceConfig(), {"prompt": " ", "chosen": "a", "rejected": "b"}, "empty_prompt"),
    (M, msgs((U, "a"), (A, "\n")), "empty_assistant_turn"),
    # OpenAI tool-call-only assistant message: null content (tool calls are not carried)
    (M, msgs((U, "a"), (A, None), (T, "{}"), (A, "done")), "empty_assistant_turn"),
    (AlpacaConfig(), {"instruction": "Say nothing.", "output": ""}, "empty_assistant_turn"),
    (
        PreferenceConfig(),
        {"prompt": "q", "chosen": "Same answer.", "rejected": " Same answer.\n"},
        "chosen_equals_rejected",
    ),
    (
        PreferenceConfig(),
        {"chosen": turns((U, "q"), (A, "a")), "rejected": turns((U, "q"), (A, "a"))},
        "chosen_equals_rejected",
    ),
    (QAConfig(max_chars=100), {"Q": LONG, "A": "응"}, "too_long"),
    (PreferenceConfig(max_chars=100), {"prompt": "q", "chosen": LONG, "rejected": "b"}, "too_long"),
    (HHConfig(), {"chosen": "Just some text", "rejected": "\n\nHuman: a\n\nAssistant: b"}, "unparseable_hh"),
    (M, {"conversations": []}, "missing_field"),
    (M, {"messages": [{"content": "no role"}]}, "missing_field"),
    (M, {"messages": [{"role": "user"}]}, "missing_field"),
    (QAConfig(), {"Q": "질문만 있음", "A": None}, "missing_field"),
    (PreferenceConfig(), {"chosen": "a", "rejected": "b"}, "missing_field"),
    (RatedConfig(), {"completions": []}, "missing_field"),
    (M, {"messages": "user: hi"}, "wrong_type"),
    (M, {"messages": ["hi"]}, "wrong_type"),
    (M, msgs((U, {"text": "hi"})), "wrong_type"),
    (M, msgs((U, [{"type": "image_url", "image_url": "x"}])), "wrong_type"),
    (QAConfig(), {"Q": ["a"], "A": "b"}, "wrong_type"),
    (QAConfig(), {"Q": True, "A": "b"}, "wrong_type"),
    (PreferenceConfig(), {"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": True}, "wrong_type"),
    (QAConfig(), ["Q", "A"], "wrong_type"),
    (RatedConfig(), {"prompt": "q", "completions": [{"response": "a", "overall_score": 5}]}, "no_pairs"),
]


@pytest.mark.parametrize(("cfg", "record", "reason"), CASES)
def test_rejection(cfg, record, reason):
    out = read_record(record, cfg)
    assert out.rejection is not None, out.items
    assert out.rejection.reason == reason, out.rejection
    assert out.items == () and out.keys == ()
    assert out.rejection.detail


def test_every_reason_is_exercised():
    assert {reason for _, _, reason in CASES} == set(REASONS)


def test_preference_responses_must_be_responses():
    # implicit prompt where the dialogues part before the last turn: a user turn inside the "response"
    record = {
        "chosen": turns((U, "q"), (A, "a1"), (U, "more?"), (A, "yes")),
        "rejected": turns((U, "q"), (A, "b1"), (U, "more?"), (A, "no")),
    }
    out = read_preference(record)
    assert out.reason == "roles_out_of_order" and "differ before the last response" in out.detail
    empty = read_preference({"prompt": "q", "chosen": [], "rejected": "b"})
    assert empty.reason == "no_final_assistant_turn"


# ---------------------------------------------------------------------------------------------- read_record


def test_read_record_from_a_yaml_like_config():
    adapter = TypeAdapter(LayoutConfig)
    cfg = adapter.validate_python({"layout": "qa", "question_field": "Q", "answer_field": "A", "id_field": "no"})
    assert isinstance(cfg, QAConfig)
    out = read_record({"no": 17, "Q": "배고파", "A": "뭐라도 챙겨 드세요."}, cfg)
    assert out.rejection is None and out.keys == ("id:17",)
    assert isinstance(adapter.validate_python({"layout": "sharegpt"}), ShareGPTConfig)
    with pytest.raises(ValidationError):
        adapter.validate_python({"layout": "vicuna"})


def test_read_record_keys_without_ids_are_content_hashes():
    cfg = QAConfig()
    a = read_record({"Q": "배고파", "A": "뭐라도 챙겨 드세요."}, cfg)
    b = read_record({"Q": "배고파", "A": "뭐라도 챙겨 드세요.", "label": "1"}, cfg)
    c = read_record({"Q": "배고파", "A": "밥 먹어요."}, cfg)
    assert a.keys == b.keys == ("sha:" + a.items[0].content_hash(),)
    assert a.keys != c.keys


def test_read_record_missing_id():
    out = read_record({"Q": "a", "A": "b"}, QAConfig(id_field="id"))
    assert out.rejection == Rejection("missing_field", "field 'id' is absent or null")


# ---------------------------------------------------------------------------------------------- any input


KEYS = "messages conversations role content from value type text instruction input output Q A prompt chosen rejected"
KEYS = [*KEYS.split(), "score_chosen", "completions", "response", "overall_score", "id", "system"]
ROLE_WORDS = ["user", "assistant", "system", "tool", "human", "gpt", "bot"]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.binary(max_size=6)
SCALARS = SCALARS | st.sampled_from([*ROLE_WORDS, "\n\nHuman: q\n\nAssistant: a", "N/A", "\ud800"])
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=12,
)
CONFIGS = [
    *(MessagesConfig(id_field="id"), ShareGPTConfig(), AlpacaConfig(system_field="system"), QAConfig()),
    *(PreferenceConfig(), HHConfig(), RatedConfig(rule="all_pairs"), RatedConfig(rule="best_vs_random")),
]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), JSONISH, max_size=6) | JSONISH, st.sampled_from(CONFIGS))
def test_any_record_gives_items_or_exactly_one_known_rejection(record, cfg):
    out = read_record(record, cfg)
    if out.rejection is None:
        assert out.items and len(out.keys) == len(out.items) == len(set(out.keys))
        for item in out.items:
            assert type(item).from_dict(item.to_dict()) == item
    else:
        assert not out.items and not out.keys
        assert out.rejection.reason in REASONS
