"""Helpers of the attestation tests: write an evidence file, a signed set, and pin a signer in region.yaml."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compliance.attest import signing
from compliance.attest.loader import read_set
from xzgov.crypto import keys
from xzgov.crypto.sm2 import SM2PrivateKey

ATTESTATIONS = Path("compliance") / "attestations"


def pin(root: Path, key: SM2PrivateKey, departments: Sequence[str], scopes: Sequence[str] = ("system",),
        name: str = "王五") -> str:
    """Append a signer pin to ``root``/region.yaml (creating the section on first use)."""
    region = root / "region.yaml"
    text = region.read_text(encoding="utf-8")
    if "  attestation_signers:\n" not in text:
        text += "  attestation_signers:\n"
    fingerprint = keys.fingerprint(key.public_key)
    text += (f"    - {{fingerprint: {fingerprint}, name: {name}, role: 测评师, "
             f"departments: [{', '.join(departments)}], scopes: [{', '.join(scopes)}]}}\n")
    region.write_text(text, encoding="utf-8")
    return fingerprint


def evidence(root: Path, relative: str, text: str = "定级报告与专家评审意见 (扫描件摘要)\n") -> Path:
    path = root / ATTESTATIONS / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def system_set(system: str, department: str, rows: Sequence[tuple[str, str, str]], *, ident: str = "A-2026-001",
               evidence_file: str = "evidence/record.pdf.txt", date: str = "2026-02-01",
               expires: str | None = "2027-01-31", level: int | None = 3,
               crypto_level: int | None = None) -> dict[str, Any]:
    """A filled worksheet: ``rows`` are (item, result, reason), each with ``evidence_file``; judged at ``level``
    (the fixtures' clean-l3; ``None``: left out) and ``crypto_level`` (left out: the level)."""
    levels = {**({"level": level} if level is not None else {}),
              **({"crypto_level": crypto_level} if crypto_level is not None else {})}
    document: dict[str, Any] = {
        "apiVersion": "xzgov.io/v1", "kind": "AttestationSet",
        "metadata": {"id": ident, "scope": "system", "system": system, "department": department, **levels},
        "attested_by": {"name": "王五", "role": "测评师", "organisation": "西藏网络安全测评中心"},
        "date": date,
        "attestations": [{"item": item, "result": result, "reason": reason, "evidence": [{"file": evidence_file}]}
                         for item, result, reason in rows],
    }
    if expires:
        document["expires"] = expires
    return document


def platform_set(*, department: str = "dsjj", level: int = 3, default: str = "符合",
                 rows: Sequence[tuple[str, str, str]] = (), ident: str = "P-2026-001", date: str = "2026-02-01",
                 expires: str = "2027-01-31", report: str = "DJCP-2026-0001") -> dict[str, Any]:
    return {
        "apiVersion": "xzgov.io/v1", "kind": "AttestationSet",
        "metadata": {"id": ident, "scope": "platform", "department": department, "level": level},
        "assessment": {"platform": "政务云平台", "level": level, "agency": "西藏网络安全测评中心", "report": report,
                       "date": date, "conclusion": "良", "score": 86.4, "default_result": default,
                       "evidence": [{"file": "evidence/report.txt"}]},
        "attested_by": {"name": "王五", "role": "测评师"},
        "date": date, "expires": expires,
        "attestations": [{"item": item, "result": result, "reason": reason} for item, result, reason in rows],
    }


def write_signed(root: Path, relative: str, document: dict[str, Any], key: SM2PrivateKey,
                 today: dt.date = dt.date(2026, 2, 1)) -> Path:
    """Write ``document`` as a worksheet at ``compliance/attestations/<relative>``, then sign it there
    exactly as ``xzgov attest sign`` does."""
    path = root / ATTESTATIONS / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(signing.dump(document), encoding="utf-8")
    located, problems = read_set(path, str(path))
    assert located is not None, problems
    prepared, _ = signing.prepare(located, path.parent, today=today, valid_days=365)
    path.write_text(signing.dump(signing.sign_document(prepared, key)), encoding="utf-8")
    return path
