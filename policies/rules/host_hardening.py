"""Host rules for the hardening depth beyond the dev-sec baseline (issue 17).

Each rule checks a setting that ``roles/os_hardening``, ``roles/ssh_hardening`` or ``roles/integrity``
applies; the per-level values come from :data:`xzgov.facts.thresholds.HOST_BY_LEVEL` (the one source the roles
follow) and the path/key lists from :mod:`xzgov.facts.baseline`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policies.engine import (
    Evidence,
    Facts,
    Outcome,
    RuleSet,
    Severity,
    errored,
    failed,
    not_applicable,
    nothing_to_judge,
    partial,
    passed,
)
from policies.pam import outsider_way
from policies.rules.checks import SubChecks
from xzgov.facts.baseline import (
    CLEARED_AT_BOOT,
    CRON_ALLOW_FILES,
    CRON_PATHS,
    HIDEPID_VALUES,
    KERNEL_CMDLINE_EXPECTED,
    KERNEL_SYSCTL_EXPECTED,
    MAC_PROFILES,
    MOUNT_OPTIONS,
    TMPFILES_CLEARING_TYPES,
)
from xzgov.facts.host_parsers import sshd_views
from xzgov.facts.host_script import DIRECTORY_ROLE_GROUPS, DIRECTORY_SUDOERS
from xzgov.facts.thresholds import host_threshold, threshold

host_hardening = RuleSet()

G22239 = "GB/T 22239-2019"

#: sshd forwarding options that are off from the level where forwarding is not allowed.
SSH_FORWARDING_OPTIONS = ("allowtcpforwarding", "allowagentforwarding", "x11forwarding", "allowstreamlocalforwarding",
                          "permittunnel", "gatewayports")


def _thresholds(facts: Facts) -> Any:
    return facts.get("thresholds")


@host_hardening.rule(
    id="XZ-HOST-KERNEL-PARAMS",
    title="内核全局参数加固 (kptr/dmesg 限制, ptrace 范围, BPF, 受保护链接/FIFO/文件, core 带 PID)",
    title_en="Kernel-wide parameters hardened; keys the running kernel lacks are not applicable",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.4.b",),
    remediation="roles/os_hardening 写入 /etc/sysctl.d/60-xzgov-kernel.conf 并加载本内核具有的参数 / apply the "
                "kernel parameters of KERNEL_SYSCTL_EXPECTED (os_hardening_sysctl_kernel)",
    facts=("kernel_params",),
)
def kernel_params(facts: Facts) -> Outcome:
    """Every kernel-wide parameter of :data:`KERNEL_SYSCTL_EXPECTED` that the running kernel has holds an
    accepted value. A key the kernel lacks is not applicable on that kernel (never pass). Inside a container
    the values belong to the host kernel: the configured values are checked and the running state is reported
    as unverifiable (error), as for auditd on a kernel without audit support."""
    params = facts["kernel_params"]
    absent = set(params.get("absent") or [])
    applicable = [key for key in KERNEL_SYSCTL_EXPECTED if key not in absent]
    where = "kernel_params"
    note = f"; 本内核不存在 (不适用) / not on this kernel: {sorted(absent)}" if absent else ""
    if not applicable:
        return nothing_to_judge("本内核不具有这些参数 / the running kernel has none of these parameters",
                              facts.evidence(f"absent: {sorted(absent)}", where))
    source = "configured" if params.get("container") else "live"
    values = params.get(source) or {}
    bad = [f"{key}={values.get(key, '(unset)')} (want {'/'.join(KERNEL_SYSCTL_EXPECTED[key])})"
           for key in applicable if str(values.get(key, "")).strip() not in KERNEL_SYSCTL_EXPECTED[key]]
    if bad:
        return failed(f"{len(bad)} 个内核参数未加固 ({source}) / kernel parameters not hardened",
                      facts.evidence("; ".join(bad) + note, where))
    if params.get("container"):
        return errored("容器内核参数归宿主机内核, 运行值无法验证; 配置正确 / inside a container the host kernel "
                       "owns these values: the configuration is correct, the running state is unverifiable",
                       facts.evidence(f"{len(applicable)} configured as expected{note}", where))
    return passed("内核全局参数已加固 / kernel-wide parameters hardened",
                  facts.evidence(f"{len(applicable)} parameters as expected{note}", where))


@host_hardening.rule(
    id="XZ-HOST-PASSWORD-HASHING",
    title="口令以高代价算法存储 (yescrypt 代价因子 / SHA-crypt 轮数达到本级要求)",
    title_en="Passwords are hashed with a costly algorithm (yescrypt cost / SHA-crypt rounds of the level)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.1.a",),
    remediation="login.defs: ENCRYPT_METHOD YESCRYPT, YESCRYPT_COST_FACTOR ≥ ${password_hash_min_yescrypt_cost} "
                "(或 SHA512 且 SHA_CRYPT_MIN_ROUNDS ≥ ${password_hash_min_sha_rounds}) (roles/os_hardening) / raise "
                "the password hashing cost",
    facts=("password_hashing",),
)
def password_hashing(facts: Facts) -> Outcome:
    """``passwd`` hashes with yescrypt at least the level's cost factor, or SHA-512 at least the level's rounds: the
    pam_unix line's algorithm and ``rounds=`` when it gives them (they override login.defs), else login.defs'
    ENCRYPT_METHOD with the cost pam_unix reads (YESCRYPT_COST_FACTOR; SHA_CRYPT_MAX_ROUNDS). For SHA-512 the
    shadow tools' rounds (chpasswd, newusers: drawn between SHA_CRYPT_MIN_ROUNDS and MAX) are held to it too."""
    hashing = facts["password_hashing"]
    level = facts.level
    min_cost = int(host_threshold(_thresholds(facts), "password_hash_min_yescrypt_cost", level))
    min_rounds = int(host_threshold(_thresholds(facts), "password_hash_min_sha_rounds", level))
    # a fact written with login.defs' values only (policies/scenarios) is judged on them, as before the PAM line was
    # read
    method = hashing.get("effective_method", hashing.get("method"))
    cost = hashing.get("effective_cost", hashing.get("yescrypt_cost") if method == "YESCRYPT"
                       else hashing.get("sha_min_rounds"))
    pam = (f"pam_unix {hashing.get('pam_method') or '(no algorithm)'}"
           f"{' rounds=' + str(hashing.get('pam_rounds')) if hashing.get('pam_rounds') is not None else ''}; "
           if "pam_method" in hashing else "")
    observed = (f"{pam}ENCRYPT_METHOD={hashing.get('method')} YESCRYPT_COST_FACTOR={hashing.get('yescrypt_cost')} "
                f"SHA_CRYPT_MIN_ROUNDS={hashing.get('sha_min_rounds')} "
                f"SHA_CRYPT_MAX_ROUNDS={hashing.get('sha_max_rounds')}; in effect {method} cost {cost}")
    evidence = facts.evidence(f"{observed}; want yescrypt cost ≥ {min_cost} or SHA512 rounds ≥ {min_rounds}",
                              "password_hashing")
    if method == "YESCRYPT" and (cost or 0) >= min_cost:
        return passed("口令哈希代价满足本级要求 / password hashing cost meets the level", evidence)
    if method == "SHA512" and (cost or 0) >= min_rounds:
        bounds = [r for r in (hashing.get("sha_min_rounds"), hashing.get("sha_max_rounds")) if r is not None]
        if not bounds or min(bounds) >= min_rounds:  # login.defs' bounds, when set, are what the shadow tools use
            return passed("口令哈希代价满足本级要求 / password hashing cost meets the level", evidence)
    return failed("口令哈希算法或代价不足 / password hashing method or cost too low", evidence)


@host_hardening.rule(
    id="XZ-HOST-CRON",
    title="计划任务目录与 cron/at 授权文件仅 root 可访问, 仅 root 可创建计划任务",
    title_en="Cron and at are root-only (directories 0700, cron.allow/at.allow list root only)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.2.d",),
    levels=(2, 3, 4),
    remediation="chmod 0700 /etc/cron.*; /etc/cron.allow 与 /etc/at.allow 仅含 root (roles/os_hardening) / make "
                "cron and at root-only",
    facts=("cron_permissions",),
)
def cron(facts: Facts) -> Outcome:
    """Every path of :data:`CRON_PATHS` that exists is owned by root with no permission beyond the listed mode;
    ``/etc/cron.allow`` and ``/etc/at.allow`` exist and list root only."""
    cron_facts = facts["cron_permissions"]
    paths = cron_facts.get("paths") or {}
    allow = cron_facts.get("allow") or {}
    problems: list[Evidence] = []
    for path, most in CRON_PATHS.items():
        info = paths.get(path)
        if not info:
            if path in CRON_ALLOW_FILES:
                problems.append(facts.evidence(f"{path} missing (anyone may schedule jobs)", "cron_permissions", path))
            continue
        mode = int(str(info.get("mode", "7777")), 8)
        if mode & ~most & 0o7777 or info.get("owner") != "root":
            problems.append(facts.evidence(f"{path} {info.get('mode')} {info.get('owner')}:{info.get('group')} "
                                           f"(want ≤ {most:o} root)", "cron_permissions", path))
    for path in CRON_ALLOW_FILES:
        users = set(allow.get(path, []))
        if path in paths and users - {"root"}:
            problems.append(facts.evidence(f"{path} lists {sorted(users)} (want root only)", "cron_permissions", path))
    if problems:
        return failed("计划任务未限制为 root / cron and at not root-only", *problems)
    return passed("计划任务仅 root 可用 / cron and at are root-only",
                  facts.evidence(f"{len(paths)} paths root-only", "cron_permissions"))


@host_hardening.rule(
    id="XZ-HOST-SSH-SESSIONS",
    title="SSH 会话数与转发按等级限制 (三级起禁止 TCP/代理/X11/套接字转发与隧道)",
    title_en="SSH sessions per connection and forwarding limited per level",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.2.d", f"{G22239}:{{L}}.1.4.4.c"),
    levels=(2, 3, 4),
    remediation="sshd: MaxSessions ≤ ${ssh_max_sessions}; 三级起 AllowTcpForwarding/AllowAgentForwarding/"
                "X11Forwarding/AllowStreamLocalForwarding/PermitTunnel/GatewayPorts no (roles/ssh_hardening) / "
                "limit SSH sessions and forwarding",
    facts=("sshd_effective_config",),
)
def ssh_sessions(facts: Facts) -> Outcome:
    """``sshd -T`` shows MaxSessions at most the level's limit and, where the level allows no forwarding, every
    forwarding option off (X11 forwarding and tunnels are off at every level)."""
    config = facts["sshd_effective_config"]
    level = facts.level
    limit = int(host_threshold(_thresholds(facts), "ssh_max_sessions", level))
    forwarding_allowed = bool(host_threshold(_thresholds(facts), "ssh_forwarding_allowed", level))
    problems: list[str] = []
    options = SSH_FORWARDING_OPTIONS if not forwarding_allowed else ("x11forwarding", "permittunnel")
    problems += [f"{include}: not read by the scan, its settings unverified"
                 for include in config.get("unread_includes") or ()]
    for where, view in sshd_views(config):  # the global values, then each conditional Match block's
        sessions = view.get("maxsessions")
        if sessions is None or not str(sessions).isdigit() or int(sessions) > limit:
            problems.append(f"{where}maxsessions={sessions} (want ≤ {limit})")
        for option in options:
            value = str(view.get(option, "(unset)")).lower()
            if value not in ("no", "none"):
                problems.append(f"{where}{option}={value} (want no)")
    if problems:
        return failed("SSH 会话或转发未按等级限制 / SSH sessions or forwarding not limited",
                      facts.evidence("; ".join(problems), "sshd_effective_config"))
    return passed("SSH 会话与转发已按等级限制 / SSH sessions and forwarding limited",
                  facts.evidence(f"maxsessions={sessions} ≤ {limit}; forwarding allowed at this level: "
                                 f"{forwarding_allowed}", "sshd_effective_config"))


@host_hardening.rule(
    id="XZ-HOST-LOGIN-BANNER",
    title="本地与远程登录显示授权访问的法律声明",
    title_en="Local and remote login terminals show the legal notice",
    severity=Severity.LOW,
    controls=(f"{G22239}:{{L}}.1.4.4.c",),
    levels=(2, 3, 4),
    remediation="在 /etc/issue 与 /etc/issue.net 写入授权访问声明并设 sshd Banner (roles/os_hardening, "
                "roles/ssh_hardening) / set the legal notice",
    facts=("login_banner",),
)
def login_banner(facts: Facts) -> Outcome:
    """``/etc/issue`` (local terminals) and ``/etc/issue.net`` (SSH banner) carry the legal notice."""
    banner = facts["login_banner"]
    missing = [path for path in ("/etc/issue", "/etc/issue.net") if not banner.get(path)]
    evidence = facts.evidence(", ".join(f"{path}: {'notice' if ok else 'no notice'}" for path, ok in banner.items())
                              or "no banner files", "login_banner")
    if missing:
        return failed(f"缺少法律声明: {missing} / legal notice missing", evidence)
    return passed("登录终端显示法律声明 / login terminals show the legal notice", evidence)


@host_hardening.rule(
    id="XZ-HOST-SECURITY-UPDATES",
    title="配置区域安全更新源与无人值守安全更新 (含重启窗口), 无待装安全更新",
    title_en="Region security update source, unattended security upgrades with a reboot window; none pending",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.4.e",),
    levels=(2, 3, 4),
    remediation="roles/patching: 经区域镜像配置 Debian 安全更新源, 安装 unattended-upgrades 并设重启窗口 / configure "
                "the security suite through the region's mirror and unattended security upgrades",
    facts=("security_updates",),
)
def security_updates(facts: Facts) -> Outcome:
    """An apt source of the security suite is configured, unattended-upgrades is installed and enabled (with a
    reboot time when it reboots by itself) and apt's timers that start it are enabled (a masked
    apt-daily-upgrade.timer installs nothing), and a simulated upgrade finds no pending security update
    (pending updates make the result partial and are listed)."""
    updates = facts["security_updates"]
    evidence = facts.evidence(
        f"sources={updates.get('sources')} unattended-upgrades installed={updates.get('installed')} "
        f"enabled={updates.get('unattended')} automatic_reboot={updates.get('automatic_reboot')} "
        f"reboot_time={updates.get('reboot_time')} lists_refreshed={updates.get('lists_refreshed')} "
        f"pending_security_updates={updates.get('pending')} timers={updates.get('timers') or None}",
        "security_updates")
    if updates.get("simulation_failed"):
        return errored("apt-get -s dist-upgrade 失败, 待装安全更新数未知 / the simulated upgrade failed: pending "
                       "security updates unknown (run `apt-get -s dist-upgrade` on the host)", evidence)
    if updates.get("pending") is None:
        return errored("主机无 apt, 无法核查安全更新 / no apt on this host: security updates are unverifiable",
                       evidence)
    problems = []
    if updates.get("lists_refreshed") is False:
        problems.append("软件包列表不自动更新, 待装更新数不可信 / package lists never refreshed "
                        "(APT::Periodic::Update-Package-Lists): the pending count is stale")
    if not updates.get("sources"):
        problems.append("无安全更新源 / no security update source")
    if not updates.get("installed") or not updates.get("unattended"):
        problems.append("未启用无人值守安全更新 / unattended security upgrades off")
    stopped = [f"{unit} {state or 'absent'}" for unit, state in (updates.get("timers") or {}).items()
               if state not in ("enabled", "static", "enabled-runtime")]
    if stopped:
        problems.append(f"apt 定时器未启用, 无人值守更新从不运行 / apt's timers do not run, so nothing is installed "
                        f"unattended: {', '.join(stopped)}")
    if updates.get("automatic_reboot") and not updates.get("reboot_time"):
        problems.append("自动重启无重启窗口 / automatic reboot without a reboot window")
    if problems:
        return failed("; ".join(problems), evidence)
    if int(updates["pending"]) > 0:
        return partial(f"{updates['pending']} 个安全更新待安装 / security updates pending", evidence)
    return passed("安全更新已配置且无待装更新 / security updates configured, none pending", evidence)


@host_hardening.rule(
    id="XZ-HOST-MAC",
    title="强制访问控制: AppArmor 为对外服务 (sshd/chronyd/rsyslogd) 配置并执行安全策略",
    title_en="Mandatory access control: AppArmor profiles for the exposed services, compiled and enforced",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.2.f", f"{G22239}:{{L}}.1.4.2.g"),
    levels=(3, 4),
    remediation="roles/mandatory_access: 安装 AppArmor, 为对外服务配置策略并以 enforce 模式加载 / install AppArmor, "
                "profile the exposed services and enforce them",
    facts=("mandatory_access",),
)
def mandatory_access(facts: Facts) -> Outcome:
    """AppArmor's parser is installed and every profile of :data:`MAC_PROFILES` exists, is not disabled and
    compiles. On a kernel with the AppArmor LSM each is loaded in an accepted mode; on a kernel without it the
    enforcement is unverifiable (error), never pass."""
    mac = facts["mandatory_access"]
    profiles = mac.get("profiles") or {}
    disabled = set(mac.get("disabled") or [])
    problems = []
    if not mac.get("parser"):
        problems.append("AppArmor 未安装 / apparmor_parser missing")
    for name in MAC_PROFILES:
        state = profiles.get(name, "missing")
        if state != "compiles":
            problems.append(f"{name}: {state}")
        if name in disabled:
            problems.append(f"{name}: disabled")
    observed = f"lsm={mac.get('lsm')} profiles={profiles} disabled={sorted(disabled)}"
    if problems:
        return failed("对外服务缺少可用的强制访问控制策略 / exposed services lack usable profiles",
                      facts.evidence(f"{'; '.join(problems)} ({observed})", "mandatory_access"))
    if not mac.get("lsm"):
        return errored("内核无 AppArmor, 策略均可编译但执行状态无法验证 / the kernel has no AppArmor LSM: the profiles "
                       "compile, enforcement is unverifiable", facts.evidence(observed, "mandatory_access"))
    loaded = mac.get("loaded") or {}
    not_enforced = []
    for name, modes in MAC_PROFILES.items():
        binary = name.rsplit(".", 1)[-1]
        found = [mode for profile, mode in loaded.items() if profile.endswith(binary)]
        if not any(mode in modes for mode in found):
            not_enforced.append(f"{name}: loaded as {found or 'nothing'} (want {'/'.join(modes)})")
    # a profile loaded after its daemon started confines it only once it restarts: the running process says
    for name, modes in MAC_PROFILES.items():
        binary = name.rsplit(".", 1)[-1]
        label = (mac.get("running") or {}).get(binary)
        if label is not None and not any(label.endswith(f"({mode})") for mode in modes):
            not_enforced.append(f"{binary} running {label or 'without a label'} (want {'/'.join(modes)}: restart it)")
    if not_enforced:
        return failed("策略未以要求的模式加载或未约束运行中的进程 / profiles not loaded in the required mode or not "
                      "confining the running daemons", facts.evidence("; ".join(not_enforced), "mandatory_access"))
    return passed("对外服务的 AppArmor 策略已执行 / AppArmor profiles of the exposed services enforced",
                  facts.evidence(f"{len(MAC_PROFILES)} profiles loaded ({observed})", "mandatory_access"))


def _port_key(entry: Mapping[str, Any]) -> tuple[str, int]:
    """``(protocol, port)`` of a socket, a declared port or a flow (protocol lower-case, TCP when unsaid)."""
    return str(entry.get("protocol", "tcp")).lower(), int(entry["port"])


def _inbound_flows(host: Mapping[str, Any]) -> dict[tuple[str, int], str]:
    """``(protocol, port) → peer`` of the inbound flows the inventory admits (``xzgov_allowed_flows``), first peer."""
    inbound: dict[tuple[str, int], str] = {}
    for flow in host.get("allowed_flows") or []:
        if isinstance(flow, dict) and flow.get("direction") == "in" and str(flow.get("port", "")).isdigit():
            inbound.setdefault(_port_key(flow), str(flow.get("peer", "?")))
    return inbound


def _allowed_listeners(host: Mapping[str, Any]) -> tuple[dict[tuple[str, int], str], dict[tuple[str, int], str]]:
    """``(protocol, port) → why`` a non-loopback socket may listen there, and the declared ports that may not
    (declared but neither reached by a flow nor marked ``internal``/``public``: why not)."""
    allowed = {("tcp", int(host.get("ssh_port") or 22)): "管理 SSH / management SSH (xzgov_ssh_port)"}
    refused: dict[tuple[str, int], str] = {}
    declared = host.get("ports")
    if declared is None:  # an inventory older than xzgov_ports: the inbound flows are all it says
        for key, peer in _inbound_flows(host).items():
            allowed.setdefault(key, f"inbound flow from {peer} (xzgov_allowed_flows)")
        return allowed, refused
    for entry in host.get("platform_ports") or []:
        allowed.setdefault(_port_key(entry), f"安全管理中心服务 / platform port: {entry.get('purpose', '')}")
    for entry in declared:
        key = _port_key(entry)
        reached = list(entry.get("reached_by") or [])
        if entry.get("exposure") in ("internal", "public"):
            allowed.setdefault(key, f"spec.hosts[].ports exposure {entry['exposure']}")
        elif reached:
            allowed.setdefault(key, f"spec.hosts[].ports reached by {reached[0]}"
                               + (f" (+{len(reached) - 1})" if len(reached) > 1 else ""))
        elif key not in allowed:
            refused[key] = "已声明但无入站流到达且未标记 internal / declared, but no flow reaches it and it is not " \
                           "marked internal"
    return allowed, refused


@host_hardening.rule(
    id="XZ-HOST-LISTENING",
    title="对外监听端口仅限清单声明的端口 (SSH、主机声明端口、安全管理中心服务端口); 关闭多余端口 (高风险)",
    title_en="Sockets listen beyond loopback only on declared ports (SSH, the host's declared ports, the "
             "security-management role's ports); unneeded ports are closed (high risk)",
    severity=Severity.CRITICAL,
    controls=(f"{G22239}:{{L}}.1.4.4.b",),
    levels=(2, 3, 4),
    remediation="停止多余服务或改为仅监听本地 (127.0.0.1/::1); 确需对外的服务端口在 systems/*.yaml 的 "
                "spec.hosts[].ports 中声明 (由使用方声明 flows, 或仅本系统使用时 exposure: internal) 并重新生成清单 "
                "(xzgov inventory) / stop the service or bind it to loopback; declare a needed port in "
                "spec.hosts[].ports (the consumers' flows, or exposure: internal) and regenerate the inventory",
    facts=("listening", "host"),
)
def listening_sockets(facts: Facts) -> Outcome:
    """Every socket listening on a non-loopback address is management SSH (the inventory's SSH port, TCP), a port
    the host declares (``xzgov_ports``: ``spec.hosts[].ports`` reached by a declared flow or the region contract,
    or marked ``internal``/``public``) or a port its security-management role serves (``xzgov_platform_ports``,
    derived from the inventory contract). A declared port nothing reaches and not marked is not a permission.
    An inventory without ``xzgov_ports`` (older than the port declarations) is judged against its inbound flows.
    A listing without the management SSH socket is not the host's (an empty or foreign answer): an error.
    Least functionality, {L}.1.4.4.b (高风险 case 6.4.3.1: 开启多余的高危端口)."""
    host = facts["host"] or {}
    allowed, refused = _allowed_listeners(host)
    inbound = _inbound_flows(host)
    addresses: dict[tuple[str, int], set[str]] = {}  # every non-loopback socket, by (protocol, port), in order
    for sock in facts["listening"]:
        if not sock.get("loopback"):
            addresses.setdefault(_port_key(sock), set()).add(sock.get("address") or "*")
    ssh = ("tcp", int(host.get("ssh_port") or 22))
    problems: list[Evidence] = []
    for key, where in addresses.items():
        if key in allowed:
            continue
        why = refused.get(key) or (
            "入站流到达但主机未声明该端口 / an inbound flow arrives there, but spec.hosts[].ports does not declare it"
            if key in inbound and host.get("ports") is not None else "未声明 / declared nowhere")
        problems.append(facts.evidence(f"{key[0]}/{key[1]} listens on {', '.join(sorted(where))}: {why}",
                                       "listening"))
    summary = facts.evidence(
        f"listening (not loopback): {sorted(addresses)}; "
        f"allowed: {sorted(f'{p}/{n}' for p, n in allowed)}"
        + ("" if host.get("ports") is not None else " (inventory without xzgov_ports: inbound flows)"), "host")
    # the host is managed over SSH: a listing without its server's socket is not all of the host's sockets (an
    # empty or foreign answer, or sshd elsewhere than xzgov_ssh_port) — never a pass; what it shows undeclared
    # still fails
    no_ssh = ("" if ssh in addresses else f"; ss 未列出管理 SSH 端口 tcp/{ssh[1]} / no management SSH socket "
              f"(tcp/{ssh[1]}, xzgov_ssh_port) on a non-loopback address")
    if problems:
        return failed(f"存在 {len(problems)} 个未声明的对外监听端口 / {len(problems)} socket(s) listen outside the "
                      f"declared ports{no_ssh}", *problems, summary)
    if no_ssh:
        return errored(f"{no_ssh[2:]}: not judged", summary)
    return passed("对外监听端口均已声明 / every non-loopback socket is on a declared port", summary)


def _covers(chains: list[dict[str, Any]]) -> set[str]:
    """The IP versions a set of base chains sees (``inet`` both, ``ip`` IPv4, ``ip6`` IPv6)."""
    seen: set[str] = set()
    for chain in chains:
        seen |= {"inet": {"ipv4", "ipv6"}, "ip": {"ipv4"}, "ip6": {"ipv6"}}.get(str(chain.get("family")), set())
    return seen


@host_hardening.rule(
    id="XZ-HOST-STATEFUL-FILTER",
    title="主机包过滤默认拒绝并基于会话状态放行 (ct state established,related 先于端口规则, 无按源端口的无状态放行)",
    title_en="The host's packet filter denies by default and decides on session state (established/related accepted "
             "before port rules, no stateless source-port accepts)",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.3.2.d", f"{G22239}:{{L}}.1.3.2.a"),
    levels=(2, 3, 4),
    remediation="roles/firewall: nftables 表 inet xzgov 的 input 链 policy drop, 首先 `ct state "
                "established,related accept` 与 `ct state invalid drop`, 其后才是按 xzgov_allowed_flows 的端口规则; "
                "删除按源端口放行回包的规则 / "
                "apply roles/firewall: input policy drop, established/related accepted (invalid dropped) before the "
                "port rules, no source-port accepts",
    facts=("packet_filter",),
)
def stateful_filter(facts: Facts) -> Outcome:
    """The live nftables ruleset (``nft -j list ruleset``). {L}.1.3.2.a: an input base chain (inet, or ip and ip6)
    has policy drop, so what no rule allows is refused. {L}.1.3.2.d: in that chain, ``ct state established,related``
    is accepted before the first rule that accepts by destination port — the session state decides replies and
    follow-on traffic, the port rules only new sessions — and no rule accepts by source port without looking at the
    state (the stateless "let replies in" hole). Other input base chains can only drop more (a packet must be accepted
    by every base chain at a hook), so they do not weaken it."""
    state_item, deny_item = f"{G22239}:{{L}}.1.3.2.d", f"{G22239}:{{L}}.1.3.2.a"
    pf = facts["packet_filter"]
    judged = SubChecks(facts)
    if not pf.get("available"):
        judged.check((deny_item, state_item), False, "nft not installed: no nftables packet filter",
                     "packet_filter")
        return judged.outcome("", "主机无包过滤 / no host packet filter")
    inputs = [c for c in pf.get("chains") or [] if c.get("hook") == "input"]

    def denial(c: dict[str, Any]) -> str:
        # policy accept ending in an unconditional drop/reject (firewalld's layout) denies whatever no rule accepted
        end = c.get("terminal")
        return (f"{c['family']} {c['table']} {c['name']} policy {c['policy']}"
                + (f", ends in {end['text']!r} (handle {end['handle']})" if end and c["policy"] != "drop" else ""))

    dropping = [c for c in inputs if str(c.get("policy")) == "drop" or c.get("terminal")]
    names = (", ".join(denial(c) for c in inputs) or "none") + (
        f"; dormant tables, attached to no hook: {', '.join(pf['dormant'])}" if pf.get("dormant") else "")
    if not dropping:
        judged.check((deny_item, state_item), False, f"no input base chain drops by default (input chains: {names})",
                     "packet_filter")
        return judged.outcome("", "主机包过滤未默认拒绝 / the host filter does not deny by default")
    covered = _covers(dropping)
    uncovered = sorted({"ipv4", "ipv6"} - covered)
    judged.check(deny_item, not uncovered,
                 f"default deny ({', '.join(sorted(covered))}): "
                 + ", ".join(denial(c) for c in dropping)
                 + (f"; {uncovered} not default-denied" if uncovered else ""),
                 "packet_filter", f"{dropping[0]['family']} {dropping[0]['table']} {dropping[0]['name']}")
    for chain in dropping:
        where = f"{chain['family']} {chain['table']} {chain['name']}"
        rules = list(chain.get("rules") or [])

        def shown(index: int, rule: dict[str, Any], where: str = where, total: int = len(rules)) -> str:
            via = f" (via {rule['via']})" if rule.get("via") else ""
            return f"{where} rule {index + 1}/{total} handle {rule.get('handle')}{via}: {rule.get('text')!r}"

        stateful = next((i for i, r in enumerate(rules)
                         if r.get("verdict") == "accept" and not r.get("state_negated") and r.get("state")
                         and {"established", "related"} <= set(r["state"]) and not r.get("dport")
                         and not r.get("sport")), None)
        first_port = next((i for i, r in enumerate(rules) if r.get("verdict") == "accept" and r.get("dport")), None)
        if stateful is None:
            judged.check(state_item, False, f"{where}: no rule accepts ct state established,related "
                         f"({len(rules)} rules): replies are judged by port rules alone", "packet_filter", where)
        elif first_port is not None and first_port < stateful:
            judged.check(state_item, False, f"{shown(first_port, rules[first_port])} accepts by port before "
                         f"{shown(stateful, rules[stateful])}", "packet_filter", where)
        else:
            judged.check(state_item, True, f"{shown(stateful, rules[stateful])} precedes every port rule",
                         "packet_filter", where)
        # An accept limited by nothing a default deny keeps meaning with (no port, source, loopback, ICMP or reply
        # state: `ct state new accept`, `iifname "eth0" accept`, a bare `accept`) lets every packet in before
        # the policy is reached. (A rule written without ``limited_by`` — the hand-written facts of policies/scenarios
        # — is not judged so; every rule the parser reads has it.)
        open_accepts = [shown(i, r) for i, r in enumerate(rules)
                        if r.get("verdict") == "accept" and "limited_by" in r and not r["limited_by"]]
        if open_accepts:
            judged.check(deny_item, False, "accepts without a port, source, loopback or reply-state limit (the "
                         "default deny never applies): " + "; ".join(open_accepts), "packet_filter", where)
        stateless = [shown(i, r) for i, r in enumerate(rules)
                     if r.get("verdict") == "accept" and r.get("sport") and not r.get("state")]
        if stateless:
            judged.check(state_item, False, "accepts by source port without session state: " + "; ".join(stateless),
                         "packet_filter", where)
    return judged.outcome("主机包过滤默认拒绝并基于会话状态放行 / default deny with session-state filtering",
                          "主机包过滤未按会话状态控制 / the host filter is not stateful or not default-deny")


@host_hardening.rule(
    id="XZ-HOST-ANTI-MALWARE",
    title="主机恶意代码防范: 扫描器、区域病毒库更新与定期扫描",
    title_en="Host malware prevention: scanner, signatures from the region's mirror, scheduled scans",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.5.a",),
    levels=(3, 4),
    remediation="roles/anti_malware: 安装 ClamAV, 在 region.yaml spec.package_mirrors[].clamav 登记区域病毒库镜像 "
                "(xzgov inventory 写入 xzgov_malware_mirror), 启用定期扫描 / install ClamAV, give the site's mirror "
                "its ClamAV signatures (spec.package_mirrors[].clamav), enable the scheduled scan (max "
                "${max_signature_age_days} days old signatures)",
    facts=("anti_malware",),
)
def anti_malware(facts: Facts) -> Outcome:
    """A malware scanner is installed with at least one signature database and its scheduled scan enabled, and
    the scan's last run found nothing (clamscan exit 1: malware, which the rule fails until a clean run; exit 2,
    an error such as a file gone from /tmp during the scan, is in the evidence, not judged). Signatures kept
    current from the region's mirror (freshclam enabled, official databases no older than
    ``max_signature_age_days``) make it a pass; local signatures only (no mirror) is partial."""
    malware = facts["anti_malware"]
    max_age = int(threshold(facts.get("thresholds"), "max_signature_age_days"))
    databases = malware.get("databases") or []
    units = malware.get("units") or {}
    last = malware.get("last_scan") or {}
    evidence = facts.evidence(
        f"scanner={malware.get('scanner')} units={units} mirrors={malware.get('mirrors')} "
        f"databases={[(d['path'], d['age_days']) for d in databases]} last_scan={last or None}", "anti_malware")
    problems = []
    if not malware.get("scanner"):
        problems.append("无恶意代码扫描器 / no scanner")
    if not databases:
        problems.append("无病毒库 / no signatures")
    if units.get("xzgov-malware-scan.timer") != "enabled":
        problems.append("未启用定期扫描 / scheduled scan not enabled")
    if last.get("ran") and last.get("status") == 1:
        problems.append("上次定期扫描发现恶意代码 (FOUND 行见日志中心, SyslogIdentifier=xzgov-malware-scan) / the last "
                        "scheduled scan found malware (its FOUND lines are in the log centre)")
    if problems:
        return failed("; ".join(problems), evidence)
    official = [d for d in databases if d.get("official")]
    updating = units.get("clamav-freshclam.service") == "enabled" and malware.get("mirrors")
    if not official or not updating:
        return partial("仅有本地病毒库, 未从区域镜像更新 / local signatures only: no updates from the region's mirror",
                       evidence)
    stale = [d["path"] for d in official if d.get("age_days") is None or d["age_days"] > max_age]
    if stale:
        return partial(f"病毒库超过 {max_age} 天未更新 / signatures older than {max_age} days: {stale}", evidence)
    return passed("恶意代码扫描器与病毒库有效, 定期扫描已启用 / scanner, current signatures and scheduled scans",
                  evidence)


# ------------------------------------------------------------------ remaining host items (issue 17)


@host_hardening.rule(
    id="XZ-HOST-INTRUSION-DETECTION",
    title="入侵检测: 文件完整性数据库 (AIDE) 已初始化, 每日检查, 结果入日志中心, 发现变更告警",
    title_en="Intrusion detection: file-integrity database (AIDE) initialised, checked daily, results to syslog, "
             "alert on change",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.4.f",),
    levels=(3, 4),
    remediation="roles/integrity: 安装 AIDE, 加固后初始化数据库 (xzgov-aide-init), 启用 xzgov-aide-check.timer "
                "(结果写入 syslog, 变更触发 xzgov-aide-alert); 核实变更后运行 xzgov-aide-init --reviewed / install "
                "AIDE, build its database after the hardening, enable the daily check with its alert; after "
                "reviewing a reported change run xzgov-aide-init --reviewed",
    facts=("file_integrity",),
)
def intrusion_detection(facts: Facts) -> Outcome:
    """AIDE is installed with an initialised database and an enabled check timer whose report reaches syslog
    (``report_url`` stdout under systemd, or syslog). A check whose last run failed (changes found, or it could
    not run) fails the item until an operator reviews and accepts the changes (``xzgov-aide-init --reviewed``) —
    read from the mark the alert unit leaves, which outlives a reboot, as well as from the check unit's since-boot
    result; a check without the alert unit is partial. Where ``file_integrity_required`` is off for the level the
    item is not applicable."""
    if not bool(host_threshold(_thresholds(facts), "file_integrity_required", facts.level)):
        return not_applicable("本级未要求文件完整性入侵检测 / file-integrity intrusion detection not required at "
                              "this level (file_integrity_required)", facts.evidence("threshold", "file_integrity"))
    fim = facts["file_integrity"]
    units = fim.get("units") or {}
    databases = fim.get("databases") or []
    last = fim.get("last_check") or {}
    evidence = facts.evidence(
        f"aide={fim.get('installed')} databases={[(d['path'], d.get('age_days')) for d in databases]} "
        f"timers={units} last_check={last or 'none'} alert={fim.get('alert')} report={fim.get('reports')} "
        f"unreviewed_days={fim.get('unreviewed_days')}",
        "file_integrity")
    problems = []
    if not fim.get("installed"):
        problems.append("未安装 AIDE / AIDE not installed")
    if not databases:
        problems.append("完整性数据库未初始化 / no AIDE database")
    if not any(state == "enabled" for state in units.values()):
        problems.append("无定期检查 / no enabled check timer")
    reports = fim.get("reports") or []
    if reports and not any(r.startswith(("stdout", "syslog")) for r in reports):
        problems.append(f"检查结果未进入 syslog / report_url {reports} reaches neither the journal nor syslog")
    if problems:
        return failed("; ".join(problems), evidence)
    if fim.get("unreviewed_days") is not None:
        days = fim["unreviewed_days"]
        return failed(f"{days} 天前的完整性检查发现变更或失败, 尚未核实 (核实后运行 xzgov-aide-init --reviewed) / an "
                      f"integrity check {days} day(s) ago found changes (or failed); nobody has reviewed and accepted "
                      "them yet (xzgov-aide-init --reviewed after review)", evidence)
    if last.get("ran") and (last.get("result") not in (None, "success") or (last.get("status") or 0) != 0):
        return failed("最近一次完整性检查发现变更或失败, 尚未核实 / the last integrity check found changes (or failed) "
                      "and they have not been reviewed and accepted", evidence)
    if not fim.get("alert"):
        return partial("检查结果无告警通路 / the check has no alert unit (OnFailure)", evidence)
    return passed("文件完整性入侵检测已启用 / file-integrity intrusion detection in place", evidence)


@host_hardening.rule(
    id="XZ-HOST-PROC-HIDEPID",
    title="/proc 以 hidepid=invisible 挂载 (用户仅见自身进程), 监控代理通过指定组查看",
    title_en="/proc mounted hidepid=invisible (users see only their own processes), monitoring through a group",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.2.d",),
    levels=(2, 3, 4),
    remediation="/etc/fstab: proc /proc proc nosuid,nodev,noexec,hidepid=invisible,gid=<监控组 GID> 0 0, 并 remount "
                "(roles/os_hardening os_hardening_proc_monitor_group) / mount /proc hidepid=invisible with a "
                "monitoring group, in fstab and by remounting",
    facts=("mounts",),
)
def proc_hidepid(facts: Facts) -> Outcome:
    """The live /proc mount hides other users' processes (``hidepid=invisible`` or ``2``) and names an existing
    group (``gid=``) for monitoring agents; /etc/fstab keeps the option for the next boot (else partial). In a
    container whose manager mounted /proc without it while fstab asks for it, the running state is unverifiable."""
    mounts = facts["mounts"]
    live = ((mounts.get("live") or {}).get("/proc") or {}).get("options") or []
    fstab = ((mounts.get("fstab") or {}).get("/proc") or {}).get("options") or []

    def hides(options: list[str]) -> bool:
        return any(option.startswith("hidepid=") and option.split("=", 1)[1] in HIDEPID_VALUES for option in options)

    gid = next((option.split("=", 1)[1] for option in live if option.startswith("gid=")), None)
    group = (mounts.get("groups") or {}).get(gid or "")
    evidence = facts.evidence(f"live /proc: {','.join(live) or '(unknown)'}; fstab: {','.join(fstab) or '(none)'}; "
                              f"monitoring group: {group or gid or '(none)'}", "mounts", "/proc")
    if not hides(live):
        if hides(fstab) and mounts.get("container"):
            return errored("容器的 /proc 由容器管理器挂载, hidepid 已写入 fstab 但运行状态无法验证 / inside a "
                           "container its manager mounts /proc: fstab asks for hidepid, the running state is "
                           "unverifiable", evidence)
        return failed("/proc 未隐藏其他用户的进程 / /proc shows every user's processes", evidence)
    if not group:
        return partial("/proc 未指定监控组 (监控代理看不到进程) / no monitoring group (gid=) on /proc", evidence)
    if not hides(fstab):
        return partial("hidepid 未写入 /etc/fstab, 重启后失效 / hidepid is not in /etc/fstab: lost at reboot", evidence)
    return passed("/proc 仅显示用户自身进程 / /proc hides other users' processes", evidence)


@host_hardening.rule(
    id="XZ-HOST-TMP-MOUNTS",
    title="/dev/shm 与 /tmp 以 nodev,nosuid (/dev/shm 及按等级的 /tmp 另加 noexec) 挂载",
    title_en="/dev/shm and /tmp mounted nodev,nosuid (noexec on /dev/shm, and on /tmp where the level asks)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.2.d",),
    levels=(2, 3, 4),
    remediation="/etc/fstab 为 /dev/shm 设 nodev,nosuid,noexec, 为 /tmp 设 tmpfs nodev,nosuid "
                "(tmp_noexec_required 时加 noexec) 并重新挂载 (roles/os_hardening) / set the options in fstab and "
                "remount",
    facts=("mounts",),
)
def tmp_mounts(facts: Facts) -> Outcome:
    """/dev/shm and /tmp are mount points carrying every option of :data:`MOUNT_OPTIONS` (plus ``noexec`` on
    /tmp where ``tmp_noexec_required``), live and in /etc/fstab (live only: partial, lost at reboot)."""
    mounts = facts["mounts"]
    wanted = {target: list(options) for target, options in MOUNT_OPTIONS.items()}
    if bool(host_threshold(_thresholds(facts), "tmp_noexec_required", facts.level)):
        wanted["/tmp"].append("noexec")
    live_problems: list[str] = []
    fstab_problems: list[str] = []
    seen: list[str] = []
    for target, options in wanted.items():
        live = (mounts.get("live") or {}).get(target)
        fstab = (mounts.get("fstab") or {}).get(target)
        seen.append(f"{target}: live {','.join(live['options']) if live else '(not a mount point)'}; "
                    f"fstab {','.join(fstab['options']) if fstab else '(none)'}")
        missing = [option for option in options if not live or option not in live.get("options", [])]
        if missing:
            live_problems.append(f"{target} lacks {','.join(missing)}")
        missing_fstab = [option for option in options if not fstab or option not in fstab.get("options", [])]
        if missing_fstab:
            fstab_problems.append(f"{target} fstab lacks {','.join(missing_fstab)}")
    evidence = facts.evidence("; ".join(seen + live_problems + fstab_problems), "mounts")
    if live_problems:
        return failed("临时文件系统挂载选项不足 / temporary file systems lack mount options", evidence)
    if fstab_problems:
        return partial("挂载选项未写入 /etc/fstab, 重启后失效 / options not in /etc/fstab: lost at reboot", evidence)
    return passed("/dev/shm 与 /tmp 挂载选项已加固 / /dev/shm and /tmp mount options hardened", evidence)


@host_hardening.rule(
    id="XZ-HOST-RESIDUAL-INFO",
    title="剩余信息保护: 无未加密交换分区, /tmp 与 /var/tmp 在启动时清空",
    title_en="Residual information: no unencrypted swap, /tmp and /var/tmp emptied at boot",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.10.a", f"{G22239}:{{L}}.1.4.10.b"),
    levels=(3, 4),
    remediation="关闭或以随机密钥加密交换分区; tmpfiles.d 设 D /tmp 与 D /var/tmp (roles/os_hardening "
                "os_hardening_swap_policy, /etc/tmpfiles.d/tmp.conf) / disable or random-key-encrypt swap, empty "
                "/tmp and /var/tmp at boot",
    facts=("residual_info",),
)
def residual_info(facts: Facts) -> Outcome:
    """No swap in use or in /etc/fstab keeps memory pages on disk unencrypted (dm-crypt swap whose crypttab key is
    a random source, and zram, are accepted); /tmp (or a tmpfs /tmp) and /var/tmp are emptied at boot by
    systemd-tmpfiles. A container sees its host kernel's swap in /proc/swaps: an unencrypted one there is
    unverifiable from inside (error), not the container's failure."""
    if not bool(host_threshold(_thresholds(facts), "residual_clearing_required", facts.level)):
        return not_applicable("本级未要求 / not required at this level (residual_clearing_required)",
                              facts.evidence("threshold", "residual_info"))
    info = facts["residual_info"]
    crypttab = info.get("crypttab") or {}

    def encrypted(name: str) -> bool:
        if name.startswith("/dev/zram"):
            return True
        mapped = name.removeprefix("/dev/mapper/")
        return name.startswith("/dev/mapper/") and crypttab.get(mapped, "") in ("/dev/urandom", "/dev/random")

    active = [swap["name"] for swap in info.get("swaps") or [] if not encrypted(str(swap.get("name", "")))]
    configured = [name for name in info.get("fstab_swaps") or [] if not encrypted(str(name))]
    tmpfiles = info.get("tmpfiles") or {}
    not_cleared = []
    for path in CLEARED_AT_BOOT:
        kind = (tmpfiles.get(path) or {}).get("type", "(none)")
        tmpfs = path == "/tmp" and "tmpfs" in (info.get("tmp_fstab_fstype"), info.get("tmp_fstype"))
        if kind not in TMPFILES_CLEARING_TYPES and not tmpfs:
            not_cleared.append(f"{path} (tmpfiles {kind})")
    evidence = facts.evidence(
        f"swap in use: {[s.get('name') for s in info.get('swaps') or []]}; fstab swap: {info.get('fstab_swaps')}; "
        f"crypttab: {crypttab}; tmpfiles: {tmpfiles}; /tmp fs: {info.get('tmp_fstype')} "
        f"(fstab {info.get('tmp_fstab_fstype')})", "residual_info")
    problems = []
    if configured:
        problems.append(f"fstab 中未加密交换分区 / unencrypted swap in fstab: {configured}")
    if not_cleared:
        problems.append(f"启动时未清空 / not emptied at boot: {not_cleared}")
    if active and not info.get("container"):
        problems.append(f"使用中的未加密交换分区 / unencrypted swap in use: {active}")
    if problems:
        return failed("; ".join(problems), evidence)
    if active:
        return errored("容器可见的交换分区属于宿主机内核, 无法在容器内验证 / the swap a container sees belongs to its "
                       f"host kernel: unverifiable from inside ({active})", evidence)
    return passed("无未加密交换分区, 临时数据启动时清空 / no unencrypted swap, temporary data emptied at boot",
                  evidence)


@host_hardening.rule(
    id="XZ-HOST-KERNEL-CMDLINE",
    title="剩余信息保护: 内核在释放和分配内存时清零 (init_on_free=1, init_on_alloc=1)",
    title_en="Residual information: the kernel zeroes memory when it is freed and allocated (init_on_free=1, "
             "init_on_alloc=1)",
    severity=Severity.MEDIUM,
    controls=(f"{G22239}:{{L}}.1.4.10.a", f"{G22239}:{{L}}.1.4.10.b"),
    levels=(3, 4),
    remediation="内核命令行加 init_on_free=1 init_on_alloc=1 (roles/os_hardening 写入 "
                "/etc/default/grub.d/60-xzgov-cmdline.cfg 并运行 update-grub, 重启后生效) / add the parameters to the "
                "kernel command line (GRUB drop-in, update-grub) and reboot",
    facts=("kernel_cmdline",),
)
def kernel_cmdline(facts: Facts) -> Outcome:
    """The running kernel zeroes pages when they are freed and allocated: each parameter of
    :data:`KERNEL_CMDLINE_EXPECTED` holds an accepted value on ``/proc/cmdline`` or, when the command line does not
    name it, by the kernel's build default. Configured in GRUB but not yet running (no reboot since): partial. A
    container boots no kernel of its own: not applicable there (its host's run sets the parameters), never pass."""
    if not bool(host_threshold(_thresholds(facts), "residual_clearing_required", facts.level)):
        return not_applicable("本级未要求 / not required at this level (residual_clearing_required)",
                              facts.evidence("threshold", "kernel_cmdline"))
    info = facts["kernel_cmdline"]
    live = info.get("live")
    build = info.get("build_defaults") or {}
    grub = info.get("grub") or {}
    effective = {key: (live or {}).get(key, build.get(key, "(unset)")) for key in KERNEL_CMDLINE_EXPECTED}
    evidence = facts.evidence(
        f"running: {effective}; build defaults: {build or '(unknown)'}; GRUB next boot: "
        f"{ {key: grub[key] for key in KERNEL_CMDLINE_EXPECTED if key in grub} or '(not set)'}", "kernel_cmdline")
    if info.get("container"):
        # the items still apply to the system: its host's run (or the assessor) judges them
        return nothing_to_judge("容器不引导自己的内核, 内核命令行属于宿主机 / not applicable in a container (nothing "
                                "to judge here): it boots no kernel of its own; the host's command line carries the "
                                "parameters", evidence)
    if live is None:
        return errored("无法读取 /proc/cmdline / /proc/cmdline could not be read", evidence)
    missing = [key for key, value in effective.items() if value not in KERNEL_CMDLINE_EXPECTED[key]]
    if not missing:
        return passed("内核释放和分配内存时清零 / the kernel zeroes memory when freed and allocated", evidence)
    if all(grub.get(key) in KERNEL_CMDLINE_EXPECTED[key] for key in missing):
        return partial(f"已写入 GRUB, 重启后生效 / configured in GRUB, effective after a reboot: {missing}", evidence)
    return failed(f"内核未清零释放/分配的内存 / the kernel does not zero freed/allocated memory: {missing}", evidence)


# ------------------------------------------------------------------ operator directory (issue 15)

DIRECTORY_CONTROLS = (
    f"{G22239}:{{L}}.1.4.1.a",  # 身份鉴别: unique identification (operators from one directory)
    f"{G22239}:{{L}}.1.4.2.a",  # 访问控制: accounts and rights assigned (role groups only)
    f"{G22239}:{{L}}.1.4.2.c",  # redundant accounts removed (a removed operator loses access everywhere)
    f"{G22239}:{{L}}.1.4.2.d",  # least privilege, separated rights (sudo per role)
    f"{G22239}:{{L}}.1.5.1.a",  # 系统管理: system administrators authenticated, limited to their commands
    f"{G22239}:{{L}}.1.5.2.a",  # 审计管理: audit administrators
    f"{G22239}:{{L}}.1.5.3.a",  # 安全管理: security administrators (level 3 and 4)
)


_SUDO_TAGS = ("NOPASSWD:", "PASSWD:", "NOEXEC:", "EXEC:", "SETENV:", "NOSETENV:", "LOG_INPUT:", "NOLOG_INPUT:",
              "LOG_OUTPUT:", "NOLOG_OUTPUT:", "MAIL:", "NOMAIL:", "FOLLOW:", "NOFOLLOW:", "INTERCEPT:", "NOINTERCEPT:")


def _sudo_commands(spec: str) -> list[str]:
    """The commands of a sudoers user spec after ``%group``, each without its run-as list and tags:
    ``ALL=(root) NOEXEC: XZGOV_X`` → ``[XZGOV_X]``; ``ALL=(root) XZGOV_X, (ALL) NOPASSWD: ALL`` → ``[XZGOV_X,
    ALL]`` (sudoers(5): a Cmnd_Spec_List, comma separated, a backslash escaping a comma inside a command)."""
    commands = []
    for item in re.split(r"(?<!\\),", spec.split("=", 1)[-1]):
        command = item.strip()
        if command.startswith("(") and ")" in command:
            command = command.split(")", 1)[1].strip()
        while command.startswith(_SUDO_TAGS):
            command = command.split(":", 1)[1].strip()
        if command:
            commands.append(command)
    return commands


#: the administrative lock SSSD's access filter must exclude (ppolicy's pwdAccountLockedTime 000001010000Z)
_LOCK_TERM = "!(pwdaccountlockedtime=000001010000z)"


def _domain_access_problem(name: str, options: Mapping[str, str]) -> str:
    """What lets a locked account of SSSD domain ``name`` log in ('' when nothing): ``access_provider = ldap``
    with ``filter`` in ``ldap_access_order`` (SSSD's default) and a filter excluding the administrative lock, or
    ``ppolicy`` in the order (SSSD then reads the lock itself). Names and values as SSSD reads them: no case."""
    provider = options.get("access_provider", "permit").strip().lower()  # SSSD's default: permit
    orders = {o.strip().lower() for o in options.get("ldap_access_order", "filter").split(",")}
    term = "".join(options.get("ldap_access_filter", "").split()).lower()
    if provider == "ldap" and ("ppolicy" in orders or ("filter" in orders and _LOCK_TERM in term)):
        return ""
    domain = f"[domain/{name}] " if name else ""
    return (f"停用 (锁定) 的运维账户仍可登录 / a locked operator still logs in: {domain}access_provider={provider} "
            f"ldap_access_order={sorted(orders)} ldap_access_filter={options.get('ldap_access_filter', '(unset)')} "
            "(want ldap, filter excluding pwdAccountLockedTime=000001010000Z, or ppolicy)")


def _directory_login_groups(client: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The role groups whose members may log in, and what is wrong with how logins are limited. roles/
    directory_client's form: every SSSD domain in use refuses locked accounts (:func:`_domain_access_problem`), and
    the account stack sshd runs has no way through for a directory user outside the three administrator role
    groups (:func:`policies.pam.outsider_way`: the role's ``requisite pam_succeed_if … user ingroup a:b:c`` must be
    reached on every way; a ``sufficient`` check, a jump over it or an earlier success ends the stack without it).
    ``access_provider = simple`` limits groups but checks no lock: refused."""
    options = client.get("options") or {}
    domains = client.get("domains", {"": options})  # ({}: [sssd] lists no domain)
    problems = [problem for name, domain in domains.items() if (problem := _domain_access_problem(name, domain))]
    if not domains:
        problems.append("sssd.conf 未列出域 / sssd.conf lists no domain ([sssd] domains)")
    roles = frozenset(DIRECTORY_ROLE_GROUPS)
    stack = client.get("account_stack")
    if stack is None:
        problems.append("未读到 sshd 的 PAM account 栈 / the account stack sshd runs was not read (/etc/pam.d/sshd)")
        return set(), problems
    groups = {g for entry in stack if entry.get("module") == "pam_succeed_if.so"
              for g in _ingroups(entry.get("args") or []) if g in roles}
    try:
        min_id = int(str(options.get("min_id", "1")).strip())
    except ValueError:
        min_id = 1
    renewal = any("pwd_expire_policy_renew" in str(domain.get("ldap_access_order", "")).lower()
                  for domain in domains.values())
    way = outsider_way(stack, roles, min_id, renewal)
    if way or not groups:
        problems.append(f"登录未限于三员角色组 / login not limited to the role groups {list(DIRECTORY_ROLE_GROUPS)}: "
                        + (f"the account stack admits a directory user outside them: {' → '.join(way)}" if way
                           else "no pam_succeed_if user ingroup check of the role groups in the account stack"))
    return groups, problems


def _ingroups(args: list[str]) -> list[str]:
    """The groups of a ``pam_succeed_if`` argument list's ``user ingroup a:b`` conditions."""
    return [g for i, word in enumerate(args[:-1]) if word == "ingroup" and i and args[i - 1] == "user"
            for g in args[i + 1].split(":") if g]


def _directory_problems(client: dict[str, Any], uri: str) -> list[str]:
    """What keeps the host from being enrolled in the directory ``uri`` with the three separated roles."""
    problems: list[str] = []
    options = client.get("options") or {}
    if not client.get("sssd_active"):
        problems.append("sssd 未运行 / sssd not active")
    config = client.get("config")
    if config is None:
        problems.append("无 /etc/sssd/sssd.conf / no sssd.conf")
    elif (config.get("mode"), config.get("owner")) != ("0600", "root"):
        problems.append(f"sssd.conf 权限 {config.get('mode')} {config.get('owner')} (want 0600 root)")
    uris = [u.strip() for u in str(options.get("ldap_uri", "")).split(",") if u.strip()]
    if options.get("id_provider") != "ldap" or options.get("auth_provider", "ldap") != "ldap":
        problems.append(f"id/auth_provider={options.get('id_provider')}/{options.get('auth_provider')} (want ldap)")
    if uri not in uris:
        problems.append(f"ldap_uri={uris or '(unset)'} 不是清单的目录 / not the inventory's directory {uri}")
    start_tls = str(options.get("ldap_id_use_start_tls", "")).lower() == "true"
    plain = [u for u in uris if not u.startswith("ldaps://") and not (u.startswith("ldap://") and start_tls)]
    if plain:
        problems.append(f"明文 LDAP / LDAP without TLS: {plain}")
    if options.get("ldap_tls_reqcert") not in ("demand", "hard") or not client.get("ca_present"):
        problems.append(f"未校验目录证书 / certificate not verified: ldap_tls_reqcert="
                        f"{options.get('ldap_tls_reqcert', '(unset)')}, CA file present={client.get('ca_present')}")
    groups, access_problems = _directory_login_groups(client)
    problems.extend(access_problems)
    nss = client.get("nss") or {}
    if "sss" not in (nss.get("passwd") or []) or not client.get("pam_sss"):
        problems.append(f"NSS/PAM 未接入 SSSD / NSS or PAM without sss: passwd={nss.get('passwd')} "
                        f"pam_sss={client.get('pam_sss')}")
    sudoers = client.get("sudoers")
    if sudoers is None:
        problems.append(f"无角色 sudoers / no {DIRECTORY_SUDOERS}")
    elif (sudoers.get("mode"), sudoers.get("owner"), sudoers.get("group")) != ("0440", "root", "root"):
        problems.append(f"{DIRECTORY_SUDOERS} 权限 {sudoers.get('mode')} {sudoers.get('owner')}:"
                        f"{sudoers.get('group')} (want 0440 root:root)")
    rules = client.get("sudo_rules") or {}
    aliases = client.get("aliases") or {}
    used: dict[str, str] = {}
    for group in sorted(groups & set(DIRECTORY_ROLE_GROUPS)):
        specs = rules.get(group) or []
        if not specs:
            problems.append(f"角色 {group} 无 sudo 规则 / no sudo rule for %{group}")
            continue
        for spec in specs:
            commands = _sudo_commands(spec)
            loose = [c for c in commands if c not in aliases]
            if any(c == "ALL" or "ALL" in aliases.get(c, []) for c in commands):
                problems.append(f"%{group} 可执行任意命令 / %{group} may run any command ({spec})")
            elif loose:
                problems.append(f"%{group} 的 sudo 规则含角色命令别名以外的命令 / %{group} may run commands outside "
                                f"its role's Cmnd_Alias: {loose} ({spec})")
            for command in commands:
                if command in used and used[command] != group:
                    problems.append(f"%{group} 与 %{used[command]} 权限相同 / same rights as %{used[command]} "
                                    f"({command})")
                used.setdefault(command, group)
    for group in sorted(set(rules) - set(DIRECTORY_ROLE_GROUPS)):
        problems.append(f"角色外的组有 sudo 规则 / sudo rule for a group outside the roles: %{group}")
    command = (client.get("sshd") or {}).get("authorizedkeyscommand", "none")
    if not command.startswith("/usr/bin/sss_ssh_authorizedkeys"):
        problems.append(f"SSH 公钥不取自目录 / AuthorizedKeysCommand {command} "
                        "(want /usr/bin/sss_ssh_authorizedkeys %u)")
    return problems


@host_hardening.rule(
    id="XZ-HOST-DIRECTORY",
    title="主机接入区域运维人员目录 (SSSD over LDAPS, 校验证书, 仅三员角色组登录, 按角色分离的 sudo, 目录 SSH 公钥)",
    title_en="Host enrolled in the region's operator directory: SSSD over LDAPS with certificate verification, "
             "login for the three administrator role groups only, separated sudo rights per role, SSH keys from "
             "the directory",
    severity=Severity.HIGH,
    controls=DIRECTORY_CONTROLS,
    remediation="roles/directory_client (清单 xzgov_directory_uri 由 `xzgov inventory` 给出): SSSD ldaps:// + "
                "ldap_tls_reqcert=demand, access_provider=ldap 且过滤器排除锁定账户, PAM account 栈仅放行 "
                "sysadmin/auditadmin/secadmin (pam_succeed_if user ingroup, requisite), "
                f"{DIRECTORY_SUDOERS} (0440 root) 按角色授权, AuthorizedKeysCommand sss_ssh_authorizedkeys "
                "/ join the directory the inventory names with the directory_client role",
    facts=("host", "directory_client"),
)
def directory(facts: Facts) -> Outcome:
    """When the inventory names a directory (``xzgov_directory_uri``), the host is enrolled in it: sssd active
    with ``id/auth_provider = ldap`` towards that URI over LDAPS (or LDAP with StartTLS), the directory's
    certificate verified against the region's CA (8.1.4.1.a unique, centrally managed identities); login limited
    to the three administrator role groups (8.1.4.2.a), so an operator removed from the directory loses access
    (8.1.4.2.c); one sudo rule per role in a root-owned 0440 sudoers file, none granting every command and no two
    roles the same rights (8.1.4.2.d, 8.1.5.1.a / 8.1.5.2.a / 8.1.5.3.a: each administrator limited to the
    role's operations); SSH public keys from the directory (AuthorizedKeysCommand). Without a directory in the
    inventory the rule has nothing to judge (the items are other rules' or the assessor's)."""
    uri = str(facts["host"].get("directory_uri") or "")
    client = facts["directory_client"]
    if not uri:
        return nothing_to_judge("清单未指定运维目录 / the inventory names no directory (xzgov_directory_uri)",
                              facts.evidence("xzgov_directory_uri unset", "host"))
    options = client.get("options") or {}
    evidence = facts.evidence(
        f"sssd_active={client.get('sssd_active')} ldap_uri={options.get('ldap_uri')} "
        f"reqcert={options.get('ldap_tls_reqcert')} access_provider={options.get('access_provider')} "
        f"sudoers={client.get('sudoers')} sudo_rules={sorted(client.get('sudo_rules') or {})} "
        f"authorizedkeyscommand={(client.get('sshd') or {}).get('authorizedkeyscommand')}", "directory_client")
    problems = _directory_problems(client, uri)
    if problems:
        return failed("; ".join(problems), evidence)
    return passed(f"已接入运维目录 {uri}, 三员角色分离 / enrolled in {uri}, roles separated", evidence)


# ------------------------------------------------------------------ the log centre itself (issue 15)

#: days a source's newest seal may lag behind the scan (sealing runs daily after midnight for the day before)
LOG_CENTRE_SEAL_LAG_DAYS = 2


def _days_between(first: str | None, last: str | None) -> int | None:
    import datetime as dt

    try:
        return (dt.date.fromisoformat(str(last)) - dt.date.fromisoformat(str(first))).days
    except ValueError:
        return None


def _log_centre_problems(centre: dict[str, Any], required: int) -> tuple[list[str], list[str]]:
    """(failures, shortfalls) of the log centre's retention and daily sealing."""
    problems: list[str] = []
    shortfalls: list[str] = []
    if not centre.get("receiver"):
        problems.append("rsyslog 未配置接收 / rsyslog does not receive (no 20-xzgov-centre.conf)")
    if not centre.get("sealer"):
        problems.append("未安装封存服务 / no xzgov-log-seal.service")
        return problems, shortfalls
    retention = centre.get("retention_days")
    if retention is None or retention < required:
        problems.append(f"留存 {retention if retention is not None else '未设置 (unset)'} 天 < 要求 {required} 天 / "
                        f"retention {retention} d below the required {required} d")
    timer = centre.get("timer") or {}
    if (timer.get("enabled"), timer.get("active")) != ("enabled", "active"):
        problems.append(f"封存定时器 / xzgov-log-seal.timer {timer.get('enabled') or '-'} {timer.get('active') or '-'}")
    run = centre.get("last_run") or {}
    if not run.get("ran"):
        problems.append("封存从未运行 / the daily sealing has not run since boot")
    elif run.get("result") != "success" or run.get("status") != 0:
        problems.append(f"上次封存失败 / last sealing failed (Result={run.get('result')} status={run.get('status')})")
    if not centre.get("public_key"):
        problems.append("无封存公钥 / no seal public key")
    today = centre.get("today")
    sources = centre.get("sources") or {}
    sealed_any = False
    for source, info in sorted(sources.items()):
        signature = info.get("signature")
        if signature is None:
            lag = _days_between(info.get("oldest"), today)
            if lag is not None and lag >= LOG_CENTRE_SEAL_LAG_DAYS:
                problems.append(f"{source}: {info.get('oldest')} 起未封存 / nothing sealed since {info.get('oldest')}")
            continue
        sealed_any = True
        if signature != "valid":
            problems.append(f"{source}/{info.get('sealed')}.seal: 签名 {signature} / SM2 signature {signature}")
        if info.get("chain_matches") is False:
            problems.append(f"{source}/{info.get('sealed')}: 链头与 .chain 不符 / head differs from the chain file")
        lag = _days_between(info.get("sealed"), today)
        if lag is not None and lag > LOG_CENTRE_SEAL_LAG_DAYS:
            problems.append(f"{source}: 最新封存 {info.get('sealed')} 已 {lag} 天 / newest seal {lag} days old")
    if not sealed_any:
        shortfalls.append("尚无已封存日 / no day sealed yet")
    return problems, shortfalls


@host_hardening.rule(
    id="XZ-HOST-LOG-CENTRE",
    title="日志中心: 审计记录留存不少于规定天数 (min_log_retention_days, 默认 180 天) 且不少于各系统声明, 每日以 SM3 "
          "哈希链封存并经 SM2 签名",
    title_en="Log centre: records kept ≥ min_log_retention_days (180 by default) and ≥ every system's declared "
             "retention, each day sealed "
             "into an SM3 hash chain signed with SM2",
    severity=Severity.HIGH,
    controls=(
        f"{G22239}:{{L}}.1.5.4.d",  # 集中管控: audit data collected centrally, kept as the law requires (≥ 6 months)
        f"{G22239}:{{L}}.1.4.3.c",  # 安全审计: records protected against unexpected deletion, modification
    ),
    levels=(3, 4),
    remediation="roles/log_centre (清单 xzgov_secmgmt_role: log-centre): log_centre_retention_days ≥ "
                "${min_log_retention_days} 且 ≥ "
                "各系统 xzgov_log_retention_days, xzgov-log-seal.timer 启用并成功运行 "
                "/ deploy the log centre with the log_centre role; run `xzgov logs verify` on a failure",
    facts=("host", "log_centre"),
)
def log_centre(facts: Facts) -> Outcome:
    """On the region's log centre (inventory ``xzgov_secmgmt_role: log-centre``, or a host where the centre is
    installed): rsyslog receives; the daily sealer's retention is at least ``min_log_retention_days`` (the same
    threshold XZ-MAN-LOG-RETENTION holds each system to: 180 days, 网络安全法第二十一条, unless the region's
    ``compliance/config.yaml`` sets more) and at least every system's
    declared retention (``xzgov_log_retention_days`` of the centre, and ``xzgov_log_centre_retention_days`` when
    the inventory gives the longest of the systems sending to it); the seal timer is enabled and active and its
    last run succeeded; every source's newest seal is at most two days old, its SM2 signature verifies with the
    centre's key and its head equals the chain file's last value. The line-by-line check of the stored days is
    ``xzgov logs verify`` (offline, on a copy); the scan checks that sealing happens and what it signed holds."""
    host = facts["host"]
    centre = facts["log_centre"]
    if host.get("secmgmt_role") != "log-centre" and not centre.get("sealer") and not centre.get("receiver"):
        # a web host has no say on the centre's retention or seals: the log centre's own run judges them
        return nothing_to_judge("非日志中心 / not a log centre (xzgov_secmgmt_role)",
                                facts.evidence(f"xzgov_secmgmt_role={host.get('secmgmt_role') or '(unset)'}", "host"))
    declared = [d for d in (host.get("log_retention_days"), host.get("log_centre_retention_days"))
                if isinstance(d, int) and not isinstance(d, bool)]
    required = max([int(threshold(_thresholds(facts), "min_log_retention_days")), *declared])
    sources = centre.get("sources") or {}
    evidence = facts.evidence(
        f"retention_days={centre.get('retention_days')} (required {required}) timer={centre.get('timer')} "
        f"last_run={centre.get('last_run')} sources="
        + ", ".join(f"{s}: sealed {i.get('sealed')} {i.get('signature')} chain={i.get('chain_matches')}"
                    for s, i in sorted(sources.items())), "log_centre")
    problems, shortfalls = _log_centre_problems(centre, required)
    if problems:
        return failed("; ".join(problems), evidence)
    if shortfalls:
        return partial("; ".join(shortfalls), evidence)
    return passed(f"留存 {centre.get('retention_days')} 天, {len(sources)} 个来源每日封存且签名有效 / "
                  f"kept {centre.get('retention_days')} d, {len(sources)} sources sealed daily, signatures valid",
                  evidence)


#: days before a client certificate's expiry from which the scan reports it (renew before the centre refuses it)
LOG_CLIENT_CERT_RENEW_DAYS = 30


@host_hardening.rule(
    id="XZ-HOST-LOG-MTLS",
    title="日志上送使用区域 CA 签发的客户端证书 (双向 TLS), 私钥仅 root 可读",
    title_en="Log forwarding authenticates with a client certificate of the region's CA (mutual TLS); the key is "
             "root's only",
    severity=Severity.HIGH,
    controls=(f"{G22239}:{{L}}.1.4.3.c",),  # 审计记录保护: only authenticated hosts add to the central records
    levels=(2, 3, 4),
    remediation="roles/log_forwarding: log_forwarding_cert_src|_pem 与 log_forwarding_key_src|_pem (私钥经 SM4 "
                "vault) 为本主机签发的区域 CA 客户端证书 / give each host its client certificate from the region's CA",
    facts=("log_forwarding", "log_tls"),
)
def log_mtls(facts: Facts) -> Outcome:
    """The host forwards over TLS and presents a client certificate (``StreamDriver.CertFile`` / ``KeyFile``,
    or the global ``DefaultNetstreamDriver*``): the certificate is valid now and issued by the CA file rsyslog
    verifies the log centre with (the region's CA, which the centre trusts alone), the key exists and is
    root's only. Expiry within 30 days is partial: the centre refuses the host the day it expires."""
    forwarding = facts["log_forwarding"]
    tls = facts["log_tls"]
    targets = [f"{t['host']}:{t.get('port')}" for t in forwarding.get("targets", []) if t.get("tls")]
    certs = tls.get("certs") or {}
    keys = tls.get("keys") or {}
    evidence = facts.evidence(
        f"tls targets={targets} ca_files={sorted(tls.get('ca_files') or {})} certs="
        + "; ".join(f"{p} issued_by={c.get('issued_by')} valid_now={c.get('valid_now')} days_left={c.get('days_left')}"
                    for p, c in sorted(certs.items()))
        + f" keys={[(p, k.get('mode'), k.get('owner')) for p, k in sorted(keys.items())]} missing={tls.get('missing')}",
        "log_tls")
    if not targets:
        return failed("日志未经 TLS 上送 / no TLS forwarding (XZ-HOST-LOG-FORWARD)", evidence)
    problems = [f"{m.get('kind')} {m.get('path')} 不存在 / missing" for m in tls.get("missing") or []]
    if not certs:
        problems.append("未配置客户端证书, 日志中心 (双向 TLS) 将拒收 / no client certificate: the log centre "
                        "(mutual TLS) refuses this host")
    if certs and not keys:
        problems.append("未配置客户端私钥 / no client key (StreamDriver.KeyFile)")
    for path, key in sorted(keys.items()):
        try:
            mode: int | None = int(str(key.get("mode")), 8)
        except ValueError:
            mode = None
        if mode is None or mode & 0o077 or key.get("owner") != "root":
            problems.append(f"{path} 权限 {key.get('mode')} {key.get('owner')} (want 0600 root)")
    renew = []
    for path, cert in sorted(certs.items()):
        if not cert.get("parsed"):
            problems.append(f"{path} 不是 PEM 证书 / not a PEM certificate")
        elif not cert.get("issued_by"):
            problems.append(f"{path} 非区域 CA 签发 / not issued by the configured CA "
                            f"{sorted(tls.get('ca_files') or {})}")
        elif not cert.get("valid_now"):
            problems.append(f"{path} 已过期或未生效 / expired or not yet valid ({cert.get('not_after')})")
        elif int(cert.get("days_left") or 0) < LOG_CLIENT_CERT_RENEW_DAYS:
            renew.append(f"{path} {cert.get('days_left')} 天后过期 / expires in {cert.get('days_left')} days")
    if problems:
        return failed("; ".join(problems), evidence)
    if renew:
        return partial("; ".join(renew), evidence)
    return passed("日志经双向 TLS 上送, 客户端证书由区域 CA 签发 / mutual TLS with a certificate of the region's CA",
                  evidence)
