"""The in-memory matching kernel against its definition: every window of every text looked up one by one
(exhaustive), or the drawn windows (sampled), with the offsets and substrings reported as the join path reports
them; and batched normalization against per-text normalization."""

from __future__ import annotations

import random
import unicodedata

import numpy as np
import pytest

from demo.decontam_eval import planted_corpus
from quality import substring_match as sm
from quality.decontam import normalize_batch, normalize_for_matching, normalize_with_offsets
from quality.substrings import sample_starts, window_hashes

WINDOW, SHORT = 50, 25
SHORT_EXAMPLE = "Which gas do plants absorb? CO2 oxygen"  # 32 normalized characters: found whole


def _examples() -> list[str]:
    c = planted_corpus(n_docs=1, n_planted=0, n_examples=24, seed=11)
    texts = [e["text"] for e in c.examples]
    # two examples sharing a long passage (as MMLU questions of one subject do), a short and a too-short one
    shared = "the council approved the new budget for the river city museum library this morning"
    texts += [f"Q100: {shared} and then what", f"Q101: why did {shared}?", SHORT_EXAMPLE, "2 + 2 = ?"]
    return [normalize_for_matching(t) for t in texts]


def _index(norms: list[str], strides: dict[int, int] | None = None) -> sm.SubstringIndex:
    sizes = [WINDOW if len(n) >= WINDOW else (SHORT if len(n) >= SHORT else 0) for n in norms]
    return sm.build_index(norms, sizes, WINDOW, whole=[s == SHORT for s in sizes], strides=strides)


def _texts(norm_examples: list[str]) -> list[str | None]:
    c = planted_corpus(n_docs=40, n_planted=30, lengths=(200, 1_000, 5_000), n_examples=24, seed=11)
    texts: list[str | None] = [d["text"] for d in c.docs]
    rng = random.Random(3)
    raw = planted_corpus(n_docs=1, n_planted=0, n_examples=24, seed=11).examples
    texts += [
        raw[0]["text"],  # a text that is an example, nothing around it
        "intro " + raw[1]["text"].upper(),  # at the very end
        "x WHICH gas do plants   absorb?? co2, Oxygen! y",  # the short example, whole
        "which gas do plants absorb co2 and nothing else",  # its first windows only: a candidate, not contained
        "the council approved the new budget for the river city museum library this morning, twice: "
        "the council approved the new budget for the river city museum library this morning",  # two examples
        None,
        "",
        # a passage split across two texts (each under the window) matches neither
        norm_examples[2][:40],
        norm_examples[2][40:80],
        # composed and decomposed Korean, ligatures, full-width, a combining mark at the start
        unicodedata.normalize("NFD", "정부는 오늘 새로운 교통 정책을 " * 3) + raw[3]["text"],
        "\u0301ﬁne ＡＢＣ１２３ " + raw[4]["text"].replace("the", "ｔｈｅ"),
    ]
    texts += ["".join(rng.choice("abc ") for _ in range(rng.randint(0, 300))) for _ in range(20)]
    return texts


def _reference(texts, norm_examples, index: sm.SubstringIndex, keys=None, samples=10, seed=0):
    """(text, example) -> (matched_windows, norm_offset, offset, contained, substring), one window at a time."""
    sizes = {int(s.size) for s in index.sizes}
    out = {}
    for i, text in enumerate(texts):
        norm, offsets = normalize_with_offsets(text or "")
        drawn = None
        for size in sorted(sizes, reverse=True):
            h = window_hashes(norm, size)
            if not h.size:
                continue
            if keys is None:
                at = np.arange(h.size)
            else:
                if drawn is None:
                    n_long = max(len(norm) - WINDOW + 1, 0)
                    drawn = sample_starts(keys[i], n_long or h.size, samples, seed)
                at = drawn[drawn < h.size]
            for e, ex in enumerate(norm_examples):
                if len(ex) < size or (size == SHORT and len(ex) >= WINDOW):
                    continue
                hs = set(window_hashes(ex, size).tolist())
                hit = [int(j) for j in at if int(h[j]) in hs]
                if not hit:
                    continue
                first = min(hit)
                if size == SHORT:
                    pos = norm.find(ex)
                    out[(i, e)] = (len(hit), first, int(offsets[pos]) if pos >= 0 else -1, pos >= 0, ex)
                else:
                    out[(i, e)] = (len(hit), first, int(offsets[first]), True, norm[first : first + size])
    return out


def _as_dict(found: sm.Found):
    return {
        (int(t), int(e)): (int(w), int(no), int(o), bool(c), s)
        for t, e, w, no, o, c, s in zip(
            found.text, found.example, found.matched_windows, found.norm_offset, found.offset, found.contained,
            found.substring, strict=True,
        )
    }  # fmt: skip


def test_normalize_batch_is_normalize_with_offsets_of_each_text():
    texts = [t or "" for t in _texts(_examples())]
    texts += ["\u0301", "e\u0301", "\ufb01", "ß", "ㄱㅏ", "Ｅ\u0301x", "" * 3, "a" * 70 + "\u0301" * 70]
    cps, offsets, bounds = normalize_batch(texts)
    assert bounds[0] == 0 and bounds[-1] == cps.size == offsets.size and len(bounds) == len(texts) + 1
    for i, text in enumerate(texts):
        norm, offs = normalize_with_offsets(text)
        assert cps[bounds[i] : bounds[i + 1]].tobytes().decode("utf-32-le") == norm, i
        assert offsets[bounds[i] : bounds[i + 1]].tolist() == offs.tolist(), i


@pytest.mark.parametrize(
    "strides", [None, {WINDOW: 1, SHORT: 1}, {WINDOW: WINDOW, SHORT: SHORT}, {WINDOW: 7, SHORT: 3}]
)
def test_exhaustive_finds_every_window_of_the_definition(strides):
    norms = _examples()
    index = _index(norms, strides)
    texts = _texts(norms)
    got = _as_dict(sm.find(texts, index))
    want = _reference(texts, norms, index)
    assert got == want
    # what the texts were built to hold
    pairs = set(want)
    assert {t for t, _ in pairs if t < 40} == set(range(30))  # the planted documents, not the clean ones
    assert {t for t, _ in pairs if 40 <= t < 51} == {40, 41, 42, 43, 44, 49, 50}
    short = len(norms) - 2
    assert want[(42, short)][3] is True and want[(43, short)][3] is False  # whole / only some windows
    assert {e for t, e in pairs if t == 44} == {len(norms) - 4, len(norms) - 3}  # the shared passage: both
    assert not any(t in (45, 46, 47, 48) for t, _ in pairs)  # None, empty, the two halves


def test_matching_in_small_chunks_gives_the_same_pairs():
    norms = _examples()
    index = _index(norms)
    texts = _texts(norms)
    assert _as_dict(sm.find(texts, index, chunk_chars=500)) == _as_dict(sm.find(texts, index))


def test_sampled_looks_up_the_drawn_windows_only():
    norms = _examples()
    index = _index(norms)
    texts = _texts(norms)
    keys = [f"doc{i}" for i in range(len(texts))]
    got = _as_dict(sm.find(texts, index, mode="sampled", keys=keys, samples=10, seed=5))
    assert got == _reference(texts, norms, index, keys=keys, samples=10, seed=5)
    assert set(got) <= set(_as_dict(sm.find(texts, index)))
    with pytest.raises(ValueError, match="keys"):
        sm.find(texts, index, mode="sampled")


def test_index_holds_every_window_of_every_example():
    norms = _examples()
    norms.append(norms[0] + norms[0])  # every window of its first half repeats
    index = _index(norms)
    long_windows = [(h, e) for e, n in enumerate(norms) if len(n) >= WINDOW for h in window_hashes(n, WINDOW).tolist()]
    assert index.sizes[0].size == WINDOW and index.sizes[0].hashes.size == len(long_windows)
    assert index.n_substrings == len(long_windows) + len(norms[-3]) - SHORT + 1
    # a text holding the repeated example once: each matched start counted once
    found = sm.find([norms[-1]], index)
    windows = dict(zip(found.example.tolist(), found.matched_windows.tolist(), strict=True))
    assert windows[len(norms) - 1] == len(norms[-1]) - WINDOW + 1 and windows[0] == 2 * (len(norms[0]) - WINDOW + 1)
    assert index.whole.tolist() == [False] * (len(norms) - 3) + [True, False, False]
    with pytest.raises(ValueError, match="stride"):
        _index(norms, {WINDOW: 51})


def test_example_windows_are_the_window_hashes_of_each_example():
    norms = _examples()
    sizes = [WINDOW if len(n) >= WINDOW else (SHORT if len(n) >= SHORT else 0) for n in norms]
    hashes, examples, offsets, windows = sm.example_windows(norms, sizes)
    got = sorted(zip(examples.tolist(), offsets.tolist(), windows.tolist(), hashes.tolist(), strict=True))
    want = sorted(
        (e, o, s, h) for e, (n, s) in enumerate(zip(norms, sizes, strict=True)) if s
        for o, h in enumerate(window_hashes(n, s).tolist())
    )  # fmt: skip
    assert got == want and sizes[-1] == 0


def test_a_saved_index_loads_memory_mapped_and_matches_the_same(tmp_path):
    norms = _examples()
    index = _index(norms)
    sm.save_index(index, tmp_path / "index.bin")
    loaded = sm.load_index(tmp_path / "index.bin")
    assert loaded.window == index.window and loaded.normalized == index.normalized
    assert loaded.whole.tolist() == index.whole.tolist()
    for a, b in zip(loaded.sizes, index.sizes, strict=True):
        assert (a.size, a.stride, a.bits) == (b.size, b.stride, b.bits)
        for name in ("hashes", "examples", "probe", "bitmap"):
            assert getattr(a, name).dtype == getattr(b, name).dtype
            assert np.array_equal(getattr(a, name), getattr(b, name))
    texts = _texts(norms)
    assert _as_dict(sm.find(texts, loaded)) == _as_dict(sm.find(texts, index))
    (tmp_path / "other.bin").write_bytes(b"not an index")
    with pytest.raises(ValueError, match="not a substring index"):
        sm.load_index(tmp_path / "other.bin")
