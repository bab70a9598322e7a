"""Normalize + language id job on real Spark + Delta."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from deltalake import DeltaTable

from spark_jobs import ingest, normalize, tables
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.normalize import NormalizeConfig

SAMPLES = {
    "ko1": ("ko", "서울시는 내년부터 대중교통 요금을 인상한다고 밝혔다. 시민들의 반응은 엇갈리고 있다."),
    "ko2": ("ko", "어제 본 영화 진짜 재밌었어요 ㅋㅋㅋ 다음에 또 보러 가고 싶네요"),
    "ko_nfd": (
        "ko",
        unicodedata.normalize("NFD", "한국어 문장은 조합형 자모로 저장되어도 완성형으로 바뀌어야 합니다."),
    ),
    "ko_loan": ("ko", "연구팀은 GPU 서버에서 새로운 모델을 학습시켰고 결과는 기대 이상이었다고 설명했다."),
    "en1": ("en", "The committee published its annual report on Monday, highlighting rising costs in healthcare."),
    "en2": ("en", "I tried the new recipe last night and honestly it was way better than I expected."),
    "mix1": (
        "ko+en",
        "오늘 회의에서 we agreed to ship the new release next week 그래서 다음 주까지 테스트를 끝내야 합니다.",
    ),
    "mix2": ("ko+en", "발표 자료는 준비됐어요. The main point is that latency dropped by half 라는 점을 강조할게요."),
    "ja": ("other", "今日はとても良い天気ですね。明日も晴れるといいのですが、どうでしょうか。"),
    "es": ("other", "El gobierno anunció hoy un nuevo plan para mejorar la educación pública en todo el país."),
    "digits": ("und", "1234 5678 -- 99.5% ## 2024"),
}


@pytest.fixture()
def ingested(spark, tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    rows = [{"id": k, "text": v[1]} for k, v in SAMPLES.items()]
    rows.append(
        {
            "id": "html",
            "text": "Tom &amp; Jerry&nbsp;&nbsp;are   back\u200b!\r\n\r\n\r\n\r\nSeason\u00a02 starts today.",
        }
    )
    rows.append({"id": "blank_after", "text": "\u200b\u200b\ufeff"})
    (root / "a.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    workdir = str(tmp_path / "wd")
    ingest.run(spark, workdir, [SourceConfig(name="s", path=str(root), fields=FieldMapping(id="id"))], IngestConfig())
    return workdir


def _docs(spark, workdir):
    raw = {r["doc_id"]: r["record_key"][3:] for r in tables.read(spark, workdir, tables.RAW_DOCUMENTS).collect()}
    return {raw[r["doc_id"]]: r for r in tables.read(spark, workdir, tables.DOCUMENTS).collect()}


def test_languages_scripts_and_lengths(spark, ingested):
    stats = normalize.run(spark, ingested, NormalizeConfig())
    assert stats.balanced and stats.rows_in == len(SAMPLES) + 2
    docs = _docs(spark, ingested)
    for key, (lang, _) in SAMPLES.items():
        assert docs[key]["lang"] == lang, (key, docs[key]["lang"], docs[key]["lid_label"])
    assert docs["ja"]["lid_label"] == "ja" and docs["es"]["lid_label"] == "es"
    assert docs["ko1"]["hangul_ratio"] == 1.0 and docs["en1"]["latin_ratio"] == 1.0
    assert 0.2 < docs["mix1"]["hangul_ratio"] < 0.8
    # NFD jamo input comes out as composed syllables
    assert docs["ko_nfd"]["text"] == unicodedata.normalize("NFC", SAMPLES["ko_nfd"][1])
    # Korean words are MeCab morphemes: more than the whitespace-separated eojeol
    assert docs["ko1"]["n_words"] > len(SAMPLES["ko1"][1].split())
    assert docs["en1"]["n_words"] == len(SAMPLES["en1"][1].split())
    t = docs["html"]["text"]
    assert t == "Tom & Jerry are back!\n\nSeason 2 starts today."
    assert docs["html"]["n_lines"] == 3 and docs["html"]["n_bytes"] == len(t.encode())
    # normalized to nothing: quarantined at the normalize stage, not lost
    assert "blank_after" not in docs
    q = tables.read(spark, ingested, tables.QUARANTINE).filter("stage = 'normalize'").collect()
    assert [r["reason"] for r in q] == ["empty_after_normalization"]
    assert stats.by_reason == {"empty_after_normalization": 1}


def test_rerun_skips_unchanged_and_config_change_redoes_all(spark, ingested):
    normalize.run(spark, ingested, NormalizeConfig())
    before = sorted(tuple(r) for r in tables.read(spark, ingested, tables.DOCUMENTS).collect())
    again = normalize.run(spark, ingested, NormalizeConfig())
    assert again.rows_in == 0 and again.rows_unchanged == len(SAMPLES) + 2
    assert sorted(tuple(r) for r in tables.read(spark, ingested, tables.DOCUMENTS).collect()) == before
    nfkc = normalize.run(spark, ingested, NormalizeConfig(form="NFKC"))
    assert nfkc.rows_in == len(SAMPLES) + 2
    assert tables.read(spark, ingested, tables.DOCUMENTS).count() == len(before)
    fps = {r[0] for r in tables.read(spark, ingested, tables.DOCUMENTS).select("normalize_fingerprint").collect()}
    assert fps == {NormalizeConfig(form="NFKC").fingerprint()}
    dt = DeltaTable(str(Path(ingested) / "tables" / "documents")).to_pandas()
    assert len(dt) == len(before) and set(dt["lang"]) >= {"ko", "en", "ko+en", "other", "und"}


def test_every_kind_of_empty_is_quarantined_and_a_doc_turned_empty_leaves_documents(spark, tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    empties = {
        "zw": "\u200b\u200b\ufeff",
        "legacy_entities": "&nbsp&nbsp;&#160;\u00a0",  # html.unescape reads &nbsp without its ;
        "long_blank": " \t" * 100 + "\u3000" * 50 + "&#x20;" * 20,  # longer than the JVM prefix check
        "entity_at_prefix_end": " " * 60 + "&nbsp;&#8203;",  # an entity cut by the 64-char prefix
    }
    kept = {
        "late_text": " " * 200 + "words after a long blank run",
        "entity_word": "&amp;",  # unescapes to a character: not empty
        "doc": "이 문서는 다음 실행에서 빈 문서로 바뀐다.",
    }
    src = SourceConfig(name="s", path=str(root), fields=FieldMapping(id="id"))

    def write(rows):
        lines = [json.dumps({"id": k, "text": v}, ensure_ascii=False) for k, v in rows.items()]
        (root / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    write({**empties, **kept})
    workdir = str(tmp_path / "wd")
    ingest.run(spark, workdir, [src], IngestConfig())
    stats = normalize.run(spark, workdir, NormalizeConfig())
    assert stats.balanced and stats.rows_rejected == len(empties) and stats.rows_out == len(kept)
    docs = _docs(spark, workdir)
    assert set(docs) == set(kept)
    assert docs["late_text"]["text"] == "words after a long blank run" and docs["entity_word"]["text"] == "&"

    # the source changes: "doc" now normalizes to nothing, so its old row must leave documents
    write({**empties, **kept, "doc": "\u200b \u00a0"})
    ingest.run(spark, workdir, [src], IngestConfig())
    again = normalize.run(spark, workdir, NormalizeConfig())
    assert again.rows_in == 1 and again.rows_rejected == 1 and again.balanced
    assert set(_docs(spark, workdir)) == {"late_text", "entity_word"}
    q = tables.read(spark, workdir, tables.QUARANTINE).filter("stage = 'normalize'").count()
    assert q == len(empties) + 1
