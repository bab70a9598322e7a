"""Text-level kernels that need no Spark: normalization, scripts, language id, Korean morphology."""
