"""Turn schema-valid catalogue documents into the model, checking what JSON Schema cannot.

Clause numbering, GB/T 28448-2019 unit numbering (gaps must be declared), the counts in the metadata,
unique ids across files and references between items: each problem is a located diagnostic, and all
of them are collected before the loader gives up, so one run shows every mistake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from compliance.catalogue.model import (
    Aspect,
    CatalogueDocument,
    Category,
    Control,
    CryptoUnit,
    Discrepancy,
    Item,
    SourceRef,
    UnconfirmedFact,
)
from compliance.catalogue.names import (
    ASPECT_NAMES,
    CATEGORY_NAMES,
    CHAPTER,
    FAMILY_DIGIT,
    LETTERS,
    UNIT_RE,
    Family,
)
from xzgov.core.errors import Diagnostic
from xzgov.core.yamlio import LocatedDocument as LocatedYaml

PathKey = tuple[str | int, ...]


class Builder:
    """Turns validated documents into the model, checking what the schema cannot."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []
        self.documents: list[CatalogueDocument] = []
        self.categories: list[Category] = []
        self.aspects: list[Aspect] = []
        # value -> where it was first declared; located (a walk of the document) only for a duplicate's message
        self.ids: dict[str, tuple[LocatedYaml, PathKey]] = {}
        self.units: dict[str, tuple[LocatedYaml, PathKey]] = {}
        self.shorts: dict[str, tuple[LocatedYaml, PathKey]] = {}
        self.references: list[tuple[LocatedYaml, PathKey, str]] = []

    def error(self, doc: LocatedYaml, path: PathKey, message: str, hint: str = "", code: str = "catalogue") -> None:
        self.problems.append(doc.diagnostic(path, message, hint, code=code))

    def unique(self, table: dict[str, tuple[LocatedYaml, PathKey]], value: str, doc: LocatedYaml, path: PathKey,
               what: str) -> None:
        declared = table.get(value)
        if declared is not None:
            first = declared[0].diagnostic(declared[1], "", "", code="duplicate-id")
            self.error(
                doc,
                path,
                f"duplicate {what} {value!r} (first at {first.location()})",
                f"every {what} must be unique across the catalogue",
                "duplicate-id",
            )
        else:
            table[value] = (doc, path)

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
        digit = FAMILY_DIGIT[family]
        standard: str = md["standard"]
        expected_clause = f"{CHAPTER[level]}.{digit}"
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
                    expected_id = f"{standard}:{cp['clause']}.{LETTERS[ii]}"
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
                    match = UNIT_RE.match(unit)
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
                expected_id = f"{standard}:{raw_aspect['clause']}.{LETTERS[ui]}"
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
