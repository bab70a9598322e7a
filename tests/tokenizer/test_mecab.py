"""MeCab boundary marks: where they go, and that removing them gives the text back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer.mecab import MARK, has_hangul, has_script, mark_boundaries, pieces, unmark


def test_korean_morphemes_become_pieces_with_the_space_in_front():
    assert pieces(mark_boundaries("나는 학교에 갔다.")) == ["나", "는", " 학교", "에", " 갔", "다", "."]


def test_ascii_boundaries_are_left_to_the_split_pattern():
    # MeCab also splits don / ' / t: those boundaries between two ASCII characters are not marked
    assert pieces(mark_boundaries("ABC는 don't")) == ["ABC", "는", " don't"]


def test_text_without_hangul_is_unchanged():
    text = "Plain English, numbers 12345 and emoji 😀\n\nagain"
    assert mark_boundaries(text) == text


def test_existing_marks_are_removed():
    assert MARK not in mark_boundaries(f"a{MARK}b")
    assert unmark(mark_boundaries(f"학교{MARK}에")) == "학교에"


def test_nul_stops_mecab_but_keeps_the_text():
    text = "학교에 갔다\x00그리고 집에 왔다"
    assert unmark(mark_boundaries(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80) | st.text("가나다학교에 는AB.\n ", max_size=60))
def test_marks_only_add_boundaries(text):
    marked = mark_boundaries(text)
    assert unmark(marked) == text.replace(MARK, "")
    if not has_hangul(text):
        assert MARK not in marked


# -- Japanese (UniDic-lite, issue 25): an unspaced sentence would otherwise reach the trainer as one word


def test_japanese_morphemes_become_pieces():
    expected = ["東京", "都", "に", "住ん", "で", "い", "ます", "。"]
    assert pieces(mark_boundaries("東京都に住んでいます。", "ja")) == expected
    # the same words as the quality rules' Japanese splitter (fugashi over the same dictionary), punctuation aside
    from quality.languages import japanese_words

    text = "今日はいい天気ですね！カタカナとｶﾀｶﾅ、漢字。"
    assert [p for p in pieces(mark_boundaries(text, "ja")) if p not in "！、。"] == japanese_words(text)


def test_japanese_marks_need_japanese_script():
    assert mark_boundaries("Plain text 123", "ja") == "Plain text 123"
    assert has_script("ひらがな", "ja") and has_script("漢字", "ja") and has_script("ｶﾀｶﾅ", "ja")
    assert not has_script("한국어 text", "ja") and has_script("한국어", "ko")
    with pytest.raises(ValueError, match="no MeCab dictionary"):
        mark_boundaries("漢字", "zh")


@settings(max_examples=200, deadline=None)
@given(st.text("東京都に住んでいますカタカナｶﾀｶﾅ漢字 、。AB1\n", max_size=60))
def test_japanese_marks_only_add_boundaries(text):
    assert unmark(mark_boundaries(text, "ja")) == text


JA_TEXTS = ["東京都に住んでいます。今日はいい天気ですね！ ABC 123", "カタカナ、ｶﾀｶﾅ・漢字「引用」", "", "plain, text"]


@pytest.mark.parametrize("text", JA_TEXTS)
def test_japanese_word_count_is_the_quality_rules_words(text):
    from quality.languages import japanese_words
    from tokenizer.mecab import japanese_word_count

    assert japanese_word_count(text) == len(japanese_words(text))
