"""One evaluation report per checkpoint: ``OUT/eval_report.html`` and ``OUT/eval_report.json``.

The page reads top to bottom: the model (its config.json) and its lineage (``moru_export.json`` of the exported
folder: the Delta table versions of the emitted data → the blend and its SHA-256 → the checkpoint, its iteration
and stage → these scores), then the benchmark scores with Korean and English tasks side by side (MMLU beside
KMMLU, ARC-Challenge beside CLIcK and HAE-RAE, HellaSwag beside KoBEST HellaSwag, …), the NIAH heatmaps and a
table of NIAH accuracy per length, and sample generations. Every part is optional: what the inputs lack is left
out, and keys this module does not know are shown as they are.

``eval_results`` is read as ``{"results": {task: {"metrics": {name: value}, "language": "ko"|"en", "n": int}}}``;
lm-eval's own layout (``{"results": {task: {"acc,none": 0.5, "acc_stderr,none": 0.01, …}}}``) works too.

``link_report(checkpoint_dir, report)`` records a report in ``checkpoint_dir/eval_reports.json`` (a list of
``{report, created, model_dir}``): the last link of the lineage, kept beside the checkpoint.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

EXPORT_MANIFEST = "moru_export.json"
REPORTS_INDEX = "eval_reports.json"

# (row label, English tasks, Korean tasks): names are matched after lower-casing, exactly or as a prefix + "_"
PAIRS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("Knowledge (MMLU ↔ KMMLU)", ("mmlu",), ("kmmlu",)),
    ("Math (GSM8K ↔ HRM8K)", ("gsm8k", "minerva_math", "hendrycks_math", "math"), ("hrm8k", "ko_gsm8k", "gsm8k_ko")),
    ("Reasoning / culture (ARC-C ↔ CLIcK, HAE-RAE)", ("arc_challenge", "arc_c", "ai2_arc"), ("click", "haerae",
                                                                                            "hae_rae")),
    ("Commonsense (HellaSwag ↔ KoBEST HellaSwag)", ("hellaswag",), ("kobest_hellaswag",)),
    ("Yes/no reading (BoolQ ↔ KoBEST BoolQ)", ("boolq",), ("kobest_boolq",)),
    ("Causal reasoning (COPA ↔ KoBEST COPA)", ("copa",), ("kobest_copa",)),
    ("Word sense (WiC ↔ KoBEST WiC)", ("wic",), ("kobest_wic",)),
    ("Sentiment (SST-2 ↔ KoBEST SentiNeg)", ("sst2", "sst_2"), ("kobest_sentineg",)),
    ("KoBEST (all)", (), ("kobest",)),
    ("Hard reasoning (BBH)", ("bbh", "bigbench_hard"), ()),
    ("Instruction following (IFEval)", ("ifeval",), ("ko_ifeval", "ifeval_ko")),
    ("Code (HumanEval, MBPP)", ("humaneval", "mbpp"), ()),
    ("Chat (MT-Bench ↔ KoMT-Bench, LogicKor)", ("mt_bench",), ("komt_bench", "logickor")),
]  # fmt: skip
KOREAN_HINTS = ("kmmlu", "kobest", "click", "haerae", "hae_rae", "hrm8k", "komt", "logickor", "korquad", "_ko")
METRIC_PRIORITY = ("acc_norm", "acc", "exact_match", "em", "pass@1", "pass_at_1", "prompt_level_strict_acc",
                   "f1", "score", "accuracy")  # fmt: skip
LANG_NAMES = {"ko": "Korean", "en": "English"}


# --- reading the inputs -------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z@]+", "_", str(name).lower()).strip("_")


def _matches(task: str, pattern: str) -> bool:
    t = _norm(task)
    return t == pattern or t.startswith(pattern + "_")


def _metric_parts(key: str) -> tuple[str, str]:
    """lm-eval's ``"acc,none"`` / ``"exact_match,strict-match"``: (metric, filter)."""
    base, _, flt = str(key).partition(",")
    return base.strip(), ("" if flt in ("", "none") else flt.strip())


def _task_metrics(entry) -> dict[str, float]:
    if not isinstance(entry, dict):
        return {}
    raw = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else entry
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _primary(metrics: dict[str, float]) -> tuple[str, float, float | None] | None:
    """The metric a table cell shows: the first of METRIC_PRIORITY present (any filter), else the first one."""
    plain = {k: v for k, v in metrics.items() if "stderr" not in k and _metric_parts(k)[0] not in ("n", "samples")}
    if not plain:
        return None
    rank = {m: i for i, m in enumerate(METRIC_PRIORITY)}
    key = min(plain, key=lambda k: rank.get(_metric_parts(k)[0], len(rank)))
    base, flt = _metric_parts(key)
    stderr = next((v for k, v in metrics.items() if _metric_parts(k) == (f"{base}_stderr", flt)), None)
    return (f"{base} ({flt})" if flt else base), plain[key], stderr


def guess_language(task: str) -> str:
    t = _norm(task)
    for _, en, ko in PAIRS:
        if any(_matches(t, p) for p in ko):
            return "ko"
        if any(_matches(t, p) for p in en):
            return "en"
    return "ko" if any(h in t for h in KOREAN_HINTS) else "en"


def normalize_results(eval_results: dict | None) -> list[dict]:
    """Every task of ``eval_results`` as {task, language, metric, value, stderr, n, metrics}; tasks without a
    numeric metric are left out."""
    if not isinstance(eval_results, dict):
        return []
    results = eval_results.get("results", eval_results)
    if not isinstance(results, dict):
        return []
    n_samples = eval_results.get("n-samples") if isinstance(eval_results.get("n-samples"), dict) else {}
    out = []
    for task, entry in results.items():
        metrics = _task_metrics(entry)
        chosen = _primary(metrics)
        if chosen is None:
            continue
        metric, value, stderr = chosen
        entry = entry if isinstance(entry, dict) else {}
        n = entry.get("n")
        if n is None and isinstance(n_samples.get(task), dict):
            n = n_samples[task].get("effective") or n_samples[task].get("original")
        lang = entry.get("language") if entry.get("language") in ("ko", "en") else guess_language(task)
        out.append({"task": str(task), "language": lang, "metric": metric, "value": value, "stderr": stderr,
                    "n": n if isinstance(n, int) else None, "metrics": metrics})  # fmt: skip
    return out


def side_by_side(tasks: list[dict]) -> list[dict]:
    """Rows of the score table: {group, en: task | None, ko: task | None}. Subtasks whose group task is present
    (``mmlu_anatomy`` beside ``mmlu``) are left to the full table unless a pair names them (``kobest_copa`` beside
    ``kobest``); tasks no pair names go to "Other" rows."""
    names = {_norm(t["task"]) for t in tasks}
    named = {p for _, en, ko in PAIRS for p in en + ko}  # a pair names it: shown even beside its group
    top = [t for t in tasks
           if _norm(t["task"]) in named or not any(_norm(t["task"]).startswith(n + "_") for n in names)]  # fmt: skip
    rows: list[dict] = []
    placed: set[str] = set()
    for label, en_pats, ko_pats in PAIRS:
        side: dict[str, list[dict]] = {"en": [], "ko": []}
        for lang, pats in (("en", en_pats), ("ko", ko_pats)):
            for t in top:
                if t["task"] not in placed and t["language"] == lang and any(_matches(t["task"], p) for p in pats):
                    side[lang].append(t)
                    placed.add(t["task"])
        for i in range(max(len(side["en"]), len(side["ko"]))):
            rows.append({"group": label, "en": side["en"][i] if i < len(side["en"]) else None,
                         "ko": side["ko"][i] if i < len(side["ko"]) else None})  # fmt: skip
    rest = {lang: [t for t in top if t["task"] not in placed and t["language"] == lang] for lang in ("en", "ko")}
    for i in range(max(len(rest["en"]), len(rest["ko"]))):
        rows.append({"group": "Other", "en": rest["en"][i] if i < len(rest["en"]) else None,
                     "ko": rest["ko"][i] if i < len(rest["ko"]) else None})  # fmt: skip
    return rows


def _bfs(obj, keys: tuple[str, ...], want=(str, int, float)):
    """The first value under any of ``keys`` of the wanted type, shallowest first."""
    queue = deque([obj])
    while queue:
        cur = queue.popleft()
        if isinstance(cur, dict):
            for k in keys:
                v = cur.get(k)
                if isinstance(v, want) and not isinstance(v, bool) and v != "":
                    return v
            queue.extend(v for v in cur.values() if isinstance(v, dict | list))
        elif isinstance(cur, list):
            queue.extend(v for v in cur if isinstance(v, dict | list))
    return None


def _delta_inputs(export: dict) -> list[dict]:
    """Delta tables with versions found anywhere in the manifest: ``inputs`` {kind: {table, uri, version}} (the
    post-training emission) or ``table_versions`` {table: version}."""
    rows: list[dict] = []
    seen: set[tuple] = set()
    queue = deque([export])
    while queue:
        cur = queue.popleft()
        if isinstance(cur, dict):
            for k, v in cur.items():
                if k == "inputs" and isinstance(v, dict):
                    for kind, spec in v.items():
                        if isinstance(spec, dict) and "version" in spec:
                            row = {"kind": kind, "table": spec.get("table", kind), "version": spec.get("version"),
                                   "uri": spec.get("uri", "")}  # fmt: skip
                        elif isinstance(spec, int):
                            row = {"kind": kind, "table": kind, "version": spec, "uri": ""}
                        else:
                            continue
                        if (row["table"], row["version"]) not in seen:
                            seen.add((row["table"], row["version"]))
                            rows.append(row)
                elif k == "table_versions" and isinstance(v, dict):
                    for table, version in v.items():
                        if (table, version) not in seen:
                            seen.add((table, version))
                            rows.append({"kind": "", "table": table, "version": version, "uri": ""})
                elif isinstance(v, dict | list):
                    queue.append(v)
        elif isinstance(cur, list):
            queue.extend(v for v in cur if isinstance(v, dict | list))
    return rows


def lineage(export: dict | None) -> dict:
    """The fields of the lineage header, from whatever ``moru_export.json`` holds (None where absent)."""
    e = export if isinstance(export, dict) else {}
    tok = _bfs(e, ("tokenizer_sha256",)) or _bfs(e, ("tokenizer",), (str,))
    if tok is None and isinstance(e.get("tokenizer"), dict):
        tok = e["tokenizer"].get("sha256")
    return {
        "source_checkpoint": _bfs(e, ("source_checkpoint", "checkpoint_dir", "checkpoint", "source", "load_dir"),
                                  (str,)),
        "iteration": _bfs(e, ("iteration", "iter", "step"), (int,)),
        "stage": _bfs(e, ("stage", "align_step"), (str,)),
        "blend": _bfs(e, ("blend", "blend_path"), (str,)),
        "blend_sha256": _bfs(e, ("blend_sha256",), (str,)),
        "posttrain_run": _bfs(e, ("run_id",), (str,)),
        "init_from": _bfs(e, ("init_from",), (str,)),
        "tokenizer_sha256": tok,
        "exported": _bfs(e, ("exported_at", "created", "created_utc", "saved_at"), (str,)),
        "delta_tables": _delta_inputs(e),
    }  # fmt: skip


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# --- HTML pieces --------------------------------------------------------------------------------------------


def _esc(x) -> str:
    return html.escape("" if x is None else str(x))


def _table(headers: list[str], rows: list[list], raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    cell = (lambda c: str(c)) if raw else (lambda c: _esc(f"{c:,}" if isinstance(c, int) else c))
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _kv(rows: list[list[str]]) -> str:
    """A two-column table without a header (label, already-escaped value)."""
    body = "".join(f"<tr><th class='k'>{_esc(k)}</th><td class='v'>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _score(value: float | None, stderr: float | None = None) -> str:
    if value is None:
        return ""
    if 0.0 <= value <= 1.0:
        text = f"{100 * value:.1f}"
        return text + (f" ± {100 * stderr:.1f}" if stderr else "")
    return f"{value:,.2f}" + (f" ± {stderr:.2f}" if stderr else "")


def _short(text: str, keep: int = 1500) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= 2 * keep + 40 else f"{text[:keep]}\n… [{len(text) - 2 * keep:,} characters] …\n" \
                                                   f"{text[-keep:]}"  # fmt: skip


def _model_section(model_dir: Path, config: dict | None) -> str:
    rows = [["folder", f"<code>{_esc(model_dir)}</code>"]]
    if config:
        arch = ", ".join(config.get("architectures") or []) or config.get("model_type")
        for label, value in (
            ("architecture", arch),
            ("layers", config.get("num_hidden_layers")),
            ("hidden size", config.get("hidden_size")),
            ("attention heads (KV)", f"{config.get('num_attention_heads')} ({config.get('num_key_value_heads')})"
             if config.get("num_attention_heads") else None),
            ("vocabulary", config.get("vocab_size")),
            ("context (max_position_embeddings)", config.get("max_position_embeddings")),
            ("RoPE θ", config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta")),
            ("dtype", config.get("dtype") or config.get("torch_dtype")),
        ):  # fmt: skip
            if value not in (None, ""):
                rows.append([label, _esc(f"{value:,}" if isinstance(value, int) else value)])
    else:
        rows.append(["config.json", "not found"])
    return "<h2>Model</h2>" + _kv(rows)


def _lineage_section(lin: dict, export: dict | None) -> str:
    if not export:
        return (f"<h2>Lineage</h2><p>No <code>{EXPORT_MANIFEST}</code> in the model folder: the checkpoint and "
                "data this model came from are not recorded.</p>")  # fmt: skip
    sha = lambda s: f"<code>{_esc(str(s)[:12])}</code>" if s else "?"  # noqa: E731
    tables = lin["delta_tables"]
    chain = [
        "Delta " + (", ".join(f"{_esc(t['table'])} v{_esc(t['version'])}" for t in tables) or "(not recorded)"),
        f"blend <code>{_esc(lin['blend'] or '?')}</code> (sha256 {sha(lin['blend_sha256'])})",
        f"checkpoint <code>{_esc(lin['source_checkpoint'] or '?')}</code>"
        + (f" iteration {lin['iteration']:,}" if isinstance(lin["iteration"], int) else "")
        + (f" ({_esc(lin['stage'])})" if lin["stage"] else ""),
        "these scores",
    ]  # fmt: skip
    rows = [[label, _esc(lin[key]) if key != "iteration" or lin[key] is None else f"{lin[key]:,}"]
            for key, label in (("source_checkpoint", "source checkpoint"), ("iteration", "iteration"),
                               ("stage", "stage"), ("init_from", "started from"), ("blend", "blend"),
                               ("blend_sha256", "blend sha256"), ("posttrain_run", "post-training emit run"),
                               ("tokenizer_sha256", "tokenizer sha256"), ("exported", "exported"))
            if lin[key] not in (None, "")]  # fmt: skip
    out = "<h2>Lineage</h2><p class='chain'>" + " → ".join(chain) + "</p>"
    if rows:
        out += _kv(rows)
    if tables:
        out += "<h3>Delta table versions</h3>" + _table(
            ["kind", "table", "version", "location"], [[t["kind"], t["table"], t["version"], t["uri"]] for t in tables]
        )
    full = _esc(json.dumps(export, ensure_ascii=False, indent=1, default=str))
    return out + f"<details><summary>{EXPORT_MANIFEST} as written</summary><pre>{full}</pre></details>"


def _scores_section(tasks: list[dict], rows: list[dict]) -> str:
    if not tasks:
        return "<h2>Benchmarks</h2><p>No benchmark results given.</p>"

    def cells(t: dict | None) -> list[str]:
        if t is None:
            return ["<span class='none'>—</span>", "", "", ""]
        return [_esc(t["task"]), _esc(t["metric"]), f"<b>{_esc(_score(t['value'], t['stderr']))}</b>",
                _esc(f"{t['n']:,}" if t["n"] else "")]  # fmt: skip

    body = ""
    for i, r in enumerate(rows):
        first = i == 0 or rows[i - 1]["group"] != r["group"]
        span = sum(1 for x in rows if x["group"] == r["group"])
        name, _, detail = r["group"].partition(" (")
        label = _esc(name) + (f"<br><span class='detail'>{_esc(detail.rstrip(')'))}</span>" if detail else "")
        group = f"<td rowspan='{span}' class='group'>{label}</td>" if first else ""
        kinds = ("name", "metric", "num", "num")
        body += ("<tr>" + group
                 + "".join(f"<td class='{lang} {k}'>{c}</td>" for lang in ("en", "ko")
                           for k, c in zip(kinds, cells(r[lang]), strict=True))
                 + "</tr>")  # fmt: skip
    means = {lang: [t["value"] for t in (r[lang] for r in rows) if t and 0 <= t["value"] <= 1] for lang in ("en", "ko")}
    foot = "<tr class='mean'><td>mean (rate metrics)</td>" + "".join(
        f"<td class='{lang}' colspan='4'>{_score(sum(v) / len(v)) + f' over {len(v)}' if v else '—'}</td>"
        for lang, v in means.items()
    ) + "</tr>"  # fmt: skip
    table = (
        "<table class='scores'><tr><th rowspan='2'>benchmark</th><th colspan='4' class='en'>English</th>"
        "<th colspan='4' class='ko'>Korean</th></tr><tr>"
        + "".join(f"<th class='{lang}'>{h}</th>" for lang in ("en", "ko") for h in ("task", "metric", "score", "n"))
        + f"</tr>{body}{foot}</table>"
    )  # fmt: skip
    full = _table(
        ["task", "language", "metric", "value"],
        [[t["task"], t["language"], k, f"{v:.4f}"] for t in tasks for k, v in t["metrics"].items()],
    )
    return ("<h2>Benchmarks: English and Korean side by side</h2><p>Scores in % where the metric is a rate "
            "(± standard error where reported); n = examples scored.</p>" + table
            + f"<details><summary>all {len(tasks)} tasks and metrics</summary>{full}</details>")  # fmt: skip


def _judged_section(eval_results: dict | None) -> str:
    """Judged benchmarks (MT-Bench, KoMT-Bench, LogicKor): answers stored for a judge, shown side by side by
    language; and the harness's warnings."""
    if not isinstance(eval_results, dict):
        return ""
    out = ""
    judged = eval_results.get("judged")
    if isinstance(judged, dict) and judged:
        rows = []
        for task, info in judged.items():
            info = info if isinstance(info, dict) else {}
            lang = info.get("language") if info.get("language") in ("ko", "en") else guess_language(task)
            score = next((info[k] for k in ("score", "mean_score") if isinstance(info.get(k), int | float)), None)
            rows.append([task, LANG_NAMES.get(lang, lang), info.get("n", ""), "" if score is None else f"{score:.2f}",
                         info.get("judge", ""), info.get("answers", "")])  # fmt: skip
        rows.sort(key=lambda r: (r[1] != "English", r[0]))
        out += "<h3>Judged benchmarks: answers for a judge</h3>" + _table(
            ["task", "language", "questions", "score", "judge", "answers file"], rows
        )
    warnings = eval_results.get("warnings")
    if isinstance(warnings, list) and warnings:
        items = "".join(f"<li>{_esc(w.get('message') if isinstance(w, dict) else w)}</li>" for w in warnings)
        out += f"<h3>Harness warnings</h3><ul>{items}</ul>"
    return out


def _niah_section(niah: dict | None, out_dir: Path) -> tuple[str, dict]:
    if not niah:
        return "", {}
    base = Path(niah.get("out_dir") or out_dir)
    langs = list(niah.get("languages") or (niah.get("heatmaps") or {}).keys())
    imgs = []
    links = {}
    for lang in langs:
        name = (niah.get("heatmaps") or {}).get(lang)
        if not name:
            continue
        png = Path(name) if Path(name).is_absolute() else base / name
        rel = os.path.relpath(png, out_dir)
        links[lang] = rel
        if png.is_file():
            imgs.append(f"<figure><img src='{_esc(rel)}' alt='NIAH heatmap ({_esc(lang)})'>"
                        f"<figcaption>{_esc(LANG_NAMES.get(lang, lang))} haystack</figcaption></figure>")  # fmt: skip
        else:
            imgs.append(f"<p>heatmap {_esc(rel)} is missing</p>")
    summary = niah.get("summary") or {}
    lengths = niah.get("lengths") or sorted({int(n) for s in summary.values() for n in s.get("by_length", {})})
    rows = [[f"{n:,}"] + [_score((summary.get(lang) or {}).get("by_length", {}).get(str(n))) for lang in langs]
            for n in lengths]  # fmt: skip
    rows.append(["all lengths"] + [_score((summary.get(lang) or {}).get("mean")) for lang in langs])
    depths = ", ".join(f"{100 * d:g}%" for d in niah.get("depths") or [])
    ctx = niah.get("max_position_embeddings")
    ctx = f"{ctx:,}" if isinstance(ctx, int) else "?"
    text = (f"<h2>Needle in a haystack (single needle)</h2><p>Accuracy in % (the needle's 7-digit value found in "
            f"the greedy answer), mean over depths {_esc(depths)}; {_esc(niah.get('samples_per_cell', '?'))} "
            f"needle(s) per cell; model context {_esc(ctx)} tokens.</p>"
            + _table(["context length"] + [LANG_NAMES.get(lang, lang) for lang in langs], rows)
            + "<div class='figs'>" + "".join(imgs) + "</div>")  # fmt: skip
    return text, links


def _samples_section(samples: list[dict]) -> str:
    if not samples:
        return ""
    out = ["<h2>Sample generations</h2>"]
    for s in samples:
        tags = " · ".join(f"{k} {s[k]}" for k in ("task", "language", "length", "depth") if s.get(k) is not None)
        score = f" · score {s['score']:g}" if isinstance(s.get("score"), int | float) else ""
        block = f"<div class='sample'><p class='tags'>{_esc(tags)}{_esc(score)}</p>"
        # the expected answer marked where it occurs (NIAH's value in the prompt and output); short ones would mark
        # stray letters
        target = _esc(s.get("target")) if len(str(s.get("target") or "")) >= 4 else None
        for key, label in (("prompt", "prompt"), ("output", "output"), ("target", "expected")):
            if s.get(key) not in (None, ""):
                text = _esc(_short(s[key]))
                if target and key != "target":  # where the expected answer is in the prompt (NIAH) and the output
                    text = text.replace(target, f"<mark>{target}</mark>")
                block += f"<p class='label'>{label}</p><pre>{text}</pre>"
        out.append(block + "</div>")
    return "".join(out)


STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
table.kv th.k{text-align:left;font-weight:normal}table.kv td.v{text-align:left}
table.scores td.group{text-align:left;font-weight:bold;background:#fafafa}.detail{font-weight:normal;color:#666;
font-size:85%}table.scores td.name,table.scores td.metric{text-align:left}table.scores td.num{white-space:nowrap}
th.en,td.en{background:#f6f9fd}th.ko,td.ko{background:#fdf8f3}tr.mean td{font-style:italic}mark{background:#ffe066}
span.none{color:#aaa}.chain{background:#f5f5f5;padding:6px 10px;border-left:3px solid #4c72b0}
.figs{display:flex;flex-wrap:wrap;gap:1%}figure{margin:0;max-width:49%}figcaption{text-align:center;color:#555}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px;border:1px solid #eee;margin:2px 0}
.sample{margin-bottom:1.2em}.tags{font-weight:bold;margin:0.3em 0}.label{color:#666;margin:0.2em 0;font-size:90%}"""


def write_model_report(out_dir: str, model_dir: str, eval_results: dict | None, niah: dict | None,
                       samples: list[dict] | None = None) -> Path:  # fmt: skip
    """Write ``out_dir/eval_report.html`` and ``eval_report.json`` for the model in ``model_dir``; return the HTML
    path. ``niah`` is run_niah's result (its heatmaps are linked relative to ``out_dir``); ``samples`` are
    {task, language, prompt, output, target, score} dicts (NIAH's own samples are added)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mdir = Path(model_dir)
    config = _read_json(mdir / "config.json")
    export = _read_json(mdir / EXPORT_MANIFEST)
    lin = lineage(export)
    tasks = normalize_results(eval_results)
    rows = side_by_side(tasks)
    niah_html, heatmaps = _niah_section(niah, out)
    all_samples = [s for s in (samples or []) if isinstance(s, dict)]
    all_samples += [s for s in ((niah or {}).get("samples") or []) if isinstance(s, dict)]
    created = datetime.now(UTC).isoformat(timespec="seconds")
    title = f"moru eval report · {mdir.name}"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title><style>{STYLE}</style>"
        f"</head><body><h1>{_esc(title)}</h1><p>model <code>{_esc(mdir)}</code> · written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}</p>"
        + _model_section(mdir, config)
        + _lineage_section(lin, export)
        + _scores_section(tasks, rows)
        + _judged_section(eval_results)
        + niah_html
        + _samples_section(all_samples)
        + "</body></html>"
    )
    html_path = out / "eval_report.html"
    html_path.write_text(page, encoding="utf-8")
    record = {
        "created": created,
        "model_dir": str(mdir),
        "model_config": config,
        "export": export,
        "lineage": lin,
        "scores": tasks,
        "side_by_side": [{"group": r["group"], "en": r["en"] and r["en"]["task"], "ko": r["ko"] and r["ko"]["task"]}
                         for r in rows],  # fmt: skip
        "niah": None if not niah else {k: niah.get(k) for k in ("lengths", "depths", "languages", "summary", "cells",
                                                                "samples_per_cell", "max_position_embeddings")}
        | {"heatmaps": heatmaps},
        "samples": all_samples,
        "html": html_path.name,
    }  # fmt: skip
    (out / "eval_report.json").write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str),
                                          encoding="utf-8")  # fmt: skip
    return html_path


def link_report(checkpoint_dir: str, report_path: str, model_dir: str | None = None) -> Path:
    """Record ``report_path`` in ``checkpoint_dir/eval_reports.json`` (appended; a report linked again replaces
    its earlier entry). ``model_dir`` defaults to the one in the report's ``eval_report.json``."""
    ckpt = Path(checkpoint_dir)
    if not ckpt.is_dir():
        raise FileNotFoundError(f"checkpoint folder {ckpt} does not exist: link the report to an existing checkpoint")
    report = Path(report_path).resolve()
    if not report.is_file():
        raise FileNotFoundError(f"report {report} does not exist: write it first (write_model_report)")
    if model_dir is None:
        meta = _read_json(report.with_suffix(".json")) or _read_json(report.parent / "eval_report.json") or {}
        model_dir = meta.get("model_dir")
    index = ckpt / REPORTS_INDEX
    entries: list = []
    if index.exists():
        try:
            entries = json.loads(index.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{index} is not valid JSON ({e.msg}); move it aside and link the reports again") from e
        if not isinstance(entries, list):
            raise ValueError(f"{index} should hold a list of reports; move it aside and link the reports again")
    entries = [e for e in entries if not (isinstance(e, dict) and e.get("report") == str(report))]
    entries.append({"report": str(report), "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "model_dir": None if model_dir is None else str(model_dir)})  # fmt: skip
    tmp = index.with_name(f".{index.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, index)
    return index


def report_for(out_dir: str | Path, model_dir: str | Path) -> tuple[Path, Path | None]:
    """The eval report of whatever ``out_dir`` holds (``eval_results.json`` of ``moru eval run``,
    ``niah_results.json`` of ``moru eval niah``), written there, and linked beside the source checkpoint that
    ``model_dir/moru_export.json`` names (the lineage: Delta versions → blend → checkpoint → scores). Returns
    (report, index it was linked in, or None when the model names no existing checkpoint)."""
    out = Path(out_dir)
    results = _read_json(out / "eval_results.json")
    niah = _read_json(out / "niah_results.json")
    report = write_model_report(str(out), str(model_dir), results, niah)
    source = ((_read_json(Path(model_dir) / EXPORT_MANIFEST) or {}).get("source") or {}).get("checkpoint")
    if source and Path(source).is_dir():
        return report, link_report(source, str(report), str(model_dir))
    return report, None
