"""Baseline data shared by the fact extractors and the rules: which files, sysctls, services, algorithms and
crypto assessment units matter. Data only (and :func:`crypto_not_applicable`, the one rule over it that the 密评
items and the 密评 score share, and :func:`filing_judged`, the filing duty XZ-MAN-FILING and the 等保备案率 KPI
share); the rules in ``policies.rules`` judge against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from xzgov.core.clock import days_between

G22239 = "GB/T 22239-2019"
G39786 = "GB/T 39786-2021"

#: Ciphers, MACs and key exchanges an SSH server must not offer.
WEAK_SSH = {
    "ciphers": ("cbc", "3des", "arcfour", "blowfish", "cast128"),
    "macs": ("md5", "-96", "hmac-sha1", "umac-64"),
    "kexalgorithms": ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1",
                      "diffie-hellman-group-exchange-sha1"),
}

#: Services that must not be enabled or running on a government-cloud host (unit names without ``.service``).
UNNECESSARY_SERVICES = (
    "telnet", "telnetd", "inetd", "inetutils-inetd", "openbsd-inetd", "xinetd", "rsh", "rlogin", "rexec", "vsftpd",
    "proftpd", "pure-ftpd", "tftpd-hpa", "tftp", "avahi-daemon", "cups", "cups-browsed", "nfs-server", "rpcbind",
    "smbd", "nmbd", "snmpd", "ypbind", "ypserv", "bluetooth", "isc-dhcp-server", "slapd", "squid", "dovecot",
)

#: path → (most permissive mode, allowed owners, allowed groups); a file that does not exist is skipped.
FILE_MODES: Mapping[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "/etc/passwd": (0o644, ("root",), ("root",)),
    "/etc/group": (0o644, ("root",), ("root",)),
    "/etc/shadow": (0o640, ("root",), ("root", "shadow")),
    "/etc/gshadow": (0o640, ("root",), ("root", "shadow")),
    "/etc/ssh/sshd_config": (0o600, ("root",), ("root",)),
    "/etc/sudoers": (0o440, ("root",), ("root",)),
    "/etc/crontab": (0o600, ("root",), ("root",)),
    "/boot/grub/grub.cfg": (0o600, ("root",), ("root",)),
    "/etc/security/faillock.conf": (0o644, ("root",), ("root",)),
    "/etc/audit/auditd.conf": (0o640, ("root",), ("root",)),
}

#: sysctl key → accepted values.
SYSCTL_EXPECTED: Mapping[str, tuple[str, ...]] = {
    "net.ipv4.ip_forward": ("0",),
    "net.ipv4.conf.all.accept_redirects": ("0",),
    "net.ipv4.conf.default.accept_redirects": ("0",),
    "net.ipv4.conf.all.secure_redirects": ("0",),
    "net.ipv4.conf.all.send_redirects": ("0",),
    "net.ipv4.conf.default.send_redirects": ("0",),
    "net.ipv4.conf.all.accept_source_route": ("0",),
    "net.ipv4.conf.default.accept_source_route": ("0",),
    "net.ipv4.conf.all.rp_filter": ("1",),
    "net.ipv4.conf.all.log_martians": ("1",),
    "net.ipv4.icmp_echo_ignore_broadcasts": ("1",),
    "net.ipv4.tcp_syncookies": ("1",),
    "net.ipv6.conf.all.accept_redirects": ("0",),
    "kernel.randomize_va_space": ("2",),
}

class AuditCategory(NamedTuple):
    """What records one category of audit events: a write to one of ``files`` (a watch with ``w`` in its
    permissions, or a ``path=``/``dir=`` rule with ``perm=`` holding ``w``; a directory watch covers what is under
    it), a call of one of ``syscalls`` by an ``always,exit`` rule (``-S all`` included), or running one of
    ``executables`` (``x``, or ``execve`` among ``syscalls``)."""

    files: tuple[str, ...] = ()
    syscalls: tuple[str, ...] = ()
    executables: tuple[str, ...] = ()


#: Audit-rule categories: name → what records it. Required from the level where the baseline says so
#: (``audit_privileged_commands_required``).
PRIVILEGED_COMMANDS = "privileged commands (execve as root)"
AUDIT_CATEGORIES: Mapping[str, AuditCategory] = {
    "identity (passwd/shadow/group)": AuditCategory(files=("/etc/passwd", "/etc/shadow")),
    "privilege (sudoers)": AuditCategory(files=("/etc/sudoers",)),
    "logins (lastlog/faillock)": AuditCategory(
        files=("/var/log/lastlog", "/var/run/faillock", "/run/faillock", "/var/log/wtmp")),
    "time change": AuditCategory(files=("/etc/localtime",),
                                 syscalls=("adjtimex", "clock_adjtime", "settimeofday", "clock_settime")),
    PRIVILEGED_COMMANDS: AuditCategory(syscalls=("execve",), executables=("/usr/bin/sudo", "/usr/bin/su")),
    "audit configuration": AuditCategory(files=("/etc/audit",)),
}


#: Algorithms and protocols approved for 商用密码 (国密): SM2/SM3/SM4/SM9/ZUC and protocols built on them.
#: Algorithms a declared mechanism must not use at any 密评 strength (broken or below 112-bit security:
#: GB/T 39786 A-indicator, the 2023 scoring's Ra bands): MD5, SHA-1, DES, 3DES, RC4 and RSA keys below 2048 bit.
WEAK_ALGORITHMS = frozenset({"MD5", "SHA-1", "DES", "3DES", "RC4", "RSA-1024"})

APPROVED_ALGORITHMS = frozenset({"SM2", "SM3", "SM4", "SM9", "ZUC", "TLCP", "IPSEC-SM", "SSL-VPN-SM"})

#: The kind of authentication technique each login factor is (GB/T 22239-2019 x.1.4.1.d: "口令、密码技术、生物技术等两种
#: 或两种以上组合"): two factors count as a combination only when of two kinds — an SM2 certificate on a UKey is one
#: cryptographic technique, however it is written down.
FACTOR_KINDS: Mapping[str, str] = {
    "password": "口令 password", "sms-otp": "动态口令 one-time code", "totp": "动态口令 one-time code",
    "sm2-certificate": "密码技术 cryptographic", "ukey": "密码技术 cryptographic", "biometric": "生物技术 biometric",
    "unified-identity": "统一身份认证 unified identity",
}

#: The SM algorithms that encrypt data (a data set's or a mechanism's confidentiality).
SM_CIPHERS = frozenset({"SM4", "SM9", "ZUC"})
#: What can keep data secret, SM or not (whether it is SM is XZ-MAN-CRYPTO-ALGORITHMS's question): a cipher or a
#: secure-channel protocol. A hash (SM3, SHA-256), a MAC or a signature alone never does: a purpose of
#: confidentiality declared with SM3 leaves the data in plain.
CIPHERS = SM_CIPHERS | {"TLCP", "IPSEC-SM", "SSL-VPN-SM", "AES", "3DES", "DES", "TLS1.2", "TLS1.3"}
#: The mechanism purposes (``spec.crypto.<aspect>.mechanisms[].purpose``) that keep data secret.
CONFIDENTIALITY_PURPOSES = frozenset({"transport-confidentiality", "storage-confidentiality"})


def keeps_secret(algorithms: Iterable[str]) -> bool:
    """Whether a mechanism with ``algorithms`` can keep data secret (one of :data:`CIPHERS`)."""
    return not CIPHERS.isdisjoint(algorithms)

#: Data classes whose storage must be protected even without personal information (数据安全法: 重要数据, 核心数据).
IMPORTANT_DATA_CLASSES = frozenset({"重要数据", "核心数据"})
#: What a data set may hold (``spec.data_sets[].holds``) that must be protected at rest.
PROTECTED_DATA = frozenset({"个人信息", "敏感个人信息"}) | IMPORTANT_DATA_CLASSES

#: The manifest's (aspect, purpose) → GB/T 39786 technical assessment unit. The catalogue names every unit by
#: its level-3 clause (chapter 8) and gives its strength per level, so these ids do not depend on the level.
#: Order follows the standard: 物理和环境 a–c, 网络和通信 a–e, 设备和计算 a–f, 应用和数据 a–h.
CRYPTO_UNITS: tuple[tuple[str, str, str], ...] = (
    ("physical", "identity", f"{G39786}:8.1.a"),
    ("physical", "access-record-integrity", f"{G39786}:8.1.b"),
    ("physical", "video-record-integrity", f"{G39786}:8.1.c"),
    ("network", "identity", f"{G39786}:8.2.a"),
    ("network", "transport-integrity", f"{G39786}:8.2.b"),
    ("network", "transport-confidentiality", f"{G39786}:8.2.c"),
    ("network", "boundary-integrity", f"{G39786}:8.2.d"),
    ("network", "network-access", f"{G39786}:8.2.e"),
    ("device", "identity", f"{G39786}:8.3.a"),
    ("device", "remote-management", f"{G39786}:8.3.b"),
    ("device", "access-control-integrity", f"{G39786}:8.3.c"),
    ("device", "security-marking", f"{G39786}:8.3.d"),
    ("device", "log-integrity", f"{G39786}:8.3.e"),
    ("device", "code-integrity", f"{G39786}:8.3.f"),
    ("application", "identity", f"{G39786}:8.4.a"),
    ("application", "access-control-integrity", f"{G39786}:8.4.b"),
    ("application", "security-marking", f"{G39786}:8.4.c"),
    ("application", "transport-confidentiality", f"{G39786}:8.4.d"),
    ("application", "storage-confidentiality", f"{G39786}:8.4.e"),
    ("application", "transport-integrity", f"{G39786}:8.4.f"),
    ("application", "storage-integrity", f"{G39786}:8.4.g"),
    ("application", "non-repudiation", f"{G39786}:8.4.h"),
)
#: (aspect, purpose) of each unit id.
UNIT_PURPOSE: Mapping[str, tuple[str, str]] = {unit: (aspect, purpose) for aspect, purpose, unit in CRYPTO_UNITS}
#: Each unit's name as GB/T 39786 gives it (standards/gbt39786-2021/units.yaml ``name``; a test keeps them equal):
#: by unit id, not by purpose — 通信数据完整性 is NC-2's, AD-6 is 重要数据传输完整性.
CRYPTO_UNIT_TITLES: Mapping[str, str] = {
    f"{G39786}:8.1.a": "身份鉴别", f"{G39786}:8.1.b": "电子门禁记录数据存储完整性",
    f"{G39786}:8.1.c": "视频监控记录数据存储完整性", f"{G39786}:8.2.a": "身份鉴别",
    f"{G39786}:8.2.b": "通信数据完整性", f"{G39786}:8.2.c": "通信过程中重要数据的机密性",
    f"{G39786}:8.2.d": "网络边界访问控制信息的完整性", f"{G39786}:8.2.e": "安全接入认证",
    f"{G39786}:8.3.a": "身份鉴别", f"{G39786}:8.3.b": "远程管理通道安全",
    f"{G39786}:8.3.c": "系统资源访问控制信息完整性", f"{G39786}:8.3.d": "重要信息资源安全标记完整性",
    f"{G39786}:8.3.e": "日志记录完整性", f"{G39786}:8.3.f": "重要可执行程序完整性和来源真实性",
    f"{G39786}:8.4.a": "身份鉴别", f"{G39786}:8.4.b": "访问控制信息完整性",
    f"{G39786}:8.4.c": "重要信息资源安全标记完整性", f"{G39786}:8.4.d": "重要数据传输机密性",
    f"{G39786}:8.4.e": "重要数据存储机密性", f"{G39786}:8.4.f": "重要数据传输完整性",
    f"{G39786}:8.4.g": "重要数据存储完整性", f"{G39786}:8.4.h": "不可否认性",
}


#: Why a technical unit without a declared mechanism is not applicable (2023 量化评估规则): an optional (可) unit
#: the system does not implement, or a recommended (宜) unit its 密码应用方案 exempts with a reason.
NA_OPTIONAL = "optional"
NA_EXEMPTED = "exempted"


#: The unit whose mechanism is what a login uses: 应用和数据安全 身份鉴别 (GB/T 39786 8.4.a).
LOGIN_UNIT = ("application", "identity")


def login_without_cryptography(authentication: Mapping[str, Any] | None) -> str | None:
    """Why an application identity mechanism the manifest declares is not what anyone logs in with, or ``None``:
    neither the users' ``factors`` nor the administrators' ``admin_factors`` hold a cryptographic factor (the
    ``authentication`` fact), so the declared SM2 login is not in use. The one judgement of it: the item state
    (``XZ-MAN-CRYPTO-ALGORITHMS``) and the 密评 score card's D (``compliance.scan.miping``) both ask it — the
    等保 side (``XZ-MAN-AUTH-MFA``) already failed on the same factors while 密评 scored the unit as met."""
    if authentication is None:
        return None
    cryptographic = set(authentication.get("cryptographic", ()))
    users, admins = list(authentication.get("factors", ())), list(authentication.get("admin_factors", ()))
    if cryptographic & set(users) or cryptographic & set(admins):
        return None
    return (f"declared, but no login uses it: authentication.factors={users}, admin_factors={admins} "
            "(no cryptographic factor)")


def keys_certified(mechanism: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]], minimum: int) -> bool:
    """K of a 密评 test object (GB/T 39786 key management): the mechanism's keys live in a declared product with a
    certificate number and a GM/T 0028 module level of at least ``minimum``. One test for the item the rule
    judges (``XZ-MAN-CRYPTO-ALGORITHMS``) and the unit the score card scores (``compliance.scan.miping``): a
    product below the level left the item 符合 while the card scored the unit 0.5."""
    product = products.get(str(mechanism.get("product") or ""))
    return product is not None and int(product.get("module_level", 0)) >= minimum \
        and bool(str(product.get("certificate", "")).strip())


def crypto_not_applicable(units: Iterable[tuple[str, str, tuple[str, str]]], mechanisms: Iterable[Mapping[str, Any]],
                          exemptions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int | None]]:
    """The technical units that drop out of the 密评 score, and why: unit id → (:data:`NA_OPTIONAL`, ``None``) for
    an undeclared 可 unit, (:data:`NA_EXEMPTED`, index of the exemption in ``exemptions``) for an undeclared 宜 unit
    the plan exempts with a non-empty reason. ``units``: (unit id, strength at the system's 密评 level, (aspect,
    purpose)); ``mechanisms`` / ``exemptions``: the manifest facts ``crypto_mechanisms`` / ``crypto_exemptions``.

    The one rule: the item states (``XZ-MAN-CRYPTO-ALGORITHMS``) and the 密评 score card
    (``compliance.scan.miping``) both ask it. A 应 unit is never not applicable; a declared unit is judged."""
    declared = {(mech["aspect"], mech["purpose"]) for mech in mechanisms}
    exempt: dict[tuple[str, str], int] = {}
    for index, exemption in enumerate(exemptions):
        if str(exemption.get("reason") or "").strip():
            exempt[(exemption["aspect"], exemption["purpose"])] = index  # the last one, as the manifest reads
    found: dict[str, tuple[str, int | None]] = {}
    for unit, strength, pair in units:
        if pair in declared:
            continue
        if strength == "可":
            found[unit] = (NA_OPTIONAL, None)
        elif strength == "宜" and pair in exempt:
            found[unit] = (NA_EXEMPTED, exempt[pair])
    return found


# ---- host hardening depth (issue 17): data the gather script and policies.rules.host_hardening share.
#: Kernel-wide sysctl key → accepted values. A key the running kernel lacks is not applicable on that kernel.
KERNEL_SYSCTL_EXPECTED: Mapping[str, tuple[str, ...]] = {
    "kernel.kptr_restrict": ("1", "2"),
    "kernel.dmesg_restrict": ("1",),
    "kernel.core_uses_pid": ("1",),
    "kernel.sysrq": ("0",),
    "kernel.yama.ptrace_scope": ("1", "2", "3"),
    "kernel.unprivileged_bpf_disabled": ("1", "2"),
    "net.core.bpf_jit_harden": ("2",),
    "fs.protected_hardlinks": ("1",),
    "fs.protected_symlinks": ("1",),
    "fs.protected_fifos": ("1", "2"),
    "fs.protected_regular": ("1", "2"),
    "fs.suid_dumpable": ("0",),
}

#: Kernel command-line parameters of residual information protection (x.1.4.10.a/b, level 3+; roles/os_hardening
#: os_hardening_kernel_cmdline): page and slab memory zeroed when freed (init_on_free) and when allocated
#: (init_on_alloc). Parameter → accepted values; the kernel's build default (CONFIG_INIT_ON_*_DEFAULT_ON) counts
#: when the command line does not name it.
KERNEL_CMDLINE_EXPECTED: Mapping[str, tuple[str, ...]] = {
    "init_on_free": ("1",),
    "init_on_alloc": ("1",),
}

#: Cron and at paths that must be root-only: path → most permissive mode (a path that does not exist is skipped,
#: except the allow files, which must exist so that only root may schedule jobs).
CRON_PATHS: Mapping[str, int] = {
    "/etc/cron.d": 0o700, "/etc/cron.daily": 0o700, "/etc/cron.hourly": 0o700, "/etc/cron.weekly": 0o700,
    "/etc/cron.monthly": 0o700, "/etc/crontab": 0o600, "/etc/cron.allow": 0o600, "/etc/at.allow": 0o600,
}
CRON_ALLOW_FILES = ("/etc/cron.allow", "/etc/at.allow")

#: AppArmor profiles of the exposed services (file in /etc/apparmor.d → modes accepted when loaded). The xzgov
#: profiles of sshd and rsyslogd may run in complain mode (they cannot lock the operator out or cut log
#: forwarding); chronyd's, maintained by Debian, must enforce.
MAC_PROFILES: Mapping[str, tuple[str, ...]] = {
    "usr.sbin.chronyd": ("enforce",),
    "usr.sbin.rsyslogd": ("enforce", "complain"),
    "usr.sbin.sshd": ("enforce", "complain"),
}

#: File-integrity (intrusion detection, x.1.4.4.f) databases and check timers that count: the xzgov AIDE setup
#: (roles/integrity) and the distributions' own (Debian aide-common, RHEL aide).
AIDE_DATABASES = ("/var/lib/aide/xzgov-aide.db", "/var/lib/aide/aide.db", "/var/lib/aide/aide.db.gz")
AIDE_TIMERS = ("xzgov-aide-check.timer", "dailyaidecheck.timer", "aidecheck.timer")
#: The check service of the xzgov setup and the unit its OnFailure= must start (the alert to the log centre).
AIDE_CHECK_SERVICE = "xzgov-aide-check.service"
AIDE_ALERT_SERVICE = "xzgov-aide-alert.service"
#: Written by the alert unit when a check found changes (or failed), removed by ``xzgov-aide-init --reviewed`` — the
#: operator's acceptance after review. The check unit's own result is since boot only: a reboot erased a failed check.
AIDE_UNREVIEWED = "/var/lib/aide/xzgov-unreviewed"

#: Mount points whose options the host rules check, and the options they must carry (``/tmp``'s noexec is
#: added where the level's ``tmp_noexec_required`` threshold says so).
MOUNT_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "/dev/shm": ("nodev", "nosuid", "noexec"),
    "/tmp": ("nodev", "nosuid"),
}
#: /proc mount option values that hide other users' processes.
HIDEPID_VALUES = ("invisible", "2")
#: Temporary directories that must be emptied at boot (systemd-tmpfiles line types that remove the content
#: with ``--remove --boot``).
CLEARED_AT_BOOT = ("/tmp", "/var/tmp")
TMPFILES_CLEARING_TYPES = ("D", "R", "D!", "R!")


# ---- filing with the public-security organ (公安机关备案: GB/T 22239 {L}.1.9.1.d, XZ-MAN-FILING)
#: 等保 levels whose systems are filed: level 1 is protected by its operator alone (no filing).
FILING_LEVELS = frozenset({2, 3, 4})
#: Days after going live within which a level-2+ system must be filed.
FILING_GRACE_DAYS = 30


def filing_in_grace(go_live: str | None, as_of: str) -> bool:
    """Whether a system that went live on ``go_live`` is still within its :data:`FILING_GRACE_DAYS` on ``as_of``
    (an unrecorded go-live: no)."""
    since = days_between(go_live, as_of)
    return since is not None and since <= FILING_GRACE_DAYS


def filing_judged(level: int, status: str, go_live: str | None, filed: bool, as_of: str) -> bool:
    """Whether a system's filing is judged on ``as_of`` (XZ-MAN-FILING gives it a verdict; the 等保备案率 counts it):
    level 2 or above, live (a planned system files once it goes live), and filed or past its grace. A level-1
    system, a planned one or one in its grace without a number is not counted against the region."""
    return level in FILING_LEVELS and status != "planned" and (filed or not filing_in_grace(go_live, as_of))
