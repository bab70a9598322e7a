"""Issue 27: no file crashes ingest or vanishes from it.

Every hostile input is made here. Kernel tests run the driver's listing and the tasks' reading
(``list_sources`` / ``read_listed`` / ``file_accounting``, the functions the job runs) without Spark, one test per
class and property tests over random bytes, truncation points, JSON shapes and file names; one end-to-end Spark
ingest reads a folder holding every hostile file at once and checks the tables.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_jobs import tables
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig, job
from spark_jobs.ingest.records import REASONS, Accepted, Rejected

CFG = IngestConfig()
EN = "The city council approved the new budget on Tuesday after a long debate about public transport."
KO = "정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 이번 조치가 내수 회복에 도움이 될 것이라고 평가했다."
COMPRESS = {
    "": lambda b: b,
    ".gz": lambda b: gzip.compress(b, mtime=0),
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
}
HOSTILE_NAMES = ["100%41 x.jsonl", "a#b.jsonl", "q?.jsonl", "[x].jsonl", "한국어 파일.jsonl", "😀 emoji.jsonl"]


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def _docs(n: int, tag: str = "") -> list[dict]:
    return [{"text": f"{EN} {tag} {i}"} for i in range(n)]


def _warc(n: int = 2) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)
    for i in range(n):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/plain; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(f"http://x/{i}", "response", payload=io.BytesIO(f"{KO} {i}".encode()),
                                            http_headers=http))  # fmt: skip
    return buf.getvalue()


def _parquet(n: int) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": [f"{EN} parquet {i}" for i in range(n)]}), buf, row_group_size=max(1, n // 4))
    return buf.getvalue()


def read_all(sources: list[SourceConfig], cfg: IngestConfig = CFG):
    """What the job does, without Spark: list on the driver, read every listed file as a task does, account."""
    listed = job.list_sources(sources)
    rows: list[tuple[str, str, Accepted | Rejected]] = []
    for sf in listed:
        for f in sf.listing.files:
            rows += [(sf.source.name, f.relpath, rec) for rec in job.read_listed(sf.source, f.path, f.relpath, cfg)]
    accounting = job.file_accounting(listed, {(s, rel) for s, rel, _ in rows})
    return rows, accounting


def _accounted(rows, accounting) -> set[str]:
    return {rel for _, rel, _ in rows} | {s["file"] for s in accounting["skipped_files"]}


def _check_invariants(rows, accounting, created: list[str]) -> None:
    """Every created file is read or skipped (a skipped folder covers what is in it); no record of a file shares
    its position with another (a quarantine row's id is built from it); every reason is a known one."""
    seen = _accounted(rows, accounting)
    for rel in created:
        parts = rel.split("/")
        assert any("/".join(parts[:n]) in seen for n in range(1, len(parts) + 1)), f"{rel!r} vanished"
    positions = Counter((rel, rec.record_index, getattr(rec, "reason", "doc")) for _, rel, rec in rows)
    assert not [k for k, n in positions.items() if n > 1]
    assert all(rec.reason in REASONS for _, _, rec in rows if isinstance(rec, Rejected))
    assert {s["reason"] for s in accounting["skipped_files"]} <= set(job.SKIP_REASONS)


# ---------------------------------------------------------------------------- one test per class, no Spark


def test_every_file_is_read_quarantined_or_skipped_with_a_reason(tmp_path):
    (tmp_path / "good.jsonl").write_bytes(_jsonl(_docs(2)))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n\n")
    (tmp_path / "nothing.jsonl.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / ".x.jsonl").write_bytes(_jsonl(_docs(1)))
    (tmp_path / "README.txt").write_bytes(b"hello")
    rows, acc = read_all([SourceConfig(name="s", path=str(tmp_path))])
    skipped = {(s["file"], s["reason"]) for s in acc["skipped_files"]}
    assert skipped == {("empty.jsonl", "empty"), ("blank.jsonl", "no_records"), ("nothing.jsonl.gz", "no_records"),
                       ("_SUCCESS", "hidden"), (".x.jsonl", "hidden")}  # fmt: skip
    assert [(rel, rec.reason) for _, rel, rec in rows if isinstance(rec, Rejected)] == [
        ("README.txt", "unknown_format")
    ]
    assert acc["files"] == {"listed": 4, "read": 2, "skipped": 5, "bytes": acc["files"]["bytes"]}
    assert acc["skipped_by_reason"] == {"empty": 1, "no_records": 2, "hidden": 2}
    shown = read_all([SourceConfig(name="s", path=str(tmp_path), hidden_files="include")])
    assert ".x.jsonl" in {rel for _, rel, _ in shown[0]}


def test_an_empty_folder_is_reported_and_a_missing_path_is_an_error(tmp_path):
    (tmp_path / "in").mkdir()
    rows, acc = read_all([SourceConfig(name="s", path=str(tmp_path / "in"))])
    assert rows == [] and acc["skipped_files"][0]["reason"] == "no_files"
    with pytest.raises(FileNotFoundError, match="source 'gone'"):
        job.list_sources([SourceConfig(name="gone", path=str(tmp_path / "gone"))])


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".bz2", ".xz"])
def test_any_decompression_error_keeps_the_records_before_it(tmp_path, suffix):
    docs = _docs(3000, "long text " * 5)
    data = COMPRESS[suffix](_jsonl(docs))
    (tmp_path / f"cut.jsonl{suffix}").write_bytes(data[: len(data) * 3 // 4])
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / f"flipped.jsonl{suffix}").write_bytes(bytes(flipped))
    (tmp_path / f"not-that-codec.jsonl{suffix}").write_bytes(_jsonl(_docs(3)))
    rows, acc = read_all([SourceConfig(name="s", path=str(tmp_path))])
    by_file: dict[str, list] = {}
    for _, rel, rec in rows:
        by_file.setdefault(rel, []).append(rec)
    for rel, recs in by_file.items():
        assert isinstance(recs[-1], Rejected) and recs[-1].reason == "corrupt_file", rel
        assert sum(isinstance(r, Rejected) and r.reason == "corrupt_file" for r in recs) == 1
        assert recs[-1].detail.split(":")[0] in ("EOFError", "OSError", "BadGzipFile", "ZstdError", "LZMAError",
                                                 "error", "ValueError")  # fmt: skip
    cut = [r for r in by_file[f"cut.jsonl{suffix}"] if isinstance(r, Accepted)]
    assert [r.text for r in cut] == [d["text"] for d in docs[: len(cut)]]
    assert len(cut) > 100 or suffix == ".bz2"  # bz2 hands out nothing of a cut 900 kB block
    assert len(by_file[f"not-that-codec.jsonl{suffix}"]) == 1
    _check_invariants(rows, acc, [p.name for p in tmp_path.iterdir()])


def test_hostile_names_round_trip_exactly(tmp_path):
    for name in HOSTILE_NAMES:
        (tmp_path / name).write_bytes(_jsonl([{"text": f"{EN} {name}"}]))
    rows, _ = read_all([SourceConfig(name="s", path=str(tmp_path))])
    assert sorted((rel, rec.text) for _, rel, rec in rows) == sorted((n, f"{EN} {n}") for n in HOSTILE_NAMES)
    assert {rec.record_key for _, _, rec in rows} == {f"pos:{n}:0" for n in HOSTILE_NAMES}
    one, _ = read_all([SourceConfig(name="s", path=str(tmp_path / "100%41 x.jsonl"))])
    assert [rel for _, rel, _ in one] == ["100%41 x.jsonl"]


def test_a_symlink_up_the_source_folder_and_a_file_reached_twice_are_read_once(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "a.jsonl").write_bytes(_jsonl(_docs(20)))
    (root / "sub" / "b.jsonl").write_bytes(_jsonl(_docs(3, "b")))
    (root / "sub" / "up").symlink_to(root)
    (root / "same.jsonl").symlink_to(root / "a.jsonl")
    (root / "also-sub").symlink_to(root / "sub")
    rows, acc = read_all([SourceConfig(name="s", path=str(root))])
    assert len(rows) == 23
    assert {(s["file"], s["reason"]) for s in acc["skipped_files"]} == {
        ("sub/up", "symlink_cycle"), ("same.jsonl", "duplicate"), ("also-sub", "duplicate")}  # fmt: skip


def test_bom_prefixed_files_and_a_broken_warc_header(tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + _jsonl(_docs(2, "bom")))
    (tmp_path / "bom.csv").write_bytes(f'\ufeffid,text\n1,{EN} csv\n2,"{KO}, 둘"\n'.encode())
    (tmp_path / "bom.tsv.gz").write_bytes(gzip.compress(f"\ufefftext\n{EN} tsv\n".encode()))
    warc = _warc(2)
    (tmp_path / "broken.warc").write_bytes(warc.replace(b"WARC-Type: response", b"WARC-Type response", 1))
    rows, _ = read_all([SourceConfig(name="s", path=str(tmp_path), fields=FieldMapping(text="text"))])
    got = {(rel, rec.record_index): rec for _, rel, rec in rows}
    assert all(isinstance(got[("bom.jsonl", i)], Accepted) for i in (0, 1))
    assert got[("bom.csv", 0)].text == f"{EN} csv" and got[("bom.csv", 1)].text == f"{KO}, 둘"
    assert got[("bom.tsv.gz", 0)].text == f"{EN} tsv"
    assert got[("broken.warc", 0)].reason == "corrupt_record"
    assert isinstance(got[("broken.warc", 1)], Accepted)


def test_unreadable_or_vanished_files_are_a_corrupt_file_row(tmp_path):
    src = SourceConfig(name="s", path=str(tmp_path))
    (rec,) = job.read_listed(src, str(tmp_path / "gone.jsonl"), "gone.jsonl", CFG)
    assert rec.reason == "corrupt_file" and "FileNotFoundError" in rec.detail and rec.record_index == 0


def test_tasks_are_balanced_by_size():
    from core.formats import ListedFile

    files = [(0, ListedFile(f"/f{i}", f"f{i}", size)) for i, size in enumerate([100, 90, 50, 40, 30, 10, 1, 1])]
    groups = job.plan_tasks(files, 3)
    assert sorted(rel for g in groups for _, _, rel in g) == sorted(f.relpath for _, f in files)
    sizes = sorted(sum(dict((f.relpath, f.size) for _, f in files)[rel] for _, _, rel in g) for g in groups)
    assert sizes[-1] - sizes[0] <= 100
    assert job.plan_tasks([], 4) == [[], [], [], []]


# ---------------------------------------------------------------------------- properties, no Spark

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = [f"x{fmt}{comp}" for fmt in (".jsonl", ".json", ".csv", ".tsv") for comp in COMPRESS] + [
    "x.parquet", "x.warc", "x.warc.gz", "x.arc", "x.unknown"]  # fmt: skip


def _run_files(files: dict[str, bytes], **source) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)
        rows, acc = read_all([SourceConfig(name="s", path=str(root), **source)])
        _check_invariants(rows, acc, list(files))


@FAST
@given(
    data=st.lists(st.binary(max_size=400), min_size=1, max_size=4),
    names=st.lists(st.sampled_from(SUFFIXES), min_size=4, max_size=4),
)
def test_random_bytes_under_any_name_never_crash_or_vanish(data, names):
    _run_files({f"{i}-{name}": blob for i, (blob, name) in enumerate(zip(data, names, strict=False))})


def _valid(name: str) -> bytes:
    rows = _docs(40, "t")
    if ".csv" in name or ".tsv" in name:
        sep = "\t" if ".tsv" in name else ","
        body = ("text\n" + "".join(f"{r['text']}{sep}\n".replace(f"{sep}\n", "\n") for r in rows)).encode()
    elif "parquet" in name:
        return _parquet(40)
    elif "warc" in name:
        body = _warc(6)
        return gzip.compress(body) if name.endswith(".gz") else body
    else:
        body = _jsonl(rows)
    comp = next((c for c in COMPRESS if c and name.endswith(c)), "")
    return COMPRESS[comp](body)


@FAST
@given(name=st.sampled_from([s for s in SUFFIXES if "unknown" not in s and "arc" not in s.replace("warc", "")]),
       cut=st.floats(0.01, 0.99))  # fmt: skip
def test_truncation_anywhere_never_crashes_or_vanishes(name, cut):
    data = _valid(name)
    _run_files({name: data[: max(1, int(len(data) * cut))]})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["text", "id", "x"]), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


@FAST
@given(values=st.lists(JSON_VALUES, min_size=1, max_size=6), id_field=st.booleans())
def test_any_json_shape_is_one_record_or_one_rejection_per_line(values, id_field):
    data = b"".join(json.dumps(v, ensure_ascii=False).encode() + b"\n" for v in values)
    fields = FieldMapping(id="id") if id_field else FieldMapping()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("x.jsonl", "x.json"):
            (Path(tmp) / name).write_bytes(data)
            rows, acc = read_all([SourceConfig(name="s", path=str(Path(tmp) / name), fields=fields)])
            _check_invariants(rows, acc, [name])
            if name == "x.jsonl":
                assert [rec.record_index for _, _, rec in rows] == list(range(len(values)))


FILE_NAME = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=30
).filter(lambda n: n not in (".", "..") and len(n.encode()) < 200)


@FAST
@given(names=st.lists(FILE_NAME, min_size=1, max_size=5, unique=True))
def test_any_file_name_round_trips_or_is_skipped_with_a_reason(names):
    files = {n + ".jsonl": _jsonl([{"text": EN, "name": n}]) for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)
        rows, acc = read_all([SourceConfig(name="s", path=str(root), fields=FieldMapping(metadata=["name"]))])
        _check_invariants(rows, acc, list(files))
        for _, rel, rec in rows:  # the name in the file is the name the file has, exactly
            assert isinstance(rec, Accepted) and rec.metadata["name"] == rel.removesuffix(".jsonl")


# ---------------------------------------------------------------------------- one Spark ingest over all of it


def _hostile_folder(root: Path) -> list[str]:
    """Every class of hostile input in one folder; returns the names created (symlinks and folders included)."""
    (root / "sub").mkdir(parents=True)
    (root / "good.jsonl").write_bytes(_jsonl([{"text": f"{KO} {i}"} for i in range(20)]))
    (root / "sub" / "three.jsonl").write_bytes(_jsonl(_docs(3, "sub")))
    for name in HOSTILE_NAMES:
        (root / name).write_bytes(_jsonl([{"text": f"{EN} {name}"}]))
    big = _jsonl(_docs(1200, "long text " * 5))
    (root / "not-zstd.jsonl.zst").write_bytes(big[:500])
    flipped = bytearray(gzip.compress(big, mtime=0))
    flipped[len(flipped) // 2] ^= 0xFF
    (root / "flipped.jsonl.gz").write_bytes(bytes(flipped))
    (root / "cut.jsonl.bz2").write_bytes(bz2.compress(big)[:-100])
    (root / "cut.jsonl.xz").write_bytes(lzma.compress(big)[:-100])
    (root / "garbage.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + _jsonl(_docs(2, "bom")))
    (root / "bom.csv").write_bytes(f"\ufeffid,text\n1,{EN} csv\n".encode())
    (root / "broken.warc").write_bytes(_warc(2).replace(b"WARC-Type: response", b"WARC-Type response", 1))
    (root / "empty.jsonl").write_bytes(b"")
    (root / "blank.jsonl").write_bytes(b"\n\n")
    (root / "_SUCCESS").write_bytes(b"")
    (root / ".hidden.jsonl").write_bytes(_jsonl(_docs(1)))
    (root / "README.txt").write_bytes(b"not data")
    (root / "sub" / "up").symlink_to(root)
    (root / "twice.jsonl").symlink_to(root / "good.jsonl")
    os.mkfifo(root / "pipe.jsonl")
    rng = random.Random(27)
    for suffix in (".jsonl", ".jsonl.gz", ".json", ".csv", ".parquet", ".warc.gz"):
        (root / f"random{suffix}").write_bytes(rng.randbytes(rng.randrange(1, 300)))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != "up" or p.parent.name != "sub") + [
        "sub/up"]  # fmt: skip


def test_one_ingest_over_every_hostile_file(spark, tmp_path):
    root = tmp_path / "in"
    created = _hostile_folder(root)
    src = SourceConfig(name="hostile", path=str(root))
    stats = job.run(spark, str(tmp_path / "wd"), [src], IngestConfig())  # no exception: the job survives all of it

    raw = tables.read(spark, str(tmp_path / "wd"), tables.RAW_DOCUMENTS).select("source_file", "record_index",
                                                                              "text").collect()  # fmt: skip
    quarantine = tables.read(spark, str(tmp_path / "wd"), tables.QUARANTINE).select(
        "source_file", "record_index", "reason", "detail").collect()  # fmt: skip
    # the counts add up: records read = rows written + rows quarantined
    assert stats.rows_in == len(raw) + len(quarantine) == stats.rows_out + stats.rows_rejected
    # every file the folder holds is in a table or in the skipped list, with its reason
    seen = {r["source_file"] for r in raw} | {r["source_file"] for r in quarantine}
    skipped = {s["file"]: s["reason"] for s in stats.extra["skipped_files"]}
    for rel in created:
        if rel != "sub":
            assert rel in seen or rel in skipped, f"{rel!r} vanished"
    assert {k: skipped[k] for k in ("empty.jsonl", "blank.jsonl", "_SUCCESS", ".hidden.jsonl", "sub/up",
                                     "twice.jsonl", "pipe.jsonl")} == {
        "empty.jsonl": "empty", "blank.jsonl": "no_records", "_SUCCESS": "hidden", ".hidden.jsonl": "hidden",
        "sub/up": "symlink_cycle", "twice.jsonl": "duplicate", "pipe.jsonl": "not_a_file"}  # fmt: skip
    # 2: each broken compressed file keeps what came before and adds exactly one corrupt_file row
    corrupt = Counter(r["source_file"] for r in quarantine if r["reason"] == "corrupt_file")
    for name in ("not-zstd.jsonl.zst", "flipped.jsonl.gz", "cut.jsonl.bz2", "cut.jsonl.xz", "garbage.parquet"):
        assert corrupt[name] == 1, name
    zstd_detail = next(r["detail"] for r in quarantine if r["source_file"] == "not-zstd.jsonl.zst")
    assert zstd_detail.startswith("ZstdError")
    assert sum(r["source_file"] == "cut.jsonl.xz" for r in raw) > 100
    # 3: names round-trip exactly
    texts = {r["source_file"]: r["text"] for r in raw}
    for name in HOSTILE_NAMES:
        assert texts[name] == f"{EN} {name}"
    # 4: the cycle does not multiply the records; the file reached twice is read once
    assert sum(r["source_file"] == "good.jsonl" for r in raw) == 20
    assert sum(r["source_file"].endswith("three.jsonl") for r in raw) == 3
    # 7: BOM files are read; a broken WARC header is a corrupt_record
    assert {(r["source_file"], r["record_index"]) for r in raw} >= {("bom.jsonl", 0), ("bom.jsonl", 1), ("bom.csv", 0)}
    assert [r["reason"] for r in quarantine if r["source_file"] == "broken.warc"] == ["corrupt_record"]
    assert "unsupported_content_type" not in stats.by_reason
    # the report shows the skipped files with their reasons
    from eval.report import write_report

    written: dict[str, bytes] = {}
    write_report({"stages": [stats.as_dict()]}, written.__setitem__)
    page = written["index.html"].decode()
    assert "Ingest: skipped files" in page and "symlink_cycle" in page and "pipe.jsonl" in page
    assert stats.extra["files"]["listed"] == stats.extra["files"]["read"] + stats.extra["skipped_by_reason"].get(
        "no_records", 0)  # fmt: skip


def test_the_entry_point_stops_on_config_problems_with_one_paragraph(tmp_path, capsys):
    from spark_jobs.ingest.__main__ import main

    (tmp_path / "file").write_text("x")
    cfg = {"workdir": str(tmp_path / "file" / "wd"), "sources": [{"name": "gone", "path": str(tmp_path / "gone")}]}
    (tmp_path / "moru.yaml").write_text(json.dumps(cfg))
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(tmp_path / "moru.yaml")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("workdir: cannot create") and "sources.0.path: source 'gone'" in err
    assert "Traceback" not in err
