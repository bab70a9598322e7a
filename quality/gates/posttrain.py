"""The post-training gate: bounds (``posttrain.gate`` in the config), the per-row checks its expectations read, and
the Great Expectations suites of ``sft_corpus`` and ``preference_corpus``.

Great Expectations validates columns, and a conversation's structure is inside its ``messages`` array, so each row
first gets a few check columns from pure functions here (:func:`conversation_checks`, :func:`pair_checks`), added by
the gate job before validation:

- ``role_problem``: null when the turns are in a valid order (quality.posttrain.validate's rule: an optional system
  turn first, user and assistant alternating, tool turns only after an assistant turn) and end with an assistant
  turn; else ``unknown_role``, ``roles_out_of_order``, ``no_user_turn`` or ``no_final_assistant_turn``.
- ``empty_assistant_turns``: assistant turns that are empty or whitespace only.
- ``assistant_char_share`` (sft_corpus): characters in assistant turns / all characters. Tokens are not known
  before emission, so this is the character proxy of the supervised-token share; the suite bounds its mean over the
  conversations (``supervised_char_share``), and calls it that.
- ``same_responses`` (preference_corpus): chosen and rejected are the same text once stripped.

This module imports Great Expectations only inside the suite functions, so loading a config stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from quality.gates.config import LanguageShare, TableGateConfig

# the check columns the gate job adds (name -> Spark type class name)
_COMMON_CHECKS = {"role_problem": "StringType", "empty_assistant_turns": "IntegerType"}
SFT_CHECKS = {**_COMMON_CHECKS, "assistant_char_share": "DoubleType"}
PAIR_CHECKS = {**_COMMON_CHECKS, "same_responses": "BooleanType"}


def _default_shares() -> dict[str, LanguageShare]:
    return {"ko": LanguageShare(min=0.05, max=0.95), "en": LanguageShare(min=0.05, max=0.95)}


class CorpusGateConfig(TableGateConfig):
    """Bounds for one post-training corpus. ``min_rows`` applies when its input table (conversations or
    preference_pairs) has rows: a corpus made from nothing may be empty."""

    languages: list[str] = Field(default_factory=lambda: ["ko", "en", "ko+en"], min_length=1)
    language_share: dict[str, LanguageShare] = Field(
        default_factory=_default_shares, description="per language label: min/max share of the rows"
    )
    max_duplicate_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of rows whose dedup key (hash) another row also has"
    )
    max_contaminated_fraction: float = Field(
        default=0.0, ge=0.0, le=1.0, description="share of rows with contaminated = true"
    )


class SupervisedShare(LanguageShare):
    """Bounds on the mean share of assistant characters in a conversation."""


class SftCorpusGateConfig(CorpusGateConfig):
    supervised_char_share: SupervisedShare = Field(
        default_factory=lambda: SupervisedShare(min=0.05, max=0.95),
        description="bounds on the mean over conversations of assistant characters / all characters (the character "
        "proxy of the supervised-token share)",
    )


class PosttrainGateConfig(BaseModel):
    """``posttrain.gate``: one section per validated corpus."""

    model_config = ConfigDict(extra="forbid")

    sft_corpus: SftCorpusGateConfig = Field(default_factory=SftCorpusGateConfig)
    preference_corpus: CorpusGateConfig = Field(default_factory=CorpusGateConfig)
    persist: bool = Field(default=True, description="cache each table in Spark while its expectations run")

    def fingerprint(self) -> str:
        """Hash of the bounds: a gate passed under other bounds does not count as passed under these."""
        data = self.model_dump(mode="json", exclude={"persist"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- per-row checks (pure)


def role_problem(messages: Sequence[Mapping]) -> str | None:
    """Why the turns of a conversation are not a valid dialogue ending with an answer, or None."""
    from quality.posttrain.schema import Message
    from quality.posttrain.validate import RecordError, check_order

    try:
        msgs = [Message(m["role"], m["content"] or "") for m in messages]
    except ValueError:
        return "unknown_role"
    try:
        check_order(msgs)
    except RecordError as e:
        return e.reason
    if not any(m.role == "user" for m in msgs):
        return "no_user_turn"
    if msgs[-1].role != "assistant":
        return "no_final_assistant_turn"
    return None


def _empty_assistant(messages: Sequence[Mapping]) -> int:
    return sum(1 for m in messages if m["role"] == "assistant" and not (m["content"] or "").strip())


def conversation_checks(messages: Sequence[Mapping]) -> tuple[str | None, int, float]:
    """(role_problem, empty_assistant_turns, assistant_char_share) of one conversation."""
    total = sum(len(m["content"] or "") for m in messages)
    assistant = sum(len(m["content"] or "") for m in messages if m["role"] == "assistant")
    return role_problem(messages), _empty_assistant(messages), assistant / total if total else 0.0


def pair_checks(
    prompt: Sequence[Mapping], chosen: Sequence[Mapping], rejected: Sequence[Mapping]
) -> tuple[str | None, int, bool]:
    """(role_problem, empty_assistant_turns, same_responses) of one preference pair: both dialogues valid, the
    responses assistant (and tool) turns only."""
    problem = None
    for response in (chosen, rejected):
        if any(m["role"] not in ("assistant", "tool") for m in response):
            problem = problem or "roles_out_of_order"
        problem = problem or role_problem([*prompt, *response])
    stripped = [[(m["role"], (m["content"] or "").strip()) for m in r] for r in (chosen, rejected)]
    return problem, _empty_assistant(chosen) + _empty_assistant(rejected), stripped[0] == stripped[1]


# ---------------------------------------------------------------------------- suites


def _meta(check: str, **extra) -> dict:
    return {"moru_check": check, **extra}


def _mostly(value: float) -> float:
    return round(value, 9)


def _corpus(cfg: CorpusGateConfig, schema: Mapping[str, str], rows: int, input_rows: int, keys: Sequence[str]):
    import great_expectations.expectations as gxe

    from quality.gates.suites import language_share_expectations

    out = []
    add = out.append
    add(gxe.ExpectTableRowCountToBeBetween(min_value=cfg.min_rows if input_rows else 0, meta=_meta("row_count")))
    add(gxe.ExpectTableColumnsToMatchSet(column_set=list(schema), exact_match=True, meta=_meta("schema")))
    for column, type_name in schema.items():
        add(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_name, meta=_meta(f"column_type:{column}")))
    add(gxe.ExpectColumnValuesToNotBeNull(column="doc_id", meta=_meta("key_not_null")))
    add(gxe.ExpectColumnValuesToBeUnique(column="doc_id", meta=_meta("key_unique")))
    add(gxe.ExpectColumnValuesToBeNull(column="role_problem", meta=_meta("roles_valid"),
                                       description="roles known, in a valid order, ending with an answer"))  # fmt: skip
    add(gxe.ExpectColumnValuesToBeBetween(column="empty_assistant_turns", min_value=0, max_value=0,
                                          meta=_meta("no_empty_assistant_turn"),
                                          description="no assistant turn is empty or whitespace only"))  # fmt: skip
    add(gxe.ExpectColumnValuesToNotBeNull(column="lang", meta=_meta("lang_not_null")))
    add(gxe.ExpectColumnValuesToBeInSet(column="lang", value_set=list(cfg.languages), meta=_meta("lang_set")))
    if rows:
        out.extend(language_share_expectations(cfg.language_share, "rows"))
    add(gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=cfg.min_chars, max_value=cfg.max_chars,
                                          meta=_meta("n_chars_range")))  # fmt: skip
    if cfg.max_duplicate_fraction < 1:
        for key in keys:
            add(
                gxe.ExpectColumnValuesToBeUnique(
                    column=key,
                    mostly=_mostly(1 - cfg.max_duplicate_fraction),
                    meta=_meta(f"duplicate_fraction:{key}", bound=cfg.max_duplicate_fraction),
                    description=f"no two rows share a {key} (dedup key)"
                    if cfg.max_duplicate_fraction == 0
                    else f"at most {cfg.max_duplicate_fraction:g} of the rows share their {key}",
                )
            )
    add(gxe.ExpectColumnValuesToNotBeNull(column="contaminated", meta=_meta("contamination_checked")))
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="contaminated",
            value_set=[False],
            mostly=_mostly(1 - cfg.max_contaminated_fraction),
            meta=_meta("contaminated_fraction", bound=cfg.max_contaminated_fraction),
            description=f"share of rows with a benchmark substring is at most {cfg.max_contaminated_fraction:g}",
        )
    )
    return out


def sft_corpus_suite(cfg: SftCorpusGateConfig, schema: Mapping[str, str], rows: int, input_rows: int):
    """``sft_corpus`` (with :data:`SFT_CHECKS` columns): schema, keys, roles, no empty assistant turn, the
    supervised character share, languages, lengths, no duplicate first user turn or prompt, nothing contaminated.
    ``rows``: the table's rows (an empty table is not held to language shares or a mean); ``input_rows``: the rows
    of ``conversations`` (``min_rows`` applies when there are some)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = _corpus(cfg, schema, rows, input_rows, ("first_user_key", "prompt_key"))
    if rows:
        share = cfg.supervised_char_share
        expectations.append(
            gxe.ExpectColumnMeanToBeBetween(
                column="assistant_char_share",
                min_value=share.min,
                max_value=share.max,
                meta=_meta("supervised_char_share", bound=[share.min, share.max]),
                description="mean share of assistant characters per conversation (the character proxy of the "
                f"supervised-token share) is within {share.min:g}-{share.max:g}",
            )
        )
    return gx.ExpectationSuite(name="sft_corpus", expectations=expectations, meta={"moru_table": "sft_corpus"})


def preference_corpus_suite(cfg: CorpusGateConfig, schema: Mapping[str, str], rows: int, input_rows: int):
    """``preference_corpus`` (with :data:`PAIR_CHECKS` columns): as :func:`sft_corpus_suite` for pairs (both
    dialogues valid, no duplicate prompt + chosen), and chosen differs from rejected."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = _corpus(cfg, schema, rows, input_rows, ("pair_key",))
    expectations.append(
        gxe.ExpectColumnValuesToBeInSet(column="same_responses", value_set=[False], meta=_meta("responses_differ"),
                                        description="chosen and rejected are different texts")  # fmt: skip
    )
    return gx.ExpectationSuite(
        name="preference_corpus", expectations=expectations, meta={"moru_table": "preference_corpus"}
    )
