"""``moru demo --languages``: the de/ja/vi documents (demo.languages) and the default corpus left as it was."""

from __future__ import annotations

import hashlib
from collections import Counter

import orjson
import pytest

from demo.languages import generate, parse_languages
from moru.config import load_config
from quality.langid import LangIdConfig, identify
from quality.signals.compute import document_signals

FIVE = ["ko", "en", "de", "ja", "vi"]


def test_default_languages_write_nothing(tmp_path):
    assert generate(tmp_path, ["ko", "en"], 10) == {"source": None, "lang_counts": {}}
    assert not (tmp_path / "langs").exists()


def test_documents_are_deterministic_identified_and_pass_their_thresholds(tmp_path):
    got = generate(tmp_path / "a", FIVE, 40, seed=1)
    generate(tmp_path / "b", FIVE, 40, seed=1)
    a, b = (p / "langs" / "langs-00000.jsonl" for p in (tmp_path / "a", tmp_path / "b"))
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert got["lang_counts"] == {"de": 40, "ja": 40, "vi": 40} and got["source"]["name"] == "langs"
    rows = [orjson.loads(line) for line in a.read_bytes().splitlines()]
    assert len({r["text"] for r in rows}) == 120
    ids = identify([r["text"] for r in rows], LangIdConfig(), FIVE)
    assert (
        Counter(r["lang"] for r, (lang, *_) in zip(rows, ids, strict=True) if r["lang"] == lang) == got["lang_counts"]
    )
    (tmp_path / "moru.yaml").write_text(f"workdir: {tmp_path / 'w'}\nlanguages: {FIVE}\n", encoding="utf-8")
    select = load_config(tmp_path / "moru.yaml").select
    for r in rows:
        s = document_signals(r["text"], r["lang"])
        failed = [
            n
            for n, b in select.rules_for(r["lang"])
            if n in s and ((b.min is not None and s[n] < b.min) or (b.max is not None and s[n] > b.max))
        ]
        assert failed == [], (r["lang"], failed)


def test_languages_option_is_checked():
    assert parse_languages("ko, en,ja") == ["ko", "en", "ja"]
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        parse_languages("ko,xx")
