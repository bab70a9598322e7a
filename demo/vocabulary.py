"""The demo corpus's word lists and sentence templates, Korean and English (news, headlines, forum posts,
code-switching, boilerplate), sentences in other languages for language id, junk and spam, and forum nicknames.
Written here, nothing is downloaded; :class:`demo.text.TextMaker` fills the templates."""

from __future__ import annotations


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


# ==================================================================== forum nicknames
NICKS = _w(
    "고양이집사 퇴근요정 월급루팡 커피중독 산책러 야식왕 주말농부 코딩하는곰 여행가고파 집순이 "
    "coffee_addict throwaway_acc night_owl weekend_dev bookworm mild_salsa quiet_reader"
)
