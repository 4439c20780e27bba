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
