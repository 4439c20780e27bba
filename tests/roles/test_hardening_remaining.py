"""Pure tests (no booted host) of issue 17's last items: the AIDE package-change verifier's decisions, the kernel
command line (fact, rule, GRUB drop-in) and the dnf-automatic branch of roles/patching, rendered with the role's
variables through Ansible's templar and validated against dnf-automatic's documented options.

What cannot be run here: the dnf branch on an openEuler / Kylin host (no such image boots in the tests) and the
GRUB drop-in on a VM (the test hosts are containers, which boot no kernel). The booted-host halves are in
tests/roles/test_integrity_package_accept.py and tests/roles/test_kernel_cmdline_host.py.
"""

from __future__ import annotations

import configparser
import gzip
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from policies.engine import Facts, Point, Status, evaluate
from policies.registry import get_rule
from tests.roles.render import ROLES, render, task, value
from xzgov.facts.host_parsers import parse_sections
from xzgov.facts.host_script import GATHER_SCRIPT, Section

# ------------------------------------------------------------------ AIDE: accept verified package changes


def _accept_module() -> ModuleType:
    path = ROLES / "integrity" / "files" / "xzgov-aide-accept.py"
    spec = importlib.util.spec_from_file_location("xzgov_aide_accept", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ACCEPT = _accept_module()

DPKG_LOG = """2026-11-30 19:00:01 startup archives unpack
2026-11-30 19:00:01 install tree:amd64 <none> 2.1.0-1
2026-11-30 19:00:01 status half-installed tree:amd64 2.1.0-1
2026-11-30 19:00:02 upgrade openssh-server:amd64 1:9.2p1-2+deb12u3 1:9.2p1-2+deb12u4
2026-11-30 19:00:02 trigproc man-db:amd64 2.11.2-2 <none>
2026-11-30 19:00:03 remove telnet:amd64 0.17+2.4-2 <none>
2026-11-30 19:00:03 configure tree:amd64 2.1.0-1 <none>
2026-11-30 19:00:03 status installed tree:amd64 2.1.0-1"""


def test_the_packages_of_the_dpkg_run_are_read_from_its_log() -> None:
    assert ACCEPT.processed_packages(DPKG_LOG.splitlines()) == {
        "tree": "install", "openssh-server": "upgrade", "telnet": "remove"}  # not man-db: a trigger changes no file


def test_the_log_is_read_from_where_pre_left_it_across_a_rotation(tmp_path: Path) -> None:
    log = tmp_path / "dpkg.log"
    log.write_text("old line 1\nold line 2\n")
    state = {"inode": log.stat().st_ino, "offset": log.stat().st_size}
    with log.open("a") as handle:
        handle.write("2026-11-30 19:00:01 install tree:amd64 <none> 2.1.0-1\n")
    assert ACCEPT.read_log_since(state, log) == ["2026-11-30 19:00:01 install tree:amd64 <none> 2.1.0-1"]
    log.rename(tmp_path / "dpkg.log.1")  # logrotate between pre and post
    log.write_text("2026-11-30 19:00:05 upgrade hello:amd64 2.10-2 2.10-3\n")
    assert ACCEPT.processed_packages(ACCEPT.read_log_since(state, log)) == {"tree": "install", "hello": "upgrade"}


def _evidence(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "packages": {"tree": "install", "telnet": "remove"},
        "owned_now": {"/usr/bin/tree": "tree", "/usr/bin": "tree", "/usr/bin/tree-link": "tree"},
        "owned_before": {"/usr/bin/telnet.netkit": "telnet", "/usr/bin/ssh": "openssh-client"},
        "checksummed": {"/usr/bin/tree"},
        "verify_failures": set(),
        "kinds": {"/usr/bin/tree": "f", "/usr/bin": "d", "/usr/bin/tree-link": "l", "/usr/bin/evil": "f",
                  "/etc/cron.d": "d", "/etc/cron.d/evil": "f", "/usr/sbin/sshd": "f"},
    }
    base.update(overrides)
    return ACCEPT.Evidence(**base)


REPORT: dict[str, Any] = {
    "added": {"/usr/bin/tree": "f++++", "/usr/bin/evil": "f++++", "/etc/cron.d/evil": "f++++"},
    "removed": {"/usr/bin/telnet.netkit": "f----", "/usr/bin/ssh": "f----"},
    "changed": {"/usr/bin": "d = ... mc..", "/etc/cron.d": "d = ... mc..", "/usr/sbin/sshd": "f > ... ..H"},
    "details": {"/usr/bin": {"modify_time": {}, "change_time": {}, "link_count": {}},
                "/etc/cron.d": {"modify_time": {}, "change_time": {}},
                "/usr/sbin/sshd": {"sha256": {}, "size": {}}},
}


def test_only_changes_verified_against_the_packages_are_accepted() -> None:
    accepted, refused = ACCEPT.decide(REPORT, _evidence())
    assert set(accepted) == {"/usr/bin/tree", "/usr/bin/telnet.netkit", "/usr/bin"}
    assert "not owned by a package of this dpkg run" in refused["/usr/bin/evil"]
    assert "not owned by a package of this dpkg run" in refused["/usr/sbin/sshd"]  # edited, its package untouched
    assert "removed path not owned" in refused["/usr/bin/ssh"]  # deleted, its package not removed
    # a directory whose new entry was refused is not explained by the packages
    assert "/etc/cron.d" in refused and "/etc/cron.d/evil" in refused


def test_a_file_differing_from_its_package_checksum_is_refused() -> None:
    accepted, refused = ACCEPT.decide(REPORT, _evidence(verify_failures={"/usr/bin/tree"}))
    assert "/usr/bin/tree" not in accepted
    assert "differs from its package's checksum" in refused["/usr/bin/tree"]
    _, refused = ACCEPT.decide(REPORT, _evidence(checksummed=set()))
    assert "holds no checksum" in refused["/usr/bin/tree"]


def test_a_mode_change_is_refused_even_with_matching_content() -> None:
    report = {"changed": {"/usr/bin/tree": "f = p.."},
              "details": {"/usr/bin/tree": {"perm": {}, "change_time": {}, "sha256": {}}}}
    _, refused = ACCEPT.decide(report, _evidence())
    assert "owner, mode or ACL changed" in refused["/usr/bin/tree"]


def test_a_link_is_accepted_only_towards_a_verified_file(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    owned = {str(link): "tree", str(target): "tree"}
    report = {"added": {str(link): "l+++"}}
    accepted, _ = ACCEPT.decide(report, _evidence(owned_now=owned, checksummed={str(target)}, kinds={}))
    assert str(link) in accepted
    _, refused = ACCEPT.decide(report, _evidence(owned_now=owned, checksummed={str(target)}, kinds={},
                                                 verify_failures={str(target)}))
    assert "link target" in refused[str(link)]


PASSWD = "root:x:0:0:root:/root:/bin/bash\nxzops:x:1000:1000::/home/xzops:/bin/bash\n"
GROUP = "root:x:0:\nsudo:x:27:xzops\nxzops:x:1000:\nxzgov-procmon:x:990:\n"
SHADOW = "root:$y$j9T$abc$def:20000:0:99999:7:::\nxzops:$y$j9T$ghi$jkl:20000:0:99999:7:::\n"
GSHADOW = "root:*::\nsudo:*::xzops\nxzops:!::\n"
#: what ``adduser --system --group --no-create-home uuidd`` (uuid-runtime's postinst) leaves
UUIDD = {"/etc/passwd": PASSWD + "uuidd:x:100:101::/run/uuidd:/usr/sbin/nologin\n",
         "/etc/group": GROUP + "uuidd:x:101:\n",
         "/etc/shadow": SHADOW + "uuidd:!:20430::::::\n",
         "/etc/gshadow": GSHADOW + "uuidd:!::\n",
         "/etc/passwd-": PASSWD, "/etc/group-": GROUP + "uuidd:x:101:\n", "/etc/shadow-": SHADOW,
         "/etc/gshadow-": GSHADOW}
IDS = ((100, 999), (100, 999))


def _accounts_before() -> dict[str, dict[str, str]]:
    return {path: ACCEPT.account_digests(text) for path, text in
            (("/etc/passwd", PASSWD), ("/etc/group", GROUP), ("/etc/shadow", SHADOW), ("/etc/gshadow", GSHADOW))}


def _judged(changed_before: tuple[str, ...] = (), **changed: str) -> dict[str, tuple[str | None, str]]:
    texts: dict[str, str | None] = {**UUIDD, **{f"/etc/{key.replace('_', '-')}": text for key, text in changed.items()}}
    return ACCEPT.judge_accounts(_accounts_before(), texts, IDS, changed_before)


def test_a_system_account_a_package_adds_is_accepted_with_its_backups() -> None:
    judged = _judged()
    assert judged["/etc/passwd"] == (None, "uuidd") and judged["/etc/shadow"] == (None, "uuidd")
    assert judged["/etc/group"] == (None, "uuidd") and judged["/etc/gshadow"] == (None, "uuidd")
    assert {path: why for path, (why, _) in judged.items()} == dict.fromkeys(UUIDD)
    # nogroup as the primary group (adduser --system without --group)
    alone = _judged(passwd=PASSWD + "svc:x:102:65534::/nonexistent:/usr/sbin/nologin\n",
                    shadow=SHADOW + "svc:*:20430::::::\n", group=GROUP, gshadow=GSHADOW)
    assert alone["/etc/passwd"] == (None, "svc") and alone["/etc/shadow"] == (None, "svc")
    # pre keeps digests only: no password hash leaves /etc/shadow
    assert "$y$" not in repr(_accounts_before())
    report = {"changed": {"/etc/passwd": "f = ... ..H", "/etc/passwd-": "f = ... ..H"},
              "details": {"/etc/passwd": {"sha256": {}, "size": {}, "inode": {}},
                          "/etc/passwd-": {"sha256": {}, "size": {}}}}
    accepted, refused = ACCEPT.decide(report, _evidence(accounts=judged, kinds={}))
    assert not refused and "uuidd" in accepted["/etc/passwd"]


@pytest.mark.parametrize(("changed", "path", "why"), [
    ({"passwd": PASSWD + "svc:x:100:101::/run/svc:/bin/bash\n"}, "/etc/passwd", "login shell /bin/bash"),
    ({"passwd": PASSWD + "svc:x:100:101::/run/svc:\n"}, "/etc/passwd", "login shell"),  # empty: /bin/sh
    ({"passwd": PASSWD + "svc:x:100:101::/run/svc:/usr/sbin/nologin \n"}, "/etc/passwd", "login shell"),
    ({"passwd": PASSWD + "svc:x:0:101::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "UID 0 outside"),
    ({"passwd": PASSWD + "svc:x:1001:101::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "UID 1001 outside"),
    ({"passwd": PASSWD + "svc:x:１２０:101::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "outside"),  # no int()
    ({"passwd": PASSWD + "uuidd:x:100:101::/:/bin/false\nsvc:x:100:101::/:/bin/false\n"}, "/etc/passwd",
     "UID 100 is also uuidd's"),
    ({"passwd": PASSWD + "svc::100:101::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "password field"),
    ({"passwd": PASSWD + "svc:x:100:0::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "primary group 0"),
    ({"passwd": PASSWD + "svc:x:100:990::/run/svc:/usr/sbin/nologin\n"}, "/etc/passwd", "primary group 990"),
    ({"passwd": PASSWD.replace("/home/xzops:/bin/bash", "/home/xzops:/bin/sh") + "uuidd:x:100:101::/:/bin/false\n"},
     "/etc/passwd", "existing entries removed or changed: xzops"),
    ({"passwd": PASSWD.replace("xzops:", "xzopz:") + "uuidd:x:100:101::/:/bin/false\n"}, "/etc/passwd",
     "removed or changed: xzops"),
    ({"shadow": SHADOW + "uuidd:$y$j9T$new$hash:20430::::::\n"}, "/etc/shadow", "has a password"),
    ({"shadow": SHADOW + "uuidd::20430::::::\n"}, "/etc/shadow", "has a password"),
    ({"shadow": SHADOW + "uuidd:!:20430::::::\nghost:!:20430::::::\n"}, "/etc/shadow", "ghost has no account"),
    ({"group": GROUP + "uuidd:x:101:xzops\n"}, "/etc/group", "members xzops"),
    ({"group": GROUP.replace("sudo:x:27:xzops", "sudo:x:27:xzops,uuidd") + "uuidd:x:101:\n"}, "/etc/group",
     "removed or changed: sudo"),
    ({"group": GROUP + "uuidd:x:5000:\n"}, "/etc/group", "GID 5000 outside"),
    ({"group": GROUP + "uuidd:x:990:\n"}, "/etc/group", "GID 990 is also xzgov-procmon's"),
    ({"gshadow": GSHADOW + "uuidd:!:xzops:\n"}, "/etc/gshadow", "administrators xzops"),
    ({"gshadow": GSHADOW + "uuidd:!::\nxzgov-procmon:!::uuidd\n"}, "/etc/gshadow", "xzgov-procmon has no group added"),
    ({"passwd_": PASSWD + "evil:x:0:0::/:/bin/bash\n"}, "/etc/passwd-", "evil"),
    ({"passwd": PASSWD + "svc:x:100:101::/run/svc:/bin/bash\n"}, "/etc/passwd-", "change of /etc/passwd"),
])
def test_an_account_change_no_package_script_makes_is_refused(changed: dict[str, str], path: str, why: str) -> None:
    verdict, _ = _judged(**changed)[path]
    assert verdict is not None and why in verdict, verdict


def test_account_files_changed_before_the_run_are_refused_whatever_it_added() -> None:
    """An account added by hand before an apt run (the snapshot then holds it) was taken as unchanged."""
    judged = _judged(changed_before=("/etc/passwd", "/etc/gshadow-"))
    assert "changed before this dpkg run" in (judged["/etc/passwd"][0] or "")
    assert "changed before this dpkg run" in (judged["/etc/gshadow-"][0] or "")
    assert "the change of /etc/passwd is not accepted" in (judged["/etc/passwd-"][0] or "")
    assert judged["/etc/group"][0] is None
    head = ["@@begin_db", "@@db_spec name perm uid gid size sha256 xattrs"]
    database = [*head, "/etc/passwd 100644 0 0 1098 iFAH= 0", "/etc/shadow 100640 0 42 740 0 0", "@@end_db"]
    assert ACCEPT.database_sha256(database, ["/etc/passwd", "/etc/shadow", "/etc/group"]) == {
        "/etc/passwd": "iFAH=", "/etc/shadow": None, "/etc/group": None}
    files = {path: None for path in (*ACCEPT.ACCOUNT_FILES, *ACCEPT.ACCOUNT_BACKUPS)}
    assert ACCEPT.changed_before_run({**files, "/etc/passwd": "iFAH="}, database) == set()
    assert ACCEPT.changed_before_run({**files, "/etc/passwd": "other="}, database) == {"/etc/passwd"}
    assert ACCEPT.changed_before_run({**files, "/etc/passwd": "iFAH=", "/etc/group": "new="}, database) == {
        "/etc/group"}  # a file the database does not record: new since, not the run's either
    assert ACCEPT.changed_before_run(None, database) == set(files)  # a pre of an older hook: nothing known
    assert ACCEPT.file_sha256("/nonexistent/passwd") is None


def test_account_files_without_a_snapshot_are_refused() -> None:
    judged = ACCEPT.judge_accounts(None, dict(UUIDD), IDS)
    assert all(why and "no account snapshot" in why for why, _ in judged.values())


def test_the_system_id_range_is_the_widest_the_host_configures() -> None:
    assert ACCEPT.system_id_range(None, None) == ((100, 999), (100, 999))
    login_defs = "# SYS_UID_MIN 5\nSYS_UID_MIN\t\t101\nSYS_UID_MAX 999\nSYS_GID_MAX 499\n"
    assert ACCEPT.system_id_range(login_defs, "FIRST_SYSTEM_UID=100\nLAST_SYSTEM_UID=999\n") == ((100, 999),
                                                                                                (100, 499))
    assert ACCEPT.system_id_range("SYS_UID_MAX 499\nSYS_UID_MIN ²\n", "LAST_SYSTEM_UID=599\n") == ((100, 599),
                                                                                                   (100, 999))


def test_a_backup_may_take_its_originals_mode_again_the_original_may_not_change_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a hardened host the backups are 0600 (os_hardening); shadow's tools rewrite a backup with its original's
    mode (0644 for /etc/passwd-): that alerted after every package that adds an account."""
    judged = _judged()
    report = {"changed": {"/etc/passwd-": "f > p.. mc..HA.", "/etc/passwd": "f > p.. mc..H.."},
              "details": {"/etc/passwd-": {"perm": {}, "acl": {}, "sha256": {}, "size": {}},
                          "/etc/passwd": {"perm": {}, "sha256": {}, "size": {}}}}
    monkeypatch.setattr(ACCEPT, "_account_file_kept", lambda path: True)
    accepted, refused = ACCEPT.decide(report, _evidence(accounts=judged, kinds={}))
    assert "/etc/passwd-" in accepted and "owner, mode or ACL changed" in refused["/etc/passwd"]
    monkeypatch.setattr(ACCEPT, "_account_file_kept", lambda path: False)  # wider than its original, or not root's
    _, refused = ACCEPT.decide(report, _evidence(accounts=judged, kinds={}))
    assert "owner, mode or ACL changed" in refused["/etc/passwd-"]


def test_a_new_account_file_must_be_kept_as_its_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original, backup = tmp_path / "shadow", tmp_path / "shadow-"
    original.write_text("x")
    original.chmod(0o640)
    backup.write_text("x")
    monkeypatch.setattr(ACCEPT, "ACCOUNT_BACKUPS", {str(backup): str(original)})
    backup.chmod(0o640)
    assert ACCEPT._account_file_kept(str(backup)) is (os.geteuid() == 0)  # root's, as the original is
    backup.chmod(0o644)  # the password hashes for everyone
    assert not ACCEPT._account_file_kept(str(backup))
    assert not ACCEPT._account_file_kept(str(tmp_path / "missing"))


#: dh_installsystemd's lines, as uuid-runtime's postinst has them
POSTINST = """#!/bin/sh
	deb-systemd-helper unmask 'uuidd.socket' >/dev/null || true
	if deb-systemd-helper --quiet was-enabled 'uuidd.socket'; then
		deb-systemd-helper enable 'uuidd.socket' >/dev/null || true
		deb-systemd-helper enable 'getty@.service' 'ssh.service' >/dev/null || true
"""


def _unit_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    units = tmp_path / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    socket, getty, sshd = units / "uuidd.socket", units / "getty@.service", units / "ssh.service"
    socket.write_text("[Socket]\nListenStream=/run/uuidd/request\n[Install]\nWantedBy=sockets.target\n")
    getty.write_text("[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n")
    sshd.write_text("[Unit]\nDescription=Alias=not-this\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n")
    return socket, getty, sshd


def test_a_unit_link_is_accepted_only_where_a_first_installation_enables_it(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    socket, getty, sshd = _unit_tree(tmp_path)
    monkeypatch.setattr(ACCEPT, "UNIT_FILE_DIRS", (f"{tmp_path}/usr/lib/systemd/system/",))
    files = {str(path): "pkg" for path in (socket, getty, sshd)}
    evidence = _evidence(package_files=files, checksummed=set(files), first_installs={"pkg"},
                         postinsts={"pkg": POSTINST})
    system = "/etc/systemd/system"
    assert ACCEPT.unit_link(f"{system}/sockets.target.wants/uuidd.socket")
    assert ACCEPT.unit_link(f"{system}/sshd.service")
    assert ACCEPT.unit_link("/etc/rc2.d/S01uuidd") and not ACCEPT.unit_link("/etc/systemd/sockets.target.wants/x")
    assert not ACCEPT.unit_link(f"{system}/sockets.target.d/x.conf")
    verified = ACCEPT.unit_link_verified
    assert verified(f"{system}/sockets.target.wants/uuidd.socket", str(socket), evidence) is None
    assert verified(f"{system}/getty.target.wants/getty@tty1.service", str(getty), evidence) is None
    assert verified(f"{system}/sshd.service", str(sshd), evidence) is None  # its Alias=
    assert verified(f"{system}/multi-user.target.wants/ssh.service", str(sshd), evidence) is None
    for link, unit, words in (
            # where its [Install] section does not put it: a root shell on tty9 at boot, a template's any instance
            (f"{system}/sysinit.target.wants/uuidd.socket", socket, "does not enable"),
            (f"{system}/sockets.target.requires/uuidd.socket", socket, "does not enable"),
            (f"{system}/getty.target.wants/getty@tty9.service", getty, "does not enable"),
            (f"{system}/not-this.service", sshd, "does not enable"),
            (f"{system}/sockets.target.wants/cron.service", socket, "does not enable")):
        assert words in (verified(link, str(unit), evidence) or ""), link
    # a unit its package ships but its postinst does not enable (an ssh.socket beside ssh.service)
    quiet = _evidence(package_files=files, checksummed=set(files), first_installs={"pkg"},
                      postinsts={"pkg": POSTINST.replace("'uuidd.socket'", "")})
    assert "does not enable uuidd.socket" in (verified(f"{system}/sockets.target.wants/uuidd.socket", str(socket),
                                                       quiet) or "")
    # …or one another unit's Also= names, enabled with it
    socket.with_name("uuidd.service").write_text("[Install]\nAlso=uuidd.socket\n")
    also = _evidence(package_files=files, checksummed=set(files), first_installs={"pkg"},
                     postinsts={"pkg": "\tdeb-systemd-helper enable 'uuidd.service' >/dev/null || true\n"})
    assert verified(f"{system}/sockets.target.wants/uuidd.socket", str(socket), also) is None
    # a user unit linked where system units are read would run as root
    user = tmp_path / "usr/lib/systemd/user"
    user.mkdir(parents=True)
    (user / "uuidd.socket").write_text(socket.read_text())
    monkeypatch.setattr(ACCEPT, "UNIT_FILE_DIRS", (f"{tmp_path}/usr/lib/systemd/system/", f"{user}/"))
    as_user = _evidence(package_files={str(user / "uuidd.socket"): "pkg"}, checksummed={str(user / "uuidd.socket")},
                        first_installs={"pkg"}, postinsts={"pkg": POSTINST})
    assert "no system unit file" in (verified(f"{system}/sockets.target.wants/uuidd.socket",
                                              str(user / "uuidd.socket"), as_user) or "")
    # an upgrade enables nothing (deb-systemd-helper keeps the admin's choice)
    upgraded = _evidence(package_files=files, checksummed=set(files), first_installs=set())
    assert "not installed for the first time" in (verified(f"{system}/sockets.target.wants/uuidd.socket",
                                                           str(socket), upgraded) or "")
    assert "no system unit file of a package" in (verified(f"{system}/x.socket", "/tmp/x.socket", evidence) or "")
    tampered = _evidence(package_files=files, checksummed=set(files), first_installs={"pkg"},
                         verify_failures={str(socket)}, postinsts={"pkg": POSTINST})
    assert "differs from its package's checksum" in (verified(f"{system}/sockets.target.wants/uuidd.socket",
                                                              str(socket), tampered) or "")


def test_a_package_file_outside_the_unit_directories_is_no_unit(tmp_path: Path) -> None:
    tool = tmp_path / "usr/share/doc/pkg/systemd/system/tool.service"
    tool.parent.mkdir(parents=True)
    tool.write_text("[Install]\nWantedBy=multi-user.target\n")
    evidence = _evidence(package_files={str(tool): "pkg"}, checksummed={str(tool)}, first_installs={"pkg"},
                         postinsts={"pkg": "deb-systemd-helper enable 'tool.service'"})
    why = ACCEPT.unit_link_verified("/etc/systemd/system/multi-user.target.wants/tool.service", str(tool), evidence)
    assert why is not None and "no system unit file" in why


def test_first_installations_are_read_from_the_log_and_the_package_listing() -> None:
    lines = DPKG_LOG.splitlines()
    assert ACCEPT.first_installed(lines, ["openssh-server"]) == {"tree"}  # not openssh-server: an upgrade
    # a line appended to the log does not make an installed package new; no listing from pre: nothing is new
    assert ACCEPT.first_installed([*lines, "2026-11-30 19:00:04 install systemd:amd64 <none> 252.39-1"],
                                  ["systemd"]) == {"tree"}
    assert ACCEPT.first_installed(lines, None) == set()


def test_a_file_a_package_lists_under_bin_is_named_as_a_merged_usr_names_it(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    (root / "lib").symlink_to("/usr/lib")
    (root / "sbin").symlink_to("elsewhere")
    (root / "lib64").mkdir()
    assert ACCEPT.merged_usr(str(root)) == {"/bin": "/usr/bin", "/lib": "/usr/lib"}
    monkeypatch.setattr(ACCEPT, "merged_usr", lambda root="/": {"/bin": "/usr/bin"})
    assert ACCEPT.canonical_path("/bin/cat") == "/usr/bin/cat" and ACCEPT.canonical_path("/bin") == "/bin"
    assert ACCEPT.canonical_path("/binary/x") == "/binary/x" and ACCEPT.canonical_path("/") == "/"
    info = tmp_path / "info"
    info.mkdir()
    (info / "coreutils.list").write_text("/bin\n/bin/cat\n/usr/bin/ls\n/usr/share/doc/coreutils/x\n")
    assert ACCEPT.owned_paths(["coreutils"], ("/usr/bin",), info) == {"/usr/bin/cat": "coreutils",
                                                                     "/usr/bin/ls": "coreutils"}
    # a directory link anyone made elsewhere is not followed: dpkg writes through it, the files are not owned there
    linked = tmp_path / "sudoers.d"
    linked.mkdir()
    (tmp_path / "doc").symlink_to(linked)
    (info / "pkg.list").write_text(f"{tmp_path}/doc/README\n")
    assert ACCEPT.owned_paths(["pkg"], (str(linked),), info) == {}


def test_a_runlevel_link_is_accepted_only_towards_a_verified_init_script_of_a_first_installation() -> None:
    evidence = _evidence(owned_now={"/etc/init.d/uuidd": "uuid-runtime"}, checksummed={"/etc/init.d/uuidd"},
                         first_installs={"uuid-runtime"},
                         postinsts={"uuid-runtime": "\t\tupdate-rc.d uuidd defaults >/dev/null\n"})
    assert ACCEPT.unit_link_verified("/etc/rc2.d/S01uuidd", "/etc/init.d/uuidd", evidence) is None
    assert ACCEPT.unit_link_verified("/etc/rc0.d/K01uuidd", "/etc/init.d/uuidd", evidence) is None
    assert "no runlevel link" in ACCEPT.unit_link_verified("/etc/rc2.d/S01cron", "/etc/init.d/uuidd", evidence)
    assert "no runlevel link" in ACCEPT.unit_link_verified("/etc/rc2.d/S01uuidd", "/usr/bin/uuidd", evidence)
    assert "not owned" in ACCEPT.unit_link_verified("/etc/rc2.d/S01cron", "/etc/init.d/cron", evidence)
    quiet = _evidence(owned_now={"/etc/init.d/uuidd": "uuid-runtime"}, checksummed={"/etc/init.d/uuidd"},
                      first_installs={"uuid-runtime"}, postinsts={"uuid-runtime": "update-rc.d other defaults"})
    assert "runs no update-rc.d uuidd" in ACCEPT.unit_link_verified("/etc/rc2.d/S01uuidd", "/etc/init.d/uuidd", quiet)
    upgraded = _evidence(owned_now={"/etc/init.d/uuidd": "uuid-runtime"}, checksummed={"/etc/init.d/uuidd"})
    assert "not installed for the first time" in ACCEPT.unit_link_verified("/etc/rc2.d/S01uuidd",
                                                                           "/etc/init.d/uuidd", upgraded)


def test_a_new_directory_is_accepted_only_for_entries_accepted_in_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    socket, _, _ = _unit_tree(tmp_path)
    monkeypatch.setattr(ACCEPT, "UNIT_FILE_DIRS", (f"{tmp_path}/usr/lib/systemd/system/",))
    system = tmp_path / "etc/systemd/system"
    wants = system / "sockets.target.wants"
    wants.mkdir(parents=True)
    (wants / "uuidd.socket").symlink_to(socket)
    (wants / "evil.socket").symlink_to(socket)
    monkeypatch.setattr(ACCEPT, "UNIT_LINK_TOPS", (str(system),))
    evidence = _evidence(package_files={str(socket): "uuid-runtime"}, checksummed={str(socket)},
                         first_installs={"uuid-runtime"}, kinds={}, postinsts={"uuid-runtime": POSTINST})
    monkeypatch.setattr(ACCEPT, "_kept_by_root", lambda path: True)
    link, evil = str(wants / "uuidd.socket"), str(wants / "evil.socket")
    accepted, refused = ACCEPT.decide({"added": {str(wants): "d++++", link: "l++++"}}, evidence)
    assert set(accepted) == {str(wants), link} and not refused
    accepted, refused = ACCEPT.decide({"added": {str(wants): "d++++", link: "l++++", evil: "l++++"}}, evidence)
    assert str(wants) in refused and evil in refused
    monkeypatch.setattr(ACCEPT, "_kept_by_root", lambda path: False)
    _, refused = ACCEPT.decide({"added": {str(wants): "d++++", link: "l++++"}}, evidence)
    assert str(wants) in refused
    # a new directory whose only new entry is a new directory accepted in turn: judged deepest first
    monkeypatch.setattr(ACCEPT, "_kept_by_root", lambda path: True)
    nested = {"added": {str(system): "d++++", str(wants): "d++++", link: "l++++"}}
    accepted, refused = ACCEPT.decide(nested, evidence)
    assert set(accepted) == {str(system), str(wants), link} and not refused


def test_a_change_without_its_attributes_and_an_alternatives_link_are_refused() -> None:
    """A changed entry the report gives no attributes for passed every owner and mode test (a mode 0666 hidden);
    update-alternatives' links are the alternatives database's word, which root may write: no package's."""
    evidence = _evidence(kinds={"/usr/bin/tree": "f", "/etc/alternatives/nc": "l", "/etc/cron.d": "d"})
    _, refused = ACCEPT.decide({"changed": {"/usr/bin/tree": "f = ...", "/etc/cron.d": "d = ..."},
                                "details": {}}, evidence)
    assert all("names no changed attribute" in refused[path] for path in ("/usr/bin/tree", "/etc/cron.d"))
    _, refused = ACCEPT.decide({"added": {"/etc/alternatives/nc": "l++++"}}, evidence)
    assert "not owned by a package of this dpkg run" in refused["/etc/alternatives/nc"]


def test_only_a_directory_root_keeps_to_itself_counts_as_kept_by_root(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert ACCEPT._kept_by_root(str(shared)) is (os.geteuid() == 0)
    shared.chmod(0o777)
    assert not ACCEPT._kept_by_root(str(shared)) and not ACCEPT._kept_by_root(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    assert not ACCEPT._kept_by_root(str(tmp_path / "file"))


def test_the_merged_database_takes_only_the_accepted_paths_records() -> None:
    head = ["@@begin_db", "# This file was generated by Aide, version 0.18.3",
            "@@db_spec name perm uid gid size sha256"]
    old = [*head, "/usr/bin 40755 0 0 4096 -", "/usr/bin/a%20b 100755 0 0 10 OLD", "/usr/bin/gone 100755 0 0 1 G",
           "/usr/bin/kept 100755 0 0 1 K", "@@end_db"]
    new = [*head, "/usr/bin 40755 0 0 4100 -", "/usr/bin/a%20b 100755 0 0 11 NEW", "/usr/bin/kept 100755 0 0 1 K",
           "/usr/bin/new 100755 0 0 1 N", "@@end_db"]
    merged = ACCEPT.merge_database(old, new, accepted=["/usr/bin"])
    assert merged[:3] == head and merged[-1] == "@@end_db"
    assert "/usr/bin 40755 0 0 4100 -" in merged  # accepted: the new record
    assert "/usr/bin/a%20b 100755 0 0 10 OLD" in merged  # refused change: still the old record
    assert "/usr/bin/gone 100755 0 0 1 G" in merged  # refused removal: still recorded, so still reported
    assert not any(line.startswith("/usr/bin/new") for line in merged)  # refused addition: still unknown
    assert sum(line.startswith("/usr/bin/kept") for line in merged) == 1
    # accepted addition, removal and change; what no judgement named (left out of a mangled report) is not taken
    merged = ACCEPT.merge_database(old, new, accepted=["/usr/bin/new", "/usr/bin/gone", "/usr/bin/a b"])
    assert "/usr/bin/new 100755 0 0 1 N" in merged and not any(line.startswith("/usr/bin/gone") for line in merged)
    assert "/usr/bin/a%20b 100755 0 0 11 NEW" in merged and "/usr/bin 40755 0 0 4096 -" in merged
    assert ACCEPT.database_spec(old) == "@@db_spec name perm uid gid size sha256" == ACCEPT.database_spec(new)


def test_the_update_configuration_writes_only_to_the_scratch_directory(tmp_path: Path) -> None:
    text = ("database_in=file:/var/lib/aide/xzgov-aide.db\ndatabase_out=file:/var/lib/aide/xzgov-aide.db.new\n"
            "gzip_dbout=yes\nreport_url=stdout\nreport_level=changed_attributes\n/etc XZGOV\n")
    config = ACCEPT.update_config(text, tmp_path / "new.db", tmp_path / "report.json")
    assert f"database_out=file:{tmp_path / 'new.db'}" in config and "report_format=json" in config
    assert "xzgov-aide.db.new" not in config and "report_url=stdout" not in config
    assert "database_in=file:/var/lib/aide/xzgov-aide.db" in config and "/etc XZGOV" in config
    assert config.index("report_format=json") < config.index("report_url=file:")


def test_the_apt_hook_calls_the_verifier_around_every_dpkg_run() -> None:
    host = {"xzgov_level": 3, "ansible_facts": {"os_family": "Debian"}, "integrity_aide_bin": "/usr/bin/aide"}
    hook = render("integrity", "90xzgov-aide-accept.j2", host)
    pre, post = (line for line in hook.splitlines() if line.startswith("DPkg::"))
    assert pre.startswith("DPkg::Pre-Invoke") and "xzgov-aide-accept pre" in pre
    assert post.startswith("DPkg::Post-Invoke") and "xzgov-aide-accept post" in post
    for line in (pre, post):
        assert "|| true" in line  # never fails apt
        assert "--db /var/lib/aide/xzgov-aide.db" in line and "--config /etc/aide/xzgov-aide.conf" in line
        assert all(f"--watch {path}" in line for path in ("/etc", "/usr/bin", "/usr/sbin", "/boot"))


# ------------------------------------------------------------------ kernel command line (x.1.4.10)

VM_SECTION = """container no
cmdline BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=1f0e ro quiet init_on_free=1 -- init_on_alloc=1
build CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y
grub GRUB_CMDLINE_LINUX_DEFAULT="quiet"
grub GRUB_CMDLINE_LINUX=""
grub GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }init_on_free=1 init_on_alloc=1\""""


def _cmdline_status(section: str, level: int = 3) -> tuple[Status, str]:
    values, _ = parse_sections({"whoami": Section("0", 0), "kernel_cmdline": Section(section, 0)})
    rule = get_rule("XZ-HOST-KERNEL-CMDLINE")
    facts = Facts("sys", Point.HOST, {"kernel_cmdline": values["kernel_cmdline"]}, {}, level=level)
    outcome = evaluate(rule, facts)
    assert outcome is not None
    return outcome.status, outcome.message


def test_the_gather_script_reads_the_command_line_and_grub() -> None:
    assert "===XZ:kernel_cmdline===" in GATHER_SCRIPT and "/proc/cmdline" in GATHER_SCRIPT
    assert "CONFIG_(INIT_ON_FREE|INIT_ON_ALLOC)_DEFAULT_ON" in GATHER_SCRIPT


def test_the_parser_reads_kernel_parameters_build_defaults_and_grub() -> None:
    values, _ = parse_sections({"kernel_cmdline": Section(VM_SECTION, 0)})
    info = values["kernel_cmdline"]
    assert info["container"] is False
    assert info["live"]["init_on_free"] == "1" and info["live"]["ro"] == ""
    assert "init_on_alloc" not in info["live"]  # after "--": arguments of init, not of the kernel
    assert info["build_defaults"] == {"init_on_alloc": "1"}
    assert info["grub"] == {"quiet": "", "init_on_free": "1", "init_on_alloc": "1"}


def test_a_vm_with_the_parameters_passes_and_one_waiting_for_a_reboot_is_partial() -> None:
    section = VM_SECTION
    assert _cmdline_status(section)[0] is Status.PASS  # init_on_alloc by the build default
    pending = section.replace(" init_on_free=1 --", " --")
    status, message = _cmdline_status(pending)
    assert status is Status.PARTIAL and "reboot" in message
    unconfigured = "\n".join(line for line in pending.splitlines() if "init_on" not in line or "cmdline" in line)
    assert _cmdline_status(unconfigured)[0] is Status.FAIL


def test_a_container_is_not_applicable_never_pass() -> None:
    section = "container yes\ncmdline console=ttyS0 quiet init_on_free=1 init_on_alloc=1\n"
    status, message = _cmdline_status(section)
    assert status is Status.NOT_APPLICABLE and "not applicable in a container" in message
    assert _cmdline_status(VM_SECTION, level=2)[0] is Status.NOT_APPLICABLE  # required from level 3


HOST_FACTS_VM = {"virtualization_role": "guest", "virtualization_type": "kvm", "pkg_mgr": "apt"}
HOST_FACTS_CONTAINER = {"virtualization_role": "guest", "virtualization_type": "systemd-nspawn", "pkg_mgr": "apt"}


@pytest.mark.parametrize("level", [3, 4])
def test_the_grub_drop_in_appends_the_parameters_for_the_next_boot(level: int, tmp_path: Path) -> None:
    dropin = render("os_hardening", "grub-xzgov-cmdline.cfg.j2",
                    {"xzgov_level": level, "ansible_facts": HOST_FACTS_VM})
    assert f"GB/T 22239-2019 {level + 5}.1.4.10" in dropin
    (tmp_path / "60-xzgov-cmdline.cfg").write_text(dropin)
    # update-grub sources /etc/default/grub, then the drop-ins: the parameters are appended, earlier ones kept
    for before, expected in (('GRUB_CMDLINE_LINUX="console=ttyS0 init_on_free=0"',
                              "console=ttyS0 init_on_free=0 init_on_free=1 init_on_alloc=1"),
                             ('GRUB_CMDLINE_LINUX=""', "init_on_free=1 init_on_alloc=1")):
        (tmp_path / "grub").write_text(before + "\n")
        shell = subprocess.run(["sh", "-euc", f'. "{tmp_path}/grub"; . "{tmp_path}/60-xzgov-cmdline.cfg"; '
                                'printf %s "$GRUB_CMDLINE_LINUX"'], capture_output=True, text=True, check=True)
        assert shell.stdout == expected  # the last occurrence is the one the kernel keeps


def test_the_command_line_follows_the_kernel_sysctl_toggle_on_vms_and_containers() -> None:
    expression = "{{ os_hardening_kernel_cmdline_apply | bool }}"
    assert value("os_hardening", expression, {"xzgov_level": 3, "ansible_facts": HOST_FACTS_VM}) is True
    assert value("os_hardening", expression, {"xzgov_level": 3, "ansible_facts": HOST_FACTS_CONTAINER}) is False
    defaults = yaml.safe_load((ROLES / "os_hardening" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    assert defaults["os_hardening_kernel_cmdline"] == ["init_on_free=1", "init_on_alloc=1"]
    tasks = (ROLES / "os_hardening" / "tasks" / "cmdline.yml").read_text(encoding="utf-8")
    assert "os_hardening_residual | bool" in tasks  # level 3+ like the rest of residual information


# ------------------------------------------------------------------ dnf-automatic (openEuler / Kylin)

# dnf-automatic's options, from its documentation and its configuration classes (rpm-software-management/dnf,
# doc/automatic.rst and dnf/automatic/main.py: CommandsConfig, EmittersConfig, CommandConfig, EmailConfig,
# CommandEmailConfig); [base] takes dnf.conf's [main] options.
DNF_AUTOMATIC_KEYS: dict[str, set[str]] = {
    "commands": {"apply_updates", "base_config_file", "download_updates", "upgrade_type", "random_sleep",
                 "network_online_timeout", "reboot", "reboot_command"},
    "emitters": {"emit_via", "output_width", "system_name"},
    "command": {"command_format", "stdin_format"},
    "command_email": {"command_format", "stdin_format", "email_to", "email_from"},
    "email": {"email_to", "email_from", "email_host", "email_port"},
    "base": {"debuglevel", "errorlevel", "logdir", "skip_if_unavailable", "gpgcheck", "installonly_limit"},
}
DNF_BOOLEANS = {"1", "yes", "true", "on", "0", "no", "false", "off"}
# dnf repository options used (dnf.conf(5) "[repository] options")
DNF_REPO_KEYS = {"name", "baseurl", "mirrorlist", "metalink", "enabled", "gpgcheck", "gpgkey", "repo_gpgcheck",
                 "metadata_expire", "skip_if_unavailable", "priority", "sslverify", "sslcacert", "cost"}


def _dnf_host(family: str, level: int, **extra: Any) -> dict[str, Any]:
    return {"xzgov_level": level, "xzgov_os_family": family, "xzgov_os_version": "22.03" if family == "openeuler"
            else "10", "inventory_hostname": f"{family}-l{level}",
            "ansible_facts": {"pkg_mgr": "dnf", "os_family": "RedHat", "distribution_release": "LTS"}, **extra}


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


@pytest.mark.parametrize("family", ["openeuler", "kylin"])
@pytest.mark.parametrize("level", [2, 3, 4])
def test_dnf_automatic_configuration_uses_only_documented_options(family: str, level: int) -> None:
    conf = _ini(render("patching", "automatic.conf.j2", _dnf_host(family, level)))
    for section in conf.sections():
        assert section in DNF_AUTOMATIC_KEYS, section
        unknown = set(conf[section]) - DNF_AUTOMATIC_KEYS[section]
        assert not unknown, (section, unknown)
    commands = conf["commands"]
    assert commands["upgrade_type"] == "security"
    assert commands["download_updates"] in DNF_BOOLEANS and commands["apply_updates"] in DNF_BOOLEANS
    assert commands.getboolean("apply_updates") is True  # unattended security updates from level 2
    # dnf before 4.15.0 ignores `reboot` (Kylin V10 ships such a dnf): the reboot is the service's drop-in
    assert commands["reboot"] == "never" and "reboot_command" not in commands
    host = _dnf_host(family, level)
    assert value("patching", "{{ patching_dnf_reboots }}", host) is (level >= 3)
    drop_in = _ini(render("patching", "xzgov-reboot.conf.j2", host))
    assert drop_in["Service"]["ExecStartPost"] == "/usr/local/sbin/xzgov-reboot-when-needed 03:30"
    emit_via = [item.strip() for item in conf["emitters"]["emit_via"].split(",")]
    assert set(emit_via) <= {"email", "stdio", "motd", "command", "command_email"} and emit_via == ["command"]
    command = conf["command"]
    # the command emitter formats both strings with {body}: the report goes to syslog, and so to the log centre
    assert command["command_format"].format(body="report") == "logger -p authpriv.notice -t dnf-automatic"
    assert command["stdin_format"].format(body="report") == "report"
    assert conf["emitters"]["system_name"] == f"{family}-l{level}"


def test_levels_without_unattended_updates_only_download() -> None:
    conf = _ini(render("patching", "automatic.conf.j2", _dnf_host("openeuler", 3, patching_unattended=False,
                                                                  patching_automatic_reboot=False)))
    assert conf["commands"].getboolean("apply_updates") is False and conf["commands"]["reboot"] == "never"
    downloads = _dnf_host("openeuler", 3, patching_unattended=False)  # nothing installed: nothing to reboot for
    assert value("patching", "{{ patching_dnf_reboots }}", downloads) is False
    assert conf["commands"].getboolean("download_updates") is True


@pytest.mark.parametrize("family", ["openeuler", "kylin"])
def test_dnf_security_repository_is_the_regions_mirror(family: str) -> None:
    default = _ini(render("patching", "xzgov-security.repo.j2", _dnf_host(family, 3)))
    assert default.sections() == ["xzgov-security"]
    repo = default["xzgov-security"]
    assert set(repo) <= DNF_REPO_KEYS, set(repo) - DNF_REPO_KEYS
    assert repo.getboolean("enabled") and repo.getboolean("gpgcheck") and repo["gpgkey"]
    assert "$basearch" in repo["baseurl"]
    mirror = {"baseurl": "http://mirror.region.example/openeuler/update/$basearch/",
              "gpgkey": "http://mirror.region.example/openeuler/RPM-GPG-KEY-openEuler"}
    region = _ini(render("patching", "xzgov-security.repo.j2", _dnf_host(family, 3, xzgov_dnf_security_repo=mirror)))
    assert region["xzgov-security"]["baseurl"] == mirror["baseurl"]
    assert region["xzgov-security"]["gpgkey"] == mirror["gpgkey"]


def test_the_patching_role_has_a_dnf_branch_and_the_apt_branch_is_unchanged() -> None:
    tasks = yaml.safe_load((ROLES / "patching" / "tasks" / "main.yml").read_text(encoding="utf-8"))
    blocks = {task["name"]: task for task in tasks}
    dnf = blocks["Security updates (dnf-automatic, openEuler / Kylin)"]
    assert "ansible_facts['pkg_mgr'] in ['dnf', 'dnf5']" in dnf["when"]
    modules = [next(key for key in task if key.startswith("ansible.builtin.")) for task in dnf["block"]]
    assert modules[:3] == ["ansible.builtin.template", "ansible.builtin.package", "ansible.builtin.template"]
    assert dnf["block"][2]["ansible.builtin.template"]["dest"] == "/etc/dnf/automatic.conf"
    timer = next(task for task in dnf["block"] if "ansible.builtin.systemd_service" in task)
    assert timer["ansible.builtin.systemd_service"]["name"] == "dnf-automatic.timer"
    apt = blocks["Security updates (apt)"]
    assert "ansible_facts['pkg_mgr'] == 'apt'" in apt["when"]
    assert not any("configure dnf-automatic for security updates by hand" in str(task) for task in tasks)


def test_the_database_helpers_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    lines = ["@@begin_db", "/etc/a%20b 100644 0 0 1 X", "@@end_db"]
    ACCEPT._write_db(db, lines)
    assert ACCEPT._read_db(db) == lines
    with gzip.open(db, "rt") as handle:
        assert handle.read().endswith("@@end_db\n")
    assert (db.stat().st_mode & 0o777) == 0o600


def test_the_dnf_repository_variable_resolves_on_debian_hosts_too() -> None:
    # argument validation resolves every role variable on every host: a Debian host has no dnf repository
    debian = {"xzgov_level": 3, "xzgov_os_family": "debian", "ansible_facts": {"pkg_mgr": "apt"}}
    assert value("patching", "{{ patching_dnf_repo }}", debian) == {}


def test_the_pre_rebuild_question_asks_about_the_configuration_the_run_writes() -> None:
    """"Does this run change the AIDE configuration" repeated the real task's arguments: a change made to one (a new
    mode, another template) would have made the check-mode question answer for a file the run does not write, and
    the pre-rebuild check would be skipped or run for nothing. Both read one set of arguments."""
    question = task("integrity", "AUDIT | Whether this run changes the AIDE configuration", "aide.yml")
    write = task("integrity", "PATCH | AIDE configuration (watched trees", "aide.yml")
    assert question["check_mode"] is True and "check_mode" not in write
    assert question["ansible.builtin.template"] == write["ansible.builtin.template"]
    assert question["ansible.builtin.template"]["src"] == "xzgov-aide.conf.j2"
    source = (ROLES / "integrity/tasks/aide.yml").read_text(encoding="utf-8")
    assert source.count("src: xzgov-aide.conf.j2") == 1  # one anchor, not two copies that could drift
