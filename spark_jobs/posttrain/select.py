"""Post-training select: ``conversations`` / ``preference_pairs`` + ``posttrain_signals`` + ``posttrain_duplicates`` +
``contamination`` → Delta ``posttrain_selection`` (a decision per example), ``sft_corpus`` (the kept
conversations) and ``preference_corpus`` (the kept pairs).

As pretraining's select (spark_jobs.select), signals are kept apart from decisions: a threshold change re-runs
this step only. Rules run in a fixed order of steps; a dropped example keeps the step of its first failing rule
(``dropped_at``), that rule and every rule it fails:

1. ``language``       its language is not in ``languages`` (``language_not_selected``)
2. ``dedup``          it lost a dedup key to another example (``duplicate:first_user``, ``duplicate:prompt``,
                      ``duplicate:pair``; posttrain_duplicates)
3. ``signals``        a signal of the response (a conversation's final response, a pair's chosen one) outside its
                      bounds (``refusal_at_start>0``, ``template_markers_response>0``, ...); the question and the
                      answer in different languages unless ``allow_lang_mismatch`` (``lang_mismatch``); a pair's
                      rejected response outside ``rejected_thresholds`` (``rejected:template_markers_response>0``)
4. ``contamination``  a benchmark substring in any of its turns (``contaminated:<benchmark>``)

The outputs are overwritten whole on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables
from spark_jobs.decontaminate.contamination import read_contamination
from spark_jobs.posttrain.signals import SIGNAL_NAMES
from spark_jobs.select import Bounds, bound_checks, failed_rules

log = logging.getLogger("moru.posttrain.select")

STEPS = ("language", "dedup", "signals", "contamination")
CONVERSATIONS = tables.CONVERSATIONS.name
PAIRS = tables.PREFERENCE_PAIRS.name
KEYS = {CONVERSATIONS: ("first_user", "prompt"), PAIRS: ("pair",)}  # the dedup key kinds of each table
THRESHOLD_SIGNALS = tuple(n for n in SIGNAL_NAMES if n != "lang_mismatch")  # lang_mismatch: allow_lang_mismatch


def _b(lo: float | None = None, hi: float | None = None) -> dict:
    return {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


# A response that opens with a refusal, holds chat-template tokens or role prefixes (a conversion left them in the
# text, where training would teach the model to print them), or loops on itself (the same 10-word run over half its
# characters) is not a target; refusals further in are kept (a caveat, a quoted refusal).
DEFAULT_THRESHOLDS: dict[str, dict] = {
    "response_chars": _b(lo=1),
    "refusal_at_start": _b(hi=0),
    "template_markers_response": _b(hi=0),
    "template_markers_prompt": _b(hi=0),
    "response_dup_10gram_char_frac": _b(hi=0.5),
}
# the rejected response of a pair is trained on too (pushed down): template leftovers are not wanted there either
DEFAULT_REJECTED_THRESHOLDS: dict[str, dict] = {"template_markers_response": _b(hi=0)}


def _merged(defaults: dict[str, dict]):
    def merge(value):
        merged = dict(defaults)
        merged.update(value or {})
        return merged

    return merge


class PosttrainSelectConfig(BaseModel):
    """``posttrain.select``. ``thresholds`` / ``rejected_thresholds`` are merged over the defaults per signal
    (``{refusal_at_start: null}`` drops that rule, ``{response_chars: {min: 20}}`` changes one)."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: ["ko", "en", "ko+en"], min_length=1)
    drop_duplicates: bool = Field(
        default=True, description="drop examples that lost a dedup key (false: posttrain_duplicates is optional)"
    )
    drop_contaminated: bool = Field(
        default=True,
        description="drop examples with a benchmark substring in a turn (if false they reach the corpora with "
        "contaminated = true, and the post-training gate refuses them)",
    )
    allow_lang_mismatch: bool = Field(
        default=False, description="keep examples whose question and answer are in different languages"
    )
    thresholds: dict[str, Bounds | None] = Field(
        default_factory=dict, validate_default=True, description="bounds on the signals of the (chosen) response"
    )
    rejected_thresholds: dict[str, Bounds | None] = Field(
        default_factory=dict, validate_default=True, description="bounds on the signals of a pair's rejected response"
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _merge_thresholds(cls, value):
        return _merged(DEFAULT_THRESHOLDS)(value)

    @field_validator("rejected_thresholds", mode="before")
    @classmethod
    def _merge_rejected(cls, value):
        return _merged(DEFAULT_REJECTED_THRESHOLDS)(value)

    @field_validator("thresholds", "rejected_thresholds")
    @classmethod
    def _known(cls, value: dict):
        unknown = sorted(set(value) - set(THRESHOLD_SIGNALS))
        if unknown:
            raise ValueError(
                f"unknown signal(s) {', '.join(unknown)} (known: {', '.join(THRESHOLD_SIGNALS)}; lang_mismatch is "
                "allow_lang_mismatch)"
            )
        return value

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def _checks(rules: dict[str, Bounds | None], prefix: str = "", name_prefix: str = "") -> list[tuple[str, Column]]:
    """(rule name, column true when the rule FAILS) of each bound; ``prefix``: the signal columns' prefix."""
    return [c for name, b in rules.items() if b is not None for c in bound_checks(name, b, prefix + name, name_prefix)]


def _signals(spark: SparkSession, workdir: str, table: str, side: str, prefix: str) -> DataFrame:
    if not tables.exists(spark, workdir, tables.POSTTRAIN_SIGNALS):
        raise FileNotFoundError("posttrain_signals does not exist yet: run `moru posttrain signals` first")
    sig = tables.read(spark, workdir, tables.POSTTRAIN_SIGNALS).filter(
        (F.col("source_table") == table) & (F.col("side") == side)
    )
    return sig.select("doc_id", *[F.col(n).alias(prefix + n) for n in SIGNAL_NAMES])


def _duplicates(spark: SparkSession, workdir: str, table: str, cfg: PosttrainSelectConfig) -> DataFrame | None:
    """doc_id → the duplicate rules it fails (``_dup``) and its key hashes (``<kind>_key``); None without a dedup
    table when duplicates are not dropped (the keys are then null)."""
    if not tables.exists(spark, workdir, tables.POSTTRAIN_DUPLICATES):
        if not cfg.drop_duplicates:
            return None
        raise FileNotFoundError("posttrain_duplicates does not exist yet: run `moru posttrain dedup` first")
    dup = tables.read(spark, workdir, tables.POSTTRAIN_DUPLICATES).filter(F.col("source_table") == table)
    lost = F.when(~F.col("is_keeper"), F.concat(F.lit("duplicate:"), F.col("key_kind")))
    return dup.groupBy("doc_id").agg(
        F.array_sort(F.collect_list(lost)).alias("_dup"),
        *[F.max(F.when(F.col("key_kind") == k, F.col("key_hash"))).alias(f"{k}_key") for k in KEYS[table]],
    )


def _contamination(spark: SparkSession, workdir: str, table: str) -> DataFrame | None:
    cont = read_contamination(spark, workdir, table)
    if cont is None:
        return None
    return cont.groupBy("doc_id").agg(
        F.array_sort(F.collect_set(F.concat(F.lit("contaminated:"), F.col("benchmark")))).alias("_cont")
    )


def decide(spark: SparkSession, workdir: str, table: str, cfg: PosttrainSelectConfig) -> DataFrame | None:
    """Every row of ``table`` (conversations or preference_pairs) with its failures per step, ``kept``,
    ``dropped_at``, ``first_failed_rule``, ``failed_rules``, ``contaminated`` (None without the table)."""
    source = tables.ALL_TABLES[table]
    if not tables.exists(spark, workdir, source):
        return None
    df = tables.read(spark, workdir, source)
    main_side = "response" if table == CONVERSATIONS else "chosen"
    # signal columns prefixed: the tables have columns of the same names (n_turns, lang_mismatch)
    df = df.join(_signals(spark, workdir, table, main_side, "sig_"), "doc_id", "left")
    checks = _checks(cfg.thresholds, "sig_")
    if table == PAIRS:
        df = df.join(_signals(spark, workdir, table, "rejected", "rejected_"), "doc_id", "left")
        checks += _checks(cfg.rejected_thresholds, "rejected_", "rejected:")
    if not cfg.allow_lang_mismatch:
        checks.append(("lang_mismatch", F.col("sig_lang_mismatch") > 0))
    dup = _duplicates(spark, workdir, table, cfg)
    if dup is not None:
        df = df.join(dup, "doc_id", "left")
    else:
        df = df.select("*", F.lit(None).cast("array<string>").alias("_dup"),
                       *[F.lit(None).cast("string").alias(f"{k}_key") for k in KEYS[table]])  # fmt: skip
    cont = _contamination(spark, workdir, table)
    if cont is not None:
        df = df.join(cont, "doc_id", "left")
    else:
        df = df.withColumn("_cont", F.lit(None).cast("array<string>"))
    empty = F.array().cast("array<string>")
    failures = {
        "language": failed_rules([("language_not_selected", ~F.col("lang").isin(cfg.languages))]),
        "dedup": F.coalesce(F.col("_dup"), empty) if cfg.drop_duplicates else empty,
        "signals": failed_rules(checks),
        "contamination": F.coalesce(F.col("_cont"), empty) if cfg.drop_contaminated else empty,
    }
    for step in STEPS:
        df = df.withColumn(f"_f_{step}", failures[step])
    dropped_at = F.lit(None).cast("string")
    for step in reversed(STEPS):
        dropped_at = F.when(F.size(F.col(f"_f_{step}")) > 0, F.lit(step)).otherwise(dropped_at)
    return (
        df.withColumn("failed_rules", F.concat(*[F.col(f"_f_{s}") for s in STEPS]))
        .withColumn("dropped_at", dropped_at)
        .withColumn("first_failed_rule", F.try_element_at(F.col("failed_rules"), F.lit(1)))
        .withColumn("kept", F.size(F.col("failed_rules")) == 0)
        .withColumn("contaminated", F.col("_cont").isNotNull())
        .withColumn("source_table", F.lit(table))
        .withColumn("rules_fingerprint", F.lit(cfg.fingerprint()))
    )


def _sft_rows(decided: DataFrame) -> DataFrame:
    assistant = F.aggregate(
        F.filter("messages", lambda m: m["role"] == "assistant"), F.lit(0), lambda acc, m: acc + F.length(m["content"])
    )
    return decided.filter(F.col("kept")).withColumn("assistant_chars", assistant.cast("int"))


def run(spark: SparkSession, workdir: str, cfg: PosttrainSelectConfig | None = None) -> StageStats:
    cfg = cfg or PosttrainSelectConfig()
    started = time.time()
    stats = StageStats("posttrain_select")
    by_step: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    persisted: list[DataFrame] = []
    try:
        n, kept_by_table = _decide_and_write(spark, workdir, cfg, persisted)
        for r in (
            tables.read(spark, workdir, tables.POSTTRAIN_SELECTION)
            .groupBy("dropped_at", "first_failed_rule")
            .count()
            .collect()
        ):
            if r["dropped_at"] is not None:
                by_step[r["dropped_at"]] = by_step.get(r["dropped_at"], 0) + r["count"]
                by_rule[r["first_failed_rule"]] = by_rule.get(r["first_failed_rule"], 0) + r["count"]
    finally:
        for d in persisted:
            d.unpersist()
    stats.rows_in = n
    stats.rows_out = sum(kept_by_table.values())
    stats.rows_rejected = n - stats.rows_out
    stats.by_reason = by_step
    stats.extra = {
        "kept": kept_by_table,
        "first_failed_rule": dict(sorted(by_rule.items(), key=lambda kv: -kv[1])),
        "rules": cfg.fingerprint(),
    }
    stats.seconds = time.time() - started
    stats.check()
    log.info("posttrain_select: in=%d kept=%s dropped=%s", n, kept_by_table, by_step)
    return stats


def _decide_and_write(
    spark: SparkSession, workdir: str, cfg: PosttrainSelectConfig, persisted: list[DataFrame]
) -> tuple[int, dict[str, int]]:
    """Decide both tables, write the corpora and the selection: (selection rows, kept rows per table). The frames
    it caches go to ``persisted`` (the caller releases them)."""
    outputs = {CONVERSATIONS: (tables.SFT_CORPUS, _sft_rows), PAIRS: (tables.PREFERENCE_CORPUS, None)}
    decisions = []
    kept_by_table: dict[str, int] = {}
    for table, (corpus, shape) in outputs.items():
        decided = decide(spark, workdir, table, cfg)
        if decided is None:
            tables.overwrite(spark, spark.createDataFrame([], corpus.schema), workdir, corpus)
            kept_by_table[table] = 0
            continue
        decided = decided.persist()
        persisted.append(decided)
        missing = decided.filter(F.col("sig_response_chars").isNull()).count()  # (this fills the cache)
        if missing:
            raise ValueError(
                f"{missing:,} rows of {table} have no signals (posttrain_signals is older than {table}): run `moru "
                "posttrain signals` first"
            )
        decisions.append(decided.select(*tables.POSTTRAIN_SELECTION.columns))
        kept = decided if shape is None else shape(decided)
        kept_by_table[table] = tables.overwrite(spark, kept.filter(F.col("kept")), workdir, corpus)
    if decisions:
        selection = decisions[0]
        for d in decisions[1:]:
            selection = selection.unionByName(d)
    else:
        selection = spark.createDataFrame([], tables.POSTTRAIN_SELECTION.schema)
    return tables.overwrite(spark, selection, workdir, tables.POSTTRAIN_SELECTION), kept_by_table


def config_of(cfg) -> PosttrainSelectConfig:
    """``posttrain.select`` of the composed config (its defaults until the section is declared)."""
    return getattr(cfg.posttrain, "select", None) or PosttrainSelectConfig()


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, config_of(ctx.cfg))


JOB = Job(
    name="posttrain_select",
    run=run_job,
    summary="Keep or drop every conversation and preference pair (language, duplicates, signal thresholds, "
    "contamination), with reasons: -> posttrain_selection, sft_corpus, preference_corpus.",
    reads=("conversations", "preference_pairs", "posttrain_signals", "posttrain_duplicates", "posttrain_contamination"),
    writes=("posttrain_selection", "sft_corpus", "preference_corpus"),
    section="posttrain.select",
    command="posttrain select",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_select")
