"""Anthropic HH text dialogues: turn parsing and the shared-prompt split, tricky cases included."""

from __future__ import annotations

import pytest

from quality.posttrain.hh import parse_dialogue
from quality.posttrain.readers import HHConfig, read_hh
from quality.posttrain.schema import Message, PreferencePair
from quality.posttrain.validate import RecordError

PROMPT = "\n\nHuman: what are some pranks with a pen i can do?\n\nAssistant: Are you looking for practical joke ideas?"
PROMPT += "\n\nHuman: yep"


def test_multi_turn_split():
    record = {
        "chosen": PROMPT + "\n\nAssistant: Ok, here are two:\n\n1. Swap the ink.\n2. Hide the cap.",
        "rejected": PROMPT + "\n\nAssistant: No.",
    }
    pair = read_hh(record)
    assert isinstance(pair, PreferencePair)
    assert pair.prompt == (
        Message("user", "what are some pranks with a pen i can do?"),
        Message("assistant", "Are you looking for practical joke ideas?"),
        Message("user", "yep"),
    )
    # a blank line not followed by a tag stays inside the turn
    assert pair.chosen == (Message("assistant", "Ok, here are two:\n\n1. Swap the ink.\n2. Hide the cap."),)
    assert pair.rejected == (Message("assistant", "No."),)


def test_korean_dialogue_and_custom_tags():
    record = {
        "chosen": "\n\nHuman: 잠이 안 와요.\n\nAssistant: 따뜻한 우유를 마시거나 가벼운 스트레칭을 해 보세요.",
        "rejected": "\n\nHuman: 잠이 안 와요.\n\nAssistant: 그냥 밤새세요.",
    }
    pair = read_hh(record)
    assert pair.prompt == (Message("user", "잠이 안 와요."),)
    assert pair.chosen[0].content.startswith("따뜻한 우유")
    tagged = {k: v.replace("Human:", "사용자:").replace("Assistant:", "AI:") for k, v in record.items()}
    assert read_hh(tagged, HHConfig(human_tag="사용자", assistant_tag="AI")) == pair


def test_tags_only_count_at_the_start_or_after_a_blank_line():
    msgs = parse_dialogue("Human: He wrote 'Human: hi' and\nAssistant: nothing\n\n\nAssistant: Odd quote.")
    assert msgs == [
        Message("user", "He wrote 'Human: hi' and\nAssistant: nothing"),
        Message("assistant", "Odd quote."),
    ]
    # leading whitespace before the first tag is fine; other text is not
    assert parse_dialogue("  \n\nHuman: a\n\nAssistant: b")[0] == Message("user", "a")
    with pytest.raises(RecordError) as e:
        parse_dialogue("Preamble.\n\nHuman: a\n\nAssistant: b")
    assert e.value.reason == "unparseable_hh"


@pytest.mark.parametrize(
    ("chosen", "rejected", "reason"),
    [
        # the dialogues differ at an earlier human turn: two prompts, not one
        (PROMPT + "\n\nAssistant: A", PROMPT.replace("yep", "nope") + "\n\nAssistant: B", "unparseable_hh"),
        # ... or at an earlier assistant turn, both going on with the same human words
        (
            "\n\nHuman: q\n\nAssistant: a1\n\nHuman: more\n\nAssistant: a2",
            "\n\nHuman: q\n\nAssistant: b1\n\nHuman: more\n\nAssistant: b2",
            "unparseable_hh",
        ),
        # ... or in their number of turns (one is the other's prefix plus more)
        ("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: a\n\nHuman: ok\n\nAssistant: b", "unparseable_hh"),
        ("no turns at all", "\n\nHuman: q\n\nAssistant: a", "unparseable_hh"),
        ("", "\n\nHuman: q\n\nAssistant: a", "unparseable_hh"),
        # two assistant turns in a row (HH has these)
        ("\n\nHuman: q\n\nAssistant: a\n\nAssistant: b", "\n\nHuman: q\n\nAssistant: c", "roles_out_of_order"),
        ("\n\nAssistant: hello\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: c", "roles_out_of_order"),
        ("\n\nHuman: q\n\nAssistant: a", "\n\nHuman: q\n\nAssistant: a\n\nHuman: and?", "no_final_assistant_turn"),
        ("\n\nHuman: q\n\nAssistant: ", "\n\nHuman: q\n\nAssistant: Sure.", "empty_assistant_turn"),
        ("\n\nHuman:  \n\nAssistant: a", "\n\nHuman:  \n\nAssistant: b", "empty_prompt"),
        ("\n\nHuman: q\n\nAssistant: Same.", "\n\nHuman: q\n\nAssistant: Same.  ", "chosen_equals_rejected"),
        (None, "\n\nHuman: q\n\nAssistant: a", "missing_field"),
        (["Human: q"], "\n\nHuman: q\n\nAssistant: a", "wrong_type"),
    ],
)
def test_rejections(chosen, rejected, reason):
    out = read_hh({"chosen": chosen, "rejected": rejected})
    assert not isinstance(out, PreferencePair)
    assert out.reason == reason, out


def test_too_long_counts_prompt_and_the_longer_response():
    record = {
        "chosen": "\n\nHuman: " + "q" * 50 + "\n\nAssistant: " + "a" * 50,
        "rejected": "\n\nHuman: " + "q" * 50 + "\n\nAssistant: b",
    }
    assert isinstance(read_hh(record, HHConfig(max_chars=100)), PreferencePair)
    assert read_hh(record, HHConfig(max_chars=99)).reason == "too_long"
