"""BFD packing: equal to a plain O(n·bins) best-fit-decreasing, and the invariants any packing of it must keep."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quality.posttrain.packing import efficiency, pack_bfd


def reference_bfd(lengths: list[int], seq_length: int, overlong: str) -> list[list[int]]:
    """Best fit decreasing written the obvious way: scan every bin for the least room that fits."""
    eff = [min(n, seq_length) for n in lengths]
    keep = [i for i, n in enumerate(lengths) if overlong == "truncate" or n <= seq_length]
    bins: list[list[int]] = []
    loads: list[int] = []
    for i in sorted(keep, key=lambda i: (-eff[i], i)):
        best = None
        for b, load in enumerate(loads):
            room = seq_length - load
            if room >= eff[i] and (best is None or room < seq_length - loads[best]):
                best = b
        if best is None:
            bins.append([i])
            loads.append(eff[i])
        else:
            bins[best].append(i)
            loads[best] += eff[i]
    return bins


def optimal_bins(sizes: list[int], capacity: int) -> int:
    """Fewest bins, by trying every assignment (tiny inputs only)."""
    sizes = sorted(sizes, reverse=True)

    def fits(k: int) -> bool:
        loads = [0] * k

        def place(i: int) -> bool:
            if i == len(sizes):
                return True
            tried = set()
            for b in range(k):
                if loads[b] + sizes[i] <= capacity and loads[b] not in tried:
                    tried.add(loads[b])
                    loads[b] += sizes[i]
                    if place(i + 1):
                        return True
                    loads[b] -= sizes[i]
            return False

        return place(0)

    k = max(1, math.ceil(sum(sizes) / capacity))
    while not fits(k):
        k += 1
    return k


def check_invariants(p, lengths: list[int], seq_length: int, overlong: str) -> None:
    raw = np.asarray(lengths)
    over = set(np.flatnonzero(raw > seq_length).tolist())
    kept = [i for i in range(len(lengths)) if overlong == "truncate" or i not in over]
    # every kept example in exactly one bin; dropped ones in none
    placed = [i for b in p.bins for i in b]
    assert sorted(placed) == kept
    assert set(p.dropped.tolist()) == (over if overlong == "drop" else set())
    assert set(p.truncated.tolist()) == (over if overlong == "truncate" else set())
    loads = [int(p.lengths[b].sum()) for b in p.bins]
    assert all(0 < load <= seq_length for load in loads)
    # no bin could have taken the example that opened a later one (any-fit, items taken largest first)
    for j in range(1, len(p.bins)):
        opener = int(p.lengths[p.bins[j][0]])
        assert opener == max(p.lengths[p.bins[j]])
        assert all(loads[i] + opener > seq_length for i in range(j))
    # so at most one bin is half full or less, and the count is within 2x of the volume bound
    assert sum(2 * load <= seq_length for load in loads) <= 1
    assert math.ceil(sum(loads) / seq_length) <= len(p.bins)
    # boundaries
    bin_of, offset = p.assignment()
    for b, items in enumerate(p.bins):
        cu = p.cu_seqlens(b)
        assert cu[0] == 0 and cu[-1] == loads[b] and np.array_equal(np.diff(cu), p.lengths[items])
        assert np.array_equal(bin_of[items], np.full(len(items), b))
        assert np.array_equal(offset[items], cu[:-1])
    assert p.boundaries() == [p.cu_seqlens(b).tolist() for b in range(p.n_bins)]
    assert p.efficiency == pytest.approx(sum(loads) / (len(p.bins) * seq_length) if p.bins else 1.0)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=300).flatmap(
        lambda s: st.tuples(
            st.just(s),
            st.lists(st.integers(min_value=1, max_value=s + 40), max_size=120),
            st.sampled_from(["truncate", "drop"]),
        )
    )
)
def test_matches_reference_and_keeps_invariants(case):
    seq_length, lengths, overlong = case
    p = pack_bfd(lengths, seq_length, overlong)
    assert p.bins == reference_bfd(lengths, seq_length, overlong)
    check_invariants(p, lengths, seq_length, overlong)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=4, max_value=64).flatmap(
        lambda s: st.tuples(st.just(s), st.lists(st.integers(1, s), max_size=8))
    )
)
def test_within_three_halves_of_optimal(case):
    # best fit decreasing never uses more than 3/2 of the optimal number of bins (Simchi-Levi 1994)
    seq_length, lengths = case
    p = pack_bfd(lengths, seq_length)
    assert 2 * p.n_bins <= 3 * (optimal_bins(lengths, seq_length) if lengths else 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 200), max_size=60), st.randoms(use_true_random=False))
def test_order_of_input_does_not_change_the_bin_loads(lengths, rnd):
    shuffled = list(lengths)
    rnd.shuffle(shuffled)
    a, b = pack_bfd(lengths, 256), pack_bfd(shuffled, 256)
    assert [sorted(a.lengths[x].tolist()) for x in a.bins] == [sorted(b.lengths[x].tolist()) for x in b.bins]


def test_wide_bins_use_the_second_bitmap_level():
    # rooms far above 64 and many open bins: the word-summary path of the search
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 40_000, 400).tolist()
    p = pack_bfd(lengths, 32_768)
    assert p.bins == reference_bfd(lengths, 32_768, "truncate")
    check_invariants(p, lengths, 32_768, "truncate")


def test_known_packing_and_overlong_policies():
    p = pack_bfd([5, 3, 9, 2, 7, 4, 12], 10)
    # longest first: 10 (12 truncated) and 9 open bins; 7 fits neither (rooms 0, 1): a third; 5 a fourth
    # (rooms 0, 1, 3); 4 takes the fourth (room 5 → 1); 3 fills the third exactly; 2 fits nowhere (rooms 1, 1)
    assert p.bins == [[6], [2], [4, 1], [0, 5], [3]]
    assert p.truncated.tolist() == [6] and p.lengths[6] == 10
    d = pack_bfd([5, 3, 9, 2, 7, 4, 12], 10, overlong="drop")
    assert d.dropped.tolist() == [6] and d.lengths[6] == 0 and all(6 not in b for b in d.bins)
    assert d.assignment()[0][6] == -1
    empty = pack_bfd([], 10)
    assert empty.n_bins == 0 and efficiency(empty) == 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        pack_bfd([3, 0, 2], 10)
    with pytest.raises(ValueError, match="seq_length"):
        pack_bfd([3], 0)
    with pytest.raises(ValueError, match="overlong"):
        pack_bfd([3], 10, overlong="split")


def test_efficiency_on_a_realistic_sft_length_distribution():
    # 10k examples, lognormal token lengths with median ~400 (SFT-like), packed at 4K
    rng = np.random.default_rng(20)
    lengths = np.maximum(1, rng.lognormal(mean=np.log(400), sigma=1.0, size=10_000)).astype(int)
    p = pack_bfd(lengths, 4096)
    assert p.efficiency >= 0.97
    assert p.n_bins - math.ceil(p.packed_tokens / 4096) <= 2
