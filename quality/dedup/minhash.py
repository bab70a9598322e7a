"""MinHash signatures for many documents per call, bit-identical to datasketch's ``MinHash``.

datasketch (2.x) hashes each shingle with ``sha1_hash32`` (the first 4 bytes of its SHA-1, little
endian) and applies ``num_perm`` permutations drawn from ``numpy.random.RandomState(seed)``:

- ``affine32`` (datasketch's default since 2.0): ``h = fmix32(h)`` (MurmurHash3's finalizer), then
  ``a_k * h + b_k`` in uint32 arithmetic (wraparound is the modulo), ``a_k`` odd.
- ``legacy`` (datasketch < 2.0, and what text-dedup computes): ``((a_k * h + b_k) mod (2^61 - 1))``
  truncated to 32 bits, in uint64 arithmetic whose wraparound is part of the result.

The signature of a set is the per-permutation minimum. Here the shingle hashes of a whole batch of
documents go through the permutations as one matrix and ``np.minimum.reduceat`` takes each
document's minima, so numpy's per-call overhead is paid per batch, not per document. Values fit in
32 bits under both schemes; a signature is stored as ``num_perm`` little-endian uint32
(``num_perm * 4`` bytes), which :func:`to_lean_minhash` turns back into a datasketch object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

Scheme = Literal["affine32", "legacy"]

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH32 = np.uint32(0xFFFFFFFF)
# rows x num_perm values per numpy step: 16k hashes x 128 perms x 8 bytes = 16 MiB of uint64
_CHUNK_VALUES = 1 << 21


def permutations(num_perm: int, seed: int, scheme: Scheme = "affine32") -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) permutation parameters datasketch draws for ``num_perm`` and ``seed``."""
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        ab = np.array(
            [
                (gen.randint(1, MERSENNE_PRIME, dtype=np.uint64), gen.randint(0, MERSENNE_PRIME, dtype=np.uint64))
                for _ in range(num_perm)
            ],
            dtype=np.uint64,
        ).T
        return ab[0], ab[1]
    if scheme == "affine32":
        a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        return a, b
    raise ValueError(f"scheme must be 'affine32' or 'legacy', got {scheme!r}")


def sha1_hash32(items: Sequence[bytes]) -> np.ndarray:
    """datasketch's ``sha1_hash32`` of every item, as one uint32 array."""
    if not items:
        return np.empty(0, dtype=np.uint32)
    sha1 = hashlib.sha1
    digests = b"".join([sha1(x).digest() for x in items])
    return np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), in wrapping uint32 arithmetic."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class MinHasher:
    """Signatures of many shingle sets at once; same values as datasketch for the same settings."""

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: Scheme = "affine32"):
        if num_perm < 1:
            raise ValueError("num_perm must be >= 1")
        self.num_perm, self.seed, self.scheme = num_perm, seed, scheme
        self.a, self.b = permutations(num_perm, seed, scheme)
        self.chunk_rows = max(1, _CHUNK_VALUES // num_perm)

    def _permute(self, h: np.ndarray) -> np.ndarray:
        """(len(h), num_perm) permuted hash values as uint32."""
        with np.errstate(over="ignore"):
            if self.scheme == "affine32":
                return fmix32(h)[:, None] * self.a[None, :] + self.b[None, :]
            hv = h.astype(np.uint64)[:, None]
            phv = (hv * self.a[None, :] + self.b[None, :]) % MERSENNE_PRIME
            return (phv & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    def signatures_from_hashes(self, hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Signatures (n_docs, num_perm) uint32 from the concatenated shingle hashes of the
        documents (``counts[i]`` hashes for document ``i``). A document with no hash gets
        datasketch's empty signature (every value 2^32 - 1)."""
        counts = np.asarray(counts, dtype=np.int64)
        out = np.full((len(counts), self.num_perm), MAX_HASH32, dtype=np.uint32)
        ends = np.cumsum(counts)
        starts = ends - counts
        doc = 0
        n_docs = len(counts)
        while doc < n_docs:
            if counts[doc] == 0:
                doc += 1
                continue
            # take documents while their hashes fit one chunk (at least one document)
            first, lo = doc, starts[doc]
            limit = lo + self.chunk_rows
            last = int(np.searchsorted(ends, limit, side="right"))
            last = max(last, first + 1)
            hi = ends[last - 1]
            if hi - lo > self.chunk_rows:  # one document larger than a chunk: its running minimum
                acc = out[first]
                for s in range(lo, hi, self.chunk_rows):
                    np.minimum(acc, self._permute(hashes[s : min(hi, s + self.chunk_rows)]).min(axis=0), out=acc)
                doc = first + 1
                continue
            sel = np.arange(first, last)
            sel = sel[counts[sel] > 0]
            phv = self._permute(hashes[lo:hi])
            out[sel] = np.minimum.reduceat(phv, starts[sel] - lo, axis=0)
            doc = last
        return out

    def signatures(self, shingle_sets: Iterable[Iterable[bytes]]) -> np.ndarray:
        """Signatures (n_docs, num_perm) uint32 of each document's shingles."""
        flat: list[bytes] = []
        counts = []
        for s in shingle_sets:
            before = len(flat)
            flat.extend(s)
            counts.append(len(flat) - before)
        return self.signatures_from_hashes(sha1_hash32(flat), np.array(counts, dtype=np.int64))


def to_bytes(signature: np.ndarray) -> bytes:
    return np.ascontiguousarray(signature, dtype="<u4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


def signature_jaccard(x: np.ndarray, y: np.ndarray) -> float | np.ndarray:
    """Estimated Jaccard: the share of equal signature slots (rows of 2-D arrays, pairwise)."""
    return np.mean(x == y, axis=-1)


def to_lean_minhash(blob: bytes, seed: int, scheme: Scheme = "affine32"):
    """A stored signature as a datasketch ``LeanMinHash`` (query it with ``datasketch.MinHashLSH``)."""
    from datasketch import LeanMinHash

    values = from_bytes(blob)
    if scheme == "legacy":
        values = values.astype(np.uint64)
    return LeanMinHash(seed=seed, hashvalues=values, scheme=scheme)
