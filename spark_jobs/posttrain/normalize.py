"""Post-training normalize + language id: ``raw_conversations`` → ``conversations``, ``raw_preference_pairs`` →
``preference_pairs``.

Every turn is normalized as pretraining text is (:func:`quality.normalize.normalize_text` with the ``normalize``
section's form and HTML unescaping; a system turn left empty is dropped, as the readers drop blank system turns)
and labelled with the same language id (:func:`quality.langid.identify`, the ``normalize.langid`` section: fastText
lid.176 with the Hangul-share and code-switching rules). A conversation also gets:

- ``turn_langs`` (one label per turn, in order) and ``lang_mix`` (turns per label); ``lang``: the label of its user
  and assistant text taken together (system prompts are often English boilerplate in Korean sets);
- ``prompt_lang``: the last question (the last user turn before the final response); ``response_lang``: the final
  answer (the last assistant turn); ``lang_mismatch``: they disagree under
  :func:`quality.posttrain.signals.language_signals`' rule (``ko+en`` agrees with ``ko`` and ``en``, ``und`` with
  anything, and a text under ``posttrain.normalize.mismatch_min_chars`` counts as ``und``), where a text labelled
  ``other`` only because fastText's confidence was under ``normalize.langid.min_score`` also counts as ``und``
  (short English questions often score 0.3-0.5 for ``en``; on Anthropic HH that alone flagged 2 % of the pairs).
  A Korean question answered in English is flagged;
- dedup keys over the exact-dedup canonical form (``dedup.exact.canonical``,
  :func:`quality.dedup.canonical.content_hash`): ``first_user_hash`` is ``content_hash`` of the first user turn
  (the same hash a pretraining document of that text gets), ``prompt_hash`` hashes every turn before the final
  response (roles and each turn's ``content_hash``, so turn boundaries count), and a pair's ``pair_hash`` is its
  prompt plus its chosen response.

A preference pair gets the language of each prompt turn (``prompt_turn_langs``), ``prompt_lang`` as above,
``chosen_lang`` / ``rejected_lang`` (each response's last assistant turn), ``lang`` (prompt and chosen text) and
``lang_mismatch`` between the question and the chosen answer (a rejected answer in another language is a fine
negative).

After normalization the structural rules are checked again (quality.posttrain.validate): a turn that normalizes to
nothing (``&nbsp;``) or responses that become the same text are quarantined with the rule's reason (stage
``posttrain_normalize``), and a row whose new raw record now fails loses its old normalized row.

Incremental as pretraining's normalize: only raw rows whose ``record_sha1`` or whose settings (the fingerprint of
the normalize section, the canonical form, the mismatch rule and this kernel's version) changed are processed; the
rest count as unchanged. Re-running with the same input writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.dedup.canonical import CanonicalForm, content_hash
from quality.langid import identify
from quality.normalize import normalize_text
from quality.posttrain import validate
from quality.posttrain.schema import Message
from quality.posttrain.signals import language_signals
from quality.posttrain.turns import split_prompt_response
from quality.posttrain.validate import RecordError, Rejection
from spark_jobs import tables
from spark_jobs.ingest.job import write_quarantine
from spark_jobs.normalize import NormalizeConfig
from spark_jobs.posttrain.config import PosttrainConfig, PosttrainNormalizeConfig

log = logging.getLogger("moru.posttrain.normalize")

STAGE = "posttrain_normalize"
# Bump when the kernels below change in a way that changes their output: every row is redone.
KERNEL_VERSION = "1"


@dataclass(frozen=True)
class Settings:
    """Everything the kernel's output depends on."""

    normalize: NormalizeConfig
    canonical: CanonicalForm
    mismatch_min_chars: int = 20

    def fingerprint(self) -> str:
        blob = json.dumps(
            {"v": KERNEL_VERSION, "normalize": self.normalize.fingerprint(), "canonical": self.canonical.key(),
             "mismatch_min_chars": self.mismatch_min_chars},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- pure kernels


def normalize_turns(messages: Sequence[dict], cfg: NormalizeConfig) -> list[Message]:
    """Every turn's content normalized; a system turn left empty is dropped."""
    out = []
    for m in messages:
        text = normalize_text(m["content"], cfg.form, cfg.unescape_html)
        if m["role"] == "system" and not text:
            continue
        out.append(Message(m["role"], text))
    return out


def turns_hash(msgs: Sequence[Message], form: CanonicalForm) -> str:
    """SHA-1 over each turn's role and canonical ``content_hash``: equal when the turns are canonically equal."""
    parts = "\x1e".join(f"{m.role}\x1f{content_hash(m.content, form)}" for m in msgs)
    return hashlib.sha1(parts.encode("utf-8")).hexdigest()


def _last(msgs: Sequence[Message], role: str) -> int:
    return max(i for i, m in enumerate(msgs) if m.role == role)


def _first(msgs: Sequence[Message], role: str) -> int:
    return min(i for i, m in enumerate(msgs) if m.role == role)


def _dialogue_text(msgs: Sequence[Message]) -> str:
    return "\n".join(m.content for m in msgs if m.role in ("user", "assistant"))


class Label(NamedTuple):
    """A text's language label (``lang``, as pretraining's ``documents.lang``) and the label its language agreement
    is judged by (``sure``): ``und`` where the label is ``other`` only because fastText was not confident (short
    English questions often score 0.3-0.5 for ``en``: they are not another language)."""

    lang: str
    sure: str


Labeller = Callable[[Sequence[str]], list[Label]]


def labeller(cfg: NormalizeConfig) -> Labeller:
    """Labels of a list of texts: quality.langid.identify with the ``normalize.langid`` settings."""

    def label(texts: Sequence[str]) -> list[Label]:
        found = identify(texts, cfg.langid) if texts else []
        return [Label(lang, "und" if lang == "other" and score < cfg.langid.min_score else lang)
                for lang, _label, score, _ratios in found]  # fmt: skip

    return label


def _mismatch(question: str, answer: str, labels: tuple[Label, Label], min_chars: int) -> bool:
    """quality.posttrain.signals' rule (language_signals) over labels already computed."""
    found = language_signals([question], [answer], lambda _texts: [lb.sure for lb in labels], min_chars)
    return found[0]["lang_mismatch"] == 1.0


def check_conversation(messages: Sequence[dict], cfg: NormalizeConfig) -> list[Message] | Rejection:
    """The normalized turns, or the rule they now break."""
    msgs = normalize_turns(messages, cfg)
    try:
        validate.conversation(msgs, sys.maxsize)
    except RecordError as e:
        return Rejection(e.reason, "after normalization: " + e.detail)
    return msgs


def check_pair(row: dict, cfg: NormalizeConfig) -> tuple[list[Message], list[Message], list[Message]] | Rejection:
    parts = tuple(normalize_turns(row[name], cfg) for name in ("prompt", "chosen", "rejected"))
    try:
        validate.pair(*parts, sys.maxsize)
    except RecordError as e:
        return Rejection(e.reason, "after normalization: " + e.detail)
    return parts


def normalize_conversations(rows: Sequence[list[dict]], s: Settings, label: Labeller) -> list[dict | Rejection]:
    """Each conversation's (a list of message dicts) normalized row, or its rejection. ``label``: language labels
    of a list of texts (one fastText pass for the whole batch)."""
    checked = [check_conversation(msgs, s.normalize) for msgs in rows]
    texts: list[str] = []
    for c in checked:
        if not isinstance(c, Rejection):
            texts.extend(m.content for m in c)
            texts.append(_dialogue_text(c))
    labels = iter(label(texts))
    out: list[dict | Rejection] = []
    for c in checked:
        if isinstance(c, Rejection):
            out.append(c)
            continue
        turns = [next(labels) for _ in c]
        turn_langs = [lb.lang for lb in turns]
        lang = next(labels).lang
        prompt, _response = split_prompt_response(c)
        q, a = _last(prompt, "user"), _last(c, "assistant")
        out.append({
            "messages": [m.to_dict() for m in c],
            "turn_langs": turn_langs,
            "lang": lang,
            "lang_mix": sorted(Counter(turn_langs).items()),
            "prompt_lang": turn_langs[q],
            "response_lang": turn_langs[a],
            "lang_mismatch": _mismatch(c[q].content, c[a].content, (turns[q], turns[a]), s.mismatch_min_chars),
            "n_turns": len(c),
            "n_chars": sum(len(m.content) for m in c),
            "prompt_hash": turns_hash(prompt, s.canonical),
            "first_user_hash": content_hash(c[_first(c, "user")].content, s.canonical),
        })  # fmt: skip
    return out


def normalize_pairs(rows: Sequence[dict], s: Settings, label: Labeller) -> list[dict | Rejection]:
    """Each pair's (a dict with prompt, chosen, rejected message lists) normalized row, or its rejection."""
    checked = [check_pair(row, s.normalize) for row in rows]
    texts: list[str] = []
    for c in checked:
        if not isinstance(c, Rejection):
            prompt, chosen, rejected = c
            texts.extend(m.content for m in prompt)
            texts += [chosen[_last(chosen, "assistant")].content, rejected[_last(rejected, "assistant")].content]
            texts.append(_dialogue_text([*prompt, *chosen]))
    labels = iter(label(texts))
    out: list[dict | Rejection] = []
    for c in checked:
        if isinstance(c, Rejection):
            out.append(c)
            continue
        prompt, chosen, rejected = c
        prompt_labels = [next(labels) for _ in prompt]
        chosen_label, rejected_label, lang = next(labels), next(labels), next(labels).lang
        prompt_langs = [lb.lang for lb in prompt_labels]
        q = _last(prompt, "user")
        answer = chosen[_last(chosen, "assistant")].content
        mismatch = _mismatch(prompt[q].content, answer, (prompt_labels[q], chosen_label), s.mismatch_min_chars)
        prompt_hash = turns_hash(prompt, s.canonical)
        pair_key = f"{prompt_hash}\x1d{turns_hash(chosen, s.canonical)}"
        out.append({
            "prompt": [m.to_dict() for m in prompt],
            "chosen": [m.to_dict() for m in chosen],
            "rejected": [m.to_dict() for m in rejected],
            "lang": lang,
            "prompt_turn_langs": prompt_langs,
            "prompt_lang": prompt_langs[q],
            "chosen_lang": chosen_label.lang,
            "rejected_lang": rejected_label.lang,
            "lang_mismatch": mismatch,
            "n_chars": sum(len(m.content) for m in prompt)
            + max(sum(len(m.content) for m in chosen), sum(len(m.content) for m in rejected)),
            "prompt_hash": prompt_hash,
            "first_user_hash": content_hash(prompt[_first(prompt, "user")].content, s.canonical),
            "pair_hash": hashlib.sha1(pair_key.encode("utf-8")).hexdigest(),
        })  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------- Spark

_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_STRINGS = pa.list_(pa.string())


@dataclass(frozen=True)
class Part:
    """One raw table → its normalized table."""

    raw: tables.Table
    out: tables.Table
    inputs: tuple[str, ...]  # the raw row's content columns the kernel reads
    passthrough: tuple[str, ...]  # raw columns copied as they are
    fields: tuple[tuple[str, pa.DataType], ...]  # the kernel's columns
    kernel: Callable[[Sequence, Settings, Labeller], list[dict | Rejection]]
    check: Callable[[object, NormalizeConfig], object]

    def kernel_input(self, batch: pa.RecordBatch) -> list:
        if self.inputs == ("messages",):
            return batch.column("messages").to_pylist()
        cols = {name: batch.column(name).to_pylist() for name in self.inputs}
        return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]

    def ddl(self) -> str:
        raw = {f.name: f.dataType.simpleString() for f in self.raw.schema.fields}
        kernel = {f.name: f.dataType.simpleString() for f in self.out.schema.fields}
        cols = [f"{c} {raw[c]}" for c in self.passthrough]
        cols += [f"{name} {kernel[name]}" for name, _ in self.fields]
        return ", ".join([*cols, "reason string", "detail string"])


_COMMON_PASSTHROUGH = ("doc_id", "source", "record_sha1", "ingested_at")

CONVERSATION_PART = Part(
    raw=tables.RAW_CONVERSATIONS,
    out=tables.CONVERSATIONS,
    inputs=("messages",),
    passthrough=_COMMON_PASSTHROUGH,
    fields=(
        ("messages", _MESSAGES), ("turn_langs", _STRINGS), ("lang", pa.string()),
        ("lang_mix", pa.map_(pa.string(), pa.int32())), ("prompt_lang", pa.string()), ("response_lang", pa.string()),
        ("lang_mismatch", pa.bool_()), ("n_turns", pa.int32()), ("n_chars", pa.int32()), ("prompt_hash", pa.string()),
        ("first_user_hash", pa.string()),
    ),  # fmt: skip
    kernel=normalize_conversations,
    check=check_conversation,
)

PAIR_PART = Part(
    raw=tables.RAW_PREFERENCE_PAIRS,
    out=tables.PREFERENCE_PAIRS,
    inputs=("prompt", "chosen", "rejected"),
    passthrough=(*_COMMON_PASSTHROUGH, "chosen_score", "rejected_score"),
    fields=(
        ("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES), ("lang", pa.string()),
        ("prompt_turn_langs", _STRINGS), ("prompt_lang", pa.string()), ("chosen_lang", pa.string()),
        ("rejected_lang", pa.string()), ("lang_mismatch", pa.bool_()), ("n_chars", pa.int32()),
        ("prompt_hash", pa.string()), ("first_user_hash", pa.string()), ("pair_hash", pa.string()),
    ),  # fmt: skip
    kernel=normalize_pairs,
    check=check_pair,
)

PARTS = (CONVERSATION_PART, PAIR_PART)


def _make_mapper(part: Part, s: Settings):
    """One output row per raw row: the kernel's columns, or null ones with the rejection's reason and detail."""

    def mapper(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        label = labeller(s.normalize)
        for batch in batches:
            results = part.kernel(part.kernel_input(batch), s, label)
            arrays = [batch.column(name) for name in part.passthrough]
            for name, typ in part.fields:
                arrays.append(pa.array([None if isinstance(r, Rejection) else r[name] for r in results], typ))
            arrays.append(pa.array([r.reason if isinstance(r, Rejection) else None for r in results], pa.string()))
            arrays.append(pa.array([r.detail if isinstance(r, Rejection) else None for r in results], pa.string()))
            names = [*part.passthrough, *(n for n, _ in part.fields), "reason", "detail"]
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    return mapper


_REJECTED_DDL = "doc_id STRING, reason STRING, detail STRING"


def _make_rejection_finder(part: Part, cfg: NormalizeConfig):
    """Normalization and the rules only (no language id): the rows that are rejected, with why."""

    def finder(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column("doc_id").to_pylist()
            checked = (part.check(x, cfg) for x in part.kernel_input(batch))
            found = [(i, r) for i, r in zip(ids, checked, strict=True) if isinstance(r, Rejection)]
            if found:
                yield pa.RecordBatch.from_pydict(
                    {"doc_id": [i for i, _ in found], "reason": [r.reason for _, r in found],
                     "detail": [r.detail for _, r in found]},
                    schema=pa.schema([("doc_id", pa.string()), ("reason", pa.string()), ("detail", pa.string())]),
                )  # fmt: skip

    return finder


def _todo(spark: SparkSession, workdir: str, part: Part, fingerprint: str) -> DataFrame:
    """The raw rows not yet normalized (or rejected) from the same raw record with the same settings."""
    raw = tables.read(spark, workdir, part.raw)
    done = None
    if tables.exists(spark, workdir, part.out):
        done = (
            tables.read(spark, workdir, part.out)
            .filter(F.col("normalize_fingerprint") == fingerprint)
            .select("doc_id", F.concat_ws(":", "raw_sha1", "normalize_fingerprint").alias("input_fingerprint"))
        )
    if tables.exists(spark, workdir, tables.QUARANTINE):
        rejected = tables.read(spark, workdir, tables.QUARANTINE).filter(F.col("stage") == STAGE)
        rejected = rejected.select("doc_id", "input_fingerprint")
        done = rejected if done is None else done.unionByName(rejected)
    if done is None:
        return raw
    todo = raw.withColumn("input_fingerprint", F.concat_ws(":", "record_sha1", F.lit(fingerprint)))
    return todo.join(done, ["doc_id", "input_fingerprint"], "left_anti").drop("input_fingerprint")


def _normalize_part(
    spark: SparkSession, workdir: str, part: Part, s: Settings, payload_max_bytes: int, stats: StageStats
) -> DataFrame | None:
    """Normalize one raw table's new and changed rows into its table; returns the rejected rows (materialized), or
    None when there are none."""
    fingerprint = s.fingerprint()
    existed = tables.exists(spark, workdir, part.out)
    todo = _todo(spark, workdir, part, fingerprint)
    todo_count = todo.count()  # a Delta scan and an anti join: no Python
    unchanged = tables.read(spark, workdir, part.raw).count() - todo_count
    out_cols = part.out.columns
    # pass 1, the expensive one: normalization, rules and language id, straight into the table (nothing cached)
    kernel = todo.select(*part.passthrough, *part.inputs).mapInArrow(_make_mapper(part, s), part.ddl())
    rows = kernel.filter(F.col("reason").isNull()).select(
        *[F.col("record_sha1").alias("raw_sha1") if c == "raw_sha1" else
          F.lit(fingerprint).alias(c) if c == "normalize_fingerprint" else F.col(c) for c in out_cols]
    )  # fmt: skip
    written = tables.merge(spark, rows, workdir, part.out, changed=["raw_sha1", "normalize_fingerprint"])
    n_out = written["inserted"] + written["updated"]  # every row of todo is new or changed
    # pass 2, only when pass 1 wrote fewer rows than it read: which rows the rules rejected, and why (normalization
    # and the rules again, no language id). Rows written in pass 1 are no longer in todo, and the finder re-checks
    # every row it sees, so the answer is the same whichever table versions todo is read against.
    rejected = None
    by_reason: dict[str, int] = {}
    if todo_count - n_out:
        found = todo.select("doc_id", *part.inputs).mapInArrow(_make_rejection_finder(part, s.normalize), _REJECTED_DDL)
        payload = F.to_json(F.struct(*[F.col(c) for c in part.inputs]))
        rejected = (
            todo.join(found, "doc_id")
            .select(
                "doc_id", "source", "source_file", "record_index", "reason", "detail",
                F.substring(payload, 1, payload_max_bytes).alias("raw_payload"),
                F.octet_length(payload).cast("long").alias("payload_bytes"),
                F.concat_ws(":", "record_sha1", F.lit(fingerprint)).alias("input_fingerprint"),
            )  # fmt: skip
            # materialized, lineage cut: the writes that follow change the tables todo was read from
            .localCheckpoint(eager=True)
        )
        by_reason = {r["reason"]: r["count"] for r in rejected.groupBy("reason").count().collect()}
        if existed:
            # a row whose new raw record now fails must not keep its old normalized row
            from delta.tables import DeltaTable

            DeltaTable.forPath(spark, tables.table_uri(workdir, part.out)).alias("t").merge(
                rejected.select("doc_id").alias("s"), "t.doc_id = s.doc_id"
            ).whenMatchedDelete().execute()
    n_rejected = sum(by_reason.values())
    stats.rows_in += todo_count
    stats.rows_out += n_out
    stats.rows_rejected += n_rejected
    stats.rows_unchanged += unchanged
    for reason, n in by_reason.items():
        stats.by_reason[reason] = stats.by_reason.get(reason, 0) + n
    summary = (
        tables.read(spark, workdir, part.out)
        .groupBy("lang")
        .agg(F.count("*").alias("rows"), F.count(F.when(F.col("lang_mismatch"), 1)).alias("mismatches"))
        .collect()
    )
    stats.extra[part.out.name] = {
        "in": todo_count, "out": n_out, "rejected": n_rejected, "unchanged": unchanged, "by_reason": by_reason,
        "rows": sum(r["rows"] for r in summary), "lang_counts": {r["lang"]: r["rows"] for r in summary},
        "lang_mismatch": sum(r["mismatches"] for r in summary),
    }  # fmt: skip
    return rejected


def run(
    spark: SparkSession,
    workdir: str,
    normalize: NormalizeConfig | None = None,
    canonical: CanonicalForm | None = None,
    posttrain: PosttrainConfig | None = None,
) -> StageStats:
    posttrain = posttrain or PosttrainConfig()
    pt: PosttrainNormalizeConfig = posttrain.normalize
    s = Settings(normalize or NormalizeConfig(), canonical or CanonicalForm(), pt.mismatch_min_chars)
    started = time.time()
    stats = StageStats(STAGE)
    stats.extra["normalize_fingerprint"] = s.fingerprint()
    rejected: list[DataFrame] = []
    for part in PARTS:
        if not tables.exists(spark, workdir, part.raw):
            stats.extra[part.out.name] = {"skipped": f"no {part.raw.name} table (run posttrain ingest first)"}
            continue
        found = _normalize_part(spark, workdir, part, s, posttrain.ingest.payload_max_bytes, stats)
        if found is not None:
            rejected.append(found)
    if rejected:
        both = rejected[0] if len(rejected) == 1 else rejected[0].unionByName(rejected[1])
        # the quarantine's key is (stage, source, file, record, reason): the rows of one record (a rated record's
        # pairs) rejected for one reason are one quarantine row
        one_per_key = both.dropDuplicates(["source", "source_file", "record_index", "reason"])
        write_quarantine(spark, one_per_key, workdir, STAGE)
    stats.seconds = time.time() - started
    stats.check()  # the two passes agree: rows in = written + rejected
    log.info("posttrain normalize: in=%d out=%d rejected=%d unchanged=%d", stats.rows_in, stats.rows_out,
             stats.rows_rejected, stats.rows_unchanged)  # fmt: skip
    return stats


def run_job(ctx: JobContext) -> StageStats:
    cfg = ctx.cfg
    return run(ctx.spark, ctx.workdir, cfg.normalize, cfg.dedup.exact.canonical, cfg.posttrain)


JOB = Job(
    name="posttrain_normalize",
    run=run_job,
    summary="Normalize every turn and identify languages: raw_conversations -> conversations, "
    "raw_preference_pairs -> preference_pairs.",
    reads=("raw_conversations", "raw_preference_pairs"),
    writes=("conversations", "preference_pairs", "quarantine"),
    section="posttrain",
    command="posttrain normalize",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_normalize")
