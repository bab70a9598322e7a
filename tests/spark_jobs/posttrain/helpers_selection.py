"""Small ``conversations`` / ``preference_pairs`` Delta tables written directly in their declared schema, for the
tests of the post-training dedup, decontamination, signals, select and gate jobs (they need no ingest or normalize
run). A message is ``(role, content)``; a row names what its test needs and gets plain values for the rest."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import types as T

from spark_jobs import tables
from spark_jobs.session import local_frame

WHEN = dt.datetime(2025, 1, 1, 12, 0, 0)


def _plain(field: T.StructField):
    """A plain value for a column the test does not care about (the declared schema may grow)."""
    t = field.dataType
    if isinstance(t, T.StringType):
        return "test"
    if isinstance(t, T.BooleanType):
        return False
    if isinstance(t, T.IntegerType | T.LongType):
        return 0
    if isinstance(t, T.DoubleType):
        return 0.0
    if isinstance(t, T.TimestampType):
        return WHEN
    if isinstance(t, T.ArrayType):
        return []
    if isinstance(t, T.MapType):
        return {}
    raise TypeError(f"no plain value for {field.name} {t}")


def table_row(table: tables.Table, values: dict) -> tuple:
    """``values`` in ``table``'s column order, plain values for the columns it leaves out."""
    return tuple(values[f.name] if f.name in values else _plain(f) for f in table.schema.fields)


def _msgs(turns) -> list[dict]:
    return [{"role": r, "content": c} for r, c in turns]


def conversation(doc_id: str, *turns: tuple[str, str], source: str = "s", lang: str = "en",
                 response_lang: str | None = None, lang_mismatch: bool = False) -> dict:  # fmt: skip
    return {"doc_id": doc_id, "source": source, "messages": _msgs(turns), "lang": lang,
            "response_lang": response_lang or lang, "lang_mismatch": lang_mismatch}  # fmt: skip


def pair(doc_id: str, prompt, chosen: str, rejected: str, chosen_score: float | None = None,
         rejected_score: float | None = None, source: str = "s", lang: str = "en",
         rejected_lang: str | None = None) -> dict:  # fmt: skip
    prompt = [("user", prompt)] if isinstance(prompt, str) else list(prompt)
    return {"doc_id": doc_id, "source": source, "prompt": _msgs(prompt), "chosen": _msgs([("assistant", chosen)]),
            "rejected": _msgs([("assistant", rejected)]), "chosen_score": chosen_score,
            "rejected_score": rejected_score, "lang": lang, "rejected_lang": rejected_lang or lang}  # fmt: skip


def write_conversations(spark, workdir: str, rows: list[dict]) -> None:
    out = []
    for r in rows:
        msgs = r["messages"]
        n_chars = sum(len(m["content"]) for m in msgs)
        values = {
            **r,
            "turn_langs": [r["lang"]] * len(msgs),
            "lang_mix": {r["lang"]: len(msgs)},
            "prompt_lang": r["lang"],
            "n_turns": len(msgs),
            "n_chars": n_chars,
        }
        out.append(table_row(tables.CONVERSATIONS, values))
    tables.overwrite(spark, local_frame(spark, out, tables.CONVERSATIONS.schema), workdir, tables.CONVERSATIONS)


def write_pairs(spark, workdir: str, rows: list[dict]) -> None:
    out = []
    for r in rows:
        prompt_chars = sum(len(m["content"]) for m in r["prompt"])
        longer = max(sum(len(m["content"]) for m in r[k]) for k in ("chosen", "rejected"))
        values = {
            **r,
            "prompt_turn_langs": [r["lang"]] * len(r["prompt"]),
            "prompt_lang": r["lang"],
            "chosen_lang": r["lang"],
            "n_chars": prompt_chars + longer,
        }
        out.append(table_row(tables.PREFERENCE_PAIRS, values))
    tables.overwrite(spark, local_frame(spark, out, tables.PREFERENCE_PAIRS.schema), workdir, tables.PREFERENCE_PAIRS)
