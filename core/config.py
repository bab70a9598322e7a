"""Loading a YAML config into pydantic models, with errors that name the bad key.

Each package owns the pydantic model of its own section; ``moru/config.py`` composes them, and a job run on its
own (``python -m spark_jobs ingest --config x.yaml``) validates only the sections it needs. Paths are resolved by
the :data:`core.paths.ConfigPath` fields themselves, against the config file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names every bad key."""


def format_validation_error(exc: ValidationError, origin: str, prefix: str = "") -> str:
    lines = [f"config error in {origin}:"]
    for err in exc.errors():
        key = prefix + (".".join(str(p) for p in err["loc"]) or "(top level)")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = err.get("input")
        shown = (
            "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict | list) else f" (got {got!r})"
        )
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def known_values(values: list[str], known: tuple[str, ...], what: str) -> list[str]:
    """``values`` without repeats, each one of ``known``; a ValueError naming the unknown ones (config validators)."""
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)} (known: {', '.join(known)})")
    return list(dict.fromkeys(values))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The config file's top-level mapping (an empty file is ``{}``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config error in {path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error in {path}: the top level must be a mapping of keys")
    return data


def validate(model: type[M], data: Any, origin: str, config_dir: str | Path | None = None, prefix: str = "") -> M:
    """``model`` from ``data``; relative paths in :data:`ConfigPath` fields resolve against ``config_dir``."""
    try:
        return model.model_validate(data, context={"config_dir": str(config_dir) if config_dir else None})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin, prefix)) from None


def load(model: type[M], path: str | Path, sections: bool = False) -> M:
    """Validate the config file at ``path`` as ``model``. ``sections=True`` keeps only the top-level keys the
    model declares (a job run alone ignores the sections of other packages)."""
    data = read_yaml(path)
    if sections:
        data = {k: v for k, v in data.items() if k in model.model_fields}
    return validate(model, data, str(path), Path(path).resolve().parent)
