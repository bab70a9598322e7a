"""The moru command line: config errors name the bad key; `moru run` writes the demo's layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moru.cli import app

runner = CliRunner()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("workdir: w\nsources: [{name: a, path: x, formt: jsonl}]\n", "sources.0.formt: unknown key"),
        ("workdir: w\nsources: [{name: a, path: x, format: xlsx}]\n", "sources.0.format"),
        ("workdir: w\nnormalize: {form: NFD}\n", "normalize.form"),
        ("workdir: w\nspark: {profile: yarn}\n", "spark.profile"),
        ("sources: []\n", "workdir: Field required"),
        ("workdir: w\ningest: {max_text_bytes: -1}\n", "ingest.max_text_bytes"),
        ("workdir: w\nbogus: 1\n", "bogus: unknown key"),
        ("workdir: [unclosed\n", "not valid YAML"),
    ],
)
def test_config_errors_name_the_bad_key(tmp_path, yaml_text, needle):
    result = runner.invoke(app, ["check-config", "--config", str(_write(tmp_path / "c.yaml", yaml_text))])
    assert result.exit_code == 2
    assert needle in " ".join(result.output.split())


def test_minimal_config_gets_defaults_and_relative_paths(tmp_path):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data" / "a.jsonl", '{"text": "hello"}\n')
    cfg = _write(tmp_path / "c.yaml", "workdir: out\nsources: [{name: news, path: data}]\n")
    result = runner.invoke(app, ["check-config", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert f"workdir: {tmp_path / 'out'}" in result.output
    assert "form: NFC" in result.output and "profile: local" in result.output
    assert "preflight:" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # the probe left nothing


@pytest.mark.parametrize(
    ("command", "workdir", "source", "needle"),
    [
        (["check-config"], "/proc/no/such/wd", "data", "workdir: cannot create"),
        (["run"], "/proc/no/such/wd", "data", "workdir: cannot create"),
        (["ingest"], "wd", "missing", "sources.0.path"),
        (["run"], "wd", "missing", "sources.0.path"),
    ],
)
def test_user_errors_stop_before_spark_with_exit_2_naming_the_key(tmp_path, command, workdir, source, needle):
    """Preflight (issue 27): a workdir that cannot be created, a source that matches nothing: one paragraph naming
    the key, exit code 2, before any Spark session (no JVM is started: the test would take 20 s otherwise)."""
    (tmp_path / "data").mkdir()
    _write(tmp_path / "data" / "a.jsonl", '{"text": "hello"}\n')
    cfg = _write(tmp_path / "c.yaml", f"workdir: {workdir}\nsources: [{{name: a, path: {source}}}]\n")
    result = runner.invoke(app, [*command, "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert needle in " ".join(result.output.split())
    assert "Traceback" not in result.output and "py4j" not in result.output.lower()


def test_run_writes_tables_report_and_manifest(spark, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": i, "body": t}
        for i, t in enumerate(
            [
                "정부는 오늘 새로운 경제 정책을 발표했다. 전문가들은 긍정적으로 평가했다.",
                "The museum reopened to visitors after a two-year renovation of its main hall.",
                "",
            ]
        )
    ]
    (data / "a.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    cfg = _write(
        tmp_path / "moru.yaml", "workdir: out\nsources:\n  - {name: n, path: data, fields: {text: body, id: id}}\n"
    )
    result = runner.invoke(app, ["run", "--config", str(cfg)])
    # two one-sentence documents are far below the quality thresholds (Gopher's 50 words): the
    # training corpus is empty, the gate fails naming why, and the run exits 1 after its report
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "training_corpus: expect_table_row_count_to_be_between failed: observed 0" in flat
    assert "no training data is emitted past it" in flat
    out = tmp_path / "out"
    for name in ("raw_documents", "documents", "quarantine"):
        assert (out / "tables" / name / "_delta_log").is_dir()
    for name in ("index.html", "funnel.png", "quarantine.png", "languages.png", "lengths.png"):
        assert (out / "report" / name).stat().st_size > 500
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert 'src="funnel.png"' in html and "empty_text" in html
    assert "read 3 = accepted 2 + quarantined 1" in " ".join(result.output.split())
    manifests = list((out / "manifests").glob("run-*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["table_versions_before"]["raw_documents"] is None
    assert manifest["table_versions_after"]["documents"] is not None
    assert [s["stage"] for s in manifest["stages"]] == [
        "ingest", "normalize", "exact_dedup", "minhash_dedup", "signals", "pii", "select", "gate"
    ]  # fmt: skip
    assert "Gate (Great Expectations): FAILED" in html
    for name in ("exact_duplicates", "minhash_signatures", "near_duplicate_clusters"):
        assert (out / "tables" / name / "_delta_log").is_dir()

    again = runner.invoke(app, ["dedup", "--config", str(cfg)])
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert "exact_dedup │ 2 │ 2 │ 0" in text and "minhash_dedup │ 2 │ 2 │ 0" in text
    assert "duplicates per language" in text and "duplicates per source" in text
