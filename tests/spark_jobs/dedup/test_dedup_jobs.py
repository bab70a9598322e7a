"""Exact and MinHash-LSH dedup jobs on real Spark + Delta: keepers, F1 on a labelled set,
idempotency, incremental = full, components, datasketch-readable signatures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from deltalake import DeltaTable
from pyspark.sql import functions as F

from demo.dedup_eval import make_labelled_set, score
from quality.dedup.minhash import to_lean_minhash
from quality.dedup.shingles import shingles
from spark_jobs import ingest, normalize, tables
from spark_jobs.dedup import DedupConfig, exact, minhash
from spark_jobs.dedup.components import connected_components
from spark_jobs.ingest import FieldMapping, IngestConfig, SourceConfig

pytestmark = pytest.mark.spark


def _write(folder: Path, name: str, docs: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) for d in docs]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _load(spark, workdir: str, sources: dict[str, Path]) -> None:
    cfgs = [SourceConfig(name=n, path=str(p), fields=FieldMapping(id="id")) for n, p in sources.items()]
    ingest.run(spark, workdir, cfgs, IngestConfig())
    normalize.run(spark, workdir)


def _ids(spark, workdir: str) -> dict[str, str]:
    """doc_id -> record id"""
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select("doc_id", "record_key").collect()
    return {r["doc_id"]: r["record_key"].removeprefix("id:") for r in raw}


def _clusters(spark, workdir: str) -> dict[str, dict]:
    ids = _ids(spark, workdir)
    rows = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).collect()
    return {ids[r["doc_id"]]: {**r.asDict(), "cluster": ids[r["cluster_id"]], "keeper": ids[r["keeper_doc_id"]]}
            for r in rows}  # fmt: skip


def _groups(spark, workdir: str) -> set[frozenset]:
    """Duplicate groups over all documents: each document joins the near cluster of its exact keeper."""
    ids = _ids(spark, workdir)
    ex = tables.read(spark, workdir, tables.EXACT_DUPLICATES).select("doc_id", "keeper_doc_id")
    near = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).select(
        F.col("doc_id").alias("keeper_doc_id"), "cluster_id"
    )
    groups: dict[str, set] = {}
    for r in ex.join(near, "keeper_doc_id").collect():
        groups.setdefault(r["cluster_id"], set()).add(ids[r["doc_id"]])
    return {frozenset(g) for g in groups.values()}


def _table_rows(spark, workdir: str, table, drop=()) -> list:
    df = tables.read(spark, workdir, table).drop(*drop)
    return sorted(tuple(r) for r in df.collect())


@pytest.fixture(scope="module")
def labelled(spark, tmp_path_factory):
    docs, pairs = make_labelled_set(n_per_lang=120, seed=3)
    root = tmp_path_factory.mktemp("labelled")
    _write(root / "in", "docs.jsonl", docs)
    workdir = str(root / "wd")
    _load(spark, workdir, {"s": root / "in"})
    cfg = DedupConfig()
    stats = [exact.run(spark, workdir, cfg), minhash.run(spark, workdir, cfg)]
    return workdir, pairs, stats


def test_near_duplicate_f1_on_labelled_korean_and_english(spark, labelled):
    workdir, pairs, (ex, mh) = labelled
    clusters = {doc: c["cluster"] for doc, c in _clusters(spark, workdir).items()}
    result = score(pairs, clusters, 0.8)
    for lang in ("ko", "en"):
        assert result[lang]["positives"] >= 20, result  # the set has near duplicates of both languages
        assert result[lang]["f1"] >= 0.95, result
    # counts add up: documents = exact keepers + exact duplicates; signed = near keepers + near duplicates
    assert ex.rows_in == ex.rows_out + ex.rows_rejected == len(pairs) * 2
    assert mh.rows_in == ex.rows_out == mh.rows_out + mh.rows_rejected
    assert mh.extra["verified_pairs"] <= mh.extra["candidate_pairs"]


def test_rerun_changes_nothing_and_recomputes_no_signature(spark, labelled):
    workdir, _, _ = labelled
    derived = (tables.EXACT_DUPLICATES, tables.MINHASH_SIGNATURES, tables.NEAR_DUPLICATE_CLUSTERS)
    before = {t.name: _table_rows(spark, workdir, t, drop=("computed_at",)) for t in derived}
    cfg = DedupConfig()
    exact.run(spark, workdir, cfg)
    again = minhash.run(spark, workdir, cfg)
    assert again.extra["signatures_computed"] == 0
    for t in (tables.EXACT_DUPLICATES, tables.MINHASH_SIGNATURES, tables.NEAR_DUPLICATE_CLUSTERS):
        assert _table_rows(spark, workdir, t, drop=("computed_at",)) == before[t.name], t.name


def test_signatures_are_datasketch_minhashes_of_the_documents(spark, labelled):
    workdir, _, _ = labelled
    cfg = DedupConfig().minhash
    sigs = DeltaTable(tables.table_uri(workdir, tables.MINHASH_SIGNATURES).removeprefix("file:")).to_pyarrow_table()
    docs = DeltaTable(tables.table_uri(workdir, tables.DOCUMENTS).removeprefix("file:")).to_pyarrow_table()
    text = dict(zip(docs.column("doc_id").to_pylist(), docs.column("text").to_pylist(), strict=True))
    rows = sigs.select(["doc_id", "signature", "seed", "scheme"]).to_pylist()
    for row in random.Random(0).sample(rows, 25):
        m = MinHash(num_perm=cfg.num_perm, seed=1)
        m.update_batch(list(shingles(text[row["doc_id"]], cfg.ngram, cfg.korean_units, cfg.hangul_ngram())))
        lean = to_lean_minhash(row["signature"], row["seed"], row["scheme"])
        np.testing.assert_array_equal(lean.hashvalues, m.hashvalues)


def _corpus(seed: int):
    """Two batches: batch 2 holds near copies of batch-1 documents (from another source) and new ones."""
    docs, pairs = make_labelled_set(n_per_lang=40, seed=seed)
    text = {d["id"]: d["text"] for d in docs}
    bases = [d for d in docs if d["id"].endswith("-a")]
    copies = [{"id": p.b, "text": text[p.b]} for p in pairs if p.true_jaccard >= 0.9]
    batch1 = bases[:60] + [{"id": "exact-1", "text": bases[0]["text"]}]
    batch2 = copies + bases[60:] + [{"id": "exact-2", "text": bases[1]["text"]}]
    return batch1, batch2


def test_incremental_batches_give_the_clusters_of_one_full_run_and_keep_old_keepers(spark, tmp_path):
    batch1, batch2 = _corpus(seed=5)
    # source s2 is preferred, but on the incremental run the keepers chosen from batch 1 must stay
    cfg = DedupConfig(source_priority=["s2", "s1"])

    inc = str(tmp_path / "incremental")
    _write(tmp_path / "s1", "b1.jsonl", batch1)
    _load(spark, inc, {"s1": tmp_path / "s1"})
    exact.run(spark, inc, cfg)
    first = minhash.run(spark, inc, cfg)
    keepers_1 = {d for d, c in _clusters(spark, inc).items() if c["is_keeper"]}
    computed_1 = {r["doc_id"]: r["computed_at"] for r in tables.read(spark, inc, tables.MINHASH_SIGNATURES).collect()}
    _write(tmp_path / "s2", "b2.jsonl", batch2)
    _load(spark, inc, {"s1": tmp_path / "s1", "s2": tmp_path / "s2"})
    exact.run(spark, inc, cfg)
    second = minhash.run(spark, inc, cfg)

    full = str(tmp_path / "full")
    _load(spark, full, {"s1": tmp_path / "s1", "s2": tmp_path / "s2"})
    exact.run(spark, full, cfg)
    minhash.run(spark, full, cfg)

    # The same duplicate groups over all documents (exact and near together). Which member of an
    # exact group is signed can differ (old keepers stay), so groups are compared, not ids.
    a, b = _groups(spark, inc), _groups(spark, full)
    assert a == b
    assert sum(len(g) > 1 for g in a) >= 10  # near copies were found across batches
    a_near = _clusters(spark, inc)
    # only batch 2 was signed on the second run; batch-1 signatures are the old rows
    n_batch2_signed = second.rows_in - first.rows_in
    assert second.extra["signatures_computed"] == n_batch2_signed
    after = {r["doc_id"]: r["computed_at"] for r in tables.read(spark, inc, tables.MINHASH_SIGNATURES).collect()}
    assert all(after[d] == t for d, t in computed_1.items())
    # old keepers stay keepers even though s2 is preferred; the full run prefers s2
    b_near = _clusters(spark, full)
    assert all(a_near[d]["is_keeper"] for d in keepers_1)
    merged = [d for d in keepers_1 if a_near[d]["cluster_size"] > 1]
    assert merged and not any(b_near[d]["is_keeper"] for d in merged if d in b_near)
    # exact duplicates: exact-2 (s2) repeats a batch-1 text; exact-1 (s1) another
    ids = _ids(spark, inc)
    ex = {ids[r["doc_id"]]: r for r in tables.read(spark, inc, tables.EXACT_DUPLICATES).collect()}
    assert not ex["exact-2"]["is_keeper"] and ex["exact-2"]["cluster_size"] == 2
    assert not ex["exact-1"]["is_keeper"]  # same source, same batch: earliest ingest, then doc_id decide


def test_exact_keeper_rule_source_priority_then_ingest_then_doc_id(spark, tmp_path):
    text = "같은 문장이 여러 출처에 그대로 실렸다. The same sentence appears in several sources."
    _write(tmp_path / "web", "a.jsonl", [{"id": "w1", "text": text}, {"id": "w2", "text": text + "  "}])
    _write(tmp_path / "news", "a.jsonl", [{"id": "n1", "text": "  " + text}])
    workdir = str(tmp_path / "wd")
    _load(spark, workdir, {"web": tmp_path / "web", "news": tmp_path / "news"})
    ids = _ids(spark, workdir)

    def keepers(priority):
        exact.run(spark, workdir, DedupConfig(source_priority=priority))
        rows = tables.read(spark, workdir, tables.EXACT_DUPLICATES).collect()
        assert {r["cluster_size"] for r in rows} == {3} and len({r["content_hash"] for r in rows}) == 1
        return {ids[r["doc_id"]] for r in rows if r["is_keeper"]}

    assert keepers(["news", "web"]) == {"n1"}
    # the previous keeper stays keeper when the priority changes
    assert keepers(["web", "news"]) == {"n1"}


def test_connected_components_match_union_find(spark):
    rng = random.Random(11)
    nodes = [f"n{i:04d}" for i in range(600)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(450)]
    edges += [(f"c{i:04d}", f"c{i + 1:04d}") for i in range(300)]  # a long chain needs several rounds
    edges += [(f"s{i:03d}", "hub") for i in range(50)]
    df = spark.createDataFrame(edges, "src STRING, dst STRING")
    got, rounds = connected_components(df)
    ours = {r["node"]: r["component"] for r in got.collect()}

    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    linked = {x for e in edges for x in e if e[0] != e[1]}
    groups: dict[str, set] = {}
    for x in linked:
        groups.setdefault(find(x), set()).add(x)
    expected = {x: min(g) for g in groups.values() for x in g if len(g) > 1}
    assert ours == expected
    assert rounds > 1
