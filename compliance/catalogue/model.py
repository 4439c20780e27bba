"""The catalogue model: frozen dataclasses for 等保 items and 密评 units, and the indexed :class:`Catalogue`.

Which rules check an item is not part of the model: the mapping lives in the rules (``policies/``) and
is derived by :mod:`compliance.coverage`, so there is one source of truth for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from compliance.catalogue.names import (
    BARE_CLAUSE_RE,
    CHAPTER,
    DENGBAO,
    MIPING,
    CheckType,
    Family,
    Kind,
    Responsibility,
    Strength,
)
from xzgov.core.errors import Diagnostic, ExitCode, XzgovError


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
    source: SourceRef

    @property
    def clause(self) -> str:
        """The clause without the standard prefix, e.g. ``8.1.4.1.a``."""
        return self.id.split(":", 1)[1]

    @property
    def platform_decides(self) -> bool:
        """A tenant inherits this item: the platform's signed assessment record decides it, not the tenant's set."""
        return self.check_type == "inherited" or self.responsibility == "platform"

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
        if level not in CHAPTER:
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
        if BARE_CLAUSE_RE.match(ref):
            candidates = [f"{DENGBAO}:{ref}", f"{MIPING}:{ref}"]
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
