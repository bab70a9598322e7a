"""A small post-training corpus in every layout and format (Korean and English, bad records of every kind), and a
Delta workdir made from it by ``posttrain ingest`` + ``posttrain normalize``, shared by the post-training job tests.

Fixtures:

- ``posttrain_files``: (root folder, sources) — the files written by :func:`write_corpus` (session-scoped);
- ``posttrain_workdir``: a :class:`PosttrainRun` whose workdir holds ``raw_conversations``,
  ``raw_preference_pairs``, ``conversations``, ``preference_pairs`` and ``quarantine``, with the two jobs' stats
  (session-scoped: read it, don't write into it; ``copy_to(path)`` gives a private copy to write into);
- ``run_posttrain``: a function ``(workdir, sources, **posttrain_section) -> PosttrainRun`` that runs both jobs on any
  sources (the jobs through their ``JOB``, as the CLI runs them); :func:`write_corpus` writes the corpus anywhere.

``EXPECTED`` says what ingest makes of each source (records read and accepted, rows per table, quarantined records
per reason), ``EXPECTED_NORMALIZE_REJECTED`` what normalize quarantines; the shared workdir ends with 16
conversations (ko, en, ko+en; one planted Korean-question/English-answer mismatch, ``MISMATCH_Q``) and 11
preference pairs (TRL explicit and implicit prompts, Anthropic HH with a multi-turn prompt, rated completions).
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

KO_Q = "서울에서 부산까지 KTX로 가면 시간이 얼마나 걸리나요?"
KO_A = "서울역에서 부산역까지 KTX로 약 2시간 30분 정도 걸립니다. 정차역에 따라 조금 달라질 수 있어요."
EN_Q = "How long does the KTX take from Seoul to Busan these days?"
EN_A = "The KTX from Seoul Station to Busan Station takes about two and a half hours, depending on the stops."
KO_Q2 = "김치찌개를 맛있게 끓이는 방법을 자세히 알려주세요."
KO_A2 = "잘 익은 김치와 돼지고기를 먼저 볶은 뒤 물을 붓고 20분 정도 끓이면 깊은 맛이 납니다."
EN_Q2 = "What is a good way to start learning the piano as an adult?"
EN_A2 = "Start with a teacher or a structured course, practise twenty minutes a day, and learn to read simple music."
# the planted mismatch: a Korean question answered in English
MISMATCH_Q = "한국의 수도는 어디이고 인구는 대략 몇 명인가요?"
MISMATCH_A = "The capital of South Korea is Seoul, which has a population of roughly ten million people."
SYSTEM = "You are a helpful assistant."


def msg(role: str, content) -> dict:
    return {"role": role, "content": content}


def _line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def _lines(objs) -> bytes:
    return b"".join(o if isinstance(o, bytes) else _line(o) for o in objs)


# ------------------------------------------------------------------------------------------------ the corpus

GOOD_KO = {"messages": [msg("system", SYSTEM), msg("user", KO_Q), msg("assistant", KO_A)]}
GOOD_EN = {"messages": [msg("user", EN_Q), msg("assistant", EN_A), msg("user", EN_Q2), msg("assistant", EN_A2)]}
MISMATCH = {"messages": [msg("user", MISMATCH_Q), msg("assistant", MISMATCH_A)]}
# the same first question as GOOD_EN (but for spacing, which normalization folds), another answer
SAME_QUESTION = {"messages": [msg("user", EN_Q.replace(" ", "   ", 2)), msg("assistant", EN_A2)]}
# entities and decomposed Hangul (NFD) that normalization folds
NFD_KO = "\u1100\u1161\u11a8"  # 각, decomposed
ENTITIES = {"messages": [msg("user", f"김치&amp;찌개 {NFD_KO}&nbsp;레시피를 알려주세요"), msg("assistant", KO_A2)]}
# passes ingest (not blank), normalizes to nothing: rejected by posttrain_normalize as empty_assistant_turn
EMPTY_AFTER = {"messages": [msg("user", EN_Q2), msg("assistant", "&nbsp;&#8203;")]}

MESSAGES_LINES = [
    GOOD_KO,  # 0
    GOOD_EN,  # 1
    MISMATCH,  # 2
    {"messages": [msg("user", [{"type": "text", "text": EN_Q2}]), msg("assistant", [{"type": "text", "text": EN_A}])]},
    {"messages": [msg("narrator", "Once upon a time"), msg("assistant", EN_A)]},  # 4 unknown_role
    {"messages": [msg("assistant", EN_A), msg("user", EN_Q)]},  # 5 roles_out_of_order
    {"messages": [msg("user", EN_Q)]},  # 6 no_final_assistant_turn
    {"messages": [msg("user", "   "), msg("assistant", EN_A)]},  # 7 empty_prompt
    {"messages": [msg("user", EN_Q), msg("assistant", "\n")]},  # 8 empty_assistant_turn
    {"conversation": []},  # 9 missing_field
    {"messages": "user: hi"},  # 10 wrong_type
    {"messages": [msg("user", "x" * 3000), msg("assistant", EN_A)]},  # 11 too_long (max_chars 2000)
    b'{"messages": [\n',  # 12 invalid_json
    b'{"messages": "\xff\xfe"}\n',  # 13 invalid_utf8 (bytes)
    b"\n",  # 14 blank_line
    GOOD_KO,  # 15 duplicate_record_key (same content, no ids)
    b'[{"role": "user"}]\n',  # 16 wrong_type (not an object)
    b'{"messages": [{"role": "user", "content": "\\ud800"}]}\n',  # 17 invalid_utf8 (a lone surrogate)
    ENTITIES,  # 18
    EMPTY_AFTER,  # 19
    SAME_QUESTION,  # 20
]

SHAREGPT = [
    {"conversations": [{"from": "human", "value": KO_Q2}, {"from": "gpt", "value": KO_A2}]},
    {"conversations": [{"from": "system", "value": SYSTEM}, {"from": "human", "value": EN_Q2},
                       {"from": "gpt", "value": EN_A2}]},  # fmt: skip
    {"conversations": [{"from": "alien", "value": "?"}, {"from": "gpt", "value": EN_A}]},  # unknown_role
]
ALPACA = [
    {"instruction": "다음 문장을 영어로 번역하세요.", "input": "오늘 날씨가 정말 좋네요.",
     "output": "The weather is really nice today."},  # fmt: skip
    {"instruction": "Summarize the text.", "input": EN_A, "output": "The KTX takes about 2.5 hours."},
    {"instruction": " ", "input": "", "output": "Nothing to do."},  # empty_prompt
]
ALPACA_ARRAY = [
    {"instruction": "Name three primary colours.", "input": "", "output": "Red, yellow and blue."},
    {"instruction": "세 가지 기본 색을 말해 보세요.", "input": "", "output": "빨강, 노랑, 파랑입니다."},
]
HH = [  # with ids: a record whose content changes keeps its doc_id (the re-run test changes one)
    {"id": "hh-0", "chosen": f"\n\nHuman: {EN_Q}\n\nAssistant: {EN_A}",
     "rejected": f"\n\nHuman: {EN_Q}\n\nAssistant: I don't know."},
    {
        "id": "hh-1",
        "chosen": f"\n\nHuman: {EN_Q2}\n\nAssistant: Do you have a keyboard?\n\nHuman: Yes, a digital one.\n\n"
        f"Assistant: {EN_A2}",
        "rejected": f"\n\nHuman: {EN_Q2}\n\nAssistant: Do you have a keyboard?\n\nHuman: Yes, a digital one.\n\n"
        "Assistant: Just buy a guitar instead.",
    },
    {"id": "hh-2", "chosen": "no tags here at all", "rejected": "none here either"},  # unparseable_hh
]  # fmt: skip
PREF_IMPLICIT = [
    {"chosen": [msg("user", KO_Q), msg("assistant", KO_A)],
     "rejected": [msg("user", KO_Q), msg("assistant", "몰라요.")]},  # fmt: skip
    # differ only by an entity: the same text after normalization (chosen_equals_rejected at posttrain_normalize)
    {"chosen": [msg("user", EN_Q2), msg("assistant", "Scales &amp; arpeggios first.")],
     "rejected": [msg("user", EN_Q2), msg("assistant", "Scales & arpeggios first.")]},  # fmt: skip
]
COMPLETIONS = [
    {"response": EN_A, "overall_score": 9},
    {"response": "Around five hours by bus.", "overall_score": 5},
    {"response": "I am not sure.", "overall_score": 2},
]
RATED = [
    {"prompt": EN_Q, "completions": COMPLETIONS},  # 3 pairs (all_pairs)
    {"prompt": EN_Q2, "completions": [{"response": "a", "overall_score": 3}, {"response": "b", "overall_score": 3}]},
    {"prompt": EN_Q, "completions": COMPLETIONS},  # every pair given by record 0: duplicate_record_key
    # (EN_A, "I am not sure.") is record 0's pair too: left out, the record's two other pairs are written
    {"prompt": EN_Q, "completions": [*COMPLETIONS[0::2], {"response": "Take a plane.", "overall_score": 4}]},
]
QA_CSV = b"".join([
    b"Q,A,label\n",
    f"{KO_Q2},{KO_A2},0\n".encode(),
    "12시 땡!,하루가 또 가네요.,0\n".encode(),
    b"too,many,fields,here\n",  # corrupt_record
    "잘못된 바이트 ".encode() + b"\xff,x,0\n",  # invalid_utf8
    "빈 답변,,0\n".encode(),  # empty_assistant_turn
])  # fmt: skip


BROKEN = [
    {"messages": [msg("user", "Which river flows through the middle of Seoul?"),
                  msg("assistant", "The Han River flows through the middle of Seoul, from east to west.")]},
    {"messages": [msg("user", "서울 한가운데를 흐르는 강은 무엇인가요?"),
                  msg("assistant", "한강이 서울 한가운데를 흐릅니다.")]},
]  # fmt: skip


def _damaged_gzip(data: bytes) -> bytes:
    """A whole gzip member, then bytes that are no gzip member: the records, then one corrupt_file."""
    return gzip.compress(data, mtime=0) + b"this is not gzip"


def write_corpus(root: Path):
    """Write the corpus under ``root`` and return its post-training sources (one per layout)."""
    from spark_jobs.posttrain.config import PosttrainSource

    root.mkdir(parents=True, exist_ok=True)
    (root / "messages").mkdir()
    (root / "messages" / "chat.jsonl").write_bytes(_lines(MESSAGES_LINES))
    (root / "messages" / "broken.jsonl.gz").write_bytes(_damaged_gzip(_lines(BROKEN)))
    (root / "sharegpt").mkdir()
    (root / "sharegpt" / "sg.jsonl.gz").write_bytes(gzip.compress(_lines(SHAREGPT), mtime=0))
    (root / "alpaca").mkdir()
    (root / "alpaca" / "al.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(_lines(ALPACA)))
    (root / "alpaca" / "more.json").write_text(json.dumps(ALPACA_ARRAY, ensure_ascii=False, indent=1), "utf-8")
    (root / "alpaca" / "notes.txt").write_text("not a record file", "utf-8")  # unknown_format
    (root / "alpaca" / "_SUCCESS").write_bytes(b"")  # hidden
    (root / "alpaca" / "empty.jsonl").write_bytes(b"")  # empty
    (root / "alpaca" / "blank.jsonl").write_bytes(b"\n\n")  # no_records
    (root / "qa").mkdir()
    (root / "qa" / "chatbot.csv").write_bytes(QA_CSV)
    (root / "pref").mkdir()
    pq.write_table(
        pa.table({
            "prompt": [KO_Q, EN_Q, EN_Q2], "chosen": [KO_A, EN_A, EN_A2],
            "rejected": ["모르겠어요.", "No idea.", EN_A2],
            "score_chosen": [8.0, 7.5, 5.0], "score_rejected": [2.0, 1.0, 5.0],
        }),
        root / "pref" / "pairs.parquet",
    )  # fmt: skip  # the third row: chosen_equals_rejected
    pq.write_table(
        pa.table({"prompt": [EN_Q2.encode(), b"caf\xe9?"], "chosen": [EN_A2.encode(), b"yes"],
                  "rejected": [b"Never.", b"no"]}),
        root / "pref" / "binary.parquet",
    )  # fmt: skip  # binary columns: the second row is not UTF-8 (invalid_utf8 from the kernel)
    (root / "pref_implicit").mkdir()
    (root / "pref_implicit" / "imp.jsonl").write_bytes(_lines(PREF_IMPLICIT))
    (root / "hh").mkdir()
    (root / "hh" / "hh.jsonl").write_bytes(_lines(HH))
    (root / "rated").mkdir()
    (root / "rated" / "rated.jsonl").write_bytes(_lines(RATED))
    return [
        PosttrainSource(name="msgs", path=str(root / "messages"), layout={"layout": "messages", "max_chars": 2000}),
        PosttrainSource(name="sg", path=str(root / "sharegpt"), layout={"layout": "sharegpt"}),
        PosttrainSource(name="alpaca", path=str(root / "alpaca"), layout={"layout": "alpaca"}),
        PosttrainSource(name="qa", path=str(root / "qa"), layout={"layout": "qa"}),
        PosttrainSource(name="pref", path=str(root / "pref"), layout={"layout": "preference"}),
        PosttrainSource(name="implicit", path=str(root / "pref_implicit"), layout={"layout": "preference"}),
        PosttrainSource(name="hh", path=str(root / "hh"), layout={"layout": "hh", "id_field": "id"}),
        PosttrainSource(name="rated", path=str(root / "rated"), layout={"layout": "rated", "rule": "all_pairs"}),
    ]


# what ingest makes of each source: records read / accepted, rows written per table, quarantined per reason
EXPECTED = {
    "msgs": {
        "read": 21 + 3, "accepted": 7 + 2, "conversations": 9,
        "quarantined": {"unknown_role": 1, "roles_out_of_order": 1, "no_final_assistant_turn": 1, "empty_prompt": 1,
                        "empty_assistant_turn": 1, "missing_field": 1, "wrong_type": 2, "too_long": 1,
                        "invalid_json": 1, "invalid_utf8": 2, "blank_line": 1, "duplicate_record_key": 1,
                        "corrupt_file": 1},
    },
    "sg": {"read": 3, "accepted": 2, "conversations": 2, "quarantined": {"unknown_role": 1}},
    "alpaca": {"read": 6, "accepted": 4, "conversations": 4, "quarantined": {"empty_prompt": 1, "unknown_format": 1}},
    "qa": {"read": 5, "accepted": 2, "conversations": 2,
           "quarantined": {"corrupt_record": 1, "invalid_utf8": 1, "empty_assistant_turn": 1}},
    "pref": {"read": 5, "accepted": 3, "pairs": 3, "quarantined": {"chosen_equals_rejected": 1, "invalid_utf8": 1}},
    "implicit": {"read": 2, "accepted": 2, "pairs": 2, "quarantined": {}},
    "hh": {"read": 3, "accepted": 2, "pairs": 2, "quarantined": {"unparseable_hh": 1}},
    "rated": {"read": 4, "accepted": 2, "pairs": 3 + 2, "quarantined": {"no_pairs": 1, "duplicate_record_key": 1},
              "duplicate_items": 1},
}  # fmt: skip
# rejected by posttrain_normalize: EMPTY_AFTER (msgs) and the entity pair (implicit)
EXPECTED_NORMALIZE_REJECTED = {"empty_assistant_turn": 1, "chosen_equals_rejected": 1}
SKIPPED = {
    ("alpaca", "_SUCCESS"): "hidden", ("alpaca", "empty.jsonl"): "empty", ("alpaca", "blank.jsonl"): "no_records",
}  # fmt: skip


# ------------------------------------------------------------------------------------------------ running the jobs


@dataclass
class PosttrainRun:
    workdir: str
    cfg: object  # spark_jobs.config.JobsConfig
    ingest: object  # core.stats.StageStats
    normalize: object

    def copy_to(self, path: Path) -> str:
        """A private copy of the workdir (Delta tables are plain folders) to write into."""
        shutil.copytree(self.workdir, path)
        return str(path)


def run_jobs(spark, workdir: str, sources, **posttrain) -> PosttrainRun:
    from core.job import JobContext
    from spark_jobs.config import JobsConfig
    from spark_jobs.posttrain import ingest, normalize

    posttrain.setdefault("ingest", {"tasks_per_core": 1})  # tiny files: fewer tasks, less Python start-up
    cfg = JobsConfig(workdir=workdir, posttrain={"sources": [s.model_dump() for s in sources], **posttrain})
    ctx = JobContext(cfg=cfg, spark_factory=lambda: spark)
    return PosttrainRun(workdir, cfg, ingest.JOB(ctx), normalize.JOB(ctx))


@pytest.fixture(scope="session")
def posttrain_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("posttrain") / "in"
    return root, write_corpus(root)


@pytest.fixture(scope="session")
def posttrain_workdir(spark, posttrain_files, tmp_path_factory) -> PosttrainRun:
    _root, sources = posttrain_files
    workdir = tmp_path_factory.mktemp("posttrain_workdir") / "wd"
    return run_jobs(spark, str(workdir), sources)


@pytest.fixture(scope="session")
def run_posttrain(spark):
    return lambda workdir, sources, **posttrain: run_jobs(spark, str(workdir), sources, **posttrain)
