"""Names and per-document decisions that every part of emission must agree on: where a shard goes under a run,
which split a document is in, which sample bucket (stage 2's replay, stage 3's rehearsal) it falls in, and how
many tokens a long document has once cut into a stage's pieces. Plain functions of a document's id and length (no
Spark), so a task, the driver and a test compute the same thing."""

from __future__ import annotations

import hashlib
import re

import numpy as np

REPLAY_BUCKETS = 1 << 16
SPLIT_SCALE = 1_000_000
# the stages past stage 1: long documents (cut into pieces) + a sample of the shorter ones, in ``<role>/`` folders
EXTENSION_STAGES = ("stage2", "stage3")


def _safe(name: str) -> str:
    """A path component for a lang or source value (anything else is replaced, with a hash to keep it unique)."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,80}", name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._")[:60] or "x"
    return f"{cleaned}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def group_path(stage: str, split: str, role: str, lang: str, source: str) -> str:
    """A dataset's path under a run, without ``part-…``: the merged file's prefix."""
    mid = f"/{role}" if stage in EXTENSION_STAGES else ""
    return f"{stage}/{split}{mid}/{_safe(lang)}/{_safe(source)}"


def part_path(stage: str, split: str, role: str, lang: str, source: str, part: int) -> str:
    return f"{group_path(stage, split, role, lang, source)}/part-{part:05d}"


def _unit(label: str, doc_id: str, modulus: int) -> int:
    digest = hashlib.blake2b(f"{label}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % modulus


class Splitter:
    """train / valid / test by a hash of doc_id (per million): the same document is in the same split on every
    run and in both stages, whatever else the corpus gains or loses."""

    def __init__(self, valid: float, test: float, seed: int):
        self.label = f"split:{seed}"
        self.test = int(round(test * SPLIT_SCALE))
        self.valid = self.test + int(round(valid * SPLIT_SCALE))

    def __call__(self, doc_id: str) -> str:
        u = _unit(self.label, doc_id, SPLIT_SCALE)
        return "test" if u < self.test else "valid" if u < self.valid else "train"


def replay_bucket(doc_id: str, seed: int, label: str = "replay") -> int:
    """The document's sample bucket (0 … REPLAY_BUCKETS - 1): stage 2 replays (stage 3 rehearses, ``label``
    rehearsal) the lowest buckets first. Another label draws independently of the first."""
    return _unit(f"{label}:{seed}", doc_id, REPLAY_BUCKETS)


def piece_tokens(n_tokens: np.ndarray, max_tokens: int) -> np.ndarray:
    """Tokens of documents once cut into a stage's pieces (of at most ``max_tokens``): the content plus one
    end-of-document token per piece."""
    n = np.asarray(n_tokens, dtype=np.int64)
    pieces = np.where(n > max_tokens, -(-(n - 1) // (max_tokens - 1)), 1)
    return n - 1 + pieces
