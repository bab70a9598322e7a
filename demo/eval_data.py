"""The demo's evaluation data: a few rows per benchmark task in the layout its task YAML reads (eval/tasks), made from
the demo's own content, and the NIAH haystack files. Nothing is copied from a real benchmark.

``write_benchmark_files(out_dir, bench_path, seed)`` reads the demo benchmark (demo.benchmark: Korean and English
word problems, GSM8K's layout; its planted copies are flagged by decontamination and kept out of the training data)
and writes::

    gsm8k_test.jsonl                         English word problems as they are ({question, answer '... #### n'})
    arc_challenge_test.jsonl.gz              other English word problems as 4-option questions
                                             ({id, question, choices: {text, label}, answerKey})
    kmmlu_test/Demo-Word-Problems-test.jsonl Korean word problems as 4-option questions
                                             ({question, A, B, C, D, answer 1-4, Category})
    kobest/COPA/{test,dev}.tsv               Korean premise / cause-or-effect pairs from the corpus vocabulary
                                             (ID, sentence, question 원인|결과, 1, 2, Answer 1|2)

The options of the multiple-choice rows are the right number and three others near it; which letter is right is
drawn with the seed. ``write_haystacks(spark, workdir, out_dir)`` writes ``ko.jsonl`` and ``en.jsonl`` ({"text"})
from ``training_corpus`` (the demo corpus's Korean and English documents the select step kept)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
from pathlib import Path

from demo.text import josa
from demo.vocabulary import KO

ROWS = 12  # rows per task file: a slice of ~10 plus room for few-shot examples drawn from the same file
COPA_DEV_ROWS = 4
GSM8K_FILE = "gsm8k_test.jsonl"
KMMLU_FILE = "kmmlu_test/Demo-Word-Problems-test.jsonl"
COPA_DIR = "kobest/COPA"
LETTERS = "ABCD"

# KoBEST COPA-style items: (premise, 원인|결과, right alternative, wrong alternative), filled from the vocabulary
_COPA = (
    ("{name} 씨는 {place}에서 {thing_obj} 잃어버렸다.", "결과", "{name} 씨는 {place}에 다시 가서 분실물 센터에 물었다.",
     "{name} 씨는 {thing_obj} 친구에게 자랑했다."),
    ("{name} 씨는 하루 종일 아무것도 먹지 못했다.", "결과", "저녁에 {food_obj} 허겁지겁 먹었다.",
     "배가 불러서 {food_obj} 남겼다."),
    ("{place}로 가는 버스가 한 시간 늦게 왔다.", "원인", "밤새 내린 눈이 길에 쌓였다.", "도로가 텅 비어 있었다."),
    ("{name} 씨는 {event}에 늦게 도착했다.", "원인", "아침에 늦잠을 잤다.", "평소보다 일찍 집을 나섰다."),
    ("{name} 씨의 {thing_subj} 갑자기 꺼졌다.", "원인", "배터리가 다 닳았다.", "방금 새로 충전을 마쳤다."),
    ("{name} 씨는 {thing_obj} 반값에 샀다.", "원인", "가게에서 할인 행사를 했다.", "가격이 두 배로 올랐다."),
    ("{place}에 비가 많이 내렸다.", "결과", "{name} 씨는 {josa_umbrella} 챙겨 나갔다.", "{name} 씨는 선크림을 발랐다."),
    ("{name} 씨는 {event} 발표를 밤새 준비했다.", "결과", "다음 날 몹시 피곤했다.", "다음 날 푹 쉬어서 개운했다."),
)  # fmt: skip


def _final_number(answer: str) -> int:
    m = re.search(r"####\s*(-?[0-9][0-9,]*)", answer)
    if m is None:
        raise ValueError(f"not a GSM8K answer (no '#### n'): {answer[-60:]!r}")
    return int(m.group(1).replace(",", ""))


def _options(rng: random.Random, right: int) -> tuple[list[int], int]:
    """Four distinct numbers, ``right`` among them at a drawn position; the others near it."""
    step = max(1, round(abs(right) * rng.choice((0.05, 0.1, 0.2))))
    others = [right + k * step for k in (-3, -2, -1, 1, 2, 3) if right + k * step >= 0]
    wrong = rng.sample(others, 3)
    at = rng.randrange(4)
    return wrong[:at] + [right] + wrong[at:], at


def _read_bench(path: Path) -> dict[str, list[dict]]:
    by_lang: dict[str, list[dict]] = {"ko": [], "en": []}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            lang = "ko" if re.search("[가-힣]", row["question"]) else "en"
            by_lang[lang].append(row)
    return by_lang


def _copa_rows(rng: random.Random, n: int, start: int = 1) -> list[dict]:
    rows = []
    for i in range(n):
        premise, kind, right, wrong = _COPA[(start + i) % len(_COPA)]
        thing, food = rng.choice(KO["thing"]), rng.choice(KO["food"])
        words = {"name": rng.choice(KO["surname"]) + rng.choice(KO["given"]), "place": rng.choice(KO["place"]),
                 "event": rng.choice(KO["event"]), "thing_obj": josa(thing, "을"), "thing_subj": josa(thing, "이"),
                 "food_obj": josa(food, "을"), "josa_umbrella": josa("우산", "을")}  # fmt: skip
        right, wrong = right.format(**words), wrong.format(**words)
        answer = rng.randint(1, 2)
        first, second = (right, wrong) if answer == 1 else (wrong, right)
        rows.append({"ID": str(start + i), "sentence": premise.format(**words), "question": kind, "1": first,
                     "2": second, "Answer": str(answer)})  # fmt: skip
    return rows


def _write_tsv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None,
                            lineterminator="\n")  # fmt: skip
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_benchmark_files(out_dir: str | Path, bench_path: str | Path, seed: int = 0, rows: int = ROWS) -> dict:
    """Write the task files (module docstring) under ``out_dir``; returns {task: [files written]} and the rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"demo-eval-{seed}")
    bench = _read_bench(Path(bench_path))
    if len(bench["en"]) < 2 * rows or len(bench["ko"]) < rows:
        raise ValueError(f"{bench_path}: {len(bench['en'])} English and {len(bench['ko'])} Korean problems; the "
                         f"evaluation slice needs {2 * rows} and {rows}")  # fmt: skip
    written: dict[str, list[str]] = {}

    gsm8k = [{"question": r["question"], "answer": r["answer"]} for r in bench["en"][:rows]]
    (out / GSM8K_FILE).write_text(_jsonl(gsm8k), encoding="utf-8")
    written["gsm8k"] = [GSM8K_FILE]

    arc = []
    for i, r in enumerate(bench["en"][rows : 2 * rows]):
        opts, at = _options(rng, _final_number(r["answer"]))
        arc.append(
            {
                "id": f"demo_arc_{i:03d}",
                "question": r["question"],
                "choices": {"text": [str(o) for o in opts], "label": list(LETTERS)},
                "answerKey": LETTERS[at],
            }
        )
    with gzip.open(out / "arc_challenge_test.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(_jsonl(arc))
    written["arc_challenge"] = ["arc_challenge_test.jsonl.gz"]

    kmmlu = []
    for r in bench["ko"][:rows]:
        opts, at = _options(rng, _final_number(r["answer"]))
        kmmlu.append({"question": r["question"], **{LETTERS[k]: f"{o:,}" for k, o in enumerate(opts)},
                      "answer": at + 1, "Category": "Demo Word Problems"})  # fmt: skip
    (out / KMMLU_FILE).parent.mkdir(parents=True, exist_ok=True)
    (out / KMMLU_FILE).write_text(_jsonl(kmmlu), encoding="utf-8")
    written["kmmlu"] = [KMMLU_FILE]

    _write_tsv(out / COPA_DIR / "test.tsv", _copa_rows(rng, rows, start=1))
    _write_tsv(out / COPA_DIR / "dev.tsv", _copa_rows(rng, COPA_DEV_ROWS, start=rows + 1))
    written["kobest_copa"] = [f"{COPA_DIR}/test.tsv", f"{COPA_DIR}/dev.tsv"]
    return {"dir": str(out), "files": written, "rows": rows}


def write_haystacks(spark, workdir: str, out_dir: str | Path, chars: int = 60_000) -> dict[str, list[str]]:
    """``out_dir/{ko,en}.jsonl``: up to ``chars`` characters each of training_corpus's Korean and English documents
    (in doc_id order), one ``{"text"}`` record per document; returns NIAH's ``haystack_files``."""
    from pyspark.sql import functions as F

    from spark_jobs import tables

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = tables.read(spark, workdir, tables.TRAINING_CORPUS).filter(F.col("lang").isin("ko", "en"))
    # enough documents per language, in one query: running character count per language within the budget
    from pyspark.sql.window import Window

    w = Window.partitionBy("lang").orderBy("doc_id").rowsBetween(Window.unboundedPreceding, -1)
    rows = (corpus.select("lang", "doc_id", "text", "n_chars")
            .withColumn("before", F.coalesce(F.sum("n_chars").over(w), F.lit(0)))
            .filter(F.col("before") < chars).orderBy("lang", "doc_id").collect())  # fmt: skip
    files: dict[str, list[str]] = {}
    for lang in ("ko", "en"):
        texts = [r["text"] for r in rows if r["lang"] == lang]
        if texts:
            path = out / f"{lang}.jsonl"
            path.write_text(_jsonl([{"text": t} for t in texts]), encoding="utf-8")
            files[lang] = [str(path)]
    return files
