"""Plain unit tests of the Spark-free text kernels: normalization, script ratios, Korean morphology, language id."""
from __future__ import annotations

import unicodedata

import pytest

from quality.korean import count_morphemes, count_words, morphemes
from quality.langid import LangIdConfig, default_model_path, identify, load_model
from quality.normalize import normalize_text
from quality.scripts import script_ratios, token_mix


# ---------------------------------------------------------------- normalization
def test_nfc_composes_hangul_and_nfkc_keeps_it_composed():
    nfd = unicodedata.normalize("NFD", "한국어 문장")
    assert len(nfd) > len("한국어 문장")
    assert normalize_text(nfd) == "한국어 문장"
    assert normalize_text("Ｈｅｌｌｏ 한국", form="NFKC") == "Hello 한국"
    assert normalize_text("Ｈｅｌｌｏ", form="NFC") == "Ｈｅｌｌｏ"
    with pytest.raises(ValueError, match="Hangul"):
        normalize_text("x", form="NFD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("Tom &amp; Jerry &lt;3 &#44032;", "Tom & Jerry <3 가"),
        ("a\u00a0\u00a0b\u3000c\td", "a b c d"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("line  \r\nnext\r\n\r\n\r\n\r\nlast", "line\nnext\n\nlast"),
        ("  \n  padded  \n  ", "padded"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
        (" \u200b \t ", ""),
    ],
)
def test_normalize_cases(raw, want):
    assert normalize_text(raw) == want


def test_normalize_is_idempotent():
    samples = ["Tom &amp;amp; x", "a \n\n\n b\u00a0c", unicodedata.normalize("NFD", "각 \t 낙"), "x\u2028y\u2029z"]
    for s in samples:
        once = normalize_text(s)
        assert normalize_text(once) == once or "&" in s  # double-escaped entities unescape one level per pass


# ---------------------------------------------------------------- scripts
def test_script_ratios():
    assert script_ratios("한국어 문장입니다").hangul == 1.0
    r = script_ratios("Hello 세계 漢字")
    assert (r.letters, r.latin, r.hangul, r.han) == (9, 5 / 9, 2 / 9, 2 / 9)
    kana = script_ratios("こんにちは")
    assert kana.letters == 5 and kana.hangul == kana.latin == kana.han == 0
    assert script_ratios("1234 -- 99%").letters == 0
    assert script_ratios("ㅋㅋㅋ ㅠㅠ").hangul == 1.0
    assert script_ratios("Ünïcödé").latin == 1.0


def test_token_mix_tells_phrases_from_loanwords():
    assert token_mix("오늘 회의에서 we agreed to ship it 그래서 준비합니다").longest_latin_phrase == 5
    assert token_mix("GPU 서버에서 모델을 학습했다").longest_latin_phrase == 0
    assert token_mix("New York Times 기사에 따르면 GPU CPU RAM").longest_latin_phrase == 0


# ---------------------------------------------------------------- Korean morphology
def test_korean_words_are_morphemes_without_punctuation():
    pairs = morphemes("아버지가방에들어가신다.")
    assert ("아버지", "NNG") in pairs and pairs[-1][1] == "SF"
    assert count_morphemes("아버지가방에들어가신다.") == len(pairs) - 1
    text = "정부는 오늘 새로운 경제 정책을 발표했다."
    assert count_words(text) > len(text.split())
    assert count_words(text) == count_words(text)  # cached path gives the same answer


# ---------------------------------------------------------------- language id
def test_lid_model_ships_in_the_wheel_and_loads_once():
    assert default_model_path().endswith("lid.176.ftz")
    assert load_model() is load_model()


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 긍정적으로 평가했다.", "ko", "ko"),
        ("영화 진짜 재밌었어요 ㅋㅋㅋ 또 보고 싶네요", "ko", None),
        ("The committee published its annual report on Monday.", "en", "en"),
        ("오늘 회의에서 we agreed to ship the new release next week 그래서 준비해야 합니다.", "ko+en", None),
        ("연구팀은 GPU 서버에서 새로운 모델을 학습시켰다고 설명했다.", "ko", None),
        ("今日はとても良い天気ですね。明日も晴れるといいのですが。", "other", "ja"),
        ("今天的天气非常好，我们去公园散步吧。", "other", "zh"),
        ("El gobierno anunció hoy un nuevo plan para mejorar la educación pública.", "other", "es"),
        ("สวัสดีครับ ยินดีต้อนรับสู่ประเทศไทย", "other", "th"),
        ("1234 5678 -- 99.5%", "und", None),
    ],
)
def test_language_labels(text, lang, label):
    ((got, lid_label, score, _),) = identify([text], LangIdConfig())
    assert got == lang
    if label:
        assert lid_label == label and 0 < score <= 1
