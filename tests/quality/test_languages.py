"""Languages as configuration (issue 25): the ``languages`` key, de/ja/vi language id, per-language
word splitting, stop words and thresholds, and Japanese character shingles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError
from moru.config import load_config
from quality.dedup.shingles import shingles
from quality.langid import LangIdConfig, identify
from quality.languages import japanese_words, spaced_words
from quality.signals.compute import document_signals, words_of
from spark_jobs.select import ENGLISH, GERMAN, JAPANESE, VIETNAMESE, SelectConfig

FIVE = ("ko", "en", "de", "ja", "vi")
SHORT = {
    "de": "Das ist ein kurzer deutscher Satz über das Wetter in Berlin.",
    "ja": "今日は東京でとても良い天気でした。",
    "vi": "Hôm nay trời đẹp và chúng tôi đi dạo trong công viên.",
}


def _config(tmp_path: Path, body: str):
    path = tmp_path / "moru.yaml"
    path.write_text(f"workdir: {tmp_path / 'w'}\n{body}", encoding="utf-8")
    return load_config(path)


def test_default_languages_are_ko_en_and_change_nothing(tmp_path):
    cfg = _config(tmp_path, "")
    assert cfg.languages == ["ko", "en"]
    assert cfg.select == SelectConfig()
    assert not cfg.dedup.minhash.cjk_chars()


def test_five_languages_are_selected_with_their_fineweb2_thresholds(tmp_path):
    cfg = _config(tmp_path, "languages: [ko, en, de, ja, vi]\n")
    assert cfg.select.languages == ["ko", "en", "ko+en", "de", "ja", "vi"]
    rules = {lang: dict(cfg.select.rules_for(lang)) for lang in ("de", "ja", "vi")}
    assert rules["ja"]["gopher_mean_word_length"].max == 5 and rules["vi"]["gopher_mean_word_length"].min == 3
    assert rules["de"]["gopher_alpha_words_ratio"].min == 0.774
    assert "fineweb_line_punct_ratio" not in rules["de"]  # FineWeb-2's line_punct_thr 0 for German
    assert rules["ja"]["gopher_dup_5gram_char_frac"].max == 0.307
    assert cfg.dedup.minhash.cjk_chars()
    assert cfg.gates.documents.languages[-3:] == ["de", "ja", "vi"]
    assert cfg.gates.training_corpus.languages == ["ko", "en", "ko+en", "de", "ja", "vi"]
    # a given select.languages is kept; given thresholds are merged over the language's defaults
    cfg = _config(
        tmp_path,
        "languages: [ko, en, ja]\nselect:\n  languages: [ko, ja]\n  thresholds: {ja: {gopher_n_words: {min: 10}}}\n",
    )
    assert cfg.select.languages == ["ko", "ja"]
    ja = dict(cfg.select.rules_for("ja"))
    assert ja["gopher_n_words"].min == 10 and ja["gopher_stop_words"].min == 2
    assert GERMAN is not ENGLISH and JAPANESE["gopher_top_2gram_char_frac"] == {"max": 0.121}


def test_each_language_is_sampled_for_the_tokenizer(tmp_path):
    from tokenizer.config import DEFAULT_OTHER_SHARE

    assert _config(tmp_path, "").tokenizer.sample.other_langs == {}
    cfg = _config(tmp_path, "languages: [ko, en, de, ja, vi]\n")
    assert cfg.tokenizer.sample.other_langs == dict.fromkeys(["de", "ja", "vi"], DEFAULT_OTHER_SHARE)
    # a share given is kept, the languages not named get the default
    cfg = _config(tmp_path, "languages: [ko, en, ja, vi]\ntokenizer: {sample: {other_langs: {ja: 0.2}}}\n")
    assert cfg.tokenizer.sample.other_langs == {"ja": 0.2, "vi": DEFAULT_OTHER_SHARE}
    assert VIETNAMESE["fineweb_newlines_per_word"] == {"max": 0.103}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("languages: [ko, en, fr]\n", "unknown language code 'fr'"),
        ("languages: [ko, ko]\n", "listed twice"),
        ("languages: []\n", "at least one language"),
    ],
)
def test_bad_languages_name_the_key(tmp_path, body, needle):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, body)
    assert "languages" in str(err.value) and needle in str(err.value)


def test_a_language_whose_word_splitter_is_missing_fails_at_config_time(tmp_path):
    """A fresh interpreter where ``import fugashi`` fails (as it does when the package is not
    installed: a None entry in sys.modules makes the import raise ImportError)."""
    path = tmp_path / "moru.yaml"
    path.write_text(f"workdir: {tmp_path / 'w'}\nlanguages: [ko, en, ja]\n", encoding="utf-8")
    code = (
        f"import sys; sys.modules['fugashi'] = None\nfrom moru.config import load_config\nload_config({str(path)!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode != 0
    assert "languages" in done.stderr and "'ja' needs its word splitter" in done.stderr
    assert "pip install fugashi unidic-lite" in done.stderr


def test_short_texts_of_each_language_get_their_label_only_when_configured():
    cfg = LangIdConfig()
    texts = [
        *SHORT.values(),
        "今天北京的天气很好，我们去公园散步了。",
        "Hom nay troi dep va chung toi di dao trong cong vien.",
    ]
    default = [r[0] for r in identify(texts, cfg)]
    five = [r[0] for r in identify(texts, cfg, FIVE)]
    assert default == ["other"] * 5
    # Chinese (no kana) is not Japanese; Vietnamese without its diacritics is not taken
    assert five == ["de", "ja", "vi", "other", "other"]
    # ko and en are labelled as before under five languages
    assert [r[0] for r in identify(["오늘은 날씨가 좋습니다.", "The cat sat on the mat today."], cfg, FIVE)] == [
        "ko",
        "en",
    ]


def test_japanese_words_are_morphemes_without_punctuation():
    assert japanese_words("「東京」に行きました！") == ["東京", "に", "行き", "まし", "た"]
    assert words_of("今日は良い天気です。", "ja") == ["今日", "は", "良い", "天気", "です"]
    # before: one whitespace token for the whole sentence
    assert words_of("今日は良い天気です。", "other") == ["今日は良い天気です。"]


def test_german_and_vietnamese_words_drop_edge_punctuation_on_any_unicode_space():
    assert spaced_words("„Das Haus“,\u00a0sagte er — ja.") == ["Das", "Haus", "sagte", "er", "ja"]
    assert words_of("Người Việt: đã đến.", "vi") == ["Người", "Việt", "đã", "đến"]


def test_per_language_stop_words_and_word_counts():
    de = document_signals("Der Hund und die Katze spielen in dem Garten.", "de")
    assert de["gopher_stop_words"] == 5 and de["gopher_n_words"] == 9
    ja = document_signals("今日は東京でとても良い天気でした。私たちは公園で散歩しました。", "ja")
    assert ja["gopher_stop_words"] >= 3 and ja["gopher_n_words"] == 18
    assert 1 <= ja["gopher_mean_word_length"] <= 5
    vi = document_signals("Hôm nay là một ngày đẹp và người dân đã ra công viên.", "vi")
    assert vi["gopher_stop_words"] == 5
    # ko, en, other: the English list, as before
    assert document_signals("The cat and the dog.", "en")["gopher_stop_words"] == 2
    assert document_signals("Der Hund und die Katze.", "other")["gopher_stop_words"] == 0


def test_japanese_shingles_are_character_ngrams_blind_to_spacing():
    a = "東京都は日本の首都であり、多くの人々が住んでいます。"
    b = "東京都は 日本の首都であり、 多くの人々が 住んでいます。"
    sa, sb = shingles(a, 5, "char", 12, cjk_chars=True), shingles(b, 5, "char", 12, cjk_chars=True)
    assert sa == sb and all(len(s.decode()) == 12 for s in sa)
    assert len(sa) == len("東京都は日本の首都であり多くの人々が住んでいます") - 12 + 1
    # off (the default): kana and kanji stay one-character units of the word stream, as before
    assert shingles(a, 5, "char", 12) != sa and all(" " in s.decode() for s in shingles(a, 5, "char", 12))
    # German and Vietnamese: word 5-grams, accents kept, case folded
    assert shingles("Über die Brücke gehen wir heute", 5) == {
        b"\xc3\xbcber die br\xc3\xbccke gehen wir",
        "die brücke gehen wir heute".encode(),
    }
