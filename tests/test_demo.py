"""`moru demo` end to end on a small corpus: every stage, tables, report, counts against the
generator's ground truth."""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from moru.cli import app
from spark_jobs import tables


def test_demo_end_to_end(spark, tmp_path):
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--workdir", str(workdir), "--docs", "400", "--seed", "5"])
    assert result.exit_code == 0, result.output
    truth = json.loads((workdir / "corpus_manifest.json").read_text(encoding="utf-8"))
    raw = tables.read(spark, str(workdir), tables.RAW_DOCUMENTS)
    assert raw.count() == truth["n_docs"]
    reasons = Counter(
        {
            r["reason"]: r["count"]
            for r in tables.read(spark, str(workdir), tables.QUARANTINE).groupBy("reason").count().collect()
        }
    )
    assert reasons == Counter(truth["malformed"])
    docs = tables.read(spark, str(workdir), tables.DOCUMENTS)
    assert docs.count() == truth["n_docs"]
    langs = {r["lang"]: r["count"] for r in docs.groupBy("lang").count().collect()}
    assert set(langs) >= {"ko", "en", "ko+en", "other"}
    # every source is there, with its own field mapping applied
    assert {r[0] for r in raw.select("source").distinct().collect()} == {"news", "forum", "web", "docs", "misc"}
    assert raw.filter("source = 'news' AND metadata['section'] IS NOT NULL").count() > 0
    assert raw.filter("source = 'web' AND url LIKE 'https://web.demo.moru/%'").count() > 0
    index = (workdir / "report" / "index.html").read_text(encoding="utf-8")
    for png in ("funnel.png", "quarantine.png", "languages.png", "lengths.png"):
        assert f'src="{png}"' in index and (workdir / "report" / png).stat().st_size > 1000
    out = " ".join(result.output.split())
    total_read = truth["n_docs"] + sum(truth["malformed"].values())
    assert f"ingest │ {total_read:,} │ {truth['n_docs']:,} │ {sum(truth['malformed'].values()):,}" in out
