"""The EMR definitions against the job list and the packaging: every stage once, in order, through the launcher
`moru package` writes, with the archive, the Python in it and the Delta package the session expects."""

from __future__ import annotations

import json
import shlex

from moru.package import EMIT_ARCHIVE, ENV_ARCHIVE, LAUNCHER, LAUNCHER_TEXT
from spark_jobs.entry import parser
from spark_jobs.jobs import jobs
from spark_jobs.session import DELTA_VERSION, SCALA_VERSION
from tests.deploy.conftest import ROOT, load_script

EMR = ROOT / "deploy" / "emr"
PYTHON = "./environment/bin/python"


def _archive_for(name: str) -> str:
    return EMIT_ARCHIVE if next(j for j in jobs() if j.name == name).loads_tokenizer else ENV_ARCHIVE


def test_committed_files_are_what_generate_writes(tmp_path):
    gen = load_script("deploy/emr/generate.py")
    assert gen.main(["--check"]) == 0, "run python deploy/emr/generate.py"
    assert gen.main(["--artifacts", "s3://acme/x/", "--config", "s3://acme/c/run.yaml", "--out", str(tmp_path)]) == 0
    steps = json.loads((tmp_path / "add-steps.json").read_text())
    assert steps["Steps"][0]["HadoopJarStep"]["Args"][-3:] == ["ingest", "--config", "run.yaml"]
    assert "s3://acme/x/moru-env.tar.gz#environment" in steps["Steps"][0]["HadoopJarStep"]["Args"]


def test_the_launcher_runs_the_one_job_entry_point():
    code = compile(LAUNCHER_TEXT, LAUNCHER, "exec")
    assert "main" in code.co_names
    assert "from spark_jobs.entry import main" in LAUNCHER_TEXT


def test_add_steps_one_spark_submit_per_stage(tmp_path):
    gen = load_script("deploy/emr/generate.py")
    steps = json.loads((EMR / "add-steps.json").read_text())["Steps"]
    assert [s["Name"] for s in steps] == [f"moru {j.name}" for j in jobs()]
    p = parser(None)
    for step in steps:
        assert step["ActionOnFailure"] == "CANCEL_AND_WAIT"  # a failed gate stops the rest
        hj = step["HadoopJarStep"]
        assert hj["Jar"] == "command-runner.jar"
        args = hj["Args"]
        assert args[0] == "spark-submit"
        opts = dict(zip(args[1:], args[2:], strict=False))
        assert opts["--packages"] == f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"
        job = step["Name"].removeprefix("moru ")
        assert opts["--archives"] == f"{gen.DEFAULTS['artifacts']}/{_archive_for(job)}#environment"
        confs = [args[i + 1] for i, a in enumerate(args) if a == "--conf"]
        assert f"spark.pyspark.python={PYTHON}" in confs
        assert opts["--deploy-mode"] == "cluster"
        entry = next(a for a in args if a.endswith(".py"))
        assert entry == f"{gen.DEFAULTS['artifacts']}/{LAUNCHER}"
        rest = args[args.index(entry) + 1 :]
        parsed = p.parse_args(rest)
        assert parsed.job == job
        assert opts["--files"].endswith("/" + parsed.config)  # --files puts the config in the working directory


def test_serverless_job_runs_one_per_stage():
    gen = load_script("deploy/emr/generate.py")
    doc = json.loads((EMR / "serverless-job-run.json").read_text())
    runs = doc["jobRuns"]
    assert [r["name"] for r in runs] == [f"moru-{j.name}" for j in jobs()]
    p = parser(None)
    for run in runs:
        driver = run["jobDriver"]["sparkSubmit"]
        job = run["name"].removeprefix("moru-")
        assert driver["entryPoint"] == f"{gen.DEFAULTS['artifacts']}/{LAUNCHER}"
        assert p.parse_args(driver["entryPointArguments"]).job == job
        words = shlex.split(driver["sparkSubmitParameters"])
        confs = dict(w.split("=", 1) for w in words if w != "--conf")
        assert confs["spark.archives"] == f"{gen.DEFAULTS['artifacts']}/{_archive_for(job)}#environment"
        assert confs["spark.emr-serverless.driverEnv.PYSPARK_PYTHON"] == PYTHON
        assert confs["spark.executorEnv.PYSPARK_PYTHON"] == PYTHON
        assert confs["spark.jars.packages"] == f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"
        assert confs["spark.files"] == gen.DEFAULTS["config"]


def test_emr_profile_brings_the_delta_package():
    from spark_jobs.config import load_jobs_config
    from spark_jobs.session import session_settings

    cfg = load_jobs_config(ROOT / "configs" / "profiles" / "emr.yaml")
    settings = session_settings(cfg.spark)
    assert settings["spark.jars.packages"] == f"io.delta:delta-spark_{SCALA_VERSION}:{DELTA_VERSION}"
    assert settings["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert any(k.startswith("spark.hadoop.fs.s3a.") for k in settings)
    assert cfg.workdir.startswith("s3://")
