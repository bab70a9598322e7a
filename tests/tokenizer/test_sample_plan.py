"""The sampling arithmetic (thresholds on the hash value u, strata without a held-out split), the text the
trainer sees, and where the tokenizer lives; no Spark."""

from __future__ import annotations

import pytest

from tokenizer.config import TokenizerConfig, fingerprint, output_dir
from tokenizer.hf import saved_report
from tokenizer.mecab import MARK, unmark
from tokenizer.sample import holdout_groups, plan, train_text


def test_plan_keeps_the_share_and_the_size_when_both_strata_suffice():
    p = plan({"ko": 1000, "en": 3000}, {"ko": 0.9, "en": 0.9}, korean_share=0.25, total_bytes=800)
    assert p.short is None and p.bytes == 800
    # a stratum with A bytes that should give W bytes keeps u < keep * W / A
    assert p.thresholds == pytest.approx({"ko": 0.9 * 200 / 1000, "en": 0.9 * 600 / 3000})


def test_plan_takes_the_short_stratum_whole_and_cuts_the_other_to_the_share():
    p = plan({"ko": 100, "en": 3000}, {"ko": 0.9, "en": 1.0}, korean_share=0.5, total_bytes=10_000)
    assert p.short == "ko" and p.bytes == pytest.approx(200)
    assert p.thresholds["ko"] == pytest.approx(0.9)  # all of ko's training range
    assert p.thresholds["en"] == pytest.approx(100 / 3000)  # no held-out split for en: keep is 1


def test_a_stratum_all_inside_the_held_out_range_keeps_no_held_out_split():
    # ko: every document hashed into the held-out range; en: some outside it; neither present: nothing to decide
    assert holdout_groups({"ko": 0, "en": 500}, {"ko": 40, "en": 10}) == {"en"}
    assert holdout_groups({"ko": 7, "en": 500}, {"ko": 0, "en": 0}) == {"ko", "en"}
    assert holdout_groups({}, {}) == {"ko", "en"}


def test_train_text_marks_korean_only_and_strips_stray_marks():
    ko = "정부는 오늘 정책을 발표했다."
    marked = train_text(ko, "ko", mecab=True)
    assert MARK in marked and unmark(marked) == ko
    assert train_text(ko, "ko", mecab=False) == ko
    assert train_text(f"plain{MARK} English", "en", mecab=True) == "plain English"


def test_fingerprint_follows_training_settings_only(tmp_path):
    base = TokenizerConfig(vocab_size=800)
    assert fingerprint(base) == fingerprint(base.model_copy())
    assert fingerprint(base) != fingerprint(base.model_copy(update={"vocab_size": 900}))
    assert fingerprint(base) == fingerprint(TokenizerConfig(vocab_size=800, output_dir=str(tmp_path / "elsewhere"),
                                                            eval={"max_chars": 10}))  # fmt: skip


def test_output_dir_default_configured_and_remote(tmp_path):
    assert output_dir(TokenizerConfig(), str(tmp_path)) == tmp_path / "tokenizer" / "model"
    assert output_dir(TokenizerConfig(output_dir=str(tmp_path / "tok")), "s3://bucket/w") == tmp_path / "tok"
    with pytest.raises(ValueError, match="must be a local folder"):
        output_dir(TokenizerConfig(), "s3://bucket/w")


def test_saved_report_needs_the_whole_folder(tmp_path, tiny_dir):
    assert saved_report(tiny_dir) == {"test": True}
    (tmp_path / "moru_tokenizer.json").write_text("{}")
    assert saved_report(tmp_path) is None  # no tokenizer.json beside it
    assert saved_report(tmp_path / "missing") is None
