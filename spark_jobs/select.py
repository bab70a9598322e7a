"""Select job: ``documents`` + ``quality_signals`` + dedup flags → Delta ``selection`` (a decision
per document) and ``training_corpus`` (the kept documents' text).

Rules run in a fixed order of steps, and a dropped document keeps the step of its first failing
rule (``dropped_at``), that rule's name and every rule it fails:

1. ``language``    the document's language is not in ``select.languages``
2. ``exact_dedup`` it is an exact duplicate and not its group's keeper
3. ``near_dedup``  it is in a near-duplicate cluster and not the cluster's keeper
4. ``heuristics``  a signal outside its per-language bounds (``select.thresholds``), in the
   order the thresholds are listed
5. ``classifier``  the fastText quality score below its bound (a threshold on ``fasttext_quality``)
6. ``contamination`` a benchmark substring was found in it (``contamination`` table; one rule per
   benchmark: ``contaminated:gsm8k``)

Rule names read as the failed condition: ``gopher_n_words<50``, ``c4_has_lorem_ipsum>0``,
``exact_duplicate``. Signals are computed once (the signals job); changing a threshold re-runs
only this job, which re-decides every document from the tables in one pass and overwrites both
outputs (``rules_fingerprint`` records the rules that decided each row). With ``pii.enabled`` (the default) the
text, ``n_chars`` and ``n_bytes`` that reach ``training_corpus`` are the pii step's (``redacted_documents``); the
rules themselves were computed on the text as normalized.

Default thresholds (English: the papers' own; Korean: adapted, see ``DEFAULT_THRESHOLDS``):
Gopher (Rae et al. 2021, App. A.1.1 and Table A1), C4 (Raffel et al. 2020, §2.2), FineWeb
(Penedo et al. 2024, §3.3).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.decontaminate.contamination import DOCUMENTS_TABLE, read_contamination

log = logging.getLogger("moru.select")

STEPS = ("language", "exact_dedup", "near_dedup", "heuristics", "classifier", "contamination")
CLASSIFIER_SIGNAL = "fasttext_quality"


class Bounds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both (set the signal to null to drop its rule)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


def _b(lo: float | None = None, hi: float | None = None) -> dict:
    return {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


# Gopher's repetition limits (Table A1): top n-gram char fraction for n = 2..4, duplicate n-gram
# char fraction for n = 5..10.
_REPETITION = {
    "gopher_dup_line_frac": _b(hi=0.30),
    "gopher_dup_para_frac": _b(hi=0.30),
    "gopher_dup_line_char_frac": _b(hi=0.20),
    "gopher_dup_para_char_frac": _b(hi=0.20),
    "gopher_top_2gram_char_frac": _b(hi=0.20),
    "gopher_top_3gram_char_frac": _b(hi=0.18),
    "gopher_top_4gram_char_frac": _b(hi=0.16),
    **{f"gopher_dup_{n}gram_char_frac": _b(hi=round(0.15 - 0.01 * (n - 5), 2)) for n in range(5, 11)},
}
_C4 = {
    "c4_has_lorem_ipsum": _b(hi=0),
    "c4_has_curly_brace": _b(hi=0),
    "c4_javascript_lines_ratio": _b(hi=0.1),
    "c4_policy_lines_ratio": _b(hi=0.2),
}
_FINEWEB = {
    "fineweb_line_punct_ratio": _b(lo=0.12),
    "fineweb_short_line_ratio": _b(hi=0.67),
    "fineweb_dup_line_char_ratio": _b(hi=0.10),
}
ENGLISH = {
    # Gopher quality (App. A.1.1)
    "gopher_n_words": _b(50, 100_000),
    "gopher_mean_word_length": _b(3, 10),
    "gopher_symbol_word_ratio": _b(hi=0.1),
    "gopher_bullet_lines_ratio": _b(hi=0.9),
    "gopher_ellipsis_lines_ratio": _b(hi=0.3),
    "gopher_alpha_words_ratio": _b(lo=0.8),
    "gopher_stop_words": _b(lo=2),
    **_REPETITION,
    **_C4,
    **_FINEWEB,
}
# Korean: words are MeCab morphemes (1-2 syllables, so the mean word length bound is 1..10 and the
# word-count bounds are Gopher's); no English stop words; Korean signals added: mostly Hangul
# letters, little jamo chat noise, few run-together eojeol (stripped spacing), and sentences that
# end in a final ending. FineWeb's line-punctuation rule stays: Korean prose ends lines with '.'.
KOREAN = {
    "gopher_n_words": _b(50, 100_000),
    "gopher_mean_word_length": _b(1, 10),
    "gopher_symbol_word_ratio": _b(hi=0.1),
    "gopher_bullet_lines_ratio": _b(hi=0.9),
    "gopher_ellipsis_lines_ratio": _b(hi=0.3),
    "gopher_alpha_words_ratio": _b(lo=0.8),
    **_REPETITION,
    **_C4,
    **_FINEWEB,
    "ko_hangul_ratio": _b(lo=0.5),
    "ko_jamo_run_char_ratio": _b(hi=0.05),
    "ko_long_eojeol_ratio": _b(hi=0.2),
    "ko_sentence_ending_ratio": _b(lo=0.5),
}
# code-switched Korean/English: the Korean rules, with Hangul only needing a real share
MIXED = {**KOREAN, "ko_hangul_ratio": _b(lo=0.2)}
DEFAULT_THRESHOLDS: dict[str, dict[str, dict]] = {"en": ENGLISH, "ko": KOREAN, "ko+en": MIXED}


def _fineweb2(
    *,
    dup_line: float,
    dup_ngrams: tuple[float, ...],
    top_ngrams: tuple[float, float, float],
    word_length: tuple[float, float],
    alpha_words: float,
    line_punct: float,
    newlines_per_word: float,
) -> dict[str, dict]:
    """FineWeb-2's per-language values (huggingface/fineweb-2, configs/<lang>_<script>.yml), mapped to
    moru's signals as datatrove applies them: ``dup_line_frac`` → gopher_dup_line_frac max,
    ``dup_n_grams`` (5..10) → gopher_dup_{n}gram_char_frac max, ``top_n_grams`` (2..4) →
    gopher_top_{n}gram_char_frac max, ``min/max_avg_word_length`` → gopher_mean_word_length,
    ``max_non_alpha_words_ratio`` → gopher_alpha_words_ratio min, ``line_punct_thr`` →
    fineweb_line_punct_ratio min (0: no rule), ``new_line_ratio`` → fineweb_newlines_per_word max,
    ``stopwords`` with Gopher's two → gopher_stop_words min 2. The rest (word counts 50..100,000,
    symbol/bullet/ellipsis ratios, paragraph repeats, C4 rules, FineWeb's short-line and
    duplicate-line-character rules) are Gopher's / C4's / FineWeb's, as for English."""
    rules = {
        **ENGLISH,
        "gopher_mean_word_length": _b(*word_length),
        "gopher_alpha_words_ratio": _b(lo=alpha_words),
        "gopher_dup_line_frac": _b(hi=dup_line),
        "fineweb_newlines_per_word": _b(hi=newlines_per_word),
        **{f"gopher_top_{n}gram_char_frac": _b(hi=v) for n, v in zip((2, 3, 4), top_ngrams, strict=True)},
        **{f"gopher_dup_{n}gram_char_frac": _b(hi=v) for n, v in zip(range(5, 11), dup_ngrams, strict=True)},
    }
    if line_punct > 0:
        rules["fineweb_line_punct_ratio"] = _b(lo=line_punct)
    else:
        del rules["fineweb_line_punct_ratio"]
    return rules


# configs/deu_Latn.yml
GERMAN = _fineweb2(
    dup_line=0.263, dup_ngrams=(0.141, 0.134, 0.126, 0.117, 0.108, 0.098), top_ngrams=(0.169, 0.153, 0.137),
    word_length=(0, 15), alpha_words=0.774, line_punct=0.0, newlines_per_word=0.152,
)  # fmt: skip
# configs/jpn_Jpan.yml (words: UniDic morphemes, as FineWeb-2 splits Japanese into morphemes too)
JAPANESE = _fineweb2(
    dup_line=0.375, dup_ngrams=(0.307, 0.283, 0.264, 0.248, 0.234, 0.223), top_ngrams=(0.121, 0.129, 0.145),
    word_length=(1, 5), alpha_words=0.759, line_punct=0.167, newlines_per_word=0.162,
)  # fmt: skip
# configs/vie_Latn.yml (words: whitespace syllables)
VIETNAMESE = _fineweb2(
    dup_line=0.293, dup_ngrams=(0.178, 0.163, 0.15, 0.136, 0.124, 0.111), top_ngrams=(0.223, 0.197, 0.171),
    word_length=(3, 11), alpha_words=0.803, line_punct=0.333, newlines_per_word=0.103,
)  # fmt: skip
# thresholds of the languages beyond ko/en: used when the top-level ``languages`` names them
LANGUAGE_THRESHOLDS: dict[str, dict[str, dict]] = {"de": GERMAN, "ja": JAPANESE, "vi": VIETNAMESE}


class SelectConfig(BaseModel):
    """``select`` in the config. ``thresholds`` is merged over the defaults per language and per
    signal: ``thresholds: {en: {gopher_n_words: {min: 100}}}`` changes one bound and keeps the
    rest; ``{en: {c4_has_curly_brace: null}}`` drops a rule; a language not in the defaults starts
    from nothing (or from ``default`` if given)."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: ["ko", "en", "ko+en"], min_length=1)
    drop_exact_duplicates: bool = True
    drop_near_duplicates: bool = True
    drop_contaminated: bool = Field(
        default=True,
        description="drop documents the decontaminate step flagged (if false they reach training_corpus with "
        "contaminated = true, and the gate's contaminated-fraction bound decides)",
    )
    thresholds: dict[str, dict[str, Bounds | None]] = Field(default_factory=dict, validate_default=True)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_defaults(cls, value):
        value = dict(value or {})
        merged: dict[str, dict] = {}
        for lang in {*DEFAULT_THRESHOLDS, *value}:
            base = dict(DEFAULT_THRESHOLDS.get(lang) or LANGUAGE_THRESHOLDS.get(lang) or value.get("default") or {})
            base.update(value.get(lang) or {})
            merged[lang] = base
        return merged

    @model_validator(mode="after")
    def _known_signals(self):
        from quality.signals.compute import SIGNAL_NAMES

        known = {*SIGNAL_NAMES, CLASSIFIER_SIGNAL}
        for lang, rules in self.thresholds.items():
            for name in rules:
                if name not in known:
                    raise ValueError(f"thresholds.{lang}.{name}: unknown signal (known: {', '.join(sorted(known))})")
        return self

    def with_languages(self, extra: tuple[str, ...], add_to_selected: bool) -> SelectConfig:
        """This config with the languages ``extra`` (beyond ko/en) selected (if ``add_to_selected``)
        and given :data:`LANGUAGE_THRESHOLDS` where ``thresholds`` has nothing for them (a user's
        ``thresholds: {ja: ...}`` is merged over those defaults)."""
        data = self.model_dump(mode="json")
        if add_to_selected:
            data["languages"] += [lang for lang in extra if lang not in data["languages"]]
        for lang in extra:
            if lang in LANGUAGE_THRESHOLDS and lang not in data["thresholds"]:
                data["thresholds"][lang] = LANGUAGE_THRESHOLDS[lang]
        return type(self).model_validate(data)

    def rules_for(self, lang: str) -> list[tuple[str, Bounds]]:
        return [(name, b) for name, b in (self.thresholds.get(lang) or {}).items() if b is not None]

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def _num(x: float) -> str:
    return f"{x:g}"


def bound_checks(name: str, b: Bounds, column: str | None = None, label: str = "") -> list[tuple[str, Column]]:
    """(rule name, column true when the rule FAILS) for one signal's bounds; ``column``: where the signal is (default
    ``name``), ``label``: a prefix of the rule's name (post-training names the response side)."""
    col = F.col(column or name)
    out = []
    if b.min is not None:
        out.append((f"{label}{name}<{_num(b.min)}", col < F.lit(b.min)))
    if b.max is not None:
        out.append((f"{label}{name}>{_num(b.max)}", col > F.lit(b.max)))
    return out


def failed_rules(checks: list[tuple[str, Column]]) -> Column:
    """Array of the names of the failing checks, in order (empty when none fails)."""
    if not checks:
        return F.array().cast("array<string>")
    return F.filter(F.array(*[F.when(c, F.lit(n)) for n, c in checks]), lambda x: x.isNotNull())


def _per_language(cfg: SelectConfig, step: str) -> Column:
    """Failing rule names of ``step`` ('heuristics' or 'classifier') under each document's language."""
    expr = F.array().cast("array<string>")
    for lang in cfg.languages:
        checks = []
        for name, b in cfg.rules_for(lang):
            if (name == CLASSIFIER_SIGNAL) == (step == "classifier"):
                checks += bound_checks(name, b)
        expr = F.when(F.col("lang") == lang, failed_rules(checks)).otherwise(expr)
    return expr


def _redacted(spark: SparkSession, workdir: str, docs: DataFrame) -> DataFrame:
    """``docs`` with text, n_chars and n_bytes from ``redacted_documents`` (the pii step's output); an error when
    that table is missing or was made from other documents (run the pii step first)."""
    if not tables.exists(spark, workdir, tables.REDACTED_DOCUMENTS):
        raise FileNotFoundError(
            "redacted_documents does not exist yet: run the pii step first (or set pii.enabled: false)"
        )
    red = tables.read(spark, workdir, tables.REDACTED_DOCUMENTS).select(
        "doc_id", F.col("text").alias("_r_text"), F.col("n_chars").alias("_r_chars"),
        F.col("n_bytes").alias("_r_bytes"), F.col("text_version").alias("_r_version"),
    )  # fmt: skip
    from spark_jobs.dedup.exact import text_version

    df = docs.join(red, "doc_id", "left")
    stale = df.filter(F.col("_r_version").isNull() | (F.col("_r_version") != text_version())).count()
    if stale:
        raise ValueError(
            f"{stale:,} documents have no redacted text or one made from an older version (redacted_documents is "
            "older than documents): run the pii step first"
        )
    return (
        df.withColumn("text", F.col("_r_text"))
        .withColumn("n_chars", F.col("_r_chars"))
        .withColumn("n_bytes", F.col("_r_bytes"))
        .drop("_r_text", "_r_chars", "_r_bytes", "_r_version")
    )


def decide(spark: SparkSession, workdir: str, cfg: SelectConfig, redacted: bool = False) -> DataFrame:
    """One row per document with its step failures, ``kept``, ``dropped_at``, ``first_failed_rule``,
    ``failed_rules`` (a DataFrame, not yet written). With ``redacted`` the text (and its lengths) is the pii step's
    (``redacted_documents``), so training_corpus never holds the PII it found."""
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    if redacted:
        docs = _redacted(spark, workdir, docs)
    if not tables.exists(spark, workdir, tables.QUALITY_SIGNALS):
        raise FileNotFoundError("quality_signals does not exist yet: run the signals step first")
    signals = tables.read(spark, workdir, tables.QUALITY_SIGNALS).drop("input_hash")
    df = docs.join(signals, "doc_id", "left")
    missing = df.filter(F.col("gopher_n_words").isNull()).count()
    if missing:
        raise ValueError(
            f"{missing:,} documents have no quality signals (quality_signals is older than documents): "
            "run the signals step first"
        )
    uses_classifier = any(n == CLASSIFIER_SIGNAL for lang in cfg.languages for n, _ in cfg.rules_for(lang))
    if uses_classifier:
        if CLASSIFIER_SIGNAL not in signals.columns:
            raise ValueError(f"a threshold uses {CLASSIFIER_SIGNAL} but quality_signals has no classifier scores")
        unscored = df.filter(F.col("lang").isin(cfg.languages) & F.col(CLASSIFIER_SIGNAL).isNull()).count()
        if unscored:
            raise ValueError(
                f"a threshold uses {CLASSIFIER_SIGNAL} but {unscored:,} documents have no classifier score: train "
                "the classifier (moru quality train) and re-run the signals step"
            )
    elif CLASSIFIER_SIGNAL not in df.columns:
        df = df.withColumn(CLASSIFIER_SIGNAL, F.lit(None).cast("double"))

    step_failures: dict[str, Column] = {
        "language": failed_rules([("language_not_selected", ~F.col("lang").isin(cfg.languages))]),
    }
    exact_flag = F.lit(False)
    if cfg.drop_exact_duplicates and tables.exists(spark, workdir, tables.EXACT_DUPLICATES):
        exact = tables.read(spark, workdir, tables.EXACT_DUPLICATES).select(
            "doc_id", "content_hash", F.col("is_keeper").alias("exact_keeper")
        )
        df = df.join(exact, "doc_id", "left")
        exact_flag = F.coalesce(~F.col("exact_keeper"), F.lit(False))
    else:
        df = df.withColumn("content_hash", F.lit(None).cast("string"))
    step_failures["exact_dedup"] = failed_rules([("exact_duplicate", exact_flag)])
    near_flag = F.lit(False)
    if cfg.drop_near_duplicates and tables.exists(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS):
        near = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).select(
            "doc_id", F.col("is_keeper").alias("near_keeper")
        )
        df = df.join(near, "doc_id", "left")
        near_flag = F.coalesce(~F.col("near_keeper"), F.lit(False))
    step_failures["near_dedup"] = failed_rules([("near_duplicate", near_flag)])
    contaminated = F.lit(False)
    cont_rules = F.array().cast("array<string>")
    # the documents' rows only: post-training decontamination writes its own rows into the same table
    documents_rows = read_contamination(spark, workdir, DOCUMENTS_TABLE)
    if documents_rows is not None:
        cont = (
            documents_rows.groupBy("doc_id")
            .agg(F.array_sort(F.collect_set(F.concat(F.lit("contaminated:"), F.col("benchmark")))).alias("_cont"))
        )
        df = df.join(cont, "doc_id", "left")
        contaminated = F.col("_cont").isNotNull()
        if cfg.drop_contaminated:
            cont_rules = F.coalesce(F.col("_cont"), cont_rules)
    df = df.withColumn("contaminated", contaminated)
    step_failures["contamination"] = cont_rules
    step_failures["heuristics"] = _per_language(cfg, "heuristics")
    step_failures["classifier"] = _per_language(cfg, "classifier")

    for step in STEPS:
        df = df.withColumn(f"_f_{step}", step_failures[step])
    # a document in a language that is not selected fails only the language rule (its signals were
    # judged by no language's thresholds)
    failed = F.concat(*[F.col(f"_f_{s}") for s in STEPS])
    dropped_at = F.lit(None).cast("string")
    for step in reversed(STEPS):
        dropped_at = F.when(F.size(F.col(f"_f_{step}")) > 0, F.lit(step)).otherwise(dropped_at)
    df = (
        df.withColumn("failed_rules", failed)
        .withColumn("dropped_at", dropped_at)
        .withColumn("first_failed_rule", F.try_element_at(F.col("failed_rules"), F.lit(1)))
        .withColumn("kept", F.size(F.col("failed_rules")) == 0)
        .withColumn("quality_score", F.col(CLASSIFIER_SIGNAL))
        .withColumn("rules_fingerprint", F.lit(cfg.fingerprint()))
    )
    return df


def _canonical_hash() -> Column:
    """content_hash for documents without an exact-dedup row (exact dedup disabled): SHA-1 of the
    text as normalized."""
    return F.sha1(F.col("text"))


def run(spark: SparkSession, workdir: str, cfg: SelectConfig, redacted: bool = False) -> StageStats:
    started = time.time()
    stats = StageStats("select")
    decided = decide(spark, workdir, cfg, redacted).withColumn(
        "content_hash", F.coalesce(F.col("content_hash"), _canonical_hash())
    )
    decided = decided.persist()
    try:
        n = decided.count()
        by_step = {r["dropped_at"]: r["count"] for r in decided.groupBy("dropped_at").count().collect()}
        by_rule = {
            r["first_failed_rule"]: r["count"]
            for r in decided.filter(~F.col("kept")).groupBy("first_failed_rule").count().collect()
        }
        tables.overwrite(spark, decided, workdir, tables.SELECTION)
        kept = tables.overwrite(spark, decided.filter(F.col("kept")), workdir, tables.TRAINING_CORPUS)
    finally:
        decided.unpersist()
    stats.rows_in = n
    stats.rows_out = kept
    stats.rows_rejected = n - kept
    stats.by_reason = {f"{k}": v for k, v in by_step.items() if k is not None}
    stats.extra = {
        "first_failed_rule": dict(sorted(by_rule.items(), key=lambda kv: -kv[1])),
        "rules": cfg.fingerprint(),
    }
    stats.seconds = time.time() - started
    stats.check()
    log.info("select: in=%d kept=%d dropped=%d %s", n, kept, n - kept, by_step)
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.select, redacted=ctx.cfg.pii.enabled)


JOB = Job(
    name="select",
    run=run_job,
    summary="Apply the per-language thresholds and the dedup flags: documents + quality_signals -> selection, "
    "training_corpus (re-run alone after changing a threshold).",
    reads=(
        "documents",
        "quality_signals",
        "exact_duplicates",
        "near_duplicate_clusters",
        "contamination",
        "redacted_documents",
    ),
    writes=("selection", "training_corpus"),
    section="select",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("select")
