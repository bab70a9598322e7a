"""Window hashes: the vectorised kernel equals the definition on every window, is position
independent, and sampled window starts are deterministic per key."""

from __future__ import annotations

import random

import numpy as np
import pytest

from quality.substrings import BASE, BASE_INV, sample_starts, window_hash, window_hashes


def test_base_inverse():
    assert (int(BASE) * int(BASE_INV)) & ((1 << 64) - 1) == 1


@pytest.mark.parametrize("size", [1, 3, 50])
def test_every_window_matches_the_definition(size):
    rng = random.Random(size)
    alphabet = "abcXYZ 012가나다라마바사아자차카타파하한국어ㅋㅠ漢字é😀"
    for _ in range(20):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        got = window_hashes(text, size)
        want = [window_hash(text[i : i + size]) for i in range(len(text) - size + 1)]
        assert got.dtype == np.uint64 and got.tolist() == want


def test_same_window_same_hash_anywhere():
    passage = "natalia sold clips to 48 of her friends in april 그리고 5월에는 절반을 팔았다"[:50]
    assert len(passage) == 50
    a = window_hashes("x" * 7 + passage + "tail", 50)
    b = window_hashes(passage, 50)
    c = window_hashes("다른 문서의 앞부분 " * 300 + passage, 50)
    assert b[0] in set(a.tolist()) and b[0] == c[-1]
    assert window_hashes("short", 50).size == 0
    with pytest.raises(ValueError):
        window_hashes("abc", 0)


def test_distinct_windows_of_natural_text_do_not_collide():
    rng = random.Random(0)
    words = "the of and to in 정부는 오늘 새로운 정책을 발표했다 시민 교통 버스 노선 museum library budget".split()
    text = " ".join(rng.choice(words) for _ in range(60_000))
    h = window_hashes(text, 50)
    windows = {text[i : i + 50] for i in range(len(text) - 49)}
    assert len(set(h.tolist())) == len(windows)


def test_sample_starts_deterministic():
    a = sample_starts("doc-1", 1000, 10)
    assert a.tolist() == sample_starts("doc-1", 1000, 10).tolist()
    assert a.tolist() != sample_starts("doc-2", 1000, 10).tolist()
    assert len(set(a.tolist())) == 10 and a.min() >= 0 and a.max() < 1000
    assert sample_starts("d", 4, 10).tolist() == [0, 1, 2, 3]
    assert sample_starts("d", 0, 10).tolist() == []
