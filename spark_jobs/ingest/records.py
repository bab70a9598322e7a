"""Turning one decoded source record into an accepted document or a rejection with a reason.

Pure functions: the Spark job, the tests and a local run all use them as they are.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import orjson

from core.ids import doc_id, stable_id  # noqa: F401 - re-exported: the id convention
from spark_jobs.ingest.config import FieldMapping

# Every reason a record can be quarantined for (the ``quarantine.reason`` column).
REASONS = {
    "invalid_json": "the line is not valid JSON",
    "invalid_utf8": "the bytes are not valid UTF-8 (or hold lone surrogates)",
    "not_an_object": "the JSON value is not an object",
    "missing_text": "the text field is absent or null",
    "empty_text": "the text is empty or whitespace only",
    "wrong_type": "a mapped field has the wrong type",
    "missing_id": "the configured id field is absent or null",
    "text_too_large": "the text is over ingest.max_text_bytes",
    "binary_garbage": "the text is mostly control or replacement characters",
    "mojibake": "UTF-8 text that was decoded as Latin-1 somewhere upstream (C1 controls everywhere)",
    "unsupported_content_type": "a WARC response that is neither HTML nor plain text",
    "corrupt_file": "the file (or its compression) is unreadable from this record on",
    "corrupt_record": "the record's framing is broken (a WARC header, a CSV row with more fields than the header)",
    "unknown_format": "the file's format cannot be told from its name; set the source's format",
    "duplicate_record_key": "another record of the same source has the same key",
    "empty_after_normalization": "normalization left no text",
}


@dataclass(slots=True)
class Accepted:
    record_index: int
    record_key: str
    text: str
    url: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Rejected:
    record_index: int
    reason: str
    detail: str
    payload: bytes


class RecordError(Exception):
    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def record_sha1(text: str, url: str | None, metadata: dict[str, str]) -> str:
    h = hashlib.sha1(text.encode("utf-8"))
    h.update(b"\x1f" + (url or "").encode("utf-8") + b"\x1f")
    h.update(orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def lookup(obj: dict, path: str):
    """Value at a dotted path, or None if any step is missing."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


# control characters other than tab/newline/CR, C1 controls, and U+FFFD (decoding damage)
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]+")


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(text: str, max_bytes: int, binary_max_ratio: float) -> None:
    """Raise RecordError if ``text`` cannot be a document."""
    try:
        n_bytes = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise RecordError("invalid_utf8", "text holds lone UTF-16 surrogates") from None
    if n_bytes > max_bytes:
        raise RecordError("text_too_large", f"{n_bytes} bytes > {max_bytes}")
    if not text or text.isspace():
        raise RecordError("empty_text", "text is empty or whitespace only")
    # fast path: printable once tabs and line breaks are set aside means no control characters
    clean = text.replace("\n", "").replace("\t", "").replace("\r", "").isprintable() and "\ufffd" not in text
    bad = 0 if clean else sum(map(len, _NOT_TEXT.findall(text)))
    if bad > binary_max_ratio * len(text):
        if _is_mojibake(text):
            raise RecordError(
                "mojibake", f"{bad} of {len(text)} characters are C1 controls; the text re-decodes as UTF-8"
            )
        raise RecordError("binary_garbage", f"{bad} of {len(text)} characters are control/replacement characters")


def _is_mojibake(text: str) -> bool:
    """True when the text's Latin-1 bytes are valid UTF-8 with non-ASCII characters in them."""
    try:
        fixed = text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return not fixed.isascii()


def _scalar(value, field_name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError("wrong_type", f"{field_name} is {type(value).__name__}, expected a string")
    return str(value)


def map_record(
    obj,
    mapping: FieldMapping,
    position_key: str,
    record_index: int,
    max_bytes: int,
    binary_max_ratio: float,
) -> Accepted:
    """Apply the source's field mapping to one decoded record (a dict)."""
    if not isinstance(obj, dict):
        raise RecordError("not_an_object", f"top-level JSON value is {type(obj).__name__}")
    text = lookup(obj, mapping.text)
    if text is None:
        raise RecordError("missing_text", f"field {mapping.text!r} is absent or null")
    if not isinstance(text, str):
        raise RecordError("wrong_type", f"{mapping.text} is {type(text).__name__}, expected a string")
    check_text(text, max_bytes, binary_max_ratio)
    if mapping.id:
        raw_id = lookup(obj, mapping.id)
        if raw_id is None or raw_id == "":
            raise RecordError("missing_id", f"field {mapping.id!r} is absent or null")
        key = "id:" + _scalar(raw_id, mapping.id)
    else:
        key = "pos:" + position_key
    url = None
    if mapping.url:
        raw_url = lookup(obj, mapping.url)
        url = None if raw_url is None else _scalar(raw_url, mapping.url)
    metadata: dict[str, str] = {}
    for name, path in mapping.metadata_paths().items():
        value = lookup(obj, path)
        if value is None:
            continue
        metadata[name] = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if any(_has_surrogates(s) for s in (key, url or "", *metadata.values())):
        raise RecordError("invalid_utf8", "a mapped field holds lone UTF-16 surrogates")
    return Accepted(record_index, key, text, url, metadata)
