"""The demo corpus on disk: one writer per source, each in its own format and field names (news: JSONL.gz in
gzip members; forum: JSONL.zst in frames; web: WARC.gz with HTML pages; docs: Parquet; misc: plain JSONL with
``\\uXXXX`` escapes), and the malformed records and files planted among them, each with the quarantine reason
ingest should give it."""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson

from demo.document import Doc
from demo.text import TextMaker
from demo.vocabulary import EN, KO, NICKS

WARC_DATE = datetime(2024, 11, 3, 2, 0, 0, tzinfo=UTC)


def uuid_urn(rng: random.Random) -> str:
    return f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"


def source_config(src: str, path: Path) -> dict:
    fields = {
        "news": {
            "text": "body",
            "id": "id",
            "url": "url",
            "metadata": {"title": "title", "section": "meta.section", "published": "meta.published"},
        },
        "forum": {
            "text": "content",
            "id": "post_id",
            "url": "thread.url",
            "metadata": {"author": "author", "thread_title": "thread.title"},
        },
        "web": {},
        "docs": {"text": "content", "id": "doc_key", "metadata": ["lang_hint"]},
        "misc": {"text": "text", "id": "id", "url": "url"},
    }[src]
    fmt = {"news": "jsonl", "forum": "jsonl", "web": "warc", "docs": "parquet", "misc": "auto"}[src]
    return {"name": src, "path": str(path), "format": fmt, "fields": fields}


# ---------------------------------------------------------------- records per source
def _published(rng: random.Random) -> str:
    t = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=9))) + timedelta(minutes=rng.randrange(700 * 1440))
    return t.isoformat()


def _news_row(d: Doc, rng: random.Random) -> dict:
    section = rng.choice(KO["section"] if d.lang != "en" else EN["section"])
    title = d.parts.get("title") or d.text[:40]
    return {
        "id": d.id,
        "title": title,
        "body": d.text,
        "url": d.url,
        "meta": {"section": section, "published": _published(rng)},
    }


def _forum_row(d: Doc, rng: random.Random) -> dict:
    return {
        "post_id": int(d.id),
        "content": d.text,
        "thread": {"url": d.url, "title": (d.parts.get("title") or d.text[:40]).split("\n")[0]},
        "author": f"{rng.choice(NICKS)}{rng.randrange(100)}",
    }


def _misc_row(d: Doc, rng: random.Random) -> dict:
    row = {"id": d.id, "text": d.text}
    if d.url:
        row["url"] = d.url
    return row


def _lang_hint(d: Doc, rng: random.Random) -> str | None:
    hint = {"ko": "ko", "en": "en", "ko+en": "ko", "other": d.parts.get("code", "ja")}.get(d.lang)
    if hint and rng.random() < 0.1:  # crawler hints are sometimes wrong
        hint = "en" if hint != "en" else "ko"
    return hint


def _insert(rng: random.Random, rows: list, bad: list[tuple[str, object]], key_of=None) -> list:
    """``rows`` with the bad items spread among them; a duplicate key goes after its first."""
    out = list(rows)
    blank = [item for _, item in bad if item == b""]
    for reason, item in bad:
        if reason == "duplicate_record_key":
            first = next(i for i, r in enumerate(out) if key_of(r) == key_of(item))
            out.insert(rng.randint(first + 1, len(out)), item)
        elif item != b"":
            out.insert(rng.randint(0, len(out)), item)
    for item in blank:  # a blank line is only a record when something follows it
        assert out, "a blank line needs a record after it"
        out.insert(rng.randrange(len(out)), item)
    return out


def _jsonl_lines(rows: list, ensure_ascii: bool = False) -> list[bytes]:
    lines = []
    for r in rows:
        if isinstance(r, bytes):
            lines.append(r)
        elif ensure_ascii:
            lines.append(json.dumps(r, ensure_ascii=True).encode("ascii"))
        else:
            lines.append(orjson.dumps(r))
    return lines


def _chunks(lines: list[bytes], n: int) -> list[bytes]:
    return [b"".join(line + b"\n" for line in lines[k : k + n]) for k in range(0, max(len(lines), 1), n)]


def _write_news(folder: Path, si: int, shard: list[Doc], bad: list, rng: random.Random) -> None:
    rows = _insert(rng, [_news_row(d, rng) for d in shard], bad, key_of=lambda r: isinstance(r, dict) and r.get("id"))
    # one gzip member per 1000 lines, as concatenated dumps are
    data = b"".join(gzip.compress(chunk, mtime=0) for chunk in _chunks(_jsonl_lines(rows), 1000))
    (folder / f"news-{si:05d}.jsonl.gz").write_bytes(data)


def _write_forum(folder: Path, si: int, shard: list[Doc], bad: list, rng: random.Random) -> None:
    import zstandard

    def key(r):
        return isinstance(r, dict) and r.get("post_id")

    rows = _insert(rng, [_forum_row(d, rng) for d in shard], bad, key_of=key)
    cctx = zstandard.ZstdCompressor(level=3)
    data = b"".join(cctx.compress(chunk) for chunk in _chunks(_jsonl_lines(rows), 700))  # several frames
    (folder / f"forum-{si:05d}.jsonl.zst").write_bytes(data)


def _write_misc(folder: Path, si: int, shard: list[Doc], bad: list, rng: random.Random) -> None:
    rows = _insert(rng, [_misc_row(d, rng) for d in shard], bad, key_of=lambda r: isinstance(r, dict) and r.get("id"))
    # \uXXXX escapes instead of raw UTF-8, as some exporters write
    (folder / f"misc-{si:05d}.jsonl").write_bytes(b"".join(_chunks(_jsonl_lines(rows, ensure_ascii=True), 10**9)))


def _write_docs(folder: Path, si: int, shard: list[Doc], bad: list, rng: random.Random) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"doc_key": d.id, "content": d.text, "lang_hint": _lang_hint(d, rng)} for d in shard]
    rows = _insert(rng, rows, bad)
    schema = pa.schema([("doc_key", pa.string()), ("content", pa.string()), ("lang_hint", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, folder / f"docs-{si:05d}.parquet", row_group_size=500, compression="zstd")


def _html_page(text: str, title: str, lang: str) -> bytes:
    esc = html.escape
    paras = "".join("<p>" + "<br>".join(esc(line) for line in p.split("\n")) + "</p>\n" for p in text.split("\n\n"))
    if lang == "en":
        menu, foot, related = ("Home", "News", "Business", "Tech", "Sports"), "Contact | Privacy | Terms", "Related"
    else:
        menu, foot, related = (
            ("홈", "뉴스", "경제", "IT", "스포츠"),
            "회사소개 | 개인정보처리방침 | 이용약관",
            "관련 기사",
        )
    nav = " ".join(f'<a href="/{i}">{m}</a>' for i, m in enumerate(menu))
    return (
        f'<!DOCTYPE html>\n<html lang="{"en" if lang == "en" else "ko"}"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif}}</style>"
        f"<script>window.dataLayer=[];</script></head>\n<body>\n<header><nav>{nav}</nav></header>\n"
        f"<main><article>\n{paras}</article>\n"
        f'<aside><h3>{related}</h3><ul><li><a href="/a/1">{esc(title[:20])}</a></li></ul></aside></main>\n'
        f"<footer><p>{foot}</p><p>© 2024 demo.moru</p></footer>\n</body></html>\n"
    ).encode()


def _write_web(folder: Path, si: int, shard: list[Doc], bad: list, rng: random.Random) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    name = f"web-{si:05d}.warc.gz"
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    clock = [WARC_DATE + timedelta(days=si)]

    def tick() -> str:
        clock[0] += timedelta(seconds=rng.randint(1, 40))
        return clock[0].strftime("%Y-%m-%dT%H:%M:%SZ")

    info = b"software: moru demo crawler 1.0\r\nformat: WARC File Format 1.1\r\nrobots: obey\r\n"
    writer.write_record(
        writer.create_warc_record(
            "",
            "warcinfo",
            payload=io.BytesIO(info),
            length=len(info),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Record-ID": uuid_urn(rng), "WARC-Date": tick(), "WARC-Filename": name},
        )
    )

    def exchange(url: str, rid: str, ctype: str, body: bytes) -> None:
        date = tick()
        path = "/" + url.split("/", 3)[-1]
        req = StatusAndHeaders(
            f"GET {path} HTTP/1.1",
            [("Host", url.split("/")[2]), ("User-Agent", "moru-demo-crawler/1.0"), ("Accept", "text/html,*/*")],
            is_http_request=True,
        )
        http_date = clock[0].strftime("%a, %d %b %Y %H:%M:%S GMT")
        resp = StatusAndHeaders(
            "200 OK",
            [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Date", http_date), ("Server", "nginx")],
            protocol="HTTP/1.1",
        )
        rec = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=resp,
            warc_headers_dict={"WARC-Record-ID": rid, "WARC-Date": date, "WARC-IP-Address": "192.0.2.10"},
        )
        writer.write_record(
            writer.create_warc_record(
                url,
                "request",
                http_headers=req,
                warc_headers_dict={"WARC-Record-ID": uuid_urn(rng), "WARC-Date": date, "WARC-Concurrent-To": rid},
            )
        )
        writer.write_record(rec)
        if rng.random() < 0.2:
            meta = f"fetchTimeMs: {rng.randint(20, 900)}\r\n".encode()
            writer.write_record(
                writer.create_warc_record(
                    url,
                    "metadata",
                    payload=io.BytesIO(meta),
                    length=len(meta),
                    warc_content_type="application/warc-fields",
                    warc_headers_dict={"WARC-Record-ID": uuid_urn(rng), "WARC-Date": date, "WARC-Refers-To": rid},
                )
            )

    items: list = _insert(rng, list(shard), bad)
    for item in items:
        if isinstance(item, Doc):
            if item.style == "junk" or rng.random() < 0.15:  # a spam dump is not an HTML page
                exchange(item.url, item.id, "text/plain; charset=utf-8", item.text.encode("utf-8"))
            else:
                title = item.parts.get("title") or item.text[:40]
                exchange(item.url, item.id, "text/html; charset=utf-8", _html_page(item.text, title, item.lang))
        else:
            url, ctype, body = item
            exchange(url, uuid_urn(rng), ctype, body)
    (folder / name).write_bytes(buf.getvalue())


WRITERS: dict[str, Callable] = {
    "news": _write_news,
    "forum": _write_forum,
    "web": _write_web,
    "docs": _write_docs,
    "misc": _write_misc,
}


# ---------------------------------------------------------------- malformed records
def _garbage(rng: random.Random, n: int) -> str:
    """Mostly NULs and other control characters, a few letters: what a binary blob decodes to."""
    return "".join(
        chr(rng.choice((0, 0, 0, 1, 2, 3, 7, 8, 11, 12, 14, 27, 31))) if rng.random() < 0.8 else "x" for _ in range(n)
    )


def _oversize_text(maker: TextMaker, n_bytes: int) -> str:
    chunk = "\n\n".join(maker.paragraph("ko", 3, 6) for _ in range(8))  # < 32 KB, so gzip still squeezes it
    reps = n_bytes // len(chunk.encode("utf-8")) + 1
    return "\n\n".join([chunk] * reps)


def malformed_for(src: str, shard: list[Doc], maker: TextMaker, rng: random.Random, oversize: int) -> list:
    """(reason, item) planted among the records of the first shard of ``src``."""
    ko = maker.paragraph("ko", 1, 2)
    if src == "news":
        meta = {"section": "경제", "published": "2024-05-02T09:00:00+09:00"}
        bad = [
            (
                "invalid_json",
                b'{"id": "news-bad-01", "title": "\xec\xa0\x95\xeb\xb6\x80", "body": "' + ko[:25].encode(),
            ),
            (
                "missing_text",
                {"id": "news-bad-02", "title": "본문 없는 기사", "url": "https://news.demo.moru/x/2", "meta": meta},
            ),
            ("wrong_type", {"id": "news-bad-03", "title": "숫자 본문", "body": 20240502, "meta": meta}),
            ("wrong_type", {"id": "news-bad-04", "title": "목록 본문", "body": ko.split(". "), "meta": meta}),
            ("invalid_utf8", b'{"id": "news-bad-05", "title": "surrogate", "body": "lone surrogate \\ud800 here"}'),
            ("empty_text", {"id": "news-bad-06", "title": "빈 기사", "body": "", "meta": meta}),
            ("binary_garbage", {"id": "news-bad-07", "title": "garbage", "body": _garbage(rng, 400), "meta": meta}),
        ]
        if oversize:
            bad.append(
                ("text_too_large", {"id": "news-bad-08", "title": "큰 기사", "body": _oversize_text(maker, oversize)})
            )
        return bad
    if src == "forum":
        bad = [
            ("invalid_utf8", b'{"post_id": 900001, "content": "caf\xe9 au lait \xff\xfe latin-1 bytes"}'),
            ("invalid_json", b"{'post_id': 900002, 'content': 'python repr is not JSON'}"),
            ("empty_text", {"post_id": 900003, "content": " \t\n  ", "author": "ghost"}),
            ("empty_text", b""),  # a blank line between records
            ("binary_garbage", {"post_id": 900004, "content": _garbage(rng, 300)}),
            ("missing_text", {"post_id": 900005, "content": None, "author": "ghost"}),
            ("not_an_object", b'"just a string on its own line"'),
            ("wrong_type", {"post_id": 900006, "content": ["ㅋㅋㅋ", "ㅠㅠ"]}),
        ]
        if shard:
            first = rng.choice(shard)
            again = {"post_id": int(first.id), "content": maker.forum_line("ko") + " (수정됨)", "author": "editor1"}
            bad.append(("duplicate_record_key", again))
        return bad
    if src == "misc":
        moji = maker.sentence("ko").encode("utf-8").decode("latin-1")  # UTF-8 read as Latin-1 upstream
        bad = [
            ("not_an_object", b"[1, 2, 3]"),
            ("missing_id", {"text": maker.sentence("en"), "url": "https://misc.demo.moru/no-id"}),
            ("mojibake", {"id": "misc-bad-03", "text": moji}),
            ("invalid_json", b'{"id": "misc-bad-04", "text": "a trailing comma",}'),
            ("missing_text", {"id": "misc-bad-05", "text": None}),
            ("wrong_type", {"id": "misc-bad-06", "text": {"ko": "안녕하세요", "en": "hello"}}),
            ("invalid_utf8", b'{"id": "misc-bad-07", "text": "fine text", "url": "https://misc.demo.moru/\\udc80"}'),
        ]
        if shard:
            first = rng.choice(shard)
            bad.append(("duplicate_record_key", {"id": first.id, "text": maker.sentence("en") + " (second copy)"}))
        return bad
    if src == "docs":
        return [
            ("missing_text", {"doc_key": "kb-bad-01", "content": None, "lang_hint": "ko"}),
            ("empty_text", {"doc_key": "kb-bad-02", "content": "", "lang_hint": "en"}),
            ("binary_garbage", {"doc_key": "kb-bad-03", "content": _garbage(rng, 500), "lang_hint": None}),
            ("missing_id", {"doc_key": None, "content": maker.paragraph("en", 1, 2), "lang_hint": "en"}),
        ]
    if src == "web":
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(200))
        pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\n" + bytes(
            rng.randrange(256) for _ in range(100)
        )
        empty = (
            b'<!DOCTYPE html><html><head><title>Home</title></head><body><nav><a href="/">Home</a></nav></body></html>'
        )
        blob = bytes(rng.choice((0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15)) for _ in range(300))
        return [
            ("unsupported_content_type", ("https://web.demo.moru/static/logo.png", "image/png", png)),
            ("unsupported_content_type", ("https://web.demo.moru/files/report.pdf", "application/pdf", pdf)),
            ("empty_text", ("https://web.demo.moru/index.html", "text/html; charset=utf-8", empty)),
            ("binary_garbage", ("https://web.demo.moru/dump.txt", "text/plain", blob)),
        ]
    return []


def write_truncated_gzip(path: Path, rows: list[Doc], maker: TextMaker, rng: random.Random) -> None:
    """Good records in one gzip member, then a member cut off in the middle of its first (long)
    record: the readers take the good ones and report the file as corrupt from there on."""
    good = b"".join(line + b"\n" for line in _jsonl_lines([_news_row(d, rng) for d in rows]))
    lost = maker.long_document("ko", min_chars=20_000)[0]
    tail = orjson.dumps({"id": "news-lost-01", "title": "잘린 기사", "body": lost}) + b"\n"
    member = gzip.compress(tail, mtime=0)
    path.write_bytes(gzip.compress(good, mtime=0) + member[: len(member) // 2])


def write_bad_files(src: str, folder: Path, rng: random.Random) -> Counter:
    """Whole files that are wrong: a Parquet file whose text column is int64, a stray README."""
    if src == "docs":
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = 4
        table = pa.table(
            {
                "doc_key": [f"kb-int-{k}" for k in range(n)],
                "content": pa.array([rng.randrange(10**9) for _ in range(n)], pa.int64()),
                "lang_hint": ["ko"] * n,
            }
        )
        pq.write_table(table, folder / "docs-legacy-int.parquet")
        return Counter({"wrong_type": n})
    if src == "misc":
        (folder / "README.txt").write_text("misc/: odds and ends exported by hand; not a data file\n", encoding="utf-8")
        return Counter({"unknown_format": 1})
    return Counter()
