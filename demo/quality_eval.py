"""How well the quality classifier separates the demo corpus's clean documents from its junk:
the generator's ground truth (each document's style) against ``quality_signals.fasttext_quality``.
The classifier was trained on sets generated with another seed, so this is a held-out test."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from quality.classifier import precision_recall, roc_auc
from spark_jobs import tables

# generator styles that are prose (positive) or junk (negative); `other` (foreign languages) is neither
CLEAN_STYLES = frozenset({"news_ko", "news_en", "forum_ko", "forum_en", "boiler_ko", "boiler_en", "mixed",
                          "long_ko", "long_en"})  # fmt: skip
JUNK_STYLES = frozenset({"junk"})


def demo_classifier_auc(spark: SparkSession, workdir: str, doc_styles: dict[str, str]) -> dict:
    """AUC and precision/recall at 0.5 of ``fasttext_quality`` for clean vs junk documents of the
    demo corpus (``doc_styles``: "source/record id" -> style, from the corpus manifest)."""
    raw = tables.read(spark, workdir, tables.RAW_DOCUMENTS).select(
        "doc_id", F.concat_ws("/", "source", F.regexp_replace("record_key", "^id:", "")).alias("key")
    )
    scores = tables.read(spark, workdir, tables.QUALITY_SIGNALS).select("doc_id", "fasttext_quality")
    rows = raw.join(scores, "doc_id").filter(F.col("fasttext_quality").isNotNull()).collect()
    labels, values = [], []
    for r in rows:
        style = doc_styles.get(r["key"])
        if style in CLEAN_STYLES or style in JUNK_STYLES:
            labels.append(int(style in CLEAN_STYLES))
            values.append(r["fasttext_quality"])
    pr = precision_recall(labels, values, 0.5)
    return {"clean": sum(labels), "junk": len(labels) - sum(labels), "auc": roc_auc(labels, values), **pr}
