"""Record mapping and checks of the ingest job (pure functions, no Spark)."""

from __future__ import annotations

import re

import pytest

from spark_jobs.ingest.config import FieldMapping
from spark_jobs.ingest.records import (
    REASONS,
    Accepted,
    RecordError,
    check_text,
    doc_id,
    lookup,
    map_record,
    record_sha1,
    stable_id,
)

MAX_BYTES = 1000
BINARY_MAX = 0.05


def _map(obj, mapping: FieldMapping | None = None, max_bytes: int = MAX_BYTES, key: str = "part-0.jsonl:7"):
    return map_record(obj, mapping or FieldMapping(), key, 7, max_bytes, BINARY_MAX)


def _reason(obj, mapping: FieldMapping | None = None, max_bytes: int = MAX_BYTES) -> str:
    with pytest.raises(RecordError) as info:
        _map(obj, mapping, max_bytes)
    assert info.value.reason in REASONS
    return info.value.reason


# --- ids -----------------------------------------------------------------------------------


def test_stable_id_is_deterministic_128_bit_hex():
    a = stable_id("wiki_ko", "id:123")
    assert a == stable_id("wiki_ko", "id:123")
    assert re.fullmatch(r"[0-9a-f]{32}", a)


def test_stable_id_is_sensitive_to_every_part_and_their_boundaries():
    base = stable_id("wiki_ko", "id:123")
    assert stable_id("wiki_en", "id:123") != base
    assert stable_id("wiki_ko", "id:124") != base
    assert stable_id("wiki_ko", "id:123", "") != base
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert stable_id("id:123", "wiki_ko") != base


def test_stable_id_known_value():
    # blake2b-128 over the parts, each followed by U+001F: a fixed value, the same on every machine
    import hashlib

    assert stable_id("a", "b") == hashlib.blake2b(b"a\x1fb\x1f", digest_size=16).hexdigest()


def test_stable_id_accepts_non_ascii_and_lone_surrogates():
    assert stable_id("한국어", "키") != stable_id("한국어", "킈")
    assert re.fullmatch(r"[0-9a-f]{32}", stable_id("bad\ud800"))


def test_doc_id_is_stable_id_of_source_and_key():
    assert doc_id("src", "pos:a.jsonl:0") == stable_id("src", "pos:a.jsonl:0")
    assert doc_id("src", "pos:a.jsonl:0") != doc_id("src", "pos:a.jsonl:1")
    assert doc_id("src", "pos:a.jsonl:0") != doc_id("src2", "pos:a.jsonl:0")


def test_record_sha1_depends_on_text_url_and_metadata_not_key_order():
    h = record_sha1("text", "http://x", {"a": "1", "b": "2"})
    assert h == record_sha1("text", "http://x", {"b": "2", "a": "1"})
    assert h != record_sha1("text!", "http://x", {"a": "1", "b": "2"})
    assert h != record_sha1("text", "http://y", {"a": "1", "b": "2"})
    assert h != record_sha1("text", "http://x", {"a": "1", "b": "3"})
    assert record_sha1("text", None, {}) == record_sha1("text", "", {})


# --- lookup --------------------------------------------------------------------------------


def test_lookup_dotted_paths():
    obj = {"a": {"b": {"c": 3}}, "x": None, "l": [1]}
    assert lookup(obj, "a.b.c") == 3
    assert lookup(obj, "a.b") == {"c": 3}
    assert lookup(obj, "a.z") is None
    assert lookup(obj, "a.b.c.d") is None  # 3 is not an object
    assert lookup(obj, "x.y") is None
    assert lookup(obj, "l.0") is None  # no indexing into lists


# --- map_record: accepted ------------------------------------------------------------------


def test_default_mapping_keys_by_position():
    rec = _map({"text": "안녕하세요. 반갑습니다."})
    assert rec == Accepted(7, "pos:part-0.jsonl:7", "안녕하세요. 반갑습니다.", None, {})


def test_text_is_kept_verbatim():
    text = "  첫 줄\t탭\r\n둘째 줄  "
    assert _map({"text": text}).text == text


def test_nested_dotted_paths_for_text_id_url():
    mapping = FieldMapping(text="body.content", id="meta.ids.doc", url="meta.source.url")
    obj = {
        "body": {"content": "본문입니다."},
        "meta": {"ids": {"doc": "doc-42"}, "source": {"url": "https://example.kr/a"}},
    }
    rec = _map(obj, mapping)
    assert rec.text == "본문입니다."
    assert rec.record_key == "id:doc-42"
    assert rec.url == "https://example.kr/a"
    assert rec.record_index == 7


def test_metadata_list_form_keys_are_the_paths():
    mapping = FieldMapping(metadata=["meta.lang", "tags", "stats.n", "meta.flag", "absent", "meta.missing"])
    obj = {"text": "t", "meta": {"lang": "ko", "flag": True}, "tags": ["뉴스", "경제"], "stats": {"n": 3}}
    rec = _map(obj, mapping)
    assert rec.metadata == {"meta.lang": "ko", "tags": '["뉴스","경제"]', "stats.n": "3", "meta.flag": "true"}


def test_metadata_dict_form_renames():
    mapping = FieldMapping(metadata={"lang": "meta.lang", "published": "meta.date", "extra": "meta.obj"})
    obj = {"text": "t", "meta": {"lang": "en", "date": "2024-05-01", "obj": {"k": 1}}}
    rec = _map(obj, mapping)
    assert rec.metadata == {"lang": "en", "published": "2024-05-01", "extra": '{"k":1}'}


def test_null_metadata_values_are_skipped():
    rec = _map({"text": "t", "lang": None}, FieldMapping(metadata=["lang"]))
    assert rec.metadata == {}


@pytest.mark.parametrize(("raw", "key"), [(42, "id:42"), (0, "id:0"), (1.5, "id:1.5"), ("abc", "id:abc")])
def test_numeric_and_string_ids_are_accepted(raw, key):
    assert _map({"text": "t", "id": raw}, FieldMapping(id="id")).record_key == key


def test_numeric_url_is_stringified():
    assert _map({"text": "t", "u": 5}, FieldMapping(url="u")).url == "5"


def test_absent_url_is_none():
    assert _map({"text": "t"}, FieldMapping(url="meta.url")).url is None


def test_text_at_the_byte_limit_is_accepted():
    text = "가" * (MAX_BYTES // 3)  # 3 bytes each in UTF-8
    assert _map({"text": text}).text == text


def test_a_few_control_characters_are_tolerated():
    text = "정상적인 문장입니다. " * 10 + "\x00"
    assert _map({"text": text}).text == text


# --- map_record: rejected ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [{"a": 1}, [1, 2], True, False])
def test_id_of_wrong_type(raw):
    assert _reason({"text": "t", "id": raw}, FieldMapping(id="id")) == "wrong_type"


@pytest.mark.parametrize("obj", [{"text": "t"}, {"text": "t", "id": None}, {"text": "t", "id": ""}])
def test_missing_id(obj):
    assert _reason(obj, FieldMapping(id="id")) == "missing_id"


def test_missing_nested_id():
    assert _reason({"text": "t", "meta": {}}, FieldMapping(id="meta.id")) == "missing_id"


@pytest.mark.parametrize("raw", [123, 1.5, True, ["a", "b"], {"ko": "텍스트"}, b"bytes"])
def test_text_of_wrong_type(raw):
    assert _reason({"text": raw}) == "wrong_type"


def test_url_of_wrong_type():
    assert _reason({"text": "t", "u": ["x"]}, FieldMapping(url="u")) == "wrong_type"


@pytest.mark.parametrize("obj", [{"text": None}, {}, {"body": "t"}])
def test_missing_text(obj):
    assert _reason(obj) == "missing_text"


def test_missing_nested_text():
    assert _reason({"body": {"other": "x"}}, FieldMapping(text="body.content")) == "missing_text"


@pytest.mark.parametrize("text", ["", " ", "\n\t \r\n", "\u3000"])
def test_empty_text(text):
    assert _reason({"text": text}) == "empty_text"


def test_text_too_large():
    assert _reason({"text": "가" * (MAX_BYTES // 3 + 1)}) == "text_too_large"
    assert _reason({"text": "a" * 5000}, max_bytes=4999) == "text_too_large"


def test_binary_garbage():
    assert _reason({"text": "\x00\x01\x02\x03\x04\x05 PK\x03\x04 \x07\x08"}) == "binary_garbage"
    assert _reason({"text": "읽을 수 없음 " + "\ufffd" * 20}) == "binary_garbage"


def test_mojibake():
    mangled = "한국어 텍스트가 깨졌습니다".encode().decode("latin-1")
    assert _reason({"text": mangled}) == "mojibake"


def test_lone_surrogate_in_text():
    assert _reason({"text": "앞\ud800뒤"}) == "invalid_utf8"


def test_lone_surrogate_in_id_url_or_metadata():
    assert _reason({"text": "t", "id": "a\udc00"}, FieldMapping(id="id")) == "invalid_utf8"
    assert _reason({"text": "t", "u": "http://x/\ud800"}, FieldMapping(url="u")) == "invalid_utf8"
    assert _reason({"text": "t", "m": "x\ud800"}, FieldMapping(metadata=["m"])) == "invalid_utf8"


@pytest.mark.parametrize("obj", [["text"], "text", 3, None])
def test_not_an_object(obj):
    assert _reason(obj) == "not_an_object"


def test_check_text_directly():
    check_text("정상 문장", 100, 0.05)
    with pytest.raises(RecordError, match="text_too_large"):
        check_text("x" * 101, 100, 0.05)


def test_record_error_rejects_unknown_reasons():
    with pytest.raises(AssertionError):
        RecordError("no_such_reason", "detail")
