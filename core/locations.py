"""Where things live inside a workdir: every default location is defined here and nowhere else.

A config key may move one of them (``tokenizer.output_dir``, ``emit.output``, ``quality.classifier.model_path``,
``train.output_dir``); when it does not, these are the places.
"""

from __future__ import annotations

from core import storage


def tables(workdir: str) -> str:
    """Delta tables, one folder each (``tables/<name>``)."""
    return storage.join(workdir, "tables")


def table(workdir: str, name: str) -> str:
    return storage.join(workdir, "tables", name)


def report(workdir: str) -> str:
    """The run report (index.html, summary.json, PNGs) and the gate's Data Docs (``report/data_docs``)."""
    return storage.join(workdir, "report")


def manifests(workdir: str) -> str:
    return storage.join(workdir, "manifests")


def gates(workdir: str) -> str:
    """The gate's verdicts: ``latest.json`` and one ``gate-<time>.json`` per run."""
    return storage.join(workdir, "gates")


def classifier_model(workdir: str) -> str:
    """The fastText quality classifier (``.report.json`` beside it)."""
    return storage.join(workdir, "models", "quality.bin")


def models(workdir: str) -> str:
    return storage.join(workdir, "models")


def tokenizer_work(workdir: str) -> str:
    """The tokenizer's samples, held-out documents and evaluation (``tokenizer/{sample,heldout,eval}``)."""
    return storage.join(workdir, "tokenizer")


def tokenizer_model(workdir: str) -> str:
    """The trained Hugging Face tokenizer folder."""
    return storage.join(workdir, "tokenizer", "model")


def tokenizer_heldout(workdir: str) -> str:
    return storage.join(workdir, "tokenizer", "heldout")


def emit_output(workdir: str) -> str:
    """Megatron shards, blends and the emit manifest."""
    return storage.join(workdir, "emit")


def emit_meta(workdir: str) -> str:
    """Spark's per-document rows of an emit run whose output is an object store."""
    return storage.join(workdir, "_emit_meta")


def train_output(workdir: str, stage: str) -> str:
    """One training stage's output (checkpoints, metrics, loss.png)."""
    return storage.join(workdir, "train", stage)


def posttrain_gates(workdir: str) -> str:
    """The post-training gate's verdicts (``latest.json`` and one file per run), apart from pretraining's."""
    return storage.join(workdir, "gates", "posttrain")


def posttrain_emit_output(workdir: str) -> str:
    """Packed SFT and preference-pair datasets, their blends and manifest."""
    return storage.join(workdir, "posttrain_emit")


def align_output(workdir: str, step: str = "") -> str:
    """Alignment (``moru align``): ``sft`` (M0), ``reward/rm<k>``, one folder per preference stage (M1, M2, ...),
    and ``align_report.json``."""
    return storage.join(workdir, "align", step) if step else storage.join(workdir, "align")


def substring_indexes(workdir: str) -> str:
    """Decontamination's in-memory substring index, one file per build of ``benchmark_examples``
    (``benchmark_substrings-w<window>-<short window>-<id>.bin``, memory-mapped by the matching workers, and the
    example names beside it, ``….bin.names.arrow``)."""
    return storage.join(workdir, "indexes")
