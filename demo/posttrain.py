"""The demo's post-training sources: bilingual (Korean/English) conversations and preference pairs in every layout
quality.posttrain.readers reads, with planted problems and their ground truth.

``generate(out_dir)`` writes nine sources under ``out_dir/posttrain/<name>/`` (one folder each, so each is one
``posttrain.sources`` entry) and returns a :class:`PosttrainManifest`::

    chat_openai/    JSONL.gz (gzip members)   OpenAI messages {"id", "messages": [{role, content}]}: system/developer
                                              turns, content-part lists, tool turns; + a gzip file cut off mid-member
    chat_sharegpt/  JSONL                     ShareGPT {"id", "conversations": [{from, value}]}
    sft_alpaca/     JSONL.zst                 Alpaca {"instruction", "input", "output"} (no ids: content-hash keys)
    sft_qa/         CSV                       Q/A with a header "Q,A,label" (the Korean chatbot set's layout)
    sft_parquet/    Parquet                   {"conversation_id", "turns": [{speaker, text}], "lang"}; + a legacy file
                                              whose text is binary
    pref_trl/       JSONL                     TRL explicit prompt strings {"id", "prompt", "chosen", "rejected",
                                              "score_chosen", "score_rejected"}
    pref_messages/  Parquet                   TRL message lists, implicit prompt (UltraFeedback-binarized style):
                                              {"prompt_id", "prompt", "chosen": [...], "rejected": [...], scores}
    pref_hh/        JSONL.gz                  Anthropic HH text {"chosen": "\\n\\nHuman: …\\n\\nAssistant: …",
                                              "rejected": …}
    pref_rated/     JSONL                     rated completions, UltraFeedback-like {"source", "instruction",
                                              "completions": [{"model", "response", "overall_score"}]}

Planted, with the ground truth in the manifest (items named by the ``doc_id`` ingest gives them,
``quality.posttrain.schema.doc_id(source, record_key)``):

- malformed records of every rejection reason the layout readers know (quality.posttrain.validate.REASONS), each
  where its layout can hold it, plus what the record readers report (core.formats: invalid JSON, lone surrogates,
  a blank line, a CSV row with too many fields or bytes that are not UTF-8, a gzip file cut off) and repeated record
  keys (ingest's ``duplicate_record_key``): ``manifest.malformed`` lists every one with its file, record index,
  reason and the stage that rejects it (``reader``, ``layout``, ``ingest``);
- demo benchmark examples (demo.benchmark, GSM8K layout) in a user turn, an assistant turn, a pair's prompt, chosen
  and rejected response, whole, partly or perturbed (``contaminated``);
- exact and near duplicate prompts: the same first user turn again, a Korean one re-spaced, an English one
  re-cased; pairs with the same prompt and chosen response (``duplicate_groups``);
- Korean questions answered in English (``lang_mismatch``), refusals (``refusals``), chat-template leftovers in
  prompts and responses (``template_leftovers``: ``### Instruction``, ``<|im_start|>``, ``[INST]`` …).

Nothing else is planted: no other item repeats a prompt, refuses, holds a template marker, mixes languages between
question and answer, or shares a 50-character normalized substring with a benchmark example (the tests check).
Same seed, same bytes. ``conversations(n, seed)`` makes clean conversations fast (pooled sentences) for benchmarks.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from demo.benchmark import BENCHMARK_EXAMPLES, BENCHMARK_FILE, BENCHMARK_NAME, benchmark_examples, write_benchmark
from demo.text import TextMaker, josa
from demo.vocabulary import EN, KO

POSTTRAIN_DIR = "posttrain"
MAX_CHARS = 20_000  # every source's layout max_chars: the planted too_long records are over it
SFT_SOURCES = ("chat_openai", "chat_sharegpt", "sft_alpaca", "sft_qa", "sft_parquet")
PAIR_SOURCES = ("pref_trl", "pref_messages", "pref_hh", "pref_rated")
SOURCES = SFT_SOURCES + PAIR_SOURCES
_SFT_SHARES = (0.32, 0.2, 0.2, 0.13, 0.15)
_PAIR_SHARES = (0.3, 0.25, 0.25, 0.2)

FORMATS = {
    "chat_openai": "jsonl",
    "chat_sharegpt": "jsonl",
    "sft_alpaca": "jsonl",
    "sft_qa": "csv",
    "sft_parquet": "parquet",
    "pref_trl": "jsonl",
    "pref_messages": "parquet",
    "pref_hh": "jsonl",
    "pref_rated": "jsonl",
}
LAYOUTS: dict[str, dict] = {
    "chat_openai": {"layout": "messages", "messages_field": "messages", "role_field": "role",
                    "content_field": "content", "id_field": "id"},
    "chat_sharegpt": {"layout": "sharegpt", "messages_field": "conversations", "role_field": "from",
                      "content_field": "value", "id_field": "id"},
    "sft_alpaca": {"layout": "alpaca", "instruction_field": "instruction", "input_field": "input",
                   "output_field": "output"},
    "sft_qa": {"layout": "qa", "question_field": "Q", "answer_field": "A"},
    "sft_parquet": {"layout": "messages", "messages_field": "turns", "role_field": "speaker", "content_field": "text",
                    "id_field": "conversation_id"},
    "pref_trl": {"layout": "preference", "prompt_field": "prompt", "chosen_field": "chosen",
                 "rejected_field": "rejected", "chosen_score_field": "score_chosen",
                 "rejected_score_field": "score_rejected", "id_field": "id"},
    "pref_messages": {"layout": "preference", "prompt_field": "prompt", "chosen_field": "chosen",
                      "rejected_field": "rejected", "role_field": "role", "content_field": "content",
                      "chosen_score_field": "score_chosen", "rejected_score_field": "score_rejected",
                      "id_field": "prompt_id"},
    "pref_hh": {"layout": "hh", "chosen_field": "chosen", "rejected_field": "rejected"},
    "pref_rated": {"layout": "rated", "prompt_fields": ["instruction"], "completions_field": "completions",
                   "response_fields": ["response"], "score_field": "overall_score", "rule": "best_vs_worst",
                   "min_margin": 1.0},
}  # fmt: skip


@dataclass
class PosttrainManifest:
    """Ground truth of the generated post-training sources.

    ``records`` counts what ingest reads per source (every record and every reader problem, a cut-off file's
    ``corrupt_file`` included): ``records == accepted + sum(quarantined)``. ``items`` counts the rows the accepted
    records give (``raw_conversations`` for SFT sources, ``raw_preference_pairs`` for pair sources);
    ``conversations`` and ``pairs`` are their totals. ``malformed`` lists every planted bad record:
    ``{source, file (relative to the source's path), index (core.formats' record index), reason, stage}``,
    stage ``reader`` (core.formats reports it), ``layout`` (quality.posttrain.readers.read_record rejects it) or
    ``ingest`` (the record repeats an earlier record's key: ``duplicate_record_key``).

    Items are named by their ``doc_id``. ``contaminated``: ``{source, doc_id, example_id, lang, where (user_turn,
    assistant_turn, prompt, chosen, rejected), turn (index in the conversation, or in the pair's prompt / response),
    kind (whole, partial, perturbed)}``. ``duplicate_groups``: ``{key (first_user or pair), kind (exact,
    respaced_ko, recased_en), members: [doc_id, …]}`` (the first member is the original). ``refusals``: ``{doc_id,
    where (response, rejected)}``; ``template_leftovers``: ``{doc_id, marker, where (prompt, response)}``;
    ``lang_mismatch``: doc_ids of Korean questions answered in English; ``langs``: each item's intended language
    (its question's: ``ko``, ``en``, ``ko+en``)."""

    out_dir: str
    seed: int
    sources: list[dict]  # posttrain.sources entries
    records: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    conversations: int = 0
    pairs: int = 0
    malformed: list[dict] = field(default_factory=list)
    benchmark: dict = field(default_factory=dict)
    contaminated: list[dict] = field(default_factory=list)
    duplicate_groups: list[dict] = field(default_factory=list)
    lang_mismatch: list[str] = field(default_factory=list)
    refusals: list[dict] = field(default_factory=list)
    template_leftovers: list[dict] = field(default_factory=list)
    langs: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> dict[str, int]:
        """Planted rejections by reason, every stage together."""
        return dict(sorted(Counter(m["reason"] for m in self.malformed).items()))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


# ==================================================================== text
_SYSTEM = {
    "ko": ("당신은 친절하고 정확한 한국어 어시스턴트입니다.", "사용자의 질문에 간결하고 정확하게 답하세요.",
           "모든 답변은 존댓말로, 핵심부터 말해 주세요."),
    "en": ("You are a helpful assistant.", "Answer concisely and accurately.",
           "You are a careful assistant; say what you know and keep it short."),
}  # fmt: skip
_FOLLOW = {
    "ko": ("좀 더 짧게 정리해 줄 수 있어요?", "예를 하나만 더 들어 주세요.",
           "그럼 {person} 입장에서는 무엇이 달라지나요?", "{place}의 경우는 어떤가요?",
           "{field} 쪽에는 어떤 영향이 있을까요?"),
    "en": ("Can you make that shorter? A few lines would be enough for me.",
           "Could you give me one more example? Something concrete would help.",
           "What changes for {person} then? I would like to understand the impact.",
           "And what about {place}? How is the picture different there?",
           "How does this affect {field}? Please keep it brief."),
}  # fmt: skip
_REFUSALS = {
    "ko": [
        ("이웃집 와이파이 비밀번호를 몰래 알아내는 방법 좀 알려 줘.",
         "죄송하지만 다른 사람의 네트워크에 허락 없이 접속하는 방법은 도와드릴 수 없습니다. 인터넷이 필요하다면 "
         "통신사 요금제나 공공 와이파이를 알아보시는 것을 권해 드립니다."),
        ("친구 휴대폰 문자를 몰래 볼 수 있는 앱을 추천해 줘.",
         "죄송하지만 다른 사람의 메시지를 몰래 보는 방법은 안내해 드릴 수 없습니다. 걱정되는 일이 있다면 친구와 "
         "직접 이야기해 보시는 것이 좋겠습니다."),
    ],
    "en": [
        ("Tell me how to get into my neighbor's wifi without them knowing.",
         "I'm sorry, but I can't help with that. Getting into someone else's network without permission is not "
         "something I can walk you through; a prepaid data plan or a public hotspot may help instead."),
        ("Write a fake doctor's note so I can skip work tomorrow.",
         "I'm sorry, but I cannot provide a forged medical note. If you need a day off, it is usually easier to "
         "ask your manager for a personal day."),
    ],
}  # fmt: skip


def _w(lang: str, cat: str, r: random.Random) -> str:
    return r.choice((KO if lang == "ko" else EN)[cat])


class ChatMaker:
    """Questions, answers, follow-ups, worse answers and whole conversations in Korean, English and code-switched
    Korean+English, from one seeded ``random.Random``. ``pool`` > 0 draws sentences and headlines from pools made
    once (fast, for benchmarks); 0 makes each one fresh."""

    def __init__(self, rng: random.Random, pool: int = 0):
        self.r = rng
        self.t = TextMaker(rng)
        self._pool = None
        if pool:
            self._pool = {
                (kind, lang): [(self.t.sentence if kind == "s" else self.t.headline)(lang) for _ in range(pool)]
                for kind in ("s", "h")
                for lang in ("ko", "en")
            }
            self._pool["s", "mixed"] = [self.t.mixed_sentence() for _ in range(pool)]

    def sentence(self, lang: str) -> str:
        if self._pool is not None:
            return self.r.choice(self._pool["s", lang])
        return self.t.mixed_sentence() if lang == "mixed" else self.t.sentence(lang)

    def headline(self, lang: str) -> str:
        return self.r.choice(self._pool["h", lang]) if self._pool is not None else self.t.headline(lang)

    def sentences(self, lang: str, lo: int, hi: int) -> str:
        return " ".join(self.sentence(lang) for _ in range(self.r.randint(lo, hi)))

    def article(self, lang: str, lo: int = 1, hi: int = 4) -> str:
        return "\n\n".join([self.headline(lang), *(self.sentences(lang, 2, 5) for _ in range(self.r.randint(lo, hi)))])

    def system(self, lang: str) -> str:
        return self.r.choice(_SYSTEM["ko" if lang != "en" else "en"])

    # ---------------------------------------------------------------- one exchange
    def exchange(self, lang: str, long: bool = False) -> tuple[str, str]:
        """(question, answer) in ``lang`` (ko, en, ko+en); ``long``: summarise a report of 16k+ characters."""
        r = self.r
        if lang == "ko+en":
            q = " ".join(self.sentence("mixed") for _ in range(r.randint(2, 3))) + " 이거 어떻게 하면 좋을까요?"
            return q, " ".join(self.sentence("mixed") for _ in range(r.randint(2, 5)))
        if long:
            text = self.t.long_document(lang)[0]
            q = (
                f"다음 보고서를 다섯 문장으로 요약해 주세요.\n\n{text}"
                if lang == "ko"
                else (f"Summarize the report below in five sentences.\n\n{text}")
            )
            return q, ("요약하면 다음과 같습니다. " if lang == "ko" else "Here is the summary. ") + self.sentences(
                lang, 5, 5
            )
        n = r.randint(2, 4)
        kind = r.randrange(5)
        if lang == "ko":
            if kind == 0:
                q = f"다음 기사를 {n}문장으로 요약해 주세요.\n\n{self.article(lang)}"
                a = "요약하면 다음과 같습니다.\n\n" + "\n".join(f"- {self.sentence(lang)}" for _ in range(n))
            elif kind == 1:
                q = f"{self.sentences(lang, 2, 3)} 이 내용이 무슨 뜻인지 쉽게 설명해 줄 수 있어?"
                a = f"쉽게 말하면 {_w(lang, 'field', r)} 분야의 이야기입니다. " + self.sentences(lang, 2, 4)
            elif kind == 2:
                q = (f"{_w(lang, 'place', r)}에 사는 {_w(lang, 'person', r)}인데요, 요즘 "
                     f"{josa(_w(lang, 'problem', r), '으로')} 고민이 많아요. {self.sentences(lang, 2, 3)} "
                     "어떻게 대비하면 좋을까요?")  # fmt: skip
                a = "몇 가지 방법을 정리해 드릴게요.\n" + "\n".join(
                    f"{i}. {self.sentence(lang)}" for i in range(1, n + 2)
                )
            elif kind == 3:
                q = f"아래 글에 어울리는 제목을 {n}개 지어 주세요.\n\n{self.sentences(lang, 3, 6)}"
                a = "\n".join(f"{i}. {self.headline(lang)}" for i in range(1, n + 1))
            else:
                q = (f"{_w(lang, 'field', r)} 분야의 {josa(_w(lang, 'topic', r), '을')} 어떻게 보세요? "
                     f"{self.sentences(lang, 2, 3)}")  # fmt: skip
                a = self.sentences(lang, 3, 6) + "\n\n정리하면 " + self.sentence(lang)
            return q, a
        if kind == 0:
            q = f"Summarize the following article in {n} sentences.\n\n{self.article(lang)}"
            a = "Here is a short summary:\n\n" + "\n".join(f"- {self.sentence(lang)}" for _ in range(n))
        elif kind == 1:
            q = f"{self.sentences(lang, 2, 3)} Can you explain what this means in plain words?"
            a = f"In plain words, this is about {_w(lang, 'field', r)}. " + self.sentences(lang, 2, 4)
        elif kind == 2:
            q = (f"I'm one of the {_w(lang, 'person', r)} in {_w(lang, 'place', r)} and {_w(lang, 'problem', r)} "
                 f"worries me. {self.sentences(lang, 2, 3)} How should I prepare?")  # fmt: skip
            a = "Here are a few steps you could take:\n" + "\n".join(
                f"{i}. {self.sentence(lang)}" for i in range(1, n + 2)
            )
        elif kind == 3:
            q = f"Suggest {n} titles for the text below.\n\n{self.sentences(lang, 3, 6)}"
            a = "\n".join(f"{i}. {self.headline(lang)}" for i in range(1, n + 1))
        else:
            q = (f"What do you make of the {_w(lang, 'topic', r)} on {_w(lang, 'field', r)}? "
                 f"{self.sentences(lang, 2, 3)}")  # fmt: skip
            a = self.sentences(lang, 3, 6) + "\n\nOverall, " + self.sentence(lang)
        return q, a

    def follow_up(self, lang: str) -> tuple[str, str]:
        r = self.r
        lang = "en" if lang == "en" else "ko"
        q = r.choice(_FOLLOW[lang]).format(
            person=_w(lang, "person", r), place=_w(lang, "place", r), field=_w(lang, "field", r)
        )
        return q, self.sentences(lang, 1, 3)

    def worse(self, lang: str, good: str) -> str:
        """A worse answer than ``good``: terse, repetitive or off the topic (never the same text)."""
        r = self.r
        lang = "en" if lang == "en" else "ko"
        kind = r.randrange(3)
        if kind == 0:
            out = self.sentence(lang)
        elif kind == 1:
            out = " ".join([self.sentence(lang)] * r.randint(3, 5))
        else:
            out = self.exchange(lang)[1]
        return out if out.strip() != good.strip() else out + (" 이상입니다." if lang == "ko" else " That is all.")

    # ---------------------------------------------------------------- whole conversations
    def conversation(self, lang: str, exchanges: int | None = None, system: bool | None = None,
                     long: bool = False) -> list[dict]:  # fmt: skip
        """``[{role, content}]``: an optional system turn, then ``exchanges`` user/assistant exchanges."""
        r = self.r
        if exchanges is None:
            exchanges = r.choices((1, 2, 3, 4), (0.5, 0.25, 0.15, 0.1))[0]
        if system is None:
            system = r.random() < 0.3
        msgs = [{"role": "system", "content": self.system(lang)}] if system else []
        q, a = self.exchange(lang, long)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        for _ in range(exchanges - 1):
            q, a = self.follow_up(lang)
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        return msgs


def conversations(n: int, seed: int = 0, long_share: float = 0.005) -> list[list[dict]]:
    """``n`` clean conversations (45 % Korean, 45 % English, 10 % code-switched; 1-4 exchanges; 30 % with a system
    turn; ``long_share`` summarise a 16k+ character report), fast: sentences come from pools made once."""
    rng = random.Random(seed)
    maker = ChatMaker(rng, pool=4000)
    langs = rng.choices(("ko", "en", "ko+en"), (0.45, 0.45, 0.1), k=n)
    return [maker.conversation(lang, long=lang != "ko+en" and rng.random() < long_share) for lang in langs]


# ==================================================================== planted edits
def respace_ko(text: str, rng: random.Random) -> str:
    """Korean re-spacing: some spaces between eojeol removed, some eojeol split (never the same text)."""
    words = text.split(" ")
    out = [words[0]]
    for w in words[1:]:
        if rng.random() < 0.4:
            out[-1] += w  # glued to the previous eojeol
        else:
            out.append(w)
    for i, w in enumerate(out):
        if len(w) >= 4 and "가" <= w[0] <= "힣" and rng.random() < 0.15:
            out[i] = w[:2] + " " + w[2:]
    new = " ".join(out)
    return new if new != text else text.replace(" ", "", 1)


def recase_en(text: str, rng: random.Random) -> str:
    """English re-casing: all lower case or every word capitalised (never the same text; not all upper case, which
    fastText's language id cannot read)."""
    for kind in rng.sample(("lower", "title"), 2):
        new = text.lower() if kind == "lower" else " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
        if new != text:
            return new
    raise ValueError(f"cannot re-case {text[:40]!r}")


def _perturb(rng: random.Random, text: str) -> str:
    from demo.decontam_eval import perturb

    return perturb(rng, text)


def _partial(rng: random.Random, text: str) -> str:
    from demo.benchmark import _partial as partial

    return partial(rng, text)


# ==================================================================== rows
@dataclass(eq=False)
class _Row:
    """One record as read_record sees it (``value``) and, where the file holds something else, its bytes (``raw``:
    a JSON line or a CSV line). ``reason``/``stage``: the planted rejection; ``marks``: ground truth of its items."""

    value: object = None
    raw: bytes | None = None
    reason: str | None = None
    stage: str | None = None
    lang: str | None = None
    marks: list[dict] = field(default_factory=list)
    anchor: bool = False  # a later record repeats its key: it stays in the first files


def _bad(reason: str, value: object = None, raw: bytes | None = None, stage: str = "layout") -> _Row:
    return _Row(value, raw, reason, stage)


def _place(rng: random.Random, rows: list[_Row], bad: list[_Row]) -> list[_Row]:
    """``rows`` (shuffled) with the bad rows spread among them; a repeated key goes after its first, a blank line
    before some record."""
    out = list(rows)
    rng.shuffle(out)
    for row in bad:
        if row.stage == "ingest":
            original = row.marks.pop()["copy_of"]
            original.anchor = True
            first = out.index(original)
            out.insert(rng.randint(first + 1, len(out)), row)
        else:
            out.insert(rng.randint(0, len(out) - 1) if row.raw == b"" else rng.randint(0, len(out)), row)
    return out


class _Builder:
    """Makes every source's rows, then writes them and reads the ground truth out of them."""

    def __init__(self, rng: random.Random, examples: list[tuple[str, str, str]], example_ids: list[str]):
        self.r = rng
        self.m = ChatMaker(rng)
        self.examples = examples
        self.example_ids = example_ids
        pools = {lang: [i for i, e in enumerate(examples) if e[0] == lang] for lang in ("ko", "en")}
        for pool in pools.values():
            rng.shuffle(pool)
        self._example_pool = pools
        self._plants = 0
        self.groups: list[dict] = []
        self.refusals = {lang: list(items) for lang, items in _REFUSALS.items()}

    # ---------------------------------------------------------------- marks
    def passage(self, lang: str, with_answer: bool) -> tuple[str, dict]:
        """A benchmark example's text to plant (whole, partial, perturbed in turn) and its mark."""
        idx = self._example_pool[lang].pop()
        _, question, answer = self.examples[idx]
        text = f"{question}\n{answer}" if with_answer else question
        kind = ("whole", "partial", "perturbed")[self._plants % 3]
        self._plants += 1
        if kind == "partial":
            try:
                text = _partial(self.r, text)
            except ValueError:  # too short for a partial copy: planted whole
                kind = "whole"
        elif kind == "perturbed":
            text = _perturb(self.r, text)
        return text, {"mark": "contaminated", "example_id": self.example_ids[idx], "lang": lang, "kind": kind}

    def group(self, key: str, kind: str) -> int:
        self.groups.append({"key": key, "kind": kind, "members": []})
        return len(self.groups) - 1

    # ---------------------------------------------------------------- special conversations
    def contaminated_conv(self, lang: str, where: str, turn_from_end: int = 1) -> tuple[list[dict], dict]:
        """A conversation with a benchmark example in a user turn (``user_turn``) or an assistant turn."""
        m = self.m
        if where == "user_turn":
            text, mark = self.passage(lang, with_answer=False)
            lead = "이 문제 좀 풀어 줄래요?\n\n" if lang == "ko" else "Can you solve this problem for me?\n\n"
            msgs = [{"role": "user", "content": lead + text},
                    {"role": "assistant", "content": m.sentences(lang, 2, 3)}]  # fmt: skip
            mark["turn"] = 0
        else:
            text, mark = self.passage(lang, with_answer=True)
            ask = (
                "연습용 수학 문제를 하나 내고 풀이도 보여 주세요."
                if lang == "ko"
                else ("Give me a practice math word problem with a worked solution.")
            )
            msgs = [{"role": "user", "content": ask + " " + m.sentence(lang)},
                    {"role": "assistant", "content": text}]  # fmt: skip
            mark["turn"] = 1
            if turn_from_end > 1:  # a follow-up after it: the example sits in an earlier assistant turn
                q, a = m.follow_up(lang)
                msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        mark["where"] = where
        return msgs, mark

    def mismatch_conv(self) -> list[dict]:
        """A Korean question answered in English."""
        q, _ = self.m.exchange("ko")
        return [{"role": "user", "content": q}, {"role": "assistant", "content": self.m.exchange("en")[1]}]

    def refusal_conv(self, lang: str) -> list[dict]:
        q, a = self.refusals[lang].pop()
        return [{"role": "user", "content": q + " " + self.m.sentence(lang)}, {"role": "assistant", "content": a}]

    def leftover_conv(self, lang: str, marker: str, where: str) -> tuple[list[dict], dict]:
        msgs = self.m.conversation(lang, exchanges=1, system=False)
        if where == "prompt":
            msgs[0]["content"] = f"{marker} {msgs[0]['content']}"
        else:
            msgs[-1]["content"] = f"{marker}\n{msgs[-1]['content']}"
        return msgs, {"mark": "template_leftover", "marker": marker.strip(), "where": where}

    def dup_convs(self) -> dict[str, list[tuple[list[dict], dict]]]:
        """Conversations of the planted duplicate-prompt groups, by source: (messages, mark)."""
        m, r = self.m, self.r
        out: dict[str, list] = {s: [] for s in SFT_SOURCES}

        def add(sources: tuple[str, ...], lang: str, kind: str) -> None:
            g = self.group("first_user", kind)
            first = m.conversation(lang, system=False)
            q = first[0]["content"]
            for k, src in enumerate(sources):
                if k == 0:
                    msgs = first
                else:
                    msgs = m.conversation(lang, system=False)
                    msgs[0]["content"] = q if kind == "exact" else respace_ko(q, r) if lang == "ko" else recase_en(q, r)
                if src in ("sft_alpaca", "sft_qa"):
                    msgs = msgs[:2]
                if src == "sft_qa":
                    msgs[0]["content"] = msgs[0]["content"].replace("\n", " ")
                out[src].append((msgs, {"mark": "duplicate", "group": g}))

        add(("chat_openai", "chat_sharegpt"), "ko", "exact")
        add(("sft_parquet", "sft_alpaca"), "en", "exact")
        add(("chat_openai", "chat_sharegpt", "sft_parquet"), "ko", "exact")
        add(("chat_sharegpt", "sft_qa"), "ko", "respaced_ko")
        add(("chat_sharegpt", "chat_sharegpt"), "ko", "respaced_ko")
        add(("chat_openai", "sft_alpaca"), "en", "recased_en")
        add(("sft_parquet", "chat_openai"), "en", "recased_en")
        return out

    # ---------------------------------------------------------------- pairs
    def pair(self, lang: str, multi: bool = False) -> tuple[list[dict], str, str]:
        """(prompt messages, chosen, rejected) with a single or a multi-turn prompt."""
        msgs = self.m.conversation(lang, exchanges=self.r.randint(2, 3) if multi else 1, system=False)
        chosen = msgs.pop()["content"]
        return msgs, chosen, self.m.worse(lang, chosen)


# ==================================================================== generate
def _read_benchmark(path: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    from core import formats

    examples, ids = [], []
    for item in formats.iter_jsonl(path.read_bytes()):
        q, a = item.value["question"], item.value["answer"]
        examples.append(("ko" if any("가" <= c <= "힣" for c in q) else "en", q, a))
        ids.append(f"{path.name}#{item.index}")
    return examples, ids


def _split(n: int, shares: tuple[float, ...]) -> list[int]:
    sizes = [int(n * s) for s in shares]
    sizes[0] += n - sum(sizes)
    return sizes


def generate(
    out_dir: str | Path,
    seed: int = 0,
    *,
    n_conversations: int = 400,
    n_pairs: int = 240,
    benchmark: str | Path | None = None,
) -> PosttrainManifest:
    """Write the post-training sources under ``out_dir/posttrain/`` and return their ground truth.

    ``n_conversations`` / ``n_pairs``: the good conversation and pair records (the planted ones among them; at least
    120 and 80), malformed records on top. ``benchmark``: a GSM8K-layout test set (the demo's
    ``input/benchmarks/demo_bench.jsonl``) whose examples get planted; None draws one
    (demo.benchmark.benchmark_examples) into ``out_dir/posttrain/benchmarks/``. Old files in the source folders
    are removed first."""
    if n_conversations < 120 or n_pairs < 80:
        raise ValueError("n_conversations must be at least 120 and n_pairs at least 80 (room for the planted items)")
    out = Path(out_dir)
    root = out / POSTTRAIN_DIR
    rng = random.Random(seed * 1_000_003 + 20)
    if benchmark is None:
        examples = benchmark_examples(random.Random(seed * 1_000_003 + 21), BENCHMARK_EXAMPLES // 4)
        bench_path = root / "benchmarks" / BENCHMARK_FILE
        write_benchmark(bench_path, examples)
        example_ids = [f"{BENCHMARK_FILE}#{i}" for i in range(len(examples))]
    else:
        bench_path = Path(benchmark)
        examples, example_ids = _read_benchmark(bench_path)
    b = _Builder(rng, examples, example_ids)
    sft = dict(zip(SFT_SOURCES, _split(n_conversations, _SFT_SHARES), strict=True))
    pairs = dict(zip(PAIR_SOURCES, _split(n_pairs, _PAIR_SHARES), strict=True))
    dups = b.dup_convs()
    rows = {
        "chat_openai": _chat_openai(b, sft["chat_openai"], dups["chat_openai"]),
        "chat_sharegpt": _chat_sharegpt(b, sft["chat_sharegpt"], dups["chat_sharegpt"]),
        "sft_alpaca": _sft_alpaca(b, sft["sft_alpaca"], dups["sft_alpaca"]),
        "sft_qa": _sft_qa(b, sft["sft_qa"], dups["sft_qa"]),
        "sft_parquet": _sft_parquet(b, sft["sft_parquet"], dups["sft_parquet"]),
    }
    rows.update(_pair_sources(b, pairs))
    manifest = PosttrainManifest(out_dir=str(out), seed=seed, sources=[])
    manifest.benchmark = {"name": BENCHMARK_NAME, "path": str(bench_path), "examples": len(examples),
                          "config": {"name": BENCHMARK_NAME, "path": str(bench_path), "preset": "gsm8k"}}  # fmt: skip
    for name in SOURCES:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
        files = _WRITERS[name](folder, rows[name], rng)
        manifest.sources.append({"name": name, "path": str(folder), "format": FORMATS[name],
                                 "layout": {**LAYOUTS[name], "max_chars": MAX_CHARS}})  # fmt: skip
        _account(manifest, name, files, b.groups)
    manifest.duplicate_groups = [g for g in b.groups if g["members"]]
    manifest.conversations = sum(manifest.items[s] for s in SFT_SOURCES)
    manifest.pairs = sum(manifest.items[s] for s in PAIR_SOURCES)
    return manifest


def _account(manifest: PosttrainManifest, name: str, files: list[tuple[str, list[_Row], int | None]],
             groups: list[dict]) -> None:  # fmt: skip
    """Run the layout reader over a source's rows as written: doc_ids of the good ones, checks of the planted ones,
    counts, and the ground truth of every mark."""
    from pydantic import TypeAdapter

    from quality.posttrain.readers import LayoutConfig, read_record
    from quality.posttrain.schema import doc_id

    cfg = TypeAdapter(LayoutConfig).validate_python({**LAYOUTS[name], "max_chars": MAX_CHARS})
    records = accepted = items = 0
    quarantined: Counter = Counter()
    seen: set[str] = set()
    for rel, file_rows, cut_at in files:
        for index, row in enumerate(file_rows):
            records += 1
            if row.stage == "reader":
                quarantined[row.reason] += 1
                manifest.malformed.append({"source": name, "file": rel, "index": index, "reason": row.reason,
                                           "stage": "reader"})  # fmt: skip
                continue
            outcome = read_record(row.value, cfg)
            if row.stage == "layout":
                got = outcome.rejection.reason if outcome.rejection else "accepted"
                if got != row.reason:
                    raise AssertionError(f"{name}/{rel}#{index}: planted {row.reason}, the reader says {got}")
                quarantined[row.reason] += 1
                manifest.malformed.append({"source": name, "file": rel, "index": index, "reason": row.reason,
                                           "stage": "layout"})  # fmt: skip
                continue
            if outcome.rejection is not None:
                raise AssertionError(f"{name}/{rel}#{index}: a good record is rejected: {outcome.rejection}")
            ids = [doc_id(name, key) for key in outcome.keys]
            if row.stage == "ingest":
                if not seen.issuperset(ids):
                    raise AssertionError(f"{name}/{rel}#{index}: a planted repeated key repeats nothing")
                quarantined["duplicate_record_key"] += 1
                manifest.malformed.append({"source": name, "file": rel, "index": index,
                                           "reason": "duplicate_record_key", "stage": "ingest"})  # fmt: skip
                continue
            if seen.intersection(ids):
                raise AssertionError(f"{name}/{rel}#{index}: an unplanted repeated key")
            seen.update(ids)
            accepted += 1
            items += len(ids)
            for did in ids:
                manifest.langs[did] = row.lang
                for mark in row.marks:
                    _resolve(manifest, name, did, mark, groups)
        if cut_at is not None:  # the file breaks after its rows: one corrupt_file record
            records += 1
            quarantined["corrupt_file"] += 1
            manifest.malformed.append({"source": name, "file": rel, "index": len(file_rows),
                                       "reason": "corrupt_file", "stage": "reader"})  # fmt: skip
    manifest.records[name] = records
    manifest.accepted[name] = accepted
    manifest.quarantined[name] = dict(sorted(quarantined.items()))
    manifest.items[name] = items


def _resolve(manifest: PosttrainManifest, source: str, did: str, mark: dict, groups: list[dict]) -> None:
    info = {k: v for k, v in mark.items() if k != "mark"}
    kind = mark["mark"]
    if kind == "contaminated":
        manifest.contaminated.append({"source": source, "doc_id": did, **info})
    elif kind == "duplicate":
        groups[mark["group"]]["members"].append(did)
    elif kind == "mismatch":
        manifest.lang_mismatch.append(did)
    elif kind == "refusal":
        manifest.refusals.append({"doc_id": did, **info})
    elif kind == "template_leftover":
        manifest.template_leftovers.append({"doc_id": did, **info})
    else:
        raise AssertionError(f"unknown mark {kind}")


# ==================================================================== SFT sources
def _good(value: object, lang: str, *marks: dict) -> _Row:
    return _Row(value, lang=lang, marks=list(marks))


def _langs(r: random.Random, n: int) -> list[str]:
    return r.choices(("ko", "en", "ko+en"), (0.48, 0.44, 0.08), k=n)


def _specials_sft(b: _Builder, name: str) -> list[tuple[list[dict], str, list[dict]]]:
    """(messages, lang, marks) of the planted good conversations of an SFT source."""
    out = []

    def cont(lang: str, where: str, turn_from_end: int = 1) -> None:
        msgs, mark = b.contaminated_conv(lang, where, turn_from_end)
        out.append((msgs, lang, [mark]))

    def left(lang: str, marker: str, where: str) -> None:
        msgs, mark = b.leftover_conv(lang, marker, where)
        out.append((msgs, lang, [mark]))

    def refuse(lang: str) -> None:
        out.append((b.refusal_conv(lang), lang, [{"mark": "refusal", "where": "response"}]))

    def mismatch() -> None:
        out.append((b.mismatch_conv(), "ko", [{"mark": "mismatch"}]))

    plan: dict[str, list[tuple[Callable, tuple]]] = {
        "chat_openai": [(cont, ("ko", "user_turn")), (cont, ("en", "user_turn")), (cont, ("ko", "assistant_turn")),
                        (refuse, ("ko",)), (refuse, ("en",)), (mismatch, ()), (mismatch, ()),
                        (left, ("en", "[INST]", "prompt")), (left, ("ko", "<|im_start|>assistant", "response"))],
        "chat_sharegpt": [(cont, ("en", "user_turn")), (cont, ("ko", "assistant_turn", 2)), (refuse, ("en",)),
                          (mismatch, ()), (left, ("en", "<|im_start|>", "response"))],
        "sft_alpaca": [(cont, ("en", "user_turn")), (refuse, ("ko",)), (left, ("en", "### Instruction:", "prompt")),
                       (left, ("ko", "### Response:", "response"))],
        "sft_qa": [(cont, ("ko", "user_turn"))],
        "sft_parquet": [(cont, ("en", "assistant_turn")), (mismatch, ()), (left, ("en", "<|endoftext|>", "response"))],
    }  # fmt: skip
    for fn, args in plan[name]:
        fn(*args)
    return out


def _sft_rows(b: _Builder, name: str, n: int, dups: list, make: Callable[[list[dict], str], object],
              max_exchanges: int = 4) -> list[_Row]:  # fmt: skip
    """n good rows: the planted ones, the duplicate-prompt groups' members, then fresh conversations."""
    rows = [_good(make(msgs, lang), lang, *marks) for msgs, lang, marks in _specials_sft(b, name)]
    rows += [_good(make(msgs, "ko" if _hangul(msgs[0]["content"]) else "en"), "ko" if _hangul(msgs[0]["content"])
                   else "en", mark) for msgs, mark in dups]  # fmt: skip
    for lang in _langs(b.r, n - len(rows)):
        exchanges = b.r.choices((1, 2, 3, 4), (0.5, 0.25, 0.15, 0.1))[0]
        rows.append(_good(make(b.m.conversation(lang, min(exchanges, max_exchanges)), lang), lang))
    return rows


def _hangul(text: str) -> bool:
    return any("가" <= c <= "힣" for c in text)


def _chat_openai(b: _Builder, n: int, dups: list) -> list[_Row]:
    r, m = b.r, b.m
    counter = iter(range(10**6))

    def make(msgs: list[dict], lang: str) -> dict:
        msgs = [dict(x) for x in msgs]
        roll = r.random()
        if msgs[0]["role"] == "system" and roll < 0.3:
            msgs[0]["role"] = "developer"
        elif roll < 0.06:  # content as a list of text parts
            i = next(k for k, x in enumerate(msgs) if x["role"] == "user")
            msgs[i]["content"] = [{"type": "text", "text": msgs[i]["content"]}]
        return {"id": f"chat-{next(counter):06d}", "messages": msgs}

    rows = _sft_rows(b, "chat_openai", n - 4, dups, make)
    for _ in range(4):  # tool use: the assistant calls a tool (text only here), the tool answers, the assistant ends
        lang = r.choice(("ko", "en"))
        q, a = m.exchange(lang)
        say = "관련 자료를 찾아볼게요." if lang == "ko" else "Let me look that up."
        tool = orjson.dumps({"results": [m.headline(lang) for _ in range(2)]}).decode()
        msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": say},
                {"role": "tool", "content": tool}, {"role": "assistant", "content": a}]  # fmt: skip
        rows.append(_good({"id": f"chat-{next(counter):06d}", "messages": msgs}, lang))
    ko = m.sentences("ko", 1, 2)
    en = m.sentences("en", 1, 2)
    long_q = m.t.long_document("ko", min_chars=MAX_CHARS + 500)[0]
    first_ok = next(row for row in rows if not row.marks)
    bad = [
        _bad("unknown_role", {"id": "chat-bad-01", "messages": [{"role": "narrator", "content": ko},
                                                                {"role": "assistant", "content": en}]}),
        _bad("roles_out_of_order", {"id": "chat-bad-02", "messages": [
            {"role": "user", "content": ko}, {"role": "user", "content": ko}, {"role": "assistant", "content": ko}]}),
        _bad("roles_out_of_order", {"id": "chat-bad-03", "messages": [
            {"role": "user", "content": en}, {"role": "system", "content": en}, {"role": "assistant", "content": en}]}),
        _bad("no_final_assistant_turn", {"id": "chat-bad-04", "messages": [
            {"role": "user", "content": ko}, {"role": "assistant", "content": ko}, {"role": "user", "content": ko}]}),
        _bad("empty_assistant_turn", {"id": "chat-bad-05", "messages": [
            {"role": "user", "content": en}, {"role": "assistant", "content": "  \n "}]}),
        _bad("empty_assistant_turn", {"id": "chat-bad-06", "messages": [  # a tool call only: content null
            {"role": "user", "content": en}, {"role": "assistant", "content": None},
            {"role": "tool", "content": "{}"}, {"role": "assistant", "content": en}]}),
        _bad("empty_prompt", {"id": "chat-bad-07", "messages": [
            {"role": "user", "content": ""}, {"role": "assistant", "content": ko}]}),
        _bad("wrong_type", {"id": "chat-bad-08", "messages": [
            {"role": "user", "content": {"text": en}}, {"role": "assistant", "content": en}]}),
        _bad("wrong_type", {"id": "chat-bad-09", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://img.demo.moru/1.png"}}]},
            {"role": "assistant", "content": en}]}),
        _bad("wrong_type", {"id": "chat-bad-10", "messages": "user: hi / assistant: hello"}),
        _bad("missing_field", {"id": "chat-bad-11", "conversation": [{"role": "user", "content": ko}]}),
        _bad("missing_field", {"messages": [{"role": "user", "content": ko}, {"role": "assistant", "content": ko}]}),
        _bad("too_long", {"id": "chat-bad-13", "messages": [
            {"role": "user", "content": "다음 보고서를 요약해 주세요.\n\n" + long_q},
            {"role": "assistant", "content": ko}]}),
        _bad("invalid_json", raw=b'{"id": "chat-bad-14", "messages": [{"role": "user", "content": "' +
             ko[:20].encode() + b'"}', stage="reader"),
        _bad("invalid_utf8", raw=b'{"id": "chat-bad-15", "messages": [{"role": "user", "content": "lone \\ud800 '
             b'surrogate"}, {"role": "assistant", "content": "ok"}]}', stage="reader"),
        _bad("blank_line", raw=b"", stage="reader"),
        _Row({"id": first_ok.value["id"], "messages": [{"role": "user", "content": en},
                                                       {"role": "assistant", "content": ko}]},
             reason="duplicate_record_key", stage="ingest", marks=[{"copy_of": first_ok}]),
    ]  # fmt: skip
    return _place(r, rows, bad)


def _chat_sharegpt(b: _Builder, n: int, dups: list) -> list[_Row]:
    r = b.r
    names = {"system": "system", "user": "human", "assistant": "gpt"}
    counter = iter(range(10**6))

    def make(msgs: list[dict], lang: str) -> dict:
        conv = [{"from": names[x["role"]], "value": x["content"]} for x in msgs]
        return {"id": f"sg_{r.getrandbits(48):012x}_{next(counter)}", "conversations": conv}

    rows = _sft_rows(b, "chat_sharegpt", n, dups, make)
    ko, en = b.m.sentence("ko"), b.m.sentence("en")
    bad = [
        _bad("unknown_role", {"id": "sg_bad_1", "conversations": [{"from": "human", "value": en},
                                                                   {"from": "narrator", "value": en}]}),
        _bad("roles_out_of_order", {"id": "sg_bad_2", "conversations": [{"from": "gpt", "value": ko},
                                                                         {"from": "human", "value": ko}]}),
        _bad("no_final_assistant_turn", {"id": "sg_bad_3", "conversations": [{"from": "human", "value": en}]}),
        _bad("empty_assistant_turn", {"id": "sg_bad_4", "conversations": [{"from": "human", "value": ko},
                                                                           {"from": "gpt", "value": ""}]}),
        _bad("missing_field", {"id": "sg_bad_5", "conversations": [{"from": "human"}, {"from": "gpt", "value": en}]}),
        _bad("wrong_type", {"id": "sg_bad_6", "conversations": [{"from": "human", "value": ko}, "gpt: " + ko]}),
    ]  # fmt: skip
    return _place(r, rows, bad)


def _sft_alpaca(b: _Builder, n: int, dups: list) -> list[_Row]:
    r = b.r

    def make(msgs: list[dict], lang: str) -> dict:
        user = next(x["content"] for x in msgs if x["role"] == "user")
        answer = next(x["content"] for x in msgs if x["role"] == "assistant")
        cut = user.find("\n\n")
        if cut > 0 and r.random() < 0.7:  # the instruction, then the text it is about as the input
            return {"instruction": user[:cut], "input": user[cut + 2 :], "output": answer}
        return {"instruction": user, "input": "", "output": answer}

    rows = _sft_rows(b, "sft_alpaca", n, dups, make, max_exchanges=1)
    ko, en = b.m.sentences("ko", 1, 2), b.m.sentences("en", 1, 2)
    again = rows[-1]
    bad = [
        _bad("missing_field", {"instruction": en, "input": ""}),
        _bad("wrong_type", {"instruction": ko, "input": "", "output": [ko, ko]}),
        _bad("empty_prompt", {"instruction": " ", "input": "", "output": en}),
        _bad("empty_assistant_turn", {"instruction": ko, "input": "", "output": " \t"}),
        _Row(dict(again.value), reason="duplicate_record_key", stage="ingest", marks=[{"copy_of": again}]),
    ]
    return _place(r, rows, bad)


def _sft_qa(b: _Builder, n: int, dups: list) -> list[_Row]:
    r = b.r

    def make(msgs: list[dict], lang: str) -> dict:
        q = msgs[0]["content"] if msgs[0]["role"] == "user" else msgs[1]["content"]
        a = next(x["content"] for x in msgs if x["role"] == "assistant")
        return {"Q": q.replace("\n", " "), "A": a, "label": str(r.randrange(3))}

    def short(lang: str) -> dict:  # the chatbot set's one-line questions and answers
        m = b.m
        return {"Q": m.sentences(lang, 2, 2) + (" 어떻게 생각해?" if lang == "ko" else " What do you think?"),
                "A": m.sentences(lang, 1, 2), "label": str(r.randrange(3))}  # fmt: skip

    rows = _sft_rows(b, "sft_qa", n, dups, make, max_exchanges=1)
    for row in rows[-(len(rows) // 2) :]:
        if not row.marks and row.lang != "ko+en":
            row.value = short(row.lang)
    ko = b.m.sentence("ko")

    def line(*cells: str) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        return buf.getvalue().encode("utf-8")

    bad = [
        _bad("missing_field", {"Q": ko, "A": None, "label": None}, raw=line(ko)),
        _bad("empty_assistant_turn", {"Q": ko, "A": "", "label": "0"}, raw=line(ko, "", "0")),
        _bad("empty_prompt", {"Q": "", "A": ko, "label": "1"}, raw=line("", ko, "1")),
        _bad("corrupt_record", raw=line(ko, ko, "0", "extra", "cells"), stage="reader"),
        _bad("invalid_utf8", raw=b"caf\xe9 au lait?,\xff\xfe latin-1,0", stage="reader"),
    ]
    return _place(r, rows, bad)


def _sft_parquet(b: _Builder, n: int, dups: list) -> list[_Row]:
    r = b.r
    counter = iter(range(10**6))

    def make(msgs: list[dict], lang: str) -> dict:
        return {"conversation_id": f"conv-{next(counter):05d}",
                "turns": [{"speaker": x["role"], "text": x["content"]} for x in msgs], "lang": lang}  # fmt: skip

    rows = _sft_rows(b, "sft_parquet", n - 3, dups, make)
    ko, en = b.m.sentence("ko"), b.m.sentence("en")

    def conv(cid: str, *turns: tuple[str, str | None]) -> dict:
        return {"conversation_id": cid, "turns": [{"speaker": s, "text": t} for s, t in turns], "lang": None}

    bad = [
        _bad("unknown_role", conv("conv-bad-1", ("user", ko), ("bot", ko))),
        _bad("roles_out_of_order", conv("conv-bad-2", ("assistant", en), ("user", en), ("assistant", en))),
        _bad("no_final_assistant_turn", conv("conv-bad-3", ("system", en), ("user", en))),
        _bad("empty_assistant_turn", conv("conv-bad-4", ("user", ko), ("assistant", None))),
        _bad("missing_field", {"conversation_id": "conv-bad-5", "turns": None, "lang": "ko"}),
    ]
    main = _place(r, rows, bad)
    # a legacy export whose text is binary: UTF-8 bytes read fine, other bytes are invalid_utf8
    legacy = []
    for lang in ("ko", "en", "ko"):
        v = make(b.m.conversation(lang, exchanges=1), lang)
        for t in v["turns"]:
            t["text"] = t["text"].encode("utf-8")
        legacy.append(_good(v, lang))
    broken = {"conversation_id": "conv-bad-6", "lang": "en",
              "turns": [{"speaker": "user", "text": "caf\xe9".encode("latin-1")},
                        {"speaker": "assistant", "text": en.encode("utf-8")}]}  # fmt: skip
    legacy.insert(1, _bad("invalid_utf8", broken))
    return main + [_Row(value="--legacy--")] + legacy


# ==================================================================== pair sources
def _pair_sources(b: _Builder, sizes: dict[str, int]) -> dict[str, list[_Row]]:
    r, m = b.r, b.m
    out: dict[str, list[_Row]] = {}

    # ------------------------------------------------ TRL explicit prompt strings
    def trl(pid: str, prompt: str, chosen: str, rejected: str) -> dict:
        hi = round(r.uniform(6, 10), 1)
        return {"id": pid, "prompt": prompt, "chosen": chosen, "rejected": rejected,
                "score_chosen": hi, "score_rejected": round(hi - r.uniform(1, 5), 1)}  # fmt: skip

    counter = iter(range(10**6))

    def tid() -> str:
        return f"pair-{next(counter):05d}"

    rows: list[_Row] = []
    text, mark = b.passage("ko", with_answer=True)
    p, c, _ = b.pair("ko")
    rows.append(_good(trl(tid(), p[0]["content"], c, text), "ko", {**mark, "where": "rejected", "turn": 0}))
    text, mark = b.passage("en", with_answer=False)
    _, c, rj = b.pair("en")
    rows.append(_good(trl(tid(), "Please solve this:\n\n" + text, c, rj), "en", {**mark, "where": "prompt", "turn": 0}))
    q, _ = m.exchange("ko")
    en_answer = m.exchange("en")[1]
    rows.append(_good(trl(tid(), q, en_answer, m.worse("ko", en_answer)), "ko", {"mark": "mismatch"}))
    q, a = _REFUSALS["ko"][0][0] + " " + m.sentence("ko"), m.sentences("ko", 2, 3)
    rows.append(_good(trl(tid(), q + " 아니면 다른 방법이라도 알려 줘.", a, _REFUSALS["ko"][0][1]), "ko",
                      {"mark": "refusal", "where": "rejected"}))  # fmt: skip
    # pair duplicates (prompt + chosen): exact with pref_hh, re-cased within, re-spaced with pref_messages
    p_exact, c_exact, _ = b.pair("en")
    g_exact = b.group("pair", "exact")
    rows.append(_good(trl(tid(), p_exact[0]["content"], c_exact, m.worse("en", c_exact)), "en",
                      {"mark": "duplicate", "group": g_exact}))  # fmt: skip
    p2, c2, rj2 = b.pair("en")
    g = b.group("pair", "recased_en")
    rows.append(_good(trl(tid(), p2[0]["content"], c2, rj2), "en", {"mark": "duplicate", "group": g}))
    rows.append(_good(trl(tid(), recase_en(p2[0]["content"], r), c2, m.worse("en", c2)), "en",
                      {"mark": "duplicate", "group": g}))  # fmt: skip
    p_sp, c_sp, _ = b.pair("ko")
    g_sp = b.group("pair", "respaced_ko")
    rows.append(_good(trl(tid(), p_sp[0]["content"], c_sp, m.worse("ko", c_sp)), "ko",
                      {"mark": "duplicate", "group": g_sp}))  # fmt: skip
    for lang in _langs(r, sizes["pref_trl"] - len(rows)):
        p, c, rj = b.pair(lang)
        rows.append(_good(trl(tid(), p[0]["content"], c, rj), lang))
    ko, en = m.sentence("ko"), m.sentence("en")
    bad = [
        _bad("chosen_equals_rejected", trl("pair-bad-1", ko, en, " " + en + "\n")),
        _bad("missing_field", {"id": "pair-bad-2", "prompt": en, "chosen": en}),
        _bad("empty_assistant_turn", trl("pair-bad-3", ko, "", ko)),
        _bad("empty_prompt", trl("pair-bad-4", "  ", en, ko)),
        _bad("wrong_type", trl("pair-bad-5", en, {"text": en}, ko)),  # type: ignore[arg-type]
        _bad("missing_field", {"prompt": en, "chosen": en, "rejected": ko}),  # no id
    ]
    out["pref_trl"] = _place(r, rows, bad)

    # ------------------------------------------------ TRL message lists, implicit prompt (Parquet)
    def conv_pair(pid: str, prompt: list[dict], chosen: str | list[dict], rejected: str | list[dict]) -> dict:
        ch = [{"role": "assistant", "content": chosen}] if isinstance(chosen, str) else chosen
        rj = [{"role": "assistant", "content": rejected}] if isinstance(rejected, str) else rejected
        hi = round(r.uniform(6, 10), 2)
        return {"prompt_id": pid, "prompt": prompt[-1]["content"], "chosen": prompt + ch, "rejected": prompt + rj,
                "score_chosen": hi, "score_rejected": round(hi - r.uniform(1, 5), 2)}  # fmt: skip

    def pid() -> str:
        return f"{r.getrandbits(256):064x}"

    rows = []
    p, c, _ = b.pair("en", multi=True)
    text, mark = b.passage("en", with_answer=True)
    rows.append(_good(conv_pair(pid(), p, c, text), "en", {**mark, "where": "rejected", "turn": 0}))
    text, mark = b.passage("ko", with_answer=True)
    p, _, rj = b.pair("ko")
    rows.append(_good(conv_pair(pid(), p, text, rj), "ko", {**mark, "where": "chosen", "turn": 0}))
    prompt = [{"role": "user", "content": respace_ko(p_sp[0]["content"], r)}]
    rows.append(_good(conv_pair(pid(), prompt, c_sp, m.worse("ko", c_sp)), "ko",
                      {"mark": "duplicate", "group": g_sp}))  # fmt: skip
    for lang in _langs(r, sizes["pref_messages"] - len(rows)):
        p, c, rj = b.pair(lang, multi=r.random() < 0.4)
        rows.append(_good(conv_pair(pid(), p, c, rj), lang))
    ko, en = m.sentence("ko"), m.sentence("en")
    u = [{"role": "user", "content": en}]
    bad = [
        _bad("roles_out_of_order", conv_pair(pid(), u, [{"role": "assistant", "content": en},
                                                        {"role": "user", "content": en},
                                                        {"role": "assistant", "content": ko}],
                                             [{"role": "assistant", "content": ko},
                                              {"role": "user", "content": en},
                                              {"role": "assistant", "content": en}])),
        _bad("unknown_role", conv_pair(pid(), [{"role": "moderator", "content": ko}], ko, en)),
        _bad("no_final_assistant_turn", {**conv_pair(pid(), u, en, ko), "chosen": u}),
        _bad("chosen_equals_rejected", conv_pair(pid(), u, ko, ko)),
        _bad("empty_prompt", conv_pair(pid(), [{"role": "user", "content": " "}], ko, en)),
    ]  # fmt: skip
    out["pref_messages"] = _place(r, rows, bad)

    # ------------------------------------------------ Anthropic HH text
    def hh_text(prompt: list[dict], answer: str) -> str:
        tags = {"user": "Human", "assistant": "Assistant"}
        turns = [*prompt, {"role": "assistant", "content": answer}]
        return "".join(f"\n\n{tags[t['role']]}: {t['content']}" for t in turns)

    def hh(prompt: list[dict], chosen: str, rejected: str) -> dict:
        return {"chosen": hh_text(prompt, chosen), "rejected": hh_text(prompt, rejected)}

    rows = []
    p, c, _ = b.pair("en")
    text, mark = b.passage("en", with_answer=True)
    rows.append(_good(hh(p, c, text), "en", {**mark, "where": "rejected", "turn": 0}))
    q, a = _REFUSALS["en"][0]
    rows.append(_good(hh([{"role": "user", "content": q + " " + m.sentence("en") + " Just the steps."}],
                         m.sentences("en", 2, 3), a), "en", {"mark": "refusal", "where": "rejected"}))  # fmt: skip
    rows.append(_good(hh(p_exact, c_exact, m.worse("en", c_exact)), "en", {"mark": "duplicate", "group": g_exact}))
    for lang in r.choices(("en", "ko"), (0.7, 0.3), k=sizes["pref_hh"] - len(rows)):
        p, c, rj = b.pair(lang, multi=r.random() < 0.5)
        rows.append(_good(hh(p, c, rj), lang))
    ko, en = m.sentence("ko"), m.sentence("en")
    one = [{"role": "user", "content": en}]
    bad = [
        _bad("unparseable_hh", {"chosen": en + " " + en, "rejected": hh_text(one, ko)}),
        _bad("unparseable_hh", {"chosen": hh_text([*one, {"role": "assistant", "content": ko},
                                                   {"role": "user", "content": en}], en),
                                "rejected": hh_text([*one, {"role": "assistant", "content": en},
                                                     {"role": "user", "content": en}], ko)}),
        _bad("no_final_assistant_turn", {"chosen": hh_text(one, en) + f"\n\nHuman: {en}",
                                         "rejected": hh_text(one, ko) + f"\n\nHuman: {en}"}),
        _bad("roles_out_of_order", {"chosen": f"\n\nHuman: {en}\n\nHuman: {en}\n\nAssistant: {ko}",
                                    "rejected": f"\n\nHuman: {en}\n\nHuman: {en}\n\nAssistant: {en}"}),
        _bad("missing_field", {"chosen": hh_text(one, en)}),
        _bad("chosen_equals_rejected", hh(one, en, en + " ")),
    ]  # fmt: skip
    out["pref_hh"] = _place(r, rows, bad)

    # ------------------------------------------------ rated completions (UltraFeedback-like)
    models = ("demo-7b", "demo-13b", "demo-70b", "baseline-3b")

    def rated(prompt: str, good: str, lang: str, worse: list[str] | None = None) -> dict:
        texts = [good, *(worse or [m.worse(lang, good) for _ in range(3)])]
        scores = [round(r.uniform(7, 10), 1)] + [round(r.uniform(1, 5.5), 1) for _ in texts[1:]]
        comps = [{"model": mod, "response": t, "overall_score": s}
                 for mod, t, s in zip(models, texts, scores, strict=False)]  # fmt: skip
        r.shuffle(comps)
        return {"source": r.choice(("demo_flan", "demo_sharegpt", "demo_evol")), "instruction": prompt,
                "completions": comps}  # fmt: skip

    rows = []
    text, mark = b.passage("ko", with_answer=False)
    rows.append(_good(rated("다음 문제를 풀어 주세요.\n\n" + text, m.sentences("ko", 2, 3), "ko"), "ko",
                      {**mark, "where": "prompt", "turn": 0}))  # fmt: skip
    for lang in _langs(r, sizes["pref_rated"] - len(rows)):
        q, a = m.exchange(lang)
        rows.append(_good(rated(q, a, lang), lang))
    ko, en = m.sentence("ko"), m.sentence("en")
    longer = m.t.long_document("en", min_chars=MAX_CHARS + 500)[0]
    bad = [
        _bad("no_pairs", {"instruction": en, "completions": [{"response": en, "overall_score": 5},
                                                            {"response": ko, "overall_score": 5.5}]}),
        _bad("no_pairs", {"instruction": ko, "completions": [{"response": ko, "overall_score": 8},
                                                            {"response": en, "overall_score": "N/A"}]}),
        _bad("chosen_equals_rejected", {"instruction": en, "completions": [{"response": en, "overall_score": 9},
                                                                          {"response": en, "overall_score": 2}]}),
        _bad("too_long", {"instruction": en, "completions": [{"response": longer, "overall_score": 9},
                                                            {"response": ko, "overall_score": 2}]}),
        _bad("missing_field", {"source": "demo_flan", "completions": [{"response": en, "overall_score": 9}]}),
        _bad("wrong_type", {"instruction": ko, "completions": "demo-7b: " + ko}),
    ]  # fmt: skip
    out["pref_rated"] = _place(r, rows, bad)
    return out


# ==================================================================== writers
Files = list[tuple[str, list[_Row], int | None]]  # (relative path, rows in file order, where a cut-off file breaks)


def _line(row: _Row) -> bytes:
    return row.raw if row.raw is not None else orjson.dumps(row.value)


def _jsonl(rows: list[_Row]) -> bytes:
    return b"".join(_line(row) + b"\n" for row in rows)


def _gzip_members(rows: list[_Row], per_member: int) -> bytes:
    return b"".join(gzip.compress(_jsonl(rows[k : k + per_member]), mtime=0) for k in range(0, len(rows), per_member))


def _write_chat_openai(folder: Path, rows: list[_Row], rng: random.Random) -> Files:
    # six plain good records go to a file that breaks after them; the rest to two files (a blank line never last)
    plain = [i for i, row in enumerate(rows) if row.stage is None and not row.marks and not row.anchor]
    cut = set(plain[-6:])
    tail = [row for i, row in enumerate(rows) if i in cut]
    rest = [row for i, row in enumerate(rows) if i not in cut]
    half = len(rest) // 2
    while rest[half - 1].raw == b"":
        half += 1
    parts = [rest[:half], rest[half:]]
    files: Files = []
    for k, part in enumerate(parts):
        (folder / f"part-{k:05d}.jsonl.gz").write_bytes(_gzip_members(part, 50))
        files.append((f"part-{k:05d}.jsonl.gz", part, None))
    lost = orjson.dumps({"id": "chat-lost-01", "messages": [{"role": "user", "content": "x" * 5000}]}) + b"\n"
    member = gzip.compress(lost, mtime=0)
    (folder / "part-00002.jsonl.gz").write_bytes(gzip.compress(_jsonl(tail), mtime=0) + member[: len(member) // 2])
    files.append(("part-00002.jsonl.gz", tail, len(tail)))
    return files


def _write_jsonl(name: str, compression: str | None = None) -> Callable[[Path, list[_Row], random.Random], Files]:
    def write(folder: Path, rows: list[_Row], rng: random.Random) -> Files:
        data = _jsonl(rows)
        if compression == "gzip":
            data = _gzip_members(rows, 40)
        elif compression == "zstd":
            import zstandard

            cctx = zstandard.ZstdCompressor(level=3)
            chunks = [_jsonl(rows[k : k + 60]) for k in range(0, len(rows), 60)]
            data = b"".join(cctx.compress(chunk) for chunk in chunks)  # several frames
        (folder / name).write_bytes(data)
        return [(name, rows, None)]

    return write


def _write_csv(folder: Path, rows: list[_Row], rng: random.Random) -> Files:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Q", "A", "label"])
    data = buf.getvalue().encode("utf-8")
    for row in rows:
        if row.raw is not None:
            data += row.raw + b"\n"
            continue
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([row.value["Q"], row.value["A"], row.value["label"]])
        data += buf.getvalue().encode("utf-8")
    (folder / "chatbot_qa.csv").write_bytes(data)
    return [("chatbot_qa.csv", rows, None)]


def _write_sft_parquet(folder: Path, rows: list[_Row], rng: random.Random) -> Files:
    import pyarrow as pa
    import pyarrow.parquet as pq

    at = next(i for i, row in enumerate(rows) if row.value == "--legacy--")
    main, legacy = rows[:at], rows[at + 1 :]
    for name, part, text_type in (("train-00000.parquet", main, pa.string()), ("legacy-binary.parquet", legacy,
                                                                               pa.binary())):  # fmt: skip
        turn = pa.struct([("speaker", pa.string()), ("text", text_type)])
        schema = pa.schema([("conversation_id", pa.string()), ("turns", pa.list_(turn)), ("lang", pa.string())])
        table = pa.Table.from_pylist([row.value for row in part], schema=schema)
        pq.write_table(table, folder / name, row_group_size=100, compression="zstd")
    return [("train-00000.parquet", main, None), ("legacy-binary.parquet", legacy, None)]


def _write_pref_parquet(folder: Path, rows: list[_Row], rng: random.Random) -> Files:
    import pyarrow as pa
    import pyarrow.parquet as pq

    msgs = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
    schema = pa.schema([("prompt_id", pa.string()), ("prompt", pa.string()), ("chosen", msgs), ("rejected", msgs),
                        ("score_chosen", pa.float64()), ("score_rejected", pa.float64())])  # fmt: skip
    table = pa.Table.from_pylist([row.value for row in rows], schema=schema)
    pq.write_table(table, folder / "train-00000.parquet", row_group_size=100, compression="zstd")
    return [("train-00000.parquet", rows, None)]


_WRITERS: dict[str, Callable[[Path, list[_Row], random.Random], Files]] = {
    "chat_openai": _write_chat_openai,
    "chat_sharegpt": _write_jsonl("sharegpt.jsonl"),
    "sft_alpaca": _write_jsonl("alpaca-00000.jsonl.zst", "zstd"),
    "sft_qa": _write_csv,
    "sft_parquet": _write_sft_parquet,
    "pref_trl": _write_jsonl("train.jsonl"),
    "pref_messages": _write_pref_parquet,
    "pref_hh": _write_jsonl("train.jsonl.gz", "gzip"),
    "pref_rated": _write_jsonl("ultrafeedback.jsonl"),
}
