"""The demo generator's bilingual documents, for the tokenizer job's tables."""

from __future__ import annotations

import orjson
import pytest


@pytest.fixture(scope="session")
def demo_texts(tmp_path_factory) -> list[str]:
    from demo.corpus import generate_jsonl

    paths = generate_jsonl(tmp_path_factory.mktemp("tok_corpus"), n_docs=1500, seed=7)
    texts = []
    for p in paths:
        with open(p, "rb") as fh:
            texts += [orjson.loads(line)["text"] for line in fh if line.strip()]
    return texts
