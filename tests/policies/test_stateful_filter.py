"""XZ-HOST-STATEFUL-FILTER ({L}.1.3.2.d session-state filtering, {L}.1.3.2.a default deny) on the live nftables
ruleset: ``nft -j list ruleset`` parsed into the ``packet_filter`` fact.

``data/nft-ruleset-hardened.json`` is real ``nft -j`` output (nftables 1.0.6, Debian 12) of a ruleset shaped as
roles/firewall writes it. Where this machine can (root, nft, ``unshare -n``), the role's own template is rendered for
an example inventory host, loaded into a private network namespace and read back — then broken one way at a time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.engine import Facts, Point, Status, run_rules
from policies.registry import RULES_BY_ID
from xzgov.facts.host import Section, parse_sections

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HARDENED = (HERE / "data" / "nft-ruleset-hardened.json").read_text(encoding="utf-8")
STATE, DENY = "GB/T 22239-2019:8.1.3.2.d", "GB/T 22239-2019:8.1.3.2.a"


def _judge(text: str, rc: int = 0, level: int = 3) -> tuple[Status, dict[str, Status], str]:
    values, missing = parse_sections({"nftables": Section(text, rc), "whoami": Section("0", 0)})
    assert "packet_filter" in values, missing
    facts = Facts("sys", Point.HOST, values, {"packet_filter": "h1:nft -j list ruleset"}, "2026-12-01T00:00:00Z",
                  "h1", level=level)
    (result,) = run_rules([RULES_BY_ID["XZ-HOST-STATEFUL-FILTER"]], facts)
    statuses = {c: result.status_of(c) for c in result.controls}
    return result.status, statuses, " | ".join([result.message, *(e.observed for e in result.evidence)])


def _edited(change: Any) -> str:
    data = json.loads(HARDENED)
    change(data["nftables"])
    return json.dumps(data)


def _input_rules(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if "rule" in i and i["rule"]["chain"] == "input"]


def test_the_parser_reads_base_chains_and_rules() -> None:
    values, _ = parse_sections({"nftables": Section(HARDENED, 0), "whoami": Section("0", 0)})
    pf = values["packet_filter"]
    assert pf["available"] and pf["tables"] == ["inet xzgov"]
    chains = {c["name"]: c for c in pf["chains"]}
    assert {n: (c["hook"], c["policy"]) for n, c in chains.items()} == {
        "input": ("input", "drop"), "forward": ("forward", "drop"), "output": ("output", "drop")}
    texts = [r["text"] for r in chains["input"]["rules"]]
    assert texts[:3] == ["iif lo accept", "ct state established,related accept", "ct state invalid drop"]
    ssh = chains["input"]["rules"][4]
    assert ssh["dport"] and ssh["state"] == ["new"] and ssh["comment"] == "ssh from management zone"
    assert ssh["text"] == "ip saddr @management_v4 tcp dport 22 ct state new accept"


def test_the_role_shaped_ruleset_passes_at_every_level() -> None:
    for level in (2, 3, 4):
        status, statuses, text = _judge(HARDENED, level=level)
        assert status is Status.PASS, text
        assert set(statuses.values()) == {Status.PASS} and len(statuses) == 2
    status, statuses, text = _judge(HARDENED, level=2)
    assert statuses == {"GB/T 22239-2019:7.1.3.2.d": Status.PASS, "GB/T 22239-2019:7.1.3.2.a": Status.PASS}
    assert "inet xzgov input rule 2/7 handle 6: 'ct state established,related accept' precedes" in text


def test_no_state_rule_fails_the_session_item_only() -> None:
    def drop_state(items: list[dict[str, Any]]) -> None:
        items.remove(_input_rules(items)[1])
    status, statuses, text = _judge(_edited(drop_state))
    assert status is Status.PARTIAL and statuses == {STATE: Status.FAIL, DENY: Status.PASS}
    assert "no rule accepts ct state established,related" in text


def test_port_rules_before_the_state_rule_fail() -> None:
    def move_state_last(items: list[dict[str, Any]]) -> None:
        state = _input_rules(items)[1]
        items.remove(state)
        items.append(state)
    status, statuses, text = _judge(_edited(move_state_last))
    assert status is Status.PARTIAL and statuses[STATE] is Status.FAIL
    assert "accepts by port before" in text and "handle 10" in text


def test_a_stateless_source_port_accept_fails() -> None:
    def sport(items: list[dict[str, Any]]) -> None:
        items.append({"rule": {"family": "inet", "table": "xzgov", "chain": "input", "handle": 99, "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 443}},
            {"accept": None}]}})
    status, statuses, text = _judge(_edited(sport))
    # a packet from source port 443 is any packet its sender chooses to send from there: the default deny is gone
    # as well as the state check
    assert status is Status.FAIL and statuses[STATE] is Status.FAIL and statuses[DENY] is Status.FAIL
    assert "tcp sport 443 accept" in text


def _first_input_rule(*expr: dict[str, Any]) -> Any:
    def insert(items: list[dict[str, Any]]) -> None:
        at = next(i for i, x in enumerate(items) if "rule" in x and x["rule"]["chain"] == "input")
        items.insert(at, {"rule": {"family": "inet", "table": "xzgov", "chain": "input", "handle": 99,
                                   "expr": [*expr, {"accept": None}]}})
    return insert


CT_STATE = {"ct": {"key": "state"}}


@pytest.mark.parametrize("expr", [
    (),  # accept
    ({"match": {"op": "in", "left": CT_STATE, "right": "new"}},),  # ct state new accept
    ({"match": {"op": "!=", "left": CT_STATE, "right": "invalid"}},),  # ct state != invalid accept
    ({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}},),  # iifname "eth0" accept
    ({"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},),
])
def test_an_accept_limited_by_nothing_defeats_the_default_deny(expr: tuple[dict[str, Any], ...]) -> None:
    """Only accepts that match a destination port were looked at: an input chain whose first rule accepts every
    (new) packet passed as "default deny (ipv4, ipv6)"."""
    status, statuses, text = _judge(_edited(_first_input_rule(*expr)))
    assert statuses[DENY] is Status.FAIL and status is not Status.PASS
    assert "accepts without a port, source, loopback or reply-state limit" in text and "handle 99" in text


@pytest.mark.parametrize("expr", [
    ({"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}},),
    ({"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}},
                "right": {"set": ["nd-neighbor-solicit"]}}},),
    ({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@management_v4"}},),
])
def test_a_limited_accept_keeps_the_default_deny(expr: tuple[dict[str, Any], ...]) -> None:
    status, _, text = _judge(_edited(_first_input_rule(*expr)))
    assert status is Status.PASS, text


def test_a_state_vmap_is_the_state_rule() -> None:
    """`ct state vmap { established : accept, related : accept, invalid : drop }` (the nftables wiki's form) was
    not read as accepting replies: a hardened filter was marked partial."""
    def vmap(items: list[dict[str, Any]]) -> None:
        rule = next(x["rule"] for x in items if "rule" in x and x["rule"]["chain"] == "input"
                    and any("match" in e and e["match"]["left"] == CT_STATE and e["match"]["right"] ==
                            ["established", "related"] for e in x["rule"]["expr"]))
        rule["expr"] = [{"vmap": {"key": CT_STATE, "data": {"set": [
            ["established", {"accept": None}], ["related", {"accept": None}], ["invalid", {"drop": None}]]}}}]
    status, _, text = _judge(_edited(vmap))
    assert status is Status.PASS, text


def test_accept_policy_fails_both_items() -> None:
    def accept(items: list[dict[str, Any]]) -> None:
        next(i for i in items if "chain" in i and i["chain"]["name"] == "input")["chain"]["policy"] = "accept"
    status, statuses, text = _judge(_edited(accept))
    assert status is Status.FAIL and statuses == {STATE: Status.FAIL, DENY: Status.FAIL}
    assert "no input base chain drops by default" in text


def test_ipv4_only_default_deny_fails_the_deny_item() -> None:
    def ip_only(items: list[dict[str, Any]]) -> None:
        for item in items:
            body = next(iter(item.values()))
            if isinstance(body, dict) and body.get("family") == "inet":
                body["family"] = "ip"
    status, statuses, text = _judge(_edited(ip_only))
    assert status is Status.PARTIAL and statuses == {STATE: Status.PASS, DENY: Status.FAIL}
    assert "['ipv6'] not default-denied" in text


def test_a_jumped_chain_counts_in_place() -> None:
    def via_chain(items: list[dict[str, Any]]) -> None:
        state = _input_rules(items)[1]
        state["rule"]["chain"] = "conntrack"
        at = items.index(state)
        items.insert(at, {"rule": {"family": "inet", "table": "xzgov", "chain": "input", "handle": 50,
                                   "expr": [{"jump": {"target": "conntrack"}}]}})
        items.insert(1, {"chain": {"family": "inet", "table": "xzgov", "name": "conntrack", "handle": 40}})
    status, _, text = _judge(_edited(via_chain))
    assert status is Status.PASS and "(via conntrack)" in text


# Rulesets below: data/nft-<name>.nft as written, data/nft-<name>.json what nft 1.0.6 (Debian 12) printed for it
# with `nft -j list ruleset` once loaded (re-checked by the last test where the machine can load rulesets).
LOADED = ("jump-conditional", "counter-jump", "icmp", "firewalld")


def _loaded(name: str) -> str:
    return (HERE / "data" / f"nft-{name}.json").read_text(encoding="utf-8")


def test_a_conditional_jump_applies_the_chain_under_its_match() -> None:
    """`iifname "eth0" jump open` with chain open a bare `accept` accepts everything from eth0: only a rule that
    was exactly `jump X` was followed, so the policy-drop chain passed."""
    status, statuses, text = _judge(_loaded("jump-conditional"))
    assert statuses[DENY] is Status.FAIL and status is not Status.PASS, text
    assert "handle 3 (via open): 'iifname eth0 accept'" in text


def test_counted_jumps_and_gotos_are_followed() -> None:
    """`counter jump base` (base holding the established/related accept) was not followed: a false "no rule accepts
    ct state established,related". `tcp dport 80 goto web` applies web's rules to port 80 only, and the rules after
    an unconditional `goto admin` are never reached (its trailing bare `accept` is no open accept)."""
    status, statuses, text = _judge(_loaded("counter-jump"))
    assert status is Status.PASS and set(statuses.values()) == {Status.PASS}, text
    assert "handle 6 (via base): 'ct state established,related accept' precedes every port rule" in text
    values, _ = parse_sections({"nftables": Section(_loaded("counter-jump"), 0), "whoami": Section("0", 0)})
    (chain,) = values["packet_filter"]["chains"]
    assert [(r["text"], r["via"]) for r in chain["rules"]][3:] == [
        ("tcp dport 80 ip saddr 10.69.0.0/16 accept", "web"), ("tcp dport 80 counter drop", "web"),
        ("tcp dport 22 ip saddr 10.69.1.0/24 accept", "admin")]


def test_jump_loops_end() -> None:
    """input → a → b → a: the jump back to a stays a jump (nft refuses such a ruleset; a JSON fact may not)."""
    def loop(items: list[dict[str, Any]]) -> None:
        items.insert(1, {"chain": {"family": "inet", "table": "xzgov", "name": "a", "handle": 40}})
        items.insert(1, {"chain": {"family": "inet", "table": "xzgov", "name": "b", "handle": 41}})
        items += [{"rule": {"family": "inet", "table": "xzgov", "chain": chain, "handle": handle,
                            "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth1"}},
                                     {"jump": {"target": target}}]}}
                  for chain, target, handle in (("input", "a", 97), ("a", "b", 98), ("b", "a", 99))]
    values, _ = parse_sections({"nftables": Section(_edited(loop), 0), "whoami": Section("0", 0)})
    rules = next(c for c in values["packet_filter"]["chains"] if c["name"] == "input")["rules"]
    assert rules[-1]["text"] == "iifname eth1 iifname eth1 iifname eth1 jump a" and rules[-1]["via"] == "b"


def test_icmp_by_protocol_is_an_icmp_accept() -> None:
    """`ip protocol icmp accept` / `ip6 nexthdr icmpv6 accept` were open accepts that defeated the default deny."""
    status, statuses, text = _judge(_loaded("icmp"))
    assert status is Status.PASS and set(statuses.values()) == {Status.PASS}, text


def test_an_unconditional_last_reject_denies_by_default() -> None:
    """firewalld's input chain: policy accept, ending in `reject with icmpx admin-prohibited` — reported as "no
    input base chain drops by default"; its `ct status dnat accept` (connections the host's own nat rules forwarded)
    was judged an accept limited by nothing. The stock firewalld ruleset passes."""
    status, statuses, text = _judge(_loaded("firewalld"))
    assert "no input base chain drops by default" not in text
    assert "default deny (ipv4, ipv6): inet firewalld filter_INPUT policy accept, ends in 'reject' (handle 15)" in text
    assert status is Status.PASS and set(statuses.values()) == {Status.PASS}, text
    assert "handle 11: 'ct status dnat accept'" not in text

    def snat(items: list[dict[str, Any]]) -> None:  # another status is no limit: still an open accept
        rule = next(i["rule"] for i in items if "rule" in i and i["rule"]["handle"] == 11)
        rule["expr"] = json.loads(json.dumps(rule["expr"]).replace('"dnat"', '"snat"'))
    status, _, text = _judge(_edited_from(_loaded("firewalld"), snat))
    assert status is not Status.PASS and "handle 11" in text, text

    def no_dnat(items: list[dict[str, Any]]) -> None:
        items[:] = [i for i in items if not ("rule" in i and i["rule"]["handle"] == 11)]
    status, statuses, text = _judge(_edited_from(_loaded("firewalld"), no_dnat))
    assert status is Status.PASS and set(statuses.values()) == {Status.PASS}, text


@pytest.mark.parametrize("change", [
    # the last rule drops only some packets
    lambda rules: rules[-1]["expr"].insert(0, {"match": {"op": "==", "left": {"payload": {
        "protocol": "tcp", "field": "dport"}}, "right": 23}}),
    # a goto of the base chain itself hands the packets its target leaves undecided to the policy (accept)
    lambda rules: rules[4]["expr"].__setitem__(-1, {"goto": {"target": "filter_INPUT_ZONES"}}),
])
def test_a_last_drop_not_every_packet_reaches_is_no_default_deny(change: Any) -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        change([i["rule"] for i in items if "rule" in i and i["rule"]["chain"] == "filter_INPUT"])
    status, _, text = _judge(_edited_from(_loaded("firewalld"), edit))
    assert status is Status.FAIL and "no input base chain drops by default" in text, text


def _edited_from(text: str, change: Any) -> str:
    data = json.loads(text)
    change(data["nftables"])
    return json.dumps(data)


def test_without_nft_the_host_fails_and_without_root_the_fact_is_missing() -> None:
    status, statuses, _ = _judge("nft absent")
    assert status is Status.FAIL and set(statuses.values()) == {Status.FAIL}
    values, missing = parse_sections({"nftables": Section("Operation not permitted", 1), "whoami": Section("0", 0)})
    assert "packet_filter" not in values and "not run as root" in missing["packet_filter"]


# --------------------------------------------------------- the role's own template, loaded by the kernel


def _can_load() -> bool:
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "nft", "list", "ruleset"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_load(), reason="needs root, nft and unshare -n (a private network namespace)")
def test_the_firewall_roles_ruleset_for_an_example_host_passes(tmp_path: Path) -> None:
    from tests.roles.render import render

    inventory = yaml.safe_load((ROOT / "inventories" / "lhasa" / "hosts.yml").read_text(encoding="utf-8"))
    host_vars = dict(inventory["all"]["hosts"]["dzyz-db01"], inventory_hostname="dzyz-db01")
    text = render("firewall", "xzgov.nft.j2", host_vars)
    assert "ct state established,related accept" in text
    (tmp_path / "xzgov.nft").write_text(text.replace("table inet xzgov\ndelete table inet xzgov\n", ""),
                                        encoding="utf-8")
    loaded = subprocess.run(["unshare", "-n", "sh", "-c", f"nft -f {tmp_path / 'xzgov.nft'} && nft -j list ruleset"],
                            capture_output=True, text=True, check=False, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    status, statuses, observed = _judge(loaded.stdout)
    assert status is Status.PASS and set(statuses.values()) == {Status.PASS}, observed


@pytest.mark.skipif(not _can_load(), reason="needs root, nft and unshare -n (a private network namespace)")
@pytest.mark.parametrize("name", LOADED)
def test_the_stored_rulesets_are_what_nft_prints(name: str) -> None:
    loaded = subprocess.run(["unshare", "-n", "sh", "-c", f"nft -f {HERE / 'data' / f'nft-{name}.nft'} && "
                             "nft -j list ruleset"], capture_output=True, text=True, check=False, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    parsed = [parse_sections({"nftables": Section(text, 0), "whoami": Section("0", 0)})[0]["packet_filter"]
              for text in (loaded.stdout, _loaded(name))]
    assert parsed[0] == parsed[1]
