"""Dedup kernels: canonical hashing, shingles, MinHash (against datasketch itself), LSH bands."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from quality.dedup.canonical import CanonicalForm, canonical_text, content_hash
from quality.dedup.lsh import band_keys, candidate_probability, optimal_bands
from quality.dedup.minhash import MinHasher, from_bytes, signature_jaccard, to_bytes, to_lean_minhash
from quality.dedup.shingles import jaccard, shingles, streams
from spark_jobs.dedup.minhash import signature_column


def _random_sets(rng: random.Random, n: int) -> list[set[bytes]]:
    sizes = [0, 1, 2, 5, 300, 4000] + [rng.randint(0, 200) for _ in range(n)]
    return [{rng.randbytes(rng.randint(1, 20)) for _ in range(k)} for k in sizes]


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (16, 42), (256, 7)])
def test_signatures_are_bit_identical_to_datasketch(scheme, num_perm, seed):
    rng = random.Random(num_perm * seed)
    sets = _random_sets(rng, 40)
    hasher = MinHasher(num_perm, seed, scheme)
    hasher.chunk_rows = 1000  # force batches that split between documents and inside the large one
    ours = hasher.signatures(sets)
    for s, row in zip(sets, ours, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        m.update_batch(list(s))
        np.testing.assert_array_equal(m.hashvalues.astype(np.uint64), row.astype(np.uint64))


def test_stored_signature_loads_as_lean_minhash_and_answers_minhash_lsh():
    base = "The committee published its annual report on Monday, highlighting rising costs in healthcare " * 3
    near = base.replace("Monday", "Tuesday", 1)
    other = "A completely different text about football results and the weather over the weekend in Busan."
    hasher = MinHasher(128, 1)
    sig = hasher.signatures([shingles(t) for t in (base, near, other)])
    lean = [to_lean_minhash(to_bytes(row), 1) for row in sig]
    assert isinstance(lean[0], LeanMinHash)
    direct = MinHash(num_perm=128, seed=1)
    direct.update_batch(list(shingles(base)))
    assert lean[0] == LeanMinHash(direct)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    lsh.insert("base", lean[0])
    lsh.insert("other", lean[2])
    assert lsh.query(lean[1]) == ["base"]
    assert lean[0].jaccard(lean[1]) == pytest.approx(signature_jaccard(sig[0], sig[1]))
    assert (from_bytes(to_bytes(sig[2])) == sig[2]).all()


def test_signature_column_round_trips_through_arrow():
    sig = MinHasher(32, 3).signatures([{b"a"}, {b"b", b"c"}, set()])
    col = signature_column(sig)
    assert col.type == pa.binary() and len(col) == 3
    assert [from_bytes(v).tolist() for v in col.to_pylist()] == sig.tolist()


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("fp_weight", [0.5, 0.3])
def test_bands_and_rows_match_datasketch(threshold, fp_weight):
    assert optimal_bands(threshold, 128, fp_weight, 1 - fp_weight) == _optimal_param(
        threshold, 128, fp_weight, 1 - fp_weight
    )


def test_band_keys_and_candidate_probability():
    sig = MinHasher(128, 1).signatures([{b"x", b"y"}])[0]
    keys = band_keys(to_bytes(sig), 9, 13)
    assert len(keys) == 9 and all(len(k) == 52 for k in keys)
    assert keys[1] == to_bytes(sig[13:26])
    assert candidate_probability(1.0, 9, 13) == 1.0
    assert candidate_probability(0.5, 9, 13) < 0.01


def test_korean_char_shingles_ignore_spacing_and_eojeol_shingles_do_not():
    spaced = "정부는 오늘 새로운 교통 정책을 발표했다. 시민들의 반응은 엇갈리고 있다."
    glued = "정부는오늘 새로운 교통정책을 발표 했다. 시민들의 반응은엇갈리고 있다."
    assert shingles(spaced, 5, "char", 12) == shingles(glued, 5, "char", 12)
    assert jaccard(shingles(spaced, 5, "eojeol"), shingles(glued, 5, "eojeol")) < 0.3


def test_word_shingles_for_english_and_both_streams_for_code_switching():
    en = "The Quick brown fox, jumps over the lazy dog!"
    assert b"the quick brown fox jumps" in shingles(en, 5)
    assert len(shingles(en, 5)) == 5
    words, hangul = streams("오늘 회의에서 we agreed to ship 다음 주", "char")
    assert words == ["we", "agreed", "to", "ship"]
    assert "".join(hangul) == "오늘회의에서다음주"


def test_short_documents_keep_distinct_shingles_and_punctuation_has_none():
    a, b = shingles("hello there"), shingles("good morning")
    assert a == {b"hello there"} and b == {b"good morning"}
    assert shingles("ㅋㅋ", 5, "char", 12) == {"ㅋㅋ".encode()}
    assert shingles("... !!! ---") == set()
    sig = MinHasher(16, 1).signatures([a, b, set()])
    assert not (sig[0] == sig[1]).all()
    assert (sig[2] == 0xFFFFFFFF).all()  # datasketch's empty MinHash


def test_morpheme_units_use_mecab():
    words, morphs = streams("정책을 발표했다", "morpheme")
    assert words == [] and "정책" in morphs and "을" in morphs


@pytest.mark.parametrize(
    ("form", "a", "b", "same"),
    [
        (CanonicalForm(), "Hello  world\n", "Hello world", True),
        (CanonicalForm(), "Hello world", "hello world", False),
        (CanonicalForm(lowercase=True), "Hello world", "hello WORLD", True),
        (CanonicalForm(whitespace="keep"), "a  b", "a b", False),
        (CanonicalForm(whitespace="remove"), "정책을 발표했다", "정책을발표했다", True),
        (CanonicalForm(punctuation=False), "Hello, world!", "Hello world", True),
        (CanonicalForm(punctuation=False), "안녕하세요!!", "안녕하세요…", True),
    ],
)
def test_canonical_forms(form, a, b, same):
    assert (content_hash(a, form) == content_hash(b, form)) is same
    assert (canonical_text(a, form) == canonical_text(b, form)) is same
