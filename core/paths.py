"""One path type for every config key that names a file or folder, resolved in one place.

A path in a config may be a local path (absolute, or relative to the config file's folder, ``~`` expanded),
``file://``, ``s3://`` / ``s3a://`` (with pyarrow's ``?options`` where a key allows them) or ``dbfs:/``.
Fields typed :data:`ConfigPath` resolve relative local paths against the ``config_dir`` the model is validated
with (``model_validate(data, context={"config_dir": ...})``, done by :func:`core.config.validate`); a model
built in code without that context keeps the value as given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|dbfs:)")


def is_local(value: str) -> bool:
    """A plain path (not a URI such as ``s3://``, ``file://`` or ``dbfs:/``)."""
    return _SCHEME.match(value) is None


def resolve(value: str, base: str | Path | None) -> str:
    """``value`` with a relative local path made absolute against ``base`` (a folder); URIs, absolute paths and
    ``base=None`` leave it unchanged (``~`` is expanded either way)."""
    if not is_local(value):
        return value
    value = os.path.expanduser(value)
    if base is None or os.path.isabs(value):
        return value
    return str((Path(base) / value).resolve())


def _resolve_in_context(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return resolve(value, context.get("config_dir"))


ConfigPath = Annotated[str, AfterValidator(_resolve_in_context)]
"""A ``str`` field naming a file, folder or URI; relative local paths are relative to the config file."""
