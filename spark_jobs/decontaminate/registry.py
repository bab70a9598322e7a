"""Moved: the benchmark registry is the :mod:`spark_jobs.decontaminate.benchmarks` package (layouts,
presets, config, loading). This name stays only for the importers not yet switched over."""

from spark_jobs.decontaminate.benchmarks import (
    PRESETS,
    BenchmarkConfig,
    BenchmarkError,
    Example,
    Fields,
    Format,
    Preset,
    load_examples,
)

__all__ = ["PRESETS", "BenchmarkConfig", "BenchmarkError", "Example", "Fields", "Format", "Preset", "load_examples"]
