"""Small aggregates of the tables for reports: computed in Spark, only the results collected."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs import tables

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
        cont = tables.read(spark, workdir, tables.CONTAMINATION)
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
    cont = tables.read(spark, workdir, tables.CONTAMINATION)
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
