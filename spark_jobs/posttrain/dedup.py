"""Post-training dedup: ``conversations`` + ``preference_pairs`` → Delta ``posttrain_duplicates``.

Duplicates are found on keys, each a text cut out of the example (:func:`conversation_keys`, :func:`pair_key`):

- ``first_user`` (conversations): the first user turn. The same question asked again is a duplicate even when
  the system prompt or the later turns differ.
- ``prompt`` (conversations): the whole prompt, every turn before the final response, roles included.
- ``pair`` (preference pairs): the prompt and the chosen response (pretraining's ``pair_hash`` idea): the same
  comparison made twice. Pairs that share only a prompt are different comparisons and are all kept.

Each key is matched with pretraining dedup's own kernels: exactly, by the hash of its canonical form
(:mod:`quality.dedup.canonical`; by default lower-cased and blind to whitespace, so a Korean prompt re-spaced or
an English one re-cased is the same prompt), and, with ``near``, by MinHash-LSH over the Korean-aware shingles
(:mod:`quality.dedup.shingles`: Hangul character n-grams, word n-grams elsewhere; :class:`MinHasher`), the LSH
bands of :func:`spark_jobs.dedup.minhash.candidate_pairs`, candidates verified by their exact shingle Jaccard.
Exact groups and verified near pairs become edges, and the connected components
(:mod:`spark_jobs.dedup.components`) of each key kind are its clusters; a cluster's id is its smallest doc_id.

Which member survives (``keep``): ``longest_response`` (most characters in the final response; for pairs the
chosen response), ``highest_score`` (pairs: the highest chosen_score, then the largest margin) or ``first``;
ties, and ``first``, go by source priority, then the smallest doc_id. One ranking per table, so the best example
of a group linked through several key kinds keeps every one of its keys: a group never loses all its members.
The table is rebuilt from all inputs on every run (same inputs, same rows).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from core.job import Job, JobContext
from core.stats import StageStats
from quality.dedup.canonical import CanonicalForm, canonical_text, content_hash
from quality.dedup.minhash import MinHasher
from quality.dedup.shingles import shingles
from quality.posttrain.turns import split_prompt_response
from spark_jobs import tables
from spark_jobs.dedup.components import connected_components
from spark_jobs.dedup.config import MinHashConfig
from spark_jobs.dedup.keepers import source_rank
from spark_jobs.dedup.minhash import candidate_pairs, signature_column, with_exact_similarity

log = logging.getLogger("moru.posttrain.dedup")

KeyKind = Literal["first_user", "prompt"]
KEY_KINDS = ("first_user", "prompt", "pair")
CONVERSATIONS = tables.CONVERSATIONS.name
PAIRS = tables.PREFERENCE_PAIRS.name


class PosttrainDedupConfig(BaseModel):
    """``posttrain.dedup``: which keys are matched, how, and which copy survives."""

    model_config = ConfigDict(extra="forbid")

    conversation_keys: list[KeyKind] = Field(
        default_factory=lambda: ["first_user", "prompt"],
        description="conversation keys to dedup on: the first user turn, the whole prompt (or both)",
    )
    pairs: bool = Field(default=True, description="dedup preference pairs on prompt + chosen")
    canonical: CanonicalForm = Field(
        default_factory=lambda: CanonicalForm(lowercase=True, whitespace="remove"),
        description="canonical form hashed for exact matches (default: case- and whitespace-blind, so re-spaced "
        "Korean and re-cased English prompts are exact duplicates)",
    )
    near: bool = Field(default=True, description="also MinHash-LSH near duplicates of each key")
    minhash: MinHashConfig = Field(default_factory=MinHashConfig, description="as dedup.minhash (shingles, bands)")
    keep_conversation: Literal["longest_response", "first"] = Field(
        default="longest_response", description="which conversation of a cluster survives"
    )
    keep_pair: Literal["highest_score", "longest_response", "first"] = Field(
        default="highest_score",
        description="which pair survives: highest chosen_score (then margin), longest chosen response, or first",
    )
    source_priority: list[str] = Field(
        default_factory=list, description="ties (and keep: first): an earlier source wins, then the smaller doc_id"
    )


# ---------------------------------------------------------------------------- keys (pure)


def _turns_hash(turns: Sequence[tuple[str, str]], form: CanonicalForm) -> str:
    """SHA-1 over (role, canonical content) of each turn: turn boundaries and roles count, whatever the form does
    to whitespace and punctuation."""
    h = hashlib.sha1()
    for role, text in turns:
        h.update(role.encode())
        h.update(b"\x00")
        h.update(canonical_text(text, form).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _pairs(msgs: Sequence[dict]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"] or "") for m in msgs]


def conversation_keys(messages: Sequence[dict], form: CanonicalForm) -> dict[str, tuple[str, str]]:
    """``{kind: (text, hash)}`` of a conversation's keys: ``first_user`` (absent without a user turn) and
    ``prompt`` (every turn before the final response). ``text`` is what is shingled (the turns' contents, one per
    line), ``hash`` the exact key (roles included for the prompt)."""
    from quality.posttrain.schema import Message

    msgs = [Message(r, c) for r, c in _pairs(messages)]
    out: dict[str, tuple[str, str]] = {}
    first = next((m.content for m in msgs if m.role == "user"), None)
    if first is not None:
        out["first_user"] = (first, content_hash(first, form))
    prompt, _ = split_prompt_response(msgs)
    turns = [(m.role, m.content) for m in prompt]
    out["prompt"] = ("\n".join(t for _, t in turns), _turns_hash(turns, form))
    return out


def response_chars(messages: Sequence[dict]) -> int:
    """Characters of the final response's assistant turns (the response the ``longest_response`` rule compares)."""
    from quality.posttrain.schema import Message

    _, response = split_prompt_response([Message(r, c) for r, c in _pairs(messages)])
    return sum(len(m.content) for m in response if m.role == "assistant")


def pair_key(prompt: Sequence[dict], chosen: Sequence[dict], form: CanonicalForm) -> tuple[str, str]:
    """(text, hash) of a pair's key: its prompt and its chosen response."""
    turns = _pairs(prompt) + [("", "")] + _pairs(chosen)  # an empty turn marks where the prompt ends
    return "\n".join(t for _, t in turns if t), _turns_hash(turns, form)


# ---------------------------------------------------------------------------- Spark

_KEYED_DDL = (
    "source_table STRING, key_kind STRING, doc_id STRING, source STRING, node STRING, key_text STRING, "
    "key_hash STRING, n_shingles INT, signature BINARY, response_chars INT, chosen_score DOUBLE, margin DOUBLE"
)
_KEYED = [f.split()[0] for f in _KEYED_DDL.split(", ")]


def _keys_mapper(table: str, cfg: PosttrainDedupConfig):
    mh = cfg.minhash
    kinds = set(cfg.conversation_keys) if table == CONVERSATIONS else {"pair"}

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        hasher = MinHasher(mh.num_perm, mh.seed, mh.scheme)
        kn = mh.hangul_ngram()
        for batch in batches:
            cols: dict[str, list] = {c: [] for c in _KEYED if c not in ("n_shingles", "signature")}
            sets = []
            rows = batch.to_pylist()
            for row in rows:
                if table == CONVERSATIONS:
                    keys = conversation_keys(row["messages"], cfg.canonical)
                    chars, score, margin = response_chars(row["messages"]), None, None
                else:
                    keys = {"pair": pair_key(row["prompt"], row["chosen"], cfg.canonical)}
                    chars = sum(len(m["content"] or "") for m in row["chosen"] if m["role"] == "assistant")
                    score, rejected = row["chosen_score"], row["rejected_score"]
                    margin = score - rejected if score is not None and rejected is not None else None
                for kind, (text, key_hash) in keys.items():
                    if kind not in kinds:
                        continue
                    for name, value in (
                        ("source_table", table), ("key_kind", kind), ("doc_id", row["doc_id"]),
                        ("source", row["source"]), ("node", f"{table}:{kind}:{row['doc_id']}"), ("key_text", text),
                        ("key_hash", key_hash), ("response_chars", chars), ("chosen_score", score), ("margin", margin),
                    ):  # fmt: skip
                        cols[name].append(value)
                    sets.append(shingles(text, mh.ngram, mh.korean_units, kn) if cfg.near else set())
            if not sets:
                continue
            arrays = {name: pa.array(values) for name, values in cols.items()}
            arrays["response_chars"] = pa.array(cols["response_chars"], pa.int32())
            arrays["chosen_score"] = pa.array(cols["chosen_score"], pa.float64())
            arrays["margin"] = pa.array(cols["margin"], pa.float64())
            arrays["n_shingles"] = pa.array([len(s) for s in sets], pa.int32())
            arrays["signature"] = signature_column(hasher.signatures(sets))
            yield pa.RecordBatch.from_arrays([arrays[c] for c in _KEYED], names=_KEYED)

    return run


def keyed_rows(spark: SparkSession, workdir: str, cfg: PosttrainDedupConfig) -> tuple[DataFrame | None, dict]:
    """One row per (example, key kind): the key's text, exact hash, shingle count and MinHash signature, and what
    the keeper rule ranks by; and the rows of each input table."""
    frames, counts = [], {}
    wanted = [(tables.CONVERSATIONS, ["doc_id", "source", "messages"], bool(cfg.conversation_keys))]
    wanted.append((tables.PREFERENCE_PAIRS, ["doc_id", "source", "prompt", "chosen", "chosen_score",
                                            "rejected_score"], cfg.pairs))  # fmt: skip
    for table, columns, on in wanted:
        if not tables.exists(spark, workdir, table):
            counts[table.name] = 0
            continue
        df = tables.read(spark, workdir, table)
        counts[table.name] = df.count()
        if on:
            frames.append(df.select(*columns).mapInArrow(_keys_mapper(table.name, cfg), _KEYED_DDL))
    if not frames:
        return None, counts
    keyed = frames[0]
    for f in frames[1:]:
        keyed = keyed.unionByName(f)
    return keyed, counts


def _exact_edges(keyed: DataFrame) -> DataFrame:
    group = Window.partitionBy("source_table", "key_kind", "key_hash")
    return (
        keyed.select("source_table", "key_kind", "key_hash", "node")
        .withColumn("root", F.min("node").over(group))
        .filter(F.col("node") != F.col("root"))
        .select(F.col("root").alias("src"), F.col("node").alias("dst"))
    )


def _near_edges(keyed: DataFrame, groups: list[tuple[str, str]], mh: MinHashConfig) -> DataFrame | None:
    """Verified near-duplicate pairs (src, dst nodes) of each (table, key kind): LSH bands within the kind only."""
    b, r = mh.band_rows()
    sigs = keyed.filter(F.col("n_shingles") > 0).select(
        "source_table", "key_kind", F.col("node").alias("doc_id"), "signature"
    )
    texts = keyed.select(F.col("node").alias("doc_id"), F.col("key_text").alias("text"))
    out = None
    for table, kind in groups:
        part = sigs.filter((F.col("source_table") == table) & (F.col("key_kind") == kind))
        pairs = candidate_pairs(part, b, r, mh.all_pairs_bucket_size)
        out = pairs if out is None else out.unionByName(pairs)
    if out is None:
        return None
    if mh.verify == "exact":
        scored = with_exact_similarity(out, texts, mh)
        return scored.filter(F.col("similarity") >= mh.threshold).select("src", "dst")
    if mh.verify == "signature":
        from spark_jobs.dedup.minhash import with_similarity

        scored = with_similarity(out, sigs.select("doc_id", "signature"))
        return scored.filter(F.col("similarity") >= mh.threshold).select("src", "dst")
    return out


def _rank(cfg: PosttrainDedupConfig) -> list[Column]:
    """The keeper order (first = keeper): the table's rule, then source priority, then doc_id."""
    is_conv = F.col("source_table") == CONVERSATIONS
    none = F.lit(None).cast("double")
    longest = F.col("response_chars").cast("double")
    conv1 = longest if cfg.keep_conversation == "longest_response" else none
    pair1 = {"highest_score": F.col("chosen_score"), "longest_response": longest, "first": none}[cfg.keep_pair]
    pair2 = F.col("margin") if cfg.keep_pair == "highest_score" else none
    return [
        F.when(is_conv, conv1).otherwise(pair1).desc_nulls_last(),
        F.when(is_conv, none).otherwise(pair2).desc_nulls_last(),
        source_rank(cfg.source_priority).asc(),
        F.col("doc_id").asc(),
    ]


def choose_keepers(members: DataFrame, cfg: PosttrainDedupConfig) -> DataFrame:
    """Adds ``cluster_size``, ``keeper_doc_id`` and ``is_keeper`` to ``members`` (one row per example and key kind,
    with ``source_table``, ``key_kind``, ``cluster_id``, ``doc_id``, ``source`` and the ranked columns
    ``response_chars``, ``chosen_score``, ``margin``)."""
    cluster = ("source_table", "key_kind", "cluster_id")
    return (
        members.withColumn("cluster_size", F.count("*").over(Window.partitionBy(*cluster)).cast("int"))
        .withColumn("keeper_doc_id", F.first("doc_id").over(Window.partitionBy(*cluster).orderBy(*_rank(cfg))))
        .withColumn("is_keeper", F.col("keeper_doc_id") == F.col("doc_id"))
    )


def run(spark: SparkSession, workdir: str, cfg: PosttrainDedupConfig | None = None) -> StageStats:
    cfg = cfg or PosttrainDedupConfig()
    started = time.time()
    stats = StageStats("posttrain_dedup")
    keyed, counts = keyed_rows(spark, workdir, cfg)
    stats.rows_in = sum(counts.values())
    if keyed is None:
        empty = spark.createDataFrame([], tables.POSTTRAIN_DUPLICATES.schema)
        tables.overwrite(spark, empty, workdir, tables.POSTTRAIN_DUPLICATES)
        stats.rows_out = stats.rows_in
        stats.check()
        return stats
    if cfg.near:
        keyed = keyed.localCheckpoint(eager=True)  # read by the exact, near, member and keeper steps
        groups = [(CONVERSATIONS, k) for k in cfg.conversation_keys] + ([(PAIRS, "pair")] if cfg.pairs else [])
        edges = _exact_edges(keyed)
        near = _near_edges(keyed, groups, cfg.minhash)
        if near is not None:
            edges = edges.unionByName(near)
        components, rounds = connected_components(edges, cfg.minhash.max_iterations)
        members = keyed.drop("signature", "key_text").join(components, "node", "left")
        # the component is its smallest node; a node in no edge is a cluster of its own
        clustered = members.withColumn("cluster_id", F.substring_index(F.coalesce("component", "node"), ":", -1))
    else:  # exact groups are the clusters: no graph to walk
        rounds = 0
        group = Window.partitionBy("source_table", "key_kind", "key_hash")
        clustered = keyed.drop("signature", "key_text").withColumn("cluster_id", F.min("doc_id").over(group))
    out = choose_keepers(clustered, cfg)
    written = tables.overwrite(spark, out, workdir, tables.POSTTRAIN_DUPLICATES)
    # one small query for the counts: how many examples lost which keys (the first one in name order is the reason)
    lost = (
        tables.read(spark, workdir, tables.POSTTRAIN_DUPLICATES)
        .groupBy("source_table", "doc_id")
        .agg(F.array_sort(F.collect_list(F.when(~F.col("is_keeper"), F.col("key_kind")))).alias("kinds"))
        .groupBy("kinds")
        .count()
        .collect()
    )
    by_reason: dict[str, int] = {}
    by_key: dict[str, int] = {}
    for r in lost:
        if r["kinds"]:
            by_reason[f"duplicate:{r['kinds'][0]}"] = by_reason.get(f"duplicate:{r['kinds'][0]}", 0) + r["count"]
            for kind in r["kinds"]:
                by_key[kind] = by_key.get(kind, 0) + r["count"]
    stats.rows_rejected = sum(by_reason.values())
    stats.rows_out = stats.rows_in - stats.rows_rejected
    stats.by_reason = by_reason
    stats.extra = {
        "rows": written,
        "inputs": counts,
        "duplicates_by_key": by_key,
        "component_rounds": rounds,
        "canonical_form": cfg.canonical.key(),
    }
    stats.seconds = time.time() - started
    stats.check()
    log.info("posttrain_dedup: in=%d kept=%d duplicates=%d %s", stats.rows_in, stats.rows_out, stats.rows_rejected,
             stats.by_reason)  # fmt: skip
    return stats


def config_of(cfg) -> PosttrainDedupConfig:
    """``posttrain.dedup`` of the composed config (its defaults until the section is declared)."""
    return getattr(cfg.posttrain, "dedup", None) or PosttrainDedupConfig()


def run_job(ctx: JobContext) -> StageStats:
    return run(ctx.spark, ctx.workdir, config_of(ctx.cfg))


JOB = Job(
    name="posttrain_dedup",
    run=run_job,
    summary="Exact and MinHash near-duplicate dedup of post-training data on the first user turn and the prompt "
    "(conversations) and on prompt + chosen (preference pairs): -> posttrain_duplicates (one keeper per cluster).",
    reads=("conversations", "preference_pairs"),
    writes=("posttrain_duplicates",),
    section="posttrain.dedup",
    command="posttrain dedup",
    enabled=lambda cfg: None if cfg.posttrain.sources else "posttrain.sources is empty",
)


if __name__ == "__main__":
    from spark_jobs.entry import main

    main("posttrain_dedup")
