"""Plain unit tests of the Spark-free kernels: normalization, script ratios, Korean morphology,
language id, field mapping and doc ids."""

from __future__ import annotations

import gzip
import io
import json
import unicodedata

import pytest
import zstandard

from quality.korean import count_morphemes, count_words, morphemes
from quality.langid import LangIdConfig, default_model_path, identify, load_model
from quality.normalize import normalize_text
from quality.scripts import script_ratios, token_mix
from spark_jobs.ingest.config import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.ingest.readers import Accepted, Rejected, detect_format, read_file
from spark_jobs.ingest.records import RecordError, doc_id, map_record


# ---------------------------------------------------------------- normalization
def test_nfc_composes_hangul_and_nfkc_keeps_it_composed():
    nfd = unicodedata.normalize("NFD", "한국어 문장")
    assert len(nfd) > len("한국어 문장")
    assert normalize_text(nfd) == "한국어 문장"
    assert normalize_text("Ｈｅｌｌｏ 한국", form="NFKC") == "Hello 한국"
    assert normalize_text("Ｈｅｌｌｏ", form="NFC") == "Ｈｅｌｌｏ"
    with pytest.raises(ValueError, match="Hangul"):
        normalize_text("x", form="NFD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("Tom &amp; Jerry &lt;3 &#44032;", "Tom & Jerry <3 가"),
        ("a\u00a0\u00a0b\u3000c\td", "a b c d"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("line  \r\nnext\r\n\r\n\r\n\r\nlast", "line\nnext\n\nlast"),
        ("  \n  padded  \n  ", "padded"),
        ("family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧"),
        (" \u200b \t ", ""),
    ],
)
def test_normalize_cases(raw, want):
    assert normalize_text(raw) == want


def test_normalize_is_idempotent():
    samples = ["Tom &amp;amp; x", "a \n\n\n b\u00a0c", unicodedata.normalize("NFD", "각 \t 낙"), "x\u2028y\u2029z"]
    for s in samples:
        once = normalize_text(s)
        assert normalize_text(once) == once or "&" in s  # double-escaped entities unescape one level per pass


# ---------------------------------------------------------------- scripts
def test_script_ratios():
    assert script_ratios("한국어 문장입니다").hangul == 1.0
    r = script_ratios("Hello 세계 漢字")
    assert (r.letters, r.latin, r.hangul, r.han) == (9, 5 / 9, 2 / 9, 2 / 9)
    kana = script_ratios("こんにちは")
    assert kana.letters == 5 and kana.hangul == kana.latin == kana.han == 0
    assert script_ratios("1234 -- 99%").letters == 0
    assert script_ratios("ㅋㅋㅋ ㅠㅠ").hangul == 1.0
    assert script_ratios("Ünïcödé").latin == 1.0


def test_token_mix_tells_phrases_from_loanwords():
    assert token_mix("오늘 회의에서 we agreed to ship it 그래서 준비합니다").longest_latin_phrase == 5
    assert token_mix("GPU 서버에서 모델을 학습했다").longest_latin_phrase == 0
    assert token_mix("New York Times 기사에 따르면 GPU CPU RAM").longest_latin_phrase == 0


# ---------------------------------------------------------------- Korean morphology
def test_korean_words_are_morphemes_without_punctuation():
    pairs = morphemes("아버지가방에들어가신다.")
    assert ("아버지", "NNG") in pairs and pairs[-1][1] == "SF"
    assert count_morphemes("아버지가방에들어가신다.") == len(pairs) - 1
    text = "정부는 오늘 새로운 경제 정책을 발표했다."
    assert count_words(text) > len(text.split())
    assert count_words(text) == count_words(text)  # cached path gives the same answer


# ---------------------------------------------------------------- language id
def test_lid_model_ships_in_the_wheel_and_loads_once():
    assert default_model_path().endswith("lid.176.ftz")
    assert load_model() is load_model()


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 긍정적으로 평가했다.", "ko", "ko"),
        ("영화 진짜 재밌었어요 ㅋㅋㅋ 또 보고 싶네요", "ko", None),
        ("The committee published its annual report on Monday.", "en", "en"),
        ("오늘 회의에서 we agreed to ship the new release next week 그래서 준비해야 합니다.", "ko+en", None),
        ("연구팀은 GPU 서버에서 새로운 모델을 학습시켰다고 설명했다.", "ko", None),
        ("今日はとても良い天気ですね。明日も晴れるといいのですが。", "other", "ja"),
        ("今天的天气非常好，我们去公园散步吧。", "other", "zh"),
        ("El gobierno anunció hoy un nuevo plan para mejorar la educación pública.", "other", "es"),
        ("สวัสดีครับ ยินดีต้อนรับสู่ประเทศไทย", "other", "th"),
        ("1234 5678 -- 99.5%", "und", None),
    ],
)
def test_language_labels(text, lang, label):
    ((got, lid_label, score, _),) = identify([text], LangIdConfig())
    assert got == lang
    if label:
        assert lid_label == label and 0 < score <= 1


# ---------------------------------------------------------------- records and readers
def _src(**fields) -> SourceConfig:
    return SourceConfig(name="s", path="/x", fields=FieldMapping(**fields))


def test_doc_id_is_stable_and_keyed_by_source_and_record():
    assert doc_id("news", "id:1") == doc_id("news", "id:1")
    assert len({doc_id("news", "id:1"), doc_id("news", "id:2"), doc_id("blog", "id:1")}) == 3
    assert len(doc_id("a", "b")) == 32


def test_field_mapping_nested_paths_and_metadata():
    m = FieldMapping(text="doc.body", id="meta.id", url="meta.link", metadata={"section": "meta.sec", "n": "stats"})
    rec = {"doc": {"body": "본문입니다"}, "meta": {"id": 7, "link": "http://x", "sec": "경제"}, "stats": {"a": 1}}
    got = map_record(rec, m, "f:0", 0, 1000, 0.05)
    assert (got.record_key, got.text, got.url) == ("id:7", "본문입니다", "http://x")
    assert got.metadata == {"section": "경제", "n": '{"a":1}'}
    assert map_record({"text": "t"}, FieldMapping(), "f.jsonl:3", 3, 1000, 0.05).record_key == "pos:f.jsonl:3"


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        ({"text": None}, "missing_text"),
        ({"id": 1}, "missing_text"),
        ({"text": ["a"], "id": 1}, "wrong_type"),
        ({"text": "ok", "id": {"x": 1}}, "wrong_type"),
        ({"text": "ok"}, "missing_id"),
        ({"text": "  \n ", "id": 1}, "empty_text"),
        ({"text": "x" * 2000, "id": 1}, "text_too_large"),
        ({"text": "\x00\x01\x02" * 20 + "abc", "id": 1}, "binary_garbage"),
        ({"text": "lone \ud800", "id": 1}, "invalid_utf8"),
        ([1, 2], "not_an_object"),
    ],
)
def test_map_record_rejections(rec, reason):
    with pytest.raises(RecordError) as exc:
        map_record(rec, FieldMapping(id="id"), "f:0", 0, 1000, 0.05)
    assert exc.value.reason == reason


def _lines(*rows) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


@pytest.mark.parametrize("suffix", ["jsonl", "jsonl.gz", "jsonl.zst"])
def test_jsonl_reader_compressions_and_bad_lines(suffix):
    data = _lines({"text": "one"}, b"{bad", b'{"text": "\xff"}', b"", {"text": "after blank"})
    data = data.replace(b"\n", b"\r\n", 1)  # a CRLF line too
    if suffix.endswith("gz"):
        data = gzip.compress(data, mtime=0)
    elif suffix.endswith("zst"):
        data = zstandard.ZstdCompressor().compress(data)
    recs = list(read_file(f"a.{suffix}", data, _src(), IngestConfig()))
    kinds = [(type(r).__name__, getattr(r, "reason", None)) for r in recs]
    assert kinds == [
        ("Accepted", None),
        ("Rejected", "invalid_json"),
        ("Rejected", "invalid_utf8"),
        ("Rejected", "empty_text"),
        ("Accepted", None),
    ]
    assert recs[0].text == "one" and [r.record_index for r in recs] == [0, 1, 2, 3, 4]


def test_truncated_gzip_keeps_what_it_could_read():
    full = gzip.compress(_lines(*({"text": f"record {i} " * 20} for i in range(200))), mtime=0)
    recs = list(read_file("t.jsonl.gz", full[: len(full) // 2], _src(), IngestConfig()))
    assert isinstance(recs[-1], Rejected) and recs[-1].reason == "corrupt_file"
    assert all(isinstance(r, Accepted) for r in recs[:-1]) and len(recs) > 5


def test_parquet_reader_good_wrong_type_and_garbage():
    import pyarrow as pa
    import pyarrow.parquet as pq

    def pq_bytes(table) -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()

    good = list(read_file("g.parquet", pq_bytes(pa.table({"text": ["a", None]})), _src(), IngestConfig()))
    assert [type(r).__name__ for r in good] == ["Accepted", "Rejected"] and good[1].reason == "missing_text"
    ints = list(read_file("i.parquet", pq_bytes(pa.table({"text": [1, 2]})), _src(), IngestConfig()))
    assert [r.reason for r in ints] == ["wrong_type", "wrong_type"]
    junk = list(read_file("j.parquet", b"PAR1 not really", _src(), IngestConfig()))
    assert [r.reason for r in junk] == ["corrupt_file"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl.gz", "jsonl"),
        ("b.JSONL.ZST", "jsonl"),
        ("c.parquet", "parquet"),
        ("d.warc.gz", "warc"),
        ("e.arc.gz", "warc"),
        ("f.txt", None),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_format_is_quarantined_not_guessed():
    (rec,) = read_file("notes.txt", b"hello", _src(), IngestConfig())
    assert rec.reason == "unknown_format"
