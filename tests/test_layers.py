"""The packages' dependency rules (DESIGN.md), read from every import in the source (function-level ones too):
moru/ -> demo/ -> spark_jobs/, megatron_train/, eval/ -> quality/, tokenizer/ -> core/; nothing imports moru/;
and no import cycle between modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "quality", "tokenizer", "spark_jobs", "megatron_train", "eval", "demo", "moru")
# what each package may import (besides itself and third-party libraries)
ALLOWED = {
    "core": set(),
    "quality": {"core"},
    "tokenizer": {"core"},
    "spark_jobs": {"core", "quality", "tokenizer"},
    "megatron_train": {"core", "tokenizer"},
    "eval": {"core", "quality", "tokenizer"},
    "demo": {"core", "quality", "tokenizer", "spark_jobs", "megatron_train", "eval"},
    "moru": {"core", "quality", "tokenizer", "spark_jobs", "megatron_train", "eval", "demo"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Every moru module this file imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # an `if __name__ == "__main__":` block runs only when the module is the program: not a dependency of it
    tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names)
    return {n for n in found if n.split(".")[0] in PACKAGES}


MODULES = _modules()
GRAPH = {m: {i for i in _imports(m, p) if i in MODULES and i != m} for m, p in MODULES.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_layer_allows(package):
    bad = sorted(
        f"{m} imports {i}"
        for m, p in MODULES.items()
        if m.split(".")[0] == package
        for i in _imports(m, p)
        if i.split(".")[0] not in ALLOWED[package] | {package}
    )
    assert not bad, "\n".join(bad)


def test_benchmarks_do_not_import_the_cli():
    bad = [
        f.name
        for f in (ROOT / "benchmarks").glob("*.py")
        if any(i.split(".")[0] == "moru" for i in _imports(f.stem, f))
    ]
    assert not bad


def test_no_import_cycles_between_modules():
    """Tarjan's strongly connected components over the module graph: every component is one module. (A package's
    ``__init__`` importing its own submodules is not a cycle of behaviour; those edges are left out.)"""
    graph = {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    assert not cycles, cycles


def test_the_checker_sees_a_cycle_and_a_function_level_import(tmp_path):
    """The rules above can fail: a function-level import is found, a relative import resolves."""
    f = tmp_path / "x.py"
    f.write_text(
        "def f():\n    from spark_jobs import tables\nfrom . import sibling\n"
        "if __name__ == '__main__':\n    import moru.cli\n",
        encoding="utf-8",
    )
    found = _imports("tokenizer.x", f)
    assert {"spark_jobs", "spark_jobs.tables", "tokenizer.sibling"} <= found
    assert "moru.cli" not in found
