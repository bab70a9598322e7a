"""Demo documents in German, Japanese and Vietnamese (``moru demo --languages ko,en,de,ja,vi``).

Made from small word lists and sentence frames written for the demo, as demo.text makes Korean and
English: each document is a few paragraphs of sentences (news and forum-like), long enough for the
Gopher word rules (50+ words) and using each language's common function words, so that FineWeb-2's
stop-word rule is met by ordinary prose. They go to their own source folder (``input/langs``), so the
default corpus (demo.corpus, its bytes and its generator digest) is exactly what it was.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

EXTRA = ("de", "ja", "vi")

_DE = {
    "subj": [
        "Die Stadt",
        "Der Bürgermeister",
        "Die Regierung",
        "Das Unternehmen",
        "Die Schule",
        "Der Verein",
        "Die Forscherin",
        "Der Trainer",
        "Die Bibliothek",
        "Das Krankenhaus",
    ],
    "verb": ["plant", "eröffnet", "verbessert", "untersucht", "unterstützt", "erweitert", "bespricht", "prüft"],
    "obj": [
        "einen neuen Park",
        "die Busverbindungen",
        "das Angebot für Familien",
        "die Öffnungszeiten",
        "den Ausbau der Radwege",
        "ein Programm für Schüler",
        "die Versorgung im Winter",
        "die Kosten für Energie",
    ],
    "tail": [
        "in der nächsten Woche",
        "noch in diesem Jahr",
        "mit den Bürgern",
        "nach langer Diskussion",
        "für die ganze Region",
        "im Rathaus",
        "zum ersten Mal",
    ],
    "extra": [
        "Viele Menschen finden das gut, und die Kritik ist leise.",
        "Die Zeitung berichtet, dass die Pläne schon lange bekannt waren.",
        "Nach Angaben der Stadt wurde das Geld bereits im Frühjahr bewilligt.",
        "Er sagte, dass die Arbeiten im Sommer beginnen sollen.",
        "Die Anwohner haben sich mit dem Vorschlag lange beschäftigt.",
    ],
}
_JA = {
    "subj": [
        "市役所",
        "大学の研究チーム",
        "地元の会社",
        "県の教育委員会",
        "図書館",
        "病院",
        "商店街の組合",
        "鉄道会社",
    ],
    "obj": [
        "新しい公園の計画",
        "バスの運行時間",
        "子ども向けの講座",
        "冬の支援策",
        "駅前の再開発",
        "自転車道の整備",
        "電気料金の補助",
        "地域の観光案内",
    ],
    "verb": [
        "を発表しました",
        "について説明しました",
        "を見直すことにしました",
        "を始めると伝えました",
        "の準備を進めています",
        "について住民と話し合いました",
    ],
    "when": ["今年の春に", "来月から", "先週", "十月に", "今日の会見で", "年内に"],
    "extra": [
        "多くの市民はこの取り組みを歓迎しています。",
        "担当者は、費用は国の補助で賄われると話しました。",
        "説明会には大勢の人が集まり、質問が相次ぎました。",
        "詳しい日程は後日お知らせするということです。",
        "関係者によると、工事は三年ほどかかる見込みです。",
    ],
}
_VI = {
    "subj": ["Thành phố", "Ủy ban nhân dân", "Trường đại học", "Công ty", "Bệnh viện", "Thư viện", "Hội nông dân",
             "Sở giao thông"],
    "verb": ["đã công bố", "sẽ mở rộng", "đang xem xét", "đã hoàn thành", "vừa khởi động", "đã thảo luận về"],
    "obj": ["kế hoạch xây dựng công viên mới", "tuyến xe buýt nội thành", "chương trình học bổng cho sinh viên",
            "dự án cải tạo chợ", "việc hỗ trợ người dân trong mùa mưa", "giá điện cho các hộ gia đình",
            "các lớp học tiếng Anh miễn phí"],
    "tail": ["trong năm nay", "vào tháng tới", "sau nhiều tháng chuẩn bị", "cho người dân địa phương",
             "tại hội trường thành phố", "lần đầu tiên"],
    "extra": ["Nhiều người dân cho biết họ rất vui với quyết định này.",
              "Theo báo cáo, chi phí của dự án được chia làm hai giai đoạn.",
              "Đây là một bước quan trọng trong kế hoạch phát triển của tỉnh.",
              "Các chuyên gia nói rằng kết quả sẽ có trong năm sau.",
              "Người đứng đầu dự án đã trả lời các câu hỏi của báo chí."],
}  # fmt: skip


def _sentence(lang: str, pick) -> str:
    if lang == "de":
        return f"{pick('subj')} {pick('verb')} {pick('obj')} {pick('tail')}."
    if lang == "ja":
        return f"{pick('subj')}は{pick('when')}{pick('obj')}{pick('verb')}。"
    return f"{pick('subj')} {pick('verb')} {pick('obj')} {pick('tail')}."


def document(lang: str, rng: random.Random) -> str:
    """A news-like document: 2 paragraphs of 3 sentences, frames and stock sentences mixed. Every
    slot's words are drawn without replacement within a document, so no sentence or phrase repeats
    (Gopher's repetition rules would drop a document of the lists' few words otherwise)."""
    table = {"de": _DE, "ja": _JA, "vi": _VI}[lang]
    pools = {slot: rng.sample(words, len(words)) for slot, words in table.items()}

    def pick(slot: str) -> str:
        if not pools[slot]:  # only past the list's length (not at 2 x 3 sentences)
            pools[slot] = rng.sample(table[slot], len(table[slot]))
        return pools[slot].pop()

    sep = "" if lang == "ja" else " "
    paragraphs = []
    for _ in range(2):
        sentences = [pick("extra") if rng.random() < 0.25 else _sentence(lang, pick) for _ in range(3)]
        paragraphs.append(sep.join(sentences))
    return "\n\n".join(paragraphs)


def parse_languages(value: str) -> list[str]:
    """``--languages ko,en,de`` → ["ko", "en", "de"], checked like the config key."""
    from quality.languages import check_languages

    return check_languages([code.strip() for code in value.split(",") if code.strip()])


def generate(out_dir: str | Path, languages: list[str], docs_per_language: int, seed: int = 0) -> dict:
    """Write ``docs_per_language`` distinct documents for each of de/ja/vi in ``languages`` to
    ``out_dir/langs/langs-00000.jsonl`` and return the source config and the per-language counts
    (nothing written when none of them is asked for)."""
    wanted = [lang for lang in EXTRA if lang in languages]
    out = Path(out_dir) / "langs"
    if not wanted:
        return {"source": None, "lang_counts": {}}
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"demo-languages-{seed}")
    rows, seen = [], set()
    for lang in wanted:
        made = 0
        while made < docs_per_language:
            text = document(lang, rng)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            rows.append(orjson.dumps({"id": f"{lang}-{made:05d}", "text": text, "lang": lang}))
    path = out / "langs-00000.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    source = {"name": "langs", "path": str(out), "format": "jsonl", "fields": {"text": "text", "id": "id"}}
    return {"source": source, "lang_counts": {lang: docs_per_language for lang in wanted}}
