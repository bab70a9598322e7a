"""Planted-contamination corpora: benchmark-like examples (Korean and English) and documents of
chosen lengths with examples planted at random offsets, whole, partial (a suffix of at least
``min_partial`` normalized characters) or perturbed (changed case, spacing and punctuation, which
the matching normalization undoes). Used by the contamination tests and
``benchmarks/decontam_quality.py``; plus the analytic recall of sampled mode."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from quality.decontam import normalize_for_matching

EN = "the of river city market bakery museum library council budget morning family winter train station".split()
KO = "정부는 오늘 새로운 교통 정책을 시민들 버스 노선 서울 부산 지하철 이용객 계획이라고 발표했다".split()
KINDS = ("whole", "partial", "perturbed")


def _sentence(rng: random.Random, words: list[str], n: int) -> str:
    return " ".join(rng.choice(words) for _ in range(n)) + "."


def example_text(rng: random.Random, i: int) -> str:
    """A numbered question in one language (the digits make every example unique)."""
    words = KO if i % 2 else EN
    return f"Q{i}: {rng.randint(10**6, 10**7)} " + " ".join(_sentence(rng, words, rng.randint(6, 12)) for _ in range(3))


def perturb(rng: random.Random, text: str) -> str:
    """Changed case, spacing and punctuation: the normalized text stays the same."""
    out = []
    for ch in text:
        if ch == " ":
            out.append(rng.choice([" ", "  ", "\n", " - "]))
        elif ch == ".":
            out.append(rng.choice([".", "!", " …", ""]))
        else:
            out.append(ch.upper() if rng.random() < 0.3 else ch)
    return "".join(out)


@dataclass
class PlantedCorpus:
    examples: list[dict]  # benchmark, split, example_id, text
    docs: list[dict]  # id, text, length (the clean body's length before planting)
    planted: dict[str, tuple[str, str, int, str]] = field(
        default_factory=dict
    )  # doc id -> (example, passage, at, kind)


def planted_corpus(
    n_docs: int = 60,
    n_planted: int = 40,
    lengths: tuple[int, ...] = (200, 1_000, 5_000, 20_000),
    n_examples: int = 24,
    min_partial: int = 60,
    seed: int = 7,
    benchmark: str = "toyqa",
    cycle_lengths: bool = False,
) -> PlantedCorpus:
    """Documents ``d0`` … ``d{n_docs-1}``; the first ``n_planted`` get one example each (kinds in
    turn), the rest are clean. Bodies are word soup in the document's language (odd: Korean);
    lengths are drawn at random, or with ``cycle_lengths`` taken in turn (three documents, one of each
    kind, per length)."""
    rng = random.Random(seed)
    examples = [{"benchmark": benchmark, "split": "test", "example_id": f"ex{i}", "text": example_text(rng, i)}
                for i in range(n_examples)]  # fmt: skip
    out = PlantedCorpus(examples=examples, docs=[])
    for d in range(n_docs):
        length = lengths[(d // 3) % len(lengths)] if cycle_lengths else rng.choice(lengths)
        words = KO if d % 2 else EN
        parts, size = [], 0
        while size < length:
            s = _sentence(rng, words, rng.randint(5, 14)) + " "
            parts.append(s)
            size += len(s)
        body = "".join(parts)[:length]
        doc_id = f"d{d}"
        if d < n_planted:
            ex = examples[d % len(examples)]
            kind = KINDS[d % 3]
            passage = ex["text"]
            if kind == "partial":  # a suffix still at least min_partial normalized characters long
                cut = len(passage) // 3
                while cut and len(normalize_for_matching(passage[cut:])) < min_partial:
                    cut //= 2
                passage = passage[cut:].lstrip(" .")
            if kind == "perturbed":
                passage = perturb(rng, passage)
            at = rng.randint(0, len(body))
            while 0 < at < len(body) and body[at - 1] != " ":
                at -= 1  # plant at a word boundary
            body = body[:at] + passage + " " + body[at:]
            out.planted[doc_id] = (ex["example_id"], passage, at, kind)
        out.docs.append({"id": doc_id, "text": body, "length": length})
    return out


def sampled_detection_probability(doc_text: str, passage: str, window: int = 50, samples: int = 10) -> float:
    """Probability that sampled mode finds ``passage`` in ``doc_text``: ``samples`` of the document's
    W windows drawn without replacement, k of them inside the passage: 1 - C(W-k, n) / C(W, n)."""
    w = len(normalize_for_matching(doc_text)) - window + 1
    k = max(0, len(normalize_for_matching(passage)) - window + 1)
    if w <= 0 or k == 0:
        return 0.0
    n = min(samples, w)
    return 1.0 - (math.comb(w - k, n) / math.comb(w, n) if w - k >= n else 0.0)
