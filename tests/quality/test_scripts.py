"""Script ratios, token mix and Latin word extraction."""

from __future__ import annotations

import unicodedata

import pytest

from quality.scripts import ScriptRatios, TokenMix, latin_words, script_ratios, token_mix


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def test_pure_korean():
    text = "오늘은 날씨가 맑아서 한강 공원에 산책을 다녀왔습니다."
    r = script_ratios(text)
    assert r == ScriptRatios(1.0, 0.0, 0.0, _letters(text))
    assert r.letters == 23


def test_pure_english():
    text = "The committee will publish its final report next Tuesday."
    r = script_ratios(text)
    assert r == ScriptRatios(0.0, 1.0, 0.0, _letters(text))
    assert r.letters == 48


def test_latin_with_diacritics_counts_as_latin():
    r = script_ratios("Café naïve Ærøskøbing Đà Nẵng")
    assert r.latin == 1.0
    assert r.hangul == 0.0
    assert r.letters == 25


def test_hanja_mixed_korean():
    # 大韓民國 (4 Han) + 憲法 (2 Han) + 헌법 제일조 (5 Hangul) + 第 (1 Han)
    r = script_ratios("大韓民國 憲法 헌법 제일조 第")
    assert r.letters == 12
    assert r.han == pytest.approx(7 / 12)
    assert r.hangul == pytest.approx(5 / 12)
    assert r.latin == 0.0


def test_chinese_is_all_han():
    text = "今天天气很好，我们一家人去公园散步。"
    r = script_ratios(text)
    assert r.han == 1.0
    assert r.hangul == 0.0 and r.latin == 0.0
    assert r.letters == 16  # full-width punctuation is not a letter


def test_japanese_kana_is_neither_hangul_latin_nor_han():
    r = script_ratios("ひらがなカタカナ")
    assert r == ScriptRatios(0.0, 0.0, 0.0, 8)


def test_japanese_kanji_and_kana():
    r = script_ratios("日本語のひらがな")  # 3 kanji, 5 kana
    assert r.letters == 8
    assert r.han == pytest.approx(3 / 8)
    assert r.hangul == 0.0 and r.latin == 0.0


@pytest.mark.parametrize(
    "text", ["1234567890", "2024-01-15 10:30:00", "3.14 + 2.72 = 5.86 !!!", "", "   ", "😀🎉", "１２３"]
)
def test_no_letters(text):
    r = script_ratios(text)
    assert r.letters == 0
    assert (r.hangul, r.latin, r.han) == (0.0, 0.0, 0.0)


def test_korean_with_digits_and_emoji_counts_only_letters():
    r = script_ratios("2024년 😀 12월")
    assert r == ScriptRatios(1.0, 0.0, 0.0, 2)


def test_mixed_korean_english_shares_sum_to_one():
    text = "우리 팀은 GPU 서버에서 model 을 학습했다"
    r = script_ratios(text)
    hangul = sum(0xAC00 <= ord(c) <= 0xD7A3 for c in text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    assert r.letters == hangul + latin
    assert r.hangul == pytest.approx(hangul / (hangul + latin))
    assert r.latin == pytest.approx(latin / (hangul + latin))
    assert r.hangul + r.latin + r.han == pytest.approx(1.0)


def test_conjoining_and_compatibility_jamo_are_hangul():
    assert script_ratios(unicodedata.normalize("NFD", "한국")).hangul == 1.0
    r = script_ratios("ㅋㅋㅋ ㅎㅎ")
    assert r == ScriptRatios(1.0, 0.0, 0.0, 5)


def test_han_extension_b_outside_bmp_is_han():
    r = script_ratios("𠀀𠀁 가")  # U+20000, U+20001 (CJK Extension B)
    assert r.letters == 3
    assert r.han == pytest.approx(2 / 3)
    assert r.hangul == pytest.approx(1 / 3)


def test_other_scripts_count_as_letters_only():
    r = script_ratios("Ελληνικά ไทย")
    assert r.letters == _letters("Ελληνικά ไทย")
    assert (r.hangul, r.latin, r.han) == (0.0, 0.0, 0.0)


# --- token_mix -----------------------------------------------------------------------------


def test_token_mix_code_switched_phrase():
    text = "오늘 회의에서 팀장님이 we need to finalize the roadmap 라고 하셨다"
    assert token_mix(text) == TokenMix(hangul_tokens=5, latin_tokens=6, tokens=11, longest_latin_phrase=6)


def test_token_mix_single_loanword():
    assert token_mix("GPU 서버에서 모델을 학습했다") == TokenMix(3, 1, 4, 0)


def test_token_mix_names_and_acronyms_are_not_phrases():
    assert token_mix("New York Times 기사에 따르면 GPU CPU RAM 가격이").longest_latin_phrase == 0


def test_token_mix_numbers_and_punctuation_neither_break_nor_extend_a_run():
    mix = token_mix("결과는 see table 3 - and figure 2 입니다")
    assert mix.tokens == 9
    assert mix.hangul_tokens == 2
    assert mix.latin_tokens == 4
    assert mix.longest_latin_phrase == 4  # "3" and "-" do not break see/table/and/figure


def test_token_mix_hangul_token_breaks_a_latin_run():
    mix = token_mix("one two 그리고 three four five")
    assert mix.longest_latin_phrase == 3
    assert mix.latin_tokens == 5
    assert mix.hangul_tokens == 1


def test_token_mix_token_with_both_scripts_is_hangul():
    mix = token_mix("Python으로 script를 작성했다")
    assert mix == TokenMix(3, 0, 3, 0)


def test_token_mix_latin_with_han_is_not_latin():
    assert token_mix("ABC漢字 test") == TokenMix(0, 1, 2, 1)


def test_token_mix_empty():
    assert token_mix("") == TokenMix(0, 0, 0, 0)
    assert token_mix("  \n ") == TokenMix(0, 0, 0, 0)


# --- latin_words ---------------------------------------------------------------------------


def test_latin_words_extracts_the_english_of_code_switched_text():
    text = "오늘 회의에서 we need to finalize the roadmap 라고 하셨다."
    assert latin_words(text) == "we need to finalize the roadmap"


def test_latin_words_keeps_apostrophes_and_hyphens_inside_words():
    assert latin_words("그건 don't stop-loss 전략이야, it’s fine") == "don't stop-loss it’s fine"


def test_latin_words_splits_glued_korean_and_drops_digits():
    assert latin_words("GPU서버 3대와 H100 카드") == "GPU H"
    assert latin_words("Python으로 작성") == "Python"


def test_latin_words_of_pure_korean_is_empty():
    assert latin_words("한국어만 있는 문장입니다.") == ""


def test_latin_words_keeps_accented_latin():
    assert latin_words("카페 Café 에서 naïve 하게") == "Café naïve"
