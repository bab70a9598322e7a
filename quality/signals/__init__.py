"""Document quality signals: plain functions over one text, numbers only, no thresholds.

Each rule set is a module citing where it was published; the Spark job (issue 4) maps them over
Arrow batches. Words come from the caller (whitespace tokens for spaced text, MeCab morphemes for
Korean) so that word-based rules mean the same thing in both languages.
"""

from quality.signals.c4 import c4_signals
from quality.signals.fineweb import fineweb_signals
from quality.signals.gopher import gopher_quality, gopher_repetition
from quality.signals.korean import korean_signals

__all__ = ["c4_signals", "fineweb_signals", "gopher_quality", "gopher_repetition", "korean_signals"]
