"""A deterministic bilingual Korean/English demo corpus with planted problems.

``generate`` writes five sources in five formats (JSONL.gz, JSONL.zst, WARC.gz, Parquet, plain
JSONL), each with its own field names, and returns a manifest of the ground truth: how many
records should be accepted, which malformed records were planted (by quarantine reason), the
exact-duplicate groups and near-duplicate pairs, and the intended language of every document.
Same seed, same bytes. ``generate_jsonl`` writes clean JSONL shards for throughput benchmarks.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from moru import demo_words as W

STYLES = {  # style -> (weight, language)
    "news_ko": (0.22, "ko"),
    "news_en": (0.16, "en"),
    "forum_ko": (0.12, "ko"),
    "forum_en": (0.08, "en"),
    "boiler_ko": (0.07, "ko"),
    "boiler_en": (0.06, "en"),
    "mixed": (0.08, "ko+en"),
    "long_ko": (0.004, "ko"),
    "long_en": (0.004, "en"),
    "other": (0.04, "other"),
    "junk": (0.06, None),
}
SOURCE_OF_STYLE = {
    "news_ko": ("news", "web", "docs", "misc"),
    "news_en": ("news", "web", "docs", "misc"),
    "forum_ko": ("forum", "misc"),
    "forum_en": ("forum", "misc"),
    "boiler_ko": ("web", "news", "misc"),
    "boiler_en": ("web", "news", "misc"),
    "mixed": ("forum", "misc", "docs"),
    "long_ko": ("docs", "misc"),
    "long_en": ("docs", "misc"),
    "other": ("misc", "web"),
    "junk": ("misc", "forum", "web"),
}
SOURCES = ("news", "forum", "web", "docs", "misc")


@dataclass
class CorpusManifest:
    out_dir: str
    n_docs: int
    sources: list[dict]
    malformed: dict[str, int]
    exact_duplicate_groups: list[list[tuple[str, str]]] = field(default_factory=list)
    near_duplicate_pairs: list[tuple[tuple[str, str], tuple[str, str], str]] = field(default_factory=list)
    lang_counts: dict[str, int] = field(default_factory=dict)
    doc_langs: dict[str, str] = field(default_factory=dict)  # "source/id" -> intended language

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


# ---------------------------------------------------------------- text kernels


def _has_batchim(word: str) -> bool:
    last = word[-1]
    return "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0


class TextMaker:
    """Sentences and documents in each style, from one seeded random generator."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def ko_sentence(self) -> str:
        r = self.r
        n1, n2, n3 = r.choice(W.KO_NOUNS), r.choice(W.KO_NOUNS), r.choice(W.KO_NOUNS)
        subj = n1 + W.KO_SUBJ_PARTICLE[_has_batchim(n1)]
        obj = n2 + W.KO_OBJ_PARTICLE[_has_batchim(n2)]
        form = r.randrange(5)
        if form == 0:
            return f"{r.choice(W.KO_ADVERBS)} {subj} {r.choice(W.KO_ADJ)} {obj} {r.choice(W.KO_PREDICATES)}."
        if form == 1:
            return f"{r.choice(W.KO_CONNECT)} {subj} {n3}의 {obj} {r.choice(W.KO_PREDICATES)}."
        if form == 2:
            return f"{subj} {n3}에서 {r.randint(2, 98)}% 증가한 {obj} {r.choice(W.KO_PREDICATES)}."
        if form == 3:
            return f"{r.choice(W.KO_ADVERBS)} {n3}에 따르면 {subj} {obj} {r.choice(W.KO_PREDICATES)}고 전했다."
        return f"{subj} {r.choice(W.KO_ADJ)} {n3}와 함께 {obj} {r.choice(W.KO_PREDICATES)}."

    def en_sentence(self) -> str:
        r = self.r
        n1, n2, n3 = r.choice(W.EN_NOUNS), r.choice(W.EN_NOUNS), r.choice(W.EN_NOUNS)
        form = r.randrange(5)
        if form == 0:
            adj1, adj2 = r.choice(W.EN_ADJ), r.choice(W.EN_ADJ)
            return f"The {adj1} {n1} {r.choice(W.EN_VERBS)} a {adj2} {n2} {r.choice(W.EN_ADV)}."
        if form == 1:
            return f"{r.choice(W.EN_CONNECT)} the {n1} {r.choice(W.EN_VERBS)} the {n2} of the {n3}."
        if form == 2:
            return f"According to the {n3}, the {n1} {r.choice(W.EN_VERBS)} {r.randint(2, 98)} percent more {n2}s."
        if form == 3:
            return f"Officials said the {n1} had {r.choice(W.EN_VERBS)} the {r.choice(W.EN_ADJ)} {n2} after the {n3}."
        return f"The {n1} and the {n3} {r.choice(W.EN_VERBS)} the {n2} together {r.choice(W.EN_ADV)}."

    def paragraphs(self, lang: str, n_par: int, per_par: tuple[int, int] = (2, 5)) -> str:
        make = self.ko_sentence if lang == "ko" else self.en_sentence
        return "\n\n".join(" ".join(make() for _ in range(self.r.randint(*per_par))) for _ in range(n_par))

    def document(self, style: str) -> tuple[str, str]:
        """(text, intended language)."""
        r = self.r
        lang = STYLES[style][1]
        if style in ("news_ko", "news_en"):
            lg = style[-2:]
            head = (self.ko_sentence() if lg == "ko" else self.en_sentence()).rstrip(".")
            body = self.paragraphs(lg, r.randint(3, 10), (3, 6)) if lg == "ko" else self.paragraphs(lg, r.randint(2, 7))
            return f"{head}\n\n{body}", lang
        if style == "forum_ko":
            lines = [
                r.choice(W.KO_CASUAL).format(n=r.choice(W.KO_NOUNS)) + " " + r.choice(W.KO_CASUAL_END)
                for _ in range(r.randint(1, 4))
            ]
            if r.random() < 0.3:
                lines.insert(0, "> " + self.ko_sentence())
            return "\n".join(lines), lang
        if style == "forum_en":
            lines = [r.choice(W.EN_CASUAL).format(n=r.choice(W.EN_NOUNS)) for _ in range(r.randint(1, 4))]
            if r.random() < 0.3:
                lines.insert(0, "> " + self.en_sentence())
            return "\n".join(lines), lang
        if style in ("boiler_ko", "boiler_en"):
            lg = style[-2:]
            heads, foots = (W.KO_BOILER_HEAD, W.KO_BOILER_FOOT) if lg == "ko" else (W.EN_BOILER_HEAD, W.EN_BOILER_FOOT)
            body = self.paragraphs(lg, r.randint(1, 2), (1, 3))
            return "\n".join([*r.sample(heads, 2), body, *r.sample(foots, 3)]), lang
        if style == "mixed":
            parts = []
            for _ in range(r.randint(2, 5)):
                parts.append(f"{r.choice(W.MIX_KO_PREFIX)} {r.choice(W.MIX_EN_PHRASES)} {r.choice(W.MIX_KO_SUFFIX)}.")
                if r.random() < 0.5:
                    parts.append(self.ko_sentence())
            return " ".join(parts), lang
        if style in ("long_ko", "long_en"):
            lg = style[-2:]
            text = self.paragraphs(lg, 160 if lg == "ko" else 70, (3, 6))
            return text, lang
        if style == "other":
            code = r.choice(sorted(W.OTHER_LANG))
            sents = W.OTHER_LANG[code]
            return " ".join(r.choice(sents) for _ in range(r.randint(3, 8))), lang
        # junk
        kind = r.randrange(4)
        if kind == 0:
            return r.choice(["ㅋㅋㅋㅋㅋ", "ㅠㅠㅠ", "ㅎㅎ 굿", "대박ㅋㅋ"]), "ko"
        if kind == 1:
            return " ".join([W.LOREM] * r.randint(1, 6)), "other"
        if kind == 2:
            return "\n".join(
                ["BUY NOW!!! CLICK HERE for the best deals on phones and laptops"] * r.randint(10, 40)
            ), "en"
        return " ".join(
            f"#{r.randint(0, 99999)} -- {r.randint(0, 999)}.{r.randint(0, 99)}%" for _ in range(r.randint(3, 30))
        ), "und"


def near_duplicate(text: str, lang: str, rng: random.Random) -> tuple[str, str]:
    """A copy with a small edit; returns (text, kind of edit)."""
    words = text.split(" ")
    kind = rng.choice(
        ["insert", "delete", "substitute", "respace"] if lang == "ko" else ["insert", "delete", "substitute"]
    )
    n_edit = max(1, len(words) // 40)
    if kind == "respace" and len(words) > 4:
        # Korean spacing is unreliable: glue some eojeol together
        for _ in range(n_edit):
            i = rng.randrange(len(words) - 1)
            words[i : i + 2] = [words[i] + words[i + 1]]
            if len(words) < 3:
                break
        return " ".join(words), kind
    for _ in range(n_edit):
        i = rng.randrange(len(words))
        if kind == "insert":
            words.insert(i, rng.choice(W.KO_ADVERBS if lang == "ko" else W.EN_ADV))
        elif kind == "delete" and len(words) > 3:
            del words[i]
        else:
            words[i] = rng.choice(W.KO_NOUNS if lang == "ko" else W.EN_NOUNS)
    return " ".join(words), kind


# ---------------------------------------------------------------- writers


def _html(text: str, title: str) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in text.split("\n") if p.strip())
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body>'
        f'<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About</a></nav>'
        f"<article><h1>{title}</h1>{paras}</article><footer>Contact | Privacy | Terms</footer></body></html>"
    ).encode()


def _write_warc(path: Path, records: list[dict], extra: list[tuple[str, str, bytes]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    date = "2026-11-01T00:00:00Z"
    info = writer.create_warcinfo_record(path.name, {"software": "moru demo", "format": "WARC File Format 1.1"})
    info.rec_headers.replace_header("WARC-Date", date)
    info.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{path.stem}-info>")
    writer.write_record(info)

    def response(url: str, rid: str, ctype: str, payload: bytes) -> None:
        req_http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "demo.moru")], is_http_request=True)
        req = writer.create_warc_record(
            url,
            "request",
            http_headers=req_http,
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": f"<{rid}-req>"},
        )
        writer.write_record(req)
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(payload),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": f"<{rid}>"},
        )
        writer.write_record(rec)

    for r in records:
        response(r["url"], r["id"], "text/html; charset=utf-8", _html(r["text"], r["title"]))
    for url, ctype, payload in extra:
        response(url, f"urn:demo:extra:{abs(hash(url)) % 10**8}", ctype, payload)
    path.write_bytes(buf.getvalue())


def _jsonl_bytes(rows: list) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode("utf-8")) + b"\n" for r in rows
    )


# ---------------------------------------------------------------- the corpus


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
) -> CorpusManifest:
    out = Path(out_dir)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    styles = list(STYLES)
    weights = [STYLES[s][0] for s in styles]
    docs: list[dict] = []  # {source, id, text, lang, title, url}
    exact_groups: dict[int, list[int]] = {}
    near_pairs: list[tuple[int, int, str]] = []
    counters = Counter()

    def new_id(source: str) -> str:
        counters[source] += 1
        return f"{source}-{seed}-{counters[source]:07d}"

    for i in range(n_docs):
        roll = rng.random()
        if docs and roll < 0.03:  # exact duplicate of an earlier document, maybe in another source
            j = rng.randrange(len(docs))
            src = rng.choice([s for s in SOURCES if s in formats])
            docs.append({**docs[j], "source": src, "id": new_id(src), "title": docs[j]["title"]})
            root = next((k for k, g in exact_groups.items() if j in g), j)
            exact_groups.setdefault(root, [root]).append(len(docs) - 1)
        elif docs and roll < 0.07:
            j = rng.randrange(len(docs))
            base = docs[j]
            if base["lang"] in ("ko", "en") and len(base["text"]) > 200:
                text, kind = near_duplicate(base["text"], base["lang"], rng)
                src = rng.choice([s for s in SOURCES if s in formats])
                docs.append({**base, "text": text, "source": src, "id": new_id(src)})
                near_pairs.append((j, len(docs) - 1, kind))
                continue
            style = rng.choices(styles, weights)[0]
            text, lang = maker.document(style)
            src = rng.choice([s for s in SOURCE_OF_STYLE[style] if s in formats] or list(formats))
            docs.append({"source": src, "id": new_id(src), "text": text, "lang": lang, "title": text[:40]})
        else:
            # a couple of long documents (> 16K characters) in every 500, whatever the dice say
            style = {17: "long_ko", 251: "long_en"}.get(i % 500) or rng.choices(styles, weights)[0]
            text, lang = maker.document(style)
            src = rng.choice([s for s in SOURCE_OF_STYLE[style] if s in formats] or list(formats))
            docs.append({"source": src, "id": new_id(src), "text": text, "lang": lang, "title": text[:40]})
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1)
    for d in docs:
        d["url"] = f"https://{d['source']}.demo.moru/{d['id']}"

    bad: Counter = Counter()
    by_src: dict[str, list[dict]] = {s: [d for d in docs if d["source"] == s] for s in formats}
    paths = {}
    for src in formats:
        folder = out / src
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        paths[src] = folder
        rows = by_src[src]
        shards = [rows[k : k + shard_docs] for k in range(0, max(len(rows), 1), shard_docs)]
        for si, shard in enumerate(shards):
            extra_bad: list = []
            if malformed and si == 0:
                extra_bad = _malformed_for(src, rng, bad, oversize_bytes, new_id)
            _write_source(src, folder, si, shard, extra_bad, rng)
        if malformed:
            _write_extra_files(src, folder, rng, bad, docs, new_id)

    sources = [
        {
            "name": "news",
            "path": str(paths.get("news", out / "news")),
            "format": "jsonl",
            "fields": {
                "text": "body",
                "id": "id",
                "url": "url",
                "metadata": {"section": "meta.section", "published": "meta.published"},
            },
        },
        {
            "name": "forum",
            "path": str(paths.get("forum", out / "forum")),
            "format": "jsonl",
            "fields": {"text": "content", "id": "post_id", "url": "thread.url", "metadata": ["author"]},
        },
        {"name": "web", "path": str(paths.get("web", out / "web")), "format": "warc"},
        {
            "name": "docs",
            "path": str(paths.get("docs", out / "docs")),
            "format": "parquet",
            "fields": {"text": "content", "id": "doc_key", "metadata": ["lang_hint"]},
        },
        {
            "name": "misc",
            "path": str(paths.get("misc", out / "misc")),
            "format": "auto",
            "fields": {"text": "text", "id": "id", "url": "url"},
        },
    ]
    sources = [s for s in sources if s["name"] in formats]
    accepted_extra = bad.pop("_accepted", 0)
    manifest = CorpusManifest(
        out_dir=str(out),
        n_docs=len(docs) + accepted_extra,
        sources=sources,
        malformed=dict(sorted(bad.items())),
        exact_duplicate_groups=[[(docs[k]["source"], docs[k]["id"]) for k in g] for g in exact_groups.values()],
        near_duplicate_pairs=[
            ((docs[a]["source"], docs[a]["id"]), (docs[b]["source"], docs[b]["id"]), kind) for a, b, kind in near_pairs
        ],
        lang_counts=dict(Counter(d["lang"] for d in docs)),
        doc_langs={f"{d['source']}/{d['id']}": d["lang"] for d in docs},
    )
    return manifest


def _record(src: str, d: dict, rng: random.Random) -> dict:
    if src == "news":
        return {
            "id": d["id"],
            "title": d["title"],
            "body": d["text"],
            "url": d["url"],
            "meta": {"section": rng.choice(["politics", "economy", "culture", "tech"]), "published": "2026-10-01"},
        }
    if src == "forum":
        return {
            "post_id": d["id"],
            "content": d["text"],
            "thread": {"url": d["url"]},
            "author": f"user{rng.randrange(500)}",
        }
    if src == "docs":
        return {"doc_key": d["id"], "content": d["text"], "lang_hint": d["lang"]}
    return {"id": d["id"], "text": d["text"], "url": d["url"]}


def _malformed_for(src: str, rng: random.Random, bad: Counter, oversize: int, new_id) -> list:
    """Malformed records planted in the first shard of ``src`` (raw bytes lines or dict rows)."""
    out: list = []
    if src == "news":
        out += [
            b'{"id": "news-bad-1", "body": "unterminated',
            b'{"id": "news-bad-2", "title": "no body"}',
            json.dumps({"id": "news-bad-3", "body": 12345}).encode(),
            b'{"id": "news-bad-4", "body": "lone surrogate \\ud800 here"}',
        ]
        bad.update(["invalid_json", "missing_text", "wrong_type", "invalid_utf8"])
    elif src == "forum":
        dup = new_id("forum")
        out += [
            b'{"post_id": "forum-bad-1", "content": "caf\xe9 latin-1 bytes"}',
            json.dumps({"post_id": "forum-bad-2", "content": "   "}).encode(),
            json.dumps({"post_id": "forum-bad-3", "content": "\x00\x01\x02\x03\x04" * 40}).encode(),
            json.dumps(
                {"post_id": dup, "content": "첫 번째 글입니다. 같은 아이디를 가진 글이 하나 더 있어요."},
                ensure_ascii=False,
            ).encode(),
            json.dumps(
                {"post_id": dup, "content": "두 번째 글입니다. 아이디가 겹쳐서 격리되어야 해요."}, ensure_ascii=False
            ).encode(),
            b"",
            json.dumps({"post_id": "forum-bad-4", "content": "after a blank line"}).encode(),
        ]
        bad.update(["invalid_utf8", "empty_text", "binary_garbage", "duplicate_record_key", "empty_text"])
        bad["_accepted"] += 2  # the first of the duplicate ids, and the record after the blank line
    elif src == "misc":
        out += [
            b"[1, 2, 3]",
            json.dumps({"text": "a record without its id field"}).encode(),
            json.dumps({"id": "misc-bad-3", "text": "สวัสดีครับ ยินดีต้อนรับ".encode().decode("latin-1")}).encode(),
        ]
        bad.update(["not_an_object", "missing_id", "mojibake"])
        if oversize:
            out.append(
                json.dumps({"id": "misc-bad-4", "text": "가" * (oversize // 3 + 1)}, ensure_ascii=False).encode()
            )
            bad["text_too_large"] += 1
    elif src == "docs":
        out.append({"doc_key": "docs-bad-1", "content": None, "lang_hint": "ko"})
        bad["missing_text"] += 1
    elif src == "web":
        out.append(("https://web.demo.moru/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256))))
        out.append(("https://web.demo.moru/empty", "text/html", b"<html><body><nav>Home</nav></body></html>"))
        bad.update(["unsupported_content_type", "empty_text"])
    return out


def _write_source(src: str, folder: Path, si: int, shard: list[dict], extra_bad: list, rng: random.Random) -> None:
    rows = [_record(src, d, rng) for d in shard]
    if src in ("news", "forum", "misc"):
        # planted lines go in the middle of the shard, as in real dumps
        mid = len(rows) // 2
        lines = rows[:mid] + extra_bad + rows[mid:]
        data = _jsonl_bytes(lines)
        if src == "news":
            (folder / f"news-{si:04d}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
        elif src == "forum":
            import zstandard

            (folder / f"forum-{si:04d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
        else:
            (folder / f"misc-{si:04d}.jsonl").write_bytes(data)
    elif src == "docs":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = rows + extra_bad
        table = pa.table({k: [r[k] for r in rows] for k in ("doc_key", "content", "lang_hint")})
        pq.write_table(table, folder / f"docs-{si:04d}.parquet")
    elif src == "web":
        for d in shard:
            d.setdefault("title", d["text"][:40])
        _write_warc(
            folder / f"web-{si:04d}.warc.gz",
            [{"url": d["url"], "id": f"urn:demo:{d['id']}", "text": d["text"], "title": d["title"]} for d in shard],
            extra_bad,
        )


def _write_extra_files(src: str, folder: Path, rng: random.Random, bad: Counter, docs: list[dict], new_id) -> None:
    """Whole bad files: a truncated gzip shard, a Parquet file with a wrongly typed column, a
    file of unknown format."""
    if src == "news":
        from spark_jobs.ingest.config import IngestConfig, SourceConfig
        from spark_jobs.ingest.readers import Accepted, read_file

        rows = []
        for _ in range(20):
            ident = new_id("news")
            rows.append(
                {
                    "id": ident,
                    "title": "t",
                    "body": TextMaker(rng).paragraphs("ko", 2),
                    "url": f"https://news.demo.moru/{ident}",
                    "meta": {"section": "economy", "published": "2026-10-02"},
                }
            )
        full = gzip.compress(_jsonl_bytes(rows), mtime=0)
        cut = full[: len(full) * 2 // 3]
        path = folder / "news-truncated.jsonl.gz"
        path.write_bytes(cut)
        src_cfg = SourceConfig(name="news", path=str(folder), fields={"text": "body", "id": "id"})
        recs = list(read_file(path.name, cut, src_cfg, IngestConfig()))
        bad["_accepted"] += sum(isinstance(r, Accepted) for r in recs)
        bad["corrupt_file"] += 1
    elif src == "docs":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(
            pa.table(
                {
                    "doc_key": ["docs-int-1", "docs-int-2", "docs-int-3"],
                    "content": [1, 2, 3],
                    "lang_hint": ["ko", "en", "ko"],
                }
            ),
            folder / "docs-bad-types.parquet",
        )
        bad["wrong_type"] += 3
    elif src == "misc":
        (folder / "README.txt").write_text("notes about this folder, not a data file\n", encoding="utf-8")
        bad["unknown_format"] += 1


def generate_jsonl(out_dir: str | Path, n_docs: int, seed: int = 0, shard_docs: int = 10_000) -> list[str]:
    """Clean JSONL shards of {"id", "text", "url"} in the demo's styles (no malformed records)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    maker = TextMaker(rng)
    styles = [s for s in STYLES if s != "junk"]
    weights = [STYLES[s][0] for s in styles]
    paths = []
    for shard in range(0, n_docs, shard_docs):
        lines = []
        for i in range(shard, min(n_docs, shard + shard_docs)):
            text, _ = maker.document(rng.choices(styles, weights)[0])
            lines.append(
                json.dumps({"id": f"doc-{i:08d}", "text": text, "url": f"https://bench.moru/{i}"}, ensure_ascii=False)
            )
        path = out / f"part-{shard // shard_docs:05d}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths
