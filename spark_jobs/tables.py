"""Every Delta table moru writes: its name, its schema, and the one way rows get into it.

Tables live at ``<workdir>/tables/<name>``. Writes are MERGEs on the table's key, so re-running
a job with the same input leaves the same rows; a job that dies before its commit leaves the
previous table version intact (Delta commits are atomic).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from core import locations, storage


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    ddl: str
    doc: str
    # columns Delta keeps min/max statistics for (data skipping); long text is left out, since
    # its statistics cost write time and never prune a file
    stats_columns: tuple[str, ...] = ()

    @property
    def schema(self) -> StructType:
        return StructType.fromDDL(self.ddl)

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]


RAW_DOCUMENTS = Table(
    name="raw_documents",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, record_key STRING NOT NULL, "
        "source_file STRING NOT NULL, record_index BIGINT NOT NULL, text STRING NOT NULL, "
        "url STRING, metadata MAP<STRING, STRING>, text_bytes INT NOT NULL, "
        "record_sha1 STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="one row per accepted source record; text exactly as extracted (not yet normalized)",
    stats_columns=("doc_id", "source", "source_file", "record_index", "text_bytes", "ingested_at"),
)

QUARANTINE = Table(
    name="quarantine",
    key=("quarantine_id",),
    ddl=(
        "quarantine_id STRING NOT NULL, stage STRING NOT NULL, source STRING NOT NULL, "
        "source_file STRING NOT NULL, record_index BIGINT NOT NULL, reason STRING NOT NULL, "
        "detail STRING, raw_payload STRING, payload_bytes BIGINT NOT NULL, "
        "doc_id STRING, input_fingerprint STRING, quarantined_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "every rejected record with its reason and its raw payload (truncated); rows rejected after "
        "ingest carry the doc_id and a fingerprint of the input+settings that rejected them, so a re-run "
        "skips them until either changes"
    ),
)

DOCUMENTS = Table(
    name="documents",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, url STRING, text STRING NOT NULL, "
        "lang STRING NOT NULL, lid_label STRING NOT NULL, lid_score DOUBLE NOT NULL, "
        "hangul_ratio DOUBLE NOT NULL, latin_ratio DOUBLE NOT NULL, han_ratio DOUBLE NOT NULL, "
        "n_chars INT NOT NULL, n_bytes INT NOT NULL, n_words INT NOT NULL, n_lines INT NOT NULL, "
        "metadata MAP<STRING, STRING>, raw_sha1 STRING NOT NULL, "
        "normalize_fingerprint STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="normalized text with language, script ratios and lengths",
    stats_columns=("doc_id", "source", "lang", "lid_score", "n_chars", "n_words", "ingested_at"),
)

EXACT_DUPLICATES = Table(
    name="exact_duplicates",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, content_hash STRING NOT NULL, "
        "cluster_size INT NOT NULL, keeper_doc_id STRING NOT NULL, is_keeper BOOLEAN NOT NULL, "
        "canonical_form STRING NOT NULL, text_version STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "one row per document: the hash of its canonical text, the size of its exact-duplicate group and the "
        "group's keeper (content_hash is the group's key)"
    ),
    stats_columns=("doc_id", "source", "lang", "cluster_size"),
)

MINHASH_SIGNATURES = Table(
    name="minhash_signatures",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, ingested_at TIMESTAMP NOT NULL, "
        "text_version STRING NOT NULL, n_shingles INT NOT NULL, signature BINARY NOT NULL, num_perm INT NOT NULL, "
        "seed BIGINT NOT NULL, scheme STRING NOT NULL, params STRING NOT NULL, computed_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "MinHash signature of every exact-dedup keeper: num_perm little-endian uint32 values, bit-identical to "
        "datasketch's MinHash(num_perm, seed, scheme) of the same shingles; params fingerprints the shingling"
    ),
    stats_columns=("doc_id", "source", "lang", "n_shingles", "params"),
)

NEAR_DUPLICATE_CLUSTERS = Table(
    name="near_duplicate_clusters",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, cluster_id STRING NOT NULL, "
        "cluster_size INT NOT NULL, is_keeper BOOLEAN NOT NULL, keeper_doc_id STRING NOT NULL, "
        "similarity_to_keeper DOUBLE, n_shingles INT NOT NULL, params STRING NOT NULL"
    ),
    doc=(
        "one row per signed document: its near-duplicate cluster (cluster_id = the smallest doc_id in it, so "
        "ids are the same on every run), the cluster's keeper, and the signature Jaccard to the keeper"
    ),
    stats_columns=("doc_id", "source", "lang", "cluster_id", "cluster_size"),
)


# one DOUBLE column per signal, in quality.signals.compute.SIGNAL_NAMES order
def _signals_ddl() -> str:
    from quality.signals.compute import SIGNAL_NAMES

    return ", ".join(f"{n} DOUBLE NOT NULL" for n in SIGNAL_NAMES)


QUALITY_SIGNALS = Table(
    name="quality_signals",
    key=("doc_id",),
    ddl="doc_id STRING NOT NULL, input_hash BIGINT NOT NULL, " + _signals_ddl() + ", fasttext_quality DOUBLE",
    doc=(
        "one row per document of `documents`: numeric quality signals only (Gopher, C4, FineWeb, Korean), no "
        "thresholds; fasttext_quality is the quality classifier's probability of the positive class (null "
        "without a trained classifier); input_hash = xxhash64 of the document's text version, the signals "
        "version and the classifier model's sha256"
    ),
    stats_columns=("doc_id", "gopher_n_words", "ko_hangul_ratio"),
)

SELECTION = Table(
    name="selection",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, n_chars INT NOT NULL, "
        "kept BOOLEAN NOT NULL, dropped_at STRING, first_failed_rule STRING, failed_rules ARRAY<STRING> NOT NULL, "
        "quality_score DOUBLE, rules_fingerprint STRING NOT NULL"
    ),
    doc=(
        "one row per document of `documents`: kept or not by the select step; a dropped document names the "
        "step that dropped it (dropped_at: language, exact_dedup, near_dedup, heuristics, classifier), its first "
        "failing rule and every failing rule; rules_fingerprint hashes the thresholds that decided it"
    ),
    stats_columns=("doc_id", "source", "lang", "dropped_at"),
)

TRAINING_CORPUS = Table(
    name="training_corpus",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, url STRING, text STRING NOT NULL, "
        "n_chars INT NOT NULL, n_bytes INT NOT NULL, n_words INT NOT NULL, content_hash STRING NOT NULL, "
        "quality_score DOUBLE, contaminated BOOLEAN NOT NULL, rules_fingerprint STRING NOT NULL"
    ),
    doc=(
        "the documents the select step kept: text ready for tokenization; content_hash is the exact-dedup hash of "
        "the canonical text, quality_score the fastText classifier's probability of the positive class (null "
        "without a classifier), contaminated whether the decontaminate step found a benchmark substring in it "
        "(false unless select.drop_contaminated is off)"
    ),
    stats_columns=("doc_id", "source", "lang", "n_chars"),
)

PII_FINDINGS = Table(
    name="pii_findings",
    key=("doc_id", "char_start"),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, pii_type STRING NOT NULL, "
        "rule STRING NOT NULL, char_start INT NOT NULL, char_end INT NOT NULL, redacted_start INT NOT NULL, "
        "redacted_end INT NOT NULL, value_hash STRING NOT NULL, placeholder STRING NOT NULL, "
        "config_fingerprint STRING NOT NULL"
    ),
    doc=(
        "one row per PII finding of the pii step (quality.pii) in a document of `documents`: its type and the rule "
        "that found it, its span in documents.text (char_start..char_end, characters) and the placeholder's span in "
        "redacted_documents.text; value_hash is an HMAC-SHA256 of the matched value (pii.hash_key), never the value"
    ),
    stats_columns=("doc_id", "source", "lang", "pii_type"),
)

REDACTED_DOCUMENTS = Table(
    name="redacted_documents",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, text STRING NOT NULL, "
        "n_chars INT NOT NULL, n_bytes INT NOT NULL, n_findings INT NOT NULL, pii_types ARRAY<STRING> NOT NULL, "
        "text_version STRING NOT NULL, config_fingerprint STRING NOT NULL"
    ),
    doc=(
        "one row per document of `documents` (rows in = rows out): its text with every PII finding replaced by its "
        "type's placeholder (unchanged when it has none), lengths of that text, how many findings and of which "
        "types; text_version names the documents row it was made from (raw_sha1:normalize_fingerprint), "
        "config_fingerprint the pii settings. The select step takes training_corpus' text from here"
    ),
    stats_columns=("doc_id", "source", "lang", "n_findings"),
)

BENCHMARK_EXAMPLES = Table(
    name="benchmark_examples",
    key=("benchmark", "split", "example_id"),
    ddl=(
        "benchmark STRING NOT NULL, split STRING NOT NULL, example_id STRING NOT NULL, ex_key BIGINT NOT NULL, "
        "normalized STRING NOT NULL, n_chars INT NOT NULL, indexed_as STRING NOT NULL, window INT NOT NULL, "
        "normalization STRING NOT NULL"
    ),
    doc=(
        "every benchmark example, normalized (quality.decontam); indexed_as: `windows` (its `window`-character "
        "substrings are in benchmark_substrings), `short` (shorter than `window`: found whole, through its "
        "`window`-character substrings, here the short window), or `too_short` (not indexed); ex_key = "
        "xxhash64(benchmark, split, example_id), the key benchmark_substrings rows are joined back to"
    ),
    stats_columns=("benchmark", "split", "ex_key"),
)

BENCHMARK_SUBSTRINGS = Table(
    name="benchmark_substrings",
    key=("benchmark", "split", "example_id", "offset"),
    ddl=(
        "hash BIGINT NOT NULL, benchmark STRING NOT NULL, split STRING NOT NULL, example_id STRING NOT NULL, "
        "offset INT NOT NULL, window INT NOT NULL, normalization STRING NOT NULL"
    ),
    doc=(
        "every `window`-character substring (stride 1) of every normalized benchmark example, as a 64-bit hash "
        "(quality.substrings) with its provenance; offset is the window's start in the normalized example; examples "
        "shorter than the window have rows of the short window (see benchmark_examples). Written only for the "
        "shuffle-join path (more than decontaminate.broadcast_max_rows windows); below that the index is the file "
        "named in benchmark_examples' commit (WORKDIR/indexes)"
    ),
    stats_columns=("hash", "benchmark", "split"),
)

CONTAMINATION = Table(
    name="contamination",
    key=("source_table", "doc_id", "turn_column", "turn", "benchmark", "split", "example_id"),
    ddl=(
        "doc_id STRING NOT NULL, benchmark STRING NOT NULL, split STRING NOT NULL, example_id STRING NOT NULL, "
        "matched_substring STRING NOT NULL, offset INT NOT NULL, matched_windows INT NOT NULL, mode STRING NOT NULL, "
        "match STRING NOT NULL, source_table STRING, turn_column STRING, turn INT, role STRING"
    ),
    doc=(
        "one row per (document or turn, benchmark example) found in it: the first matched substring (normalized), "
        "its offset in the text (characters), how many of the text's checked windows matched the example, the mode "
        "(sampled or exhaustive) and the match: `window` (a shared substring) or `whole` (an example shorter than the "
        "window, contained whole). source_table is the table doc_id belongs to (documents, conversations, "
        "preference_pairs); a post-training row also names the turn: its column (messages, prompt, chosen, "
        "rejected), its index there and its role (null for documents). Tables written before these columns get "
        "them by schema evolution, their rows marked documents"
    ),
    stats_columns=("doc_id", "benchmark", "split", "source_table"),
)

EMITTED_DOCUMENTS = Table(
    name="emitted_documents",
    key=("stage", "doc_id", "piece"),
    ddl=(
        "run_id STRING NOT NULL, stage STRING NOT NULL, split STRING NOT NULL, role STRING NOT NULL, "
        "doc_id STRING NOT NULL, piece INT NOT NULL, lang STRING NOT NULL, source STRING NOT NULL, "
        "n_tokens INT NOT NULL, dataset STRING NOT NULL, seq_index BIGINT NOT NULL"
    ),
    doc=(
        "one row per document (stage 1) or document piece (stage 2) of the latest published emit run: its "
        "tokens with the end-of-document token, the dataset it is in (path prefix under the run's folder) and its "
        "index there; role is all (stage 1), long or replay (stage 2); piece numbers the pieces of a document "
        "split to fit stage 2's max_tokens (0 otherwise)"
    ),
    stats_columns=("stage", "split", "doc_id", "lang", "source"),
)

EMIT_TOKEN_STATS = Table(
    name="emit_token_stats",
    key=("stage", "split", "role", "lang", "source"),
    ddl=(
        "run_id STRING NOT NULL, stage STRING NOT NULL, split STRING NOT NULL, role STRING NOT NULL, "
        "lang STRING NOT NULL, source STRING NOT NULL, documents BIGINT NOT NULL, tokens BIGINT NOT NULL, "
        "datasets INT NOT NULL, blend_weight DOUBLE NOT NULL"
    ),
    doc=(
        "tokens per stage, split, role, language and source of the latest published emit run, and the share "
        "of its split's blend weight (0 when the blend leaves it out)"
    ),
)

# ---------------------------------------------------------------- post-training (spark_jobs/posttrain)
# messages everywhere: ARRAY<STRUCT<role, content>> in conversation order (quality.posttrain.schema's row form)
_MESSAGES = "ARRAY<STRUCT<role: STRING, content: STRING>>"

RAW_CONVERSATIONS = Table(
    name="raw_conversations",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, record_key STRING NOT NULL, source_file STRING NOT NULL, "
        f"record_index BIGINT NOT NULL, layout STRING NOT NULL, messages {_MESSAGES} NOT NULL, "
        "n_turns INT NOT NULL, n_chars INT NOT NULL, record_sha1 STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="one row per accepted SFT record (messages / ShareGPT / Alpaca / Q-A layouts), content as read",
    stats_columns=("doc_id", "source", "source_file", "record_index", "n_turns", "n_chars", "ingested_at"),
)

RAW_PREFERENCE_PAIRS = Table(
    name="raw_preference_pairs",
    key=("doc_id",),
    ddl=(
        "doc_id STRING NOT NULL, source STRING NOT NULL, record_key STRING NOT NULL, source_file STRING NOT NULL, "
        f"record_index BIGINT NOT NULL, layout STRING NOT NULL, prompt {_MESSAGES} NOT NULL, "
        f"chosen {_MESSAGES} NOT NULL, rejected {_MESSAGES} NOT NULL, chosen_score DOUBLE, rejected_score DOUBLE, "
        "n_chars INT NOT NULL, record_sha1 STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc="one row per preference pair read (TRL layouts, Anthropic HH text, pairs made from rated completions)",
    stats_columns=("doc_id", "source", "source_file", "record_index", "n_chars", "ingested_at"),
)

CONVERSATIONS = Table(
    name="conversations",
    key=("doc_id",),
    ddl=(
        f"doc_id STRING NOT NULL, source STRING NOT NULL, messages {_MESSAGES} NOT NULL, "
        "turn_langs ARRAY<STRING> NOT NULL, lang STRING NOT NULL, lang_mix MAP<STRING, INT> NOT NULL, "
        "prompt_lang STRING NOT NULL, response_lang STRING NOT NULL, lang_mismatch BOOLEAN NOT NULL, "
        "n_turns INT NOT NULL, n_chars INT NOT NULL, prompt_hash STRING NOT NULL, first_user_hash STRING NOT NULL, "
        "raw_sha1 STRING NOT NULL, normalize_fingerprint STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "normalized conversations: every turn normalized, its language (turn_langs, in order), the conversation's "
        "language (lang, of its user and assistant text) and mix (turns per language), the language of the last "
        "question (prompt_lang: the last user turn before the final response) and of the final answer "
        "(response_lang: the last assistant turn) and whether they disagree (lang_mismatch); hashes of the "
        "canonical first user turn and of the whole prompt (every turn before the final response; dedup keys); "
        "raw_sha1 + normalize_fingerprint say which raw row and settings made the row"
    ),
    stats_columns=("doc_id", "source", "lang", "n_turns", "n_chars", "ingested_at"),
)

PREFERENCE_PAIRS = Table(
    name="preference_pairs",
    key=("doc_id",),
    ddl=(
        f"doc_id STRING NOT NULL, source STRING NOT NULL, prompt {_MESSAGES} NOT NULL, chosen {_MESSAGES} NOT NULL, "
        f"rejected {_MESSAGES} NOT NULL, chosen_score DOUBLE, rejected_score DOUBLE, lang STRING NOT NULL, "
        "prompt_turn_langs ARRAY<STRING> NOT NULL, prompt_lang STRING NOT NULL, chosen_lang STRING NOT NULL, "
        "rejected_lang STRING NOT NULL, lang_mismatch BOOLEAN NOT NULL, n_chars INT NOT NULL, "
        "prompt_hash STRING NOT NULL, first_user_hash STRING NOT NULL, pair_hash STRING NOT NULL, "
        "raw_sha1 STRING NOT NULL, normalize_fingerprint STRING NOT NULL, ingested_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "normalized preference pairs: every turn normalized, the language of each prompt turn, of the last "
        "question (prompt_lang) and of each response's last assistant turn; lang (of prompt + chosen); "
        "lang_mismatch: the question and the chosen answer disagree; prompt_hash / first_user_hash as in "
        "conversations, pair_hash (canonical prompt + chosen) is the pairs' dedup key"
    ),
    stats_columns=("doc_id", "source", "lang", "n_chars", "ingested_at"),
)

# post-training dedup, signals, select (spark_jobs/posttrain/{dedup,signals,select}.py)
POSTTRAIN_DUPLICATES = Table(
    name="posttrain_duplicates",
    key=("source_table", "doc_id", "key_kind"),
    ddl=(
        "source_table STRING NOT NULL, doc_id STRING NOT NULL, key_kind STRING NOT NULL, source STRING NOT NULL, "
        "key_hash STRING NOT NULL, cluster_id STRING NOT NULL, cluster_size INT NOT NULL, is_keeper BOOLEAN NOT NULL, "
        "keeper_doc_id STRING NOT NULL, response_chars INT NOT NULL, chosen_score DOUBLE, margin DOUBLE"
    ),
    doc=(
        "one row per (conversation or preference pair, dedup key): key_kind first_user / prompt (conversations) or "
        "pair (prompt + chosen); key_hash the hash of the key's canonical form; its cluster of exact and near "
        "duplicates (cluster_id = the smallest doc_id in it), the cluster's keeper, and what the keeper rule ranked "
        "by (response_chars of the final response or the chosen one, chosen_score, margin = chosen - rejected score)"
    ),
    stats_columns=("source_table", "doc_id", "key_kind", "cluster_id", "cluster_size"),
)


def _posttrain_signals_ddl() -> str:
    # the kernel's signals in its order, then the language one (quality.posttrain.signals)
    from quality.posttrain.schema import Message
    from quality.posttrain.signals import conversation_signals

    names = [*conversation_signals([Message("user", "q"), Message("assistant", "a")]), "lang_mismatch"]
    return ", ".join(f"{n} DOUBLE NOT NULL" for n in names)


POSTTRAIN_SIGNALS = Table(
    name="posttrain_signals",
    key=("source_table", "doc_id", "side"),
    ddl="source_table STRING NOT NULL, doc_id STRING NOT NULL, side STRING NOT NULL, lang STRING NOT NULL, "
    + _posttrain_signals_ddl(),
    doc=(
        "numbers only, no thresholds: quality.posttrain.signals of each conversation's final response (side "
        "`response`) and of each preference pair's chosen and rejected responses (sides `chosen`, `rejected`, each "
        "after the pair's prompt): lengths, Gopher repetition, refusal phrases (ko/en), chat-template leftovers, "
        "and lang_mismatch (1.0 when the prompt's and the response's languages differ); lang is the response's"
    ),
    stats_columns=("source_table", "doc_id", "side", "lang"),
)

POSTTRAIN_SELECTION = Table(
    name="posttrain_selection",
    key=("source_table", "doc_id"),
    ddl=(
        "source_table STRING NOT NULL, doc_id STRING NOT NULL, source STRING NOT NULL, lang STRING NOT NULL, "
        "n_chars INT NOT NULL, kept BOOLEAN NOT NULL, dropped_at STRING, first_failed_rule STRING, "
        "failed_rules ARRAY<STRING> NOT NULL, contaminated BOOLEAN NOT NULL, rules_fingerprint STRING NOT NULL"
    ),
    doc=(
        "one row per conversation and preference pair: kept or not by the post-training select step; a dropped row "
        "names the step that dropped it (language, dedup, signals, contamination), its first failing rule and every "
        "failing rule (duplicate:prompt, refusal_at_start>0, rejected:template_markers_response>0, "
        "contaminated:gsm8k, ...); rules_fingerprint hashes the settings that decided it"
    ),
    stats_columns=("source_table", "doc_id", "source", "lang", "dropped_at"),
)

SFT_CORPUS = Table(
    name="sft_corpus",
    key=("doc_id",),
    ddl=(
        f"doc_id STRING NOT NULL, source STRING NOT NULL, messages {_MESSAGES} NOT NULL, "
        "turn_langs ARRAY<STRING> NOT NULL, lang STRING NOT NULL, prompt_lang STRING NOT NULL, "
        "response_lang STRING NOT NULL, lang_mismatch BOOLEAN NOT NULL, n_turns INT NOT NULL, n_chars INT NOT NULL, "
        "assistant_chars INT NOT NULL, first_user_key STRING, prompt_key STRING, contaminated BOOLEAN NOT NULL, "
        "rules_fingerprint STRING NOT NULL"
    ),
    doc=(
        "the conversations the post-training select step kept, ready for SFT emission: messages, languages, "
        "characters in all and in assistant turns; first_user_key / prompt_key are the dedup keys' hashes "
        "(posttrain_duplicates; null when that key is not deduplicated), contaminated whether a benchmark substring "
        "was found in a turn (false unless posttrain.select.drop_contaminated is off)"
    ),
    stats_columns=("doc_id", "source", "lang", "n_turns", "n_chars"),
)

PREFERENCE_CORPUS = Table(
    name="preference_corpus",
    key=("doc_id",),
    ddl=(
        f"doc_id STRING NOT NULL, source STRING NOT NULL, prompt {_MESSAGES} NOT NULL, chosen {_MESSAGES} NOT NULL, "
        f"rejected {_MESSAGES} NOT NULL, chosen_score DOUBLE, rejected_score DOUBLE, lang STRING NOT NULL, "
        "prompt_lang STRING NOT NULL, chosen_lang STRING NOT NULL, rejected_lang STRING NOT NULL, "
        "lang_mismatch BOOLEAN NOT NULL, n_chars INT NOT NULL, pair_key STRING, contaminated BOOLEAN NOT NULL, "
        "rules_fingerprint STRING NOT NULL"
    ),
    doc=(
        "the preference pairs the post-training select step kept, ready for DPO / SimPO emission; pair_key is the "
        "hash of the dedup key prompt + chosen (posttrain_duplicates; null when pairs are not deduplicated)"
    ),
    stats_columns=("doc_id", "source", "lang", "n_chars"),
)

PAIR_SCORES = Table(
    name="pair_scores",
    key=("reward_model", "checkpoint", "split", "pair_index"),
    ddl=(
        "doc_id STRING NOT NULL, pair_index BIGINT NOT NULL, split STRING NOT NULL, chosen_score DOUBLE NOT NULL, "
        "rejected_score DOUBLE NOT NULL, margin DOUBLE NOT NULL, reward_model STRING NOT NULL, "
        "checkpoint STRING NOT NULL, scored_at TIMESTAMP NOT NULL"
    ),
    doc=(
        "every emitted preference pair scored by each reward model of `moru align` (megatron_train.reward.score): "
        "the pair's doc_id (preference_corpus), its index in its split of the pair blend, both responses' scores "
        "and margin = chosen - rejected; a reward model's rows for one checkpoint are replaced whole when it scores "
        "again (spark_jobs.posttrain.scores)"
    ),
    stats_columns=("reward_model", "checkpoint", "split", "pair_index", "doc_id", "margin"),
)

ALL_TABLES = {
    t.name: t
    for t in (
        RAW_DOCUMENTS,
        QUARANTINE,
        DOCUMENTS,
        EXACT_DUPLICATES,
        MINHASH_SIGNATURES,
        NEAR_DUPLICATE_CLUSTERS,
        QUALITY_SIGNALS,
        SELECTION,
        TRAINING_CORPUS,
        PII_FINDINGS,
        REDACTED_DOCUMENTS,
        BENCHMARK_EXAMPLES,
        BENCHMARK_SUBSTRINGS,
        CONTAMINATION,
        EMITTED_DOCUMENTS,
        EMIT_TOKEN_STATS,
        RAW_CONVERSATIONS,
        RAW_PREFERENCE_PAIRS,
        CONVERSATIONS,
        PREFERENCE_PAIRS,
        POSTTRAIN_DUPLICATES,
        POSTTRAIN_SIGNALS,
        POSTTRAIN_SELECTION,
        SFT_CORPUS,
        PREFERENCE_CORPUS,
        PAIR_SCORES,
    )
}


def table_uri(workdir: str, table: Table | str) -> str:
    name = table if isinstance(table, str) else table.name
    return storage.to_spark_path(locations.table(workdir, name))


def exists(spark: SparkSession, workdir: str, table: Table) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_uri(workdir, table))


def read(spark: SparkSession, workdir: str, table: Table, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_uri(workdir, table))


def version(spark: SparkSession, workdir: str, table: Table) -> int | None:
    """Latest committed version, or None if the table does not exist yet."""
    from delta.tables import DeltaTable

    uri = table_uri(workdir, table)
    if not DeltaTable.isDeltaTable(spark, uri):
        return None
    return DeltaTable.forPath(spark, uri).history(1).select("version").head()[0]


def ensure(spark: SparkSession, workdir: str, table: Table) -> bool:
    """Create the table empty, with its declared schema, if it does not exist; True if created."""
    from delta.tables import DeltaTable

    uri = table_uri(workdir, table)
    if DeltaTable.isDeltaTable(spark, uri):
        return False
    builder = DeltaTable.createIfNotExists(spark).location(uri).addColumns(table.schema)
    if table.stats_columns:
        builder = builder.property("delta.dataSkippingStatsColumns", ",".join(table.stats_columns))
    builder.execute()
    return True


def merge(
    spark: SparkSession,
    df: DataFrame,
    workdir: str,
    table: Table,
    changed: list[str] | None = None,
    delete_missing: bool = False,
) -> dict[str, int]:
    """Upsert ``df`` into ``table`` on its key; returns {"inserted": n, "updated": n}.

    Rows whose key is new are inserted; rows whose key exists are updated only when one of the
    ``changed`` columns differs (so a re-run with the same input changes no row). ``df`` must
    hold at most one row per key. With ``delete_missing`` the table's rows whose key is not in
    ``df`` are deleted (``df`` is then the table's whole new contents). Into a table that has
    just been created every key is new, so the rows are appended in one pass instead of joined
    against an empty table.
    """
    from delta.tables import DeltaTable

    created = ensure(spark, workdir, table)
    uri = table_uri(workdir, table)
    source = df.select(*table.columns)
    before = DeltaTable.forPath(spark, uri).history(1).select("version").head()[0]
    if created:
        source.write.format("delta").mode("append").save(uri)
    else:
        target = DeltaTable.forPath(spark, uri)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in table.key)
        builder = target.alias("t").merge(source.alias("s"), on)
        if changed:
            cond = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in changed)
            builder = builder.whenMatchedUpdateAll(condition=cond)
        builder = builder.whenNotMatchedInsertAll()
        if delete_missing:
            builder = builder.whenNotMatchedBySourceDelete()
        builder.execute()
    version, metrics = DeltaTable.forPath(spark, uri).history(1).select("version", "operationMetrics").head()
    if version == before:  # nothing was committed (e.g. an empty source): no stale metrics
        return {"inserted": 0, "updated": 0, "deleted": 0}
    metrics = metrics or {}
    if created:
        return {"inserted": int(metrics.get("numOutputRows", 0)), "updated": 0, "deleted": 0}
    return {
        "inserted": int(metrics.get("numTargetRowsInserted", 0)),
        "updated": int(metrics.get("numTargetRowsUpdated", 0)),
        "deleted": int(metrics.get("numTargetRowsDeleted", 0)),
    }


def overwrite(
    spark: SparkSession,
    df: DataFrame,
    workdir: str,
    table: Table,
    user_metadata: str | None = None,
    count: bool = True,
) -> int | None:
    """Replace the whole table's contents with ``df`` in one commit; returns the rows written (read from the
    commit's metrics; None with ``count=False``, which skips that history read). ``user_metadata`` is stored with
    the commit (Delta's ``userMetadata``; see :func:`last_user_metadata`).

    For tables derived from all of their inputs on every run (dedup clusters): the result of a
    re-run with the same inputs is the same rows, the previous version stays readable by time
    travel, and a job that dies before the commit leaves it current.
    """
    from delta.tables import DeltaTable

    ensure(spark, workdir, table)
    uri = table_uri(workdir, table)
    # the declared schema wins: a table written by an older moru (a column since added) is replaced whole
    writer = df.select(*table.columns).write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    writer.save(uri)
    if not count:
        return None
    metrics = DeltaTable.forPath(spark, uri).history(1).select("operationMetrics").head()[0] or {}
    return int(metrics.get("numOutputRows", 0))


def last_user_metadata(spark: SparkSession, workdir: str, table: Table) -> str | None:
    """The ``userMetadata`` of the table's latest commit (None when it has none or no table exists)."""
    from delta.tables import DeltaTable

    if not exists(spark, workdir, table):
        return None
    return DeltaTable.forPath(spark, table_uri(workdir, table)).history(1).select("userMetadata").head()[0]
