"""A conversation rendered with moru's chat template (tokenizer.hf.CHAT_TEMPLATE) as token ids and a loss mask.

**The mask** is 1 on the tokens the model is trained to produce and 0 elsewhere: for each supervised assistant
turn, its content and the ``[|endofturn|]`` that closes it (the EOS token: the model must learn to stop), and
nothing else. The turn's ``[|assistant|]`` header is 0 (it is the generation prompt, written by whoever prompts
the model), and so is the ``\\n`` after ``[|endofturn|]`` (template glue: generation stops at ``[|endofturn|]``,
so the model never writes it). System, user and tool turns are 0. These are exactly the spans the chat template
wraps in ``{% generation %}``, so ``transformers``' ``apply_chat_template(..., return_assistant_tokens_mask=True)``
gives the same mask (tests/tokenizer/test_chat.py compares them).

**Which assistant turns** are supervised is the caller's choice: a flag per message (``supervised``), which
``quality.posttrain.turns.supervised_mask(conv, "all" | "last")`` computes (this package may not import quality/);
the default is every assistant turn. The template's ``supervised_turns`` variable (``"all"``, the default, or
``"last"``: the assistant turns after the last user turn) gives HF the same two choices.

**Tokenizing segment by segment.** The template's text is special tokens (role headers, ``[|endofturn|]``)
with plain text between them; a byte-level BPE splits its input at special tokens before anything else, so the
ids of the whole rendered string are the special tokens' ids with each piece between them encoded on its own.
That is how this module encodes (one ``encode_batch_fast`` over every piece of a batch of conversations), with
one difference from encoding the rendered string: special-token text *inside a message* (a user who types
``[|endofturn|]``) is encoded as plain text, as pretraining emission does, so only the template writes control
tokens. For messages without such text the ids equal ``tokenizer.encode(render_chat(messages))`` and
``apply_chat_template(messages)``; with it they equal ``apply_chat_template(..., sanitize_control_tokens=True)``
(both tested). No token ever crosses a mask boundary, since every boundary is a special token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

ROLES = ("system", "user", "assistant", "tool")
END_OF_TURN = "[|endofturn|]"


def role_token(role: str) -> str:
    return f"[|{role}|]"


@dataclass(frozen=True)
class ChatTokens:
    """One rendered conversation: ``ids`` (int64), ``mask`` (uint8, 1 = a training target) and ``turn_starts``
    (the index of each message's role header in ``ids``; the empty system turn the template adds when there is no
    system message is not a message and has no entry)."""

    ids: np.ndarray
    mask: np.ndarray
    turn_starts: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def supervised_tokens(self) -> int:
        return int(self.mask.sum())


def _role_content(m) -> tuple[str, str]:
    if isinstance(m, Mapping):
        role, content = m["role"], m["content"]
    else:
        role, content = m.role, m.content
    if role not in ROLES:
        raise ValueError(f"unknown chat role: {role}")
    if not isinstance(content, str):
        raise ValueError(f"{role} content is {type(content).__name__}, expected a string")
    return role, content


def default_supervised(messages: Sequence) -> list[bool]:
    """Every assistant turn."""
    return [_role_content(m)[0] == "assistant" for m in messages]


class ChatEncoder:
    """Encodes conversations with moru's chat template and loss mask (module docstring). Build one per tokenizer
    and reuse it: it holds the tokenizer (a copy with ``encode_special_tokens`` on, unless the one given has it
    on already) and the special tokens' ids."""

    def __init__(self, tok: Tokenizer):
        if not tok.encode_special_tokens:
            tok = Tokenizer.from_str(tok.to_str())
            tok.encode_special_tokens = True
        self.tok = tok
        missing = [t for t in (*map(role_token, ROLES), END_OF_TURN) if tok.token_to_id(t) is None]
        if missing:
            raise ValueError(f"the tokenizer has no chat token(s) {missing}: not a moru (EXAONE-style) tokenizer")
        self.header = {r: tok.token_to_id(role_token(r)) for r in ROLES}
        self.eot = tok.token_to_id(END_OF_TURN)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ChatEncoder:
        """From a Hugging Face tokenizer folder (or a tokenizer.json file)."""
        p = Path(folder)
        return cls(Tokenizer.from_file(str(p / "tokenizer.json" if p.is_dir() else p)))

    def _pieces(self, messages: Sequence, supervised: Sequence[bool] | None, add_generation_prompt: bool) -> list:
        """The rendered conversation as ``(special id or text, mask bit)`` pieces, with ``None`` marking where each
        message's header starts. The text is exactly tokenizer.hf.render_chat's."""
        rc = [_role_content(m) for m in messages]
        flags = default_supervised(messages) if supervised is None else list(supervised)
        if len(flags) != len(rc):
            raise ValueError(f"{len(flags)} supervised flags for {len(rc)} messages")
        out: list = []
        if rc and rc[0][0] != "system":
            out += [(self.header["system"], 0), (self.eot, 0), ("\n", 0)]
        for (role, content), flag in zip(rc, flags, strict=True):
            if flag and role != "assistant":
                raise ValueError(f"only assistant turns can be supervised, not a {role} turn")
            out += [None, (self.header[role], 0)]
            if role == "user":
                out.append((content + "\n", 0))
            else:
                bit = 1 if flag else 0
                out += [(content, bit), (self.eot, bit), ("\n", 0)]
        if add_generation_prompt:
            out.append((self.header["assistant"], 0))
        return out

    def encode(self, messages: Sequence, supervised: Sequence[bool] | None = None,
               add_generation_prompt: bool = False) -> ChatTokens:  # fmt: skip
        """One conversation (messages as ``{"role", "content"}`` mappings or objects with those attributes)."""
        return self.encode_batch([messages], [supervised], add_generation_prompt)[0]

    def encode_batch(self, conversations: Sequence[Sequence], supervised: Sequence[Sequence[bool] | None] | None = None,
                     add_generation_prompt: bool = False) -> list[ChatTokens]:  # fmt: skip
        """Many conversations, their text pieces tokenized in one ``encode_batch_fast`` call. Raises ValueError on
        an unknown role, non-string content, or a supervised flag on a turn that is not the assistant's."""
        sup = supervised if supervised is not None else [None] * len(conversations)
        plans = [self._pieces(c, s, add_generation_prompt) for c, s in zip(conversations, sup, strict=True)]
        texts = [p[0] for plan in plans for p in plan if p is not None and isinstance(p[0], str) and p[0]]
        encoded = iter(self.tok.encode_batch_fast(texts, add_special_tokens=False)) if texts else iter(())
        out = []
        for plan in plans:
            ids: list[int] = []
            mask: list[int] = []
            starts: list[int] = []
            for piece in plan:
                if piece is None:
                    starts.append(len(ids))
                    continue
                value, bit = piece
                if isinstance(value, str):
                    if not value:
                        continue
                    got = next(encoded).ids
                    ids += got
                    mask += [bit] * len(got)
                else:
                    ids.append(value)
                    mask.append(bit)
            out.append(ChatTokens(np.asarray(ids, dtype=np.int64), np.asarray(mask, dtype=np.uint8),
                                  np.asarray(starts, dtype=np.int64)))  # fmt: skip
        return out
