"""Generated PII (real-looking, made up: checksum-valid resident registration numbers, Luhn-valid card numbers,
Korean bank account layouts, Korean and international phone numbers, emails, IPv4/IPv6 addresses) in Korean and
English sentences, and decoys that look like them but are not PII (wrong-checksum RRNs, impossible dates, non-Luhn
card-like numbers, dates, prices, version strings, order numbers, times, ISBNs). The demo plants the values in its
corpus (:func:`plant_pii`); ``benchmarks/pii.py`` builds its labelled set from the same makers. Nothing here is a
real person's data: every value is drawn from a seeded generator."""

from __future__ import annotations

import random

from quality.pii import PII_TYPES, luhn_valid, rrn_check_digit

_KO_NAMES = ("kim.minji", "jhpark", "seoyeon.lee", "choi_dh", "yuna.jung", "hanbit.kang", "sjyoon", "ohmin")
_EN_NAMES = ("j.smith", "emily.clark", "mike_ross", "a.nguyen", "sarah.k", "tom.baker", "lwilliams", "dchen")
_DOMAINS = ("naver.com", "daum.net", "gmail.com", "kakao.com", "hanmail.net", "outlook.com", "hanbit-corp.co.kr",
            "example.org", "moru-lab.kr")  # fmt: skip
# (Korean name, English name, account layout)
BANKS = (
    ("국민은행", "KB Kookmin Bank", (6, 2, 6)),
    ("신한은행", "Shinhan Bank", (3, 3, 6)),
    ("우리은행", "Woori Bank", (4, 3, 6)),
    ("하나은행", "Hana Bank", (3, 6, 5)),
    ("농협", "NH Bank", (3, 4, 4, 2)),
    ("기업은행", "IBK", (3, 6, 2, 3)),
    ("카카오뱅크", "KakaoBank", (4, 2, 7)),
    ("토스뱅크", "Toss Bank", (4, 4, 4)),
)


def _num(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def email(rng: random.Random, lang: str) -> str:
    name = rng.choice(_KO_NAMES if lang == "ko" else _EN_NAMES)
    return f"{name}{rng.choice(['', str(rng.randrange(10, 100))])}@{rng.choice(_DOMAINS)}"


def phone(rng: random.Random, lang: str) -> str:
    mid, last = _num(rng, 4), _num(rng, 4)
    if lang == "ko":
        form = rng.randrange(7)
        if form == 0:
            return f"010-{mid}-{last}"
        if form == 1:
            return f"010.{mid}.{last}"
        if form == 2:
            return f"010{mid}{last}"
        if form == 3:
            return f"02-{_num(rng, 3)}-{last}"
        if form == 4:
            return f"0{rng.choice([31, 32, 51, 53, 62])}-{_num(rng, 3)}-{last}"
        if form == 5:
            return f"+82 10-{mid}-{last}"
        return f"1588-{last}"
    area = rng.randrange(201, 990)
    form = rng.randrange(4)
    if form == 0:
        return f"+1 ({area}) {rng.randrange(200, 999)}-{last}"
    if form == 1:
        return f"({area}) {rng.randrange(200, 999)}-{last}"
    if form == 2:
        return f"{area}-{rng.randrange(200, 999)}-{last}"
    return f"+44 20 {mid} {last}"


def rrn_digits(rng: random.Random) -> str:
    year = rng.randrange(1950, 2020)
    month, day = rng.randrange(1, 13), rng.randrange(1, 29)
    g = rng.choice((1, 2)) + (2 if year >= 2000 else 0)
    first12 = f"{year % 100:02d}{month:02d}{day:02d}{g}{_num(rng, 5)}"
    return first12 + str(rrn_check_digit(first12))


def rrn(rng: random.Random, lang: str) -> str:
    d = rrn_digits(rng)
    return f"{d[:6]}-{d[6:]}"


def card_digits(rng: random.Random, n: int = 16, prefix: str | None = None) -> str:
    prefix = prefix or rng.choice(("4", "51", "53", "9410", "6011"))
    body = prefix + _num(rng, n - 1 - len(prefix))
    return next(body + str(c) for c in range(10) if luhn_valid(body + str(c)))


def card(rng: random.Random, lang: str) -> str:
    if rng.random() < 0.2:
        d = card_digits(rng, 15, rng.choice(("34", "37")))
        return f"{d[:4]} {d[4:10]} {d[10:]}"
    d = card_digits(rng)
    return rng.choice((" ", "-")).join(d[i : i + 4] for i in range(0, 16, 4))


def bank_account(rng: random.Random, lang: str) -> tuple[str, str]:
    """(bank name in ``lang``, account number)."""
    ko, en, layout = rng.choice(BANKS)
    return (ko if lang == "ko" else en), "-".join(_num(rng, n) for n in layout)


def ip_address(rng: random.Random, lang: str) -> str:
    if rng.random() < 0.7:
        first = rng.choice((10, 172, 192, 203, 211, 58, 121))
        return ".".join(str(x) for x in (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
    groups = [f"{rng.randrange(1, 0xFFFF):x}" for _ in range(3)]
    return f"2001:db8:{groups[0]}:{groups[1]}::{groups[2]}" if rng.random() < 0.5 else "fe80::" + ":".join(groups)


_TEMPLATES = {
    "ko": {
        "email": ("자세한 문의는 {v}로 메일 주세요.", "담당자 이메일: {v}", "신청서는 {v} 주소로 보내면 된다."),
        "phone": ("문의 전화 {v}번으로 연락 바랍니다.", "연락처는 {v}입니다.", "예약은 {v}로 전화하면 된다."),
        "rrn": ("신청서에 주민등록번호 {v}를 적어 냈다.", "본인 확인용 번호 {v}가 그대로 노출됐다."),
        "card": ("결제한 카드 번호는 {v}였다.", "카드 {v}로 결제됐습니다."),
        "bank_account": ("참가비는 {bank} {v}로 입금해 주세요.", "환불 계좌: {bank} {v} (예금주 김민지)"),
        "ip_address": ("접속 기록에는 {v}에서 로그인한 흔적이 남아 있었다.", "서버 주소 {v}로 접속하세요."),
    },
    "en": {
        "email": ("For details, email {v}.", "Reach the organizer at {v} before Friday.", "Send resumes to {v}."),
        "phone": ("Call {v} for reservations.", "Her number was listed as {v} in the flyer.", "Text {v} to join."),
        "rrn": ("The form leaked a Korean resident registration number, {v}, in plain text.",),
        "card": ("The receipt showed the full card number {v}.", "He paid with card {v} at the counter."),
        "bank_account": ("Please wire the deposit to {bank} account {v}.", "Refunds go to account {v} at {bank}."),
        "ip_address": ("The attack came from {v}, the logs show.", "Point your browser at {v} to log in."),
    },
}


def pii_sentence(rng: random.Random, pii_type: str, lang: str) -> tuple[str, str]:
    """(a sentence holding one made-up value of ``pii_type`` in ``lang``, the value)."""
    bank = ""
    if pii_type == "bank_account":
        bank, value = bank_account(rng, lang)
    else:
        value = {"email": email, "phone": phone, "rrn": rrn, "card": card, "ip_address": ip_address}[pii_type](
            rng, lang
        )
    return rng.choice(_TEMPLATES[lang][pii_type]).format(v=value, bank=bank), value


def decoy_sentence(rng: random.Random, lang: str) -> tuple[str, str, str]:
    """(a sentence holding a number that looks like PII and is not, the decoy, its kind)."""
    kind = rng.choice(DECOY_KINDS)
    if kind == "rrn_bad_checksum":
        d = rrn_digits(rng)
        v = f"{d[:6]}-{d[6:12]}{(int(d[12]) + rng.randrange(1, 10)) % 10}"
    elif kind == "rrn_bad_date":
        month = rng.choice(["13", "00", "14"])
        v = f"{rng.randrange(50, 99)}{month}{rng.randrange(10, 28)}-{rng.choice('12')}{_num(rng, 6)}"
    elif kind == "card_not_luhn":
        d = card_digits(rng)
        d = d[:-1] + str((int(d[-1]) + rng.randrange(1, 10)) % 10)
        v = " ".join(d[i : i + 4] for i in range(0, 16, 4))
    elif kind == "date":
        y, m, day = rng.randrange(1990, 2030), rng.randrange(1, 13), rng.randrange(1, 29)
        v = rng.choice((f"{y}-{m:02d}-{day:02d}", f"{y}.{m:02d}.{day:02d}", f"{y}/{m:02d}/{day:02d}"))
    elif kind == "year_range":
        y = rng.randrange(1950, 2020)
        v = f"{y}-{y + rng.randrange(1, 30)}"
    elif kind == "price":
        v = rng.choice((f"{rng.randrange(1, 999_999) * 1000:,}원", f"${rng.randrange(1, 99_999):,}.99"))
    elif kind == "version":
        v = rng.choice((f"v{rng.randrange(1, 20)}.{rng.randrange(30)}.{rng.randrange(30)}",
                        f"{rng.randrange(1, 5)}.{rng.randrange(20)}.{rng.randrange(20)}"))  # fmt: skip
    elif kind == "order_number":
        v = f"{rng.randrange(2015, 2026)}-{_num(rng, 6)}"
    elif kind == "time":
        v = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    elif kind == "isbn":
        v = f"978-89-{_num(rng, 3)}-{_num(rng, 4)}-{rng.randrange(10)}"
    elif kind == "bad_ip":
        v = f"{rng.randrange(256, 999)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
    else:  # an account layout with no bank word near it
        _, v = bank_account(rng, lang)
    templates = _DECOY_TEMPLATES[lang]
    return rng.choice(templates).format(v=v), v, kind


DECOY_KINDS = ("rrn_bad_checksum", "rrn_bad_date", "card_not_luhn", "date", "year_range", "price", "version",
               "order_number", "time", "isbn", "bad_ip", "account_without_bank")  # fmt: skip
_DECOY_TEMPLATES = {
    "ko": ("관련 자료 번호는 {v}이다.", "보고서에는 {v}라는 값이 적혀 있었다.", "표에 {v}가 기록됐다."),
    "en": ("The report lists {v} in its appendix.", "The value {v} appears in the table.", "See item {v} below."),
}


def plant_pii(docs: list, rng: random.Random, n: int, skip: set[str] = frozenset()) -> dict[str, list[dict]]:
    """Plant one made-up PII sentence each in ``n`` Korean, English and code-switched documents (news, forum and
    mixed styles; no web page, whose main-content extraction may cut a sentence; no document with a duplicate
    relation, so the dedup ground truth stays exact; none of the "source/id" keys in ``skip``), cycling through every
    type in both languages; returns "source/id" -> [{type, lang, value}]."""
    related = {"exact_of", "near_of", "exact_base", "near_base"}
    pool = {"ko": [], "en": []}
    for d in docs:
        key = f"{d.source}/{d.id}"
        if d.source == "web" or key in skip or d.parts.keys() & related:
            continue
        if d.style in ("news_ko", "forum_ko", "mixed"):
            pool["ko"].append(d)
        elif d.style in ("news_en", "forum_en"):
            pool["en"].append(d)
    for p in pool.values():
        rng.shuffle(p)
    planted: dict[str, list[dict]] = {}
    combos = [(t, lang) for t in PII_TYPES for lang in ("ko", "en")]
    for k in range(n):
        pii_type, lang = combos[k % len(combos)]
        if not pool[lang]:
            continue
        d = pool[lang].pop()
        sentence, value = pii_sentence(rng, pii_type, lang)
        at = rng.randint(0, len(d.text))
        while 0 < at < len(d.text) and d.text[at - 1] not in ".\n":
            at -= 1  # after a sentence or a line
        glue = "" if at == 0 or d.text[at - 1] == "\n" else " "
        d.text = d.text[:at] + glue + sentence + ("" if at == len(d.text) else " ") + d.text[at:].lstrip(" ")
        planted.setdefault(f"{d.source}/{d.id}", []).append({"type": pii_type, "lang": lang, "value": value})
    return planted
