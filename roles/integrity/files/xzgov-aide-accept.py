#!/usr/bin/python3
"""Accept the package manager's changes into the AIDE database, after verifying them (xzgov roles/integrity).

    xzgov-aide-accept pre  --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...
    xzgov-aide-accept post --aide BIN --config CONF --db DB --watch /etc --watch /usr/bin ...

Run by apt around every dpkg run (/etc/apt/apt.conf.d/90xzgov-aide-accept: DPkg::Pre-Invoke and
DPkg::Post-Invoke), so security updates installed by unattended-upgrades do not raise the daily intrusion alert
(GB/T 22239-2019 x.1.4.4.f) — while nothing that differs from its package is ever accepted:

* ``pre`` records where /var/log/dpkg.log ends and which package owns each path under the watched trees.
* ``post`` reads the packages dpkg installed, upgraded or removed since then (dpkg.log), lets AIDE compare the
  watched trees with its database (``aide --update``: report + a database of the current state) and accepts a
  reported entry only when it comes from those packages:
    - a regular file owned by one of them whose content matches the package's own checksum (its md5sums entry or
      conffile hash, compared by ``dpkg --verify``) and whose owner/mode did not change;
    - a symbolic link owned by one of them whose target is such a verified file (or a package directory);
    - a directory owned by one of them (new), or whose only changes are times, size and link count;
    - a removed path that one of them owned before the run.
  Every other entry (a file edited by hand, one without a package checksum, one differing from it) is NOT
  accepted: the new database keeps its old record (or none), so the next ``aide --check`` still reports it.
* Accepted and refused entries are logged to syslog (authpriv: notice / alert), hence to the log centre.

Never fails apt: errors are logged (authpriv.err) and the daily check then reports the changes as before.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import json
import os
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
    lists = sorted(info.glob("*.list")) if packages is None else [
        found for found in (info_file(package, "list", info) for package in packages) if found]
    for list_file in lists:
        package = package_name(list_file.name.removesuffix(".list"))
        for path in list_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if under(path, watch):
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
                    paths.add("/" + relative)
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
                paths.add(words[0])
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
            failures.add(line[12:])
    return failures


def under(path: str, watch: tuple[str, ...]) -> bool:
    return any(path == top or path.startswith(top.rstrip("/") + "/") for top in watch)


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
            reason = file_verified(path, evidence)
            if reason is None and how == "changed" and not changed <= FILE_CHANGES:
                reason = f"属主/权限变更 / owner, mode or ACL changed ({sorted(changed - FILE_CHANGES)})"
            if reason:
                refused[path] = reason
            else:
                accepted[path] = f"matches {owner}'s checksum"
    # Directories last: a changed directory is explained by the packages when only its times, size and link count
    # changed and it is theirs, or when entries directly in it were accepted and none was refused.
    for path, how, changed, owner in directories:
        children = _children(path, report)
        explained = bool(children & accepted.keys()) and not children & refused.keys()
        if how == "added" and owner:
            accepted[path] = f"directory of {owner}"
        elif how == "changed" and changed <= DIRECTORY_CHANGES and (owner or explained):
            accepted[path] = "directory entries added/removed by the packages"
        else:
            refused[path] = f"目录变更无软件包依据 / directory change not explained by the packages ({sorted(changed)})"
    return accepted, refused


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
        stat = DPKG_LOG.stat()
        position: dict[str, int | None] = {"inode": stat.st_ino, "offset": stat.st_size}
    except FileNotFoundError:
        position = {"inode": None, "offset": 0}
    state = {**position, "owned": owned_paths(None, tuple(args.watch))}
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
            checksummed=checksummed_paths(installed), verify_failures=dpkg_verify_failures(installed))
        accepted, refused = decide(report, evidence)
        _write_db(db, merge_database(_read_db(db), _read_db(new_db), refused))
    names = ", ".join(sorted(packages))
    if accepted:
        shown = sorted(accepted)[:LOG_LIST_LIMIT]
        log(syslog.LOG_NOTICE,
            f"已接受软件包变更 {len(accepted)} 项 (与软件包校验和一致) / accepted {len(accepted)} AIDE entries "
            f"changed by dpkg ({names}), verified against the packages' checksums: {' '.join(shown)}"
            + (" ..." if len(accepted) > len(shown) else ""))
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
