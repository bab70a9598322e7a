"""Matching normalization: case, spacing, punctuation and compatibility forms fold away, Hangul and
digits stay, NFC/NFD spellings agree, and offsets point back into the original text."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest

from quality.decontam import _reference, normalize_for_matching, normalize_with_offsets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet’s ducks lay 16 eggs.", "janetsduckslay16eggs"),
        ("JANET'S  DUCKS\nLAY 16 EGGS!", "janetsduckslay16eggs"),
        ("\tjanet s\u00a0ducks\u3000lay 1 6 eggs\r\n", "janetsduckslay16eggs"),
        ("«Hello», — (world)! #1 $5 + 3 = 8 …", "helloworld1538"),
        ("ＡＢＣ１２３！", "abc123"),  # full-width Latin, digits, punctuation
        ("ﬁnal Straße ΣΑΣ", "finalstrasseσασ"),  # ligature, ß, final sigma folds like σ
        ("① x²", "1x2"),
        ("대한민국의 수도는 서울이다.", "대한민국의수도는서울이다"),
        ("(주)한국 ㈜한국", "주한국주한국"),
        ("한국어 English 混合 テキスト", "한국어english混合テキスト"),
        ("👍🏽 좋아요 👨‍👩‍👧 ❤️", "좋아요"),  # emoji, skin tone, ZWJ sequence, variation selector
        ("soft\u00adhyphen zero\u200bwidth", "softhyphenzerowidth"),
        ("", ""),
        (" .,!? ", ""),
    ],
)
def test_expected_outputs(text, expected):
    assert normalize_for_matching(text) == expected
    assert normalize_with_offsets(text)[0] == expected


def test_hangul_spellings_agree():
    nfc = "한국어 문장입니다"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc and len(nfd) > len(nfc)
    assert normalize_for_matching(nfd) == normalize_for_matching(nfc) == "한국어문장입니다"
    # half-width and compatibility jamo fold the same way (NFKC maps both to conjoining jamo,
    # so a consonant and a vowel written as jamo compose into a syllable)
    assert normalize_for_matching("ﾡ") == normalize_for_matching("ㄱ") == "\u1100"
    assert normalize_for_matching("ㅋㅋ ㄱㅏ") == "\u110f\u110f가"


def test_accents_compose_before_filtering():
    assert normalize_for_matching("cafe\u0301 CAFÉ") == "cafécafé"


def test_offsets_point_back():
    text = "Q: (주)대한, ＡＢ ﬁ!"
    norm, offsets = normalize_with_offsets(text)
    assert norm == "q주대한abfi"
    assert offsets.tolist() == [0, 4, 6, 7, 10, 11, 13, 13]
    assert "".join(text[i] for i in offsets[:1]) == "Q"


def test_offsets_of_composed_jamo_point_to_the_first_jamo():
    text = "가 " + unicodedata.normalize("NFD", "각") + "x"
    norm, offsets = normalize_with_offsets(text)
    assert norm == "가각x"
    assert offsets.tolist() == [0, 2, 5]


def test_a_match_maps_to_the_original_span():
    doc = "Intro text.\n\nQUESTION: Janet’s ducks lay 16 eggs per day!  She eats three..."
    bench = normalize_for_matching("janet's ducks lay 16 eggs per day")
    norm, offsets = normalize_with_offsets(doc)
    i = norm.index(bench)
    start, end = offsets[i], offsets[i + len(bench) - 1] + 1
    assert doc[start:end] == "Janet’s ducks lay 16 eggs per day"


def test_idempotent_on_ordinary_text():
    for text in ("Hello, World 123", "대한민국 서울", "ＡＢＣ ﬁ ß"):
        once = normalize_for_matching(text)
        assert normalize_for_matching(once) == once


def test_fast_path_equals_the_definition_on_tricky_text():
    pool = list("aAZ가각힣 \n.,!’…ﬁßẞİΣς①½㈜™ＡＢｃ１　ｶﾞ") + [
        "\u1100",
        "\u1161",
        "\u11a8",
        "\u0301",
        "\u0308",
        "\ufe0f",
        "\u200d",
        "😀",
        "\U0001d400",
        "\u0f73",
        "\u0344",
        "\uffa1",
        "\u093f",
        "\ud800",  # a lone surrogate is dropped, not an error
    ]
    rng = random.Random(0)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        norm, offsets = normalize_with_offsets(text)
        assert norm == _reference(text) == normalize_for_matching(text), repr(text)
        assert offsets.dtype == np.int64 and len(offsets) == len(norm)
        assert (np.diff(offsets) >= 0).all() and ((offsets >= 0) & (offsets < max(len(text), 1))).all()


def test_long_text_keeps_every_kept_character():
    text = ("서울 Seoul, 2024년! " * 50_000) + "끝"
    norm, offsets = normalize_with_offsets(text)
    assert norm == "서울seoul2024년" * 50_000 + "끝"
    assert offsets[-1] == len(text) - 1


# the configurable languages beyond ko/en (issue 25): the same definition serves them, and these pin it down
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Japanese: kana and kanji kept, its punctuation and spaces dropped, half-width katakana and full-width
        # digits fold (NFKC), the prolonged sound mark (a letter, Lm) kept
        ("「東京都」は、日本の首都です。", "東京都は日本の首都です"),
        ("ｶﾞｲﾄﾞ ブック　２０２４年", "ガイドブック2024年"),
        ("コーヒー・ラーメン！", "コーヒーラーメン"),
        # Vietnamese: letters with stacked diacritics kept whole (composed by NFKC), case folded
        ("Việt Nam, Hà Nội!", "việtnamhànội"),
        # German: umlauts kept, ß and ẞ fold to ss (so Größe and GRÖSSE agree), quotes dropped
        ("„Größe“ und GRÖSSE, ẞ", "grösseundgrössess"),
    ],
)
def test_languages_beyond_korean_and_english(text, expected):
    assert normalize_for_matching(text) == expected
    assert normalize_with_offsets(text)[0] == expected


@pytest.mark.parametrize("text", ["Tiếng Việt có dấu: ở, ữ, ậ, ỷ", "Nhà nước Cộng hòa Xã hội chủ nghĩa Việt Nam"])
def test_vietnamese_spellings_agree(text):
    # NFD (base letter + combining marks, as some keyboards and PDFs produce it) and NFC normalize the same way
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert normalize_for_matching(nfd) == normalize_for_matching(text)


def test_a_japanese_and_a_vietnamese_example_are_found_across_spellings():
    from quality import substring_match

    ja = (
        "富士山は日本で最も高い山であり、標高は三千七百七十六メートルです。"
        "古くから信仰の対象とされ、多くの芸術作品に描かれてきました。"
    )
    vi = "Sông Mê Kông chảy qua sáu quốc gia trước khi đổ ra Biển Đông ở miền Nam Việt Nam, tạo nên đồng bằng."
    examples = [normalize_for_matching(t) for t in (ja, vi)]
    assert all(len(e) >= 50 for e in examples)
    index = substring_match.build_index(examples, [50, 50], 50)
    texts = [
        "前置きの文章。" + ja.replace("、", " ").replace("。", "．") + "後書き。",  # other punctuation and spacing
        "Mở đầu. " + unicodedata.normalize("NFD", vi.upper()) + " Kết thúc.",  # NFD, upper case
        "関係のない日本語の文章です。" * 10,
    ]
    found = substring_match.find(texts, index)
    assert sorted(zip(found.text.tolist(), found.example.tolist(), strict=True)) == [(0, 0), (1, 1)]
