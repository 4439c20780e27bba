"""Text shown to people from data nobody vetted (file names, host output, register text): invisible and
control characters made visible, so a crafted value cannot move a terminal's cursor, recolour it, retitle it
or fake a line in a report."""

from __future__ import annotations

import json
import re
from typing import Any

# Control characters (C0, DEL, C1), line/paragraph separators, bidirectional overrides and lone
# surrogates (undecodable file-name bytes): each could fake or hide output in a terminal. U+FFFE and U+FFFF
# are no characters: XML 1.0 forbids them, so one in a title made the XLSX worksheet a corrupt file.
_INVISIBLE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
              *range(0x2066, 0x206A), *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _INVISIBLE}
_ESCAPES_IN_LAYOUT = {code: escape for code, escape in _ESCAPES.items() if code not in (0x09, 0x0A)}
#: the same characters, to find in C before translating (most text has none; reports escape millions)
_FIND = re.compile("[" + "".join(re.escape(chr(code)) for code in _INVISIBLE) + "]")
_FIND_IN_LAYOUT = re.compile("[" + "".join(re.escape(chr(code)) for code in _ESCAPES_IN_LAYOUT) + "]")


def visible_text(value: str) -> str:
    """``value`` with control characters shown as escapes (``"\\x1b"`` → ``\\x1b``), for output printed
    with ``markup=False``: a crafted file name cannot move the cursor, colour or fake a line."""
    return value.translate(_ESCAPES) if _FIND.search(value) else value


def printable_text(value: str) -> str:
    """``value`` with every invisible character escaped as in :func:`visible_text` except line breaks and
    tabs, which lay out multi-line messages and tables."""
    return value.translate(_ESCAPES_IN_LAYOUT) if _FIND_IN_LAYOUT.search(value) else value


#: What :func:`printable_text` changes, as it may appear in JSON text: a raw invisible character JSON keeps
#: raw (U+007F and above), or the escape JSON writes for a control character (``\u001b``, ``\r``, ``\b``,
#: ``\f``; an escaped backslash before ``u00..`` is matched too, which only costs the walk).
_MAY_HIDE_IN_JSON = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in _ESCAPES_IN_LAYOUT if code >= 0x20) + "]"
    + r"|\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[rbf]")


def printable_data(value: Any) -> Any:
    """``value`` (JSON data: dicts, lists, strings, numbers) with :func:`printable_text` applied to every
    string, keys included: for data a page script or a CI tool shows to people."""
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, dict):
        return {printable_text(key) if isinstance(key, str) else key: printable_data(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [printable_data(item) for item in value]
    return value


def may_hide_in_json(text: str) -> bool:
    """Whether JSON text holds something :func:`printable_text` would change (a cheap scan: when False,
    :func:`printable_data` is not needed)."""
    return _MAY_HIDE_IN_JSON.search(text) is not None


def printable_json_text(value: Any, text: str) -> str:
    """``text`` (``json.dumps(value, ...)`` compact, ``ensure_ascii=False``) again from
    :func:`printable_data` of ``value`` when it holds a character :func:`printable_text` changes; else
    ``text`` itself — most data has none, and the walk is skipped."""
    if not may_hide_in_json(text):
        return text
    return json.dumps(printable_data(value), ensure_ascii=False, separators=(",", ":"))
