"""The ``tokenizer`` config section: what to sample, how to train, what to save, what to compare against.

Defaults follow EXAONE 3.0 / 3.5: a byte-level BPE of 102,400 tokens, Korean training text pre-segmented
with MeCab, about half the vocabulary Korean and half English, EXAONE-style chat tokens."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import locations, storage
from core.paths import ConfigPath

# EXAONE 3.0's layout: [PAD] 0, [BOS] 1, [EOS] 2, [UNK] 3, then the chat roles and the end of a turn.
DEFAULT_SPECIAL_TOKENS = (
    "[PAD]",
    "[BOS]",
    "[EOS]",
    "[UNK]",
    "[|system|]",
    "[|user|]",
    "[|assistant|]",
    "[|endofturn|]",
    "[|tool|]",
)

# Split before Hangul/Latin words, numbers one digit at a time (as EXAONE's released tokenizer does: a
# `\p{N}` rule before the GPT-2 pattern), punctuation runs, and whitespace: GPT-2's pattern with
# case-insensitive contractions. Applied at training and at encode time.
DEFAULT_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


# the byte share of a language beyond ko/en in the tokenizer's sample when `languages` names it and
# tokenizer.sample.other_langs does not
DEFAULT_OTHER_SHARE = 0.05


class SampleConfig(BaseModel):
    """``tokenizer.sample``: the training text, drawn from a Delta table by language."""

    model_config = ConfigDict(extra="forbid")

    table: Literal["training_corpus", "documents"] = Field(
        default="training_corpus", description="Delta table to sample (documents: before quality selection)"
    )
    bytes: int = Field(default=1_000_000_000, gt=0, description="UTF-8 bytes of training text to draw in all")
    korean_byte_share: float = Field(
        default=0.5, gt=0, lt=1, description="share of the sampled bytes from Korean documents (steering starts here)"
    )
    korean_langs: list[str] = Field(
        default_factory=lambda: ["ko", "ko+en"],
        description="lang values sampled as Korean",
    )
    english_langs: list[str] = Field(default_factory=lambda: ["en"], description="lang values sampled as English")
    other_langs: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "languages beyond Korean and English (lang value -> share of the sampled bytes, each its own stratum, "
            "e.g. {de: 0.05, ja: 0.1, vi: 0.05}); Korean and English share the rest by korean_byte_share. "
            "A run whose `languages` go beyond ko/en gives each language not named here DEFAULT_OTHER_SHARE"
        ),
    )
    holdout_fraction: float = Field(
        default=0.01,
        ge=0,
        lt=0.5,
        description="documents (by a hash of doc_id) never sampled for training, kept for eval",
    )
    holdout_bytes: int = Field(default=20_000_000, ge=0, description="held-out text written per language, at most")
    seed: int = 0

    @model_validator(mode="after")
    def _disjoint(self):
        both = set(self.korean_langs) & set(self.english_langs)
        if both:
            raise ValueError(f"languages sampled as both Korean and English: {sorted(both)}")
        taken = sorted(set(self.other_langs) & (set(self.korean_langs) | set(self.english_langs) | {"ko", "en"}))
        if taken:
            raise ValueError(f"other_langs names languages sampled as Korean or English: {taken}")
        bad = {k: v for k, v in self.other_langs.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"other_langs shares must be between 0 and 1: {bad}")
        if sum(self.other_langs.values()) >= 0.9:
            raise ValueError(
                f"other_langs take {sum(self.other_langs.values()):.2f} of the sample: leave Korean and English at "
                "least 0.1"
            )
        if not self.korean_langs or not self.english_langs:
            raise ValueError("korean_langs and english_langs need at least one lang value each")
        return self


class SteerConfig(BaseModel):
    """``tokenizer.steer``: calibration rounds that move the Korean byte share until the vocabulary's
    Hangul/Latin split is near ``target_korean_token_share``."""

    model_config = ConfigDict(extra="forbid")

    rounds: int = Field(default=2, ge=0, le=8, description="calibration trainings before the final one (0: none)")
    sample_bytes: int = Field(default=100_000_000, gt=0, description="training text per calibration round")
    tolerance: float = Field(default=0.02, gt=0, lt=0.5, description="stop early when the split is this close")
    min_share: float = Field(default=0.05, gt=0, lt=1, description="bounds on the Korean byte share tried")
    max_share: float = Field(default=0.95, gt=0, lt=1)


class BaselineConfig(BaseModel):
    """One tokenizer to compare against: a Hugging Face ``tokenizer.json`` (or its folder), a
    ``.tiktoken`` rank file, or a SentencePiece ``.model``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    path: ConfigPath
    kind: Literal["auto", "hf", "tiktoken", "sentencepiece"] = "auto"
    pattern: str | None = Field(
        default=None,
        description="tiktoken: split pattern (default: o200k's for o200k files, else cl100k's)",
    )


class EvalTextConfig(BaseModel):
    """Held-out text for compression: plain text (one document per blank-line-separated block), JSONL
    (``field``), or a folder of those."""

    model_config = ConfigDict(extra="forbid")

    name: str
    lang: str = Field(description="the language of the text (ko, en, or a sampled other language)")
    path: ConfigPath
    field: str = "text"


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[EvalTextConfig] = Field(
        default_factory=list,
        description="extra held-out sets (the sample's own is always used)",
    )
    baselines: list[BaselineConfig] = Field(default_factory=list, description="tokenizers to compare against")
    shipped_baselines: bool = Field(
        default=True,
        description="also compare against the cl100k/o200k ranks fetched by scripts/fetch_tokenizer_baselines.sh",
    )
    max_chars: int = Field(default=5_000_000, gt=0, description="characters per held-out set, at most")


class SuperBPEConfig(BaseModel):
    """``tokenizer.superbpe``: the two stages of ``algorithm: superbpe`` (tokenizer.superbpe)."""

    model_config = ConfigDict(extra="forbid")

    transition_vocab_size: int | None = Field(
        default=None,
        gt=0,
        description=(
            "vocabulary size (special tokens included) where stage 1 (subwords, whitespace pre-tokenization) stops "
            "and stage 2 (superwords across spaces) starts; below vocab_size. Default: 90 % of vocab_size, the "
            "SuperBPE paper's best setting (t = 180k of 200k)"
        ),
    )

    def transition(self, vocab_size: int) -> int:
        return self.transition_vocab_size or int(vocab_size * 0.9)


class TokenizerConfig(BaseModel):
    """``tokenizer``: the bilingual byte-level BPE."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["bbpe", "superbpe"] = Field(
        default="bbpe",
        description="bbpe: byte-level BPE within words; superbpe: BBPE up to superbpe.transition_vocab_size, then "
        "merges across spaces (superwords) up to vocab_size",
    )
    vocab_size: int = Field(default=102_400, ge=300, description="tokens in all, special tokens included")
    min_frequency: int = Field(default=2, ge=1)
    max_token_length: int | None = Field(default=None, ge=1, description="longest token in characters (None: no bound)")
    target_korean_token_share: float = Field(
        default=0.5, gt=0, lt=1, description="wanted share of Hangul tokens among Hangul + Latin tokens"
    )
    mecab: bool = Field(
        default=True,
        description="pre-segment training text with MeCab (merges stay inside morphemes): the mecab_langs",
    )
    mecab_langs: list[str] = Field(
        default_factory=lambda: ["ko"],
        description=(
            "languages whose training text MeCab marks when `mecab`: ko (mecab-ko-dic, EXAONE's recipe), ja "
            "(UniDic-lite). Japanese marks keep merges inside morphemes but cost 9 % more tokens per Japanese word on "
            "real held-out text (benchmarks/RESULTS.md), so ja is opt-in"
        ),
    )
    encode_mecab: bool = Field(
        default=False,
        description=(
            "segment Korean with MeCab at encode time too. EXAONE's released tokenizer does not (its tokenizer.json "
            "is a plain byte-level BPE); the saved tokenizer.json never needs MeCab either way: this only selects "
            "which mode `moru tokenizer eval` reports as the trained tokenizer's headline"
        ),
    )
    pattern: str = DEFAULT_PATTERN
    special_tokens: list[str] = Field(default_factory=lambda: list(DEFAULT_SPECIAL_TOKENS))
    reserved_special_tokens: int = Field(default=0, ge=0, description="extra [unused<i>] tokens kept for later use")
    bos_token: str = "[BOS]"
    eos_token: str = "[|endofturn|]"
    pad_token: str = "[PAD]"
    unk_token: str = "[UNK]"
    model_max_length: int = 32_768
    output_dir: ConfigPath | None = Field(
        default=None,
        description="Hugging Face tokenizer folder (default WORKDIR/tokenizer/model)",
    )
    sample: SampleConfig = Field(default_factory=SampleConfig)
    steer: SteerConfig = Field(default_factory=SteerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    superbpe: SuperBPEConfig = Field(default_factory=SuperBPEConfig)

    @field_validator("algorithm", mode="before")
    @classmethod
    def _known_algorithm(cls, v):
        if v not in ("bbpe", "superbpe"):
            raise ValueError(f"unknown tokenizer algorithm {v!r}: use 'bbpe' or 'superbpe'")
        return v

    @field_validator("mecab_langs")
    @classmethod
    def _markable(cls, v: list[str]) -> list[str]:
        from core.config import known_values
        from tokenizer.mecab import MARKED_LANGS

        return known_values(v, MARKED_LANGS, "MeCab language")

    def marked_langs(self) -> tuple[str, ...]:
        """The languages whose training text gets morpheme marks (none when ``mecab`` is off)."""
        return tuple(self.mecab_langs) if self.mecab else ()

    @field_validator("special_tokens")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("special tokens must be distinct")
        if any(not t for t in v):
            raise ValueError("special tokens must be non-empty")
        return v

    @model_validator(mode="after")
    def _named_tokens_exist(self):
        specials = set(self.all_special_tokens())
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            if getattr(self, key) not in specials:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of special_tokens")
        for role in ("[|system|]", "[|user|]", "[|assistant|]", "[|endofturn|]"):
            if role not in specials:
                raise ValueError(f"special_tokens must contain {role!r} (the chat template uses it)")
        if self.vocab_size < len(specials) + 256 + 1:
            raise ValueError(f"vocab_size must exceed the {len(specials)} special tokens + 256 bytes")
        if self.algorithm == "superbpe":
            t = self.superbpe.transition(self.vocab_size)
            if t >= self.vocab_size:
                raise ValueError(
                    f"tokenizer.superbpe.transition_vocab_size ({t:,}) must be below vocab_size ({self.vocab_size:,}): "
                    "stage 2 (superwords) needs tokens left to learn"
                )
            if t < len(specials) + 256 + 1:
                raise ValueError(
                    f"tokenizer.superbpe.transition_vocab_size ({t:,}) must exceed the {len(specials)} special tokens "
                    "+ 256 bytes"
                )
        return self

    def all_special_tokens(self) -> list[str]:
        return list(self.special_tokens) + [f"[unused{i}]" for i in range(self.reserved_special_tokens)]


def fingerprint(cfg: TokenizerConfig) -> str:
    """What decides the trained vocabulary: the section without ``eval`` and ``output_dir``. Recorded in
    ``moru_tokenizer.json``; the pipeline's tokenizer stage retrains only when it changes."""
    exclude = {"eval", "output_dir"} | ({"algorithm", "superbpe"} if cfg.algorithm == "bbpe" else set())
    data = cfg.model_dump(mode="json", exclude=exclude)  # a bbpe config's fingerprint is what it was before superbpe
    if not cfg.sample.other_langs:  # and a ko/en one's what it was before other_langs
        data["sample"].pop("other_langs")
    if cfg.mecab_langs == ["ko"]:  # and one marking Korean only what it was before mecab_langs
        data.pop("mecab_langs")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def output_dir(cfg: TokenizerConfig, workdir: str) -> Path:
    """The Hugging Face tokenizer folder: ``tokenizer.output_dir``, else WORKDIR/tokenizer/model. Local only
    (a ``dbfs:/`` folder is read through ``/dbfs``)."""
    target = cfg.output_dir or locations.tokenizer_model(workdir)
    local = storage.local_path(target)
    if local is None:
        raise ValueError(f"tokenizer.output_dir must be a local folder (got {target}); set one for a remote workdir")
    return local
