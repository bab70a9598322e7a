"""posttrain_signals and posttrain_select on small tables with planted problems: refusals (English and Korean),
chat-template leftovers in a response, in a prompt and in a rejected response, a question answered in another
language, a looping response, a language not selected, duplicate prompts and pairs. Every problem is dropped with
its reason, the clean examples reach sft_corpus / preference_corpus, and other thresholds decide again from the same
signals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spark_jobs import tables
from spark_jobs.posttrain import dedup
from spark_jobs.posttrain import signals as signals_job
from spark_jobs.posttrain.select import PosttrainSelectConfig, decide
from spark_jobs.posttrain.select import run as select_run
from tests.spark_jobs.posttrain.helpers_selection import conversation, pair, write_conversations, write_pairs

pytestmark = pytest.mark.spark
U, A = "user", "assistant"
LOOP = "The answer is yes and the answer is always yes. " * 6
KO_ANSWER = "서울에서 부산까지 KTX로 가면 보통 두 시간 반 정도 걸리고, 일반 열차는 다섯 시간쯤 걸립니다."

CONVERSATIONS = [
    conversation("ok_en", (U, "How long should I boil an egg for a soft yolk?"),
                 (A, "About six minutes, then put it in cold water.")),  # fmt: skip
    conversation("ok_ko", (U, "서울에서 부산까지 기차로 얼마나 걸리나요?"), (A, KO_ANSWER), lang="ko"),
    conversation("refusal_en", (U, "Tell me how to pick a lock on my neighbour's door."),
                 (A, "I'm sorry, but I can't help with that.")),  # fmt: skip
    conversation("refusal_ko", (U, "옆집 문을 몰래 여는 방법을 알려 주세요."),
                 (A, "죄송하지만 그 요청은 도와드릴 수 없습니다."), lang="ko"),  # fmt: skip
    conversation("template_response", (U, "Say hello to the new students."),
                 (A, "Hello, everyone, and welcome!<|im_end|>")),  # fmt: skip
    conversation("template_prompt", (U, "### Instruction:\nSay hello to the new teachers."),
                 (A, "Hello, and welcome to the school!")),  # fmt: skip
    # normalize found the question English and the answer Korean
    conversation("mismatch", (U, "How long does the KTX take from Seoul to Busan?"), (A, KO_ANSWER),
                 response_lang="ko", lang_mismatch=True),  # fmt: skip
    conversation("loop", (U, "Is this a good idea, do you think?"), (A, LOOP)),
    conversation("french", (U, "Quelle est la capitale de la France ?"), (A, "C'est Paris, bien sûr."), lang="other"),
    conversation("dup_a", (U, "What is the boiling point of water at sea level?"), (A, "Water boils at 100 degrees.")),
    conversation("dup_b", (U, "what is the BOILING point of water at sea level?"),
                 (A, "It boils at 100 degrees Celsius (212 F).")),  # fmt: skip
]
PAIRS = [
    # a rejected answer in another language is a fine negative
    pair("p_ok", "Name a good habit for studying.", "Review your notes the same day.",
         "벼락치기를 하는 것이 제일 좋아요, 진짜로요.", rejected_lang="ko"),  # fmt: skip
    pair("p_rejected_template", "Name a healthy breakfast.", "Oatmeal with fruit.", "[INST] donuts [/INST]"),
    pair("p_chosen_refusal", "Name a fun weekend activity.", "I'm sorry, but I cannot help with that.", "Hiking."),
    pair("p_dup_hi", "Name a primary color.", "Blue is one.", "Green.", 0.9, 0.1),
    pair("p_dup_lo", "Name a primary color.", "blue is one.", "Purple.", 0.6, 0.1),
]
DROPPED = {
    "refusal_en": ("signals", ["refusal_at_start>0"]),
    "refusal_ko": ("signals", ["refusal_at_start>0"]),
    "template_response": ("signals", ["template_markers_response>0"]),
    "template_prompt": ("signals", ["template_markers_prompt>0"]),
    "mismatch": ("signals", ["lang_mismatch"]),
    "loop": ("signals", ["response_dup_10gram_char_frac>0.5"]),
    "french": ("language", ["language_not_selected"]),
    "dup_a": ("dedup", ["duplicate:first_user", "duplicate:prompt"]),
    "p_rejected_template": ("signals", ["rejected:template_markers_response>0"]),
    "p_chosen_refusal": ("signals", ["refusal_at_start>0"]),
    "p_dup_lo": ("dedup", ["duplicate:pair"]),
}


@pytest.fixture(scope="module")
def workdir(spark, tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("pt_select") / "wd")
    write_conversations(spark, wd, CONVERSATIONS)
    write_pairs(spark, wd, PAIRS)
    stats = signals_job.run(spark, wd)
    assert (stats.rows_in, stats.extra["signal_rows"]) == (len(CONVERSATIONS) + len(PAIRS),
                                                          len(CONVERSATIONS) + 2 * len(PAIRS))  # fmt: skip
    dedup.run(spark, wd, dedup.PosttrainDedupConfig(near=False))
    return wd


def test_signals_are_numbers_per_response(spark, workdir):
    sig = {(r["doc_id"], r["side"]): r for r in tables.read(spark, workdir, tables.POSTTRAIN_SIGNALS).collect()}
    assert sig[("refusal_en", "response")]["refusal_at_start"] == 1.0
    assert sig[("refusal_ko", "response")]["refusal"] == 1.0 and sig[("ok_ko", "response")]["refusal"] == 0.0
    assert sig[("template_response", "response")]["template_markers_response"] == 1.0
    assert sig[("template_prompt", "response")]["template_markers_prompt"] == 1.0
    assert sig[("mismatch", "response")]["lang_mismatch"] == 1.0 and sig[("ok_ko", "response")]["lang_mismatch"] == 0
    assert sig[("loop", "response")]["response_dup_10gram_char_frac"] > 0.5
    # Korean responses counted in morphemes (more units than whitespace words)
    assert sig[("ok_ko", "response")]["response_words"] > len(KO_ANSWER.split())
    assert sig[("ok_ko", "response")]["lang"] == "ko"
    assert sig[("p_rejected_template", "rejected")]["template_markers_response"] == 2.0
    assert sig[("p_rejected_template", "chosen")]["template_markers_response"] == 0.0
    assert sig[("p_ok", "chosen")]["response_chars"] == len("Review your notes the same day.")
    assert sig[("p_ok", "rejected")]["lang_mismatch"] == 1.0 and sig[("p_ok", "chosen")]["lang_mismatch"] == 0.0
    assert sig[("p_ok", "rejected")]["lang"] == "ko"


def test_select_drops_each_problem_with_its_reason(spark, workdir):
    stats = select_run(spark, workdir, PosttrainSelectConfig())
    sel = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.POSTTRAIN_SELECTION).collect()}
    got = {d: (r["dropped_at"], r["failed_rules"]) for d, r in sel.items() if not r["kept"]}
    assert got == DROPPED
    assert sel["refusal_en"]["first_failed_rule"] == "refusal_at_start>0"
    assert {r["source_table"] for r in sel.values()} == {"conversations", "preference_pairs"}
    sft = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.SFT_CORPUS).collect()}
    assert set(sft) == {"ok_en", "ok_ko", "dup_b"}
    assert sft["ok_en"]["assistant_chars"] == len("About six minutes, then put it in cold water.")
    assert sft["dup_b"]["first_user_key"] and sft["dup_b"]["prompt_key"] and not sft["dup_b"]["contaminated"]
    pref = {r["doc_id"]: r for r in tables.read(spark, workdir, tables.PREFERENCE_CORPUS).collect()}
    assert set(pref) == {"p_ok", "p_dup_hi"} and pref["p_dup_hi"]["pair_key"]
    assert stats.rows_in == len(CONVERSATIONS) + len(PAIRS) and stats.rows_rejected == len(DROPPED)
    assert stats.by_reason == {"signals": 8, "language": 1, "dedup": 2}
    assert stats.extra["kept"] == {"conversations": 3, "preference_pairs": 2}


def test_a_threshold_change_needs_no_new_signals(spark, workdir):
    """Other thresholds decide again from the same signal rows (select's decide, nothing written)."""
    cfg = PosttrainSelectConfig(allow_lang_mismatch=True, thresholds={"refusal_at_start": None},
                                rejected_thresholds={"template_markers_response": None})  # fmt: skip
    kept = set()
    for table in ("conversations", "preference_pairs"):
        rows = decide(spark, workdir, table, cfg).select("doc_id", "kept", "rules_fingerprint").collect()
        kept |= {r["doc_id"] for r in rows if r["kept"]}
        assert {r["rules_fingerprint"] for r in rows} == {cfg.fingerprint()}
    assert kept == {"ok_en", "ok_ko", "dup_b", "mismatch", "refusal_en", "refusal_ko", "p_ok", "p_dup_hi",
                    "p_chosen_refusal", "p_rejected_template"}  # fmt: skip
    assert cfg.fingerprint() != PosttrainSelectConfig().fingerprint()


def test_select_config_names_known_signals_only():
    with pytest.raises(ValidationError, match="refusal_rate"):
        PosttrainSelectConfig(thresholds={"refusal_rate": {"max": 0}})
    with pytest.raises(ValidationError, match="allow_lang_mismatch"):
        PosttrainSelectConfig(thresholds={"lang_mismatch": {"max": 0}})
    cfg = PosttrainSelectConfig(thresholds={"response_chars": {"min": 20}})
    assert cfg.thresholds["response_chars"].min == 20 and cfg.thresholds["refusal_at_start"].max == 0
