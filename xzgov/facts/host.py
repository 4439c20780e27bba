"""Host facts: a live host over SSH → :class:`~policies.engine.Facts` (point ``host``).

One POSIX shell script (:data:`GATHER_SCRIPT`) runs on the host through sudo and prints every
section the rules need between ``===XZ:<name>===`` markers, so a host costs one SSH round trip.
:func:`parse_sections` turns the text into the facts of :data:`policies.engine.FACT_KEYS`; it is pure
and tested against captured and local output. Transports:

* :class:`TestinfraTransport` — ``testinfra.get_host("ssh://user@address", ...)`` (the default);
* :class:`LocalTransport` — runs the script on this machine (tests, and scanning the scanner's host).

A section whose command is missing or failed yields no fact; the scanner reports every rule that
needed it as ``error`` (never as pass). Nothing secret is gathered: no file contents beyond
configuration, no password hashes (``/etc/shadow`` is only ``stat``-ed).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from xzgov.facts.baseline import FILE_MODES, SYSCTL_EXPECTED
from xzgov.facts.contract import Facts, Point, utc_now

MARK = "===XZ:"

_SECTIONS: tuple[tuple[str, str], ...] = (
    ("hostname", "hostname"),
    ("whoami", "id -u"),
    ("sshd", "sshd -T 2>/dev/null || /usr/sbin/sshd -T"),
    ("faillock_conf", "cat /etc/security/faillock.conf"),
    ("pam_auth", "cat /etc/pam.d/common-auth /etc/pam.d/system-auth /etc/pam.d/password-auth 2>/dev/null; true"),
    ("pam_password", "cat /etc/pam.d/common-password /etc/pam.d/system-auth 2>/dev/null; true"),
    ("pwquality", "cat /etc/security/pwquality.conf /etc/security/pwquality.conf.d/*.conf 2>/dev/null; true"),
    ("login_defs", "grep -E '^[[:space:]]*PASS_(MAX|MIN|WARN)_' /etc/login.defs; true"),
    ("tmout", "grep -Hs TMOUT /etc/profile /etc/profile.d/*.sh /etc/bash.bashrc /etc/bashrc; true"),
    ("auditd_active", "systemctl is-active auditd"),
    ("auditctl_rules", "auditctl -l"),
    ("auditctl_status", "auditctl -s 2>&1"),
    ("audit_rules_files", "cat /etc/audit/rules.d/*.rules 2>/dev/null; true"),
    ("audit_dir", "stat -c '%a %U %G %n' /var/log/audit /var/log/audit/*"),
    ("auditd_conf", "cat /etc/audit/auditd.conf"),
    ("syslog_active", 'for u in rsyslog syslog-ng; do printf \'%s %s\\n\' "$u" "$(systemctl is-active $u)"; done'),
    ("rsyslog_conf", "cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf 2>/dev/null; true"),
    (
        "time_active",
        "for u in chrony chronyd systemd-timesyncd ntp ntpsec; do "
        'printf \'%s %s\\n\' "$u" "$(systemctl is-active $u)"; done',
    ),
    (
        "chrony_conf",
        "cat /etc/chrony/chrony.conf /etc/chrony.conf /etc/chrony/conf.d/*.conf "
        "/etc/chrony/sources.d/*.sources 2>/dev/null; true",
    ),
    ("timesyncd_conf", "cat /etc/systemd/timesyncd.conf /etc/systemd/timesyncd.conf.d/*.conf 2>/dev/null; true"),
    ("ntp_synchronized", "timedatectl show -p NTPSynchronized --value"),
    ("chrony_tracking", "chronyc -n tracking"),
    ("services_enabled", "systemctl list-unit-files --type=service,socket --state=enabled --no-legend --no-pager"),
    ("services_active", "systemctl list-units --type=service,socket --state=active --no-legend --no-pager --plain"),
    ("stat", "for f in " + " ".join(FILE_MODES) + '; do [ -e "$f" ] && stat -c \'%a %U %G %n\' "$f"; done; true'),
    ("sysctl", "sysctl " + " ".join(SYSCTL_EXPECTED) + " 2>/dev/null; true"),
)


def _script() -> str:
    parts = ["export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    for name, command in _SECTIONS:
        parts.append(f"echo '{MARK}{name}==='; ( {command} ) 2>/dev/null; echo \"{MARK}{name}:rc=$?===\"")
    return "\n".join(parts) + "\n"


#: The script run on each host (as root through ``sudo -n``).
GATHER_SCRIPT = _script()


@dataclass(frozen=True)
class Section:
    text: str
    rc: int


def split_sections(output: str) -> dict[str, Section]:
    """The script's output → section name → (text, exit status)."""
    sections: dict[str, Section] = {}
    current: str | None = None
    lines: list[str] = []
    pattern = re.compile(r"^===XZ:([a-z_]+)(?::rc=(\d+))?===$")
    for line in output.splitlines():
        found = pattern.match(line.strip())
        if not found:
            if current is not None:
                lines.append(line)
            continue
        name, rc = found.group(1), found.group(2)
        if rc is None:
            current, lines = name, []
        elif current == name:
            sections[name] = Section("\n".join(lines), int(rc))
            current = None
    return sections


def _active_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _kv(text: str, sep: str = "=") -> dict[str, str]:
    values: dict[str, str] = {}
    for line in _active_lines(text):
        if sep in line:
            key, value = line.split(sep, 1)
            values[key.strip().lower()] = value.strip()
        elif sep == " " or sep.isspace():
            values[line.lower()] = ""
    return values


def _pam_args(text: str, module: str) -> tuple[bool, dict[str, str]]:
    present = False
    args: dict[str, str] = {}
    for line in _active_lines(text):
        words = line.split()
        if any(word.endswith(module) for word in words):
            present = True
            for word in words:
                if "=" in word:
                    key, value = word.split("=", 1)
                    args[key.lower()] = value
    return present, args


def _tmout(text: str) -> dict[str, Any]:
    value: int | None = None
    readonly = False
    source = ""
    for raw in text.splitlines():
        path, _, line = raw.partition(":")
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.search(r"TMOUT=(\d+)", line)
        if found:
            value, source = int(found.group(1)), path
        if re.search(r"\b(readonly|typeset -r|declare -r)\b.*\bTMOUT\b", line):
            readonly = True
    return {"tmout": value, "readonly": readonly, "source": source}


_ACTION = re.compile(r"action\s*\((.*?)\)", re.DOTALL | re.IGNORECASE)
_PAIR = re.compile(r"([A-Za-z.]+)\s*=\s*\"([^\"]*)\"")
_LEGACY = re.compile(r"^\S+\s+(@@?)(?:\(([^)]*)\))?\[?([A-Za-z0-9.:_-]+?)\]?(?::(\d+))?(?:;\S+)?$")


def parse_rsyslog(text: str) -> list[dict[str, Any]]:
    """Forwarding targets of an rsyslog configuration (RainerScript ``omfwd`` actions and legacy ``@``/``@@``)."""
    lines = _active_lines(text)
    body = "\n".join(lines)
    global_driver = ""
    found = re.search(r"global\s*\((.*?)\)", body, re.DOTALL | re.IGNORECASE)
    if found:
        pairs = {k.lower(): v for k, v in _PAIR.findall(found.group(1))}
        global_driver = pairs.get("defaultnetstreamdriver", "").lower()
    legacy_driver = ""
    legacy_mode = ""
    for line in lines:
        if line.lower().startswith("$defaultnetstreamdriver "):
            legacy_driver = line.split()[1].lower()
        if line.lower().startswith("$actionsendstreamdrivermode "):
            legacy_mode = line.split()[1]
    targets: list[dict[str, Any]] = []
    for block in _ACTION.findall(body):
        pairs = {k.lower(): v for k, v in _PAIR.findall(block)}
        if pairs.get("type", "").lower() != "omfwd":
            continue
        driver = pairs.get("streamdriver", global_driver).lower()
        tls = driver in ("gtls", "ossl") and pairs.get("streamdrivermode", "0") == "1"
        targets.append(
            {
                "host": pairs.get("target", ""),
                "port": int(pairs.get("port", "514") or 514),
                "protocol": pairs.get("protocol", "udp").lower(),
                "tls": tls,
            }
        )
    for line in lines:
        legacy = _LEGACY.match(line)
        if legacy:
            tcp = legacy.group(1) == "@@"
            targets.append(
                {
                    "host": legacy.group(3),
                    "port": int(legacy.group(4) or 514),
                    "protocol": "tcp" if tcp else "udp",
                    "tls": tcp and legacy_driver in ("gtls", "ossl") and legacy_mode == "1",
                }
            )
    return targets


def _time_servers(chrony: str, timesyncd: str) -> tuple[list[str], list[str]]:
    chrony_servers = [
        line.split()[1]
        for line in _active_lines(chrony)
        if line.split()[0] in ("server", "pool", "peer") and len(line.split()) > 1
    ]
    timesyncd_servers: list[str] = []
    for line in _active_lines(timesyncd):
        if line.startswith(("NTP=", "FallbackNTP=")) and line.startswith("NTP="):
            timesyncd_servers += line.split("=", 1)[1].split()
    return chrony_servers, timesyncd_servers


def _units(text: str) -> list[str]:
    names = []
    for line in text.splitlines():
        words = line.split()
        if words:
            names.append(words[0].lstrip("●").strip() or (words[1] if len(words) > 1 else ""))
    return [name for name in names if name]


def _stat(text: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        words = line.split(maxsplit=3)
        if len(words) == 4:
            mode, owner, group, path = words
            found[path] = {"mode": mode.zfill(4), "owner": owner, "group": group, "exists": True}
    return found


def parse_sections(sections: Mapping[str, Section]) -> tuple[dict[str, Any], dict[str, str]]:
    """Facts from the script's sections, and the facts that could not be gathered (key → why)."""
    facts: dict[str, Any] = {}
    missing: dict[str, str] = {}

    def ok(name: str) -> Section | None:
        section = sections.get(name)
        return section if section is not None and section.rc == 0 else None

    sshd = ok("sshd")
    if sshd and sshd.text.strip():
        config: dict[str, str] = {}
        for line in sshd.text.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                config[key.lower()] = value.strip()
        facts["sshd_effective_config"] = config
    else:
        missing["sshd_effective_config"] = "`sshd -T` failed (no OpenSSH server, or not run as root)"

    pam_auth = sections.get("pam_auth", Section("", 1)).text
    in_stack, pam_args = _pam_args(pam_auth, "pam_faillock.so")
    conf = _kv(sections["faillock_conf"].text) if ok("faillock_conf") else {}
    merged = {**conf, **pam_args}
    facts["pam_faillock"] = {
        "configured": in_stack or bool(conf),
        "in_auth_stack": in_stack,
        # pam_faillock defaults (man faillock.conf): deny 3, unlock_time 600, fail_interval 900
        "deny": merged.get("deny", "3" if in_stack else None),
        "unlock_time": merged.get("unlock_time", "600" if in_stack else None),
        "fail_interval": merged.get("fail_interval", "900" if in_stack else None),
    }

    pam_password = sections.get("pam_password", Section("", 1)).text
    pwq_in_stack, pwq_args = _pam_args(pam_password, "pam_pwquality.so")
    pwq = {**_kv(sections.get("pwquality", Section("", 1)).text), **pwq_args}
    login_defs = {
        line.split()[0].lower(): line.split()[1]
        for line in _active_lines(sections.get("login_defs", Section("", 1)).text)
        if len(line.split()) >= 2
    }
    facts["password_policy"] = {
        "pwquality_in_stack": pwq_in_stack,
        "minlen": pwq.get("minlen", "8" if pwq_in_stack else None),
        "minclass": pwq.get("minclass", "0"),
        **{k: pwq.get(k, "0") for k in ("dcredit", "ucredit", "lcredit", "ocredit")},
        "pass_max_days": login_defs.get("pass_max_days", "99999"),
        "pass_min_days": login_defs.get("pass_min_days", "0"),
        "pass_warn_age": login_defs.get("pass_warn_age", "7"),
    }

    facts["shell_timeout"] = _tmout(sections.get("tmout", Section("", 1)).text)

    active = sections.get("auditd_active", Section("", 1)).text.strip() == "active"
    rules_section = sections.get("auditctl_rules")
    rules = (
        []
        if rules_section is None or rules_section.rc != 0
        else [line for line in _active_lines(rules_section.text) if line != "No rules"]
    )
    status_text = sections.get("auditctl_status", Section("", 1)).text
    # A kernel built without audit (containers, some VMs) cannot run auditd; only the configuration counts.
    kernel_audit = not any(sign in status_text for sign in ("audit support not in kernel",
                                                             "Cannot open netlink audit socket"))
    configured = [line for line in _active_lines(sections.get("audit_rules_files", Section("", 1)).text)
                  if line.startswith(("-a", "-w"))]
    facts["audit_rules"] = {"auditd_active": active, "rules": rules, "kernel_audit": kernel_audit,
                            "configured_rules": configured}
    status = _kv(sections["auditctl_status"].text, " ") if ok("auditctl_status") else {}
    enabled = (
        next(
            (
                line.split()[1]
                for line in _active_lines(sections.get("auditctl_status", Section("", 1)).text)
                if line.startswith("enabled ") and len(line.split()) > 1
            ),
            "",
        )
        if status is not None
        else ""
    )
    audit_stat = _stat(sections.get("audit_dir", Section("", 1)).text)
    directory = audit_stat.get("/var/log/audit")
    facts["audit_log_protection"] = {
        "exists": directory is not None,
        "log_dir_mode": directory["mode"] if directory else None,
        "log_owner": directory["owner"] if directory else None,
        "log_file_modes": {path: info["mode"] for path, info in audit_stat.items() if path != "/var/log/audit"},
        "auditd_conf": _kv(sections["auditd_conf"].text) if ok("auditd_conf") else {},
        "immutable": enabled == "2",
        "immutable_configured": "-e 2" in _active_lines(sections.get("audit_rules_files", Section("", 1)).text),
        "kernel_audit": kernel_audit,
    }

    syslog = dict(
        line.split(maxsplit=1)
        for line in sections.get("syslog_active", Section("", 1)).text.splitlines()
        if len(line.split(maxsplit=1)) == 2
    )
    daemon = next((unit for unit, state in syslog.items() if state.strip() == "active"), "")
    facts["log_forwarding"] = {
        "daemon": daemon or "rsyslog",
        "active": bool(daemon),
        "targets": parse_rsyslog(sections.get("rsyslog_conf", Section("", 1)).text),
    }

    time_units = dict(
        line.split(maxsplit=1)
        for line in sections.get("time_active", Section("", 1)).text.splitlines()
        if len(line.split(maxsplit=1)) == 2
    )
    time_daemon = next((unit for unit, state in time_units.items() if state.strip() == "active"), "")
    chrony, timesyncd = _time_servers(
        sections.get("chrony_conf", Section("", 1)).text, sections.get("timesyncd_conf", Section("", 1)).text
    )
    servers = chrony if time_daemon.startswith("chrony") else timesyncd if time_daemon else chrony or timesyncd
    synced = sections.get("ntp_synchronized")
    synchronised = None if synced is None or synced.rc != 0 else synced.text.strip() == "yes"
    tracking = sections.get("chrony_tracking")
    if time_daemon.startswith("chrony") and tracking is not None and tracking.rc == 0:
        # chronyd's own view: the kernel flag behind timedatectl is never set when chronyd may not
        # adjust the clock (chronyd -x in containers).
        leap = next((line.split(":", 1)[1].strip() for line in tracking.text.splitlines()
                     if line.startswith("Leap status")), "")
        synchronised = leap == "Normal"
    facts["time_sync"] = {
        "daemon": time_daemon,
        "active": bool(time_daemon),
        "servers": servers,
        "synchronised": synchronised,
    }

    enabled_units = sections.get("services_enabled")
    active_units = sections.get("services_active")
    if enabled_units is not None and enabled_units.rc == 0 and active_units is not None and active_units.rc == 0:
        facts["services"] = {"enabled": _units(enabled_units.text), "active": _units(active_units.text)}
    else:
        missing["services"] = "systemctl unavailable"

    stat = _stat(sections.get("stat", Section("", 1)).text)
    facts["file_permissions"] = {path: stat.get(path, {"exists": False}) for path in FILE_MODES}

    sysctl_values = {}
    for line in sections.get("sysctl", Section("", 1)).text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            sysctl_values[key.strip()] = value.strip()
    if sysctl_values:
        facts["sysctl"] = sysctl_values
    else:
        missing["sysctl"] = "sysctl printed nothing"
    if sections.get("whoami", Section("", 1)).text.strip() != "0":
        # Without root the audit and sshd views are incomplete: say so rather than judge them.
        for key in ("audit_rules", "audit_log_protection", "sshd_effective_config"):
            facts.pop(key, None)
            missing[key] = "not gathered as root (sudo -n failed)"
    return facts, missing


# -------------------------------------------------------------------------------------------- transports


class Transport(Protocol):
    """Runs the gather script on one host; returns (exit status, stdout, stderr)."""

    def run(self, script: str, timeout: float) -> tuple[int, str, str]: ...


@dataclass
class LocalTransport:
    """Run the script on this machine (as the current user, or through ``sudo -n`` when asked)."""

    sudo: bool = False

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        command = ["sudo", "-n", "/bin/sh", "-s"] if self.sudo else ["/bin/sh", "-s"]
        done = subprocess.run(command, input=script, text=True, capture_output=True, timeout=timeout, check=False)
        return done.returncode, done.stdout, done.stderr


@dataclass
class TestinfraTransport:
    """SSH through pytest-testinfra's ``ssh`` backend (OpenSSH client, batch mode, no password prompts)."""

    __test__ = False

    address: str
    user: str
    port: int | None = None
    identity_file: str | None = None
    ssh_extra_args: str = ""
    connect_timeout: int = 10

    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"ssh://{self.user}@{self.address}{port}"

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        import testinfra  # imported lazily: only the live scan needs it

        extra = " ".join(
            [
                "-o BatchMode=yes",
                "-o ServerAliveInterval=5",
                "-o ServerAliveCountMax=2",
                "-o ControlMaster=no",
                "-o ControlPath=none",
                self.ssh_extra_args,
            ]
        ).strip()
        host = testinfra.get_host(
            self.url(), ssh_identity_file=self.identity_file, ssh_extra_args=extra, timeout=self.connect_timeout
        )
        # `timeout` bounds the remote side; the ssh options bound connection and liveness.
        remote = f"timeout {int(max(timeout, 1))} sudo -n /bin/sh -c {shlex.quote(script)}"
        try:
            result = host.run(remote)
        except RuntimeError as error:  # testinfra raises on ssh's own exit status 255
            detail = getattr(error.args[0], "stderr", "") if error.args else ""
            return 255, "", str(detail or error)
        return result.rc, result.stdout, result.stderr


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
            "log_servers": list(v.get("xzgov_log_servers") or []),
            "log_retention_days": v.get("xzgov_log_retention_days"),
            "management_cidrs": list(v.get("xzgov_management_cidrs") or []),
        }


@dataclass
class HostGathering:
    """What gathering on one host produced."""

    target: HostTarget
    facts: Facts | None
    missing: Mapping[str, str]
    error: str = ""
    gathered_at: str = ""

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
    except subprocess.TimeoutExpired:
        return HostGathering(target, None, {}, f"timed out after {timeout:.0f}s", stamp)
    except OSError as error:
        return HostGathering(target, None, {}, f"cannot run ssh: {error}", stamp)
    sections = split_sections(stdout)
    if rc == 255 or not sections:
        reason = (stderr or stdout).strip().splitlines()[-1:] or [f"exit status {rc}"]
        return HostGathering(target, None, {}, f"unreachable (ssh exit {rc}): {reason[0][:300]}", stamp)
    values, missing = parse_sections(sections)
    values["host"] = target.context()
    if thresholds:
        values["thresholds"] = dict(thresholds)
    level = target.variables.get("xzgov_level")
    crypto_level = target.variables.get("xzgov_crypto_level", level)
    locations = {key: f"{target.name}:{where}" for key, where in _WHERE.items()}
    locations.update({f"file_permissions.{path}": f"{target.name}:{path}" for path in FILE_MODES})
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
    return HostGathering(target, facts, missing, "", stamp)


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
    "host": "inventory",
}


def host_rules_missing(missing: Mapping[str, str], needed: Sequence[str]) -> list[str]:
    """Human-readable reasons why a rule needing ``needed`` facts could not run."""
    return [f"{key}: {missing[key]}" for key in needed if key in missing]
