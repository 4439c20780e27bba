"""Text shown to people from data nobody vetted (file names, host output, register text): invisible and
control characters made visible, so a crafted value cannot move a terminal's cursor, recolour it, retitle it
or fake a line in a report."""

from __future__ import annotations

import re

# Control characters (C0, DEL, C1), line/paragraph separators, bidirectional overrides and lone
# surrogates (undecodable file-name bytes): each could fake or hide output in a terminal.
_INVISIBLE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
              *range(0x2066, 0x206A), *range(0xD800, 0xE000)]
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
