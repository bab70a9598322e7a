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
    ja = "東京都に住んでいます。"
    assert train_text(ja, "ja", mecab=True) == ja  # Korean only unless Japanese is named
    assert train_text(ja, "ja", mecab=("ko", "ja")).replace(MARK, "|") == "東京|都|に|住ん|で|い|ます|。"
    assert train_text(ko, "ko", mecab=("ja",)) == ko


def test_fingerprint_follows_training_settings_only(tmp_path):
    base = TokenizerConfig(vocab_size=800)
    assert fingerprint(base) == fingerprint(base.model_copy())
    assert fingerprint(base) != fingerprint(base.model_copy(update={"vocab_size": 900}))
    assert fingerprint(base) == fingerprint(TokenizerConfig(vocab_size=800, output_dir=str(tmp_path / "elsewhere"),
                                                            eval={"max_chars": 10}))  # fmt: skip
    assert fingerprint(base) == fingerprint(TokenizerConfig(vocab_size=800, mecab_langs=["ko"]))
    assert fingerprint(base) != fingerprint(TokenizerConfig(vocab_size=800, mecab_langs=["ko", "ja"]))


def test_mecab_langs_are_checked_at_config_time():
    assert TokenizerConfig(mecab_langs=["ja", "ko", "ja"]).mecab_langs == ["ja", "ko"]
    assert TokenizerConfig(mecab=False, mecab_langs=["ko", "ja"]).marked_langs() == ()
    with pytest.raises(ValueError, match=r"unknown MeCab language zh \(known: ko, ja\)"):
        TokenizerConfig(mecab_langs=["zh"])


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


def test_plan_gives_other_languages_their_shares_and_ko_en_the_rest():
    from tokenizer.sample import shares

    assert shares(0.25, {"ja": 0.1, "de": 0.1}) == pytest.approx({"ko": 0.2, "en": 0.6, "ja": 0.1, "de": 0.1})
    available = {"ko": 10_000, "en": 10_000, "ja": 10_000, "de": 10_000}
    keep = dict.fromkeys(available, 0.9)
    p = plan(available, keep, korean_share=0.25, total_bytes=1000, other_shares={"ja": 0.1, "de": 0.1})
    assert p.short is None and p.bytes == pytest.approx(1000)
    assert p.thresholds == pytest.approx({"ko": 0.9 * 200 / 10_000, "en": 0.9 * 600 / 10_000,
                                          "ja": 0.9 * 100 / 10_000, "de": 0.9 * 100 / 10_000})  # fmt: skip
    # a small Japanese stratum is taken whole and the others keep their size: a small language does not shrink the
    # sample
    p = plan({**available, "ja": 50}, keep, korean_share=0.25, total_bytes=1000, other_shares={"ja": 0.1, "de": 0.1})
    assert p.short is None and p.whole == ("ja",) and p.bytes == pytest.approx(950)
    assert p.thresholds["ja"] == pytest.approx(0.9) and p.thresholds["en"] == pytest.approx(0.9 * 600 / 10_000)
    # a short Korean stratum still cuts English to keep the Korean share, and the others to keep theirs
    p = plan({**available, "ko": 100}, keep, korean_share=0.25, total_bytes=1000, other_shares={"ja": 0.1, "de": 0.1})
    assert p.short == "ko" and p.bytes == pytest.approx(500)
    assert p.thresholds["ja"] == pytest.approx(0.9 * 50 / 10_000)
    assert holdout_groups({"ko": 5, "en": 5, "ja": 0}, {"ja": 4}) == {"ko", "en"}


def test_other_langs_are_checked_at_config_time():
    from tokenizer.config import SampleConfig

    assert SampleConfig(other_langs={"ja": 0.1}).other_langs == {"ja": 0.1}
    with pytest.raises(ValueError, match="sampled as Korean or English"):
        SampleConfig(other_langs={"ko+en": 0.1})
    with pytest.raises(ValueError, match="between 0 and 1"):
        SampleConfig(other_langs={"ja": 0})
    with pytest.raises(ValueError, match="at least 0.1"):
        SampleConfig(other_langs={"ja": 0.5, "de": 0.45})
