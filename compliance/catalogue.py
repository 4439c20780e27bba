"""Standards as code: load the GB/T 22239-2019 and GB/T 39786-2021 catalogues in ``standards/``.

The catalogues are YAML data (one file per level and family for 等保, one file for the 41 密评
units), validated in three steps, each reporting located :class:`~xzgov.core.errors.Diagnostic`s:

1. YAML with positions: syntax errors and duplicate keys are errors (line and column from PyYAML's
   composed nodes);
2. JSON Schema (draft 2020-12) ``standards/schema/catalogue.schema.json``;
3. catalogue rules: clause numbering, GB/T 28448-2019 unit numbering (gaps must be declared),
   counts in the metadata, unique ids across files, and references between items.

The result is an immutable :class:`Catalogue` of frozen dataclasses with indexes by namespaced id
(``GB/T 22239-2019:8.1.4.1.a``), by GB/T 28448-2019 assessment-unit id (``L3-CES1-01``) and by
密评 short id (``NC-1``), and simple queries. See ``docs/standards.md``.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from xzgov.core.errors import Diagnostic, ExitCode, XzgovError
from xzgov.core.schema import validate_document
from xzgov.core.yamlio import LocatedDocument as LocatedYaml
from xzgov.core.yamlio import load_file

__all__ = [
    "CATEGORY_NAMES",
    "DENGBAO",
    "MIPPING",
    "Aspect",
    "Catalogue",
    "CatalogueDocument",
    "CatalogueError",
    "Category",
    "CheckType",
    "Control",
    "CoverageRow",
    "CryptoUnit",
    "Family",
    "Item",
    "LocatedYaml",
    "Responsibility",
    "Strength",
    "UnknownIdError",
    "check_rule_references",
    "coverage",
    "default_catalogue",
    "default_standards_dir",
    "load_catalogue",
    "load_located_yaml",
    "registry_rule_ids",
    "schema_diagnostics",
]

DENGBAO = "GB/T 22239-2019"
MIPPING = "GB/T 39786-2021"

Responsibility = Literal["tenant", "platform", "shared"]
CheckType = Literal["automated", "semi-automated", "manual", "inherited"]
Family = Literal["general", "cloud"]
Strength = Literal["应", "宜", "可", "不要求"]
Kind = Literal["technical", "management"]

RESPONSIBILITIES: tuple[Responsibility, ...] = ("tenant", "platform", "shared")
CHECK_TYPES: tuple[CheckType, ...] = ("automated", "semi-automated", "manual", "inherited")
FAMILIES: tuple[Family, ...] = ("general", "cloud")

#: Category code → (Chinese name, kind). Management codes are unconfirmed (see docs/standards.md).
CATEGORY_NAMES: Mapping[str, tuple[str, Kind]] = {
    "PES": ("安全物理环境", "technical"),
    "CNS": ("安全通信网络", "technical"),
    "ABS": ("安全区域边界", "technical"),
    "CES": ("安全计算环境", "technical"),
    "SMC": ("安全管理中心", "technical"),
    "PSS": ("安全管理制度", "management"),
    "ORS": ("安全管理机构", "management"),
    "HRS": ("安全管理人员", "management"),
    "CMS": ("安全建设管理", "management"),
    "MMS": ("安全运维管理", "management"),
}
#: 密评 aspect code → (Chinese name, kind).
ASPECT_NAMES: Mapping[str, tuple[str, Kind]] = {
    "physical": ("物理和环境安全", "technical"),
    "network": ("网络和通信安全", "technical"),
    "device": ("设备和计算安全", "technical"),
    "application": ("应用和数据安全", "technical"),
    "policy": ("管理制度", "management"),
    "personnel": ("人员管理", "management"),
    "build_run": ("建设运行", "management"),
    "emergency": ("应急处置", "management"),
}
_CHAPTER = {1: 6, 2: 7, 3: 8, 4: 9}
_FAMILY_DIGIT: Mapping[str, int] = {"general": 1, "cloud": 2}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_UNIT_RE = re.compile(r"^L([1-4])-([A-Z]{3})([1-5])-([0-9]{2})$")
_BARE_CLAUSE_RE = re.compile(r"^[0-9]+(\.[0-9]+)+(\.[a-z])?$")

PathKey = tuple[str | int, ...]


class CatalogueError(XzgovError):
    """A catalogue (or scoring configuration) file is unreadable or invalid."""

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        super().__init__(message, tuple(diagnostics), ExitCode.FAILED)


class UnknownIdError(KeyError):
    """No item or unit has this id; ``suggestions`` holds close matches (did you mean …)."""

    def __init__(self, ref: str, suggestions: Sequence[str]) -> None:
        super().__init__(ref)
        self.ref = ref
        self.suggestions = tuple(suggestions)

    def __str__(self) -> str:
        text = f"未知的标准条目 unknown id: {self.ref!r}"
        if self.suggestions:
            text += "; did you mean: " + ", ".join(self.suggestions)
        return text


# --------------------------------------------------------------------------------------------
# YAML with positions
# --------------------------------------------------------------------------------------------


def display_path(path: Path) -> str:
    """A path as users see it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_located_yaml(path: Path) -> tuple[LocatedYaml | None, list[Diagnostic]]:
    """Read ``path`` as one YAML document with positions (the project's one YAML loader)."""
    return load_file(path, display_path(path))


def schema_diagnostics(doc: LocatedYaml, schema: Mapping[str, Any]) -> list[Diagnostic]:
    """Validate ``doc`` against a JSON Schema; every error is located, with a fix hint."""
    return validate_document(doc, schema)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRef:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class UnconfirmedFact:
    fact: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Discrepancy:
    fact: str
    notes_value: str
    catalogue_value: str
    note: str


@dataclass(frozen=True)
class CatalogueDocument:
    """One catalogue file and its metadata header."""

    path: str
    standard: str
    title: str
    kind: Literal["requirements", "crypto-units"]
    version: str
    level: int | None
    family: Family | None
    counts_confirmed: bool
    unconfirmed: tuple[UnconfirmedFact, ...]
    discrepancies: tuple[Discrepancy, ...]
    numbering_gaps: tuple[tuple[str, str], ...]  #: (unit id, note)
    source_notes: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """One requirement item (要求项) of GB/T 22239-2019 at one level, with its 28448 unit."""

    id: str  #: ``GB/T 22239-2019:8.1.4.1.a``
    assessment_unit: str  #: GB/T 28448-2019 unit, ``L3-CES1-01``
    standard: str
    level: int
    family: Family
    category: str  #: code, e.g. ``CES``
    category_name: str  #: e.g. 安全计算环境
    kind: Kind
    control_clause: str  #: ``8.1.4.1``
    control_point: str  #: e.g. 身份鉴别
    title: str
    summary: str
    levels: tuple[int, ...]
    level_notes: tuple[tuple[int, str], ...]
    equivalents: tuple[str, ...]
    responsibility: Responsibility
    check_type: CheckType
    evidence: tuple[str, ...]
    high_risk: bool
    rules: tuple[str, ...]
    source: SourceRef

    @property
    def clause(self) -> str:
        """The clause without the standard prefix, e.g. ``8.1.4.1.a``."""
        return self.id.split(":", 1)[1]

    @property
    def control_id(self) -> str:
        return f"{self.standard}:{self.control_clause}"

    def note_for(self, level: int) -> str:
        return dict(self.level_notes).get(level, "")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "assessment_unit": self.assessment_unit,
            "standard": self.standard,
            "level": self.level,
            "family": self.family,
            "category": self.category,
            "category_name": self.category_name,
            "kind": self.kind,
            "control_clause": self.control_clause,
            "control_point": self.control_point,
            "title": self.title,
            "summary": self.summary,
            "levels": list(self.levels),
            "level_notes": {str(level): note for level, note in self.level_notes},
            "equivalents": list(self.equivalents),
            "responsibility": self.responsibility,
            "check_type": self.check_type,
            "evidence": list(self.evidence),
            "high_risk": self.high_risk,
            "rules": list(self.rules),
            "source": str(self.source),
        }


@dataclass(frozen=True)
class Control:
    """A control point (控制点), e.g. ``GB/T 22239-2019:8.1.4.1`` 身份鉴别."""

    standard: str
    level: int
    family: Family
    category: str
    category_name: str
    clause: str
    name: str
    items: tuple[Item, ...]

    @property
    def id(self) -> str:
        return f"{self.standard}:{self.clause}"


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    name_en: str
    kind: Kind
    clause: str
    level: int
    family: Family
    controls: tuple[Control, ...]


@dataclass(frozen=True)
class CryptoUnit:
    """One of the 41 GB/T 39786-2021 assessment units."""

    id: str  #: level-3 clause, ``GB/T 39786-2021:8.2.a``
    short_id: str  #: e.g. ``NC-1``
    standard: str
    aspect: str  #: aspect code, e.g. ``network``
    aspect_name: str
    kind: Kind
    name: str
    summary: str
    strengths: tuple[Strength, Strength, Strength, Strength]  #: levels 1..4
    d: bool
    a: bool
    k: bool
    related: tuple[str, ...]
    source: SourceRef

    def strength(self, level: int) -> Strength:
        if level not in _CHAPTER:
            raise ValueError(f"密评 level must be 1-4, got {level}")
        return self.strengths[level - 1]

    def required_at(self, level: int) -> bool:
        return self.strength(level) != "不要求"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.short_id,
            "standard": self.standard,
            "aspect": self.aspect,
            "aspect_name": self.aspect_name,
            "kind": self.kind,
            "name": self.name,
            "summary": self.summary,
            "strength": {str(level): self.strengths[level - 1] for level in (1, 2, 3, 4)},
            "dak": {"d": self.d, "a": self.a, "k": self.k},
            "related": list(self.related),
            "source": str(self.source),
        }


@dataclass(frozen=True)
class Aspect:
    code: str
    name: str
    kind: Kind
    units: tuple[CryptoUnit, ...]


@dataclass(frozen=True)
class Catalogue:
    """Every loaded catalogue, indexed. Build it with :func:`load_catalogue`."""

    documents: tuple[CatalogueDocument, ...]
    categories: tuple[Category, ...]
    aspects: tuple[Aspect, ...]
    _by_id: dict[str, Item | CryptoUnit] = field(init=False, repr=False, compare=False)
    _by_unit: dict[str, Item] = field(init=False, repr=False, compare=False)
    _by_short: dict[str, CryptoUnit] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Item | CryptoUnit] = {}
        by_unit: dict[str, Item] = {}
        by_short: dict[str, CryptoUnit] = {}
        for item in self.items:
            by_id[item.id] = item
            by_unit[item.assessment_unit] = item
        for unit in self.crypto_units:
            by_id[unit.id] = unit
            by_short[unit.short_id] = unit
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_unit", by_unit)
        object.__setattr__(self, "_by_short", by_short)

    # -- collections ------------------------------------------------------------------------
    @property
    def controls(self) -> tuple[Control, ...]:
        return tuple(control for category in self.categories for control in category.controls)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for control in self.controls for item in control.items)

    @property
    def crypto_units(self) -> tuple[CryptoUnit, ...]:
        return tuple(unit for aspect in self.aspects for unit in aspect.units)

    # -- lookups ----------------------------------------------------------------------------
    def get(self, ref: str) -> Item | CryptoUnit | None:
        """By namespaced id, GB/T 28448 unit id or 密评 short id; ``None`` when unknown."""
        ref = ref.strip()
        return self._by_id.get(ref) or self._by_unit.get(ref) or self._by_short.get(ref)

    def lookup(self, ref: str) -> Item | CryptoUnit:
        """Like :meth:`get` but raises :class:`UnknownIdError` with did-you-mean suggestions."""
        found = self.get(ref)
        if found is None:
            raise UnknownIdError(ref, self.suggest(ref))
        return found

    def item(self, ref: str) -> Item:
        found = self.lookup(ref)
        if not isinstance(found, Item):
            raise UnknownIdError(ref, [])
        return found

    def crypto_unit(self, ref: str) -> CryptoUnit:
        found = self.lookup(ref)
        if not isinstance(found, CryptoUnit):
            raise UnknownIdError(ref, [])
        return found

    def by_assessment_unit(self, unit: str) -> Item | None:
        return self._by_unit.get(unit)

    def at_level(self, ref: str, level: int) -> Item | None:
        """The same requirement at another level (via ``equivalents``), or ``None`` if it does not apply there.

        Clause numbers and letters are not stable across levels (a level without 安全审计 numbers its
        later control points differently), so map ``8.1.4.9.b`` to level 2 with this, not by templating.
        """
        item = self.item(ref)
        if item.level == level:
            return item
        for other in item.equivalents:
            found = self._by_id.get(other)
            if isinstance(found, Item) and found.level == level:
                return found
        return None

    def numbering_gap(self, unit: str) -> str | None:
        """The note of a declared GB/T 28448-2019 numbering gap (e.g. ``L3-CES1-16``), else ``None``."""
        for document in self.documents:
            for gap, note in document.numbering_gaps:
                if gap == unit.strip():
                    return note
        return None

    def suggest(self, ref: str, limit: int = 3) -> list[str]:
        """Close matches for an unknown id. A bare clause (ambiguous between standards) gets both prefixes."""
        ref = ref.strip()
        if _BARE_CLAUSE_RE.match(ref):
            candidates = [f"{DENGBAO}:{ref}", f"{MIPPING}:{ref}"]
            exact = [c for c in candidates if c in self._by_id]
            if exact:
                return exact
        pool = [*self._by_id, *self._by_unit, *self._by_short]
        upper = {p.upper(): p for p in pool}
        matches = difflib.get_close_matches(ref.upper(), list(upper), n=limit, cutoff=0.6)
        return [upper[m] for m in matches]

    # -- queries ----------------------------------------------------------------------------
    def items_where(
        self,
        *,
        level: int | None = None,
        family: str | None = None,
        category: str | None = None,
        responsibility: str | None = None,
        check_type: str | None = None,
        high_risk: bool | None = None,
    ) -> tuple[Item, ...]:
        """等保 items matching every given filter. ``category`` takes a code (CES) or a name (安全计算环境)."""

        def keep(item: Item) -> bool:
            return (
                (level is None or item.level == level)
                and (family is None or item.family == family)
                and (category is None or category in (item.category, item.category_name))
                and (responsibility is None or item.responsibility == responsibility)
                and (check_type is None or item.check_type == check_type)
                and (high_risk is None or item.high_risk == high_risk)
            )

        return tuple(item for item in self.items if keep(item))

    def controls_where(
        self, *, level: int | None = None, family: str | None = None, category: str | None = None
    ) -> tuple[Control, ...]:
        return tuple(
            control
            for control in self.controls
            if (level is None or control.level == level)
            and (family is None or control.family == family)
            and (category is None or category in (control.category, control.category_name))
        )

    def units_where(
        self, *, level: int | None = None, aspect: str | None = None, kind: str | None = None
    ) -> tuple[CryptoUnit, ...]:
        """密评 units; with ``level`` only those required at that level (strength other than 不要求)."""
        return tuple(
            unit
            for unit in self.crypto_units
            if (level is None or unit.required_at(level))
            and (aspect is None or aspect in (unit.aspect, unit.aspect_name))
            and (kind is None or unit.kind == kind)
        )

    def rule_references(self) -> dict[str, tuple[str, ...]]:
        """Rule id → the item ids that list it."""
        refs: dict[str, list[str]] = {}
        for item in self.items:
            for rule in item.rules:
                refs.setdefault(rule, []).append(item.id)
        return {rule: tuple(ids) for rule, ids in sorted(refs.items())}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def default_standards_dir() -> Path:
    """``$XZGOV_STANDARDS_DIR`` if set, else ``standards/`` at the repository root."""
    override = os.environ.get("XZGOV_STANDARDS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "standards"


@lru_cache(maxsize=4)
def _schema(path: Path) -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def catalogue_files(directory: Path) -> list[Path]:
    """Catalogue files: ``<directory>/<standard>/*.yaml`` (``schema/`` and ``scoring.yaml`` excluded)."""
    return sorted(p for p in directory.glob("*/*.yaml") if p.parent.name != "schema")


def load_catalogue(directory: Path | None = None, files: Sequence[Path] | None = None) -> Catalogue:
    """Load and validate every catalogue file; raise :class:`CatalogueError` listing all problems."""
    directory = directory if directory is not None else default_standards_dir()
    schema_path = directory / "schema" / "catalogue.schema.json"
    if not schema_path.is_file():
        schema_path = default_standards_dir() / "schema" / "catalogue.schema.json"
    paths = list(files) if files is not None else catalogue_files(directory)
    if not paths:
        raise CatalogueError(
            f"no catalogue files under {display_path(directory)}",
            [
                Diagnostic(
                    display_path(directory),
                    0,
                    0,
                    "",
                    "no <standard>/*.yaml catalogue files found",
                    "point --standards-dir at the standards/ directory",
                    "unreadable",
                )
            ],
        )
    schema = _schema(schema_path)
    builder = _Builder()
    skipped = False
    for path in paths:
        doc, problems = load_located_yaml(path)
        builder.problems.extend(problems)
        if doc is None or problems:
            skipped = True
            continue
        found = schema_diagnostics(doc, schema)
        if found:
            builder.problems.extend(found)
            skipped = True
            continue
        builder.add(doc)
    if not skipped:  # references into a file that did not load would all look dangling
        builder.cross_check()
    if builder.problems:
        problems = sorted(set(builder.problems))
        raise CatalogueError(f"the standards catalogue is invalid: {len(problems)} problem(s)", problems)
    categories = sorted(builder.categories, key=lambda c: (c.level, FAMILIES.index(c.family)))
    return Catalogue(tuple(builder.documents), tuple(categories), tuple(builder.aspects))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue in :func:`default_standards_dir`, loaded once per process."""
    return load_catalogue()


class _Builder:
    """Turns validated documents into the model, checking what the schema cannot."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []
        self.documents: list[CatalogueDocument] = []
        self.categories: list[Category] = []
        self.aspects: list[Aspect] = []
        self.ids: dict[str, Diagnostic] = {}
        self.units: dict[str, Diagnostic] = {}
        self.shorts: dict[str, Diagnostic] = {}
        self.references: list[tuple[LocatedYaml, PathKey, str]] = []

    def error(self, doc: LocatedYaml, path: PathKey, message: str, hint: str = "", code: str = "catalogue") -> None:
        self.problems.append(doc.diagnostic(path, message, hint, code=code))

    def unique(self, table: dict[str, Diagnostic], value: str, doc: LocatedYaml, path: PathKey, what: str) -> None:
        here = doc.diagnostic(path, "", "", code="duplicate-id")
        first = table.get(value)
        if first is not None:
            self.error(
                doc,
                path,
                f"duplicate {what} {value!r} (first at {first.location()})",
                f"every {what} must be unique across the catalogue",
                "duplicate-id",
            )
        else:
            table[value] = here

    def document(self, doc: LocatedYaml) -> CatalogueDocument:
        md = doc.data["metadata"]
        return CatalogueDocument(
            path=doc.file,
            standard=md["standard"],
            title=md["title"],
            kind=md["kind"],
            version=md["catalogue_version"],
            level=md.get("level"),
            family=md.get("family"),
            counts_confirmed=md["counts_confirmed"],
            unconfirmed=tuple(UnconfirmedFact(u["fact"], u["value"], u.get("note", "")) for u in md["unconfirmed"]),
            discrepancies=tuple(
                Discrepancy(d["fact"], d["notes_value"], d["catalogue_value"], d["note"])
                for d in md.get("discrepancies", [])
            ),
            numbering_gaps=tuple((g["unit"], g["note"]) for g in md.get("numbering_gaps", [])),
            source_notes=tuple(md["source_notes"]),
        )

    def add(self, doc: LocatedYaml) -> None:
        if doc.data["metadata"]["kind"] == "requirements":
            self.add_requirements(doc)
        else:
            self.add_crypto(doc)

    # -- GB/T 22239-2019 ---------------------------------------------------------------------
    def add_requirements(self, doc: LocatedYaml) -> None:
        md = doc.data["metadata"]
        level: int = md["level"]
        family: Family = md["family"]
        digit = _FAMILY_DIGIT[family]
        standard: str = md["standard"]
        expected_clause = f"{_CHAPTER[level]}.{digit}"
        if md["clause"] != expected_clause:
            self.error(
                doc,
                ("metadata", "clause"),
                f"level {level} {family} requirements live in clause {expected_clause}, not {md['clause']}",
                f"set clause: '{expected_clause}'",
            )
        gaps: dict[str, PathKey] = {
            g["unit"]: ("metadata", "numbering_gaps", i, "unit") for i, g in enumerate(md["numbering_gaps"])
        }
        used_gaps: set[str] = set()
        counts: dict[str, dict[str, int]] = {}
        categories: list[Category] = []
        for ci, cat in enumerate(doc.data["categories"]):
            cpath: PathKey = ("categories", ci)
            code: str = cat["code"]
            name, kind = CATEGORY_NAMES[code]
            if cat["name"] != name:
                self.error(doc, (*cpath, "name"), f"category {code} is {name}, not {cat['name']}", f"set name: {name}")
            if cat["kind"] != kind:
                self.error(doc, (*cpath, "kind"), f"category {code} is {kind}", f"set kind: {kind}")
            if cat["clause"] != f"{expected_clause}.{ci + 1}":
                self.error(
                    doc,
                    (*cpath, "clause"),
                    f"category clause should be {expected_clause}.{ci + 1} (categories are numbered in order)",
                    "renumber the clause or reorder the categories",
                )
            last_number = 0
            controls: list[Control] = []
            n_items = 0
            for pi, cp in enumerate(cat["control_points"]):
                ppath: PathKey = (*cpath, "control_points", pi)
                if cp["clause"] != f"{cat['clause']}.{pi + 1}":
                    self.error(
                        doc,
                        (*ppath, "clause"),
                        f"control point clause should be {cat['clause']}.{pi + 1}",
                        "control points are numbered in order",
                    )
                items: list[Item] = []
                for ii, raw in enumerate(cp["items"]):
                    ipath: PathKey = (*ppath, "items", ii)
                    n_items += 1
                    expected_id = f"{standard}:{cp['clause']}.{_LETTERS[ii]}"
                    if raw["id"] != expected_id:
                        self.error(
                            doc,
                            (*ipath, "id"),
                            f"item id should be {expected_id} (clause of its control point + letter in order)",
                            f"set id: {expected_id}",
                        )
                    self.unique(self.ids, raw["id"], doc, (*ipath, "id"), "id")
                    unit: str = raw["assessment_unit"]
                    self.unique(self.units, unit, doc, (*ipath, "assessment_unit"), "assessment unit")
                    match = _UNIT_RE.match(unit)
                    if match is not None:
                        u_level, u_code, u_family, u_number = int(match[1]), match[2], int(match[3]), int(match[4])
                        prefix = f"L{level}-{code}{digit}-"
                        if (u_level, u_code, u_family) != (level, code, digit):
                            self.error(
                                doc,
                                (*ipath, "assessment_unit"),
                                f"assessment unit {unit} does not belong to level {level} {code} {family}",
                                f"expected an id starting with {prefix}",
                            )
                        elif u_number <= last_number:
                            self.error(
                                doc,
                                (*ipath, "assessment_unit"),
                                f"assessment unit numbers must increase in document order "
                                f"({unit} after {prefix}{last_number:02d})",
                                "renumber the units in the order of the items",
                            )
                        else:
                            for missing in range(last_number + 1, u_number):
                                gap = f"{prefix}{missing:02d}"
                                if gap in gaps:
                                    used_gaps.add(gap)
                                else:
                                    self.error(
                                        doc,
                                        (*ipath, "assessment_unit"),
                                        f"numbering skips {gap}, which is not declared in metadata.numbering_gaps",
                                        f"number this item {gap}, or declare the gap with a note "
                                        "if GB/T 28448-2019 really skips it",
                                    )
                            last_number = u_number
                        if unit in gaps:
                            self.error(
                                doc,
                                (*ipath, "assessment_unit"),
                                f"{unit} is declared as a numbering gap but used here",
                                "remove it from metadata.numbering_gaps or renumber the item",
                            )
                    item_levels = tuple(raw["levels"])
                    if level not in item_levels:
                        self.error(
                            doc,
                            (*ipath, "levels"),
                            f"levels must include this file's level {level}",
                            f"add {level} to levels",
                        )
                    notes = tuple(sorted((int(k), v) for k, v in raw.get("level_notes", {}).items()))
                    for note_level, _ in notes:
                        if note_level not in item_levels:
                            self.error(
                                doc,
                                (*ipath, "level_notes", str(note_level)),
                                f"level note for level {note_level}, which is not in levels",
                                "remove the note or add the level",
                            )
                    for ei, other in enumerate(raw["equivalents"]):
                        self.references.append((doc, (*ipath, "equivalents", ei), other))
                    items.append(
                        Item(
                            id=raw["id"],
                            assessment_unit=unit,
                            standard=standard,
                            level=level,
                            family=family,
                            category=code,
                            category_name=name,
                            kind=kind,
                            control_clause=cp["clause"],
                            control_point=cp["name"],
                            title=raw["title"],
                            summary=raw["summary"],
                            levels=item_levels,
                            level_notes=notes,
                            equivalents=tuple(raw["equivalents"]),
                            responsibility=raw["responsibility"],
                            check_type=raw["check_type"],
                            evidence=tuple(raw["evidence"]),
                            high_risk=raw["high_risk"],
                            rules=tuple(raw["rules"]),
                            source=SourceRef(doc.file, *doc.position(ipath)),
                        )
                    )
                controls.append(Control(standard, level, family, code, name, cp["clause"], cp["name"], tuple(items)))
            counts[code] = {"control_points": len(controls), "items": n_items}
            categories.append(
                Category(code, name, cat.get("name_en", ""), kind, cat["clause"], level, family, tuple(controls))
            )
        for gap, gpath in gaps.items():
            if gap not in used_gaps:
                self.error(
                    doc,
                    gpath,
                    f"declared numbering gap {gap} is not skipped by the items",
                    "remove the declaration or renumber the items",
                )
        self.check_counts(doc, counts)
        self.documents.append(self.document(doc))
        self.categories.extend(categories)

    def check_counts(self, doc: LocatedYaml, counts: Mapping[str, Mapping[str, int]]) -> None:
        declared = doc.data["metadata"]["counts"]
        total_cp = sum(c["control_points"] for c in counts.values())
        total_items = sum(c["items"] for c in counts.values())
        for key, actual in (("control_points", total_cp), ("items", total_items)):
            if declared[key] != actual:
                self.error(
                    doc,
                    ("metadata", "counts", key),
                    f"metadata says {declared[key]} {key} but the file has {actual}",
                    f"set {key}: {actual}",
                )
        by_category = declared["by_category"]
        for code, actual_counts in counts.items():
            if code not in by_category:
                self.error(
                    doc,
                    ("metadata", "counts", "by_category"),
                    f"category {code} is missing from counts.by_category",
                    f"add {code}: {dict(actual_counts)}",
                )
                continue
            for key, actual in actual_counts.items():
                if by_category[code][key] != actual:
                    self.error(
                        doc,
                        ("metadata", "counts", "by_category", code, key),
                        f"metadata says {by_category[code][key]} {key} for {code} but the file has {actual}",
                        f"set {key}: {actual}",
                    )
        for code in by_category:
            if code not in counts:
                self.error(
                    doc,
                    ("metadata", "counts", "by_category", code),
                    f"counts.by_category lists {code}, which has no items in this file",
                    "remove it",
                )

    # -- GB/T 39786-2021 ---------------------------------------------------------------------
    def add_crypto(self, doc: LocatedYaml) -> None:
        md = doc.data["metadata"]
        standard: str = md["standard"]
        by_aspect: dict[str, int] = {}
        aspects: list[Aspect] = []
        kinds: Counter[str] = Counter()
        for ai, raw_aspect in enumerate(doc.data["aspects"]):
            apath: PathKey = ("aspects", ai)
            code: str = raw_aspect["code"]
            name, kind = ASPECT_NAMES[code]
            if raw_aspect["name"] != name:
                self.error(
                    doc, (*apath, "name"), f"aspect {code} is {name}, not {raw_aspect['name']}", f"set name: {name}"
                )
            if raw_aspect["kind"] != kind:
                self.error(doc, (*apath, "kind"), f"aspect {code} is {kind}", f"set kind: {kind}")
            units: list[CryptoUnit] = []
            for ui, raw in enumerate(raw_aspect["units"]):
                upath: PathKey = (*apath, "units", ui)
                expected_id = f"{standard}:{raw_aspect['clause']}.{_LETTERS[ui]}"
                if raw["id"] != expected_id:
                    self.error(
                        doc,
                        (*upath, "id"),
                        f"unit id should be {expected_id} (aspect clause + letter in order)",
                        f"set id: {expected_id}",
                    )
                self.unique(self.ids, raw["id"], doc, (*upath, "id"), "id")
                self.unique(self.shorts, raw["short_id"], doc, (*upath, "short_id"), "short id")
                for ri, other in enumerate(raw["related"]):
                    self.references.append((doc, (*upath, "related", ri), other))
                s = raw["strength"]
                units.append(
                    CryptoUnit(
                        id=raw["id"],
                        short_id=raw["short_id"],
                        standard=standard,
                        aspect=code,
                        aspect_name=name,
                        kind=kind,
                        name=raw["name"],
                        summary=raw["summary"],
                        strengths=(s["1"], s["2"], s["3"], s["4"]),
                        d=raw["dak"]["d"],
                        a=raw["dak"]["a"],
                        k=raw["dak"]["k"],
                        related=tuple(raw["related"]),
                        source=SourceRef(doc.file, *doc.position(upath)),
                    )
                )
                kinds[kind] += 1
            by_aspect[code] = len(units)
            aspects.append(Aspect(code, name, kind, tuple(units)))
        declared = md["counts"]
        actual = {"units": sum(by_aspect.values()), "technical": kinds["technical"], "management": kinds["management"]}
        for key, value in actual.items():
            if declared[key] != value:
                self.error(
                    doc,
                    ("metadata", "counts", key),
                    f"metadata says {declared[key]} {key} but the file has {value}",
                    f"set {key}: {value}",
                )
        for code, value in by_aspect.items():
            if declared["by_aspect"].get(code) != value:
                self.error(
                    doc,
                    ("metadata", "counts", "by_aspect"),
                    f"metadata counts {declared['by_aspect'].get(code)} units for {code} but the file has {value}",
                    f"set {code}: {value}",
                )
        self.documents.append(self.document(doc))
        self.aspects.extend(aspects)

    def cross_check(self) -> None:
        for doc, path, ref in self.references:
            if ref not in self.ids:
                self.error(
                    doc,
                    path,
                    f"reference to unknown id {ref!r}",
                    "use the namespaced id of an item in the catalogue",
                    "reference",
                )


# --------------------------------------------------------------------------------------------
# Rule references and coverage
# --------------------------------------------------------------------------------------------


def check_rule_references(catalogue: Catalogue, known_rule_ids: Set[str]) -> list[Diagnostic]:
    """One diagnostic per catalogue ``rules`` entry that names no rule in ``known_rule_ids``."""
    found: list[Diagnostic] = []
    for item in catalogue.items:
        for rule in item.rules:
            if rule not in known_rule_ids:
                close = difflib.get_close_matches(rule, sorted(known_rule_ids), n=1)
                hint = f"did you mean {close[0]}?" if close else "add the rule to policies/ or remove the reference"
                found.append(
                    Diagnostic(
                        item.source.file,
                        item.source.line,
                        item.source.column,
                        f"{item.id}.rules",
                        f"unknown rule id {rule!r}",
                        hint,
                        "reference",
                    )
                )
    return found


def registry_rule_ids() -> frozenset[str] | None:
    """Rule ids known to ``policies.registry`` (``None`` when that module is not available).

    Accepts a registry exposing ``rule_ids()``, or ``RULES`` / ``REGISTRY`` as a mapping keyed by
    id or an iterable of objects with an ``id`` attribute.
    """
    try:
        registry = importlib.import_module("policies.registry")
    except ImportError:
        return None
    getter = getattr(registry, "rule_ids", None)
    if callable(getter):
        return frozenset(str(r) for r in cast(Callable[[], Iterable[object]], getter)())
    for name in ("RULES", "REGISTRY"):
        table = getattr(registry, name, None)
        if isinstance(table, Mapping):
            return frozenset(str(key) for key in table)
        if isinstance(table, Iterable):
            return frozenset(str(getattr(rule, "id", rule)) for rule in table)
    return None


@dataclass(frozen=True)
class CoverageRow:
    """How the items of one level and family are checked; ``not_covered`` = automatable but no rule yet."""

    level: int
    family: Family
    items: int
    automated: int
    semi_automated: int
    manual: int
    inherited: int
    not_covered: int

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "family": self.family,
            "items": self.items,
            "automated": self.automated,
            "semi_automated": self.semi_automated,
            "manual": self.manual,
            "inherited": self.inherited,
            "not_covered": self.not_covered,
        }


def coverage(catalogue: Catalogue, known_rule_ids: Set[str] | None = None) -> list[CoverageRow]:
    """Per level and family: items by check type, and automatable items with no (known) rule."""
    groups: dict[tuple[int, Family], list[Item]] = {}
    for item in catalogue.items:
        groups.setdefault((item.level, item.family), []).append(item)

    def covered(item: Item) -> bool:
        rules = [r for r in item.rules if known_rule_ids is None or r in known_rule_ids]
        return bool(rules)

    rows: list[CoverageRow] = []
    for (level, family), items in sorted(groups.items(), key=lambda kv: (kv[0][0], FAMILIES.index(kv[0][1]))):
        kinds = Counter(item.check_type for item in items)
        rows.append(
            CoverageRow(
                level=level,
                family=family,
                items=len(items),
                automated=kinds["automated"],
                semi_automated=kinds["semi-automated"],
                manual=kinds["manual"],
                inherited=kinds["inherited"],
                not_covered=sum(
                    1 for item in items if item.check_type in ("automated", "semi-automated") and not covered(item)
                ),
            )
        )
    return rows


def iter_unconfirmed(catalogue: Catalogue) -> Iterator[tuple[CatalogueDocument, UnconfirmedFact]]:
    for document in catalogue.documents:
        for fact in document.unconfirmed:
            yield document, fact
