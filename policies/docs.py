"""Rule documentation generated from the registry: the rule table and host baseline of
``docs/compliance.md`` and the rule count in ``README.md``, each between marker comments.

    python -m policies.docs            # rewrite the generated parts
    python -m policies.docs --check    # exit 1 when the committed docs differ from the registry

``tests/policies/test_docs.py`` runs the check, so a rule added, renamed or changed without regenerating
fails the tests.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from policies.engine import Rule
from policies.registry import RULES
from xzgov.facts.thresholds import CONTINUITY, HOST_BY_LEVEL, SSH_CLIENT_ALIVE_MAX_COUNT

ROOT = Path(__file__).resolve().parents[1]
#: More controls than this are shown as first … last (the 22 GB/T 39786 technical units).
_MAX_LISTED = 6


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _controls(rule: Rule) -> str:
    controls = [f"`{control}`" for control in rule.controls]
    if len(controls) > _MAX_LISTED:
        last = rule.controls[-1].rpartition(":")[2]
        return f"{controls[0]} … `{last}` ({len(controls)} items)"
    return "<br>".join(controls)


def rule_table(rules: Sequence[Rule] = RULES) -> str:
    """The Markdown table of ``rules`` (one row per rule, registry order)."""
    lines = ["| id | 标题 / title | severity | catalogue items (level 3; `{L}` = chapter of the level) | levels "
             "| points | facts |", "|---|---|---|---|---|---|---|"]
    for rule in rules:
        lines.append(
            f"| `{rule.id}` | {_cell(rule.title)}<br>*{_cell(rule.title_en)}* | {rule.severity} | {_controls(rule)} "
            f"| {','.join(map(str, sorted(rule.levels)))} | {', '.join(map(str, rule.points))} "
            f"| {', '.join(f'`{fact}`' for fact in rule.facts)} |")
    return "\n".join(lines)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return " / ".join(f"`{v}`" for v in value)
    return str(value)


def baseline_table() -> str:
    """Host baseline and continuity thresholds per 等保 level (:mod:`xzgov.facts.thresholds`)."""
    lines = ["| threshold | level 1 | level 2 | level 3 | level 4 |", "|---|---|---|---|---|"]
    for table in (HOST_BY_LEVEL, CONTINUITY):
        for name in table[3]:
            lines.append(f"| `{name}` | " + " | ".join(_value(table[level][name]) for level in (1, 2, 3, 4)) + " |")
    lines.append(f"| `ssh_client_alive_max_count` | {' | '.join([str(SSH_CLIENT_ALIVE_MAX_COUNT)] * 4)} |")
    return "\n".join(lines)


def _between(text: str, name: str, body: str, inline: bool = False) -> str:
    """Replace what lies between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"marker {begin} … {end} not found")
    inner = body if inline else f"\n{body}\n"
    return pattern.sub(lambda _: f"{begin}{inner}{end}", text, count=1)


#: file (relative to the repository) → what generates its marked parts.
GENERATED: Mapping[str, Callable[[str], str]] = {
    "docs/compliance.md": lambda text: _between(_between(text, "rules", rule_table()), "host-baseline",
                                                baseline_table()),
    "README.md": lambda text: _between(text, "rule-count", str(len(RULES)), inline=True),
}


def drifted(root: Path = ROOT) -> list[str]:
    """Files whose generated parts differ from the registry."""
    return [name for name, render in GENERATED.items()
            if render(text := (root / name).read_text(encoding="utf-8")) != text]


def write(root: Path = ROOT) -> list[str]:
    """Regenerate; the files that changed."""
    changed = drifted(root)
    for name in changed:
        path = root / name
        path.write_text(GENERATED[name](path.read_text(encoding="utf-8")), encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--check"]:
        stale = drifted()
        for name in stale:
            print(f"{name}: out of date; run python -m policies.docs", file=sys.stderr)
        return 1 if stale else 0
    if args:
        print("usage: python -m policies.docs [--check]", file=sys.stderr)
        return 2
    for name in write():
        print(f"regenerated {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
