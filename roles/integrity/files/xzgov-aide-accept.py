#!/usr/bin/python3
"""Accept the package manager's changes into the AIDE database, after verifying them (xzgov roles/integrity).

    xzgov-aide-accept pre  --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...
    xzgov-aide-accept post --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...

Run by apt around every dpkg run (/etc/apt/apt.conf.d/90xzgov-aide-accept: DPkg::Pre-Invoke and
DPkg::Post-Invoke), so security updates installed by unattended-upgrades do not raise the daily intrusion alert
(GB/T 22239-2019 x.1.4.4.f) — while nothing that differs from its package is ever accepted:

* ``pre`` records where /var/log/dpkg.log ends, which package owns each path under the watched trees and a
  digest of each entry of the account files (no password hash is copied).
* ``post`` reads the packages dpkg installed, upgraded or removed since then (dpkg.log), lets AIDE compare the
  watched trees with its database (``aide --update``: report + a database of the current state) and accepts a
  reported entry only when it comes from those packages:
    - a regular file owned by one of them whose content matches the package's own checksum (its md5sums entry or
      conffile hash, compared by ``dpkg --verify``) and whose owner/mode did not change;
    - a symbolic link owned by one of them whose target is such a verified file (or a package directory);
    - a directory owned by one of them (new), or whose only changes are times, size and link count;
    - a removed path that one of them owned before the run.
    - what the packages' own maintainer scripts do on installation, which no package checksum covers, only in the
      shapes those scripts take: a system account added (``adduser --system``: /etc/passwd, group, shadow,
      gshadow and their ``-`` backups) when every existing entry is unchanged and each new one has a system
      UID/GID, no login shell, no password and no group members but accounts added alongside; a unit enabled
      (deb-systemd-helper: a link in /etc/systemd/system, or one of its ``.wants``/``.requires`` directories,
      named as the unit, one of its instances or its ``Alias=``) towards a unit file of one of the packages
      that matches its checksum, or update-rc.d's runlevel link to its verified init script; an alternative
      (update-alternatives: /etc/alternatives/NAME at the path it selects, a file of the packages matching its
      checksum, and the master and slave links towards it); a directory holding only such accepted entries.
  Every other entry (a file edited by hand, one without a package checksum, one differing from it, an account
  someone could log in with) is NOT accepted: the new database keeps its old record (or none), so the next
  ``aide --check`` still reports it.
* Accepted and refused entries are logged to syslog (authpriv: notice / alert), hence to the log centre.

Never fails apt: errors are logged (authpriv.err) and the daily check then reports the changes as before.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import gzip
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import syslog
import tempfile
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_DIR = Path("/var/lib/xzgov/aide-accept")
DPKG_LOG = Path("/var/log/dpkg.log")
DPKG_INFO = Path("/var/lib/dpkg/info")
DPKG_STATUS = Path("/var/lib/dpkg/status")
LOCK = Path("/run/xzgov-aide-accept.lock")
#: dpkg.log actions that unpack or remove a package's files
FILE_ACTIONS = ("install", "upgrade", "remove", "purge")
#: AIDE attributes a directory may change when entries are added to or removed from it
DIRECTORY_CHANGES = {"size", "modify_time", "change_time", "link_count", "linkcount", "lcount", "mtime", "ctime"}
#: AIDE attributes a package upgrade changes on a file it replaces (content checked against dpkg separately)
FILE_CHANGES = DIRECTORY_CHANGES | {"inode", "sha256", "sha512", "md5", "sha1", "rmd160", "tiger", "whirlpool",
                                    "gost", "haval", "crc32", "crc32b", "stribog256", "stribog512", "bcount",
                                    "block_count", "access_time", "atime"}
LOG_LIST_LIMIT = 40
#: The account files a package's maintainer scripts change when they add its system account, by their kind
ACCOUNT_FILES = {"/etc/passwd": "passwd", "/etc/group": "group", "/etc/shadow": "shadow", "/etc/gshadow": "gshadow"}
#: What shadow's tools leave beside each of them: the file as it was before their last change
ACCOUNT_BACKUPS = {f"{path}-": path for path in ACCOUNT_FILES}
#: Shells no one logs in with (a system account's)
NO_LOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"})
#: The system UID/GID range when neither /etc/login.defs nor /etc/adduser.conf names one (Debian's defaults)
SYSTEM_IDS = (100, 999)
#: nogroup: the primary group ``adduser --system`` gives an account without its own group
NOGROUP = 65534
#: Where a package's enabled units are linked (deb-systemd-helper) and where their unit files live
UNIT_LINK_TOPS = ("/etc/systemd/system", "/etc/systemd/user")
UNIT_LINK_DIRS = (".wants", ".requires", ".upholds")
UNIT_FILE_DIRS = ("/systemd/system/", "/systemd/user/")
#: update-rc.d's runlevel directories and the links it makes there (``S01uuidd`` → ../init.d/uuidd)
#: update-alternatives' link directory (the links of each alternative point there)
ALTERNATIVES = "/etc/alternatives"
SYSV_LINK_DIR = re.compile(r"/etc/rc[0-6S]\.d")
SYSV_LINK_NAME = re.compile(r"[SK][0-9]{2}[^/]+")


def log(priority: int, message: str) -> None:
    syslog.openlog("xzgov-aide-accept", syslog.LOG_PID, syslog.LOG_AUTHPRIV)
    syslog.syslog(priority, message)
    print(message, file=sys.stderr if priority <= syslog.LOG_WARNING else sys.stdout)


# ------------------------------------------------------------------------------------------- dpkg


def package_name(name: str) -> str:
    """``tree:amd64`` → ``tree`` (dpkg.log and info files name multi-arch packages with the architecture)."""
    return name.split(":", 1)[0]


def processed_packages(lines: Iterable[str]) -> dict[str, str]:
    """dpkg.log lines → {package: last file action} for the packages whose files were unpacked or removed."""
    packages: dict[str, str] = {}
    for line in lines:
        words = line.split()
        if len(words) >= 4 and words[2] in FILE_ACTIONS:
            packages[package_name(words[3])] = words[2]
    return packages


def read_log_since(state: dict[str, Any], log_path: Path = DPKG_LOG) -> list[str]:
    """The dpkg.log lines written after the position ``pre`` recorded (across one rotation)."""
    inode, offset = state.get("inode"), int(state.get("offset") or 0)
    chunks: list[str] = []
    try:
        current = log_path.stat()
    except FileNotFoundError:
        return []
    if inode is not None and current.st_ino != inode:  # rotated: the rest of the old file, then the new one
        rotated = log_path.with_name(log_path.name + ".1")
        with contextlib.suppress(OSError):
            if rotated.stat().st_ino == inode:
                with rotated.open("rb") as handle:
                    handle.seek(offset)
                    chunks.append(handle.read().decode("utf-8", "replace"))
        offset = 0
    with log_path.open("rb") as handle:
        handle.seek(offset if offset <= current.st_size else 0)
        chunks.append(handle.read().decode("utf-8", "replace"))
    return "".join(chunks).splitlines()


def info_file(package: str, suffix: str, info: Path = DPKG_INFO) -> Path | None:
    plain = info / f"{package}.{suffix}"
    if plain.exists():
        return plain
    return next(iter(sorted(info.glob(f"{package}:*.{suffix}"))), None)


def owned_paths(packages: Iterable[str] | None, watch: tuple[str, ...], info: Path = DPKG_INFO) -> dict[str, str]:
    """{path: package} of the files the packages (all when ``None``) own under the watched trees."""
    owners: dict[str, str] = {}
    tops, prefixes = set(watch), tuple(top.rstrip("/") + "/" for top in watch)
    lists = sorted(info.glob("*.list")) if packages is None else [
        found for found in (info_file(package, "list", info) for package in packages) if found]
    for list_file in lists:
        package = package_name(list_file.name.removesuffix(".list"))
        for listed in list_file.read_text(encoding="utf-8", errors="replace").splitlines():
            path = real_parent(listed)  # /bin/cat is /usr/bin/cat, where AIDE sees it, on a merged /usr
            if path.startswith(prefixes) or path in tops:  # under(), for the ~100,000 paths of every package
                owners[path] = package
    return owners


def checksummed_paths(packages: Iterable[str], info: Path = DPKG_INFO, status: Path = DPKG_STATUS) -> set[str]:
    """Paths for which dpkg holds a checksum: md5sums entries and conffiles of the packages."""
    wanted = set(packages)
    paths: set[str] = set()
    for package in wanted:
        md5sums = info_file(package, "md5sums", info)
        if md5sums:
            for line in md5sums.read_text(encoding="utf-8", errors="replace").splitlines():
                _, _, relative = line.partition("  ")
                if relative:
                    paths.add(real_parent("/" + relative))
    current = None
    in_conffiles = False
    for line in status.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Package:"):
            current, in_conffiles = line.split(":", 1)[1].strip(), False
        elif line.startswith("Conffiles:"):
            in_conffiles = current in wanted
        elif in_conffiles and line.startswith(" "):
            words = line.split()
            if len(words) >= 2 and "obsolete" not in words[2:]:
                paths.add(real_parent(words[0]))
        else:
            in_conffiles = False
    return paths


def dpkg_verify_failures(packages: Iterable[str]) -> set[str]:
    """Paths ``dpkg --verify`` reports (content differs from the package's checksum, or missing)."""
    names = sorted(set(packages))
    if not names:
        return set()
    result = subprocess.run(["dpkg", "--verify", *names], capture_output=True, text=True, check=False)
    failures = set()
    for line in result.stdout.splitlines():
        if len(line) > 12 and line[12] == "/":
            failures.add(real_parent(line[12:]))
    return failures


def under(path: str, watch: tuple[str, ...]) -> bool:
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in watch)


def package_files(packages: Iterable[str], info: Path = DPKG_INFO) -> dict[str, str]:
    """{real path: package} of the regular files the packages ship, wherever they are (a unit file listed as
    /lib/…, the target of an alternative under /usr/share): the path a link to them resolves to."""
    found: dict[str, str] = {}
    for package in packages:
        list_file = info_file(package, "list", info)
        if list_file is None:
            continue
        for listed in list_file.read_text(encoding="utf-8", errors="replace").splitlines():
            path = real_parent(listed)
            if path.startswith("/") and os.path.isfile(path) and not os.path.islink(path):
                found[path] = package_name(list_file.name.removesuffix(".list"))
    return found


def parse_alternative(query: str) -> tuple[dict[str, str], dict[str, str]]:
    """``update-alternatives --query NAME``'s output → ({link: master or slave name}, {name: the path selected
    for it}); a link as the query names it (/bin/nc)."""
    blocks = [block.splitlines() for block in query.strip().split("\n\n")]
    links: dict[str, str] = {}
    values: dict[str, str] = {}
    head = blocks[0] if blocks else []
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in head if ":" in line
              and not line.startswith(" ")}
    name, value = fields.get("Name", ""), fields.get("Value", "none")
    if not name:
        return links, values
    if fields.get("Link"):
        links[fields["Link"]] = name
    for line in head:
        if line.startswith(" ") and len(line.split()) == 2:
            slave, link = line.split()
            links[link] = slave
    if value != "none":
        values[name] = value
        for block in blocks[1:]:
            if f"Alternative: {value}" in block:
                for line in block:
                    if line.startswith(" ") and len(line.split()) == 2:
                        slave, path = line.split()
                        values[slave] = path
    return links, values


def read_alternatives() -> tuple[dict[str, str], dict[str, str]]:
    """Every alternative's links (by their real path: /bin/nc is /usr/bin/nc on a merged /usr) and selections,
    as update-alternatives reports them."""
    selections = subprocess.run(["update-alternatives", "--get-selections"], capture_output=True, text=True,
                                check=False).stdout
    links: dict[str, str] = {}
    values: dict[str, str] = {}
    for line in selections.splitlines():
        words = line.split()
        if not words:
            continue
        query = subprocess.run(["update-alternatives", "--query", words[0]], capture_output=True, text=True,
                               check=False).stdout
        found, chosen = parse_alternative(query)
        links.update({real_parent(link): name for link, name in found.items()})
        values.update(chosen)
    return links, values


def real_parent(path: str) -> str:
    """``path`` with its directory's real path (a link's own path, not its target): the one name of a path on a
    merged /usr, where a package lists /bin/cat and AIDE walks /usr/bin/cat."""
    head, _, tail = path.rpartition("/")
    if not tail or not head:  # "/", "/bin" (a link's own path), "relative"
        return path
    return f"{_real_directory(head)}/{tail}"


@functools.cache  # (a short-lived process: every directory dpkg lists, once)
def _real_directory(path: str) -> str:
    """``os.path.realpath`` of a directory, one lstat per directory: its parent's real path is known already."""
    parent, name = os.path.split(path)
    if not name or not parent:
        return path
    joined = os.path.join(_real_directory(parent), name)
    return os.path.realpath(joined) if os.path.islink(joined) else joined


# ------------------------------------------------------------------------------------------- accounts


def account_entries(text: str) -> dict[str, list[list[str]]]:
    """An account file's entries by name, each entry its fields (a name written twice keeps both)."""
    entries: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        if line.strip():
            fields = line.split(":")
            entries.setdefault(fields[0], []).append(fields)
    return entries


def _digest(entries: list[list[str]]) -> str:
    return hashlib.sha256(repr(entries).encode("utf-8")).hexdigest()


def account_digests(text: str) -> dict[str, str]:
    """{name: SHA-256 of its entries}: what ``pre`` keeps of an account file (no password hash leaves the file)."""
    return {name: _digest(entries) for name, entries in account_entries(text).items()}


def system_id_range(login_defs: str | None, adduser_conf: str | None) -> tuple[int, int]:
    """The UIDs/GIDs system accounts take: the widest of what /etc/login.defs (SYS_UID_MIN, SYS_UID_MAX) and
    /etc/adduser.conf (FIRST_SYSTEM_UID, LAST_SYSTEM_UID) say, Debian's 100–999 for what neither says."""
    said: dict[str, int] = {}
    for text in (login_defs or "", adduser_conf or ""):
        for line in text.splitlines():
            words = line.replace("=", " ").split()
            if len(words) >= 2 and not words[0].startswith("#") and words[1].isdigit():
                said[words[0]] = int(words[1])
    low = [said[key] for key in ("SYS_UID_MIN", "FIRST_SYSTEM_UID") if key in said] or [SYSTEM_IDS[0]]
    high = [said[key] for key in ("SYS_UID_MAX", "LAST_SYSTEM_UID") if key in said] or [SYSTEM_IDS[1]]
    return max(1, min(low)), max(high)


def _number(fields: list[str], index: int) -> int | None:
    value = fields[index] if len(fields) > index else ""
    return int(value) if value.isdigit() else None


def _added_entry_problem(kind: str, fields: list[str], ids: tuple[int, int], accounts: set[str]) -> str | None:
    """Why a new entry of an account file is not a system account's as a package adds it (None: it is).
    ``accounts``: the names added to /etc/passwd in this run (the only members a new group may have)."""
    low, high = ids
    name = fields[0]
    if kind == "passwd":
        uid, gid = _number(fields, 2), _number(fields, 3)
        shell = fields[6] if len(fields) == 7 else ""
        if len(fields) != 7 or fields[1] not in ("x", "*", "!"):
            return f"新增账户 {name} 的口令字段不是 x/*/! / added account {name}: its password field is not x, * or !"
        if uid is None or not low <= uid <= high:
            return f"新增账户 {name} 的 UID {fields[2]} 不在系统账户范围 {low}–{high} / added account {name}: " \
                   f"UID {fields[2]} outside the system range {low}–{high}"
        if gid is None or not (low <= gid <= high or gid == NOGROUP):
            return f"新增账户 {name} 的主组 {fields[3]} 不是系统组 / added account {name}: primary group {fields[3]} " \
                   "is no system group"
        if shell not in NO_LOGIN_SHELLS:
            return f"新增账户 {name} 可登录 (shell {shell}) / added account {name} has the login shell {shell}"
        return None
    if kind == "shadow":
        if name not in accounts:
            return f"新增 shadow 条目 {name} 无对应系统账户 / added shadow entry {name} has no system account added"
        if len(fields) < 2 or not fields[1].startswith(("!", "*")):
            return f"新增账户 {name} 设有口令 / added account {name} has a password (not locked)"
        return None
    members = fields[3] if len(fields) > 3 else ""
    others = sorted(set(filter(None, members.split(","))) - accounts)
    if others:
        return f"新增组 {name} 含成员 {','.join(others)} / added group {name} has the members {','.join(others)}"
    if kind == "group":
        gid = _number(fields, 2)
        if len(fields) != 4 or fields[1] not in ("x", "*", "!", ""):
            return f"新增组 {name} 设有组口令 / added group {name} has a group password"
        if gid is None or not low <= gid <= high:
            return f"新增组 {name} 的 GID {fields[2]} 不在系统组范围 {low}–{high} / added group {name}: GID " \
                   f"{fields[2]} outside the system range {low}–{high}"
        return None
    if len(fields) != 4 or not (fields[1] in ("", "*") or fields[1].startswith("!")):
        return f"新增组 {name} 设有组口令 / added group {name} has a group password"
    if fields[2]:
        return f"新增组 {name} 设有组管理员 {fields[2]} / added group {name} has the administrators {fields[2]}"
    return None


def judge_accounts(before: dict[str, dict[str, str]] | None, texts: dict[str, str | None], ids: tuple[int, int]
                   ) -> dict[str, tuple[str | None, str]]:
    """{account file or backup: (None, the accounts it gained) when every entry ``pre`` saw is unchanged and every
    new one is a system account as a package adds it, else (why not, "")}. ``before``: ``pre``'s
    :func:`account_digests` per account file; ``texts``: each account file's and backup's content now (None:
    absent)."""
    verdicts: dict[str, tuple[str | None, str]] = {}
    if before is None:
        why = "无 dpkg 运行前的账户快照 / no account snapshot from before the dpkg run"
        return {path: (why, "") for path in (*ACCOUNT_FILES, *ACCOUNT_BACKUPS) if texts.get(path) is not None}
    now = {path: account_entries(text) for path, text in texts.items() if text is not None}
    passwd_before = before.get("/etc/passwd", {})
    accounts = {name for name in now.get("/etc/passwd", {}) if name not in passwd_before}
    for path, kind in ACCOUNT_FILES.items():
        entries, seen = now.get(path), before.get(path, {})
        if entries is None:
            continue
        current = {name: _digest(fields) for name, fields in entries.items()}
        lost = sorted(name for name in seen if name not in current)
        altered = sorted(name for name in seen if name in current and current[name] != seen[name])
        added = [name for name in entries if name not in seen]
        problems = [_added_entry_problem(kind, fields, ids, accounts) for name in added for fields in entries[name]]
        problems += [f"{name} 出现多次 / {name} written twice" for name in added if len(entries[name]) > 1]
        if lost or altered:
            verdicts[path] = ("已有条目被删除或修改 / existing entries removed or changed: "
                              f"{', '.join(lost + altered)}", "")
        elif any(problems):
            verdicts[path] = ("; ".join(problem for problem in problems if problem), "")
        else:
            verdicts[path] = (None, ", ".join(added) or "none")
    for backup, path in ACCOUNT_BACKUPS.items():
        entries = now.get(backup)
        if entries is None:
            continue
        main_verdict = verdicts.get(path, ("", ""))[0]
        seen, final = before.get(path, {}), now.get(path, {})
        unknown = sorted(name for name, fields in entries.items()
                         if _digest(fields) != seen.get(name) and (name in seen or fields != final.get(name)))
        if main_verdict is not None:
            verdicts[backup] = (f"{path} 的变更未被接受 / the change of {path} is not accepted", "")
        elif unknown:
            verdicts[backup] = (f"备份含 {path} 中没有的条目 / the backup holds entries {path} has neither had "
                                f"nor has: {', '.join(unknown)}", "")
        else:
            verdicts[backup] = (None, f"the previous {path}")
    return verdicts


def read_accounts() -> dict[str, str | None]:
    """The content of every account file and backup now (None: absent)."""
    texts: dict[str, str | None] = {}
    for path in (*ACCOUNT_FILES, *ACCOUNT_BACKUPS):
        try:
            texts[path] = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            texts[path] = None
    return texts


def _read_optional(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# ------------------------------------------------------------------------------------------- decide


@dataclass
class Evidence:
    """What the decision needs about the system after the dpkg run."""

    packages: dict[str, str]  # processed package → action
    owned_now: dict[str, str]  # path → processed package owning it now
    owned_before: dict[str, str]  # path → package owning it before the run (pre snapshot)
    checksummed: set[str]  # paths with a dpkg checksum (of processed packages)
    verify_failures: set[str]  # paths dpkg --verify reports
    kinds: dict[str, str] = field(default_factory=dict)  # path → 'f' / 'd' / 'l' now (AIDE's type letter)
    #: account file → (None and the accounts added, or why not accepted): :func:`judge_accounts`
    accounts: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    #: real path of each file of the installed packages → package
    package_files: dict[str, str] = field(default_factory=dict)
    #: every alternative's master and slave links (real directory) → its name, and each name's selected path
    alternative_links: dict[str, str] = field(default_factory=dict)
    alternative_values: dict[str, str] = field(default_factory=dict)


def _kind(path: str) -> str:
    if os.path.islink(path):
        return "l"
    if os.path.isdir(path):
        return "d"
    return "f" if os.path.isfile(path) else "?"


def file_verified(path: str, evidence: Evidence) -> str | None:
    """None when ``path`` is a processed package's file matching its checksum, else why not."""
    if path not in evidence.owned_now:
        return "不属于本次安装/升级的软件包 / not owned by a package of this dpkg run"
    if path not in evidence.checksummed:
        return "软件包无该文件的校验和 / the package holds no checksum for it"
    if path in evidence.verify_failures:
        return "与软件包校验和不符 / differs from its package's checksum (dpkg --verify)"
    return None


def decide(report: dict[str, Any], evidence: Evidence) -> tuple[dict[str, str], dict[str, str]]:
    """AIDE's JSON report → ({accepted path: how}, {refused path: why})."""
    accepted: dict[str, str] = {}
    refused: dict[str, str] = {}
    details = report.get("details") or {}
    for path in report.get("removed") or {}:
        owner = evidence.owned_before.get(path)
        if owner in evidence.packages and not os.path.lexists(path):
            accepted[path] = f"removed with {owner}"
        else:
            refused[path] = "删除的路径不属于本次处理的软件包 / removed path not owned by a package of this dpkg run"
    entries = [(path, "added") for path in report.get("added") or {}]
    entries += [(path, "changed") for path in report.get("changed") or {}]
    directories = []
    for path, how in entries:
        kind = evidence.kinds.get(path) or _kind(path)
        changed = set((details.get(path) or {}).keys())
        owner = evidence.owned_now.get(path)
        if kind == "d":
            directories.append((path, how, changed, owner))
        elif kind == "l" and owner is None and (made := script_link(path, evidence)) is not None:
            reason, what = made
            if reason is None and how == "changed" and not changed <= FILE_CHANGES | {"link_name", "lname"}:
                reason = f"属性变更 / attributes changed ({sorted(changed - FILE_CHANGES)})"
            if reason:
                refused[path] = reason
            else:
                accepted[path] = what
        elif kind == "l":
            target = os.path.realpath(path)
            reason = None if owner else "不属于本次安装/升级的软件包 / not owned by a package of this dpkg run"
            if reason is None and not os.path.isdir(target):
                reason = file_verified(target, evidence)
                if reason:
                    reason = f"链接目标 {target}: {reason} / link target {target}: {reason}"
            if reason is None and how == "changed" and not changed <= FILE_CHANGES | {"link_name", "lname"}:
                reason = f"属性变更 / attributes changed ({sorted(changed - FILE_CHANGES)})"
            if reason:
                refused[path] = reason
            else:
                accepted[path] = f"link of {owner}"
        else:
            account = evidence.accounts.get(path) if owner is None else None
            reason = account[0] if account is not None else file_verified(path, evidence)
            if reason is None and how == "changed" and not changed <= FILE_CHANGES:
                reason = f"属主/权限变更 / owner, mode or ACL changed ({sorted(changed - FILE_CHANGES)})"
            if reason:
                refused[path] = reason
            elif account is not None:
                accepted[path] = f"system accounts added by the packages' scripts: {account[1]}"
            else:
                accepted[path] = f"matches {owner}'s checksum"
    # Directories last: a changed directory is explained by the packages when only its times, size and link count
    # changed and it is theirs, or when entries directly in it were accepted and none was refused.
    for path, how, changed, owner in directories:
        children = _children(path, report)
        explained = bool(children & accepted.keys()) and not children & refused.keys()
        if how == "added" and owner:
            accepted[path] = f"directory of {owner}"
        elif how == "added" and explained and _kept_by_root(path):
            # made by a package's script for entries accepted here (a unit's first link into a .wants directory)
            accepted[path] = "directory of entries accepted here"
        elif how == "changed" and changed <= DIRECTORY_CHANGES and (owner or explained):
            accepted[path] = "directory entries added/removed by the packages"
        else:
            refused[path] = f"目录变更无软件包依据 / directory change not explained by the packages ({sorted(changed)})"
    return accepted, refused


def _kept_by_root(path: str) -> bool:
    """A real directory owned by root that no one else may write to."""
    try:
        status = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == 0 and not status.st_mode & 0o022


def script_link(path: str, evidence: Evidence) -> tuple[str | None, str] | None:
    """(None and what it is, or why it is not accepted) for a link a package's maintainer script makes — an enabled
    unit's or init script's (:func:`unit_link`), an alternative's (update-alternatives) —; None for any other
    path."""
    if unit_link(path):
        return unit_link_verified(path, os.path.realpath(path), evidence), \
            f"enabled by the packages' scripts: {os.path.realpath(path)}"
    try:
        points_to = os.readlink(path)
    except OSError:
        points_to = ""
    if os.path.dirname(path) == ALTERNATIVES:
        name = os.path.basename(path)
        value = evidence.alternative_values.get(name)
        if value is None:
            return f"{name} 不是 update-alternatives 选定的替代项 / {name} is no alternative update-alternatives has " \
                   "selected", ""
        if points_to != value:
            return f"链接指向 {points_to}, 而替代项 {name} 选定 {value} / the link points to {points_to}, the " \
                   f"alternative {name} selects {value}", ""
        return package_file_verified(os.path.realpath(path), evidence), f"alternative {name}: {value}"
    link_of = evidence.alternative_links.get(real_parent(path))
    if link_of is None:
        return None
    if points_to != f"{ALTERNATIVES}/{link_of}":
        return f"替代项 {link_of} 的链接指向 {points_to} / the link of the alternative {link_of} points to " \
               f"{points_to}", ""
    return None, f"link of the alternative {link_of}"


def package_file_verified(target: str, evidence: Evidence) -> str | None:
    """None when ``target`` (a real path) is a file of a package of this run matching its checksum, else why not."""
    package = evidence.package_files.get(target)
    if package is None:
        return f"链接目标 {target} 不属于本次软件包 / link target {target} is no file of a package of this dpkg run"
    if target not in evidence.checksummed:
        return f"链接目标 {target}: 软件包无该文件的校验和 / link target {target}: {package} holds no checksum for it"
    if target in evidence.verify_failures:
        return (f"链接目标 {target}: 与软件包校验和不符 / link target {target}: differs from {package}'s checksum "
                "(dpkg --verify)")
    return None


def unit_link(path: str) -> bool:
    """Whether ``path`` is where an enabled service's link is read: a systemd unit directory of /etc (an alias)
    or one of its ``.wants`` / ``.requires`` / ``.upholds`` directories, or a SysV runlevel directory
    (/etc/rc2.d: update-rc.d's links for a package's init script)."""
    parent = os.path.dirname(path)
    return parent in UNIT_LINK_TOPS or (os.path.dirname(parent) in UNIT_LINK_TOPS and parent.endswith(UNIT_LINK_DIRS)) \
        or SYSV_LINK_DIR.fullmatch(parent) is not None


def unit_link_verified(path: str, target: str, evidence: Evidence) -> str | None:
    """None when the link at ``path`` (:func:`unit_link`) points at a unit file of a package of this run that
    matches its checksum, and is named as the unit, one of its instances (``getty@tty1.service`` towards
    ``getty@.service``) or one of its ``Alias=`` names — or, in a runlevel directory, at that package's verified
    init script, named ``S``/``K``, two digits and the script's name; else why not."""
    if SYSV_LINK_DIR.fullmatch(os.path.dirname(path)):
        name, script = os.path.basename(path), os.path.basename(target)
        if os.path.dirname(target) != "/etc/init.d" or SYSV_LINK_NAME.fullmatch(name) is None \
                or name[3:] != script:
            return f"链接 {name} 不是 /etc/init.d/{name[3:]} 的启动链接 / {name} is no runlevel link of an init script"
        reason = file_verified(target, evidence)
        return f"链接目标 {target}: {reason} / link target {target}: {reason}" if reason else None
    if target not in evidence.package_files or not any(part in target for part in UNIT_FILE_DIRS):
        return (f"链接目标 {target} 不是本次软件包的服务单元 / link target {target} is no unit file of a package of "
                "this dpkg run")
    reason = package_file_verified(target, evidence)
    if reason:
        return reason
    name, unit = os.path.basename(path), os.path.basename(target)
    stem, at, suffix = name.partition("@")
    if name == unit or (at and "." in suffix and unit == f"{stem}@.{suffix.rsplit('.', 1)[1]}"):
        return None
    if os.path.dirname(path) in UNIT_LINK_TOPS and name in unit_aliases(target):
        return None
    return f"链接名 {name} 不是单元 {unit} 的名称或别名 / link name {name} is neither the unit {unit} nor its alias"


def unit_aliases(unit_file: str) -> set[str]:
    """The names a unit file's ``[Install]`` section gives it (``Alias=``)."""
    try:
        text = Path(unit_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    section, names = "", set()
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Install]" and line.startswith("Alias="):
            names.update(line.split("=", 1)[1].split())
    return names


def _children(directory: str, report: dict[str, Any]) -> set[str]:
    """Reported entries directly inside ``directory``."""
    prefix = directory.rstrip("/") + "/"
    return {path for section in ("added", "removed", "changed") for path in report.get(section) or {}
            if path.startswith(prefix) and "/" not in path[len(prefix):]}


# ------------------------------------------------------------------------------------------- database


def _db_name(line: str) -> str | None:
    if not line or line.startswith(("@@", "#")):
        return None
    return urllib.parse.unquote(line.split(" ", 1)[0])


def merge_database(old: list[str], new: list[str], refused: Iterable[str]) -> list[str]:
    """The new database's lines, except that every refused path keeps its old record (or stays absent)."""
    refused_set = set(refused)
    old_records = {name: line for line in old if (name := _db_name(line)) is not None}
    merged: list[str] = []
    kept: set[str] = set()
    end = None
    for line in new:
        name = _db_name(line)
        if line.startswith("@@end_db"):
            end = line
            continue
        if name is None or name not in refused_set:
            merged.append(line)
        elif name in old_records:
            merged.append(old_records[name])
            kept.add(name)
    # refused removals: the file is gone from the new database; its old record keeps it reported as removed
    merged.extend(old_records[name] for name in sorted(refused_set - kept) if name in old_records
                  and not any(_db_name(line) == name for line in merged))
    merged.append(end or "@@end_db")
    return merged


def update_config(text: str, new_db: Path, report: Path) -> str:
    """The host's AIDE configuration with the new database and a JSON report written to the scratch directory
    (AIDE takes the first definition of these options, so the originals are left out)."""
    own = ("database_out", "report_url", "report_format", "report_level", "gzip_dbout")
    kept = [line for line in text.splitlines() if line.split("=", 1)[0].strip() not in own]
    return "\n".join([f"database_out=file:{new_db}", "gzip_dbout=yes", "report_format=json",
                      f"report_url=file:{report}", "report_level=list_entries", *kept]) + "\n"


def _read_db(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read().splitlines()


def _write_db(path: Path, lines: list[str]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".xzgov-aide-accept.")
    os.close(descriptor)
    with gzip.open(temporary, "wt", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


# ------------------------------------------------------------------------------------------- commands


def pre(args: argparse.Namespace) -> int:
    STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        log_file = DPKG_LOG.stat()
        position: dict[str, int | None] = {"inode": log_file.st_ino, "offset": log_file.st_size}
    except FileNotFoundError:
        position = {"inode": None, "offset": 0}
    accounts = {path: account_digests(text) for path, text in read_accounts().items()
                if text is not None and path in ACCOUNT_FILES}
    state = {**position, "owned": owned_paths(None, tuple(args.watch)), "accounts": accounts}
    (STATE_DIR / "pre.json").write_text(json.dumps(state), encoding="utf-8")
    return 0


def post(args: argparse.Namespace) -> int:
    state_file = STATE_DIR / "pre.json"
    db = Path(args.db)
    if not db.exists():
        return 0  # no baseline yet: site.yml builds it after the hardening
    if not state_file.exists():
        log(syslog.LOG_WARNING, "无 dpkg 运行前快照, 未接受任何变更 / no pre-dpkg snapshot: nothing accepted")
        return 0
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state_file.unlink()
    packages = processed_packages(read_log_since(state))
    if not packages:
        return 0
    watch = tuple(args.watch)
    with tempfile.TemporaryDirectory(prefix="xzgov-aide-accept.") as scratch:
        report_file = Path(scratch) / "report.json"
        new_db = Path(scratch) / "new.db"
        config = Path(scratch) / "aide.conf"
        config.write_text(update_config(Path(args.config).read_text(encoding="utf-8"), new_db, report_file),
                          encoding="utf-8")
        run = subprocess.run([args.aide, "--config", str(config), "--update"], capture_output=True, text=True,
                             check=False)
        if run.returncode == 0:
            return 0
        if run.returncode >= 14 or not report_file.exists() or not new_db.exists():
            log(syslog.LOG_ERR, f"AIDE 更新失败 (退出码 {run.returncode}), 未接受软件包变更 / aide --update failed "
                                f"(rc {run.returncode}): nothing accepted; {run.stderr.strip()[-300:]}")
            return 0
        report = json.loads(report_file.read_text(encoding="utf-8"))
        installed = [package for package, action in packages.items() if action in ("install", "upgrade")]
        evidence = Evidence(
            packages=packages, owned_now=owned_paths(installed, watch), owned_before=state.get("owned") or {},
            checksummed=checksummed_paths(installed), verify_failures=dpkg_verify_failures(installed),
            accounts=judge_accounts(state.get("accounts"), read_accounts(),
                                    system_id_range(_read_optional("/etc/login.defs"),
                                                    _read_optional("/etc/adduser.conf"))),
            package_files=package_files(installed))
        if any(os.path.islink(path) for section in ("added", "changed") for path in report.get(section) or {}):
            evidence.alternative_links, evidence.alternative_values = read_alternatives()
        accepted, refused = decide(report, evidence)
        _write_db(db, merge_database(_read_db(db), _read_db(new_db), refused))
    names = ", ".join(sorted(packages))
    if accepted:
        shown = sorted(accepted)[:LOG_LIST_LIMIT]
        log(syslog.LOG_NOTICE,
            f"已接受软件包变更 {len(accepted)} 项 (与软件包校验和一致) / accepted {len(accepted)} AIDE entries "
            f"changed by dpkg ({names}), verified against the packages' checksums: {' '.join(shown)}"
            + (" ..." if len(accepted) > len(shown) else ""))
        for path in sorted(path for path in accepted if path in ACCOUNT_FILES):  # who was added, by name
            log(syslog.LOG_NOTICE, f"已接受新增系统账户 / accepted {path}: {accepted[path]}")
    for path in sorted(refused):
        log(syslog.LOG_ALERT,
            f"入侵检测告警: 未接受的变更 {path}: {refused[path]} / INTRUSION ALERT: change NOT accepted into the AIDE "
            f"database, still reported by the daily check: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("phase", choices=("pre", "post"))
    parser.add_argument("--aide", default="/usr/bin/aide")
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--watch", action="append", required=True)
    args = parser.parse_args(argv)
    LOCK.touch(mode=0o600, exist_ok=True)
    try:
        with LOCK.open("r") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return pre(args) if args.phase == "pre" else post(args)
    except Exception as error:  # never fail apt: report, and let the daily check show the changes
        log(syslog.LOG_ERR, f"xzgov-aide-accept {args.phase} 出错 / failed: {type(error).__name__}: {error}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
