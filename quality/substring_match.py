"""Which benchmark examples share a normalized S-character window with which texts: the in-memory matching
kernel of decontamination (spark_jobs.decontaminate.contamination runs it inside an Arrow UDF, the index
broadcast once to every Python worker). Pure functions over lists of strings and numpy arrays.

The index (:func:`build_index`) holds, per window size S (50, and 25 for the examples found whole), the
sorted 64-bit hashes of every S-window of the examples indexed at that size (:mod:`quality.substrings`'s
hash, the one stored in ``benchmark_substrings``) with the example of each.

Matching a batch of texts (:func:`find`) normalizes them in one call (:func:`quality.decontam.normalize_batch`),
takes the prefix sums of the joined normalized text once (:func:`quality.substrings.prefix_sums`) and then, in
exhaustive mode, does not hash and look up every window. A shared S-window ``text[q:q+S] == example[o:o+S]``
contains, for any stride ``k <= S``, a window of length ``L = S - k + 1`` starting at a multiple of ``k``
(``p`` in ``[q, q + k - 1]``), and that L-window is one of the example's. So:

1. probe: hash the L-windows at every k-th position of the joined text (1/k of the positions) and test each
   against a bitmap of the examples' L-window hashes (one memory access; ~1.5 % false positives), then the
   few that pass against the sorted L-window hashes;
2. verify: for each probe hit ``p``, the S-windows starting in ``[p - k + 1, p]`` (inside the same text) are
   hashed and looked up in the S-window index.

Every S-window of every text that is in the index is found, as if each had been looked up (an exact
pre-filter, not a sample; the tests compare it with the plain definition). Sampled mode (EXAONE 3.5's:
``samples`` windows per text, drawn from the text's key by :func:`quality.substrings.sample_starts`) looks
up only the drawn windows.

Per (text, example) pair with at least one shared window the result gives the number of distinct matched
window starts, the first one (normalized and original offsets) and the matched substring; an example
indexed at the short size is found *whole*: the pair counts (``contained``) only when the normalized text
contains the whole normalized example, whose first place is then the offset.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quality.decontam import normalize_batch
from quality.substrings import hashes_at, prefix_sums, sample_starts

# texts are matched in groups of about this many characters (memory: ~40 bytes a character)
CHUNK_CHARS = 1 << 22


def default_stride(size: int) -> int:
    """Probe stride k for windows of ``size``: probes of ``size - k + 1`` characters (50 -> 34, 25 -> 17)."""
    return max(1, size // 3 + 1)


@dataclass(frozen=True)
class SizeIndex:
    """The examples indexed at one window size."""

    size: int  # S
    hashes: np.ndarray  # uint64, sorted: one entry per S-window of an example (benchmark_substrings' rows)
    examples: np.ndarray  # int32: the example of each entry
    stride: int  # k
    probe: np.ndarray  # uint64, sorted, unique: the hashes of every (S - k + 1)-window of these examples
    bitmap: np.ndarray  # uint8, 2**bits bits: the top ``bits`` bits of each probe hash
    bits: int

    @property
    def probe_size(self) -> int:
        return self.size - self.stride + 1


@dataclass(frozen=True)
class SubstringIndex:
    sizes: tuple[SizeIndex, ...]  # by decreasing size
    window: int  # the long window S (sampled mode draws its starts over the text's S-windows)
    whole: np.ndarray  # bool per example: found whole (indexed at a short size)
    normalized: tuple[str | None, ...]  # per example: its normalized text when found whole

    @property
    def n_substrings(self) -> int:
        return sum(int(s.hashes.size) for s in self.sizes)


def _windows(
    normalized: Sequence[str], members: list[int], sizes: tuple[int, ...]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each of ``sizes``: (hash, example, offset) of every window of that size of the ``members`` examples,
    computed over their joined code points at once (one prefix sum, no per-example numpy calls)."""
    texts = [normalized[i] for i in members]
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    q = prefix_sums(cps)
    owner = np.repeat(np.asarray(members, dtype=np.int32), lengths)
    begins = np.repeat(bounds[:-1], lengths)
    ends = np.repeat(bounds[1:], lengths)
    out = []
    for size in sizes:
        pos = np.arange(max(0, cps.size - size + 1), dtype=np.int64)
        pos = pos[pos + size <= ends[pos]]
        out.append((hashes_at(q, pos, size), owner[pos], (pos - begins[pos]).astype(np.int32)))
    return out


def example_windows(normalized: Sequence[str], sizes: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Every window of every example, example ``i`` through its ``sizes[i]``-character windows (0: none):
    ``(hash uint64, example int32, offset int32, size int32)``, the rows of ``benchmark_substrings``; each hash
    equals :func:`quality.substrings.window_hashes` ``(normalized[i], sizes[i])[offset]``."""
    per_size: dict[int, list[int]] = {}
    for i, size in enumerate(sizes):
        if size:
            per_size.setdefault(int(size), []).append(i)
    parts = [(*_windows(normalized, members, (size,))[0], size) for size, members in sorted(per_size.items())]
    if not parts:
        z = np.empty(0, dtype=np.int32)
        return np.empty(0, dtype=np.uint64), z, z, z
    return (
        np.concatenate([h for h, _, _, _ in parts]),
        np.concatenate([e for _, e, _, _ in parts]),
        np.concatenate([o for _, _, o, _ in parts]),
        np.concatenate([np.full(h.size, size, dtype=np.int32) for h, _, _, size in parts]),
    )


def _sorted_pairs(h: np.ndarray, ex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by hash (a repeated window of an example stays repeated: matches count distinct starts)."""
    order = np.argsort(h)
    return h[order], ex[order]


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique hashes integer arrays in numpy >= 2.3: minutes for 10 M uint64 here; a sort takes about a second
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if a.size else a


def _bitmap(probe: np.ndarray) -> tuple[np.ndarray, int]:
    """The bits set by the sorted ``probe`` hashes' top bits: 32 to 64 bits per hash (2-3 % false positives), at
    least 2**10, at most 2**30 (128 MiB; 10.7 M probe hashes: 2**29)."""
    bits = int(min(30, max(10, int(np.floor(np.log2(max(1, probe.size) * 64))))))
    bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
    if probe.size:
        top = (probe >> np.uint64(64 - bits)).astype(np.int64)  # sorted, as probe is
        byte = top >> 3
        first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        bitmap[byte[first]] = np.bitwise_or.reduceat(np.left_shift(1, top & 7).astype(np.uint8), first)
    return bitmap, bits


def build_index(
    normalized: Sequence[str],
    sizes: Sequence[int],
    window: int,
    whole: Sequence[bool] | None = None,
    strides: dict[int, int] | None = None,
) -> SubstringIndex:
    """The index of the examples ``normalized`` (their normalized texts), example ``i`` indexed through its
    ``sizes[i]``-character windows (0: not indexed) and, where ``whole[i]``, found whole. ``window`` is the
    long window size, ``strides`` the probe stride per size (default :func:`default_stride`)."""
    whole_flags = np.zeros(len(normalized), dtype=bool) if whole is None else np.asarray(whole, dtype=bool)
    per_size: dict[int, list[int]] = {}
    for i, size in enumerate(sizes):
        if size:
            per_size.setdefault(int(size), []).append(i)
    out = []
    for size in sorted(per_size, reverse=True):
        members = per_size[size]
        stride = (strides or {}).get(size, default_stride(size))
        if not 1 <= stride <= size:
            raise ValueError(f"probe stride {stride} for windows of {size} must be in 1..{size}")
        (h, ex, _), (probe, _, _) = _windows(normalized, members, (size, size - stride + 1))
        hashes, ex = _sorted_pairs(h, ex)
        probe = _sorted_unique(probe)
        bitmap, bits = _bitmap(probe)
        out.append(SizeIndex(size, hashes, ex, stride, probe, bitmap, bits))
    kept = tuple(t if w else None for t, w in zip(normalized, whole_flags.tolist(), strict=True))
    return SubstringIndex(tuple(out), window, whole_flags, kept)


_MAGIC = b"moru-substring-index-1\n"


def save_index(index: SubstringIndex, path: str | Path) -> None:
    """Write ``index`` to one file that :func:`load_index` maps into memory without copying it (Python workers
    on one machine then share its pages)."""
    arrays: dict[str, np.ndarray] = {"whole": index.whole}
    sizes = []
    for j, s in enumerate(index.sizes):
        sizes.append({"size": s.size, "stride": s.stride, "bits": s.bits})
        for name in ("hashes", "examples", "probe", "bitmap"):
            arrays[f"{j}.{name}"] = np.ascontiguousarray(getattr(s, name))
    layout, offset = {}, 0
    for name, a in arrays.items():
        offset = -(-offset // 64) * 64
        layout[name] = [a.dtype.str, list(a.shape), offset]
        offset += a.nbytes
    whole = {str(i): t for i, t in enumerate(index.normalized) if t is not None}
    header = json.dumps({"window": index.window, "sizes": sizes, "whole": whole, "arrays": layout}).encode()
    start = -(-(len(_MAGIC) + 8 + len(header)) // 64) * 64
    with open(path, "wb") as f:
        f.write(_MAGIC + len(header).to_bytes(8, "little") + header)
        for name, a in arrays.items():
            f.seek(start + layout[name][2])
            f.write(memoryview(a).cast("B") if a.size else b"")
        f.truncate(start + offset)


def load_index(path: str | Path) -> SubstringIndex:
    """The index written by :func:`save_index`, its arrays read-only views of the memory-mapped file."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if Path(path).stat().st_size else b""
    if bytes(mm[: len(_MAGIC)]) != _MAGIC:
        raise ValueError(f"{path} is not a substring index")
    n = int.from_bytes(mm[len(_MAGIC) : len(_MAGIC) + 8], "little")
    meta = json.loads(bytes(mm[len(_MAGIC) + 8 : len(_MAGIC) + 8 + n]))
    start = -(-(len(_MAGIC) + 8 + n) // 64) * 64
    arrays = {}
    for name, (dtype, shape, offset) in meta["arrays"].items():
        count = int(np.prod(shape)) if shape else 1
        arrays[name] = np.frombuffer(mm, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    sizes = tuple(
        SizeIndex(
            s["size"],
            arrays[f"{j}.hashes"],
            arrays[f"{j}.examples"],
            s["stride"],
            arrays[f"{j}.probe"],
            arrays[f"{j}.bitmap"],
            s["bits"],
        )  # fmt: skip
        for j, s in enumerate(meta["sizes"])
    )
    whole = arrays["whole"]
    normalized = tuple(meta["whole"].get(str(i)) for i in range(whole.size))
    return SubstringIndex(sizes, meta["window"], whole, normalized)


@dataclass
class Found:
    """One entry per (text, example) pair with a shared window, arrays aligned; ``text`` indexes the input."""

    text: np.ndarray  # int64
    example: np.ndarray  # int32
    matched_windows: np.ndarray  # int32: distinct matched window starts
    norm_offset: np.ndarray  # int32: the first matched window's start in the normalized text
    offset: np.ndarray  # int32: in the original text: the first matched window's (whole: the example's first place)
    contained: np.ndarray  # bool: window matches always; whole examples only when the text contains them
    substring: list[str]  # the matched window, or the whole normalized example


def _empty() -> Found:
    z = np.empty(0, dtype=np.int32)
    return Found(np.empty(0, dtype=np.int64), z, z, z, z, np.empty(0, dtype=bool), [])


def _lookup(idx: SizeIndex, q: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, example) for every start ``q`` whose window hash is in ``idx`` (once per example holding it)."""
    lo = np.searchsorted(idx.hashes, hashes, side="left")
    hi = np.searchsorted(idx.hashes, hashes, side="right")
    n = hi - lo
    if not n.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    sel = np.flatnonzero(n)
    lo, n = lo[sel], n[sel]
    entries = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
    return np.repeat(q[sel], n), idx.examples[entries]


def _probe_hits(idx: SizeIndex, q: np.ndarray, bounds: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Exhaustive mode: the S-window starts to verify, from the probes over the joined text."""
    n = int(bounds[-1])
    length, k = idx.probe_size, idx.stride
    if n < length or not idx.probe.size:
        return np.empty(0, dtype=np.int64)
    p = np.arange(0, n - length + 1, k, dtype=np.int64)
    p = p[p + length <= ends[p]]  # inside one text
    h = hashes_at(q, p, length)
    top = (h >> np.uint64(64 - idx.bits)).astype(np.int64)
    passed = np.flatnonzero((idx.bitmap[top >> 3] >> (top & 7).astype(np.uint8)) & 1)
    if not passed.size:
        return np.empty(0, dtype=np.int64)
    p, h = p[passed], h[passed]
    at = np.minimum(np.searchsorted(idx.probe, h), idx.probe.size - 1)
    p = p[idx.probe[at] == h]
    if not p.size:
        return np.empty(0, dtype=np.int64)
    # the S-windows holding each hit probe: starts p - k + 1 ... p, inside the same text
    starts = _sorted_unique((p[:, None] - np.arange(k, dtype=np.int64)[None, :]).ravel())
    starts = starts[starts >= 0]
    return starts[starts + idx.size <= ends[starts]]  # a start before p's text: its window ends after that text


def _sampled_starts(
    idx: SizeIndex, index: SubstringIndex, bounds: np.ndarray, keys: Sequence[str], samples: int, seed: int,
    drawn: dict[int, np.ndarray],
) -> np.ndarray:  # fmt: skip
    """Sampled mode: the drawn S-window starts of every text (EXAONE: ``samples`` windows per text, drawn
    over its long windows; a short window is checked where a long one starts)."""
    out = []
    lengths = np.diff(bounds)
    for i in np.flatnonzero(lengths >= idx.size).tolist():
        n_windows = int(lengths[i]) - idx.size + 1
        starts = drawn.get(i)
        if starts is None:
            n_long = max(int(lengths[i]) - index.window + 1, 0)
            starts = drawn[i] = sample_starts(keys[i], n_long or n_windows, samples, seed)
        out.append(int(bounds[i]) + starts[starts < n_windows])
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def _find_chunk(
    texts: Sequence[str], index: SubstringIndex, mode: str, keys: Sequence[str] | None, samples: int, seed: int
) -> Found:
    cps, offsets, bounds = normalize_batch(list(texts))
    if not cps.size:
        return _empty()
    q = prefix_sums(cps)
    ends = np.repeat(bounds[1:], np.diff(bounds))  # where the text of each normalized character ends
    hit_start, hit_example, hit_size = [], [], []
    drawn: dict[int, np.ndarray] = {}
    for idx in index.sizes:
        if mode == "exhaustive":
            starts = _probe_hits(idx, q, bounds, ends)
        else:
            starts = _sampled_starts(idx, index, bounds, keys or [], samples, seed, drawn)
        if not starts.size:
            continue
        s, e = _lookup(idx, starts, hashes_at(q, starts, idx.size))
        hit_start.append(s)
        hit_example.append(e)
        hit_size.append(np.full(s.size, idx.size, dtype=np.int32))
    if not hit_start or not sum(a.size for a in hit_start):
        return _empty()
    start, example, size = np.concatenate(hit_start), np.concatenate(hit_example), np.concatenate(hit_size)
    text = np.searchsorted(bounds, start, side="right") - 1
    order = np.lexsort((start, example, text))
    text, example, start, size = text[order], example[order], start[order], size[order]
    pair_starts = np.r_[True, (text[1:] != text[:-1]) | (example[1:] != example[:-1])]
    distinct = pair_starts | np.r_[True, start[1:] != start[:-1]]  # a window repeated in the example: once
    first = np.flatnonzero(pair_starts)
    counts = np.add.reduceat(distinct.astype(np.int32), first)
    text, example, start, size = text[first], example[first], start[first], size[first]
    norm_offset = (start - bounds[text]).astype(np.int32)
    offset = offsets[start].astype(np.int32)
    contained = np.ones(text.size, dtype=bool)
    substring: list[str] = []
    norm_texts: dict[int, str] = {}
    for j, (t, ex, s, w) in enumerate(zip(text.tolist(), example.tolist(), start.tolist(), size.tolist(), strict=True)):
        if index.whole[ex]:
            target = index.normalized[ex] or ""
            norm = norm_texts.get(t)
            if norm is None:
                norm = norm_texts[t] = _decode(cps[bounds[t] : bounds[t + 1]])
            at = norm.find(target)
            contained[j] = at >= 0
            offset[j] = int(offsets[bounds[t] + at]) if at >= 0 else -1
            substring.append(target)
        else:
            substring.append(_decode(cps[s : s + w]))
    return Found(text.astype(np.int64), example.astype(np.int32), counts.astype(np.int32), norm_offset, offset,
                 contained, substring)  # fmt: skip


def _decode(cps: np.ndarray) -> str:
    return cps.astype(np.uint32, copy=False).tobytes().decode("utf-32-le")


def find(
    texts: Sequence[str | None],
    index: SubstringIndex,
    mode: str = "exhaustive",
    keys: Sequence[str] | None = None,
    samples: int = 10,
    seed: int = 0,
    chunk_chars: int = CHUNK_CHARS,
) -> Found:
    """Every (text, example) pair where the normalized text holds one of the example's indexed windows:
    every window (``exhaustive``) or ``samples`` windows drawn per text from its key in ``keys`` (``sampled``).
    A None text is empty. Texts are normalized and matched in groups of about ``chunk_chars`` characters."""
    if mode not in ("exhaustive", "sampled"):
        raise ValueError(f"mode must be exhaustive or sampled, not {mode!r}")
    if mode == "sampled" and keys is None:
        raise ValueError("sampled mode draws its windows from the texts' keys: pass keys")
    parts, begin, size = [], 0, 0
    texts = [t or "" for t in texts]
    for i, t in enumerate([*texts, None]):
        if t is not None and (size + len(t) <= chunk_chars or i == begin):
            size += len(t) + 1
            continue
        if i > begin:
            part = _find_chunk(texts[begin:i], index, mode, None if keys is None else keys[begin:i], samples, seed)
            part.text += begin
            parts.append(part)
        begin, size = i, (len(t) + 1 if t is not None else 0)
    if not parts:
        return _empty()
    return Found(
        np.concatenate([p.text for p in parts]),
        np.concatenate([p.example for p in parts]),
        np.concatenate([p.matched_windows for p in parts]),
        np.concatenate([p.norm_offset for p in parts]),
        np.concatenate([p.offset for p in parts]),
        np.concatenate([p.contained for p in parts]),
        [s for p in parts for s in p.substring],
    )
