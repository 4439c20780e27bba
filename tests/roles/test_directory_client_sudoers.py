"""The sudo rights of the three administrator roles (三员分立) cannot be turned into root (no host booted).

`/usr/bin/apt-get install *` let the 系统管理员 pass `-o APT::Update::Pre-Invoke::=/bin/sh` and `systemctl start *`
start any unit (a unit runs whatever it names, as root). The rendered sudoers must name every argument of a package
manager or systemctl, give no such command without arguments (sudoers then allows any), query units without a
pager, and pass ``visudo -cf`` where visudo is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.roles.render import render

HOST = {"xzgov_level": 3, "directory_client_gbt": "8.1"}
ESCALATING = re.compile(r"^/\S*/(apt|apt-get|aptitude|dpkg|dnf|yum|rpm|systemctl|unattended-upgrade|reboot)$")


def _commands(sudoers: str) -> dict[str, list[str]]:
    """Cmnd_Alias name → its commands (unescaped ``\\,``)."""
    result: dict[str, list[str]] = {}
    for line in sudoers.splitlines():
        if line.startswith("Cmnd_Alias "):
            name, _, body = line[len("Cmnd_Alias "):].partition(" = ")
            result[name] = [c.strip().replace("\\,", ",") for c in re.split(r"(?<!\\), ", body)]
    return result


def _sudoers(**extra: object) -> str:
    return render("directory_client", "sudoers.j2", {**HOST, **extra})


def test_package_managers_and_systemctl_take_no_wildcard_and_no_open_arguments() -> None:
    commands = _commands(_sudoers())
    assert set(commands) == {"XZGOV_SYSADMIN", "XZGOV_AUDITADMIN", "XZGOV_SECADMIN"}
    for alias, listed in commands.items():
        for command in listed:
            program, _, arguments = command.partition(" ")
            if ESCALATING.match(program):
                assert arguments, f"{alias}: '{command}' allows any arguments"
                assert not re.search(r"[*?\[]", arguments), f"{alias}: '{command}' has a wildcard"
                if program.endswith("systemctl") and " status " in f" {arguments} ":
                    assert "--no-pager" in arguments, f"{alias}: '{command}' opens a pager (!sh)"
    sysadmin = commands["XZGOV_SYSADMIN"]
    assert "/usr/bin/apt-get update" in sysadmin and '/usr/bin/unattended-upgrade ""' in sysadmin
    assert "/usr/bin/systemctl restart cron.service" in sysadmin
    assert not any(c.startswith("/usr/bin/systemctl start") or "install" in c for c in sysadmin)


def test_units_come_from_the_variable_and_never_the_audit_or_security_services() -> None:
    commands = _commands(_sudoers(directory_client_sysadmin_units=["nginx.service"]))["XZGOV_SYSADMIN"]
    units = {c.rsplit(" ", 1)[1] for c in commands if c.startswith("/usr/bin/systemctl ") and "--failed" not in c}
    assert units == {"nginx.service"}
    default_units = {c.rsplit(" ", 1)[1] for c in _commands(_sudoers())["XZGOV_SYSADMIN"]
                     if c.startswith("/usr/bin/systemctl restart ")}
    assert not default_units & {"auditd.service", "rsyslog.service", "sssd.service", "nftables.service",
                                "apparmor.service"}


@pytest.mark.skipif(shutil.which("visudo") is None and not Path("/usr/sbin/visudo").exists(),
                    reason="visudo is not installed (package sudo): the syntax check needs it")
def test_rendered_sudoers_passes_visudo(tmp_path: Path) -> None:
    path = tmp_path / "50-xzgov-roles"
    path.write_text(_sudoers(), encoding="utf-8")
    visudo = shutil.which("visudo") or "/usr/sbin/visudo"
    result = subprocess.run([visudo, "-cf", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- wildcards and open arguments, both roles that write sudoers (directory_client, os_hardening) ----------------
# sudoers' `*` matches spaces and options too (`faillock --user * --reset` took `--user shadow --dir /etc --reset`,
# truncating /etc/shadow; `aa-enforce *` took `-d /tmp/x`), and a command without arguments allows any. A wildcard
# is allowed only as the last argument of the role's validating wrappers (roles/directory_client/files/).
WRAPPERS = {"/usr/local/sbin/xzgov-faillock-reset *", "/usr/local/sbin/xzgov-apparmor-mode enforce *",
            "/usr/local/sbin/xzgov-apparmor-mode complain *"}
FILES = Path(__file__).resolve().parents[2] / "roles" / "directory_client" / "files"
BASH = shutil.which("bash") or "/bin/bash"


def _os_hardening_sudoers(level: int) -> dict[str, str]:
    from tests.roles.render import value
    host = {"xzgov_level": level, "os_hardening_gbt": "8.1", "os_hardening_item": {}}
    roles = value("os_hardening", "{{ os_hardening_sudo_roles }}", host)
    return {item["name"]: render("os_hardening", "sudoers-role.j2", {**host, "item": item}) for item in roles}


def _all_rules() -> list[tuple[str, str, bool]]:
    """(alias, command, noexec) for every rendered command of every administrator role of both roles."""
    rules: list[tuple[str, str, bool]] = []
    texts = [_sudoers(), *_os_hardening_sudoers(3).values(), *_os_hardening_sudoers(4).values()]
    for text in texts:
        noexec = {m for m in re.findall(r"^Defaults!(\w+) noexec$", text, re.M)}
        noexec |= {m for m in re.findall(r"^%\S+ ALL=\(root\) (?:NOPASSWD: )?NOEXEC: (\w+)$", text, re.M)}
        for alias, listed in _commands(text).items():
            rules += [(alias, command, alias in noexec) for command in listed]
    return rules


def test_os_hardening_renders_its_two_roles() -> None:
    rendered = _os_hardening_sudoers(3)
    assert set(rendered) == {"audit-admin", "security-admin"}
    assert "%xzgov-audit-admins ALL=(root) XZGOV_AUDIT_ADMIN" in rendered["audit-admin"]
    assert _os_hardening_sudoers(2) == {}


def test_no_wildcard_but_the_validating_wrappers() -> None:
    rules = _all_rules()
    assert len(rules) > 20
    for alias, command, _ in rules:
        if command in WRAPPERS:
            continue
        assert not re.search(r"[*?\[\]]", command), f"{alias}: '{command}' has a sudoers wildcard"
    secadmin = [c for a, c, _ in rules if a == "XZGOV_SECADMIN"]
    assert set(secadmin) >= WRAPPERS
    assert not any(re.match(r"/usr/sbin/(faillock|aa-enforce|aa-complain) .*\*", c) for c in secadmin)


def test_no_open_arguments_outside_the_noexec_readers() -> None:
    """A bare program allows any arguments: only the audit readers (NOEXEC, read-only programs) may be bare."""
    readers = {"/usr/bin/journalctl", "/usr/sbin/ausearch", "/usr/sbin/aureport", "/usr/bin/last", "/usr/bin/lastb"}
    for alias, command, noexec in _all_rules():
        if " " not in command:
            assert command in readers and noexec, f"{alias}: '{command}' takes any arguments as root"
        if command.split(" ", 1)[0] in readers:
            assert noexec, f"{alias}: '{command}' runs without NOEXEC (a pager's !sh is a root shell)"


@pytest.mark.skipif(shutil.which("visudo") is None and not Path("/usr/sbin/visudo").exists(),
                    reason="visudo is not installed (package sudo): the syntax check needs it")
def test_os_hardening_sudoers_pass_visudo(tmp_path: Path) -> None:
    visudo = shutil.which("visudo") or "/usr/sbin/visudo"
    for name, text in _os_hardening_sudoers(4).items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = subprocess.run([visudo, "-cf", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_wrappers_the_sudoers_names_are_installed_by_the_role() -> None:
    from tests.roles.render import value
    installed = value("directory_client", "{{ directory_client_sudo_wrappers }}", HOST)
    allowed = value("directory_client", "{{ directory_client_sudo_wildcard_allowed }}", HOST)
    assert set(allowed) == WRAPPERS
    assert {w.split(" ", 1)[0] for w in WRAPPERS} == set(installed)
    for path in installed:
        assert (FILES / Path(path).name).is_file()
    tasks = (FILES.parent / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert tasks.index("directory_client_sudo_wrappers") < tasks.index("src: sudoers.j2")


# ---- the wrappers themselves, run with bash against a fake root (their constants pointed at a temp dir) ----------
def _wrapper(tmp_path: Path, name: str, constants: dict[str, str]) -> Path:
    text = (FILES / name).read_text(encoding="utf-8")
    for key, path in constants.items():
        text, count = re.subn(rf"^readonly {key}=\S+$", f"readonly {key}={path}", text, flags=re.M)
        assert count == 1, key
    script = tmp_path / name
    script.write_text(text, encoding="utf-8")
    return script


def _recorder(path: Path, log: Path, rc: int = 0) -> None:
    path.write_text(f'#!/bin/bash\nprintf "%s\\n" "$0" "$@" >> {log}\nexit {rc}\n', encoding="utf-8")
    path.chmod(0o755)


def _run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(script), *args], capture_output=True, text=True, check=False,
                          env={"PATH": "/nonexistent", "LC_ALL": "C.UTF-8"}, timeout=30)


@pytest.fixture
def faillock(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls"
    getent = tmp_path / "getent"
    getent.write_text('#!/bin/bash\n[[ $1 == passwd ]] && case $2 in alice|zhang.san|shadow) exit 0;; esac\n'
                      'exit 2\n', encoding="utf-8")
    getent.chmod(0o755)
    _recorder(tmp_path / "faillock", log)
    constants = {"GETENT": str(getent), "FAILLOCK": str(tmp_path / "faillock")}
    return _wrapper(tmp_path, "xzgov-faillock-reset", constants), log


@pytest.mark.parametrize("args", [
    ("shadow", "--dir", "/etc"), ("shadow --dir /etc",), ("--dir",), ("-d",), ("../x",), ("a/b",), ("alice", "bob"),
    ("",), (), ("Alice",), ("alice\n",), ("nobody-here",), ("-alice",), (".alice",)])
def test_faillock_wrapper_refuses(faillock: tuple[Path, Path], args: tuple[str, ...]) -> None:
    script, log = faillock
    result = _run(script, *args)
    assert result.returncode != 0, result
    assert not log.exists(), "faillock was run"


@pytest.mark.parametrize("user", ["alice", "zhang.san"])
def test_faillock_wrapper_resets_one_existing_account(faillock: tuple[Path, Path], user: str) -> None:
    script, log = faillock
    result = _run(script, user)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines()[1:] == ["--user", user, "--reset"]


@pytest.fixture
def apparmor(tmp_path: Path) -> tuple[Path, Path, Path]:
    log = tmp_path / "calls"
    profiles = tmp_path / "apparmor.d"
    (profiles / "abstractions").mkdir(parents=True)
    (profiles / "usr.sbin.cupsd").write_text("profile x {}\n", encoding="utf-8")
    (profiles / "-d").write_text("", encoding="utf-8")
    (profiles / "linked").symlink_to(tmp_path / "calls-elsewhere")
    (tmp_path / "calls-elsewhere").write_text("", encoding="utf-8")
    _recorder(tmp_path / "aa-enforce", log)
    _recorder(tmp_path / "aa-complain", log)
    script = _wrapper(tmp_path, "xzgov-apparmor-mode", {"PROFILES": str(profiles),
                                                        "AA_ENFORCE": str(tmp_path / "aa-enforce"),
                                                        "AA_COMPLAIN": str(tmp_path / "aa-complain")})
    return script, log, profiles


@pytest.mark.parametrize("args", [
    ("enforce", "-d", "/tmp/x"), ("enforce", "-d"), ("enforce", "../x"), ("enforce", "/etc/apparmor.d/usr.sbin.cupsd"),
    ("enforce", "usr.sbin.cupsd", "other"), ("enforce",), ("disable", "usr.sbin.cupsd"), ("usr.sbin.cupsd",),
    ("enforce", "abstractions"), ("enforce", "missing"), ("enforce", "linked"), ("enforce", ""),
    ("enforce", ".hidden"), ("enforce", "usr.sbin.cupsd -d /tmp/x"), ()])
def test_apparmor_wrapper_refuses(apparmor: tuple[Path, Path, Path], args: tuple[str, ...]) -> None:
    script, log, _ = apparmor
    result = _run(script, *args)
    assert result.returncode != 0, result
    assert not log.exists(), "an AppArmor tool was run"


@pytest.mark.parametrize("mode", ["enforce", "complain"])
def test_apparmor_wrapper_switches_one_installed_profile(apparmor: tuple[Path, Path, Path], mode: str) -> None:
    script, log, profiles = apparmor
    result = _run(script, mode, "usr.sbin.cupsd")
    assert result.returncode == 0, result.stderr
    tool, *args = log.read_text().splitlines()
    assert tool.endswith(f"aa-{mode}") and args == [str(profiles / "usr.sbin.cupsd")]


@pytest.mark.parametrize("name", ["xzgov-faillock-reset", "xzgov-apparmor-mode"])
def test_wrappers_are_strict_shell(name: str) -> None:
    text = (FILES / name).read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n") and "\nset -euo pipefail\n" in text
    assert "\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n" in text
    assert all(line.split("=", 1)[1].startswith("/") for line in text.splitlines()
               if re.match(r"readonly [A-Z_]+=/", line))
    assert re.search(r"\[\[ \$# -eq [12] \]\] \|\| usage", text)
