"""The live scan's parsers and host rules on the cases a review of them fed in (realistic output of a host that
does not meet the control): each passed before, or failed a compliant host. The hardened sections of
``test_rules_hosts`` are the baseline; each case changes one thing.

nftables: a dormant table filters nothing (nft(8): its base chains are not attached); a verdict map on another key
than the connection state stands for one rule per element; ``ip saddr 0.0.0.0/0`` and ``tcp dport 0-65535`` limit
nothing. sshd: a Match block's values as sshd reads them (quotes removed, ``5m`` = 300 s); an Include the scan does
not read (in a Match block, or of other files) is not a pass. auditd: a key never narrows a ``never`` rule; the
exclude list drops SYSCALL / PATH records whatever a rule records. sudo: a role's rule with more commands than its
alias. apt: a simulated upgrade that failed is no "0 pending"; package lists never refreshed make the count stale.
login.defs as shadow reads it. dpkg: a held package is installed. rsyslog: an action in a ruleset no input binds and
no call runs, or after an unconditional stop, forwards nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from policies.engine import Facts, Point, Status, run_rules
from policies.registry import RULES_BY_ID
from tests.policies.test_rules_hosts import HARDENED
from xzgov.facts.host import Section, parse_sections
from xzgov.facts.host_parsers import parse_rsyslog

NFT = json.loads((Path(__file__).parent / "data" / "nft-ruleset-hardened.json").read_text(encoding="utf-8"))


def judge(rule_id: str, **changes: str) -> tuple[Status, str]:
    sections = {key: Section(text, 0) for key, text in {**HARDENED, **changes}.items()}
    values, _ = parse_sections(sections)
    values["host"] = {"time_sources": ["10.69.0.123", "10.69.0.124"],
                      "log_servers": [{"host": "10.69.1.10", "port": 6514}],
                      "directory_uri": "ldaps://directory01:636"}
    facts = Facts("sys", Point.HOST, values, {}, "2026-12-01T00:00:00Z", "h1", level=3)
    (result,) = run_rules([RULES_BY_ID[rule_id]], facts)
    return result.status, " | ".join([result.message, *(e.observed for e in result.evidence)])


def test_the_baseline_passes_every_rule_judged_here() -> None:
    for rule in ("XZ-HOST-STATEFUL-FILTER", "XZ-HOST-SSH", "XZ-HOST-IDLE-TIMEOUT", "XZ-HOST-SSH-SESSIONS",
                 "XZ-HOST-AUDIT-RULES", "XZ-HOST-DIRECTORY", "XZ-HOST-PASSWORD"):
        assert judge(rule)[0] is Status.PASS, (rule, judge(rule))


# ---- nftables -------------------------------------------------------------------------------------------------

def _ruleset(edit: Any) -> str:
    ruleset = copy.deepcopy(NFT)
    edit(ruleset["nftables"])
    return json.dumps(ruleset)


def _input_rules(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item["rule"] for item in items if "rule" in item and item["rule"].get("chain") == "input"]


def _add_rule(expressions: list[dict[str, Any]], first: bool = False) -> Any:
    def edit(items: list[dict[str, Any]]) -> None:
        existing = _input_rules(items)[0]
        rule = {"rule": {"family": existing["family"], "table": existing["table"], "chain": "input", "handle": 999,
                         "expr": expressions}}
        at = items.index({"rule": existing}) if first else len(items)
        items.insert(at, rule)
    return edit


IIF = {"meta": {"key": "iifname"}}
DPORT = {"payload": {"protocol": "tcp", "field": "dport"}}


@pytest.mark.parametrize(("edit", "why"), [
    (lambda items: [item["table"].update(flags="dormant") for item in items if "table" in item],
     "every table dormant: attached to no hook"),
    (_add_rule([{"vmap": {"key": IIF, "data": {"set": [["lo", {"accept": None}], ["eth1", {"accept": None}]]}}}]),
     "iifname vmap { lo : accept, eth1 : accept }: all of eth1 open"),
    (_add_rule([{"vmap": {"key": DPORT, "data": {"set": [[5432, {"accept": None}]]}}}], first=True),
     "tcp dport vmap { 5432 : accept } before the session-state rule"),
    (_add_rule([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                           "right": {"prefix": {"addr": "0.0.0.0", "len": 0}}}}, {"accept": None}]),
     "ip saddr 0.0.0.0/0 accept"),
    (_add_rule([{"match": {"op": "==", "left": DPORT, "right": {"range": [1, 65535]}}}, {"accept": None}]),
     "tcp dport 1-65535 accept"),
], ids=["dormant", "iifname-vmap", "dport-vmap-first", "saddr-any", "dport-all"])
def test_a_filter_that_lets_everything_in_is_not_a_pass(edit: Any, why: str) -> None:
    status, said = judge("XZ-HOST-STATEFUL-FILTER", nftables=_ruleset(edit))
    assert status in (Status.FAIL, Status.PARTIAL), (why, said)


def test_a_vmap_jump_is_followed_into_its_chain() -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        existing = _input_rules(items)[0]
        family, table = existing["family"], existing["table"]
        items.append({"chain": {"family": family, "table": table, "name": "input_lan", "handle": 900}})
        items.append({"rule": {"family": family, "table": table, "chain": "input_lan", "handle": 901,
                               "expr": [{"accept": None}]}})
        _add_rule([{"vmap": {"key": IIF, "data": {"set": [["eth1", {"jump": {"target": "input_lan"}}]]}}}])(items)
    status, said = judge("XZ-HOST-STATEFUL-FILTER", nftables=_ruleset(edit))
    assert status is Status.PARTIAL and "input_lan" in said


# ---- sshd ------------------------------------------------------------------------------------------------------

def _match(*lines: str, source: str = "/etc/ssh/sshd_config") -> str:
    return "\n".join(f"{source}\t{line}" for line in lines)


@pytest.mark.parametrize(("rule", "block"), [
    ("XZ-HOST-IDLE-TIMEOUT", ("Match User ops", "    ClientAliveInterval 5m")),
    ("XZ-HOST-SSH", ("Match User ops", '    PermitRootLogin "no"')),
    ("XZ-HOST-SSH-SESSIONS", ("Match User ops", '    MaxSessions "4"')),
])
def test_a_match_blocks_value_is_read_as_sshd_reads_it(rule: str, block: tuple[str, ...]) -> None:
    assert judge(rule, sshd_match=_match(*block))[0] is Status.PASS


@pytest.mark.parametrize("lines", [
    ("Match Group admins", "    Include /etc/ssh/admins.d/*.conf"),
    ("Include /etc/ssh/local.d/*.conf",),
])
def test_an_include_the_scan_does_not_read_is_not_a_pass(lines: tuple[str, ...]) -> None:
    for rule in ("XZ-HOST-SSH", "XZ-HOST-IDLE-TIMEOUT", "XZ-HOST-SSH-SESSIONS"):
        status, said = judge(rule, sshd_match=_match(*lines))
        assert status is Status.FAIL and "not read by the scan" in said, (rule, said)
    assert judge("XZ-HOST-SSH", sshd_match=_match("Include /etc/ssh/sshd_config.d/*.conf"))[0] is Status.PASS


# ---- auditd ----------------------------------------------------------------------------------------------------

def test_a_never_rule_with_a_key_suppresses_as_one_without() -> None:
    never = "-a never,exit -F arch=b64 -S adjtimex,settimeofday,execve -F key=noise"
    status, said = judge("XZ-HOST-AUDIT-RULES", auditctl_rules=never + "\n" + HARDENED["auditctl_rules"])
    assert status is Status.PARTIAL and "time change" in said


@pytest.mark.parametrize(("exclude", "status"), [
    ("-a always,exclude -F msgtype=SYSCALL", Status.FAIL),
    ("-a always,exclude -F msgtype=1300", Status.FAIL),
    ("-a never,exclude", Status.FAIL),
    ("-a always,exclude -F msgtype=PATH", Status.PARTIAL),
    ("-a always,exclude -F msgtype=AVC", Status.PASS),
    ("-a always,exclude -F msgtype=SYSCALL -F auid=4294967295", Status.PASS),  # noise reduction
])
def test_the_exclude_list_drops_what_the_rules_record(exclude: str, status: Status) -> None:
    assert judge("XZ-HOST-AUDIT-RULES", auditctl_rules=HARDENED["auditctl_rules"] + "\n" + exclude)[0] is status


# ---- sudo, apt, login.defs, dpkg -------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    "rule %sysadmin ALL=(root) XZGOV_SYSADMIN, ALL",
    "rule %sysadmin ALL=(root) XZGOV_SYSADMIN, (ALL) NOPASSWD: ALL",
    "rule %sysadmin ALL=(root) XZGOV_SYSADMIN, /bin/bash",
])
def test_a_role_rule_with_more_than_its_alias_fails(rule: str) -> None:
    section = HARDENED["directory_client"].replace("rule %sysadmin ALL=(root) XZGOV_SYSADMIN", rule)
    assert section != HARDENED["directory_client"]
    status, said = judge("XZ-HOST-DIRECTORY", directory_client=section)
    assert status is Status.FAIL and "%sysadmin" in said


def test_a_failed_upgrade_simulation_is_no_zero_pending() -> None:
    failed = HARDENED["security_updates"].replace("pending 0", "pending error")
    status, said = judge("XZ-HOST-SECURITY-UPDATES", security_updates=failed)
    assert status is Status.ERROR and "simulated upgrade failed" in said
    stale = HARDENED["security_updates"].replace("config L='1'\n", "")
    status, said = judge("XZ-HOST-SECURITY-UPDATES", security_updates=stale)
    assert status is Status.FAIL and "never refreshed" in said
    held = HARDENED["security_updates"].replace("install ok installed", "hold ok installed")
    assert judge("XZ-HOST-SECURITY-UPDATES", security_updates=held)[0] is Status.PASS


@pytest.mark.parametrize(("line", "passes"), [
    ("PASS_MAX_DAYS 90", True),
    ('PASS_MAX_DAYS "90"', True),
    ("PASS_MAX_DAYS 90   # 等保: 90 天", False),  # shadow reads "90   # …": not a number, its default applies
    ("PASS_MAX_DAYS 090", False),  # strtol base 0: an invalid octal
])
def test_login_defs_is_read_as_shadow_reads_it(line: str, passes: bool) -> None:
    section = "\n".join(line if entry.startswith("PASS_MAX_DAYS") else entry
                        for entry in HARDENED["login_defs"].splitlines())
    assert (judge("XZ-HOST-PASSWORD", login_defs=section)[0] is Status.PASS) is passes


# ---- rsyslog: an action that never runs forwards nothing ---------------------------------------------------

TLS = ('action(type="omfwd" target="10.69.1.10" port="6514" protocol="tcp" StreamDriver="gtls" '
       'StreamDriverMode="1" StreamDriverAuthMode="x509/name")')


@pytest.mark.parametrize(("text", "forwarded"), [
    (TLS, True),
    (f'ruleset(name="never_called") {{\n  {TLS}\n}}', False),  # no input binds it, no call runs it
    (f'ruleset(name="fwd") {{\n  {TLS}\n}}\ninput(type="imuxsock" ruleset="fwd")', True),
    (f'ruleset(name="fwd") {{\n  {TLS}\n}}\n*.* call fwd', True),
    (f'ruleset(name="RSYSLOG_DefaultRuleset") {{\n  {TLS}\n}}', True),
    (f'*.* stop\n{TLS}', False),  # every message stops before the action
    (f'if $programname == "noisy" then {{\n  stop\n}}\n{TLS}', True),  # a conditional stop
    (f'{TLS}\n*.* stop', True),
    # a second reader's real configurations, each missed by the first version
    (f'if $programname == "haproxy" then\n    stop\n{TLS}', True),  # a bare stop line: the if's body
    (f'input(type="imtcp" port="514" ruleset="fwd")\n*.* stop\nruleset(name="fwd") {{\n  {TLS}\n}}', True),
    (f"ruleset(name='fwd') {{\n  {TLS}\n}}\ninput(type='imuxsock' ruleset='fwd')", True),
    (f'ruleset(name="fwd") {{\n  {TLS}\n}}\nset $.target = "fwd";\ncall_indirect $.target;', True),
])
def test_an_action_no_message_reaches_forwards_nothing(text: str, forwarded: bool) -> None:
    assert bool(parse_rsyslog(text)) is forwarded
