"""Command help that flows at any terminal width.

Typer (0.29) keeps every line break of a docstring's later paragraphs, so a docstring wrapped at 110
columns for the source came out ragged at 80 ("…parts of different registers, catalogue or" / "rule
versions, …" on a line of its own). :func:`reflow_help` joins the breaks that only wrapped the source —
the previous line ends mid-sentence — and keeps those a writer meant: after a sentence or a colon, before
a list item or an indented line, and every line of a ``\\b`` paragraph (click's "do not rewrap" marker).
"""

from __future__ import annotations

import re
from typing import Any

#: A line ending with one of these ends a sentence or introduces what follows: the break is kept.
_HARD_END = ".:;!?。：；！？"
#: A line starting a list item or an indented block (kept on its own line).
_LIST_ITEM = re.compile(r"^(\s|[-*•]\s|\d+[.)]\s|\(\w\)\s)")
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def reflow(text: str) -> str:
    """``text`` with the line breaks inside sentences joined (paragraphs, lists and ``\\b`` blocks kept)."""
    paragraphs = text.split("\n\n")
    return "\n\n".join(paragraph if paragraph.startswith("\b") else _join_soft_breaks(paragraph)
                       for paragraph in paragraphs)


def _join_soft_breaks(paragraph: str) -> str:
    lines = paragraph.split("\n")
    joined = [lines[0]]
    for line in lines[1:]:
        previous = joined[-1].rstrip()
        if not previous or previous[-1] in _HARD_END or _LIST_ITEM.match(line) or not line.strip():
            joined.append(line)
            continue
        following = line.strip()
        # Chinese is written without spaces: two CJK characters across the break join directly.
        space = "" if _CJK.match(previous[-1]) and _CJK.match(following[0]) else " "
        joined[-1] = previous + space + following
    return "\n".join(joined)


def reflow_help(command: Any) -> Any:
    """Reflow the help of a click command and of every command below it (a group's); returns ``command``."""
    if isinstance(getattr(command, "help", None), str):
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        reflow_help(sub)
    return command
