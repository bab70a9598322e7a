"""A small bilingual corpus (the demo generator's documents) and a tiny tokenizer trained on it once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def korean_texts(demo_texts) -> list[str]:
    from tokenizer.mecab import has_hangul

    return [t for t in demo_texts if has_hangul(t)][:400]


@pytest.fixture(scope="session")
def tiny_cfg():
    from tokenizer.config import TokenizerConfig

    return TokenizerConfig(vocab_size=1500)


@pytest.fixture(scope="session")
def tiny_tok(demo_texts, tiny_cfg):
    """Trained with MeCab-marked Korean, as `moru tokenizer train` does."""
    from tokenizer import bbpe
    from tokenizer.mecab import mark_boundaries

    return bbpe.train([mark_boundaries(t) for t in demo_texts], tiny_cfg)


@pytest.fixture(scope="session")
def tiny_dir(tiny_tok, tiny_cfg, tmp_path_factory):
    from tokenizer import hf

    return hf.save(tiny_tok, tiny_cfg, tmp_path_factory.mktemp("tok") / "model", {"test": True})
