"""One raw post-training record (a dict parsed from JSONL / Parquet / CSV) → conversation(s) or pair(s), or a rejection.

One function per layout, each with a small pydantic config whose defaults match the public
datasets; ``read_record`` dispatches on ``cfg.layout``. Every record gives either its item(s) or
exactly one :class:`Rejection` (codes and the order they are checked in: quality.posttrain.validate).
Field names are dotted paths (``meta.id`` reaches into nested objects).

Layouts (``layout:`` value → what it reads):

- ``messages`` (OpenAI chat): ``messages: [{role, content}]``, roles system/user/assistant/tool
  (``developer`` → system, ``function`` → tool); ``content`` is a string or a list of
  ``{type: text, text}`` parts, joined with ``part_separator`` (default a newline); a non-text
  part is ``wrong_type``.
- ``sharegpt``: ``conversations: [{from, value}]``; ``human``/``user`` → user, ``gpt``/
  ``chatgpt``/``assistant``/``bard``/``bing``/``function_call`` → assistant, ``system`` → system,
  ``tool``/``observation``/``function_response`` → tool. Role names are matched lower-cased;
  ``role_map`` replaces the whole map.
- ``alpaca``: ``instruction`` / ``input`` / ``output`` → [user, assistant]. The user turn is the
  instruction, then ``input_separator`` (default a blank line), then the input when the input is
  not blank: Stanford Alpaca's template puts the input in its own section after the instruction
  and EXAONE-style chat data carries the pair as one user turn, so the chat form keeps both, in
  that order, in one turn. A blank instruction with an input uses the input alone; both blank is
  ``empty_prompt``. ``system_field`` (off by default) adds a system turn.
- ``qa``: two columns, question → user, answer → assistant (``question_field``/``answer_field``,
  default ``Q``/``A`` as in the Korean chatbot CSV), optional ``system_field``.
- ``preference`` (TRL): ``prompt`` / ``chosen`` / ``rejected``, each a string or a message list.
  Explicit prompt: a string prompt is one user turn, string responses one assistant turn each.
  Implicit prompt: when ``chosen`` and ``rejected`` are message lists that start with a
  non-assistant turn they are whole conversations; the prompt is their longest common prefix of
  turns and any ``prompt`` field is ignored (ultrafeedback_binarized repeats its string prompt
  inside the lists). Optional scores from ``chosen_score_field`` / ``rejected_score_field``
  (``score_chosen`` / ``score_rejected``).
- ``hh`` (Anthropic HH-RLHF): ``chosen`` / ``rejected`` whole text dialogues → shared prompt +
  the two last assistant turns (quality.posttrain.hh).
- ``rated`` (UltraFeedback-like): a prompt (first present of ``prompt_fields``: ``prompt``,
  ``instruction``; a string or a message list) and ``completions: [{response|text, overall_score}]``
  → pairs by ``rule`` (quality.posttrain.rated). A completion without a usable score (absent,
  null, NaN, ``"N/A"``) or with a blank response is left out of the ranking, as is one whose
  prompt + response is over ``max_chars``; if no pair is left the record is rejected: ``too_long``
  when a completion was left out for length, else ``chosen_equals_rejected`` when only same-text
  pairs were possible, else ``no_pairs``.

Every config has ``max_chars`` (default 100,000; ``too_long`` above it) and ``id_field`` (the
record's own id, if the source has one; absent → ``missing_field``). ``Outcome.keys`` gives each
item's ``record_key`` for ``schema.doc_id(source, key)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quality.posttrain import validate as v
from quality.posttrain.hh import parse_dialogue, split_dialogues
from quality.posttrain.rated import PairRule, rated_pairs
from quality.posttrain.schema import ROLES, Conversation, Message, PreferencePair, record_key
from quality.posttrain.validate import RecordError, Rejection

OPENAI_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "assistant": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "function_call": "assistant",
    "tool": "tool",
    "observation": "tool",
    "function_response": "tool",
}


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=100_000, ge=1, description="records with more characters are rejected too_long")
    id_field: str | None = Field(default=None, description="the record's own id; without it the key is a content hash")


def _check_role_map(value: dict[str, str]) -> dict[str, str]:
    bad = {k: r for k, r in value.items() if r not in ROLES}
    if bad:
        raise ValueError(f"role_map maps to roles outside {ROLES}: {bad}")
    return {k.strip().lower(): r for k, r in value.items()}


class MessagesConfig(_Base):
    layout: Literal["messages"] = "messages"
    messages_field: str = "messages"
    role_field: str = "role"
    content_field: str = "content"
    role_map: dict[str, str] = Field(default_factory=lambda: dict(OPENAI_ROLES))
    part_separator: str = Field(default="\n", description="joins the text parts of one content list")

    _roles = field_validator("role_map")(_check_role_map)


class ShareGPTConfig(MessagesConfig):
    layout: Literal["sharegpt"] = "sharegpt"  # type: ignore[assignment]
    messages_field: str = "conversations"
    role_field: str = "from"
    content_field: str = "value"
    role_map: dict[str, str] = Field(default_factory=lambda: dict(SHAREGPT_ROLES))


class AlpacaConfig(_Base):
    layout: Literal["alpaca"] = "alpaca"
    instruction_field: str = "instruction"
    input_field: str | None = "input"
    output_field: str = "output"
    system_field: str | None = None
    input_separator: str = "\n\n"


class QAConfig(_Base):
    layout: Literal["qa"] = "qa"
    question_field: str = "Q"
    answer_field: str = "A"
    system_field: str | None = None


class PreferenceConfig(_Base):
    layout: Literal["preference"] = "preference"
    prompt_field: str = "prompt"
    chosen_field: str = "chosen"
    rejected_field: str = "rejected"
    role_field: str = "role"
    content_field: str = "content"
    role_map: dict[str, str] = Field(default_factory=lambda: dict(OPENAI_ROLES))
    part_separator: str = "\n"
    chosen_score_field: str | None = "score_chosen"
    rejected_score_field: str | None = "score_rejected"

    _roles = field_validator("role_map")(_check_role_map)


class HHConfig(_Base):
    layout: Literal["hh"] = "hh"
    chosen_field: str = "chosen"
    rejected_field: str = "rejected"
    human_tag: str = "Human"
    assistant_tag: str = "Assistant"


class RatedConfig(_Base):
    layout: Literal["rated"] = "rated"
    prompt_fields: list[str] = Field(
        default_factory=lambda: ["prompt", "instruction"], min_length=1, description="the first present one is read"
    )
    completions_field: str = "completions"
    response_fields: list[str] = Field(default_factory=lambda: ["response", "text"], min_length=1)
    score_field: str = "overall_score"
    role_field: str = "role"
    content_field: str = "content"
    role_map: dict[str, str] = Field(default_factory=lambda: dict(OPENAI_ROLES))
    part_separator: str = "\n"
    rule: PairRule = "best_vs_worst"
    min_margin: float = Field(default=0.0, ge=0, description="chosen score minus rejected score at least this")
    seed: int = Field(default=0, description="best_vs_random's draw: seeded with this and the record's content")

    _roles = field_validator("role_map")(_check_role_map)


LayoutConfig = Annotated[
    MessagesConfig | ShareGPTConfig | AlpacaConfig | QAConfig | PreferenceConfig | HHConfig | RatedConfig,
    Field(discriminator="layout"),
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one record gave: its items and their record keys, or its one rejection."""

    items: tuple[Conversation | PreferencePair, ...] = ()
    keys: tuple[str, ...] = ()
    rejection: Rejection | None = None


def _record(record) -> Mapping:
    if not isinstance(record, Mapping):
        raise RecordError("wrong_type", f"the record is {type(record).__name__}, expected an object")
    return record


def _raw_id(record: Mapping, cfg: _Base) -> str | None:
    if cfg.id_field is None:
        return None
    value = v.field(record, cfg.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int | bytes):
        raise RecordError("wrong_type", f"{cfg.id_field} is {type(value).__name__}, expected a string or integer")
    return v.text(value, cfg.id_field)


def _system(record: Mapping, path: str | None) -> list[Message]:
    value = v.optional_field(record, path)
    if value is None:
        return []
    body = v.text(value, path)
    return [Message("system", body)] if body.strip() else []


def read_messages(record, cfg: MessagesConfig | None = None) -> Conversation | Rejection:
    """OpenAI ``messages`` (or, with a ShareGPTConfig, ShareGPT ``conversations``) → Conversation."""
    cfg = cfg or MessagesConfig()
    try:
        record = _record(record)
        value = v.field(record, cfg.messages_field)
        msgs = v.messages(
            value, cfg.messages_field, cfg.role_field, cfg.content_field, cfg.role_map, cfg.part_separator
        )
        return v.conversation(msgs, cfg.max_chars)
    except RecordError as e:
        return e.rejection()


def read_sharegpt(record, cfg: ShareGPTConfig | None = None) -> Conversation | Rejection:
    """ShareGPT ``conversations: [{from, value}]`` → Conversation."""
    return read_messages(record, cfg or ShareGPTConfig())


def read_alpaca(record, cfg: AlpacaConfig | None = None) -> Conversation | Rejection:
    """Alpaca ``instruction`` / ``input`` / ``output`` → [system?, user, assistant]."""
    cfg = cfg or AlpacaConfig()
    try:
        record = _record(record)
        instruction = v.text(v.field(record, cfg.instruction_field), cfg.instruction_field)
        extra = v.optional_field(record, cfg.input_field)
        extra = "" if extra is None else v.text(extra, cfg.input_field)
        output = v.text(v.field(record, cfg.output_field), cfg.output_field)
        parts = [p for p in (instruction, extra) if p.strip()]
        user = Message("user", cfg.input_separator.join(parts))
        msgs = [*_system(record, cfg.system_field), user, Message("assistant", output)]
        return v.conversation(msgs, cfg.max_chars)
    except RecordError as e:
        return e.rejection()


def read_qa(record, cfg: QAConfig | None = None) -> Conversation | Rejection:
    """Question / answer columns → [system?, user, assistant]."""
    cfg = cfg or QAConfig()
    try:
        record = _record(record)
        question = v.text(v.field(record, cfg.question_field), cfg.question_field)
        answer = v.text(v.field(record, cfg.answer_field), cfg.answer_field)
        msgs = [*_system(record, cfg.system_field), Message("user", question), Message("assistant", answer)]
        return v.conversation(msgs, cfg.max_chars)
    except RecordError as e:
        return e.rejection()


def _turns(value, name: str, default_role: str, cfg) -> list[Message]:
    """A string (one ``default_role`` turn) or a message list."""
    if isinstance(value, str | bytes | bytearray):
        return [Message(default_role, v.text(value, name))]
    return v.messages(value, name, cfg.role_field, cfg.content_field, cfg.role_map, cfg.part_separator)


def _common_prefix(a: list[Message], b: list[Message]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def read_preference(record, cfg: PreferenceConfig | None = None) -> PreferencePair | Rejection:
    """TRL ``prompt`` / ``chosen`` / ``rejected`` (explicit or implicit prompt) → PreferencePair."""
    cfg = cfg or PreferenceConfig()
    try:
        record = _record(record)
        chosen = _turns(v.field(record, cfg.chosen_field), cfg.chosen_field, "assistant", cfg)
        rejected = _turns(v.field(record, cfg.rejected_field), cfg.rejected_field, "assistant", cfg)
        implicit = bool(chosen) and chosen[0].role != "assistant"
        if implicit:
            n = _common_prefix(chosen, rejected)
            if n == len(chosen) == len(rejected):
                raise RecordError("chosen_equals_rejected", "chosen and rejected are the same conversation")
            prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
        else:
            prompt = _turns(v.field(record, cfg.prompt_field), cfg.prompt_field, "user", cfg)
        chosen_score = v.score(v.optional_field(record, cfg.chosen_score_field), str(cfg.chosen_score_field))
        rejected_score = v.score(v.optional_field(record, cfg.rejected_score_field), str(cfg.rejected_score_field))
        return v.pair(prompt, chosen, rejected, cfg.max_chars, chosen_score, rejected_score)
    except RecordError as e:
        return e.rejection()


def read_hh(record, cfg: HHConfig | None = None) -> PreferencePair | Rejection:
    """Anthropic HH ``chosen`` / ``rejected`` text dialogues → PreferencePair (shared prompt, last turns differ)."""
    cfg = cfg or HHConfig()
    try:
        record = _record(record)
        dialogues = []
        for name in (cfg.chosen_field, cfg.rejected_field):
            raw = v.text(v.field(record, name), name)
            dialogues.append(parse_dialogue(raw, name, cfg.human_tag, cfg.assistant_tag))
        prompt, chosen, rejected = split_dialogues(*dialogues)
        return v.pair(prompt, [chosen], [rejected], cfg.max_chars)
    except RecordError as e:
        return e.rejection()


def _first_present(record: Mapping, paths: list[str]):
    for path in paths:
        value = v.optional_field(record, path)
        if value is not None:
            return path, value
    raise RecordError("missing_field", f"none of the fields {paths} is present")


def read_rated(record, cfg: RatedConfig | None = None) -> list[PreferencePair] | Rejection:
    """One prompt with scored completions → the pairs ``cfg.rule`` makes (one or more), or a rejection."""
    cfg = cfg or RatedConfig()
    try:
        record = _record(record)
        name, value = _first_present(record, cfg.prompt_fields)
        prompt = _turns(value, name, "user", cfg)
        v.check_order(prompt, "prompt")
        v.check_turn_texts(prompt, "prompt")
        if prompt[-1].role not in ("user", "tool"):
            raise RecordError("roles_out_of_order", f"prompt ends with {prompt[-1].role}")
        prompt_chars = sum(len(m.content) for m in prompt)
        texts: list[str] = []
        scores: list[float] = []
        too_long = 0
        completions = v.as_list(v.field(record, cfg.completions_field), cfg.completions_field)
        for i, item in enumerate(completions):
            where = f"{cfg.completions_field}[{i}]"
            if not isinstance(item, Mapping):
                raise RecordError("wrong_type", f"{where} is {type(item).__name__}, expected an object")
            path, raw = next(((p, item[p]) for p in cfg.response_fields if item.get(p) is not None), (None, None))
            response = "" if raw is None else v.text(raw, f"{where}.{path}")
            rating = v.score(v.lookup(item, cfg.score_field), f"{where}.{cfg.score_field}")
            if rating is None or not response.strip():
                continue
            if prompt_chars + len(response) > cfg.max_chars:
                too_long += 1
                continue
            texts.append(response)
            scores.append(rating)
        key = PreferencePair(tuple(prompt), (), ()).content_hash() + "".join(f"\x1f{t}" for t in texts)
        found = rated_pairs(scores, cfg.rule, cfg.min_margin, cfg.seed, key, texts)
        if not found:
            if too_long:
                raise RecordError("too_long", f"{too_long} completion(s) over max_chars {cfg.max_chars}; no pair left")
            if rated_pairs(scores, cfg.rule, cfg.min_margin, cfg.seed, key):
                raise RecordError("chosen_equals_rejected", "the only pairs the scores make have the same text")
            raise RecordError("no_pairs", f"{len(scores)} scored completion(s) make no pair under {cfg.rule}")
        pairs: dict[str, PreferencePair] = {}
        for i, j in found:
            chosen, rejected = [Message("assistant", texts[i])], [Message("assistant", texts[j])]
            p = v.pair(prompt, chosen, rejected, cfg.max_chars, scores[i], scores[j])
            pairs.setdefault(p.content_hash(), p)
        return list(pairs.values())
    except RecordError as e:
        return e.rejection()


_READERS = {
    "messages": read_messages,
    "sharegpt": read_sharegpt,
    "alpaca": read_alpaca,
    "qa": read_qa,
    "preference": read_preference,
    "hh": read_hh,
    "rated": read_rated,
}


def read_record(record, cfg: LayoutConfig) -> Outcome:
    """Any layout: the record's items with their record keys, or its one rejection."""
    try:
        raw_id = _raw_id(_record(record), cfg)
    except RecordError as e:
        return Outcome(rejection=e.rejection())
    result = _READERS[cfg.layout](record, cfg)
    if isinstance(result, Rejection):
        return Outcome(rejection=result)
    items = tuple(result) if isinstance(result, list) else (result,)
    several = isinstance(result, list)
    return Outcome(items, tuple(record_key(item, raw_id, several) for item in items))
