"""The job contract: ordering by reads/writes, selection by name or command, and the real job list."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.job import Job, JobContext, JobGraphError, commands, order, select
from core.stats import StageStats


def _job(name, reads=(), writes=(), **kw):
    return Job(name=name, run=lambda ctx: StageStats(name), summary=name, reads=reads, writes=writes, **kw)


def test_order_follows_reads_and_writes_and_keeps_the_list_order_otherwise():
    a = _job("a", ("sources",), ("t1", "quarantine"))
    b = _job("b", ("t1",), ("t2", "quarantine"))
    c = _job("c", ("quarantine", "t2"))
    d = _job("d", ("t1",), ("t3",))
    assert [j.name for j in order([c, d, b, a])] == ["a", "d", "b", "c"]
    assert [j.name for j in order([a, b, c, d])] == ["a", "b", "c", "d"]


def test_order_refuses_cycles_and_duplicate_names():
    with pytest.raises(JobGraphError, match="wait on each other"):
        order([_job("a", ("y",), ("x",)), _job("b", ("x",), ("y",))])
    with pytest.raises(JobGraphError, match="duplicate"):
        order([_job("a"), _job("a")])


def test_select_by_name_or_command_and_unknown_names():
    jobs = [_job("exact_dedup", command="dedup"), _job("minhash_dedup", command="dedup"), _job("gate")]
    assert [j.name for j in select(jobs, ["dedup"])] == ["exact_dedup", "minhash_dedup"]
    assert [j.name for j in select(jobs, ["gate", "exact_dedup"])] == ["exact_dedup", "gate"]
    with pytest.raises(ValueError, match="unknown stage"):
        select(jobs, ["nope"])
    assert list(commands(jobs)) == ["dedup", "gate"]


def test_job_runs_a_lazily_imported_function_and_times_it():
    job = Job(name="x", run="core.stats:StageStats", summary="")
    stats = job(JobContext(cfg=None))
    assert isinstance(stats, StageStats) and stats.seconds >= 0


def test_context_builds_spark_once_and_reads_dotted_sections():
    made = []
    cfg = type("C", (), {"workdir": "/w", "quality": type("Q", (), {"classifier": "clf"})()})()
    ctx = JobContext(cfg=cfg, spark_factory=lambda: made.append(1) or "spark")
    assert ctx.spark == "spark" and ctx.spark == "spark" and made == [1]
    assert ctx.section("quality.classifier") == "clf" and ctx.workdir == "/w"
    with pytest.raises(RuntimeError, match="no session factory"):
        _ = JobContext(cfg=cfg).spark


def test_the_real_job_list_is_in_pipeline_order_and_every_read_is_written_earlier_or_external():
    from spark_jobs.jobs import jobs

    listed = jobs()
    assert [j.name for j in listed] == [
        "ingest", "normalize", "exact_dedup", "minhash_dedup", "classifier", "signals", "decontaminate", "pii",
        "select", "gate", "tokenizer", "emit", "posttrain_ingest", "posttrain_normalize", "posttrain_dedup",
        "posttrain_decontaminate", "posttrain_signals", "posttrain_select", "posttrain_gate", "posttrain_emit",
    ]  # fmt: skip
    external = {"sources", "benchmarks", "classifier_sets", "posttrain_sources"}
    written: set[str] = set()
    for j in listed:
        assert set(j.reads) <= written | external, (j.name, set(j.reads) - written)
        written |= set(j.writes)
    assert {j.cli_command for j in listed} == {
        "ingest", "normalize", "dedup", "quality train", "signals", "decontaminate", "pii", "select", "gate",
        "tokenizer train", "emit", "posttrain ingest", "posttrain normalize", "posttrain dedup",
        "posttrain decontaminate", "posttrain signals", "posttrain select", "posttrain gate", "posttrain emit",
    }  # fmt: skip


def test_cli_commands_are_generated_from_the_job_list():
    from typer.testing import CliRunner

    from moru.cli import app
    from spark_jobs.jobs import jobs

    runner = CliRunner()
    for command in {j.cli_command for j in jobs()}:
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "--config" in result.output
    assert "--force" in runner.invoke(app, ["emit", "--help"]).output


@pytest.mark.parametrize(
    "module", ["spark_jobs", "spark_jobs.ingest", "spark_jobs.normalize", "spark_jobs.dedup", "spark_jobs.signals",
               "spark_jobs.select", "spark_jobs.gate", "spark_jobs.emit"],
)  # fmt: skip
def test_python_m_entry_points_answer_help(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--config" in out.stdout


def test_python_m_entry_point_refuses_a_bad_config_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workdir: x\nsources: [{name: a, path: p, format: csv2}]\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "spark_jobs", "ingest", "--config", str(bad)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 2
    assert "sources.0.format" in out.stderr
