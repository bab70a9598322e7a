"""The fastText quality classifier: tokens it sees, metrics, training on named JSONL sets, the
held-out report, scoring."""

from __future__ import annotations

import gzip
import json

import pytest

from quality import classifier
from quality.classifier import ClassifierConfig


def test_tokens_split_korean_into_morphemes_and_keep_symbols():
    assert classifier.tokens("The Cat  sat!") == ["the", "cat", "sat!"]
    ko = classifier.tokens("정부는 정책을 발표했다.")
    assert ko[:2] == ["정부", "는"] and ko[-1] == "."
    assert classifier.tokens("a b c d", max_tokens=2) == ["a", "b"]


def test_roc_auc_and_precision_recall_by_hand():
    # 3 positives, 2 negatives; pairs (pos > neg): 0.9>0.4, 0.9>0.2, 0.6>0.4, 0.6>0.2, 0.3>0.2 -> 5 of 6
    labels, scores = [1, 1, 1, 0, 0], [0.9, 0.6, 0.3, 0.4, 0.2]
    assert classifier.roc_auc(labels, scores) == pytest.approx(5 / 6)
    assert classifier.roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    pr = classifier.precision_recall(labels, scores, 0.5)
    assert (pr["tp"], pr["fp"], pr["fn"]) == (2, 0, 1)
    assert pr["precision"] == 1.0 and pr["recall"] == pytest.approx(2 / 3)


def test_read_jsonl_errors_name_file_and_line(tmp_path):
    good = tmp_path / "a.jsonl.gz"
    good.write_bytes(gzip.compress(b'{"body": "one"}\n\n{"body": "  "}\n{"body": "two"}\n'))
    assert list(classifier.read_jsonl(good, "body")) == ["one", "two"]  # blank texts skipped
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "x"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"b.jsonl:2: not JSON"):
        list(classifier.read_jsonl(bad))
    with pytest.raises(ValueError, match=r"no string field 'text'"):
        bad.write_text('{"text": 3}\n', encoding="utf-8")
        list(classifier.read_jsonl(bad))
    with pytest.raises(FileNotFoundError):
        list(classifier.read_jsonl(tmp_path / "missing.jsonl"))


def _sets(tmp_path, n=400):
    from demo.corpus import classifier_sets

    return classifier_sets(tmp_path / "sets", n_per_class=n, seed=3)


def test_train_reports_held_out_metrics_and_scores(tmp_path):
    pos, neg = _sets(tmp_path)
    cfg = ClassifierConfig(positive=[pos], negative=[neg], bucket=20_000, dim=16, epoch=5)
    model_path = tmp_path / "m" / "quality.bin"
    report = classifier.train(cfg, str(model_path))
    assert model_path.is_file() and report.model_sha256 == classifier.file_sha256(model_path)
    saved = json.loads((tmp_path / "m" / "quality.bin.report.json").read_text())
    assert saved["fingerprint"] == classifier.training_fingerprint(cfg) == report.fingerprint
    # the held-out split is ~10 % and disjoint from training; balanced training classes
    assert report.train_positive == report.train_negative
    held = report.holdout_positive + report.holdout_negative
    assert 40 <= held <= 130
    read = 2 * 400 - report.dropped_duplicates
    assert report.train_positive + report.train_negative + held + report.downsampled == read
    # the demo's prose vs junk is easy: the held-out AUC is near 1
    assert report.auc > 0.95 and report.precision > 0.9 and report.recall > 0.9
    good = "정부는 오늘 새로운 교통 정책을 발표했다. 전문가들은 이번 조치가 시민의 불편을 줄일 것으로 평가했다."
    junk = "ㅋㅋㅋ ㅎㅎ 굿"
    p_good, p_junk = classifier.score([good, junk], str(model_path))
    assert p_good > p_junk
    assert 0.0 <= p_junk <= 1.0


def test_fingerprint_follows_sets_and_params(tmp_path):
    pos, neg = _sets(tmp_path, 20)
    a = ClassifierConfig(positive=[pos], negative=[neg])
    assert classifier.training_fingerprint(a) == classifier.training_fingerprint(a.model_copy())
    before = classifier.training_fingerprint(a)
    assert before != classifier.training_fingerprint(a.model_copy(update={"epoch": 9}))
    assert before == classifier.training_fingerprint(a.model_copy(update={"threads": 7}))  # same model
    with open(pos, "a", encoding="utf-8") as fh:
        fh.write('{"text": "one more"}\n')
    assert classifier.training_fingerprint(a) != before


def test_train_needs_both_sets(tmp_path):
    pos, _ = _sets(tmp_path, 10)
    with pytest.raises(ValueError, match="positive and quality.classifier.negative"):
        classifier.train(ClassifierConfig(positive=[pos]), str(tmp_path / "m.bin"))


def _write_set(path, texts):
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return str(path)


GOOD = [
    "정부는 오늘 새로운 교통 정책을 발표했다.",
    "The committee published its annual report on water quality.",
    "연구진은 새로운 치료법의 효과를 확인했다.",
    "Scientists measured the temperature of the ocean for ten years.",
]
BAD = ["ㅋㅋㅋ 굿 ㅎㅎ", "buy now cheap cheap click here", "!!!! $$$ win win", "ㅎㅎ ㅋㅋ 대박"]


def test_tiny_sets_train_and_report_an_empty_held_out_split(tmp_path):
    import math

    assert not any(classifier._is_holdout(t, 0.1, 0) for t in GOOD + BAD)  # the premise: nothing is held out
    cfg = ClassifierConfig(positive=[_write_set(tmp_path / "p.jsonl", GOOD)],
                           negative=[_write_set(tmp_path / "n.jsonl", BAD)], bucket=1000, dim=8)  # fmt: skip
    said: list[str] = []
    report = classifier.train(cfg, str(tmp_path / "m.bin"), progress=said.append)
    assert (report.train_positive, report.train_negative, report.holdout_positive, report.holdout_negative) == (
        4, 4, 0, 0)  # fmt: skip
    assert any("no held-out texts" in n for n in report.notes) and any("no held-out texts" in m for m in said)
    assert all(math.isnan(v) for v in (report.precision, report.recall, report.f1, report.auc))  # not measured
    saved = classifier.read_report(tmp_path / "m.bin")
    assert saved["notes"] == report.notes
    assert len(classifier.score(["정부는 정책을 발표했다."], str(tmp_path / "m.bin"))) == 1


def test_a_class_all_in_the_held_out_split_is_trained_on(tmp_path):
    import math

    candidates = [f"정부는 {i}번째 정책을 발표했다. 전문가들은 이를 평가했다." for i in range(50)]
    positive = [t for t in candidates if classifier._is_holdout(t, 0.5, 0)][:1]
    held_bad = [t for t in BAD if classifier._is_holdout(t, 0.5, 0)]
    assert positive and held_bad and len(held_bad) < len(BAD)  # the premise: one positive, held out
    cfg = ClassifierConfig(positive=[_write_set(tmp_path / "p.jsonl", positive)],
                           negative=[_write_set(tmp_path / "n.jsonl", BAD)], holdout_fraction=0.5, bucket=1000,
                           dim=8, balance=False)  # fmt: skip
    report = classifier.train(cfg, str(tmp_path / "m.bin"))
    assert report.train_positive == 1 and report.holdout_positive == 0
    assert report.holdout_negative == len(held_bad) and report.train_negative == len(BAD) - len(held_bad)
    assert any("all 1 positive texts" in n for n in report.notes)
    assert any("no positive texts" in n for n in report.notes) and math.isnan(report.auc)


def test_read_jsonl_bom_zstd_and_blank_lines(tmp_path):
    import zstandard

    (tmp_path / "a.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "bom"}\n\n{"text": "after a blank"}\n')
    assert list(classifier.read_jsonl(tmp_path / "a.jsonl")) == ["bom", "after a blank"]
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "zstd"}\n'))
    assert list(classifier.read_jsonl(tmp_path / "b.jsonl.zst")) == ["zstd"]
