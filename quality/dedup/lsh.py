"""LSH banding for MinHash signatures: how many bands of how many rows, and each band's key.

``optimal_bands`` picks (b, r) with b * r <= num_perm that minimise the weighted integral of false
positive probability below the threshold and false negative probability above it, as datasketch's
``MinHashLSH`` does (same integrals, same search order, so it picks the same pair). A pair of
documents with Jaccard s becomes a candidate with probability 1 - (1 - s^r)^b.
"""

from __future__ import annotations

from functools import lru_cache

from scipy.integrate import quad


def candidate_probability(s: float, b: int, r: int) -> float:
    return 1.0 - (1.0 - s**r) ** b


@lru_cache(maxsize=256)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be in (0, 1)")
    if abs(fp_weight + fn_weight - 1.0) > 1e-9:
        raise ValueError("fp_weight + fn_weight must be 1")
    best, best_err = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp, _ = quad(lambda s, b=b, r=r: candidate_probability(s, b, r), 0.0, threshold)
            fn, _ = quad(lambda s, b=b, r=r: 1.0 - candidate_probability(s, b, r), threshold, 1.0)
            err = fp * fp_weight + fn * fn_weight
            if err < best_err:
                best, best_err = (b, r), err
    return best


def band_keys(signature_bytes: bytes, b: int, r: int) -> list[bytes]:
    """The ``b`` band keys of one stored signature (``r`` uint32 values = ``4 r`` bytes each)."""
    w = 4 * r
    return [signature_bytes[i * w : (i + 1) * w] for i in range(b)]
