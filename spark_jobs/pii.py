"""PII job: Delta ``documents`` → ``redacted_documents`` (every document, its PII replaced by typed placeholders) and
``pii_findings`` (one row per finding: type, rule, offsets, an HMAC of the value, never the value).

The kernel is :mod:`quality.pii`, run over Arrow batches with ``mapInArrow`` (one compiled detector per Python worker).
It runs after the quality signals and decontamination, which see the text as normalized (a benchmark question that
holds a phone number is still found), and before ``select``, which takes ``training_corpus``'s text from
``redacted_documents``: the redacted text is what reaches the tokenizer and emission. Rows in (``documents``) =
rows out (``redacted_documents``); a document without PII keeps its text.

Both tables are rewritten whole (regexes are cheap next to a MERGE's join), in one commit each; a run whose
``documents`` version and settings are those of the last run does nothing (``--force`` redoes it). Each commit's
userMetadata records the ``documents`` version and the settings' fingerprint it was made from.

    python -m spark_jobs pii --config moru.yaml
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.pii import PiiConfig, detector_for
from spark_jobs import tables
from spark_jobs.dedup.exact import text_version

log = logging.getLogger("moru.pii")

_FINDING = pa.struct(
    [
        ("pii_type", pa.string()),
        ("rule", pa.string()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
        ("redacted_start", pa.int32()),
        ("redacted_end", pa.int32()),
        ("value_hash", pa.string()),
        ("placeholder", pa.string()),
    ]
)
_OUT = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("lang", pa.string()),
        ("text", pa.string()),
        ("n_chars", pa.int32()),
        ("n_bytes", pa.int32()),
        ("n_findings", pa.int32()),
        ("pii_types", pa.list_(pa.string())),
        ("text_version", pa.string()),
        ("config_fingerprint", pa.string()),
        ("findings", pa.list_(_FINDING)),
    ]
)
_OUT_DDL = (
    "doc_id STRING, source STRING, lang STRING, text STRING, n_chars INT, n_bytes INT, n_findings INT, "
    "pii_types ARRAY<STRING>, text_version STRING, config_fingerprint STRING, findings ARRAY<STRUCT<pii_type: STRING, "
    "rule: STRING, char_start: INT, char_end: INT, redacted_start: INT, redacted_end: INT, value_hash: STRING, "
    "placeholder: STRING>>"
)


def redact_rows(texts: list[str], cfg: PiiConfig) -> tuple[list[str], list[list[dict]]]:
    """Redacted texts and each one's findings as rows of ``pii_findings`` (without the document's columns)."""
    det = detector_for(cfg)
    out_texts, out_findings = [], []
    for text in texts:
        found = det.find(text or "")
        redacted, spans = det.redact(text or "", found)
        out_texts.append(redacted)
        out_findings.append(
            [
                {"pii_type": f.type, "rule": f.rule, "char_start": f.start, "char_end": f.end,
                 "redacted_start": s, "redacted_end": e, "value_hash": det.value_hash(f.value),
                 "placeholder": det.placeholders[f.type]}
                for f, (s, e) in zip(found, spans, strict=True)
            ]
        )  # fmt: skip
    return out_texts, out_findings


def _mapper(cfg_json: str):
    def run_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cfg = PiiConfig.model_validate_json(cfg_json)
        fingerprint = cfg.fingerprint()
        for batch in batches:
            texts, findings = redact_rows(batch.column("text").to_pylist(), cfg)
            n = len(texts)
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("doc_id"),
                    batch.column("source"),
                    batch.column("lang"),
                    pa.array(texts, pa.string()),
                    pa.array([len(t) for t in texts], pa.int32()),
                    pa.array([len(t.encode("utf-8")) for t in texts], pa.int32()),
                    pa.array([len(f) for f in findings], pa.int32()),
                    pa.array([sorted({x["pii_type"] for x in f}) for f in findings], pa.list_(pa.string())),
                    batch.column("text_version"),
                    pa.array([fingerprint] * n, pa.string()),
                    pa.array(findings, pa.list_(_FINDING)),
                ],
                schema=_OUT,
            )

    return run_batches


def redact(docs: DataFrame, cfg: PiiConfig) -> DataFrame:
    """``docs`` (doc_id, source, lang, text, raw_sha1, normalize_fingerprint) redacted: the columns of
    ``redacted_documents`` plus ``findings`` (an array of the findings' structs)."""
    todo = docs.select("doc_id", "source", "lang", "text", text_version().alias("text_version"))
    return todo.mapInArrow(_mapper(cfg.model_dump_json()), _OUT_DDL)


def findings_of(redacted: DataFrame) -> DataFrame:
    """The ``pii_findings`` rows of :func:`redact`'s output."""
    return redacted.select("doc_id", "source", "lang", "config_fingerprint", F.explode("findings").alias("f")).select(
        "doc_id", "source", "lang", "f.*", "config_fingerprint"
    )


def _count_mapper(cfg_json: str):
    def run_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        det = detector_for(PiiConfig.model_validate_json(cfg_json))
        for batch in batches:
            found = [det.find(t or "") for t in batch.column("text").to_pylist()]
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("doc_id"),
                    batch.column("lang"),
                    pa.array([len(f) for f in found], pa.int32()),
                    pa.array([",".join(sorted({x.type for x in f})) for f in found], pa.string()),
                ],
                names=["doc_id", "lang", "residual_findings", "residual_types"],
            )

    return run_batches


def residual_scan(corpus: DataFrame, cfg: PiiConfig, sample: float = 1.0, seed: int = 0) -> DataFrame:
    """``corpus`` (doc_id, lang, text) scanned again with the detector: doc_id, lang, residual_findings (how many
    findings are left), residual_types (their types, comma-separated); ``sample`` < 1 scans a fixed-seed sample."""
    rows = corpus.select("doc_id", "lang", "text")
    if sample < 1:
        rows = rows.sample(fraction=sample, seed=seed)
    ddl = "doc_id STRING, lang STRING, residual_findings INT, residual_types STRING"
    return rows.mapInArrow(_count_mapper(cfg.model_dump_json()), ddl)


def _stamp(documents_version: int | None, cfg: PiiConfig) -> str:
    return json.dumps({"documents_version": documents_version, "pii": cfg.fingerprint()}, sort_keys=True)


def run(spark: SparkSession, workdir: str, cfg: PiiConfig, force: bool = False) -> StageStats:
    started = time.time()
    stats = StageStats("pii")
    version = tables.version(spark, workdir, tables.DOCUMENTS)
    if version is None:
        raise FileNotFoundError("documents does not exist yet: run the normalize step first")
    stamp = _stamp(version, cfg)
    up_to_date = all(
        tables.last_user_metadata(spark, workdir, t) == stamp for t in (tables.REDACTED_DOCUMENTS, tables.PII_FINDINGS)
    )
    if up_to_date and not force:
        n = tables.read(spark, workdir, tables.REDACTED_DOCUMENTS).count()
        stats.rows_unchanged = n
        stats.extra = {"up_to_date": True, "documents_version": version}
        log.info("pii: up to date with documents v%s (%d documents)", version, n)
        return stats
    docs = tables.read(spark, workdir, tables.DOCUMENTS, version=version)
    redacted = redact(docs, cfg).persist()
    try:
        n_in = redacted.count()
        written = tables.overwrite(spark, redacted, workdir, tables.REDACTED_DOCUMENTS, user_metadata=stamp)
        n_findings = tables.overwrite(spark, findings_of(redacted), workdir, tables.PII_FINDINGS, user_metadata=stamp)
        with_pii = redacted.filter(F.col("n_findings") > 0).count()
    finally:
        redacted.unpersist()
    by_type_lang = tables.read(spark, workdir, tables.PII_FINDINGS).groupBy("pii_type", "lang").count().collect()
    by_type: dict[str, int] = {}
    for r in by_type_lang:
        by_type[r["pii_type"]] = by_type.get(r["pii_type"], 0) + r["count"]
    stats.rows_in = n_in
    stats.rows_out = written or 0
    stats.by_reason = {f"pii:{t}": c for t, c in sorted(by_type.items())}
    stats.extra = {
        "findings": n_findings,
        "documents_with_pii": with_pii,
        "by_type_lang": sorted([r["pii_type"], r["lang"], r["count"]] for r in by_type_lang),
        "documents_version": version,
        "config": cfg.fingerprint(),
    }
    stats.seconds = time.time() - started
    stats.check()  # every document has its redacted row
    log.info("pii: %d documents, %d with PII, %d findings %s", n_in, with_pii, n_findings, by_type)
    return stats


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, ctx.cfg.pii, force=ctx.force)


JOB = Job(
    name="pii",
    run=run_job,
    summary="Find PII (emails, phone numbers, resident registration numbers, card and bank account numbers, IP "
    "addresses, custom patterns) and replace it with typed placeholders: documents -> redacted_documents (the text "
    "select passes on), pii_findings (offsets and value hashes, never values).",
    reads=("documents",),
    writes=("redacted_documents", "pii_findings"),
    section="pii",
    force="flag",
    enabled=lambda cfg: None if cfg.pii.enabled else "pii.enabled is false",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("pii")
