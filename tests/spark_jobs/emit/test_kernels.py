"""Emission's kernels without Spark: pieces of long documents, the end-of-document token, megatron-core's dtype
rule, read-back verification catching damaged shards, blend weights, and the config's checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spark_jobs.emit import blend, shards
from spark_jobs.emit.config import EmitConfig, MultipliersConfig, Stage2Config, Stage3Config


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=4, max_value=40_000), st.integers(min_value=2, max_value=200_000))
def test_pieces_cover_the_document_and_fit(max_tokens, n_tokens):
    bounds = shards.piece_bounds(n_tokens, max_tokens)
    content = n_tokens - 1
    assert bounds[0][0] == 0 and bounds[-1][1] == content  # every content token, in order, once
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    sizes = [b - a + 1 for a, b in bounds]  # with each piece's end-of-document token
    assert max(sizes) <= max(max_tokens, n_tokens if n_tokens <= max_tokens else 0)
    if n_tokens > max_tokens:
        assert len(bounds) == -(-content // (max_tokens - 1))  # the fewest pieces that fit
        assert max(sizes) - min(sizes) <= 1
        assert min(sizes) >= max_tokens // 2  # why stage2.min_tokens may be at most max_tokens // 2
    else:
        assert bounds == [(0, content)]


def test_with_eod_puts_one_token_after_each_document():
    flat = np.array([5, 6, 7, 8, 9, 10], dtype=np.int64)
    out, ends = shards.with_eod(flat, np.array([2, 3, 1]), eod=2, dtype=np.dtype(np.uint16))
    assert out.tolist() == [5, 6, 2, 7, 8, 9, 2, 10, 2] and out.dtype == np.uint16
    assert ends.tolist() == [3, 7, 9]


def test_dtype_follows_megatron_core():
    from megatron.core.datasets.indexed_dataset import DType

    for vocab in (1500, 65_499, 65_500, 102_400):
        assert shards.token_dtype(vocab) == np.dtype(DType.optimal_dtype(vocab))
    assert shards.token_dtype(65_499) == np.uint16 and shards.token_dtype(102_400) == np.int32


def _folder(path: Path, n_words: int) -> Path:
    """A word-level HF tokenizer folder (fast to build at any vocabulary size) whose eos is [|endofturn|]."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[BOS]", "[EOS]", "[UNK]", "[|endofturn|]"]
    vocab = {t: i for i, t in enumerate(specials + [f"w{i}" for i in range(n_words)])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="[|endofturn|]", unk_token="[UNK]")
    fast.save_pretrained(str(path))
    return path


def test_a_102400_token_vocabulary_is_written_as_int32(tmp_path):
    info = shards.read_tokenizer(_folder(tmp_path / "tok", 102_395))
    assert (info.vocab_size, info.eod_token, info.eod_id, info.dtype) == (102_400, "[|endofturn|]", 4, "int32")
    tok = shards.load_tokenizer(info.json_text, info.sha256)
    flat, lengths = shards.encode(tok, ["w102394 w70000 w1", "w65536"])
    assert flat.tolist() == [102_399, 70_005, 6, 65_541] and lengths.tolist() == [3, 1]
    tokens, ends = shards.with_eod(flat, lengths, info.eod_id, np.dtype(info.dtype))
    writer = shards.ShardWriter(str(tmp_path / "s"), np.dtype(info.dtype))
    writer.add_many(tokens, ends)
    writer.finish()
    ds = shards.read_dataset(str(tmp_path / "s"))
    assert ds.index.dtype == np.int32 and ds[0].tolist() == [102_399, 70_005, 6, 4] and ds[1].tolist() == [65_541, 4]
    got = shards.verify(str(tmp_path / "s"), shards.Expected(2, 6, 4 + 2 * 2), 4, np.dtype(np.int32))
    assert got["bin_bytes"] == 6 * 4


def test_special_token_text_is_not_the_special_token(tmp_path):
    """A document that spells the end-of-document token gets no end-of-document id: the tokenizer matches
    special tokens only where emission does not ask it to (encode_special_tokens), and moru's split pattern cuts
    the spelled token into pieces the BPE cannot merge back into it."""
    from tokenizer import bbpe, hf
    from tokenizer.config import TokenizerConfig

    cfg = TokenizerConfig(vocab_size=400)
    texts = ["end of turn [|endofturn|] and more text", "대화가 끝나면 [|endofturn|] 토큰"] * 50
    info = shards.read_tokenizer(hf.save(bbpe.train(texts, cfg), cfg, tmp_path / "tok", {}))
    assert info.eod_token == "[|endofturn|]"
    tok = shards.load_tokenizer(info.json_text, info.sha256)
    flat, _ = shards.encode(tok, texts[:2])
    assert info.eod_id not in flat.tolist()
    assert tok.decode(flat.tolist()) == "".join(texts[:2])
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(info.json_text)  # without encode_special_tokens the id would appear
    assert info.eod_id in plain.encode(texts[0], add_special_tokens=False).ids


def _write(prefix: Path, docs: list[list[int]], eod: int = 2) -> shards.Expected:
    writer = shards.ShardWriter(str(prefix), np.dtype(np.uint16))
    for d in docs:
        writer.add(np.array([*d, eod], dtype=np.uint16))
    writer.finish()
    lengths = [len(d) + 1 for d in docs]
    return shards.Expected(len(docs), sum(lengths), sum((i + 1) * n for i, n in enumerate(lengths)))


def test_verify_catches_damaged_shards(tmp_path):
    docs = [[5, 6, 7], [8], [9, 10, 11, 12, 13]]
    expected = _write(tmp_path / "ok", docs)
    got = shards.verify(str(tmp_path / "ok"), expected, 2, np.dtype(np.uint16))
    assert got["bin_bytes"] == 12 * 2 and len(got["bin_sha256"]) == 64

    with pytest.raises(shards.ShardError, match="3 sequences, expected 4"):
        shards.verify(str(tmp_path / "ok"), shards.Expected(4, 12, expected.moment), 2, np.dtype(np.uint16))
    # same documents, same total, another order: the moment differs
    swapped = _write(tmp_path / "swapped", [docs[2], docs[1], docs[0]])
    assert swapped.tokens == expected.tokens
    with pytest.raises(shards.ShardError, match="other order or sizes"):
        shards.verify(str(tmp_path / "swapped"), expected, 2, np.dtype(np.uint16))
    # a .bin cut short (a crash mid-write that left an index behind)
    _write(tmp_path / "cut", docs)
    with open(tmp_path / "cut.bin", "r+b") as fh:
        fh.truncate(20)
    with pytest.raises(shards.ShardError, match=r"\.bin holds 20 bytes, expected 24"):
        shards.verify(str(tmp_path / "cut"), expected, 2, np.dtype(np.uint16))
    # an end-of-document token missing at the end of a document
    _write(tmp_path / "noeod", docs)
    data = np.memmap(tmp_path / "noeod.bin", dtype=np.uint16, mode="r+")
    data[3] = 99
    data.flush()
    del data
    with pytest.raises(shards.ShardError, match="does not end with the end-of-document token"):
        shards.verify(str(tmp_path / "noeod"), expected, 2, np.dtype(np.uint16))
    # an end-of-document token inside a document
    _write(tmp_path / "inner", [[5, 2, 7], [8], [9, 10, 11, 12, 13]])
    with pytest.raises(shards.ShardError, match="appears inside a document"):
        shards.verify(str(tmp_path / "inner"), expected, 2, np.dtype(np.uint16))
    # not an index at all
    (tmp_path / "junk.idx").write_bytes(b"not an index, just bytes that are long enough")
    (tmp_path / "junk.bin").write_bytes(b"")
    with pytest.raises(shards.ShardError, match="not an MMIDIDX index"):
        shards.verify(str(tmp_path / "junk"), expected, 2, np.dtype(np.uint16))


def test_merge_concatenates_in_order(tmp_path):
    a = _write(tmp_path / "a", [[5, 6], [7]])
    b = _write(tmp_path / "b", [[8, 9, 10]])
    shards.merge([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "ab"), np.dtype(np.uint16))
    ds = shards.read_dataset(str(tmp_path / "ab"))
    assert [ds[i].tolist() for i in range(len(ds))] == [[5, 6, 2], [7, 2], [8, 9, 10, 2]]
    moment = a.moment + b.moment + a.documents * b.tokens
    shards.verify(str(tmp_path / "ab"), shards.Expected(3, a.tokens + b.tokens, moment), 2, np.dtype(np.uint16))


def _d(stage, split, role, lang, source, tokens):
    return blend.Dataset(stage, split, role, lang, source, f"/r/{stage}/{split}/{role}/{lang}/{source}", 1, tokens)


def test_blend_weights_are_tokens_times_multipliers():
    mult = MultipliersConfig(lang={"ko": 2.0}, source={"spam": 0.0})
    ds = [_d("stage1", "train", "all", "ko", "news", 100), _d("stage1", "train", "all", "en", "news", 300),
          _d("stage1", "train", "all", "en", "spam", 500), _d("stage1", "valid", "all", "en", "news", 10)]  # fmt: skip
    b = blend.stage1_blend(ds, mult)
    assert set(b) == {"train", "valid"}  # no test split emitted: none in the blend
    w = blend.weights_by_prefix(b)
    assert w[("train", "/r/stage1/train/all/ko/news")] == pytest.approx(200 / 500)
    assert w[("train", "/r/stage1/train/all/en/news")] == pytest.approx(300 / 500)
    assert ("train", "/r/stage1/train/all/en/spam") not in w  # multiplier 0: left out
    assert w[("valid", "/r/stage1/valid/all/en/news")] == 1.0
    assert b["train"][1::2] == sorted(b["train"][1::2])  # a stable order

    s2 = [_d("stage2", "train", "long", "ko", "news", 50), _d("stage2", "train", "long", "en", "news", 150),
          _d("stage2", "train", "replay", "en", "news", 40), _d("stage2", "valid", "replay", "en", "news", 5),
          _d("stage2", "test", "long", "en", "news", 7)]  # fmt: skip
    b2 = blend.stage2_blend(s2, mult, replay_ratio=0.3)
    w2 = blend.weights_by_prefix(b2)
    assert w2[("train", "/r/stage2/train/replay/en/news")] == pytest.approx(0.3)
    assert w2[("train", "/r/stage2/train/long/ko/news")] == pytest.approx(0.7 * 100 / 250)
    assert "valid" not in b2  # no long documents in valid: nothing to extend context on
    assert w2[("test", "/r/stage2/test/long/en/news")] == 1.0  # no replay in test: the long ones get it all

    # stage 3: the same rule over its own datasets (long / rehearsal), in stage 2's format
    s3 = [_d("stage3", "train", "long", "ko", "news", 300), _d("stage3", "train", "long", "en", "news", 100),
          _d("stage3", "train", "rehearsal", "en", "news", 60), _d("stage3", "train", "rehearsal", "en", "web", 40),
          _d("stage3", "valid", "rehearsal", "en", "news", 5)]  # fmt: skip
    b3 = blend.stage3_blend(s2 + s3, mult, rehearsal_share=0.2)
    w3 = blend.weights_by_prefix(b3)
    assert set(b3) == {"train"} and all("/stage3/" in p for p in b3["train"][1::2])  # stage 2's datasets not in it
    assert w3[("train", "/r/stage3/train/long/ko/news")] == pytest.approx(0.8 * 600 / 700)
    assert w3[("train", "/r/stage3/train/rehearsal/en/news")] == pytest.approx(0.2 * 60 / 100)
    assert sum(w3.values()) == pytest.approx(1.0)
    assert blend.stage3_blend(s3, mult, rehearsal_share=0.0)["train"][0::2] == pytest.approx([1 / 7, 6 / 7])  # en, ko


def test_config_errors_name_the_key(tmp_path):
    from spark_jobs.config import ConfigError, load_jobs_config

    with pytest.raises(ValueError, match=r"min_tokens \(20000\) must be at most max_tokens // 2 \(16384\)"):
        Stage2Config(min_tokens=20_000)
    cfg = tmp_path / "moru.yaml"
    cfg.write_text(json.dumps({"workdir": "w", "emit": {"stage2": {"min_tokens": 9000, "max_tokens": 16000},
                                                        "multipliers": {"lang": {"ko": -1}}}}))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_jobs_config(cfg)
    assert "emit.stage2: Value error, min_tokens (9000)" in str(err.value)
    assert "emit.multipliers: Value error, lang.ko: a multiplier cannot be negative" in str(err.value)
    cfg.write_text(json.dumps({"workdir": "w", "emit": {"output": "out", "tokenizer": "tok"}}))
    loaded = load_jobs_config(cfg)
    assert loaded.emit.output == str(tmp_path / "out") and loaded.emit.tokenizer == str(tmp_path / "tok")
    # what decides the bytes is in the fingerprint; where they go and batch sizes are not
    base = EmitConfig()
    assert EmitConfig(output="/x", batch_docs=7, keep_runs=5).fingerprint() == base.fingerprint()
    assert EmitConfig(partitions=9).fingerprint() != base.fingerprint()
    assert EmitConfig(stage2={"replay_ratio": 0.1}).fingerprint() != base.fingerprint()
    # stage 3 off (the default) is not in the fingerprint, whatever its other keys say: configs from before it
    # existed keep theirs; on, its settings are
    assert not base.stage3.enabled
    assert EmitConfig(stage3={"min_doc_tokens": 1000}).fingerprint() == base.fingerprint()
    on = EmitConfig(stage3={"enabled": True})
    assert on.fingerprint() != base.fingerprint() != EmitConfig(stage3={"enabled": True, "seed": 1}).fingerprint()
    assert [s.stage for s in on.extension_stages()] == ["stage2", "stage3"]
    assert [s.stage for s in base.extension_stages()] == ["stage2"]


def test_stage3_config():
    s3 = Stage3Config()
    assert (s3.enabled, s3.min_doc_tokens, s3.max_doc_tokens) == (False, 32_768, 262_144)
    assert (s3.long_share, s3.rehearsal_share) == (0.7, 0.3)
    # one share given: the other is the rest; both: they must add up to 1
    assert Stage3Config(rehearsal_share=0.1).long_share == pytest.approx(0.9)
    assert Stage3Config(long_share=1.0).rehearsal_share == 0.0
    assert Stage3Config(long_share=0.6, rehearsal_share=0.4).long_share == 0.6
    with pytest.raises(ValueError, match=r"long_share \(0.5\) \+ rehearsal_share \(0.2\) must be 1"):
        Stage3Config(long_share=0.5, rehearsal_share=0.2)
    for bad in ({"rehearsal_share": 1.0}, {"rehearsal_share": -0.1}, {"long_share": 0.0}, {"long_share": 1.5}):
        with pytest.raises(ValueError, match="long_share|rehearsal_share"):
            Stage3Config(**bad)
    with pytest.raises(ValueError, match=r"min_doc_tokens \(200000\) must be at most max_doc_tokens // 2"):
        Stage3Config(min_doc_tokens=200_000)
    with pytest.raises(ValueError, match="Extra inputs"):
        Stage3Config(min_tokens=4)
    # stage 3 goes on from stage 2: it needs it, with longer long documents
    with pytest.raises(ValueError, match="stage3 is enabled but stage2 is not"):
        EmitConfig(stage2={"enabled": False}, stage3={"enabled": True})
    with pytest.raises(ValueError, match=r"stage3.min_doc_tokens \(4096\) must be above stage2.min_tokens \(4096\)"):
        EmitConfig(stage3={"enabled": True, "min_doc_tokens": 4096, "max_doc_tokens": 8192})
    assert not EmitConfig(stage2={"enabled": False}).stage3.enabled  # off, stage 3's keys are not checked against it


def test_stage3_config_errors_at_config_time(tmp_path):
    from spark_jobs.config import ConfigError, load_jobs_config

    cfg = tmp_path / "moru.yaml"
    cfg.write_text(json.dumps({"workdir": "w", "emit": {"stage3": {"enabled": True, "long_share": 0.9,
                                                                   "rehearsal_share": 0.3}}}))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_jobs_config(cfg)
    assert "emit.stage3: Value error, long_share (0.9) + rehearsal_share (0.3) must be 1" in str(err.value)
    cfg.write_text(json.dumps({"workdir": "w", "emit": {"stage2": {"enabled": False}, "stage3": {"enabled": True}}}))
    with pytest.raises(ConfigError, match="stage3 is enabled but stage2 is not"):
        load_jobs_config(cfg)


def test_partitions_are_equal_runs_of_rows_and_read_row_ranges(tmp_path):
    """The files path: rows of the files end to end cut into equal runs; a run is read from the row groups it
    overlaps only, giving exactly its rows in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spark_jobs.emit.inputs import split_rows
    from spark_jobs.emit.tasks import _read_files

    sizes = {"a": 23, "b": 5, "c": 40}
    files = []
    for name, n in sizes.items():
        ids = [f"{name}{i:03d}" for i in range(n)]
        table = pa.table({"doc_id": ids, "source": ["s"] * n, "lang": ["en"] * n, "text": [f"t {i}" for i in ids],
                          "extra": list(range(n))})  # fmt: skip
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=7)
        files.append((str(tmp_path / f"{name}.parquet"), n))
    everything = [f"{name}{i:03d}" for name, n in sizes.items() for i in range(n)]
    for partitions in (1, 3, 5, 68, 70):
        groups = split_rows(files, partitions)
        runs = [[d for b in _read_files(g, batch_docs=4) for d in b.column("doc_id").to_pylist()] for g in groups]
        assert [d for run in runs for d in run] == everything
        assert max(map(len, runs)) - min(map(len, runs)) <= 1
        assert all(b.num_rows <= 4 and b.schema.names == ["doc_id", "source", "lang", "text"]
                   for g in groups for b in _read_files(g, batch_docs=4))  # fmt: skip


@pytest.mark.parametrize(
    ("run_uri", "expected"),
    [
        ("/data/emit/runs/r1", "/data/emit/runs/r1/stage1/train/ko/news/part-00000"),
        ("dbfs:/mnt/lake/emit/runs/r1", "/dbfs/mnt/lake/emit/runs/r1/stage1/train/ko/news/part-00000"),
        ("s3://bucket/emit/runs/r1", "s3://bucket/emit/runs/r1/stage1/train/ko/news/part-00000"),
        (
            "s3://KEY:SECRET@bucket/emit/runs/r1?endpoint_override=http://minio:9000&region=eu-west-1",
            "s3://bucket/emit/runs/r1/stage1/train/ko/news/part-00000",
        ),
    ],
)
def test_blend_prefixes_per_storage(run_uri, expected):
    """What a blend names: a local path (dbfs:/ through the /dbfs mount), else the object key without the keys
    or pyarrow's options; joining keeps the options at the end for pyarrow."""
    from core import storage
    from spark_jobs.emit.job import _blend_prefix

    path = "stage1/train/ko/news/part-00000"
    assert _blend_prefix(run_uri, path) == expected
    joined = storage.join(run_uri, path)
    base, options = storage.split_options(run_uri)
    assert joined == storage.join(base, path) + options
    assert storage.suffixed(joined, ".json") == storage.join(base, path) + ".json" + options
