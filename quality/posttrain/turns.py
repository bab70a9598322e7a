"""Which turns of a conversation are trained on, and where its prompt ends: the pure pieces the
chat-template renderer (tokenizer/) needs to build loss masks.

- The *response* of a conversation is its final segment of model turns: everything after the last
  user turn (assistant turns, and the tool turns between them when the assistant called tools).
  The *prompt* is everything before it. For a preference pair this is exactly prompt / chosen.
- Supervised turns are assistant turns only (system, user and tool text is context, never a
  target). ``which="all"``: every assistant turn (multi-turn SFT); ``which="last"``: the
  assistant turns of the response only (the final answer, as in prompt-completion SFT).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from quality.posttrain.schema import Conversation, Message, PreferencePair

Supervise = Literal["all", "last"]


def _msgs(conv: Conversation | Sequence[Message]) -> tuple[Message, ...]:
    return conv.messages if isinstance(conv, Conversation) else tuple(conv)


def response_start(conv: Conversation | Sequence[Message]) -> int:
    """Index of the first turn after the last user turn (0 when there is no user turn)."""
    msgs = _msgs(conv)
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].role == "user":
            return i + 1
    return 0


def split_prompt_response(
    conv: Conversation | Sequence[Message],
) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
    """(prompt turns, response turns); the response is empty when the conversation ends with a user turn."""
    msgs = _msgs(conv)
    start = response_start(msgs)
    return msgs[:start], msgs[start:]


def supervised_mask(conv: Conversation | Sequence[Message], which: Supervise = "all") -> list[bool]:
    """One flag per turn: True where the turn's tokens are training targets."""
    msgs = _msgs(conv)
    if which not in ("all", "last"):
        raise ValueError(f"which must be 'all' or 'last', not {which!r}")
    start = 0 if which == "all" else response_start(msgs)
    return [i >= start and m.role == "assistant" for i, m in enumerate(msgs)]


def supervised_turns(conv: Conversation | Sequence[Message], which: Supervise = "all") -> list[int]:
    """Indices of the supervised turns."""
    return [i for i, flag in enumerate(supervised_mask(conv, which)) if flag]


def pair_conversations(pair: PreferencePair) -> tuple[Conversation, Conversation]:
    """(prompt + chosen, prompt + rejected): rendered with ``which="last"`` they mask exactly the two responses."""
    return pair.conversations()
