"""The sudo rights of the three administrator roles (三员分立) cannot be turned into root (no host booted).

`/usr/bin/apt-get install *` let the 系统管理员 pass `-o APT::Update::Pre-Invoke::=/bin/sh` and `systemctl start *`
start any unit (a unit runs whatever it names, as root). The rendered sudoers must name every argument of a package
manager or systemctl, give no such command without arguments (sudoers then allows any), query units without a
pager, and pass ``visudo -cf`` where visudo is installed.
"""

from __future__ import annotations

import os
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
# is allowed only as the last argument of the validating wrappers (roles/directory_client/files/, and the audit
# reader roles/os_hardening/files/xzgov-audit-read, which both roles install).
AUDIT_READ = "/usr/local/sbin/xzgov-audit-read *"
WRAPPERS = {"/usr/local/sbin/xzgov-faillock-reset *", "/usr/local/sbin/xzgov-apparmor-mode enforce *",
            "/usr/local/sbin/xzgov-apparmor-mode complain *", AUDIT_READ}
ROLES = Path(__file__).resolve().parents[2] / "roles"
FILES = ROLES / "directory_client" / "files"
WRAPPER_FILES = {"xzgov-faillock-reset": FILES / "xzgov-faillock-reset",
                 "xzgov-apparmor-mode": FILES / "xzgov-apparmor-mode",
                 "xzgov-audit-read": ROLES / "os_hardening" / "files" / "xzgov-audit-read"}
READERS = ("journalctl", "ausearch", "aureport", "last", "lastb")
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
    assert set(secadmin) >= WRAPPERS - {AUDIT_READ}
    assert not any(re.match(r"/usr/sbin/(faillock|aa-enforce|aa-complain) .*\*", c) for c in secadmin)


def test_no_command_takes_open_arguments() -> None:
    """A bare program allows any arguments (`journalctl --vacuum-time=1s`, `ausearch -if /etc/shadow`): none is."""
    for alias, command, _ in _all_rules():
        assert " " in command, f"{alias}: '{command}' takes any arguments as root"


def test_the_audit_administrators_read_only_through_the_wrapper() -> None:
    """Both roles' audit administrators get the read-only wrapper and nothing else; no role gets a reader itself."""
    rules = _all_rules()
    audit = {alias: {c for a, c, _ in rules if a == alias} for alias in ("XZGOV_AUDITADMIN", "XZGOV_AUDIT_ADMIN")}
    assert audit == {"XZGOV_AUDITADMIN": {AUDIT_READ}, "XZGOV_AUDIT_ADMIN": {AUDIT_READ}}
    for alias, command, noexec in rules:
        assert Path(command.split(" ", 1)[0]).name not in READERS, f"{alias}: '{command}' reads with open arguments"
        if command == AUDIT_READ:  # sudo's noexec library would stop the wrapper from starting the reader
            assert not noexec, f"{alias}: the wrapper cannot run NOEXEC (it preloads the library into the reader)"


def _guard(role: str, tasks: str, name: str, variable: str, host: dict[str, object]) -> list[str]:
    """What a role's own pre-sudoers assertion (`variable` of the task named `name`) finds loose for `host`."""
    import yaml

    from tests.roles.render import value
    listed = yaml.safe_load((ROLES / role / "tasks" / tasks).read_text(encoding="utf-8"))
    flat = [sub for task in listed for sub in task.get("block", [task])]
    task = next(task for task in flat if task.get("name", "").startswith(name))
    variables = dict(task["vars"])
    expression = variables.pop(variable)
    return list(value(role, expression, {**host, **variables}))


OLD_AUDIT = ["/usr/bin/journalctl", "/usr/sbin/ausearch", "/usr/sbin/aureport", "/usr/bin/last", "/usr/bin/lastb"]


def test_directory_client_refuses_a_bare_command_before_writing_sudoers() -> None:
    name = "AUDIT | sudo rights name their arguments"
    assert _guard("directory_client", "main.yml", name, "directory_client_loose", HOST) == []
    from tests.roles.render import value
    rules = value("directory_client", "{{ directory_client_sudo_rules }}", HOST)
    rules["auditadmin"] = {"noexec": True, "commands": OLD_AUDIT}
    loose = _guard("directory_client", "main.yml", name, "directory_client_loose",
                   {**HOST, "directory_client_sudo_rules": rules})
    assert loose == OLD_AUDIT
    # sudo 1.9.10+ (Debian 12: 1.9.13) reads an argument written ^…$ as a regular expression: any arguments
    regex = ["/usr/bin/apt-get ^.+$", "/usr/bin/systemctl restart ^.*$"]
    rules["auditadmin"] = {"noexec": True, "commands": regex}
    rules["sysadmin"] = {**rules["sysadmin"], "units": ["cron.service", "^.*$"]}
    loose = _guard("directory_client", "main.yml", name, "directory_client_loose",
                   {**HOST, "directory_client_sudo_rules": rules})
    assert sorted(loose) == sorted([*regex, "^.*$"])


def test_os_hardening_refuses_a_bare_command_or_a_wildcard_before_writing_sudoers() -> None:
    name = "AUDIT | Role commands name their arguments"
    host = {"xzgov_level": 3, "os_hardening_gbt": "8.1", "os_hardening_item": {}}
    assert _guard("os_hardening", "sudo.yml", name, "os_hardening_sudo_loose", host) == []
    roles = [{"name": "audit-admin", "group": "g", "description": "d", "noexec": True,
              "commands": [*OLD_AUDIT, "/usr/sbin/faillock --user * --reset", AUDIT_READ]}]
    loose = _guard("os_hardening", "sudo.yml", name, "os_hardening_sudo_loose",
                   {**host, "os_hardening_sudo_roles": roles})
    assert sorted(loose) == sorted([*OLD_AUDIT, "/usr/sbin/faillock --user * --reset"])
    roles[0]["commands"] = ["/usr/sbin/faillock --user ^.*$ --reset", "/usr/bin/apt-get ^[a-z -]+$", AUDIT_READ]
    loose = _guard("os_hardening", "sudo.yml", name, "os_hardening_sudo_loose",
                   {**host, "os_hardening_sudo_roles": roles})
    assert sorted(loose) == sorted(roles[0]["commands"][:2])  # regular expressions of sudo 1.9.10+


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
    role_path = str(ROLES / "directory_client")
    sources = value("directory_client", "{{ directory_client_sudo_wrapper_sources }}", {**HOST, "role_path": role_path})
    assert set(allowed) == WRAPPERS
    assert {w.split(" ", 1)[0] for w in WRAPPERS} == set(installed)
    for path in installed:  # the copy task's src: a shared wrapper from its owner's files/, else this role's
        name = Path(path).name
        source = Path(sources[name]).resolve() if name in sources else FILES / name
        assert source == WRAPPER_FILES[name].resolve() and source.is_file(), name
    assert not (FILES / "xzgov-audit-read").exists()  # one copy, os_hardening's
    tasks = (FILES.parent / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert tasks.index("directory_client_sudo_wrapper_sources.get(item | basename") < tasks.index("src: sudoers.j2")
    # os_hardening installs the same file where its audit-admin rule points, before it writes the rule
    host = {"xzgov_level": 3}
    assert value("os_hardening", "{{ os_hardening_sudo_audit_reader }}", host) + " *" == AUDIT_READ
    sudo = (ROLES / "os_hardening" / "tasks" / "sudo.yml").read_text(encoding="utf-8")
    assert sudo.index("src: xzgov-audit-read") < sudo.index("src: sudoers-role.j2")


# ---- the wrappers themselves, run with bash against a fake root (their constants pointed at a temp dir) ----------
def _wrapper(tmp_path: Path, name: str, constants: dict[str, str]) -> Path:
    text = WRAPPER_FILES[name].read_text(encoding="utf-8")
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


@pytest.mark.parametrize("name", sorted(WRAPPER_FILES))
def test_wrappers_are_strict_shell(name: str) -> None:
    text = WRAPPER_FILES[name].read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n") and "\nset -euo pipefail\n" in text
    assert "\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n" in text
    assert all(line.split("=", 1)[1].startswith("/") for line in text.splitlines()
               if re.match(r"readonly [A-Z_]+=/", line))
    assert re.search(r"\[\[ \$# -(eq [12]|ge 1) \]\] \|\| (usage|refuse)", text)
    assert os.access(WRAPPER_FILES[name], os.X_OK)


# ---- the audit reader: only read options reach the real tool ------------------------------------------------------
NOEXEC_LIB = Path("/usr/libexec/sudo/sudo_noexec.so")
TOOLS = {"JOURNALCTL": "/usr/bin/journalctl", "AUSEARCH": "/usr/sbin/ausearch", "AUREPORT": "/usr/sbin/aureport",
         "LAST": "/usr/bin/last", "LASTB": "/usr/bin/lastb"}


def test_audit_reader_runs_the_real_tools_with_sudos_noexec_library() -> None:
    text = WRAPPER_FILES["xzgov-audit-read"].read_text(encoding="utf-8")
    for constant, path in {**TOOLS, "NOEXEC_LIB": str(NOEXEC_LIB)}.items():
        assert f"\nreadonly {constant}={path}\n" in text, constant


@pytest.fixture
def audit_read(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls"
    constants = {}
    for constant, real in TOOLS.items():
        fake = tmp_path / Path(real).name
        fake.write_text(f'#!/bin/bash\nprintf "%s\\n" "$0" "$@" >> {log}\n'
                        f'printf "%s\\n" "PAGER=${{PAGER-}}" "SYSTEMD_PAGER=${{SYSTEMD_PAGER-}}" '
                        f'"LD_PRELOAD=${{LD_PRELOAD-}}" "LC_ALL=${{LC_ALL-unset}}" > {log}.env\n', encoding="utf-8")
        fake.chmod(0o755)
        constants[constant] = str(fake)
    library = NOEXEC_LIB if NOEXEC_LIB.is_file() else tmp_path / "sudo_noexec.so"
    if not library.exists():
        library.write_bytes(b"")  # no sudo here: a stand-in (the loader warns and ignores it)
    constants["NOEXEC_LIB"] = str(library)
    return _wrapper(tmp_path, "xzgov-audit-read", constants), log


@pytest.mark.parametrize("args", [
    # journalctl: emptying, rotating or moving the journal, other files or trees, fields and unknown options
    ("journal", "--vacuum-time=1s"), ("journal", "--vacuum-size=1K"), ("journal", "--vacuum-files=1"),
    ("journal", "--rotate"), ("journal", "--flush"), ("journal", "--relinquish-var"), ("journal", "--setup-keys"),
    ("journal", "--update-catalog"), ("journal", "--sync"), ("journal", "--directory=/x"),
    ("journal", "--directory", "/x"), ("journal", "-D", "/x"), ("journal", "--file=x"),
    ("journal", "--file", "/etc/shadow"), ("journal", "-i", "x"), ("journal", "--root=/"), ("journal", "--image=/x"),
    ("journal", "-M", "host"), ("journal", "--output-fields=MESSAGE"),
    ("journal", "-o", "export"), ("journal", "--output=short;id"), ("journal", "--vac=1s"), ("journal", "-f"),
    ("journal", "/usr/sbin/sshd"), ("journal", "_PID=1"), ("journal", "--"), ("journal", "-ussh.service"),
    # option injection: a value that is an option, a missing value, a bad value
    ("journal", "--unit=-x"), ("journal", "-u", "-x"), ("journal", "-u", "--vacuum-time=1s"), ("journal", "-u"),
    ("journal", "-n", "-5"), ("journal", "-n", "ten"), ("journal", "-p", "loud"), ("journal", "-g", "a\nb"),
    ("journal", "--since", "-1h"), ("journal", "-b", "--rotate"), ("journal", "--boot=x"), ("journal", "-u", "a/b"),
    # ausearch / aureport: reading a file (-if), writing one (--checkpoint), injection
    ("ausearch", "-if", "/etc/shadow"), ("ausearch", "--input", "/etc/shadow"), ("ausearch", "--checkpoint", "/tmp/x"),
    ("ausearch", "-m", "-if"), ("ausearch", "-m"), ("ausearch", "-sv", "maybe"), ("ausearch", "--format", "evil"),
    ("ausearch", "-ts", "-if", "/etc/shadow"), ("ausearch", "-k", "a b"), ("aureport", "-if", "x"),
    ("aureport", "--input", "x"), ("aureport", "-ts", "-if"), ("aureport", "x"),
    # last / lastb: another file, options not listed, paths and odd names
    ("last", "-f", "/etc/shadow"), ("last", "--file", "/etc/shadow"), ("last", "-f/etc/shadow"), ("last", "-n", "-f"),
    ("last", "-n", "x"), ("last", "/etc/shadow"), ("last", "-d"), ("last", "--time-format", "evil"),
    ("lastb", "-f", "/etc/shadow"), ("lastb", "Root;id"),
    # the tool names: only the five, and at least one
    ("journalctl", "-n", "1"), ("sh", "-c", "id"), ("../journal",), ("",), ()])
def test_audit_reader_refuses(audit_read: tuple[Path, Path], args: tuple[str, ...]) -> None:
    script, log = audit_read
    result = _run(script, *args)
    assert result.returncode == 2, result
    assert "refused" in result.stderr
    assert not log.exists(), "a reader was run"


@pytest.mark.parametrize(("args", "called"), [
    (("journal", "-u", "ssh.service", "-n", "50", "--since", "2026-01-01"),
     ("journalctl", "--no-pager", "--unit=ssh.service", "--lines=50", "--since=2026-01-01")),
    (("journal", "--since", "2026-01-01 10:00:00", "--until=1 hour ago", "-g", "Failed password", "-t", "sshd", "-k",
      "-x", "--utc", "--no-pager"),
     ("journalctl", "--no-pager", "--since=2026-01-01 10:00:00", "--until=1 hour ago", "--grep=Failed password",
      "--identifier=sshd", "-k", "-x", "--utc")),
    (("journal", "-b", "-1", "-p", "err..crit", "-o", "short-iso", "-r"),
     ("journalctl", "--no-pager", "--boot=-1", "--priority=err..crit", "--output=short-iso", "-r")),
    (("journal", "-b", "-n", "5"), ("journalctl", "--no-pager", "--boot", "--lines=5")),
    (("journal",), ("journalctl", "--no-pager")),
    (("ausearch", "-m", "USER_LOGIN", "-ts", "today", "-i"),
     ("ausearch", "--input-logs", "-m", "USER_LOGIN", "-ts", "today", "-i")),
    (("ausearch", "-ts", "01/31/2026", "10:00:00", "-te", "now", "-k", "xzgov-identity", "-f", "/etc/shadow"),
     ("ausearch", "--input-logs", "-ts", "01/31/2026", "10:00:00", "-te", "now", "-k", "xzgov-identity", "-f",
      "/etc/shadow")),
    (("aureport", "--summary", "-i"), ("aureport", "--input-logs", "--summary", "-i")),
    (("aureport", "-au", "--failed", "-ts", "yesterday", "--input-logs"),
     ("aureport", "--input-logs", "-au", "--failed", "-ts", "yesterday")),
    (("last", "-n", "20"), ("last", "-n", "20")),
    (("lastb", "-F", "-i", "-w", "--time-format", "iso", "root"), ("lastb", "-F", "-i", "-w", "--time-format=iso",
                                                                     "root"))])
def test_audit_reader_passes_read_options(audit_read: tuple[Path, Path], args: tuple[str, ...],
                                          called: tuple[str, ...]) -> None:
    script, log = audit_read
    result = _run(script, *args)
    assert result.returncode == 0, result.stderr
    tool, *passed = log.read_text(encoding="utf-8").splitlines()
    assert (Path(tool).name, *passed) == called


def test_audit_reader_runs_the_tool_without_a_pager_and_noexec(audit_read: tuple[Path, Path]) -> None:
    script, log = audit_read
    assert _run(script, "journal", "-n", "1").returncode == 0
    env = dict(line.split("=", 1) for line in Path(f"{log}.env").read_text(encoding="utf-8").splitlines())
    library = re.search(r"^readonly NOEXEC_LIB=(\S+)$", script.read_text(encoding="utf-8"), re.M)
    assert library
    assert env == {"PAGER": "cat", "SYSTEMD_PAGER": "cat", "LD_PRELOAD": library.group(1), "LC_ALL": "unset"}


def test_audit_reader_refuses_without_sudos_noexec_library(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    _recorder(tmp_path / "journalctl", log)
    script = _wrapper(tmp_path, "xzgov-audit-read", {"JOURNALCTL": str(tmp_path / "journalctl"),
                                                     "NOEXEC_LIB": str(tmp_path / "missing.so")})
    result = _run(script, "journal", "-n", "1")
    assert result.returncode == 3 and "missing" in result.stderr, result
    assert not log.exists()


@pytest.mark.skipif(not NOEXEC_LIB.is_file(), reason="sudo is not installed: its noexec library is needed")
def test_audit_reader_tool_cannot_start_a_program(tmp_path: Path) -> None:
    """What NOEXEC on the sudoers rule gave: the reader (a pager's !sh) cannot start anything."""
    log = tmp_path / "calls"
    tool = tmp_path / "journalctl"
    tool.write_text(f"#!/bin/bash\nif /bin/true; then echo started >> {log}; else echo blocked >> {log}; fi\n",
                    encoding="utf-8")
    tool.chmod(0o755)
    script = _wrapper(tmp_path, "xzgov-audit-read", {"JOURNALCTL": str(tool)})
    _run(script, "journal")
    assert log.read_text(encoding="utf-8").split() == ["blocked"]


@pytest.mark.skipif(shutil.which("visudo") is None and not Path("/usr/sbin/visudo").exists(),
                    reason="visudo is not installed (package sudo): the syntax check needs it")
@pytest.mark.parametrize("template", ["os_hardening", "directory_client"])
def test_arguments_with_sudoers_special_characters_are_escaped_in_both_roles(tmp_path: Path, template: str) -> None:
    """os_hardening wrote role commands unescaped: `/usr/bin/ps -eo pid,user,args` (what the security admin needs
    once /proc is hidepid) failed `visudo -cf`, stopping the host's hardening and the rollout's batch."""
    commands = ["/usr/sbin/nft list ruleset", "/usr/bin/ps -eo pid,user,args", "/usr/bin/chown root:root /srv/x",
                "/usr/bin/findmnt --output=TARGET"]
    if template == "os_hardening":
        text = render("os_hardening", "sudoers-role.j2", {
            "os_hardening_gbt": "8.1", "item": {"name": "security-admin", "group": "xzgov-security-admins",
                                                "description": "安全管理员", "commands": commands}})
    else:
        text = _sudoers(directory_client_sudo_rules={"secadmins": {"commands": commands}})
    path = tmp_path / "50-xzgov-roles"
    path.write_text(text, encoding="utf-8")
    visudo = shutil.which("visudo") or "/usr/sbin/visudo"
    result = subprocess.run([visudo, "-cf", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, text + result.stdout + result.stderr
    assert "pid\\,user\\,args" in text and "root\\:root" in text and "--output\\=TARGET" in text
