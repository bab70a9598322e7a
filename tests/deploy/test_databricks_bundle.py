"""The Databricks bundle against the wheel and the job list: every entry point it names exists in the built wheel,
every stage has one task, depends_on is the pipeline's graph, the files it points at exist."""

from __future__ import annotations

import fnmatch
import importlib
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from core.job import upstream
from moru.package import wheel_entry_points
from spark_jobs.entry import parser
from spark_jobs.jobs import jobs
from tests.deploy.conftest import ROOT, load_script

BUNDLE = ROOT / "deploy" / "databricks"


def _bundle() -> tuple[dict, dict[Path, dict]]:
    main = yaml.safe_load((BUNDLE / "databricks.yml").read_text(encoding="utf-8"))
    included = {}
    for pattern in main["include"]:
        for path in sorted(BUNDLE.glob(pattern)):
            included[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return main, included


def _job() -> tuple[Path, dict]:
    _, included = _bundle()
    found = [(p, j) for p, doc in included.items() for j in doc.get("resources", {}).get("jobs", {}).values()]
    assert len(found) == 1, "the bundle defines one job: the pipeline"
    return found[0]


def test_the_committed_job_is_what_generate_writes():
    gen = load_script("deploy/databricks/generate.py")
    assert gen.OUT.read_text(encoding="utf-8") == gen.render(), "run python deploy/databricks/generate.py"
    assert gen.main(["--check"]) == 0


def test_every_entry_point_the_bundle_names_is_in_the_wheel(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    name = re.search(r"^Name: (.+)$", meta, re.M).group(1).strip()
    scripts = wheel_entry_points(wheel)["console_scripts"]
    _, job = _job()
    for task in job["tasks"]:
        wt = task["python_wheel_task"]
        assert wt["package_name"] == name
        assert wt["entry_point"] in scripts, f"{task['task_key']}: {wt['entry_point']} not in {sorted(scripts)}"
        module, _, function = scripts[wt["entry_point"]].partition(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_one_task_per_stage_in_pipeline_order_each_running_its_stage():
    _, job = _job()
    stage_names = [j.name for j in jobs()]
    assert [t["task_key"] for t in job["tasks"]] == stage_names
    p = parser(None)
    for task in job["tasks"]:
        params = task["python_wheel_task"]["parameters"]
        args = p.parse_args([a.replace("${var.config}", "/Volumes/c/s/v/moru.yaml") for a in params])
        assert args.job == task["task_key"]
        assert args.config == "/Volumes/c/s/v/moru.yaml"


def test_depends_on_is_the_pipeline_graph():
    _, job = _job()
    ordered = list(jobs())
    graph = upstream(ordered, serialize_writes=True)
    reads_after_writes = upstream(ordered)
    position = {j.name: i for i, j in enumerate(ordered)}
    for task in job["tasks"]:
        deps = [d["task_key"] for d in task.get("depends_on", [])]
        assert deps == graph[task["task_key"]]
        # every writer of what it reads is upstream, and upstream tasks come earlier in the order
        assert set(reads_after_writes[task["task_key"]]) <= set(deps)
        assert all(position[d] < position[task["task_key"]] for d in deps)
    # no two tasks that write one table can run at once: one is upstream of the other (transitively)
    closure = {}
    for j in ordered:
        closure[j.name] = set(graph[j.name]).union(*(closure[d] for d in graph[j.name]))
    for a in ordered:
        for b in ordered:
            if a is not b and position[a.name] < position[b.name] and set(a.writes) & set(b.writes):
                assert a.name in closure[b.name], f"{a.name} and {b.name} both write {set(a.writes) & set(b.writes)}"


def test_libraries_clusters_variables_and_files_exist(wheel):
    main, _ = _bundle()
    path, job = _job()
    clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
    declared = set(main["variables"])
    used = set(re.findall(r"\$\{var\.([a-z_]+)\}", path.read_text(encoding="utf-8")))
    assert used <= declared, f"undeclared variables: {used - declared}"
    for task in job["tasks"]:
        assert task["job_cluster_key"] in clusters
        wheels = [lib["whl"] for lib in task["libraries"] if "whl" in lib]
        assert len(wheels) == 1
        target = (path.parent / wheels[0]).resolve()
        assert target.parent == ROOT / "dist", "the wheel library is `moru package --out dist`'s wheel"
        assert fnmatch.fnmatch(wheel.name, target.name)
    emit = [t for t in job["tasks"] if t["task_key"] in {j.name for j in jobs() if j.loads_tokenizer}]
    assert emit, "the emit stages have tasks"
    for task in emit:
        assert "-ml-" in main["variables"][clusters[task["job_cluster_key"]]["spark_version"][6:-1]]["default"]
        assert any(lib.get("pypi", {}).get("package", "").startswith("megatron-core") for lib in task["libraries"])
    for cluster in clusters.values():
        for script in cluster.get("init_scripts", []):
            rel = script["workspace"]["destination"].replace("${workspace.file_path}/", "")
            assert (BUNDLE / rel).is_file(), rel
    artifact = main["artifacts"]["moru_wheel"]
    assert (BUNDLE / artifact["path"]).resolve() == ROOT
    assert (ROOT / "pyproject.toml").is_file()


@pytest.mark.parametrize("name", ["databricks", "emr"])
def test_profiles_validate(name):
    from spark_jobs.config import load_jobs_config

    cfg = load_jobs_config(ROOT / "configs" / "profiles" / f"{name}.yaml")
    assert cfg.spark.profile == name
