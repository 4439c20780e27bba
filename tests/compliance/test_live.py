"""The live scan: hosts gathered in parallel with per-host timeouts; an unreachable or silent host is an
error (never a pass); the host rules' results land on the system's items."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from compliance.reports.formats import expand_findings
from compliance.results import ItemState
from compliance.scanner import ScanOptions, scan
from policies.engine import Point, Status
from policies.registry import rules_for_point
from tests.cli import CliResult
from xzgov.facts.host import HostTarget, LocalTransport

Cli = Callable[..., CliResult]
HOST_RULES = {rule.id for rule in rules_for_point(Point.HOST)}
CONTEXT = {"xzgov_level": 3, "xzgov_time_sources": ["10.69.0.123"],
           "xzgov_log_servers": [{"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}]}


def _host_findings(result: object, system: str = "clean-l3") -> list:  # type: ignore[type-arg]
    report = next(s for s in result.systems if s.name == system)  # type: ignore[attr-defined]
    return [f for f in report.findings if f.result.point is Point.HOST]


def test_unreachable_host_is_an_error_never_a_pass(register_root: Path) -> None:
    ghost = HostTarget("ghost", "127.0.0.1", "clean-l3", {**CONTEXT, "ansible_port": 1, "ansible_user": "nobody"})
    result = scan(ScanOptions(root=register_root, live=True, hosts=[ghost], systems=("clean-l3",), host_timeout=20))
    findings = _host_findings(result)
    assert {f.result.rule_id for f in findings} == HOST_RULES
    assert all(f.result.status is Status.ERROR and "unreachable" in f.result.message for f in findings)
    report = result.systems[0]
    assert report.hosts["ghost"].startswith("unreachable")
    lockout_item = next(i for i in report.items if i.item_id == "GB/T 22239-2019:8.1.4.1.b")
    assert lockout_item.state is ItemState.ERROR
    assert result.blocking()  # errors gate at --fail-on high


def test_a_host_that_does_not_answer_in_time_is_an_error(register_root: Path) -> None:
    """A transport that does not bound itself (ssh does: see the next tests) still cannot hold the scan: the
    overall net (a host's whole time, ``session_time``: 1 + 1 + 5 s here) ends the gathering."""
    class Silent:
        def run(self, script: str, timeout: float) -> tuple[int, str, str]:
            time.sleep(timeout + 11)
            return 0, "", ""

    target = HostTarget("silent", "10.66.2.11", "clean-l3", CONTEXT)
    started = time.monotonic()
    result = scan(ScanOptions(root=register_root, live=True, hosts=[target], transport=lambda _: Silent(),
                              systems=("clean-l3",), host_timeout=1))
    assert time.monotonic() - started < 15
    assert "no answer within 7s" in result.systems[0].hosts["silent"]  # the session's whole time, said as such
    assert all(f.result.status is Status.ERROR for f in _host_findings(result))


def test_local_host_scan_maps_host_rules_to_items(register_root: Path) -> None:
    # the host as the inventory names it: its own name (a host answering as another is not judged)
    name = socket.gethostname()
    target = HostTarget(name, "127.0.0.1", "clean-l3", CONTEXT)
    result = scan(ScanOptions(root=register_root, live=True, hosts=[target], transport=lambda _: LocalTransport(),
                              systems=("clean-l3",)))
    findings = _host_findings(result)
    assert {f.result.rule_id for f in findings} == HOST_RULES  # every rule ran or is an explicit error
    assert all(f.result.target == name for f in findings)
    by_rule = {f.result.rule_id: f.result for f in findings}
    # this CI machine is not a hardened government host: no faillock, no auditd, no log forwarding
    assert by_rule["XZ-HOST-LOCKOUT"].status is Status.FAIL
    assert by_rule["XZ-HOST-LOG-FORWARD"].status is Status.FAIL
    for rr in by_rule.values():  # a check that could not gather its facts is an error, not a pass
        assert rr.status is not Status.PASS or rr.evidence
    item = next(i for i in result.systems[0].items if i.item_id == "GB/T 22239-2019:8.1.4.1.b")
    assert "XZ-HOST-LOCKOUT" in item.rules and item.state in (ItemState.FAIL, ItemState.PARTIAL, ItemState.ERROR)


def test_cli_live_scan_reads_an_ansible_inventory(cli: Cli, register_root: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventories" / "lhasa"
    inventory.mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"clean-l3-db01": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "xzops", "xzgov_system": "clean-l3",
        **CONTEXT}}}}), encoding="utf-8")
    res = cli("scan", "--root", register_root, "--live", "--inventory", tmp_path / "inventories",
              "--system", "clean-l3", "--format", "json", "--host-timeout", "20")
    assert res.code == 1, res.text
    data = json.loads(res.out)
    host = [f for f in expand_findings(data, data["systems"][0]) if f["point"] == "host"]
    assert host and all(f["status"] == "error" and f["target"] == "clean-l3-db01" for f in host)
    missing = cli("scan", "--root", register_root, "--live", "--inventory", tmp_path / "none")
    assert missing.code == 2


@pytest.mark.hosts
def test_unhardened_booted_host_fails_host_items(register_root: Path, tmp_path: Path) -> None:
    """Boot a real Debian 12 host (tests/hosts), scan it over SSH as production does: before hardening the
    host rules fail (issue 7's tests check that hardening turns them into passes)."""
    from tests.hosts.pool import HostPool, HostSpec, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with HostPool([HostSpec("scan-l3", 3)]) as pool:  # boots on entry, tears down on exit
        host = pool.hosts[0]
        inventory = pool.write_inventory(tmp_path / "inventory" / "hosts.yml",
                                         extra_host_vars={host.name: {"xzgov_system": "clean-l3"}})
        result = scan(ScanOptions(root=register_root, live=True, inventory=inventory.parent,
                                  systems=("clean-l3",), host_timeout=120))
    report = result.systems[0]
    assert report.hosts == {host.name: "ok"}
    by_rule = {f.result.rule_id: f.result for f in report.findings if f.result.point is Point.HOST}
    assert set(by_rule) == HOST_RULES
    for rule in ("XZ-HOST-LOCKOUT", "XZ-HOST-PASSWORD", "XZ-HOST-IDLE-TIMEOUT", "XZ-HOST-AUDIT-RULES",
                 "XZ-HOST-LOG-FORWARD", "XZ-HOST-TIME-SYNC", "XZ-HOST-SSH", "XZ-HOST-PASSWORD-HASHING",
                 "XZ-HOST-CRON", "XZ-HOST-SSH-SESSIONS", "XZ-HOST-LOGIN-BANNER", "XZ-HOST-KERNEL-PARAMS",
                 "XZ-HOST-SECURITY-UPDATES", "XZ-HOST-MAC", "XZ-HOST-ANTI-MALWARE"):
        assert by_rule[rule].status is Status.FAIL, (rule, by_rule[rule].message)
    items = {i.item_id: i for i in report.items}
    assert items["GB/T 22239-2019:8.1.4.1.b"].state is ItemState.FAIL
    assert items["GB/T 22239-2019:8.1.4.3.a"].state is ItemState.FAIL
