"""Text in the demo's styles from one seeded ``random.Random``: :class:`TextMaker` fills the templates of
:mod:`demo.vocabulary` (with the Korean particle that fits, :func:`josa`) into sentences, paragraphs and whole
documents; :func:`near_duplicate` makes the edited copies the dedup stage must find."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from demo.vocabulary import (
    EN,
    EN_BOILER_FOOT,
    EN_BOILER_HEAD,
    EN_FORUM,
    EN_HEADLINE,
    EN_NEWS,
    JUNK_SHORT_KO,
    JUNK_SYMBOLS,
    KO,
    KO_BOILER_FOOT,
    KO_BOILER_HEAD,
    KO_FORUM,
    KO_HEADLINE,
    KO_NEWS,
    KO_PARTICLES,
    LOREM,
    MIX_EN,
    MIX_KO_PREFIX,
    MIX_KO_SUFFIX,
    MIX_OBJ,
    MIX_VBASE,
    MIX_WHEN,
    OTHER_LANG,
    SPAM_EN,
    SPAM_KO,
)

# ==================================================================== template filling
_SLOT = re.compile(r"\{(\w+)(?:\|(\w+))?\}")


def _compile(template: str) -> tuple:
    """A template as a tuple of literal strings and (category, particle) slots."""
    parts: list = []
    pos = 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            parts.append(template[pos : m.start()])
        parts.append((m.group(1), m.group(2)))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return tuple(parts)


_DIGIT_JONG = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}


def _jong(word: str) -> int:
    """Final-consonant index of the word's last syllable (0: none, 8: ㄹ), to choose particles."""
    ch = word.rstrip("\"')]%.")[-1:] or " "
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28
    if ch in _DIGIT_JONG:
        return _DIGIT_JONG[ch]
    return 8 if ch in "lLrR" else 4 if ch in "mMnN" else 0


def josa(word: str, particle: str) -> str:
    """``word`` with the Korean particle that fits its last syllable (은/는, 이/가, 을/를, 과/와, 으로/로)."""
    with_final, without = KO_PARTICLES[particle]
    jong = _jong(word)
    if particle == "으로":
        return word + ("로" if jong in (0, 8) else "으로")
    return word + (with_final if jong else without)


def _article(word: str) -> str:
    vowel = word[:1].lower() in "aeiou" and not word.lower().startswith(("uni", "use", "eu"))
    return ("an " if vowel else "a ") + word


class TextMaker:
    """Sentences and whole documents in every style, from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self._ko_news = [_compile(t) for t in KO_NEWS]
        self._ko_head = [_compile(t) for t in KO_HEADLINE]
        self._ko_forum = [_compile(t) for t in KO_FORUM]
        self._en_news = [_compile(t) for t in EN_NEWS]
        self._en_head = [_compile(t) for t in EN_HEADLINE]
        self._en_forum = [_compile(t) for t in EN_FORUM]
        self._mix_en = [_compile(t) for t in MIX_EN]
        self._boiler = {
            "ko": ([_compile(t) for t in KO_BOILER_HEAD], [_compile(t) for t in KO_BOILER_FOOT]),
            "en": ([_compile(t) for t in EN_BOILER_HEAD], [_compile(t) for t in EN_BOILER_FOOT]),
        }
        self._spam = {"ko": [_compile(t) for t in SPAM_KO], "en": [_compile(t) for t in SPAM_EN]}

    # ---------------------------------------------------------------- slots
    def _slot(self, cat: str, words: dict[str, tuple[str, ...]], picked: dict[str, str]) -> str:
        r = self.r
        if cat == "num":
            return str(r.choice((r.randint(2, 99), r.randint(100, 999), r.randint(2, 30))))
        if cat == "pct":
            return f"{r.randint(1, 45)}.{r.randint(0, 9)}"
        if cat == "n":
            return str(r.randint(2, 9))
        if cat == "nnnn":
            return f"{r.randint(0, 9999):04d}"
        if cat == "code":
            return "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
        if cat == "temp":
            return str(r.randint(24, 38))
        if cat == "rain":
            return str(r.randrange(20, 300, 10))
        if cat in ("hh", "hh2"):
            return f"{r.randint(6, 23):02d}"
        if cat == "mm":
            return f"{r.randint(0, 59):02d}"
        if cat == "year":
            return str(r.randint(2019, 2025))
        if cat in ("date", "edate"):
            d = datetime(2024, 1, 1) + timedelta(days=r.randrange(700))
            return d.strftime("%Y.%m.%d") if cat == "date" else d.strftime("%B %d, %Y")
        if cat == "kname":
            return r.choice(KO["surname"]) + r.choice(KO["given"])
        if cat == "ename":
            return f"{r.choice(EN['first'])} {r.choice(EN['last'])}"
        if cat == "obj":
            return r.choice(MIX_OBJ)
        if cat == "when":
            return r.choice(MIX_WHEN)
        capital = cat[0].isupper()
        base = cat.lower().rstrip("2")
        choices = words[base]
        word = r.choice(choices)
        if base in picked and len(choices) > 1:  # "{org} and {org2}": two different ones
            while word == picked[base]:
                word = r.choice(choices)
        picked[base] = word
        return word[0].upper() + word[1:] if capital else word

    def fill(self, parts: tuple, words: dict[str, tuple[str, ...]], capitalize: bool = True) -> str:
        out = []
        picked: dict[str, str] = {}
        for part in parts:
            if part.__class__ is str:
                out.append(part)
                continue
            cat, particle = part
            word = self._slot(cat, words, picked)
            if particle == "a":
                word = _article(word)
            elif particle:
                word = josa(word, particle)
            out.append(word)
        text = "".join(out)
        return text[0].upper() + text[1:] if capitalize and "a" <= text[:1] <= "z" else text

    # ---------------------------------------------------------------- sentences and paragraphs
    def sentence(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_news), KO)
        return self.fill(self.r.choice(self._en_news), EN)

    def headline(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_head), KO)
        return self.fill(self.r.choice(self._en_head), EN)

    def paragraph(self, lang: str, lo: int = 2, hi: int = 5) -> str:
        return " ".join(self.sentence(lang) for _ in range(self.r.randint(lo, hi)))

    def n_paragraphs(self, mean_log: float = 1.45) -> int:
        """Paragraph count with a long tail: most documents are 1-3 KB, a few much longer."""
        return max(1, min(40, int(self.r.lognormvariate(mean_log, 0.55))))

    def forum_line(self, lang: str) -> str:
        if lang == "ko":
            return self.fill(self.r.choice(self._ko_forum), KO)
        return self.fill(self.r.choice(self._en_forum), EN, capitalize=False)

    def mixed_sentence(self) -> str:
        r = self.r
        en = self.fill(r.choice(self._mix_en), {"vbase": MIX_VBASE})
        en = en[0].lower() + en[1:] if not en.startswith(("I ", "API")) else en
        suffix = r.choice(MIX_KO_SUFFIX)
        joiner = "" if suffix.startswith(("라고", "라는")) and r.random() < 0.5 else " "
        return f"{r.choice(MIX_KO_PREFIX)} {en}{joiner}{suffix}."

    def boiler_lines(self, lang: str, head: bool, k: int) -> list[str]:
        pool = self._boiler[lang][0 if head else 1]
        words = KO if lang == "ko" else EN
        return [self.fill(t, words) for t in self.r.sample(pool, k)]

    # ---------------------------------------------------------------- documents
    def document(self, style: str) -> tuple[str, str, dict]:
        """(text, intended language, parts) for one document of ``style``; ``parts`` keeps what
        near-duplicate edits need (title, boilerplate lines)."""
        r = self.r
        if style in ("news_ko", "news_en"):
            lang = style[-2:]
            head = self.headline(lang)
            pars = [self.paragraph(lang, 3, 6) for _ in range(self.n_paragraphs())]
            return "\n\n".join([head, *pars]), lang, {"title": head}
        if style in ("forum_ko", "forum_en"):
            lang = style[-2:]
            lines = [self.forum_line(lang) for _ in range(r.randint(1, 5) if lang == "ko" else r.randint(2, 5))]
            if r.random() < 0.3:  # a quoted reply
                quoted = self.forum_line(lang) if r.random() < 0.6 else self.sentence(lang)
                lines.insert(0, "> " + quoted)
            return "\n".join(lines), lang, {"title": lines[-1][:40]}
        if style in ("boiler_ko", "boiler_en"):
            lang = style[-2:]
            head = self.boiler_lines(lang, True, r.randint(2, 4))
            foot = self.boiler_lines(lang, False, r.randint(2, 4))
            title = self.headline(lang)
            body = "\n\n".join([title, *(self.paragraph(lang, 2, 4) for _ in range(r.randint(2, 4)))])
            text = "\n".join(head) + "\n\n" + body + "\n\n" + "\n".join(foot)
            return text, lang, {"title": title, "head": head, "foot": foot, "body": body}
        if style == "mixed":
            sents = []
            for _ in range(r.randint(3, 12)):
                sents.append(self.mixed_sentence())
                if r.random() < 0.35:
                    sents.append(self.sentence("ko"))
            pars = [" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3)]
            return "\n\n".join(pars), "ko+en", {"title": sents[0][:40]}
        if style in ("long_ko", "long_en"):
            return self.long_document(style[-2:])
        if style == "other":
            code = r.choices(("ja", "zh", "es"), (0.4, 0.35, 0.25))[0]
            sentences, joiner = OTHER_LANG[code]
            picked = r.sample(sentences, r.randint(2, 7))
            pars = [joiner.join(picked[i : i + 4]) for i in range(0, len(picked), 4)]
            return "\n\n".join(pars), "other", {"title": picked[0][:30], "code": code}
        return self.junk()

    def long_document(self, lang: str, min_chars: int | None = None) -> tuple[str, str, dict]:
        """A report over 16,000 characters: a title, numbered sections, many paragraphs."""
        r = self.r
        target = min_chars or r.randint(16_500, 40_000)
        title = self.headline(lang) + (" 종합 보고서" if lang == "ko" else ": a full report")
        names = (
            ("개요", "현황", "쟁점", "해외 사례", "전문가 의견", "향후 과제", "결론")
            if lang == "ko"
            else ("Overview", "Background", "Key issues", "Other countries", "What experts say", "Next steps")
        )
        parts, size, section = [title], len(title), 0
        while size < target:
            if section < len(names) and (section == 0 or r.random() < 0.15):
                parts.append(f"{section + 1}. {names[section]}")
                section += 1
            par = self.paragraph(lang, 3, 7)
            parts.append(par)
            size += len(par) + 2
        return "\n\n".join(parts), lang, {"title": title}

    def junk(self) -> tuple[str, str, dict]:
        """Very short posts, lorem ipsum, repeated-line spam, symbol/number soup."""
        r = self.r
        kind = r.choices(("short", "lorem", "spam", "symbols"), (0.25, 0.2, 0.3, 0.25))[0]
        if kind == "short":
            if r.random() < 0.6:
                text = " ".join(r.choice(JUNK_SHORT_KO) for _ in range(r.randint(1, 3)))
                return text, "ko", {"junk": kind}
            return "".join(r.choice(JUNK_SYMBOLS) for _ in range(r.randint(1, 8))), "und", {"junk": kind}
        if kind == "lorem":
            words = [r.choice(LOREM) for _ in range(r.randint(20, 150))]
            sents, i = [], 0
            while i < len(words):
                n = r.randint(6, 14)
                chunk = " ".join(words[i : i + n])
                sents.append(chunk[0].upper() + chunk[1:] + ".")
                i += n
            return " ".join(sents), "other", {"junk": kind}
        if kind == "spam":
            lang = r.choice(("ko", "en"))
            line = self.fill(r.choice(self._spam[lang]), KO if lang == "ko" else EN)
            return "\n".join([line] * r.randint(8, 40)), lang, {"junk": kind}
        rows = []
        for _ in range(r.randint(3, 30)):
            cells = [
                f"{r.randint(0, 99_999):,}",
                f"{r.uniform(-99, 99):.1f}%",
                r.choice("▲▼-=+*#"),
                f"{r.randint(2000, 2025)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            ]
            rows.append("| " + " | ".join(r.sample(cells, r.randint(2, 4))) + " |")
        return "\n".join(rows), "und", {"junk": kind}


# ==================================================================== near-duplicate edits
_HANGUL_WORD = re.compile(r"^[가-힣]{2,}")


def edit_words(lines: list[list[str]], slots: list[tuple[int, int]], kind: str, k: int, vocab: list[str],
               rng: random.Random) -> None:  # fmt: skip
    """In place: at ``k`` of the (line, word) ``slots``, insert a word from ``vocab`` before it,
    delete it (unless it is its line's only word), or substitute it (``kind``)."""
    for i, j in sorted(rng.sample(slots, min(k, len(slots))), reverse=True):
        if kind == "insert":
            lines[i].insert(j, rng.choice(vocab))
        elif kind == "delete" and len(lines[i]) > 1:
            del lines[i][j]
        else:
            lines[i][j] = rng.choice(vocab)


def near_duplicate(text: str, lang: str, parts: dict, rng: random.Random) -> tuple[str, str]:
    """A copy of ``text`` with a small edit; returns (new text, kind of edit): a few words
    inserted, deleted or substituted, the boilerplate header/footer swapped (``parts`` holds the
    lines), or, for Korean, spaces between eojeol removed or added."""
    kinds = ["insert", "delete", "substitute"]
    if lang == "ko":
        kinds += ["respace_removed", "respace_added"]
    if "head" in parts:
        kinds += ["boilerplate_swap", "boilerplate_swap"]
    kind = rng.choice(kinds)
    if kind == "boilerplate_swap":
        maker = TextMaker(rng)
        head = [maker.boiler_lines(lang, True, 1)[0] if rng.random() < 0.5 else h for h in parts["head"]]
        foot = [maker.boiler_lines(lang, False, 1)[0] if rng.random() < 0.5 else f for f in parts["foot"]]
        if head == parts["head"] and foot == parts["foot"]:
            foot = foot[1:] + [maker.boiler_lines(lang, False, 1)[0]]
        new = "\n".join(head) + "\n\n" + parts["body"] + "\n\n" + "\n".join(foot)
        return (new, kind) if new != text else (new + "\n" + foot[0], kind)

    lines = [line.split(" ") for line in text.split("\n")]
    slots = [(i, j) for i, words in enumerate(lines) for j in range(len(words)) if words[j]]
    if kind in ("respace_removed", "respace_added"):
        k = max(1, int(len(slots) * rng.uniform(0.05, 0.15)))
        if kind == "respace_removed":  # glue eojeol to the next one, as careless typists do
            gaps = [(i, j) for i, words in enumerate(lines) for j in range(len(words) - 1)]
            for i, j in sorted(rng.sample(gaps, min(k, len(gaps))), reverse=True):
                lines[i][j : j + 2] = [lines[i][j] + lines[i][j + 1]]
        else:  # split eojeol inside (e.g. before a particle): "정책을" -> "정책 을"
            cands = [(i, j) for i, j in slots if _HANGUL_WORD.match(lines[i][j])]
            for i, j in sorted(rng.sample(cands, min(k, len(cands))), reverse=True):
                w = lines[i][j]
                n = len(_HANGUL_WORD.match(w).group(0))
                cut = rng.randint(1, n - 1)
                lines[i][j : j + 1] = [w[:cut], w[cut:]]
    else:
        k = rng.randint(1, max(1, min(10, len(slots) // 40)))
        vocab = [w for key in ("field", "place", "thing", "adv") for w in (KO if lang != "en" else EN)[key]]
        vocab = [w for w in vocab if " " not in w]
        edit_words(lines, slots, kind, k, vocab, rng)
    new = "\n".join(" ".join(words) for words in lines)
    if new == text:  # an edit that changed nothing (e.g. a substitution by the same word)
        new = text + (" 다시" if lang != "en" else " again")
    return new, kind
