"""Training data: a blend (or megatron-core's mock data) through ``BlendedMegatronDatasetBuilder``, read in the
order megatron's pretraining sampler uses, from any position.

Sample order is a property of the global batch, not of the data-parallel layout: global batch ``b`` is samples
``[b·G, (b+1)·G)`` of the blended dataset (G = global batch size); within it, micro-batch ``k`` of data-parallel
rank ``r`` is ``b·G + k·m·D + r·m`` onwards (m = micro-batch size, D = data-parallel size). The position saved in
a checkpoint is the number of samples consumed, so a run resumes at the same sample with another DP size.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from megatron_train.config import DataConfig

SPLITS = ("train", "valid", "test")


class DataError(ValueError):
    """A blend, tokenizer or dataset that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Blend:
    """Per split: (path prefixes, weights) as megatron's BlendedMegatronDatasetConfig.blend_per_split wants."""

    per_split: dict[str, tuple[list[str], list[float] | None]]
    origin: str

    def megatron_blend_per_split(self) -> list:
        return [self.per_split.get(s) for s in SPLITS]


def parse_blend_list(items: list, origin: str, base: Path | None) -> tuple[list[str], list[float] | None]:
    """megatron's flattened blend list: ``[w1, prefix1, w2, prefix2, ...]`` or ``[prefix1, prefix2, ...]``."""
    if not items:
        raise DataError(f"{origin}: empty blend list")

    def path(p: str) -> str:
        return str((base / p).resolve()) if base is not None and not Path(p).is_absolute() else p

    if all(isinstance(x, str) for x in items):
        return [path(p) for p in items], None
    if len(items) % 2:
        raise DataError(f"{origin}: a weighted blend alternates weight, prefix (got {len(items)} items)")
    weights, prefixes = items[0::2], items[1::2]
    for w in weights:
        if not isinstance(w, numbers.Real) or isinstance(w, bool) or w < 0:
            raise DataError(f"{origin}: weights must be non-negative numbers (got {w!r})")
    for p in prefixes:
        if not isinstance(p, str):
            raise DataError(f"{origin}: path prefixes must be strings (got {p!r})")
    if sum(weights) <= 0:
        raise DataError(f"{origin}: the weights add up to 0")
    return [path(p) for p in prefixes], [float(w) for w in weights]


def read_blend(cfg: DataConfig) -> Blend | None:
    """The configured blend (None for mock data). Prefixes in a blend JSON are relative to its folder; every
    prefix must have its ``.bin`` and ``.idx``."""
    if cfg.mock:
        return None
    if cfg.blend is not None:
        path = Path(cfg.blend)
        if not path.is_file():
            raise DataError(f"blend file not found: {path}")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON: {exc}") from None
        origin, base = str(path), path.resolve().parent
    else:
        raw, origin, base = cfg.blend_per_split, "train.data.blend_per_split", None
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{origin}: expected a mapping of split (train, valid, test) to a blend list")
    unknown = set(raw) - set(SPLITS)
    if unknown:
        raise DataError(f"{origin}: unknown splits {sorted(unknown)} (splits: train, valid, test)")
    if not raw.get("train"):
        raise DataError(f"{origin}: no train split")
    per_split = {}
    for split, items in raw.items():
        if items is None:
            continue
        if not isinstance(items, list):
            raise DataError(f"{origin}: {split} must be a list")
        prefixes, weights = parse_blend_list(items, f"{origin} [{split}]", base)
        missing = [p + ext for p in prefixes for ext in (".bin", ".idx") if not Path(p + ext).is_file()]
        if missing:
            raise DataError(f"{origin} [{split}]: missing dataset files: {', '.join(missing)}")
        per_split[split] = (prefixes, weights)
    return Blend(per_split=per_split, origin=origin)


def build_tokenizer(cfg: DataConfig, model_vocab_size: int):
    """The megatron-core tokenizer whose EOD/pad ids the datasets use. Mock data: megatron-core's null tokenizer
    with EOD = the model's last token id; real data: the tokenizer folder (MegatronTokenizer.from_pretrained)."""
    from megatron.core.tokenizers import MegatronTokenizer

    if cfg.tokenizer is None:
        if not cfg.mock:
            raise DataError("train.data.tokenizer is not set: real data needs the tokenizer folder (for its EOD id)")
        return MegatronTokenizer.from_pretrained(
            metadata_path={"library": "null", "model_type": "gpt"}, vocab_size=model_vocab_size - 1
        )
    path = Path(cfg.tokenizer)
    if not (path / "tokenizer_metadata.json").is_file():
        raise DataError(f"{path}: not a tokenizer folder (no tokenizer_metadata.json; see `moru tokenizer train`)")
    tok = MegatronTokenizer.from_pretrained(str(path))
    if tok.vocab_size > model_vocab_size:
        raise DataError(
            f"tokenizer {path} has {tok.vocab_size:,} tokens, more than the model's vocab_size {model_vocab_size:,}"
        )
    return tok


def build_datasets(cfg: DataConfig, blend: Blend | None, tokenizer, seq_length: int, seed: int,
                   num_samples: tuple[int, int, int], cache_dir: str):  # fmt: skip
    """(train, valid, test) datasets of at least ``num_samples`` sequences each (None where not requested or
    not in the blend), via megatron-core's BlendedMegatronDatasetBuilder."""
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig, MockGPTDataset

    per_split = None
    if blend is not None:  # a split nobody asks samples of is not built (megatron refuses weights without a size)
        per_split = [b if n > 0 else None for b, n in zip(blend.megatron_blend_per_split(), num_samples, strict=True)]
    config = GPTDatasetConfig(
        random_seed=seed,
        sequence_length=seq_length,
        blend_per_split=per_split,
        split=None if blend is not None else "98,1,1",  # mock data: split one generated corpus
        path_to_cache=cache_dir,
        tokenizer=tokenizer,
        reset_position_ids=cfg.reset_position_ids,
        reset_attention_mask=cfg.reset_attention_mask,
        eod_mask_loss=cfg.eod_mask_loss,
        create_attention_mask=False,  # causal attention builds its own mask
    )
    cls = MockGPTDataset if blend is None else GPTDataset
    sizes = [n if n > 0 else None for n in num_samples]
    try:
        return BlendedMegatronDatasetBuilder(cls, sizes, lambda: True, config).build()
    except (FileNotFoundError, AssertionError) as exc:
        raise DataError(f"building the datasets failed: {type(exc).__name__}: {exc}") from exc


class PretrainingBatchSampler:
    """This data-parallel rank's micro-batches (lists of sample indices) from ``consumed_samples`` on, in
    megatron's pretraining order (module docstring). Stops at ``total_samples``."""

    def __init__(self, total_samples: int, consumed_samples: int, micro_batch_size: int, dp_rank: int,
                 dp_size: int):  # fmt: skip
        if consumed_samples > total_samples:
            raise DataError(f"resuming at sample {consumed_samples:,} of a dataset of {total_samples:,}")
        self.total, self.consumed = total_samples, consumed_samples
        self.mbs, self.rank, self.size = micro_batch_size, dp_rank, dp_size

    def __iter__(self) -> Iterator[list[int]]:
        chunk = self.mbs * self.size
        start = self.consumed
        while start + chunk <= self.total:
            first = start + self.rank * self.mbs
            yield list(range(first, first + self.mbs))
            start += chunk

    def __len__(self) -> int:
        return (self.total - self.consumed) // (self.mbs * self.size)


def batch_iterator(dataset, consumed_samples: int, micro_batch_size: int, dp_rank: int, dp_size: int,
                   num_workers: int, pin_memory: bool) -> Iterator[dict[str, torch.Tensor]]:  # fmt: skip
    """An iterator over this rank's micro-batches (dicts of [micro_batch, seq] tensors)."""
    sampler = PretrainingBatchSampler(len(dataset), consumed_samples, micro_batch_size, dp_rank, dp_size)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        # its own generator: creating the iterator draws a seed, which must not move the global RNG that
        # checkpoints save and restore
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
    )
    return iter(loader)
