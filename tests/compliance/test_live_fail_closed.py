"""A host's answer the parsers cannot read is never a pass (the live scan fails closed).

Every section of the gather script answered with exit 0 but with text that is not the command's output — garbage,
or nothing — is judged by every host rule: none may pass. (`ss` and `systemctl` listings were read line by line
and lines that did not parse skipped: an empty or foreign listing passed XZ-HOST-LISTENING, critical, and
XZ-HOST-SERVICES.) A host reached over SSH always has its SSH server's socket and systemd's units.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from policies.engine import Status, run_rules
from policies.registry import rules_for_point
from xzgov.facts.contract import Point
from xzgov.facts.host import HostTarget, gather_host_facts
from xzgov.facts.host_parsers import listening, services
from xzgov.facts.host_script import END, GATHER_SCRIPT, Section

SECTIONS = list(dict.fromkeys(re.findall(r"===XZ:([a-z_0-9]+)===", GATHER_SCRIPT)))
TARGET = HostTarget("h1", "10.0.0.1", "s", {
    "xzgov_level": 3, "xzgov_crypto_level": 3, "xzgov_time_sources": ["10.1.1.1"], "xzgov_log_servers": ["10.2.2.2"],
    "xzgov_ports": [], "xzgov_management_cidrs": ["10.9.0.0/16"]})


class _Answer:
    """A transport whose host answers every section with ``body`` and exit 0 (root, its own name)."""

    def __init__(self, body: str) -> None:
        self.body = body

    def run(self, script: str, timeout: float) -> tuple[int, str, str]:
        def text(name: str) -> str:
            return "0" if name == "whoami" else "h1" if name == "hostname" else self.body
        out = "".join(f"===XZ:{name}===\n{text(name)}\n===XZ:{name}:rc=0===\n" for name in SECTIONS)
        return 0, out + END + "\n", ""


@pytest.mark.parametrize("body", ["@@ garbage \x00 {]", "", "tcp LISTEN", "0 loaded units listed."],
                         ids=["garbage", "empty", "a-fragment", "a-summary-line"])
def test_no_host_rule_passes_on_an_answer_that_is_not_the_hosts(body: str) -> None:
    assert len(SECTIONS) > 30
    gathered = gather_host_facts(TARGET, _Answer(body), timeout=5)
    assert gathered.facts is not None, gathered.error
    results = run_rules(rules_for_point(Point.HOST), gathered.facts)
    assert results
    assert [(r.rule_id, r.message) for r in results if r.status == Status.PASS] == []


def _sections(name: str, text: str) -> dict[str, Section]:
    return {name: Section(text, 0)}


def test_a_listing_line_that_is_no_socket_is_refused_not_skipped() -> None:
    good = "tcp   LISTEN 0      128          0.0.0.0:22        0.0.0.0:*\n"
    assert listening(_sections("listening", good)) == [
        {"protocol": "tcp", "address": "0.0.0.0", "port": 22, "loopback": False}]
    for bad in ("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port\n" + good,  # a header: no -H
                good + "tcp   LISTEN 0      4096   0.0.0.0%eth0:telnet   0.0.0.0:*\n"):  # a service name
        with pytest.raises(ValueError, match="ss -Htuln line"):
            listening(_sections("listening", bad))


def test_a_unit_listing_without_units_is_refused() -> None:
    enabled = "ssh.service enabled enabled\nsystemd-journald.socket static -\n"
    active = "● ssh.service loaded active running OpenBSD Secure Shell server\n"
    facts = services({"services_enabled": Section(enabled, 0), "services_active": Section(active, 0)})
    assert facts == {"enabled": ["ssh.service", "systemd-journald.socket"], "active": ["ssh.service"]}
    for bad_enabled in ("", "0 loaded units listed.\n", "telnet enabled\n"):
        with pytest.raises(ValueError):
            services({"services_enabled": Section(bad_enabled, 0), "services_active": Section(active, 0)})


def test_undeclared_sockets_still_fail_when_the_ssh_socket_is_missing() -> None:
    # the error for a listing without the SSH socket came first and hid a telnet listener (critical) as "not judged"
    from xzgov.facts.host import Section as HostSection
    from xzgov.facts.host_parsers import parse_sections

    listing = "tcp LISTEN 0 128 0.0.0.0:23 0.0.0.0:*\ntcp LISTEN 0 128 0.0.0.0:2222 0.0.0.0:*\n"
    values, _ = parse_sections({"whoami": HostSection("0", 0), "listening": HostSection(listing, 0)})
    assert values["listening"]
    gathered = gather_host_facts(TARGET, _Answer(""), timeout=5)
    assert gathered.facts is not None
    facts = replace(gathered.facts, values={**gathered.facts.values, "listening": values["listening"]})
    judged = [r for r in run_rules(rules_for_point(Point.HOST), facts) if r.rule_id == "XZ-HOST-LISTENING"]
    assert [r.status for r in judged] == [Status.FAIL]
    assert "tcp/23" in " ".join(e.observed for r in judged for e in r.evidence)
    assert "no management SSH socket (tcp/22" in judged[0].message
