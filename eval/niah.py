"""Needle in a haystack, RULER-style single needle, in Korean and English (``moru eval niah``).

One sentence — "The special magic number for {key} is: {value}." (Korean: "{key}의 특별한 마법 숫자는
{value}입니다.") with a 7-digit value and a made-up key — is put into real text of the same language at a depth
(0 = before the first sentence of the haystack, 1 = after the last), at the sentence boundary nearest that
depth. The prompt says a number is hidden, gives the haystack, asks for the key's number and ends with the
start of the answer ("The special magic number for {key} is"), inside the model's chat template when its
tokenizer has one (instruct models) or as a plain completion prompt otherwise. Greedy generation; a cell scores
1 when the value appears in the generated text (RULER's string match), and a cell's accuracy is the mean over
its samples.

**Lengths.** ``length`` is the context the test uses, as in RULER: prompt tokens + ``max_new_tokens`` =
``length``. The prompt is assembled from token ids (template head, haystack sentences, needle, question and
answer start, each tokenized on its own), so its length is exact: the haystack is whole sentences from a random
point of the language's text, the last one cut at a token boundary to fill what is left (backing off a token or
two so that no UTF-8 character is split). A length beyond the model's ``max_position_embeddings`` (its
config.json) is refused before anything is loaded.

**Haystack text** comes from the caller's files per language: JSONL (``text``, ``context`` or ``content``
field), plain text, a SQuAD/KorQuAD JSON (its paragraph contexts) or a JSON list; any of them gzipped. Sentences
are split at ``. ! ? 。`` followed by a space and at line breaks; a language's text is read up to about twelve
characters per token of the longest length and repeated when it is shorter than a haystack (``repeated`` in the
results says so).

Writes ``OUT/niah_results.json`` (every cell, every generation, a few full samples) and one heatmap per
language, ``OUT/niah_{lang}.png`` (x = context length, y = depth, colour = accuracy, red → green).
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

LANGUAGE_NAMES = {"ko": "Korean", "en": "English"}
DEFAULT_DEPTHS = [0.0, 0.25, 0.5, 0.75, 1.0]
MIN_LENGTH = 1024  # the shortest default length; shorter ones may be passed explicitly
CHARS_PER_TOKEN_BUDGET = 12  # characters read per token of the longest haystack (Korean ~1.5-3, English ~4-5)
MIN_HAYSTACK_TOKENS = 8
HAYSTACK_MARK = "\x00HAYSTACK\x00"
N_SAMPLES_KEPT = 6  # full prompts (shortened) kept in niah_results.json for the report


@dataclass(frozen=True)
class Language:
    """The words of one language's test: the needle, the instruction before the haystack, the question after it
    and the start of the answer (the generation continues it)."""

    code: str
    needle: str
    instruction: str
    question: str
    answer_prefix: str
    key_first: tuple[str, ...]
    key_second: tuple[str, ...]
    key_joiner: str


LANGUAGES = {
    "en": Language(
        code="en",
        needle="The special magic number for {key} is: {value}.",
        instruction="Somewhere in the text below there is a special magic number. Read carefully and remember it: "
        "you will be asked for it after the text.",
        question="Which special magic number for {key} does the text above mention?",
        answer_prefix="The special magic number for {key} is",
        key_first=tuple(
            "amber brisk calm dusty eager faint gentle hollow icy jolly "
            "lucky misty noble odd proud quiet rusty silent tidy vivid".split()
        ),
        key_second=tuple(
            "anchor badger candle dolphin engine falcon garden harbor island jacket "
            "kettle lantern meadow needle orchard pebble quarry river saddle tunnel".split()
        ),
        key_joiner="-",
    ),
    "ko": Language(
        code="ko",
        needle="{key}의 특별한 마법 숫자는 {value}입니다.",
        instruction="아래 글 어딘가에 특별한 마법 숫자가 하나 숨어 있습니다. 글을 주의 깊게 읽고 그 숫자를 기억해 "
        "두세요. 글이 끝나면 그 숫자를 묻겠습니다.",
        question="위 글에 나온 {key}의 특별한 마법 숫자는 무엇입니까?",
        answer_prefix="{key}의 특별한 마법 숫자는",
        key_first=tuple(
            "푸른 작은 조용한 붉은 오래된 하얀 따뜻한 차가운 빠른 느린 "
            "둥근 밝은 어두운 새로운 깊은 높은 낮은 맑은 넓은 좁은".split()
        ),
        key_second=tuple(
            "고래 등대 사과 우산 기차 호수 바위 나비 연필 다리 "
            "창문 거울 시계 구름 소나무 항구 모자 열쇠 정원 제비".split()
        ),
        key_joiner=" ",
    ),
}


def random_key(lang: str, rng: random.Random) -> str:
    spec = LANGUAGES[lang]
    return spec.key_joiner.join((rng.choice(spec.key_first), rng.choice(spec.key_second)))


def random_value(rng: random.Random) -> str:
    return str(rng.randint(1_000_000, 9_999_999))


def string_match(prediction: str, value: str) -> float:
    """RULER's string match for one reference: 1.0 when ``value`` occurs in the prediction (case-insensitive)."""
    return 1.0 if value.strip().lower() in (prediction or "").lower() else 0.0


# --- model context ------------------------------------------------------------------------------------------


def max_context(model_dir: str | Path) -> int:
    """``max_position_embeddings`` of the model's config.json."""
    cfg_path = Path(model_dir) / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path}: no config.json — pass a Hugging Face model folder (an exported "
                                f"checkpoint) as the model")  # fmt: skip
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    mpe = cfg.get("max_position_embeddings") or (cfg.get("text_config") or {}).get("max_position_embeddings")
    if not isinstance(mpe, int) or mpe <= 0:
        raise ValueError(f"{cfg_path}: no max_position_embeddings; the model's context length is unknown")
    return mpe


def default_lengths(model_context: int) -> list[int]:
    """Powers of two from 1,024 up to the model's context (the context itself, when it is no power of two)."""
    out = []
    n = MIN_LENGTH
    while n <= model_context:
        out.append(n)
        n *= 2
    if not out or out[-1] != model_context:
        out.append(model_context)
    return out


def depths_in_steps(step_percent: float) -> list[float]:
    """0 % to 100 % in steps of ``step_percent`` (e.g. 10 → 0.0, 0.1, …, 1.0), as fractions."""
    if not 0 < step_percent <= 100:
        raise ValueError(f"a depth step is between 0 and 100 %, not {step_percent}")
    n = int(math.floor(100 / step_percent + 1e-9))
    out = [round(i * step_percent / 100, 6) for i in range(n + 1)]
    return out if out[-1] == 1.0 else out + [1.0]


def check_lengths(lengths: Sequence[int], model_dir: str | Path, max_new_tokens: int) -> int:
    mpe = max_context(model_dir)
    too_long = [n for n in lengths if n > mpe]
    if too_long:
        raise ValueError(
            f"NIAH length {max(too_long):,} is beyond the model's context: {Path(model_dir) / 'config.json'} has "
            f"max_position_embeddings {mpe:,}. Pass lengths up to {mpe:,} (e.g. {default_lengths(mpe)}), or "
            f"evaluate a model whose context was extended to {max(too_long):,} tokens (export the long-context "
            f"checkpoint, whose config.json says so)."
        )
    too_short = [n for n in lengths if n <= max_new_tokens + MIN_HAYSTACK_TOKENS]
    if too_short or not lengths:
        raise ValueError(f"NIAH lengths must be longer than max_new_tokens ({max_new_tokens}) plus a haystack: "
                         f"{too_short or 'none given'}")  # fmt: skip
    return mpe


# --- haystack text ------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\s*\n+\s*")
_MAX_SENTENCE_CHARS = 400  # longer stretches without a sentence end are cut at spaces, to keep depths fine-grained


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _record_text(obj) -> str | None:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        for k in ("text", "context", "content"):
            if isinstance(obj.get(k), str):
                return obj[k]
    return None


def require_files(paths: Sequence[str | Path]) -> None:
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"NIAH haystack file {p} does not exist: pass existing files per language, "
                                    f"e.g. haystack_files={{'ko': ['news.jsonl'], 'en': ['wiki.txt.gz']}}")  # fmt: skip


def iter_file_texts(path: str | Path) -> Iterator[str]:
    """The texts of one haystack file (JSONL, JSON, or plain text; ``.gz`` too)."""
    p = Path(path)
    require_files([p])
    kind = p.name.removesuffix(".gz").rsplit(".", 1)[-1].lower()
    with _open_text(p) as fh:
        if kind == "jsonl":
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    text = _record_text(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{p}:{i}: not a JSON line ({e.msg})") from e
                if text:
                    yield text
        elif kind == "json":
            data = json.load(fh)
            if isinstance(data, dict) and isinstance(data.get("data"), list):  # SQuAD / KorQuAD
                for article in data["data"]:
                    for para in article.get("paragraphs", []):
                        if para.get("context"):
                            yield para["context"]
            elif isinstance(data, list):
                yield from (t for t in map(_record_text, data) if t)
            else:
                raise ValueError(f"{p}: a JSON haystack is a SQuAD-style {{'data': [...]}} or a list of texts")
        else:
            paragraph: list[str] = []
            for line in fh:
                if line.strip():
                    paragraph.append(line.strip())
                elif paragraph:
                    yield " ".join(paragraph)
                    paragraph = []
            if paragraph:
                yield " ".join(paragraph)


def split_sentences(text: str) -> list[str]:
    out = []
    for s in _SENTENCE_END.split(text):
        s = s.strip()
        while len(s) > _MAX_SENTENCE_CHARS:
            cut = s.rfind(" ", 0, _MAX_SENTENCE_CHARS)
            cut = cut if cut > _MAX_SENTENCE_CHARS // 2 else _MAX_SENTENCE_CHARS
            out.append(s[:cut].strip())
            s = s[cut:].strip()
        if s:
            out.append(s)
    return out


@dataclass
class Haystack:
    """One language's text as tokenized sentences (each encoded with a leading space, so they join as words)."""

    lang: str
    sentences: list[list[int]]
    files: list[str]
    chars: int

    @property
    def tokens(self) -> int:
        return sum(map(len, self.sentences))

    @classmethod
    def from_files(cls, lang: str, paths: Sequence[str | Path], tokenizer, max_chars: int) -> Haystack:
        if not paths:
            raise ValueError(f"no haystack files for {lang!r}")
        texts: list[str] = []
        chars = 0
        require_files(paths)
        for p in paths:
            for text in iter_file_texts(p):
                for s in split_sentences(text):
                    texts.append(s)
                    chars += len(s) + 1
                if chars >= max_chars:
                    break
            if chars >= max_chars:
                break
        if not texts:
            raise ValueError(f"the {lang} haystack files {list(map(str, paths))} hold no text")
        ids = tokenizer([" " + s for s in texts], add_special_tokens=False)["input_ids"]
        sentences = [list(x) for x in ids if x]
        return cls(lang=lang, sentences=sentences, files=[str(p) for p in paths], chars=chars)


# --- the prompt ---------------------------------------------------------------------------------------------


@dataclass
class NiahPrompt:
    """One test: its token ids and where the parts sit in them (``needle_start`` .. ``needle_end`` is the
    needle; ``haystack_start`` .. ``haystack_end`` the haystack with the needle in it)."""

    lang: str
    length: int
    depth: float
    key: str
    value: str
    input_ids: list[int]
    haystack_start: int
    haystack_end: int
    needle_start: int
    needle_end: int
    repeated: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def haystack_tokens(self) -> int:
        """Haystack tokens without the needle."""
        return self.haystack_end - self.haystack_start - (self.needle_end - self.needle_start)

    @property
    def actual_depth(self) -> float:
        """Where the needle is: the share of the haystack's tokens before it."""
        return (self.needle_start - self.haystack_start) / max(1, self.haystack_tokens)


def _frame(tokenizer, lang: str, key: str, chat: bool) -> tuple[list[int], list[int]]:
    """The ids before the haystack (template head + instruction) and after it (question + answer start)."""
    spec = LANGUAGES[lang]
    question = spec.question.format(key=key)
    answer = spec.answer_prefix.format(key=key)
    if chat:
        content = f"{spec.instruction}\n{HAYSTACK_MARK}\n\n{question}"
        text = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
        head, tail = text.split(HAYSTACK_MARK)
        tail = tail + answer
        head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    else:
        head, tail = f"{spec.instruction}\n", f"\n\n{question}\n{answer}"
        head_ids = tokenizer(head)["input_ids"]  # with BOS when the tokenizer adds one
        if head_ids and tokenizer.eos_token_id is not None and head_ids[-1] == tokenizer.eos_token_id:
            head_ids = head_ids[:-1]
    return list(head_ids), list(tokenizer(tail, add_special_tokens=False)["input_ids"])


def _clean_cut(tokenizer, ids: list[int], n: int) -> list[int]:
    """The first ``n`` ids of a sentence, or a token or two fewer where the cut would split a character."""
    for k in range(n, max(0, n - 4), -1):
        if "\ufffd" not in tokenizer.decode(ids[:k]):
            return ids[:k]
    return []


def build_prompt(tokenizer, haystack: Haystack, length: int, depth: float, key: str, value: str,
                 max_new_tokens: int = 16, chat: bool | None = None, start: int = 0) -> NiahPrompt:  # fmt: skip
    """The prompt of one test: ``length - max_new_tokens`` tokens (fewer by at most a few where the last haystack
    sentence could not be cut exactly), the needle at the sentence boundary nearest ``depth`` of the haystack.
    ``start`` is the index of the haystack's first sentence (the text wraps around)."""
    lang = haystack.lang
    if lang not in LANGUAGES:
        raise ValueError(f"no NIAH template for language {lang!r}; known: {sorted(LANGUAGES)}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"a needle depth is a fraction between 0 and 1 (50 % is 0.5), not {depth}")
    if chat is None:
        chat = bool(getattr(tokenizer, "chat_template", None))
    head, tail = _frame(tokenizer, lang, key, chat)
    needle = tokenizer(" " + LANGUAGES[lang].needle.format(key=key, value=value), add_special_tokens=False)
    needle = list(needle["input_ids"])
    budget = length - max_new_tokens - len(head) - len(tail) - len(needle)
    if budget < MIN_HAYSTACK_TOKENS:
        raise ValueError(f"NIAH length {length} leaves {budget} haystack tokens after the template, question, "
                         f"needle and {max_new_tokens} answer tokens: use a longer length")  # fmt: skip
    pieces: list[list[int]] = []
    used = 0
    n_sent = len(haystack.sentences)
    i = start % n_sent
    seen = 0
    while used < budget:
        sent = haystack.sentences[i]
        if used + len(sent) > budget:
            sent = _clean_cut(tokenizer, sent, budget - used)
            if not sent:
                break
        pieces.append(sent)
        used += len(sent)
        seen += 1
        i = (i + 1) % n_sent
    # the sentence boundary nearest the depth (the ends of the haystack are boundaries too)
    bounds = [0]
    for p in pieces:
        bounds.append(bounds[-1] + len(p))
    target = depth * used
    cut = min(range(len(bounds)), key=lambda b: (abs(bounds[b] - target), b))
    hay = [t for p in pieces[:cut] for t in p] + needle + [t for p in pieces[cut:] for t in p]
    ids = head + hay + tail
    hs = len(head)
    return NiahPrompt(lang=lang, length=length, depth=depth, key=key, value=value, input_ids=ids,
                      haystack_start=hs, haystack_end=hs + len(hay), needle_start=hs + bounds[cut],
                      needle_end=hs + bounds[cut] + len(needle), repeated=seen > n_sent,
                      meta={"chat_template": chat, "sentences": len(pieces)})  # fmt: skip


# --- generation ---------------------------------------------------------------------------------------------


def _load_tokenizer(model_dir: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def _load_model(model_dir: str, device: str, dtype: str | None):
    import torch
    from transformers import AutoModelForCausalLM

    if dtype is None:
        torch_dtype = torch.float32 if device == "cpu" else "auto"
    else:
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}: use float32, bfloat16 or float16")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype)
    return model.to(device).eval()


def generate(model, tokenizer, prompts: Sequence[list[int]], max_new_tokens: int) -> list[str]:
    """Greedy continuations of token-id prompts, batched with left padding."""
    import torch

    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[r, width - len(p) :] = 1
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=pad, num_beams=1,
                             temperature=None, top_p=None, top_k=None)  # fmt: skip
    return [tokenizer.decode(row[width:], skip_special_tokens=True) for row in out.tolist()]


def prompt_excerpt(tokenizer, p: NiahPrompt, window: int = 48) -> str:
    """The prompt's text around its parts — the start, the needle, the end — with what lies between left out."""
    n = len(p.input_ids)
    spans = [(0, p.haystack_start + window), (p.needle_start - window, p.needle_end + window),
             (p.haystack_end - window, n)]  # fmt: skip
    merged: list[list[int]] = []
    for a, b in spans:
        a, b = max(0, a), min(n, b)
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    parts = []
    for i, (a, b) in enumerate(merged):
        if i:
            parts.append(f" … [{a - merged[i - 1][1]:,} tokens] … ")
        parts.append(tokenizer.decode(p.input_ids[a:b]).strip("\ufffd"))  # a window's edge may split a character
    return "".join(parts)


# --- the heatmap --------------------------------------------------------------------------------------------


def _length_label(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 else f"{n:,}"


def heatmap_png(lang: str, lengths: Sequence[int], depths: Sequence[float], acc: dict[tuple[int, float], float],
                title: str) -> bytes:  # fmt: skip
    """Accuracy per (length, depth): lengths left to right, depth 0 % at the top, red (0) to green (1)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("niah", ["#d73027", "#fdae61", "#fee08b", "#a6d96a", "#1a9850"])
    grid = [[acc.get((n, d), float("nan")) for n in lengths] for d in depths]
    fig, ax = plt.subplots(figsize=(max(5.0, 2.2 + 0.85 * len(lengths)), 1.6 + 0.42 * len(depths)))
    im = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for yi, row in enumerate(grid):
        for xi, v in enumerate(row):
            if v == v:  # not NaN
                ax.text(xi, yi, f"{100 * v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v < 0.15 or v > 0.85 else "black")  # fmt: skip
    ax.set_xticks(range(len(lengths)), [_length_label(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{100 * d:g}%" for d in depths])
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("needle depth")
    ax.set_xticks([x - 0.5 for x in range(1, len(lengths))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(depths))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    head, _, rest = title.partition("\n")
    ax.set_title(head + (f"\n{rest}" if rest else ""), fontsize=10)
    cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.03)
    cbar.set_label("accuracy (%)")
    cbar.set_ticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0", "25", "50", "75", "100"])
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


# --- the run ------------------------------------------------------------------------------------------------


def run_niah(model_dir: str, out_dir: str, lengths: list[int] | None = None, depths: list[float] | None = None,
             haystack_files: dict[str, list[str]] | None = None, samples_per_cell: int = 1, seed: int = 0,
             device: str = "cpu", dtype: str | None = None, max_new_tokens: int = 16,
             batch_size: int | None = None) -> dict:  # fmt: skip
    """Run the single-needle test for every (language, length, depth) cell, ``samples_per_cell`` needles each;
    write ``out_dir/niah_results.json`` and ``niah_{lang}.png``; return the results. ``batch_size`` = prompts
    generated together (default: as many as fit 32K tokens, at least 1)."""
    started = time.time()
    if not haystack_files:
        raise ValueError("NIAH needs haystack text: pass haystack_files={'ko': [...], 'en': [...]} (JSONL with a "
                         "text field, plain .txt, KorQuAD JSON; .gz ok)")  # fmt: skip
    unknown = sorted(set(haystack_files) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"no NIAH template for {unknown}; languages: {sorted(LANGUAGES)}")
    for files in haystack_files.values():
        require_files(files)
    if samples_per_cell < 1:
        raise ValueError("samples_per_cell must be at least 1")
    mpe = max_context(model_dir)
    lengths = sorted(set(lengths)) if lengths else default_lengths(mpe)
    check_lengths(lengths, model_dir, max_new_tokens)
    depths = sorted(set(depths)) if depths is not None else list(DEFAULT_DEPTHS)
    bad = [d for d in depths if not 0.0 <= d <= 1.0]
    if bad or not depths:
        raise ValueError(f"needle depths are fractions between 0 and 1 (50 % is 0.5), not {bad or 'none'}")

    # every prompt first (tokenizer only): a haystack or length problem shows before the model is loaded
    tokenizer = _load_tokenizer(model_dir)
    chat = bool(getattr(tokenizer, "chat_template", None))
    haystack_info: dict[str, dict] = {}
    planned: dict[tuple[str, int], list[NiahPrompt]] = {}
    for lang, files in haystack_files.items():
        hay = Haystack.from_files(lang, files, tokenizer, max_chars=CHARS_PER_TOKEN_BUDGET * max(lengths) + 10_000)
        haystack_info[lang] = {"files": hay.files, "sentences": len(hay.sentences), "tokens": hay.tokens,
                               "characters": hay.chars, "repeated": False}  # fmt: skip
        for length in lengths:
            prompts = planned.setdefault((lang, length), [])
            for depth in depths:
                for s in range(samples_per_cell):
                    rng = random.Random(f"{seed}/{lang}/{length}/{depth}/{s}")
                    p = build_prompt(tokenizer, hay, length, depth, random_key(lang, rng), random_value(rng),
                                     max_new_tokens, chat, start=rng.randrange(len(hay.sentences)))  # fmt: skip
                    p.meta["sample"] = s
                    prompts.append(p)
                    haystack_info[lang]["repeated"] |= p.repeated

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _load_model(model_dir, device, dtype)
    shown = [f"{100 * d:g}%" for d in depths]
    print(f"[niah] {model_dir}: context {mpe:,}, lengths {lengths}, depths {shown}, {samples_per_cell} sample(s)"
          f" per cell, {'chat template' if chat else 'plain prompt'}", flush=True)  # fmt: skip
    cells: list[dict] = []
    records: list[dict] = []
    samples: list[dict] = []
    heatmaps: dict[str, str] = {}
    for lang in haystack_files:
        if haystack_info[lang]["repeated"]:
            info = haystack_info[lang]
            print(f"[niah] {lang}: the haystack text ({info['tokens']:,} tokens) is shorter than the longest "
                  f"haystack and repeats; pass more {lang} files for a haystack without repeats")  # fmt: skip
        acc: dict[tuple[int, float], float] = {}
        for length in lengths:
            prompts = planned[(lang, length)]
            bs = batch_size or max(1, 32_768 // length)
            outputs: list[str] = []
            done = 0  # depths reported so far (prompts are ordered by depth, then sample)
            t0 = time.time()
            for b in range(0, len(prompts), bs):
                outputs += generate(model, tokenizer, [p.input_ids for p in prompts[b : b + bs]], max_new_tokens)
                while done < len(depths) and len(outputs) >= (done + 1) * samples_per_cell:
                    depth = depths[done]
                    mine = list(zip(prompts, outputs, strict=False))[done * samples_per_cell :][:samples_per_cell]
                    scores = [string_match(o, p.value) for p, o in mine]
                    accuracy = sum(scores) / len(scores)
                    acc[(length, depth)] = accuracy
                    cells.append({"language": lang, "length": length, "depth": depth, "accuracy": accuracy,
                                  "n": len(scores), "prompt_tokens": [len(p.input_ids) for p, _ in mine],
                                  "actual_depth": [round(p.actual_depth, 4) for p, _ in mine]})  # fmt: skip
                    for (p, o), sc in zip(mine, scores, strict=True):
                        records.append({"language": lang, "length": length, "depth": depth,
                                        "sample": p.meta["sample"], "key": p.key, "value": p.value, "output": o,
                                        "score": sc, "prompt_tokens": len(p.input_ids),
                                        "actual_depth": round(p.actual_depth, 4)})  # fmt: skip
                    print(f"[niah] {lang} length {length:>7,} depth {100 * depth:5.1f}%: {int(sum(scores))}/"
                          f"{len(scores)} found ({accuracy:.2f}), {time.time() - t0:.1f} s", flush=True)  # fmt: skip
                    done += 1
                    t0 = time.time()
            # a few whole samples for the report: the shortest and longest length, middle depth
            if length in (lengths[0], lengths[-1]):
                p, o = min(zip(prompts, outputs, strict=True), key=lambda po: abs(po[0].depth - 0.5))
                samples.append({"task": "niah", "language": lang, "length": length, "depth": p.depth,
                                "prompt": prompt_excerpt(tokenizer, p), "output": o,
                                "target": p.value, "score": string_match(o, p.value)})  # fmt: skip
        mean = sum(acc.values()) / len(acc)
        name = f"niah_{lang}.png"
        title = (f"NIAH · {LANGUAGE_NAMES.get(lang, lang)} haystack · mean {100 * mean:.1f}%\n"
                 f"{Path(model_dir).name} · {samples_per_cell} needle(s) per cell")  # fmt: skip
        (out / name).write_bytes(heatmap_png(lang, lengths, depths, acc, title))
        heatmaps[lang] = name
    summary = {
        lang: {
            "mean": sum(c["accuracy"] for c in cells if c["language"] == lang)
            / max(1, sum(1 for c in cells if c["language"] == lang)),
            "by_length": {str(n): sum(c["accuracy"] for c in cells if c["language"] == lang and c["length"] == n)
                          / len(depths) for n in lengths},
        }
        for lang in haystack_files
    }  # fmt: skip
    results = {
        "task": "niah_single",
        "model_dir": str(model_dir),
        "out_dir": str(out),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "max_position_embeddings": mpe,
        "lengths": lengths,
        "depths": depths,
        "languages": list(haystack_files),
        "samples_per_cell": samples_per_cell,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "device": device,
        "dtype": dtype,
        "chat_template": chat,
        "scoring": "string match: 1 when the needle's value appears in the generated text",
        "haystack": haystack_info,
        "summary": summary,
        "cells": cells,
        "heatmaps": heatmaps,
        "samples": samples[:N_SAMPLES_KEPT],
        "records": records,
        "seconds": round(time.time() - started, 2),
    }
    (out / "niah_results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print("[niah] mean accuracy: " + ", ".join(f"{k} {100 * v['mean']:.1f}%" for k, v in summary.items())
          + f"; wrote {out / 'niah_results.json'}", flush=True)  # fmt: skip
    return results
