"""The ``dedup`` section of the config: exact dedup, then MinHash-LSH near-duplicate dedup."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from quality.dedup.canonical import CanonicalForm
from quality.dedup.lsh import optimal_bands
from quality.dedup.shingles import KoreanUnits

# Bump when shingling or signatures change in a way that changes their output: signatures are redone.
KERNEL_VERSION = "1"
# measured on demo.dedup_eval's labelled set (benchmarks/dedup_quality.py)
DEFAULT_KOREAN_NGRAM = {"char": 12, "morpheme": 5}


class ExactDedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    canonical: CanonicalForm = Field(default_factory=CanonicalForm)


class MinHashConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ngram: int = Field(default=5, ge=1, le=32, description="word n-gram size (English and other spaced text)")
    korean_units: KoreanUnits = Field(
        default="char", description="Hangul units: char (spacing-blind), morpheme (MeCab) or eojeol (spaces)"
    )
    korean_ngram: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Hangul n-gram size; default by unit: 12 characters or 5 morphemes (the best F1 measured "
        "against word 5-gram truth, benchmarks/dedup_quality.py)",
    )
    num_perm: int = Field(default=128, ge=8, le=1024)
    seed: int = Field(default=1, ge=0, lt=2**32, description="datasketch's seed: same seed, same permutations")
    scheme: Literal["affine32", "legacy"] = Field(
        default="affine32", description="datasketch >= 2.0's default permutations, or the pre-2.0 (legacy) ones"
    )
    threshold: float = Field(default=0.8, gt=0.0, lt=1.0, description="Jaccard similarity of near duplicates")
    fp_weight: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="weight of false positives when choosing bands x rows (fn weight = 1 - this); candidates "
        "are verified afterwards, so a missed pair costs more than a spurious candidate (0.05 gives 16 x 8 for "
        "128 permutations at 0.8: a pair at Jaccard 0.8 becomes a candidate with probability 0.95)",
    )
    bands: int | None = Field(default=None, ge=1, description="override the derived number of bands")
    rows: int | None = Field(default=None, ge=1, description="override the derived rows per band")
    verify: Literal["exact", "signature", "none"] = Field(
        default="exact",
        description="keep a candidate pair only if its Jaccard reaches the threshold: exact (the two documents' "
        "shingle sets, recomputed for candidates only), signature (the MinHash estimate) or none",
    )
    all_pairs_bucket_size: int = Field(
        default=32,
        ge=2,
        description="a bucket up to this size links every pair of its members; a larger one links each member "
        "to its smallest doc_id only (linear in the bucket, as datatrove and text-dedup do)",
    )
    max_iterations: int = Field(default=50, ge=1, description="connected-component rounds before giving up")
    # set from the top-level ``languages`` (not a key of this section): with ja configured and Hangul
    # units ``char``, kana and kanji join the Hangul character stream (``korean_ngram``-grams, blind
    # to spacing) instead of the word stream's per-character units (spark_jobs.config)
    _cjk_chars: bool = PrivateAttr(default=False)

    def cjk_chars(self) -> bool:
        return self._cjk_chars and self.korean_units == "char"

    @model_validator(mode="after")
    def _bands_fit(self) -> MinHashConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        return self

    def hangul_ngram(self) -> int:
        if self.korean_ngram is not None:
            return self.korean_ngram
        return DEFAULT_KOREAN_NGRAM.get(self.korean_units, self.ngram)

    def band_rows(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return optimal_bands(self.threshold, self.num_perm, self.fp_weight, 1.0 - self.fp_weight)

    def signature_params(self) -> str:
        """Fingerprint of everything a stored signature depends on."""
        blob = json.dumps(
            {
                "v": KERNEL_VERSION,
                "ngram": self.ngram,
                "korean_units": self.korean_units,
                "korean_ngram": self.hangul_ngram(),
                "num_perm": self.num_perm,
                "seed": self.seed,
                "scheme": self.scheme,
                # only when on, so that a default run's signatures keep their params
                **({"cjk_chars": True} if self.cjk_chars() else {}),
            },
            sort_keys=True,
        )
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


class DedupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_priority: list[str] = Field(
        default_factory=list,
        description="keeper rule: a source earlier in this list wins; then earliest ingest; then doc_id",
    )
    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
