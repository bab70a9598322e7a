"""Korean quality signals: the published rule sets (Gopher, C4, FineWeb) are English-centric.

Spacing is unreliable in Korean web text and words glue particles and endings to stems, so:

- ``ko_hangul_ratio`` / ``ko_hanja_ratio``: shares of Hangul and of Han characters (Hanja) among
  letters (:func:`quality.scripts.script_ratios`).
- ``ko_jamo_run_char_ratio``: characters in runs of two or more bare compatibility jamo
  (``ㅋㅋㅋ``, ``ㅠㅠ``, ``ㅎㅎ``) over all non-space characters: chat noise, not prose.
- ``ko_mean_eojeol_syllables`` and ``ko_long_eojeol_ratio``: mean Hangul syllables per
  whitespace word, and the share of Hangul words of ``LONG_EOJEOL`` (12) syllables or more. Prose
  averages 3-4; text with its spaces stripped (a common scraping artefact) has long runs.
- ``ko_sentence_ending_ratio``: of the sentences whose last word is Hangul, the share ending in a
  final ending (``다``, ``요``, ``죠``, ``까``, ``니다`` …, ``ENDINGS``), with or without the
  closing punctuation: well-formed prose ends its sentences; menus, titles and lists do not.
- ``ko_morphemes``: MeCab (mecab-ko-dic) morphemes without punctuation/symbol tags
  (:func:`quality.korean.count_words`), the word count that Gopher-style word rules use for Korean.
"""

from __future__ import annotations

import re

from quality.korean import count_words
from quality.scripts import script_ratios

ENDINGS = ("다", "요", "죠", "까", "니다", "네", "지", "음", "함", "임", "자", "라", "군", "나")
LONG_EOJEOL = 12
_JAMO_RUN = re.compile(r"[\u3131-\u318e]{2,}")
_NOT_SYLLABLE_OR_SPACE = re.compile(r"[^\uac00-\ud7a3\s]+")
_SENTENCE = re.compile(r"[^.!?。\n]+[.!?。]*")
_TRAILING = re.compile(r"[\s.!?。~\"'”’)\]]+$")


def korean_signals(text: str) -> dict[str, float]:
    ratios = script_ratios(text)
    visible = len(text) - sum(text.count(c) for c in " \n\t")
    jamo = sum(len(m) for m in _JAMO_RUN.findall(text))
    # Hangul syllables per whitespace word, words without any left out: keeping only syllables and
    # whitespace (re's \s is str.split's whitespace) leaves each word's syllables, and no empty word
    syllable_words = [len(w) for w in _NOT_SYLLABLE_OR_SPACE.sub("", text).split()]
    ended = hangul_final = 0
    for sentence in _SENTENCE.findall(text):
        core = _TRAILING.sub("", sentence.strip())
        if not core or not ("\uac00" <= core[-1] <= "\ud7a3"):
            continue
        hangul_final += 1
        ended += core.endswith(ENDINGS)
    return {
        "ko_hangul_ratio": ratios.hangul,
        "ko_hanja_ratio": ratios.han,
        "ko_jamo_run_char_ratio": jamo / visible if visible else 0.0,
        "ko_mean_eojeol_syllables": sum(syllable_words) / len(syllable_words) if syllable_words else 0.0,
        "ko_long_eojeol_ratio": sum(n >= LONG_EOJEOL for n in syllable_words) / len(syllable_words)
        if syllable_words
        else 0.0,
        "ko_sentence_ending_ratio": ended / hangul_final if hangul_final else 0.0,
        "ko_morphemes": float(count_words(text)),
    }
