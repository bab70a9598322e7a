"""The kernels of emission, with no Spark in them: the tokenizer as emission uses it, encoding a batch into one
token array, splitting long documents into pieces, and writing, reading back, verifying and merging Megatron
indexed datasets (the ``MMIDIDX`` ``.bin``/``.idx`` pair) with megatron-core's own ``indexed_dataset``.

Shards are written to a local file first and moved into place only when complete (a rename on a local file
system, a whole-object upload elsewhere), so a shard path never names a half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from core import storage
from core.storage import file_sha256 as _sha256

BIN, IDX = ".bin", ".idx"


def indexed_dataset():
    """megatron-core's ``indexed_dataset`` module (its import warns that Transformer Engine and Apex are absent,
    which does not concern reading and writing shards)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets import indexed_dataset as module
    return module


# -- the tokenizer -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerInfo:
    """What emission needs of a Hugging Face tokenizer folder: ``tokenizer.json`` itself (shipped to the Python
    workers inside the task closure, so executors need no access to the folder), its hash, the end-of-document
    token and the on-disk dtype."""

    path: str
    json_text: str
    sha256: str
    vocab_size: int
    eod_token: str
    eod_id: int
    dtype: str  # numpy dtype name: megatron-core's DType.optimal_dtype(vocab_size)

    def describe(self) -> dict:
        d = asdict(self)
        d.pop("json_text")
        return d


def token_dtype(vocab_size: int) -> np.dtype:
    """megatron-core's own rule (``DType.optimal_dtype``): uint16 below 65,500 tokens, else int32 (the format has
    no uint32 code; int32 holds any vocabulary below 2**31)."""
    return np.dtype(indexed_dataset().DType.optimal_dtype(vocab_size))


def read_tokenizer(folder: str | Path) -> TokenizerInfo:
    """The tokenizer folder written by ``moru tokenizer train`` (or any HF folder with a tokenizer.json); the
    end-of-document token is its ``eos_token`` (EXAONE: ``[|endofturn|]``), which is also what megatron-core's
    HuggingFace tokenizer reports as ``eod``."""
    from tokenizers import Tokenizer

    folder = Path(folder)
    tj = folder / "tokenizer.json"
    if not tj.is_file():
        raise FileNotFoundError(f"no tokenizer.json in {folder}: train one first (moru tokenizer train)")
    text = tj.read_text(encoding="utf-8")
    cfg_file = folder / "tokenizer_config.json"
    eos = None
    if cfg_file.is_file():
        eos = json.loads(cfg_file.read_text(encoding="utf-8")).get("eos_token")
        if isinstance(eos, dict):  # an AddedToken serialized as a mapping
            eos = eos.get("content")
    if not eos:
        raise ValueError(f"{folder}: tokenizer_config.json names no eos_token (the end-of-document token)")
    tok = Tokenizer.from_str(text)
    eod_id = tok.token_to_id(eos)
    if eod_id is None:
        raise ValueError(f"{folder}: the eos_token {eos!r} is not in the vocabulary")
    vocab = tok.get_vocab_size(with_added_tokens=True)
    # the hash covers the files that decide the ids and the end-of-document token
    from tokenizer.hf import folder_sha256

    return TokenizerInfo(str(folder), text, folder_sha256(folder), vocab, eos, eod_id, token_dtype(vocab).name)


@lru_cache(maxsize=4)
def load_tokenizer(json_text: str, sha256: str):
    """One ``tokenizers.Tokenizer`` per Python worker and tokenizer (keyed by its hash; ``json_text`` rides along
    in the task closure). Special-token strings inside a document are encoded as ordinary text, so the
    end-of-document id appears only where emission puts it."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(json_text)
    tok.encode_special_tokens = True
    return tok


def encode(tok, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(all token ids of ``texts`` end to end as int64, tokens per text). ``encode_batch_fast`` (no offsets)
    runs the batch on the tokenizer's Rust thread pool; the ids are gathered into one array without building a
    per-document array."""
    encodings = tok.encode_batch_fast(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e) for e in encodings), dtype=np.int64, count=len(encodings))
    flat = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def with_eod(flat: np.ndarray, lengths: np.ndarray, eod: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``flat`` with ``eod`` after each document (as ``dtype``) and the document ends in the result."""
    ends = np.cumsum(lengths)
    out = np.insert(flat, ends, eod).astype(dtype, copy=False)
    return out, ends + np.arange(1, len(lengths) + 1)


def piece_bounds(n_tokens: int, max_tokens: int) -> list[tuple[int, int]]:
    """Content ranges ``[start, end)`` of the pieces of a document of ``n_tokens`` tokens (its end-of-document
    token included): the whole content when it fits in ``max_tokens``, else the fewest near-equal pieces that
    each fit with their own end-of-document token (sizes differ by at most one, longer pieces first)."""
    content = n_tokens - 1
    if n_tokens <= max_tokens:
        return [(0, content)]
    k = -(-content // (max_tokens - 1))
    q, r = divmod(content, k)
    bounds, start = [], 0
    for i in range(k):
        end = start + q + (1 if i < r else 0)
        bounds.append((start, end))
        start = end
    return bounds


# -- where shards are written and read --------------------------------------------------------------------------


@contextmanager
def shard_output(prefix_uri: str, tag: str = "") -> Iterator[str]:
    """A local path prefix to write one shard to; on success the pair is moved to ``prefix_uri`` (``.bin``
    first, ``.idx`` last: a shard with an ``.idx`` is whole). Local targets: written beside the target under a
    name unique to ``tag`` (a task attempt) and renamed, so two attempts never write the same file. Remote
    targets (s3://, gs://, …): written to a temporary folder and uploaded whole."""
    local = storage.local_path(prefix_uri)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{tag or os.getpid()}.tmp")
        try:
            yield str(tmp)
            os.replace(str(tmp) + BIN, str(local) + BIN)
            os.replace(str(tmp) + IDX, str(local) + IDX)
        finally:
            for ext in (BIN, IDX):
                Path(str(tmp) + ext).unlink(missing_ok=True)
        return
    with tempfile.TemporaryDirectory(prefix="moru-emit-") as tmp:
        prefix = os.path.join(tmp, "shard")
        yield prefix
        filesystem, inner = storage.filesystem(prefix_uri)
        for ext in (BIN, IDX):
            with open(prefix + ext, "rb") as src, filesystem.open_output_stream(inner + ext) as dst:
                shutil.copyfileobj(src, dst, 8 << 20)


@contextmanager
def shard_input(prefix_uri: str) -> Iterator[str]:
    """A local path prefix holding the shard at ``prefix_uri`` (downloaded to a temporary folder when remote)."""
    local = storage.local_path(prefix_uri)
    if local is not None:
        yield str(local)
        return
    with tempfile.TemporaryDirectory(prefix="moru-emit-") as tmp:
        prefix = os.path.join(tmp, "shard")
        filesystem, inner = storage.filesystem(prefix_uri)
        for ext in (BIN, IDX):
            with filesystem.open_input_stream(inner + ext) as src, open(prefix + ext, "wb") as dst:
                shutil.copyfileobj(src, dst, 8 << 20)
        yield prefix


def remove_shard(prefix_uri: str) -> None:
    for ext in (BIN, IDX):
        storage.remove_file(storage.suffixed(prefix_uri, ext))


def remote_sizes(prefix_uri: str) -> tuple[int, int]:
    """(bytes of .bin, bytes of .idx) as the storage reports them; -1 for a missing file."""
    from pyarrow import fs

    filesystem, inner = storage.filesystem(prefix_uri)
    infos = filesystem.get_file_info([inner + BIN, inner + IDX])
    return tuple(i.size if i.type == fs.FileType.File else -1 for i in infos)  # type: ignore[return-value]


# -- writing, reading back, verifying, merging -----------------------------------------------------------------


class ShardWriter:
    """One shard written through megatron-core's ``IndexedDatasetBuilder``: one Megatron document (of one
    sequence) per emitted document."""

    def __init__(self, local_prefix: str, dtype: np.dtype):
        self.prefix = local_prefix
        self.dtype = np.dtype(dtype)
        self.builder = indexed_dataset().IndexedDatasetBuilder(local_prefix + BIN, dtype=self.dtype.type)
        self.documents = 0
        self.tokens = 0
        self._lengths: list[int] = []

    def add(self, tokens: np.ndarray) -> int:
        """Append one document (its end-of-document token already in ``tokens``); returns its index."""
        n = len(tokens)
        self.builder.add_document(tokens, [n])
        self._lengths.append(n)
        self.documents += 1
        self.tokens += n
        return self.documents - 1

    def add_many(self, tokens: np.ndarray, ends: np.ndarray) -> None:
        """Append consecutive documents: ``tokens[ends[i-1]:ends[i]]`` is document i."""
        start = 0
        for end in ends.tolist():
            self.builder.add_document(tokens[start:end], [end - start])
            self._lengths.append(end - start)
            start = end
        self.documents += len(ends)
        self.tokens += int(ends[-1]) if len(ends) else 0

    def finish(self) -> None:
        self.builder.finalize(self.prefix + IDX)

    def lengths(self) -> np.ndarray:
        return np.array(self._lengths, dtype=np.int64)

    def expected(self) -> Expected:
        """What this shard must hold, from what was added to it (for :func:`verify`)."""
        n = self.lengths()
        return Expected(len(n), int(n.sum()), int((n * np.arange(1, len(n) + 1, dtype=np.int64)).sum()))

    def length_bins(self) -> dict[int, list[int]]:
        """Documents and tokens per power-of-two length bin (bin b: 2**b <= tokens < 2**(b + 1))."""
        n = self.lengths()
        b = np.floor(np.log2(n)).astype(np.int64)
        return {int(k): [int((b == k).sum()), int(n[b == k].sum())] for k in np.unique(b)}


def read_dataset(local_prefix: str):
    """megatron-core's ``IndexedDataset`` over a local shard (memory-mapped)."""
    return indexed_dataset().IndexedDataset(local_prefix)


class ShardError(RuntimeError):
    """A shard that does not hold what was written to it."""


@dataclass
class Expected:
    """What a shard must hold: its documents, their tokens, and sum((i + 1) * len_i) over its documents i (so a
    reordering or a shifted length is caught, not only a wrong total)."""

    documents: int
    tokens: int
    moment: int


def verify(local_prefix: str, expected: Expected, eod: int | None, dtype: np.dtype) -> dict:
    """Read the shard back with megatron-core's ``IndexedDataset`` and check it against ``expected``: the index
    header (MMIDIDX, version 1, the dtype's code), one sequence per document, the sequence lengths' count, sum and
    moment, the ``.bin`` size (tokens x item size), and an end-of-document token ending every sequence and
    nowhere else (not checked with ``eod=None``: datasets that are not documents, such as loss masks or packed
    conversations). Returns the sizes and SHA-256 of both files; raises ShardError naming what differs."""
    import struct

    DType = indexed_dataset().DType  # noqa: N806

    bin_path, idx_path = local_prefix + BIN, local_prefix + IDX
    problems = []
    with open(idx_path, "rb") as fh:
        header = fh.read(9 + 8 + 1 + 8 + 8)
    if len(header) < 34 or header[:9] != b"MMIDIDX\x00\x00":
        raise ShardError(f"{idx_path}: not an MMIDIDX index")
    version, code = struct.unpack("<QB", header[9:18])
    if version != 1 or code != DType.code_from_dtype(np.dtype(dtype).type):
        problems.append(f"index version {version} / dtype code {code}, expected 1 / {np.dtype(dtype).name}")
    ds = read_dataset(local_prefix)
    lengths = ds.sequence_lengths.astype(np.int64)
    docs = ds.document_indices
    if len(lengths) != expected.documents:
        problems.append(f"{len(lengths)} sequences, expected {expected.documents}")
    if not np.array_equal(docs, np.arange(len(lengths) + 1)):
        problems.append("document indices are not one sequence per document")
    total = int(lengths.sum())
    if total != expected.tokens:
        problems.append(f"{total} tokens, expected {expected.tokens}")
    moment = int((lengths * np.arange(1, len(lengths) + 1, dtype=np.int64)).sum())
    if moment != expected.moment:
        problems.append("sequence lengths differ from the documents written (same total, other order or sizes)")
    itemsize = np.dtype(dtype).itemsize
    size = os.path.getsize(bin_path)
    if size != total * itemsize:
        problems.append(f".bin holds {size} bytes, expected {total * itemsize}")
    if not problems and total and eod is not None:
        data = np.memmap(bin_path, dtype=dtype, mode="r")
        last = np.cumsum(lengths) - 1
        if not np.all(data[last] == eod):
            problems.append("a sequence does not end with the end-of-document token")
        elif int(np.count_nonzero(data == eod)) != len(lengths):
            problems.append("the end-of-document token appears inside a document")
        del data
    del ds
    if problems:
        raise ShardError(f"{local_prefix}: " + "; ".join(problems))
    return {
        "bin_bytes": size,
        "idx_bytes": os.path.getsize(idx_path),
        "bin_sha256": _sha256(bin_path),
        "idx_sha256": _sha256(idx_path),
    }


def merge(local_parts: list[str], local_out: str, dtype: np.dtype) -> None:
    """Concatenate shards, in the order given, into one, through megatron-core's ``IndexedDatasetBuilder``: each
    part's index read with ``IndexedDataset`` and appended to the builder's lists, its ``.bin`` copied, then the
    builder writes the index. (What ``IndexedDatasetBuilder.add_index`` does, without the ``gc.collect()`` it runs
    after every part: in a Python worker that has imported torch, that full collection takes a large fraction of a
    second, which made merging a few hundred small shards take a minute.)"""
    builder = indexed_dataset().IndexedDatasetBuilder(local_out + BIN, dtype=np.dtype(dtype).type)
    for part in local_parts:
        ds = read_dataset(part)
        if ds.index.dtype != np.dtype(dtype):
            raise ShardError(f"{part}: dtype {ds.index.dtype}, expected {np.dtype(dtype)}")
        offset = len(builder.sequence_lengths)
        builder.sequence_lengths.extend(ds.sequence_lengths.tolist())
        builder.document_indices.extend((offset + ds.document_indices[1:]).tolist())
        del ds
        with open(part + BIN, "rb") as fh:
            shutil.copyfileobj(fh, builder.data_file, 8 << 20)
    builder.finalize(local_out + IDX)


def open_writers(stack, folder: str, dtypes: dict[str, np.dtype], tag: str) -> dict:
    """One ShardWriter per dataset of a part folder (``folder/<name>.{bin,idx}``); each moves into place when the
    ExitStack ``stack`` closes without error."""
    from core import storage

    return {name: ShardWriter(stack.enter_context(shard_output(storage.join(folder, name), tag)), dtype)
            for name, dtype in dtypes.items()}  # fmt: skip


def finish_writers(writers: dict) -> dict:
    """Finish every dataset and read it back with megatron-core's IndexedDataset (counts, lengths, sizes)."""
    files = {}
    for name, w in writers.items():
        w.finish()
        files[name] = verify(w.prefix, w.expected(), None, w.dtype) | {"documents": w.documents,
                                                                       "elements": w.tokens}  # fmt: skip
    return files
