"""What unattended security upgrades install and when they reboot (the role's variables and templates evaluated
through Ansible's templar with the committed inventories' host variables; apt's own parser reads the result)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.roles.render import render, task, value
from xzgov.facts.host_script import _SECTIONS

REPO = Path(__file__).resolve().parents[2]

#: The Origins-Pattern of Debian 12's /etc/apt/apt.conf.d/50unattended-upgrades (unattended-upgrades 2.9.1+nmu3,
#: /usr/share/unattended-upgrades/50unattended-upgrades), which the package installs beside the role's file.
PACKAGE_DEFAULT = """Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename},label=Debian";
        "origin=Debian,codename=${distro_codename},label=Debian-Security";
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
"""


def _inventory_hosts() -> dict[str, dict[str, object]]:
    hosts: dict[str, dict[str, object]] = {}
    for path in sorted((REPO / "inventories").glob("*/hosts.yml")):
        hosts.update(yaml.safe_load(path.read_text(encoding="utf-8"))["all"]["hosts"])
    return hosts


def test_the_hosts_of_one_system_never_reboot_at_the_same_time() -> None:
    """unattended-upgrades runs `shutdown -r <Automatic-Reboot-Time>`: with one window for every host, both load
    balancers, both time sources and both members of every database pair rebooted at 03:30 the same night."""
    windows: dict[str, list[str]] = defaultdict(list)
    for host in _inventory_hosts().values():
        if value("patching", "{{ patching_automatic_reboot }}", host):
            windows[str(host["xzgov_system"])].append(str(value("patching", "{{ patching_reboot_window }}", host)))
    pairs = {system: times for system, times in windows.items() if len(times) > 1}
    assert len(pairs) >= 5, pairs  # the example region's HA pairs and clusters at levels 3-4
    for system, times in pairs.items():
        assert len(set(times)) == len(times), (system, times)
        assert all("03:30" <= time <= "06:00" for time in times), (system, times)  # never in working hours


@pytest.mark.parametrize(("index", "window"), [(0, "03:30"), (1, "04:00"), (5, "06:00"), (6, "03:30"), (7, "04:00")])
def test_a_hosts_reboot_slot_follows_its_position_in_the_system(index: int, window: str) -> None:
    host = {"xzgov_level": 3, "xzgov_system_host_index": index}
    assert value("patching", "{{ patching_reboot_window }}", host) == window
    minute = 23 * 60 + 45 + index % 6 * 30  # a window opening before midnight goes on into the next day
    late = {**host, "patching_reboot_start": "23:45"}
    assert value("patching", "{{ patching_reboot_window }}", late) == f"{minute // 60 % 24:02d}:{minute % 60:02d}"
    text = render("patching", "52xzgov-unattended-upgrades.j2", host)
    assert f'Unattended-Upgrade::Automatic-Reboot-Time "{window}";' in text


@pytest.mark.skipif(shutil.which("apt-config") is None, reason="apt-config (Debian's apt) is not installed")
def test_only_the_security_suite_is_upgraded_unattended(tmp_path: Path) -> None:
    """apt joins a list from every configuration file: the role's Origins-Pattern was added to the package's, so
    the main suite's point releases were installed unattended too (with Remove-Unused-Dependencies)."""
    parts = tmp_path / "apt.conf.d"
    parts.mkdir()
    (parts / "50unattended-upgrades").write_text(PACKAGE_DEFAULT, encoding="utf-8")
    (parts / "52xzgov-unattended-upgrades").write_text(
        render("patching", "52xzgov-unattended-upgrades.j2", {"xzgov_level": 3}), encoding="utf-8")
    main = tmp_path / "apt.conf"
    main.write_text(f'Dir::Etc::parts "{parts}";\n', encoding="utf-8")
    dump = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, check=True,
                          env={**os.environ, "APT_CONFIG": str(main)}).stdout
    patterns = [line for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern::")]
    assert patterns == ['Unattended-Upgrade::Origins-Pattern:: '
                        '"origin=Debian,codename=${distro_codename}-security,label=Debian-Security";'], dump


def test_pending_updates_count_what_needs_new_packages() -> None:
    """`apt-get -s upgrade` keeps back an upgrade that needs a new package (a kernel ABI bump: linux-image-amd64
    depends on a new linux-image-6.1.0-N), so a pending kernel security update counted 0, on the host and in the
    scan; unattended-upgrades installs it."""
    argv = task("patching", "AUDIT | Pending security updates (simulated upgrade)")["ansible.builtin.command"]["argv"]
    assert argv[-1] == "dist-upgrade"
    assert "apt-get -s -o Debug::NoLocking=1 dist-upgrade" in dict(_SECTIONS)["security_updates"]


# ------------------------------------------------------------------------- dnf hosts: the reboot after updates
REBOOT_SCRIPT = REPO / "roles/patching/files/xzgov-reboot-when-needed"
#: what dnf-plugins-core's needs-restarting -r prints (plugins/needs_restarting.py, 4.0.8 to today) and exits with
NEEDS_REBOOT = ("Core libraries or services have been updated since boot-up:\n  * kernel\n\n"
                "Reboot is required to fully utilize these updates.\n"
                "More information: https://access.redhat.com/solutions/27943\n", 1)
NO_REBOOT = ("No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n", 0)
BROKEN = ("Error: Failed to download metadata for repo 'xzgov-security'\n", 1)


def _run_reboot_check(tmp_path: Path, answer: tuple[str, int], window: str = "04:00") -> tuple[int, str, str]:
    """The script with stand-in dnf, shutdown and logger (each records its arguments) on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "answer").write_text(answer[0], encoding="utf-8")
    for name, body in (("dnf", f'echo "$LC_ALL $*" >> {tmp_path}/dnf.args\ncat {tmp_path}/answer\nexit {answer[1]}'),
                       ("shutdown", f'echo "$*" >> {tmp_path}/shutdown.args'),
                       ("logger", f'echo "$*" >> {tmp_path}/logger.args')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LANG": "zh_CN.UTF-8"}
    ran = subprocess.run(["/bin/sh", str(REBOOT_SCRIPT), window], env=env, capture_output=True, text=True,
                         check=False)
    shutdown = tmp_path / "shutdown.args"
    logged = tmp_path / "logger.args"
    return (ran.returncode, shutdown.read_text(encoding="utf-8") if shutdown.exists() else "",
            logged.read_text(encoding="utf-8") if logged.exists() else "")


def test_a_dnf_host_reboots_in_its_window_only_when_core_packages_changed(tmp_path: Path) -> None:
    """dnf before 4.15.0 ignores automatic.conf's `reboot` (logged at debug level only): no openEuler / Kylin host
    ever rebooted into a patched kernel. The drop-in's script asks `dnf needs-restarting -r` (in the C locale: its
    answer is read) and schedules the reboot in the host's window."""
    status, shutdown, logged = _run_reboot_check(tmp_path / "needed", NEEDS_REBOOT)
    assert status == 0 and shutdown.startswith("-r 04:00 ") and "04:00" in logged
    assert (tmp_path / "needed/dnf.args").read_text(encoding="utf-8") == "C -q needs-restarting -r\n"
    status, shutdown, logged = _run_reboot_check(tmp_path / "current", NO_REBOOT)
    assert (status, shutdown, logged) == (0, "", "")


def test_a_failing_reboot_check_never_reboots_and_is_logged(tmp_path: Path) -> None:
    """needs-restarting exits 1 on an error too (dnf.exceptions.Error): exit 1 alone rebooted on a broken mirror."""
    status, shutdown, logged = _run_reboot_check(tmp_path / "broken", BROKEN)
    assert status == 1 and shutdown == "" and "authpriv.err" in logged and "xzgov-security" in logged
    status, shutdown, _logged = _run_reboot_check(tmp_path / "odd", ("Segmentation fault\n", 139))
    assert status == 1 and shutdown == ""
    status, shutdown, _logged = _run_reboot_check(tmp_path / "bad-window", NEEDS_REBOOT, window="now; reboot")
    assert status == 2 and shutdown == ""


def test_the_drop_in_is_installed_where_updates_install_unattended_and_removed_elsewhere() -> None:
    install = task("patching", "PATCH | Reboot in the window after updates that need it")
    remove = task("patching", "PATCH | No automatic reboot on this host")
    assert install["ansible.builtin.template"]["dest"] == remove["ansible.builtin.file"]["path"]
    assert install["notify"] == remove["notify"] == "Reload systemd units"
    for level, reboots in ((2, False), (3, True), (4, True)):
        host = {"xzgov_level": level}
        assert value("patching", "{{ patching_dnf_reboots }}", host) is reboots
    handlers = yaml.safe_load((REPO / "roles/patching/handlers/main.yml").read_text(encoding="utf-8"))
    assert any(h["name"] == "Reload systemd units" and h["ansible.builtin.systemd_service"]["daemon_reload"]
               for h in handlers)
