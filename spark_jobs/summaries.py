"""Small aggregates of the tables for reports: computed in Spark, only the results collected."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from core import storage
from spark_jobs import tables
from spark_jobs.decontaminate.contamination import DOCUMENTS_TABLE, read_contamination

# log-spaced character-length bins for the length histogram
LENGTH_EDGES = [0, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 10**12]


def table_versions(spark: SparkSession, workdir: str) -> dict[str, int | None]:
    return {name: tables.version(spark, workdir, t) for name, t in tables.ALL_TABLES.items()}


def table_counts(spark: SparkSession, workdir: str) -> dict[str, int]:
    out = {}
    for name, t in tables.ALL_TABLES.items():
        if tables.exists(spark, workdir, t):
            out[name] = tables.read(spark, workdir, t).count()
    return out


def quarantine_reasons(spark: SparkSession, workdir: str) -> list[dict]:
    if not tables.exists(spark, workdir, tables.QUARANTINE):
        return []
    rows = tables.read(spark, workdir, tables.QUARANTINE).groupBy("stage", "source", "reason").count().collect()
    return sorted((r.asDict() for r in rows), key=lambda r: (r["stage"], r["source"], r["reason"]))


def document_summary(spark: SparkSession, workdir: str) -> dict:
    """Per language: count, mean chars/words and a character-length histogram; per source × lang counts."""
    if not tables.exists(spark, workdir, tables.DOCUMENTS):
        return {}
    docs = tables.read(spark, workdir, tables.DOCUMENTS)
    bucket = F.lit(0)
    for i, edge in enumerate(LENGTH_EDGES[1:-1], start=1):
        bucket = F.when(F.col("n_chars") >= edge, F.lit(i)).otherwise(bucket)
    hist = docs.groupBy("lang", bucket.alias("bin")).count().collect()
    per_lang = (
        docs.groupBy("lang")
        .agg(
            F.count("*").alias("docs"),
            F.avg("n_chars").alias("mean_chars"),
            F.avg("n_words").alias("mean_words"),
            F.sum("n_bytes").alias("bytes"),
            F.avg("lid_score").alias("mean_lid_score"),
        )
        .collect()
    )
    by_source = docs.groupBy("source", "lang").count().collect()
    return {
        "length_edges": LENGTH_EDGES,
        "length_hist": [r.asDict() for r in hist],
        "per_lang": [r.asDict() for r in per_lang],
        "by_source": [r.asDict() for r in by_source],
    }


def dedup_summary(spark: SparkSession, workdir: str) -> dict:
    """Duplicate rates per language and per source, and cluster-size counts (exact and near)."""
    if not tables.exists(spark, workdir, tables.EXACT_DUPLICATES):
        return {}
    ex = tables.read(spark, workdir, tables.EXACT_DUPLICATES).select(
        "doc_id", "source", "lang", F.col("is_keeper").alias("exact_keeper")
    )
    if tables.exists(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS):
        near = tables.read(spark, workdir, tables.NEAR_DUPLICATE_CLUSTERS).select(
            "doc_id", F.col("is_keeper").alias("near_keeper")
        )
        ex = ex.join(near, "doc_id", "left")
    else:
        ex = ex.withColumn("near_keeper", F.lit(None).cast("boolean"))

    def rates(key: str) -> list[dict]:
        rows = (
            ex.groupBy(key)
            .agg(
                F.count("*").alias("docs"),
                F.sum((~F.col("exact_keeper")).cast("int")).alias("exact_duplicates"),
                F.sum((F.col("exact_keeper") & ~F.coalesce("near_keeper", F.lit(True))).cast("int")).alias(
                    "near_duplicates"
                ),
            )
            .collect()
        )
        return sorted((r.asDict() for r in rows), key=lambda r: -r["docs"])

    def sizes(table) -> list[dict]:
        if not tables.exists(spark, workdir, table):
            return []
        df = tables.read(spark, workdir, table).filter(F.col("cluster_size") > 1)
        key = "content_hash" if table is tables.EXACT_DUPLICATES else "cluster_id"
        rows = df.groupBy(key).agg(F.first("cluster_size").alias("size")).groupBy("size").count().collect()
        return sorted(({"size": r["size"], "clusters": r["count"]} for r in rows), key=lambda r: r["size"])

    return {
        "by_lang": rates("lang"),
        "by_source": rates("source"),
        "exact_sizes": sizes(tables.EXACT_DUPLICATES),
        "near_sizes": sizes(tables.NEAR_DUPLICATE_CLUSTERS),
    }


FUNNEL_STEPS = (
    ("documents", None),
    ("language selected", "language"),
    ("after exact dedup", "exact_dedup"),
    ("after near dedup", "near_dedup"),
    ("after quality rules", "heuristics"),
    ("after classifier", "classifier"),
    ("after decontamination", "contamination"),
)


def funnel_by_language(spark: SparkSession, workdir: str, ingest_rejected: int = 0) -> list[dict]:
    """Documents and characters kept after each stage, per language (rows: stage, lang, docs,
    chars). Before language id there is one row per stage with lang ``all``; from ``documents`` on,
    one row per language of ``documents``. The select stages come from ``selection``: a document
    counts as kept after a stage unless that stage or an earlier one dropped it."""
    from spark_jobs.select import STEPS

    out: list[dict] = []
    if tables.exists(spark, workdir, tables.RAW_DOCUMENTS):
        raw = (
            tables.read(spark, workdir, tables.RAW_DOCUMENTS)
            .agg(F.count("*").alias("docs"), F.sum(F.length("text")).alias("chars"))
            .head()
        )
        out.append({"stage": "records read", "lang": "all", "docs": raw["docs"] + ingest_rejected, "chars": None})
        out.append({"stage": "raw_documents", "lang": "all", "docs": raw["docs"], "chars": int(raw["chars"] or 0)})
    if not tables.exists(spark, workdir, tables.DOCUMENTS):
        return out
    if not tables.exists(spark, workdir, tables.SELECTION):
        rows = (
            tables.read(spark, workdir, tables.DOCUMENTS)
            .groupBy("lang")
            .agg(F.count("*").alias("docs"), F.sum("n_chars").alias("chars"))
        )
        out += [{"stage": "documents", "lang": r["lang"], "docs": r["docs"], "chars": int(r["chars"] or 0)}
                for r in rows.collect()]  # fmt: skip
        return out
    sel = tables.read(spark, workdir, tables.SELECTION)
    # the index of the step that dropped each document (len(STEPS) = kept)
    step_index = F.lit(len(STEPS))
    for i, step in reversed(list(enumerate(STEPS))):
        step_index = F.when(F.col("dropped_at") == step, F.lit(i)).otherwise(step_index)
    counts = (
        sel.groupBy("lang", step_index.alias("dropped_step"))
        .agg(F.count("*").alias("docs"), F.sum("n_chars").alias("chars"))
        .collect()
    )
    langs = sorted({r["lang"] for r in counts})
    for name, step in FUNNEL_STEPS:
        # kept after `step` = dropped at a later step, or kept
        bound = -1 if step is None else STEPS.index(step)
        for lang in langs:
            rows = [r for r in counts if r["lang"] == lang and r["dropped_step"] > bound]
            out.append({"stage": name, "lang": lang, "docs": sum(r["docs"] for r in rows),
                        "chars": sum(int(r["chars"] or 0) for r in rows)})  # fmt: skip
    return out


def selection_rules(spark: SparkSession, workdir: str, top: int = 25) -> list[dict]:
    """The rules that dropped documents: per language, documents whose first failing rule it is
    and documents failing it at all (lang, rule, step, first, any)."""
    if not tables.exists(spark, workdir, tables.SELECTION):
        return []
    sel = tables.read(spark, workdir, tables.SELECTION).filter(~F.col("kept"))
    first = sel.groupBy("lang", F.col("first_failed_rule").alias("rule"), F.col("dropped_at").alias("step")).count()
    anyf = sel.select("lang", F.explode("failed_rules").alias("rule")).groupBy("lang", "rule").count()
    rows = (
        anyf.withColumnRenamed("count", "any")
        .join(first.withColumnRenamed("count", "first"), ["lang", "rule"], "left")
        .collect()
    )
    out = [{"lang": r["lang"], "rule": r["rule"], "step": r["step"] or "", "first": r["first"] or 0, "any": r["any"]}
           for r in rows]  # fmt: skip
    return sorted(out, key=lambda r: (-r["first"], -r["any"]))[:top]


def contamination_summary(spark: SparkSession, workdir: str) -> list[dict]:
    """Per benchmark: examples, examples indexed (the rest are too short to match), examples found in
    some document, documents flagged."""
    if not tables.exists(spark, workdir, tables.BENCHMARK_EXAMPLES):
        return []
    ex = tables.read(spark, workdir, tables.BENCHMARK_EXAMPLES)
    counts = ex.groupBy("benchmark").agg(
        F.count("*").alias("n"), F.sum((F.col("indexed_as") != "too_short").cast("int")).alias("indexed")
    )
    totals = {r["benchmark"]: (r["n"], r["indexed"]) for r in counts.collect()}
    indexed = {b: v[1] for b, v in totals.items()}
    found: dict[str, dict] = {}
    mode = None
    if tables.exists(spark, workdir, tables.CONTAMINATION):
        # documents only: the post-training rows (conversations, preference_pairs) are posttrain_summary's
        cont = read_contamination(spark, workdir, DOCUMENTS_TABLE)
        for r in (
            cont.groupBy("benchmark", "mode")
            .agg(F.countDistinct("split", "example_id").alias("examples"), F.countDistinct("doc_id").alias("docs"))
            .collect()
        ):
            found[r["benchmark"]] = {"examples": r["examples"], "docs": r["docs"]}
            mode = r["mode"]
    return [
        {"benchmark": b, "examples": totals[b][0], "indexed_examples": n,
         "contaminated_examples": found.get(b, {}).get("examples", 0),
         "contaminated_docs": found.get(b, {}).get("docs", 0), "mode": mode or "-"}
        for b, n in sorted(indexed.items())
    ]  # fmt: skip


def pii_summary(spark: SparkSession, workdir: str) -> dict:
    """The pii step's findings as they stand: per type and language the findings and the documents holding them;
    per language the documents scanned and those with any PII; and the placeholders of findings in documents that
    reached training_corpus. Empty without redacted_documents."""
    if not tables.exists(spark, workdir, tables.REDACTED_DOCUMENTS):
        return {}
    red = tables.read(spark, workdir, tables.REDACTED_DOCUMENTS)
    per_lang = red.groupBy("lang").agg(
        F.count("*").alias("documents"), F.sum((F.col("n_findings") > 0).cast("int")).alias("with_pii")
    )
    out: dict = {"by_lang": sorted((r.asDict() for r in per_lang.collect()), key=lambda r: r["lang"])}
    if not tables.exists(spark, workdir, tables.PII_FINDINGS):
        return out
    findings = tables.read(spark, workdir, tables.PII_FINDINGS)
    rows = findings.groupBy("pii_type", "lang").agg(
        F.count("*").alias("findings"), F.countDistinct("doc_id").alias("documents")
    )
    out["by_type_lang"] = sorted((r.asDict() for r in rows.collect()), key=lambda r: (r["pii_type"], r["lang"]))
    out["by_rule"] = sorted(
        (r.asDict() for r in findings.groupBy("pii_type", "rule").count().collect()),
        key=lambda r: (r["pii_type"], r["rule"]),
    )
    if tables.exists(spark, workdir, tables.TRAINING_CORPUS):
        kept = tables.read(spark, workdir, tables.TRAINING_CORPUS).select("doc_id")
        in_corpus = findings.join(kept, "doc_id").groupBy("pii_type").count().collect()
        out["redacted_in_training_corpus"] = {r["pii_type"]: r["count"] for r in in_corpus}
    return out


# document-length buckets (characters of documents.text) for the contamination-by-length chart
CONTAMINATION_LENGTH_EDGES = [0, 500, 2_000, 10_000, 50_000, 10**12]


def contamination_by_length(spark: SparkSession, workdir: str) -> dict:
    """Documents and flagged documents per length bucket (``documents.n_chars``; edges
    ``CONTAMINATION_LENGTH_EDGES``), from ``documents`` and ``contamination`` as they stand:
    {edges, mode (of the contamination rows; None when none), buckets: [{bin, lo, hi, docs,
    flagged}], every bucket listed, empty ones with 0}."""
    if not (tables.exists(spark, workdir, tables.DOCUMENTS) and tables.exists(spark, workdir, tables.CONTAMINATION)):
        return {}
    edges = CONTAMINATION_LENGTH_EDGES
    cont = read_contamination(spark, workdir, DOCUMENTS_TABLE)
    flagged = cont.select("doc_id").distinct().withColumn("_flagged", F.lit(1))
    docs = tables.read(spark, workdir, tables.DOCUMENTS).select("doc_id", "n_chars")
    bucket = F.lit(0)
    for i, edge in enumerate(edges[1:-1], start=1):
        bucket = F.when(F.col("n_chars") >= edge, F.lit(i)).otherwise(bucket)
    rows = {
        r["bin"]: r
        for r in docs.join(flagged, "doc_id", "left")
        .groupBy(bucket.alias("bin"))
        .agg(F.count("*").alias("docs"), F.count("_flagged").alias("flagged"))
        .collect()
    }
    modes = sorted(r[0] for r in cont.select("mode").distinct().collect())
    return {
        "edges": edges,
        "mode": "/".join(modes) or None,
        "buckets": [
            {"bin": i, "lo": lo, "hi": hi, "docs": rows[i]["docs"] if i in rows else 0,
             "flagged": rows[i]["flagged"] if i in rows else 0}
            for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
        ],
    }  # fmt: skip


# the post-training funnel's steps after normalize: (name, posttrain select step it follows; None = before select)
POSTTRAIN_FUNNEL_STEPS = (
    ("normalized", None),
    ("language selected", "language"),
    ("after dedup", "dedup"),
    ("after signals", "signals"),
    ("selected (after decontamination)", "contamination"),
)


def posttrain_summary(spark: SparkSession, workdir: str, posttrain) -> dict | None:
    """The post-training data as it stands (None without ``posttrain.sources``): ``funnel`` (rows: kind
    ``conversations`` / ``pairs``, stage, lang, rows: records read and accepted rows with lang ``all``, then per
    language the normalized rows, the rows left after each select step, and the rows in the published emit run),
    ``quarantine`` (stage, kind, source, reason, count of the post-training stages), ``selection_rules`` (kind, step,
    rule, count of first failing rules), ``contamination`` (table, turn_column, role, benchmark, turns, examples,
    benchmark_examples of the post-training rows of ``contamination``), ``gate`` (the latest post-training gate:
    passed, failed expectations, their number, validated versions; None before one ran) and ``emit`` (the published
    run's summary,
    spark_jobs.posttrain.emit.summary, with its row counts; None before a run). ``posttrain`` is the config's
    ``posttrain`` section (its sources say which kind each quarantined record is, its emit where the run is)."""
    from quality.gates.result import GateResult
    from spark_jobs.emit import job as emit_job
    from spark_jobs.posttrain import emit as pt_emit
    from spark_jobs.posttrain import gate as pt_gate
    from spark_jobs.posttrain.ingest import SFT_LAYOUTS
    from spark_jobs.posttrain.select import STEPS

    if not posttrain.sources:
        return None
    kind_of = {s.name: "conversations" if s.layout.layout in SFT_LAYOUTS else "pairs" for s in posttrain.sources}
    kinds = {
        "conversations": (tables.RAW_CONVERSATIONS, tables.CONVERSATIONS),
        "pairs": (tables.RAW_PREFERENCE_PAIRS, tables.PREFERENCE_PAIRS),
    }
    quarantine: list[dict] = []
    if tables.exists(spark, workdir, tables.QUARANTINE):
        rows = (
            tables.read(spark, workdir, tables.QUARANTINE)
            .filter(F.col("stage").startswith("posttrain_"))
            .groupBy("stage", "source", "reason")
            .count()
            .collect()
        )
        quarantine = sorted(
            ({"stage": r["stage"], "kind": kind_of.get(r["source"], "-"), "source": r["source"],
              "reason": r["reason"], "count": r["count"]} for r in rows),
            key=lambda r: (r["stage"], r["kind"], r["source"], r["reason"]),
        )  # fmt: skip
    funnel: list[dict] = []
    selection = (
        tables.read(spark, workdir, tables.POSTTRAIN_SELECTION)
        if tables.exists(spark, workdir, tables.POSTTRAIN_SELECTION)
        else None
    )
    step_index = F.lit(len(STEPS))  # the index of the step that dropped each row (len(STEPS) = kept)
    for i, step in reversed(list(enumerate(STEPS))):
        step_index = F.when(F.col("dropped_at") == step, F.lit(i)).otherwise(step_index)
    for kind, (raw_table, table) in kinds.items():
        ingest_rejected = sum(r["count"] for r in quarantine if r["kind"] == kind and r["stage"] == "posttrain_ingest")
        if tables.exists(spark, workdir, raw_table):
            raw = (
                tables.read(spark, workdir, raw_table)
                .agg(
                    F.count("*").alias("rows"),
                    F.countDistinct("source", "source_file", "record_index").alias("records"),
                )
                .head()
            )
            funnel.append({"kind": kind, "stage": "records read", "lang": "all",
                           "rows": raw["records"] + ingest_rejected})  # fmt: skip
            funnel.append({"kind": kind, "stage": "accepted", "lang": "all", "rows": raw["rows"]})
        if not tables.exists(spark, workdir, table):
            continue
        if selection is None:
            for r in tables.read(spark, workdir, table).groupBy("lang").count().collect():
                funnel.append({"kind": kind, "stage": "normalized", "lang": r["lang"], "rows": r["count"]})
            continue
        counts = (
            selection.filter(F.col("source_table") == table.name)
            .groupBy("lang", step_index.alias("dropped_step"))
            .count()
            .collect()
        )
        for name, step in POSTTRAIN_FUNNEL_STEPS:
            bound = -1 if step is None else STEPS.index(step)  # kept after `step` = dropped later, or kept
            for lang in sorted({r["lang"] for r in counts}):
                n = sum(r["count"] for r in counts if r["lang"] == lang and r["dropped_step"] > bound)
                funnel.append({"kind": kind, "stage": name, "lang": lang, "rows": n})
    selection_rules = []
    if selection is not None:
        rows = (
            selection.filter(~F.col("kept"))
            .groupBy("source_table", "dropped_at", "first_failed_rule")
            .count()
            .collect()
        )
        kind_of_table = {t.name: k for k, (_, t) in kinds.items()}
        selection_rules = sorted(
            ({"kind": kind_of_table.get(r["source_table"], r["source_table"]), "step": r["dropped_at"],
              "rule": r["first_failed_rule"], "count": r["count"]} for r in rows),
            key=lambda r: (r["kind"], STEPS.index(r["step"]) if r["step"] in STEPS else 99, -r["count"], r["rule"]),
        )  # fmt: skip
    contamination = []
    if tables.exists(spark, workdir, tables.CONTAMINATION):
        rows = (
            read_contamination(spark, workdir)
            .filter(F.col("source_table").isin(tables.CONVERSATIONS.name, tables.PREFERENCE_PAIRS.name))
            .groupBy("source_table", "turn_column", "role", "benchmark")
            .agg(
                F.count("*").alias("turns"),
                F.countDistinct("doc_id").alias("examples"),
                F.countDistinct("split", "example_id").alias("benchmark_examples"),
            )
            .collect()
        )
        contamination = sorted(
            ({"table": r["source_table"], "turn_column": r["turn_column"], "role": r["role"],
              "benchmark": r["benchmark"], "turns": r["turns"], "examples": r["examples"],
              "benchmark_examples": r["benchmark_examples"]} for r in rows),
            key=lambda r: (r["table"], r["turn_column"], r["role"] or "", r["benchmark"]),
        )  # fmt: skip
    gate = None
    try:
        result = GateResult.from_json(storage.read_bytes(pt_gate.result_uri(workdir)).decode("utf-8"))
        gate = {"passed": result.passed, "run_time": result.run_time, "failed": result.failure_messages(),
                "expectations": sum(len(t.expectations) for t in result.tables.values()),
                "table_versions": result.table_versions, "data_docs": "posttrain_data_docs/index.html"}  # fmt: skip
    except (FileNotFoundError, OSError):
        pass
    out_uri = posttrain.emit.output or pt_emit.output_default(workdir)
    manifest = emit_job.read_manifest(out_uri)
    emit = None
    if manifest is not None:
        run_uri = storage.join(out_uri, "runs", manifest["run_id"])
        emit = pt_emit.summary(manifest) | {
            "counts": {
                k: ({kk: vv for kk, vv in v.items() if kk != "rejected_doc_ids"} if isinstance(v, dict) else v)
                for k, v in manifest["counts"].items()
            }  # fmt: skip
        }
        for kind, name in (("conversations", "examples.parquet"), ("pairs", "pairs.parquet")):
            parts = [p for p in manifest["parts"] if p["kind"] == ("sft" if kind == "conversations" else "pairs")]
            if not parts:
                continue
            paths = [storage.to_spark_path(storage.join(run_uri, p["path"], name)) for p in parts]
            for r in spark.read.parquet(*paths).groupBy("lang").count().collect():
                funnel.append({"kind": kind, "stage": "emitted", "lang": r["lang"], "rows": r["count"]})
    return {"funnel": funnel, "quarantine": quarantine, "selection_rules": selection_rules,
            "contamination": contamination, "gate": gate, "emit": emit}  # fmt: skip
