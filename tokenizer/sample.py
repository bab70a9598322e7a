"""The tokenizer's training sample: how documents are chosen (the arithmetic), what a sample file holds, and
reading it back. The tokenizer job (its Spark part, outside this package) draws it.

Every document gets a uniform number u in [0, 1) from a hash of (doc_id, seed). Documents with
u >= 1 - holdout_fraction are held out (never trained on; the compression evaluation reads them).
The rest are split into strata by ``lang``: Korean, English, and one per configured language beyond them
(``tokenizer.sample.other_langs``: de, ja, vi …, each with its byte share; Korean and English share the rest
by the steered Korean share); a stratum with A bytes that should give W bytes keeps the documents with
u < (1 - holdout) * W / A. Sampling is therefore deterministic,
needs one aggregation (bytes per stratum) and one filter, and a larger sample contains every smaller one.

A stratum whose every document hashes into the held-out range (a corpus of a handful of documents) keeps no
held-out split: its documents are trained on, since a tokenizer cannot be trained without them.

Korean documents are MeCab-marked (:func:`train_text`) where they are drawn, so the trainer only streams
``train_text``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from tokenizer.mecab import MARK, mark_boundaries

log = logging.getLogger(__name__)

GROUPS = ("ko", "en")  # the two strata every sample has; other_langs add one each
SAMPLE_COLUMNS = ("doc_id", "group", "n_bytes", "train_text")  # a training sample's Parquet columns
HELDOUT_COLUMNS = ("doc_id", "group", "text")  # the held-out documents' Parquet columns


@dataclass
class SampleStats:
    """What one sampling wrote: bytes and documents per stratum, the shares asked for and obtained."""

    path: str
    korean_share_wanted: float
    bytes_wanted: int
    available_bytes: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    docs: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    @property
    def korean_share(self) -> float:
        """Korean bytes among Korean + English bytes (what steering moves; other languages keep their shares)."""
        return self.bytes.get("ko", 0) / max(1, self.bytes.get("ko", 0) + self.bytes.get("en", 0))

    def as_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total_bytes, "korean_share": round(self.korean_share, 4)}


def holdout_groups(outside: dict[str, int], inside: dict[str, int]) -> set[str]:
    """The strata that keep a held-out split, from their bytes outside and inside the held-out range of u: every
    stratum with bytes outside it (one that is all inside is trained on whole)."""
    groups = dict.fromkeys([*GROUPS, *outside, *inside])
    return {g for g in groups if outside.get(g, 0) > 0 or not inside.get(g, 0)}


def shares(korean_share: float, other_shares: dict[str, float] | None = None) -> dict[str, float]:
    """Each stratum's share of the sample's bytes: the other languages' as configured, Korean and English the
    rest split by ``korean_share``."""
    other = dict(other_shares or {})
    rest = 1.0 - sum(other.values())
    return {"ko": rest * korean_share, "en": rest * (1.0 - korean_share), **other}


@dataclass(frozen=True)
class Plan:
    """Thresholds on u that draw a sample: a document of stratum g is taken when u < ``thresholds[g]``."""

    thresholds: dict[str, float]
    bytes: float  # bytes the sample should hold in all
    short: str | None  # the Korean or English stratum taken whole because it has fewer bytes than its share
    whole: tuple[str, ...] = ()  # the other languages taken whole (fewer bytes than their share)


def plan(
    available: dict[str, int],
    keep: dict[str, float],
    korean_share: float,
    total_bytes: int,
    other_shares: dict[str, float] | None = None,
) -> Plan:
    """The thresholds for a sample of about ``total_bytes`` with ``korean_share`` of its Korean + English bytes
    Korean and ``other_shares`` of its bytes from each other language, from the bytes each stratum has for training
    (``available``, > 0 each) and the part of [0, 1) of u they occupy (``keep``: 1 - holdout_fraction, or 1 for a
    stratum without a held-out split).

    The Korean share wins over the size: when the Korean or the English stratum has fewer bytes than its share of
    ``total_bytes``, it is taken whole and the other is cut to keep the share, so the sample is smaller than asked
    (a warning says so). Another language with fewer bytes than its share is taken whole without cutting the
    rest: a small language does not shrink the sample (a warning says so)."""
    wanted = shares(korean_share, other_shares)
    # the largest sample with the wanted Korean and English shares that they can fill, at most total_bytes
    reachable = min(total_bytes, *(available[g] / wanted[g] for g in GROUPS))
    short = None
    if reachable < total_bytes:
        short = min(GROUPS, key=lambda g: available[g] / wanted[g])
        log.warning(
            "the %s stratum has %s bytes, %s wanted: taking it whole and %s bytes in all to keep the Korean byte "
            "share at %.3f", short, f"{available[short]:,}", f"{int(wanted[short] * total_bytes):,}",
            f"{int(reachable):,}", korean_share,
        )  # fmt: skip
    whole = tuple(g for g in wanted if g not in GROUPS and wanted[g] * reachable > available[g])
    for g in whole:
        log.warning(
            "the %s stratum has %s bytes, %s wanted (%.3f of the sample): taking it whole",
            g, f"{available[g]:,}", f"{int(wanted[g] * reachable):,}", wanted[g],
        )  # fmt: skip
    thresholds = {g: keep[g] * min(1.0, share * reachable / available[g]) for g, share in wanted.items()}
    size = sum(min(float(available[g]), share * reachable) for g, share in wanted.items())
    return Plan(thresholds, size, short, whole)


def train_text(text: str, group: str, mecab: bool | tuple[str, ...]) -> str:
    """The text the trainer sees: documents of the marked languages MeCab-marked (``mecab``: their codes, or True
    for Korean only, False for none; mecab-ko-dic for ko, UniDic-lite for ja), any other text with stray marks
    removed."""
    langs = ("ko",) if mecab is True else () if mecab is False else tuple(mecab)
    return mark_boundaries(text, group) if group in langs else text.replace(MARK, "")


def iter_column(uri: str, column: str, batch_rows: int = 2048) -> Iterator[str]:
    """Stream one string column of a Parquet folder (local or remote) without loading it whole."""
    import pyarrow.dataset as ds

    from core import storage

    local = storage.local_path(uri)
    source = str(local) if local is not None else uri
    dataset = ds.dataset(source, format="parquet")
    for batch in dataset.to_batches(columns=[column], batch_size=batch_rows):
        yield from batch.column(0).to_pylist()


def count_rows(uri: str) -> int:
    import pyarrow.dataset as ds

    from core import storage

    local = storage.local_path(uri)
    return ds.dataset(str(local) if local is not None else uri, format="parquet").count_rows()
