"""Anthropic HH-RLHF text dialogues → a shared prompt and two final assistant responses.

An HH record holds two whole dialogues, ``chosen`` and ``rejected``, each written as
``"\\n\\nHuman: …\\n\\nAssistant: …"``. A turn starts at a tag (``Human:`` / ``Assistant:``)
at the very start of the text or right after a blank line (``"\\n\\n"``); a tag anywhere else is
part of the turn's text. Turn texts are stripped of surrounding whitespace.

Parsing one dialogue:
- no tag at all, or non-blank text before the first tag → ``unparseable_hh``;
- turns that do not alternate Human/Assistant starting with Human → ``roles_out_of_order``;
- a dialogue that does not end with an Assistant turn → ``no_final_assistant_turn``.

Splitting the two: the prompt is every turn but the last, and it must be the same in both
dialogues; the responses are the two last assistant turns. Dialogues that differ earlier (a
different human turn, an earlier assistant turn, a different number of turns) are rejected as
``unparseable_hh`` rather than cut at their longest common prefix of turns: a "response" holding
further human turns is not a response, and training DPO on it would score the human's words too.
"""

from __future__ import annotations

import re
from functools import lru_cache

from quality.posttrain.schema import Message
from quality.posttrain.validate import RecordError, check_order


@lru_cache(maxsize=16)
def _turn_pattern(human: str, assistant: str) -> re.Pattern:
    tags = "|".join(map(re.escape, (human, assistant)))
    return re.compile(rf"(?:\A\s*|\n{{2,}})({tags}):")


def parse_dialogue(
    text: str, name: str = "dialogue", human: str = "Human", assistant: str = "Assistant"
) -> list[Message]:
    """One HH dialogue as messages (user/assistant), or RecordError."""
    matches = list(_turn_pattern(human, assistant).finditer(text))
    if not matches:
        raise RecordError("unparseable_hh", f"{name} has no {human}:/{assistant}: turns")
    if matches[0].start() != 0:
        raise RecordError("unparseable_hh", f"{name} has text before its first turn: {text[:40]!r}")
    msgs = []
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        body = text[m.end() : nxt.start() if nxt else len(text)].strip()
        msgs.append(Message("user" if m.group(1) == human else "assistant", body))
    check_order(msgs, name)
    if msgs[-1].role != "assistant":
        raise RecordError("no_final_assistant_turn", f"{name} ends with a {human} turn")
    return msgs


def split_dialogues(chosen: list[Message], rejected: list[Message]) -> tuple[list[Message], Message, Message]:
    """(shared prompt, chosen response, rejected response) of two parsed dialogues, or RecordError."""
    if chosen[:-1] != rejected[:-1]:
        at = next(
            (i for i, (a, b) in enumerate(zip(chosen[:-1], rejected[:-1], strict=False)) if a != b),
            min(len(chosen), len(rejected)) - 1,
        )
        raise RecordError(
            "unparseable_hh",
            f"chosen ({len(chosen)} turns) and rejected ({len(rejected)} turns) differ at turn {at}, "
            "before their last assistant turn",
        )
    return chosen[:-1], chosen[-1], rejected[-1]
