"""NIAH on a tiny random Llama with a byte-level BPE trained here and haystack files written here: the prompt
builder (needle depth, exact length, the value recoverable), the run's files (results JSON, heatmap PNGs), the
context-length error and the string-match scoring."""

from __future__ import annotations

import gzip
import io
import json
import random
import re

import matplotlib.image as mpimg
import numpy as np
import pytest

from eval.niah import (
    LANGUAGES,
    Haystack,
    build_prompt,
    default_lengths,
    depths_in_steps,
    heatmap_png,
    iter_file_texts,
    run_niah,
    string_match,
)

KO = [
    "서울의 봄은 짧지만 공원마다 벚꽃이 가득 핀다. 주말이면 한강 둔치에 돗자리를 편 가족들이 모여든다. "
    "아이들은 연을 날리고 어른들은 김밥을 나누어 먹는다. 해가 지면 다리 위로 조명이 켜지고 강바람이 조금 차가워진다.",
    "작은 시골 마을에는 오래된 우체국이 하나 있다. 집배원은 매일 아침 자전거를 타고 언덕 너머 집들을 돈다. "
    "편지가 줄어든 요즘에도 그는 할머니들의 안부를 묻는 일을 거르지 않는다. 마을 사람들은 그를 가족처럼 여긴다.",
    "도서관 삼층 창가 자리는 늘 먼저 찬다. 학생들은 시험 기간이 되면 새벽부터 줄을 선다. "
    "사서는 조용히 책장을 정리하며 반납된 책을 제자리에 꽂는다. 오후가 되면 햇빛이 책상 위로 길게 들어온다.",
    "제주 바다는 계절마다 색이 다르다. 여름에는 맑은 청록색이고 겨울에는 짙은 남색에 가깝다. "
    "해녀들은 물때를 보고 바다에 들어가 전복과 소라를 캔다. 그들의 숨비소리는 멀리서도 들린다.",
]
EN = [
    "The harbor town wakes up before dawn. Fishing boats leave the pier one by one while gulls circle overhead. "
    "By noon the market is full of crates of mackerel and crab. In the evening the lighthouse sweeps the bay.",
    "The old library keeps its rarest maps in a cool room on the top floor. Visitors must wear cotton gloves. "
    "A retired sailor volunteers there twice a week. He explains the routes of ships that sank a century ago.",
    "Spring arrives late in the mountains. Snow lingers on the north slopes until May. "
    "Farmers wait for the river to calm before they plant potatoes. Children race paper boats along the ditches.",
    "The night train crosses three borders before morning. Most passengers sleep through the stations. "
    "A conductor walks the corridor with a lantern and a ticket punch. The dining car serves soup until midnight.",
]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("haystack")
    ko = d / "ko.jsonl"
    ko.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in KO), encoding="utf-8")
    en = d / "en.txt.gz"
    with gzip.open(en, "wt", encoding="utf-8") as fh:
        fh.write("\n\n".join(EN) + "\n")
    return {"ko": [str(ko)], "en": [str(en)]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A 2-layer random Llama (context 512) and a byte-level BPE with a chat template, saved as an HF folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny_llama")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>", "<|user|>", "<|assistant|>"]
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    corpus = KO + EN + [s.needle + " " + s.question + " " + s.instruction for s in LANGUAGES.values()]
    tok.train_from_iterator(corpus * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   chat_template=TEMPLATE)  # fmt: skip
    fast.save_pretrained(d)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                      pad_token_id=fast.pad_token_id)  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture
def one_thread():
    """Tiny matrices: one CPU thread is faster than several, more so on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _png(path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(io.BytesIO(data))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    return img


# --- the prompt builder -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("depth", [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_needle_sits_at_the_requested_depth_in_a_prompt_of_the_requested_length(tokenizer, files, lang, depth):
    hay = Haystack.from_files(lang, files[lang], tokenizer, max_chars=100_000)
    rng = random.Random(1)
    key, value = "quiet-anchor" if lang == "en" else "푸른 고래", "4821973"
    length, new = 1024, 16
    p = build_prompt(tokenizer, hay, length, depth, key, value, max_new_tokens=new,
                     start=rng.randrange(len(hay.sentences)))  # fmt: skip
    # length: the prompt fills the context but the answer's tokens, short by at most the few tokens the last
    # sentence's cut had to back off
    assert length - new - 4 <= len(p.input_ids) <= length - new
    # depth: within half the longest sentence (the needle goes to the nearest sentence boundary)
    longest = max(map(len, hay.sentences))
    assert abs(p.actual_depth - depth) <= longest / p.haystack_tokens / 2 + 1e-9
    assert p.haystack_tokens > 600
    # the needle is where the prompt says, whole, and the only place the value occurs
    needle_text = tokenizer.decode(p.input_ids[p.needle_start : p.needle_end])
    assert needle_text.strip() == LANGUAGES[lang].needle.format(key=key, value=value)
    text = tokenizer.decode(p.input_ids)
    assert text.count(value) == 1
    before = tokenizer.decode(p.input_ids[p.haystack_start : p.needle_start]).rstrip()
    if depth == 0.0:
        assert p.needle_start == p.haystack_start
    elif depth == 1.0:
        assert p.needle_end == p.haystack_end
    else:
        assert before[-1] in ".!?", before[-40:]  # a sentence boundary
    # the question and the answer's start come after the haystack and name the key
    tail = tokenizer.decode(p.input_ids[p.haystack_end :])
    assert LANGUAGES[lang].question.format(key=key) in tail
    assert tail.endswith(LANGUAGES[lang].answer_prefix.format(key=key))
    assert "<|assistant|>" in tail  # the chat template's generation prompt, before the answer's start


def test_plain_prompt_without_chat_template_and_wrapping_haystack(tokenizer, files):
    hay = Haystack.from_files("en", files["en"], tokenizer, max_chars=100_000)
    p = build_prompt(tokenizer, hay, 1024 + 16, 0.5, "calm-river", "1234567", max_new_tokens=16, chat=False)
    text = tokenizer.decode(p.input_ids)
    assert "<|user|>" not in text and "<|assistant|>" not in text
    assert text.startswith(LANGUAGES["en"].instruction)
    assert text.endswith("The special magic number for calm-river is")
    assert p.repeated == (p.meta["sentences"] > len(hay.sentences))
    assert p.repeated  # four short paragraphs cannot fill 1,000 tokens without repeating


def test_prompt_builder_refuses_bad_depths_and_too_short_lengths(tokenizer, files):
    hay = Haystack.from_files("en", files["en"], tokenizer, max_chars=100_000)
    with pytest.raises(ValueError, match="fraction between 0 and 1"):
        build_prompt(tokenizer, hay, 512, 50, "a-b", "1234567")
    with pytest.raises(ValueError, match="use a longer length"):
        build_prompt(tokenizer, hay, 40, 0.5, "a-b", "1234567")


def test_haystack_readers(tmp_path, files):
    squad = tmp_path / "korquad.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "첫 문단이다.", "qas": []},
                                                          {"context": "둘째 문단이다."}]}]}, ensure_ascii=False),
                     encoding="utf-8")  # fmt: skip
    assert list(iter_file_texts(squad)) == ["첫 문단이다.", "둘째 문단이다."]
    assert list(iter_file_texts(files["ko"][0])) == KO
    assert list(iter_file_texts(files["en"][0])) == EN  # gzipped text, paragraphs split at blank lines
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(iter_file_texts(tmp_path / "nope.jsonl"))


# --- the run ------------------------------------------------------------------------------------------------


def test_run_niah_writes_results_heatmaps_and_samples(model_dir, files, tmp_path, capsys, one_thread):
    out = tmp_path / "niah"
    res = run_niah(str(model_dir), str(out), lengths=[128, 256], depths=[0.0, 0.5, 1.0], haystack_files=files,
                   samples_per_cell=2, seed=3, max_new_tokens=8)  # fmt: skip
    assert json.loads((out / "niah_results.json").read_text(encoding="utf-8")) == res
    assert res["lengths"] == [128, 256] and res["depths"] == [0.0, 0.5, 1.0] and res["max_position_embeddings"] == 512
    assert res["chat_template"] is True
    cells = {(c["language"], c["length"], c["depth"]): c for c in res["cells"]}
    assert set(cells) == {(lang, n, d) for lang in ("ko", "en") for n in (128, 256) for d in (0.0, 0.5, 1.0)}
    assert len(res["records"]) == 24
    for c in res["cells"]:
        where = (c["language"], c["length"], c["depth"])
        mine = [r for r in res["records"] if (r["language"], r["length"], r["depth"]) == where]
        assert c["n"] == len(mine) == 2
        assert c["accuracy"] == sum(r["score"] for r in mine) / 2
        assert all(c["length"] - 8 - 4 <= t <= c["length"] - 8 for t in c["prompt_tokens"])
    for r in res["records"]:
        assert re.fullmatch(r"\d{7}", r["value"])
        assert r["score"] == (1.0 if r["value"] in r["output"] else 0.0)
    # two samples of one cell are two different needles
    assert len({r["value"] for r in res["records"]}) == 24
    for lang in ("ko", "en"):
        assert res["heatmaps"][lang] == f"niah_{lang}.png"
        _png(out / f"niah_{lang}.png")
        assert 0.0 <= res["summary"][lang]["mean"] <= 1.0
    assert res["samples"] and all(s["target"] in s["prompt"] for s in res["samples"])  # the needle is in the excerpt
    printed = capsys.readouterr().out
    assert "[niah] ko length     256 depth  50.0%" in printed
    # the same seed gives the same needles
    again = run_niah(str(model_dir), str(tmp_path / "again"), lengths=[128], depths=[0.5], haystack_files=files,
                     samples_per_cell=2, seed=3, max_new_tokens=8)  # fmt: skip
    first = [r["value"] for r in res["records"] if r["length"] == 128 and r["depth"] == 0.5]
    assert [r["value"] for r in again["records"]] == first


def test_a_length_beyond_the_model_context_is_refused_before_loading(model_dir, files, tmp_path):
    only_config = tmp_path / "cfg_only"
    only_config.mkdir()
    (only_config / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    with pytest.raises(ValueError) as err:
        run_niah(str(only_config), str(tmp_path / "o"), lengths=[256, 1024], haystack_files=files)
    msg = str(err.value)
    assert "1,024" in msg and str(only_config / "config.json") in msg and "max_position_embeddings 512" in msg
    assert "Pass lengths up to 512" in msg
    assert not (tmp_path / "o").exists()


def test_run_niah_input_errors(model_dir, files, tmp_path):
    with pytest.raises(ValueError, match="haystack_files"):
        run_niah(str(model_dir), str(tmp_path / "o"), lengths=[128])
    with pytest.raises(FileNotFoundError, match="missing_ko.jsonl"):
        run_niah(str(model_dir), str(tmp_path / "o"), lengths=[128],
                 haystack_files={"ko": [str(tmp_path / "missing_ko.jsonl")]})  # fmt: skip
    with pytest.raises(ValueError, match="no NIAH template"):
        run_niah(str(model_dir), str(tmp_path / "o"), lengths=[128], haystack_files={"fr": files["en"]})
    with pytest.raises(FileNotFoundError, match="config.json"):
        run_niah(str(tmp_path), str(tmp_path / "o"), lengths=[128], haystack_files=files)


# --- defaults, scoring, the heatmap -------------------------------------------------------------------------


def test_default_lengths_and_depth_steps():
    assert default_lengths(32768) == [1024, 2048, 4096, 8192, 16384, 32768]
    assert default_lengths(3000) == [1024, 2048, 3000]
    assert default_lengths(512) == [512]
    assert depths_in_steps(25) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert depths_in_steps(10) == [round(i / 10, 6) for i in range(11)]
    assert depths_in_steps(30) == [0.0, 0.3, 0.6, 0.9, 1.0]


def test_string_match_on_hand_made_outputs():
    assert string_match(" 4821973.", "4821973") == 1.0
    assert string_match("The special magic number is 4821973 and more", "4821973") == 1.0
    assert string_match("푸른 고래의 특별한 마법 숫자는 4821973입니다.", "4821973") == 1.0
    assert string_match("4,821,973", "4821973") == 0.0  # digits as written in the needle, as RULER matches
    assert string_match("482197", "4821973") == 0.0
    assert string_match("", "4821973") == 0.0


def test_heatmap_is_green_where_found_and_red_where_missed(tmp_path):
    def shares(acc_value: float) -> tuple[float, float]:
        acc = {(n, d): acc_value for n in (1024, 2048) for d in (0.0, 0.5, 1.0)}
        p = tmp_path / f"h{acc_value}.png"
        p.write_bytes(heatmap_png("en", [1024, 2048], [0.0, 0.5, 1.0], acc, "t"))
        rgb = _png(p)[..., :3]
        green = ((rgb[..., 1] > rgb[..., 0] + 0.2) & (rgb[..., 1] > rgb[..., 2] + 0.2)).mean()
        red = ((rgb[..., 0] > rgb[..., 1] + 0.3) & (rgb[..., 0] > rgb[..., 2] + 0.3)).mean()
        return green, red

    g1, r1 = shares(1.0)
    g0, r0 = shares(0.0)
    assert g1 > 0.2 and g1 > 10 * r1
    assert r0 > 0.2 and r0 > 10 * g0
