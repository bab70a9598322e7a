"""moru: Korean/English corpora to training-ready Megatron datasets, and EXAONE-style training."""

__version__ = "0.1.0"
