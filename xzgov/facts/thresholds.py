"""Configurable thresholds of the rules (defaults; override per region in ``compliance/config.yaml``).

Values marked *unconfirmed* are framework defaults, not figures quoted from a standard: the
configuration file must be able to change them, and the scanner passes the configured values to
the rules as the ``thresholds`` fact. Rules stay pure: they read thresholds from their facts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.schema import suggest
from xzgov.core.yamlio import load_file

#: Per 等保 level: continuity (unconfirmed, configurable).
CONTINUITY: Mapping[int, Mapping[str, int]] = MappingProxyType({
    1: MappingProxyType({"max_rpo_minutes": 1440, "max_rto_minutes": 4320, "min_backup_retention_days": 7,
                         "min_dr_tier": 0}),
    2: MappingProxyType({"max_rpo_minutes": 1440, "max_rto_minutes": 1440, "min_backup_retention_days": 30,
                         "min_dr_tier": 2}),
    3: MappingProxyType({"max_rpo_minutes": 60, "max_rto_minutes": 240, "min_backup_retention_days": 90,
                         "min_dr_tier": 3}),
    4: MappingProxyType({"max_rpo_minutes": 15, "max_rto_minutes": 60, "min_backup_retention_days": 180,
                         "min_dr_tier": 4}),
})

DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "continuity": CONTINUITY,
    #: Cybersecurity Law art. 21: network logs kept at least six months.
    "min_log_retention_days": 180,
    #: GM/T 0028 module security level required of crypto products, by 密评 level (level 3+: 2).
    "min_module_level": MappingProxyType({1: 1, 2: 1, 3: 2, 4: 3}),
    #: Replicas of every workload (hot redundancy, 8.1.4.9.c), by 等保 level: the manifest schema's own
    #: level-derived default (2 from level 3) — unconfirmed as a figure of the standard.
    "min_replicas": MappingProxyType({1: 1, 2: 1, 3: 2, 4: 2}),
    #: Registries whose images are built from the region's hardened base images (cloud 8.2.4.4.a; unconfirmed).
    "trusted_registries": ("registry.xzgov.internal",),
    #: Longest time since the last patch round / vulnerability scan, by 等保 level (days; unconfirmed).
    "max_patch_age_days": MappingProxyType({1: 180, 2: 90, 3: 30, 4: 30}),
    #: Longest interval between automatic signature updates of anti-malware, IPS and AV gateways (hours), and
    #: the longest age of signatures whose last update date is recorded (days; both unconfirmed).
    "max_signature_update_hours": 24,
    "max_signature_age_days": 7,
    #: Longest time between account reviews and between restore drills, by 等保 level (days; unconfirmed).
    "max_review_age_days": MappingProxyType({1: 365, 2: 365, 3: 180, 4: 90}),
    "max_restore_drill_age_days": MappingProxyType({1: 730, 2: 365, 3: 365, 4: 180}),
    #: Longest key rotation period (days; unconfirmed).
    "max_key_rotation_days": 365,
    #: Longest a waiver (an accepted risk) stays in force, ``approved`` → ``expires`` (days): re-approved at least
    #: yearly, the level-3 assessment cycle — a calendar year, 366 days across a 29 February (unconfirmed; a waiver
    #: "until 2099" accepted a risk for ever).
    "max_waiver_days": 366,
    #: Longest age of the last 等级测评 report, by 等保 level (days): level 3 yearly and level 4 every six months
    #: (信息安全等级保护管理办法 art. 14); level 2 every two years is common practice, not a rule (unconfirmed).
    "max_dengbao_assessment_age_days": MappingProxyType({1: 730, 2: 730, 3: 365, 4: 182}),
    #: Longest age of the last 密评 report, by 密评 level (days): level 3+ yearly (商用密码应用安全性评估管理办法
    #: 2023); levels 1–2 have no periodic duty (``None``: the age is not judged).
    "max_miping_assessment_age_days": MappingProxyType({1: None, 2: None, 3: 365, 4: 365}),
})

#: Host baseline per 等保 level (unconfirmed framework defaults). The hardening roles apply exactly these
#: values (their ``*_by_level`` defaults); ``tests/policies/test_host_baseline.py`` keeps the two equal, so
#: a hardened host passes the live scan at its own level. An override of a name in the configuration
#: applies to every level.
HOST_BY_LEVEL: Mapping[int, Mapping[str, Any]] = MappingProxyType({
    1: MappingProxyType({"faillock_max_deny": 6, "faillock_min_unlock_seconds": 600, "password_min_length": 8,
                         "password_min_classes": 2, "password_max_days": 180, "idle_timeout_max_seconds": 900,
                         "ssh_client_alive_max_interval": 900, "ssh_max_auth_tries": 5,
                         "ssh_root_login": ("no", "prohibit-password", "without-password"),
                         "audit_immutable_required": False, "audit_privileged_commands_required": False}),
    2: MappingProxyType({"faillock_max_deny": 6, "faillock_min_unlock_seconds": 600, "password_min_length": 8,
                         "password_min_classes": 3, "password_max_days": 180, "idle_timeout_max_seconds": 900,
                         "ssh_client_alive_max_interval": 600, "ssh_max_auth_tries": 4,
                         "ssh_root_login": ("no", "prohibit-password", "without-password"),
                         "audit_immutable_required": False, "audit_privileged_commands_required": False}),
    3: MappingProxyType({"faillock_max_deny": 5, "faillock_min_unlock_seconds": 900, "password_min_length": 12,
                         "password_min_classes": 3, "password_max_days": 90, "idle_timeout_max_seconds": 600,
                         "ssh_client_alive_max_interval": 300, "ssh_max_auth_tries": 3,
                         "ssh_root_login": ("no",), "audit_immutable_required": False,
                         "audit_privileged_commands_required": True}),
    4: MappingProxyType({"faillock_max_deny": 3, "faillock_min_unlock_seconds": 1800, "password_min_length": 14,
                         "password_min_classes": 4, "password_max_days": 60, "idle_timeout_max_seconds": 300,
                         "ssh_client_alive_max_interval": 180, "ssh_max_auth_tries": 3,
                         "ssh_root_login": ("no",), "audit_immutable_required": True,
                         "audit_privileged_commands_required": True}),
})
#: Host hardening depth per 等保 level (issue 17; unconfirmed framework defaults), merged into HOST_BY_LEVEL:
#: sshd MaxSessions, whether SSH forwarding may stay on, and the password hashing cost (yescrypt cost factor /
#: SHA-crypt rounds). roles/ssh_hardening and roles/os_hardening apply exactly these (tests/roles checks it).
_HOST_DEPTH_BY_LEVEL: Mapping[int, Mapping[str, Any]] = {
    1: {"ssh_max_sessions": 10, "ssh_forwarding_allowed": True, "password_hash_min_yescrypt_cost": 5,
        "password_hash_min_sha_rounds": 5000, "file_integrity_required": False, "tmp_noexec_required": False,
        "residual_clearing_required": False},
    2: {"ssh_max_sessions": 6, "ssh_forwarding_allowed": True, "password_hash_min_yescrypt_cost": 5,
        "password_hash_min_sha_rounds": 65536, "file_integrity_required": False, "tmp_noexec_required": False,
        "residual_clearing_required": False},
    3: {"ssh_max_sessions": 4, "ssh_forwarding_allowed": False, "password_hash_min_yescrypt_cost": 8,
        "password_hash_min_sha_rounds": 500000, "file_integrity_required": True, "tmp_noexec_required": False,
        "residual_clearing_required": True},
    4: {"ssh_max_sessions": 3, "ssh_forwarding_allowed": False, "password_hash_min_yescrypt_cost": 10,
        "password_hash_min_sha_rounds": 1000000, "file_integrity_required": True, "tmp_noexec_required": False,
        "residual_clearing_required": True},
}
#: Also merged (issue 17, remaining items): a file-integrity database with a daily check (x.1.4.4.f, applied by
#: roles/integrity integrity_aide_enabled_by_level), /tmp mounted noexec (os_hardening_tmp_noexec_by_level; off
#: by default because apt's debconf scripts and some installers execute from /tmp) and swap / temporary data
#: cleared at boot (x.1.4.10, os_hardening_residual_by_level).
HOST_BY_LEVEL = MappingProxyType({
    level: MappingProxyType({**values, **_HOST_DEPTH_BY_LEVEL[level]}) for level, values in HOST_BY_LEVEL.items()
})
#: Keep-alive probes sshd may miss before it drops a dead connection.
SSH_CLIENT_ALIVE_MAX_COUNT = 3


def threshold(overrides: Mapping[str, Any] | None, name: str) -> Any:
    """The configured value of ``name``: the override when present, else the default."""
    if overrides and name in overrides:
        return overrides[name]
    return DEFAULTS[name]


def host_threshold(overrides: Mapping[str, Any] | None, name: str, level: int | None) -> Any:
    """A host baseline value for an 等保 level (level 3 when unknown): the configured override when
    present, else the level's default."""
    if overrides and name in overrides:
        return overrides[name]
    return HOST_BY_LEVEL.get(level or 3, HOST_BY_LEVEL[4])[name]


def threshold_at(overrides: Mapping[str, Any] | None, name: str, level: int) -> Any:
    """Any named threshold at one 等保 / 密评 level, whatever its table: a host baseline value
    (:data:`HOST_BY_LEVEL`), a continuity limit (:data:`CONTINUITY`), a per-level default
    (``min_module_level``), a plain default (``min_log_retention_days``) or
    ``ssh_client_alive_max_count``. Used to render rule texts (remediation hints) from the one source of
    the values, so a hint never quotes a number the check does not use. ``KeyError`` for an unknown name."""
    if name in HOST_BY_LEVEL[3]:
        return host_threshold(overrides, name, level)
    if name in CONTINUITY[3]:
        return continuity_for(overrides, level)[name]
    if name == "ssh_client_alive_max_count":
        return SSH_CLIENT_ALIVE_MAX_COUNT
    value = threshold(overrides, name)
    if isinstance(value, Mapping):
        return value.get(level, value.get(str(level)))
    return value


def continuity_for(overrides: Mapping[str, Any] | None, level: int) -> Mapping[str, int]:
    """Continuity thresholds for an 等保 level (an override may replace one level's table partly)."""
    base = dict(CONTINUITY.get(level, CONTINUITY[4]))
    custom = (overrides or {}).get("continuity", {})
    if isinstance(custom, Mapping):
        extra = custom.get(level, custom.get(str(level), {}))
        if isinstance(extra, Mapping):
            base.update({str(k): int(v) for k, v in extra.items()})
    return base


#: A problem with an override: (the path below ``thresholds``, what is wrong, how to fix it).
OverrideProblem = tuple[tuple[str | int, ...], str, str]
_LEVELS = (1, 2, 3, 4)


def checked_overrides(overrides: Mapping[Any, Any]) -> tuple[dict[str, Any], list[OverrideProblem]]:
    """``overrides`` (``compliance/config.yaml`` ``thresholds:``) checked against the shape of each default,
    with per-level tables keyed by level numbers and merged over their defaults (a table may name some levels
    only): what the rules then index never fails. Every problem is given, none is guessed around: an unknown
    name (a typo would silently keep the default), a value of the wrong type, a negative or non-finite number,
    an unknown level."""
    known = {**DEFAULTS, **HOST_BY_LEVEL[3]}
    values: dict[str, Any] = {}
    problems: list[OverrideProblem] = []
    for name, value in overrides.items():
        if not isinstance(name, str) or name not in known:
            close = suggest(str(name), known)
            problems.append(((str(name),), f"未知阈值 {name!r} / unknown threshold {name!r}",
                             (f"{close} " if close else "")
                             + "the names are listed in docs/compliance.md (xzgov/facts/thresholds.py)"))
            continue
        if name == "continuity":
            checked = _checked_continuity(value, problems)
        elif name in HOST_BY_LEVEL[3]:  # one value for every level
            checked = _checked_scalar((name,), value, HOST_BY_LEVEL[3][name], problems)
        elif isinstance(DEFAULTS[name], Mapping):
            checked = _checked_levels((name,), value, DEFAULTS[name], problems)
        else:
            checked = _checked_scalar((name,), value, DEFAULTS[name], problems)
        if checked is not None:
            values[name] = checked
    return values, problems


def _level_of(key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool) and key in _LEVELS:
        return key
    if isinstance(key, str) and key.strip().isdigit() and int(key) in _LEVELS:
        return int(key)
    return None


def _checked_levels(path: tuple[str | int, ...], value: Any, default: Mapping[int, Any],
                    problems: list[OverrideProblem]) -> dict[int, Any] | None:
    if not isinstance(value, Mapping):
        problems.append((path, f"应为按等级的映射 (1–4: 值), 实为 {value!r} / expected a mapping of levels 1–4 to "
                               "values", f"write e.g. `{path[-1]}: {{3: {default[3]!r}}}` (unlisted levels keep "
                               "their defaults)"))
        return None
    merged = dict(default)
    sample = next((v for v in default.values() if v is not None), 0)
    optional = any(v is None for v in default.values())
    ok = True
    for key, item in value.items():
        level = _level_of(key)
        if level is None:
            problems.append(((*path, key), f"{key!r} 不是等级 / not a level", "use a level number from 1 to 4"))
            ok = False
            continue
        if item is None and optional:
            merged[level] = None
            continue
        checked = _checked_scalar((*path, key), item, sample, problems)
        if checked is None:
            ok = False
        else:
            merged[level] = checked
    return merged if ok else None


def _checked_continuity(value: Any, problems: list[OverrideProblem]) -> dict[int, dict[str, int]] | None:
    if not isinstance(value, Mapping):
        problems.append((("continuity",), f"应为按等级的映射, 实为 {value!r} / expected a mapping of levels to limits",
                         "write e.g. `continuity: {3: {max_rpo_minutes: 30}}`"))
        return None
    merged: dict[int, dict[str, int]] = {}
    for key, limits in value.items():
        level = _level_of(key)
        if level is None:
            problems.append((("continuity", key), f"{key!r} 不是等级 / not a level", "use a level number from 1 to 4"))
            continue
        if not isinstance(limits, Mapping):
            problems.append((("continuity", key), f"应为映射, 实为 {limits!r} / expected a mapping of limits",
                             f"write e.g. `{key}: {{max_rpo_minutes: 30}}`"))
            continue
        table = dict(CONTINUITY[level])
        for name, item in limits.items():
            if name not in table:
                problems.append((("continuity", key, str(name)), f"未知连续性阈值 {name!r} / unknown continuity limit",
                                 f"use one of {', '.join(sorted(table))}"))
                continue
            checked = _checked_scalar(("continuity", key, name), item, table[name], problems)
            if checked is not None:
                table[name] = checked
        merged[level] = table
    return merged


#: The settings whose meaningful values are narrower than "a whole number from 0 to 10^9": (least, most, why).
#: The hardening roles write the host settings into sshd, PAM and login.defs, where a value out of these ranges
#: is refused when the host is hardened (or locks everyone out: MaxAuthTries 0, MaxSessions 0), and a rule
#: judging with it would demand what nothing can give.
_RANGES: Mapping[str, tuple[int, int, str]] = MappingProxyType({
    "min_module_level": (1, 4, "GM/T 0028 security levels are 1–4"),
    "min_dr_tier": (0, 6, "GB/T 20988 disaster-recovery tiers are 0–6"),
    "faillock_max_deny": (1, 1000, "pam_faillock deny: 1 or more failures"),
    "faillock_min_unlock_seconds": (1, 10**9, "pam_faillock unlock_time: 0 never unlocks (the operator neither)"),
    "password_min_length": (6, 256, "pam_pwquality minlen: 6 at least"),
    "password_min_classes": (1, 4, "pam_pwquality minclass: four character classes"),
    "password_max_days": (1, 99999, "login.defs PASS_MAX_DAYS"),
    "idle_timeout_max_seconds": (1, 86400, "TMOUT: 0 would switch the timeout off"),
    "ssh_client_alive_max_interval": (1, 86400, "sshd ClientAliveInterval: 0 switches the probes off"),
    "ssh_max_auth_tries": (1, 100, "sshd MaxAuthTries: 0 refuses every login (the operator too)"),
    "ssh_max_sessions": (1, 100, "sshd MaxSessions: 0 refuses every session (the operator too)"),
    "password_hash_min_yescrypt_cost": (1, 11, "yescrypt cost factor (libxcrypt): 1–11"),
    "password_hash_min_sha_rounds": (1000, 999_999_999, "SHA-crypt rounds: 1,000–999,999,999"),
    "max_waiver_days": (1, 36_500, "a waiver is in force 1 day at least"),
})
#: The settings that list choices, with the values each may take.
_CHOICES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "ssh_root_login": ("no", "prohibit-password", "without-password", "forced-commands-only"),
})


def _checked_scalar(path: tuple[str | int, ...], value: Any, default: Any, problems: list[OverrideProblem]) -> Any:
    """``value`` when it has the default's type — a whole number ≥ 0 (within the setting's range, :data:`_RANGES`),
    true/false, or a list of names (of the setting's choices, :data:`_CHOICES`)."""
    name = str(path[2] if path[0] == "continuity" and len(path) > 2 else path[0])
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        problems.append((path, f"应为 true 或 false, 实为 {value!r} / expected true or false", "write true or false"))
        return None
    if isinstance(default, int):
        least, most, why = _RANGES.get(name, (0, 10**9, ""))
        if isinstance(value, int) and not isinstance(value, bool) and least <= value <= most:
            return value
        problems.append((path, f"应为 {least} 至 {most} 的整数, 实为 {value!r} / expected a whole number from {least} "
                               f"to {most}" + (f" ({why})" if why else ""), f"write a number such as {default}"))
        return None
    if isinstance(default, tuple):
        choices = _CHOICES.get(name)
        if isinstance(value, list | tuple) and value and all(isinstance(v, str) and v.strip() for v in value) \
                and (choices is None or all(v in choices for v in value)):
            return tuple(value)
        if choices is not None:
            problems.append((path, f"应为 {', '.join(choices)} 中的值, 实为 {value!r} / expected a non-empty list of "
                                   f"{', '.join(choices)}", f"write e.g. {json.dumps(list(default))} (quote no: "
                                   "unquoted, YAML reads it as false)"))
            return None
        problems.append((path, f"应为非空名称列表, 实为 {value!r} / expected a non-empty list of names",
                         f"write e.g. {json.dumps(list(default))} (quote yes/no: unquoted, YAML reads them as "
                         "true/false)"))
        return None
    return value  # pragma: no cover - every default is one of the above


def load_thresholds(root: Path) -> dict[str, Any]:
    """``compliance/config.yaml`` ``thresholds:`` overrides under ``root`` (optional; ``{}`` without the file), checked
    (:func:`checked_overrides`); bad input is a located exit 2. Every point reads them here: the scan, attestation
    signing and the CrossGuard pack judge with the same figures."""
    path = root / "compliance" / "config.yaml"
    if not os.path.lexists(path):
        return {}  # (a link, dangling or looping too, or a folder there: the reader refuses it, never "absent")
    display = "compliance/config.yaml"
    document, problems = load_file(path, display)  # the bounded, tag-checking loader every input uses
    if document is None:
        raise UsageError(f"cannot read {display}", problems)
    data = document.data
    unknown = [key for key in data if key != "thresholds"] if isinstance(data, dict) else []
    if unknown:  # `threshold:` kept every default without a word
        located = []
        for key in unknown:
            line, column = document.position((key,), key=True)
            close = suggest(str(key), ["thresholds"])
            located.append(Diagnostic(display, line, column, str(key), f"未知配置项 {key!r} / unknown key {key!r}: "
                                      "the file holds `thresholds:` only", (f"{close} " if close else "")
                                      + "write the overrides under `thresholds:` (docs/compliance.md)", "schema"))
        raise UsageError(f"{display}: {len(unknown)} unknown key(s)", located)
    value = data.get("thresholds", {}) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        line, column = document.position(("thresholds",)) if isinstance(data, dict) else (1, 1)
        raise UsageError(f"{display}: thresholds must be a mapping", [Diagnostic(
            display, line, column, "thresholds", "expected a mapping of threshold names to values",
            "write `thresholds:` followed by indented `name: value` lines (docs/compliance.md)", "schema")])
    checked, wrong = checked_overrides(value)
    if wrong:
        located = []
        for where, message, hint in wrong:
            line, column = document.position(("thresholds", *where))
            located.append(Diagnostic(display, line, column, ".".join(map(str, ("thresholds", *where))), message,
                                      hint, "schema"))
        raise UsageError(f"{display}: {len(wrong)} problem(s) in thresholds", located)
    return checked
