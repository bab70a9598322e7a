"""The emit job on real Spark + Delta: every shard read back with megatron-core's IndexedDataset against the
Delta rows, documents decoded back to their text, GPTDatasets built from the blend JSONs through
BlendedMegatronDatasetBuilder with the configured mix, stage 2's lengths and replay ratio, the gate's refusal,
and `moru emit`. Stage 3's own checks are in test_stage3.py."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spark_jobs import tables

from .conftest import EOD_TEXT, copy_workdir

pytestmark = pytest.mark.spark


_OPEN: dict[str, object] = {}


def _dataset(run_dir: str, path: str):
    """megatron-core's IndexedDataset, kept open: the arrays it hands out are views of its memory map, which
    closes when the dataset is collected."""
    from spark_jobs.emit.shards import read_dataset

    key = str(Path(run_dir) / path)
    if key not in _OPEN:
        _OPEN[key] = read_dataset(key)
    return _OPEN[key]


@pytest.fixture(scope="module")
def rows(spark, emitted) -> list[dict]:
    """emitted_documents as Python rows (a few thousand)."""
    return [r.asDict() for r in tables.read(spark, str(emitted.workdir), tables.EMITTED_DOCUMENTS).collect()]


@pytest.fixture(scope="module")
def texts(spark, emitted) -> dict[str, str]:
    corpus = tables.read(spark, str(emitted.workdir), tables.TRAINING_CORPUS).select("doc_id", "text").collect()
    return {r["doc_id"]: r["text"] for r in corpus}


@pytest.fixture(scope="module")
def tok(emitted):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(emitted.workdir / "tokenizer" / "model" / "tokenizer.json"))


def test_every_shard_reads_back_and_matches_delta(spark, emitted, rows, texts, tok):
    m = emitted.manifest
    assert emitted.stats.rows_in == emitted.stats.rows_out == len(texts) and emitted.stats.rows_rejected == 0
    assert m["tokenizer"]["dtype"] == "uint16" and m["tokenizer"]["eod_token"] == "[|endofturn|]"
    assert m["inputs"]["training_corpus"]["version"] == tables.version(spark, str(emitted.workdir),
                                                                       tables.TRAINING_CORPUS)  # fmt: skip
    assert {r["run_id"] for r in rows} == {m["run_id"]}
    eod = m["tokenizer"]["eod_id"]
    by_dataset = defaultdict(list)
    for r in rows:
        by_dataset[r["dataset"]].append(r)
    assert set(by_dataset) == {s["path"] for s in m["shards"]}
    for s in m["shards"]:
        ds = _dataset(m["run_dir"], s["path"])
        lengths = ds.sequence_lengths
        assert ds.index.dtype == np.uint16
        assert (len(ds), int(lengths.sum())) == (s["documents"], s["tokens"])
        delta = by_dataset[s["path"]]
        assert len(delta) == len(ds) and sum(r["n_tokens"] for r in delta) == int(lengths.sum())
        assert sorted(r["seq_index"] for r in delta) == list(range(len(ds)))
        for r in delta:
            assert lengths[r["seq_index"]] == r["n_tokens"]
            assert ds[r["seq_index"]][-1] == eod
        assert s["path"].startswith(f"{s['stage']}/{s['split']}/")
    # stage 1 holds every document once, with the tokenizer's own count (+1 for the end-of-document token)
    stage1 = {r["doc_id"]: r for r in rows if r["stage"] == "stage1"}
    assert set(stage1) == set(texts) and len(stage1) == sum(r["stage"] == "stage1" for r in rows)
    ids = tok.encode_batch([texts[d] for d in sorted(texts) if texts[d] != EOD_TEXT], add_special_tokens=False)
    expected = dict(zip([d for d in sorted(texts) if texts[d] != EOD_TEXT], ids, strict=True))
    assert all(stage1[d]["n_tokens"] == len(e.ids) + 1 for d, e in expected.items())
    # the token statistics (Delta and manifest) add up to the shards
    stats = [r.asDict() for r in tables.read(spark, str(emitted.workdir), tables.EMIT_TOKEN_STATS).collect()]
    assert sorted(stats, key=lambda r: (r["stage"], r["split"], r["role"], r["lang"], r["source"])) == m["token_stats"]
    for stage in ("stage1", "stage2", "stage3"):
        assert sum(r["tokens"] for r in stats if r["stage"] == stage) == sum(
            s["tokens"] for s in m["shards"] if s["stage"] == stage
        )


def test_splits_come_from_the_doc_id_hash(emitted, rows):
    stage1 = [r for r in rows if r["stage"] == "stage1"]
    n = len(stage1)
    for split, share in (("valid", 0.1), ("test", 0.1)):
        k = sum(r["split"] == split for r in stage1)
        assert abs(k - share * n) < 4 * (n * share * (1 - share)) ** 0.5, (split, k, n)
    split_of = {r["doc_id"]: r["split"] for r in stage1}
    assert all(split_of[r["doc_id"]] == r["split"] for r in rows if r["stage"] != "stage1")
    assert {"stage2", "stage3"} <= {r["stage"] for r in rows}


def test_decoding_gives_back_the_text(emitted, rows, texts, tok):
    m = emitted.manifest
    eod = m["tokenizer"]["eod_id"]
    seqs = {}
    for r in rows:
        seq = np.array(_dataset(m["run_dir"], r["dataset"])[r["seq_index"]])
        assert seq[-1] == eod and eod not in seq[:-1].tolist()
        seqs[(r["stage"], r["doc_id"], r["piece"])] = seq
    for (stage, doc_id, _), seq in seqs.items():
        if stage == "stage1":
            assert tok.decode(seq[:-1].tolist(), skip_special_tokens=False) == texts[doc_id]
    eod_doc = next(d for d, t in texts.items() if t == EOD_TEXT)
    assert tok.decode(seqs[("stage1", eod_doc, 0)][:-1].tolist(), skip_special_tokens=False) == EOD_TEXT
    # stages 2 and 3: a long document's pieces, in order, are its stage-1 tokens; a replayed (rehearsed) one is
    # its stage-1 sequence
    pieces = defaultdict(dict)
    for r in rows:
        if r["stage"] != "stage1":
            pieces[(r["stage"], r["role"], r["doc_id"])][r["piece"]] = seqs[(r["stage"], r["doc_id"], r["piece"])]
    for stage in ("stage2", "stage3"):  # some documents were split in each
        assert any(len(p) > 1 for (st, role, _), p in pieces.items() if (st, role) == (stage, "long"))
    for (_stage, role, doc_id), p in pieces.items():
        whole = seqs[("stage1", doc_id, 0)]
        if role == "long":
            assert sorted(p) == list(range(len(p)))
            joined = np.concatenate([p[i][:-1] for i in range(len(p))])
            assert np.array_equal(joined, whole[:-1])
        else:
            assert len(p) == 1 and np.array_equal(p[0], whole)


def test_stage2_lengths_and_replay_ratio(emitted, rows):
    s2 = emitted.cfg.stage2
    stage1 = {r["doc_id"]: r for r in rows if r["stage"] == "stage1"}
    long = [r for r in rows if r["stage"] == "stage2" and r["role"] == "long"]
    replay = [r for r in rows if r["stage"] == "stage2" and r["role"] == "replay"]
    assert long and replay
    assert all(s2.min_tokens <= r["n_tokens"] <= s2.max_tokens for r in long)
    assert any(r["n_tokens"] > s2.max_tokens for r in stage1.values())  # there was something to split
    assert {r["doc_id"] for r in long} == {d for d, r in stage1.items() if r["n_tokens"] >= s2.min_tokens}
    assert all(stage1[r["doc_id"]]["n_tokens"] < s2.min_tokens for r in replay)
    max_short = max(r["n_tokens"] for r in stage1.values() if r["n_tokens"] < s2.min_tokens)
    checked = []
    for split, info in emitted.manifest["replay"].items():
        lt = sum(r["n_tokens"] for r in long if r["split"] == split)
        rt = sum(r["n_tokens"] for r in replay if r["split"] == split)
        assert (info["long_tokens"], info["replay_tokens"]) == (lt, rt)
        target = s2.replay_ratio / (1 - s2.replay_ratio) * lt
        if info["short_tokens_available"] >= target:  # enough short documents: the target, plus < 2 documents
            assert target <= rt < target + 2 * max_short, (split, rt, target)
            assert info["replay_token_share"] == pytest.approx(s2.replay_ratio, abs=2 * max_short / (lt + rt))
            checked.append(split)
        else:  # too few: every short document of the split is replayed
            assert rt == info["short_tokens_available"]
    assert "train" in checked
    # the manifest's length histogram: per stage and role, the documents and tokens emitted, in the right bins
    hist = emitted.manifest["length_histogram"]
    for stage, role, docs in (
        ("stage1", "all", stage1.values()),
        ("stage2", "long", long),
        ("stage2", "replay", replay),
    ):
        h = [x for x in hist if (x["stage"], x["role"]) == (stage, role)]
        assert sum(x["documents"] for x in h) == len(docs) and sum(x["tokens"] for x in h) == sum(
            r["n_tokens"] for r in docs
        )
        for r in docs:
            assert any(x["min_tokens"] <= r["n_tokens"] < 2 * x["min_tokens"] for x in h)
    assert min(x["min_tokens"] for x in hist if x["role"] == "long") * 2 > s2.min_tokens
    # the blend gives replay exactly its configured share of every split it has
    blend = emitted.blend("stage2")
    for split, items in blend.items():
        weights = dict(zip(items[1::2], items[0::2], strict=True))
        replayed = sum(w for p, w in weights.items() if f"/stage2/{split}/replay/" in p)
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
        if any(r["split"] == split for r in replay):
            assert replayed == pytest.approx(s2.replay_ratio, abs=1e-12)


def _group_weights(blend: dict, split: str) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = defaultdict(float)
    for w, p in zip(blend[split][0::2], blend[split][1::2], strict=True):
        parts = p.split("/")
        stage_at = parts.index("stage1") if "stage1" in parts else parts.index("stage2")
        role = parts[stage_at + 2] if parts[stage_at] == "stage2" else "all"
        lang, source = (parts[-3], parts[-2]) if parts[-1].startswith("part-") else (parts[-2], parts[-1])
        out[(role, lang, source)] += w
    return out


def test_blend_weights_match_the_configured_mix(emitted, rows):
    mult = emitted.cfg.multipliers
    blend = emitted.blend("stage1")
    assert set(blend) == {"train", "valid", "test"}
    for split in blend:
        tokens = defaultdict(int)
        for r in rows:
            if r["stage"] == "stage1" and r["split"] == split:
                tokens[("all", r["lang"], r["source"])] += r["n_tokens"]
        mass = {k: t * mult.factor(k[1], k[2]) for k, t in tokens.items()}
        expected = {k: v / sum(mass.values()) for k, v in mass.items()}
        got = _group_weights(blend, split)
        assert got.keys() == expected.keys()
        for k in expected:
            assert got[k] == pytest.approx(expected[k], rel=1e-12)
    # Korean counts twice, forum half: the Korean news share is 4x the English forum share per token
    t = defaultdict(int)
    for r in rows:
        if r["stage"] == "stage1" and r["split"] == "train":
            t[(r["lang"], r["source"])] += r["n_tokens"]
    got = _group_weights(blend, "train")
    ratio = (got[("all", "ko", "news")] / t[("ko", "news")]) / (got[("all", "en", "forum")] / t[("en", "forum")])
    assert ratio == pytest.approx(4.0)


@pytest.fixture
def megatron_world():
    """One gloo rank of megatron's parallel state; the rendezvous variables it sets are taken back after, so later
    subprocesses (a training run) pick their own port."""
    import os

    from megatron_train import cpu_compat, distributed
    from megatron_train.config import ParallelConfig

    saved = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT")}
    with cpu_compat.enabled():
        layout, created = distributed.init(ParallelConfig(), seed=1234)
        try:
            yield layout
        finally:
            distributed.teardown(created)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def test_gpt_datasets_from_the_blends(megatron_world, emitted, tmp_path):
    """megatron_train reads each blend JSON; BlendedMegatronDatasetBuilder builds GPTDatasets from it whose
    blended sampling follows the blend's weights; the tokenizer folder's EOD is the emitted one."""
    from megatron.core.datasets.blended_dataset import BlendedDataset

    from megatron_train.config import DataConfig
    from megatron_train.data import build_datasets, build_tokenizer, read_blend

    m = emitted.manifest
    for stage in ("stage1", "stage2", "stage3"):
        path = emitted.out / f"{stage}_blend.json"
        cfg = DataConfig(blend=str(path), tokenizer=str(emitted.workdir / "tokenizer" / "model"))
        megatron_tok = build_tokenizer(cfg, model_vocab_size=2048)
        assert megatron_tok.eod == m["tokenizer"]["eod_id"]
        blend = read_blend(cfg)
        n = 400
        train, valid, test = build_datasets(cfg, blend, megatron_tok, seq_length=128, seed=3,
                                            num_samples=(n, 8, 8), cache_dir=str(tmp_path / stage))  # fmt: skip
        assert isinstance(train, BlendedDataset) and len(train) >= n
        prefixes, weights = blend.per_split["train"]
        assert np.allclose(train.weights, np.array(weights) / sum(weights))
        drawn = np.bincount(train.dataset_index[:n], minlength=len(prefixes)) / n
        assert np.abs(drawn - train.weights).max() < 0.02  # megatron's greedy blending tracks the weights
        sample = train[0]
        assert sample["tokens"].shape == (128,) and int(sample["tokens"].max()) < m["tokenizer"]["vocab_size"]
        assert valid is not None and (test is not None or "test" not in blend.per_split)


def test_gate_refusal_emits_nothing(spark, gated_workdir, tmp_path):
    from quality.gates import GateFailed
    from spark_jobs.emit import job
    from spark_jobs.emit.config import EmitConfig

    wd = copy_workdir(gated_workdir, tmp_path / "wd")
    shutil.move(wd / "gates", tmp_path / "gates")
    with pytest.raises(GateFailed, match="no gate result"):
        job.run(spark, str(wd), EmitConfig())
    shutil.move(tmp_path / "gates", wd / "gates")
    one = tables.read(spark, str(wd), tables.TRAINING_CORPUS).limit(1)
    tables.merge(spark, one.withColumn("doc_id", one["doc_id"].substr(1, 8)), str(wd), tables.TRAINING_CORPUS)
    with pytest.raises(GateFailed, match=r"training_corpus is at Delta version 2, but .* validated version 1"):
        job.run(spark, str(wd), EmitConfig())
    assert not (wd / "emit").exists() and not tables.exists(spark, str(wd), tables.EMITTED_DOCUMENTS)


def test_cli_emit_prints_the_token_table(emitted, tmp_path):
    from moru.cli import app

    cfg = tmp_path / "moru.yaml"
    cfg.write_text(json.dumps({"workdir": str(emitted.workdir), "emit": emitted.cfg.model_dump(mode="json")}))
    result = CliRunner().invoke(app, ["emit", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output  # same input, tokenizer and settings: nothing to emit again
    assert "stage1_blend.json" in result.output and "stage2_blend.json" in result.output
    total = sum(r["tokens"] for r in emitted.manifest["token_stats"] if r["stage"] == "stage1")
    assert f"{total:,}" in result.output
