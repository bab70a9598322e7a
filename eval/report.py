"""The HTML run report: a summary table per stage and PNG charts (funnel, quarantine reasons,
languages, document lengths). Takes plain dicts (computed by the Spark side), writes files."""

from __future__ import annotations

import html
import importlib.util
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LANG_ORDER = ["ko", "en", "ko+en", "other", "und"]
LANG_COLORS = {"ko": "#1f77b4", "en": "#ff7f0e", "ko+en": "#2ca02c", "other": "#9467bd", "und": "#7f7f7f"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def funnel_chart(steps: list[tuple[str, int]]) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * len(steps)))
    names = [s[0] for s in steps][::-1]
    values = [s[1] for s in steps][::-1]
    bars = ax.barh(names, values, color="#4c72b0")
    top = max(values) if values else 1
    for bar, v in zip(bars, values, strict=True):
        pct = f" ({100 * v / steps[0][1]:.1f}%)" if steps and steps[0][1] else ""
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, f"{v:,}{pct}", va="center")
    ax.set_xlim(0, top * 1.3)
    ax.set_title("Documents kept per stage")
    ax.set_xlabel("records / documents")
    return _png(fig)


def _ordered_langs(langs) -> list[str]:
    return sorted(set(langs), key=lambda x: (LANG_ORDER.index(x) if x in LANG_ORDER else 98 if x != "all" else -1, x))


def funnel_language_chart(rows: list[dict]) -> bytes:
    """Documents and characters kept after each stage, stacked by language (two panels)."""
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    langs = _ordered_langs(r["lang"] for r in rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.9 + 0.5 * len(stages)), sharey=True)
    y = list(range(len(stages)))[::-1]
    for ax, key, title, scale, unit in (
        (axes[0], "docs", "Documents kept per stage", 1, "documents"),
        (axes[1], "chars", "Characters kept per stage", 1e6, "million characters"),
    ):
        left = [0.0] * len(stages)
        for lang in langs:
            vals = []
            for st in stages:
                v = sum((r[key] or 0) for r in rows if r["stage"] == st and r["lang"] == lang)
                vals.append(v / scale)
            color = "#bbbbbb" if lang == "all" else LANG_COLORS.get(lang, "#8c564b")
            ax.barh(y, vals, left=left, color=color, label=lang if lang != "all" else "all (before language id)")
            left = [a + b for a, b in zip(left, vals, strict=True)]
        top = max(left) if left and max(left) else 1
        base = next((v for v in left if v), 0)  # the first stage that has this measure
        for yi, total in zip(y, left, strict=True):
            pct = f" ({100 * total / base:.0f}%)" if base else ""
            if total:
                ax.text(total + top * 0.01, yi, f"{total:,.0f}{pct}" if scale == 1 else f"{total:,.2f}{pct}",
                        va="center", fontsize=8)  # fmt: skip
        ax.set_xlim(0, top * 1.35)
        ax.set_title(title)
        ax.set_xlabel(unit)
    axes[0].set_yticks(y, stages)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def funnel_language_table(rows: list[dict]) -> str:
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    langs = _ordered_langs(r["lang"] for r in rows if r["lang"] != "all")
    headers = ["stage", "documents", "characters"]
    for lang in langs:
        headers += [f"{lang} docs", f"{lang} chars"]
    body = []
    for st in stages:
        sel = [r for r in rows if r["stage"] == st]
        chars = [r["chars"] for r in sel if r["chars"] is not None]
        line: list = [st, sum(r["docs"] for r in sel), sum(chars) if chars else "-"]
        for lang in langs:
            hit = [r for r in sel if r["lang"] == lang]
            line += [hit[0]["docs"], hit[0]["chars"]] if hit else ["-", "-"]
        body.append(line)
    return _table(headers, body)


def quarantine_chart(reasons: dict[str, int]) -> bytes:
    items = sorted(reasons.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.4 * max(1, len(items))))
    if items:
        bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#c44e52")
        for bar, (_, v) in zip(bars, items, strict=True):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:,}", va="center")
    else:
        ax.text(0.5, 0.5, "nothing quarantined", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Quarantined records by reason")
    ax.set_xlabel("records")
    return _png(fig)


def language_chart(per_lang: list[dict]) -> bytes:
    rows = sorted(per_lang, key=lambda r: LANG_ORDER.index(r["lang"]) if r["lang"] in LANG_ORDER else 99)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    langs = [r["lang"] for r in rows]
    colors = [LANG_COLORS.get(lang, "#333333") for lang in langs]
    axes[0].bar(langs, [r["docs"] for r in rows], color=colors)
    axes[0].set_title("Documents per language")
    axes[1].bar(langs, [r["bytes"] / 1e6 for r in rows], color=colors)
    axes[1].set_title("Text per language (MB, UTF-8)")
    return _png(fig)


def length_chart(edges: list[int], hist: list[dict]) -> bytes:
    labels = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        labels.append(f"≥{lo:,}" if hi >= 10**12 else f"{lo:,}–{hi:,}")
    fig, ax = plt.subplots(figsize=(9, 3.6))
    langs = [lang for lang in LANG_ORDER if any(h["lang"] == lang for h in hist)]
    width = 0.8 / max(1, len(langs))
    for j, lang in enumerate(langs):
        counts = [0] * len(labels)
        for h in hist:
            if h["lang"] == lang:
                counts[h["bin"]] += h["count"]
        ax.bar(
            [i + j * width for i in range(len(labels))], counts, width=width, label=lang, color=LANG_COLORS.get(lang)
        )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels, rotation=35, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("documents (log)")
    ax.set_xlabel("characters")
    ax.set_title("Document length by language")
    ax.legend()
    return _png(fig)


def cluster_size_chart(exact_sizes: list[dict], near_sizes: list[dict]) -> bytes:
    """Histogram of duplicate-cluster sizes (clusters of 2 or more documents), log-scaled counts."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    width = 0.4
    for offset, rows, label, color in (
        (-width / 2, exact_sizes, "exact duplicates", "#4c72b0"),
        (width / 2, near_sizes, "near duplicates (MinHash)", "#dd8452"),
    ):
        if rows:
            ax.bar([r["size"] + offset for r in rows], [r["clusters"] for r in rows], width, label=label, color=color)
    if not exact_sizes and not near_sizes:
        ax.text(0.5, 0.5, "no duplicate clusters", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.set_yscale("log")
        ax.legend()
        ticks = sorted({r["size"] for r in exact_sizes + near_sizes})
        ax.set_xticks(ticks if len(ticks) <= 20 else ticks[:: max(1, len(ticks) // 20)])
    ax.set_xlabel("documents in the cluster")
    ax.set_ylabel("clusters")
    ax.set_title("Duplicate cluster sizes")
    return _png(fig)


def _length_label(lo: int, hi: int) -> str:
    def k(n: int) -> str:
        return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"

    if lo == 0:
        return f"<{k(hi)}"
    return f"≥{k(lo)}" if hi >= 10**12 else f"{k(lo)}–{k(hi)}"


def contamination_length_chart(by_length: dict) -> bytes:
    """Share of documents flagged as contaminated per document-length bucket, with the counts."""
    buckets = by_length["buckets"]
    labels = [_length_label(b["lo"], b["hi"]) for b in buckets]
    shares = [100 * b["flagged"] / b["docs"] if b["docs"] else 0.0 for b in buckets]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bars = ax.bar(labels, shares, color="#c44e52", width=0.6)
    top = max(shares) if any(shares) else 1.0
    for bar, b, share in zip(bars, buckets, shares, strict=True):
        text = f"{b['flagged']:,} of {b['docs']:,}\n({share:.1f}%)" if b["docs"] else "no documents"
        ax.text(bar.get_x() + bar.get_width() / 2, share + top * 0.03, text, ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.35)
    ax.set_ylabel("documents flagged (%)")
    ax.set_xlabel("document length (characters of documents.text)")
    mode = by_length.get("mode")
    ax.set_title(f"Documents flagged as contaminated, by length ({f'{mode} mode' if mode else 'none found'})")
    return _png(fig)


MEASURED_DETECTION_PLOT = "benchmarks/decontam_detection.png"  # relative to the repository root
MEASURED_DETECTION_COMMAND = ".venv/bin/python benchmarks/decontam_quality.py"


def _repo_root() -> Path:
    """The checkout the moru package is installed from (its parent folder), located without importing
    it (nothing imports moru/); this file's own checkout when moru cannot be found."""
    spec = importlib.util.find_spec("moru")
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent.parent
    return Path(__file__).resolve().parent.parent


def measured_detection_plot(root: Path | None = None) -> bytes | None:
    """The committed plot of ``benchmarks/decontam_quality.py`` (detection rate vs document length,
    both modes), or None when the package is not installed from a checkout that has it."""
    path = (root or _repo_root()) / MEASURED_DETECTION_PLOT
    return path.read_bytes() if path.is_file() else None


def decontamination_section(summary: dict, files: dict[str, bytes], measured: bytes | None) -> str:
    """Per benchmark table, flagged share by length (this run), the measured detection-rate plot."""
    out = [
        "<h2>Decontamination: benchmark examples found in the documents</h2>"
        "<p>indexed = examples of at least 50 normalized characters (matched by any shared 50-character "
        "substring) or of 25 to 49 (matched when a document contains the whole example); the rest are too short "
        "to match. contaminated examples = found in some document; documents = flagged documents (the select "
        "step drops them)</p>"
        + _table(
            ["benchmark", "examples", "indexed", "contaminated examples", "documents", "mode"],
            [
                [
                    r["benchmark"],
                    r.get("examples", r["indexed_examples"]),
                    r["indexed_examples"],
                    r["contaminated_examples"],
                    r["contaminated_docs"],
                    r["mode"],
                ]
                for r in summary["contamination"]
            ],
        )  # fmt: skip
    ]
    by_length = summary.get("contamination_by_length") or {}
    if by_length.get("buckets"):
        files["contamination_lengths.png"] = contamination_length_chart(by_length)
        out.append(
            "<h3>Flagged documents by length (this run)</h3>"
            '<img src="contamination_lengths.png" alt="documents flagged as contaminated per length bucket">'
            + _table(
                ["length (chars)", "documents", "flagged", "share flagged"],
                [
                    [
                        _length_label(b["lo"], b["hi"]),
                        b["docs"],
                        b["flagged"],
                        f"{100 * b['flagged'] / b['docs']:.2f}%" if b["docs"] else "-",
                    ]
                    for b in by_length["buckets"]
                ],
            )
        )
    out.append("<h3>Detection rate vs document length, both modes (measured)</h3>")
    if measured is not None:
        files["decontam_detection.png"] = measured
        out.append(
            '<figure><a href="decontam_detection.png"><img src="decontam_detection.png" '
            'alt="detection rate vs document length, exhaustive and sampled modes"></a>'
            "<figcaption>Passages planted whole, partially or perturbed in Korean and English documents of 200 "
            "to 100,000 characters, found by exhaustive mode (every window) and sampled mode (10 windows per "
            f"document), with sampled mode's analytic expectation. Made by <code>{MEASURED_DETECTION_COMMAND}"
            f"</code> (committed as <code>{MEASURED_DETECTION_PLOT}</code>); not measured on this run's data."
            "</figcaption></figure>"
        )
    else:
        out.append(
            f"<p>The measured plot ({html.escape(MEASURED_DETECTION_PLOT)}) is not next to the installed package; "
            f"make it with <code>{MEASURED_DETECTION_COMMAND}</code> in a checkout.</p>"
        )
    return "".join(out)


def _pii_share(r: dict) -> list:
    n = r["with_pii"] or 0
    return [r["lang"], r["documents"], n, f"{100 * n / r['documents']:.2f}%" if r["documents"] else "-"]


def pii_section(pii: dict) -> str:
    """PII found by the pii step per type and language, documents with PII per language, and how many of the
    findings sit (as placeholders) in documents that reached training_corpus."""
    out = ["<h2>PII redaction: findings per type and language</h2>"]
    per_lang = pii.get("by_lang") or []
    out.append(
        "<p>Every document of <code>documents</code> has a row in <code>redacted_documents</code> with its PII "
        "replaced by typed placeholders; <code>pii_findings</code> holds each finding's span and a keyed hash of "
        "its value (never the value). <code>training_corpus</code> takes its text from the redacted rows.</p>"
        + _table(["lang", "documents", "with PII", "share"], [_pii_share(r) for r in per_lang])
    )
    rows = pii.get("by_type_lang") or []
    if rows:
        in_corpus = pii.get("redacted_in_training_corpus") or {}
        out.append(
            _table(
                ["type", "lang", "findings", "documents"],
                [[r["pii_type"], r["lang"], r["findings"], r["documents"]] for r in rows],
            )
        )
        totals: dict[str, int] = {}
        for r in rows:
            totals[r["pii_type"]] = totals.get(r["pii_type"], 0) + r["findings"]
        out.append(
            "<h3>Per type: all findings, and those redacted in documents that reached training_corpus</h3>"
            + _table(
                ["type", "findings", "in training_corpus documents"],
                [[t, n, in_corpus.get(t, 0)] for t, n in sorted(totals.items())],
            )
        )
    else:
        out.append("<p>No PII found.</p>")
    return "".join(out)


def tokenizer_section(t: dict, files: dict[str, bytes]) -> str:
    """The trained tokenizer: its Hangul/Latin split against the target, the steering rounds, and the
    compression table and chart (``moru tokenizer eval``'s) on the held-out documents."""
    import tempfile

    from tokenizer.evaluate import Row, plot

    split = t["split"]
    state = "trained in this run" if t.get("retrained") else "unchanged since it was trained (same settings)"
    head = (
        "<h2>Tokenizer (byte-level BPE, EXAONE-style)</h2>"
        f"<p>{html.escape(str(t.get('output_dir') or ''))}: {state}. {t['vocab_size']:,} tokens "
        f"({t['vocab_size_wanted']:,} wanted): {split['hangul']:,} Hangul, {split['latin']:,} Latin, "
        f"{split['mixed']:,} both, {split['other']:,} other, {split['special']:,} special; Korean share of "
        f"Hangul + Latin tokens {t['korean_token_share']:.3f} (target {t['target_korean_token_share']:.3f}). "
        f"Korean training text {'pre-segmented with MeCab' if t['mecab_training'] else 'not segmented'}.</p>"
    )
    rounds = _table(
        ["round", "text bytes", "Korean byte share", "Hangul tokens", "Latin tokens", "Korean token share", "s"],
        [
            [
                "final" if i == len(t["rounds"]) - 1 else r["round"],
                sum(r["bytes"].values()),
                f"{r['korean_byte_share']:.3f}",
                r["hangul_tokens"],
                r["latin_tokens"],
                f"{r['korean_token_share']:.3f}",
                f"{r['train_seconds']:.1f}",
            ]
            for i, r in enumerate(t["rounds"])
        ],
    )
    body = head + "<p>Steering: calibration rounds move the sample's Korean byte share toward the target split.</p>"
    body += rounds
    comp = t.get("compression") or []
    if comp:
        fields = ("tokenizer", "set", "lang", "docs", "words", "chars", "bytes", "tokens")
        rows = [Row(**{k: c[k] for k in fields}) for c in comp]
        with tempfile.TemporaryDirectory() as tmp:
            files["tokenizer_compression.png"] = plot(rows, Path(tmp) / "c.png").read_bytes()
        body += (
            "<p>Compression on held-out documents (never sampled for training): tokens per word (EXAONE 3.0 reports "
            "1.44 English, 2.46 Korean for its tokenizer) and characters per token.</p>"
            '<img src="tokenizer_compression.png" alt="tokenizer compression">'
            + _table(
                ["tokenizer", "set", "docs", "words", "tokens", "tokens / word", "chars / token"],
                [
                    [
                        r.tokenizer,
                        r.set,
                        r.docs,
                        r.words,
                        r.tokens,
                        f"{r.tokens_per_word:.3f}",
                        f"{r.chars_per_token:.3f}",
                    ]
                    for r in rows
                ],
            )  # fmt: skip
        )
    return body


def training_section(t: dict) -> str:
    """A training run on the emitted data (the demo's tiny model): its loss curve and numbers."""
    valid = t.get("valid") or []
    rows = [[
        t["model"], t["parameters"], t["precision"], f"{t['seq_length']} x {t['global_batch_size']}",
        f"{t['steps']} / {t['train_iters']}", t["tokens"], f"{t['first_loss']:.3f}", f"{t['final_loss']:.3f}",
        f"{valid[0]['loss']:.3f} -> {valid[-1]['loss']:.3f}" if len(valid) >= 2 else "-",
        f"{t['tokens_per_s']:,.0f}" if t.get("tokens_per_s") else "-",
    ]]  # fmt: skip
    body = (
        "<h2>Training (megatron-core) on the emitted data</h2>"
        f"<p>blend <code>{html.escape(str(t.get('blend', '')))}</code> · output "
        f"<code>{html.escape(str(t.get('output_dir', '')))}</code> (metrics.jsonl, checkpoints)</p>"
        + _table(
            [
                "model",
                "parameters",
                "precision",
                "seq x global batch",
                "steps",
                "tokens",
                "first loss",
                "final loss (last 5)",
                "valid loss",
                "tokens/s",
            ],
            rows,
        )  # fmt: skip
    )
    if t.get("loss_png"):
        body += f'<img src="{html.escape(t["loss_png"])}" alt="training loss">'
    return body


def _pct(value) -> str:
    return f"{100 * value:.1f}" if isinstance(value, int | float) and 0 <= value <= 1 else "-"


def evaluation_section(ev: dict, files: dict[str, bytes]) -> str:
    """The exported model's evaluation (the demo's tiny model; demo.evaluation): its scores with English and Korean
    tasks side by side (eval.model_report's pairing) beside the accuracy of a random guess, the NIAH accuracy per
    length and its heatmaps (copied into the report folder as eval_niah_<lang>.png), and a link to the model's own
    eval report (lineage, every metric, samples)."""
    from eval.model_report import LANG_NAMES, normalize_results, side_by_side

    e = html.escape
    secs = ev.get("seconds") or {}
    ct = ev.get("chat_template") or {}
    body = (
        "<h2>Evaluation of the exported model</h2>"
        f"<p>The {e(str(ev.get('stage', '?')))} checkpoint <code>{e(str(ev.get('checkpoint', '?')))}</code> exported "
        f"({e(str(ev.get('dtype')))}) to <code>{e(str(ev.get('export', '?')))}</code> and scored on the CPU with "
        f"lm-eval on the first {ev.get('limit')} examples of each task ({ev.get('num_fewshot')}-shot, chat template "
        f"{'on' if ct.get('applied') else 'off'}) in files of the tasks' own layouts made from the demo's content "
        f"(<code>{e(str((ev.get('data') or {}).get('dir', '')))}</code>). A model of this size scores near chance: "
        f"the point is the path from checkpoint to report. Wall time {secs.get('total', '-')} s (export "
        f"{secs.get('export', '-')} s, benchmark files {secs.get('data', '-')} s, scores {secs.get('evaluate', '-')} "
        f"s, NIAH {secs.get('niah', '-')} s).</p>"
    )
    if ev.get("error"):
        body += f"<p><b>Stopped:</b> {e(str(ev['error']))}</p>"
    if ev.get("report_link"):
        body += (f'<p>The model\'s eval report (lineage from the Delta tables to these scores, every metric, samples): '
                 f'<a href="{e(ev["report_link"])}">{e(ev["report_link"])}</a>, linked in '
                 f'<code>{e(str(ev.get("reports_index") or "-"))}</code>.</p>')  # fmt: skip
    tasks = normalize_results({"results": ev.get("results") or {}})
    if tasks:
        chance = ev.get("chance") or {}

        def cells(t: dict | None) -> list[str]:
            if t is None:
                return ["—", "", "", ""]
            err = f" ± {100 * t['stderr']:.1f}" if t.get("stderr") and 0 <= t["value"] <= 1 else ""
            return [t["task"], t["metric"], _pct(t["value"]) + err, _pct(chance.get(t["task"]))]

        body += "<h3>Scores (%), English and Korean side by side</h3>" + _table(
            ["benchmark", "English task", "metric", "score", "chance", "Korean task", "metric", "score", "chance"],
            [[r["group"], *cells(r["en"]), *cells(r["ko"])] for r in side_by_side(tasks)],
        )
    niah = ev.get("niah") or {}
    if niah.get("cells"):
        langs = niah.get("languages") or []
        summary = niah.get("summary") or {}
        rows = [[f"{n:,}", *[_pct((summary.get(lang) or {}).get("by_length", {}).get(str(n))) for lang in langs]]
                for n in niah.get("lengths") or []]  # fmt: skip
        rows.append(["all lengths", *[_pct((summary.get(lang) or {}).get("mean")) for lang in langs]])
        depths = ", ".join(f"{100 * d:g}%" for d in niah.get("depths") or [])
        body += (f"<h3>Needle in a haystack (accuracy %, mean over depths {e(depths)})</h3>"
                 + _table(["context length", *[LANG_NAMES.get(lang, lang) for lang in langs]], rows))  # fmt: skip
        imgs = ""
        for lang, path in (niah.get("heatmaps") or {}).items():
            if Path(path).is_file():
                name = f"eval_niah_{lang}.png"
                files[name] = Path(path).read_bytes()
                imgs += (f'<img src="{e(name)}" style="max-width:49%" alt="NIAH heatmap, '
                         f'{e(LANG_NAMES.get(lang, lang))} haystack">')  # fmt: skip
        body += f'<div style="display:flex;flex-wrap:wrap;gap:1%">{imgs}</div>'
    return body


def emit_token_rows(token_stats: list[dict]) -> list[dict]:
    """The emit run's tokens per stage (stage 1; stage 2's long and replayed documents; stage 3's long and rehearsed
    ones when it is on), language and source,
    summed over the splits: documents, tokens, share of the stage's tokens, tokens per document, and the share of
    the train split's blend weight."""
    rows: dict[tuple, dict] = {}
    for r in token_stats:
        stage = r["stage"] if r["stage"] == "stage1" else f"{r['stage']} {r['role']}"
        key = (stage, r["lang"], r["source"])
        row = rows.setdefault(key, {"stage": stage, "lang": r["lang"], "source": r["source"], "documents": 0,
                                    "tokens": 0, "train_weight": 0.0})  # fmt: skip
        row["documents"] += r["documents"]
        row["tokens"] += r["tokens"]
        if r["split"] == "train":
            row["train_weight"] += r["blend_weight"]
    totals: dict[str, int] = {}
    for row in rows.values():
        totals[row["stage"][:6]] = totals.get(row["stage"][:6], 0) + row["tokens"]
    order = {"stage1": 0, "stage2 long": 1, "stage2 replay": 2, "stage3 long": 3, "stage3 rehearsal": 4}
    out = sorted(rows.values(), key=lambda r: (order.get(r["stage"], 9), *_lang_key(r["lang"]), r["source"]))
    for row in out:
        row["share"] = row["tokens"] / totals[row["stage"][:6]] if totals[row["stage"][:6]] else 0.0
        row["tokens_per_doc"] = row["tokens"] / row["documents"] if row["documents"] else 0.0
    return out


def _lang_key(lang: str) -> tuple[int, str]:
    return (LANG_ORDER.index(lang) if lang in LANG_ORDER else 99, lang)


def emit_chart(e: dict) -> bytes:
    """Left: tokens per stage, stacked by language (a color family each) and source (its shades). Right:
    documents per token length (powers of two), stage 1 and stage 2, with stage 2's length bounds."""
    rows = emit_token_rows(e["token_stats"])
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    groups = sorted({(r["lang"], r["source"]) for r in rows}, key=lambda g: (*_lang_key(g[0]), g[1]))
    families = {"ko": "Blues", "en": "Oranges", "ko+en": "Greens"}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 1.9 + 0.7 * len(stages)), width_ratios=(1.15, 1))
    y = list(range(len(stages)))[::-1]
    left = [0.0] * len(stages)
    for lang in dict.fromkeys(g[0] for g in groups):
        sources = [g[1] for g in groups if g[0] == lang]
        cmap = plt.get_cmap(families.get(lang, "Purples"))
        for i, source in enumerate(sources):
            vals = [sum(r["tokens"] for r in rows if (r["stage"], r["lang"], r["source"]) == (st, lang, source)) / 1e6
                    for st in stages]  # fmt: skip
            color = cmap(0.35 + 0.55 * (i / max(1, len(sources) - 1)))
            ax.barh(y, vals, left=left, color=color, edgecolor="white", linewidth=0.5, label=f"{lang} / {source}")
            left = [a + b for a, b in zip(left, vals, strict=True)]
    for yi, total in zip(y, left, strict=True):
        ax.text(total * 1.01, yi, f"{total:,.3f} M" if total < 10 else f"{total:,.1f} M", va="center", fontsize=8)
    ax.set_yticks(y, stages)
    ax.set_xlim(0, (max(left) or 1) * 1.18)
    ax.set_xlabel("million tokens (all splits)")
    ax.set_title("Emitted tokens per stage, language / source")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(5, len(groups)), frameon=False)
    hist = e.get("length_histogram") or []
    series = (("stage1", "all", "stage 1", "#4c72b0", 1.0), ("stage2", "long", "stage 2 long", "#dd8452", 1.2),
              ("stage2", "replay", "stage 2 replay", "#55a868", 1.4),
              ("stage3", "long", "stage 3 long", "#c44e52", 1.6),
              ("stage3", "rehearsal", "stage 3 rehearsal", "#8172b3", 1.8))  # fmt: skip
    for stage, role, label, color, shift in series:
        pts: dict[int, int] = {}
        for h in hist:  # manifests before roles were recorded: stage 2 as one series
            if h["stage"] == stage and h.get("role", role if stage == "stage1" else "long") == role:
                pts[h["min_tokens"]] = pts.get(h["min_tokens"], 0) + h["documents"]
        if pts:
            xs = sorted(pts)
            ax2.bar([x * shift for x in xs], [pts[x] for x in xs], width=[x * 0.18 for x in xs], align="edge",
                    color=color, label=label)  # fmt: skip
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    for key, style in (("min_tokens", "--"), ("max_tokens", ":")):
        if e.get(key) and e.get("replay_ratio") is not None:
            ax2.axvline(e[key], color="black", linestyle=style, linewidth=1, label=f"stage 2 {key} ({e[key]:,})")
    ax2.set_xlabel("tokens per document (bins of powers of two)")
    ax2.set_ylabel("documents")
    ax2.set_title("Document lengths")
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    return _png(fig)


def emit_section(e: dict, files: dict[str, bytes]) -> str:
    """The emitted Megatron datasets: token counts per stage, language and source (table + PNG), the blends,
    stage 2's replay, and where the run is."""
    files["emit_tokens.png"] = emit_chart(e)
    rows = emit_token_rows(e["token_stats"])
    state = "unchanged since it was emitted (same input, tokenizer and settings)" if e.get("unchanged") else (
        "emitted in this run")  # fmt: skip
    tok = e["tokenizer"]
    blends = ", ".join(f"<code>{html.escape(str(v))}</code>" for v in e["blends"].values())
    body = (
        "<h2>Emitted Megatron datasets</h2>"
        f"<p>run <code>{html.escape(e['run_id'])}</code> ({state}): {e['shards']:,} shards under "
        f"<code>{html.escape(str(e['run_dir']))}</code>, from training_corpus version {e['training_corpus_version']}"
        f", tokenizer {tok['sha256'][:12]} ({tok['vocab_size']:,} tokens, {tok['dtype']}, end of document "
        f"<code>{html.escape(tok['eod_token'])}</code> = {tok['eod_id']}). Blends: {blends}.</p>"
    )
    if e.get("replay_ratio") is not None and e.get("replay"):
        body += (
            f"<p>Stage 2: documents of at least {e['min_tokens']:,} tokens (pieces of at most {e['max_tokens']:,}) "
            f"plus replayed stage-1 documents, {100 * e['replay_ratio']:.0f}% of the blend weight; replayed share "
            "of stage 2's tokens: "
            + ", ".join(f"{split} {100 * r['replay_token_share']:.1f}%" for split, r in sorted(e["replay"].items()))
            + ".</p>"
        )
    body += '<img src="emit_tokens.png" alt="emitted tokens">' + _table(
        ["stage", "lang", "source", "documents", "tokens", "share of stage", "tokens / document", "train blend weight"],
        [[r["stage"], r["lang"], r["source"], r["documents"], r["tokens"], f"{100 * r['share']:.1f}%",
          f"{r['tokens_per_doc']:,.0f}", f"{r['train_weight']:.4f}"] for r in rows],
    )  # fmt: skip
    return body


POSTTRAIN_KINDS = (("conversations", "Conversations (SFT)"), ("pairs", "Preference pairs"))


def posttrain_funnel_chart(funnel: list[dict]) -> bytes:
    """Rows kept after each post-training stage, one panel per kind (conversations, preference pairs), stacked by
    language; each bar's total with its share of the records read."""
    kinds = [(k, t) for k, t in POSTTRAIN_KINDS if any(r["kind"] == k for r in funnel)]
    stages = list(dict.fromkeys(r["stage"] for r in funnel))
    langs = _ordered_langs(r["lang"] for r in funnel)
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(12, 1.3 + 0.5 * len(stages)), sharey=True,
                             squeeze=False)  # fmt: skip
    y = list(range(len(stages)))[::-1]
    for ax, (kind, title) in zip(axes[0], kinds, strict=False):
        rows = [r for r in funnel if r["kind"] == kind]
        left = [0.0] * len(stages)
        for lang in langs:
            vals = [sum(r["rows"] for r in rows if r["stage"] == st and r["lang"] == lang) for st in stages]
            color = "#bbbbbb" if lang == "all" else LANG_COLORS.get(lang, "#8c564b")
            ax.barh(y, vals, left=left, color=color, label=lang if lang != "all" else "all (before language id)")
            left = [a + b for a, b in zip(left, vals, strict=True)]
        top = max(left) if left and max(left) else 1
        base = next((v for v in left if v), 0)
        for yi, total, st in zip(y, left, stages, strict=True):
            if any(r["stage"] == st for r in rows):
                pct = f" ({100 * total / base:.0f}%)" if base else ""
                ax.text(total + top * 0.01, yi, f"{total:,.0f}{pct}", va="center", fontsize=8)
        ax.set_xlim(0, top * 1.3)
        ax.set_title(f"{title} kept per stage")
        ax.set_xlabel("records (read) / rows")
    axes[0][0].set_yticks(y, stages)
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[lab] for lab in labels], labels, loc="lower center", ncol=max(1, len(labels)), fontsize=8,
               frameon=False, title="language", title_fontsize=8)  # fmt: skip
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def posttrain_flags_chart(quarantine: list[dict], contamination: list[dict]) -> bytes:
    """Left: post-training records quarantined per reason, stacked by kind. Right: examples flagged as contaminated
    per table and turn (column, role), stacked by benchmark."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.3 * max(4, len({r["reason"] for r in quarantine}))))
    kind_colors = {"conversations": "#4c72b0", "pairs": "#dd8452", "-": "#8c8c8c"}
    reasons = sorted({r["reason"] for r in quarantine}, key=lambda x: sum(r["count"] for r in quarantine
                                                                         if r["reason"] == x))  # fmt: skip
    left = [0] * len(reasons)
    for kind in dict.fromkeys(r["kind"] for r in quarantine):
        vals = [sum(r["count"] for r in quarantine if r["reason"] == x and r["kind"] == kind) for x in reasons]
        ax.barh(reasons, vals, left=left, color=kind_colors.get(kind, "#8c8c8c"), label=kind)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:,}", va="center", fontsize=8)
    if reasons:
        ax.set_xlim(0, max(left) * 1.15)
        ax.legend(fontsize=8, title="kind", title_fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "nothing quarantined", ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("records")
    ax.set_title("Post-training records quarantined, by reason")
    # the table's order top to bottom (barh draws the first row at the bottom)
    where = list(dict.fromkeys(f"{r['table']}.{r['turn_column']} ({r['role'] or '-'})" for r in contamination))[::-1]
    benches = list(dict.fromkeys(r["benchmark"] for r in contamination))
    left2 = [0] * len(where)
    cmap = plt.get_cmap("Reds")
    for j, b in enumerate(benches):
        vals = [sum(r["examples"] for r in contamination if r["benchmark"] == b
                    and f"{r['table']}.{r['turn_column']} ({r['role'] or '-'})" == w) for w in where]  # fmt: skip
        ax2.barh(where, vals, left=left2, color=cmap(0.45 + 0.45 * j / max(1, len(benches) - 1)), label=b)
        left2 = [a + v for a, v in zip(left2, vals, strict=True)]
    for i, total in enumerate(left2):
        ax2.text(total, i, f" {total:,}", va="center", fontsize=8)
    if where:
        ax2.set_xlim(0, max(left2) * 1.2)
        ax2.legend(fontsize=8, title="benchmark", title_fontsize=8, loc="lower right")
    else:
        ax2.text(0.5, 0.5, "no benchmark text found", ha="center", va="center", transform=ax2.transAxes)
    ax2.tick_params(axis="y", labelsize=8)
    ax2.set_xlabel("examples flagged (a conversation or a pair)")
    ax2.set_title("Contamination found, by table and turn (role)")
    return _png(fig)


def posttrain_section(pt: dict, files: dict[str, bytes]) -> str:
    """Post-training data: the funnel per kind and language (records read to emitted), the post-training
    quarantine, why examples were dropped, contamination found per table / turn / benchmark, and the emitted
    datasets (packing efficiency, mask share)."""
    funnel = pt.get("funnel") or []
    e = pt.get("emit") or {}
    sft, pairs = e.get("sft") or {}, e.get("pairs") or {}
    head = "<h2>Post-training data: conversations and preference pairs</h2>"
    if e:
        state = "unchanged since it was emitted" if e.get("unchanged") else "the published run"
        notes = "".join(f" {html.escape(n)}." for n in e.get("notes") or [])
        head += f"<p>Emit run <code>{html.escape(str(e['run_id']))}</code> ({state}) under <code>" \
                f"{html.escape(str(e['run_dir']))}</code>."  # fmt: skip
        if sft:
            head += (
                f" SFT: {sft['examples']:,} conversations packed into {sft['sequences']:,} sequences of at most "
                f"{sft['seq_length']:,} tokens ({sft['tokens']:,} tokens, {sft['truncated']:,} truncated): packing "
                f"efficiency <b>{sft['packing_efficiency']:.3f}</b> (tokens / (sequences × seq_length)), mask share "
                f"<b>{sft['mask_share']:.3f}</b> (supervised tokens / tokens)."
            )
            train = (sft.get("splits") or {}).get("train")
            if train and train["sequences"] and len(sft["splits"]) > 1:
                eff = train["tokens"] / (train["sequences"] * sft["seq_length"])
                head += f" Train split alone: packing efficiency {eff:.3f} (each split packs on its own)."
        if pairs:
            head += f" Preference pairs: {pairs['pairs']:,}."
        head += notes + "</p>"
    else:
        head += "<p>Nothing emitted yet (no published post-training emit run).</p>"
    gate = pt.get("gate")
    if gate:
        verdict = "passed" if gate["passed"] else "FAILED: nothing is emitted past it"
        items = "".join(f"<li>{html.escape(m)}</li>" for m in gate["failed"])
        head += (
            f"<p>Post-training gate (Great Expectations): <b>{verdict}</b> ({gate['expectations']:,} expectations on "
            + html.escape(", ".join(f"{k} v{v}" for k, v in gate["table_versions"].items()))
            + f') · <a href="{html.escape(gate["data_docs"])}">Data Docs</a></p>'
            + (f"<ul>{items}</ul>" if items else "")
        )
    body = head
    if funnel:
        files["posttrain_funnel.png"] = posttrain_funnel_chart(funnel)
        body += (
            '<img src="posttrain_funnel.png" alt="post-training funnel per language">'
            "<p>records read = records of the sources (accepted + quarantined at ingest); accepted = rows read (a "
            "rated record may give several pairs); then the rows per language after normalize, after each step of "
            "the post-training select (language, dedup, signals, contamination) and in the emitted datasets.</p>"
        )
        for kind, title in POSTTRAIN_KINDS:
            rows = [r for r in funnel if r["kind"] == kind]
            if not rows:
                continue
            stages = list(dict.fromkeys(r["stage"] for r in rows))
            langs = _ordered_langs(r["lang"] for r in rows if r["lang"] != "all")
            body += f"<h3>{html.escape(title)}</h3>" + _table(
                ["stage", "total", *langs],
                [[st, sum(r["rows"] for r in rows if r["stage"] == st),
                  *(next((r["rows"] for r in rows if r["stage"] == st and r["lang"] == lang), "-") for lang in langs)]
                 for st in stages],
            )  # fmt: skip
    quarantine, contamination = pt.get("quarantine") or [], pt.get("contamination") or []
    files["posttrain_flags.png"] = posttrain_flags_chart(quarantine, contamination)
    body += '<img src="posttrain_flags.png" alt="post-training quarantine reasons and contamination found">'
    by_reason: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in quarantine:
        sources = by_reason.setdefault((r["stage"], r["kind"], r["reason"]), {})
        sources[r["source"]] = sources.get(r["source"], 0) + r["count"]
    body += "<h3>Quarantined (post-training stages)</h3>" + (
        _table(
            ["stage", "kind", "reason", "records", "sources"],
            [
                [stage, kind, reason, sum(src.values()), ", ".join(f"{k} {v:,}" for k, v in sorted(src.items()))]
                for (stage, kind, reason), src in sorted(by_reason.items())
            ],
        )  # fmt: skip
        if quarantine
        else "<p>nothing quarantined</p>"
    )
    if pt.get("selection_rules"):
        body += "<h3>Post-training select: why examples were dropped (first failing rule)</h3>" + _table(
            ["kind", "step", "rule", "examples"],
            [[r["kind"], r["step"], r["rule"], r["count"]] for r in pt["selection_rules"]],
        )
    body += (
        "<h3>Contamination found in turns</h3><p>turns = flagged turns; examples = conversations or pairs with a "
        "flagged turn (the select step drops them); benchmark examples = test examples found</p>"
        + (
            _table(
                ["table", "turn column", "role", "benchmark", "turns", "examples", "benchmark examples"],
                [
                    [
                        r["table"],
                        r["turn_column"],
                        r["role"] or "-",
                        r["benchmark"],
                        r["turns"],
                        r["examples"],
                        r["benchmark_examples"],
                    ]
                    for r in contamination
                ],
            )  # fmt: skip
            if contamination
            else "<p>no benchmark text found in any turn</p>"
        )
    )
    if sft or pairs:
        rows = [[f"sft {split}", v["examples"], v["sequences"], v["tokens"], v["supervised_tokens"],
                 f"{v['supervised_tokens'] / v['tokens']:.3f}" if v["tokens"] else "-",
                 f"{v['tokens'] / (v['sequences'] * sft['seq_length']):.3f}" if v["sequences"] else "-"]
                for split, v in sorted((sft.get("splits") or {}).items())]  # fmt: skip
        rows += [[f"pairs {split}", v["pairs"], "-", v["prompt_tokens"] + v["chosen_tokens"] + v["rejected_tokens"],
                  v["chosen_supervised_tokens"] + v["rejected_supervised_tokens"],
                  f"{v['chosen_supervised_tokens'] / v['chosen_tokens']:.3f} (chosen)" if v["chosen_tokens"] else "-",
                  "-"] for split, v in sorted((pairs.get("splits") or {}).items())]  # fmt: skip
        body += "<h3>Emitted datasets</h3>" + _table(
            ["dataset", "examples", "packed sequences", "tokens", "supervised tokens", "mask share",
             "packing efficiency"], rows)  # fmt: skip
        rejected = {f"{k}: {reason}": n for k, c in (e.get("counts") or {}).items() if isinstance(c, dict)
                    for reason, n in (c.get("rejected") or {}).items()}  # fmt: skip
        if rejected:
            body += "<p>Left out at emission: " + html.escape(", ".join(f"{k} {n:,}" for k, n in rejected.items()))
            body += "</p>"
    return body


def demo_checks_section(checks: list[dict]) -> str:
    """The demo's checks against its generator's ground truth (check, result, expected, ok)."""
    return "<h2>Demo: checks against the generated corpus's ground truth</h2>" + _table(
        ["check", "result", "expected", "verdict"],
        [[c["check"], c["result"], c["expected"], "pass" if c["ok"] else "FAIL"] for c in checks],
    )


def skipped_files_section(ingest: dict, limit: int = 200) -> str:
    """Ingest's files that were not read (hidden, empty, no records, symlink cycles, duplicates ...), each with
    its reason; the counts cover all of them, the table the first ``limit``."""
    extra = ingest.get("extra") or {}
    skipped = extra.get("skipped_files") or []
    files = extra.get("files") or {}
    counts = ", ".join(f"{reason} {n:,}" for reason, n in sorted((extra.get("skipped_by_reason") or {}).items()))
    head = (
        f"<h2>Ingest: skipped files</h2><p>{files.get('listed', 0):,} files listed, {files.get('read', 0):,} read, "
        f"{files.get('skipped', len(skipped)):,} skipped{': ' + counts if counts else ''}.</p>"
    )
    if not skipped:
        return head
    shown = skipped[:limit]
    more = files.get("skipped", len(skipped)) - len(shown)
    note = f"<p>… and {more:,} more (the run manifest lists up to 10,000).</p>" if more > 0 else ""
    rows = [[s["source"], s["file"], s["reason"], s.get("detail", "")] for s in shown]
    return head + _table(["source", "file", "reason", "detail"], rows) + note


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(f'{c:,}' if isinstance(c, int) else str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(summary: dict, write: Callable[[str, bytes], None]) -> list[str]:
    """Render ``summary`` (stages, funnel, quarantine, documents, table_versions, contamination,
    demo_checks, …) through ``write`` (name, bytes) and return the file names written; index.html
    links every chart, and summary.json holds ``summary`` itself."""
    files: dict[str, bytes] = {}
    sections: list[str] = []
    stages = summary.get("stages", [])
    if stages:
        sections.append(
            "<h2>Stages (this run)</h2>"
            + _table(
                ["stage", "rows in", "rows out", "rejected", "unchanged", "seconds"],
                [
                    [s["stage"], s["rows_in"], s["rows_out"], s["rows_rejected"], s["rows_unchanged"], s["seconds"]]
                    for s in stages
                ],
            )
        )
    if summary.get("demo_checks"):
        sections.append(demo_checks_section(summary["demo_checks"]))
    if summary.get("funnel_by_lang"):
        files["funnel.png"] = funnel_language_chart(summary["funnel_by_lang"])
        sections.append(
            "<h2>Funnel: documents and characters kept per stage and language (tables as they stand)</h2>"
            '<img src="funnel.png" alt="funnel">' + funnel_language_table(summary["funnel_by_lang"])
        )
    elif summary.get("funnel"):
        files["funnel.png"] = funnel_chart(summary["funnel"])
        sections.append('<h2>Funnel (tables as they stand)</h2><img src="funnel.png" alt="funnel">')
    if summary.get("selection_rules"):
        sections.append(
            "<h2>Selection: why documents were dropped</h2><p>first = documents whose first failing rule it is; "
            "any = documents failing it (a document fails one or more rules)</p>"
            + _table(
                ["lang", "rule", "step", "first", "any"],
                [[r["lang"], r["rule"], r["step"], r["first"], r["any"]] for r in summary["selection_rules"]],
            )
        )
    if summary.get("contamination"):
        sections.append(decontamination_section(summary, files, measured_detection_plot()))
    if summary.get("pii"):
        sections.append(pii_section(summary["pii"]))
    if summary.get("classifier"):
        c = summary["classifier"]
        sections.append(
            "<h2>Quality classifier (fastText)</h2>"
            + _table(
                ["train +", "train -", "held-out +", "held-out -", "precision", "recall", "F1", "AUC"],
                [
                    [
                        c["train_positive"],
                        c["train_negative"],
                        c["holdout_positive"],
                        c["holdout_negative"],
                        f"{c['precision']:.3f}",
                        f"{c['recall']:.3f}",
                        f"{c['f1']:.3f}",
                        f"{c['auc']:.3f}",
                    ]
                ],
            )  # fmt: skip
        )
    gate = summary.get("gate")
    if gate:
        verdict = "passed" if gate["passed"] else "FAILED: the run stopped here, no training data is emitted past it"
        items = "".join(f"<li>{html.escape(m)}</li>" for m in gate["failed"])
        sections.append(
            f"<h2>Gate (Great Expectations): {verdict}</h2>"
            + (f"<ul>{items}</ul>" if items else "")
            + f'<p><a href="{html.escape(gate["data_docs"])}">Data Docs</a> · validated table versions '
            + html.escape(", ".join(f"{k} v{v}" for k, v in gate["table_versions"].items()))
            + "</p>"
        )
    if summary.get("tokenizer"):
        sections.append(tokenizer_section(summary["tokenizer"], files))
    if summary.get("emit"):
        sections.append(emit_section(summary["emit"], files))
    if summary.get("posttrain"):
        sections.append(posttrain_section(summary["posttrain"], files))
    if summary.get("training"):
        sections.append(training_section(summary["training"]))
    if summary.get("alignment"):
        from eval.alignment import alignment_section

        sections.append(alignment_section(summary["alignment"], files, _table))
    if summary.get("evaluation"):
        sections.append(evaluation_section(summary["evaluation"], files))
    reasons: dict[str, int] = {}
    for row in summary.get("quarantine", []):
        key = f"{row['stage']}: {row['reason']}"
        reasons[key] = reasons.get(key, 0) + row["count"]
    files["quarantine.png"] = quarantine_chart(reasons)
    sections.append('<h2>Quarantine</h2><img src="quarantine.png" alt="quarantine reasons">')
    if summary.get("quarantine"):
        sections.append(
            _table(
                ["stage", "source", "reason", "records"],
                [[r["stage"], r["source"], r["reason"], r["count"]] for r in summary["quarantine"]],
            )
        )
    ingest = next((s for s in stages if s.get("stage") == "ingest" and (s.get("extra") or {}).get("files")), None)
    if ingest is not None:
        sections.append(skipped_files_section(ingest))
    docs = summary.get("documents") or {}
    if docs.get("per_lang"):
        files["languages.png"] = language_chart(docs["per_lang"])
        files["lengths.png"] = length_chart(docs["length_edges"], docs["length_hist"])
        sections.append('<h2>Languages</h2><img src="languages.png" alt="languages">')
        sections.append(
            _table(
                ["lang", "documents", "MB", "mean chars", "mean words", "mean lid score"],
                [
                    [
                        r["lang"],
                        r["docs"],
                        f"{r['bytes'] / 1e6:.2f}",
                        f"{r['mean_chars']:.0f}",
                        f"{r['mean_words']:.0f}",
                        f"{r['mean_lid_score']:.3f}",
                    ]
                    for r in docs["per_lang"]
                ],
            )
        )
        sections.append('<h2>Document lengths</h2><img src="lengths.png" alt="length histogram">')
    dedup = summary.get("dedup") or {}
    if dedup:
        files["cluster_sizes.png"] = cluster_size_chart(dedup.get("exact_sizes", []), dedup.get("near_sizes", []))
        sections.append('<h2>Duplicates</h2><img src="cluster_sizes.png" alt="duplicate cluster sizes">')
        for key, title in (("by_lang", "language"), ("by_source", "source")):
            sections.append(
                _table(
                    [title, "documents", "exact duplicates", "near duplicates", "duplicate rate"],
                    [
                        [
                            r[key.removeprefix("by_")],
                            r["docs"],
                            r["exact_duplicates"],
                            r["near_duplicates"] or 0,
                            f"{100 * (r['exact_duplicates'] + (r['near_duplicates'] or 0)) / r['docs']:.1f}%",
                        ]
                        for r in dedup.get(key, [])
                    ],
                )
            )
    if summary.get("table_versions"):
        sections.append(
            "<h2>Delta tables</h2>"
            + _table(
                ["table", "version", "rows"],
                [
                    [k, "-" if v is None else v, summary.get("table_counts", {}).get(k, "-")]
                    for k, v in summary["table_versions"].items()
                ],
            )
        )
    title = html.escape(summary.get("title", "moru run report"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th{{background:#f0f0f0}}td:first-child{{text-align:left}}img{{max-width:100%;border:1px solid #eee}}</style></head>
<body><h1>{title}</h1><p>workdir <code>{html.escape(summary.get("workdir", ""))}</code> · written {when}</p>
{"".join(sections)}</body></html>"""
    files["index.html"] = page.encode("utf-8")
    # the numbers behind the page, to re-render it or to read them without parsing HTML
    files["summary.json"] = json.dumps(summary, ensure_ascii=False, indent=1, default=str).encode("utf-8")
    for name, data in files.items():
        write(name, data)
    return sorted(files)
