"""Word lists and sentence templates for the generated demo corpus (written for moru; no data is
downloaded). Korean sentences are built from a subject + particle, an object + particle and a
predicate with a sentence ending, so that they carry real particles, endings and spacing."""

KO_NOUNS = (
    "정부 국회 대통령 장관 시민 학생 교사 기업 회사 은행 시장 경제 정책 법안 예산 선거 정당 지역 도시 농촌 "
    "병원 의사 환자 연구팀 과학자 대학 학교 아이 부모 가족 친구 직장인 소비자 노동자 주민 경찰 소방관 군인 "
    "선수 감독 팬 배우 가수 작가 기자 언론 방송 영화 드라마 음악 공연 전시회 축제 여행 관광객 호텔 식당 "
    "커피 음식 날씨 비 눈 바람 기온 여름 겨울 봄 가을 하늘 바다 산 강 공원 도로 지하철 버스 기차 비행기 "
    "자동차 스마트폰 컴퓨터 인터넷 인공지능 반도체 데이터 소프트웨어 플랫폼 서비스 제품 가격 물가 금리 주가 "
    "수출 수입 무역 환율 일자리 임금 세금 복지 연금 주택 아파트 전세 부동산 교육 시험 입시 수업 교과서 "
    "도서관 책 신문 잡지 문화 역사 전통 예술 과학 기술 환경 에너지 전기 태양광 기후 탄소 쓰레기 재활용 "
    "건강 운동 병 감기 백신 약 치료 보험 안전 사고 화재 지진 태풍 홍수 재난 회의 토론 발표 보고서 계획 "
    "목표 결과 문제 해결 방법 이유 의견 결정 변화 성장 발전 협력 경쟁 갈등 합의 협상 조사 통계 비율 숫자"
).split()
KO_SUBJ_PARTICLE = {True: "은", False: "는"}
KO_OBJ_PARTICLE = {True: "을", False: "를"}
KO_PREDICATES = (
    "발표했다 검토하고 있다 강조했다 비판했다 지원하기로 했다 준비하고 있다 공개했다 확대할 계획이다 "
    "줄이기로 결정했다 논의했다 요구했다 제안했다 조사하고 있다 개선하겠다고 밝혔다 도입할 예정이다 "
    "분석했다 평가했다 추진하고 있다 마련했다 점검했다 소개했다 반대했다 환영했다 기록했다"
).split()
KO_ADVERBS = "오늘 어제 최근 올해 내년 지난주 이번 달 결국 다시 크게 빠르게 조금 꾸준히 처음으로 공식적으로".split()
KO_ADJ = "새로운 중요한 다양한 큰 작은 어려운 많은 적은 좋은 나쁜 빠른 느린 안전한 위험한 유명한 오래된".split()
KO_CONNECT = ("그러나", "또한", "한편", "이에 따라", "특히", "하지만", "그래서", "이와 함께", "반면")
KO_CASUAL_END = ("ㅋㅋㅋ", "ㅋㅋ", "ㅠㅠ", "ㅎㅎ", "진짜요", "대박", "헐", "ㄹㅇ")
KO_CASUAL = (
    "오늘 {n} 진짜 좋았어요",
    "{n} 때문에 너무 힘들었네요",
    "혹시 {n} 어디서 사셨어요?",
    "{n} 추천 좀 해주세요",
    "저도 {n} 써봤는데 괜찮더라고요",
    "{n} 가격이 너무 올랐어요",
    "어제 {n} 보러 갔다 왔어요",
    "{n} 때문에 잠을 못 잤어요",
)
KO_BOILER_HEAD = (
    "[속보] 무단 전재 및 재배포 금지",
    "로그인 | 회원가입 | 고객센터 | 사이트맵",
    "홈 > 뉴스 > 경제 > 전체기사",
)
KO_BOILER_FOOT = (
    "Copyright ⓒ 모루일보. All rights reserved. 무단 전재 및 재배포 금지.",
    "기자 이메일 제보하기 구독하기 공유하기",
    "이 기사를 추천합니다 좋아요 0 댓글 0",
    "개인정보처리방침 | 이용약관 | 청소년보호정책",
)

EN_NOUNS = (
    "government council president minister citizen student teacher company bank market economy policy bill "
    "budget election party region city village hospital doctor patient researcher scientist university school "
    "child parent family friend worker consumer resident police firefighter soldier player coach fan actor "
    "singer writer reporter newspaper broadcast film series music concert exhibition festival trip tourist "
    "hotel restaurant coffee food weather rain snow wind temperature summer winter spring autumn sky sea "
    "mountain river park road subway bus train plane car phone computer internet software platform service "
    "product price inflation rate stock export import trade currency job wage tax welfare pension house "
    "apartment rent education exam class textbook library book magazine culture history tradition art science "
    "technology environment energy electricity climate carbon waste recycling health exercise disease vaccine "
    "medicine treatment insurance safety accident fire earthquake storm flood disaster meeting debate report "
    "plan goal result problem solution method reason opinion decision change growth development cooperation "
    "competition conflict agreement negotiation survey statistic ratio number network chip battery satellite"
).split()
EN_VERBS = (
    "announced reviewed emphasized criticized supported prepared released expanded reduced discussed demanded "
    "proposed investigated improved introduced analyzed evaluated pursued launched inspected presented opposed "
    "welcomed recorded delayed approved rejected funded tested measured"
).split()
EN_ADJ = (
    "new important diverse large small difficult many few good bad fast slow safe dangerous famous old local "
    "national global public private digital annual recent major minor strong weak"
).split()
EN_ADV = (
    "today yesterday recently this year next year last week finally again sharply slightly steadily officially".split()
)
EN_CONNECT = (
    "However,",
    "Meanwhile,",
    "In addition,",
    "As a result,",
    "In particular,",
    "On the other hand,",
    "Still,",
)
EN_CASUAL = (
    "honestly the {n} was way better than I expected lol",
    "anyone else having trouble with the {n}?",
    "just got back from the {n}, totally worth it",
    "can someone recommend a good {n}?",
    "the {n} is so overpriced these days smh",
    "ngl the {n} kept me up all night",
)
EN_BOILER_HEAD = (
    "Skip to main content | Home | News | Sign in | Subscribe",
    "We use cookies to improve your experience. Accept all cookies",
    "Menu Search Account Newsletter Podcasts",
)
EN_BOILER_FOOT = (
    "© 2026 Moru Times. All rights reserved.",
    "Privacy Policy | Terms of Use | Cookie Settings | Contact us",
    "Share this article: Facebook Twitter Email Print",
    "Subscribe to our newsletter for daily updates.",
)

# phrase-level English inside Korean (code-switching as in tech/business chat)
MIX_EN_PHRASES = (
    "we agreed to ship the new release next week",
    "the main point is that latency dropped by half",
    "let's sync on this after the standup",
    "this is a blocker for the launch",
    "the numbers look good so far",
    "please double check the final report",
    "we need more data before deciding",
    "the demo went really well",
    "it depends on the customer feedback",
    "the deadline is end of this month",
)
MIX_KO_PREFIX = (
    "오늘 회의에서",
    "팀장님이 말씀하시길",
    "어제 발표에서",
    "고객 미팅 결과",
    "이번 프로젝트는",
    "정리하자면",
)
MIX_KO_SUFFIX = (
    "그래서 다음 주까지 준비해야 합니다",
    "라는 점을 강조했어요",
    "이렇게 정리됐습니다",
    "라고 하더라고요",
    "그러니까 일정 조정이 필요해요",
    "다들 참고해 주세요",
)

OTHER_LANG = {
    "ja": (
        "今日はとても良い天気ですね。明日も晴れるといいのですが。",
        "このレストランの料理はとてもおいしいです。",
        "新しい駅が来年の春に開業する予定です。",
        "私は毎朝コーヒーを飲みながら新聞を読みます。",
        "週末は家族と一緒に公園へ行きました。",
    ),
    "zh": (
        "今天的天气非常好，我们去公园散步吧。",
        "政府宣布了新的经济政策，以促进国内消费。",
        "这家餐厅的菜很好吃，价格也很合理。",
        "学生们正在图书馆里准备考试。",
        "科技公司发布了新的人工智能产品。",
    ),
    "es": (
        "El gobierno anunció hoy un nuevo plan para mejorar la educación pública.",
        "La ciudad celebrará un festival de música el próximo fin de semana.",
        "Los científicos publicaron un estudio sobre el cambio climático.",
        "Muchos turistas visitan el museo durante el verano.",
        "El precio de la vivienda subió este año.",
    ),
}
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua."
)
