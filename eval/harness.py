"""Benchmark scores for a Hugging Face model folder, with lm-eval (0.4.13) as the engine and moru's tasks as YAML.

``evaluate(model_dir, tasks, data_dir, out_dir)`` checks its inputs, renders ``eval/tasks`` for ``data_dir``,
runs ``lm_eval.simple_evaluate`` on the rendered folder, generates the judged benchmarks' two-turn answers, and
writes ``out_dir/eval_results.json`` (returned as a dict).

Why the task folder is rendered. lm-eval reads a task's YAML as it is: no environment variables, and a relative
``data_files`` path resolves against the working directory, not the YAML. So ``render_tasks(data_dir, dest)``
copies the YAMLs to ``dest`` with ``@DATA_DIR@`` replaced by the absolute data folder, writes one task file per
subject of the groups that name a ``moru_subject_template`` in their metadata (MMLU's 57 subjects, BBH's 27
tasks: the lists live in mmlu.yaml / bbh.yaml), and copies ``moru_task_utils.py`` (the loader and prompt
functions the YAMLs name). The result is a plain lm-eval include folder: ``evaluate`` hands it to a
``TaskManager(include_path=...)``, and ``python -m lm_eval --include_path <out>/tasks`` scores the same files
with the same code (benchmarks/eval_equality.py does exactly that). It is kept at ``out_dir/tasks``.

Every task reads local files through ``moru_task_utils.load_local`` (lm-eval's ``custom_dataset`` hook), which
keeps CSV/TSV cells as text and names the file, record and missing column when a file does not fit; ``evaluate``
runs the same checks on every file before loading a model, and records each file's SHA-256.

Chat template (``apply_chat_template=None``): applied when the folder's ``moru_export.json`` names a training
stage that is not pretraining (``sft``, a preference stage such as ``M1`` / ``dpo``): the stage that made an
instruct model. A folder without ``moru_export.json``, or whose stage is pretraining (``pretrain``, ``extend``,
``stage1``, ``stage2``), is scored as a base model, as lm-eval does by default. The decision and its reason are
recorded. Few-shot examples then go in as earlier chat turns (lm-eval's ``fewshot_as_multiturn``).

The judged benchmarks (MT-Bench, KoMT-Bench, LogicKor; ``eval/tasks/judged/*.yaml``) need an LLM judge, which
moru does not fake: their answers (greedy, every turn answered after the model's own earlier answers, with the
chat template) are written to ``out_dir/judged/<bench>.jsonl`` in the layout the judge reads (FastChat's
``model_answer`` records; LogicKor's ``outputs``).
"""

from __future__ import annotations

import difflib
import gc
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from core.storage import file_sha256 as _sha256
from eval.tasks import moru_task_utils as task_utils

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
JUDGED_DIR = TASKS_DIR / "judged"
DATA_DIR_MARK = "@DATA_DIR@"
RESULTS_FILE = "eval_results.json"
EXPORT_MANIFEST = "moru_export.json"
BACKENDS = ("hf", "vllm")
# stages whose checkpoints are base models (no chat template by default)
BASE_STAGES = {"pretrain", "pretraining", "extend", "long_context", "stage1", "stage2", "base"}
# `moru import-hf` records stage "import": a Hugging Face model of unknown training, scored as a base model
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")  # fmt: skip


log = logging.getLogger(__name__)


class EvalInputError(ValueError):
    """Bad input to an evaluation; the message names the file and the fix."""


# --- the task folder ------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Reads lm-eval task YAML without importing the functions it names (``!function x.y`` stays a string)."""


_Loader.add_constructor("!function", lambda loader, node: "!function " + loader.construct_scalar(node))


def _read_yaml(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}


def render_tasks(data_dir: str | Path, dest: str | Path) -> Path:
    """Write the lm-eval include folder for ``data_dir`` to ``dest`` (replaced if present); returns ``dest``."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    data = str(Path(data_dir).resolve())
    # every @DATA_DIR@ sits inside a double-quoted YAML string
    quoted = data.replace("\\", "\\\\").replace('"', '\\"')
    shutil.copy2(TASKS_DIR / "moru_task_utils.py", dest / "moru_task_utils.py")
    for src in sorted(TASKS_DIR.glob("*.yaml")):
        text = src.read_text(encoding="utf-8")
        (dest / src.name).write_text(text.replace(DATA_DIR_MARK, quoted), encoding="utf-8")
        meta = (_read_yaml(src).get("metadata") or {}) if "moru_subject_template" in text else {}
        template_name = meta.get("moru_subject_template")
        if not template_name:
            continue
        template = (TASKS_DIR / template_name).read_text(encoding="utf-8")
        prefix = meta.get("moru_subject_prefix", "")
        for child in _read_yaml(src)["task"]:
            subject = child[len(prefix) :] if child.startswith(prefix) else child
            body = (template.replace("@SUBJECT_TEXT@", subject.replace("_", " "))
                    .replace("@SUBJECT@", subject).replace(DATA_DIR_MARK, quoted))  # fmt: skip
            (dest / f"{child}.yaml").write_text(
                f"# written by eval.harness.render_tasks from eval/tasks/{template_name}\n{body}", encoding="utf-8"
            )
    (dest / "RENDERED.json").write_text(
        json.dumps({"data_dir": data, "source": str(TASKS_DIR), "rendered_at": _now()}, indent=2), encoding="utf-8"
    )
    return dest


@dataclass
class TaskInfo:
    name: str
    kind: str  # "task" | "group" | "judged"
    language: str | None
    path: Path
    children: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    source: Path | None = None  # the file under eval/tasks it comes from (a subject's: the template)


def _source(rendered_file: Path) -> Path:
    own = TASKS_DIR / rendered_file.name
    if own.is_file():
        return own
    first = rendered_file.read_text(encoding="utf-8").split("\n", 1)[0]
    return TASKS_DIR / first.rsplit("eval/tasks/", 1)[1] if "eval/tasks/" in first else rendered_file


def catalogue(rendered: str | Path) -> dict[str, TaskInfo]:
    """Every task and group of a rendered folder, and the judged benchmarks."""
    out: dict[str, TaskInfo] = {}
    for f in sorted(Path(rendered).glob("*.yaml")):
        cfg = _read_yaml(f)
        lang = (cfg.get("metadata") or {}).get("language")
        if "group" in cfg:
            children = cfg["task"] if isinstance(cfg["task"], list) else [cfg["task"]]
            out[cfg["group"]] = TaskInfo(cfg["group"], "group", lang, f, list(children), cfg, _source(f))
        elif "task" in cfg:
            out[cfg["task"]] = TaskInfo(cfg["task"], "task", lang, f, [], cfg, _source(f))
    for f in sorted(JUDGED_DIR.glob("*.yaml")):
        cfg = _read_yaml(f)
        out[cfg["name"]] = TaskInfo(cfg["name"], "judged", cfg.get("language"), f, [], cfg, f)
    return out


def task_names() -> list[str]:
    """The names ``evaluate`` knows (tasks, groups, judged benchmarks)."""
    with tempfile.TemporaryDirectory() as tmp:
        return sorted(catalogue(render_tasks(tmp, Path(tmp) / "tasks")))


def leaves(name: str, cat: dict[str, TaskInfo]) -> list[str]:
    info = cat[name]
    if info.kind != "group":
        return [name]
    return [leaf for child in info.children for leaf in leaves(child, cat)]


def check_task_files(info: TaskInfo, data_dir: str | Path | None = None) -> dict[str, str]:
    """Read every file a task (or judged benchmark) reads and check its columns; {path: sha256}."""
    if info.kind == "judged":
        if data_dir is None:
            raise ValueError("judged benchmarks need data_dir")
        path = str(Path(data_dir).resolve() / info.config["file"])
        try:
            [path] = task_utils.expand(path)
            rows = task_utils.read_rows(path, "jsonl")
            task_utils.check_columns(path, rows, [info.config["id"], info.config["turns"]])
        except task_utils.BenchmarkFileError as e:
            raise EvalInputError(f"{info.name}: {e}") from None
        for i, row in enumerate(rows, 1):
            turns = row[info.config["turns"]]
            if not (isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns)):
                raise EvalInputError(f"{info.name}: {path}: record {i}: '{info.config['turns']}' must be a list of "
                                     "the user's turns (strings)")  # fmt: skip
        return {path: _sha256(path)}
    ds = info.config.get("dataset_kwargs") or {}
    hashes: dict[str, str] = {}
    try:
        for spec in ds.get("files", {}).values():
            for pattern in [spec] if isinstance(spec, str) else spec:
                for path in task_utils.expand(pattern):
                    rows = task_utils.read_rows(path, ds["format"], ds.get("field"))
                    task_utils.check_columns(path, rows, list(ds.get("columns", [])))
                    hashes[path] = _sha256(path)
    except task_utils.BenchmarkFileError as e:
        raise EvalInputError(f"task {info.name} (eval/tasks/{(info.source or info.path).name}): {e}") from None
    return hashes


# --- the model folder -----------------------------------------------------------------------------------------


def check_model_dir(model_dir: str | Path) -> dict:
    """The folder is a Hugging Face causal LM with its tokenizer; returns its config.json."""
    d = Path(model_dir)
    if not d.is_dir():
        raise EvalInputError(f"model folder {d} does not exist: pass the folder `moru export` wrote (config.json, "
                             "model.safetensors, tokenizer.json, tokenizer_config.json)")  # fmt: skip
    cfg = d / "config.json"
    if not cfg.is_file():
        raise EvalInputError(f"{cfg} is missing: {d} is not a Hugging Face model folder; convert the Megatron "
                             "checkpoint with `moru export` and pass the folder it writes")  # fmt: skip
    if not any((d / w).is_file() for w in WEIGHT_FILES):
        raise EvalInputError(f"{d} holds no weights ({', '.join(WEIGHT_FILES)}): re-run `moru export` into it")
    if not (d / "tokenizer_config.json").is_file() or not any((d / t).is_file() for t in TOKENIZER_FILES):
        raise EvalInputError(
            f"{d} has no tokenizer (tokenizer.json + tokenizer_config.json): copy the files of the tokenizer the "
            "model was trained with (the folder `moru tokenizer` wrote: tokenizer.json, tokenizer_config.json, "
            "chat_template.jinja) into it, or re-run `moru export`, which writes them beside the weights"
        )
    return json.loads(cfg.read_text(encoding="utf-8"))


def model_context(config: dict) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(config.get(key), int):
            return config[key]
    return None


def has_chat_template(model_dir: str | Path) -> bool:
    d = Path(model_dir)
    if (d / "chat_template.jinja").is_file() or (d / "chat_template.json").is_file():
        return True
    try:
        return bool(json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return False


def _find(obj, keys: tuple[str, ...]):
    """The shallowest string value under any of ``keys``."""
    queue = deque([obj])
    while queue:
        cur = queue.popleft()
        if isinstance(cur, dict):
            for k in keys:
                if isinstance(cur.get(k), str) and cur[k]:
                    return cur[k]
            queue.extend(v for v in cur.values() if isinstance(v, dict | list))
        elif isinstance(cur, list):
            queue.extend(v for v in cur if isinstance(v, dict | list))
    return None


def chat_template_default(model_dir: str | Path) -> tuple[bool, str]:
    """Whether to apply the chat template when the caller does not say, and why (see the module docstring)."""
    manifest = Path(model_dir) / EXPORT_MANIFEST
    if not manifest.is_file():
        return False, f"no {EXPORT_MANIFEST}: scored as a base model (pass --chat-template for an instruct model)"
    try:
        stage = _find(json.loads(manifest.read_text(encoding="utf-8")), ("stage", "align_step"))
    except ValueError as e:
        raise EvalInputError(f"{manifest} is not JSON ({e}): re-run `moru export`, or pass --chat-template / "
                             "--no-chat-template") from None  # fmt: skip
    if stage is None:
        return False, f"{EXPORT_MANIFEST} names no training stage: scored as a base model"
    if stage.lower() == "import":
        return False, (
            f"{EXPORT_MANIFEST}: stage 'import' (a Hugging Face model brought in by `moru import-hf`, "
            "training unknown): scored as a base model; pass --chat-template for an instruct model"
        )
    if stage.lower() in BASE_STAGES:
        return False, f"{EXPORT_MANIFEST}: stage {stage!r} is pretraining: scored as a base model"
    return True, f"{EXPORT_MANIFEST}: stage {stage!r} is post-training (SFT / preference): chat template applied"


# --- lm-eval --------------------------------------------------------------------------------------------------


def lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def model_args(model_dir: str | Path, backend: str = "hf", device: str = "cpu", dtype: str | None = None,
               max_length: int | None = None) -> dict:  # fmt: skip
    """lm-eval's ``model_args`` for the folder (the same dict makes the CLI's ``--model_args`` string)."""
    args: dict = {"pretrained": str(Path(model_dir).resolve())}
    if backend == "hf":
        args["dtype"] = dtype or ("float32" if device == "cpu" else "auto")
    else:
        args["dtype"] = dtype or "auto"
    if max_length:
        args["max_length" if backend == "hf" else "max_model_len"] = int(max_length)
    return args


def _require_vllm() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise EvalInputError("the vllm backend needs the vllm package, which is not installed here (it runs on "
                             "CUDA GPUs: pip install vllm there); use --backend hf")  # fmt: skip
    try:
        import vllm  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure means the backend cannot run
        raise EvalInputError(
            f"vllm is installed but does not import ({type(e).__name__}: {e}); use --backend hf"
        ) from None
    from lm_eval.api.registry import get_model

    get_model("vllm")


def load_lm(model_dir: str | Path, backend: str = "hf", device: str = "cpu", batch_size: int | str = 8,
            dtype: str | None = None, max_length: int | None = None):  # fmt: skip
    """lm-eval's model object for ``model_dir`` (its ``hf`` or ``vllm`` backend, with the same ``model_args`` that
    ``evaluate`` would build), to pass to ``evaluate(..., lm=)``."""
    if backend not in BACKENDS:
        raise EvalInputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "vllm":
        _require_vllm()
    check_model_dir(model_dir)
    from lm_eval.api.registry import get_model

    with _offline():
        return get_model(backend).create_from_arg_obj(
            model_args(model_dir, backend, device, dtype, max_length), {"batch_size": batch_size, "device": device}
        )


class _QuietCustomDataset(logging.Filter):
    """lm-eval logs, for every task with a ``custom_dataset``, how to pass ``--metadata`` to it: moru's loader takes
    none, so the line is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed" not in record.getMessage()


@contextmanager
def _quiet_task_log():
    quiet, task_log = _QuietCustomDataset(), logging.getLogger("lm_eval.api.task")
    task_log.addFilter(quiet)
    try:
        yield
    finally:
        task_log.removeFilter(quiet)


@contextmanager
def _offline():
    """Nothing is fetched from the Hub while scoring local files with a local model."""
    keys = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _metric_rows(name: str, entry: dict) -> list[dict]:
    rows = []
    for key, value in entry.items():
        if "," not in key or "_stderr," in key or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        metric, _, flt = key.partition(",")
        stderr = entry.get(f"{metric}_stderr,{flt}")
        rows.append({"task": name, "metric": metric, "filter": flt, "value": float(value),
                     "stderr": float(stderr) if isinstance(stderr, int | float) else None})  # fmt: skip
    return rows


def scores_table(results: dict) -> str:
    """The ``scores`` of ``eval_results.json`` as a fixed-width table."""
    lines = [f"{'task':34} {'lang':4} {'n':>6} {'metric':30} {'value':>8} {'stderr':>8}"]
    for r in results["scores"]:
        metric = r["metric"] + (f" ({r['filter']})" if r["filter"] not in ("", "none") else "")
        stderr = f"{r['stderr']:.4f}" if r["stderr"] is not None else "-"
        n = str(r["n"]) if r["n"] is not None else "-"
        lines.append(f"{r['task']:34} {r['language'] or '-':4} {n:>6} {metric:30} {r['value']:8.4f} {stderr:>8}")
    return "\n".join(lines)


def context_overflow(samples: dict[str, list[dict]], model_dir: str | Path, max_length: int) -> dict[str, dict]:
    """Per task, the requests lm-eval had to cut to fit ``max_length`` (its HF backend drops tokens from the left
    without failing): a loglikelihood request whose context + continuation is longer, a generation whose context
    + ``max_gen_toks`` is. Counted with the model's tokenizer from the logged samples; {} when none was cut."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    lengths: dict[str, int] = {}

    def n_tokens(text: str) -> int:
        if text not in lengths:
            lengths[text] = len(tok(text, add_special_tokens=False)["input_ids"])
        return lengths[text]

    out = {}
    for task, rows in samples.items():
        total = cut = longest = 0
        seen: set[tuple] = set()  # a document is logged once per filter: count its requests once
        for row in rows:
            for i, args in enumerate(row.get("arguments") or []):
                if not isinstance(args, list | tuple) or len(args) < 2 or not isinstance(args[0], str):
                    continue
                if (row.get("doc_id"), i) in seen:
                    continue
                seen.add((row.get("doc_id"), i))
                total += 1
                if isinstance(args[1], str):
                    need = n_tokens(args[0]) + n_tokens(args[1])
                else:
                    need = n_tokens(args[0]) + int((args[1] or {}).get("max_gen_toks", 256))
                longest = max(longest, need)
                cut += need > max_length
        if cut:
            out[task] = {"requests": cut, "of": total, "longest": longest, "max_length": max_length}
    return out


# --- judged benchmarks: two-turn answers ----------------------------------------------------------------------


class _HFChat:
    def __init__(self, model_dir: str, device: str, dtype: str | None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else (
            torch.float32 if device == "cpu" else "auto")  # fmt: skip
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype).to(device).eval()
        self.device = device
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tok.eos_token_id is not None and self.tok.eos_token_id not in eos:
            eos.append(self.tok.eos_token_id)
        self.eos = eos
        self.pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else (eos[0] if eos else 0)

    def reply(self, conversations: list[list[dict]], budgets: list[int]) -> list[str]:
        out = []
        for messages, budget in zip(conversations, budgets, strict=True):
            text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = self.tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device)
            with self.torch.no_grad():
                gen = self.model.generate(ids, attention_mask=self.torch.ones_like(ids), max_new_tokens=budget,
                                          do_sample=False, eos_token_id=self.eos, pad_token_id=self.pad)  # fmt: skip
            out.append(self.tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True).strip())
        return out

    def close(self) -> None:
        del self.model
        gc.collect()


class _VLLMChat:
    def __init__(self, model_dir: str, dtype: str | None, max_model_len: int | None):
        from vllm import LLM, SamplingParams

        self.params = SamplingParams
        kw = {"max_model_len": max_model_len} if max_model_len else {}
        self.llm = LLM(model=model_dir, dtype=dtype or "auto", **kw)

    def reply(self, conversations: list[list[dict]], budgets: list[int]) -> list[str]:
        params = [self.params(temperature=0.0, max_tokens=b) for b in budgets]
        outs = self.llm.chat(conversations, params, use_tqdm=False)
        return [o.outputs[0].text.strip() for o in outs]

    def close(self) -> None:
        del self.llm
        gc.collect()


def generate_judged(info: TaskInfo, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                    limit: int | None = None, backend: str = "hf", device: str = "cpu", dtype: str | None = None,
                    max_new_tokens: int | None = None, context: int | None = None, chat=None) -> dict:  # fmt: skip
    """Answer every turn of a judged benchmark's questions (the model sees its own earlier answers); write
    ``out_dir/judged/<bench>.jsonl`` in the judge's layout and return its summary."""
    from transformers import AutoTokenizer

    spec = info.config
    path = Path(data_dir).resolve() / spec["file"]
    [path_s] = task_utils.expand(str(path))
    rows = task_utils.read_rows(path_s, "jsonl")
    if limit is not None:
        rows = rows[:limit]
    max_turns = spec.get("max_turns", 2)
    budget = int(max_new_tokens or spec.get("max_new_tokens", 1024))
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    own = chat is None
    if own:
        chat = _HFChat(str(model_dir), device, dtype) if backend == "hf" else _VLLMChat(str(model_dir), dtype, context)
    convs: list[list[dict]] = [[] for _ in rows]
    answers: list[list[str]] = [[] for _ in rows]
    truncated: list[list[bool]] = [[] for _ in rows]
    try:
        for t in range(max(min(len(r[spec["turns"]]), max_turns) for r in rows)):
            active = [i for i, r in enumerate(rows) if t < min(len(r[spec["turns"]]), max_turns)]
            budgets = []
            for i in active:
                convs[i].append({"role": "user", "content": rows[i][spec["turns"]][t]})
                text = tok.apply_chat_template(convs[i], tokenize=False, add_generation_prompt=True)
                n_prompt = len(tok(text, add_special_tokens=False)["input_ids"])
                room = budget if context is None else min(budget, context - n_prompt)
                if room < 1:
                    raise EvalInputError(
                        f"{info.name}: question {rows[i][spec['id']]} turn {t + 1} needs {n_prompt} prompt tokens, "
                        f"at or beyond the model's context of {context} (config.json max_position_embeddings): "
                        f"evaluate a longer-context checkpoint, or leave {info.name} out"
                    )
                budgets.append(room)
                truncated[i].append(room < budget)
            for i, text in zip(active, chat.reply([convs[i] for i in active], budgets), strict=True):
                convs[i].append({"role": "assistant", "content": text})
                answers[i].append(text)
    finally:
        if own:
            chat.close()

    out = Path(out_dir) / "judged"
    out.mkdir(parents=True, exist_ok=True)
    model_id = Path(model_dir).resolve().name
    gen = {"decoding": "greedy", "max_new_tokens": budget, "backend": backend}
    records = []
    for r, ans, cut in zip(rows, answers, truncated, strict=True):
        moru = {**gen, "turns_cut_by_context": cut}
        if spec.get("answer_layout") == "logickor":
            rec = {
                "id": r[spec["id"]],
                **{k: r.get(k) for k in spec.get("keep", [])},
                "questions": r[spec["turns"]][: len(ans)],
                "outputs": ans,
                "model_id": model_id,
                "moru": moru,
            }
        else:  # FastChat's model_answer record
            qid = r[spec["id"]]
            rec = {"question_id": qid, "answer_id": hashlib.sha256(f"{model_id}/{qid}".encode()).hexdigest()[:22],
                   "model_id": model_id, "choices": [{"index": 0, "turns": ans}], "tstamp": time.time(),
                   **{k: r.get(k) for k in spec.get("keep", [])}, "moru": moru}  # fmt: skip
        records.append(rec)
    answers_file = out / f"{info.name}.jsonl"
    answers_file.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), encoding="utf-8")
    return {
        "answers": str(answers_file),
        "n": len(records),
        "layout": spec.get("answer_layout", "fastchat"),
        "turns_answered": sum(len(a) for a in answers),
        "judge": "not run (needs an LLM judge)",
        **gen,
    }


# --- the entry point ------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def evaluate(model_dir: str, tasks: list[str], data_dir: str, out_dir: str, limit: int | None = None,
             num_fewshot: int | None = None, apply_chat_template: bool | None = None, backend: str = "hf",
             device: str = "cpu", batch_size: int | str = 8, dtype: str | None = None, max_length: int | None = None,
             max_new_tokens: int | None = None, gen_kwargs: dict | None = None,
             log_samples: bool = True, lm=None) -> dict:  # fmt: skip
    """Score ``model_dir`` on ``tasks`` (names of ``task_names()``) over the files in ``data_dir``; write
    ``out_dir/eval_results.json`` (+ ``lm_eval_results.json``, ``samples/``, ``judged/``, ``tasks/``) and return
    the results. ``limit``: the first N examples of each task (and N questions of each judged benchmark).
    ``gen_kwargs`` (e.g. ``{"max_gen_toks": 64}``) update the generation settings of every generate_until task,
    as lm-eval's ``--gen_kwargs`` does; ``max_new_tokens`` caps each judged answer turn. ``lm``: a model already
    loaded by ``load_lm`` for the same folder and backend (several evaluations, or a timing that leaves loading
    out, share one load); None loads it here."""
    started = time.time()
    if backend not in BACKENDS:
        raise EvalInputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if not tasks:
        raise EvalInputError("no tasks given: pass --tasks, e.g. gsm8k,kmmlu,kobest")
    if limit is not None and limit < 1:
        raise EvalInputError(f"--limit must be at least 1 (got {limit})")
    if num_fewshot is not None and num_fewshot < 0:
        raise EvalInputError(f"--num-fewshot must be 0 or more (got {num_fewshot})")
    data = Path(data_dir)
    if not data.is_dir():
        raise EvalInputError(f"data folder {data} does not exist: pass --data-dir, the folder with the benchmark "
                             "files (e.g. ../shared/data/bench)")  # fmt: skip
    if backend == "vllm":
        _require_vllm()
    config = check_model_dir(model_dir)
    context = model_context(config)
    if max_length is not None and context is not None and max_length > context:
        raise EvalInputError(
            f"--max-length {max_length} is beyond the model's context: {Path(model_dir) / 'config.json'} says "
            f"max_position_embeddings={context}; pass --max-length {context} or less"
        )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_tasks(data, out / "tasks")
    cat = catalogue(rendered)
    unknown = [t for t in tasks if t not in cat]
    if unknown:
        hints = {t: difflib.get_close_matches(t, list(cat), n=3) for t in unknown}
        said = "; ".join(f"{t!r}" + (f" (did you mean {', '.join(h)}?)" if h else "") for t, h in hints.items())
        top = sorted(n for n, i in cat.items() if not any(n in j.children for j in cat.values()))
        raise EvalInputError(f"unknown task {said}: no eval/tasks/<name>.yaml or judged/<name>.yaml defines it; "
                             f"known: {', '.join(top)} (and each mmlu_<subject>, bbh_<task>)")  # fmt: skip
    lm_tasks = [t for t in dict.fromkeys(tasks) if cat[t].kind != "judged"]
    judged = [t for t in dict.fromkeys(tasks) if cat[t].kind == "judged"]

    files: dict[str, dict[str, str]] = {}
    for t in lm_tasks:
        for leaf in leaves(t, cat):
            files[leaf] = check_task_files(cat[leaf])
    for t in judged:
        files[t] = check_task_files(cat[t], data)

    # the longest generation a requested task asks for must fit the model's context
    if context is not None:
        for t in lm_tasks:
            for leaf in leaves(t, cat):
                gen = {**(cat[leaf].config.get("generation_kwargs") or {}), **(gen_kwargs or {})}
                need = (
                    int(gen.get("max_gen_toks", 256)) if cat[leaf].config.get("output_type") == "generate_until" else 0
                )
                if need >= (max_length or context):
                    raise EvalInputError(
                        f"task {leaf} generates up to {need} tokens (eval/tasks/{cat[leaf].source.name}: "
                        f"generation_kwargs.max_gen_toks), beyond the model's context of {max_length or context} "
                        f"({Path(model_dir) / 'config.json'}): lower max_gen_toks there, or leave {leaf} out"
                    )
        for t in judged:
            budget = int(max_new_tokens or cat[t].config.get("max_new_tokens", 1024))
            if budget >= context:
                raise EvalInputError(
                    f"{t}: --max-new-tokens {budget} is at or beyond the model's context of {context} "
                    f"({Path(model_dir) / 'config.json'}): pass a smaller --max-new-tokens"
                )

    if apply_chat_template is None:
        chat, chat_reason = chat_template_default(model_dir)
    else:
        chat, chat_reason = bool(apply_chat_template), "set by the caller"
    if (chat or judged) and not has_chat_template(model_dir):
        what = "the judged benchmarks answer in chat turns" if judged and not chat else "the chat template is on"
        raise EvalInputError(
            f"{Path(model_dir)} has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json) "
            f"but {what}: copy the tokenizer folder's chat_template.jinja into it, or pass --no-chat-template "
            "and leave mt_bench / komt_bench / logickor out"
        )

    margs = model_args(model_dir, backend, device, dtype, max_length)
    results: dict = {
        "moru_eval": 1,
        "lm_eval_version": lm_eval_version(),
        "model_dir": str(Path(model_dir).resolve()),
        "data_dir": str(data.resolve()),
        "tasks_dir": str(rendered),
        "requested": list(tasks),
        "backend": backend,
        "device": device,
        "model_args": margs,
        "batch_size": batch_size,
        "limit": limit,
        "num_fewshot": num_fewshot,
        "chat_template": {"applied": chat, "reason": chat_reason},
        "gen_kwargs": gen_kwargs,
        "started_at": _now(),
        "results": {},
        "scores": [],
        "judged": {},
        "warnings": [],
    }

    if lm_tasks:
        import lm_eval
        from lm_eval.tasks import TaskManager

        with _offline(), _quiet_task_log():
            raw = lm_eval.simple_evaluate(
                model=lm if lm is not None else ("vllm" if backend == "vllm" else "hf"),
                model_args=None if lm is not None else margs,
                tasks=lm_tasks,
                num_fewshot=num_fewshot,
                batch_size=batch_size,
                device=device,
                limit=limit,
                apply_chat_template=chat,
                fewshot_as_multiturn=chat,
                log_samples=log_samples,
                gen_kwargs=gen_kwargs or None,
                task_manager=TaskManager(include_path=str(rendered), include_defaults=False),
            )
        gc.collect()
        if raw is None:  # only rank 0 gets results; moru runs one process
            raise RuntimeError("lm-eval returned no results (not rank 0?)")
        samples = raw.pop("samples", None) or {}
        (out / "lm_eval_results.json").write_text(json.dumps(raw, indent=2, default=str, ensure_ascii=False),
                                                  encoding="utf-8")  # fmt: skip
        if samples:
            (out / "samples").mkdir(exist_ok=True)
            for task, rows in samples.items():
                with open(out / "samples" / f"{task}.jsonl", "w", encoding="utf-8") as f:
                    for row in rows:
                        f.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        if samples and raw.get("max_length"):
            for task, cut in context_overflow(samples, model_dir, int(raw["max_length"])).items():
                msg = (
                    f"task {task}: {cut['requests']} of {cut['of']} requests are longer than the model's context "
                    f"({cut['max_length']} tokens, the longest needs {cut['longest']}) and lm-eval cut them from "
                    "the left: use fewer few-shot examples (--num-fewshot) or a longer-context model"
                )
                results["warnings"].append({"task": task, **cut, "message": msg})
                log.warning(msg)
        n_samples = raw.get("n-samples", {})
        merged = {**raw.get("results", {}), **raw.get("groups", {})}
        for name, entry in merged.items():
            if name not in cat:
                continue
            leaf_names = leaves(name, cat)
            n = sum(int((n_samples.get(x) or {}).get("effective", 0)) for x in leaf_names)
            n_original = sum(int((n_samples.get(x) or {}).get("original", 0)) for x in leaf_names)
            metric_rows = _metric_rows(name, entry)
            results["results"][name] = {
                "kind": cat[name].kind,
                "language": cat[name].language,
                "n": n,
                "n_original": n_original,
                "num_fewshot": raw.get("n-shot", {}).get(name),
                "metrics": {f"{r['metric']},{r['filter']}": r["value"] for r in metric_rows}
                | {f"{r['metric']}_stderr,{r['filter']}": r["stderr"] for r in metric_rows},
                "task_file": str(cat[name].source),
                "files": {p: h for x in leaf_names for p, h in files.get(x, {}).items()},
            }
            results["scores"] += [{**r, "language": cat[name].language, "n": n} for r in metric_rows]
        results["scores"].sort(key=lambda r: (r["task"], r["metric"], r["filter"]))

    for t in judged:
        summary = generate_judged(cat[t], model_dir, data, out, limit=limit, backend=backend, device=device,
                                  dtype=dtype, max_new_tokens=max_new_tokens, context=context)  # fmt: skip
        results["judged"][t] = {**summary, "language": cat[t].language, "task_file": str(cat[t].path),
                                "files": files[t]}  # fmt: skip

    results["seconds"] = round(time.time() - started, 2)
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return results
