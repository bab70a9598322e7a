"""Normalize + language id: Delta ``raw_documents`` → Delta ``documents``.

Each raw row gets Unicode/whitespace/HTML-entity normalization (:mod:`quality.normalize`),
fastText lid.176 language id with Hangul/Latin/Han script ratios (:mod:`quality.langid`) and
lengths in characters, bytes, lines and words (Korean words are MeCab morphemes). Only rows whose
raw record or whose normalization settings changed since the last run are processed; the rest
are counted as unchanged. Rows that normalize to nothing go to ``quarantine``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.korean import count_words
from quality.langid import LangIdConfig, identify
from quality.languages import DEFAULT as DEFAULT_LANGUAGES
from quality.languages import japanese_words
from quality.normalize import NormalForm, normalize_text
from spark_jobs import tables

log = logging.getLogger("moru.normalize")

# Bump when the kernels change in a way that changes their output: every row is redone.
KERNEL_VERSION = "1"


class NormalizeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: NormalForm = Field(
        default="NFC", description="NFC keeps Hangul composed; NFKC also folds compatibility forms"
    )
    unescape_html: bool = True
    langid: LangIdConfig = Field(default_factory=LangIdConfig)

    def fingerprint(self, languages: Sequence[str] = DEFAULT_LANGUAGES) -> str:
        dump = {"v": KERNEL_VERSION, **self.model_dump()}
        if tuple(languages) != DEFAULT_LANGUAGES:  # the default run's fingerprint stays what it was
            dump["languages"] = list(languages)
        blob = json.dumps(dump, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


_OUT_FIELDS = [
    ("doc_id", pa.string()),
    ("text", pa.string()),
    ("lang", pa.string()),
    ("lid_label", pa.string()),
    ("lid_score", pa.float64()),
    ("hangul_ratio", pa.float64()),
    ("latin_ratio", pa.float64()),
    ("han_ratio", pa.float64()),
    ("n_chars", pa.int32()),
    ("n_bytes", pa.int32()),
    ("n_words", pa.int32()),
    ("n_lines", pa.int32()),
]
_OUT_DDL = ", ".join(
    f"{n} {t}"
    for n, t in [
        ("doc_id", "STRING"),
        ("text", "STRING"),
        ("lang", "STRING"),
        ("lid_label", "STRING"),
        ("lid_score", "DOUBLE"),
        ("hangul_ratio", "DOUBLE"),
        ("latin_ratio", "DOUBLE"),
        ("han_ratio", "DOUBLE"),
        ("n_chars", "INT"),
        ("n_bytes", "INT"),
        ("n_words", "INT"),
        ("n_lines", "INT"),
    ]
)


def normalize_batch(
    texts: list[str], cfg: NormalizeConfig, languages: Sequence[str] = DEFAULT_LANGUAGES
) -> dict[str, list]:
    """The whole kernel over a list of raw texts (column-wise result). Empty output text means
    the document normalized to nothing. ``languages``: the top-level ``languages`` key."""
    normalized = [normalize_text(t, cfg.form, cfg.unescape_html) for t in texts]
    keep = [i for i, t in enumerate(normalized) if t]
    ids = identify([normalized[i] for i in keep], cfg.langid, languages)
    out: dict[str, list] = {name: [] for name, _ in _OUT_FIELDS if name != "doc_id"}
    found = dict(zip(keep, ids, strict=True))
    for i, text in enumerate(normalized):
        if i not in found:
            for name in out:
                out[name].append("" if name == "text" else None)
            continue
        lang, label, score, ratios = found[i]
        out["text"].append(text)
        out["lang"].append(lang)
        out["lid_label"].append(label)
        out["lid_score"].append(score)
        out["hangul_ratio"].append(ratios.hangul)
        out["latin_ratio"].append(ratios.latin)
        out["han_ratio"].append(ratios.han)
        out["n_chars"].append(len(text))
        out["n_bytes"].append(len(text.encode("utf-8")))
        if lang == "ja":  # only when ja is configured: UniDic morphemes
            out["n_words"].append(len(japanese_words(text)))
        else:
            out["n_words"].append(count_words(text) if ratios.hangul > 0 else len(text.split()))
        out["n_lines"].append(text.count("\n") + 1)
    return out


_PASSTHROUGH = ["doc_id", "source", "url", "metadata", "record_sha1", "ingested_at", "source_file", "record_index"]
_PASSTHROUGH_DDL = (
    "doc_id STRING, source STRING, url STRING, metadata MAP<STRING, STRING>, record_sha1 STRING, "
    "ingested_at TIMESTAMP, source_file STRING, record_index BIGINT"
)


_EMPTY_DDL = "doc_id STRING, source STRING, source_file STRING, record_index BIGINT, record_sha1 STRING, text STRING"


# A necessary condition for normalizing to nothing, checked in the JVM on a prefix of the text
# (a Java regex needs a java.lang.String, and decoding whole documents into one costs more than
# the check): the prefix holds only whitespace, separators, control/format characters and HTML
# entity-like tokens (``&name``, ``&#123``, with or without their ``;``, maybe cut off by the prefix:
# html.unescape also reads legacy entities that have no ``;``). An ordinary document fails at its first
# letter; the candidates are then checked exactly, in Python, by normalizing them.
_PREFIX_CHARS = 64
_MAYBE_EMPTY = r"^(?:[\s\p{Z}\p{Cc}\p{Cf}]|&(?:#[xX]?[0-9a-fA-F]*|[A-Za-z][A-Za-z0-9]*);?)*$"


def _make_empty_finder(cfg: NormalizeConfig):
    """The raw rows whose text normalizes to nothing (normalization only: cheap)."""

    def finder(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            texts = batch.column("text").to_pylist()
            keep = [i for i, t in enumerate(texts) if not normalize_text(t, cfg.form, cfg.unescape_html)]
            if keep:
                yield batch.take(pa.array(keep, pa.int64()))

    return finder


def _make_mapper(cfg: NormalizeConfig, languages: Sequence[str] = DEFAULT_LANGUAGES):
    """Kernel columns plus the raw row's other columns passed through untouched (no join back)."""
    languages = tuple(languages)

    def mapper(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            cols = normalize_batch(batch.column("text").to_pylist(), cfg, languages)
            arrays = [batch.column(name) for name in _PASSTHROUGH]
            names = list(_PASSTHROUGH)
            for name, typ in _OUT_FIELDS[1:]:
                arrays.append(pa.array(cols[name], type=typ))
                names.append(name)
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    return mapper


def run(
    spark: SparkSession,
    workdir: str,
    cfg: NormalizeConfig | None = None,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
) -> StageStats:
    """``languages``: the top-level ``languages`` key (a change of it redoes every row)."""
    cfg = cfg or NormalizeConfig()
    languages = tuple(languages)
    started = time.time()
    fingerprint = cfg.fingerprint(languages)
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS)
    todo = raw
    # done: normalized, or rejected, from the same raw record with the same settings
    done = None
    if tables.exists(spark, workdir, tables.DOCUMENTS):
        done = (
            tables.read(spark, workdir, tables.DOCUMENTS)
            .filter(F.col("normalize_fingerprint") == fingerprint)
            .select("doc_id", F.concat_ws(":", "raw_sha1", "normalize_fingerprint").alias("input_fingerprint"))
        )
    if tables.exists(spark, workdir, tables.QUARANTINE):
        rejected = tables.read(spark, workdir, tables.QUARANTINE).filter(F.col("stage") == "normalize")
        rejected = rejected.select("doc_id", "input_fingerprint")
        done = rejected if done is None else done.unionByName(rejected)
    if done is not None:
        todo = raw.withColumn("input_fingerprint", F.concat_ws(":", "record_sha1", F.lit(fingerprint)))
        todo = todo.join(done, ["doc_id", "input_fingerprint"], "left_anti").drop("input_fingerprint")

    todo_count = todo.count()  # a Delta scan and an anti join: no Python
    stats = StageStats("normalize")
    stats.rows_unchanged = raw.count() - todo_count

    # pass 1, the expensive one: the whole kernel, straight into documents (nothing cached)
    out_ddl = _PASSTHROUGH_DDL + ", " + _OUT_DDL.split(", ", 1)[1]
    kernel = todo.select(*_PASSTHROUGH, "text").mapInArrow(_make_mapper(cfg, languages), out_ddl)
    docs = kernel.filter(F.col("text") != "").select(
        "doc_id", "source", "url", "text", "lang", "lid_label", "lid_score", "hangul_ratio", "latin_ratio",
        "han_ratio", "n_chars", "n_bytes", "n_words", "n_lines", "metadata",
        F.col("record_sha1").alias("raw_sha1"), F.lit(fingerprint).alias("normalize_fingerprint"), "ingested_at",
    )  # fmt: skip
    written = tables.merge(spark, docs, workdir, tables.DOCUMENTS, changed=["raw_sha1", "normalize_fingerprint"])
    # every row of todo is new or changed, so each one written is an insert or an update
    stats.rows_out = written["inserted"] + written["updated"]

    # pass 2, only when pass 1 wrote fewer rows than it read: which rows normalized to nothing
    # (every row of todo is written or is empty, so the difference is the number of empties)
    missing = todo_count - stats.rows_out
    if missing:
        empties = (
            todo.filter(F.substring("text", 1, _PREFIX_CHARS).rlike(_MAYBE_EMPTY))
            .select("doc_id", "source", "source_file", "record_index", "record_sha1", "text")
            .mapInArrow(_make_empty_finder(cfg), _EMPTY_DDL)
            # materialized, lineage cut: the writes below change the tables todo was read from,
            # and a cache that depends on them would be recomputed against their new versions
            .localCheckpoint(eager=True)
        )
        stats.rows_rejected = empties.count()
        from spark_jobs.ingest.job import write_quarantine

        stats.by_reason["empty_after_normalization"] = stats.rows_rejected
        write_quarantine(spark, empties.select(
            "source", "source_file", "record_index", F.lit("empty_after_normalization").alias("reason"),
            F.concat(F.lit("doc_id "), F.col("doc_id")).alias("detail"),
            F.substring("text", 1, 2048).alias("raw_payload"),
            F.octet_length("text").cast("long").alias("payload_bytes"),
            "doc_id", F.concat_ws(":", "record_sha1", F.lit(fingerprint)).alias("input_fingerprint"),
        ), workdir, "normalize")  # fmt: skip
        # a document whose new raw text normalizes to nothing must not keep its old normalized row
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, tables.table_uri(workdir, tables.DOCUMENTS)).alias("t").merge(
            empties.select("doc_id").alias("s"), "t.doc_id = s.doc_id"
        ).whenMatchedDelete().execute()
    stats.rows_in = todo_count
    langs = tables.read(spark, workdir, tables.DOCUMENTS).groupBy("lang").count().collect()
    stats.extra["lang_counts"] = {r["lang"]: r["count"] for r in langs}
    stats.seconds = time.time() - started
    stats.check()  # the two passes agree: rows in = written + emptied
    log.info("normalize: in=%d out=%d rejected=%d unchanged=%d", stats.rows_in, stats.rows_out,
             stats.rows_rejected, stats.rows_unchanged)  # fmt: skip
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.normalize, getattr(ctx.cfg, "languages", DEFAULT_LANGUAGES))


JOB = Job(
    name="normalize",
    run=run_job,
    summary="Normalize text and identify languages: raw_documents -> documents.",
    reads=("raw_documents",),
    writes=("documents", "quarantine"),
    section="normalize",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("normalize")
