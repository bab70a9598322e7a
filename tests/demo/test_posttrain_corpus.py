"""The demo's post-training sources: the same seed gives the same bytes, every planted malformed record is rejected
by the readers (core.formats, then quality.posttrain.readers.read_record) with exactly its planted reason and nothing
else is, counts add up, and the planted ground truth (benchmark examples, duplicate prompts, refusals, template
leftovers, language mismatches) is there and nowhere else."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core import formats
from demo.benchmark import benchmark_examples, write_benchmark
from demo.posttrain import PAIR_SOURCES, SFT_SOURCES, SOURCES, conversations, generate
from quality.decontam import normalize_for_matching
from quality.dedup.canonical import CanonicalForm, content_hash
from quality.dedup.shingles import jaccard, shingles
from quality.posttrain.readers import MessagesConfig, read_record
from quality.posttrain.schema import Conversation, doc_id
from quality.posttrain.signals import refusal_signals, template_markers
from quality.posttrain.validate import REASONS
from quality.substrings import window_hashes
from spark_jobs.posttrain.config import PosttrainConfig

READER_REASONS = {"invalid_json": "invalid_json", "invalid_utf8": "invalid_utf8", "blank_line": "blank_line",
                  "corrupt_record": "corrupt_record", "corrupt_file": "corrupt_file"}  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("posttrain")
    manifest = generate(out, seed=1)
    return manifest, read_all(manifest)


def read_all(manifest):
    """Every file of every source through core.formats and read_record, as ingest reads them: (rejections
    {(source, file, index): reason}, accepted [(source, file, index, doc_ids, items)])."""
    cfg = PosttrainConfig(sources=manifest.sources)
    rejected: dict[tuple[str, str, int], str] = {}
    accepted: list[tuple[str, str, int, list[str], tuple]] = []
    for src in cfg.sources:
        listing = formats.list_files(str(src.path))
        assert not listing.skipped
        for f in listing.files:
            data = Path(f.path).read_bytes()
            for item in formats.iter_records(src.format, data, formats.detect_compression(f.relpath)):
                where = (src.name, f.relpath, item.index)
                if isinstance(item, formats.Problem):
                    rejected[where] = READER_REASONS[item.kind]
                    continue
                outcome = read_record(item.value, src.layout)
                if outcome.rejection is not None:
                    rejected[where] = outcome.rejection.reason
                else:
                    accepted.append((*where, [doc_id(src.name, k) for k in outcome.keys], outcome.items))
    return rejected, accepted


def _items(accepted) -> dict[str, object]:
    """doc_id -> item of the accepted records (ingest keeps the first of a repeated key)."""
    out: dict[str, object] = {}
    for *_, ids, items in accepted:
        for did, item in zip(ids, items, strict=True):
            out.setdefault(did, item)
    return out


def _digest(root: Path) -> str:
    h = hashlib.sha1()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = generate(tmp_path / "a", seed=5, n_conversations=150, n_pairs=90)
    b = generate(tmp_path / "b", seed=5, n_conversations=150, n_pairs=90)
    generate(tmp_path / "c", seed=6, n_conversations=150, n_pairs=90)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    strip = lambda m: json.loads(m.to_json().replace(str(tmp_path / "a"), "X").replace(str(tmp_path / "b"), "X"))  # noqa: E731
    assert strip(a) == strip(b)
    assert (a.conversations, a.pairs) == (150, 90)
    # a second run over the same folder replaces the files: same bytes again
    generate(tmp_path / "a", seed=5, n_conversations=150, n_pairs=90)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_every_planted_record_is_rejected_with_its_reason_and_nothing_else(generated):
    manifest, (rejected, accepted) = generated
    planted = {(m["source"], m["file"], m["index"]): m["reason"] for m in manifest.malformed if m["stage"] != "ingest"}
    assert rejected == planted
    # every rejection code of the layout readers, by read_record itself; the reader problems by core.formats
    by_stage = Counter((m["stage"], m["reason"]) for m in manifest.malformed)
    assert {reason for stage, reason in by_stage if stage == "layout"} == set(REASONS)
    assert {reason for stage, reason in by_stage if stage == "reader"} == set(READER_REASONS)
    assert by_stage["reader", "corrupt_file"] == 1  # the cut-off gzip file
    # a repeated key: read_record accepts it, and every row it gives was given by an earlier record of its source
    repeats = {(m["source"], m["file"], m["index"]) for m in manifest.malformed if m["stage"] == "ingest"}
    assert len(repeats) == 2
    seen: set[tuple[str, str]] = set()
    order = sorted(accepted, key=lambda a: (a[0], a[1], a[2]))
    for source, file, index, ids, _ in order:
        keys = {(source, did) for did in ids}
        if (source, file, index) in repeats:
            assert keys <= seen
        else:
            assert not keys & seen, f"an unplanted repeated key in {source}/{file}#{index}"
        seen |= keys


def test_counts_add_up(generated):
    manifest, (rejected, accepted) = generated
    for name in SOURCES:
        quarantined = sum(manifest.quarantined[name].values())
        assert manifest.records[name] == manifest.accepted[name] + quarantined
        got_rejected = sum(1 for (s, *_), _ in rejected.items() if s == name)
        got_accepted = [a for a in accepted if a[0] == name]
        assert got_rejected + len(got_accepted) == manifest.records[name]
        repeats = manifest.quarantined[name].get("duplicate_record_key", 0)
        assert len(got_accepted) == manifest.accepted[name] + repeats
        assert manifest.quarantined[name] == dict(
            sorted(Counter(m["reason"] for m in manifest.malformed if m["source"] == name).items())
        )
    items = _items(accepted)
    assert manifest.conversations == 400 and manifest.pairs == 240
    assert sum(isinstance(i, Conversation) for i in items.values()) == manifest.conversations
    assert len(items) == manifest.conversations + manifest.pairs == len(manifest.langs)
    assert set(items) == set(manifest.langs)
    assert sum(manifest.items[s] for s in SFT_SOURCES) == manifest.conversations
    assert sum(manifest.items[s] for s in PAIR_SOURCES) == manifest.pairs
    assert sum(manifest.rejected.values()) == len(manifest.malformed)


def _turn_texts(item) -> list[tuple[str, str]]:
    """(where, text) of every turn: SFT turns by role, pair turns by part."""
    if isinstance(item, Conversation):
        return [(f"{m.role}_turn", m.content) for m in item.messages]
    return [(part, m.content) for part in ("prompt", "chosen", "rejected") for m in getattr(item, part)]


def test_benchmark_examples_are_where_they_were_planted_and_nowhere_else(generated):
    manifest, (_, accepted) = generated
    items = _items(accepted)
    examples = [json.loads(line) for line in Path(manifest.benchmark["path"]).read_text().splitlines()]
    windows = {i: set(window_hashes(normalize_for_matching(f"{e['question']}\n{e['answer']}"), 50).tolist())
               for i, e in enumerate(examples)}  # fmt: skip
    every = set().union(*windows.values())
    planted = {p["doc_id"]: p for p in manifest.contaminated}
    assert len(planted) == len(manifest.contaminated) == 14
    assert {p["where"] for p in planted.values()} == {"user_turn", "assistant_turn", "prompt", "chosen", "rejected"}
    assert {p["kind"] for p in planted.values()} == {"whole", "partial", "perturbed"}
    for did, item in items.items():
        hits = [(where, i) for i, (where, text) in enumerate(_turn_texts(item))
                if every.intersection(window_hashes(normalize_for_matching(text), 50).tolist())]  # fmt: skip
        if did not in planted:
            assert not hits, f"{did} shares a 50-character substring with a benchmark example"
            continue
        p = planted[did]
        example = windows[int(p["example_id"].rsplit("#", 1)[1])]
        assert [where for where, _ in hits] == [p["where"]]
        turns = _turn_texts(item)
        text = turns[hits[0][1]][1]
        assert example.intersection(window_hashes(normalize_for_matching(text), 50).tolist())
        if isinstance(item, Conversation):
            assert hits[0][1] == p["turn"]


def _first_user(item) -> str:
    return next(m.content for m in item.messages if m.role == "user")


def _pair_key(item) -> str:
    return "\n".join(m.content for m in (*item.prompt, *item.chosen))


def test_duplicate_prompts_are_the_planted_groups(generated):
    manifest, (_, accepted) = generated
    items = _items(accepted)
    form = CanonicalForm(lowercase=True, whitespace="remove")  # posttrain dedup's default canonical form
    convs = {d: _first_user(i) for d, i in items.items() if isinstance(i, Conversation)}
    pairs = {d: _pair_key(i) for d, i in items.items() if not isinstance(i, Conversation)}
    kinds = Counter((g["key"], g["kind"]) for g in manifest.duplicate_groups)
    assert kinds == {("first_user", "exact"): 3, ("first_user", "respaced_ko"): 2, ("first_user", "recased_en"): 2,
                     ("pair", "exact"): 1, ("pair", "respaced_ko"): 1, ("pair", "recased_en"): 1}  # fmt: skip
    grouped = set()
    for g in manifest.duplicate_groups:
        texts = [(convs if g["key"] == "first_user" else pairs)[d] for d in g["members"]]
        assert len({content_hash(t, form) for t in texts}) == 1, g
        if g["kind"] == "exact":
            assert len(set(texts)) == 1
        else:
            assert len(set(texts)) == len(texts)  # different as written, the same once canonical
        grouped.update(g["members"])
    for texts in (convs, pairs):
        rest = {d: t for d, t in texts.items() if d not in grouped}
        hashes = Counter(content_hash(t, form) for t in rest.values())
        assert max(hashes.values()) == 1, "an unplanted exact duplicate"
        # and no unplanted near duplicate at posttrain dedup's threshold (Jaccard of its shingles)
        sh = {d: shingles(t, 5, "char", 12) for d, t in rest.items()}
        worst = max(jaccard(sh[a], sh[b]) for a, b in itertools.combinations(sh, 2))
        assert worst < 0.8, worst


def _last_user(msgs) -> str:
    return next(m.content for m in reversed(msgs) if m.role == "user")


def _response(item) -> str:
    return item.messages[-1].content if isinstance(item, Conversation) else item.chosen[-1].content


def test_refusals_and_template_leftovers_are_the_planted_ones(generated):
    manifest, (_, accepted) = generated
    items = _items(accepted)
    refusals = {r["doc_id"]: r["where"] for r in manifest.refusals}
    leftovers = {t["doc_id"]: t for t in manifest.template_leftovers}
    assert Counter(refusals.values()) == {"response": 4, "rejected": 2}
    assert {t["where"] for t in leftovers.values()} == {"prompt", "response"}
    assert {"### Instruction:", "<|im_start|>"} <= {t["marker"] for t in leftovers.values()}
    for did, item in items.items():
        texts = {"response": _response(item)}
        if not isinstance(item, Conversation):
            texts["rejected"] = item.rejected[-1].content
        found = {where for where, text in texts.items() if refusal_signals(text)["refusal"]}
        assert found == ({refusals[did]} if did in refusals else set()), did
        if isinstance(item, Conversation):
            prompt = sum(template_markers(m.content) for m in item.messages[:-1])
            response = template_markers(item.messages[-1].content)
        else:
            prompt = sum(template_markers(m.content) for m in item.prompt)
            response = sum(template_markers(m.content) for m in (*item.chosen, *item.rejected))
        expected = leftovers.get(did, {}).get("where")
        assert (prompt > 0, response > 0) == (expected == "prompt", expected == "response"), did


def test_language_mismatch_is_the_planted_one(generated):
    from quality.langid import LangIdConfig, identify
    from quality.posttrain.signals import language_signals

    manifest, (_, accepted) = generated
    items = _items(accepted)
    ids = list(items)
    # the last question (the last user turn before the response) against the response, as posttrain normalize does
    prompts = [_last_user(items[d].messages if isinstance(items[d], Conversation) else items[d].prompt) for d in ids]
    responses = [_response(items[d]) for d in ids]
    cfg = LangIdConfig()
    labels = language_signals(prompts, responses, lambda texts: [r[0] for r in identify(list(texts), cfg)])
    flagged = {d for d, s in zip(ids, labels, strict=True) if s["lang_mismatch"]}
    assert flagged == set(manifest.lang_mismatch)
    assert len(flagged) == 5
    assert all(manifest.langs[d] == "ko" for d in flagged)
    assert set(manifest.langs.values()) == {"ko", "en", "ko+en"}


def test_a_given_benchmark_file_is_planted_from(tmp_path):
    import random

    path = tmp_path / "bench" / "my_bench.jsonl"
    write_benchmark(path, benchmark_examples(random.Random(9), 30))
    manifest = generate(tmp_path / "out", seed=2, n_conversations=120, n_pairs=80, benchmark=path)
    assert manifest.benchmark["path"] == str(path)
    assert manifest.benchmark["config"]["preset"] == "gsm8k"
    assert all(p["example_id"].startswith("my_bench.jsonl#") for p in manifest.contaminated)
    assert not (tmp_path / "out" / "posttrain" / "benchmarks").exists()
    with pytest.raises(ValueError, match="at least"):
        generate(tmp_path / "small", n_conversations=50)


def test_benchmark_conversations_are_clean_and_deterministic():
    convs = conversations(300, seed=4)
    assert convs == conversations(300, seed=4) != conversations(300, seed=5)
    cfg = MessagesConfig(max_chars=10**6)
    for conv in convs:
        assert read_record({"messages": conv}, cfg).rejection is None
    turns = np.array([sum(m["role"] == "assistant" for m in c) for c in convs])
    assert turns.min() == 1 and turns.max() >= 3
