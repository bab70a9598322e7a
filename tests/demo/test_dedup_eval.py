"""The labelled near-duplicate data the dedup tests and benchmarks score against."""

from __future__ import annotations

from collections import Counter

from demo.dedup_eval import make_corpus, make_labelled_set, score, true_jaccard


def test_true_jaccard_counts_words_not_punctuation():
    a = "The council approved the budget on Monday , after a long debate .".split()
    b = "the council approved the budget on monday after a long debate".split()
    assert true_jaccard(a, b) == 1.0
    c = "the council rejected the budget on monday after a long debate".split()
    # 7 word 5-grams each; the 3 covering the changed word differ: 4 shared of 10
    assert abs(true_jaccard(b, c) - 4 / 10) < 1e-9


def test_labelled_set_is_deterministic_and_spans_the_threshold():
    docs, pairs = make_labelled_set(60, seed=3)
    again, _ = make_labelled_set(60, seed=3)
    assert docs == again and len(docs) == 240 and len(pairs) == 120
    assert {p.kind for p in pairs if p.lang == "ko"} >= {"respace", "respace+edit", "boilerplate", "insert"}
    for lang in ("ko", "en"):
        js = [p.true_jaccard for p in pairs if p.lang == lang]
        assert sum(j >= 0.8 for j in js) >= 10 and sum(j < 0.8 for j in js) >= 5
    # a pure re-spacing changes no logical word: true Jaccard 1
    assert all(p.true_jaccard == 1.0 for p in pairs if p.kind == "respace")


def test_score_counts_pairs_inside_predicted_clusters():
    docs, pairs = make_labelled_set(20, seed=1)
    perfect = {}
    for p in pairs:
        if p.true_jaccard >= 0.8:
            perfect[p.a] = perfect[p.b] = p.a
    res = score(pairs, perfect, 0.8)
    assert res["all"]["f1"] == 1.0
    everything = {d["id"]: "one" for d in docs}
    res = score(pairs, everything, 0.8)
    assert res["all"]["recall"] == 1.0 and res["all"]["precision"] < 0.05


def test_make_corpus_groups_pairs_and_short_posts():
    corpus = make_corpus(3000, seed=2)
    assert len(corpus.docs) == 3000 and len({d["id"] for d in corpus.docs}) == 3000
    assert set(corpus.words) == {d["id"] for d in corpus.docs}
    sizes = Counter(d["group"] for d in corpus.docs)
    assert max(sizes.values()) <= 4 and sum(s > 1 for s in sizes.values()) > 100
    group = {d["id"]: d["group"] for d in corpus.docs}
    assert all(group[p.a] == group[p.b] for p in corpus.pairs)
    # every pair inside a group is labelled: C(k, 2) per group
    assert len(corpus.pairs) == sum(k * (k - 1) // 2 for k in sizes.values())
    short = [d for d in corpus.docs if "\n" not in d["text"]]
    assert len(short) > 50 and len({d["text"] for d in short}) == len(short)
    assert make_corpus(3000, seed=2).docs == corpus.docs
