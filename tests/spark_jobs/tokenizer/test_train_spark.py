"""Sampling from a Delta table, the steering loop, the pipeline stage, and `moru tokenizer train|eval` end to end
on a small table made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spark_jobs.tokenizer.sample import heldout, sample
from tokenizer.config import SampleConfig
from tokenizer.mecab import MARK, has_hangul, unmark
from tokenizer.sample import iter_column

pytestmark = pytest.mark.spark


def _lang(text: str) -> str:
    if has_hangul(text):
        return "ko"
    return "en" if sum(c.isascii() for c in text) > 0.9 * len(text) else "other"


@pytest.fixture(scope="module")
def workdir(spark, tmp_path_factory, demo_texts):
    return _write_corpus(spark, str(tmp_path_factory.mktemp("tok_workdir")), [(_lang(t), t) for t in demo_texts])


def _docs(uri: str) -> dict[str, tuple[str, str]]:
    import pyarrow.parquet as pq

    t = pq.read_table(uri).to_pydict()
    return {d: (g, x) for d, g, x in zip(t["doc_id"], t["group"], t.get("train_text", t.get("text")), strict=True)}


def test_stratified_sample_hits_the_byte_share(spark, workdir, demo_texts, tmp_path):
    cfg = SampleConfig(holdout_fraction=0.1)
    stats = sample(spark, workdir, cfg, str(tmp_path / "s1"), korean_share=0.3, total_bytes=400_000)
    # each document is kept with probability p = wanted / available (Bernoulli on a hash), so the bytes drawn
    # have standard deviation sqrt(sum p (1 - p) b_i^2): long documents make it wide on a table this small
    for group, wanted in (("ko", 120_000), ("en", 280_000)):
        sizes = [len(t.encode()) for t in demo_texts if _lang(t) == group]
        p = wanted / (0.9 * sum(sizes))
        sd = sum(p * (1 - p) * b * b for b in sizes) ** 0.5
        assert abs(stats.bytes[group] - wanted) < 4 * sd, (group, stats.bytes[group], wanted, sd)
    docs = _docs(str(tmp_path / "s1"))
    assert sum(stats.docs.values()) == len(docs)
    originals = {f"d{i:05d}": t for i, t in enumerate(demo_texts)}
    for doc_id, (group, train_text) in docs.items():
        assert unmark(train_text) == originals[doc_id]
        assert (MARK in train_text) == (group == "ko")
        assert _lang(originals[doc_id]) == group
    # deterministic, and a larger sample contains the smaller one
    again = sample(spark, workdir, cfg, str(tmp_path / "s2"), korean_share=0.3, total_bytes=400_000)
    assert again.bytes == stats.bytes and set(_docs(str(tmp_path / "s2"))) == set(docs)
    sample(spark, workdir, cfg, str(tmp_path / "s3"), korean_share=0.3, total_bytes=800_000, mecab=False)
    assert set(docs) <= set(_docs(str(tmp_path / "s3")))
    assert all(MARK not in t for t in iter_column(str(tmp_path / "s3"), "train_text"))
    # held-out documents are never sampled
    n = heldout(spark, workdir, cfg, str(tmp_path / "held"))
    held = _docs(str(tmp_path / "held"))
    assert sum(n.values()) == len(held) > 0
    assert not set(held) & set(_docs(str(tmp_path / "s3")))


def test_short_stratum_is_taken_whole_and_the_share_kept(spark, workdir, tmp_path):
    """Asking for more than the table has: the scarcer stratum is taken whole, the other cut to the share."""
    stats = sample(spark, workdir, SampleConfig(), str(tmp_path / "s"), korean_share=0.5, total_bytes=10**9)
    avail = stats.available_bytes
    short, other = sorted(avail, key=avail.get)
    assert stats.bytes[short] == avail[short]
    assert stats.bytes[other] < avail[other]
    assert abs(stats.korean_share - 0.5) < 0.05, stats.as_dict()
    skewed = sample(spark, workdir, SampleConfig(), str(tmp_path / "s2"), korean_share=0.8, total_bytes=10**9)
    assert skewed.bytes["ko"] == avail["ko"] and abs(skewed.korean_share - 0.8) < 0.05, skewed.as_dict()


def test_missing_language_is_a_clear_error(spark, workdir, tmp_path):
    cfg = SampleConfig(english_langs=["fr"])
    with pytest.raises(ValueError, match="no English documents to sample"):
        sample(spark, workdir, cfg, str(tmp_path / "s"), korean_share=0.5, total_bytes=1000)


def test_cli_train_and_eval(spark, workdir, tmp_path):
    from moru.cli import app

    runner = CliRunner()
    cfg = {
        "workdir": workdir,
        "spark": {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "3g"},
        "tokenizer": {
            "vocab_size": 800,
            "sample": {"bytes": 700_000, "holdout_fraction": 0.1},
            "steer": {"rounds": 2, "sample_bytes": 300_000, "tolerance": 0.01},
        },
    }
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["tokenizer", "train", "--config", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads((Path(workdir) / "tokenizer" / "model" / "moru_tokenizer.json").read_text())
    assert out["vocab_size"] == 800 and len(out["calibration"]) >= 1
    assert out["final"]["korean_token_share"] == out["korean_token_share"]
    assert "Korean share" in result.output and "vocabulary: 800 tokens" in result.output
    (tmp_path / "ko.txt").write_text("한국어 평가 문장입니다.\n\n또 다른 문단입니다.")
    result = runner.invoke(app, ["tokenizer", "eval", "--config", str(path), "--text", f"ko={tmp_path / 'ko.txt'}",
                                 "--out", str(tmp_path / "eval")])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "eval" / "compression.json").read_text())
    sets = {(r["tokenizer"], r["set"]) for r in rows}
    for name in ("moru", "moru + MeCab at encode"):
        assert {(name, "heldout-ko"), (name, "heldout-en"), (name, "ko")} <= sets
    assert (tmp_path / "eval" / "compression.png").stat().st_size > 10_000


def test_cli_errors(spark, tmp_path):
    from moru.cli import app

    runner = CliRunner()
    path = tmp_path / "moru.yaml"
    path.write_text(yaml.safe_dump({"workdir": str(tmp_path / "empty"), "spark": {"master": "local[2]"}}))
    result = runner.invoke(app, ["tokenizer", "train", "--config", str(path)])
    assert result.exit_code == 1 and "no training_corpus table" in result.output
    result = runner.invoke(app, ["tokenizer", "eval", "--config", str(path), "--baseline", "nopath"])
    assert result.exit_code == 1 and "NAME=PATH" in result.output
    path.write_text(yaml.safe_dump({"workdir": "w", "tokenizer": {"vocab_size": 100}}))
    result = runner.invoke(app, ["check-config", "--config", str(path)])
    assert result.exit_code == 2 and "tokenizer.vocab_size" in result.output


def test_converged_round_on_the_final_sample_is_not_trained_again(spark, workdir, tmp_path):
    from spark_jobs.tokenizer.train import run
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(
        vocab_size=600,
        output_dir=str(tmp_path / "model"),
        sample={"bytes": 300_000, "holdout_fraction": 0.1},
        steer={"rounds": 3, "sample_bytes": 300_000, "tolerance": 0.45},
    )
    messages = []
    report = run(spark, workdir, cfg, progress=messages.append)
    assert len(report["calibration"]) == 1  # within tolerance after one round
    assert any("keeping its tokenizer" in m for m in messages)
    assert report["final"]["bytes"] == report["calibration"][0]["bytes"]
    assert (tmp_path / "model" / "tokenizer.json").is_file()


def test_pipeline_stage_trains_once_then_keeps_the_tokenizer(spark, workdir, tmp_path):
    """The pipeline's tokenizer stage: trains and evaluates when nothing is saved, keeps the tokenizer while the
    training settings stay the same (eval settings may change), retrains when they change."""
    from spark_jobs.tokenizer.job import run_stage
    from tokenizer.config import TokenizerConfig

    base = dict(
        vocab_size=600, output_dir=str(tmp_path / "tok"),
        sample={"bytes": 300_000, "holdout_fraction": 0.1}, steer={"rounds": 0},
        eval={"shipped_baselines": False},
    )  # fmt: skip
    first = run_stage(spark, workdir, TokenizerConfig(**base))
    assert first.extra["retrained"] and first.rows_in == first.rows_out > 0
    saved = (tmp_path / "tok" / "tokenizer.json").read_bytes()
    assert {r["tokenizer"] for r in first.extra["compression"]} == {"moru", "moru + MeCab at encode"}
    assert {r["lang"] for r in first.extra["compression"]} == {"ko", "en"}
    again = run_stage(
        spark, workdir, TokenizerConfig(**{**base, "eval": {"max_chars": 1000, "shipped_baselines": False}})
    )
    assert not again.extra["retrained"] and again.rows_unchanged == first.rows_in and again.rows_in == 0
    assert again.extra["compression"] == first.extra["compression"]
    assert (tmp_path / "tok" / "tokenizer.json").read_bytes() == saved
    changed = run_stage(spark, workdir, TokenizerConfig(**{**base, "vocab_size": 700}))
    assert changed.extra["retrained"] and changed.extra["vocab_size"] == 700
    forced = run_stage(spark, workdir, TokenizerConfig(**{**base, "vocab_size": 700}), force=True)
    assert forced.extra["retrained"]


def test_languages_beyond_korean_and_english_are_strata_of_their_own(spark, tmp_path, demo_texts):
    """Japanese and German documents are sampled at their configured byte shares (issue 25: a five-language
    corpus's tokenizer sees every language); Korean and English share the rest; a configured language with no
    documents is noted, its share given to the others; the held-out split has every language."""
    import random

    from demo.languages import document

    rng = random.Random(3)
    extra = [("ja", document("ja", rng)) for _ in range(150)] + [("de", document("de", rng)) for _ in range(150)]
    texts = [(_lang(t), t) for t in demo_texts] + extra
    wd = _write_corpus(spark, str(tmp_path / "wd"), texts)
    ja_bytes = sum(len(t.encode()) for lang, t in extra if lang == "ja")
    total = int(ja_bytes / 0.2)  # a sample in which Japanese, at 10 %, needs half of its documents
    cfg = SampleConfig(holdout_fraction=0.1, other_langs={"ja": 0.1, "de": 0.1, "vi": 0.05})
    stats = sample(spark, wd, cfg, str(tmp_path / "s"), korean_share=0.5, total_bytes=total)
    docs = _docs(str(tmp_path / "s"))
    lang_of = {f"d{i:05d}": lang for i, (lang, _t) in enumerate(texts)}
    assert {g for g, _t in docs.values()} == {"ko", "en", "ja", "de"}
    assert all(lang_of[d] == g for d, (g, _t) in docs.items())
    # MeCab marks Korean only by default (Japanese marks are opt-in: tokenizer.mecab_langs, tested below)
    assert all(MARK not in t for g, t in docs.values() if g in ("ja", "de"))
    assert stats.notes == ["no vi documents in training_corpus: its byte share (0.05) goes to Korean and English"]
    # shares of what was drawn: ja and de about 10 % each, ko/en the rest half and half (Bernoulli on a hash: wide)
    drawn = sum(stats.bytes.values())
    assert 0.06 < stats.bytes["ja"] / drawn < 0.14 and 0.06 < stats.bytes["de"] / drawn < 0.14
    assert 0.35 < stats.korean_share < 0.65  # Korean among Korean + English
    held = heldout(spark, wd, cfg, str(tmp_path / "held"))
    assert set(held) == {"ko", "en", "ja", "de"} and all(n > 0 for n in held.values())
    from tokenizer.evaluate import heldout_sets

    assert [lang for _name, lang, _texts in heldout_sets(str(tmp_path / "held"), 10**6)] == ["ko", "en", "de", "ja"]


def test_japanese_marks_when_configured(spark, tmp_path, demo_texts):
    """tokenizer.mecab_langs [ko, ja]: the sample's Japanese documents carry UniDic-lite morpheme marks (removing
    them gives the document back); German stays unmarked."""
    import random

    from demo.languages import document

    rng = random.Random(4)
    extra = [("ja", document("ja", rng)) for _ in range(40)] + [("de", document("de", rng)) for _ in range(40)]
    texts = [(_lang(t), t) for t in demo_texts] + extra
    wd = _write_corpus(spark, str(tmp_path / "wd"), texts)
    cfg = SampleConfig(holdout_fraction=0.01, other_langs={"ja": 0.2, "de": 0.1})
    total = int(sum(len(t.encode()) for lang, t in extra if lang == "ja") / 0.2)  # every Japanese document
    sample(spark, wd, cfg, str(tmp_path / "s"), korean_share=0.5, total_bytes=total, mecab=("ko", "ja"))
    docs = _docs(str(tmp_path / "s"))
    ja = [(d, t) for d, (g, t) in docs.items() if g == "ja"]
    assert ja and all(MARK in t and unmark(t) == texts[int(d[1:])][1] for d, t in ja)
    assert all(MARK not in t for g, t in docs.values() if g == "de")


def _write_corpus(spark, wd: str, texts: list[tuple[str, str]]) -> str:
    """A training_corpus table of (lang, text) rows with ids d00000, d00001, …; returns ``wd``."""
    from spark_jobs import tables

    rows = [
        {"doc_id": f"d{i:05d}", "source": "demo", "lang": lang, "url": None, "text": t, "n_chars": len(t),
         "n_bytes": len(t.encode()), "n_words": len(t.split()), "content_hash": str(i), "quality_score": None,
         "contaminated": False, "rules_fingerprint": "x"}
        for i, (lang, t) in enumerate(texts)
    ]  # fmt: skip
    spark.createDataFrame(rows, schema=tables.TRAINING_CORPUS.schema).write.format("delta").save(
        tables.table_uri(wd, tables.TRAINING_CORPUS)
    )
    return wd
