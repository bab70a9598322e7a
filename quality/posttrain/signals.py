"""Per-row quality signals of post-training data: numbers only (thresholds live in the select config).

The response is the final assistant turn; the prompt is everything before the response segment
(quality.posttrain.turns). Signal names (all floats):

- ``response_chars``, ``response_words`` (whitespace words), ``prompt_chars``, ``n_turns``,
  ``n_assistant_turns``.
- Repetition of the response, Gopher's measures (quality.signals.gopher, Rae et al. 2021, Table A1)
  over whitespace words unless the caller passes its words (MeCab morphemes for Korean):
  ``response_dup_line_char_frac``, ``response_top_{2,3,4}gram_char_frac``,
  ``response_dup_{5,10}gram_char_frac``.
- Refusals in the response: ``refusal_phrases`` (how many phrases of ``REFUSAL_PHRASES`` occur,
  matched case-insensitively with curly apostrophes made straight), ``refusal`` (1.0 if any),
  ``refusal_at_start`` (1.0 if one starts within the first ``REFUSAL_HEAD`` characters, where a
  refusal opens an answer rather than quoting one).
- Template leftovers: ``template_markers_response`` / ``template_markers_prompt``, occurrences of
  chat-template tokens and role prefixes left inside message text (``TEMPLATE_MARKERS``, plus a
  ``Human:`` / ``Assistant:`` / ``User:`` … prefix at the start of a line).
- Language: ``lang_mismatch`` (1.0 when prompt and response languages differ) from a language-id
  callable passed in (e.g. quality.langid.identify's first field), batch-wise in
  :func:`language_signals`. ``ko+en`` agrees with ``ko`` and with ``en``; ``und`` (no letters:
  code, numbers) agrees with anything, and so does a text under ``min_chars`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from quality.posttrain.schema import Conversation, Message
from quality.posttrain.turns import split_prompt_response
from quality.signals.gopher import gopher_repetition

REFUSAL_PHRASES_EN = (
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "sorry, but i can't",
    "i can't help with that",
    "i cannot help with that",
    "i can't help you",
    "i cannot help you",
    "i won't help",
    "i'm not going to help",
    "i don't feel comfortable",
    "i'm not comfortable",
    "i can't assist with that",
    "i cannot assist with that",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i cannot provide",
    "i can't provide",
    "i cannot fulfill",
    "i can't fulfill",
    "i won't be able to",
    "as an ai language model",
    "as an ai assistant",
    "as an ai,",
    "i'm just an ai",
    "i am just an ai",
    "i must decline",
    "against my programming",
)
REFUSAL_PHRASES_KO = (
    "죄송하지만",
    "죄송합니다만",
    "저는 ai 언어 모델",
    "ai 언어 모델로서",
    "저는 인공지능",
    "인공지능으로서",
    "도와드릴 수 없",
    "도와 드릴 수 없",
    "도와줄 수 없",
    "도움을 드릴 수 없",
    "안내해 드릴 수 없",
    "답변을 드릴 수 없",
    "답변드릴 수 없",
    "답변해 드릴 수 없",
    "제공할 수 없",
    "제공해 드릴 수 없",
    "말씀드릴 수 없",
    "응답할 수 없",
)
REFUSAL_PHRASES = REFUSAL_PHRASES_EN + REFUSAL_PHRASES_KO
REFUSAL_HEAD = 200

TEMPLATE_MARKERS = (
    "### Instruction",
    "### Input",
    "### Response",
    "### Human",
    "### Assistant",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|begin_of_text|>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<s>",
    "</s>",
    "<start_of_turn>",
    "<end_of_turn>",
    "[|system|]",
    "[|user|]",
    "[|assistant|]",
    "[|endofturn|]",
)
_MARKERS = re.compile("|".join(map(re.escape, TEMPLATE_MARKERS)))
_ROLE_PREFIX = re.compile(r"^[ \t]*(?:Human|Assistant|User|System|AI|GPT|Bot)[ \t]*:", re.MULTILINE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_REFUSALS = re.compile("|".join(map(re.escape, REFUSAL_PHRASES)))


def length_signals(text: str, words: list[str] | None = None) -> dict[str, float]:
    return {"response_chars": float(len(text)), "response_words": float(len(text.split() if words is None else words))}


_REPETITION_KEYS = (
    "dup_line_char_frac",
    "top_2gram_char_frac",
    "top_3gram_char_frac",
    "top_4gram_char_frac",
    "dup_5gram_char_frac",
    "dup_10gram_char_frac",
)


def repetition_signals(text: str, words: list[str] | None = None) -> dict[str, float]:
    rep = gopher_repetition(text, text.split() if words is None else words)
    return {f"response_{k}": rep[f"gopher_{k}"] for k in _REPETITION_KEYS}


def refusal_signals(text: str) -> dict[str, float]:
    folded = text.translate(_APOSTROPHES).lower()
    found = {m.group(0): m.start() for m in _REFUSALS.finditer(folded)}
    return {
        "refusal_phrases": float(len(found)),
        "refusal": float(bool(found)),
        "refusal_at_start": float(any(pos < REFUSAL_HEAD for pos in found.values())),
    }


def template_markers(text: str) -> int:
    """Chat-template tokens and line-initial role prefixes inside one message's text."""
    return len(_MARKERS.findall(text)) + len(_ROLE_PREFIX.findall(text))


def conversation_signals(conv: Conversation | Sequence[Message], words: list[str] | None = None) -> dict[str, float]:
    """Every signal but the language one for a conversation (its final assistant turn is the response).

    ``words``: the response's words for the word-based signals (default: whitespace split).
    """
    msgs = conv.messages if isinstance(conv, Conversation) else tuple(conv)
    prompt, response = split_prompt_response(msgs)
    text = response[-1].content if response else ""
    return {
        **length_signals(text, words),
        "prompt_chars": float(sum(len(m.content) for m in prompt)),
        "n_turns": float(len(msgs)),
        "n_assistant_turns": float(sum(m.role == "assistant" for m in msgs)),
        **repetition_signals(text, words),
        **refusal_signals(text),
        "template_markers_response": float(sum(template_markers(m.content) for m in response)),
        "template_markers_prompt": float(sum(template_markers(m.content) for m in prompt)),
    }


def languages_agree(a: str, b: str) -> bool:
    if a == b or "und" in (a, b):
        return True
    return a == "ko+en" and b in ("ko", "en") or b == "ko+en" and a in ("ko", "en")


def language_signals(
    prompts: Sequence[str],
    responses: Sequence[str],
    identify: Callable[[Sequence[str]], Sequence[str]],
    min_chars: int = 20,
) -> list[dict[str, float]]:
    """``lang_mismatch`` for each (prompt text, response text); ``identify`` labels a batch of texts.

    A text shorter than ``min_chars`` (stripped) counts as ``und``: "Ok", "Haha." or a bare number
    carry too little for language id to be trusted, and a short reply should not look like a switch.
    """
    texts = [*prompts, *responses]
    labels = list(identify(texts))
    labels = ["und" if len(t.strip()) < min_chars else label for t, label in zip(texts, labels, strict=True)]
    n = len(prompts)
    return [{"lang_mismatch": float(not languages_agree(p, r))} for p, r in zip(labels[:n], labels[n:], strict=True)]
