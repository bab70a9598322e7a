"""The demo benchmark: a GSM8K-layout test set of Korean and English word problems made from the corpus's
vocabulary (sharing no 50-character normalized substring with the corpus), and its examples planted in a few
dozen documents, whole, partially or perturbed: what the decontaminate stage must flag, and nothing else."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson

from demo.document import Doc
from demo.text import josa
from demo.vocabulary import EN, KO

# ==================================================================== demo benchmark (planted contamination)
BENCHMARK_NAME = "demo_bench"
BENCHMARK_FILE = "demo_bench.jsonl"  # GSM8K's layout: {"question", "answer"}, read with preset gsm8k
BENCHMARK_EXAMPLES = 200
MIN_PARTIAL = 60  # normalized characters of a partial copy (>= the 50-character window, with room)
_PLANT_BUCKETS = (500, 2_000, 10_000)  # plant across these document lengths (chars) and beyond


def _won(n: int) -> str:
    return f"{n:,}"


def _ko_problem(r: random.Random) -> tuple[str, str]:
    """A Korean grade-school word problem and its GSM8K-style answer (``<<a*b=c>>`` steps, ``#### n``)."""
    name = r.choice(KO["surname"]) + r.choice(KO["given"])
    kind = r.randrange(5)
    if kind == 0:
        thing, place = r.choice(KO["thing"]), r.choice(KO["place"])
        a, p = r.randint(2, 9), r.randrange(1_200, 9_900, 100)
        d = r.randrange(500, min(a * p, 5_000), 100)
        q = (
            f"{name} 씨는 {place}의 한 가게에서 {josa(thing, '을')} {a}개 샀습니다. 한 개에 {_won(p)}원이고, "
            f"계산할 때 {_won(d)}원 할인 쿠폰을 썼습니다. {name} 씨가 낸 돈은 모두 얼마일까요?"
        )
        ans = (
            f"{thing} {a}개의 값은 {a}×{p}=<<{a}*{p}={a * p}>>{a * p}원입니다.\n"
            f"쿠폰 {d}원을 빼면 {a * p}-{d}=<<{a * p}-{d}={a * p - d}>>{a * p - d}원입니다.\n#### {a * p - d}"
        )
        return q, ans
    if kind == 1:
        place, event = r.choice(KO["place"]), r.choice(KO["event"])
        a, b, c = r.randint(120, 900), r.randint(120, 900), r.randint(10, 99)
        q = (
            f"{place}에서 열린 {event}에 첫날 {a}명, 둘째 날 {b}명이 왔습니다. "
            f"셋째 날에는 둘째 날보다 {c}명 적게 왔다면 사흘 동안 온 사람은 모두 몇 명일까요?"
        )
        ans = (
            f"셋째 날에는 {b}-{c}=<<{b}-{c}={b - c}>>{b - c}명이 왔습니다.\n"
            f"사흘 동안 {a}+{b}+{b - c}=<<{a}+{b}+{b - c}={a + 2 * b - c}>>{a + 2 * b - c}명이 왔습니다.\n"
            f"#### {a + 2 * b - c}"
        )
        return q, ans
    if kind == 2:
        thing = r.choice(KO["thing"])
        w, s = r.randint(4, 20), r.randrange(5_000, 30_000, 1_000)
        p = s * w + r.randrange(10_000, 90_000, 1_000)
        q = (
            f"{name} 씨는 {josa(thing, '을')} 사려고 매주 {_won(s)}원씩 {w}주 동안 모았습니다. "
            f"{thing}의 가격이 {_won(p)}원이라면 {name} 씨는 얼마를 더 모아야 할까요?"
        )
        ans = (
            f"{w}주 동안 {s}×{w}=<<{s}*{w}={s * w}>>{s * w}원을 모았습니다.\n"
            f"더 필요한 돈은 {p}-{s * w}=<<{p}-{s * w}={p - s * w}>>{p - s * w}원입니다.\n#### {p - s * w}"
        )
        return q, ans
    if kind == 3:
        food = r.choice(KO["food"])
        a, p, d = r.randint(20, 90), r.randrange(6_000, 15_000, 500), r.randint(3, 7)
        q = (
            f"{name} 씨의 식당은 하루에 {food} {a}인분을 팝니다. 1인분이 {_won(p)}원일 때 "
            f"{d}일 동안 {josa(food, '으로')} 번 돈은 모두 얼마일까요?"
        )
        ans = (
            f"하루에 {a}×{p}=<<{a}*{p}={a * p}>>{a * p}원을 법니다.\n"
            f"{d}일 동안 {a * p}×{d}=<<{a * p}*{d}={a * p * d}>>{a * p * d}원을 법니다.\n#### {a * p * d}"
        )
        return q, ans
    place = r.choice(KO["place"])
    a, b, c = r.randint(25, 45), r.randint(3, 15), r.randint(2, 12)
    b = min(b, a - 1)
    q = (
        f"{place}로 가는 버스에 {a}명이 타고 있었습니다. 첫 정류장에서 {b}명이 내리고 {c}명이 탔습니다. "
        f"다음 정류장에서 {name} 씨를 포함해 {c + 1}명이 더 탔다면 지금 버스에는 몇 명이 타고 있을까요?"
    )
    ans = (
        f"첫 정류장 뒤에는 {a}-{b}+{c}=<<{a}-{b}+{c}={a - b + c}>>{a - b + c}명입니다.\n"
        f"다음 정류장 뒤에는 {a - b + c}+{c + 1}=<<{a - b + c}+{c + 1}={a - b + 2 * c + 1}>>"
        f"{a - b + 2 * c + 1}명입니다.\n#### {a - b + 2 * c + 1}"
    )
    return q, ans


def _en_problem(r: random.Random) -> tuple[str, str]:
    """An English grade-school word problem and its GSM8K-style answer. Fixed wording between the
    drawn names and numbers stays well under 50 normalized characters, so examples rarely share a
    substring (the generator redraws the few that do)."""
    name = r.choice(EN["first"])
    kind = r.randrange(5)
    if kind == 0:
        thing, place = r.choice(EN["thing"]), r.choice(EN["place"])
        a, p = r.randint(2, 9), r.randint(12, 95)
        d = r.randint(5, min(a * p - 1, 40))
        q = f"{name} buys {a} {thing}s in {place} at ${p} each and pays with a ${d} coupon. How much does {name} pay?"
        ans = (
            f"{a} {thing}s cost {a} * {p} = $<<{a}*{p}={a * p}>>{a * p}.\n"
            f"With the coupon: {a * p} - {d} = $<<{a * p}-{d}={a * p - d}>>{a * p - d}.\n#### {a * p - d}"
        )
        return q, ans
    if kind == 1:
        event, place = r.choice(EN["event"]), r.choice(EN["place"])
        a, b, c = r.randint(120, 900), r.randint(120, 900), r.randint(10, 99)
        q = (
            f"{name} counts visitors at the {event} in {place}. Day one: {a}. Day two: {b}. "
            f"Day three: {c} fewer than day two. What total does {name} count?"
        )
        ans = (
            f"Day three: {b} - {c} = <<{b}-{c}={b - c}>>{b - c}.\n"
            f"Total: {a} + {b} + {b - c} = <<{a}+{b}+{b - c}={a + 2 * b - c}>>{a + 2 * b - c}.\n"
            f"#### {a + 2 * b - c}"
        )
        return q, ans
    if kind == 2:
        thing = r.choice(EN["thing"])
        w, s = r.randint(4, 20), r.randint(5, 30)
        p = s * w + r.randint(10, 90)
        q = f"{name} saves ${s} a week for {w} weeks toward a {thing} that costs ${p}. How much more does {name} need?"
        ans = (
            f"{w} weeks of saving: {s} * {w} = $<<{s}*{w}={s * w}>>{s * w}.\n"
            f"Still needed: {p} - {s * w} = $<<{p}-{s * w}={p - s * w}>>{p - s * w}.\n#### {p - s * w}"
        )
        return q, ans
    if kind == 3:
        a, b, d, place = r.randint(3, 25), r.randint(12, 60), r.randint(3, 9), r.choice(EN["place"])
        q = (
            f"{name} reads {a} pages each morning on the way to {place} and {b} pages each evening. "
            f"How many pages in {d} days?"
        )
        ans = (
            f"{a} + {b} = <<{a}+{b}={a + b}>>{a + b} pages a day.\n"
            f"{a + b} * {d} = <<{a + b}*{d}={(a + b) * d}>>{(a + b) * d} pages.\n#### {(a + b) * d}"
        )
        return q, ans
    place = r.choice(EN["place"])
    a, b, c = r.randint(25, 60), r.randint(3, 20), r.randint(2, 15)
    q = (
        f"A bus to {place} has {a} passengers. {b} get off and {c} get on at the first stop; at the next, "
        f"{name} and {c} friends board. How many are on the bus?"
    )
    ans = (
        f"{a} - {b} + {c} = <<{a}-{b}+{c}={a - b + c}>>{a - b + c} after the first stop.\n"
        f"{a - b + c} + {c + 1} = <<{a - b + c}+{c + 1}={a - b + 2 * c + 1}>>{a - b + 2 * c + 1}.\n"
        f"#### {a - b + 2 * c + 1}"
    )
    return q, ans


def benchmark_examples(rng: random.Random, n: int = BENCHMARK_EXAMPLES, corpus_texts: list[str] = (),
                       window: int = 50) -> list[tuple[str, str, str]]:  # fmt: skip
    """``n`` (lang, question, answer) word problems, Korean and English in turn. No example shares a
    ``window``-character normalized substring with another one or with any of ``corpus_texts``, so
    the only copies of an example in the corpus are the planted ones (the ground truth is exact)."""
    import numpy as np

    from quality.decontam import normalize_for_matching
    from quality.substrings import window_hashes

    hashes = [window_hashes(normalize_for_matching(t), window) for t in corpus_texts]
    taken = np.unique(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
    seen: set[int] = set()
    out: list[tuple[str, str, str]] = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        lang = ("ko", "en")[len(out) % 2]
        question, answer = (_ko_problem if lang == "ko" else _en_problem)(rng)
        h = window_hashes(normalize_for_matching(f"{question}\n{answer}"), window)
        at = np.minimum(np.searchsorted(taken, h), max(taken.size - 1, 0))
        if not h.size or (taken.size and (taken[at] == h).any()) or not seen.isdisjoint(h.tolist()):
            continue  # (rare) shares a substring with the corpus or an earlier example: draw again
        seen.update(h.tolist())
        out.append((lang, question, answer))
    else:
        raise RuntimeError(f"could not draw {n} distinct benchmark examples")
    return out


def _partial(rng: random.Random, text: str, min_chars: int = MIN_PARTIAL) -> str:
    """A suffix of ``text`` from a word boundary, at least ``min_chars`` normalized characters long
    and shorter than the whole."""
    from quality.decontam import normalize_for_matching

    cuts = [m.end() for m in re.finditer(r"\s+", text)]
    cuts = [c for c in cuts if len(normalize_for_matching(text[c:])) >= min_chars]
    if not cuts:
        raise ValueError(f"example too short for a partial copy of {min_chars} normalized characters")
    # from the first third to the middle of the example where possible, else the latest cut that is long enough
    middle = [c for c in cuts if len(text) / 3 <= c <= len(text) / 2]
    return text[rng.choice(middle) if middle else cuts[-1] :]


def default_planted_docs(n_docs: int) -> int:
    """Documents that get a planted benchmark example by default: 3 per 90 documents, 6 to 36."""
    return 3 * max(2, min(12, n_docs // 90))


def plant_examples(docs: list[Doc], examples: list[tuple[str, str, str]], rng: random.Random,
                    n: int) -> dict[str, dict]:  # fmt: skip
    """Plant one example each (whole, partial, perturbed in turn) into ``n`` documents, spread over
    the document lengths (< 500, 500-2k, 2k-10k, >= 10k characters, in turn); returns "source/id" ->
    {example_id, kind, offset, chars}. Documents with an exact or near-duplicate relation stay clean
    (the dedup ground truth stays exact), and so do web pages (main-content extraction may cut a
    paragraph) and junk or foreign-language documents. An example goes to a document of its language."""
    from bisect import bisect_right

    from demo.decontam_eval import KINDS, perturb

    related = {"exact_of", "near_of", "exact_base", "near_base"}
    buckets: list[list[Doc]] = [[] for _ in range(len(_PLANT_BUCKETS) + 1)]
    for d in docs:
        if d.source != "web" and d.style not in ("junk", "other") and not (d.parts.keys() & related):
            buckets[bisect_right(_PLANT_BUCKETS, len(d.text))].append(d)
    for bucket in buckets:
        rng.shuffle(bucket)
    chosen: list[Doc] = []
    while len(chosen) < n and any(buckets):
        for bucket in buckets:
            if bucket and len(chosen) < n:
                chosen.append(bucket.pop())
    pools = {lang: [i for i, e in enumerate(examples) if e[0] == lang] for lang in ("ko", "en")}
    for pool in pools.values():
        rng.shuffle(pool)
    planted: dict[str, dict] = {}
    for k, d in enumerate(chosen):
        lang = d.lang if d.lang in pools else rng.choice(("ko", "en"))  # ko+en: either
        if not pools[lang]:
            lang = "en" if lang == "ko" else "ko"
        if not pools[lang]:
            break
        idx = pools[lang].pop()
        kind = KINDS[k % len(KINDS)]
        _, question, answer = examples[idx]
        passage = f"{question}\n{answer}"
        if kind == "partial":
            passage = _partial(rng, passage)
        elif kind == "perturbed":
            passage = perturb(rng, passage)
        at = rng.randint(0, len(d.text))
        while 0 < at < len(d.text) and not d.text[at - 1].isspace():
            at -= 1  # at a word boundary
        planted[f"{d.source}/{d.id}"] = {
            "example_id": f"{BENCHMARK_FILE}#{idx}",  # the registry's id for a file without an id field
            "kind": kind,
            "offset": at,
            "chars": len(d.text),  # the document's length before planting
        }
        d.text = d.text[:at] + passage + " " + d.text[at:]
    return planted


def write_benchmark(path: Path, examples: list[tuple[str, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [orjson.dumps({"question": q, "answer": a}) for _, q, a in examples]
    path.write_bytes(b"\n".join(lines) + b"\n")
