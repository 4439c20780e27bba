"""The live scan's SSH transport and inventory, against a stand-in ``ssh`` on PATH (no booted host needed):
a hung login is killed with what it started, an answer cut short or too large is an error, undecodable bytes
cost nothing, nothing on this side goes through a shell, and a broken or drifting inventory is said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from compliance.reports.formats import md
from compliance.scan.hosts import inventory_hosts, inventory_sources
from compliance.scanner import ScanOptions, scan
from policies.engine import Point, Status
from tests.cli import CliResult
from xzgov.facts.host import GATHER_SCRIPT, HostTarget, SshTransport, gather_host_facts
from xzgov.facts.host_script import END
from xzgov.facts.host_transport import AnswerTooLarge

Cli = Callable[..., CliResult]
#: an inventory value encrypted with ansible-vault (the scan holds no vault password)
VAULTED = "!vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          35633439646339623637396533643965623866\n"
CONTEXT = {"xzgov_level": 3, "xzgov_time_sources": ["10.69.0.123"],
           "xzgov_log_servers": [{"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}]}

#: a stand-in for the OpenSSH client: records its arguments (one per line), then acts as $FAKE_MODE says
FAKE_SSH = r"""#!/bin/sh
printf '%s\n' "$@" > "$FAKE_DIR/args"
case "$FAKE_MODE" in
  hang) sleep 300 & echo $! > "$FAKE_DIR/child"; sleep 300 ;;
  big) head -c 3000000 /dev/zero | tr '\000' a ;;
  gbk) cat > /dev/null; printf '===XZ:hostname===\nh1 \312\261\274\344\n===XZ:hostname:rc=0===\n===XZ:end===\n' ;;
  cut) cat > /dev/null; printf '===XZ:hostname===\nh1\n===XZ:hostname:rc=0===\n===XZ:stat===\n'; exit 124 ;;
  ansi) printf 'ssh: \033]0;PWNED\007\033[2J\033[31mconnect refused\n' >&2; exit 255 ;;
esac
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Put the stand-in first on PATH; ``fake_ssh(mode)`` sets its mode and returns its record folder."""
    folder = tmp_path / "fake-ssh"
    folder.mkdir()
    program = folder / "ssh"
    program.write_text(FAKE_SSH, encoding="utf-8")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DIR", str(folder))

    def use(mode: str) -> Path:
        monkeypatch.setenv("FAKE_MODE", mode)
        return folder

    return use


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_hung_login_is_killed_with_what_it_started(fake_ssh: Callable[[str], Path]) -> None:
    folder = fake_ssh("hang")
    transport = SshTransport("10.66.2.11", "xzops")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        transport.run("true", 1)
    assert time.monotonic() - started < 1 + 1 + 5 + 3  # the host's time, connecting, ssh's report, slack
    child = int((folder / "child").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the session's other processes must die with it (they hold its pipes)"


def test_a_hung_host_ends_the_scan_in_its_time(fake_ssh: Callable[[str], Path], register_root: Path) -> None:
    fake_ssh("hang")
    target = HostTarget("stuck", "10.66.2.11", "clean-l3", CONTEXT)
    started = time.monotonic()
    result = scan(ScanOptions(root=register_root, live=True, hosts=[target], systems=("clean-l3",), host_timeout=1))
    assert time.monotonic() - started < 20
    # the session ran the host's second, connecting (at most that long too) and 5 s for ssh to report its end
    assert result.systems[0].hosts["stuck"] == "timed out after 7s (the host's 1s, connecting and reporting)"


def test_an_answer_cut_short_is_an_error_not_empty_sections(fake_ssh: Callable[[str], Path]) -> None:
    fake_ssh("cut")
    target = HostTarget("h1", "10.66.2.11", "clean-l3", CONTEXT)
    gathering = gather_host_facts(target, SshTransport("10.66.2.11", "xzops"), timeout=5)
    assert gathering.facts is None
    assert gathering.error.startswith("answer cut short (exit status 124) after section 'hostname'")
    assert GATHER_SCRIPT.rstrip().endswith(f"echo '{END}'")


def test_a_too_large_answer_is_an_error(fake_ssh: Callable[[str], Path]) -> None:
    fake_ssh("big")
    small = SshTransport("10.66.2.11", "xzops", output_limit=2**20)
    with pytest.raises(AnswerTooLarge):
        small.run("true", 5)
    gathering = gather_host_facts(HostTarget("h1", "10.66.2.11", "clean-l3", CONTEXT), small, timeout=5)
    assert gathering.error == "answer larger than 1 MiB"


def test_undecodable_bytes_are_replaced_not_fatal(fake_ssh: Callable[[str], Path]) -> None:
    fake_ssh("gbk")
    rc, out, _ = SshTransport("10.66.2.11", "xzops").run("true", 5)
    assert rc == 0 and "\ufffd" in out.splitlines()[1] and out.rstrip().endswith(END)  # GBK 时间


def test_nothing_goes_through_a_shell_and_addresses_are_arguments(fake_ssh: Callable[[str], Path],
                                                                 tmp_path: Path) -> None:
    folder = fake_ssh("gbk")
    marker = tmp_path / "pwned"
    transport = SshTransport("fd00:66::11", "xzops", port=2222, identity_file="/keys/id ed25519",
                             ssh_extra_args=f"-o ConnectTimeout=3 $(touch {marker}) -o 'ProxyJump=bastion one'")
    transport.run("true", 1)
    args = (folder / "args").read_text().splitlines()
    assert not marker.exists()
    assert "$(touch" in args and "ProxyJump=bastion one" in args
    # the address after "--", unbracketed; connecting bounded by the host's time (1 s here)
    assert args[-3:-1] == ["--", "fd00:66::11"] and args[args.index("-l") + 1] == "xzops"
    assert "ConnectTimeout=1" in args and args[args.index("-i") + 1] == "/keys/id ed25519"
    assert args[-1] == "timeout 1 sudo -n /bin/sh -s"


def test_a_hosts_words_are_shown_never_obeyed_in_reports(fake_ssh: Callable[[str], Path], cli: Cli,
                                                         register_root: Path, tmp_path: Path) -> None:
    fake_ssh("ansi")
    inventory = tmp_path / "inventories"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"clean-l3-db01": {
        "ansible_host": "10.66.2.11", "xzgov_system": "clean-l3", **CONTEXT}}}}), encoding="utf-8")
    out = tmp_path / "out"
    res = cli("scan", "--root", register_root, "--live", "--inventory", inventory, "--system", "clean-l3",
              "--out", out, "--unsigned", "--host-timeout", "5")
    assert res.code == 1, res.text
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and not [p.name for p in written if b"\x1b" in p.read_bytes() or b"\x07" in p.read_bytes()]
    assert "\\x1b]0;PWNED" in (out / "summary.md").read_text(encoding="utf-8")
    # shown as the four characters \x1b (their backslash escaped for Markdown), never as the control
    assert md("a\x1b[2Jb|c") == "a\\\\x1b[2Jb\\|c"


def _inventory(folder: Path, hosts: dict[str, dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    return folder


def test_an_unreadable_inventory_source_stops_the_scan(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "inventories"
    _inventory(root / "lhasa", {"clean-l3-db01": {"ansible_host": "10.66.2.11", "xzgov_system": "clean-l3"}})
    (root / "dr").mkdir()
    (root / "dr" / "hosts.yml").write_text("all:\n  hosts: [unclosed\n", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", root, "--system", "clean-l3")
    assert res.code == 2, res.text
    assert "dr" in res.err and "cannot be read" in res.err


def test_a_vaulted_connection_variable_is_a_clear_error(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "inventories"
    folder.mkdir()
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 10.66.2.11\n"
        f"      ansible_user: {VAULTED}", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3")
    assert res.code == 2, res.text
    assert "ansible_user" in res.err and "vault" in res.err


def test_inventory_drift_is_warned_both_ways(register_root: Path, tmp_path: Path) -> None:
    """A host naming no system of the register, and a register host the inventory lacks, were not scanned:
    the report says so (a stale inventory would otherwise look like a scan of the whole fleet)."""
    folder = _inventory(tmp_path / "inventories", {
        "typo01": {"ansible_host": "10.66.2.12", "xzgov_system": "clean-I3", **CONTEXT},
        "elsewhere01": {"ansible_host": "10.66.2.13", "xzgov_system": "clean-l3", **CONTEXT}})

    class Refused:
        def run(self, script: str, timeout: float) -> tuple[int, str, str]:
            return 255, "", "ssh: connect to host: Connection refused"

    result = scan(ScanOptions(root=register_root, live=True, inventory=folder, transport=lambda _: Refused(),
                              systems=("clean-l3",), host_timeout=5))
    registered = [h.hostname for s in result.systems if s.name == "clean-l3" for h in _hosts(register_root)]
    assert any("typo01" in w and "clean-I3" in w and "not a system of the register" in w for w in result.warnings)
    assert registered and all(any(f"host {name} is not in the inventory" in w for w in result.warnings)
                              for name in registered)
    findings = [f for f in result.systems[0].findings if f.result.point is Point.HOST]
    assert findings and all(f.result.status is Status.ERROR for f in findings)


def _hosts(root: Path) -> list[object]:
    from xzgov.core.register import load_register

    return list(load_register(root).systems["clean-l3"].hosts)


def test_cli_reports_the_drift_on_stderr_and_in_json(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    folder = _inventory(tmp_path / "inventories", {
        "typo01": {"ansible_host": "127.0.0.1", "ansible_port": 1, "xzgov_system": "clean-I3", **CONTEXT}})
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3",
              "--format", "json", "--host-timeout", "5")
    assert res.code in (0, 1), res.text
    assert "clean-I3" in res.err or any("clean-I3" in w for w in json.loads(res.out).get("warnings", []))


def test_the_registers_own_inventory_plugin_files_do_not_stop_the_scan(register_root: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`inventories/` holds `<site>.xzgov.yml` (the register's own inventory plugin, readable only with the
    repository's ansible.cfg) beside the site directories: read from anywhere, the site directories count."""
    root = tmp_path / "inventories"
    _inventory(root / "lhasa", {"clean-l3-db01": {"ansible_host": "10.66.2.11", "xzgov_system": "clean-l3",
                                                  "xzgov_site": "lhasa", **CONTEXT}})
    (root / "lhasa.xzgov.yml").write_text("plugin: xzgov_register\nsite: lhasa\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no ansible.cfg here
    assert [t.name for t in inventory_hosts(root)] == ["clean-l3-db01"]
    assert inventory_sources(root) == [root / "lhasa"]


def test_an_overridden_vaulted_user_and_unreadable_values(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "inventories"
    folder.mkdir()
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: 1\n      ansible_become_password: {VAULTED}      ansible_user: {VAULTED}",
        encoding="utf-8")
    # --ssh-user replaces the vaulted user (a vaulted become password is never read): the scan runs
    assert [t.name for t in inventory_hosts(folder, ["ansible_user"])] == ["clean-l3-db01"]
    # a vaulted xzgov_* value is read by the scan: exit 2 naming it
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        f"      xzgov_time_sources: {VAULTED}", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3")
    assert res.code == 2 and "xzgov_time_sources" in res.err, res.text
    # a templated port is not expanded: exit 2, not a traceback
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        "      ansible_port: '{{ ssh_port }}'\n", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3")
    assert res.code == 2 and "ansible_port" in res.err and "Traceback" not in res.text, res.text


def test_a_vaulted_secret_the_scan_does_not_read_is_left_alone(tmp_path: Path) -> None:
    """The directory's passwords belong in the vault (docs/security-management.md): the live scan never reads
    them, so it scans an inventory holding them vaulted (before, any vaulted xzgov_* value was exit 2 telling the
    operator to keep it unencrypted)."""
    folder = tmp_path / "inventories"
    folder.mkdir()
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        f"      xzgov_directory_admin_password: {VAULTED}      xzgov_directory_reader_password: {VAULTED}",
        encoding="utf-8")
    assert [t.name for t in inventory_hosts(folder)] == ["clean-l3-db01"]


def test_sm4_vaulted_directory_passwords_in_group_vars(register_root: Path, tmp_path: Path) -> None:
    """The documented place (group_vars, SM4-vaulted with `xzgov vault encrypt`), through the repository's own
    vars plugin in a separate `xzgov` run from the repository root (its ansible.cfg): with the key the scan runs
    on (the host is unreachable, not the inventory); without it the error says to set the key file."""
    repo = Path(__file__).resolve().parents[2]
    folder = tmp_path / "inventories"
    (folder / "group_vars").mkdir(parents=True)
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        "      ansible_port: 1\n", encoding="utf-8")
    secrets = folder / "group_vars" / "all.yml"
    secrets.write_text("xzgov_directory_admin_password: AdminPlain-9876\n", encoding="utf-8")
    key = tmp_path / "vault.key"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("XZGOV_VAULT", "ANSIBLE_"))}

    def xzgov(*args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "xzgov", *map(str, args)], cwd=repo, capture_output=True,
                              text=True, env={**environment, **extra}, timeout=120, check=False)

    assert xzgov("vault", "keygen", key).returncode == 0
    assert xzgov("vault", "encrypt", secrets, "--key-file", key).returncode == 0
    assert "AdminPlain-9876" not in secrets.read_text(encoding="utf-8")
    scan_args = ("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3",
                 "--host-timeout", "5", "--no-gate")
    keyed = xzgov(*scan_args, XZGOV_VAULT_KEY_FILE=str(key))
    assert keyed.returncode == 0 and "unreachable" in keyed.stdout + keyed.stderr, keyed.stderr
    assert "AdminPlain-9876" not in keyed.stdout + keyed.stderr
    keyless = xzgov(*scan_args)
    assert keyless.returncode == 2 and "hint: set XZGOV_VAULT_KEY_FILE" in keyless.stderr, keyless.stderr


def test_every_variable_the_host_context_reads_is_checked_for_the_vault() -> None:
    """What :meth:`HostTarget.context` reads is what the vault check covers (a variable read and not checked would
    reach a rule as an encrypted object)."""
    from compliance.scan.hosts import read_by_scan
    from xzgov.facts.host import HostTarget

    read: set[str] = set()

    class Recording(dict[str, object]):
        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> object:
            read.add(key)
            return super().__getitem__(key)

    variables = Recording(xzgov_ports=[443])
    HostTarget("h", "10.0.0.1", "s", variables).context()
    assert read and all(read_by_scan(name) for name in read), read


def test_a_vaulted_contract_value_is_a_clear_error(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    """The scan compares the xzgov_* values `xzgov inventory` writes with the register (xzgov_zone, …): vaulted, one
    is exit 2 naming it — not an internal error from comparing an encrypted object."""
    folder = tmp_path / "inventories"
    folder.mkdir()
    (folder / "hosts.yml").write_text(
        "all:\n  hosts:\n    clean-l3-db01:\n      xzgov_system: clean-l3\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: 1\n      xzgov_zone: {VAULTED}", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3", "--no-gate")
    assert res.code == 2 and "xzgov_zone" in res.err and "internal error" not in res.err, res.text


def test_a_vault_encrypted_vars_file_is_a_clear_error(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    folder = _inventory(tmp_path / "inventories", {"clean-l3-db01": {"ansible_host": "127.0.0.1",
                                                                      "xzgov_system": "clean-l3"}})
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "all.yml").write_text(
        "$ANSIBLE_VAULT;1.1;AES256\n35633439646339623637396533643965623866\n", encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", folder, "--system", "clean-l3")
    assert res.code == 2 and "cannot be read" in res.err and "internal error" not in res.err, res.text


def test_a_site_inventory_does_not_call_other_sites_hosts_missing() -> None:
    from compliance.scan.points import inventory_drift
    from tests.stacks import builders

    home = builders.system("home", hosts=[builders.host("home01", "10.67.0.1")])
    away = builders.system("away", site="dr", hosts=[builders.host("away01", "10.167.0.1")])
    register = builders.register(home, away)
    lhasa_only = [HostTarget("home01", "10.67.0.1", "home", {"xzgov_site": "lhasa"})]
    assert inventory_drift(register, lhasa_only, ["home", "away"]) == ([], {})
    unknown, missing = inventory_drift(register, [], ["home", "away"])  # no site known: every host is missing
    assert unknown == [] and set(missing) == {"home", "away"}


def test_an_interrupted_scan_kills_the_running_sessions(fake_ssh: Callable[[str], Path]) -> None:
    import threading

    from xzgov.facts.host_transport import kill_sessions

    fake_ssh("hang")
    finished: list[float] = []

    def one() -> None:
        started = time.monotonic()
        SshTransport("10.66.2.11", "xzops").run("true", 60)
        finished.append(time.monotonic() - started)

    worker = threading.Thread(target=one)
    worker.start()
    time.sleep(1)
    kill_sessions()
    worker.join(timeout=10)
    assert finished and finished[0] < 5


def test_the_workers_fit_the_open_files_limit() -> None:
    """400 workers under a soft limit of 1,024 open files: 175 of 400 hosts failed "cannot run ssh: Too many
    open files", the scanner's error reported as the hosts'. The soft limit is raised toward the hard one, and
    the workers are as many as then fit. In a child process: the limits are the process's."""
    import sys

    probe = ("import resource\n"
             "from compliance.scan.gather import sessions_that_fit\n"
             "resource.setrlimit(resource.RLIMIT_NOFILE, (256, {hard}))\n"
             "print(sessions_that_fit(400), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    for hard, expected in ((1024, "120 1024"), (8192, "400 3264")):
        done = subprocess.run([sys.executable, "-c", probe.format(hard=hard)], capture_output=True, text=True,
                              check=False, timeout=60)
        assert done.returncode == 0 and done.stdout.split() == expected.split(), done.stderr


def test_when_the_scans_time_runs_out_its_sessions_end_with_it() -> None:
    """The overall net (a transport that does not bound itself) returned, but nothing killed the sessions: the
    process then waited for them at exit (25 s after the scan "ended" at 8 s). Now the net stops them, a
    session a freed worker starts afterwards is killed at once, and a host that finished after the last batch
    was collected keeps its answer."""
    import threading

    from compliance.scan.gather import gather_all
    from xzgov.facts.host_transport import SessionsStopped, allow_sessions, run_bounded, stop_sessions

    class Unbounded:  # an ssh-like session given far more time than the host's
        def run(self, script: str, timeout: float) -> tuple[int, str, str]:
            return run_bounded(["sleep", "60"], b"", 600, 2**20)

    targets = [HostTarget(f"h{i}", "10.66.2.11", "clean-l3", CONTEXT) for i in range(3)]
    started = time.monotonic()
    gathered = gather_all(targets, lambda _: Unbounded(), timeout=1, workers=2)
    assert time.monotonic() - started < 20
    errors = [g.error for g in gathered]
    assert errors[:2] == ["no answer within 7s"] * 2 and errors[2].startswith("not attempted"), errors
    deadline = time.monotonic() + 5
    while any(t.name.startswith("xzgov-scan") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name.startswith("xzgov-scan") for t in threading.enumerate()), "the workers still run"
    stop_sessions()
    try:
        with pytest.raises(SessionsStopped):  # started after the stop: killed at once, never run
            run_bounded(["sleep", "60"], b"", 600, 2**20)
    finally:
        allow_sessions()
    assert run_bounded(["true"], b"", 10, 2**20)[0] == 0  # a new scan may run sessions again
