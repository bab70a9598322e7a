"""Normalize + quality signals on a five-language mini corpus (``languages: [ko, en, de, ja, vi]``),
on real Spark + Delta; the default languages leave de/ja/vi as "other", as before."""

from __future__ import annotations

import json
import random
from pathlib import Path

from demo.languages import document
from spark_jobs import ingest, normalize, signals, tables
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig
from spark_jobs.normalize import NormalizeConfig

FIVE = ("ko", "en", "de", "ja", "vi")
KO = "서울시는 내년부터 대중교통 요금을 인상한다고 밝혔다. 시민들의 반응은 엇갈리고 있다. " * 3
EN = "The committee published its annual report on Monday, highlighting rising costs in healthcare. " * 3


def test_five_languages_through_normalize_and_signals(spark, tmp_path: Path):
    rng = random.Random(3)
    rows = {"ko": KO, "en": EN, **{lang: document(lang, rng) for lang in ("de", "ja", "vi")}}
    rows["zh"] = "今天北京的天气很好，我们去公园散步了。明天可能会下雨。"
    root = tmp_path / "in"
    root.mkdir()
    lines = [json.dumps({"id": k, "text": v}, ensure_ascii=False) for k, v in rows.items()]
    (root / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    workdir = str(tmp_path / "wd")
    ingest.run(spark, workdir, [SourceConfig(name="s", path=str(root), fields=FieldMapping(id="id"))], IngestConfig())

    def docs():
        keys = {r["doc_id"]: r["record_key"][3:] for r in tables.read(spark, workdir, tables.RAW_DOCUMENTS).collect()}
        return {keys[r["doc_id"]]: r for r in tables.read(spark, workdir, tables.DOCUMENTS).collect()}

    normalize.run(spark, workdir, NormalizeConfig())
    before = docs()
    assert {k: r["lang"] for k, r in before.items()} == {
        "ko": "ko", "en": "en", "de": "other", "ja": "other", "vi": "other", "zh": "other"
    }  # fmt: skip
    assert {r["normalize_fingerprint"] for r in before.values()} == {NormalizeConfig().fingerprint()}

    # five languages: every row is redone (the fingerprint names the languages), de/ja/vi get their labels
    stats = normalize.run(spark, workdir, NormalizeConfig(), languages=FIVE)
    assert stats.rows_in == len(rows) and stats.extra["lang_counts"] == {
        "ko": 1, "en": 1, "de": 1, "ja": 1, "vi": 1, "other": 1
    }  # fmt: skip
    after = docs()
    assert {k: r["lang"] for k, r in after.items()} == {**{lang: lang for lang in FIVE}, "zh": "other"}
    # Japanese words are UniDic morphemes (one whitespace "word" before); ko/en rows keep their values
    assert before["ja"]["n_words"] <= 2 < 50 < after["ja"]["n_words"]
    for key in ("ko", "en"):
        assert {k: v for k, v in after[key].asDict().items() if k != "normalize_fingerprint"} == {
            k: v for k, v in before[key].asDict().items() if k != "normalize_fingerprint"
        }

    signals.run(spark, workdir)
    sig = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.QUALITY_SIGNALS).collect()}
    by_key = {k: sig[r["doc_id"]] for k, r in after.items()}
    # FineWeb-2 stop words of each language: ordinary prose has more than Gopher's two
    assert all(by_key[lang]["gopher_stop_words"] >= 2 for lang in ("de", "ja", "vi"))
    assert 1 <= by_key["ja"]["gopher_mean_word_length"] <= 5  # morphemes, FineWeb-2's jpn_Jpan bounds
    assert 3 <= by_key["vi"]["gopher_mean_word_length"] <= 11  # syllables, vie_Latn's bounds
    assert by_key["zh"]["gopher_n_words"] == 1  # "other": whitespace tokens, as before
