"""A labelled near-duplicate set and pair-level scoring, for tests and ``benchmarks/dedup_quality.py``.

Each base document (Korean or English, news-like, with a boilerplate header and footer) gets one
edited copy. Edits: words inserted, deleted or substituted (rate drawn from 0 to 30 %), header /
footer lines swapped, and for Korean the spacing redone (eojeol glued or split, 5–25 % of them)
optionally on top of a small word edit.

**Truth.** A pair's true Jaccard is the exact Jaccard of the word 5-gram sets of the two texts'
*logical* word sequences: the words as written before any re-spacing (a word is a run of letters
and digits, lowercased; punctuation is not a word). Re-spacing does not change
what a Korean text says, so it does not change the truth either; word edits and boilerplate swaps
do. A pair is a near duplicate at threshold t when its true Jaccard is >= t. Every other pair of
documents (different bases) is a non-duplicate (their true Jaccard is near 0).

Scoring is over pairs: predicted pairs are all pairs inside a predicted cluster; precision, recall
and F1 per language.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass

from demo.text import TextMaker, edit_words

EDIT_KINDS_EN = ("insert", "delete", "substitute", "boilerplate")
EDIT_KINDS_KO = (*EDIT_KINDS_EN, "respace", "respace+edit")
TRUTH_NGRAM = 5
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    lang: str
    kind: str
    edit_rate: float
    true_jaccard: float


def _ngrams(words: list[str], n: int = TRUTH_NGRAM) -> set[tuple[str, ...]]:
    if len(words) <= n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _words(words: list[str]) -> list[str]:
    """Words as units of meaning: runs of letters and digits, lowercased; punctuation is not a word."""
    return _WORD.findall(" ".join(words).lower())


def true_jaccard(a_words: list[str], b_words: list[str]) -> float:
    a, b = _ngrams(_words(a_words)), _ngrams(_words(b_words))
    return len(a & b) / len(a | b) if a | b else 1.0


def _respace(lines: list[list[str]], rate: float, rng: random.Random) -> str:
    """Korean spacing redone: some eojeol glued to the next, some split inside."""
    out = []
    for words in lines:
        words = list(words)
        i, new = 0, []
        while i < len(words):
            w = words[i]
            roll = rng.random()
            if roll < rate / 2 and i + 1 < len(words):
                new.append(w + words[i + 1])
                i += 2
                continue
            if roll < rate and len(w) >= 3 and "가" <= w[0] <= "힣":
                cut = rng.randint(1, len(w) - 1)
                new.extend([w[:cut], w[cut:]])
            else:
                new.append(w)
            i += 1
        out.append(" ".join(new))
    return "\n".join(out)


def _document(maker: TextMaker, lang: str, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    head = maker.boiler_lines(lang, True, rng.randint(1, 3))
    foot = maker.boiler_lines(lang, False, rng.randint(1, 3))
    body = [maker.headline(lang)] + [maker.paragraph(lang, 2, 5) for _ in range(rng.randint(2, 6))]
    return head, body, foot


def _edit_words(lines: list[list[str]], kind: str, rate: float, vocab: list[str], rng: random.Random):
    lines = [list(w) for w in lines]
    slots = [(i, j) for i, words in enumerate(lines) for j in range(len(words))]
    edit_words(lines, slots, kind, max(1, round(len(slots) * rate)), vocab, rng)
    return lines


def _edited_copy(maker: TextMaker, lang: str, head: list[str], body: list[str], foot: list[str], kind: str,
                 vocab: list[str], rng: random.Random) -> tuple[str, list[list[str]], float]:  # fmt: skip
    """(copy text, the copy's logical words per line, edit rate) of a document edited by ``kind``."""
    lines = [line.split() for line in head + [""] + body + [""] + foot]
    if kind == "boilerplate":
        n_swap = rng.randint(1, len(head) + len(foot))
        new_head = maker.boiler_lines(lang, True, len(head))
        new_foot = maker.boiler_lines(lang, False, len(foot))
        swapped_head = [new_head[j] if j < n_swap else h for j, h in enumerate(head)]
        swapped_foot = [new_foot[j] if j + len(head) < n_swap else f for j, f in enumerate(foot)]
        copy_lines = [line.split() for line in swapped_head + [""] + body + [""] + swapped_foot]
        return "\n".join(" ".join(w) for w in copy_lines), copy_lines, n_swap / (len(head) + len(foot))
    if kind.startswith("respace"):
        copy_lines, rate = lines, 0.0
        if kind == "respace+edit":
            rate = rng.uniform(0.0, 0.1)
            copy_lines = _edit_words(lines, rng.choice(("insert", "delete", "substitute")), rate, vocab, rng)
        return _respace(copy_lines, rng.uniform(0.05, 0.25), rng), copy_lines, rate
    rate = rng.uniform(0.0, 0.3)
    copy_lines = _edit_words(lines, kind, rate, vocab, rng)
    return "\n".join(" ".join(w) for w in copy_lines), copy_lines, rate


def make_labelled_set(n_per_lang: int = 200, seed: int = 0) -> tuple[list[dict], list[LabelledPair]]:
    """Documents ``{"id", "text", "lang"}`` (bases and their copies) and the labelled pairs."""
    rng = random.Random(seed)
    maker = TextMaker(rng)
    docs: list[dict] = []
    pairs: list[LabelledPair] = []
    for lang in ("ko", "en"):
        vocab = [w for _ in range(300) for w in maker.sentence(lang).split()]
        kinds = EDIT_KINDS_KO if lang == "ko" else EDIT_KINDS_EN
        for i in range(n_per_lang):
            head, body, foot = _document(maker, lang, rng)
            lines = [line.split() for line in head + [""] + body + [""] + foot]
            base_id, copy_id = f"{lang}-{i:05d}-a", f"{lang}-{i:05d}-b"
            kind = kinds[i % len(kinds)]
            copy_text, copy_lines, rate = _edited_copy(maker, lang, head, body, foot, kind, vocab, rng)
            base_text = "\n".join(" ".join(w) for w in lines)
            truth = true_jaccard([w for ws in lines for w in ws], [w for ws in copy_lines for w in ws])
            docs.append({"id": base_id, "text": base_text, "lang": lang})
            docs.append({"id": copy_id, "text": copy_text, "lang": lang})
            pairs.append(LabelledPair(base_id, copy_id, lang, kind, round(rate, 4), truth))
    return docs, pairs


@dataclass
class Corpus:
    """A benchmark corpus: documents, each one's logical words (the truth's input), planted pairs."""

    docs: list[dict]  # {"id", "text", "lang", "group"}; group = the base's id, or the doc's own
    words: dict[str, list[str]]
    pairs: list[LabelledPair]  # every pair inside a planted group, with its true Jaccard


def make_corpus(n_docs: int, seed: int = 0, group_share: float = 0.2, short_share: float = 0.05) -> Corpus:
    """``n_docs`` Korean and English documents for throughput benchmarks: news-like bases, of which
    ``group_share`` get 1–3 edited copies (the edits of :func:`make_labelled_set`, each copy edited
    from the base independently), plus ``short_share`` one-sentence posts (distinct short texts that
    must not collapse into one duplicate group). Every pair inside a group is labelled with its true
    Jaccard; pairs across groups are taken as non-duplicates (scorers check the ones a tool merges)."""
    rng = random.Random(seed)
    maker = TextMaker(rng)
    vocab = {lang: [w for _ in range(300) for w in maker.sentence(lang).split()] for lang in ("ko", "en")}
    docs: list[dict] = []
    words: dict[str, list[str]] = {}
    pairs: list[LabelledPair] = []
    seen_short: set[str] = set()
    i = 0
    while len(docs) < n_docs:
        i += 1
        lang = "ko" if rng.random() < 0.55 else "en"
        base_id = f"{lang}-{i:07d}"
        if rng.random() < short_share:
            text = maker.sentence(lang)
            if text in seen_short:
                continue
            seen_short.add(text)
            docs.append({"id": base_id, "text": text, "lang": lang, "group": base_id})
            words[base_id] = text.split()
            continue
        head, body, foot = _document(maker, lang, rng)
        lines = [line.split() for line in head + [""] + body + [""] + foot]
        docs.append({"id": base_id, "text": "\n".join(" ".join(w) for w in lines), "lang": lang, "group": base_id})
        words[base_id] = [w for ws in lines for w in ws]
        if rng.random() >= group_share:
            continue
        kinds = EDIT_KINDS_KO if lang == "ko" else EDIT_KINDS_EN
        members = [(base_id, "base", 0.0)]
        for c in range(rng.randint(1, 3)):
            if len(docs) >= n_docs:
                break
            kind = rng.choice(kinds)
            text, copy_lines, rate = _edited_copy(maker, lang, head, body, foot, kind, vocab[lang], rng)
            copy_id = f"{base_id}-{c + 1}"
            docs.append({"id": copy_id, "text": text, "lang": lang, "group": base_id})
            words[copy_id] = [w for ws in copy_lines for w in ws]
            members.append((copy_id, kind, rate))
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                (a, ka, ra), (b, kb, rb) = members[x], members[y]
                kind = kb if ka == "base" else f"{ka}/{kb}"
                j = true_jaccard(words[a], words[b])
                pairs.append(LabelledPair(a, b, lang, kind, round(max(ra, rb), 4), j))
    return Corpus(docs, words, pairs)


def score(pairs: list[LabelledPair], clusters: dict[str, str], threshold: float) -> dict[str, dict]:
    """Pair-level precision/recall/F1 per language and overall. ``clusters`` maps document id to
    cluster id (documents not in it are singletons)."""
    lang_of = {p.a: p.lang for p in pairs} | {p.b: p.lang for p in pairs}
    truth = {(p.a, p.b) for p in pairs if p.true_jaccard >= threshold}
    members: dict[str, list[str]] = defaultdict(list)
    for doc, cid in clusters.items():
        members[cid].append(doc)
    predicted = set()
    for docs in members.values():
        docs.sort()
        predicted.update((x, y) for i, x in enumerate(docs) for y in docs[i + 1 :])
    out = {}
    for lang in sorted({p.lang for p in pairs}) + ["all"]:
        t = {q for q in truth if lang == "all" or lang_of[q[0]] == lang}
        p = {q for q in predicted if lang == "all" or lang_of.get(q[0]) == lang or lang_of.get(q[1]) == lang}
        tp = len(t & p)
        precision = tp / len(p) if p else 1.0
        recall = tp / len(t) if t else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[lang] = {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": len(p - t),
                     "fn": len(t - p), "positives": len(t)}  # fmt: skip
    return out


def score_by_kind(pairs: list[LabelledPair], clusters: dict[str, str], threshold: float) -> dict[str, dict]:
    """Recall of true near duplicates and false-positive rate of non-duplicates, per edit kind."""
    out: dict[str, dict] = {}
    for kind in sorted({p.kind for p in pairs}):
        ps = [p for p in pairs if p.kind == kind]
        pos = [p for p in ps if p.true_jaccard >= threshold]
        neg = [p for p in ps if p.true_jaccard < threshold]
        same = lambda p: clusters.get(p.a, p.a) == clusters.get(p.b, p.b)  # noqa: E731
        out[kind] = {
            "positives": len(pos),
            "found": sum(map(same, pos)),
            "negatives": len(neg),
            "false_merges": sum(map(same, neg)),
        }
    return out
