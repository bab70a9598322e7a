"""Blend JSONs: per split, megatron's flattened ``[weight, prefix, weight, prefix, …]`` list, as megatron-core's
``BlendedMegatronDatasetConfig.blend_per_split`` takes it (and ``megatron_train.data.read_blend`` reads it).

Stage 1: a dataset's weight is its tokens times its multiplier (``emit.multipliers``), normalized per split, so
with multipliers of 1 every token is sampled equally often. Stage 2: the long documents get ``1 - replay_ratio``
of each split's weight and the replayed documents ``replay_ratio``, each part shared out by tokens times
multiplier in the same way. Stage 3: the same with its long documents and its rehearsal sample (``stage3.long_share``
and ``stage3.rehearsal_share``). A dataset whose multiplier is 0 is left out of the blend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spark_jobs.emit.config import MultipliersConfig

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Dataset:
    """One emitted dataset (a shard, or a merged group of shards)."""

    stage: str  # stage1 | stage2 | stage3
    split: str
    role: str  # all (stage 1) | long | replay (stage 2) | long | rehearsal (stage 3)
    lang: str
    source: str
    prefix: str  # what the blend names: an absolute local path prefix or a URI, without .bin/.idx
    documents: int
    tokens: int


def _shares(datasets: list[Dataset], mult: MultipliersConfig, total: float) -> list[tuple[float, str]]:
    raw = [(mult.factor(d.lang, d.source) * d.tokens, d.prefix) for d in datasets]
    mass = sum(w for w, _ in raw)
    if mass <= 0:
        return []
    return [(total * w / mass, p) for w, p in raw if w > 0]


def _flatten(entries: list[tuple[float, str]]) -> list:
    out: list = []
    for w, p in sorted(entries, key=lambda e: e[1]):
        out += [w, p]
    return out


def stage1_blend(datasets: Iterable[Dataset], mult: MultipliersConfig) -> dict[str, list]:
    by_split: dict[str, list[Dataset]] = {}
    for d in datasets:
        if d.stage == "stage1":
            by_split.setdefault(d.split, []).append(d)
    blend = {}
    for split in SPLITS:
        entries = _shares(by_split.get(split, []), mult, 1.0)
        if entries:
            blend[split] = _flatten(entries)
    return blend


def extension_blend(datasets: Iterable[Dataset], stage: str, mult: MultipliersConfig,
                    sample_share: float) -> dict[str, list]:  # fmt: skip
    """A later stage's blend: its sampled documents (role other than long) get ``sample_share`` of each split's
    weight, its long ones the rest. A split without long documents is left out (nothing to extend context on); a
    split without sampled documents gives all its weight to the long ones."""
    long: dict[str, list[Dataset]] = {}
    sample: dict[str, list[Dataset]] = {}
    for d in datasets:
        if d.stage == stage:
            (long if d.role == "long" else sample).setdefault(d.split, []).append(d)
    blend = {}
    for split in SPLITS:
        rep = _shares(sample.get(split, []), mult, sample_share) if sample_share > 0 else []
        lng = _shares(long.get(split, []), mult, 1.0 - sample_share if rep else 1.0)
        if lng:
            blend[split] = _flatten(lng + rep)
    return blend


def stage2_blend(datasets: Iterable[Dataset], mult: MultipliersConfig, replay_ratio: float) -> dict[str, list]:
    """Stage 2 (32K): long documents and replay, ``replay_ratio`` of the weight replay."""
    return extension_blend(datasets, "stage2", mult, replay_ratio)


def stage3_blend(datasets: Iterable[Dataset], mult: MultipliersConfig, rehearsal_share: float) -> dict[str, list]:
    """Stage 3 (256K): long documents and rehearsal, ``rehearsal_share`` of the weight rehearsal (``long_share``,
    its complement, long documents); the same format as stage 2's."""
    return extension_blend(datasets, "stage3", mult, rehearsal_share)


def weights_by_prefix(blend: dict[str, list]) -> dict[tuple[str, str], float]:
    """{(split, prefix): weight} of a blend."""
    out = {}
    for split, items in blend.items():
        for w, p in zip(items[0::2], items[1::2], strict=True):
            out[(split, p)] = w
    return out
