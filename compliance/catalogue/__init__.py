"""Standards as code: the GB/T 22239-2019 (等保) and GB/T 39786-2021 (密评) catalogues in ``standards/``.

The catalogues are YAML data (one file per level and family for 等保, one file for the 41 密评 units).
:mod:`~compliance.catalogue.loader` reads and validates them (YAML with positions, JSON Schema, then the
checks of :mod:`~compliance.catalogue.build`) into the immutable :class:`Catalogue` of
:mod:`~compliance.catalogue.model`, indexed by namespaced id (``GB/T 22239-2019:8.1.4.1.a``), by GB/T
28448-2019 assessment-unit id (``L3-CES1-01``) and by 密评 short id (``NC-1``). Which rules check an
item is derived from the rules by :mod:`compliance.coverage`. See ``docs/standards.md``.
"""

from compliance.catalogue.loader import (
    STANDARDS_DIR_ENV,
    STANDARDS_PACKAGE,
    catalogue_files,
    default_catalogue,
    default_standards_dir,
    load_catalogue,
    load_located_yaml,
    packaged_standards_dir,
    schema_diagnostics,
    schema_path,
)
from compliance.catalogue.model import (
    Aspect,
    Catalogue,
    CatalogueDocument,
    CatalogueError,
    Category,
    Control,
    CryptoUnit,
    Discrepancy,
    Item,
    SourceRef,
    UnconfirmedFact,
    UnknownIdError,
)
from compliance.catalogue.names import (
    ASPECT_NAMES,
    AUTOMATABLE,
    CATEGORY_NAMES,
    CHECK_TYPES,
    DENGBAO,
    FAMILIES,
    MIPING,
    RESPONSIBILITIES,
    CheckType,
    Family,
    Kind,
    Responsibility,
    Strength,
)
from xzgov.core.yamlio import LocatedDocument as LocatedYaml

__all__ = [
    "ASPECT_NAMES",
    "AUTOMATABLE",
    "CATEGORY_NAMES",
    "CHECK_TYPES",
    "DENGBAO",
    "FAMILIES",
    "MIPING",
    "RESPONSIBILITIES",
    "STANDARDS_DIR_ENV",
    "STANDARDS_PACKAGE",
    "Aspect",
    "Catalogue",
    "CatalogueDocument",
    "CatalogueError",
    "Category",
    "CheckType",
    "Control",
    "CryptoUnit",
    "Discrepancy",
    "Family",
    "Item",
    "Kind",
    "LocatedYaml",
    "Responsibility",
    "SourceRef",
    "Strength",
    "UnconfirmedFact",
    "UnknownIdError",
    "catalogue_files",
    "default_catalogue",
    "default_standards_dir",
    "load_catalogue",
    "load_located_yaml",
    "packaged_standards_dir",
    "schema_diagnostics",
    "schema_path",
]
