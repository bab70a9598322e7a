"""Presets: the layouts of known benchmarks as published, as a table (name → layouts), and the
:class:`~.layouts.Preset` objects made from it at import.

Each entry gives ``layouts``, tried in order on every record (the first whose paths are all
present wins; a layout is ``text`` paths and optionally ``id`` and ``records``, as in a config's
``fields``), optionally ``csv_columns`` for CSV files published without a header, and the source
the layouts follow. ``ALIASES`` names presets that share another's layout.
"""

from __future__ import annotations

from typing import Any

from spark_jobs.decontaminate.benchmarks.layouts import Fields, Preset

_GPQA_TEXT = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]

PRESET_TABLE: dict[str, dict[str, Any]] = {
    "gsm8k": {
        "source": "openai/grade-school-math",
        "layouts": [{"text": ["question", "answer"]}],
    },
    "math": {
        "source": "hendrycks/math; mosaicml/llm-foundry's copy (context, answer, chain_of_thought)",
        "layouts": [
            {"text": ["problem", "solution"]},
            {"text": ["context", "chain_of_thought", "answer"]},
        ],
    },
    "humaneval": {
        "source": "openai/human-eval",
        "layouts": [{"text": ["prompt", "canonical_solution", "test"], "id": "task_id"}],
    },
    "mbpp": {
        "source": "google-research/mbpp",
        "layouts": [{"text": ["text", "code", "test_list"], "id": "task_id"}],
    },
    "mmlu": {
        "source": "hendrycks/test CSVs without header; re-headered question,choice0-3,answer copies",
        "layouts": [
            {"text": ["question", "choice0", "choice1", "choice2", "choice3"]},
            {"text": ["question", "A", "B", "C", "D"]},
        ],
        "csv_columns": ["question", "A", "B", "C", "D", "answer"],
    },
    "kmmlu": {
        "source": "HAERAE-HUB/KMMLU",
        "layouts": [{"text": ["question", "A", "B", "C", "D"]}],
    },
    "arc": {
        "source": "allenai ARC JSONL (question.stem); Hugging Face layout (choices: {text: [...]} or [{text}])",
        "layouts": [
            {"text": ["question.stem", "question.choices.text"], "id": "id"},
            {"text": ["question", "choices.text"], "id": "id"},
        ],
    },
    "gpqa": {
        "source": "idavidrein/gpqa CSV",
        "layouts": [{"text": _GPQA_TEXT, "id": "Record ID"}, {"text": _GPQA_TEXT}],
    },
    "bbh": {
        "source": "suzgunmirac/BIG-Bench-Hard",
        "layouts": [{"text": ["input", "target"], "records": "examples"}],
    },
    "ifeval": {
        "source": "google-research/instruction_following_eval",
        "layouts": [{"text": ["prompt"], "id": "key"}],
    },
    "mt_bench": {
        "source": "lm-sys/FastChat MT-Bench; LG-AI-EXAONE/KoMT-Bench",
        "layouts": [{"text": ["turns"], "id": "question_id"}],
    },
    "logickor": {
        "source": "instructkr/LogicKor",
        "layouts": [{"text": ["questions"], "id": "id"}, {"text": ["turns"], "id": "id"}],
    },
    "alpaca_eval": {
        "source": "tatsu-lab/alpaca_eval",
        "layouts": [{"text": ["instruction"]}],
    },
    "arena_hard": {
        "source": "lmarena/arena-hard-auto (v0.1 turns, v2 prompt)",
        "layouts": [
            {"text": ["turns.content"], "id": "question_id"},
            {"text": ["prompt"], "id": "uid"},
            {"text": ["prompt"]},
        ],
    },
    "squad": {
        "source": "SQuAD / KorQuAD JSON (data.paragraphs, a list of lists, is flattened)",
        "layouts": [{"text": ["context", "qas.question"], "records": "data.paragraphs"}],
    },
    "click": {
        "source": "CLIcK (its ids repeat across files, so none is used)",
        "layouts": [{"text": ["paragraph", "question", "choices"]}],
    },
    "haerae": {
        "source": "HAE-RAE Bench",
        "layouts": [{"text": ["question", "a", "b", "c", "d", "e"]}],
    },
}

ALIASES: dict[str, str] = {"komt_bench": "mt_bench", "korquad": "squad"}


def _preset(name: str, entry: dict[str, Any]) -> Preset:
    columns = entry.get("csv_columns")
    return Preset(
        name=name,
        layouts=tuple(Fields(**layout) for layout in entry["layouts"]),
        csv_columns=tuple(columns) if columns else None,
    )


PRESETS: dict[str, Preset] = {name: _preset(name, entry) for name, entry in PRESET_TABLE.items()}
PRESETS.update({alias: PRESETS[target] for alias, target in ALIASES.items()})
