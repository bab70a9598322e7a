"""Korean morphology with real MeCab and mecab-ko-dic."""

from __future__ import annotations

import threading

from quality.korean import SYMBOL_TAGS, count_morphemes, count_words, morphemes, tagger


def test_morphemes_are_surface_tag_pairs():
    pairs = morphemes("아버지가방에들어가신다")
    assert all(isinstance(p, tuple) and len(p) == 2 for p in pairs)
    assert pairs[0] == ("아버지", "NNG")
    assert pairs[1] == ("가", "JKS")
    assert "".join(surface for surface, _ in pairs) == "아버지가방에들어가신다"
    assert ("방", "NNG") in pairs


def test_morphemes_tag_particles_endings_and_symbols():
    pairs = morphemes("나는 밥을 먹었다.")
    tags = dict(pairs)
    assert tags["나"] == "NP"
    assert tags["는"] == "JX"
    assert tags["밥"] == "NNG"
    assert tags["을"] == "JKO"
    assert tags["먹"] == "VV"
    assert tags["었"] == "EP"
    assert pairs[-1] == (".", "SF")


def test_morphemes_of_foreign_words_numbers_and_hanja():
    tags = dict(morphemes("GPU 3대 憲法"))
    assert tags["GPU"] == "SL"
    assert tags["3"] == "SN"
    assert tags["憲法"] == "NNG"


def test_compound_tags_keep_the_first_tag():
    # 했 is analysed as XSV+EP (a compound); morphemes() keeps XSV
    pairs = morphemes("공부했다")
    assert all("+" not in tag for _, tag in pairs)
    assert ("했", "XSV") in pairs


def test_morphemes_of_empty_text():
    assert morphemes("") == []


def test_count_words_uses_morphemes_not_spaces():
    n = count_words("아버지가방에들어가신다")
    assert n > 1
    assert n == 6  # 아버지/가/방/에/들어가/신다


def test_count_words_does_not_count_punctuation():
    base = count_words("아버지가방에들어가신다")
    assert count_words("아버지가방에들어가신다.") == base
    assert count_words("“아버지가방에들어가신다!!!” ...") == base
    assert count_words("!!! ... ,,, ?!") == 0
    assert count_words("@#$%^&*") == 0


def test_count_words_counts_foreign_words_numbers_and_hanja():
    # 오늘/GPU/서버/3/대/를/새로/샀/다 ('!' not counted)
    assert count_words("오늘 GPU 서버 3대를 새로 샀다!") == 9
    # 大韓/民國/憲法
    assert count_words("大韓民國 憲法") == 3


def test_count_words_agrees_with_morphemes_without_symbols():
    for text in [
        "그는 2024년 5월 12일에 서울(Seoul)로 이사했다.",
        "안녕하세요, 반갑습니다?!",
        "한국어는 교착어이기 때문에 조사와 어미가 매우 중요한 역할을 한다.",
        "“좋아요” 😀 ~~ ... (웃음)",
    ]:
        expected = sum(1 for eojeol in text.split() for _, tag in morphemes(eojeol) if tag not in SYMBOL_TAGS)
        assert count_words(text) == expected, text
        assert expected > 0


def test_count_words_is_the_sum_over_eojeol():
    parts = ["나는", "밥을", "먹었다"]
    assert count_words(" ".join(parts)) == sum(count_morphemes(p) for p in parts)
    assert count_words("나는 밥을 먹었다") == 7


def test_count_words_does_not_depend_on_the_cache():
    text = "서울의 지하철은 깨끗하고 빠르다. 서울의 버스도 깨끗하다."
    first = count_words(text)
    assert count_words(text) == first  # second call served from the eojeol cache
    assert first == sum(count_morphemes(e) for e in text.split())


def test_count_words_of_empty_text():
    assert count_words("") == 0
    assert count_words("   \n\t") == 0


def test_one_tagger_per_thread():
    main = tagger()
    assert tagger() is main
    other = []
    t = threading.Thread(target=lambda: other.append(tagger()))
    t.start()
    t.join()
    assert other and other[0] is not main
