"""Post-training record types: messages, conversations, preference pairs, and their stable ids.

The dict forms are what Spark rows hold: a message is ``{"role", "content"}``; a conversation is
``{"messages": [message, ...]}``; a preference pair is ``{"prompt": [...], "chosen": [...],
"rejected": [...], "chosen_score", "rejected_score"}`` (scores may be None). ``from_dict``
inverts ``to_dict`` exactly and refuses anything else (unknown role, non-string content).

Ids follow pretraining's ``doc_id`` (:mod:`core.ids`): a 128-bit BLAKE2b over ``(source, record_key)``, with
``record_key`` ``"id:<the record's own id>"`` when the source has ids and ``"sha:<content hash>"`` when it has
none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from core.ids import doc_id, stable_id  # noqa: F401 - re-exported: the id convention

ROLES = ("system", "user", "assistant", "tool")


def _content_hash(obj) -> str:
    # JSON is unambiguous whatever the contents hold (no separator can be forged by a message)
    return hashlib.blake2b(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {ROLES}")
        if not isinstance(self.content, str):
            raise ValueError(f"content is {type(self.content).__name__}, expected a string")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}

    @classmethod
    def from_dict(cls, d: dict) -> Message:
        return cls(d["role"], d["content"])


def _messages(items: Iterable) -> tuple[Message, ...]:
    return tuple(m if isinstance(m, Message) else Message.from_dict(m) for m in items)


def _dicts(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    return [m.to_dict() for m in messages]


@dataclass(frozen=True, slots=True)
class Conversation:
    messages: tuple[Message, ...]

    def __post_init__(self):
        object.__setattr__(self, "messages", _messages(self.messages))

    def to_dict(self) -> dict:
        return {"messages": _dicts(self.messages)}

    @classmethod
    def from_dict(cls, d: dict) -> Conversation:
        return cls(_messages(d["messages"]))

    def content_hash(self) -> str:
        """Hex BLAKE2b-128 of the roles and contents: equal conversations, equal hashes."""
        return _content_hash(["conversation", self.to_dict()["messages"]])

    @property
    def n_chars(self) -> int:
        return sum(len(m.content) for m in self.messages)


@dataclass(frozen=True, slots=True)
class PreferencePair:
    """A prompt (its messages end with a user or tool turn) and two responses to it.

    ``chosen`` and ``rejected`` are the response turns only (an assistant turn, or assistant turns
    with tool turns between them), never the prompt again.
    """

    prompt: tuple[Message, ...]
    chosen: tuple[Message, ...]
    rejected: tuple[Message, ...]
    chosen_score: float | None = None
    rejected_score: float | None = None

    def __post_init__(self):
        for name in ("prompt", "chosen", "rejected"):
            object.__setattr__(self, name, _messages(getattr(self, name)))

    def to_dict(self) -> dict:
        return {
            "prompt": _dicts(self.prompt),
            "chosen": _dicts(self.chosen),
            "rejected": _dicts(self.rejected),
            "chosen_score": self.chosen_score,
            "rejected_score": self.rejected_score,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PreferencePair:
        return cls(
            _messages(d["prompt"]),
            _messages(d["chosen"]),
            _messages(d["rejected"]),
            d.get("chosen_score"),
            d.get("rejected_score"),
        )

    def content_hash(self) -> str:
        """Hex BLAKE2b-128 of prompt, chosen and rejected (scores left out: they rate, not make, the pair)."""
        d = self.to_dict()
        return _content_hash(["preference_pair", d["prompt"], d["chosen"], d["rejected"]])

    @property
    def margin(self) -> float | None:
        if self.chosen_score is None or self.rejected_score is None:
            return None
        return self.chosen_score - self.rejected_score

    def conversations(self) -> tuple[Conversation, Conversation]:
        """(prompt + chosen, prompt + rejected) as whole conversations."""
        return Conversation(self.prompt + self.chosen), Conversation(self.prompt + self.rejected)

    @property
    def n_chars(self) -> int:
        """Characters of the longer of prompt + chosen and prompt + rejected."""
        prompt = sum(len(m.content) for m in self.prompt)
        return prompt + max(sum(len(m.content) for m in self.chosen), sum(len(m.content) for m in self.rejected))


def record_key(item: Conversation | PreferencePair, raw_id: str | None = None, several: bool = False) -> str:
    """The key that ``doc_id(source, key)`` turns into the row id.

    ``"id:<raw_id>"`` when the record has its own id, else ``"sha:<content hash>"``; a record that
    gives several items (rated completions → several pairs) appends its item's content hash to the
    id, ``"id:<raw_id>/sha:<hash>"``, so each pair has its own row id and re-runs give the same ones.
    """
    if raw_id is None:
        return "sha:" + item.content_hash()
    if several:
        return f"id:{raw_id}/sha:{item.content_hash()}"
    return "id:" + raw_id
