"""The expectation suites, as code: one function per validated table, from its ``gates`` section.

Each expectation carries ``meta["moru_check"]``, moru's short name for what it guards (``schema``,
``text_not_blank``, ``lang_share_min:ko``, ``duplicate_fraction``, ...), so results can be read
without parsing Great Expectations' kwargs. The expected schema is passed in (``spark_jobs.tables``
owns it), as ``{column: Spark type class name}``.

Language mix: the share of one label is bounded from below by ``expect_column_values_to_be_in_set
(lang, [label], mostly=min)`` (at least ``min`` of the rows have the label) and from above by
``expect_column_values_to_not_be_in_set(lang, [label], mostly=1 - max)`` (at least ``1 - max`` of
the rows have another label): two exact bounds on the raw table, no derived columns.
"""

from __future__ import annotations

from collections.abc import Mapping

import great_expectations as gx
import great_expectations.expectations as gxe

from quality.gates.config import DocumentsGateConfig, LanguageShare, TableGateConfig, TrainingCorpusGateConfig

# whitespace only (or empty); (?U) makes \s match Unicode spaces too (Spark's rlike is Java regex)
BLANK_TEXT_REGEX = r"(?U)^\s*$"
# columns holding a share or a probability
UNIT_INTERVAL_COLUMNS = ("lid_score", "hangul_ratio", "latin_ratio", "han_ratio", "quality_score")


def _meta(check: str, **extra) -> dict:
    return {"moru_check": check, **extra}


def _mostly(value: float) -> float:
    # 1 - 0.95 is 0.050000000000000044: a corpus at exactly the bound must pass
    return round(value, 9)


def language_share_expectations(
    language_share: Mapping[str, LanguageShare], rows: str = "documents"
) -> list[gxe.Expectation]:
    """The bounds on each language's share of the rows (``lang``), as two exact row-wise expectations each."""
    out: list[gxe.Expectation] = []
    for lang, share in language_share.items():
        if share.min > 0:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column="lang",
                    value_set=[lang],
                    mostly=_mostly(share.min),
                    meta=_meta(f"lang_share_min:{lang}", lang=lang, bound=share.min),
                    description=f"share of {rows} with lang {lang!r} is at least {share.min:g}",
                )
            )
        if share.max < 1:
            out.append(
                gxe.ExpectColumnValuesToNotBeInSet(
                    column="lang",
                    value_set=[lang],
                    mostly=_mostly(1 - share.max),
                    meta=_meta(f"lang_share_max:{lang}", lang=lang, bound=share.max),
                    description=f"share of {rows} with lang {lang!r} is at most {share.max:g}",
                )
            )
    return out


def _common(cfg: TableGateConfig, schema: Mapping[str, str]) -> list[gxe.Expectation]:
    out: list[gxe.Expectation] = []
    add = out.append
    add(gxe.ExpectTableRowCountToBeBetween(min_value=cfg.min_rows, meta=_meta("row_count")))
    add(gxe.ExpectTableColumnsToMatchSet(column_set=list(schema), exact_match=True, meta=_meta("schema")))
    for column, type_name in schema.items():
        add(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_name, meta=_meta(f"column_type:{column}")))
    add(gxe.ExpectColumnValuesToNotBeNull(column="doc_id", meta=_meta("key_not_null")))
    add(gxe.ExpectColumnValuesToBeUnique(column="doc_id", meta=_meta("key_unique")))
    add(gxe.ExpectColumnValuesToNotBeNull(column="text", meta=_meta("text_not_null")))
    add(
        gxe.ExpectColumnValuesToNotMatchRegex(
            column="text",
            regex=BLANK_TEXT_REGEX,
            meta=_meta("text_not_blank"),
            description="text is not empty or whitespace only",
        )
    )
    add(gxe.ExpectColumnValuesToNotBeNull(column="lang", meta=_meta("lang_not_null")))
    # row-wise (not expect_column_distinct_values_to_be_in_set): it counts the offending rows, and GX
    # 1.24's Data Docs fail to render a failed distinct-values result
    add(gxe.ExpectColumnValuesToBeInSet(column="lang", value_set=list(cfg.languages), meta=_meta("lang_set")))
    out.extend(language_share_expectations(cfg.language_share))
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="n_chars", min_value=cfg.min_chars, max_value=cfg.max_chars, meta=_meta("n_chars_range")
        )
    )
    if cfg.median_chars_min is not None or cfg.median_chars_max is not None:
        add(
            gxe.ExpectColumnMedianToBeBetween(
                column="n_chars",
                min_value=cfg.median_chars_min,
                max_value=cfg.median_chars_max,
                meta=_meta("n_chars_median"),
            )
        )
    for column in UNIT_INTERVAL_COLUMNS:
        if column in schema:
            add(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column, min_value=0, max_value=1, meta=_meta(f"unit_interval:{column}")
                )
            )
    return out


def documents_suite(
    cfg: DocumentsGateConfig, schema: Mapping[str, str], name: str = "documents"
) -> gx.ExpectationSuite:
    """``documents``: schema, keys, non-blank text, language set and mix, lengths. Exact and near
    duplicates are expected here (dedup flags them; select drops them), so only ``doc_id`` must be
    unique."""
    return gx.ExpectationSuite(name=name, expectations=_common(cfg, schema), meta={"moru_table": "documents"})


def training_corpus_suite(
    cfg: TrainingCorpusGateConfig, schema: Mapping[str, str], name: str = "training_corpus"
) -> gx.ExpectationSuite:
    """``training_corpus``: the checks of :func:`documents_suite` with its own bounds, plus leaked
    exact duplicates: the share of rows whose ``content_hash`` another row also has must not exceed
    ``max_duplicate_fraction`` (``expect_column_values_to_be_unique(content_hash, mostly=1 - max)``;
    at the default 0 every hash is unique).

    Contamination: when ``schema`` (the table as it is) has a boolean ``contaminated`` column, the
    share of ``true`` rows must not exceed ``max_contaminated_fraction`` and no row may leave it
    null; a table without the column (before the decontamination step exists) is not checked for
    contamination at all."""
    expectations = _common(cfg, schema)
    add = expectations.append
    if cfg.max_duplicate_fraction < 1:
        add(
            gxe.ExpectColumnValuesToBeUnique(
                column="content_hash",
                mostly=_mostly(1 - cfg.max_duplicate_fraction),
                meta=_meta("duplicate_fraction", bound=cfg.max_duplicate_fraction),
                description=(
                    "no two documents share a content_hash"
                    if cfg.max_duplicate_fraction == 0
                    else f"at most {cfg.max_duplicate_fraction:g} of the documents share their content_hash"
                ),
            )
        )
    if "contaminated" in schema:
        add(gxe.ExpectColumnValuesToNotBeNull(column="contaminated", meta=_meta("contamination_checked")))
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column="contaminated",
                value_set=[False],
                mostly=_mostly(1 - cfg.max_contaminated_fraction),
                meta=_meta("contaminated_fraction", bound=cfg.max_contaminated_fraction),
                description=f"share of contaminated documents is at most {cfg.max_contaminated_fraction:g}",
            )
        )
    return gx.ExpectationSuite(name=name, expectations=expectations, meta={"moru_table": "training_corpus"})


def residual_pii_suite(cfg: TrainingCorpusGateConfig, name: str = "training_corpus_pii") -> gx.ExpectationSuite:
    """The re-scan of ``training_corpus`` with the pii step's own detector (one row per scanned document:
    ``residual_findings``, ``residual_types``): the share of documents where it still finds PII must not exceed
    ``max_residual_pii_fraction`` (at the default 0, none may have any)."""
    bound = cfg.max_residual_pii_fraction
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="residual_findings", meta=_meta("residual_pii_scanned")),
        gxe.ExpectColumnValuesToBeInSet(
            column="residual_findings",
            value_set=[0],
            mostly=_mostly(1 - bound),
            meta=_meta("residual_pii_fraction", bound=bound, sample=cfg.residual_pii_sample),
            description=f"share of training_corpus documents with PII left after redaction is at most {bound:g}",
        ),
    ]
    return gx.ExpectationSuite(name=name, expectations=expectations, meta={"moru_table": "training_corpus"})
