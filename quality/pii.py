"""PII detection and redaction: a pure kernel over strings (no Spark), shared by the ``pii`` job, the gate's residual
scan, the demo's check and ``benchmarks/pii.py``.

Types and how each is told apart from the numbers prose is full of (dates, prices, versions, ids):

``email``         ``local@domain.tld`` in ASCII; the TLD stops at the first non-ASCII letter, so a Korean particle
                  glued to the address (``...@moru.kr으로``) stays outside the span.
``phone``         Korean mobile ``01[016789]`` (separators ``-``/``.``/space, or none), landlines with an area code
                  (``02``, ``0[3-6][1-5]``, ``070``, ``050x``, ``080``; a separator required, or ``(02) 123-4567``,
                  ``031)123-4567``),
                  business numbers ``1588-1234`` (the issued 15xx/16xx/18xx prefixes, not any year range),
                  ``+82`` numbers, other ``+CC`` numbers with 8-15 digits (E.164) and North American
                  ``(415) 555-2671`` / ``415-555-2671``. A number must start with ``0``, ``+`` or a listed prefix,
                  so dates (``2024-01-15``, ``2024.01.15``), prices (``1,234,000``) and ranges (``1990-2000``)
                  do not match.
``rrn``           Korean resident registration number ``YYMMDD-GXXXXXX`` (hyphen, space or nothing between): the date
                  must exist in the century digit G gives (1/2/5/6: 1900s, 3/4/7/8: 2000s, 9/0: 1800s) and the check
                  digit ``(11 - sum(d_i * w_i) mod 11) mod 10`` with weights 2..9,2..5 must agree. Numbers issued since
                  October 2020 carry no check digit: ``rrn_checksum: false`` finds those too (date check only).
``card``          13-19 digits, contiguous or grouped 4-4-4-4(-3) / 4-6-5 with one separator kind, Luhn-valid; a
                  contiguous run must also start like a card (2-6 or 9).
``bank_account``  Korean bank layouts (KB 6-2-6, Shinhan 3-3-6, Woori 4-3-6, Hana 3-6-5, NH 3-4-4-2, IBK 3-6-2-3,
                  Kakao 4-2-7, Toss 4-4-4, SC 3-2-6, Citi 3-6-3, DGB 3-2-6-1, ...), hyphenated, and a bank word
                  (은행, 계좌, 입금, a bank's name, "account", ...) within 30 characters before it, in its sentence.
                  EleutherAI's dps takes any 12-14 digit run or any three hyphenated groups as an account, which
                  flags dates and phone numbers; the context word is what keeps precision here (a bare account
                  number with no bank word is missed).
``ip_address``    IPv4 with octets 0-255 and no leading zeros (not part of a longer dotted run such as ``1.2.3.4.5``),
                  IPv6 as :mod:`ipaddress` parses it (with ``::`` or all eight groups, so times ``12:30:45`` fail).

Custom patterns (``pii.custom``) are regular expressions of their own type. Overlaps are resolved longest-first, then
by type priority (rrn, card, bank_account, phone, ip_address, email, custom), so an RRN is never also a card.

Redaction replaces each finding with its type's placeholder, ``<|pii_email|>`` by default: the shape EleutherAI's
dps uses for typed tokens, and unlike any special token moru's tokenizer defines (``[PAD]`` ... ``[UNK]``,
``[|user|]`` ... ``[|endofturn|]``), so a placeholder is always plain text and never a control token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PII_TYPES = ("email", "phone", "rrn", "card", "bank_account", "ip_address")
# overlap tie-break (lower wins)
_PRIORITY = {"rrn": 0, "card": 1, "bank_account": 2, "phone": 3, "ip_address": 4, "email": 5}
PII_VERSION = "1"  # bump when a built-in rule changes: redacted_documents is then recomputed


def default_placeholder(pii_type: str) -> str:
    return f"<|pii_{pii_type}|>"


# ---------------------------------------------------------------------------------------------------- config
class CustomPattern(BaseModel):
    """``pii.custom.<name>``: a regular expression (Python ``re``) whose matches are PII of type ``<name>``."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1)
    placeholder: str | None = Field(default=None, description="default <|pii_<name>|>")
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as e:
            raise ValueError(f"does not compile: {e}") from None
        if compiled.match(""):
            raise ValueError("matches the empty string")
        return value


class PiiConfig(BaseModel):
    """``pii``: what the redaction stage finds and what it writes in its place."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="run the pii stage; select then takes redacted_documents' text")
    types: list[str] = Field(default_factory=lambda: list(PII_TYPES), description="built-in types to find")
    placeholders: dict[str, str] = Field(
        default_factory=dict, description="type -> replacement text (default <|pii_<type>|>)"
    )
    custom: dict[str, CustomPattern] = Field(default_factory=dict, description="name -> extra pattern of its own type")
    rrn_checksum: bool = Field(
        default=True,
        description="an RRN must carry a valid check digit (false: also numbers issued since Oct 2020, date-checked)",
    )
    hash_key: str = Field(
        default="moru-pii",
        description="HMAC-SHA256 key of pii_findings.value_hash; set a secret one, since phone numbers and RRNs are "
        "few enough to brute-force against a known key",
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        from core.config import known_values

        return known_values(value, tuple(PII_TYPES), "type")

    @model_validator(mode="after")
    def _names(self):
        for name in self.custom:
            if name in PII_TYPES:
                raise ValueError(f"custom.{name}: the name of a built-in type")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"custom.{name}: a type name is lowercase letters, digits and _")
        known = {*PII_TYPES, *self.custom}
        for name, text in self.placeholders.items():
            if name not in known:
                raise ValueError(f"placeholders.{name}: not a type (known: {', '.join(sorted(known))})")
            if not text:
                raise ValueError(f"placeholders.{name}: empty")
        return self

    def placeholder(self, pii_type: str) -> str:
        if pii_type in self.placeholders:
            return self.placeholders[pii_type]
        custom = self.custom.get(pii_type)
        if custom is not None and custom.placeholder:
            return custom.placeholder
        return default_placeholder(pii_type)

    def all_placeholders(self) -> dict[str, str]:
        return {t: self.placeholder(t) for t in (*self.types, *self.custom)}

    def fingerprint(self) -> str:
        """Hash of what decides the output (the rules' version, types, placeholders, patterns, key)."""
        data = self.model_dump_json(exclude={"enabled"})
        return hashlib.sha1(f"{PII_VERSION}|{data}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------- checks
def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_RRN_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000,
                "9": 1800, "0": 1800}  # fmt: skip


def rrn_check_digit(first12: str) -> int:
    return (11 - sum(int(d) * w for d, w in zip(first12, _RRN_WEIGHTS, strict=True)) % 11) % 10


def rrn_date_valid(digits: str) -> bool:
    century = _RRN_CENTURY.get(digits[6])
    if century is None:
        return False
    try:
        date(century + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return False
    return True


def rrn_valid(digits: str, checksum: bool = True) -> bool:
    """13 digits YYMMDDGXXXXXX: a real date in G's century and (with ``checksum``) the right check digit."""
    if len(digits) != 13 or not digits.isdigit() or not rrn_date_valid(digits):
        return False
    return not checksum or rrn_check_digit(digits[:12]) == int(digits[12])


def _digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


# ---------------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One pattern of one type; ``validate(match text) -> bool`` filters its matches; ``group`` is the span kept."""

    name: str
    type: str
    regex: re.Pattern
    validate: Callable[[str], bool] | None = None
    context: re.Pattern | None = None  # must match in the CONTEXT_CHARS before the span
    group: int = 0


CONTEXT_CHARS = 30
_NB = r"(?<![0-9])"  # not after a digit (\b fails between a digit and a Hangul particle: both are \w)
_NA = r"(?![0-9])"
_SEP = r"[-.\u2010-\u2015 ]"  # hyphen, dot, Unicode dashes, space

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_KR_MOBILE = re.compile(_NB + rf"01[016789]{_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}" + _NA)
_KR_AREA = r"(?:02|0[3-6][1-5]|070|050[2-8]?|080)"
_KR_LANDLINE = re.compile(
    _NB + rf"(?:{_KR_AREA}({_SEP})[0-9]{{3,4}}\1[0-9]{{4}}|\(?{_KR_AREA}\) ?[0-9]{{3,4}}[-. ][0-9]{{4}})" + _NA
)
_KR_BUSINESS = re.compile(_NB + r"(?:15(?:44|66|77|88|99)|16(?:00|44|61|66|70|88)|18(?:33|55|77|99))-[0-9]{4}" + _NA)
_KR_INTL = re.compile(
    r"(?<![\w+])\+82[ \-.]?(?:\(0\)[ \-.]?)?(?:1[016789]|2|[3-6][1-5]|70)[ \-.]?[0-9]{3,4}[ \-.]?[0-9]{4}" + _NA
)
_E164 = re.compile(r"(?<![\w+])\+(?!82)[1-9][0-9]{0,2}(?:[ \-.]?\(?[0-9]{1,5}\)?){1,6}" + _NA)
_NANP = re.compile(r"(?<![0-9\-.])(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}([-.]))[2-9][0-9]{2}(?(1)\1|[-.])[0-9]{4}" + _NA)
_RRN = re.compile(_NB + r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?: ?[-\u2010-\u2015] ?| ?)[0-9]{7}" + _NA)
# grouped 4-4-4-4(-3) or 4-6-5 with one separator kind, not part of a longer grouped run; or one 13-19 digit run
_CARD = re.compile(
    r"(?<![0-9])(?<![0-9][ \-])"
    r"(?:[0-9]{4}([ \-])[0-9]{4}\1[0-9]{4}\1[0-9]{1,4}(?:\1[0-9]{3})?(?![0-9]|\1[0-9])"
    r"|[0-9]{4}([ \-])[0-9]{6}\2[0-9]{4,5}(?![0-9]|\2[0-9])"
    r"|[2-69][0-9]{12,18}(?![0-9]))"
)
# (groups) of the Korean banks' hyphenated account layouts
_BANK_LAYOUTS = (
    (6, 2, 6), (3, 3, 6), (4, 3, 6), (3, 6, 5), (3, 4, 4, 2), (3, 6, 2, 3), (4, 2, 7), (4, 4, 4), (3, 2, 6),
    (3, 6, 3), (3, 2, 6, 1), (3, 2, 4, 3), (4, 4, 5), (3, 4, 4, 3),
)  # fmt: skip
_BANK_LAYOUT_SET = frozenset(_BANK_LAYOUTS)
# any hyphenated run of 3-4 digit groups; the layout is checked in Python (one pass, not one per layout)
_BANK = re.compile(_NB + r"[0-9]{3,6}(?:-[0-9]{1,7}){2,3}(?![0-9]|-[0-9])")


def _bank_layout_ok(s: str) -> bool:
    return tuple(len(g) for g in s.split("-")) in _BANK_LAYOUT_SET


_BANK_CONTEXT = re.compile(
    r"(?i)은행|계좌|입금|송금|이체|예금주|농협|신한|카카오뱅크|케이뱅크|토스뱅크|우체국|새마을금고|신협|수협|IBK|KEB"
    r"|bank|account|acct|a/c|deposit|wire|transfer"
)
_IPV4 = re.compile(
    r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    r"(?![0-9]|\.[0-9])"
)
_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}(?![0-9A-Za-z:])")


def _e164_ok(s: str) -> bool:
    return 8 <= len(_digits(s)) <= 15


def _card_ok(s: str) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and len(set(d)) > 1 and luhn_valid(d)


def _ipv6_ok(s: str) -> bool:
    if ("::" not in s and s.count(":") < 7) or not any(c.isalnum() for c in s):
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def builtin_rules(rrn_checksum: bool = True) -> dict[str, list[Rule]]:
    """type -> its rules."""
    return {
        "email": [Rule("email", "email", _EMAIL)],
        "phone": [
            Rule("kr_mobile", "phone", _KR_MOBILE),
            Rule("kr_landline", "phone", _KR_LANDLINE),
            Rule("kr_business", "phone", _KR_BUSINESS),
            Rule("kr_intl", "phone", _KR_INTL),
            Rule("e164", "phone", _E164, _e164_ok),
            Rule("nanp", "phone", _NANP),
        ],
        "rrn": [Rule("rrn", "rrn", _RRN, lambda s: rrn_valid(_digits(s), rrn_checksum))],
        "card": [Rule("card_luhn", "card", _CARD, _card_ok)],
        "bank_account": [Rule("kr_bank_account", "bank_account", _BANK, _bank_layout_ok, context=_BANK_CONTEXT)],
        "ip_address": [Rule("ipv4", "ip_address", _IPV4), Rule("ipv6", "ip_address", _IPV6, _ipv6_ok)],
    }


def _same_sentence(text: str, at: int) -> str:
    """The ``CONTEXT_CHARS`` before ``at``, cut at the last sentence or line end (a bank word of the sentence
    before does not count)."""
    window = text[max(0, at - CONTEXT_CHARS) : at]
    cut = max(window.rfind(c) for c in ".!?\n")
    return window[cut + 1 :] if cut >= 0 else window


# ---------------------------------------------------------------------------------------------------- detector
@dataclass(frozen=True)
class Finding:
    type: str
    rule: str
    start: int  # character offsets in the text scanned
    end: int
    value: str


class Detector:
    """The rules of a :class:`PiiConfig`, compiled once; :meth:`find` and :meth:`redact` are pure."""

    def __init__(self, cfg: PiiConfig | None = None):
        self.cfg = cfg or PiiConfig()
        rules = builtin_rules(self.cfg.rrn_checksum)
        self.rules: list[Rule] = [r for t in self.cfg.types for r in rules[t]]
        for name, c in self.cfg.custom.items():
            self.rules.append(Rule(f"custom:{name}", name, re.compile(c.pattern, re.I if c.ignore_case else 0)))
        self.placeholders = self.cfg.all_placeholders()
        self._priority = {**_PRIORITY, **{name: 10 + i for i, name in enumerate(self.cfg.custom)}}

    def candidates(self, text: str) -> Iterable[Finding]:
        for rule in self.rules:
            for m in rule.regex.finditer(text):
                s, e = m.span(rule.group)
                if s == e:
                    continue
                value = text[s:e]
                if rule.validate is not None and not rule.validate(value):
                    continue
                if rule.context is not None and not rule.context.search(_same_sentence(text, s)):
                    continue
                yield Finding(rule.type, rule.name, s, e, value)

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in text order (overlaps: the longer wins, then the type of higher priority)."""
        if not text:
            return []
        cands = sorted(self.candidates(text), key=lambda f: (f.start - f.end, self._priority[f.type], f.start))
        taken: list[Finding] = []
        for f in cands:
            if all(f.end <= t.start or f.start >= t.end for t in taken):
                taken.append(f)
        return sorted(taken, key=lambda f: f.start)

    def redact(self, text: str, findings: list[Finding] | None = None) -> tuple[str, list[tuple[int, int]]]:
        """``text`` with each finding replaced by its placeholder, and each finding's span in the redacted text."""
        findings = self.find(text) if findings is None else findings
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        pos = size = 0
        for f in findings:
            out.append(text[pos : f.start])
            size += f.start - pos
            ph = self.placeholders[f.type]
            out.append(ph)
            spans.append((size, size + len(ph)))
            size += len(ph)
            pos = f.end
        out.append(text[pos:])
        return "".join(out), spans

    def value_hash(self, value: str) -> str:
        """HMAC-SHA256 (key ``pii.hash_key``) of the matched value: findings can be joined and counted, never read."""
        return hmac.new(self.cfg.hash_key.encode(), value.encode("utf-8"), hashlib.sha256).hexdigest()


_DETECTORS: dict[str, Detector] = {}


def detector_for(cfg: PiiConfig) -> Detector:
    """One compiled detector per config per process (a Python worker reuses it across batches)."""
    key = cfg.model_dump_json()
    if key not in _DETECTORS:
        _DETECTORS[key] = Detector(cfg)
    return _DETECTORS[key]
