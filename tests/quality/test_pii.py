"""quality.pii: each type found in Korean and English prose, the decoys prose is full of left alone (dates, prices,
versions, wrong-checksum RRNs, non-Luhn numbers), placeholders and offsets, and config errors naming the key."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from quality.pii import Detector, PiiConfig, luhn_valid, rrn_check_digit, rrn_valid

DET = Detector()


def found(text: str, det: Detector = DET) -> list[tuple[str, str]]:
    return [(f.type, f.value) for f in det.find(text)]


def _rrn(first12: str) -> str:
    return first12 + str(rrn_check_digit(first12))


def _luhn(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("문의는 hong.gildong@moru.kr으로 보내 주세요.", [("email", "hong.gildong@moru.kr")]),
        ("Mail jane_doe+news@mail.example.com.", [("email", "jane_doe+news@mail.example.com")]),
        ("연락처 010-1234-5678로 전화", [("phone", "010-1234-5678")]),
        ("휴대폰 01012345678, 사무실 02-123-4567", [("phone", "01012345678"), ("phone", "02-123-4567")]),
        ("부산 051.987.6543 또는 (031) 123-4567", [("phone", "051.987.6543"), ("phone", "(031) 123-4567")]),
        ("고객센터 1588-1234", [("phone", "1588-1234")]),
        ("전화 010 1234-5678, 문의 031)123-4567", [("phone", "010 1234-5678"), ("phone", "031)123-4567")]),
        ("call +82 10-1234-5678 or +82-2-312-4567", [("phone", "+82 10-1234-5678"), ("phone", "+82-2-312-4567")]),
        ("London +44 20 7946 0958, NYC (212) 555-0187", [("phone", "+44 20 7946 0958"), ("phone", "(212) 555-0187")]),
        ("주민등록번호 " + _rrn("900101123456")[:6] + "-" + _rrn("900101123456")[6:] + "입니다",
         [("rrn", _rrn("900101123456")[:6] + "-" + _rrn("900101123456")[6:])]),
        ("card 4111 1111 1111 1111 exp", [("card", "4111 1111 1111 1111")]),
        ("카드번호 5500-0000-0000-0004로 결제", [("card", "5500-0000-0000-0004")]),
        ("Amex 3782 822463 10005.", [("card", "3782 822463 10005")]),
        ("국민은행 계좌 123456-01-234567 (예금주 홍길동)", [("bank_account", "123456-01-234567")]),
        ("Send it to account 1002-123-456789 at Woori.", [("bank_account", "1002-123-456789")]),
        ("server 192.168.0.1 and 8.8.8.8", [("ip_address", "192.168.0.1"), ("ip_address", "8.8.8.8")]),
        ("v6 2001:db8::ff00:42:8329, fe80::1", [("ip_address", "2001:db8::ff00:42:8329"), ("ip_address", "fe80::1")]),
    ],
)  # fmt: skip
def test_each_type_is_found(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15에 발표했다. 2024.01.15 기준, 1990-2000년 사이",
        "가격은 1,234,000원이고 12,500 won, $1,299.99",
        "version 1.2.3, v10.0.1, Python 3.11.4, release 2.14.0-rc1",
        "주민번호 900101-1234567은 검증숫자가 틀리다",  # wrong check digit
        "생일 901331-1234565: 13월은 없다",  # no such date
        "4111 1111 1111 1112 is not Luhn-valid, nor is 1234567812345678",
        "the meeting is at 12:30:45, see std::vector and a :: b",
        "octets 256.1.1.1 and 1.2.3.4.5 and 01.02.03.04",
        "주문번호 110-123-456789",  # an account layout without a bank word nearby
        "우리 국민 하나 기업 모두 110-123-456789",  # 'we', 'citizens', 'one', 'company': not bank names alone
        "입금해 주세요. 관련 자료 번호는 688809-49-493285이다.",  # the bank word is in the sentence before
        "ISBN 978-89-546-3417-2, 문서번호 2023-123456",
    ],
)
def test_decoys_are_not_pii(text):
    assert found(text) == []


def test_redaction_placeholders_and_spans():
    text = "메일 a.b@moru.kr, 전화 010-1111-2222."
    det = Detector(PiiConfig(placeholders={"phone": "[PHONE]"}))
    redacted, spans = det.redact(text)
    assert redacted == "메일 <|pii_email|>, 전화 [PHONE]."
    assert [redacted[s:e] for s, e in spans] == ["<|pii_email|>", "[PHONE]"]
    assert det.value_hash("a.b@moru.kr") != Detector(PiiConfig(hash_key="other")).value_hash("a.b@moru.kr")
    assert len(det.value_hash("x")) == 64


def test_types_and_custom_patterns():
    det = Detector(PiiConfig(types=["email"], custom={"employee_id": {"pattern": r"EMP-[0-9]{6}"}}))
    assert found("EMP-123456, 010-1234-5678, x@y.io", det) == [("employee_id", "EMP-123456"), ("email", "x@y.io")]
    assert det.redact("id EMP-123456")[0] == "id <|pii_employee_id|>"


def test_rrn_without_checksum_option():
    assert found("900101-1234567") == []
    assert found("900101-1234567", Detector(PiiConfig(rrn_checksum=False))) == [("rrn", "900101-1234567")]


@pytest.mark.parametrize(
    "section, message",
    [
        ({"custom": {"bad": {"pattern": "([0-9]+"}}}, "custom.bad.pattern"),
        ({"custom": {"empty": {"pattern": "x*"}}}, "matches the empty string"),
        ({"types": ["email", "passport"]}, "unknown type passport"),
        ({"placeholders": {"fax": "[FAX]"}}, "placeholders.fax"),
        ({"custom": {"email": {"pattern": "x"}}}, "custom.email"),
    ],
)
def test_config_errors_name_the_key(section, message):
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("(", r"\(")):
        PiiConfig.model_validate(section)


def test_bad_pattern_in_a_config_file_names_the_key(tmp_path):
    from core.config import ConfigError
    from spark_jobs.config import load_jobs_config

    path = tmp_path / "moru.yaml"
    path.write_text("workdir: wd\npii:\n  custom:\n    ticket:\n      pattern: '[A-Z'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pii\.custom\.ticket\.pattern.*does not compile"):
        load_jobs_config(path)


_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    day=_dates,
    male=st.booleans(),
    serial=st.integers(0, 99_999),
    sep=st.sampled_from(["-", " - ", ""]),
    before=st.sampled_from(["주민번호 ", "RRN: ", "(", "번호는"]),
    after=st.sampled_from(["", "입니다.", ") ", " 확인"]),
)
def test_checksum_valid_rrns_are_always_found(day, male, serial, sep, before, after):
    g = (1 if male else 2) + (2 if day.year >= 2000 else 0)
    first12 = f"{day:%y%m%d}{g}{serial:05d}"
    digits = _rrn(first12)
    assert rrn_valid(digits)
    value = digits[:6] + sep + digits[6:]
    assert found(before + value + after) == [("rrn", value)]


@settings(max_examples=200, deadline=None)
@given(digits=st.text("0123456789", min_size=13, max_size=19), sep=st.sampled_from(["", " ", "-"]))
def test_luhn_invalid_numbers_are_never_cards(digits, sep):
    if luhn_valid(digits):
        digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert not luhn_valid(digits)
    grouped = sep.join(digits[i : i + 4] for i in range(0, len(digits), 4)) if sep else digits
    assert all(t != "card" for t, _ in found(f"번호 {grouped} 입니다"))


@settings(max_examples=100, deadline=None)
@given(prefix=st.sampled_from(["4", "51", "52", "37", "6011", "9410"]), body=st.text("0123456789", min_size=12,
       max_size=14))  # fmt: skip
def test_luhn_valid_grouped_cards_are_found(prefix, body):
    number = _luhn((prefix + body)[:15])
    grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    assert found(f"card {grouped} ok") == [("card", grouped)]
