"""Post-training row signals on Korean and English conversations; language mismatch with the real fastText lid."""

from __future__ import annotations

import pytest

from quality.langid import LangIdConfig, identify
from quality.posttrain.schema import Conversation, Message
from quality.posttrain.signals import (
    conversation_signals,
    language_signals,
    languages_agree,
    length_signals,
    refusal_signals,
    repetition_signals,
    template_markers,
)


def conv(*turns: tuple[str, str]) -> Conversation:
    return Conversation(tuple(Message(r, c) for r, c in turns))


def test_lengths():
    assert length_signals("서울은 한국의 수도입니다.") == {"response_chars": 14.0, "response_words": 3.0}
    assert length_signals("a b", words=["a", "b", "c"])["response_words"] == 3.0


def test_repetition_korean_and_english():
    clean = repetition_signals("김치찌개는 김치와 돼지고기로 끓입니다. 두부는 마지막에 넣으세요.")
    assert all(v == 0.0 for v in clean.values())
    looped = repetition_signals("정말 감사합니다. " * 12)
    assert looped["response_top_2gram_char_frac"] > 0.9
    assert looped["response_dup_10gram_char_frac"] > 0.8
    lines = repetition_signals("\n".join(["I can help with that."] * 4 + ["Anything else?"]))
    assert lines["response_dup_line_char_frac"] == pytest.approx(
        3 * 21 / len("\n".join(["I can help with that."] * 4 + ["Anything else?"]))
    )


@pytest.mark.parametrize(
    ("text", "phrases", "at_start"),
    [
        ("I\u2019m sorry, but I can\u2019t help with that request.", 1, 1),
        ("As an AI language model, I do not have opinions. I cannot provide medical advice.", 2, 1),
        ("죄송하지만 그 요청은 도와드릴 수 없습니다.", 2, 1),
        ("저는 AI 언어 모델이라서 개인적인 경험이 없어요.", 1, 1),
        ("물론이죠! 김치찌개 레시피를 알려드릴게요.", 0, 0),
        ("Sure! Here is a recipe for kimchi stew.", 0, 0),
        ("Here is a long answer. " * 12 + "I cannot provide the exact figure, though.", 1, 0),
    ],
)
def test_refusals(text, phrases, at_start):
    got = refusal_signals(text)
    assert got == {
        "refusal_phrases": float(phrases),
        "refusal": float(phrases > 0),
        "refusal_at_start": float(at_start),
    }


def test_template_markers():
    assert template_markers("Paris is the capital.<|im_end|>\n<|im_start|>user") == 2
    assert template_markers("### Instruction:\nTranslate\n\n### Response:\nHola") == 2
    assert template_markers("[INST] 안녕 [/INST] 반가워요 </s>") == 3
    assert template_markers("좋아요.\nHuman: 그럼 내일은?\nAssistant: 맑아요.") == 2
    assert template_markers("EXAONE 형식 [|assistant|]답변[|endofturn|]") == 2
    # a role word in the middle of a sentence is prose
    assert template_markers("The Assistant: a role in the play, says the human: yes.") == 0
    assert template_markers("평범한 한국어 답변입니다.") == 0


def test_conversation_signals_use_the_final_assistant_turn():
    c = conv(
        ("user", "### Instruction: 번역해 줘"),
        ("assistant", "네."),
        ("user", "Hello를 번역해 줘"),
        ("assistant", "죄송하지만 번역할 수 없습니다.<|im_end|>"),
    )
    s = conversation_signals(c)
    assert s["response_chars"] == len("죄송하지만 번역할 수 없습니다.<|im_end|>")
    assert s["prompt_chars"] == len("### Instruction: 번역해 줘") + len("네.") + len("Hello를 번역해 줘")
    assert s["n_turns"] == 4 and s["n_assistant_turns"] == 2
    assert s["refusal"] == 1.0 and s["refusal_phrases"] == 1.0
    assert s["template_markers_response"] == 1.0 and s["template_markers_prompt"] == 1.0
    assert all(isinstance(v, float) for v in s.values())
    assert conversation_signals(c.messages) == s


def test_languages_agree():
    assert languages_agree("ko", "ko") and languages_agree("ko+en", "en") and languages_agree("ko", "ko+en")
    assert languages_agree("und", "en") and languages_agree("other", "und")
    assert not languages_agree("ko", "en") and not languages_agree("en", "other")


def test_language_mismatch_with_fasttext_lid():
    cfg = LangIdConfig()

    def lid(texts):
        return [lang for lang, *_ in identify(texts, cfg)]

    prompts = [
        "오늘 서울 날씨가 어때요? 우산을 챙겨야 할까요?",
        "What is the boiling point of water at sea level?",
        "오늘 서울 날씨가 어때요? 우산을 챙겨야 할까요?",
        "Compute 12345 + 678.",
        "Is 91 a prime number? Explain briefly.",
    ]
    responses = [
        "오후에 비 소식이 있으니 우산을 챙기세요.",
        "Water boils at 100 degrees Celsius at sea level.",
        "It will rain in the afternoon, so take an umbrella with you.",
        "12345 + 678 = 13023",
        "아니요.",
    ]
    got = language_signals(prompts, responses, lid)
    assert [g["lang_mismatch"] for g in got] == [0.0, 0.0, 1.0, 0.0, 0.0]
    # the short Korean reply to an English question counts only when short texts are trusted
    assert language_signals(prompts[-1:], responses[-1:], lid, min_chars=0) == [{"lang_mismatch": 1.0}]
