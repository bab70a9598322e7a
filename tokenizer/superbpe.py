"""SuperBPE (Liu et al. 2025, "SuperBPE: Space Travel for Language Models"): a byte-level BPE whose last merges may
cross word boundaries ("superwords" such as " of the", " 수 있다").

Stage 1 is moru's ordinary BBPE (:func:`tokenizer.bbpe.train`: MeCab-marked Korean, the split pattern) up to
``tokenizer.superbpe.transition_vocab_size`` tokens. Stage 2 continues merging from there with the whitespace
pre-tokenization lifted: text is split only by :data:`STAGE2_PATTERN` (newline runs, runs of whitespace before a
space, digits, runs of two or more punctuation characters, sentence-final punctuation), so the spans between those
pieces — several words with their spaces and single punctuation marks — are what stage 2 merges inside (the paper's
stage-2 regex keeps digits and punctuation runs split and lifts the whitespace split; moru also keeps newlines
and sentence ends as boundaries, so no superword spans two sentences or lines).

How stage 2 continues from stage 1's merges with the public ``tokenizers`` API (it has no "resume from merges"):
every distinct stage-2 span is encoded with the stage-1 BPE over the whole span — exactly what the released
tokenizer does to that span before any stage-2 merge can apply, since all stage-1 merges rank first — and each
stage-1 token id ``i`` becomes one placeholder character ``chr(0x10000 + i)``. HF's BPE trainer then learns the
stage-2 merges over these placeholder words, with their counts (:func:`tokenizer.bbpe.train_words`'s feeding),
its alphabet being every stage-1 token: special tokens first, then placeholders in stage-1 id order, so its ids are
stage 1's and new tokens continue from the transition size, with HF's own tie-breaking. Its merges, decoded
back to byte-level strings, are appended to stage 1's in ``tokenizer.json``: a plain BPE model with a different
split pattern, which ``tokenizers`` and ``transformers`` load as any other.

A merged placeholder pair can decode to a string stage 1 already has (two segmentations of the same bytes); that
merge keeps pointing at the existing token and the vocabulary stays that much smaller (reported as
``superbpe_duplicates``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

from tokenizer import bbpe, wordcount
from tokenizer.config import TokenizerConfig
from tokenizer.mecab import MARK

# stage 2's split (isolated pieces; the spans between them are what superwords are made of): newline runs with the
# whitespace before them, whitespace runs before a final space (as stage 1's \s+(?!\S)), each digit with an
# optional space (as stage 1), runs of two or more punctuation characters, sentence-final punctuation
STAGE2_PATTERN = r"""\s*[\r\n]+|\s+(?!\S)| ?\p{N}| ?[^\s\p{L}\p{N}]{2,}|[.!?。！？](?=\s|$)"""
_BASE = 0x10000  # placeholder of stage-1 id i: chr(_BASE + i) (no placeholder is whitespace)


def release_pre_tokenizer(pattern: str = STAGE2_PATTERN) -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def stage2_spans(text: str, splitter) -> list[str]:
    """The pieces stage 2 sees in ``text`` (MARKs removed): :data:`STAGE2_PATTERN`'s pieces and the spans between."""
    return [p for p, _ in splitter.pre_tokenize_str(text.replace(MARK, "") if MARK in text else text)]


def train(
    texts: Iterable[str], cfg: TokenizerConfig, *, show_progress: bool = False, info: dict | None = None
) -> Tokenizer:
    """SuperBPE on ``texts`` (MeCab-marked as for :func:`tokenizer.bbpe.train`); ``info`` gets what stage 2 did."""
    info = {} if info is None else info
    transition = cfg.superbpe.transition(cfg.vocab_size)
    splitter = pre_tokenizers.Split(Regex(STAGE2_PATTERN), behavior="isolated")
    stage1_chunks: Counter = Counter()
    spans: Counter = Counter()
    for text in texts:
        stage1_chunks.update(wordcount.chunks(text))
        spans.update(stage2_spans(text, splitter))
    stage1_chunks.pop("", None)
    stage1 = bbpe.train_chunks(stage1_chunks, cfg, show_progress=show_progress, vocab_size=transition)
    return continue_training(stage1, spans, cfg, show_progress=show_progress, info=info)


def continue_training(
    stage1: Tokenizer, spans: Counter, cfg: TokenizerConfig, *, show_progress: bool = False, info: dict | None = None
) -> Tokenizer:
    """Stage 2: merges over the stage-1 tokens of each distinct span (``spans``: span -> count) up to
    ``cfg.vocab_size``; the released tokenizer splits by :data:`STAGE2_PATTERN`."""
    info = {} if info is None else info
    model = json.loads(stage1.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    merges: list[tuple[str, str]] = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    by_id = {i: t for t, i in vocab.items()}
    specials = cfg.all_special_tokens()
    # stage 1 over whole spans: a BPE with no added tokens, so text like "[BOS]" is plain bytes here too
    enc = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges)))
    enc.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    keys = [s for s in spans if len(s) > 1]  # one character cannot hold a pair
    words: dict[str, int] = {}
    for b in range(0, len(keys), 8192):
        batch = keys[b : b + 8192]
        for span, e in zip(batch, enc.encode_batch(batch, add_special_tokens=False), strict=True):
            if len(e.ids) > 1:
                w = "".join(chr(_BASE + i) for i in e.ids)
                words[w] = words.get(w, 0) + spans[span]
    info["stage2_spans"] = len(keys)
    info["stage2_words"] = len(words)
    alphabet = [chr(_BASE + i) for i in sorted(by_id) if by_id[i] not in specials]
    from tokenizers import trainers

    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=specials,
        initial_alphabet=alphabet,
        show_progress=show_progress,
    )
    tok2 = bbpe.train_word_table(words, trainer)
    m2 = json.loads(tok2.to_str())["model"]
    v2: dict[str, int] = m2["vocab"]
    # the trainer's ids of the stage-1 alphabet must be stage 1's ids (specials first, then code point order)
    for t, i in v2.items():
        if len(t) == 1 and ord(t) >= _BASE and ord(t) - _BASE != i:
            raise RuntimeError("stage-2 trainer ids differ from stage 1's")

    def decode(s: str) -> str:
        return "".join(by_id[ord(c) - _BASE] for c in s)

    final_vocab = dict(vocab)
    duplicates = 0
    for t, _i in sorted(((t, i) for t, i in v2.items() if i >= len(vocab)), key=lambda x: x[1]):
        d = decode(t)
        if d in final_vocab:
            duplicates += 1
            continue
        final_vocab[d] = len(final_vocab)
    seen = set(merges)
    superword_merges = 0
    for m in m2["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        pair = (decode(a), decode(b))
        if pair in seen:
            continue
        seen.add(pair)
        merges.append(pair)
        superword_merges += 1
    info.update(transition_vocab_size=len(vocab), stage2_merges=superword_merges, superbpe_duplicates=duplicates)
    tok = Tokenizer(models.BPE(vocab=final_vocab, merges=merges))
    tok.pre_tokenizer = release_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens(specials)
    return tok


def superwords(tok: Tokenizer) -> list[str]:
    """The tokens that hold a space after other text (a superword bridges a space), as text."""
    out = []
    for token in tok.get_vocab(with_added_tokens=False):
        text = bbpe.token_bytes(token).decode("utf-8", errors="replace")
        if " " in text.lstrip(" ") and text.strip():
            out.append(text)
    return out
