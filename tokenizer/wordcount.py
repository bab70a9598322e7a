"""The BPE trainer's word-frequency table, computed once per distinct chunk of text instead of once per byte.

HF ``tokenizers``' BPE trainer learns from a table of (pre-tokenized word, count): it pre-tokenizes every
training text, counts the words, then runs its merge loop over the distinct words. Profiled on the tokenizer
benchmark's text (benchmarks/RESULTS.md), the pre-tokenization dominates (about two thirds of the trainer's time:
the split pattern runs on every byte) and MeCab marking of the Korean documents costs as much again. Both depend
only on the text of a short span, and natural text repeats its spans, so here:

1. each text is cut into *chunks* at every space that follows a non-whitespace character (``str.split`` at C
   speed); the split pattern never puts a token across such a space (a token holding a space either starts
   with it or is all whitespace), so pre-tokenizing a chunk alone gives exactly the words it has in the text.
   Texts with a space after whitespace (double spaces, indented lines) are cut with a regular expression
   at the same positions; the chunks are counted per language group;
2. the distinct Korean (and Japanese) chunks are MeCab-marked (:func:`tokenizer.mecab.mark_boundaries`), many
   per MeCab call;
3. the distinct chunks are pre-tokenized by the trainer's own pre-tokenizer (one call per batch) and the words
   summed with their chunk's count;
4. the trainer gets each distinct byte-level word with its count, as ``word word word …`` split on whitespace
   (the byte-level alphabet has no whitespace character), so its word table is the same as from the texts.

Step 4 is exact: the trainer's merges depend only on its word table, which is the same. Step 2 is not: MeCab
sees a chunk beside other chunks instead of its own sentence, so a few morpheme boundaries differ (measured in
benchmarks/RESULTS.md; compression on held-out text is unchanged within noise). With ``mecab`` off the whole
path is exact.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

from tokenizer.bytelevel import byte_level
from tokenizer.mecab import MARK, has_script, mark_boundaries

_SPACE_AFTER_WS = re.compile(r"[^\S\x1f] ")  # whitespace (Python's \s, a superset of onig's) before a space
_CUT = re.compile(r"(?<=[\S\x1f])(?= )")  # before a space that follows a non-whitespace character or a MARK
_SEP = "\x1e"  # joins distinct Korean chunks for one MeCab call (a chunk holding it is marked alone)
_BATCH_CHARS = 1 << 16
# the default split pattern on pieces of "safe" characters, whose classes are the same in every Unicode version
# and regex engine: letters (ASCII, Latin-1 letters, Hangul syllables), ASCII digits, ASCII punctuation and
# symbols; a space only as the first character. On such a piece this pattern is the default pattern exactly
# (\p{L}, \p{N} and [^\s\p{L}\p{N}] are these classes there), so Python's re splits it like onig does.
_L = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\uac00-\ud7a3"
_P = "!-/:-@\\[-`{-~"
_SAFE = re.compile(f" ?[{_L}0-9{_P}]+")
_SAFE_PATTERN = re.compile(f"'(?i:[sdmt]|ll|ve|re)| ?[{_L}]+| ?[0-9]| ?[{_P}]+")
_ONE_WORD = re.compile(f" ?[{_L}]+")


def chunks(text: str) -> list[str]:
    """``text`` cut before every space that follows a non-whitespace character or a MARK (see the module doc);
    MARKs stay in the chunks."""
    if _SPACE_AFTER_WS.search(text) is None:
        parts = text.split(" ")
        return [parts[0], *(" " + p for p in parts[1:])]
    return _CUT.split(text)


def count_chunks(texts: Iterable[str], keep_marks: bool = True) -> Counter:
    """Distinct chunks of ``texts`` with their counts (empty chunks dropped). ``keep_marks``: MeCab marks in
    the texts are boundaries (MeCab-marked training text); otherwise they are removed first."""
    spaced: Counter = Counter()  # chunks after the first of a text, counted without their leading space
    first: Counter = Counter()
    for text in texts:
        if not keep_marks and MARK in text:
            text = text.replace(MARK, "")
        if _SPACE_AFTER_WS.search(text) is None:
            parts = text.split(" ")
            first[parts[0]] += 1
            spaced.update(parts[1:])
        else:
            cut = _CUT.split(text)
            first[cut[0]] += 1
            spaced.update(c[1:] for c in cut[1:])
    out = Counter({" " + p: n for p, n in spaced.items()})
    for p, n in first.items():
        if p:
            out[p] += n
    return out


def mark_chunks(chunks_: list[str], workers: int = 1, lang: str = "ko") -> list[str]:
    """MeCab-marked chunks (as :func:`tokenizer.mecab.mark_boundaries` for ``lang``), many chunks per MeCab call;
    with ``workers`` > 1, in that many processes."""
    if workers > 1 and len(chunks_) > 50_000:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        step = -(-len(chunks_) // (4 * workers))
        with ProcessPoolExecutor(workers) as pool:
            parts = pool.map(
                partial(mark_chunks, lang=lang), [chunks_[i : i + step] for i in range(0, len(chunks_), step)]
            )
            return [m for part in parts for m in part]
    out: list[str] = [""] * len(chunks_)
    batch: list[int] = []
    size = 0

    def flush():
        nonlocal size
        if batch:
            marked = mark_boundaries(_SEP.join(chunks_[i] for i in batch), lang).split(_SEP)
            assert len(marked) == len(batch)
            for i, m in zip(batch, marked, strict=True):
                out[i] = m
        batch.clear()
        size = 0

    for i, c in enumerate(chunks_):
        if not has_script(c, lang):
            out[i] = c
        elif _SEP in c or "\x00" in c:
            out[i] = mark_boundaries(c, lang)
        else:
            batch.append(i)
            size += len(c)
            if size >= _BATCH_CHARS:
                flush()
    flush()
    return out


def mark_batches(batches: list[str], lang: str = "ko", workers: int = 1) -> list[str]:
    """Each batch (chunks joined by U+001E, ``moru_bpe.ChunkTable.pending_batches``) MeCab-marked whole; with
    ``workers`` > 1 in that many processes, so only a few large strings are pickled each way."""
    from functools import partial

    mark = partial(mark_boundaries, lang=lang)
    if workers > 1 and len(batches) > 8:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(mark, batches, chunksize=max(1, len(batches) // (8 * workers))))
    return [mark(b) for b in batches]


def word_counts(chunk_counts: Counter, pre_tokenizer, default_pattern: bool) -> dict[str, int]:
    """The byte-level words of the distinct chunks with their counts (each chunk's words count as often as the
    chunk). ``pre_tokenizer``: the trainer's (MARK split, pattern, byte level); with ``default_pattern`` a
    MARK-free piece of letters is one word (no regex call), anything else goes through ``pre_tokenizer``."""
    plain: dict[str, int] = {}
    rest: dict[str, int] = {}
    for chunk, n in chunk_counts.items():
        for piece in chunk.split(MARK) if MARK in chunk else (chunk,):
            if not piece:
                continue
            if default_pattern and _ONE_WORD.fullmatch(piece):
                plain[piece] = plain.get(piece, 0) + n
            elif default_pattern and _SAFE.fullmatch(piece):
                for w in _SAFE_PATTERN.findall(piece):
                    plain[w] = plain.get(w, 0) + n
            else:
                rest[piece] = rest.get(piece, 0) + n
    words: dict[str, int] = {}
    for piece, n in plain.items():
        w = byte_level(piece)
        words[w] = words.get(w, 0) + n
    items = list(rest.items())
    for b in range(0, len(items), 4096):
        batch = items[b : b + 4096]
        for (_, n), pieces in zip(batch, _pre_tokenize_many(pre_tokenizer, [p for p, _ in batch]), strict=True):
            for w in pieces:
                words[w] = words.get(w, 0) + n
    return words


def _pre_tokenize_many(pre_tokenizer, pieces: list[str]) -> list[list[str]]:
    """Each piece's words under ``pre_tokenizer``: one call for the batch, joined at MARK (a hard boundary that
    the pre-tokenizer removes), words given back to their piece by offset."""
    import numpy as np

    joined = MARK.join(pieces)
    starts = np.cumsum([0] + [len(p) + 1 for p in pieces[:-1]])
    out = pre_tokenizer.pre_tokenize_str(joined)
    idx = np.searchsorted(starts, np.fromiter((o[0] for _, o in out), np.int64, len(out)), "right") - 1
    result: list[list[str]] = [[] for _ in pieces]
    for (w, _), i in zip(out, idx.tolist(), strict=True):
        result[i].append(w)
    return result


def feed(words: dict[str, int], max_chars: int = 1 << 14) -> Iterator[str]:
    """Strings for ``train_from_iterator`` under a whitespace split whose words are ``words`` with their
    counts: ``w w w …`` (a word repeated count times), cut to about ``max_chars`` characters each."""
    buf: list[str] = []
    size = 0
    for w, n in words.items():
        unit = len(w) + 1
        while n:
            k = min(n, max(1, (max_chars - size) // unit))
            buf.append((w + " ") * k)
            size += k * unit
            n -= k
            if size >= max_chars:
                yield "".join(buf)
                buf, size = [], 0
    if buf:
        yield "".join(buf)
