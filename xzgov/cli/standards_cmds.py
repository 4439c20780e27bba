"""``xzgov standards list|show|coverage``: browse the 等保 / 密评 catalogues in ``standards/``.

Which rules check an item comes from :mod:`compliance.coverage` (derived from the rules, per level), the
same mapping the scanner uses, so ``coverage`` and the rule columns agree with what a scan runs.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from compliance.catalogue import (
    ASPECT_NAMES,
    CATEGORY_NAMES,
    DENGBAO,
    MIPING,
    Catalogue,
    CryptoUnit,
    Item,
    UnknownIdError,
    default_catalogue,
    load_catalogue,
)
from compliance.catalogue.high_risk import default_high_risk_table, high_risk_table_for
from compliance.coverage import coverage, derived_rules, rules_for
from xzgov.cli.output import console, print_json
from xzgov.core.errors import Diagnostic, UsageError


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


class ResponsibilityChoice(enum.StrEnum):
    tenant = "tenant"
    platform = "platform"
    shared = "shared"


class CheckTypeChoice(enum.StrEnum):
    automated = "automated"
    semi_automated = "semi-automated"
    manual = "manual"
    inherited = "inherited"


class FamilyChoice(enum.StrEnum):
    general = "general"
    cloud = "cloud"


_STANDARD_ALIASES = {
    "gb/t 22239-2019": DENGBAO,
    "gbt22239-2019": DENGBAO,
    "22239": DENGBAO,
    "dengbao": DENGBAO,
    "等保": DENGBAO,
    "gb/t 39786-2021": MIPING,
    "gbt39786-2021": MIPING,
    "39786": MIPING,
    "miping": MIPING,
    "密评": MIPING,
}

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table (default) or json.")]
DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--standards-dir",
        help="Catalogue directory (default: $XZGOV_STANDARDS_DIR or the installed standards package).",
        file_okay=False,
    ),
]


def _standard(value: str | None) -> str | None:
    if value is None:
        return None
    found = _STANDARD_ALIASES.get(value.strip().lower())
    if found is None:
        raise UsageError(f"unknown standard {value!r}: use {DENGBAO} (22239, 等保) or {MIPING} (39786, 密评)")
    return found


def _category(value: str | None, chosen: str | None, dengbao_only: bool) -> str | None:
    """``--category`` checked against the categories (等保) or aspects (密评) of the standard(s) listed: a value
    that names none of them is a usage error (exit 2) naming the valid ones, not an empty list."""
    if value is None:
        return None
    tables: list[tuple[str, Any]] = []
    if chosen in (None, DENGBAO):
        tables.append((f"{DENGBAO} 类别 categories", CATEGORY_NAMES))
    if chosen == MIPING or (chosen is None and not dengbao_only):
        tables.append((f"{MIPING} 方面 aspects", ASPECT_NAMES))
    valid = {v: code for _, table in tables for code, (name, _) in table.items() for v in (code, name)}
    text = value.strip()
    if text in valid:
        return text
    listing = "; ".join(
        f"{what}: " + ", ".join(f"{code} {name}" for code, (name, _) in table.items()) for what, table in tables
    )
    close = [code for v, code in valid.items() if v.lower() == text.lower()]
    other = next((label for label, table in ((f"{DENGBAO} 类别 category", CATEGORY_NAMES),
                                             (f"{MIPING} 方面 aspect", ASPECT_NAMES))
                  if any(text in (code, name) for code, (name, _) in table.items())), None)
    if close:
        why = f"did you mean {close[0]}? (codes are case-sensitive)"
    elif other is not None and chosen is not None:
        why = f"{text} is a {other}, not of {chosen} (--standard)"
    elif other is not None:
        why = f"{text} is a {other}, but --family/--responsibility/--check-type list {DENGBAO} items only"
    else:
        why = "no category or aspect has this code or name"
    message = f"未知类别 / unknown category {value!r}: {why}"
    raise UsageError(message, [Diagnostic("<command line>", 0, 0, "--category", message,
                                          f"use one of {listing}", "usage")])


def _load(directory: Path | None) -> Catalogue:
    """The catalogue, checked against the high-risk case table as a scan checks it (a ``high_risk`` flag without
    its case, or a case item not flagged, is exit 1 with the located problem): the commands show what a scan uses."""
    if directory is None:
        catalogue = default_catalogue()
        default_high_risk_table()
        return catalogue
    if not directory.is_dir():
        raise UsageError(f"catalogue directory not found: {directory}", [Diagnostic(
            "<command line>", 0, 0, "--standards-dir", f"no folder {directory}",
            "give the folder holding the catalogue YAML (the repository's standards/), or leave the option out for "
            "the installed catalogue", "usage")])
    catalogue = load_catalogue(directory)
    high_risk_table_for(catalogue, directory)
    return catalogue


def _item_json(item: Item, rules: tuple[str, ...]) -> dict[str, Any]:
    """An item as JSON with the rules that check it at its level (derived, not stored in the catalogue)."""
    return {**item.to_json(), "rules": list(rules)}


def _rules_by_level(catalogue: Catalogue, items: tuple[Item, ...]) -> dict[str, tuple[str, ...]]:
    """Item id → rule ids, for the levels of ``items`` (each item at its own level)."""
    table: dict[str, tuple[str, ...]] = {}
    for level in sorted({item.level for item in items}):
        table.update(derived_rules(catalogue, level=level))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``standards`` command group to ``app``."""
    group = typer.Typer(
        name="standards",
        help="等保 (GB/T 22239-2019 / GB/T 28448-2019) 与 密评 (GB/T 39786-2021) catalogues.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="standards")

    @group.command("list")
    def list_cmd(
        standard: Annotated[
            str | None,
            typer.Option("--standard", "-s", help="GB/T 22239-2019 (22239, 等保) or GB/T 39786-2021 (39786, 密评)."),
        ] = None,
        level: Annotated[int | None, typer.Option("--level", "-l", min=1, max=4, help="Protection level 1-4.")] = None,
        category: Annotated[
            str | None,
            typer.Option("--category", "-c", help="等保 category code or name (CES, 安全计算环境) / 密评 aspect."),
        ] = None,
        family: Annotated[FamilyChoice | None, typer.Option("--family", help="general or cloud (等保 only).")] = None,
        responsibility: Annotated[
            ResponsibilityChoice | None,
            typer.Option("--responsibility", "-r", help="Responsibility on the government cloud."),
        ] = None,
        check_type: Annotated[
            CheckTypeChoice | None, typer.Option("--check-type", "-t", help="How the item is checked.")
        ] = None,
        output: FormatOpt = OutputFormat.table,
        standards_dir: DirOpt = None,
    ) -> None:
        """List requirement items (等保) and assessment units (密评), filtered.

        Exit codes: 0 listed, 1 an invalid catalogue, 2 usage error (an unknown level, category or standard).
        """
        chosen = _standard(standard)
        dengbao_only = family is not None or responsibility is not None or check_type is not None
        if chosen == MIPING and dengbao_only:
            raise UsageError("--family, --responsibility and --check-type apply to GB/T 22239-2019 items only")
        category = _category(category, chosen, dengbao_only)
        catalogue = _load(standards_dir)
        items: tuple[Item, ...] = ()
        units: tuple[CryptoUnit, ...] = ()
        if chosen in (None, DENGBAO):
            items = catalogue.items_where(
                level=level,
                family=family.value if family else None,
                category=category,
                responsibility=responsibility.value if responsibility else None,
                check_type=check_type.value if check_type else None,
            )
        if chosen == MIPING or (chosen is None and not dengbao_only):
            units = catalogue.units_where(level=level, aspect=category)
        checked = _rules_by_level(catalogue, items)
        if output is OutputFormat.json:
            print_json({
                "items": [_item_json(i, checked.get(i.id, ())) for i in items],
                "crypto_units": [u.to_json() for u in units],
            })
            return
        if items:
            table = Table(title=f"{DENGBAO} 要求项 ({len(items)})", show_lines=False)
            table.add_column("条款", no_wrap=True)
            table.add_column("28448", no_wrap=True)
            for column in ("控制点", "要求", "责任", "检查方式", "高风险", "规则"):
                table.add_column(column, overflow="fold")
            for item in items:
                table.add_row(
                    item.clause,
                    item.assessment_unit,
                    item.control_point,
                    item.title,
                    item.responsibility,
                    item.check_type,
                    "是" if item.high_risk else "",
                    ",".join(checked.get(item.id, ())),
                )
            console.print(table)
        if units:
            table = Table(title=f"{MIPING} 测评单元 ({len(units)})")
            table.add_column("条款", no_wrap=True)
            table.add_column("简称", no_wrap=True)
            for column in ("方面", "单元", "一级", "二级", "三级", "四级", "D/A/K"):
                table.add_column(column, overflow="fold")
            for unit in units:
                dak = "".join(letter for letter, used in (("D", unit.d), ("A", unit.a), ("K", unit.k)) if used) or "-"
                table.add_row(
                    unit.id.split(":", 1)[1], unit.short_id, unit.aspect_name, unit.name, *unit.strengths, dak
                )
            console.print(table)
        if not items and not units:
            console.print("no matching items")

    @group.command("show")
    def show_cmd(
        ref: Annotated[
            str,
            typer.Argument(
                metavar="ID", help="Namespaced id, GB/T 28448 unit id (L3-CES1-01) or 密评 short id (NC-1)."
            ),
        ],
        output: FormatOpt = OutputFormat.table,
        standards_dir: DirOpt = None,
    ) -> None:
        """Show one item or unit.

        Exit codes: 0 shown, 1 an invalid catalogue, 2 usage error (an unknown item or unit id).
        """
        catalogue = _load(standards_dir)
        try:
            found = catalogue.lookup(ref)
        except UnknownIdError as unknown:
            # a usage error (exit 2), as an unknown `scan --system` is: the argument names nothing
            gap = catalogue.numbering_gap(ref)
            listing = ("list the ids with `xzgov standards list` (a namespaced id such as GB/T 22239-2019:8.1.4.1.a, "
                       "a GB/T 28448 unit id such as L3-CES1-01, or a 密评 short id such as NC-1)")
            if gap is not None:
                raise UsageError(f"{ref} 不存在 does not exist: {gap}", [Diagnostic(
                    "<command line>", 0, 0, "ID", f"{ref} 不存在 does not exist: {gap}", listing, "usage")]) from None
            hint = f"did you mean: {', '.join(unknown.suggestions)}" if unknown.suggestions else listing
            raise UsageError(f"unknown id {ref!r}", [Diagnostic(
                "<command line>", 0, 0, "ID", f"未知的标准条目 unknown id {ref!r}", hint, "usage")]) from None
        rules = rules_for(catalogue, found)
        if output is OutputFormat.json:
            print_json({**found.to_json(), "rules": list(rules)})
            return
        rows: list[tuple[str, str]]
        if isinstance(found, Item):
            rows = [
                ("id", found.id),
                ("GB/T 28448-2019", found.assessment_unit),
                ("类别 category", f"{found.category_name} ({found.category}, {found.kind})"),
                ("控制点 control point", f"{found.control_clause} {found.control_point}"),
                ("要求 title", found.title),
                ("概述 summary", found.summary),
                ("适用级别 levels", ", ".join(str(lv) for lv in found.levels)),
                *[(f"第{lv}级说明", note) for lv, note in found.level_notes],
                ("其他级别 equivalents", ", ".join(found.equivalents) or "-"),
                ("扩展 family", found.family),
                ("责任 responsibility", found.responsibility),
                ("检查方式 check type", found.check_type),
                ("证据 evidence", "；".join(found.evidence)),
                ("高风险 high risk", "可能构成高风险" if found.high_risk else "否"),
                (f"规则 rules (第{found.level}级)", ", ".join(rules) or "-"),
                ("来源 source", str(found.source)),
            ]
        else:
            rows = [
                ("id", found.id),
                ("简称 short id", found.short_id),
                ("方面 aspect", f"{found.aspect_name} ({found.aspect}, {found.kind})"),
                ("单元 unit", found.name),
                ("概述 summary", found.summary),
                *[(f"第{lv}级强度", found.strengths[lv - 1]) for lv in (1, 2, 3, 4)],
                ("D/A/K", f"D={'是' if found.d else '否'} A={'是' if found.a else '否'} K={'是' if found.k else '否'}"),
                ("关联等保项 related", ", ".join(found.related) or "-"),
                ("规则 rules", ", ".join(rules) or "-"),
                ("来源 source", str(found.source)),
            ]
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in rows:
            table.add_row(key, value)
        console.print(table)

    @group.command("coverage")
    def coverage_cmd(
        level: Annotated[int | None, typer.Option("--level", "-l", min=1, max=4, help="Only this level.")] = None,
        family: Annotated[FamilyChoice | None, typer.Option("--family", help="general or cloud.")] = None,
        output: FormatOpt = OutputFormat.table,
        standards_dir: DirOpt = None,
    ) -> None:
        """Per level and family: how items are checked, and which automatable items the rules cover.

        Exit codes: 0 shown, 1 an invalid catalogue, 2 usage error.
        """
        catalogue = _load(standards_dir)
        rows = [
            row
            for row in coverage(catalogue)
            if (level is None or row.level == level) and (family is None or row.family == family.value)
        ]
        if output is OutputFormat.json:
            print_json({"rule_registry": "policies.registry", "rows": [row.to_json() for row in rows]})
            return
        table = Table(title=f"{DENGBAO} 检查覆盖 coverage")
        for column in ("级别", "扩展", "要求项", "自动", "半自动", "人工", "继承", "未覆盖"):
            table.add_column(column, justify="left" if column == "扩展" else "right")
        for row in rows:
            table.add_row(
                str(row.level),
                row.family,
                str(row.items),
                f"{row.automated_covered}/{row.automated}",
                f"{row.semi_automated_covered}/{row.semi_automated}",
                str(row.manual),
                str(row.inherited),
                str(len(row.not_covered)),
            )
        console.print(table)
        console.print(
            "自动、半自动: 有规则/总数，规则即扫描在该级别运行的规则 (policies.registry)；未覆盖 = 自动或半自动"
            "检查的要求项中尚无规则的项数 (automated or semi-automated items no rule checks at that level; "
            "--format json lists them)."
        )
