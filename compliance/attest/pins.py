"""Who may attest for which department: region.yaml ``spec.attestation_signers`` (SM2 key fingerprints).

::

    attestation_signers:
      - {fingerprint: <64 hex>, name: 次仁, role: 网络安全管理员, departments: [jyt], scopes: [system]}
      - {fingerprint: <64 hex>, name: 西藏网络安全测评中心, role: 测评机构, departments: [dsjj], scopes: [platform]}

A set signed by a key that is not listed, or listed for other departments or scopes, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.yamlio import load_file

REGION_FILE = "region.yaml"
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    fingerprint: str
    name: str
    role: str
    departments: tuple[str, ...]  #: "*" = any department
    scopes: tuple[str, ...]
    line: int

    def allows(self, department: str, scope: str) -> bool:
        return (department in self.departments or "*" in self.departments) and scope in self.scopes


def load_pins(root: Path) -> dict[str, Pin]:
    """fingerprint → pin; a malformed section is a located exit 2. No section: no one may attest."""
    path = root / REGION_FILE
    if not path.is_file():
        return {}
    document, problems = load_file(path, REGION_FILE)
    if document is None:
        raise UsageError(f"cannot read {REGION_FILE}", problems)
    spec = document.data.get("spec") if isinstance(document.data, Mapping) else None
    raw = spec.get("attestation_signers") if isinstance(spec, Mapping) else None
    if raw is None:
        return {}
    sink: list[Diagnostic] = []
    pins: dict[str, Pin] = {}
    if not isinstance(raw, list):
        raise UsageError(f"{REGION_FILE}: spec.attestation_signers must be a list", [document.diagnostic(
            ("spec", "attestation_signers"), "expected a list of signers", "see compliance/attestations/README.md",
            code="schema")])
    for index, entry in enumerate(raw):
        where = ("spec", "attestation_signers", index)
        if not isinstance(entry, Mapping):
            sink.append(document.diagnostic(where, "expected a mapping", "{fingerprint, name, role, departments, "
                                            "scopes}", code="schema"))
            continue
        fingerprint = str(entry.get("fingerprint", "")).lower()
        if not _FINGERPRINT.fullmatch(fingerprint):
            sink.append(document.diagnostic((*where, "fingerprint"), "not an SM2 key fingerprint (64 hex digits)",
                                            "`xzgov keys fingerprint KEY.pub.pem` prints it", code="schema"))
            continue
        departments = _strings(entry.get("departments"))
        scopes = _strings(entry.get("scopes"))
        bad_scope = [s for s in scopes if s not in ("system", "platform")]
        if not departments or not scopes or bad_scope or not entry.get("name") or not entry.get("role"):
            sink.append(document.diagnostic(where, "a signer needs name, role, departments and scopes "
                                            "(system and/or platform)", "complete the entry", code="schema"))
            continue
        line, _ = document.position(where)
        if fingerprint in pins:  # the last entry silently replaced the first: two grants for one key, one kept
            sink.append(document.diagnostic((*where, "fingerprint"), f"this key is pinned already (line "
                                            f"{pins[fingerprint].line}: {pins[fingerprint].name})", "keep one entry "
                                            "per key and list every department and scope it may sign for in it",
                                            code="schema"))
            continue
        pins[fingerprint] = Pin(fingerprint, str(entry["name"]), str(entry["role"]), departments, scopes, line)
    if sink:
        raise UsageError(f"{REGION_FILE}: {len(sink)} problem(s) in spec.attestation_signers", sink)
    return pins


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
