"""Field extraction and the structural rules every post-training record must pass.

Rules (checked in this order; the first broken one is the record's one rejection reason):

1. Fields: a configured field that is absent → ``missing_field``; present with a type that cannot
   be text (a dict where a string belongs, a bool, a list of non-objects …) → ``wrong_type``;
   bytes that are not UTF-8, or strings holding lone UTF-16 surrogates → ``invalid_utf8``; a role
   that the layout's role map does not know → ``unknown_role``. A null ``content`` reads as ``""``
   (OpenAI writes null for tool-call-only assistant messages, which then fail rule 5: tool-call
   structure is not carried). Empty or whitespace-only system messages are dropped.
2. Order (``roles_out_of_order``): an optional system turn, first and only first; then a user turn;
   after a user turn an assistant turn; after an assistant turn a user or a tool turn; after a tool
   turn another tool turn or an assistant turn (the assistant answers what the tool returned).
   In a preference pair the prompt must end where a response can start (a user or tool turn) and
   the chosen and rejected responses may hold assistant and tool turns only: a user turn inside a
   response means the two dialogues differ before their last response.
3. ``no_final_assistant_turn``: the conversation (each of prompt+chosen, prompt+rejected) ends
   with an assistant turn; an empty response list fails here too.
4. ``empty_prompt``: there is a user turn and no user turn is empty or whitespace only.
5. ``empty_assistant_turn``: no assistant turn is empty or whitespace only.
6. ``chosen_equals_rejected``: chosen and rejected differ once each turn's surrounding whitespace
   is stripped.
7. ``too_long``: the conversation's characters (a pair: prompt plus the longer response) are at
   most the layout's ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quality.posttrain.schema import Conversation, Message, PreferencePair

# Every reason a post-training record can be quarantined for (the ``quarantine.reason`` column).
REASONS = {
    "missing_field": "a configured field is absent or null",
    "wrong_type": "a field has a type that cannot hold what the layout says it holds",
    "invalid_utf8": "bytes that are not UTF-8, or a string with lone UTF-16 surrogates",
    "unknown_role": "a message role that the layout's role map does not know",
    "roles_out_of_order": "turn order breaks the rule (system first; user/assistant alternate; tool only after "
    "assistant), or a response holds a user turn (chosen and rejected differ before the last response)",
    "no_final_assistant_turn": "the conversation (or a response) does not end with an assistant turn",
    "empty_prompt": "no user turn, or a user turn (a prompt string) that is empty or whitespace only",
    "empty_assistant_turn": "an assistant turn that is empty or whitespace only",
    "chosen_equals_rejected": "chosen and rejected responses are the same text",
    "too_long": "more characters than the layout's max_chars",
    "unparseable_hh": "Anthropic HH text without Human:/Assistant: turns, or whose chosen and rejected dialogues "
    "differ before their last assistant turn",
    "no_pairs": "a rated record whose scores make no pair (fewer than two scored responses, or all tied)",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


class RecordError(Exception):
    def __init__(self, reason: str, detail: str):
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def rejection(self) -> Rejection:
        return Rejection(self.reason, self.detail)


_MISSING = object()


def lookup(obj: Mapping, path: str):
    """Value at a dotted path; ``_MISSING`` when a step is absent (a present null stays None)."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def field(obj: Mapping, path: str):
    """The value at ``path``; absent or null is ``missing_field``."""
    value = lookup(obj, path)
    if value is _MISSING or value is None:
        raise RecordError("missing_field", f"field {path!r} is absent or null")
    return value


def optional_field(obj: Mapping, path: str | None):
    if path is None:
        return None
    value = lookup(obj, path)
    return None if value is _MISSING else value


def text(value, name: str) -> str:
    """A string field's value: str (no lone surrogates), UTF-8 bytes, or a number (as CSV cells parse)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError("invalid_utf8", f"{name} holds lone UTF-16 surrogates") from None
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError("invalid_utf8", f"{name}: {e.reason} at byte {e.start}") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError("wrong_type", f"{name} is {type(value).__name__}, expected a string")


def as_list(value, name: str) -> list:
    """A list field: a list or tuple (or a numpy array, as pandas UDFs hand list columns over)."""
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:
        return value.tolist()
    raise RecordError("wrong_type", f"{name} is {type(value).__name__}, expected a list")


def score(value, name: str) -> float | None:
    """A numeric score; None (or NaN) when unscored; a string that does not parse (``"N/A"``) is unscored."""
    if value is None or value is _MISSING:
        return None
    if isinstance(value, bool):
        raise RecordError("wrong_type", f"{name} is bool, expected a number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        raise RecordError("wrong_type", f"{name} is {type(value).__name__}, expected a number")
    value = float(value)
    return None if value != value or value in (float("inf"), float("-inf")) else value


def content(value, name: str, part_separator: str) -> str:
    """Message content: a string, null (→ ""), or a list of ``{type: text, text}`` parts (or strings)."""
    if value is None:
        return ""
    if isinstance(value, str | bytes | bytearray | memoryview | int | float) and not isinstance(value, bool):
        return text(value, name)
    parts = []
    for i, part in enumerate(as_list(value, name)):
        if isinstance(part, str):
            parts.append(text(part, f"{name}[{i}]"))
            continue
        if not isinstance(part, Mapping):
            raise RecordError("wrong_type", f"{name}[{i}] is {type(part).__name__}, expected a content part")
        kind = part.get("type", "text")
        if kind != "text":
            raise RecordError("wrong_type", f"{name}[{i}] is a {kind!r} part; only text parts are read")
        parts.append(text(field(part, "text"), f"{name}[{i}].text"))
    return part_separator.join(parts)


def messages(
    value,
    name: str,
    role_field: str,
    content_field: str,
    role_map: Mapping[str, str],
    part_separator: str = "\n",
) -> list[Message]:
    """A list of ``{role_field, content_field}`` objects as messages (roles mapped, lower-cased first)."""
    out = []
    for i, item in enumerate(as_list(value, name)):
        where = f"{name}[{i}]"
        if not isinstance(item, Mapping):
            raise RecordError("wrong_type", f"{where} is {type(item).__name__}, expected an object")
        raw_role = text(field(item, role_field), f"{where}.{role_field}")
        role = role_map.get(raw_role.strip().lower())
        if role is None:
            raise RecordError("unknown_role", f"{where}.{role_field} is {raw_role[:40]!r}")
        if content_field not in item:
            raise RecordError("missing_field", f"field {where}.{content_field!r} is absent")
        body = content(item[content_field], f"{where}.{content_field}", part_separator)
        if role == "system" and not body.strip():
            continue
        out.append(Message(role, body))
    return out


_NEXT = {
    None: ("system", "user"),
    "system": ("user",),
    "user": ("assistant",),
    "assistant": ("user", "tool"),
    "tool": ("tool", "assistant"),
}


def check_order(msgs: Sequence[Message], what: str = "conversation") -> None:
    prev = None
    for i, m in enumerate(msgs):
        if m.role not in _NEXT[prev]:
            after = f"after {prev}" if prev else "first"
            raise RecordError("roles_out_of_order", f"{what} turn {i} is {m.role} {after}")
        prev = m.role


def check_conversation(msgs: Sequence[Message], what: str = "conversation") -> None:
    """Rules 2-5 for one whole conversation."""
    check_order(msgs, what)
    if not msgs or msgs[-1].role != "assistant":
        last = msgs[-1].role if msgs else "nothing"
        raise RecordError("no_final_assistant_turn", f"{what} ends with {last}")
    check_turn_texts(msgs, what)


def check_turn_texts(msgs: Sequence[Message], what: str) -> None:
    """Rules 4 and 5, in that order."""
    if not any(m.role == "user" for m in msgs):
        raise RecordError("empty_prompt", f"{what} has no user turn")
    for role, reason in (("user", "empty_prompt"), ("assistant", "empty_assistant_turn")):
        for i, m in enumerate(msgs):
            if m.role == role and not m.content.strip():
                raise RecordError(reason, f"{what} turn {i} ({role}) is empty")


def check_length(n_chars: int, max_chars: int) -> None:
    if n_chars > max_chars:
        raise RecordError("too_long", f"{n_chars} characters > max_chars {max_chars}")


def conversation(msgs: Sequence[Message], max_chars: int) -> Conversation:
    check_conversation(msgs)
    conv = Conversation(tuple(msgs))
    check_length(conv.n_chars, max_chars)
    return conv


def _stripped(msgs: Sequence[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content.strip()) for m in msgs]


def check_response(prompt: Sequence[Message], response: Sequence[Message], name: str) -> None:
    """Rules 2-5 for prompt + one response of a pair."""
    if prompt and prompt[-1].role not in ("user", "tool"):
        raise RecordError("roles_out_of_order", f"prompt ends with {prompt[-1].role}, not with a user or tool turn")
    for i, m in enumerate(response):
        if m.role not in ("assistant", "tool"):
            raise RecordError(
                "roles_out_of_order",
                f"{name} turn {i} is {m.role}: a response holds assistant and tool turns only "
                "(chosen and rejected differ before the last response)",
            )
    if not response:
        raise RecordError("no_final_assistant_turn", f"{name} is empty")
    check_conversation([*prompt, *response], f"prompt+{name}")


def pair(
    prompt: Sequence[Message],
    chosen: Sequence[Message],
    rejected: Sequence[Message],
    max_chars: int,
    chosen_score: float | None = None,
    rejected_score: float | None = None,
) -> PreferencePair:
    """Rules 2-7 for a preference pair; the pair, or RecordError."""
    check_order(prompt, "prompt")
    if not any(m.role == "user" for m in prompt):
        raise RecordError("empty_prompt", "the prompt has no user turn")
    check_response(prompt, chosen, "chosen")
    check_response(prompt, rejected, "rejected")
    if _stripped(chosen) == _stripped(rejected):
        raise RecordError("chosen_equals_rejected", "chosen and rejected are the same text")
    out = PreferencePair(tuple(prompt), tuple(chosen), tuple(rejected), chosen_score, rejected_score)
    check_length(out.n_chars, max_chars)
    return out
