"""MeCab boundary marks: where they go, and that removing them gives the text back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer.mecab import MARK, has_hangul, mark_boundaries, pieces, unmark


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
