"""Rules over live hosts (facts gathered over SSH by ``xzgov.facts.host``).

Expected values that depend on the region (time sources, log servers) come from the ``host`` fact,
which the gatherer fills from the inventory variables (``xzgov_time_sources``, ``xzgov_log_servers``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from policies.engine import Evidence, Facts, Outcome, RuleSet, Severity, errored, failed, partial, passed
from xzgov.core.secmgmt import ROLE_SERVICES
from xzgov.facts.baseline import (
    AUDIT_CATEGORIES,
    FILE_MODES,
    PRIVILEGED_COMMANDS,
    SYSCTL_EXPECTED,
    UNNECESSARY_SERVICES,
    WEAK_SSH,
    AuditCategory,
)
from xzgov.facts.host_parsers import CHRONY_LOCAL_REFERENCE, sshd_views
from xzgov.facts.thresholds import SSH_CLIENT_ALIVE_MAX_COUNT, host_threshold

hosts = RuleSet()

G22239 = "GB/T 22239-2019"

def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _mode(value: Any) -> int | None:
    """A permission mode given as octal text (``"0640"``, ``"640"``) or an int."""
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 8)
    except (TypeError, ValueError):
        return None


@hosts.rule(
    id="XZ-HOST-SSH",
    title="SSH 远程管理安全配置: 禁止 root 与空口令登录, 仅强加密算法",
    title_en="SSH remote management: no root or empty-password login, strong algorithms only",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.1.c", f"{G22239}:{{L}}.1.4.2.b"),
    levels=(2, 3, 4),
    remediation="sshd_config: PermitRootLogin ${ssh_root_login}, PermitEmptyPasswords no, "
                "HostbasedAuthentication no, X11Forwarding no, MaxAuthTries ≤ ${ssh_max_auth_tries}, "
                "去除 CBC/SHA-1/MD5 算法 (roles/ssh_hardening) / harden sshd to the level's baseline",
    facts=("sshd_effective_config",),
)
def ssh(facts: Facts) -> Outcome:
    """The effective sshd configuration (``sshd -T``) forbids root and empty-password logins, host-based auth
    and X11 forwarding, limits authentication attempts, and offers no weak cipher, MAC or key exchange."""
    config = facts["sshd_effective_config"]
    problems = [found for where, view in sshd_views(config) for found in _sshd_problems(facts, view, where)]
    problems += _unread_includes(facts, config)
    tries = _int(config.get("maxauthtries"), 6) or 6
    if problems:
        return failed("SSH 配置不满足远程管理安全要求 / sshd configuration too weak", *problems)
    return passed("SSH 配置满足要求 / sshd hardened",
                  facts.evidence(f"permitrootlogin=no maxauthtries={tries}", "sshd_effective_config"))


def _unread_includes(facts: Facts, config: Mapping[str, Any]) -> list[Evidence]:
    """An Include the scan does not read (in a Match block, or of a file outside ``sshd_config.d``): what it sets
    for some connections is unknown, so the view is not a pass (``xzgov.facts.host_parsers.sshd_unread_includes``)."""
    return [facts.evidence(f"{include} — 扫描未读取该文件, 其中的设置无法核查 / not read by the scan: its settings "
                           "are unverified (keep sshd settings in sshd_config and sshd_config.d/*.conf)",
                           "sshd_effective_config", "include") for include in config.get("unread_includes") or ()]


def _sshd_problems(facts: Facts, config: Mapping[str, Any], where: str) -> list[Evidence]:
    """What XZ-HOST-SSH finds wrong in one view of sshd's settings (``where``: the Match block it is, or "")."""
    problems: list[Evidence] = []

    def want(key: str, accepted: tuple[str, ...]) -> None:
        value = str(config.get(key, "")).lower()
        if value not in accepted:
            problems.append(facts.evidence(f"{where}{key} {value or '(unset)'} (want {'/'.join(accepted)})",
                                           "sshd_effective_config", key))

    want("permitrootlogin", tuple(host_threshold(facts.get("thresholds"), "ssh_root_login", facts.level)))
    want("permitemptypasswords", ("no",))
    want("hostbasedauthentication", ("no",))
    want("x11forwarding", ("no",))
    want("ignorerhosts", ("yes",))
    tries = _int(config.get("maxauthtries"), 6) or 6
    limit = int(host_threshold(facts.get("thresholds"), "ssh_max_auth_tries", facts.level))
    if tries > limit:
        problems.append(facts.evidence(f"{where}maxauthtries {tries} > {limit}", "sshd_effective_config",
                                       "maxauthtries"))
    for key, weak in WEAK_SSH.items():
        offered = [a for a in str(config.get(key, "")).split(",") if a]
        bad = [a for a in offered if any(w in a for w in weak)]
        if bad:
            problems.append(facts.evidence(f"{where}{key} offers {bad}", "sshd_effective_config", key))
    return problems


@hosts.rule(
    id="XZ-HOST-LOCKOUT",
    title="登录失败处理: 连续失败后锁定账户 (pam_faillock)",
    title_en="Login-failure lockout (pam_faillock)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.1.b",),
    remediation="启用 pam_faillock 并加入 auth 栈: deny ≤ ${faillock_max_deny}, unlock_time ≥ "
                "${faillock_min_unlock_seconds} (或 0 = 管理员解锁) (roles/os_hardening) "
                "/ enable pam_faillock at the level's baseline",
    facts=("pam_faillock",),
)
def lockout(facts: Facts) -> Outcome:
    """pam_faillock is in the auth stack with ``deny`` at most the configured maximum and ``unlock_time``
    0 (administrator unlock) or at least the configured minimum."""
    f = facts["pam_faillock"]
    max_deny = int(host_threshold(facts.get("thresholds"), "faillock_max_deny", facts.level))
    min_unlock = int(host_threshold(facts.get("thresholds"), "faillock_min_unlock_seconds", facts.level))
    problems: list[Evidence] = []
    if not f.get("in_auth_stack"):
        problems.append(facts.evidence("pam_faillock does not count failures in the PAM auth stack (no `auth … "
                                       "pam_faillock.so authfail` line a failed pam_unix reaches)", "pam_faillock",
                                       "in_auth_stack"))
    deny = _int(f.get("deny"))
    if deny is None or deny <= 0 or deny > max_deny:
        problems.append(facts.evidence(f"deny={f.get('deny')} (want 1..{max_deny})", "pam_faillock", "deny"))
    unlock = _int(f.get("unlock_time"))
    if unlock is None or (unlock != 0 and unlock < min_unlock):
        problems.append(facts.evidence(f"unlock_time={f.get('unlock_time')} (want 0 or ≥ {min_unlock})",
                                       "pam_faillock", "unlock_time"))
    if problems:
        return failed("未配置登录失败锁定 / no login-failure lockout", *problems)
    return passed(f"失败 {deny} 次锁定 {unlock} 秒 / lock after {deny} failures",
                  facts.evidence(f"deny={deny} unlock_time={unlock}", "pam_faillock"))


@hosts.rule(
    id="XZ-HOST-PASSWORD",
    title="口令复杂度与定期更换 (pam_pwquality, login.defs)",
    title_en="Password quality and ageing",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.1.a",),
    remediation="pwquality.conf 在 password 栈启用, minlen ≥ ${password_min_length}, minclass ≥ "
                "${password_min_classes}; login.defs: PASS_MAX_DAYS ≤ ${password_max_days}, PASS_MIN_DAYS ≥ 1; "
                "auth 栈 pam_unix 不带 nullok (roles/os_hardening) / enforce quality and ageing, no empty passwords",
    facts=("password_policy",),
)
def password(facts: Facts) -> Outcome:
    """pam_pwquality is in the password stack with a minimum length and character classes at least the configured
    values, ``PASS_MAX_DAYS`` is at most the configured maximum (``PASS_MIN_DAYS`` ≥ 1), and no pam_unix line of
    the auth stack takes an empty password (``nullok``)."""
    p = facts["password_policy"]
    overrides = facts.get("thresholds")
    problems: list[Evidence] = []
    if p.get("empty_passwords"):
        problems.append(facts.evidence("pam_unix.so nullok in the auth stack: an account with an empty password "
                                       "logs in without one", "password_policy", "empty_passwords"))
    if not p.get("pwquality_in_stack"):
        problems.append(facts.evidence("pam_pwquality not in the password stack", "password_policy",
                                       "pwquality_in_stack"))
    if p.get("pwquality_in_stack") and p.get("pwquality_installed") is False:
        problems.append(facts.evidence("pam_pwquality.so is named in the password stack but not installed: PAM skips "
                                       "a `-password` line in silence (or refuses every change)", "password_policy",
                                       "pwquality_installed"))
    if _int(p.get("enforcing"), 1) == 0:
        problems.append(facts.evidence("pwquality enforcing=0: a weak password is only warned about, then accepted",
                                       "password_policy", "enforcing"))
    minlen = _int(p.get("minlen"), 0) or 0
    # A positive credit lets each such character count as one more (pwquality.conf(5)): minlen 12 with dcredit=2
    # takes a 10-character password of two digits. The shortest password accepted is what is judged.
    bonus = sum(max(0, _int(p.get(key), 0) or 0) for key in ("dcredit", "ucredit", "lcredit", "ocredit"))
    if minlen - bonus < int(host_threshold(overrides, "password_min_length", facts.level)):
        problems.append(facts.evidence(f"minlen={p.get('minlen')}" + (f" less {bonus} of positive credits"
                                                                     if bonus else ""), "password_policy", "minlen"))
    classes = _int(p.get("minclass"), 0) or 0
    credits = sum(1 for key in ("dcredit", "ucredit", "lcredit", "ocredit") if (_int(p.get(key), 0) or 0) < 0)
    if max(classes, credits) < int(host_threshold(overrides, "password_min_classes", facts.level)):
        problems.append(facts.evidence(f"minclass={p.get('minclass')} credits<0={credits}", "password_policy",
                                       "minclass"))
    max_days = _int(p.get("pass_max_days"), 99999) or 99999
    if max_days < 0:  # PASS_MAX_DAYS -1: ageing switched off, passwords never expire
        max_days = 99999
    most = int(host_threshold(overrides, "password_max_days", facts.level))
    if max_days > most:
        problems.append(facts.evidence(f"PASS_MAX_DAYS={p.get('pass_max_days')}", "password_policy", "pass_max_days"))
    # login.defs ages the accounts made later: an existing one keeps its own maximum (`chage -M 99999 root`)
    ageless = sorted(f"{name} ({'never' if days is None or days < 0 else f'{days} d'})"
                     for name, days in (p.get("accounts_max_days") or {}).items()
                     if days is None or days < 0 or days > most)
    if ageless:
        problems.append(facts.evidence(f"passwords older than {most} days stay valid: {', '.join(ageless[:10])}"
                                       + (f" … {len(ageless) - 10} more" if len(ageless) > 10 else ""),
                                       "password_policy", "accounts_max_days"))
    if (_int(p.get("pass_min_days"), 0) or 0) < 1:
        problems.append(facts.evidence(f"PASS_MIN_DAYS={p.get('pass_min_days')}", "password_policy", "pass_min_days"))
    if problems:
        return failed("口令复杂度或更换周期不满足 / password quality or ageing too weak", *problems)
    return passed("口令复杂度与更换周期满足要求 / password policy enforced",
                  facts.evidence(f"minlen={minlen} minclass={classes} max_days={max_days}", "password_policy"))


@hosts.rule(
    id="XZ-HOST-IDLE-TIMEOUT",
    title="登录连接超时自动退出 (TMOUT 与 SSH ClientAlive)",
    title_en="Idle sessions end automatically (TMOUT and SSH ClientAlive)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.1.b",),
    remediation="在 /etc/profile.d 设置 readonly TMOUT ≤ ${idle_timeout_max_seconds}; sshd: ClientAliveInterval ≤ "
                "${ssh_client_alive_max_interval}, ClientAliveCountMax ≤ ${ssh_client_alive_max_count} "
                "(roles/os_hardening, roles/ssh_hardening) / set a read-only TMOUT and SSH keep-alive limits",
    facts=("shell_timeout", "sshd_effective_config"),
)
def idle_timeout(facts: Facts) -> Outcome:
    """A read-only shell ``TMOUT`` between 1 and the level's maximum is set for login shells, and sshd probes
    the client at most every ``ssh_client_alive_max_interval`` seconds, dropping it after at most
    :data:`SSH_CLIENT_ALIVE_MAX_COUNT` missed probes."""
    limit = int(host_threshold(facts.get("thresholds"), "idle_timeout_max_seconds", facts.level))
    alive_limit = int(host_threshold(facts.get("thresholds"), "ssh_client_alive_max_interval", facts.level))
    shell = facts["shell_timeout"]
    config = facts["sshd_effective_config"]
    problems: list[Evidence] = []
    tmout = _int(shell.get("tmout"))
    if tmout is None or not 0 < tmout <= limit:
        problems.append(facts.evidence(f"TMOUT={shell.get('tmout')} (want 1..{limit})", "shell_timeout"))
    elif not shell.get("readonly"):
        problems.append(facts.evidence(f"TMOUT={tmout} is not readonly", "shell_timeout"))
    interval = _int(config.get("clientaliveinterval"), 0) or 0
    count = _int(config.get("clientalivecountmax"), 3) or 0
    # every view a connection may get: a Match block may set ClientAlive* (an admins' block with 0 never timed out)
    problems += _unread_includes(facts, config)
    for view, settings in sshd_views(config):
        each = _int(settings.get("clientaliveinterval"), 0) or 0
        each_count = _int(settings.get("clientalivecountmax"), 3) or 0
        if not 0 < each <= alive_limit or not 0 < each_count <= SSH_CLIENT_ALIVE_MAX_COUNT:
            problems.append(facts.evidence(f"{view}clientaliveinterval={settings.get('clientaliveinterval', '0')} "
                                           f"clientalivecountmax={settings.get('clientalivecountmax', '3')}",
                                           "sshd_effective_config", "clientaliveinterval"))
    if problems:
        return failed("未设置登录超时退出 / no idle timeout", *problems)
    return passed(f"空闲 {tmout} 秒退出 / idle timeout {tmout}s",
                  facts.evidence(f"TMOUT={tmout} ssh {interval}s×{count}", "shell_timeout"))


@hosts.rule(
    id="XZ-HOST-AUDIT-RULES",
    title="启用安全审计 (auditd) 并覆盖身份、提权、登录、时间变更与特权命令等重要事件",
    title_en="auditd runs with rules for identity, privilege, logins, time changes and privileged commands",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.3.a", f"{G22239}:{{L}}.1.4.3.b"),
    levels=(2, 3, 4),
    remediation="安装并启用 auditd, 在 /etc/audit/rules.d/ 下加载审计规则, 特权命令审计要求: "
                "${audit_privileged_commands_required} (roles/audit) / enable auditd with rules",
    facts=("audit_rules",),
)
def audit_rules(facts: Facts) -> Outcome:
    """auditd is active and its loaded rules (``auditctl -l``) cover every category of :data:`AUDIT_CATEGORIES`.

    On a kernel without audit support the running state cannot be verified: the configured rules
    (``/etc/audit/rules.d``) are checked and the result is an error naming the kernel — never a pass."""
    audit = facts["audit_rules"]
    categories = {name: category for name, category in AUDIT_CATEGORIES.items()
                  if name != PRIVILEGED_COMMANDS
                  or host_threshold(facts.get("thresholds"), "audit_privileged_commands_required", facts.level)}
    if audit.get("kernel_audit") is False:
        configured = effective_audit_rules([str(r) for r in audit.get("configured_rules", [])])
        missing = [name for name, category in categories.items()
                   if not any(records(rule, category) for rule in configured)]
        if missing:
            return failed("审计规则配置未覆盖重要事件 / configured audit rules incomplete",
                          facts.evidence(f"{len(configured)} configured rules; missing {missing}", "audit_rules"))
        return errored("内核不支持审计, auditd 运行状态无法核实; 已配置规则完整 / kernel without audit support: "
                       "running state not verifiable, configured rules complete",
                       facts.evidence(f"{len(configured)} configured rules cover every category", "audit_rules"))
    if not audit.get("auditd_active"):
        return failed("auditd 未运行 / auditd not active", facts.evidence("auditd inactive", "audit_rules"))
    if str(audit.get("enabled", "")) == "0":  # rules loaded, daemon running, and the kernel records nothing
        return failed("内核审计已关闭 / kernel auditing switched off (auditctl -e 0 or audit=0)",
                      facts.evidence("auditctl -s: enabled 0", "audit_rules", "enabled"))
    loaded = [str(r) for r in audit.get("rules", [])]
    rules = effective_audit_rules(loaded)
    kept = set(rules)
    suppressed = [rule for rule in loaded if rule not in kept and not _never_rule(rule)]
    missing = [name for name, category in categories.items() if not any(records(rule, category) for rule in rules)]
    if missing:
        why = f"; suppressed by a never rule: {suppressed[:5]}" if suppressed else ""
        evidence = facts.evidence(f"{len(loaded)} rules loaded; missing {missing}{why}", "audit_rules")
        if len(missing) == len(categories):
            return failed("审计规则为空或未覆盖重要事件 / no audit rules for important events", evidence)
        return partial("审计规则未覆盖全部重要事件 / audit rules incomplete", evidence)
    return passed(f"{len(rules)} 条审计规则覆盖重要事件 / audit rules complete",
                  facts.evidence(f"{len(rules)} rules", "audit_rules"))


_AUDIT_FIELD = re.compile(r"(\w+)(!=|>=|<=|&=|=|>|<|&)(.*)")


def _narrows(name: str, op: str, value: str, privileged: bool) -> bool:
    """Whether an audit rule's field ``name op value`` leaves out events of its category: anything but what names
    the object (``path``, ``dir``, ``perm``), the architecture, a key, a result filter that keeps every success
    (``success=1``, ``success!=0``, ``exit>=0``, ``exit!=-EPERM``) and — for privileged commands only (``privileged``),
    as the role and CIS write them — the login users (``auid>=1000``, ``auid!=unset``) and root (``uid=0`` /
    ``euid=0``: execve as root). On a file or the clock those leave out root's own changes or everyone else's."""
    if name in ("arch", "key", "filterkey", "path", "dir", "perm"):
        return False
    if name in ("auid", "uid", "euid") and not privileged:
        return True
    if name == "auid":
        if op == "!=" and value in ("unset", "-1", "4294967295"):
            return False
        return not (op in (">=", ">") and value.isdigit() and int(value) <= 1000)
    if name in ("uid", "euid"):
        return (op, value) != ("=", "0")
    if name == "success":
        return (op, value) not in (("=", "1"), ("!=", "0"))
    if name == "exit":
        return not ((op == "!=" and value.startswith("-")) or (op == ">=" and value == "0"))
    return True  # pid, ppid, exe, comm, uid=N, gid, subj_*, obj_*, ...: some processes or users only


def records(rule: str, category: AuditCategory) -> bool:
    """Whether one loaded audit rule records events of ``category`` (:class:`AuditCategory`). Read as auditd reads
    it, not as text: ``-w /etc/passwd -p r`` records reads only, ``-w /etc/passwd-`` another file, a key
    (``-k /etc/passwd``) labels records and names no file, a rule narrowed to some processes or to failures
    (``-F pid=1``, ``success=0``, ``exit<0``: :func:`_narrows`) misses the events themselves; ``never`` and
    ``exclude`` rules record nothing."""
    words = rule.split()
    if len(words) < 2:
        return False
    parsed = [match for index, word in enumerate(words)
              if index and words[index - 1] == "-F" and (match := _AUDIT_FIELD.match(word))]
    privileged = "execve" in category.syscalls
    if any(_narrows(match[1], match[2], match[3], privileged) for match in parsed):
        return False
    if any(words[index - 1] == "-C" and (not privileged or "!=" not in word) for index, word in enumerate(words)
           if index):
        return False  # a comparison narrows a rule but to a privilege transition of a command (euid!=uid)
    fields = {match[1]: (match[2], match[3]) for match in parsed}
    if words[0] == "-w":
        path, subtree = words[1], True
        perms = next((words[i + 1] for i in range(len(words) - 1) if words[i] == "-p"), "rwxa")
    elif words[0] in ("-a", "-A") and {"always", "exit"} <= set(words[1].split(",")):
        path, subtree = (fields.get("dir") or fields.get("path") or ("", ""))[1], "dir" in fields
        perms = fields.get("perm", ("=", "rwxa"))[1]
        if not path:
            syscalls = _syscalls(words)
            return "all" in syscalls or bool(syscalls & {*category.syscalls})
    else:
        return False
    path = path.rstrip("/") or "/"

    def under(target: str) -> bool:
        target = target.rstrip("/")
        return target == path or (subtree and target.startswith(path.rstrip("/") + "/"))

    return (("w" in perms and any(under(file) for file in category.files))
            or ("x" in perms and any(under(program) for program in category.executables)))


def _never_rule(rule: str) -> bool:
    return rule.startswith(("-a never,", "-A never,"))


def _syscalls(tokens: list[str]) -> set[str]:
    return {name for index, token in enumerate(tokens[:-1]) if token == "-S" for name in tokens[index + 1].split(",")}


def _arch(tokens: list[str]) -> str:
    return next((token[5:] for index, token in enumerate(tokens)
                 if index and tokens[index - 1] == "-F" and token.startswith("arch=")), "")


def _suppresses(never: str, rule: str) -> bool:
    """Whether the ``never`` rule stops the events ``rule`` would record: it filters on nothing but the architecture
    (one other than the rule's stops none of them) and its system calls — all, without ``-S`` or with ``-S all``
    (as ``auditctl -l`` prints it), stop every rule, watches included (the kernel runs a watch as an exit-list rule
    on every system call) — meet the rule's (all of a rule without ``-S``)."""
    tokens = never.split()
    if any(tokens[index - 1] == "-F" and not token.startswith(("arch=", "key=", "filterkey="))
           for index, token in enumerate(tokens)):
        return False  # narrowed to some processes or users (noise reduction): the rest is still recorded
    # (a key — `-k`, printed `-F key=` by auditctl -l — labels the records a rule writes and never narrows it: the
    # kernel skips AUDIT_FILTERKEY when it matches)
    words = rule.split()
    arch, own_arch = _arch(tokens), _arch(words)
    if arch and own_arch and arch != own_arch:
        return False  # -F arch=b32 never stops the b64 rules
    blocked = _syscalls(tokens)
    if not blocked or "all" in blocked:
        return True
    wanted = _syscalls(words)
    return not rule.startswith("-w") and (not wanted or "all" in wanted or bool(blocked & wanted))


#: the record types a rule of the exclude list drops that every syscall rule (SYSCALL) or watch (PATH) needs, by
#: name and number (linux/audit.h)
_EXCLUDED_RECORDS = {"SYSCALL": "syscall", "1300": "syscall", "PATH": "path", "1302": "path"}


def _excluded(rules: list[str]) -> set[str]:
    """What the rules of the exclude list drop whatever a rule records: ``syscall`` (every event), ``path`` (the
    file of every watch). The kernel drops a message any exclude rule matches, whatever its action
    (``audit_filter``); one narrowed by another field than the message type (some users, some programs) is noise
    reduction and drops nothing here."""
    dropped: set[str] = set()
    for rule in rules:
        words = rule.split()
        if len(words) < 2 or words[0] not in ("-a", "-A") or "exclude" not in words[1].split(","):
            continue
        fields = [token for index, token in enumerate(words) if index and words[index - 1] == "-F"]
        types = [field.split("=", 1)[1] for field in fields if field.startswith("msgtype=")]
        if any(not field.startswith(("msgtype=", "key=", "filterkey=")) for field in fields):
            continue
        if not types:  # every message
            dropped |= {"syscall", "path"}
        dropped |= {_EXCLUDED_RECORDS[t.upper()] for t in types if t.upper() in _EXCLUDED_RECORDS}
    return dropped


def effective_audit_rules(rules: list[str]) -> list[str]:
    """The loaded rules (``auditctl -l``, in the kernel's order) that still record: a ``never`` rule of the task
    list stops every rule, one of the exit list the rules after it that it matches (the first matching rule of a
    list decides); an exclude-list rule dropping SYSCALL records stops every rule, one dropping PATH records every
    watch. ``-a never,task`` (an old default audit.rules) passed XZ-HOST-AUDIT-RULES beside full rules, and so did
    ``-a always,exclude -F msgtype=SYSCALL``."""
    tasks = [rule for rule in rules if _never_rule(rule) and ",task" in rule.split()[1]]
    dropped = _excluded(rules)
    kept: list[str] = []
    before: list[str] = []
    for rule in rules:
        words = rule.split()
        if len(words) > 1 and words[0] in ("-a", "-A") and "exclude" in words[1].split(","):
            continue  # a filter on messages, no rule that records
        if _never_rule(rule):
            before.append(rule)
            continue
        if "syscall" in dropped or ("path" in dropped and rule.startswith("-w")):
            continue
        if not any(_suppresses(never, rule) for never in (*tasks, *before)):
            kept.append(rule)
    return kept


@hosts.rule(
    id="XZ-HOST-AUDIT-PROTECT",
    title="审计记录与审计进程受保护 (日志权限、满盘处理、规则锁定)",
    title_en="Audit records and the audit process are protected",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.3.c", f"{G22239}:{{L}}.1.4.3.d"),
    levels=(2, 3, 4),
    remediation="/var/log/audit 0700 root, 日志 0600; auditd.conf: max_log_file_action = keep_logs 或 rotate, "
                "disk_full_action/space_left_action 不为 ignore; 规则锁定 (-e 2) 要求: ${audit_immutable_required} "
                "(roles/audit) / protect audit logs and config",
    facts=("audit_log_protection",),
)
def audit_protect(facts: Facts) -> Outcome:
    """The audit log directory and files are root-owned and not group/world writable or readable beyond 0750/0640;
    auditd does not ignore full disks or log rotation; where the level's baseline requires it (level 4), the
    rule set is locked (``-e 2``: loaded, or configured when the kernel has no audit support)."""
    p = facts["audit_log_protection"]
    problems: list[Evidence] = []
    if not p.get("exists"):
        return failed("无审计日志目录 / no audit log directory",
                      facts.evidence("/var/log/audit missing", "audit_log_protection"))
    mode = _mode(p.get("log_dir_mode"))
    if mode is None or mode & 0o027 or p.get("log_owner") != "root":
        problems.append(facts.evidence(f"/var/log/audit mode {p.get('log_dir_mode')} owner {p.get('log_owner')}",
                                       "audit_log_protection", "log_dir_mode"))
    for name, file_mode in (p.get("log_file_modes") or {}).items():
        value = _mode(file_mode)
        if value is None or value & 0o137:
            problems.append(facts.evidence(f"{name} mode {file_mode}", "audit_log_protection", "log_file_modes"))
    conf = {str(k).lower(): str(v).lower() for k, v in (p.get("auditd_conf") or {}).items()}
    for key, default in _AUDITD_DEFAULTS.items():
        if conf.get(key, default) == "ignore":
            problems.append(facts.evidence(f"auditd.conf {key}={conf.get(key, '(unset)')}", "audit_log_protection",
                                           "auditd_conf"))
    locked = p.get("immutable_configured") if p.get("kernel_audit") is False else p.get("immutable")
    if host_threshold(facts.get("thresholds"), "audit_immutable_required", facts.level) and not locked:
        problems.append(facts.evidence("audit rules not locked (-e 2)", "audit_log_protection", "immutable"))
    if problems:
        return failed("审计记录保护不足 / audit records insufficiently protected", *problems)
    return passed("审计记录与进程受保护 / audit records protected",
                  facts.evidence(f"/var/log/audit {p.get('log_dir_mode')} locked", "audit_log_protection"))


#: What auditd does when auditd.conf leaves an action unset (auditd.conf(5), auditd 3.0): never ``ignore``.
_AUDITD_DEFAULTS = {"max_log_file_action": "rotate", "disk_full_action": "suspend", "space_left_action": "syslog",
                    "disk_error_action": "syslog"}


@hosts.rule(
    id="XZ-HOST-LOG-FORWARD",
    title="日志经 TLS 上送区域日志中心",
    title_en="Logs are forwarded to the region's log centre over TLS",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.5.4.d", f"{G22239}:{{L}}.1.4.3.c"),
    levels=(2, 3, 4),
    remediation="rsyslog 以 omfwd + gtls (StreamDriverMode=1, StreamDriverAuthMode=x509/name 校验日志中心证书) 转发到 "
                "xzgov_log_servers (roles/log_forwarding) / forward logs with rsyslog over TLS to the log centre, "
                "authenticating it",
    facts=("log_forwarding", "host"),
)
def log_forward(facts: Facts) -> Outcome:
    """The log daemon is active and forwards over TLS to every log server the inventory names."""
    forwarding = facts["log_forwarding"]
    expected = [(str(s["host"]), int(s["port"])) for s in facts["host"].get("log_servers", [])]
    targets = forwarding.get("targets", [])
    if not forwarding.get("active"):
        return failed("日志服务未运行 / no active log daemon",
                      facts.evidence(f"{forwarding.get('daemon') or 'rsyslog'} inactive", "log_forwarding"))
    tls = {(str(t["host"]), int(t.get("port") or 0)) for t in targets if t.get("tls")}
    plain = [f"{t['host']}:{t.get('port')}" + (f" (TLS, StreamDriverAuthMode {t.get('auth_mode')}: the server is not "
                                               "authenticated)" if t.get("encrypted") else "")
             for t in targets if not t.get("tls")]
    missing = [f"{h}:{p}" for h, p in expected if (h, p) not in tls]
    evidence = facts.evidence(f"targets tls={sorted(f'{h}:{p}' for h, p in tls)} plain={plain}; expected "
                              f"{[f'{h}:{p}' for h, p in expected]}", "log_forwarding")
    if not expected:
        return failed("清单未给出日志服务器 / the inventory names no log server", evidence)
    if len(missing) == len(expected):
        return failed("日志未经 TLS 上送日志中心 / logs not forwarded over TLS", evidence)
    if missing or plain:
        return partial("部分日志服务器未经 TLS 上送 / some servers missing or in plain text", evidence)
    return passed("日志经 TLS 上送日志中心 / forwarded over TLS", evidence)


@hosts.rule(
    id="XZ-HOST-TIME-SYNC",
    title="时间与区域时间源同步, 保证审计记录时间准确",
    title_en="Time is synchronised with the region's time sources",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.3.b",),
    levels=(2, 3, 4),
    remediation="chrony 或 systemd-timesyncd 仅使用 xzgov_time_sources (roles/time_sync) / sync with the region's NTP",
    facts=("time_sync", "host"),
)
def time_sync(facts: Facts) -> Outcome:
    """A time daemon is active, uses only the region's time sources (at least one) and is synchronised; chrony
    follows one of them (the source it selected) within a second. A time source (``secmgmt_role``) uses the other
    time sources and the region's upstream servers, and with none serves its own clock by design."""
    sync, host = facts["time_sync"], facts["host"]
    own = str(host.get("address", ""))
    upstream = [u for u in host.get("time_upstream", []) if isinstance(u, Mapping)]
    time_source = host.get("secmgmt_role") == "time-source"
    expected = {str(s) for s in host.get("time_sources", [])} - ({own} if time_source else set())
    if time_source:
        expected |= {str(u.get("host", "")) for u in upstream}
    servers = [str(s) for s in sync.get("servers", [])]
    selected, offset = sync.get("selected"), sync.get("offset_seconds")
    evidence = facts.evidence(
        f"{sync.get('daemon') or 'none'} active={sync.get('active')} servers={servers} "
        f"synchronised={sync.get('synchronised')} selected={selected} reference={sync.get('reference', '')} "
        f"offset={offset}; expected {sorted(expected)}", "time_sync")
    if not sync.get("active"):
        return failed("时间同步服务未运行 / no active time daemon", evidence)
    if time_source and not expected:
        if servers:
            return partial("时间源配置了非区域上游 / the time source uses servers the region does not declare",
                           evidence)
        return passed("区域时间源, 未声明上游: 以本地时钟统一授时 / the region's time source, no upstream declared: "
                      "it serves its own clock", evidence)
    if not expected & set(servers):
        return failed("未使用区域时间源 / not using the region's time sources", evidence)
    if selected and not _region_time_source(str(selected), expected, upstream):
        if time_source and any(not u.get("networks") for u in upstream):
            # an inventory written before the upstream's networks were: a named upstream's address is unknown
            return partial(f"无法判断 {selected} 是否为声明的上游 / cannot tell whether {selected} is a declared "
                           "upstream (the inventory gives no networks: run xzgov inventory)", evidence)
        return failed(f"与非区域时间源 {selected} 同步 / synchronised to {selected}, not a region time source",
                      evidence)
    if set(servers) - expected:
        return partial("存在非区域时间源 / servers the region does not declare", evidence)
    if sync.get("synchronised") is False:
        if time_source and sync.get("reference") == CHRONY_LOCAL_REFERENCE:
            return partial("时间源以本地时钟授时: 上游与其他时间源均不可达 / the time source serves its own clock: "
                           "no upstream or other time source reachable", evidence)
        return partial("尚未与区域时间源同步 / not synchronised (no source selected, or chrony's leap status says so)",
                       evidence)
    if isinstance(offset, float) and abs(offset) > TIME_OFFSET_LIMIT_SECONDS:
        return partial(f"时钟偏差 {abs(offset):.3f} 秒 / the clock is {abs(offset):.3f} s off NTP time", evidence)
    return passed("与区域时间源同步 / synchronised with the region's time sources", evidence)


#: the clock's largest offset from NTP time that still passes (audit records across hosts compare to the second)
TIME_OFFSET_LIMIT_SECONDS = 1.0


def _region_time_source(address: str, expected: set[str], upstream: list[Mapping[str, Any]]) -> bool:
    """Whether the selected source ``address`` is one of ``expected`` or inside an upstream server's networks."""
    if address in expected:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for server in upstream:
        for network in server.get("networks") or []:
            try:
                if ip in ipaddress.ip_network(str(network), strict=False):
                    return True
            except ValueError:
                continue
    return False


@hosts.rule(
    id="XZ-HOST-SERVICES",
    title="关闭不需要的系统服务与高危服务 (最小安装)",
    title_en="Unnecessary and high-risk services are absent",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.4.a", f"{G22239}:{{L}}.1.4.4.b"),
    remediation="卸载或停用 telnet/ftp/rsh/avahi/cups/rpcbind/snmpd 等服务 (roles/os_hardening) / remove them",
    facts=("services",),
)
def services(facts: Facts) -> Outcome:
    """None of :data:`UNNECESSARY_SERVICES` is enabled or active, apart from the services the host runs for the
    region as a security-management host (:data:`xzgov.core.secmgmt.ROLE_SERVICES`: slapd on the directory)."""
    svc = facts["services"]
    host = facts.get("host")
    role = str(host.get("secmgmt_role") or "") if isinstance(host, Mapping) else ""
    present = sorted({name.removesuffix(".service").removesuffix(".socket")
                      for name in [*svc.get("enabled", []), *svc.get("active", [])]}
                     & set(UNNECESSARY_SERVICES) - set(ROLE_SERVICES.get(role, ())))
    if present:
        return failed(f"存在不需要的服务 {present} / unnecessary services present",
                      facts.evidence(f"enabled/active: {present}", "services"))
    return passed("无不需要的服务 / no unnecessary services",
                  facts.evidence(f"{len(svc.get('enabled', []))} enabled, {len(svc.get('active', []))} active",
                                 "services"))


@hosts.rule(
    id="XZ-HOST-FILE-PERMS",
    title="重要文件权限与属主正确 (口令文件、sshd/sudo 配置等)",
    title_en="Permissions and owners of important files",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.2.f",),
    levels=(3, 4),
    remediation="chmod/chown 到 FILE_MODES 所列权限 (roles/os_hardening) / fix modes and owners",
    facts=("file_permissions",),
)
def file_permissions(facts: Facts) -> Outcome:
    """Each file of :data:`FILE_MODES` that exists has no permission bit beyond the listed mode and the listed
    owner and group."""
    observed = facts["file_permissions"]
    problems: list[Evidence] = []
    checked = 0
    for path, (most, owners, groups) in FILE_MODES.items():
        info = observed.get(path)
        if not info or not info.get("exists"):
            continue
        checked += 1
        mode = _mode(info.get("mode"))
        if mode is None or mode & ~most & 0o7777 or info.get("owner") not in owners or info.get("group") not in groups:
            problems.append(facts.evidence(f"{path} {info.get('mode')} {info.get('owner')}:{info.get('group')} "
                                           f"(want ≤ {most:o} {'/'.join(owners)}:{'/'.join(groups)})",
                                           "file_permissions", path))
    if problems:
        return failed("重要文件权限过宽 / important files too permissive", *problems)
    if not observed.get("/etc/passwd", {}).get("exists"):
        # every Linux host has /etc/passwd: none seen means the stat answered nothing, not that all is well
        return errored("未取得文件权限 (/etc/passwd 不在结果中) / no file modes gathered",
                       facts.evidence(f"{checked} of {len(FILE_MODES)} files seen", "file_permissions"))
    return passed(f"{checked} 个重要文件权限正确 / file permissions correct",
                  facts.evidence(f"{checked} files", "file_permissions"))


@hosts.rule(
    id="XZ-HOST-SYSCTL",
    title="内核网络参数加固 (禁止转发/重定向/源路由, 启用 SYN Cookie 与反向路径过滤)",
    title_en="Kernel network parameters hardened",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.4.b",),
    remediation="在 /etc/sysctl.d/ 设置 SYSCTL_EXPECTED 所列参数 (roles/os_hardening) / set the kernel parameters",
    facts=("sysctl",),
)
def sysctl(facts: Facts) -> Outcome:
    """Each parameter of :data:`SYSCTL_EXPECTED` has an accepted value. An IPv6 parameter the kernel lacks is not
    judged: without an IPv6 stack (``ipv6.disable=1``) there is no ``/proc/sys/net/ipv6`` and nothing to redirect."""
    values = facts["sysctl"]
    without_ipv6 = [key for key in SYSCTL_EXPECTED if key.startswith("net.ipv6.") and key not in values]
    bad = [f"{key}={values.get(key, '(absent)')}" for key, accepted in SYSCTL_EXPECTED.items()
           if key not in without_ipv6 and str(values.get(key, "")).strip() not in accepted]
    if bad:
        return failed(f"{len(bad)} 个内核参数未加固 / kernel parameters not hardened",
                      facts.evidence("; ".join(bad), "sysctl"))
    judged = len(SYSCTL_EXPECTED) - len(without_ipv6)
    return passed("内核网络参数已加固 / kernel parameters hardened",
                  facts.evidence(f"{judged} parameters as expected"
                                 + (f"; no IPv6 stack: {', '.join(without_ipv6)} absent" if without_ipv6 else ""),
                                 "sysctl"))
