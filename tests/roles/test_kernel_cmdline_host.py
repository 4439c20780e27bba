"""The kernel command line on a booted test host (issue 17, x.1.4.10): the test hosts are systemd-nspawn
containers, which boot no kernel of their own, so the role must skip the GRUB drop-in and say why, and the live
scan must answer "not applicable in a container", never pass. (The drop-in itself is rendered and sourced the way
update-grub sources it in tests/roles/test_hardening_remaining.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policies.engine import Facts, Point, Status, evaluate
from policies.registry import get_rule
from tests.hosts.nspawn import TestHost
from tests.hosts.pool import HostPool, ansible_playbook, parse_recap, repo_root
from xzgov.facts.host_parsers import parse_sections
from xzgov.facts.host_script import GATHER_SCRIPT, split_sections

pytestmark = pytest.mark.hosts


def _level3(host_pool: HostPool) -> TestHost:
    host = next((h for h in host_pool.hosts if h.level >= 3), None)
    if host is None:
        pytest.skip("no level-3/4 test host (XZGOV_TEST_HOSTS): the kernel command line is a level-3 item")
    return host


def test_the_role_skips_the_kernel_command_line_in_a_container_and_says_why(
        host_pool: HostPool, hosts_inventory: Path, tmp_path: Path) -> None:
    host = _level3(host_pool)
    playbook = tmp_path / "cmdline.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Kernel command line only (roles/os_hardening cmdline.yml)",
        "hosts": host.name,
        "become": True,
        "tasks": [{"name": "Kernel command line", "ansible.builtin.include_role": {
            "name": "os_hardening", "tasks_from": "cmdline.yml"}}],
    }]))
    # JSON results keep each message on one line (the YAML format folds long non-ASCII strings)
    result = ansible_playbook(hosts_inventory, playbook=playbook, timeout=600,
                              extra_env={"ANSIBLE_ROLES_PATH": str(repo_root() / "roles"),
                                         "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    recap = parse_recap(result.stdout).get(host.name, {})
    assert result.returncode == 0 and recap.get("failed") == 0 and recap.get("changed") == 0, result.stdout[-3000:]
    flat = " ".join(result.stdout.split())
    assert "Kernel command line not applicable inside a container" in flat
    said = flat[flat.index("not applicable inside a container"):][:1500]
    assert "container and boots no kernel of its own" in said, said
    assert "(init_on_free=1 init_on_alloc=1) is not applicable here and was skipped" in said, said
    # every GRUB task was skipped: nothing written (changed=0 above) and no drop-in on the host
    assert host.sudo("test -e /etc/default/grub.d/60-xzgov-cmdline.cfg").returncode != 0


def test_the_live_scan_says_not_applicable_in_a_container(host_pool: HostPool) -> None:
    host = _level3(host_pool)
    gathered = host.sudo(GATHER_SCRIPT, timeout=300)
    sections = split_sections(gathered.stdout)
    assert "kernel_cmdline" in sections, gathered.stdout[-2000:]
    values, _ = parse_sections(sections)
    info = values["kernel_cmdline"]
    assert info["container"] is True and info["live"]  # /proc/cmdline read (the runner kernel's)
    outcome = evaluate(get_rule("XZ-HOST-KERNEL-CMDLINE"),
                       Facts("sys", Point.HOST, {"kernel_cmdline": info}, {}, level=host.level))
    assert outcome is not None
    assert outcome.status is Status.NOT_APPLICABLE
    assert "not applicable in a container" in outcome.message
