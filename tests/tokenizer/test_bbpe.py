"""The trained byte-level BPE: round trips, merges inside MeCab morphemes, vocabulary layout and split."""

from __future__ import annotations

import math

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import bbpe
from tokenizer.config import DEFAULT_PATTERN, DEFAULT_SPECIAL_TOKENS, TokenizerConfig
from tokenizer.mecab import mark_boundaries
from tokenizer.train import next_share

EXAMPLES = [
    "",
    "안녕하세요, 세계! 오늘은 2024년 12월 3일입니다.",
    "Hello, world! It's 3:45pm — naïve café 😀🇰🇷👩‍👩‍👧",
    "코드: def f(x):\n\treturn x ** 2  # 제곱\r\n\r\n",
    "\x00\x01\x1f\x7f\u200b\ufeff control characters",
    "ㄱㄴㄷ ᄀᄁ 한글 자모, 漢字, カタカナ, عربى, עברית",
    "   leading and trailing spaces   ",
    "[|user|] is written as text here",
]


def test_vocabulary_is_exactly_the_size_asked_with_special_tokens_first(tiny_tok, tiny_cfg):
    assert tiny_tok.get_vocab_size() == tiny_cfg.vocab_size == 1500
    for i, token in enumerate(DEFAULT_SPECIAL_TOKENS):
        assert tiny_tok.token_to_id(token) == i
    # all 256 bytes are in the vocabulary: any text encodes without an unknown token
    assert all(tiny_tok.token_to_id(c) is not None for c in bbpe.byte_decoder())


@pytest.mark.parametrize("text", EXAMPLES)
def test_round_trip_examples(tiny_tok, text):
    ids = tiny_tok.encode(text).ids
    assert tiny_tok.decode(ids, skip_special_tokens=False) == text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_round_trip_any_unicode(tiny_tok, text):
    assert tiny_tok.decode(tiny_tok.encode(text).ids, skip_special_tokens=False) == text


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=120) | st.text("가각간갔다학교에서는요 😀\n", max_size=80)
)
def test_round_trip_with_mecab_at_encode_time(tiny_tok, text):
    with_mecab = bbpe.with_mecab_boundaries(tiny_tok)
    ids = with_mecab.encode(mark_boundaries(text)).ids
    assert tiny_tok.decode(ids, skip_special_tokens=False) == text.replace("\x1f", "")


def _training_words(texts: list[str], mecab: bool) -> bytes:
    """The words a BPE trainer sees, computed without tokenizer.mecab: MeCab's surfaces (full output format)
    aligned on the text, boundaries at morpheme ends unless both neighbours are ASCII, then the split pattern."""
    from quality.korean import morphemes

    pat = regex.compile(DEFAULT_PATTERN)
    words = []
    for text in texts:
        cuts = [0]
        if mecab:
            pos = 0
            for surface, _tag in morphemes(text):
                start = text.find(surface, pos)
                assert start >= 0 and not text[pos:start].strip(), (surface, text[pos : pos + 20])
                pos = start + len(surface)
                if 0 < pos < len(text) and not (text[pos - 1].isascii() and text[pos].isascii()):
                    cuts.append(pos)
        cuts.append(len(text))
        for a, b in zip(cuts, cuts[1:], strict=False):
            words += [m.encode() for m in pat.findall(text[a:b])]
    return b"\xff".join(words)  # 0xFF never occurs in UTF-8


def _crossing_tokens(tok, blob: bytes) -> list[str]:
    out = []
    for token, _id in tok.get_vocab(with_added_tokens=False).items():
        if token in DEFAULT_SPECIAL_TOKENS or len(token) == 1:  # specials and the 256-byte alphabet
            continue
        if bbpe.token_bytes(token) not in blob:
            out.append(bbpe.token_bytes(token).decode("utf-8", errors="replace"))
    return out


def test_merges_never_cross_a_mecab_boundary(korean_texts):
    cfg = TokenizerConfig(vocab_size=1200)
    with_mecab = bbpe.train([mark_boundaries(t) for t in korean_texts], cfg)
    assert _crossing_tokens(with_mecab, _training_words(korean_texts, mecab=True)) == []
    # the check has teeth: trained on the same text without MeCab, tokens span morphemes (e.g. stem + ending)
    plain = bbpe.train(korean_texts, cfg)
    crossing = _crossing_tokens(plain, _training_words(korean_texts, mecab=True))
    assert len(crossing) > 20, crossing


def test_repeated_phrase_never_becomes_one_token():
    cfg = TokenizerConfig(vocab_size=400, min_frequency=1)
    texts = ["나는 학교에 갔다. 학교에서 공부했다."] * 200
    vocab_with = {
        bbpe.token_bytes(t).decode("utf-8", "replace") for t in bbpe.train(map(mark_boundaries, texts), cfg).get_vocab()
    }
    vocab_without = {bbpe.token_bytes(t).decode("utf-8", "replace") for t in bbpe.train(texts, cfg).get_vocab()}
    assert " 학교에" in vocab_without and " 학교에" not in vocab_with
    assert " 학교" in vocab_with and "에서" in vocab_with


def test_release_tokenizer_has_no_mark_step(tiny_tok):
    import json

    pre = json.loads(tiny_tok.to_str())["pre_tokenizer"]
    assert [p["type"] for p in pre["pretokenizers"]] == ["Split", "ByteLevel"]
    assert pre["pretokenizers"][0]["pattern"] == {"Regex": DEFAULT_PATTERN}
    # a mark in text is an ordinary byte at encode time
    assert tiny_tok.decode(tiny_tok.encode("학교\x1f에").ids) == "학교\x1f에"


def test_vocab_split_accounts_for_every_token(tiny_tok):
    s = bbpe.vocab_split(tiny_tok)
    assert s.special == len(DEFAULT_SPECIAL_TOKENS)
    assert s.hangul + s.latin - s.mixed + s.other + s.special == tiny_tok.get_vocab_size()
    assert s.hangul > 100 and s.latin > 100
    assert s.korean_share == pytest.approx(s.hangul / (s.hangul + s.latin))


def test_vocab_split_classifies_by_script():
    cfg = TokenizerConfig(vocab_size=300, min_frequency=1)
    tok = bbpe.train(["한국어 한국어 한국어", "English English English"] * 50, cfg)
    texts = {bbpe.token_bytes(t).decode("utf-8", "replace") for t in tok.get_vocab()}
    assert " 한국어" in texts and " English" in texts
    s = bbpe.vocab_split(tok)
    hangul = [t for t in texts if any("\uac00" <= c <= "\ud7a3" for c in t)]
    assert s.hangul == len(hangul)


def test_next_share_converges_on_a_monotone_response():
    def response(s: float) -> float:  # vocabulary share as a function of byte share (made up, monotone)
        x = math.log(s / (1 - s))
        return 1 / (1 + math.exp(-(0.6 * x - 0.5)))

    history = [(0.5, response(0.5))]
    for _ in range(4):
        s = next_share(history, 0.5, 0.05, 0.95)
        history.append((s, response(s)))
    assert abs(history[-1][1] - 0.5) < 0.01
    assert history[1][0] > 0.5  # too few Hangul tokens: more Korean text


def test_next_share_stays_in_bounds():
    assert next_share([(0.9, 0.01)], 0.5, 0.05, 0.95) == 0.95
    assert next_share([(0.1, 0.99)], 0.5, 0.05, 0.95) == 0.05
