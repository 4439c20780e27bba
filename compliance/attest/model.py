"""The verified attestation records the scan uses: per (system, item) and the platform's assessment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The four results an attestation can give (GB/T 28448 单项判定).
RESULTS = ("符合", "部分符合", "不符合", "不适用")


@dataclass(frozen=True)
class EvidenceFile:
    file: str  #: as written in the record (relative to the record's directory)
    sm3: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "sm3": self.sm3}


@dataclass(frozen=True)
class SetInfo:
    """One signed set: where it is, who signed it, when, until when."""

    id: str
    scope: str  #: "system" | "platform"
    department: str
    source: str  #: file shown in messages (relative to the register root)
    signer_name: str
    signer_role: str
    signer_fingerprint: str
    date: dt.date
    expires: dt.date | None
    #: the 等保 level the set was judged at (metadata.level of a system set, as `attest template` writes it)
    level: int | None = None
    #: the 密评 level it was judged at (metadata.crypto_level, else its level): GB/T 39786 unit ids are the same at
    #: every level, so only this tells a unit row judged at another 密评 level
    crypto_level: int | None = None

    @property
    def signer(self) -> str:
        return f"{self.signer_name} ({self.signer_role})"


@dataclass(frozen=True)
class ItemRecord:
    """One attested item of one system (from a ``scope: system`` set)."""

    system: str
    item: str
    result: str  #: 符合 / 部分符合 / 不符合 / 不适用
    reason: str
    evidence: tuple[EvidenceFile, ...]
    info: SetInfo
    line: int  #: line of the item's entry in the set
    #: the assessor's 高风险 judgement of a 不符合 / 部分符合 after the risk analysis the 2025 guide asks (its
    #: mitigations weighed): ``True`` a high-risk finding, ``False`` not one, ``None`` not stated
    high_risk: bool | None = None

    @property
    def location(self) -> str:
        return f"{self.info.source}:{self.line}"

    def trail(self) -> dict[str, Any]:
        return {"by": "attestation", "set": self.info.id, "file": self.location, "signer": self.info.signer,
                "signer_fingerprint": self.info.signer_fingerprint, "date": self.info.date.isoformat(),
                "result": self.result, "evidence": [e.to_json() for e in self.evidence],
                **({"high_risk": self.high_risk} if self.high_risk is not None else {})}


@dataclass(frozen=True)
class PlatformRecord:
    """The cloud platform's own 等保 assessment, attested and signed (``scope: platform``)."""

    info: SetInfo
    platform: str
    level: int
    agency: str
    report: str
    assessed: dt.date
    conclusion: str
    score: float | None
    default_result: str
    #: item → (result, reason, line) where the report gives a per-item result
    items: Mapping[str, tuple[str, str, int]] = field(default_factory=dict)
    evidence: tuple[EvidenceFile, ...] = ()
    line: int = 1
    #: item → the assessor's 高风险 judgement of its 不符合 / 部分符合 where the row states one (as
    #: :attr:`ItemRecord.high_risk`: the report's risk analysis, the guide's mitigations weighed)
    judged: Mapping[str, bool] = field(default_factory=dict)

    def result_for(self, item: str, equivalents: Sequence[str] = ()) -> tuple[str, str, str]:
        """(result, reason, location) of an inherited item: the report's own line for it (or for the same
        requirement at another level, ``equivalents``), else the default for the items the report does
        not list one by one."""
        for candidate in (item, *equivalents):
            if candidate in self.items:
                result, reason, line = self.items[candidate]
                return result, reason, f"{self.info.source}:{line}"
        return self.default_result, "报告未逐项列出; 按测评结论取默认结果 / default result of the assessment", \
            f"{self.info.source}:{self.line}"

    def trail(self, item: str, equivalents: Sequence[str] = ()) -> dict[str, Any]:
        result, reason, where = self.result_for(item, equivalents)
        # the row result_for read (a default result judges nothing)
        row = next((candidate for candidate in (item, *equivalents) if candidate in self.items), None)
        judged = self.judged.get(row) if row is not None else None
        return {"by": "platform-record", "set": self.info.id, "file": where, "signer": self.info.signer,
                "signer_fingerprint": self.info.signer_fingerprint, "report": self.report, "agency": self.agency,
                "assessed": self.assessed.isoformat(), "conclusion": self.conclusion, "result": result,
                "reason": reason, "evidence": [e.to_json() for e in self.evidence],
                **({"high_risk": judged} if judged is not None else {})}


@dataclass(frozen=True)
class AttestationIndex:
    """Every verified, unexpired record; what is missing or expired is explained by :meth:`why_pending`."""

    items: Mapping[tuple[str, str], ItemRecord] = field(default_factory=dict)
    platform: PlatformRecord | None = None
    #: why the platform record does not count (expired), shown on inherited items; "" when simply missing
    platform_problem: str = ""
    #: (system, item) → why an attestation for it does not count (expired)
    expired: Mapping[tuple[str, str], str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items) or self.platform is not None or bool(self.expired)

    def for_item(self, system: str, item: str) -> ItemRecord | None:
        return self.items.get((system, item))
