"""A deterministic bilingual Korean/English demo corpus with planted problems and its ground truth.

``generate`` writes five sources, one folder each, in five formats with their own field names:

    news/   JSONL.gz (multi-member gzip)   {"id", "title", "body", "url", "meta": {"section", "published"}}
    forum/  JSONL.zst (several frames)     {"post_id" (int), "content", "thread": {"url", "title"}, "author"}
    web/    WARC.gz (warcio)               warcinfo + request/response (+ metadata) records, HTML pages
    docs/   Parquet                        doc_key, content, lang_hint (+ one file whose content is int64)
    misc/   plain JSONL                    {"id", "text", "url"} (+ a README.txt of unknown format)

and returns a :class:`CorpusManifest`: how many records ingest should accept, the malformed records
planted (by quarantine reason), the planted exact-duplicate groups and near-duplicate pairs, the
intended language of every accepted document, and ready-made source configs. Every record id in the
manifest is the record's key without its ``id:`` prefix (``record_key == "id:" + id``; for WARC the
id is the ``WARC-Record-ID``, angle brackets included).

Texts come from word lists and sentence templates written here (no data is downloaded): news
(headline + paragraphs), forum posts (ㅋㅋ/ㅠㅠ, "lol", quoted replies), boilerplate-heavy pages
(cookie banners, menus, "무단 전재 및 재배포 금지"), code-switched Korean+English, long reports
(> 16,000 characters), Japanese / Chinese / Spanish negatives for language id, and junk.

A benchmark test set comes with it (``benchmarks/demo_bench.jsonl``, GSM8K's layout: Korean and
English word problems made from the same vocabulary, sharing no 50-character normalized substring
with the corpus), and a few dozen documents of every length get one of its examples planted whole,
partially or with changed case/spacing/punctuation (``manifest.contaminated_docs``): what the
decontaminate stage must flag, and nothing else.

Same seed, same bytes. ``generate_jsonl`` writes clean ``{"id","text","url"}`` shards fast, for
throughput benchmarks, from paragraph pools made by the same text generator.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson

SOURCES = ("news", "forum", "web", "docs", "misc")
DEFAULT_MAX_TEXT_BYTES = 4 * 1024 * 1024  # ingest.max_text_bytes's default


def _w(s: str) -> tuple[str, ...]:
    return tuple(s.split())


def _p(s: str) -> tuple[str, ...]:
    """Entries separated by "|" (for short entries with spaces in them)."""
    return tuple(part.strip() for part in s.split("|"))


def _l(s: str) -> tuple[str, ...]:
    """One entry per non-empty line (for entries with spaces in them)."""
    return tuple(line.strip() for line in s.strip().splitlines() if line.strip())


# ==================================================================== Korean vocabulary
KO: dict[str, tuple[str, ...]] = {
    "org": _w(
        "정부 국회 교육부 보건복지부 기획재정부 국토교통부 환경부 고용노동부 산업통상자원부 과학기술정보통신부 "
        "문화체육관광부 행정안전부 중소벤처기업부 법무부 외교부 국방부 농림축산식품부 해양수산부 서울시 부산시 "
        "인천시 대구시 광주시 대전시 울산시 세종시 경기도 강원도 제주도 한국은행 금융위원회 금융감독원 "
        "공정거래위원회 통계청 기상청 질병관리청 경찰청 소방청 국세청 관세청 특허청 교육청 여당 야당 시민단체 "
        "노동조합 상공회의소 소비자단체 국책연구원 대학병원 지방자치단체 감사원 선거관리위원회 한국전력 우체국"
    ),
    "person": _w(
        "시민 주민 학생 학부모 교사 교수 의사 간호사 환자 직장인 자영업자 소상공인 농민 어민 노동자 청년 "
        "어르신 전문가 관계자 대변인 장관 의원 도지사 위원장 대표 사장 회장 작가 감독 선수 배우 가수 관광객 "
        "운전자 승객 소비자 투자자 개발자 디자이너 엔지니어 공무원 경찰관 소방관 상인 연구자 유권자 신혼부부 "
        "대학생 수험생 구직자 임차인 집주인"
    ),
    "topic": _w(
        "정책 대책 방안 계획 예산안 개정안 법안 제도 규제 지원책 보고서 가이드라인 로드맵 협약 합의안 추경안 "
        "종합대책 시행령 조례 개편안 청사진 지원금 보조금 지침 기준 전략 프로그램 캠페인 사업 시범사업 로드맵 "
        "특별법 실행계획 혁신안 후속 조치"
    ),
    "field": _w(
        "경제 교육 의료 환경 교통 주거 노동 복지 문화 관광 농업 수산업 과학기술 에너지 반도체 인공지능 금융 "
        "부동산 외교 국방 저출산 고령화 기후 탄소중립 일자리 물가 수출 창업 보육 치안 재난 방역 스포츠 게임 "
        "콘텐츠 방송 출판 유통 물류 조선 자동차 배터리 바이오 원전 신재생에너지 우주항공 디지털 교육격차 "
        "지역균형 청년정책"
    ),
    "place": _w(
        "서울 부산 인천 대구 광주 대전 울산 세종 수원 창원 청주 전주 포항 제주 강릉 춘천 천안 김해 목포 여수 "
        "안동 경주 원주 군산 순천 수도권 지방 도심 농촌 어촌 해안 전국 국내 해외 현장 광화문 여의도 강남 판교 "
        "해운대 명동 홍대"
    ),
    "event": _w(
        "기자회견 간담회 토론회 설명회 공청회 국정감사 브리핑 학술대회 박람회 전시회 축제 시상식 개막식 포럼 "
        "세미나 회의 총회 정상회담 워크숍 발표회"
    ),
    "problem": _p(
        "물가 상승 | 인력 부족 | 전세 사기 | 교통 체증 | 미세먼지 | 주택 공급 부족 | 청년 실업 | "
        "지역 소멸 | 의료 공백 | 가계 부채 | 학교 폭력 | 보이스피싱 | 층간 소음 | 고독사 | 폭염 피해 | "
        "산불 피해 | 집값 불안 | 임금 체불 | 저임금 문제 | 돌봄 공백"
    ),
    "metric": _p(
        "실업률 | 물가상승률 | 출생률 | 수출액 | 매출 | 영업이익 | 방문객 수 | 거래량 | 평균 기온 | "
        "강수량 | 가계 대출 | 취업자 수 | 전셋값 | 수입액 | 관광객 수"
    ),
    "thing": _w(
        "노트북 스마트폰 이어폰 운동화 패딩 가방 커피 라면 치킨 떡볶이 김치찌개 삼겹살 케이크 마라탕 버블티 "
        "자전거 텐트 의자 책상 모니터 키보드 마우스 태블릿 카메라 냉장고 에어컨 세탁기 청소기 게임기 영화 "
        "드라마 웹툰 예능 콘서트 영상 향수 화장품 선크림 전기차 안경 시계 우산 캐리어 베개 매트리스 "
        "공기청정기 가습기 전자레인지"
    ),
    "food": _w("치킨 피자 떡볶이 마라탕 삼겹살 국밥 냉면 짜장면 초밥 파스타 족발 곱창 칼국수 순대 김밥 비빔밥"),
    "adj": _w(
        "새로운 다양한 중요한 구체적인 실질적인 대규모 장기적인 단기적인 효과적인 체계적인 종합적인 획기적인 "
        "전면적인 추가적인 안정적인 적극적인 강력한 유연한 맞춤형 선제적인"
    ),
    "adv": _w(
        "적극적으로 신속하게 꾸준히 단계적으로 본격적으로 대폭 크게 점차 다시 처음으로 공식적으로 잇따라 일제히 서둘러"
    ),
    "time": _p(
        "오늘 | 어제 | 이날 | 지난주 | 이번 주 | 지난달 | 이달 | 올해 | 지난해 | 내년 | 연말 | 상반기 | "
        "하반기 | 최근 | 이번 분기 | 다음 달"
    ),
    "vobj": _p(
        "발표했다 | 공개했다 | 내놓았다 | 확정했다 | 검토하고 있다 | 추진하기로 했다 | "
        "도입하기로 했다 | 마련했다 | 승인했다 | 의결했다 | 보류했다 | 철회했다 | 요구했다 | 제안했다 | "
        "점검했다 | 발표할 예정이다 | 손질하기로 했다 | 재검토하기로 했다"
    ),
    "say": _w("말했다 밝혔다 강조했다 설명했다 덧붙였다 지적했다 전했다 주장했다"),
    "updown": _w("증가 감소 상승 하락 급증 급감"),
    "opinion": _w("긍정적인 부정적인 신중한 유보적인 비판적인 엇갈린"),
    "role": _w("교수 연구위원 대표 팀장 위원장 소장 원장 대변인 의원 변호사 회계사 이사"),
    "surname": _w("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍 전 고 문 양 손"),
    "given": _w(
        "민준 서연 지훈 수아 우진 하은 현우 지민 서준 채원 도윤 예은 시우 지우 주원 하린 건우 유진 "
        "준호 소율 태윤 다은 은호 나연 성민 보람 재현 수빈 동현 혜진"
    ),
    "section": _w("정치 경제 사회 국제 문화 생활 과학 스포츠 연예 오피니언"),
    "laugh": _w("ㅋㅋ ㅋㅋㅋ ㅋㅋㅋㅋ ㅎㅎ ㅎㅎㅎ ㅋㅋㅋㅋㅋ"),
    "sad": _w("ㅠㅠ ㅜㅜ ㅠㅠㅠ ㅠ ㅜㅜㅜ"),
    "happy": _w("^^ :) ㅎㅎ 👍 ^_^"),
    "feel": _p(
        "생각보다 괜찮더라고요 | 솔직히 좀 별로였어요 | 진짜 만족스러워요 | 좀 애매하네요 | "
        "가성비는 최고예요 | 기대 이하였어요 | 완전 강추합니다 | 그냥 그래요"
    ),
    "fix": _p("재부팅 | 공장 초기화 | 펌웨어 업데이트 | 케이블 교체 | 캐시 삭제 | 드라이버 재설치"),
    "activity": _p("넷플릭스 봐요 | 잠만 자요 | 게임해요 | 운동 가요 | 카페 가요 | 책 읽어요 | 청소해요"),
}
KO_PARTICLES = {"은": ("은", "는"), "이": ("이", "가"), "을": ("을", "를"), "과": ("과", "와"), "으로": ("으로", "로")}

KO_NEWS = _l(
    """
    {org|은} {time} {field} 분야의 {adj} {topic|을} {vobj}.
    {org|은} 이날 {place}에서 열린 {event}에서 {field} {topic|을} {vobj}.
    {person|은} "{field} 분야의 {problem|이} 생각보다 심각한 상황"이라며 "{adv} 대응해야 한다"고 {say}.
    이번 {topic|은} {field} 분야에 {num}억 원을 투입하는 내용을 담고 있다.
    {place}의 {metric|은} 지난해 같은 기간보다 {pct}% {updown}한 것으로 나타났다.
    전문가들은 {field} 분야의 {problem|이} 앞으로 더 커질 수 있다고 우려했다.
    한편 {org|은} {topic}에 대해 {opinion} 입장을 보였다.
    {org|은} {time}까지 {field} {topic|을} 마련할 계획이라고 밝혔다.
    {surname}모 씨는 "{time}부터 {problem} 때문에 생활이 많이 힘들어졌다"고 {say}.
    {org} 관계자는 "{adv} {topic|을} 추진해 {field} 경쟁력을 높이겠다"고 {say}.
    {place} 지역의 {person|이} 크게 늘면서 {problem}에 대한 관심도 높아지고 있다.
    {org|은} 전국 {person} {num}명을 대상으로 {field} 실태 조사를 실시했다.
    조사 결과 응답자의 {pct}%가 {field} {topic|이} 필요하다고 답했다.
    {org|과} {org2|은} {time} {field} 분야 협력을 위한 업무협약을 체결했다.
    {place}에서는 {time} {event|이} 열려 {num}명이 넘는 {person|이} 참석했다.
    {topic|이} 시행되면 {person}의 부담이 {adv} 줄어들 것으로 예상된다.
    {field} 업계에서는 {adj} {topic|이} 필요하다는 목소리가 나온다.
    {org|은} {problem} 해결을 위해 {num}억 원 규모의 {topic|을} 편성했다.
    {kname} {role|은} {place}에서 열린 {event}에 참석해 {field}의 중요성을 강조했다.
    다만 {field} 분야의 {problem|은} 여전히 해결되지 않은 과제로 남아 있다.
    {metric|이} {n}개월 연속 {updown}하면서 {field} 시장에도 영향을 미치고 있다.
    {time} {place}의 낮 최고 기온은 {temp}도까지 올라 평년보다 더울 것으로 보인다.
    기상청은 {time} {place}에 최대 {rain}밀리미터의 비가 내릴 것으로 예보했다.
    {org|은} {adv} {field} 관련 규제를 완화하겠다고 밝혔다.
    이에 대해 {org|은} "사실과 다르다"며 {adv} 대응하겠다는 입장을 내놨다.
    {person|은} 새로 나온 {thing|을} 사기 위해 이른 아침부터 줄을 섰다.
    업계에 따르면 {time} {field} 관련 {metric|은} {num}조 원을 넘어섰다.
    {org|은} {person|을} 위한 {adj} {topic|을} {time}부터 시행한다.
    {person} 사이에서는 {topic|이} 실효성이 없다는 비판도 제기됐다.
    한편 {place}에서는 {problem|을} 둘러싼 논란이 계속되고 있다.
    {org|은} {time} 오후 {event|을} 열고 {field} 분야 {topic|을} 논의했다.
    {person|은} "{thing|이} 예전보다 많이 비싸져서 부담스럽다"고 {say}.
    이번 조치로 {place} 지역 {person} {num}만여 명이 혜택을 받을 것으로 보인다.
    {field} 전문가인 {kname} {role|은} "{adj} 접근이 필요하다"고 조언했다.
    {org|은} {time} {problem|과} 관련해 {adv} 현장 점검에 나섰다.
    특히 {field} 분야에서는 {adj} 변화가 나타나고 있다.
    {org}의 {topic|은} {org2}의 반대로 처리가 미뤄졌다.
    그러나 {person}의 반응은 엇갈렸다.
    {org|은} {problem|을} 줄이기 위해 {place}에 전담 조직을 새로 만들었다.
    {kname} {role|은} "{field} 정책은 {adv} 추진하는 것이 중요하다"고 말했다.
    이와 함께 {org|은} {field} 분야 인력 {num}명을 추가로 채용하기로 했다.
    지난해 {place|을} 찾은 관광객은 모두 {num}만 명으로 집계됐다.
    """
)
KO_HEADLINE = _l(
    """
    {org}, {field} {topic} {head}
    {place} {metric} {pct}% {updown}…{n}개월 만에 최대
    "{problem} 심각"…{org} {adj} 대책 {head}
    [단독] {org}, {field} 분야 {topic} 내년부터 {head}
    {field} {problem}, 해법은 없나
    {person} {num}만 명 "{topic} 효과 체감 못 해"
    {org}·{org2}, {field} 협력 강화 합의
    {time} {place} 최고 {temp}도…곳곳 폭염특보
    [르포] {place} {event} 현장을 가다
    {problem} 대책 발표 앞둔 {org}…{field} 업계 촉각
    """
)
KO["head"] = _w("발표 추진 확정 검토 도입 시행 공개 착수 보류 재검토")

KO_FORUM = _l(
    """
    {time} {thing} 샀는데 {feel} {laugh}
    혹시 {place}에 괜찮은 {thing} 매장 아시는 분 계신가요?
    {thing|이} 갑자기 고장 나서 멘붕이에요 {sad}
    저만 {thing} 가격 너무 올랐다고 느끼나요? {sad}
    {thing} 추천 좀 해주세요. 예산은 {num}만 원 정도예요.
    와 이번 {thing} 진짜 미쳤네요 {laugh}
    어제 {place} 다녀왔는데 사람 너무 많았어요 {sad}
    이거 완전 공감 {laugh}
    ㄹㅇ 인정합니다 {laugh}
    저도 같은 문제 있었는데 {fix}하니까 해결됐어요
    퇴근하고 {food} 먹으러 갈 사람? {laugh}
    오늘 날씨 너무 덥네요 {sad} 에어컨 없으면 못 살 듯
    주말에 {place} 가려는데 {food} 맛집 추천 부탁드려요!
    {thing} 중고로 팔려는데 얼마 정도 받을 수 있을까요?
    다들 주말에 뭐 하세요? 저는 그냥 집에서 {activity} {laugh}
    댓글 감사합니다 덕분에 해결했어요 {happy}
    아 진짜 {problem} 때문에 스트레스 받아요 {sad}
    어제 드라마 마지막 회 보신 분? 결말 실화냐 {laugh}
    헐 대박 {laugh} 이건 못 참지
    {n}년째 {thing} 쓰고 있는데 아직 멀쩡해요
    이번에 {field} 쪽으로 이직 준비 중인데 조언 부탁드립니다
    정보 감사합니다~ 저장해 둘게요 {happy}
    그건 좀 아닌 것 같아요. 저는 반대로 생각해요
    {food} 먹고 싶다 {sad} 다이어트 중인데
    오늘 {food} 먹었는데 {feel} {laugh}
    {place} 사시는 분들 요즘 {problem} 어때요?
    글쓴이 말이 맞아요 저도 그렇게 생각했어요
    와 이거 몰랐네요 꿀팁 감사해요 {happy}
    솔직히 {thing|은} 그 가격이면 안 사요 {laugh}
    첫 글이에요 잘 부탁드려요 {happy}
    """
)

# ==================================================================== English vocabulary
EN: dict[str, tuple[str, ...]] = {
    "org": _p(
        "the government | the finance ministry | the central bank | lawmakers | the city council | "
        "the education ministry | the health ministry | regulators | the opposition party | "
        "the ruling party | the labor union | the national assembly | the statistics office | "
        "the weather service | local authorities | the transport authority | the trade commission | "
        "the energy agency | the police | the fire department | the school board | "
        "the state university | the hospital association | industry groups | consumer groups | "
        "the chamber of commerce | the state-run utility | the national airline | the port authority | "
        "the housing agency | the competition watchdog | the employers' federation"
    ),
    "person": _p(
        "residents | students | parents | teachers | doctors | nurses | patients | office workers | "
        "commuters | farmers | retailers | small business owners | analysts | economists | experts | "
        "officials | investors | developers | engineers | drivers | passengers | tourists | voters | "
        "retirees | young people | researchers | tenants | landlords | job seekers | shop owners"
    ),
    "topic": _p(
        "plan | policy | proposal | bill | budget | package | framework | program | guideline | "
        "roadmap | reform | subsidy | tax cut | rule | regulation | initiative | strategy | deal | "
        "agreement | report | review | pilot project | stimulus package | investment plan"
    ),
    "field": _p(
        "housing | education | healthcare | transport | energy | climate | labor | welfare | tourism | "
        "agriculture | fisheries | semiconductor | artificial intelligence | finance | real estate | "
        "defense | trade | retail | logistics | shipbuilding | automotive | battery | biotech | "
        "nuclear power | renewable energy | public safety | childcare | pension | broadband | space"
    ),
    "place": _p(
        "Seoul | Busan | Incheon | Daegu | Gwangju | Daejeon | Ulsan | Jeju | the capital region | "
        "rural areas | coastal towns | the downtown area | the northern provinces | London | New York | "
        "Tokyo | Singapore | Berlin | Toronto | Sydney | Chicago | Melbourne | Boston | Manchester"
    ),
    "adj": _p(
        "new | ambitious | controversial | long-awaited | modest | sweeping | temporary | permanent | "
        "detailed | comprehensive | regional | national | cautious | aggressive | revised | expanded | "
        "scaled-back | multi-year | emergency | targeted | bipartisan | unexpected"
    ),
    "vpast": _w(
        "announced unveiled approved rejected delayed proposed revised finalized introduced scrapped endorsed "
        "criticized defended expanded launched postponed reviewed"
    ),
    "vbase": _w("approve reject delay revise finalize introduce scrap endorse expand launch postpone review fund"),
    "say": _p("said | told reporters | noted | added | warned | argued | explained | stressed"),
    "problem": _p(
        "rising prices | a labor shortage | traffic congestion | air pollution | a housing shortage | "
        "youth unemployment | low birth rates | household debt | rising rents | supply chain delays | "
        "a shortage of doctors | falling exports | repeated flooding | unpaid wages | online scams"
    ),
    "metric": _p(
        "unemployment rate | inflation rate | export volume | operating profit | number of visitors | "
        "home sales figure | average temperature | household lending figure | retail sales figure | "
        "factory output | birth rate | rental vacancy rate"
    ),
    "thing": _p(
        "laptop | phone | headphones | running shoes | jacket | backpack | coffee maker | bike | "
        "camera | monitor | keyboard | mouse | tablet | air fryer | vacuum | game console | tent | "
        "desk chair | router | smartwatch | standing desk | e-reader"
    ),
    "adv": _w("sharply slightly steadily quickly gradually unexpectedly significantly modestly"),
    "updown": _w("rose fell climbed dropped jumped slipped"),
    "time": _p(
        "on Monday | on Tuesday | on Wednesday | on Thursday | on Friday | over the weekend | "
        "last week | this week | earlier this month | last month | this year | last year | next year | "
        "in the first quarter | by the end of the year | next spring"
    ),
    "role": _p(
        "professor | senior researcher | spokesperson | policy analyst | union leader | "
        "chief economist | city official | school principal | community organizer | lawyer"
    ),
    "inst": _p(
        "a local university | a Seoul think tank | the national institute | a consumer rights group | "
        "an investment bank | the city hospital | a labor research center | the chamber of commerce"
    ),
    "first": _w(
        "James Sarah Michael Emily David Laura Daniel Rachel Thomas Olivia Ryan Grace Kevin Hannah Brian Megan "
        "Jason Chloe Eric Natalie Min-jun Seo-yeon Ji-hoon Su-ah Hyun-woo"
    ),
    "last": _w("Smith Johnson Brown Taylor Wilson Lee Kim Park Choi Martin Clarke Walker Young Hall Allen Wright"),
    "ordinal": _w("second third fourth fifth sixth seventh eighth ninth"),
    "quote_adj": _p(
        "long overdue | deeply disappointing | a step in the right direction | premature | "
        "a reasonable compromise | unworkable"
    ),
    "event": _p(
        "trade fair | music festival | film festival | book fair | marathon | tech conference | "
        "food festival | job fair"
    ),
    "opinion": _p(
        "way better than I expected | kind of disappointing | totally worth it | fine for the price | "
        "a bit overrated | honestly amazing"
    ),
    "fix": _l(
        """
        resetting it to factory settings
        updating the firmware
        swapping the cable
        clearing the cache
        reinstalling the drivers
        turning it off and on again
        """
    ),
    "show": _l(
        """
        the new season of that detective show
        the baking competition
        the space documentary
        the courtroom drama
        the dating show
        """
    ),
    "section": _w("politics business world tech science culture sports opinion"),
}
EN_NEWS = _l(
    """
    {org} {vpast} {adj|a} {field} {topic} {time}.
    The {topic}, which {org} {vpast} after months of debate, would cost about {num} billion won over {n} years.
    "We cannot ignore {problem} any longer," {ename}, {role|a} at {inst}, {say}.
    According to {org}, the {metric} {updown} {pct} percent from a year earlier.
    Critics argue that the {topic} does little to address {problem}.
    {org} said it would {vbase} the {topic} {time}, pending approval from {org2}.
    In {place}, {person} have complained about {problem} for years.
    The {metric} in {place} {updown} for the {ordinal} consecutive month, data showed.
    Analysts expect the {topic} to lift {field} investment in the coming months.
    {person} in {place} said the {adj} {topic} came too late.
    The move comes as {org} faces growing pressure over {problem}.
    A survey of {num} {person} found that {pct} percent support the {topic}.
    {org} and {org2} signed an agreement on {field} cooperation {time}.
    The {event} in {place} drew more than {num} thousand visitors {time}.
    Officials said the {topic} would take effect {time} and be reviewed after {n} years.
    Temperatures in {place} are expected to reach {temp} degrees Celsius {time}, the weather service said.
    Heavy rain of up to {rain} millimeters is forecast for {place} {time}.
    {org} declined to comment on the {topic}.
    The {topic} includes measures to support {person} affected by {problem}.
    {ename}, who leads the {field} team at {inst}, called the decision "{quote_adj}."
    Under the {topic}, {person} would receive up to {num} thousand won in support each month.
    The opposition said the {topic} was rushed and lacked detail.
    Still, many {person} remain skeptical that {problem} will ease soon.
    The {field} sector accounts for roughly {pct} percent of the national economy.
    Local media reported that {org} had {vpast} a similar {topic} last year.
    {org} plans to hire {num} new staff to handle {field} projects.
    The {adj} {topic} is the first of its kind in {place}.
    It remains unclear how the {topic} will be funded.
    {person} interviewed on the street offered mixed reactions to the {topic}.
    The {event} will be held in {place} {time}, organizers said.
    In a statement, {org} said it was "closely monitoring" {problem}.
    Experts warn that {problem} could worsen without {adj|a} response.
    The {metric} fell short of market expectations for the {ordinal} time this year.
    Meanwhile, {person} in {place} are bracing for another round of {problem}.
    {ename}, {role|a} in {place}, {say} the {topic} was "{quote_adj}."
    However, {org2} has yet to say whether it will back the {topic}.
    The {field} industry has {vpast} its own {topic} in response.
    Some {person} said they had not been consulted before the {topic} was {vpast}.
    """
)
EN_HEADLINE = _l(
    """
    {Org} {vpast} {adj} {field} {topic}
    {Place} {metric} {updown} {pct}% as {problem} bites
    {Person} push back against {field} {topic}
    {Org} to {vbase} {field} {topic} {time}
    Why {problem} is getting worse in {place}
    {Field} sector braces for {adj} {topic}
    {Place} hosts {event} amid {problem}
    Explainer: what the {field} {topic} means for {person}
    """
)
EN_FORUM = _l(
    """
    just got a new {thing} and honestly it's {opinion} lol
    anyone else having issues with their {thing} after the latest update?
    imo the {thing} is overpriced for what it is, you're mostly paying for the brand
    tbh I didn't expect {place} to be that crowded on a weekday lol
    can someone recommend a good {thing} under {num} bucks? budget is tight this month
    lol same, mine broke after {n} weeks and support never answered my emails
    idk man, the {thing} I had before was way more reliable than this one
    edit: fixed it by {fix}, thanks everyone who replied!
    ngl {show} was kind of a letdown, the ending felt rushed
    been using my {thing} for {n} years now and it still works fine
    that's wild lol, I had the exact opposite experience with mine
    not sure why this got downvoted, it's a perfectly reasonable question
    thanks for the tip! saved me a ton of time this morning
    the new update is so broken smh, my {thing} keeps disconnecting every few minutes
    anyone going to the {event} in {place} this weekend? thinking of going solo
    pro tip: check the refurbished section first, I saved like {num} bucks on my {thing}
    honestly the customer service was the worst part, took {n} weeks to get a reply
    lol this thread is gold, reading it during my lunch break
    update: returned the {thing}, got a full refund without any hassle
    I work in {field} and can confirm this happens way more often than people think
    does anyone know if the {thing} goes on sale around the holidays?
    yeah no, I'm not paying that much for a {thing} lol
    """
)

# ==================================================================== code-switching (Korean frame + English phrase)
MIX_KO_PREFIX = _p(
    "오늘 회의에서 | 팀장님이 말씀하시길 | 어제 고객사 미팅에서 | 정리하자면 | 결론부터 말하면 | "
    "아까 슬랙에서 | 이번 스프린트에서는 | 개발팀 의견은 | 솔직히 말해서 | 참고로 | "
    "발표 자료에 보면 | 클라이언트 쪽에서는 | 데이터 분석 결과 | 리뷰어 코멘트가 | 제 생각에는 | "
    "본부장님 피드백은"
)
MIX_EN = _l(
    """
    we agreed to {vbase} the {obj} {when}
    the main issue is that the {obj} is still not ready
    let's sync on the {obj} after the standup
    this is a blocker for the {obj} launch
    the numbers look pretty good so far
    please double check the {obj} {when}
    we need more data before making a final decision
    it really depends on the customer feedback
    the deadline for the {obj} is {when}
    I think we should {vbase} the {obj} first
    nobody really owns the {obj} right now
    the {obj} is already running in production
    can we push the {obj} review, maybe {when}
    that's out of scope for this quarter
    the {obj} failed again on the staging server
    we should loop in the design team on the {obj}
    the latency dropped by almost half after the fix
    let's keep it simple and ship the {obj} {when}
    """
)
MIX_OBJ = _p(
    "new release | dashboard | onboarding flow | pricing page | API docs | migration script | "
    "test suite | quarterly report | hiring plan | data pipeline | login page | search feature | "
    "billing system | mobile app"
)
MIX_WHEN = _p(
    "next week | by Friday | at the end of this month | tomorrow morning | before the launch | "
    "after the holidays | in the third quarter"
)
MIX_VBASE = _w("ship review finish update test rewrite document release")
MIX_KO_SUFFIX = _p(
    "그래서 다음 주까지 준비해야 합니다 | 라고 하더라고요 | 다들 참고해 주세요 | "
    "이 부분은 다시 논의가 필요해 보여요 | 일정 조정이 필요할 것 같아요 | 라는 결론이 났습니다 | "
    "그러니까 너무 걱정하지 마세요 | 이건 제가 정리해서 공유드릴게요 | 라는 점을 강조하셨어요 | "
    "그 부분은 저도 동의해요 | 내일 오전까지 답변 부탁드립니다"
)

# ==================================================================== boilerplate
KO_BOILER_HEAD = _l(
    """
    [모루일보] 무단 전재 및 재배포 금지
    로그인 | 회원가입 | 고객센터 | 사이트맵
    홈 > 뉴스 > {section} > 전체기사
    이 사이트는 쿠키를 사용합니다. 계속 이용하시면 쿠키 사용에 동의하는 것으로 간주됩니다. [동의]
    전체메뉴 정치 경제 사회 국제 문화 스포츠 연예 오피니언
    입력 {date} {hh}:{mm} | 수정 {date} {hh2}:{mm}
    글자크기 가 가 가 | 인쇄 | 스크랩 | 공유
    [속보] 실시간 주요 뉴스 바로가기
    """
)
KO_BOILER_FOOT = _l(
    """
    Copyright ⓒ 모루일보. All rights reserved. 무단 전재 및 재배포 금지.
    {kname} 기자 reporter{num}@moru-news.example
    많이 본 뉴스 | 관련 기사 | 포토 | 영상
    개인정보처리방침 | 이용약관 | 청소년보호정책 | 고객센터
    구독하기 좋아요 {n} 댓글 {num} 공유하기
    ⓒ 모루미디어 | 서울특별시 중구 세종대로 {num} | 대표전화 02-{num}-{nnnn}
    이 기사를 추천합니다 | 기사 제보하기 | 오탈자 신고
    AI 학습 이용 금지. 본 콘텐츠의 저작권은 모루일보에 있습니다.
    """
)
EN_BOILER_HEAD = _l(
    """
    Skip to main content | Home | World | Business | Tech | Sports | Opinion | Sign in
    We use cookies to improve your experience. By continuing you agree to our Cookie Policy. Accept | Manage preferences
    Menu Search Account Newsletter Podcasts
    Advertisement
    Home > {Section} > Latest
    Published {edate} | Updated {hh}:{mm} GMT
    You have {n} free articles remaining this month. Subscribe now
    BREAKING: Live updates on today's top stories
    """
)
EN_BOILER_FOOT = _l(
    """
    © {year} The Moru Times. All rights reserved.
    Privacy Policy | Terms of Service | Cookie Settings | Contact Us | Careers
    Share this article: Facebook | X | LinkedIn | Email | Print
    Subscribe to our newsletter for daily updates.
    Related stories: More from {Section}
    Advertisement - scroll to continue
    This material may not be published, broadcast, rewritten or redistributed.
    Follow us on social media for the latest news.
    """
)

# ==================================================================== other languages (language id negatives)
OTHER_LANG: dict[str, tuple[tuple[str, ...], str]] = {  # code -> (sentences, joiner)
    "ja": (
        _l(
            """
            今日はとても暑いので、冷たいお茶を飲みました。
            駅の近くに新しいパン屋さんができたそうです。
            週末は友達と一緒に映画を見に行く予定です。
            このアプリはとても使いやすくて便利だと思います。
            昨日の夜は雨がたくさん降りましたね。
            私は毎朝七時に起きて、散歩をしています。
            来月から電車の料金が少し上がるらしいです。
            日本語の勉強を始めてから、もう三年になります。
            この本はおもしろくて、一日で読んでしまいました。
            子どもたちは公園で楽しそうに遊んでいます。
            すみません、この近くに郵便局はありますか。
            新しいスマートフォンを買おうかどうか迷っています。
            きのうは仕事が忙しくて、晩ごはんを食べる時間もありませんでした。
            春になったら、みんなでお花見に行きましょう。
            このラーメン屋さんはいつも行列ができています。
            会議は午後三時から始まりますので、よろしくお願いします。
            天気予報によると、明日は晴れるそうです。
            最近、夜おそくまでゲームをしてしまいます。
            お母さんが作ってくれたカレーがいちばんおいしいです。
            旅行の写真をたくさん撮ったので、あとで送りますね。
            """
        ),
        "",
    ),
    "zh": (
        _l(
            """
                今天的天气非常好，我们一起去公园散步吧。
                政府宣布了一项新的经济政策，以促进国内消费。
                这家餐厅的菜很好吃，而且价格也很合理。
                学生们正在图书馆里认真地准备期末考试。
                这家科技公司发布了最新的人工智能产品。
                我每天早上坐地铁去上班，大概需要四十分钟。
                周末我和家人一起去了海边，玩得很开心。
                专家认为，房价在未来几个月内可能会继续上涨。
                这座城市的交通问题越来越严重了。
                他从小就喜欢读书，现在是一名作家。
                我们公司明年计划在海外开设三家分店。
                请问，去火车站应该怎么走？
                最近很多年轻人开始关注健康饮食。
                这部电影的故事很感人，我看了两遍。
                由于天气原因，今天的航班全部取消了。
                老师建议我们每天坚持练习口语。
                这个周末市中心将举办一场大型音乐节。
                新的规定将从下个月一号开始实施。
                我觉得这个问题需要大家一起讨论。
                超市里的水果比上个月便宜了不少。
            """
        ),
        "",
    ),
    "es": (
        _l(
            """
            El gobierno anunció hoy un nuevo plan para mejorar la educación pública.
            La ciudad celebrará un festival de música el próximo fin de semana.
            Los científicos publicaron un estudio sobre los efectos del cambio climático.
            Muchos turistas visitan el museo durante los meses de verano.
            El precio de la vivienda subió de forma notable este año.
            Mañana por la mañana habrá una reunión con todos los vecinos del barrio.
            La empresa espera contratar a más de cien trabajadores nuevos.
            Según los expertos, la economía crecerá lentamente en los próximos meses.
            Los estudiantes protestaron frente a la universidad para pedir más becas.
            El partido terminó con una victoria del equipo local.
            Recomiendo probar la paella de este restaurante, es excelente.
            Las lluvias intensas causaron inundaciones en varias zonas del sur.
            La biblioteca estará cerrada durante las vacaciones de Navidad.
            Mi familia y yo pasamos el verano en un pequeño pueblo de la costa.
            El nuevo hospital abrirá sus puertas a finales de este año.
            """
        ),
        " ",
    ),
}

# ==================================================================== junk
LOREM = _w(
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur excepteur sint "
    "occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
)
JUNK_SHORT_KO = _w("ㅋㅋㅋ ㅎㅎ 굿 감사합니다 ㅇㅇ ㄱㄱ ㅠㅠ 1빠 좋아요 대박 ㄷㄷ 헐 오 와 굳굳 퍼가요 ㅊㅋ 추천")
JUNK_SYMBOLS = "★☆■□●○◆◇※→←↑↓▲▼♥♡!?#$%&*+=-_~|/.,:;^@0123456789"
SPAM_KO = _l(
    """
    ★초특가★ {thing} 단 {num},900원!! 지금 바로 구매하세요 ▶ 모루샵 ◀ 쿠폰번호 {nnnn}{nnnn}
    ◆무료 상담◆ 대출 한도 조회 1분이면 끝! 문의 010-{nnnn}-{nnnn}
    ♥오늘만 할인♥ {food} 세트 {num}% 할인 쿠폰 받아가세요~ 카톡 문의 {nnnn}{nnnn}
    """
)
SPAM_EN = _l(
    """
    BUY NOW!!! Best deals on {thing}s, up to {num}% OFF, limited time only!!! Use code {code}
    CLICK HERE to claim your FREE {thing} before the offer ends!!! Only {num} left, order #{nnnn}{nnnn}
    Make ${num} a day working from home, no experience needed, sign up today!!! Ref {code}
    """
)


# ==================================================================== template filling
_SLOT = re.compile(r"\{(\w+)(?:\|(\w+))?\}")


def _compile(template: str) -> tuple:
    """A template as a tuple of literal strings and (category, particle) slots."""
    parts: list = []
    pos = 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            parts.append(template[pos : m.start()])
        parts.append((m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return tuple(parts)


_DIGIT_JONG = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}


def _jong(word: str) -> int:
    """Final-consonant index of the word's last syllable (0: none, 8: ㄹ), to choose particles."""
    ch = word.rstrip("\"')]%.")[-1:] or " "
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28
    if ch in _DIGIT_JONG:
        return _DIGIT_JONG[ch]
    return 8 if ch in "lLrR" else 4 if ch in "mMnN" else 0


def josa(word: str, particle: str) -> str:
    """``word`` with the Korean particle that fits its last syllable (은/는, 이/가, 을/를, 과/와, 으로/로)."""
    with_final, without = KO_PARTICLES[particle]
    jong = _jong(word)
    if particle == "으로":
        return word + ("로" if jong in (0, 8) else "으로")
    return word + (with_final if jong else without)


def _article(word: str) -> str:
    vowel = word[:1].lower() in "aeiou" and not word.lower().startswith(("uni", "use", "eu"))
    return ("an " if vowel else "a ") + word


class TextMaker:
    """Sentences and whole documents in every style, from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self._ko_news = [_compile(t) for t in KO_NEWS]
        self._ko_head = [_compile(t) for t in KO_HEADLINE]
        self._ko_forum = [_compile(t) for t in KO_FORUM]
        self._en_news = [_compile(t) for t in EN_NEWS]
        self._en_head = [_compile(t) for t in EN_HEADLINE]
        self._en_forum = [_compile(t) for t in EN_FORUM]
        self._mix_en = [_compile(t) for t in MIX_EN]
        self._boiler = {
            "ko": ([_compile(t) for t in KO_BOILER_HEAD], [_compile(t) for t in KO_BOILER_FOOT]),
            "en": ([_compile(t) for t in EN_BOILER_HEAD], [_compile(t) for t in EN_BOILER_FOOT]),
        }
        self._spam = {"ko": [_compile(t) for t in SPAM_KO], "en": [_compile(t) for t in SPAM_EN]}

    # ---------------------------------------------------------------- slots
    def _slot(self, cat: str, words: dict[str, tuple[str, ...]], picked: dict[str, str]) -> str:
        r = self.r
        if cat == "num":
            return str(r.choice((r.randint(2, 99), r.randint(100, 999), r.randint(2, 30))))
        if cat == "pct":
            return f"{r.randint(1, 45)}.{r.randint(0, 9)}"
        if cat == "n":
            return str(r.randint(2, 9))
        if cat == "nnnn":
            return f"{r.randint(0, 9999):04d}"
        if cat == "code":
            return "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
        if cat == "temp":
            return str(r.randint(24, 38))
        if cat == "rain":
            return str(r.randrange(20, 300, 10))
        if cat in ("hh", "hh2"):
            return f"{r.randint(6, 23):02d}"
        if cat == "mm":
            return f"{r.randint(0, 59):02d}"
        if cat == "year":
            return str(r.randint(2019, 2025))
        if cat in ("date", "edate"):
            d = datetime(2024, 1, 1) + timedelta(days=r.randrange(700))
            return d.strftime("%Y.%m.%d") if cat == "date" else d.strftime("%B %d, %Y")
        if cat == "kname":
            return r.choice(KO["surname"]) + r.choice(KO["given"])
        if cat == "ename":
            return f"{r.choice(EN['first'])} {r.choice(EN['last'])}"
        if cat == "obj":
            return r.choice(MIX_OBJ)
        if cat == "when":
            return r.choice(MIX_WHEN)
        capital = cat[0].isupper()
        base = cat.lower().rstrip("2")
        choices = words[base]
        word = r.choice(choices)
        if base in picked and len(choices) > 1:  # "{org} and {org2}": two different ones
            while word == picked[base]:
                word = r.choice(choices)
        picked[base] = word
        return word[0].upper() + word[1:] if capital else word

    def fill(self, parts: tuple, words: dict[str, tuple[str, ...]], capitalize: bool = True) -> str:
        out = []
        picked: dict[str, str] = {}
        for part in parts:
            if part.__class__ is str:
                out.append(part)
                continue
            cat, particle = part
            word = self._slot(cat, words, picked)
            if particle == "a":
                word = _article(word)
            elif particle:
                word = josa(word, particle)
            out.append(word)
        text = "".join(out)
        return text[0].upper() + text[1:] if capitalize and "a" <= text[:1] <= "z" else text

    # ---------------------------------------------------------------- sentences and paragraphs
    def sentence(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_news), KO)
        return self.fill(self.r.choice(self._en_news), EN)

    def headline(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_head), KO)
        return self.fill(self.r.choice(self._en_head), EN)

    def paragraph(self, lang: str, lo: int = 2, hi: int = 5) -> str:
        return " ".join(self.sentence(lang) for _ in range(self.r.randint(lo, hi)))

    def n_paragraphs(self, mean_log: float = 1.45) -> int:
        """Paragraph count with a long tail: most documents are 1-3 KB, a few much longer."""
        return max(1, min(40, int(self.r.lognormvariate(mean_log, 0.55))))

    def forum_line(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_forum), KO)
        return self.fill(self.r.choice(self._en_forum), EN, capitalize=False)

    def mixed_sentence(self) -> str:
        r = self.r
        en = self.fill(r.choice(self._mix_en), {"vbase": MIX_VBASE})
        en = en[0].lower() + en[1:] if not en.startswith(("I ", "API")) else en
        suffix = r.choice(MIX_KO_SUFFIX)
        joiner = "" if suffix.startswith(("라고", "라는")) and r.random() < 0.5 else " "
        return f"{r.choice(MIX_KO_PREFIX)} {en}{joiner}{suffix}."

    def boiler_lines(self, lang: str, head: bool, k: int) -> list[str]:
        pool = self._boiler[lang][0 if head else 1]
        words = KO if lang == "ko" else EN
        return [self.fill(t, words) for t in self.r.sample(pool, k)]

    # ---------------------------------------------------------------- documents
    def document(self, style: str) -> tuple[str, str, dict]:
        """(text, intended language, parts) for one document of ``style``; ``parts`` keeps what
        near-duplicate edits need (title, boilerplate lines)."""
        r = self.r
        if style in ("news_ko", "news_en"):
            lang = style[-2:]
            head = self.headline(lang)
            pars = [self.paragraph(lang, 3, 6) for _ in range(self.n_paragraphs())]
            return "\n\n".join([head, *pars]), lang, {"title": head}
        if style in ("forum_ko", "forum_en"):
            lang = style[-2:]
            lines = [self.forum_line(lang) for _ in range(r.randint(1, 5) if lang == "ko" else r.randint(2, 5))]
            if r.random() < 0.3:  # a quoted reply
                quoted = self.forum_line(lang) if r.random() < 0.6 else self.sentence(lang)
                lines.insert(0, "> " + quoted)
            return "\n".join(lines), lang, {"title": lines[-1][:40]}
        if style in ("boiler_ko", "boiler_en"):
            lang = style[-2:]
            head = self.boiler_lines(lang, True, r.randint(2, 4))
            foot = self.boiler_lines(lang, False, r.randint(2, 4))
            title = self.headline(lang)
            body = "\n\n".join([title, *(self.paragraph(lang, 2, 4) for _ in range(r.randint(2, 4)))])
            text = "\n".join(head) + "\n\n" + body + "\n\n" + "\n".join(foot)
            return text, lang, {"title": title, "head": head, "foot": foot, "body": body}
        if style == "mixed":
            sents = []
            for _ in range(r.randint(3, 12)):
                sents.append(self.mixed_sentence())
                if r.random() < 0.35:
                    sents.append(self.sentence("ko"))
            pars = [" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3)]
            return "\n\n".join(pars), "ko+en", {"title": sents[0][:40]}
        if style in ("long_ko", "long_en"):
            return self.long_document(style[-2:])
        if style == "other":
            code = r.choices(("ja", "zh", "es"), (0.4, 0.35, 0.25))[0]
            sentences, joiner = OTHER_LANG[code]
            picked = r.sample(sentences, r.randint(2, 7))
            pars = [joiner.join(picked[i : i + 4]) for i in range(0, len(picked), 4)]
            return "\n\n".join(pars), "other", {"title": picked[0][:30], "code": code}
        return self.junk()

    def long_document(self, lang: str, min_chars: int | None = None) -> tuple[str, str, dict]:
        """A report over 16,000 characters: a title, numbered sections, many paragraphs."""
        r = self.r
        target = min_chars or r.randint(16_500, 40_000)
        title = self.headline(lang) + (" 종합 보고서" if lang == "ko" else ": a full report")
        names = (
            ("개요", "현황", "쟁점", "해외 사례", "전문가 의견", "향후 과제", "결론")
            if lang == "ko"
            else ("Overview", "Background", "Key issues", "Other countries", "What experts say", "Next steps")
        )
        parts, size, section = [title], len(title), 0
        while size < target:
            if section < len(names) and (section == 0 or r.random() < 0.15):
                parts.append(f"{section + 1}. {names[section]}")
                section += 1
            par = self.paragraph(lang, 3, 7)
            parts.append(par)
            size += len(par) + 2
        return "\n\n".join(parts), lang, {"title": title}

    def junk(self) -> tuple[str, str, dict]:
        """Very short posts, lorem ipsum, repeated-line spam, symbol/number soup."""
        r = self.r
        kind = r.choices(("short", "lorem", "spam", "symbols"), (0.25, 0.2, 0.3, 0.25))[0]
        if kind == "short":
            if r.random() < 0.6:
                text = " ".join(r.choice(JUNK_SHORT_KO) for _ in range(r.randint(1, 3)))
                return text, "ko", {"junk": kind}
            return "".join(r.choice(JUNK_SYMBOLS) for _ in range(r.randint(1, 8))), "und", {"junk": kind}
        if kind == "lorem":
            words = [r.choice(LOREM) for _ in range(r.randint(20, 150))]
            sents, i = [], 0
            while i < len(words):
                n = r.randint(6, 14)
                chunk = " ".join(words[i : i + n])
                sents.append(chunk[0].upper() + chunk[1:] + ".")
                i += n
            return " ".join(sents), "other", {"junk": kind}
        if kind == "spam":
            lang = r.choice(("ko", "en"))
            line = self.fill(r.choice(self._spam[lang]), KO if lang == "ko" else EN)
            return "\n".join([line] * r.randint(8, 40)), lang, {"junk": kind}
        rows = []
        for _ in range(r.randint(3, 30)):
            cells = [
                f"{r.randint(0, 99_999):,}",
                f"{r.uniform(-99, 99):.1f}%",
                r.choice("▲▼-=+*#"),
                f"{r.randint(2000, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            ]
            rows.append("| " + " | ".join(r.sample(cells, r.randint(2, 4))) + " |")
        return "\n".join(rows), "und", {"junk": kind}


# ==================================================================== near-duplicate edits
_HANGUL_WORD = re.compile(r"^[가-힣]{2,}")


def edit_words(lines: list[list[str]], slots: list[tuple[int, int]], kind: str, k: int, vocab: list[str],
               rng: random.Random) -> None:  # fmt: skip
    """In place: at ``k`` of the (line, word) ``slots``, insert a word from ``vocab`` before it,
    delete it (unless it is its line's only word), or substitute it (``kind``)."""
    for i, j in sorted(rng.sample(slots, min(k, len(slots))), reverse=True):
        if kind == "insert":
            lines[i].insert(j, rng.choice(vocab))
        elif kind == "delete" and len(lines[i]) > 1:
            del lines[i][j]
        else:
            lines[i][j] = rng.choice(vocab)


def near_duplicate(text: str, lang: str, parts: dict, rng: random.Random) -> tuple[str, str]:
    """A copy of ``text`` with a small edit; returns (new text, kind of edit): a few words
    inserted, deleted or substituted, the boilerplate header/footer swapped (``parts`` holds the
    lines), or, for Korean, spaces between eojeol removed or added."""
    kinds = ["insert", "delete", "substitute"]
    if lang == "ko":
        kinds += ["respace_removed", "respace_added"]
    if "head" in parts:
        kinds += ["boilerplate_swap", "boilerplate_swap"]
    kind = rng.choice(kinds)
    if kind == "boilerplate_swap":
        maker = TextMaker(rng)
        head = [maker.boiler_lines(lang, True, 1)[0] if rng.random() < 0.5 else h for h in parts["head"]]
        foot = [maker.boiler_lines(lang, False, 1)[0] if rng.random() < 0.5 else f for f in parts["foot"]]
        if head == parts["head"] and foot == parts["foot"]:
            foot = foot[1:] + [maker.boiler_lines(lang, False, 1)[0]]
        new = "\n".join(head) + "\n\n" + parts["body"] + "\n\n" + "\n".join(foot)
        return (new, kind) if new != text else (new + "\n" + foot[0], kind)

    lines = [line.split(" ") for line in text.split("\n")]
    slots = [(i, j) for i, words in enumerate(lines) for j in range(len(words)) if words[j]]
    if kind in ("respace_removed", "respace_added"):
        k = max(1, int(len(slots) * rng.uniform(0.05, 0.15)))
        if kind == "respace_removed":  # glue eojeol to the next one, as careless typists do
            gaps = [(i, j) for i, words in enumerate(lines) for j in range(len(words) - 1)]
            for i, j in sorted(rng.sample(gaps, min(k, len(gaps))), reverse=True):
                lines[i][j : j + 2] = [lines[i][j] + lines[i][j + 1]]
        else:  # split eojeol inside (e.g. before a particle): "정책을" -> "정책 을"
            cands = [(i, j) for i, j in slots if _HANGUL_WORD.match(lines[i][j])]
            for i, j in sorted(rng.sample(cands, min(k, len(cands))), reverse=True):
                w = lines[i][j]
                n = len(_HANGUL_WORD.match(w).group(0))
                cut = rng.randint(1, n - 1)
                lines[i][j : j + 1] = [w[:cut], w[cut:]]
    else:
        k = rng.randint(1, max(1, min(10, len(slots) // 40)))
        vocab = [w for key in ("field", "place", "thing", "adv") for w in (KO if lang != "en" else EN)[key]]
        vocab = [w for w in vocab if " " not in w]
        edit_words(lines, slots, kind, k, vocab, rng)
    new = "\n".join(" ".join(words) for words in lines)
    if new == text:  # an edit that changed nothing (e.g. a substitution by the same word)
        new = text + (" 다시" if lang != "en" else " again")
    return new, kind


# ==================================================================== the corpus
# style -> (weight, language) ; weights give ~45% ko, ~35% en, ~8% ko+en, ~4% other, the rest junk
STYLES: dict[str, tuple[float, str]] = {
    "news_ko": (0.25, "ko"),
    "news_en": (0.19, "en"),
    "forum_ko": (0.11, "ko"),
    "forum_en": (0.09, "en"),
    "boiler_ko": (0.08, "ko"),
    "boiler_en": (0.065, "en"),
    "mixed": (0.08, "ko+en"),
    "long_ko": (0.003, "ko"),
    "long_en": (0.003, "en"),
    "other": (0.04, "other"),
    "junk": (0.087, "junk"),
}
# where each style tends to live (source -> weight)
STYLE_SOURCES: dict[str, dict[str, int]] = {
    "news": {"news": 6, "web": 2, "docs": 1, "misc": 1},
    "forum": {"forum": 8, "misc": 1, "web": 1},
    "boiler": {"web": 6, "news": 2, "misc": 2},
    "mixed": {"forum": 5, "misc": 2, "docs": 2, "web": 1},
    "long": {"docs": 6, "misc": 2, "news": 2},
    "other": {"misc": 5, "web": 3, "docs": 2},
    "junk": {"misc": 4, "forum": 3, "web": 3},
}
NICKS = _w(
    "고양이집사 퇴근요정 월급루팡 커피중독 산책러 야식왕 주말농부 코딩하는곰 여행가고파 집순이 "
    "coffee_addict throwaway_acc night_owl weekend_dev bookworm mild_salsa quiet_reader"
)
EXACT_DUP_RATE = 0.03  # share of documents that are exact copies of an earlier one
NEAR_DUP_RATE = 0.04  # share that are edited copies
WARC_DATE = datetime(2024, 11, 3, 2, 0, 0, tzinfo=UTC)


@dataclass
class CorpusManifest:
    """Ground truth of one generated corpus.

    Ids are record keys without their ``id:`` prefix, so ``(source, id)`` joins to
    ``raw_documents.(source, record_key)``. ``malformed`` counts every planted bad record by the
    quarantine reason ingest should give it (``duplicate_record_key`` is the later record of a
    repeated id: the Spark job keeps the first). Planted duplicates are the only exact duplicates;
    beyond the planted near-duplicate pairs, templated junk (spam) and short forum posts built from
    the same lines can resemble each other, so judge near-duplicate detection on the other styles
    (``doc_styles``)."""

    out_dir: str
    n_docs: int  # records that ingest should accept (raw_documents rows)
    sources: list[dict]  # ready-made SourceConfig dicts
    malformed: dict[str, int]  # expected quarantine reason -> count
    exact_duplicate_groups: list[list[tuple[str, str]]] = field(default_factory=list)
    near_duplicate_pairs: list[tuple[tuple[str, str], tuple[str, str], str]] = field(default_factory=list)
    lang_counts: dict[str, int] = field(default_factory=dict)  # "ko", "en", "ko+en", "other", "und"
    doc_langs: dict[str, str] = field(default_factory=dict)  # "source/id" -> intended language
    doc_styles: dict[str, str] = field(default_factory=dict)  # "source/id" -> style (news_ko, junk, ...)
    # the demo benchmark: name, path, preset, examples, config (a ready-made decontaminate.benchmarks entry)
    benchmark: dict = field(default_factory=dict)
    # "source/id" -> {example_id, kind (whole/partial/perturbed), offset, chars}: the planted copies
    contaminated_docs: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


@dataclass(eq=False)
class _Doc:
    text: str
    lang: str
    style: str
    parts: dict
    source: str = ""
    id: str = ""
    url: str | None = None


def _web_ok(text: str) -> bool:
    """Short texts stay out of the WARC files: main-content extraction drops a one-line page, and
    the reader guesses the charset of a short plain-text body (it can guess wrong)."""
    return len(text) >= 200


def _uuid_urn(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def generate(
    out_dir: str | Path,
    n_docs: int = 3000,
    seed: int = 0,
    *,
    oversize_bytes: int = 5_000_000,
    formats: tuple[str, ...] = SOURCES,
    shard_docs: int = 5000,
    malformed: bool = True,
    progress: Callable[[int], None] | None = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    benchmark: bool = True,
    contaminated_docs: int | None = None,
) -> CorpusManifest:
    """Write the demo corpus under ``out_dir`` and return its ground truth.

    ``n_docs`` records are accepted by ingest (``manifest.n_docs == n_docs``); malformed records
    come on top. ``oversize_bytes`` is the size of the one text planted over ``max_text_bytes``
    (the ``ingest.max_text_bytes`` the manifest assumes); 0 plants none. Old files in the source
    folders are removed first.

    With ``benchmark``, a GSM8K-layout test set of Korean and English word problems goes to
    ``out_dir/benchmarks/demo_bench.jsonl`` and ``contaminated_docs`` documents (default:
    :func:`default_planted_docs`) get one of its examples planted, whole, partially or perturbed
    (``manifest.contaminated_docs``); no other document shares a 50-character normalized substring
    with any example.
    """
    formats = tuple(s for s in SOURCES if s in formats)
    if not formats:
        raise ValueError(f"formats must name at least one of {SOURCES}")
    if oversize_bytes and oversize_bytes <= max_text_bytes:
        raise ValueError(f"oversize_bytes ({oversize_bytes}) must exceed max_text_bytes ({max_text_bytes}), or be 0")
    out = Path(out_dir)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    docs = _make_documents(maker, rng, n_docs, formats, progress)
    by_src: dict[str, list[_Doc]] = {s: [] for s in formats}
    for d in docs:
        by_src[d.source].append(d)
    _assign_ids(by_src, rng)
    bench: dict = {}
    planted: dict[str, dict] = {}
    if benchmark:  # its own random stream: the corpus draws stay what they are without it
        brng = random.Random(seed * 1_000_003 + 7)
        examples = benchmark_examples(brng, BENCHMARK_EXAMPLES, [d.text for d in docs])
        n_planted = default_planted_docs(n_docs) if contaminated_docs is None else contaminated_docs
        planted = _plant_examples(docs, examples, brng, n_planted)
        bench_path = out / "benchmarks" / BENCHMARK_FILE
        write_benchmark(bench_path, examples)
        config = {"name": BENCHMARK_NAME, "path": str(bench_path), "preset": "gsm8k"}
        langs = Counter(lang for lang, _, _ in examples)
        bench = {**config, "examples": len(examples), "by_lang": dict(sorted(langs.items())), "config": config}
    too_big = [d for d in docs if len(d.text.encode("utf-8")) > max_text_bytes]
    if too_big:
        raise ValueError(f"max_text_bytes={max_text_bytes} is below the longest generated text; raise it")

    expected: Counter = Counter()
    for src in formats:
        folder = out / src
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
        rows = by_src[src]
        truncated: list[_Doc] = []
        if malformed and src == "news" and len(rows) >= 4:
            k = min(12, len(rows) // 4)
            rows, truncated = rows[:-k], rows[-k:]
        shards = [rows[k : k + shard_docs] for k in range(0, len(rows), shard_docs)] or [[]]
        for si, shard in enumerate(shards):
            bad = _malformed_for(src, shard, maker, rng, oversize_bytes) if malformed and si == 0 else []
            expected.update(reason for reason, _ in bad)
            WRITERS[src](folder, si, shard, bad, rng)
        if truncated:
            _write_truncated_gzip(folder / f"news-{len(shards):05d}.jsonl.gz", truncated, maker, rng)
            expected["corrupt_file"] += 1
        if malformed:
            expected.update(_write_bad_files(src, folder, rng))

    groups: dict[int, list[_Doc]] = {}
    near: list[tuple[_Doc, _Doc, str]] = []
    for d in docs:
        if "exact_of" in d.parts:
            groups.setdefault(id(d.parts["exact_of"]), [d.parts["exact_of"]]).append(d)
        if "near_of" in d.parts:
            near.append((d.parts["near_of"], d, d.parts["near_kind"]))
    if progress:
        progress(n_docs)
    return CorpusManifest(
        out_dir=str(out),
        n_docs=len(docs),
        sources=[_source_config(s, out / s) for s in formats],
        malformed=dict(sorted(expected.items())),
        exact_duplicate_groups=[[(d.source, d.id) for d in g] for g in groups.values()],
        near_duplicate_pairs=[((a.source, a.id), (b.source, b.id), kind) for a, b, kind in near],
        lang_counts=dict(sorted(Counter(d.lang for d in docs).items())),
        doc_langs={f"{d.source}/{d.id}": d.lang for d in docs},
        doc_styles={f"{d.source}/{d.id}": d.style for d in docs},
        benchmark=bench,
        contaminated_docs=planted,
    )


def _make_documents(
    maker: TextMaker, rng: random.Random, n_docs: int, formats: tuple[str, ...], progress
) -> list[_Doc]:
    """The accepted documents, in order: originals, exact copies and near copies of earlier ones."""
    styles = list(STYLES)
    weights = [STYLES[s][0] for s in styles]
    forced = {n_docs // 5: "long_ko", n_docs // 2: "long_en"} if n_docs >= 20 else {}
    docs: list[_Doc] = []
    seen: set[str] = set()
    exact_bases: list[_Doc] = []  # originals that have exact copies (a third copy may join them)
    near_ok: list[_Doc] = []  # originals that may still get an edited copy

    def place(style: str, text: str) -> str:
        table = STYLE_SOURCES[style.split("_")[0]]
        choices = [s for s in table if s in formats and (s != "web" or _web_ok(text))]
        if not choices:
            return rng.choice(formats)
        return rng.choices(choices, [table[s] for s in choices])[0]

    def other_source(src: str, text: str) -> str:
        others = [s for s in formats if s != src and (s != "web" or _web_ok(text))]
        return src if rng.random() < 0.5 or not others else rng.choice(others)

    for i in range(n_docs):
        roll = rng.random()
        base = None
        if i not in forced and roll < EXACT_DUP_RATE and docs:
            if exact_bases and rng.random() < 0.2:
                base = rng.choice(exact_bases)  # a group of three or more
            else:  # an original that is not the base of a near copy
                for cand in (rng.choice(docs) for _ in range(20)):
                    if not (cand.parts.keys() & {"exact_of", "near_of", "near_base", "exact_base"}):
                        base = cand
                        exact_bases.append(base)
                        break
        if base is not None:
            base.parts["exact_base"] = True
            docs.append(
                _Doc(base.text, base.lang, base.style, {"exact_of": base}, other_source(base.source, base.text))
            )
            continue
        if i not in forced and roll < EXACT_DUP_RATE + NEAR_DUP_RATE and near_ok:
            base = near_ok.pop(rng.randrange(len(near_ok)))
            if base.parts.get("exact_base"):  # it has exact copies since; keep the pairs complete
                base = None
            else:
                text, kind = near_duplicate(base.text, base.lang, base.parts, rng)
            if base is not None and text not in seen:
                seen.add(text)
                base.parts["near_base"] = True
                parts = {"near_of": base, "near_kind": kind, "title": base.parts.get("title", "")}
                docs.append(_Doc(text, base.lang, base.style, parts, other_source(base.source, text)))
                continue
        style = forced.get(i) or rng.choices(styles, weights)[0]
        for _ in range(100):
            text, lang, parts = maker.document(style)
            if text not in seen:
                break
            style = rng.choices(styles, weights)[0]  # a short text that came up before: draw again
        else:
            raise RuntimeError("could not draw a new text")
        seen.add(text)
        doc = _Doc(text, lang, style, parts, place(style, text))
        docs.append(doc)
        if style not in ("junk", "other") and len(text) >= 300:
            near_ok.append(doc)
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1)
    for d in docs:  # an exact base must not also be a near base (pairs would be incomplete)
        if d.parts.get("exact_base") and d.parts.get("near_base"):
            raise AssertionError("a document is both an exact and a near-duplicate base")
    return docs


def _assign_ids(by_src: dict[str, list[_Doc]], rng: random.Random) -> None:
    for src, rows in by_src.items():
        for k, d in enumerate(rows):
            if src == "news":
                d.id = f"news-{k:06d}"
                d.url = f"https://news.demo.moru/article/{k:06d}"
            elif src == "forum":
                d.id = str(1_000_000 + 7 * k + rng.randrange(7))
                d.url = f"https://forum.demo.moru/t/{rng.randrange(10_000, 99_999)}"
            elif src == "web":
                d.id = _uuid_urn(rng)
                section = rng.choice(EN["section"])
                d.url = f"https://web.demo.moru/{section}/{k:06d}.html"
            elif src == "docs":
                d.id = f"kb-{k:06d}"
            else:
                d.id = f"misc-{k:06d}"
                d.url = f"https://misc.demo.moru/item/{k}" if rng.random() < 0.9 else None


def _source_config(src: str, path: Path) -> dict:
    fields = {
        "news": {
            "text": "body",
            "id": "id",
            "url": "url",
            "metadata": {"title": "title", "section": "meta.section", "published": "meta.published"},
        },
        "forum": {
            "text": "content",
            "id": "post_id",
            "url": "thread.url",
            "metadata": {"author": "author", "thread_title": "thread.title"},
        },
        "web": {},
        "docs": {"text": "content", "id": "doc_key", "metadata": ["lang_hint"]},
        "misc": {"text": "text", "id": "id", "url": "url"},
    }[src]
    fmt = {"news": "jsonl", "forum": "jsonl", "web": "warc", "docs": "parquet", "misc": "auto"}[src]
    return {"name": src, "path": str(path), "format": fmt, "fields": fields}


# ---------------------------------------------------------------- records per source
def _published(rng: random.Random) -> str:
    t = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=9))) + timedelta(minutes=rng.randrange(700 * 1440))
    return t.isoformat()


def _news_row(d: _Doc, rng: random.Random) -> dict:
    section = rng.choice(KO["section"] if d.lang != "en" else EN["section"])
    title = d.parts.get("title") or d.text[:40]
    return {
        "id": d.id,
        "title": title,
        "body": d.text,
        "url": d.url,
        "meta": {"section": section, "published": _published(rng)},
    }


def _forum_row(d: _Doc, rng: random.Random) -> dict:
    return {
        "post_id": int(d.id),
        "content": d.text,
        "thread": {"url": d.url, "title": (d.parts.get("title") or d.text[:40]).split("\n")[0]},
        "author": f"{rng.choice(NICKS)}{rng.randrange(100)}",
    }


def _misc_row(d: _Doc, rng: random.Random) -> dict:
    row = {"id": d.id, "text": d.text}
    if d.url:
        row["url"] = d.url
    return row


def _lang_hint(d: _Doc, rng: random.Random) -> str | None:
    hint = {"ko": "ko", "en": "en", "ko+en": "ko", "other": d.parts.get("code", "ja")}.get(d.lang)
    if hint and rng.random() < 0.1:  # crawler hints are sometimes wrong
        hint = "en" if hint != "en" else "ko"
    return hint


def _insert(rng: random.Random, rows: list, bad: list[tuple[str, object]], key_of=None) -> list:
    """``rows`` with the bad items spread among them; a duplicate key goes after its first."""
    out = list(rows)
    blank = [item for _, item in bad if item == b""]
    for reason, item in bad:
        if reason == "duplicate_record_key":
            first = next(i for i, r in enumerate(out) if key_of(r) == key_of(item))
            out.insert(rng.randint(first + 1, len(out)), item)
        elif item != b"":
            out.insert(rng.randint(0, len(out)), item)
    for item in blank:  # a blank line is only a record when something follows it
        assert out, "a blank line needs a record after it"
        out.insert(rng.randrange(len(out)), item)
    return out


def _jsonl_lines(rows: list, ensure_ascii: bool = False) -> list[bytes]:
    lines = []
    for r in rows:
        if isinstance(r, bytes):
            lines.append(r)
        elif ensure_ascii:
            lines.append(json.dumps(r, ensure_ascii=True).encode("ascii"))
        else:
            lines.append(orjson.dumps(r))
    return lines


def _chunks(lines: list[bytes], n: int) -> list[bytes]:
    return [b"".join(line + b"\n" for line in lines[k : k + n]) for k in range(0, max(len(lines), 1), n)]


def _write_news(folder: Path, si: int, shard: list[_Doc], bad: list, rng: random.Random) -> None:
    rows = _insert(rng, [_news_row(d, rng) for d in shard], bad, key_of=lambda r: isinstance(r, dict) and r.get("id"))
    # one gzip member per 1000 lines, as concatenated dumps are
    data = b"".join(gzip.compress(chunk, mtime=0) for chunk in _chunks(_jsonl_lines(rows), 1000))
    (folder / f"news-{si:05d}.jsonl.gz").write_bytes(data)


def _write_forum(folder: Path, si: int, shard: list[_Doc], bad: list, rng: random.Random) -> None:
    import zstandard

    def key(r):
        return isinstance(r, dict) and r.get("post_id")

    rows = _insert(rng, [_forum_row(d, rng) for d in shard], bad, key_of=key)
    cctx = zstandard.ZstdCompressor(level=3)
    data = b"".join(cctx.compress(chunk) for chunk in _chunks(_jsonl_lines(rows), 700))  # several frames
    (folder / f"forum-{si:05d}.jsonl.zst").write_bytes(data)


def _write_misc(folder: Path, si: int, shard: list[_Doc], bad: list, rng: random.Random) -> None:
    rows = _insert(rng, [_misc_row(d, rng) for d in shard], bad, key_of=lambda r: isinstance(r, dict) and r.get("id"))
    # \uXXXX escapes instead of raw UTF-8, as some exporters write
    (folder / f"misc-{si:05d}.jsonl").write_bytes(b"".join(_chunks(_jsonl_lines(rows, ensure_ascii=True), 10**9)))


def _write_docs(folder: Path, si: int, shard: list[_Doc], bad: list, rng: random.Random) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"doc_key": d.id, "content": d.text, "lang_hint": _lang_hint(d, rng)} for d in shard]
    rows = _insert(rng, rows, bad)
    schema = pa.schema([("doc_key", pa.string()), ("content", pa.string()), ("lang_hint", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, folder / f"docs-{si:05d}.parquet", row_group_size=500, compression="zstd")


def _html_page(text: str, title: str, lang: str) -> bytes:
    esc = html.escape
    paras = "".join("<p>" + "<br>".join(esc(line) for line in p.split("\n")) + "</p>\n" for p in text.split("\n\n"))
    if lang == "en":
        menu, foot, related = ("Home", "News", "Business", "Tech", "Sports"), "Contact | Privacy | Terms", "Related"
    else:
        menu, foot, related = (
            ("홈", "뉴스", "경제", "IT", "스포츠"),
            "회사소개 | 개인정보처리방침 | 이용약관",
            "관련 기사",
        )
    nav = " ".join(f'<a href="/{i}">{m}</a>' for i, m in enumerate(menu))
    return (
        f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "ko"}"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif}}</style>"
        f"<script>window.dataLayer=[];</script></head>\n<body>\n<header><nav>{nav}</nav></header>\n"
        f"<main><article>\n{paras}</article>\n"
        f'<aside><h3>{related}</h3><ul><li><a href="/a/1">{esc(title[:20])}</a></li></ul></aside></main>\n'
        f"<footer><p>{foot}</p><p>© 2024 demo.moru</p></footer>\n</body></html>\n"
    ).encode()


def _write_web(folder: Path, si: int, shard: list[_Doc], bad: list, rng: random.Random) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    name = f"web-{si:05d}.warc.gz"
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    clock = [WARC_DATE + timedelta(days=si)]

    def tick() -> str:
        clock[0] += timedelta(seconds=rng.randint(1, 40))
        return clock[0].strftime("%Y-%m-%dT%H:%M:%SZ")

    info = b"software: moru demo crawler 1.0\r\nformat: WARC File Format 1.1\r\nrobots: obey\r\n"
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": _uuid_urn(rng), "WARC-Date": tick(), "WARC-Filename": name},
        )
    )

    def exchange(url: str, rid: str, ctype: str, body: bytes) -> None:
        date = tick()
        path = "/" + url.split("/", 3)[-1]
        req = StatusAndHeaders(
            f"GET {path} HTTP/1.1",
            [("Host", url.split("/")[2]), ("User-Agent", "moru-demo-crawler/1.0"), ("Accept", "text/html,*/*")],
            is_http_request=True,
        )
        http_date = clock[0].strftime("%a, %d %b %Y %H:%M:%S GMT")
        resp = StatusAndHeaders(
            "200 OK",
            [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Date", http_date), ("Server", "nginx")],
            protocol="HTTP/1.1",
        )
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=resp,
            warc_headers_dict={"WARC-Record-ID": rid, "WARC-Date": date, "WARC-IP-Address": "192.0.2.10"},
        )
        writer.write_record(
            writer.create_warc_record(
                url,
                "request",
                http_headers=req,
                warc_headers_dict={"WARC-Record-ID": _uuid_urn(rng), "WARC-Date": date, "WARC-Concurrent-To": rid},
            )
        )
        writer.write_record(rec)
        if rng.random() < 0.2:
            meta = f"fetchTimeMs: {rng.randint(20, 900)}\r\n".encode()
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "metadata",
                    payload=io.BytesIO(meta),
                    length=len(meta),
                    warc_content_type="application/warc-fields",
                    warc_headers_dict={"WARC-Record-ID": _uuid_urn(rng), "WARC-Date": date, "WARC-Refers-To": rid},
                )
            )

    items: list = _insert(rng, list(shard), bad)
    for item in items:
        if isinstance(item, _Doc):
            if item.style == "junk" or rng.random() < 0.15:  # a spam dump is not an HTML page
                exchange(item.url, item.id, "text/plain; charset=utf-8", item.text.encode("utf-8"))
            else:
                title = item.parts.get("title") or item.text[:40]
                exchange(item.url, item.id, "text/html; charset=utf-8", _html_page(item.text, title, item.lang))
        else:
            url, ctype, body = item
            exchange(url, _uuid_urn(rng), ctype, body)
    (folder / name).write_bytes(buf.getvalue())


WRITERS: dict[str, Callable] = {
    "news": _write_news,
    "forum": _write_forum,
    "web": _write_web,
    "docs": _write_docs,
    "misc": _write_misc,
}


# ---------------------------------------------------------------- malformed records
def _garbage(rng: random.Random, n: int) -> str:
    """Mostly NULs and other control characters, a few letters: what a binary blob decodes to."""
    return "".join(
        chr(rng.choice((0, 0, 0, 1, 2, 3, 7, 8, 11, 12, 14, 27, 31))) if rng.random() < 0.8 else "x" for _ in range(n)
    )


def _oversize_text(maker: TextMaker, n_bytes: int) -> str:
    chunk = "\n\n".join(maker.paragraph("ko", 3, 6) for _ in range(8))  # < 32 KB, so gzip still squeezes it
    reps = n_bytes // len(chunk.encode("utf-8")) + 1
    return "\n\n".join([chunk] * reps)


def _malformed_for(src: str, shard: list[_Doc], maker: TextMaker, rng: random.Random, oversize: int) -> list:
    """(reason, item) planted among the records of the first shard of ``src``."""
    ko = maker.paragraph("ko", 1, 2)
    if src == "news":
        meta = {"section": "경제", "published": "2024-05-02T09:00:00+09:00"}
        bad = [
            (
                "invalid_json",
                b'{"id": "news-bad-01", "title": "\xec\xa0\x95\xeb\xb6\x80", "body": "' + ko[:25].encode(),
            ),
            (
                "missing_text",
                {"id": "news-bad-02", "title": "본문 없는 기사", "url": "https://news.demo.moru/x/2", "meta": meta},
            ),
            ("wrong_type", {"id": "news-bad-03", "title": "숫자 본문", "body": 20240502, "meta": meta}),
            ("wrong_type", {"id": "news-bad-04", "title": "목록 본문", "body": ko.split(". "), "meta": meta}),
            ("invalid_utf8", b'{"id": "news-bad-05", "title": "surrogate", "body": "lone surrogate \\ud800 here"}'),
            ("empty_text", {"id": "news-bad-06", "title": "빈 기사", "body": "", "meta": meta}),
            ("binary_garbage", {"id": "news-bad-07", "title": "garbage", "body": _garbage(rng, 400), "meta": meta}),
        ]
        if oversize:
            bad.append(
                ("text_too_large", {"id": "news-bad-08", "title": "큰 기사", "body": _oversize_text(maker, oversize)})
            )
        return bad
    if src == "forum":
        bad = [
            ("invalid_utf8", b'{"post_id": 900001, "content": "caf\xe9 au lait \xff\xfe latin-1 bytes"}'),
            ("invalid_json", b"{'post_id': 900002, 'content': 'python repr is not JSON'}"),
            ("empty_text", {"post_id": 900003, "content": " \t\n  ", "author": "ghost"}),
            ("empty_text", b""),  # a blank line between records
            ("binary_garbage", {"post_id": 900004, "content": _garbage(rng, 300)}),
            ("missing_text", {"post_id": 900005, "content": None, "author": "ghost"}),
            ("not_an_object", b'"just a string on its own line"'),
            ("wrong_type", {"post_id": 900006, "content": ["ㅋㅋㅋ", "ㅠㅠ"]}),
        ]
        if shard:
            first = rng.choice(shard)
            again = {"post_id": int(first.id), "content": maker.forum_line("ko") + " (수정됨)", "author": "editor1"}
            bad.append(("duplicate_record_key", again))
        return bad
    if src == "misc":
        moji = maker.sentence("ko").encode("utf-8").decode("latin-1")  # UTF-8 read as Latin-1 upstream
        bad = [
            ("not_an_object", b"[1, 2, 3]"),
            ("missing_id", {"text": maker.sentence("en"), "url": "https://misc.demo.moru/no-id"}),
            ("mojibake", {"id": "misc-bad-03", "text": moji}),
            ("invalid_json", b'{"id": "misc-bad-04", "text": "a trailing comma",}'),
            ("missing_text", {"id": "misc-bad-05", "text": None}),
            ("wrong_type", {"id": "misc-bad-06", "text": {"ko": "안녕하세요", "en": "hello"}}),
            ("invalid_utf8", b'{"id": "misc-bad-07", "text": "fine text", "url": "https://misc.demo.moru/\\udc80"}'),
        ]
        if shard:
            first = rng.choice(shard)
            bad.append(("duplicate_record_key", {"id": first.id, "text": maker.sentence("en") + " (second copy)"}))
        return bad
    if src == "docs":
        return [
            ("missing_text", {"doc_key": "kb-bad-01", "content": None, "lang_hint": "ko"}),
            ("empty_text", {"doc_key": "kb-bad-02", "content": "", "lang_hint": "en"}),
            ("binary_garbage", {"doc_key": "kb-bad-03", "content": _garbage(rng, 500), "lang_hint": None}),
            ("missing_id", {"doc_key": None, "content": maker.paragraph("en", 1, 2), "lang_hint": "en"}),
        ]
    if src == "web":
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(200))
        pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + bytes(
            rng.randrange(256) for _ in range(100)
        )
        empty = (
            b'<!DOCTYPE html><html><head><title>Home</title></head><body><nav><a href="/">Home</a></nav></body></html>'
        )
        blob = bytes(rng.choice((0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15)) for _ in range(300))
        return [
            ("unsupported_content_type", ("https://web.demo.moru/static/logo.png", "image/png", png)),
            ("unsupported_content_type", ("https://web.demo.moru/files/report.pdf", "application/pdf", pdf)),
            ("empty_text", ("https://web.demo.moru/index.html", "text/html; charset=utf-8", empty)),
            ("binary_garbage", ("https://web.demo.moru/dump.txt", "text/plain", blob)),
        ]
    return []


def _write_truncated_gzip(path: Path, rows: list[_Doc], maker: TextMaker, rng: random.Random) -> None:
    """Good records in one gzip member, then a member cut off in the middle of its first (long)
    record: the readers take the good ones and report the file as corrupt from there on."""
    good = b"".join(line + b"\n" for line in _jsonl_lines([_news_row(d, rng) for d in rows]))
    lost = maker.long_document("ko", min_chars=20_000)[0]
    tail = orjson.dumps({"id": "news-lost-01", "title": "잘린 기사", "body": lost}) + b"\n"
    member = gzip.compress(tail, mtime=0)
    path.write_bytes(gzip.compress(good, mtime=0) + member[: len(member) // 2])


def _write_bad_files(src: str, folder: Path, rng: random.Random) -> Counter:
    """Whole files that are wrong: a Parquet file whose text column is int64, a stray README."""
    if src == "docs":
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = 4
        table = pa.table(
            {
                "doc_key": [f"kb-int-{k}" for k in range(n)],
                "content": pa.array([rng.randrange(10**9) for _ in range(n)], pa.int64()),
                "lang_hint": ["ko"] * n,
            }
        )
        pq.write_table(table, folder / "docs-legacy-int.parquet")
        return Counter({"wrong_type": n})
    if src == "misc":
        (folder / "README.txt").write_text("misc/: odds and ends exported by hand; not a data file\n", encoding="utf-8")
        return Counter({"unknown_format": 1})
    return Counter()


# ==================================================================== benchmark shards
def generate_jsonl(out_dir: str | Path, n_docs: int, seed: int = 0, shard_docs: int = 10_000) -> list[str]:
    """Clean ``{"id", "text", "url"}`` JSONL shards (no malformed records, no planted duplicates) in
    the demo's styles and proportions. Documents are assembled from pools of paragraphs, lines and
    headlines made by :class:`TextMaker`, so 200k documents take seconds, not minutes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    pool = _Pools(maker, rng)
    styles = list(STYLES)
    weights = [STYLES[s][0] for s in styles]
    paths = []
    for first in range(0, n_docs, shard_docs):
        n = min(shard_docs, n_docs - first)
        lines = []
        for i, style in enumerate(rng.choices(styles, weights, k=n), start=first):
            text = pool.document(style)
            lines.append(orjson.dumps({"id": f"doc-{i:09d}", "text": text, "url": f"https://bench.demo.moru/{i}"}))
        path = out / f"part-{first // shard_docs:05d}.jsonl"
        lines.append(b"")
        path.write_bytes(b"\n".join(lines))
        paths.append(str(path))
    return paths


class _Pools:
    """Paragraphs, headlines and forum lines made once; documents are random draws from them."""

    def __init__(self, maker: TextMaker, rng: random.Random, size: int = 3000):
        self.m, self.r = maker, rng
        self.par = {lang: [maker.paragraph(lang, 2, 5) for _ in range(size)] for lang in ("ko", "en")}
        self.head = {lang: [maker.headline(lang) for _ in range(size // 2)] for lang in ("ko", "en")}
        self.forum = {lang: [maker.forum_line(lang) for _ in range(size)] for lang in ("ko", "en")}
        self.mixed = [maker.mixed_sentence() for _ in range(size)]
        self.ko_sent = [maker.sentence("ko") for _ in range(size)]
        self.boiler = {
            (lang, head): [maker.boiler_lines(lang, head, 1)[0] for _ in range(200)]
            for lang in ("ko", "en")
            for head in (True, False)
        }

    def document(self, style: str) -> str:
        r, choices = self.r, self.r.choices
        if style in ("news_ko", "news_en"):
            lang = style[-2:]
            return "\n\n".join([r.choice(self.head[lang]), *choices(self.par[lang], k=self.m.n_paragraphs())])
        if style in ("forum_ko", "forum_en"):
            lines = choices(self.forum[style[-2:]], k=r.randint(2, 5))
            if r.random() < 0.3:
                lines[0] = "> " + lines[0]
            return "\n".join(lines)
        if style in ("boiler_ko", "boiler_en"):
            lang = style[-2:]
            head = choices(self.boiler[lang, True], k=r.randint(2, 4))
            foot = choices(self.boiler[lang, False], k=r.randint(2, 4))
            body = "\n\n".join([r.choice(self.head[lang]), *choices(self.par[lang], k=r.randint(2, 4))])
            return "\n".join(head) + "\n\n" + body + "\n\n" + "\n".join(foot)
        if style == "mixed":
            sents = choices(self.mixed, k=r.randint(3, 8))
            sents += choices(self.ko_sent, k=len(sents) // 3)
            r.shuffle(sents)
            return "\n\n".join(" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3))
        if style in ("long_ko", "long_en"):
            lang = style[-2:]
            pars, size = [r.choice(self.head[lang])], 0
            while size < 17_000:
                pars.extend(choices(self.par[lang], k=20))
                size = sum(map(len, pars))
            return "\n\n".join(pars)
        return self.m.document(style)[0]  # other languages and junk: short, made on the spot


# ==================================================================== classifier training sets
CLASSIFIER_POSITIVE_STYLES = ("news_ko", "news_en", "mixed")


def classifier_sets(out_dir: str | Path, n_per_class: int = 1500, seed: int = 1) -> tuple[str, str]:
    """``positive.jsonl`` (edited prose: news in Korean and English, code-switched paragraphs)
    and ``negative.jsonl`` (the demo's junk: very short posts, lorem ipsum, repeated-line spam,
    symbol/number tables, and navigation/footer boilerplate without a body) for the fastText
    quality classifier. A different seed from the corpus's, so the classifier is not trained on
    the documents it scores."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    pos, neg = [], []
    for i in range(n_per_class):
        text, lang, _ = maker.document(CLASSIFIER_POSITIVE_STYLES[i % len(CLASSIFIER_POSITIVE_STYLES)])
        pos.append(orjson.dumps({"text": text, "lang": lang}))
        if rng.random() < 0.2:
            lang = rng.choice(("ko", "en"))
            lines = maker.boiler_lines(lang, True, rng.randint(2, 4)) + maker.boiler_lines(
                lang, False, rng.randint(2, 4)
            )
            text = "\n".join(lines)
        else:
            text, lang, _ = maker.junk()
        neg.append(orjson.dumps({"text": text, "lang": lang}))
    paths = []
    for name, rows in (("positive.jsonl", pos), ("negative.jsonl", neg)):
        path = out / name
        path.write_bytes(b"\n".join(rows) + b"\n")
        paths.append(str(path))
    return paths[0], paths[1]


# ==================================================================== demo benchmark (planted contamination)
BENCHMARK_NAME = "demo_bench"
BENCHMARK_FILE = "demo_bench.jsonl"  # GSM8K's layout: {"question", "answer"}, read with preset gsm8k
BENCHMARK_EXAMPLES = 200
MIN_PARTIAL = 60  # normalized characters of a partial copy (>= the 50-character window, with room)
_PLANT_BUCKETS = (500, 2_000, 10_000)  # plant across these document lengths (chars) and beyond


def _won(n: int) -> str:
    return f"{n:,}"


def _ko_problem(r: random.Random) -> tuple[str, str]:
    """A Korean grade-school word problem and its GSM8K-style answer (``<<a*b=c>>`` steps, ``#### n``)."""
    name = r.choice(KO["surname"]) + r.choice(KO["given"])
    kind = r.randrange(5)
    if kind == 0:
        thing, place = r.choice(KO["thing"]), r.choice(KO["place"])
        a, p = r.randint(2, 9), r.randrange(1_200, 9_900, 100)
        d = r.randrange(500, min(a * p, 5_000), 100)
        q = (
            f"{name} 씨는 {place}의 한 가게에서 {josa(thing, '을')} {a}개 샀습니다. 한 개에 {_won(p)}원이고, "
            f"계산할 때 {_won(d)}원 할인 쿠폰을 썼습니다. {name} 씨가 낸 돈은 모두 얼마일까요?"
        )
        ans = (
            f"{thing} {a}개의 값은 {a}×{p}=<<{a}*{p}={a * p}>>{a * p}원입니다.\n"
            f"쿠폰 {d}원을 빼면 {a * p}-{d}=<<{a * p}-{d}={a * p - d}>>{a * p - d}원입니다.\n#### {a * p - d}"
        )
        return q, ans
    if kind == 1:
        place, event = r.choice(KO["place"]), r.choice(KO["event"])
        a, b, c = r.randint(120, 900), r.randint(120, 900), r.randint(10, 99)
        q = (
            f"{place}에서 열린 {event}에 첫날 {a}명, 둘째 날 {b}명이 왔습니다. "
            f"셋째 날에는 둘째 날보다 {c}명 적게 왔다면 사흘 동안 온 사람은 모두 몇 명일까요?"
        )
        ans = (
            f"셋째 날에는 {b}-{c}=<<{b}-{c}={b - c}>>{b - c}명이 왔습니다.\n"
            f"사흘 동안 {a}+{b}+{b - c}=<<{a}+{b}+{b - c}={a + 2 * b - c}>>{a + 2 * b - c}명이 왔습니다.\n"
            f"#### {a + 2 * b - c}"
        )
        return q, ans
    if kind == 2:
        thing = r.choice(KO["thing"])
        w, s = r.randint(4, 20), r.randrange(5_000, 30_000, 1_000)
        p = s * w + r.randrange(10_000, 90_000, 1_000)
        q = (
            f"{name} 씨는 {josa(thing, '을')} 사려고 매주 {_won(s)}원씩 {w}주 동안 모았습니다. "
            f"{thing}의 가격이 {_won(p)}원이라면 {name} 씨는 얼마를 더 모아야 할까요?"
        )
        ans = (
            f"{w}주 동안 {s}×{w}=<<{s}*{w}={s * w}>>{s * w}원을 모았습니다.\n"
            f"더 필요한 돈은 {p}-{s * w}=<<{p}-{s * w}={p - s * w}>>{p - s * w}원입니다.\n#### {p - s * w}"
        )
        return q, ans
    if kind == 3:
        food = r.choice(KO["food"])
        a, p, d = r.randint(20, 90), r.randrange(6_000, 15_000, 500), r.randint(3, 7)
        q = (
            f"{name} 씨의 식당은 하루에 {food} {a}인분을 팝니다. 1인분이 {_won(p)}원일 때 "
            f"{d}일 동안 {josa(food, '으로')} 번 돈은 모두 얼마일까요?"
        )
        ans = (
            f"하루에 {a}×{p}=<<{a}*{p}={a * p}>>{a * p}원을 법니다.\n"
            f"{d}일 동안 {a * p}×{d}=<<{a * p}*{d}={a * p * d}>>{a * p * d}원을 법니다.\n#### {a * p * d}"
        )
        return q, ans
    place = r.choice(KO["place"])
    a, b, c = r.randint(25, 45), r.randint(3, 15), r.randint(2, 12)
    b = min(b, a - 1)
    q = (
        f"{place}로 가는 버스에 {a}명이 타고 있었습니다. 첫 정류장에서 {b}명이 내리고 {c}명이 탔습니다. "
        f"다음 정류장에서 {name} 씨를 포함해 {c + 1}명이 더 탔다면 지금 버스에는 몇 명이 타고 있을까요?"
    )
    ans = (
        f"첫 정류장 뒤에는 {a}-{b}+{c}=<<{a}-{b}+{c}={a - b + c}>>{a - b + c}명입니다.\n"
        f"다음 정류장 뒤에는 {a - b + c}+{c + 1}=<<{a - b + c}+{c + 1}={a - b + 2 * c + 1}>>"
        f"{a - b + 2 * c + 1}명입니다.\n#### {a - b + 2 * c + 1}"
    )
    return q, ans


def _en_problem(r: random.Random) -> tuple[str, str]:
    """An English grade-school word problem and its GSM8K-style answer. Fixed wording between the
    drawn names and numbers stays well under 50 normalized characters, so examples rarely share a
    substring (the generator redraws the few that do)."""
    name = r.choice(EN["first"])
    kind = r.randrange(5)
    if kind == 0:
        thing, place = r.choice(EN["thing"]), r.choice(EN["place"])
        a, p = r.randint(2, 9), r.randint(12, 95)
        d = r.randint(5, min(a * p - 1, 40))
        q = f"{name} buys {a} {thing}s in {place} at ${p} each and pays with a ${d} coupon. How much does {name} pay?"
        ans = (
            f"{a} {thing}s cost {a} * {p} = $<<{a}*{p}={a * p}>>{a * p}.\n"
            f"With the coupon: {a * p} - {d} = $<<{a * p}-{d}={a * p - d}>>{a * p - d}.\n#### {a * p - d}"
        )
        return q, ans
    if kind == 1:
        event, place = r.choice(EN["event"]), r.choice(EN["place"])
        a, b, c = r.randint(120, 900), r.randint(120, 900), r.randint(10, 99)
        q = (
            f"{name} counts visitors at the {event} in {place}. Day one: {a}. Day two: {b}. "
            f"Day three: {c} fewer than day two. What total does {name} count?"
        )
        ans = (
            f"Day three: {b} - {c} = <<{b}-{c}={b - c}>>{b - c}.\n"
            f"Total: {a} + {b} + {b - c} = <<{a}+{b}+{b - c}={a + 2 * b - c}>>{a + 2 * b - c}.\n"
            f"#### {a + 2 * b - c}"
        )
        return q, ans
    if kind == 2:
        thing = r.choice(EN["thing"])
        w, s = r.randint(4, 20), r.randint(5, 30)
        p = s * w + r.randint(10, 90)
        q = f"{name} saves ${s} a week for {w} weeks toward a {thing} that costs ${p}. How much more does {name} need?"
        ans = (
            f"{w} weeks of saving: {s} * {w} = $<<{s}*{w}={s * w}>>{s * w}.\n"
            f"Still needed: {p} - {s * w} = $<<{p}-{s * w}={p - s * w}>>{p - s * w}.\n#### {p - s * w}"
        )
        return q, ans
    if kind == 3:
        a, b, d, place = r.randint(3, 25), r.randint(12, 60), r.randint(3, 9), r.choice(EN["place"])
        q = (
            f"{name} reads {a} pages each morning on the way to {place} and {b} pages each evening. "
            f"How many pages in {d} days?"
        )
        ans = (
            f"{a} + {b} = <<{a}+{b}={a + b}>>{a + b} pages a day.\n"
            f"{a + b} * {d} = <<{a + b}*{d}={(a + b) * d}>>{(a + b) * d} pages.\n#### {(a + b) * d}"
        )
        return q, ans
    place = r.choice(EN["place"])
    a, b, c = r.randint(25, 60), r.randint(3, 20), r.randint(2, 15)
    q = (
        f"A bus to {place} has {a} passengers. {b} get off and {c} get on at the first stop; at the next, "
        f"{name} and {c} friends board. How many are on the bus?"
    )
    ans = (
        f"{a} - {b} + {c} = <<{a}-{b}+{c}={a - b + c}>>{a - b + c} after the first stop.\n"
        f"{a - b + c} + {c + 1} = <<{a - b + c}+{c + 1}={a - b + 2 * c + 1}>>{a - b + 2 * c + 1}.\n"
        f"#### {a - b + 2 * c + 1}"
    )
    return q, ans


def benchmark_examples(rng: random.Random, n: int = BENCHMARK_EXAMPLES, corpus_texts: list[str] = (),
                       window: int = 50) -> list[tuple[str, str, str]]:  # fmt: skip
    """``n`` (lang, question, answer) word problems, Korean and English in turn. No example shares a
    ``window``-character normalized substring with another one or with any of ``corpus_texts``, so
    the only copies of an example in the corpus are the planted ones (the ground truth is exact)."""
    import numpy as np

    from quality.decontam import normalize_for_matching
    from quality.substrings import window_hashes

    hashes = [window_hashes(normalize_for_matching(t), window) for t in corpus_texts]
    taken = np.unique(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
    seen: set[int] = set()
    out: list[tuple[str, str, str]] = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        lang = ("ko", "en")[len(out) % 2]
        question, answer = (_ko_problem if lang == "ko" else _en_problem)(rng)
        h = window_hashes(normalize_for_matching(f"{question}\n{answer}"), window)
        at = np.minimum(np.searchsorted(taken, h), max(taken.size - 1, 0))
        if not h.size or (taken.size and (taken[at] == h).any()) or not seen.isdisjoint(h.tolist()):
            continue  # (rare) shares a substring with the corpus or an earlier example: draw again
        seen.update(h.tolist())
        out.append((lang, question, answer))
    else:
        raise RuntimeError(f"could not draw {n} distinct benchmark examples")
    return out


def _partial(rng: random.Random, text: str, min_chars: int = MIN_PARTIAL) -> str:
    """A suffix of ``text`` from a word boundary, at least ``min_chars`` normalized characters long
    and shorter than the whole."""
    from quality.decontam import normalize_for_matching

    cuts = [m.end() for m in re.finditer(r"\s+", text)]
    cuts = [c for c in cuts if len(normalize_for_matching(text[c:])) >= min_chars]
    if not cuts:
        raise ValueError(f"example too short for a partial copy of {min_chars} normalized characters")
    # from the first third to the middle of the example where possible, else the latest cut that is long enough
    middle = [c for c in cuts if len(text) / 3 <= c <= len(text) / 2]
    return text[rng.choice(middle) if middle else cuts[-1] :]


def default_planted_docs(n_docs: int) -> int:
    """Documents that get a planted benchmark example by default: 3 per 90 documents, 6 to 36."""
    return 3 * max(2, min(12, n_docs // 90))


def _plant_examples(docs: list[_Doc], examples: list[tuple[str, str, str]], rng: random.Random,
                    n: int) -> dict[str, dict]:  # fmt: skip
    """Plant one example each (whole, partial, perturbed in turn) into ``n`` documents, spread over
    the document lengths (< 500, 500-2k, 2k-10k, >= 10k characters, in turn); returns "source/id" ->
    {example_id, kind, offset, chars}. Documents with an exact or near-duplicate relation stay clean
    (the dedup ground truth stays exact), and so do web pages (main-content extraction may cut a
    paragraph) and junk or foreign-language documents. An example goes to a document of its language."""
    from bisect import bisect_right

    from demo.decontam_eval import KINDS, perturb

    related = {"exact_of", "near_of", "exact_base", "near_base"}
    buckets: list[list[_Doc]] = [[] for _ in range(len(_PLANT_BUCKETS) + 1)]
    for d in docs:
        if d.source != "web" and d.style not in ("junk", "other") and not (d.parts.keys() & related):
            buckets[bisect_right(_PLANT_BUCKETS, len(d.text))].append(d)
    for bucket in buckets:
        rng.shuffle(bucket)
    chosen: list[_Doc] = []
    while len(chosen) < n and any(buckets):
        for bucket in buckets:
            if bucket and len(chosen) < n:
                chosen.append(bucket.pop())
    pools = {lang: [i for i, e in enumerate(examples) if e[0] == lang] for lang in ("ko", "en")}
    for pool in pools.values():
        rng.shuffle(pool)
    planted: dict[str, dict] = {}
    for k, d in enumerate(chosen):
        lang = d.lang if d.lang in pools else rng.choice(("ko", "en"))  # ko+en: either
        if not pools[lang]:
            lang = "en" if lang == "ko" else "ko"
        if not pools[lang]:
            break
        idx = pools[lang].pop()
        kind = KINDS[k % len(KINDS)]
        _, question, answer = examples[idx]
        passage = f"{question}\n{answer}"
        if kind == "partial":
            passage = _partial(rng, passage)
        elif kind == "perturbed":
            passage = perturb(rng, passage)
        at = rng.randint(0, len(d.text))
        while 0 < at < len(d.text) and not d.text[at - 1].isspace():
            at -= 1  # at a word boundary
        planted[f"{d.source}/{d.id}"] = {
            "example_id": f"{BENCHMARK_FILE}#{idx}",  # the registry's id for a file without an id field
            "kind": kind,
            "offset": at,
            "chars": len(d.text),  # the document's length before planting
        }
        d.text = d.text[:at] + passage + " " + d.text[at:]
    return planted


def write_benchmark(path: Path, examples: list[tuple[str, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [orjson.dumps({"question": q, "answer": a}) for _, q, a in examples]
    path.write_bytes(b"\n".join(lines) + b"\n")
