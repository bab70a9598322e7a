"""Tiny post-training data for the alignment tests, written without Spark in the exact on-disk layout of
``spark_jobs.posttrain.emit`` (its module docstring): under ``OUT`` (``WORKDIR/posttrain_emit``)::

    sft_blend.json, pairs_blend.json          {"train": [1.0, PART], "valid": [1.0, PART]}
    runs/<run>/manifest.json                  tokenizer sha256 and chat template sha256 (when asked for)
    runs/<run>/sft/<split>/part-00000/{tokens,loss_mask,cu_seqlens}.{bin,idx}
    runs/<run>/pairs/<split>/part-00000/{prompt,chosen,rejected,chosen_loss_mask,rejected_loss_mask}.{bin,idx}
                                        + pairs.parquet (doc_id)

Each dataset goes through megatron-core's ``IndexedDatasetBuilder`` (one document of one sequence per packed
sequence or pair, as emit's ShardWriter adds them): tokens uint16, masks uint8, boundaries int32.

The examples are learnable and deterministic in ``seed``: ``[SYS] prompt [SEP] response [EOT]`` where the
response is the prompt reversed (mask 1 on the response and ``[EOT]``, 0 elsewhere: every example starts with a
mask-0 token, as emit's do). A pair's prompt is ``[SYS] prompt [SEP]``; its chosen response is the reversed
prompt + ``[EOT]``, the rejected one random tokens of the upper half of the vocabulary + ``[EOT]``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

SYS, SEP, EOT = 1, 2, 3
LOW, HIGH = 8, 200  # prompt tokens
RUN = "20250101T000000Z-tiny"
CHAT_TEMPLATE = "{% for m in messages %}[|{{ m.role }}|]{{ m.content }}[|endofturn|]\n{% endfor %}"


def _builder(prefix: Path, dtype):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    prefix.parent.mkdir(parents=True, exist_ok=True)
    return IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)


def write_datasets(part: Path, docs: dict[str, list[np.ndarray]], dtypes: dict[str, type]) -> None:
    """One ``.bin``/``.idx`` pair per name in ``part``: each array one document of one sequence."""
    for name, arrays in docs.items():
        b = _builder(part / name, dtypes[name])
        for a in arrays:
            b.add_document(np.asarray(a, dtype=dtypes[name]), [len(a)])
        b.finalize(str(part / f"{name}.idx"))


def _example(rng: np.random.Generator, lo: int = 3, hi: int = 9) -> tuple[np.ndarray, np.ndarray]:
    prompt = rng.integers(LOW, HIGH, size=int(rng.integers(lo, hi)))
    tokens = np.concatenate([[SYS], prompt, [SEP], prompt[::-1], [EOT]])
    mask = np.zeros(len(tokens), dtype=np.uint8)
    mask[len(prompt) + 2 :] = 1
    return tokens, mask


def write_sft_part(part: Path, n_sequences: int, seed: int, seq_length: int = 64, supervised: bool = True) -> None:
    """``n_sequences`` packed sequences (1-3 examples each, <= ``seq_length`` tokens)."""
    rng = np.random.default_rng(seed)
    tokens, masks, cus = [], [], []
    for _ in range(n_sequences):
        examples = [_example(rng) for _ in range(int(rng.integers(1, 4)))]
        while sum(len(t) for t, _ in examples) > seq_length:
            examples.pop()
        lengths = [len(t) for t, _ in examples]
        tokens.append(np.concatenate([t for t, _ in examples]))
        mask = np.concatenate([m for _, m in examples])
        masks.append(mask if supervised else np.zeros_like(mask))
        cus.append(np.concatenate([[0], np.cumsum(lengths)]))
    write_datasets(part, {"tokens": tokens, "loss_mask": masks, "cu_seqlens": cus},
                   {"tokens": np.uint16, "loss_mask": np.uint8, "cu_seqlens": np.int32})  # fmt: skip


def write_pairs_part(part: Path, n_pairs: int, seed: int, split: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    docs: dict[str, list] = {n: [] for n in ("prompt", "chosen", "rejected", "chosen_loss_mask", "rejected_loss_mask")}
    for _ in range(n_pairs):
        p = rng.integers(LOW, HIGH, size=int(rng.integers(3, 8)))
        chosen = np.concatenate([p[::-1], [EOT]])
        rejected = np.concatenate([rng.integers(300, 500, size=int(rng.integers(3, 8))), [EOT]])
        docs["prompt"].append(np.concatenate([[SYS], p, [SEP]]))
        docs["chosen"].append(chosen)
        docs["rejected"].append(rejected)
        docs["chosen_loss_mask"].append(np.ones(len(chosen), dtype=np.uint8))
        docs["rejected_loss_mask"].append(np.ones(len(rejected), dtype=np.uint8))
    dtypes = {"prompt": np.uint16, "chosen": np.uint16, "rejected": np.uint16, "chosen_loss_mask": np.uint8,
              "rejected_loss_mask": np.uint8}  # fmt: skip
    write_datasets(part, docs, dtypes)
    pq.write_table(pa.table({"doc_id": [f"{split}-{seed}-{i}" for i in range(n_pairs)]}), part / "pairs.parquet")


def write_tokenizer(folder: Path, chat_template: str = CHAT_TEMPLATE) -> Path:
    """A tokenizer folder as far as the training checks read it (tokenizer.json, tokenizer_config.json's
    chat_template)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = {"type": "WordLevel", "vocab": {f"t{i}": i for i in range(512)}, "unk_token": "t0"}
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": model}), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat_template}), encoding="utf-8")
    return folder


def write_emit(out: Path, *, tokenizer: Path | None = None, sft_train: int = 24, sft_valid: int = 4,
               pairs_train: int = 32, pairs_valid: int = 8, supervised: bool = True, seq_length: int = 64,
               seed: int = 0) -> dict[str, Path]:  # fmt: skip
    """The post-training emit's output under ``out``; a run manifest naming ``tokenizer``'s hashes when given.
    Returns the blend paths."""
    from tokenizer.hf import chat_template_sha256, folder_sha256

    run = out / "runs" / RUN
    blends: dict[str, dict] = {"sft": {}, "pairs": {}}
    for i, (split, n) in enumerate((("train", sft_train), ("valid", sft_valid))):
        if n:
            part = run / "sft" / split / "part-00000"
            write_sft_part(part, n, seed * 100 + i, seq_length, supervised)
            blends["sft"][split] = [1.0, str(part)]
    for i, (split, n) in enumerate((("train", pairs_train), ("valid", pairs_valid))):
        if n:
            part = run / "pairs" / split / "part-00000"
            write_pairs_part(part, n, seed * 100 + 10 + i, split)
            blends["pairs"][split] = [1.0, str(part)]
    if tokenizer is not None:
        manifest = {"run_id": RUN, "inputs": {"sft": None, "pairs": None}, "gate": {"checked": False},
                    "tokenizer": {"sha256": folder_sha256(tokenizer), "path": str(tokenizer)},
                    "chat_template": {"sha256": chat_template_sha256(tokenizer)}}  # fmt: skip
        (run / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    paths = {}
    for kind, b in blends.items():
        if b:
            paths[kind] = out / f"{kind}_blend.json"
            paths[kind].write_text(json.dumps(b), encoding="utf-8")
    return paths


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
