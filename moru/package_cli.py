"""``moru package``: the wheel and the environment archive a cluster runs (see :mod:`moru.package`).
``register(app)`` adds the command to the ``moru`` Typer app. Exit code 2 when a packaging step fails, with the
step and the tail of its output."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console()


def register(app: typer.Typer) -> None:
    app.command("package")(package_cmd)


def package_cmd(
    out: Path = typer.Option(Path("dist"), "--out", help="folder for the wheel, the launcher and the archives"),
    env: bool = typer.Option(True, "--env/--wheel-only", help="also pack the environment archive (EMR, spark://)"),
    with_emit: bool = typer.Option(
        False, "--with-emit", help="also pack moru-env-emit.tar.gz (+ megatron-core and torch) for emit's workers"
    ),
    python_prefix: str | None = typer.Option(
        None,
        "--python-prefix",
        help="where the cluster's Python lives (the archive's bin/python links to PREFIX/bin/python3.X; EMR: /usr); "
        "default: this interpreter's prefix",
    ),
    pip_arg: list[str] = typer.Option(
        [], "--pip-arg", help="extra pip install argument, repeatable (--pip-arg=--index-url=https://…)"
    ),
    verify: bool = typer.Option(
        True, "--verify/--no-verify", help="unpack the archive and import MeCab + fastText with its own Python"
    ),
) -> None:
    """Build the moru wheel (Databricks libraries, docker images) and a relocatable Python environment archive
    (venv-pack) for spark.archives / --archives moru-env.tar.gz#environment: MeCab and its Korean dictionary,
    fastText's lid.176 model and every other native piece inside, pyspark / py4j / Delta left to the cluster."""
    from moru.package import PackageError, package, size_mib

    try:
        with console.status("building the wheel" + (" and the environment archive (a few minutes)" if env else "")):
            result = package(out, env=env, with_emit=with_emit, python_prefix=python_prefix,
                             pip_args=tuple(pip_arg), verify=verify)  # fmt: skip
    except PackageError as exc:
        console.print(f"[red]{escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"[green]wheel[/] {result.wheel} ({size_mib(result.wheel):.1f} MiB)")
    console.print(f"[green]EMR launcher[/] {result.launcher}")
    for r in result.envs:
        m = r.manifest
        console.print(
            f"[green]environment[/] {r.archive} ({size_mib(r.archive):.0f} MiB, Python {m['python']}, "
            f"{len(m['packages'])} packages, {r.seconds:.0f} s); bin/python -> {m['python_prefix']}/bin"
        )
        proof = m.get("unpacked_proof", {}).get("proof") or m["proof"]
        console.print(f"  MeCab: {escape(proof['mecab'])}")
        console.print(f"  fastText lid: {', '.join(proof['langid'])}")
        if m["stages_needing_emit_archive"]:
            stages = ", ".join(m["stages_needing_emit_archive"])
            console.print(f"  not for {stages} (their workers import megatron-core and torch: --with-emit packs "
                          "moru-env-emit.tar.gz)")  # fmt: skip
