"""Every published rule on hand-made texts whose values are counted by hand in the comments."""

from __future__ import annotations

import pytest

from quality.signals import c4_signals, fineweb_signals, gopher_quality, gopher_repetition


def test_gopher_quality_english():
    text = "# The cat sat on the mat...\n- and that was all\n- with a dog 123"
    words = text.split()
    q = gopher_quality(text, words)
    # words: # The cat sat on the mat... - and that was all - with a dog 123 -> 17
    assert q["gopher_n_words"] == 17
    assert q["gopher_mean_word_length"] == pytest.approx(sum(map(len, words)) / 17)
    # one "#" and one "..." over 17 words
    assert q["gopher_symbol_word_ratio"] == pytest.approx(2 / 17)
    # 2 of 3 lines start with '-', 1 of 3 ends with '...'
    assert q["gopher_bullet_lines_ratio"] == pytest.approx(2 / 3)
    assert q["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 3)
    # words without a letter: '#', '-', '-', '123' -> 13 of 17
    assert q["gopher_alpha_words_ratio"] == pytest.approx(13 / 17)
    # the, and, that, with
    assert q["gopher_stop_words"] == 4


def test_gopher_quality_korean_morphemes_count_as_words():
    words = ["정부", "는", "오늘", "정책", "을", "발표", "했", "다"]
    q = gopher_quality("정부는 오늘 정책을 발표했다.", words)
    assert q["gopher_n_words"] == 8 and q["gopher_alpha_words_ratio"] == 1.0
    assert q["gopher_mean_word_length"] == pytest.approx(12 / 8)
    assert q["gopher_stop_words"] == 0


def test_gopher_repetition_lines_paragraphs_and_ngrams():
    text = "a b c\na b c\nd e\n\nd e"
    r = gopher_repetition(text, text.split())
    # paragraphs: "a b c\na b c\nd e", "d e" -> no repeat
    assert r["gopher_dup_para_frac"] == 0.0
    # lines: a b c, a b c, d e, d e -> 2 repeats of 4, chars 5 + 3 over 19 characters
    assert r["gopher_dup_line_frac"] == pytest.approx(2 / 4)
    assert r["gopher_dup_line_char_frac"] == pytest.approx(8 / len(text))
    # words a b c a b c d e d e (10 chars); top 2-gram 'a b' x2 -> 4 chars; 'b c' x2 ties
    assert r["gopher_top_2gram_char_frac"] == pytest.approx(4 / 10)
    # top 3-gram 'a b c' x2 -> 6 chars
    assert r["gopher_top_3gram_char_frac"] == pytest.approx(6 / 10)
    # 5-grams: abcab bcabc cabcd abcde bcded cdede -> none repeats
    assert r["gopher_dup_5gram_char_frac"] == 0.0


def test_gopher_duplicate_ngrams_count_each_character_once():
    words = "x y z w v x y z w v".split()
    r = gopher_repetition(" ".join(words), words)
    # 5-gram 'x y z w v' occurs twice, covering all 10 words
    assert r["gopher_dup_5gram_char_frac"] == 1.0
    assert r["gopher_dup_6gram_char_frac"] == 0.0
    overlapping = "a a a a a a".split()
    r = gopher_repetition(" ".join(overlapping), overlapping)
    # 'a a a a a' occurs twice (positions 0 and 1): all 6 words covered, not double counted
    assert r["gopher_dup_5gram_char_frac"] == 1.0
    assert r["gopher_top_2gram_char_frac"] == pytest.approx(2 * 5 / 6)


def test_repetition_of_empty_text_is_zero():
    r = gopher_repetition("", [])
    assert set(r.values()) == {0.0}


def test_c4_signals():
    text = (
        "Please enable JavaScript to view this page.\n"
        "This site uses cookies. Read our Privacy Policy\n"
        "Menu\n"
        "The council approved the budget on Monday!\n"
        "function f() { return 1 }"
    )
    s = c4_signals(text)
    # terminal punctuation: line 1 '.', line 4 '!' -> 2 of 5
    assert s["c4_terminal_punct_lines_ratio"] == pytest.approx(2 / 5)
    assert s["c4_javascript_lines_ratio"] == pytest.approx(1 / 5)
    assert s["c4_policy_lines_ratio"] == pytest.approx(1 / 5)
    # fewer than 3 words: 'Menu' -> 1 of 5
    assert s["c4_short_lines_ratio"] == pytest.approx(1 / 5)
    assert s["c4_has_curly_brace"] == 1.0 and s["c4_has_lorem_ipsum"] == 0.0
    assert c4_signals("Lorem ipsum dolor sit amet.")["c4_has_lorem_ipsum"] == 1.0


def test_c4_korean_sentence_endings_are_terminal():
    s = c4_signals("정부는 오늘 새 정책을 발표했다.\n전문가들은 긍정적으로 평가했습니다\n뭐라고요?")
    assert s["c4_terminal_punct_lines_ratio"] == pytest.approx(2 / 3)


def test_fineweb_signals():
    text = "Home\nHome\nThe museum reopened to visitors after a long renovation.\nContact us"
    s = fineweb_signals(text, n_words=len(text.split()))
    # 1 of 4 lines ends with punctuation; 3 of 4 are <= 30 characters
    assert s["fineweb_line_punct_ratio"] == pytest.approx(1 / 4)
    assert s["fineweb_short_line_ratio"] == pytest.approx(3 / 4)
    # the second 'Home' (4 chars) repeats, over 4 + 4 + 56 + 10 line characters
    line_chars = sum(len(x) for x in text.split("\n"))
    assert s["fineweb_dup_line_char_ratio"] == pytest.approx(4 / line_chars)
    # 3 newlines over 13 words
    assert s["fineweb_newlines_per_word"] == pytest.approx(3 / 13)


def test_korean_signals_prose():
    from quality.signals import korean_signals

    s = korean_signals("정부는 오늘 새 정책을 발표했다. 전문가들은 긍정적으로 평가했습니다")
    assert s["ko_hangul_ratio"] == 1.0 and s["ko_hanja_ratio"] == 0.0
    assert s["ko_jamo_run_char_ratio"] == 0.0
    # syllables per word: 3 2 1 3 4 5 5 6 -> 29 / 8
    assert s["ko_mean_eojeol_syllables"] == pytest.approx(29 / 8)
    assert s["ko_long_eojeol_ratio"] == 0.0
    # both sentences end in a final ending (다, 니다), with and without a full stop
    assert s["ko_sentence_ending_ratio"] == 1.0
    assert s["ko_morphemes"] >= 14


def test_korean_signals_noise_hanja_and_stripped_spaces():
    from quality.signals import korean_signals

    s = korean_signals("ㅋㅋㅋㅋ 진짜 웃기다 ㅠㅠ")
    # jamo runs: 4 + 2 characters over 4 + 2 + 3 + 2 = 11 visible characters
    assert s["ko_jamo_run_char_ratio"] == pytest.approx(6 / 11)
    s = korean_signals("大韓民國 헌법")
    # letters: 4 Han + 2 Hangul
    assert s["ko_hanja_ratio"] == pytest.approx(4 / 6)
    s = korean_signals("정부는오늘새로운경제정책을발표했다 메뉴 홈 로그인")
    # Hangul words: 17, 2, 1, 3 syllables: one of four is >= 12
    assert s["ko_long_eojeol_ratio"] == pytest.approx(1 / 4)
    # the only sentence ends in '로그인': not a final ending
    assert s["ko_sentence_ending_ratio"] == 0.0
