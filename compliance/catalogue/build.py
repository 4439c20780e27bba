"""Turn schema-valid catalogue documents into the model, checking what JSON Schema cannot.

Clause numbering, GB/T 28448-2019 unit numbering (gaps must be declared), the counts in the metadata,
unique ids across files and references between items, and the standards' fixed structure (names.py): every
等保 level and family file with its categories in the standard's order, the eight 密评 aspects in order in
chapter 8 with their 41 units. Each problem is a located diagnostic, and all of them are collected before the
loader gives up, so one run shows every mistake.
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
    ASPECT_ORDER,
    ASPECT_UNITS,
    CATEGORY_NAMES,
    CHAPTER,
    DENGBAO,
    DENGBAO_DIR,
    DENGBAO_ITEMS,
    DENGBAO_STRUCTURE,
    FAMILY_DIGIT,
    LETTERS,
    MIPING,
    MIPING_CHAPTER,
    MIPING_FILE,
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
        # (level, family) of each 等保 file and the 密评 file -> the file that declared it first
        self.files: dict[tuple[int, str] | str, tuple[LocatedYaml, PathKey]] = {}

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

    def lettered(self, doc: LocatedYaml, path: PathKey, index: int, what: str, owner: str) -> str | None:
        """The letter of the ``index``-th item (unit) in its list, or ``None`` (and a located error at the 27th)
        when the list is longer than the 26 letters a) … z) the standards use."""
        if index < len(LETTERS):
            return LETTERS[index]
        if index == len(LETTERS):
            self.error(
                doc,
                path,
                f"{owner} 超过 {len(LETTERS)} 项 / has more than {len(LETTERS)} {what}s: they are lettered a) … z), "
                f"so this {what} has no letter",
                f"remove the extra {what}s (from here on), or move them to the control point or aspect they belong to",
            )
        return None

    def declared_once(self, doc: LocatedYaml, key: tuple[int, str] | str, path: PathKey, what: str) -> None:
        """Each 等保 (level, family) and the 密评 units are in one file only."""
        first = self.files.get(key)
        if first is None:
            self.files[key] = (doc, path)
            return
        self.error(
            doc,
            path,
            f"{what} 重复 / a second catalogue file for {what} (first: {first[0].file})",
            "keep one file per level and family (and one 密评 units file): remove or merge this one",
        )

    def check_complete(self, directory: str) -> bool:
        """Every file of the fixed structure is present (call only when every file loaded: one that did not is
        reported already and would look missing). A missing file is reported once, plainly, naming the file;
        ``False`` then (the references into it would all look dangling)."""
        before = len(self.problems)
        for (level, family), _ in DENGBAO_STRUCTURE.items():
            if (level, family) not in self.files:
                name = f"{DENGBAO_DIR}/level{level}-{family}.yaml"
                what = "安全通用要求 general requirements" if family == "general" else "云计算扩展 cloud extension"
                self.problems.append(Diagnostic(
                    f"{directory}/{name}", 0, 0, "",
                    f"缺少目录文件 / missing catalogue file: {DENGBAO} level {level} {what}",
                    f"restore {name} (metadata.level: {level}, family: {family}) from the installed standards package",
                    "catalogue"))
        if MIPING not in self.files:
            self.problems.append(Diagnostic(
                f"{directory}/{MIPING_FILE}", 0, 0, "",
                f"缺少目录文件 / missing catalogue file: the 41 {MIPING} 密评 assessment units",
                f"restore {MIPING_FILE} (metadata.kind: crypto-units) from the installed standards package",
                "catalogue"))
        return len(self.problems) == before

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
        self.declared_once(doc, (level, family), ("metadata", "level"), f"{standard} level {level} {family}")
        structure = DENGBAO_STRUCTURE.get((level, family))
        if structure is None:
            self.error(
                doc,
                ("metadata", "family"),
                f"{standard} 第{level}级 {family} 不在目录结构中 / level {level} {family} is not catalogued",
                "the catalogue has levels 1-4 general and levels 2-4 cloud; remove this file",
            )
            structure = ()
        seen: dict[str, int] = {}
        previous = -1
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
            position = structure.index(code) + 1 if code in structure else ci + 1
            order = " ".join(structure)
            if code in seen:
                self.error(
                    doc,
                    (*cpath, "code"),
                    f"类别重复 / category {code} appears twice (first at categories[{seen[code]}])",
                    f"merge its control points into the first {code}; the categories are {order}",
                )
            elif structure and code not in structure:
                self.error(
                    doc,
                    (*cpath, "code"),
                    f"类别 {code} 不属于第{level}级 {family} / category {code} ({name}) is not part of level {level} "
                    f"{family} ({expected_clause} has {order})",
                    "remove it, or move it to the file of the level and family it belongs to",
                )
            elif code in structure and structure.index(code) < previous:
                self.error(
                    doc,
                    (*cpath, "code"),
                    f"类别顺序错误 / category {code} ({name}) is out of order: {standard} {expected_clause} orders "
                    f"its categories {order}",
                    f"move {code} to clause {expected_clause}.{position} (before {structure[previous]})",
                )
            elif code in structure:
                previous = structure.index(code)
            seen.setdefault(code, ci)
            if cat["clause"] != f"{expected_clause}.{position}":
                self.error(
                    doc,
                    (*cpath, "clause"),
                    f"category clause should be {expected_clause}.{position} ({code} is category {position} of "
                    f"{expected_clause}: {order})",
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
                    letter = self.lettered(doc, (*ipath, "id"), ii, "item", f"control point {cp['clause']}")
                    expected_id = f"{standard}:{cp['clause']}.{letter}"
                    if letter is not None and raw["id"] != expected_id:
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
            total = counts.setdefault(code, {"control_points": 0, "items": 0})
            total["control_points"] += len(controls)
            total["items"] += n_items
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
        for code in structure:
            if code not in seen:
                self.error(
                    doc,
                    ("categories",),
                    f"缺少类别 / category {code} ({CATEGORY_NAMES[code][0]}) is missing: level {level} {family} "
                    f"({expected_clause}) has {' '.join(structure)}",
                    f"restore {code} as clause {expected_clause}.{structure.index(code) + 1}",
                )
        self.check_counts(doc, counts)
        expected_items = DENGBAO_ITEMS.get((level, family))
        found_items = sum(c["items"] for c in counts.values())
        if expected_items is not None and found_items != expected_items:
            self.error(
                doc,
                ("metadata", "counts", "items"),
                f"{standard} 第{level}级 {family} 应有 {expected_items} 项 / level {level} {family} has "
                f"{expected_items} items (checked item by item), this file has {found_items}",
                "restore the missing items (or remove the extra ones): the count is fixed by the standard",
            )
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
        self.declared_once(doc, MIPING, ("metadata", "kind"), f"{MIPING} 密评 units")
        by_aspect: Counter[str] = Counter()
        aspects: list[Aspect] = []
        kinds: Counter[str] = Counter()
        seen: dict[str, int] = {}
        order = " ".join(ASPECT_ORDER)
        for ai, raw_aspect in enumerate(doc.data["aspects"]):
            apath: PathKey = ("aspects", ai)
            code: str = raw_aspect["code"]
            name, kind = ASPECT_NAMES[code]
            position = ASPECT_ORDER.index(code)
            expected_clause = f"{MIPING_CHAPTER}.{position + 1}"
            if code in seen:
                self.error(
                    doc,
                    (*apath, "code"),
                    f"方面重复 / aspect {code} ({name}) appears twice (first at aspects[{seen[code]}])",
                    f"each of the eight aspects appears once ({order}): merge the units into the first {code}, "
                    "or give this aspect its own code",
                )
            elif ai < len(ASPECT_ORDER) and code != ASPECT_ORDER[ai]:
                self.error(
                    doc,
                    (*apath, "code"),
                    f"方面顺序错误 / aspect {ai + 1} should be {ASPECT_ORDER[ai]}, not {code}: {standard} orders its "
                    f"aspects {order} (clauses {MIPING_CHAPTER}.1 … {MIPING_CHAPTER}.{len(ASPECT_ORDER)})",
                    f"move {code} to position {position + 1}",
                )
            seen.setdefault(code, ai)
            if raw_aspect["clause"] != expected_clause:
                self.error(
                    doc,
                    (*apath, "clause"),
                    f"方面条款错误 / aspect {code} ({name}) is clause {expected_clause}, not {raw_aspect['clause']}: "
                    f"unit ids use the level-3 clause (chapter {MIPING_CHAPTER}), aspects in the order {order}",
                    f"set clause: '{expected_clause}' and renumber its unit ids {standard}:{expected_clause}.a, …",
                )
            if raw_aspect["name"] != name:
                self.error(
                    doc, (*apath, "name"), f"aspect {code} is {name}, not {raw_aspect['name']}", f"set name: {name}"
                )
            if raw_aspect["kind"] != kind:
                self.error(doc, (*apath, "kind"), f"aspect {code} is {kind}", f"set kind: {kind}")
            units: list[CryptoUnit] = []
            for ui, raw in enumerate(raw_aspect["units"]):
                upath: PathKey = (*apath, "units", ui)
                letter = self.lettered(doc, (*upath, "id"), ui, "unit", f"aspect {code}")
                expected_id = f"{standard}:{raw_aspect['clause']}.{letter}"
                if letter is not None and raw["id"] != expected_id:
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
            by_aspect[code] += len(units)
            if seen[code] == ai and len(units) != ASPECT_UNITS[code]:
                self.error(
                    doc,
                    (*apath, "units"),
                    f"{name} 应有 {ASPECT_UNITS[code]} 个测评单元 / aspect {code} has {ASPECT_UNITS[code]} "
                    f"assessment units in {standard}, this file has {len(units)}",
                    "restore the missing units (or remove the extra ones): the 41 units are fixed by the standard",
                )
            aspects.append(Aspect(code, name, kind, tuple(units)))
        for code in ASPECT_ORDER:
            if code not in seen:
                self.error(
                    doc,
                    ("aspects",),
                    f"缺少方面 / aspect {code} ({ASPECT_NAMES[code][0]}, {ASPECT_UNITS[code]} units) is missing: "
                    f"{standard} has eight aspects, {order}",
                    f"restore {code} as clause {MIPING_CHAPTER}.{ASPECT_ORDER.index(code) + 1}",
                )
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
        duplicated = {c for c, n in Counter(a.code for a in aspects).items() if n > 1}  # reported above
        for code, value in by_aspect.items():
            if code not in duplicated and declared["by_aspect"].get(code) != value:
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
