"""The compiled helper ``moru_bpe`` (tokenizer/native, built by scripts/setup.sh) against the pure-Python path it
replaces and against HF's own trainer fed the texts: the same chunks, counts, word table and tokenizer, byte
for byte. (A missing build fails here on purpose: the benchmarked training speed depends on it.)"""

from __future__ import annotations

import json

import moru_bpe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import bbpe, superbpe, wordcount
from tokenizer.config import DEFAULT_PATTERN, TokenizerConfig
from tokenizer.mecab import MARK, has_hangul, has_script, mark_boundaries

PRE = bbpe.training_pre_tokenizer(DEFAULT_PATTERN)
PRE_JSON = PRE.__getstate__().decode()
TRICKY = st.text(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2009\u3000abSTéÿ×한국19'.,\"-_~^`😀ªµ٣", max_size=60)


def _same(a, b) -> bool:
    return json.loads(a.to_str()) == json.loads(b.to_str())


@pytest.fixture
def python_path(monkeypatch):
    """Run the block under the pure-Python path."""

    class Off:
        def __enter__(self):
            monkeypatch.setenv("MORU_NATIVE_BPE", "0")
            assert bbpe.native() is None

        def __exit__(self, *exc):
            monkeypatch.delenv("MORU_NATIVE_BPE")

    return Off()


def test_native_is_used():
    assert bbpe.native() is moru_bpe


@settings(max_examples=500, deadline=None)
@given(TRICKY | st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_chunks_are_pythons(text):
    assert moru_bpe.chunks(text) == [c for c in wordcount.chunks(text) if c]  # "" has no chunk


@settings(max_examples=200, deadline=None)
@given(st.lists(TRICKY, max_size=6), st.booleans())
def test_counts_and_word_table_are_pythons(texts, keep_marks):
    table = moru_bpe.ChunkTable()
    table.add(texts, keep_marks=keep_marks)
    counts = wordcount.count_chunks(texts, keep_marks=keep_marks)
    assert table.chunk_counts() == dict(counts)
    assert table.stats() == (len(counts), sum(counts.values()))
    assert table.word_counts(PRE_JSON) == wordcount.word_counts(counts, PRE, default_pattern=True)


def test_pending_korean_chunks_and_resolve(korean_texts):
    texts = korean_texts[:50] + ["plain English text, 42 of it", "한국어 and English"]
    table = moru_bpe.ChunkTable()
    table.add(texts, mark="ko")
    pending = table.pending("ko")
    counts = wordcount.count_chunks(texts, keep_marks=False)
    assert pending and set(pending) == {c for c in counts if has_hangul(c)}
    with pytest.raises(RuntimeError, match="wait for MeCab"):
        table.word_counts(PRE_JSON)
    with pytest.raises(ValueError, match="marked chunks"):
        table.resolve("ko", pending[:-1])
    table.resolve("ko", wordcount.mark_chunks(pending))
    marked = dict(zip(pending, wordcount.mark_chunks(pending), strict=True))
    expected: dict[str, int] = {}
    for c, n in counts.items():
        key = marked.get(c, c)
        expected[key] = expected.get(key, 0) + n
    assert table.chunk_counts() == expected


def test_train_equals_feeding_the_texts(demo_texts):
    """Native word-count training (bbpe.train) = HF's Python binding fed every text (train_direct) = the
    pure-Python word-table path, at two vocabulary sizes, MeCab-marked text included."""
    texts = [mark_boundaries(t) for t in demo_texts[:400]]
    for vocab in (800, 3000):
        cfg = TokenizerConfig(vocab_size=vocab)
        native = bbpe.train(texts, cfg)
        assert _same(native, bbpe.train_direct(texts, cfg))
        assert native.encode("한국어 토크나이저 test 123").ids  # usable


def test_raw_training_equals_python_path(demo_texts, python_path):
    docs = [(t, "ko" if i % 2 else "en") for i, t in enumerate(demo_texts[:400])]
    cfg = TokenizerConfig(vocab_size=1500)
    timings: dict = {}
    native = bbpe.train_raw(docs, cfg, timings=timings)
    assert timings["distinct_words"] > 0 and timings["word_occurrences"] >= timings["distinct_words"]
    with python_path:
        py = bbpe.train_raw(docs, cfg)
    assert _same(native, py)


def test_word_table_training_equals_feeding(python_path):
    words = {"ĠKorea": 40, "Ġtoken": 31, "ìķĪëħķ": 17, "izer": 9, "Ġa": 55}
    trainer = bbpe._trainer(TokenizerConfig(vocab_size=300, min_frequency=2), False)
    native = bbpe.train_word_table(words, trainer)
    with python_path:
        py = bbpe.train_word_table(words, bbpe._trainer(TokenizerConfig(vocab_size=300, min_frequency=2), False))
    a, b = json.loads(native.to_str()), json.loads(py.to_str())
    assert (a["model"], a["added_tokens"]) == (b["model"], b["added_tokens"])  # the rest is set by the caller
    assert len(a["model"]["merges"]) > 5


def test_superbpe_equals_python_path(demo_texts, python_path):
    texts = [mark_boundaries(t) for t in demo_texts[:300]]
    cfg = TokenizerConfig(vocab_size=1200, algorithm="superbpe", superbpe={"transition_vocab_size": 900})
    native = superbpe.train(texts, cfg)
    with python_path:
        py = superbpe.train(texts, cfg)
    assert _same(native, py)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20), st.sampled_from(["ko", "ja"]))
def test_script_checks_are_pythons(text, lang):
    assert moru_bpe.has_script(text, lang) == has_script(text, lang)


def test_japanese_chunks_wait_for_unidic():
    texts = ["東京都に住んでいます。今日はいい天気ですね！", "ABC and 123", "カタカナ ｶﾀｶﾅ 漢字"]
    table = moru_bpe.ChunkTable()
    table.add(texts, mark="ja")
    pending = table.pending("ja")
    assert sorted(pending) == sorted(c for t in texts for c in wordcount.chunks(t) if has_script(c, "ja"))
    assert table.pending("ko") == []
    marked = wordcount.mark_chunks(pending, lang="ja")
    assert all(m.replace(MARK, "") == p for m, p in zip(marked, pending, strict=True))
    assert "東京\x1f都\x1fに" in "".join(marked)
    table.resolve("ja", marked)
    assert set(table.chunk_counts()) >= set(marked)
    with pytest.raises(ValueError, match="no script check"):
        table.add(["x"], mark="zh")


def test_bad_json_is_a_clear_error():
    table = moru_bpe.ChunkTable()
    table.add(["a b"])
    with pytest.raises(ValueError, match="pre-tokenizer JSON"):
        table.train("{", "{}")
    with pytest.raises(RuntimeError):
        table.train(PRE_JSON, '{"WordLevelTrainer": {}}')


def test_japanese_documents_train_within_morphemes(demo_texts):
    """With ``mecab_langs: [ko, ja]`` Japanese documents (group ja) are marked with UniDic-lite before the word
    table: every Japanese word the trainer sees lies inside one morpheme, so no learned token joins two; without
    marks (the default) whole clauses are words."""
    import random

    from demo.languages import document
    from tokenizer.bytelevel import token_bytes
    from tokenizer.mecab import pieces

    rng = random.Random(5)
    ja = [document("ja", rng) for _ in range(120)]
    morphemes = {p.strip() for t in ja for p in pieces(mark_boundaries(t, "ja"))}
    cfg = TokenizerConfig(vocab_size=900, mecab_langs=["ko", "ja"])
    docs = [(t, "ja") for t in ja] + [(t, "en") for t in demo_texts[:50]]
    timings: dict = {}
    tok = bbpe.train_raw(docs, cfg, timings=timings)
    assert timings["mecab_chunk_bytes"] > 0
    learned = [token_bytes(t).decode("utf-8", "ignore").strip() for t in tok.get_vocab() if len(t) > 1]
    japanese = [t for t in learned if has_script(t, "ja")]
    assert japanese and all(any(t in m for m in morphemes) for t in japanese)
    unmarked = bbpe.train_raw(docs, TokenizerConfig(vocab_size=900))  # the default marks Korean only
    longest = max(len(token_bytes(t).decode("utf-8", "ignore")) for t in unmarked.get_vocab())
    assert longest > max(len(t) for t in japanese)
