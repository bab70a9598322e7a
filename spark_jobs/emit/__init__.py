"""Emission: ``training_corpus`` → Megatron indexed datasets (``.bin``/``.idx``), blend JSONs and a manifest
(:mod:`spark_jobs.emit.job`). ``python -m spark_jobs.emit --config x.yaml`` runs it on its own."""

from spark_jobs.emit.config import EmitConfig

__all__ = ["EmitConfig"]
