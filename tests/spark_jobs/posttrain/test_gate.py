"""posttrain_gate: the check kernels, a clean sft_corpus (and an empty preference_corpus) passing (result in its own
file, Data Docs written, require_passed_posttrain_gate satisfied), and a gate that fails (a turn order broken, an empty
assistant turn, a leaked duplicate prompt, a contaminated row, chosen equal to rejected) halting the run and
blocking emission, as does a corpus changed since the gate or other bounds."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.job import JobContext
from quality.gates.posttrain import PosttrainGateConfig, conversation_checks, pair_checks
from quality.gates.result import GateFailed
from spark_jobs import tables
from spark_jobs.posttrain.gate import JOB, read_latest, require_passed_posttrain_gate
from spark_jobs.posttrain.gate import run as gate_run
from spark_jobs.session import local_frame
from tests.spark_jobs.posttrain.helpers_selection import table_row

U, A, S = "user", "assistant", "system"


def _m(*turns):
    return [{"role": r, "content": c} for r, c in turns]


def test_check_kernels():
    assert conversation_checks(_m((U, "Hi there"), (A, "Hello"))) == (None, 0, pytest.approx(5 / 13))
    assert conversation_checks(_m((S, "Be brief."), (U, "Q"), (A, "  ")))[:2] == (None, 1)
    assert conversation_checks(_m((A, "Hello"), (U, "Hi")))[0] == "roles_out_of_order"
    assert conversation_checks(_m((U, "Hi"), (A, "Hello"), (U, "Bye")))[0] == "no_final_assistant_turn"
    assert conversation_checks(_m(("narrator", "Once"), (A, "upon")))[0] == "unknown_role"
    assert conversation_checks(_m((S, "Be brief."), (A, "Hello")))[0] == "roles_out_of_order"
    assert pair_checks(_m((U, "Q")), _m((A, "yes")), _m((A, "no"))) == (None, 0, False)
    assert pair_checks(_m((U, "Q")), _m((A, " yes ")), _m((A, "yes"))) == (None, 0, True)
    assert pair_checks(_m((U, "Q")), _m((A, "yes")), _m((U, "no"), (A, "x")))[0] == "roles_out_of_order"
    assert pair_checks(_m((U, "Q")), _m((A, "")), _m((A, "no")))[1] == 1


def _sft(doc_id, lang, *turns, key=None, contaminated=False):
    msgs = _m(*turns)
    n = sum(len(m["content"]) for m in msgs)
    return {  # values of an sft_corpus row (the rest plain)
        "doc_id": doc_id, "source": "s", "messages": msgs, "lang": lang, "n_turns": len(msgs), "n_chars": n,
        "assistant_chars": sum(len(m["content"]) for m in msgs if m["role"] == A), "first_user_key": key or doc_id,
        "prompt_key": key or doc_id, "contaminated": contaminated, "turn_langs": [lang] * len(msgs),
    }  # fmt: skip


def _pair(doc_id, lang, prompt, chosen, rejected):
    return {  # values of a preference_corpus row
        "doc_id": doc_id, "source": "s", "prompt": _m((U, prompt)), "chosen": _m((A, chosen)),
        "rejected": _m((A, rejected)), "lang": lang, "n_chars": len(prompt) + max(len(chosen), len(rejected)),
        "pair_key": doc_id,
    }  # fmt: skip


CLEAN_SFT = [
    _sft("en1", "en", (U, "How long do I boil an egg?"), (A, "About six minutes for a soft yolk.")),
    _sft("en2", "en", (S, "Be brief."), (U, "Capital of France?"), (A, "Paris.")),
    _sft("ko1", "ko", (U, "서울에서 부산까지 얼마나 걸리나요?"), (A, "KTX로 두 시간 반 정도 걸립니다.")),
    _sft("ko2", "ko", (U, "안녕하세요"), (A, "안녕하세요! 무엇을 도와드릴까요?"), (U, "날씨 알려 주세요."),
         (A, "오늘은 맑고 따뜻합니다.")),  # fmt: skip
]
CLEAN_PAIRS = [
    _pair("p_en", "en", "Name a study habit.", "Review notes the same day.", "Cram."),
    _pair("p_ko", "ko", "공부 습관 하나 알려 주세요.", "그날 배운 것을 그날 복습하세요.", "벼락치기요."),
]
BAD_SFT = [
    _sft("order", "en", (A, "Hello!"), (U, "Hi"), (A, "How can I help?")),
    _sft("empty", "en", (U, "Say something."), (A, "   ")),
    _sft("dup", "en", (U, "how long do i boil an egg?"), (A, "Six minutes."), key="en1"),
    _sft("cont", "en", (U, "Natalia sold clips to 48 of her friends in April."), (A, "72"), contaminated=True),
]
BAD_PAIRS = [_pair("same", "en", "Name a color.", "Blue.", " Blue. ")]


def _write(spark, wd, sft, pairs=None):
    for table, rows in ((tables.SFT_CORPUS, sft), (tables.PREFERENCE_CORPUS, pairs)):
        if rows is None:
            continue
        frame = local_frame(spark, [table_row(table, r) for r in rows], table.schema)
        tables.overwrite(spark, frame, wd, table)


@pytest.mark.spark
def test_a_clean_corpus_passes_and_a_changed_one_must_be_gated_again(spark, tmp_path):
    wd = str(tmp_path / "wd")
    with pytest.raises(FileNotFoundError, match="sft_corpus"):
        gate_run(spark, wd)
    # SFT data only: an empty preference_corpus (no preference_pairs to make it from) passes
    _write(spark, wd, CLEAN_SFT, [])
    result = gate_run(spark, wd)
    assert result.passed, result.failure_messages()
    assert set(result.tables) == {"sft_corpus", "preference_corpus"} and result.tables["preference_corpus"].rows == 0
    checks = {e.check for t in result.tables.values() for e in t.expectations}
    assert {"roles_valid", "no_empty_assistant_turn", "supervised_char_share", "duplicate_fraction:prompt_key",
            "duplicate_fraction:pair_key", "contaminated_fraction", "lang_share_min:ko", "responses_differ"} <= checks
    # its own result file and Data Docs; the pretraining gate's are not touched
    stored = json.loads((Path(wd) / "gates" / "posttrain" / "latest.json").read_text())
    versions = {t.name: tables.version(spark, wd, t) for t in (tables.SFT_CORPUS, tables.PREFERENCE_CORPUS)}
    assert stored["passed"] and stored["table_versions"] == versions
    assert not (Path(wd) / "gates" / "latest.json").exists()
    assert (Path(wd) / "report" / "posttrain_data_docs" / "index.html").is_file()
    assert require_passed_posttrain_gate(spark, wd).passed
    assert require_passed_posttrain_gate(spark, wd, PosttrainGateConfig()).passed
    other = PosttrainGateConfig(sft_corpus={"supervised_char_share": {"min": 0.2, "max": 0.9}})
    with pytest.raises(GateFailed, match="bounds changed"):
        require_passed_posttrain_gate(spark, wd, other)
    _write(spark, wd, CLEAN_SFT[:3])  # a new version of sft_corpus
    stale = f"sft_corpus is at Delta version {versions['sft_corpus'] + 1}.*validated version {versions['sft_corpus']}"
    with pytest.raises(GateFailed, match=stale):
        require_passed_posttrain_gate(spark, wd)


@pytest.mark.spark
def test_a_failed_gate_halts_the_run_and_blocks_emission(spark, tmp_path):
    wd = str(tmp_path / "wd")
    with pytest.raises(GateFailed, match="no post-training gate result"):
        require_passed_posttrain_gate(spark, wd)
    _write(spark, wd, CLEAN_SFT + BAD_SFT, CLEAN_PAIRS + BAD_PAIRS)
    cfg = SimpleNamespace(workdir=wd, posttrain=SimpleNamespace(sources=["chat"]))
    stats = JOB(JobContext(cfg=cfg, spark_factory=lambda: spark))
    assert stats.halt and "post-training gate failed" in stats.halt
    failed = {(e.table, e.check): e for e in read_latest(wd).failed}
    assert set(failed) == {
        ("sft_corpus", "roles_valid"),
        ("sft_corpus", "no_empty_assistant_turn"),
        ("sft_corpus", "duplicate_fraction:first_user_key"),
        ("sft_corpus", "duplicate_fraction:prompt_key"),
        ("sft_corpus", "contaminated_fraction"),
        ("preference_corpus", "responses_differ"),
    }
    assert failed[("sft_corpus", "roles_valid")].observed["sample"] == ["roles_out_of_order"]
    assert failed[("sft_corpus", "contaminated_fraction")].observed["unexpected_count"] == 1
    with pytest.raises(GateFailed, match="failed; no post-training data is emitted past it"):
        require_passed_posttrain_gate(spark, wd)
