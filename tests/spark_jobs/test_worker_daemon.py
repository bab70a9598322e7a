"""The Python worker daemon moru's sessions use: it imports the heavy worker modules before forking workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spark_jobs.session import SparkConfig, session_settings
from spark_jobs.worker_daemon import DEFAULT_PRELOAD, PRELOAD_ENV, preload_names

ROOT = Path(__file__).resolve().parents[2]


def test_sessions_name_the_daemon_unless_turned_off():
    assert session_settings(SparkConfig())["spark.python.daemon.module"] == "spark_jobs.worker_daemon"
    assert session_settings(SparkConfig(profile="emr"))["spark.python.daemon.module"] == "spark_jobs.worker_daemon"
    assert "spark.python.daemon.module" not in session_settings(SparkConfig(worker_daemon=False))
    assert "spark.python.daemon.module" not in session_settings(SparkConfig(profile="databricks"))


def test_a_preload_list_in_the_config_reaches_the_executors_environment():
    s = session_settings(SparkConfig(worker_preload=["numpy", "pyarrow"]))
    assert s["spark.executorEnv.MORU_WORKER_PRELOAD"] == "numpy,pyarrow"
    assert "spark.executorEnv.MORU_WORKER_PRELOAD" not in session_settings(SparkConfig())
    assert "spark.executorEnv.MORU_WORKER_PRELOAD" not in session_settings(
        SparkConfig(worker_daemon=False, worker_preload=["numpy"])
    )


def test_commands_that_do_not_emit_skip_megatron_core(tmp_path):
    from moru.cli import spark_config
    from moru.config import MoruConfig
    from spark_jobs.worker_daemon import BASE_PRELOAD

    cfg = MoruConfig.model_validate({"workdir": str(tmp_path), "sources": []})
    assert spark_config(cfg, emits=True).worker_preload is None  # the daemon's default, megatron-core included
    assert spark_config(cfg, emits=False).worker_preload == list(BASE_PRELOAD)
    assert "megatron.core.datasets.indexed_dataset" not in BASE_PRELOAD
    mine = MoruConfig.model_validate({"workdir": str(tmp_path), "sources": [], "spark": {"worker_preload": ["json"]}})
    assert spark_config(mine, emits=False).worker_preload == ["json"]


def test_preload_list_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(PRELOAD_ENV, raising=False)
    assert preload_names() == list(DEFAULT_PRELOAD)
    monkeypatch.setenv(PRELOAD_ENV, " json , ,csv")
    assert preload_names() == ["json", "csv"]
    monkeypatch.setenv(PRELOAD_ENV, "")
    assert preload_names() == []


def test_preload_keeps_stdout_clean_and_reports_what_failed(tmp_path):
    """The daemon's stdout carries its port to the JVM: an import that prints must not reach it."""
    code = (
        "import sys, json\n"
        "from spark_jobs.worker_daemon import preload\n"
        "out = preload(['tests_noisy_module', 'no_such_module_here', 'json'])\n"
        "sys.stderr.write('OUTCOME ' + json.dumps(out) + '\\n')\n"
    )
    (tmp_path / "tests_noisy_module.py").write_text(
        "import os\nprint('printed at import')\nos.write(1, b'written to fd 1')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert done.stdout == ""
    assert "printed at import" in done.stderr and "written to fd 1" in done.stderr
    assert "could not preload no_such_module_here: ModuleNotFoundError" in done.stderr
    outcome = done.stderr.split("OUTCOME ", 1)[1]
    assert '"json": "ok' in outcome and '"tests_noisy_module": "ok' in outcome


def test_spark_workers_fork_from_the_preloading_daemon(spark):
    """Each Python worker of the test session is a child of spark_jobs.worker_daemon, which has megatron-core's
    indexed_dataset imported (read from the daemon's own /proc entry: the worker may have imported it itself)."""
    import pyarrow as pa

    def probe(batches):
        parent = os.getppid()
        with open(f"/proc/{parent}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode()
        with open(f"/proc/{parent}/maps") as fh:
            torch_mapped = any("libtorch" in line for line in fh)
        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"cmd": [cmd], "torch": [torch_mapped]})

    rows = spark.range(4).repartition(2).mapInArrow(probe, "cmd string, torch boolean").collect()
    assert len(rows) == 2
    for r in rows:
        assert "-m spark_jobs.worker_daemon" in r["cmd"], r["cmd"]
        assert r["torch"], "the daemon did not import megatron-core (torch) before forking"
