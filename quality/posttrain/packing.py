"""Best-fit-decreasing packing of example lengths (tokens) into bins of ``seq_length``.

Examples are taken longest first (ties: lower index first) and each goes into the open bin with
the least room that still holds it (ties: the bin opened first); when none holds it a new bin is
opened. Bins are numbered in the order they were opened and list their examples in the order they
were placed, so the same lengths always give the same packing.

An example longer than ``seq_length`` is either truncated to ``seq_length`` (it then fills a bin
of its own) or dropped; ``Packing.truncated`` / ``Packing.dropped`` say which examples were.

Speed: the open bins are kept in a heap per remaining capacity, and the non-empty capacities in a
two-level bitmap (64-bit words, plus one integer marking the non-empty words), so finding the
tightest bin is a few integer operations whatever the number of bins: O(n log n) for the sort and
about O(1) per example after it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Overlong = Literal["truncate", "drop"]


@dataclass(frozen=True)
class Packing:
    seq_length: int
    lengths: np.ndarray
    """Tokens each example takes in its bin (after truncation; 0 for a dropped example)."""
    bins: list[list[int]]
    """Example indices of each bin, in placement order."""
    truncated: np.ndarray
    dropped: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.bins)

    def cu_seqlens(self, b: int) -> np.ndarray:
        """Boundaries of bin ``b``'s examples: ``[0, l0, l0 + l1, …, bin tokens]`` (int32, cu_seqlens style)."""
        out = np.zeros(len(self.bins[b]) + 1, dtype=np.int32)
        np.cumsum(self.lengths[self.bins[b]], out=out[1:])
        return out

    def boundaries(self) -> list[list[int]]:
        """``cu_seqlens(b)`` of every bin, as lists."""
        return [self.cu_seqlens(b).tolist() for b in range(self.n_bins)]

    def assignment(self) -> tuple[np.ndarray, np.ndarray]:
        """(bin of each example, its token offset in that bin); -1 and -1 for a dropped example."""
        bin_of = np.full(len(self.lengths), -1, dtype=np.int64)
        offset = np.full(len(self.lengths), -1, dtype=np.int64)
        for b, items in enumerate(self.bins):
            bin_of[items] = b
            offset[items] = self.cu_seqlens(b)[:-1]
        return bin_of, offset

    @property
    def packed_tokens(self) -> int:
        return int(self.lengths.sum())

    @property
    def efficiency(self) -> float:
        return efficiency(self)


def efficiency(packing: Packing) -> float:
    """Non-padding share of the packed bins: tokens / (bins × seq_length); 1.0 for no bins."""
    if not packing.bins:
        return 1.0
    return packing.packed_tokens / (packing.n_bins * packing.seq_length)


def pack_bfd(lengths: Sequence[int] | np.ndarray, seq_length: int, overlong: Overlong = "truncate") -> Packing:
    """Pack examples of ``lengths`` tokens into bins of ``seq_length`` by best fit decreasing."""
    if seq_length < 1:
        raise ValueError(f"seq_length must be positive, not {seq_length}")
    if overlong not in ("truncate", "drop"):
        raise ValueError(f"overlong must be 'truncate' or 'drop', not {overlong!r}")
    raw = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if raw.size and raw.min() < 1:
        raise ValueError(f"example {int(np.argmin(raw))} has length {int(raw.min())}; lengths must be positive")
    over = raw > seq_length
    if overlong == "truncate":
        eff = np.minimum(raw, seq_length)
        truncated, dropped = np.flatnonzero(over), np.zeros(0, dtype=np.int64)
        keep = np.arange(raw.size)
    else:
        eff = np.where(over, 0, raw)
        truncated, dropped = np.zeros(0, dtype=np.int64), np.flatnonzero(over)
        keep = np.flatnonzero(~over)
    order = keep[np.argsort(-eff[keep], kind="stable")]
    return Packing(seq_length, eff, _bfd(order.tolist(), eff[order].tolist(), seq_length), truncated, dropped)


def _bfd(order: list[int], sizes: list[int], capacity: int) -> list[list[int]]:
    bins: list[list[int]] = []
    heaps: list[list[int] | None] = [None] * (capacity + 1)  # bins by remaining room (1 … capacity-1)
    words = [0] * ((capacity >> 6) + 1)  # bit c & 63 of words[c >> 6]: some bin has room c
    summary = 0  # bit w: words[w] != 0
    heappop, heappush = heapq.heappop, heapq.heappush
    for index, size in zip(order, sizes, strict=True):
        # the least room >= size: first in size's own word, then in the next non-empty word
        w = size >> 6
        word = words[w] >> (size & 63)
        if word:
            room = size + (word & -word).bit_length() - 1
        else:
            rest = summary >> (w + 1)
            if rest:
                w += (rest & -rest).bit_length()
                word = words[w]
                room = (w << 6) + (word & -word).bit_length() - 1
            else:
                room = 0
        if room:
            heap = heaps[room]
            b = heappop(heap)
            if not heap:
                w = room >> 6
                words[w] &= ~(1 << (room & 63))
                if not words[w]:
                    summary &= ~(1 << w)
            bins[b].append(index)
            left = room - size
        else:
            b = len(bins)
            bins.append([index])
            left = capacity - size
        if left:
            heap = heaps[left]
            if heap is None:
                heaps[left] = [b]
            else:
                heappush(heap, b)
            w = left >> 6
            words[w] |= 1 << (left & 63)
            summary |= 1 << w
    return bins
