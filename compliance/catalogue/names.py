"""Names shared by the catalogue model and loader: standard ids, enumerations and category tables."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

DENGBAO = "GB/T 22239-2019"
#: 密评 (miping, 商用密码应用安全性评估) basic requirements.
MIPING = "GB/T 39786-2021"

Responsibility = Literal["tenant", "platform", "shared"]
CheckType = Literal["automated", "semi-automated", "manual", "inherited"]
Family = Literal["general", "cloud"]
Strength = Literal["应", "宜", "可", "不要求"]
Kind = Literal["technical", "management"]

RESPONSIBILITIES: tuple[Responsibility, ...] = ("tenant", "platform", "shared")
CHECK_TYPES: tuple[CheckType, ...] = ("automated", "semi-automated", "manual", "inherited")
#: Check types a rule can decide (fully or by collecting evidence): the ones coverage counts.
AUTOMATABLE: tuple[CheckType, ...] = ("automated", "semi-automated")
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
#: The standard's order of the 等保 categories (x.1.1 … x.1.10 in a general file; an extension keeps the order).
CATEGORY_ORDER: tuple[str, ...] = tuple(CATEGORY_NAMES)
_NO_SMC = tuple(c for c in CATEGORY_ORDER if c != "SMC")
_CLOUD = ("PES", "CNS", "ABS", "CES", "SMC", "CMS", "MMS")
#: The 等保 catalogue: one file per (level, family), each with these categories in this order. Level 1 has no
#: 安全管理中心; the cloud extension has no 安全管理制度 / 机构 / 人员 (level 2 no 安全管理中心 either); the
#: level-1 cloud extension is not catalogued (docs/standards.md).
DENGBAO_STRUCTURE: Mapping[tuple[int, str], tuple[str, ...]] = {
    (1, "general"): _NO_SMC,
    (2, "general"): CATEGORY_ORDER,
    (2, "cloud"): tuple(c for c in _CLOUD if c != "SMC"),
    (3, "general"): CATEGORY_ORDER,
    (3, "cloud"): _CLOUD,
    (4, "general"): CATEGORY_ORDER,
    (4, "cloud"): _CLOUD,
}
#: Items per file where the project notes confirm the count (level 1 has no figure to check against).
DENGBAO_ITEMS: Mapping[tuple[int, str], int] = {
    (2, "general"): 135, (3, "general"): 211, (4, "general"): 228, (2, "cloud"): 28, (3, "cloud"): 46, (4, "cloud"): 49,
}
#: 密评 aspects in the standard's order (clauses 8.1 … 8.8 at level 3) and their number of assessment units: 41 in
#: all, 22 technical and 19 management.
ASPECT_UNITS: Mapping[str, int] = {
    "physical": 3, "network": 5, "device": 6, "application": 8,
    "policy": 6, "personnel": 5, "build_run": 5, "emergency": 3,
}
ASPECT_ORDER: tuple[str, ...] = tuple(ASPECT_UNITS)
#: 密评 unit ids carry the level-3 clause (chapter 8): every unit is required in some form at level 3.
MIPING_CHAPTER = 8
#: Where the loader expects each catalogue file (the layout of ``standards/``).
DENGBAO_DIR = "gbt22239-2019"
MIPING_FILE = "gbt39786-2021/units.yaml"
#: Both standards put level *n* in chapter *n + 5*.
CHAPTER: Mapping[int, int] = {1: 6, 2: 7, 3: 8, 4: 9}
#: GB/T 28448-2019 family digit in unit ids (``L3-CES1-01``: 1 general, 2 cloud).
FAMILY_DIGIT: Mapping[str, int] = {"general": 1, "cloud": 2}
LETTERS = "abcdefghijklmnopqrstuvwxyz"
UNIT_RE = re.compile(r"^L([1-4])-([A-Z]{3})([1-5])-([0-9]{2})$")
BARE_CLAUSE_RE = re.compile(r"^[0-9]+(\.[0-9]+)+(\.[a-z])?$")
