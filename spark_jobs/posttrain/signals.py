"""Post-training signals: ``conversations`` + ``preference_pairs`` → Delta ``posttrain_signals``.

Numbers only (the thresholds are the select step's, spark_jobs.posttrain.select), from the kernels of
:mod:`quality.posttrain.signals`: the response's length and Gopher repetition, refusal phrases (Korean and
English), chat-template leftovers in the prompt and the response, and whether the question's and the answer's
languages disagree. A conversation has one row (side ``response``: its final response after its prompt); a
preference pair two (``chosen`` and ``rejected``, each after the pair's prompt). Korean responses are counted in
MeCab morphemes, as pretraining's signals do (quality.signals.compute.words_of).

Language: the normalize step has already labelled every turn and applied the kernel's rule
(:func:`quality.posttrain.signals.language_signals`) to the question (the last user turn) and the answer, so a
conversation's and a pair's chosen ``lang_mismatch`` are the table's; a rejected response's is the same rule over the
labels the table holds (``prompt_lang``, ``rejected_lang``), a text under ``lang_min_chars`` counting as
undetermined. No language id runs twice. The table is rebuilt on every run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import DataFrame, SparkSession

from core.job import Job, JobContext
from core.stats import StageStats
from spark_jobs import tables

log = logging.getLogger("moru.posttrain.signals")

KEY = ("source_table", "doc_id", "side", "lang")
# the declared columns after the key (read off the DDL: Table.columns needs a Spark session)
SIGNAL_NAMES: tuple[str, ...] = tuple(
    name for name in (part.split()[0] for part in tables.POSTTRAIN_SIGNALS.ddl.split(", ")) if name not in KEY
)


class PosttrainSignalsConfig(BaseModel):
    """``posttrain.signals``: how the Korean word counts and a rejected response's language signal are made."""

    model_config = ConfigDict(extra="forbid")

    lang_min_chars: int = Field(
        default=20,
        ge=0,
        description="a question or rejected answer shorter than this counts as undetermined (as "
        "posttrain.normalize.mismatch_min_chars for the chosen one)",
    )
    korean_morphemes: bool = Field(
        default=True, description="count Korean responses in MeCab morphemes (false: whitespace words)"
    )


def response_signals(
    prompt: list[dict], response: list[dict], lang: str, cfg: PosttrainSignalsConfig
) -> dict[str, float]:
    """Every signal but the language one for ``prompt`` + ``response`` (row-form messages; ``lang``: the
    response's language, which decides how words are counted)."""
    from quality.posttrain.schema import Message
    from quality.posttrain.signals import conversation_signals
    from quality.signals.compute import words_of

    msgs = [Message(m["role"], m["content"] or "") for m in [*prompt, *response]]
    answer = (response[-1]["content"] or "") if response else ""
    return conversation_signals(msgs, words_of(answer, lang) if cfg.korean_morphemes else None)


def question_answer(prompt: list[dict], response: list[dict]) -> tuple[str, str]:
    """The texts the language signal compares: the prompt's last user turn and the response's last turn."""
    question = next((m["content"] or "" for m in reversed(prompt) if m["role"] == "user"), "")
    return question, (response[-1]["content"] or "") if response else ""


def _split(messages: list[dict]) -> tuple[list[dict], list[dict]]:
    """(prompt, final response) of a conversation in row form."""
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    return messages[: last_user + 1], messages[last_user + 1 :]


def _mapper(table: str, cfg: PosttrainSignalsConfig):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from quality.posttrain.signals import language_signals

        for batch in batches:
            keys: list[tuple[str, str, str]] = []
            values: list[dict[str, float]] = []
            for row in batch.to_pylist():
                if table == tables.CONVERSATIONS.name:
                    prompt, response = _split(row["messages"])
                    sides = [("response", response, row["response_lang"], float(row["lang_mismatch"]))]
                else:
                    prompt = row["prompt"]
                    question, answer = question_answer(prompt, row["rejected"])
                    labels = [row["prompt_lang"], row["rejected_lang"]]
                    (rejected,) = language_signals([question], [answer], lambda _t, lb=labels: lb, cfg.lang_min_chars)
                    sides = [
                        ("chosen", row["chosen"], row["chosen_lang"], float(row["lang_mismatch"])),
                        ("rejected", row["rejected"], row["rejected_lang"], rejected["lang_mismatch"]),
                    ]
                for side, response, lang, mismatch in sides:
                    sig = response_signals(prompt, response, lang, cfg)
                    sig["lang_mismatch"] = mismatch
                    keys.append((row["doc_id"], side, lang))
                    values.append(sig)
            if not keys:
                continue
            doc_ids, sides, langs = zip(*keys, strict=True)
            arrays = [pa.array([table] * len(keys)), pa.array(doc_ids), pa.array(sides), pa.array(langs)]
            arrays += [pa.array([float(v[n]) for v in values], pa.float64()) for n in SIGNAL_NAMES]
            yield pa.RecordBatch.from_arrays(arrays, names=[*KEY, *SIGNAL_NAMES])

    return run


def compute(spark: SparkSession, workdir: str, cfg: PosttrainSignalsConfig) -> tuple[DataFrame | None, dict]:
    """The signal rows of both tables (lazy), and each table's rows."""
    ddl = tables.POSTTRAIN_SIGNALS.ddl.replace(" NOT NULL", "")
    frames, counts = [], {}
    inputs = {
        tables.CONVERSATIONS.name: ["doc_id", "messages", "response_lang", "lang_mismatch"],
        tables.PREFERENCE_PAIRS.name: ["doc_id", "prompt", "chosen", "rejected", "prompt_lang", "chosen_lang",
                                       "rejected_lang", "lang_mismatch"],  # fmt: skip
    }
    for name, columns in inputs.items():
        table = tables.ALL_TABLES[name]
        if not tables.exists(spark, workdir, table):
            counts[name] = 0
            continue
        df = tables.read(spark, workdir, table)
        counts[name] = df.count()
        frames.append(df.select(*columns).mapInArrow(_mapper(name, cfg), ddl))
    if not frames:
        return None, counts
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out, counts


def run(spark: SparkSession, workdir: str, cfg: PosttrainSignalsConfig | None = None) -> StageStats:
    cfg = cfg or PosttrainSignalsConfig()
    started = time.time()
    stats = StageStats("posttrain_signals")
    rows, counts = compute(spark, workdir, cfg)
    if rows is None:
        rows = spark.createDataFrame([], tables.POSTTRAIN_SIGNALS.schema)
    written = tables.overwrite(spark, rows, workdir, tables.POSTTRAIN_SIGNALS)
    # a conversation gives one row, a pair two
    expected = counts.get(tables.CONVERSATIONS.name, 0) + 2 * counts.get(tables.PREFERENCE_PAIRS.name, 0)
    if written != expected:
        raise RuntimeError(f"posttrain_signals: {written} rows written for {counts} (expected {expected})")
    stats.rows_in = stats.rows_out = sum(counts.values())
    stats.extra = {"inputs": counts, "signal_rows": written}
    stats.seconds = time.time() - started
    stats.check()
    log.info("posttrain_signals: %s -> %d rows", counts, written)
    return stats


def config_of(cfg) -> PosttrainSignalsConfig:
    """``posttrain.signals`` of the composed config (its defaults until the section is declared)."""
    return getattr(cfg.posttrain, "signals", None) or PosttrainSignalsConfig()


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, config_of(ctx.cfg))


JOB = Job(
    name="posttrain_signals",
    run=run_job,
    summary="Quality signals of post-training responses (length, repetition, refusals ko/en, template leftovers, "
    "question/answer language mismatch): conversations, preference_pairs -> posttrain_signals (numbers only).",
    reads=("conversations", "preference_pairs"),
    writes=("posttrain_signals",),
    section="posttrain.signals",
    command="posttrain signals",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_signals")
