"""Field paths of vaulted values: ``db.users[0].password``, ``["odd key"].x``.

The project's one path syntax (:func:`xzgov.core.yamlio.format_path`: keys joined by ``.``, list
items ``[i]``), plus one rule vault paths need: a key that is not a simple name (letters, digits,
``_``, ``-``, starting with a letter or ``_``) is written ``["json"]``, so that two different fields
never share a path. Paths are bound into ciphertexts: this syntax must never change.
"""

from __future__ import annotations

import json
import re

from xzgov.core.yamlio import format_path

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def join_path(parent: str, part: str | int) -> str:
    """The path of ``part`` (a mapping key or list index) below the field ``parent``."""
    if isinstance(part, str) and not _SIMPLE_KEY.fullmatch(part):
        return f"{parent}[{json.dumps(part, ensure_ascii=False)}]"
    return format_path((parent, part))  # parent is already formatted: "" or "a.b[0]"


def is_below(path: str, parent: str) -> bool:
    """True when ``path`` is a field inside ``parent`` (a list item or mapping key below it)."""
    return path.startswith((parent + ".", parent + "["))
