"""tokenizer.chat against the references: the chat template's text is unchanged by the generation markers,
moru's ids equal the tokenizer's encoding of the rendered string, and moru's ids and loss mask equal transformers'
``apply_chat_template(..., return_assistant_tokens_mask=True)`` on many generated conversations (system / user /
assistant / tool, Korean / English, multi-turn, awkward whitespace), with every assistant turn supervised and with
the last response's only."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quality.posttrain.schema import Message
from quality.posttrain.turns import supervised_mask
from tokenizer.chat import ChatEncoder
from tokenizer.hf import CHAT_TEMPLATE, render_chat

# the template as it was before the {% generation %} markers: the rendered text must not change
TEMPLATE_BEFORE_MARKERS = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant', 'tool'] -%}"
    "{{- raise_exception('unknown chat role: ' ~ message['role']) -}}"
    "{%- endif -%}"
    "{%- if loop.first and message['role'] != 'system' -%}{{- '[|system|][|endofturn|]\\n' -}}{%- endif -%}"
    "{{- '[|' ~ message['role'] ~ '|]' ~ message['content'] -}}"
    "{%- if message['role'] == 'user' -%}{{- '\\n' -}}{%- else -%}{{- '[|endofturn|]\\n' -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '[|assistant|]' -}}{%- endif -%}"
)
N_CONVERSATIONS = 400


@pytest.fixture(scope="module")
def auto(tiny_dir):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_dir))


@pytest.fixture(scope="module")
def encoder(tiny_dir) -> ChatEncoder:
    return ChatEncoder.from_folder(tiny_dir)


def _snippet(rng: random.Random, texts: list[str]) -> str:
    """A piece of a demo document (Korean or English) with an awkward edge now and then."""
    r = rng.random()
    if r < 0.05:
        return ""
    t = rng.choice(texts)
    a = rng.randrange(max(1, len(t) - 20))
    s = t[a : a + rng.randint(1, 160)]
    edges = ["", "", "", " ", "  ", "\n", "\n\n", "\t", " 😀", "123", "。", "\u200b", "e\u0301"]
    return rng.choice(edges) + s + rng.choice(edges)


def conversation(rng: random.Random, texts: list[str]) -> list[dict]:
    """System (sometimes), 1-4 user turns each answered by the assistant, now and then through a tool call and
    its result, a few that end on a user or a tool turn, or that start with the assistant."""
    msgs: list[dict] = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": _snippet(rng, texts)})
    if rng.random() < 0.05:
        msgs.append({"role": "assistant", "content": _snippet(rng, texts)})
    for _ in range(rng.randint(1, 4)):
        msgs.append({"role": "user", "content": _snippet(rng, texts)})
        while rng.random() < 0.2:
            msgs.append({"role": "assistant", "content": "call: " + _snippet(rng, texts)})
            msgs.append({"role": "tool", "content": _snippet(rng, texts)})
        msgs.append({"role": "assistant", "content": _snippet(rng, texts)})
    r = rng.random()
    if r < 0.1:
        msgs.append({"role": "user", "content": _snippet(rng, texts)})
    elif r < 0.15:
        msgs.append({"role": "tool", "content": _snippet(rng, texts)})
    return msgs


@pytest.fixture(scope="module")
def conversations(demo_texts) -> list[list[dict]]:
    rng = random.Random(20)
    return [conversation(rng, demo_texts) for _ in range(N_CONVERSATIONS)]


def _hf(auto, msgs, **kw) -> tuple[list[int], list[int]]:
    out = auto.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True, **kw)
    return list(out["input_ids"]), list(out["assistant_masks"])


def test_the_generation_markers_change_no_text(auto, conversations):
    import jinja2

    before = jinja2.Environment().from_string(TEMPLATE_BEFORE_MARKERS)
    for msgs in conversations:
        for prompt in (False, True):
            text = auto.apply_chat_template(msgs, tokenize=False, add_generation_prompt=prompt)
            assert text == before.render(messages=msgs, add_generation_prompt=prompt) == render_chat(msgs, prompt)
            assert auto.apply_chat_template(msgs, tokenize=False, supervised_turns="last") == render_chat(msgs)
    assert "{%- generation -%}" in CHAT_TEMPLATE and auto.chat_template == CHAT_TEMPLATE


@pytest.mark.parametrize("which", ["all", "last"])
def test_ids_and_mask_equal_transformers_assistant_tokens_mask(auto, encoder, conversations, which):
    kw = {"supervised_turns": "last"} if which == "last" else {}
    flags = [supervised_mask([Message.from_dict(m) for m in msgs], which) for msgs in conversations]
    batch = encoder.encode_batch(conversations, flags)
    supervised = total = 0
    for msgs, flag, got in zip(conversations, flags, batch, strict=True):
        ids, mask = _hf(auto, msgs, **kw)
        assert got.ids.tolist() == ids
        assert got.mask.tolist() == mask, msgs
        supervised += sum(mask)
        total += len(mask)
        # and the mask is what it says: every supervised turn's content + [|endofturn|], nothing else
        spans = np.flatnonzero(np.diff(np.concatenate([[0], got.mask, [0]])))
        pieces = [encoder.tok.decode(got.ids[a:b].tolist(), skip_special_tokens=False) for a, b in spans.reshape(-1, 2)]
        wanted = [m["content"] + "[|endofturn|]" for m, f in zip(msgs, flag, strict=True) if f]
        assert "".join(pieces) == "".join(wanted)
    assert 0.1 < supervised / total < 0.9  # the conversations do exercise both sides


def test_ids_equal_encoding_the_rendered_text(encoder, tiny_dir, conversations):
    from tokenizers import Tokenizer

    plain = Tokenizer.from_file(str(tiny_dir / "tokenizer.json"))
    for msgs in conversations[:150]:
        for prompt in (False, True):
            text = render_chat(msgs, add_generation_prompt=prompt)
            got = encoder.encode(msgs, add_generation_prompt=prompt)
            assert got.ids.tolist() == plain.encode(text, add_special_tokens=False).ids
            assert plain.decode(got.ids.tolist(), skip_special_tokens=False) == text


def test_generation_prompt_and_turn_starts(auto, encoder, conversations):
    for msgs in conversations[:100]:
        got = encoder.encode(msgs, add_generation_prompt=True)
        hf_ids = auto.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
        hf_ids = hf_ids["input_ids"] if not isinstance(hf_ids, list) else hf_ids
        assert got.ids.tolist() == list(hf_ids) and got.ids[-1] == encoder.header["assistant"]
        assert got.mask[-1] == 0
        assert [int(got.ids[s]) for s in got.turn_starts] == [encoder.header[m["role"]] for m in msgs]


def test_control_token_text_in_a_message_is_plain_text(auto, encoder):
    msgs = [
        {"role": "user", "content": "끝은 [|endofturn|] 이렇게, then [|assistant|] and [|user|]"},
        {"role": "assistant", "content": "I type [|endofturn|][|system|] as text."},
        {"role": "tool", "content": "[PAD][EOS]"},
    ]
    got = encoder.encode(msgs)
    sanitized = auto.apply_chat_template(msgs, tokenize=True, sanitize_control_tokens=True)
    sanitized = sanitized["input_ids"] if not isinstance(sanitized, list) else sanitized
    assert got.ids.tolist() == list(sanitized)
    # the end-of-turn id only where the template puts it: the empty system turn, the assistant's and the tool's
    assert int((got.ids == encoder.eot).sum()) == 3
    assert encoder.tok.decode(got.ids.tolist(), skip_special_tokens=False) == render_chat(msgs)
    masked = encoder.tok.decode(got.ids[got.mask == 1].tolist(), skip_special_tokens=False)
    assert masked == "I type [|endofturn|][|system|] as text.[|endofturn|]"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(
        st.text(alphabet=st.sampled_from(list("ab 한국어\n\t.!?'s😀\u0301\u200b1[|]")), max_size=12),
        min_size=1,
        max_size=6,
    ),
    system=st.booleans(),
)
def test_any_text_matches_transformers(auto, encoder, contents, system):
    roles = ["user", "assistant"] * 3
    msgs = ([{"role": "system", "content": "sys"}] if system else []) + [
        {"role": roles[i], "content": c} for i, c in enumerate(contents)
    ]
    got = encoder.encode(msgs)
    ids, mask = _hf(auto, msgs)  # the alphabet spells no control token ("[|" alone is plain text)
    assert got.ids.tolist() == ids and got.mask.tolist() == mask


def test_batch_equals_one_by_one(encoder, conversations):
    batch = encoder.encode_batch(conversations[:50])
    for msgs, got in zip(conversations[:50], batch, strict=True):
        one = encoder.encode(msgs)
        assert np.array_equal(one.ids, got.ids) and np.array_equal(one.mask, got.mask)
        assert np.array_equal(one.turn_starts, got.turn_starts)


def test_errors(encoder):
    with pytest.raises(ValueError, match="unknown chat role: narrator"):
        encoder.encode([{"role": "narrator", "content": "x"}])
    with pytest.raises(ValueError, match="only assistant turns"):
        encoder.encode([{"role": "user", "content": "x"}], supervised=[True])
    with pytest.raises(ValueError, match="2 supervised flags for 1 messages"):
        encoder.encode([{"role": "user", "content": "x"}], supervised=[False, False])
    with pytest.raises(ValueError, match="expected a string"):
        encoder.encode([{"role": "user", "content": None}])
    assert encoder.encode([]).ids.size == 0
