"""Saving the trained tokenizer as a Hugging Face tokenizer folder, with EXAONE-style chat turns.

The folder holds ``tokenizer.json`` (the whole tokenizer: ``tokenizers`` alone encodes with it),
``tokenizer_config.json`` + ``chat_template.jinja`` (what ``transformers.AutoTokenizer`` reads, offline),
``tokenizer_metadata.json`` (what megatron-core's ``MegatronTokenizer.from_pretrained`` reads: library
``huggingface``, so Megatron wraps the same AutoTokenizer) and ``moru_tokenizer.json`` (how it was made).

Chat format (EXAONE 3.0 / 3.5): every conversation starts with a system turn (an empty one when the
messages have none); ``[|system|]…[|endofturn|]\\n``, ``[|user|]…\\n``, ``[|assistant|]…[|endofturn|]\\n``,
``[|tool|]…[|endofturn|]\\n``; the generation prompt is ``[|assistant|]``. ``[|endofturn|]`` is the
EOS token, so generation stops at the end of the assistant's turn.

Loss mask: each supervised assistant turn's content and its ``[|endofturn|]`` sit in a ``{% generation %}``
block (the header and the ``\\n`` after it do not), so ``apply_chat_template(...,
return_assistant_tokens_mask=True)`` gives moru's mask (tokenizer.chat); the template variable
``supervised_turns='last'`` supervises only the assistant turns after the last user turn. The markers change no
rendered text.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from tokenizer.config import TokenizerConfig

ROLES = ("system", "user", "assistant", "tool")

CHAT_TEMPLATE = (
    # the index after the last user turn: where the response starts (supervised_turns='last')
    "{%- set ns = namespace(response_start=0) -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{%- set ns.response_start = loop.index -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant', 'tool'] -%}"
    "{{- raise_exception('unknown chat role: ' ~ message['role']) -}}"
    "{%- endif -%}"
    "{%- if loop.first and message['role'] != 'system' -%}{{- '[|system|][|endofturn|]\\n' -}}{%- endif -%}"
    "{{- '[|' ~ message['role'] ~ '|]' -}}"
    "{%- if message['role'] == 'user' -%}{{- message['content'] ~ '\\n' -}}"
    "{%- elif message['role'] == 'assistant' and (supervised_turns is not defined or supervised_turns != 'last' "
    "or loop.index0 >= ns.response_start) -%}"
    "{%- generation -%}{{- message['content'] ~ '[|endofturn|]' -}}{%- endgeneration -%}{{- '\\n' -}}"
    "{%- else -%}{{- message['content'] ~ '[|endofturn|]\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '[|assistant|]' -}}{%- endif -%}"
)


def render_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The chat template's text, written out in Python (the template's specification, used by the tests)."""
    parts = []
    for i, m in enumerate(messages):
        role = m["role"]
        if role not in ROLES:
            raise ValueError(f"unknown chat role: {role}")
        if i == 0 and role != "system":
            parts.append("[|system|][|endofturn|]\n")
        parts.append(f"[|{role}|]{m['content']}")
        parts.append("\n" if role == "user" else "[|endofturn|]\n")
    if add_generation_prompt:
        parts.append("[|assistant|]")
    return "".join(parts)


def save(tok: Tokenizer, cfg: TokenizerConfig, out_dir: str | Path, info: dict) -> Path:
    """Write the Hugging Face folder; ``info`` goes to moru_tokenizer.json."""
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    named = {cfg.bos_token, cfg.eos_token, cfg.pad_token, cfg.unk_token}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=cfg.bos_token,
        eos_token=cfg.eos_token,
        pad_token=cfg.pad_token,
        unk_token=cfg.unk_token,
        additional_special_tokens=[t for t in cfg.all_special_tokens() if t not in named],
        model_max_length=cfg.model_max_length,
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(str(out))
    # megatron-core: MegatronTokenizer.from_pretrained(<folder>) reads this and wraps AutoTokenizer(<folder>)
    (out / "tokenizer_metadata.json").write_text(
        json.dumps(
            {
                "library": "huggingface",
                "class_name": None,
                "class_path": None,
                "model_type": "gpt",
                "chat_template": CHAT_TEMPLATE,
            }
        ),  # fmt: skip
        encoding="utf-8",
    )
    (out / "moru_tokenizer.json").write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def load(path: str | Path) -> Tokenizer:
    """The ``tokenizers`` Tokenizer of a saved folder (or of a tokenizer.json file)."""
    p = Path(path)
    f = p / "tokenizer.json" if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {path}")
    return Tokenizer.from_file(str(f))


def saved_report(out_dir: str | Path) -> dict | None:
    """``moru_tokenizer.json`` of a saved folder (how it was made: its fingerprint, split, rounds), or None when
    the folder holds no complete tokenizer."""
    out = Path(out_dir)
    f = out / "moru_tokenizer.json"
    if not (f.is_file() and (out / "tokenizer.json").is_file()):
        return None
    return json.loads(f.read_text(encoding="utf-8"))


def folder_sha256(folder: str | Path) -> str:
    """The hash emission records for a tokenizer folder: ``tokenizer.json``'s text, then ``tokenizer_config.json``'s
    bytes when present (the files that decide the ids, the end-of-document token and the chat template)."""
    import hashlib

    folder = Path(folder)
    h = hashlib.sha256((folder / "tokenizer.json").read_text(encoding="utf-8").encode())
    cfg_file = folder / "tokenizer_config.json"
    if cfg_file.is_file():
        h.update(cfg_file.read_bytes())
    return h.hexdigest()


def chat_template_sha256(folder: str | Path) -> str | None:
    """SHA-256 of a tokenizer folder's chat template (``chat_template.jinja``, else tokenizer_config.json's
    ``chat_template``); None when it has none."""
    import hashlib

    folder = Path(folder)
    text = None
    if (folder / "chat_template.jinja").is_file():
        text = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    elif (folder / "tokenizer_config.json").is_file():
        text = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    return hashlib.sha256(text.encode()).hexdigest() if text else None
