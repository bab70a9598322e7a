"""SuperBPE (tokenizer.superbpe): superwords across spaces, a plain tokenizer.json that AutoTokenizer loads,
exact round trips, fewer tokens per word than BBPE at the same vocabulary, config errors."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tokenizer import bbpe, hf, superbpe
from tokenizer.config import TokenizerConfig, fingerprint
from tokenizer.mecab import mark_boundaries

VOCAB, TRANSITION = 2500, 1800


@pytest.fixture(scope="module")
def split(demo_texts):
    return demo_texts[:900], demo_texts[1300:]  # train, held out


@pytest.fixture(scope="module")
def sb_cfg():
    return TokenizerConfig(vocab_size=VOCAB, algorithm="superbpe", superbpe={"transition_vocab_size": TRANSITION})


@pytest.fixture(scope="module")
def sb(split, sb_cfg):
    info: dict = {}
    tok = superbpe.train([mark_boundaries(t) for t in split[0]], sb_cfg, info=info)
    return tok, info


def test_vocabulary_stage_one_then_superwords(sb, split, sb_cfg):
    tok, info = sb
    assert tok.get_vocab_size() == VOCAB - info["superbpe_duplicates"]
    assert info["transition_vocab_size"] == TRANSITION and info["stage2_merges"] > 0
    # stage 1 is the BBPE at the transition size: its merges are the first ones, in order
    stage1 = bbpe.train([mark_boundaries(t) for t in split[0]], sb_cfg, vocab_size=TRANSITION)
    m1 = json.loads(stage1.to_str())["model"]["merges"]
    m = json.loads(tok.to_str())["model"]["merges"]
    assert m[: len(m1)] == m1
    for i, t in enumerate(sb_cfg.all_special_tokens()):
        assert tok.token_to_id(t) == i


def test_superwords_cross_spaces_in_both_languages(sb):
    words = superbpe.superwords(sb[0])
    assert any(any("\uac00" <= c <= "\ud7a3" for c in w) for w in words), words[:20]
    assert any(w.strip().isascii() and any(c.isalpha() for c in w) for w in words), words[:20]
    # an encoded sentence uses one: a token with a space inside it
    tok = sb[0]
    text = max(words, key=len)
    pieces = [bbpe.token_bytes(t).decode("utf-8", "replace") for t in tok.encode(text).tokens]
    assert any(" " in p.lstrip(" ") for p in pieces), pieces


def test_fewer_tokens_per_word_than_bbpe(sb, split):
    held = split[1]
    plain = bbpe.train([mark_boundaries(t) for t in split[0]], TokenizerConfig(vocab_size=VOCAB))
    words = sum(len(t.split()) for t in held)

    def per_word(tok) -> float:
        return sum(len(e.ids) for e in tok.encode_batch(held, add_special_tokens=False)) / words

    assert per_word(sb[0]) < 0.95 * per_word(plain)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
    | st.text("가나다 학교에 갔다. the of  \n,", max_size=80)
)
def test_round_trip_any_text(sb, text):
    tok = sb[0]
    assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text


def test_auto_tokenizer_loads_the_folder_offline(sb, sb_cfg, split, tmp_path):
    tok, info = sb
    folder = hf.save(tok, sb_cfg, tmp_path / "sb", {"algorithm": "superbpe", **info})
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(str(folder))
    assert auto.eos_token == "[|endofturn|]" and auto.eos_token_id == 7 and auto.bos_token_id == 1
    for text in split[1][:20] + ["[|user|] 안녕 of the [BOS]"]:
        ids = auto(text)["input_ids"]
        assert ids == tok.encode(text).ids
        assert auto.decode(ids) == text
    chat = [{"role": "user", "content": "한국의 수도는?"}, {"role": "assistant", "content": "서울입니다."}]
    out = auto.apply_chat_template(chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    assert auto.decode(ids) == hf.render_chat(chat)
    assert ids[0] == auto.convert_tokens_to_ids("[|system|]")
    supervised = [i for i, m in zip(ids, mask, strict=True) if m]
    assert auto.decode(supervised) == "서울입니다.[|endofturn|]"


def test_config_errors():
    with pytest.raises(ValidationError, match="transition_vocab_size .* must be below vocab_size"):
        TokenizerConfig(vocab_size=5000, algorithm="superbpe", superbpe={"transition_vocab_size": 5000})
    with pytest.raises(ValidationError, match="transition_vocab_size .* must be below vocab_size"):
        TokenizerConfig(vocab_size=5000, algorithm="superbpe", superbpe={"transition_vocab_size": 9000})
    with pytest.raises(ValidationError, match="unknown tokenizer algorithm 'wordpiece'"):
        TokenizerConfig(algorithm="wordpiece")
    with pytest.raises(ValidationError, match="must exceed the 9 special tokens"):
        TokenizerConfig(vocab_size=5000, algorithm="superbpe", superbpe={"transition_vocab_size": 100})
    # the default transition is 90 % of the vocabulary; a bbpe config's fingerprint ignores the superbpe section
    assert TokenizerConfig(vocab_size=10_000, algorithm="superbpe").superbpe.transition(10_000) == 9000
    assert fingerprint(TokenizerConfig()) == fingerprint(TokenizerConfig(superbpe={"transition_vocab_size": 7}))
    assert fingerprint(TokenizerConfig()) != fingerprint(TokenizerConfig(algorithm="superbpe"))


def test_train_on_a_sample_folder_follows_the_algorithm(demo_texts, tmp_path):
    """`moru tokenizer train`'s trainer call (tokenizer.train.train_on) on a sample's Parquet folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokenizer.train import train_on

    texts = [mark_boundaries(t) for t in demo_texts[:300]]
    (tmp_path / "sample").mkdir()
    pq.write_table(pa.table({"train_text": texts}), tmp_path / "sample" / "part-0.parquet")
    cfg = TokenizerConfig(vocab_size=1300, algorithm="superbpe", superbpe={"transition_vocab_size": 1000})
    tok = train_on(str(tmp_path / "sample"), cfg)
    assert tok.get_vocab_size() <= 1300 and superbpe.superwords(tok)
    plain = train_on(str(tmp_path / "sample"), TokenizerConfig(vocab_size=1300))
    assert not superbpe.superwords(plain)
