"""The report set's shared text table: strings that several systems repeat, written once.

Rule-result messages, evidence (what was observed and where), item notes, the steps of a score's
derivation repeat from system to system (the same rule says
the same thing about every system that passes it; a platform's inherited items carry the same note and
record for every system on it). :func:`shared_texts` lists the strings used by at least two systems (most
used first, at most :data:`MAX_TEXTS`, so the table is bounded whatever the region's size; the JSON report,
one file, also takes the strings one system repeats); a field that holds such a string holds its index in
the table instead (an integer), any other string is written as is.
``compliance-report.json`` carries the table as ``texts``, the HTML pages in ``catalogue.js`` (``T``);
:func:`text` (and ``report.js``) turn a field back into its string.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from compliance.results import (
    NOTE_INHERITED,
    NOTE_MANUAL,
    ItemOutcome,
    ItemState,
    ScanResult,
    ScoreCard,
    SystemReport,
    note_head,
)

#: At most this many shared strings (the most used): bounds ``catalogue.js`` and the JSON's ``texts``.
MAX_TEXTS = 20_000
#: Shorter strings are written as they are (an index would save nothing).
MIN_LENGTH = 4

Text = int | str


def _card_texts(card: ScoreCard | None) -> Iterator[str]:
    if card is not None:
        for step in card.steps:
            yield from step


def default_note(item: ItemOutcome) -> str | None:
    """The note every unchecked item of its kind carries (the JSON report gives it once, in its catalogue)."""
    if item.state is ItemState.MANUAL_PENDING:
        return NOTE_MANUAL.format(check_type=item.check_type)
    if item.state is ItemState.INHERITED and item.attestation is None:
        return NOTE_INHERITED
    return None


def note_parts(item: ItemOutcome) -> list[str]:
    """``[head, rest]`` of an attested or inherited item's note (the head, :func:`compliance.results.note_head`,
    rebuilt from the item's trail; ``head + rest`` is the note), else ``[note]``."""
    note, head = item.note, note_head(item.trail)
    if not head or len(note) <= len(head) or not note.startswith(head):
        return [note]
    return [head, note[len(head):]]


def system_strings(system: SystemReport, pages: bool = True) -> Iterator[str]:
    """Every string of ``system`` a report may write by reference (repeated as often as it is written):
    with ``pages`` those of the HTML pages (also rule ids and the notes of unchecked items), else those of
    the JSON report."""
    owned: set[int] = set()  # evidence of a rule result: the JSON report writes it with the result only
    for finding in system.findings:
        yield finding.result.message
        for evidence in finding.result.evidence:
            owned.add(id(evidence))
            yield evidence.observed
            yield evidence.location
    for item in system.items:
        if pages:
            yield from item.rules
        if item.note and (pages or item.note != default_note(item)):
            yield from note_parts(item)
        if pages or not all(id(evidence) in owned for evidence in item.evidence):
            for evidence in item.evidence:
                yield evidence.observed
                yield evidence.location
    yield from _card_texts(system.dengbao)
    yield from _card_texts(system.miping)


def shared_texts(result: ScanResult, pages: bool = True, limit: int = MAX_TEXTS) -> list[str]:
    """The strings written at least twice: for the HTML pages (``pages``) those of at least two systems (a
    string one page repeats is in that page's own table), for the JSON report (one file) any; most used
    first (ties: first use first)."""
    uses: Counter[str] = Counter()
    first: dict[str, int] = {}
    for system in result.systems:
        strings = system_strings(system, pages)
        for value in (dict.fromkeys(strings) if pages else strings):  # once per system, in first-use order
            if len(value) >= MIN_LENGTH:
                uses[value] += 1
                first.setdefault(value, len(first))
    shared = [value for value, count in uses.items() if count >= 2]
    shared.sort(key=lambda value: (-uses[value], first[value]))
    return shared[:limit]


class Texts:
    """Writes a string as its index in the shared table when it is there."""

    def __init__(self, table: Sequence[str]) -> None:
        self.table = list(table)
        self._index: Mapping[str, int] = {value: index for index, value in enumerate(self.table)}

    def ref(self, value: str) -> Text:
        return self._index.get(value, value)


    def note(self, item: ItemOutcome) -> Text | list[Text]:
        """An item's note as one text, or as ``[head, rest]`` (:func:`note_parts`) each by reference when it has
        a head."""
        parts = note_parts(item)
        return self.ref(item.note) if len(parts) == 1 else [self.ref(part) for part in parts]


def text(table: Sequence[str], value: Any) -> Any:
    """The string a field holds: ``table[value]`` for an index, the value itself otherwise; a note written
    as ``[head, rest]`` (version 6) joined back."""
    if isinstance(value, list):
        return "".join(str(text(table, part)) for part in value)
    return table[value] if isinstance(value, int) and not isinstance(value, bool) else value
