"""Great Expectations gates over ``documents`` and ``training_corpus``: expectation suites as code
(:mod:`quality.gates.suites`), the checkpoint that runs them on Spark DataFrames and writes Data
Docs (:mod:`quality.gates.validate`), and the result every later step checks
(:mod:`quality.gates.result`). The config (:mod:`quality.gates.config`) and the result import no
Great Expectations, so loading a config stays cheap; reading the Delta tables and storing the
result is ``spark_jobs.gate``'s part."""

from quality.gates.config import DocumentsGateConfig, GatesConfig, LanguageShare, TrainingCorpusGateConfig
from quality.gates.result import ExpectationOutcome, GateFailed, GateResult, TableGate

__all__ = [
    "DocumentsGateConfig",
    "ExpectationOutcome",
    "GateFailed",
    "GateResult",
    "GatesConfig",
    "LanguageShare",
    "TableGate",
    "TrainingCorpusGateConfig",
]
