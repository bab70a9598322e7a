"""The post-training emit job on small ``conversations`` / ``preference_pairs`` Delta tables written in their
declared schema: the packed SFT data and the pairs read back with megatron-core's ``IndexedDataset`` and checked
against the references (transformers' ``apply_chat_template(..., return_assistant_tokens_mask=True)`` for ids and
masks, ``render_chat`` for the text), the boundaries partitioning every packed sequence, every row emitted or
rejected with its reason, the manifest, a re-run that does nothing, a forced one that writes the same bytes, and
the gate."""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from quality.gates.result import GateFailed, GateResult
from quality.posttrain.schema import Message
from quality.posttrain.turns import supervised_mask
from spark_jobs import tables
from spark_jobs.emit.layout import Splitter
from spark_jobs.posttrain import emit
from spark_jobs.session import local_frame
from tests.spark_jobs.posttrain.helpers_selection import table_row
from tests.tokenizer.conftest import tiny_cfg, tiny_dir, tiny_tok  # noqa: F401  (the tiny tokenizer)
from tests.tokenizer.test_chat import conversation
from tokenizer.hf import render_chat

SEQ = 2048
CFG = {"input": "normalized", "seq_length": SEQ, "partitions": 2, "split": {"valid": 0.1, "test": 0.0}}
EOT = "[|endofturn|]"


def _m(role: str, content) -> dict:
    return {"role": role, "content": content}


def _sft_specials(long_text: str) -> dict[str, list[dict]]:
    """Rows planted for each outcome (doc_id -> messages)."""
    return {
        "only-user": [_m("user", "답이 없는 질문")],  # no_supervised_turn
        "system-user": [_m("system", "sys"), _m("user", "q")],  # no_supervised_turn
        "narrator": [_m("narrator", "Once upon a time"), _m("assistant", "x")],  # invalid_messages
        "null-content": [_m("user", None), _m("assistant", "x")],  # invalid_messages
        "long-answer": [_m("user", "Tell me everything."), _m("assistant", long_text)],  # truncated
        "long-question": [_m("user", long_text), _m("assistant", "Too late.")],  # no_supervised_tokens_after_truncation
        "control-text": [_m("user", f"What does {EOT} or [|assistant|] mean?"),
                         _m("assistant", f"{EOT} ends a turn; here it is plain text.")],  # fmt: skip
    }


def _pair_rows(rng: random.Random, texts: list[str]) -> list[dict]:
    def snippet() -> str:
        t = rng.choice(texts)
        a = rng.randrange(max(1, len(t) - 10))
        return t[a : a + rng.randint(5, 120)]

    rows = []
    for i in range(60):
        prompt = [_m("user", snippet())]
        if i % 3 == 0:
            prompt = [_m("system", snippet()), *prompt]
        if i % 5 == 0:
            prompt = [_m("user", snippet()), _m("assistant", snippet()), *prompt]
        rows.append({"doc_id": f"pair-{i:03d}", "prompt": prompt, "chosen": [_m("assistant", snippet())],
                     "rejected": [_m("assistant", snippet())], "chosen_score": float(i % 7), "rejected_score":
                     None if i % 4 == 0 else -1.0})  # fmt: skip
    rows.append({"doc_id": "pair-tools", "prompt": [_m("user", "Weather in Seoul?")],
                 "chosen": [_m("assistant", "call: weather(Seoul)"), _m("tool", "맑음, 21°C"),
                            _m("assistant", "서울은 맑고 21도입니다.")],
                 "rejected": [_m("assistant", "I cannot check the weather.")], "chosen_score": 1.0,
                 "rejected_score": 0.0})  # fmt: skip
    rows.append({"doc_id": "pair-tool-only", "prompt": [_m("user", "q")], "chosen": [_m("tool", "x")],
                 "rejected": [_m("assistant", "y")], "chosen_score": None, "rejected_score": None})  # fmt: skip
    rows.append({"doc_id": "pair-too-long", "prompt": [_m("user", " ".join(texts[:40]))],
                 "chosen": [_m("assistant", "a")], "rejected": [_m("assistant", "b")], "chosen_score": None,
                 "rejected_score": None})  # fmt: skip
    return rows


def write_table(spark, workdir: str, table: tables.Table, rows: list[dict]) -> None:
    """Rows in ``table``'s declared schema (columns the test does not name get plain values)."""
    full = [table_row(table, r) for r in rows]
    tables.overwrite(spark, local_frame(spark, full, table.schema), workdir, table)


@dataclass
class Data:
    workdir: Path
    sft: dict[str, dict]  # doc_id -> row
    pairs: dict[str, dict]
    versions: tuple[int, int]  # of conversations and preference_pairs


@pytest.fixture(scope="module")
def data(spark, demo_texts, tiny_dir, tmp_path_factory) -> Data:  # noqa: F811
    import shutil

    rng = random.Random(5)
    wd = tmp_path_factory.mktemp("posttrain_emit") / "wd"
    long_text = " ".join(demo_texts[:30])
    sft = {f"conv-{i:04d}": {"doc_id": f"conv-{i:04d}", "messages": conversation(rng, demo_texts)}
           for i in range(300)}  # fmt: skip
    sft |= {k: {"doc_id": k, "messages": v} for k, v in _sft_specials(long_text).items()}
    for i, row in enumerate(sft.values()):
        row.update(source=("chat_ko", "chat_en", "tools")[i % 3], lang="ko" if i % 2 else "en")
    pairs = {r["doc_id"]: r | {"source": "prefs", "lang": "en"} for r in _pair_rows(rng, demo_texts)}
    write_table(spark, str(wd), tables.CONVERSATIONS, list(sft.values()))
    write_table(spark, str(wd), tables.PREFERENCE_PAIRS, list(pairs.values()))
    shutil.copytree(tiny_dir, wd / "tokenizer" / "model")
    versions = tuple(tables.version(spark, str(wd), t) for t in (tables.CONVERSATIONS, tables.PREFERENCE_PAIRS))
    return Data(wd, sft, pairs, versions)


@dataclass
class Run:
    stats: object
    manifest: dict
    out: Path


@pytest.fixture(scope="module")
def emitted(spark, data) -> Run:
    cfg = emit.PosttrainEmitConfig.model_validate(CFG)
    stats = emit.run(spark, str(data.workdir), cfg)
    out = data.workdir / "posttrain_emit"
    return Run(stats, json.loads((out / "manifest.json").read_text()), out)


@pytest.fixture(scope="module")
def auto(tiny_dir):  # noqa: F811
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_dir))


def _ds(prefix: str):
    from spark_jobs.emit.shards import indexed_dataset

    return indexed_dataset().IndexedDataset(prefix)


def _spans(mask: np.ndarray, bit: int) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (mask == bit).astype(np.int8), [0]])))
    return [tuple(x) for x in edges.reshape(-1, 2).tolist()]


def _decode(auto, ids) -> str:
    return auto.decode([int(i) for i in ids], skip_special_tokens=False)


def _outside(msgs: list[dict], flags: list[bool]) -> str:
    """The rendered text without the supervised spans (what the masked-out tokens must decode to)."""
    out = "[|system|][|endofturn|]\n" if msgs and msgs[0]["role"] != "system" else ""
    for m, f in zip(msgs, flags, strict=True):
        out += f"[|{m['role']}|]"
        out += "\n" if f else m["content"] + ("\n" if m["role"] == "user" else EOT + "\n")
    return out


def _parts(blend: dict) -> list[tuple[str, str]]:
    return [(split, p) for split, flat in blend.items() for p in flat[1::2]]


def test_counts_add_up(emitted, data):
    s = emitted.stats
    assert s.rows_in == len(data.sft) + len(data.pairs) and s.balanced
    assert s.by_reason == {
        "sft: no_supervised_turn": 2, "sft: invalid_messages": 2, "sft: no_supervised_tokens_after_truncation": 1,
        "pairs: no_supervised_turn": 1, "pairs: too_long": 1,
    }  # fmt: skip
    c = emitted.manifest["counts"]
    assert c["sft"]["in"] == len(data.sft) and c["sft"]["out"] == len(data.sft) - 5
    assert c["sft"]["truncated"] == 1
    assert c["sft"]["rejected_doc_ids"]["invalid_messages"] == ["narrator", "null-content"]
    assert c["pairs"]["rejected_doc_ids"] == {"no_supervised_turn": ["pair-tool-only"], "too_long": ["pair-too-long"]}
    assert sum(v["in"] for v in s.by_source.values()) == s.rows_in
    assert s.by_source["prefs"] == {"in": len(data.pairs), "out": len(data.pairs) - 2, "rejected": 2}
    # the manifest traces the data: input versions, tokenizer hash, gate note
    m = emitted.manifest
    assert (m["inputs"]["sft"]["table"], m["inputs"]["sft"]["version"]) == ("conversations", data.versions[0])
    assert (m["inputs"]["pairs"]["table"], m["inputs"]["pairs"]["version"]) == ("preference_pairs", data.versions[1])
    with open(data.workdir / "tokenizer" / "model" / "tokenizer.json", "rb") as fh:
        tj = fh.read()
    with open(data.workdir / "tokenizer" / "model" / "tokenizer_config.json", "rb") as fh:
        assert m["tokenizer"]["sha256"] == hashlib.sha256(tj + fh.read()).hexdigest()
    assert m["gate"]["checked"] is False and "no post-training gate result" in s.extra["notes"][0]


def test_packed_sft_reads_back_with_megatron_core(emitted, data, auto):
    """Every packed sequence through IndexedDataset: tokens, mask and boundaries aligned, each example's ids and
    mask exactly transformers' (the text rendered by render_chat), masked-in tokens decoding to the supervised
    assistant turns' content + [|endofturn|] only and masked-out tokens to everything else."""
    from megatron.core.packed_seq_params import PackedSeqParams

    blend = json.loads((emitted.out / "sft_blend.json").read_text())
    assert set(blend) == {"train", "valid"} and abs(sum(blend["train"][0::2]) - 1) < 1e-9
    seen: dict[str, str] = {}
    tokens_total = sequences = supervised_total = 0
    for split, prefix in _parts(blend):
        tokens, mask, cu = (_ds(f"{prefix}/{n}") for n in ("tokens", "loss_mask", "cu_seqlens"))
        index = pq.read_table(f"{prefix}/examples.parquet").to_pylist()
        assert len(tokens) == len(mask) == len(cu) and len(tokens) > 0
        assert np.array_equal(tokens.sequence_lengths, mask.sequence_lengths)
        by_bin: dict[int, list[dict]] = {}
        for row in index:
            by_bin.setdefault(row["bin"], []).append(row)
        for b in range(len(tokens)):
            ids, m, bounds = tokens[b].astype(np.int64), mask[b], cu[b].astype(np.int64)
            assert bounds[0] == 0 and bounds[-1] == len(ids) <= SEQ and np.all(np.diff(bounds) > 0)
            assert sorted(r["offset"] for r in by_bin[b]) == bounds[:-1].tolist()
            tokens_total += len(ids)
            supervised_total += int(m.sum())
            sequences += 1
            if b == 0:  # what a trainer builds from it: one THD sequence, attention restarting at each example
                params = PackedSeqParams(qkv_format="thd", cu_seqlens_q=bounds, cu_seqlens_kv=bounds,
                                         max_seqlen_q=int(np.diff(bounds).max()))  # fmt: skip
                assert params.cu_seqlens_q[-1] == len(ids)
            for row in by_bin[b]:
                doc_id, lo = row["doc_id"], row["offset"]
                assert doc_id not in seen and Splitter(0.1, 0.0, 0)(doc_id) == split
                seen[doc_id] = split
                seg, seg_mask = ids[lo : lo + row["n_tokens"]], m[lo : lo + row["n_tokens"]]
                assert int(seg_mask.sum()) == row["n_supervised"] and row["n_tokens"] <= SEQ
                msgs = data.sft[doc_id]["messages"]
                flags = supervised_mask([Message.from_dict(x) for x in msgs], "all")
                text = render_chat(msgs)
                if doc_id != "control-text":  # transformers encodes control-token text as control tokens
                    ref = auto.apply_chat_template(msgs, tokenize=True, return_dict=True,
                                                   return_assistant_tokens_mask=True)  # fmt: skip
                    assert seg.tolist() == ref["input_ids"][: len(seg)]
                    assert seg_mask.tolist() == ref["assistant_masks"][: len(seg)]
                if row["truncated"]:
                    assert doc_id == "long-answer" and row["n_tokens"] == SEQ and row["original_tokens"] > SEQ
                    assert text.startswith(_decode(auto, seg[:-1]))  # the last token may split a character
                    continue
                assert _decode(auto, seg) == text
                inside = "".join(_decode(auto, seg[a:b_]) for a, b_ in _spans(seg_mask, 1))
                outside = "".join(_decode(auto, seg[a:b_]) for a, b_ in _spans(seg_mask, 0))
                wanted = [x["content"] + EOT for x, f in zip(msgs, flags, strict=True) if f]
                assert inside == "".join(wanted)
                assert outside == _outside(msgs, flags)
    planted_out = {"only-user", "system-user", "narrator", "null-content", "long-question"}
    assert set(seen) == set(data.sft) - planted_out
    sft = emitted.manifest["sft"]
    assert sft["examples"] == len(seen) and sft["tokens"] == tokens_total and sft["sequences"] == sequences
    assert sft["packing_efficiency"] == pytest.approx(tokens_total / (sequences * SEQ))
    assert sft["packing_efficiency"] > 0.9
    assert sft["mask_share"] == pytest.approx(supervised_total / tokens_total) and 0 < sft["mask_share"] < 1
    assert emitted.stats.extra["sft"]["packing_efficiency"] == sft["packing_efficiency"]


def test_pairs_read_back_aligned(emitted, data, auto):
    blend = json.loads((emitted.out / "pairs_blend.json").read_text())
    n = 0
    for _split, prefix in _parts(blend):
        ds = {name: _ds(f"{prefix}/{name}") for name in emit.PAIR_DATASETS}
        index = pq.read_table(f"{prefix}/pairs.parquet").to_pylist()
        assert {len(d) for d in ds.values()} == {len(index)}
        for i, row in enumerate(index):
            pair = data.pairs[row["doc_id"]]
            assert (row["chosen_score"], row["rejected_score"]) == (pair["chosen_score"], pair["rejected_score"])
            prompt = ds["prompt"][i].astype(np.int64)
            assert _decode(auto, prompt) == render_chat(pair["prompt"], add_generation_prompt=True)
            for side in ("chosen", "rejected"):
                resp, m = ds[side][i].astype(np.int64), ds[f"{side}_loss_mask"][i]
                assert len(resp) == len(m) == row[f"{side}_tokens"]
                whole = auto.apply_chat_template(pair["prompt"] + pair[side], tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=True,
                                                 supervised_turns="last")  # fmt: skip
                assert np.concatenate([prompt, resp]).tolist() == whole["input_ids"]
                assert [0] * len(prompt) + m.tolist() == whole["assistant_masks"]
                inside = "".join(_decode(auto, resp[a:b]) for a, b in _spans(m, 1))
                assert inside == "".join(x["content"] + EOT for x in pair[side] if x["role"] == "assistant")
            n += 1
    assert n == len(data.pairs) - 2 == emitted.manifest["pairs"]["pairs"]


def test_rerun_is_unchanged_and_forced_rerun_is_byte_identical(spark, emitted, data):
    cfg = emit.PosttrainEmitConfig.model_validate(CFG)
    again = emit.run(spark, str(data.workdir), cfg)
    assert again.extra["unchanged"] and again.rows_unchanged == emitted.stats.rows_in and again.rows_in == 0
    forced = emit.run(spark, str(data.workdir), cfg, force=True)
    m2 = json.loads((emitted.out / "manifest.json").read_text())
    assert m2["run_id"] != emitted.manifest["run_id"] and forced.rows_out == emitted.stats.rows_out

    def shas(m):
        return {s["path"]: (s["files"]["bin_sha256"], s["files"]["idx_sha256"]) for s in m["shards"]}

    assert shas(m2) == shas(emitted.manifest) and len(shas(m2)) > 0
    for s in m2["shards"]:  # and the manifest's hashes are the files'
        prefix = emitted.out / "runs" / m2["run_id"] / s["path"]
        assert hashlib.sha256(Path(f"{prefix}.bin").read_bytes()).hexdigest() == s["files"]["bin_sha256"]
    assert sorted(p.name for p in (emitted.out / "runs").iterdir()) == sorted({emitted.manifest["run_id"],
                                                                               m2["run_id"]})  # fmt: skip


def _gate(workdir: Path, passed: bool, versions: dict[str, int]) -> None:
    from quality.gates.result import TableGate

    gates = {n: TableGate(n, v, 1, passed) for n, v in versions.items()}
    result = GateResult(passed=passed, run_time="2026-01-01T00:00:00+0000", tables=gates, data_docs_index="docs",
                        config_fingerprint="f")  # fmt: skip
    path = Path(emit.gate_result_uri(str(workdir)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.to_json(), encoding="utf-8")


def test_gate(tmp_path):
    versions = {"conversations": 3, "preference_pairs": 1}
    assert emit.check_gate(str(tmp_path), "auto", versions)["checked"] is False
    assert emit.check_gate(str(tmp_path), "never", versions)["checked"] is False
    with pytest.raises(GateFailed, match="no post-training gate result"):
        emit.check_gate(str(tmp_path), "always", versions)
    _gate(tmp_path, False, versions)
    for mode in ("auto", "always"):
        with pytest.raises(GateFailed, match="failed"):
            emit.check_gate(str(tmp_path), mode, versions)
    _gate(tmp_path, True, {"conversations": 2, "preference_pairs": 1})
    with pytest.raises(GateFailed, match="conversations is at Delta version 3, but .* validated 2"):
        emit.check_gate(str(tmp_path), "always", versions)
    _gate(tmp_path, True, versions)
    got = emit.check_gate(str(tmp_path), "always", versions)
    assert got["checked"] and got["table_versions"] == versions


def test_no_input_tables_halts(spark, tmp_path):
    from core.job import Halt

    with pytest.raises(Halt, match="no sft_corpus or preference_corpus table"):
        emit.run(spark, str(tmp_path), emit.PosttrainEmitConfig())


def test_job_declaration():
    from spark_jobs.config import JobsConfig

    job = emit.JOB
    assert job.name == "posttrain_emit" and job.cli_command == "posttrain emit" and job.loads_tokenizer
    assert job.skip_reason(JobsConfig(workdir="/tmp/x")) == "posttrain.sources is empty"
    assert emit.PosttrainEmitConfig().seq_length == 4096
    assert emit.PosttrainEmitConfig().fingerprint() != emit.PosttrainEmitConfig(supervise="last").fingerprint()
