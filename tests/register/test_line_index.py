"""The line index kept from the register's one parse locates exactly what a re-parse of the file locates."""

from __future__ import annotations

from pathlib import Path

from xzgov.core.manifest_lines import line_index
from xzgov.core.register import load_register
from xzgov.core.yamlio import LocatedDocument, load_documents
from xzgov.facts.manifest import located, manifest_facts

ROOT = Path(__file__).resolve().parents[2]


def test_index_matches_a_reparse_for_every_located_fact() -> None:
    register = load_register(ROOT)
    checked = 0
    for name, system in register.systems.items():
        lines = line_index(register, name)
        assert lines is not None, f"{name}: no line index kept at load"
        document = LocatedDocument(system.source, None, text=(ROOT / system.source).read_text(encoding="utf-8"))
        facts = manifest_facts(register, system)
        indexed = located(facts, document)
        for key in facts.locations:
            where = indexed.locations[key]
            if not where.startswith(system.source + ":"):
                continue  # region facts are located in region.yaml, not by line
            path = facts.locations._entries[key]  # type: ignore[attr-defined]
            assert lines.line(path) == document.position(path)[0], (name, key, path)
            checked += 1
    assert checked > 1000


def test_uncovered_paths_are_not_guessed_and_missing_ones_fall_back_to_the_parent() -> None:
    text = "spec:\n  flows:\n  - to: a\n  - to: b\n  audit:\n    destination: x\n"
    from xzgov.core.manifest_lines import SYSTEM_LINES

    (document,), problems = load_documents(text, "m.yaml", index=SYSTEM_LINES)
    assert problems == [] and document.lines is not None
    lines = document.lines
    assert lines.line(("spec", "flows", 1)) == 4
    assert lines.line(("spec", "flows", 7)) == 3  # no such item: the list's own line, as the node walk says
    assert lines.line(("spec", "audit", "retention_days")) == 6  # absent key: its mapping's line
    assert lines.line(("spec", "audit", "destination")) is None  # not a path rules locate: the caller re-parses
    walk = LocatedDocument("m.yaml", None, text=text)
    for path in (("spec", "flows", 1), ("spec", "flows", 7), ("spec", "audit", "retention_days")):
        assert lines.line(path) == walk.position(path)[0]


def test_unlocated_facts_point_at_the_file() -> None:
    register = load_register(ROOT)
    system = next(iter(register.systems.values()))
    facts = manifest_facts(register, system)
    assert facts.where("audit", "retention_days") == system.source
    assert located(facts, None).where("audit") == system.source
