"""A deterministic bilingual Korean/English demo corpus with planted problems and its ground truth.

``generate`` writes five sources, one folder each, in five formats with their own field names:

    news/   JSONL.gz (multi-member gzip)   {"id", "title", "body", "url", "meta": {"section", "published"}}
    forum/  JSONL.zst (several frames)     {"post_id" (int), "content", "thread": {"url", "title"}, "author"}
    web/    WARC.gz (warcio)               warcinfo + request/response (+ metadata) records, HTML pages
    docs/   Parquet                        doc_key, content, lang_hint (+ one file whose content is int64)
    misc/   plain JSONL                    {"id", "text", "url"} (+ a README.txt of unknown format)

and returns a :class:`CorpusManifest`: how many records ingest should accept, the malformed records
planted (by quarantine reason), the planted exact-duplicate groups and near-duplicate pairs, the
intended language of every accepted document, and ready-made source configs. Every record id in the
manifest is the record's key without its ``id:`` prefix (``record_key == "id:" + id``; for WARC the
id is the ``WARC-Record-ID``, angle brackets included).

Texts come from word lists and sentence templates (:mod:`demo.vocabulary`, filled by :class:`demo.text.TextMaker`;
no data is downloaded): news (headline + paragraphs), forum posts (ㅋㅋ/ㅠㅠ, "lol", quoted replies),
boilerplate-heavy pages (cookie banners, menus, "무단 전재 및 재배포 금지"), code-switched Korean+English, long
reports (> 16,000 characters), Japanese / Chinese / Spanish negatives for language id, and junk. The files per
source and the malformed records planted among them are :mod:`demo.files`.

A benchmark test set comes with it (:mod:`demo.benchmark`; ``benchmarks/demo_bench.jsonl``, GSM8K's layout: Korean and
English word problems made from the same vocabulary, sharing no 50-character normalized substring
with the corpus), and a few dozen documents of every length get one of its examples planted whole,
partially or with changed case/spacing/punctuation (``manifest.contaminated_docs``): what the
decontaminate stage must flag, and nothing else.

Same seed, same bytes. ``generate_jsonl`` writes clean ``{"id","text","url"}`` shards fast, for
throughput benchmarks, from paragraph pools made by the same text generator; ``classifier_sets`` writes the
quality classifier's training sets in the same styles.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from demo.benchmark import (
    BENCHMARK_EXAMPLES,
    BENCHMARK_FILE,
    BENCHMARK_NAME,
    benchmark_examples,
    default_planted_docs,
    plant_examples,
    write_benchmark,
)
from demo.document import Doc
from demo.files import WRITERS, malformed_for, source_config, uuid_urn, write_bad_files, write_truncated_gzip
from demo.pii import plant_pii
from demo.text import TextMaker, near_duplicate
from demo.vocabulary import EN

SOURCES = ("news", "forum", "web", "docs", "misc")
DEFAULT_MAX_TEXT_BYTES = 4 * 1024 * 1024  # ingest.max_text_bytes's default

# ==================================================================== the corpus
# style -> (weight, language) ; weights give ~45% ko, ~35% en, ~8% ko+en, ~4% other, the rest junk
STYLES: dict[str, tuple[float, str]] = {
    "news_ko": (0.25, "ko"),
    "news_en": (0.19, "en"),
    "forum_ko": (0.11, "ko"),
    "forum_en": (0.09, "en"),
    "boiler_ko": (0.08, "ko"),
    "boiler_en": (0.065, "en"),
    "mixed": (0.08, "ko+en"),
    "long_ko": (0.003, "ko"),
    "long_en": (0.003, "en"),
    "other": (0.04, "other"),
    "junk": (0.087, "junk"),
}
# where each style tends to live (source -> weight)
STYLE_SOURCES: dict[str, dict[str, int]] = {
    "news": {"news": 6, "web": 2, "docs": 1, "misc": 1},
    "forum": {"forum": 8, "misc": 1, "web": 1},
    "boiler": {"web": 6, "news": 2, "misc": 2},
    "mixed": {"forum": 5, "misc": 2, "docs": 2, "web": 1},
    "long": {"docs": 6, "misc": 2, "news": 2},
    "other": {"misc": 5, "web": 3, "docs": 2},
    "junk": {"misc": 4, "forum": 3, "web": 3},
}


def default_pii_docs(n_docs: int) -> int:
    """Documents that get a planted PII sentence: 4 per type and language at the demo's 3,000 documents."""
    return max(12, min(48, n_docs // 60))


EXACT_DUP_RATE = 0.03  # share of documents that are exact copies of an earlier one
NEAR_DUP_RATE = 0.04  # share that are edited copies


@dataclass
class CorpusManifest:
    """Ground truth of one generated corpus.

    Ids are record keys without their ``id:`` prefix, so ``(source, id)`` joins to
    ``raw_documents.(source, record_key)``. ``malformed`` counts every planted bad record by the
    quarantine reason ingest should give it (``duplicate_record_key`` is the later record of a
    repeated id: the Spark job keeps the first). Planted duplicates are the only exact duplicates;
    beyond the planted near-duplicate pairs, templated junk (spam) and short forum posts built from
    the same lines can resemble each other, so judge near-duplicate detection on the other styles
    (``doc_styles``)."""

    out_dir: str
    n_docs: int  # records that ingest should accept (raw_documents rows)
    sources: list[dict]  # ready-made SourceConfig dicts
    malformed: dict[str, int]  # expected quarantine reason -> count
    exact_duplicate_groups: list[list[tuple[str, str]]] = field(default_factory=list)
    near_duplicate_pairs: list[tuple[tuple[str, str], tuple[str, str], str]] = field(default_factory=list)
    lang_counts: dict[str, int] = field(default_factory=dict)  # "ko", "en", "ko+en", "other", "und"
    doc_langs: dict[str, str] = field(default_factory=dict)  # "source/id" -> intended language
    doc_styles: dict[str, str] = field(default_factory=dict)  # "source/id" -> style (news_ko, junk, ...)
    # the demo benchmark: name, path, preset, examples, config (a ready-made decontaminate.benchmarks entry)
    benchmark: dict = field(default_factory=dict)
    # "source/id" -> {example_id, kind (whole/partial/perturbed), offset, chars}: the planted copies
    contaminated_docs: dict[str, dict] = field(default_factory=dict)
    # "source/id" -> [{type, lang, value}]: the made-up PII planted (demo.pii), what the pii step must redact
    pii_docs: dict[str, list[dict]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


def _web_ok(text: str) -> bool:
    """Short texts stay out of the WARC files: main-content extraction drops a one-line page, and
    the reader guesses the charset of a short plain-text body (it can guess wrong)."""
    return len(text) >= 200


def generate(
    out_dir: str | Path,
    n_docs: int = 3000,
    seed: int = 0,
    *,
    oversize_bytes: int = 5_000_000,
    formats: tuple[str, ...] = SOURCES,
    shard_docs: int = 5000,
    malformed: bool = True,
    progress: Callable[[int], None] | None = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    benchmark: bool = True,
    contaminated_docs: int | None = None,
    pii: bool = True,
) -> CorpusManifest:
    """Write the demo corpus under ``out_dir`` and return its ground truth.

    ``n_docs`` records are accepted by ingest (``manifest.n_docs == n_docs``); malformed records
    come on top. ``oversize_bytes`` is the size of the one text planted over ``max_text_bytes``
    (the ``ingest.max_text_bytes`` the manifest assumes); 0 plants none. Old files in the source
    folders are removed first.

    With ``benchmark``, a GSM8K-layout test set of Korean and English word problems goes to
    ``out_dir/benchmarks/demo_bench.jsonl`` and ``contaminated_docs`` documents (default:
    :func:`default_planted_docs`) get one of its examples planted, whole, partially or perturbed
    (``manifest.contaminated_docs``); no other document shares a 50-character normalized substring
    with any example.

    With ``pii``, :func:`default_pii_docs` Korean, English and code-switched documents get a sentence with made-up
    PII of one type each (every type in both languages; :mod:`demo.pii`, ``manifest.pii_docs``): what the pii step
    must redact before training_corpus.
    """
    formats = tuple(s for s in SOURCES if s in formats)
    if not formats:
        raise ValueError(f"formats must name at least one of {SOURCES}")
    if oversize_bytes and oversize_bytes <= max_text_bytes:
        raise ValueError(f"oversize_bytes ({oversize_bytes}) must exceed max_text_bytes ({max_text_bytes}), or be 0")
    out = Path(out_dir)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    docs = _make_documents(maker, rng, n_docs, formats, progress)
    by_src: dict[str, list[Doc]] = {s: [] for s in formats}
    for d in docs:
        by_src[d.source].append(d)
    _assign_ids(by_src, rng)
    bench: dict = {}
    planted: dict[str, dict] = {}
    if benchmark:  # its own random stream: the corpus draws stay what they are without it
        brng = random.Random(seed * 1_000_003 + 7)
        examples = benchmark_examples(brng, BENCHMARK_EXAMPLES, [d.text for d in docs])
        n_planted = default_planted_docs(n_docs) if contaminated_docs is None else contaminated_docs
        planted = plant_examples(docs, examples, brng, n_planted)
        bench_path = out / "benchmarks" / BENCHMARK_FILE
        write_benchmark(bench_path, examples)
        config = {"name": BENCHMARK_NAME, "path": str(bench_path), "preset": "gsm8k"}
        langs = Counter(lang for lang, _, _ in examples)
        bench = {**config, "examples": len(examples), "by_lang": dict(sorted(langs.items())), "config": config}
    pii_planted: dict[str, list[dict]] = {}
    if pii:  # its own random stream too
        prng = random.Random(seed * 1_000_003 + 11)
        pii_planted = plant_pii(docs, prng, default_pii_docs(n_docs), skip=set(planted))
    too_big = [d for d in docs if len(d.text.encode("utf-8")) > max_text_bytes]
    if too_big:
        raise ValueError(f"max_text_bytes={max_text_bytes} is below the longest generated text; raise it")

    expected: Counter = Counter()
    for src in formats:
        folder = out / src
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
        rows = by_src[src]
        truncated: list[Doc] = []
        if malformed and src == "news" and len(rows) >= 4:
            k = min(12, len(rows) // 4)
            rows, truncated = rows[:-k], rows[-k:]
        shards = [rows[k : k + shard_docs] for k in range(0, len(rows), shard_docs)] or [[]]
        for si, shard in enumerate(shards):
            bad = malformed_for(src, shard, maker, rng, oversize_bytes) if malformed and si == 0 else []
            expected.update(reason for reason, _ in bad)
            WRITERS[src](folder, si, shard, bad, rng)
        if truncated:
            write_truncated_gzip(folder / f"news-{len(shards):05d}.jsonl.gz", truncated, maker, rng)
            expected["corrupt_file"] += 1
        if malformed:
            expected.update(write_bad_files(src, folder, rng))

    groups: dict[int, list[Doc]] = {}
    near: list[tuple[Doc, Doc, str]] = []
    for d in docs:
        if "exact_of" in d.parts:
            groups.setdefault(id(d.parts["exact_of"]), [d.parts["exact_of"]]).append(d)
        if "near_of" in d.parts:
            near.append((d.parts["near_of"], d, d.parts["near_kind"]))
    if progress:
        progress(n_docs)
    return CorpusManifest(
        out_dir=str(out),
        n_docs=len(docs),
        sources=[source_config(s, out / s) for s in formats],
        malformed=dict(sorted(expected.items())),
        exact_duplicate_groups=[[(d.source, d.id) for d in g] for g in groups.values()],
        near_duplicate_pairs=[((a.source, a.id), (b.source, b.id), kind) for a, b, kind in near],
        lang_counts=dict(sorted(Counter(d.lang for d in docs).items())),
        doc_langs={f"{d.source}/{d.id}": d.lang for d in docs},
        doc_styles={f"{d.source}/{d.id}": d.style for d in docs},
        benchmark=bench,
        contaminated_docs=planted,
        pii_docs=pii_planted,
    )


def _make_documents(maker: TextMaker, rng: random.Random, n_docs: int, formats: tuple[str, ...], progress) -> list[Doc]:
    """The accepted documents, in order: originals, exact copies and near copies of earlier ones."""
    styles = list(STYLES)
    weights = [STYLES[s][0] for s in styles]
    forced = {n_docs // 5: "long_ko", n_docs // 2: "long_en"} if n_docs >= 20 else {}
    docs: list[Doc] = []
    seen: set[str] = set()
    exact_bases: list[Doc] = []  # originals that have exact copies (a third copy may join them)
    near_ok: list[Doc] = []  # originals that may still get an edited copy

    def place(style: str, text: str) -> str:
        table = STYLE_SOURCES[style.split("_")[0]]
        choices = [s for s in table if s in formats and (s != "web" or _web_ok(text))]
        if not choices:
            return rng.choice(formats)
        return rng.choices(choices, [table[s] for s in choices])[0]

    def other_source(src: str, text: str) -> str:
        others = [s for s in formats if s != src and (s != "web" or _web_ok(text))]
        return src if rng.random() < 0.5 or not others else rng.choice(others)

    for i in range(n_docs):
        roll = rng.random()
        base = None
        if i not in forced and roll < EXACT_DUP_RATE and docs:
            if exact_bases and rng.random() < 0.2:
                base = rng.choice(exact_bases)  # a group of three or more
            else:  # an original that is not the base of a near copy
                for cand in (rng.choice(docs) for _ in range(20)):
                    if not (cand.parts.keys() & {"exact_of", "near_of", "near_base", "exact_base"}):
                        base = cand
                        exact_bases.append(base)
                        break
        if base is not None:
            base.parts["exact_base"] = True
            docs.append(Doc(base.text, base.lang, base.style, {"exact_of": base}, other_source(base.source, base.text)))
            continue
        if i not in forced and roll < EXACT_DUP_RATE + NEAR_DUP_RATE and near_ok:
            base = near_ok.pop(rng.randrange(len(near_ok)))
            if base.parts.get("exact_base"):  # it has exact copies since; keep the pairs complete
                base = None
            else:
                text, kind = near_duplicate(base.text, base.lang, base.parts, rng)
            if base is not None and text not in seen:
                seen.add(text)
                base.parts["near_base"] = True
                parts = {"near_of": base, "near_kind": kind, "title": base.parts.get("title", "")}
                docs.append(Doc(text, base.lang, base.style, parts, other_source(base.source, text)))
                continue
        style = forced.get(i) or rng.choices(styles, weights)[0]
        for _ in range(100):
            text, lang, parts = maker.document(style)
            if text not in seen:
                break
            style = rng.choices(styles, weights)[0]  # a short text that came up before: draw again
        else:
            raise RuntimeError("could not draw a new text")
        seen.add(text)
        doc = Doc(text, lang, style, parts, place(style, text))
        docs.append(doc)
        if style not in ("junk", "other") and len(text) >= 300:
            near_ok.append(doc)
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1)
    for d in docs:  # an exact base must not also be a near base (pairs would be incomplete)
        if d.parts.get("exact_base") and d.parts.get("near_base"):
            raise AssertionError("a document is both an exact and a near-duplicate base")
    return docs


def _assign_ids(by_src: dict[str, list[Doc]], rng: random.Random) -> None:
    for src, rows in by_src.items():
        for k, d in enumerate(rows):
            if src == "news":
                d.id = f"news-{k:06d}"
                d.url = f"https://news.demo.moru/article/{k:06d}"
            elif src == "forum":
                d.id = str(1_000_000 + 7 * k + rng.randrange(7))
                d.url = f"https://forum.demo.moru/t/{rng.randrange(10_000, 99_999)}"
            elif src == "web":
                d.id = uuid_urn(rng)
                section = rng.choice(EN["section"])
                d.url = f"https://web.demo.moru/{section}/{k:06d}.html"
            elif src == "docs":
                d.id = f"kb-{k:06d}"
            else:
                d.id = f"misc-{k:06d}"
                d.url = f"https://misc.demo.moru/item/{k}" if rng.random() < 0.9 else None


# ==================================================================== benchmark shards
def generate_jsonl(out_dir: str | Path, n_docs: int, seed: int = 0, shard_docs: int = 10_000) -> list[str]:
    """Clean ``{"id", "text", "url"}`` JSONL shards (no malformed records, no planted duplicates) in
    the demo's styles and proportions. Documents are assembled from pools of paragraphs, lines and
    headlines made by :class:`TextMaker`, so 200k documents take seconds, not minutes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    pool = _Pools(maker, rng)
    styles = list(STYLES)
    weights = [STYLES[s][0] for s in styles]
    paths = []
    for first in range(0, n_docs, shard_docs):
        n = min(shard_docs, n_docs - first)
        lines = []
        for i, style in enumerate(rng.choices(styles, weights, k=n), start=first):
            text = pool.document(style)
            lines.append(orjson.dumps({"id": f"doc-{i:09d}", "text": text, "url": f"https://bench.demo.moru/{i}"}))
        path = out / f"part-{first // shard_docs:05d}.jsonl"
        lines.append(b"")
        path.write_bytes(b"\n".join(lines))
        paths.append(str(path))
    return paths


class _Pools:
    """Paragraphs, headlines and forum lines made once; documents are random draws from them."""

    def __init__(self, maker: TextMaker, rng: random.Random, size: int = 3000):
        self.m, self.r = maker, rng
        self.par = {lang: [maker.paragraph(lang, 2, 5) for _ in range(size)] for lang in ("ko", "en")}
        self.head = {lang: [maker.headline(lang) for _ in range(size // 2)] for lang in ("ko", "en")}
        self.forum = {lang: [maker.forum_line(lang) for _ in range(size)] for lang in ("ko", "en")}
        self.mixed = [maker.mixed_sentence() for _ in range(size)]
        self.ko_sent = [maker.sentence("ko") for _ in range(size)]
        self.boiler = {
            (lang, head): [maker.boiler_lines(lang, head, 1)[0] for _ in range(200)]
            for lang in ("ko", "en")
            for head in (True, False)
        }

    def document(self, style: str) -> str:
        r, choices = self.r, self.r.choices
        if style in ("news_ko", "news_en"):
            lang = style[-2:]
            return "\n\n".join([r.choice(self.head[lang]), *choices(self.par[lang], k=self.m.n_paragraphs())])
        if style in ("forum_ko", "forum_en"):
            lines = choices(self.forum[style[-2:]], k=r.randint(2, 5))
            if r.random() < 0.3:
                lines[0] = "> " + lines[0]
            return "\n".join(lines)
        if style in ("boiler_ko", "boiler_en"):
            lang = style[-2:]
            head = choices(self.boiler[lang, True], k=r.randint(2, 4))
            foot = choices(self.boiler[lang, False], k=r.randint(2, 4))
            body = "\n\n".join([r.choice(self.head[lang]), *choices(self.par[lang], k=r.randint(2, 4))])
            return "\n".join(head) + "\n\n" + body + "\n\n" + "\n".join(foot)
        if style == "mixed":
            sents = choices(self.mixed, k=r.randint(3, 8))
            sents += choices(self.ko_sent, k=len(sents) // 3)
            r.shuffle(sents)
            return "\n\n".join(" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3))
        if style in ("long_ko", "long_en"):
            lang = style[-2:]
            pars, size = [r.choice(self.head[lang])], 0
            while size < 17_000:
                pars.extend(choices(self.par[lang], k=20))
                size = sum(map(len, pars))
            return "\n\n".join(pars)
        return self.m.document(style)[0]  # other languages and junk: short, made on the spot


# ==================================================================== classifier training sets
CLASSIFIER_POSITIVE_STYLES = ("news_ko", "news_en", "mixed")


def classifier_sets(out_dir: str | Path, n_per_class: int = 1500, seed: int = 1) -> tuple[str, str]:
    """``positive.jsonl`` (edited prose: news in Korean and English, code-switched paragraphs)
    and ``negative.jsonl`` (the demo's junk: very short posts, lorem ipsum, repeated-line spam,
    symbol/number tables, and navigation/footer boilerplate without a body) for the fastText
    quality classifier. A different seed from the corpus's, so the classifier is not trained on
    the documents it scores."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    pos, neg = [], []
    for i in range(n_per_class):
        text, lang, _ = maker.document(CLASSIFIER_POSITIVE_STYLES[i % len(CLASSIFIER_POSITIVE_STYLES)])
        pos.append(orjson.dumps({"text": text, "lang": lang}))
        if rng.random() < 0.2:
            lang = rng.choice(("ko", "en"))
            lines = maker.boiler_lines(lang, True, rng.randint(2, 4)) + maker.boiler_lines(
                lang, False, rng.randint(2, 4)
            )
            text = "\n".join(lines)
        else:
            text, lang, _ = maker.junk()
        neg.append(orjson.dumps({"text": text, "lang": lang}))
    paths = []
    for name, rows in (("positive.jsonl", pos), ("negative.jsonl", neg)):
        path = out / name
        path.write_bytes(b"\n".join(rows) + b"\n")
        paths.append(str(path))
    return paths[0], paths[1]


def generator_digest() -> str:
    """A short hash of the generator's code (this module and the ones it writes text and files with): benchmarks
    reuse the data they generated earlier only while it is the same."""
    from demo import benchmark, document, files, pii, text, vocabulary

    h = hashlib.sha1()
    modules = (vocabulary, text, document, files, benchmark, pii)
    for path in (__file__, *(m.__file__ for m in modules)):
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:12]
