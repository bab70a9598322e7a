"""The word-count trainer (tokenizer.wordcount): chunks never cut a word, and training from the distinct chunks'
word table gives the same tokenizer as feeding HF's trainer the texts."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import bbpe, wordcount
from tokenizer.config import DEFAULT_PATTERN, TokenizerConfig
from tokenizer.mecab import MARK, mark_boundaries

PRE = bbpe.training_pre_tokenizer(DEFAULT_PATTERN)
# the characters that decide where the split pattern cuts: spaces of every kind, newlines, marks, digits, letters
TRICKY = st.text(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2009\u3000abSTéÿ×한국19'.,\"-_~^`😀ªµ٣", max_size=60)


def _words(text: str) -> list[str]:
    return [w for w, _ in PRE.pre_tokenize_str(text)]


@settings(max_examples=500, deadline=None)
@given(TRICKY | st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_chunks_never_cut_a_word(text):
    cut = wordcount.chunks(text)
    assert "".join(cut) == text
    assert [w for c in cut for w in _words(c)] == _words(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(TRICKY, max_size=6))
def test_word_table_is_the_trainers(texts):
    counts = wordcount.count_chunks(texts)
    table = wordcount.word_counts(counts, PRE, default_pattern=True)
    expected: dict[str, int] = {}
    for t in texts:
        for w in _words(t):
            expected[w] = expected.get(w, 0) + 1
    assert table == expected


def _same(a, b) -> bool:
    return json.loads(a.to_str()) == json.loads(b.to_str())


def test_word_count_training_equals_feeding_the_texts(demo_texts):
    texts = [mark_boundaries(t) for t in demo_texts[:500]]
    for vocab in (800, 2000):
        cfg = TokenizerConfig(vocab_size=vocab)
        assert _same(bbpe.train(texts, cfg), bbpe.train_direct(texts, cfg))


def test_equal_on_awkward_whitespace():
    texts = ["a  b\t c\n d \n\ne", " lead", "trail  ", "x\x1f y\u3000 z", "1 2  3", "don't  stop", "  "] * 30
    cfg = TokenizerConfig(vocab_size=300, min_frequency=1)
    assert _same(bbpe.train(texts, cfg), bbpe.train_direct(texts, cfg))


def test_raw_training_without_mecab_is_exact(demo_texts):
    docs = demo_texts[:300]
    cfg = TokenizerConfig(vocab_size=1000, mecab=False)
    raw = bbpe.train_raw([(t, "ko" if i % 2 else "en") for i, t in enumerate(docs)], cfg)
    assert _same(raw, bbpe.train_direct([t.replace(MARK, "") for t in docs], cfg))


def test_raw_training_marks_distinct_korean_chunks(korean_texts):
    """MeCab on distinct chunks: every chunk gets the marks MeCab gives it beside other chunks; the pieces are
    still the text, and most chunks are marked as they are inside their own document."""
    chunks = list(wordcount.count_chunks(korean_texts[:100], keep_marks=False))
    marked = wordcount.mark_chunks(chunks)
    assert [m.replace(MARK, "") for m in marked] == chunks
    in_doc = set(wordcount.count_chunks([mark_boundaries(t) for t in korean_texts[:100]]))
    same = sum(m.strip(MARK) in {c.strip(MARK) for c in in_doc} for m in marked)
    assert same / len(marked) > 0.9


def test_non_default_pattern_falls_back_to_feeding_texts(demo_texts):
    cfg = TokenizerConfig(vocab_size=600, pattern=r"\s?\w+|\s?[^\w\s]+|\s+")
    texts = demo_texts[:100]
    assert _same(bbpe.train(texts, cfg), bbpe.train_direct(texts, cfg))
