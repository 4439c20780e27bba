#!/usr/bin/python3
"""Accept the package manager's changes into the AIDE database, after verifying them (xzgov roles/integrity).

    xzgov-aide-accept pre  --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...
    xzgov-aide-accept post --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...

Run by apt around every dpkg run (/etc/apt/apt.conf.d/90xzgov-aide-accept: DPkg::Pre-Invoke and
DPkg::Post-Invoke), so security updates installed by unattended-upgrades do not raise the daily intrusion alert
(GB/T 22239-2019 x.1.4.4.f) — while nothing that differs from its package is ever accepted:

* ``pre`` records where /var/log/dpkg.log ends, which package owns each path under the watched trees, a digest
  of each entry of the account files (no password hash is copied) and each account file's SHA-256.
* ``post`` reads the packages dpkg installed, upgraded or removed since then (dpkg.log), lets AIDE compare the
  watched trees with its database (``aide --update``: report + a database of the current state) and accepts a
  reported entry only when it comes from those packages:
    - a regular file owned by one of them whose content matches the package's own checksum (its md5sums entry or
      conffile hash, compared by ``dpkg --verify``) and whose owner/mode did not change — named as a merged /usr
      names it (a package lists /bin/cat, AIDE walks /usr/bin/cat);
    - a symbolic link owned by one of them whose target is such a verified file (or a package directory);
    - a directory owned by one of them (new), or whose only changes are times, size and link count;
    - a removed path that one of them owned before the run;
    - what their maintainer scripts make on a first installation, which no package checksum covers, only in the
      shapes those scripts take: a system account or group added (``adduser --system``: /etc/passwd, group,
      shadow, gshadow and their ``-`` backups) when the files were as the AIDE database records them before the
      run, every existing entry is unchanged and each new one has a system UID/GID no one else holds, its own new
      group or nogroup, no login shell, no password and no members but accounts added with it; a unit enabled
      (deb-systemd-helper) where its ``[Install]`` section puts it, towards a unit file of a package installed
      for the first time that matches its checksum, or update-rc.d's runlevel link to such a package's verified
      init script; a new directory, root's, holding only accepted entries.
  Every other entry (a file edited by hand, one without a package checksum, one differing from it, an account
  someone could log in with, a unit an upgrade would enable, an alternative) is NOT accepted: the new database
  keeps its old record (or none), so the next ``aide --check`` still reports it.
* Accepted and refused entries are logged to syslog (authpriv: notice / alert), hence to the log centre.

Never fails apt: errors are logged (authpriv.err) and the daily check then reports the changes as before.
"""

from __future__ import annotations

import argparse
import base64
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
#: AIDE attributes of a backup's owner and mode (a backup shadow's tools rewrite takes its original's)
BACKUP_MODE = {"perm", "acl", "uid", "gid"}
#: Shells no one logs in with (a system account's)
NO_LOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"})
#: The system UID/GID range when neither /etc/login.defs nor /etc/adduser.conf names one (Debian's defaults)
SYSTEM_IDS = (100, 999)
#: nogroup: the primary group ``adduser --system`` gives an account without its own group
NOGROUP = 65534
#: why an account file is refused whatever the run added: it differed from the AIDE database when ``pre`` ran
CHANGED_BEFORE_RUN = ("在本次 dpkg 运行之前已被修改 (与 AIDE 数据库不符) / changed before this dpkg run (it differed "
                      "from the AIDE database)")
#: Where a package's enabled units are linked (deb-systemd-helper), by the ``[Install]`` key naming each link
#: directory's unit, and where packages put their unit files
UNIT_LINK_TOPS = ("/etc/systemd/system", "/etc/systemd/user")
UNIT_LINK_DIRS = {"wants": "WantedBy", "requires": "RequiredBy", "upholds": "UpheldBy"}
UNIT_FILE_DIRS = ("/usr/lib/systemd/system/", "/usr/lib/systemd/user/", "/lib/systemd/system/", "/lib/systemd/user/")
#: The top directories a merged /usr makes links to their /usr twins (usrmerge: Debian 12's default)
MERGED_USR = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: update-rc.d's runlevel directories and the links it makes there (``S01uuidd`` → ../init.d/uuidd)
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


def first_installed(lines: Iterable[str], installed_before: Iterable[str] | None) -> set[str]:
    """The packages this run installed for the first time: dpkg.log's lines say so (``install NAME <none>
    VERSION``) and ``pre``'s listing of the installed packages (:func:`installed_packages`) does not hold them (a
    line appended to the log is not enough). Only then do their maintainer scripts enable units
    (deb-systemd-helper, update-rc.d): an upgrade leaves the admin's choice. None without a listing."""
    if installed_before is None:
        return set()
    before = set(installed_before)
    return {name for name in (package_name(words[3]) for words in (line.split() for line in lines)
                              if len(words) >= 6 and words[2] == "install" and words[4] == "<none>")
            if name not in before}


def installed_packages() -> list[str]:
    """The packages dpkg holds as installed, in any state but not-installed and config-files (``dpkg-query``)."""
    listing = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\n"], capture_output=True,
                             text=True, check=False).stdout
    return sorted({words[0] for words in (line.split("\t") for line in listing.splitlines())
                   if len(words) == 2 and len(words[1]) >= 2 and words[1][1] not in "nc"})


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
            path = canonical_path(listed)  # /bin/cat is /usr/bin/cat, where AIDE sees it, on a merged /usr
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
                    paths.add(canonical_path("/" + relative))
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
                paths.add(canonical_path(words[0]))
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
            failures.add(canonical_path(line[12:]))
    return failures


def under(path: str, watch: tuple[str, ...]) -> bool:
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in watch)


def package_files(packages: Iterable[str], info: Path = DPKG_INFO) -> dict[str, str]:
    """{path: package} of the regular files the packages ship, wherever they are (a unit file listed as
    /lib/systemd/system/x: :func:`canonical_path` names it as a link to it resolves)."""
    found: dict[str, str] = {}
    for package in packages:
        list_file = info_file(package, "list", info)
        if list_file is None:
            continue
        name = package_name(list_file.name.removesuffix(".list"))
        for listed in list_file.read_text(encoding="utf-8", errors="replace").splitlines():
            path = canonical_path(listed)
            if os.path.isfile(path) and not os.path.islink(path):
                found[path] = name
    return found


@functools.cache
def merged_usr(root: str = "/") -> dict[str, str]:
    """{"/bin": "/usr/bin", …}: each top directory ``root`` has merged into /usr (a link to ``usr/bin``)."""
    merged: dict[str, str] = {}
    for top in MERGED_USR:
        try:
            target = os.readlink(os.path.join(root, top.lstrip("/")))
        except OSError:
            continue
        if target.rstrip("/") in (f"usr{top}", f"/usr{top}"):
            merged[top] = f"/usr{top}"
    return merged


def canonical_path(path: str) -> str:
    """The one name of a path a package lists on a merged /usr: /bin/cat is /usr/bin/cat, where AIDE walks. Only
    the merged top directories are followed: a directory link anyone else made is not (dpkg writes through it,
    and the package's files would count as owned wherever it points)."""
    top, slash, rest = path[1:].partition("/")
    twin = merged_usr().get(f"/{top}") if slash and rest and path.startswith("/") else None
    return f"{twin}/{rest}" if twin else path


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


def system_id_range(login_defs: str | None, adduser_conf: str | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """The UIDs and the GIDs system accounts and groups take: the widest of what /etc/login.defs (SYS_UID_MIN …
    SYS_GID_MAX) and /etc/adduser.conf (FIRST_SYSTEM_UID … LAST_SYSTEM_GID) say, Debian's 100–999 for what
    neither says."""
    said: dict[str, int] = {}
    for text in (login_defs or "", adduser_conf or ""):
        for line in text.splitlines():
            words = line.replace("=", " ").split()
            if len(words) >= 2 and not words[0].startswith("#") and words[1].isascii() and words[1].isdigit():
                said[words[0]] = int(words[1])

    def widest(kind: str) -> tuple[int, int]:
        low = [said[key] for key in (f"SYS_{kind}_MIN", f"FIRST_SYSTEM_{kind}") if key in said] or [SYSTEM_IDS[0]]
        high = [said[key] for key in (f"SYS_{kind}_MAX", f"LAST_SYSTEM_{kind}") if key in said] or [SYSTEM_IDS[1]]
        return max(1, min(low)), max(high)

    return widest("UID"), widest("GID")


def _number(fields: list[str], index: int) -> int | None:
    value = fields[index] if len(fields) > index else ""
    return int(value) if value.isascii() and value.isdigit() else None


@dataclass
class _Accounts:
    """What a new entry is judged against: the ranges, the accounts and groups added in this run, and who holds
    each UID and GID now."""

    uids: tuple[int, int]
    gids: tuple[int, int]
    accounts: set[str]  # names added to /etc/passwd
    groups: dict[str, int | None]  # names added to /etc/group → their GID
    uid_holders: dict[int, list[str]]
    gid_holders: dict[int, list[str]]


def _id_problem(what: tuple[str, str], name: str, kind: str, written: str, number: int | None,
                span: tuple[int, int], holders: dict[int, list[str]]) -> str | None:
    """Why a new account's UID or a new group's GID (``kind``, ``written`` so) is not a system one that no other
    entry holds (None: it is). ``what``: the entry's kind in Chinese and English."""
    low, high = span
    if number is None or not low <= number <= high:
        return f"新增{what[0]} {name} 的 {kind} {written} 不在系统范围 {low}–{high} / added {what[1]} {name}: {kind} " \
               f"{written} outside the system range {low}–{high}"
    others = [other for other in holders.get(number, ()) if other != name]
    if others:
        return f"新增{what[0]} {name} 的 {kind} {number} 已被占用 / added {what[1]} {name}: {kind} {number} is also " \
               f"{', '.join(others)}'s"
    return None


def _added_entry_problem(kind: str, fields: list[str], known: _Accounts) -> str | None:
    """Why a new entry of an account file is not a system account's or group's as a package adds it (None: it is):
    a system UID/GID no one else holds, its own new group or nogroup, no login shell, no password, no members
    or administrators but accounts added with it."""
    name = fields[0]
    if kind == "passwd":
        uid, gid = _number(fields, 2), _number(fields, 3)
        shell = fields[6] if len(fields) == 7 else ""
        if len(fields) != 7 or fields[1] not in ("x", "*", "!"):
            return f"新增账户 {name} 的口令字段不是 x/*/! / added account {name}: its password field is not x, * or !"
        held = _id_problem(("账户", "account"), name, "UID", fields[2], uid, known.uids, known.uid_holders)
        if held:
            return held
        if gid != NOGROUP and (gid is None or gid not in known.groups.values()):
            return f"新增账户 {name} 的主组 {fields[3]} 不是本次新增的组或 nogroup / added account {name}: primary " \
                   f"group {fields[3]} is neither a group added with it nor nogroup"
        if shell not in NO_LOGIN_SHELLS:
            return f"新增账户 {name} 可登录 (shell {shell}) / added account {name} has the login shell {shell}"
        return None
    if kind == "shadow":
        if name not in known.accounts:
            return f"新增 shadow 条目 {name} 无对应新增账户 / added shadow entry {name} has no account added with it"
        if len(fields) < 2 or not fields[1].startswith(("!", "*")):
            return f"新增账户 {name} 设有口令 / added account {name} has a password (not locked)"
        return None
    members = fields[3] if len(fields) > 3 else ""
    others = sorted(set(filter(None, members.split(","))) - known.accounts)
    if others:
        return f"新增组 {name} 含成员 {','.join(others)} / added group {name} has the members {','.join(others)}"
    if kind == "group":
        if len(fields) != 4 or fields[1] not in ("x", "*", "!", ""):
            return f"新增组 {name} 设有组口令 / added group {name} has a group password"
        return _gid_problem(name, fields, known.gids, known.gid_holders)
    if name not in known.groups:
        return f"新增 gshadow 条目 {name} 无对应新增组 / added gshadow entry {name} has no group added with it"
    if len(fields) != 4 or not (fields[1] in ("", "*") or fields[1].startswith("!")):
        return f"新增组 {name} 设有组口令 / added group {name} has a group password"
    if fields[2]:
        return f"新增组 {name} 设有组管理员 {fields[2]} / added group {name} has the administrators {fields[2]}"
    return None


def _gid_problem(name: str, fields: list[str], span: tuple[int, int], holders: dict[int, list[str]]) -> str | None:
    """Why a new group's GID is not a system one that no other group holds (None: it is)."""
    return _id_problem(("组", "group"), name, "GID", fields[2] if len(fields) > 2 else "", _number(fields, 2),
                       span, holders)


def _holders(entries: dict[str, list[list[str]]], index: int) -> dict[int, list[str]]:
    holders: dict[int, list[str]] = {}
    for name, lines in entries.items():
        for fields in lines:
            number = _number(fields, index)
            if number is not None:
                holders.setdefault(number, []).append(name)
    return holders


def judge_accounts(before: dict[str, dict[str, str]] | None, texts: dict[str, str | None],
                   ids: tuple[tuple[int, int], tuple[int, int]], changed_before: Iterable[str] = ()
                   ) -> dict[str, tuple[str | None, str]]:
    """{account file or backup: (None, the accounts it gained) when every entry ``pre`` saw is unchanged and every
    new one is a system account or group as a package adds it, else (why not, "")}. ``before``: ``pre``'s
    :func:`account_digests` per account file; ``texts``: each account file's and backup's content now (None:
    absent); ``ids``: :func:`system_id_range`; ``changed_before``: the files that differed from the AIDE database
    when ``pre`` ran (changed outside the package manager: refused, whatever the run added)."""
    verdicts: dict[str, tuple[str | None, str]] = {}
    present = [path for path in (*ACCOUNT_FILES, *ACCOUNT_BACKUPS) if texts.get(path) is not None]
    if before is None:
        why = "无 dpkg 运行前的账户快照 / no account snapshot from before the dpkg run"
        return {path: (why, "") for path in present}
    outside = set(changed_before)
    now = {path: account_entries(text) for path, text in texts.items() if text is not None}
    passwd, group = now.get("/etc/passwd", {}), now.get("/etc/group", {})
    gid_holders = _holders(group, 2)
    known = _Accounts(
        *ids, accounts={name for name in passwd if name not in before.get("/etc/passwd", {})},
        # the groups added here that pass as a package's (the GID theirs alone): an account's primary group, a
        # gshadow entry may only be one of those (a refused group's GID may be a privileged group's)
        groups={name: _number(lines[0], 2) for name, lines in group.items()
                if name not in before.get("/etc/group", {}) and len(lines) == 1
                and _gid_problem(name, lines[0], ids[1], gid_holders) is None},
        uid_holders=_holders(passwd, 2), gid_holders=gid_holders)
    for path, kind in ACCOUNT_FILES.items():
        entries, seen = now.get(path), before.get(path, {})
        if entries is None:
            continue
        if path in outside:
            verdicts[path] = (CHANGED_BEFORE_RUN, "")
            continue
        current = {name: _digest(fields) for name, fields in entries.items()}
        lost = sorted(name for name in seen if name not in current)
        altered = sorted(name for name in seen if name in current and current[name] != seen[name])
        added = [name for name in entries if name not in seen]
        problems = [_added_entry_problem(kind, fields, known) for name in added for fields in entries[name]]
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
        if backup in outside:
            verdicts[backup] = (CHANGED_BEFORE_RUN, "")
        elif main_verdict is not None:
            verdicts[backup] = (f"{path} 的变更未被接受 / the change of {path} is not accepted", "")
        elif unknown:
            verdicts[backup] = (f"备份含 {path} 中没有的条目 / the backup holds entries {path} has neither had "
                                f"nor has: {', '.join(unknown)}", "")
        else:
            verdicts[backup] = (None, f"the previous {path}")
    return verdicts


def changed_before_run(files: dict[str, str | None] | None, database: list[str]) -> set[str]:
    """The account files and backups whose content when ``pre`` ran (``files``: :func:`file_sha256` of each) is
    not what the AIDE database records: changed outside the package manager (all of them without a record)."""
    paths = (*ACCOUNT_FILES, *ACCOUNT_BACKUPS)
    if files is None:
        return set(paths)
    recorded = database_sha256(database, paths)
    return {path for path in paths if files.get(path) != recorded[path]}


def file_sha256(path: str) -> str | None:
    """A file's SHA-256 as AIDE's database writes it (base64); None when it is absent."""
    try:
        return base64.b64encode(hashlib.sha256(Path(path).read_bytes()).digest()).decode("ascii")
    except FileNotFoundError:
        return None


def database_sha256(lines: Iterable[str], paths: Iterable[str]) -> dict[str, str | None]:
    """Each of ``paths``' SHA-256 in an AIDE database (base64, ``@@db_spec``'s ``sha256`` column); None for a path
    it does not record (or records without one)."""
    found: dict[str, str | None] = dict.fromkeys(paths)
    column = None
    for line in lines:
        if line.startswith("@@db_spec"):
            spec = line.split()[1:]
            column = spec.index("sha256") if "sha256" in spec else None
            continue
        name = _db_name(line)
        if name in found and column is not None:
            fields = line.split(" ")
            found[name] = fields[column] if len(fields) > column and fields[column] not in ("", "0") else None
    return found


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
    #: each file of the installed packages (:func:`canonical_path`) → package
    package_files: dict[str, str] = field(default_factory=dict)
    #: the packages this run installed for the first time (:func:`first_installed`), and their postinst scripts
    first_installs: set[str] = field(default_factory=set)
    postinsts: dict[str, str] = field(default_factory=dict)


def _kind(path: str) -> str:
    if os.path.islink(path):
        return "l"
    if os.path.isdir(path):
        return "d"
    return "f" if os.path.isfile(path) else "?"


def file_verified(path: str, evidence: Evidence, owners: dict[str, str] | None = None) -> str | None:
    """None when ``path`` is a processed package's file matching its checksum, else why not. ``owners``: where to
    look the file up (the watched trees' :attr:`Evidence.owned_now` by default)."""
    if path not in (evidence.owned_now if owners is None else owners):
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
        if how == "changed" and not changed:  # what changed is unknown: no owner or mode test could hold
            refused[path] = "AIDE 报告未给出变更的属性 / AIDE's report names no changed attribute for it"
        elif kind == "d":
            directories.append((path, how, changed, owner))
        elif kind == "l":
            target = os.path.realpath(path)
            if owner is None and unit_link(path):  # a service enabled by its package's first installation
                reason = unit_link_verified(path, target, evidence)
                what = f"enabled by its first installation: {target}"
            else:
                reason = None if owner else "不属于本次安装/升级的软件包 / not owned by a package of this dpkg run"
                if reason is None and not os.path.isdir(target):
                    reason = file_verified(target, evidence)
                    if reason:
                        reason = f"链接目标 {target}: {reason} / link target {target}: {reason}"
                what = f"link of {owner}"
            if reason is None and how == "changed" and not changed <= FILE_CHANGES | {"link_name", "lname"}:
                reason = f"属性变更 / attributes changed ({sorted(changed - FILE_CHANGES)})"
            if reason:
                refused[path] = reason
            else:
                accepted[path] = what
        else:
            account = evidence.accounts.get(path) if owner is None else None
            reason = account[0] if account is not None else file_verified(path, evidence)
            # shadow's tools give a backup they rewrite its original's owner and mode (os_hardening keeps 0600): no
            # wider than the original, that is theirs too
            restored = account is not None and path in ACCOUNT_BACKUPS and changed - FILE_CHANGES <= BACKUP_MODE \
                and _account_file_kept(path)
            if reason is None and how == "changed" and not changed <= FILE_CHANGES and not restored:
                reason = f"属主/权限变更 / owner, mode or ACL changed ({sorted(changed - FILE_CHANGES)})"
            if reason is None and account is not None and how == "added" and not _account_file_kept(path):
                reason = "新建的账户文件属主/权限宽于原文件 / a new account file not kept as its original is " \
                         "(owner, mode)"
            if reason:
                refused[path] = reason
            elif account is not None:
                accepted[path] = f"system accounts added by the packages' scripts: {account[1]}"
            else:
                accepted[path] = f"matches {owner}'s checksum"
    # Directories last, the deepest first (a new directory's new subdirectory explains it): a changed directory is
    # explained by the packages when only its times, size and link count changed and it is theirs, or when entries
    # directly in it were accepted and none was refused.
    for path, how, changed, owner in sorted(directories, key=lambda entry: entry[0].count("/"), reverse=True):
        children = _children(path, report)
        explained = bool(children & accepted.keys()) and not children & refused.keys()
        if how == "added" and owner and _kept_by_root(path):
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


def _account_file_kept(path: str) -> bool:
    """A new account file (a backup shadow's tools left) is root's, a regular file of its original's group, with
    no permission its original lacks (a world-readable /etc/shadow- would hand out the password hashes)."""
    try:
        status, original = os.lstat(path), os.lstat(ACCOUNT_BACKUPS.get(path, path))
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_uid == 0 and status.st_gid == original.st_gid \
        and not stat.S_IMODE(status.st_mode) & ~stat.S_IMODE(original.st_mode)


def unit_link(path: str) -> bool:
    """Whether ``path`` is where an enabled service's link is read: a systemd unit directory of /etc (an alias)
    or one of its ``.wants`` / ``.requires`` / ``.upholds`` directories, or a SysV runlevel directory
    (/etc/rc2.d: update-rc.d's links for a package's init script)."""
    parent = os.path.dirname(path)
    kind = parent.rpartition(".")[2]
    return parent in UNIT_LINK_TOPS or (os.path.dirname(parent) in UNIT_LINK_TOPS and kind in UNIT_LINK_DIRS) \
        or SYSV_LINK_DIR.fullmatch(parent) is not None


def unit_link_verified(path: str, target: str, evidence: Evidence) -> str | None:
    """None when the link at ``path`` (:func:`unit_link`) is one a package's first installation makes: towards a
    unit file of a package this run installed for the first time, matching its checksum, where the unit's
    ``[Install]`` section enables it (``WantedBy=sockets.target`` → sockets.target.wants/, named as the unit or, for
    a template, its ``DefaultInstance=``; ``Alias=`` → a link of that name in /etc/systemd/system) — or update-rc.d's
    ``S``/``K`` link towards such a package's verified init script; else why not. An upgrade never enables a unit
    (deb-systemd-helper keeps the admin's choice): a link made then is not the package's."""
    if SYSV_LINK_DIR.fullmatch(os.path.dirname(path)):
        name, script = os.path.basename(path), os.path.basename(target)
        if os.path.dirname(target) != "/etc/init.d" or SYSV_LINK_NAME.fullmatch(name) is None \
                or name[3:] != script:
            return f"链接 {name} 不是 /etc/init.d/{name[3:]} 的启动链接 / {name} is no runlevel link of an init script"
        owner = evidence.owned_now.get(target)
        if owner is not None and owner not in evidence.first_installs:
            return f"{owner} 并非首次安装, 其脚本不启用服务 / {owner} was not installed for the first time: its " \
                   "scripts enable no service"
        reason = file_verified(target, evidence)
        if reason:
            return f"链接目标 {target}: {reason} / link target {target}: {reason}"
        if owner is not None and not script_enables(evidence.postinsts.get(owner, ""), script, None):
            return f"{owner} 的安装脚本未运行 update-rc.d {script} / {owner}'s postinst runs no update-rc.d {script}"
        return None
    package = evidence.package_files.get(target)
    top = os.path.dirname(path) if os.path.dirname(path) in UNIT_LINK_TOPS else os.path.dirname(os.path.dirname(path))
    scope = top.rpartition("/")[2]  # system or user: a user unit linked as a system unit would run as root
    if package is None or not target.startswith(tuple(d for d in UNIT_FILE_DIRS if d.endswith(f"/{scope}/"))):
        return (f"链接目标 {target} 不是本次软件包的{scope}服务单元 / link target {target} is no {scope} unit file of "
                "a package of this dpkg run")
    if package not in evidence.first_installs:
        return f"{package} 并非首次安装, 其脚本不启用服务 / {package} was not installed for the first time: its " \
               "scripts enable no unit"
    reason = file_verified(target, evidence, evidence.package_files)
    if reason:
        return f"链接目标 {target}: {reason} / link target {target}: {reason}"
    if not script_enables(evidence.postinsts.get(package, ""), os.path.basename(target), target):
        return (f"{package} 的安装脚本未启用 {os.path.basename(target)} / {package}'s postinst does not enable "
                f"{os.path.basename(target)} (deb-systemd-helper enable)")
    install = unit_install(target)
    name, unit, parent = os.path.basename(path), os.path.basename(target), os.path.dirname(path)
    if parent in UNIT_LINK_TOPS:
        enabled = name in install.get("Alias", set())
    else:
        wanted_by, _, kind = os.path.basename(parent).rpartition(".")
        stem, at, suffix = unit.partition("@")
        names = {f"{stem}@{instance}{suffix}" for instance in install.get("DefaultInstance", ())} \
            if at and suffix.startswith(".") else {unit}
        enabled = name in names and wanted_by in install.get(UNIT_LINK_DIRS[kind], set())
    if enabled:
        return None
    return (f"单元 {unit} 的 [Install] 未在此启用 {name} / the [Install] section of {unit} does not enable {name} "
            f"in {parent}")


def script_enables(postinst: str, name: str, unit_file: str | None) -> bool:
    """Whether a package's postinst enables ``name``: a unit its ``deb-systemd-helper enable`` names (or one that
    names it in ``Also=``: ``unit_file`` is its file, the others beside it), or an init script its ``update-rc.d``
    names (``unit_file`` None)."""
    for line in postinst.splitlines():
        words = [word.strip("'\"") for word in line.split()]
        if unit_file is None:
            if "update-rc.d" in words and words.index("update-rc.d") + 1 < len(words) \
                    and words[words.index("update-rc.d") + 1] == name:
                return True
            continue
        if "deb-systemd-helper" not in words or "enable" not in words:
            continue
        named = words[words.index("enable") + 1:]
        if name in named or any(name in unit_install(os.path.join(os.path.dirname(unit_file), other)).get("Also", ())
                                for other in named if "/" not in other and other.count(".") == 1):
            return True
    return False


def unit_install(unit_file: str) -> dict[str, set[str]]:
    """The ``[Install]`` section of a unit file: each key's values (``WantedBy``, ``RequiredBy``, ``UpheldBy``,
    ``Alias``, ``DefaultInstance``); keys written twice add up, as systemd reads them."""
    try:
        text = Path(unit_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    section, found = "", dict[str, set[str]]()
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line
        elif section == "[Install]" and "=" in line and not line.startswith(("#", ";")):
            key, _, values = line.partition("=")
            found.setdefault(key.strip(), set()).update(values.split())
    return found


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


def merge_database(old: list[str], new: list[str], accepted: Iterable[str]) -> list[str]:
    """The old database with the accepted paths' records taken from the new one (a change or an addition: its new
    record; a removal: none); every other path keeps its old record or stays unknown, so the daily check reports
    it. Built from what was judged and accepted, not from what the report did not mention: an entry AIDE's JSON
    report left out or mangled (a file name with a quote) is never taken in."""
    taken = set(accepted)
    new_records = {name: line for line in new if (name := _db_name(line)) is not None}
    merged: list[str] = []
    replaced: set[str] = set()
    end = "@@end_db"
    for line in old:
        if line.startswith("@@end_db"):
            end = line
            continue
        name = _db_name(line)
        if name is None or name not in taken:
            merged.append(line)  # the header, and every path not accepted: its old record
        else:
            replaced.add(name)
            if name in new_records:  # an accepted removal has none
                merged.append(new_records[name])
    merged.extend(new_records[name] for name in sorted(taken - replaced) if name in new_records)
    merged.append(end)
    return merged


def database_spec(lines: Iterable[str]) -> str | None:
    """A database's ``@@db_spec`` line (its columns): old and new records mix only when it is the same."""
    return next((line.strip() for line in lines if line.startswith("@@db_spec")), None)


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
    texts = read_accounts()
    accounts = {path: account_digests(text) for path, text in texts.items()
                if text is not None and path in ACCOUNT_FILES}
    # each account file as a whole, to compare with the AIDE database: a change made before the run is no package's
    whole = {path: file_sha256(path) for path in texts}
    state = {**position, "owned": owned_paths(None, tuple(args.watch)), "accounts": accounts, "account_files": whole,
             "installed": installed_packages()}
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
    lines = read_log_since(state)
    packages = processed_packages(lines)
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
        old = _read_db(db)
        first = first_installed(lines, state.get("installed"))
        evidence = Evidence(
            packages=packages, owned_now=owned_paths(installed, watch), owned_before=state.get("owned") or {},
            checksummed=checksummed_paths(installed), verify_failures=dpkg_verify_failures(installed),
            accounts=judge_accounts(state.get("accounts"), read_accounts(),
                                    system_id_range(_read_optional("/etc/login.defs"),
                                                    _read_optional("/etc/adduser.conf")),
                                    changed_before_run(state.get("account_files"), old)),
            package_files=package_files(installed), first_installs=first,
            postinsts={name: _read_optional(str(found)) or "" for name in first
                       if (found := info_file(name, "postinst")) is not None})
        accepted, refused = decide(report, evidence)
        new = _read_db(new_db)
        if database_spec(old) != database_spec(new):  # a configuration changed since the baseline: the role rebuilds
            log(syslog.LOG_ERR, "AIDE 数据库字段与基线不同, 未接受软件包变更 / the AIDE database's columns differ from "
                                "the baseline's: nothing accepted (the integrity role rebuilds the baseline)")
            return 0
        _write_db(db, merge_database(old, new, accepted))
    names = ", ".join(sorted(packages))
    if accepted:
        shown = sorted(accepted)[:LOG_LIST_LIMIT]
        log(syslog.LOG_NOTICE,
            f"已接受软件包变更 {len(accepted)} 项 (经软件包校验和及其脚本的账户、服务启用核验) / accepted "
            f"{len(accepted)} AIDE entries changed by dpkg ({names}), verified against the packages' checksums and "
            f"the accounts and units their scripts add: {' '.join(shown)}"
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
