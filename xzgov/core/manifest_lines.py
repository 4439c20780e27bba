"""The line index a scan keeps from the register's one parse: lines of the manifest paths rules locate.

The manifest facts (``xzgov.facts.manifest``) locate a finding at ``file:line`` of the field it came
from. Instead of parsing a failing manifest again, the scan reads those lines from a compact
:class:`~xzgov.core.yamlio.LineIndex` built while the register was loaded; a path not in
:data:`SYSTEM_LINES` is located the old way (a walk of the file's composed nodes), so the index
only decides speed, never the answer.
"""

from __future__ import annotations

import weakref
from typing import Any

from xzgov.core import model as m
from xzgov.core.yamlio import LineIndex, LineTrie

_ITEMS: dict[str, Any] = {"*": {}}
_ASSESSMENT: dict[str, Any] = {"date": {}, "conclusion": {}, "agency": {}}
_PORTS: dict[str, Any] = {"*": {"exposure": {}}}  # spec.{workloads,hosts}[].ports[] and their exposure marks

#: Every manifest path ``xzgov.facts.manifest`` locates ("*": each item of a sequence).
SYSTEM_LINES = LineTrie({"spec": {
    "classification": {"filing_number": {}, "crypto_level": {}, "crypto_level_decision": {},
                       "high_risk_conditions": {"continuity_high": {}, "key_industry": {}}},
    "exposure": {},
    "placement": {"zone": {}},
    "flows": _ITEMS,
    "services": _ITEMS,
    "authentication": {"factors": {}, "admin_factors": {}},
    "crypto": {**{aspect: {"mechanisms": _ITEMS, "not_applicable": _ITEMS, "key_storage": {}}
                  for aspect in m.CRYPTO_ASPECTS},
               "channels": _ITEMS, "products": _ITEMS},
    "continuity": {"rpo_minutes": {}, "rto_minutes": {}, "dr_tier": {},
                   "backup": {"retention_days": {}, "schedule": {}}, "replication": {"mode": {}}},
    "audit": {"retention_days": {}},
    "lifecycle": {"status": {}},
    "owner": {},
    "hosts": {"*": {"ports": _PORTS, "data": {}}},
    "workloads": {"*": {"replicas": {}, "image": {}, "image_provenance": {}, "ports": _PORTS, "storage": {}}},
    "security": {
        "administration": {"accounts": _ITEMS, "access": {"via": {}, "mutual_authentication": {}},
                           "last_review": {}, "account_manager": {}, "review_cadence_days": {}},
        "operations": {"patching": {}, "anti_malware": {}, "intrusion_detection": {}, "monitoring": {}},
        "data": {"residency": {}, "third_party_services": _ITEMS, "keys": {}, "backup": {}},
        "development": {},
        "maintenance": {"remote": {}},
    },
    "assessments": {"dengbao": _ASSESSMENT, "miping": _ASSESSMENT},
    "data_sets": _ITEMS,
    "change_management": {},
}})

#: id(register) -> system name -> its index; an entry leaves with its register.
_INDEXES: dict[int, dict[str, LineIndex]] = {}


def keep(register: m.Register, indexes: dict[str, LineIndex]) -> None:
    """Remember the line indexes of ``register``'s manifests for as long as the register lives."""
    key = id(register)
    _INDEXES[key] = indexes
    weakref.finalize(register, _INDEXES.pop, key, None)


def line_index(register: m.Register, system: str) -> LineIndex | None:
    """The line index of ``system``'s manifest, when ``register`` was loaded with one."""
    indexes = _INDEXES.get(id(register))
    return indexes.get(system) if indexes is not None else None
