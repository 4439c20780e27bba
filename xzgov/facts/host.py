"""Host facts: a live host over SSH → :class:`~xzgov.facts.contract.Facts` (point ``host``).

:func:`gather_host_facts` runs the gather script (:mod:`xzgov.facts.host_script`) on a host through a
:class:`Transport` (:mod:`xzgov.facts.host_transport`), splits its output into sections and turns them
into facts with the per-fact parsers (:mod:`xzgov.facts.host_parsers`). An unreachable host, a timeout
or a refused sudo becomes :attr:`HostGathering.error`; the scanner then reports every host rule of
that host as ``error``, never as pass.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xzgov.core.text import visible_text
from xzgov.facts.baseline import FILE_MODES
from xzgov.facts.contract import Facts, Point, utc_now
from xzgov.facts.host_parsers import parse_rsyslog, parse_sections
from xzgov.facts.host_script import GATHER_SCRIPT, MARK, Section, finished, split_sections
from xzgov.facts.host_transport import (
    AnswerTooLarge,
    BadConnectionArgs,
    LocalTransport,
    SessionsStopped,
    SshTransport,
    Transport,
)

__all__ = [
    "GATHER_SCRIPT", "MARK", "HostGathering", "HostTarget", "LocalTransport", "Section", "SshTransport",
    "Transport", "gather_host_facts", "parse_rsyslog", "parse_sections", "split_sections",
]


@dataclass
class HostTarget:
    """One host to scan, from an inventory."""

    name: str
    address: str
    system: str
    variables: Mapping[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """The ``host`` fact: what the inventory says the host should be."""
        v = self.variables
        return {
            "hostname": self.name,
            "address": self.address,
            "level": v.get("xzgov_level"),
            "crypto_level": v.get("xzgov_crypto_level"),
            "os_family": v.get("xzgov_os_family"),
            "os_version": v.get("xzgov_os_version"),
            "time_sources": list(v.get("xzgov_time_sources") or []),
            # a time source's own upstream servers ({host, networks}; region.yaml time_upstream)
            "time_upstream": [{"host": str(u.get("host", "")), "networks": list(u.get("networks") or [])}
                              for u in v.get("xzgov_time_source_upstream") or [] if isinstance(u, Mapping)],
            "log_servers": list(v.get("xzgov_log_servers") or []),
            "log_retention_days": v.get("xzgov_log_retention_days"),
            "management_cidrs": list(v.get("xzgov_management_cidrs") or []),
            "allowed_flows": list(v.get("xzgov_allowed_flows") or []),
            # None: an inventory older than the port declarations (XZ-HOST-LISTENING then uses the inbound flows)
            "ports": list(v["xzgov_ports"]) if isinstance(v.get("xzgov_ports"), list) else None,
            "platform_ports": list(v.get("xzgov_platform_ports") or []),
            "ssh_port": v.get("xzgov_ssh_port", 22),
            "directory_uri": str(v.get("xzgov_directory_uri") or ""),
            "secmgmt_role": str(v.get("xzgov_secmgmt_role") or ""),
            "log_centre_retention_days": v.get("xzgov_log_centre_retention_days"),
        }


@dataclass
class HostGathering:
    """What gathering on one host produced."""

    target: HostTarget
    facts: Facts | None
    missing: Mapping[str, str]
    error: str = ""
    gathered_at: str = ""
    #: the host's own name as it answered (``hostname``), shown as printable text; "" when it did not say
    answered_as: str = ""

    @property
    def reachable(self) -> bool:
        return self.facts is not None


def gather_host_facts(
    target: HostTarget, transport: Transport, *, timeout: float = 60.0, thresholds: Mapping[str, Any] | None = None
) -> HostGathering:
    """Run the gather script on ``target`` and build its facts. Never raises for host problems: an
    unreachable host, a timeout or a refused sudo becomes ``HostGathering.error``."""
    stamp = utc_now()
    try:
        rc, stdout, stderr = transport.run(GATHER_SCRIPT, timeout)
    except subprocess.TimeoutExpired as expired:
        # the time the session was given (the host's, and connecting and reporting around it), not the host's
        given = expired.timeout or timeout
        said = "" if round(given) == round(timeout) else f" (the host's {timeout:.0f}s, connecting and reporting)"
        return HostGathering(target, None, {}, f"timed out after {given:.0f}s{said}", stamp)
    except (AnswerTooLarge, BadConnectionArgs) as error:
        return HostGathering(target, None, {}, str(error), stamp)
    except SessionsStopped as error:
        return HostGathering(target, None, {}, f"not scanned: {error}", stamp)
    except OSError as error:
        return HostGathering(target, None, {}, f"cannot run ssh: {visible_text(str(error))}", stamp)
    sections = split_sections(stdout)
    if rc == 255 or not sections:
        reason = (stderr or stdout).strip().splitlines()[-1:] or [f"exit status {rc}"]
        # the host's (or ssh's) own words, shown and never obeyed: a report read in a terminal stays one
        return HostGathering(target, None, {}, f"unreachable (ssh exit {rc}): {visible_text(reason[0][:300])}",
                             stamp)
    if not finished(stdout):
        last = list(sections)[-1]
        return HostGathering(target, None, {}, f"answer cut short (exit status {rc}) after section '{last}': "
                                               "the sections it lacks are not read as empty", stamp)
    values, missing = parse_sections(sections)
    answered_as = visible_text(sections["hostname"].text.strip()[:253]) if "hostname" in sections else ""
    values["host"] = target.context()
    if thresholds:
        values["thresholds"] = dict(thresholds)
    level = target.variables.get("xzgov_level")
    crypto_level = target.variables.get("xzgov_crypto_level", level)
    locations = {key: f"{target.name}:{where}" for key, where in _WHERE.items()}
    locations.update({f"file_permissions.{path}": f"{target.name}:{path}" for path in FILE_MODES})
    for chain in (values.get("packet_filter") or {}).get("chains", []):
        locations[f"packet_filter.{chain['family']} {chain['table']} {chain['name']}"] = (
            f"{target.name}:nft list chain {chain['family']} {chain['table']} {chain['name']}")
    facts = Facts(
        subject=target.system,
        point=Point.HOST,
        values=values,
        locations=locations,
        gathered_at=stamp,
        target=target.name,
        level=int(level) if isinstance(level, int) else None,
        crypto_level=int(crypto_level) if isinstance(crypto_level, int) else None,
    )
    return HostGathering(target, facts, missing, "", stamp, answered_as)


_WHERE = {
    "sshd_effective_config": "sshd -T (/etc/ssh/sshd_config)",
    "pam_faillock": "/etc/security/faillock.conf",
    "password_policy": "/etc/security/pwquality.conf",
    "shell_timeout": "/etc/profile.d",
    "audit_rules": "auditctl -l",
    "audit_log_protection": "/var/log/audit",
    "log_forwarding": "/etc/rsyslog.d",
    "time_sync": "timedatectl",
    "services": "systemctl list-unit-files",
    "file_permissions": "/etc",
    "sysctl": "sysctl",
    "kernel_params": "/proc/sys (/etc/sysctl.d)",
    "password_hashing": "/etc/login.defs",
    "cron_permissions": "/etc/cron.*",
    "login_banner": "/etc/issue",
    "security_updates": "/etc/apt (apt-get -s dist-upgrade)",
    "mandatory_access": "/etc/apparmor.d",
    "listening": "ss -tuln",
    "packet_filter": "nft -j list ruleset (/etc/nftables.conf, /etc/nftables.d)",
    "anti_malware": "/var/lib/clamav (/etc/clamav/freshclam.conf)",
    "file_integrity": "/var/lib/aide (/etc/aide)",
    "mounts": "/proc/self/mountinfo (/etc/fstab)",
    "residual_info": "/proc/swaps (/etc/fstab, tmpfiles.d)",
    "kernel_cmdline": "/proc/cmdline (/etc/default/grub.d)",
    "host": "inventory",
    "directory_client": "/etc/sssd/sssd.conf (/etc/sudoers.d/xzgov-directory-roles, sshd -T)",
    "log_centre": "/etc/systemd/system/xzgov-log-seal.service (<storage>/<source>/<date>.seal)",
    "log_tls": "/etc/rsyslog.d (StreamDriver.CAFile/CertFile/KeyFile)",
}
