"""C4 heuristic signals.

Source: Raffel et al., "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer" (JMLR 2020), Section 2.2 "Colossal Clean Crawled Corpus": keep lines ending in a
terminal punctuation mark, drop lines with the word "javascript", drop pages with "lorem ipsum",
with a curly bracket, or (lines) with cookie/terms-of-use/privacy-policy boilerplate; lines need at
least 3 words (pages at least 3 sentences; sentence counting is left to the Korean/English kernels).

Signals (fractions of non-empty lines, or 0/1 flags for page-level markers): the share of lines
ending in terminal punctuation (``. ! ? "``, plus the Korean/CJK full stop ``。`` and the final
ending ``다.`` is covered by ``.``), of lines mentioning javascript, of policy lines, of lines with
fewer than 3 words; whether the page has "lorem ipsum" or ``{``.
"""

from __future__ import annotations

TERMINAL = (".", "!", "?", '"', "”", "'", "’", "。", "！", "？")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


def c4_signals(text: str) -> dict[str, float]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n = max(1, len(lines))
    lowered = [line.lower() for line in lines]
    page = text.lower()
    return {
        "c4_terminal_punct_lines_ratio": sum(line.endswith(TERMINAL) for line in lines) / n,
        "c4_javascript_lines_ratio": sum("javascript" in line for line in lowered) / n,
        "c4_policy_lines_ratio": sum(any(p in line for p in POLICY) for line in lowered) / n,
        "c4_short_lines_ratio": sum(len(line.split()) < 3 for line in lines) / n,
        "c4_has_lorem_ipsum": float("lorem ipsum" in page),
        "c4_has_curly_brace": float("{" in text),
    }
