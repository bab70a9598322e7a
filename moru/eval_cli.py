"""``moru eval``: benchmark scores through lm-eval (``moru eval run``, eval.harness) and the needle-in-a-haystack
test (``moru eval niah``, eval.niah). ``register(app)`` adds the group to the ``moru`` Typer app. Exit code 2 with
one paragraph naming the file and the fix for input they cannot use."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console()

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a Hugging Face model folder (what `moru export` writes).")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


def _fail(exc: BaseException) -> None:
    console.print(f"[red]{escape(str(exc))}")
    raise typer.Exit(2) from None


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@eval_app.command("run")
def run_cmd(
    model: Path = typer.Option(..., "--model", help="Hugging Face model folder (config.json, weights, tokenizer)"),
    tasks: str = typer.Option(
        ...,
        "--tasks",
        help="comma-separated: gsm8k, mmlu, kmmlu, kobest (or kobest_boolq, "
        "…), haerae, click, arc_challenge, bbh, mt_bench, komt_bench, logickor; "
        "`moru eval tasks` lists all",
    ),  # fmt: skip
    data_dir: Path = typer.Option(
        ..., "--data-dir", help="folder with the benchmark files (e.g. ../shared/data/bench)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder (eval_results.json, samples/, judged/, tasks/)"),
    limit: int | None = typer.Option(None, "--limit", help="first N examples of each task (a smoke run)"),
    num_fewshot: int | None = typer.Option(None, "--num-fewshot", help="few-shot examples (default: each task's)"),
    chat_template: bool | None = typer.Option(
        None,
        "--chat-template/--no-chat-template",
        help="format prompts with the tokenizer's chat template (default: on when moru_export.json names a "
        "post-training stage: SFT or preference)",
    ),  # fmt: skip
    backend: str = typer.Option("hf", "--backend", help="hf (transformers; CPU or GPU) | vllm (GPU, needs vllm)"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:0 …"),
    batch_size: str = typer.Option("8", "--batch-size", help="requests per forward pass, or auto"),
    dtype: str | None = typer.Option(None, "--dtype", help="float32 | bfloat16 | auto (default: float32 on CPU)"),
    max_length: int | None = typer.Option(None, "--max-length", help="context length lm-eval uses (≤ the model's)"),
    max_gen_toks: int | None = typer.Option(None, "--max-gen-toks", help="cap generated tokens for generate tasks"),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="cap each judged answer turn"),
) -> None:
    """Score a model on moru's benchmark tasks (lm-eval YAML over local files, eval/tasks) and store two-turn
    answers of the judged benchmarks for an LLM judge; writes OUT/eval_results.json."""
    from eval.harness import EvalInputError, evaluate, scores_table

    bs: int | str = int(batch_size) if batch_size.isdigit() else batch_size
    try:
        results = evaluate(
            str(model), _split(tasks), str(data_dir), str(out), limit=limit, num_fewshot=num_fewshot,
            apply_chat_template=chat_template, backend=backend, device=device, batch_size=bs, dtype=dtype,
            max_length=max_length, max_new_tokens=max_new_tokens,
            gen_kwargs={"max_gen_toks": max_gen_toks} if max_gen_toks else None,
        )  # fmt: skip
    except EvalInputError as exc:
        _fail(exc)
    ct = results["chat_template"]
    console.print(f"[bold]chat template[/bold] {'on' if ct['applied'] else 'off'}: {escape(ct['reason'])}")
    if results["scores"]:
        console.print(escape(scores_table(results)), highlight=False, soft_wrap=True)
    for name, j in results["judged"].items():
        console.print(f"[bold]{name}[/bold]: {j['n']} questions answered ({j['turns_answered']} turns) → "
                      f"{escape(j['answers'])} (judge not run)")  # fmt: skip
    for w in results["warnings"]:
        console.print(f"[yellow]{escape(w['message'])}")
    console.print(f"[green]results[/green] {escape(str(Path(out) / 'eval_results.json'))} "
                  f"({results['seconds']:.0f} s, lm-eval {results['lm_eval_version']})")  # fmt: skip
    _report(model, out)


@eval_app.command("tasks")
def tasks_cmd() -> None:
    """List the task names `moru eval run --tasks` knows."""
    from eval.harness import task_names

    names = task_names()
    top = [n for n in names if not n.startswith(("mmlu_", "bbh_"))]
    console.print(", ".join(top))
    console.print(f"and {len(names) - len(top)} subject tasks: mmlu_<subject>, bbh_<task>")


@eval_app.command("niah")
def niah_cmd(
    model: Path = typer.Option(..., "--model", help="Hugging Face model folder"),
    out: Path = typer.Option(..., "--out", help="output folder (niah_results.json, niah_<lang>.png)"),
    haystack_ko: list[Path] = typer.Option([], "--haystack-ko", help="Korean haystack file(s) (repeat the option)"),
    haystack_en: list[Path] = typer.Option([], "--haystack-en", help="English haystack file(s) (repeat the option)"),
    lengths: str | None = typer.Option(
        None, "--lengths", help="comma-separated token lengths (default: up to the model's context)"
    ),  # fmt: skip
    depths: str | None = typer.Option(None, "--depths", help="comma-separated needle depths, 0-1 (default: 0-100%)"),
    samples_per_cell: int = typer.Option(1, "--samples-per-cell", help="needles per (length, depth) cell"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    dtype: str | None = typer.Option(None, "--dtype"),
    max_new_tokens: int = typer.Option(16, "--max-new-tokens"),
    batch_size: int | None = typer.Option(None, "--batch-size"),
) -> None:
    """Needle in a haystack, Korean and English haystacks: accuracy per (context length, depth) as heatmaps."""
    from eval.niah import run_niah

    hay = {lang: [str(p) for p in files] for lang, files in (("ko", haystack_ko), ("en", haystack_en)) if files}
    try:
        results = run_niah(
            str(model), str(out), lengths=[int(x) for x in _split(lengths)] if lengths else None,
            depths=[float(x) for x in _split(depths)] if depths else None, haystack_files=hay,
            samples_per_cell=samples_per_cell, seed=seed, device=device, dtype=dtype,
            max_new_tokens=max_new_tokens, batch_size=batch_size,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        _fail(exc)
    for lang, s in (results.get("summary") or {}).items():
        console.print(f"[bold]{lang}[/bold] mean {100 * s['mean']:.1f}%")
    console.print(f"[green]results[/green] {escape(str(Path(out) / 'niah_results.json'))}")
    _report(model, out)


def _report(model: Path, out: Path) -> None:
    """The eval report of OUT (scores and NIAH, whichever it holds), linked beside the source checkpoint."""
    from eval.model_report import report_for

    report, index = report_for(out, model)
    console.print(f"[green]report[/green] {escape(str(report))}"
                  + (f" (linked in {escape(str(index))})" if index else ""))  # fmt: skip
