"""The host firewall (roles/firewall: default drop in both directions) lets through everything the region's
contract configures on a host: time sources, its log server, the name servers and its site's package mirror
(out), and every declared host port that something reaches (in) — checked over the example region for every
host, generically: each address a contract variable names is covered by an out-flow (``ipaddress``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.register.conftest import REPO, edit, line_of
from xzgov.core.errors import Diagnostic
from xzgov.core.inventory import build_inventory, upstream_flows
from xzgov.core.register import check_register, load_register

PUBLIC_SAMPLE = ipaddress.IPv4Address("203.0.113.7")  # TEST-NET-3: a public source
PRIVATE_SAMPLES = [ipaddress.IPv4Address(a) for a in ("10.64.0.5", "172.16.0.5", "192.168.0.5")]


def _hosts() -> dict[str, dict[str, Any]]:
    register = load_register(REPO)
    hosts: dict[str, dict[str, Any]] = {}
    for site in register.region.sites:
        hosts.update(build_inventory(register, site)["all"]["hosts"])
    return hosts


HOSTS = _hosts()
REGISTER = load_register(REPO)


def _reaches(flows: list[dict[str, Any]], direction: str, protocol: str, port: int,
             address: ipaddress.IPv4Address) -> bool:
    for flow in flows:
        if (flow["direction"], flow["protocol"], int(flow["port"])) != (direction, protocol, port):
            continue
        if any(address in ipaddress.IPv4Network(c) for c in flow.get("except_cidrs", [])):
            continue
        if any(address in ipaddress.IPv4Network(c) for c in flow["peer_cidrs"]):
            return True
    return False


def _contract_destinations(name: str, host: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(protocol, port, address) each contract variable of the host makes it connect to."""
    own = host["ansible_host"]
    wanted: list[tuple[str, int, str]] = []
    wanted += [("udp", 123, source) for source in host["xzgov_time_sources"] if source != own]
    wanted += [("tcp", int(server["port"]), server["host"]) for server in host["xzgov_log_servers"]
               if server["host"] != own]
    for server in host.get("xzgov_name_servers", []):
        if server != own:
            wanted += [("udp", 53, server), ("tcp", 53, server)]
    upstream = {u.server: u for u in REGISTER.region.time_upstream}
    for server in host.get("xzgov_time_source_upstream", []):  # each address its name may resolve to
        ports = [("udp", 123), ("tcp", 4460)] if server["nts"] else [("udp", 123)]
        wanted += [(protocol, port, str(address)) for protocol, port in ports
                   for network in upstream[server["host"]].networks
                   for address in (network.network_address, network.broadcast_address)]
    urls = [host.get("xzgov_security_mirror", ""), host.get("xzgov_malware_mirror", "")]
    urls += list((host.get("xzgov_dnf_security_repo") or {}).values())
    mirror = REGISTER.region.package_mirror(host["xzgov_site"])
    for url in filter(None, urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            continue
        assert mirror is not None, f"{name}: {url} is not the region's mirror"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # the URL's host name resolves into the mirror's cidrs: every address there must be allowed
        for cidr in mirror.cidrs:
            network = ipaddress.IPv4Network(cidr)
            wanted += [("tcp", port, str(network.network_address)), ("tcp", port, str(network.broadcast_address))]
    return wanted


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_every_contract_destination_is_allowed_out(name: str) -> None:
    host = HOSTS[name]
    missing = [(protocol, port, address) for protocol, port, address in _contract_destinations(name, host)
               if not _reaches(host["xzgov_allowed_flows"], "out", protocol, port, ipaddress.IPv4Address(address))]
    assert not missing, f"{name}: the firewall would drop {missing}"


def test_every_host_resolves_names_and_updates_from_the_regions_mirror() -> None:
    for name, host in HOSTS.items():
        assert host["xzgov_name_servers"] == ["10.69.0.53", "10.69.0.54", "10.169.0.53"], name
        # the ClamAV signatures: xzgov_malware_mirror was read by roles/anti_malware and set by nothing, so
        # freshclam stayed off on every level-3/4 host and XZ-HOST-ANTI-MALWARE could only be partial
        assert host["xzgov_malware_mirror"] == f"http://mirror.{host['xzgov_site']}.xzgov.internal/clamav", name
        if host["xzgov_os_family"] == "debian":
            assert host["xzgov_security_mirror"].startswith(f"http://mirror.{host['xzgov_site']}.xzgov"), name
        else:
            repo = host["xzgov_dnf_security_repo"]
            assert repo["baseurl"].startswith(f"http://mirror.{host['xzgov_site']}.xzgov"), name
            assert "{version}" not in repo["baseurl"] + repo["gpgkey"], name


def test_the_time_sources_and_the_log_centre_reach_each_other() -> None:
    """ntp01 ↔ ntp02 (each syncs with the other), both forward to their own log server; tyrz-db01 syncs."""
    ntp01 = HOSTS["ntp01"]["xzgov_allowed_flows"]
    assert _reaches(ntp01, "out", "udp", 123, ipaddress.IPv4Address("10.69.0.124"))
    assert not _reaches(ntp01, "out", "udp", 123, ipaddress.IPv4Address("10.69.0.123"))
    assert _reaches(ntp01, "out", "tcp", 6514, ipaddress.IPv4Address("10.69.1.10"))
    assert _reaches(HOSTS["tyrz-db01"]["xzgov_allowed_flows"], "out", "udp", 123, ipaddress.IPv4Address("10.69.0.123"))
    centre = HOSTS["log-centre01"]["xzgov_allowed_flows"]
    assert not any(f["peer"] == "log-server:log-centre" for f in centre)  # it is that server


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_every_reached_port_is_allowed_in(name: str) -> None:
    host = HOSTS[name]
    flows = host["xzgov_allowed_flows"]
    for entry in host["xzgov_ports"]:
        protocol, port = entry["protocol"], int(entry["port"])
        inbound = [f for f in flows if (f["direction"], f["protocol"], int(f["port"])) == ("in", protocol, port)]
        if entry["exposure"] == "public":
            assert _reaches(flows, "in", protocol, port, PUBLIC_SAMPLE), f"{name}: public {port} closed"
            assert not any(_reaches([f], "in", protocol, port, a) for f in inbound
                           if f["peer"] == "internet" for a in PRIVATE_SAMPLES), f"{name}: private via 'internet'"
        elif entry["reached_by"]:
            assert inbound, f"{name}: {protocol}/{port} is reached by {entry['reached_by']} but closed"
        if entry["exposure"] == "internal" and entry["reached_by"]:
            assert any(f["peer"] == f"system:{host['xzgov_system']}" for f in inbound), name


def test_hlwjr_load_balancers_serve_the_internet() -> None:
    for name in ("hlwjr-lb01", "hlwjr-lb02"):
        flows = HOSTS[name]["xzgov_allowed_flows"]
        assert _reaches(flows, "in", "tcp", 443, PUBLIC_SAMPLE)
        assert not any(_reaches(flows, "in", "tcp", 443, a) for a in PRIVATE_SAMPLES)


def _only(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    matching = [d for d in diagnostics if d.code == code]
    assert len(matching) == 1, diagnostics
    return matching[0]


MIRROR = """  package_mirrors:
    - id: mirror
      sites: [lhasa]
      cidrs: [10.68.251.0/28]
      debian_security: http://mirror.xzgov.internal/debian-security
      dnf:
        openeuler: {baseurl: "https://mirror.xzgov.internal/oe/{version}/$basearch/", gpgkey: file:///etc/k}
"""


UPSTREAM = """  name_servers: [10.69.0.53]
  time_upstream:
    - {server: ntp.ntsc.ac.cn, addresses: [114.118.7.161/32, 114.118.7.163/32]}
"""


def _add(region: Path, text: str) -> Path:
    path = region / "region.yaml"
    edit(path, "  operators:", text + "  operators:")
    return path


def test_the_clamav_mirror_reaches_every_host_with_its_port_open(region: Path) -> None:
    clamav = "      clamav: https://mirror.xzgov.internal:8443/clamav\n"
    region_file = _add(region, MIRROR + clamav)
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    for name, host in hosts.items():
        assert host["xzgov_malware_mirror"] == "https://mirror.xzgov.internal:8443/clamav", name
        ports = {(f["protocol"], f["port"]) for f in host["xzgov_allowed_flows"]
                 if f["peer"] == "package-mirror:mirror"}
        assert ("tcp", 8443) in ports, (name, ports)
    edit(region_file, clamav, "")  # a mirror without ClamAV signatures: no variable (freshclam stays off)
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert not any("xzgov_malware_mirror" in host for host in hosts.values())


def test_the_fixture_region_gets_mirror_and_name_server_flows(region: Path) -> None:
    _add(region, "  name_servers: [10.69.0.53]\n" + MIRROR)
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    kms = hosts["kms-01"]  # openEuler 22.03
    assert kms["xzgov_dnf_security_repo"]["baseurl"].startswith("https://mirror.xzgov.internal/oe/")
    assert "{version}" not in kms["xzgov_dnf_security_repo"]["baseurl"]
    ports = {(f["protocol"], f["port"]) for f in kms["xzgov_allowed_flows"] if f["peer"] == "package-mirror:mirror"}
    assert ports == {("tcp", 443)}  # the key is a local file: no flow for it
    case = hosts["case-01"]
    assert case["xzgov_name_servers"] == ["10.69.0.53"]
    assert {(f["protocol"], f["port"]) for f in case["xzgov_allowed_flows"] if f["peer"] == "name-servers"} == {
        ("udp", 53), ("tcp", 53)}


@pytest.mark.parametrize(("text", "needle", "code", "path"), [
    ("  name_servers: [10.69.0.999]\n", "10.69.0.999", "format", "spec.name_servers[0]"),
    ("  name_servers: [dns.example]\n", "dns.example", "format", "spec.name_servers[0]"),
    (MIRROR.replace("sites: [lhasa]", "sites: [lasa]"), "lasa", "reference", "spec.package_mirrors[0].sites[0]"),
    (MIRROR.replace("10.68.251.0/28", "10.68.251.1/28"), "10.68.251.1/28", "format",
     "spec.package_mirrors[0].cidrs[0]"),
    (MIRROR.replace("http://mirror.xzgov.internal/debian-security", "ftp://mirror/debian-security"),
     "ftp://mirror", "format", "spec.package_mirrors[0].debian_security"),
    (MIRROR.replace("https://mirror.xzgov.internal/oe/", "https://mirror.xzgov.internal:99999/oe/"), "99999",
     "format", "spec.package_mirrors[0].dnf.openeuler.baseurl"),
    (MIRROR + "      clamav: clamav.xzgov.internal\n", "clamav.xzgov.internal", "format",
     "spec.package_mirrors[0].clamav"),
    (MIRROR + "      clamav: http://av:S3cretPassw0rd@mirror.xzgov.internal/clamav\n", "S3cretPassw0rd", "secret",
     "spec.package_mirrors[0].clamav"),
    # a credential in a mirror URL was written in plain text into every host's committed inventory
    (MIRROR.replace("http://mirror.xzgov", "http://apt:S3cretPassw0rd@mirror.xzgov"), "S3cretPassw0rd", "secret",
     "spec.package_mirrors[0].debian_security"),
    (MIRROR.replace("https://mirror.xzgov.internal/oe/", "https://u@mirror.xzgov.internal/oe/"), "u@mirror",
     "secret", "spec.package_mirrors[0].dnf.openeuler.baseurl"),
    # an empty port was reported first, quoting the whole URL (password and all)
    (MIRROR.replace("http://mirror.xzgov.internal/", "http://apt:S3cretPassw0rd@mirror.xzgov.internal:/"),
     "S3cretPassw0rd", "secret", "spec.package_mirrors[0].debian_security"),
    (MIRROR.replace("http://mirror.xzgov.internal/", "http://apt:S3cret/Passw0rd@mirror.xzgov.internal/"),
     "S3cret/Passw0rd", "secret", "spec.package_mirrors[0].debian_security"),
    (MIRROR.replace("http://mirror.xzgov.internal/debian-security",
                    "http://mirror.xzgov.internal/debian-security?access_token=S3cretT0ken"),
     "S3cretT0ken", "secret", "spec.package_mirrors[0].debian_security"),
    # a name gives the firewall nothing to open: its addresses are required
    (UPSTREAM.replace(", addresses: [114.118.7.161/32, 114.118.7.163/32]", ""), "ntp.ntsc.ac.cn", "reference",
     "spec.time_upstream[0].server"),
    # one word: chrony reads the server line as written (a space adds options, a line break directives)
    (UPSTREAM.replace("server: ntp.ntsc.ac.cn", 'server: "ntp.ntsc.ac.cn maxdelay 9"'), "maxdelay", "format",
     "spec.time_upstream[0].server"),
    (UPSTREAM.replace("114.118.7.163/32", "0.0.0.0/0"), "0.0.0.0/0", "address", "spec.time_upstream[0].addresses[1]"),
    (UPSTREAM.replace("114.118.7.163/32", "114.118.7.1/24"), "114.118.7.1/24", "format",
     "spec.time_upstream[0].addresses[1]"),
    (UPSTREAM.replace("server: ntp.ntsc.ac.cn", "server: 203.0.113.123"), "203.0.113.123", "address",
     "spec.time_upstream[0].addresses"),
    (UPSTREAM + "    - {server: ntp.ntsc.ac.cn, nts: true, addresses: [114.118.7.161/32]}\n", "nts: true",
     "duplicate", "spec.time_upstream[1].server"),
    # a review: names are case-insensitive; a last label of digits is no name (a resolver reads 114.118.7 as
    # 114.118.0.7); a name the time sources cannot resolve (no name servers: the firewall drops DNS); an upstream
    # inside the region (a time source, a zone's address) closes the region's clock on itself
    (UPSTREAM + "    - {server: NTP.ntsc.ac.cn, nts: true, addresses: [114.118.7.161/32]}\n", "NTP.ntsc",
     "duplicate", "spec.time_upstream[1].server"),
    (UPSTREAM + "    - {server: 114.118.7, addresses: [114.118.7.161/32]}\n", "server: 114.118.7,", "format",
     "spec.time_upstream[1].server"),
    (UPSTREAM.replace("  name_servers: [10.69.0.53]\n", ""), "ntp.ntsc.ac.cn", "reference",
     "spec.time_upstream[0].server"),
    (UPSTREAM + "    - {server: 10.69.0.123}\n", "server: 10.69.0.123", "reference", "spec.time_upstream[1].server"),
    (UPSTREAM + "    - {server: 10.69.0.77}\n", "server: 10.69.0.77", "reference", "spec.time_upstream[1].server"),
    (UPSTREAM.replace("114.118.7.163/32", "10.69.0.0/24"), "10.69.0.0/24", "address",
     "spec.time_upstream[0].addresses[1]"),
])
def test_bad_name_servers_mirrors_and_upstream_time_servers_are_located_errors(
    region: Path, text: str, needle: str, code: str, path: str
) -> None:
    region_file = _add(region, text)
    diagnostic = _only(check_register(region).diagnostics, code)
    assert diagnostic.file == "region.yaml" and diagnostic.path == path
    assert diagnostic.line == line_of(region_file, needle)
    assert "S3cret" not in diagnostic.message + diagnostic.hint


def test_an_upstream_name_twice_in_other_letters_is_one_duplicate_that_says_why(region: Path) -> None:
    _add(region, UPSTREAM + "    - {server: NTP.ntsc.ac.cn, addresses: [114.118.7.161/32]}\n"
         "    - {server: ntp.ntsc.ac.cn, addresses: [114.118.7.163/32]}\n")
    duplicates = [d for d in check_register(region).diagnostics if d.code == "duplicate"]
    assert [d.path for d in duplicates] == ["spec.time_upstream[1].server", "spec.time_upstream[2].server"]
    assert "written 'ntp.ntsc.ac.cn' there: DNS names are case-insensitive" in duplicates[0].message
    assert "time_upstream[0])" in duplicates[1].message  # written alike: no explanation needed


@pytest.mark.parametrize(("url", "code", "said"), [
    ("https://oss.dr.xzgov.internal:99999", "format", "Port out of range"),
    ("https://oss.dr.xzgov.internal:443x", "format", "not a usable object store URL"),
    ("https://", "format", "not a usable object store URL"),
    ("https://ak:SecretKey1@oss.dr.xzgov.internal", "secret", "carries a user or password"),
    # urlsplit and .hostname raise on these: every command that loads the register stopped with exit 3
    ("https://[::1", "format", "not a usable object store URL"),
    ("https://[zz::1]/x", "format", "not a usable object store URL"),
    # a credential is reported first, whatever else is wrong: no message may quote it (an empty port's did)
    ("https://ak:SecretKey1@[::1", "secret", "carries a user or password"),
    ("https://ak:SecretKey1@oss.dr.xzgov.internal:99999", "secret", "carries a user or password"),
    ("https://ak:SecretKey1@oss.dr.xzgov.internal:", "secret", "carries a user or password"),
    # a '/' in the password ends the authority for urlsplit: host 'ak', port 80, the secret in the path
    ("https://ak:80/SecretKey1@oss.dr.xzgov.internal", "secret", "carries a user or password"),
    ("https://ak:Secret/Key1@oss.dr.xzgov.internal", "secret", "carries a user or password"),
    ("http://ak:SecretKey1@oss.dr.xzgov.internal", "secret", "carries a user or password"),
    # a review: an access token in the query string was written in plain text into the inventories
    ("https://oss.dr.xzgov.internal/?access_token=SecretKey1", "secret", "has a query or fragment"),
    ("https://oss.dr.xzgov.internal/#SecretKey1", "secret", "has a query or fragment"),
    # the second reading: an http:// URL's query was quoted whole by the not-https message
    ("http://oss.dr.xzgov.internal/?X-Amz-Credential=SecretKey1", "secret", "has a query or fragment"),
])
def test_a_bad_object_store_url_is_a_located_error_not_a_crash(region: Path, url: str, code: str, said: str) -> None:
    # it validated, then `xzgov inventory` and `onboard` stopped with an internal error (exit 3)
    region_file = region / "region.yaml"
    edit(region_file, '"https://oss.dr.xzgov.internal"', f'"{url}"')
    diagnostic = _only(check_register(region).diagnostics, code)
    assert said in diagnostic.message and "Secret" not in diagnostic.message + diagnostic.hint
    assert (diagnostic.path, diagnostic.line) == ("spec.sites[1].object_store_url", line_of(region_file, "role: dr"))


def test_a_time_source_that_is_not_an_address_is_a_located_error(region: Path) -> None:
    region_file = region / "region.yaml"
    edit(region_file, "time_sources: [10.69.0.123]", "time_sources: [ntp.example]")
    diagnostic = _only(check_register(region).diagnostics, "format")
    assert diagnostic.path == "spec.time_sources[0]" and diagnostic.line == line_of(region_file, "ntp.example")


def test_two_mirrors_for_one_site_are_a_located_error(region: Path) -> None:
    region_file = _add(region, MIRROR + MIRROR.replace("  package_mirrors:\n", "").replace("id: mirror", "id: other"))
    diagnostic = _only(check_register(region).diagnostics, "duplicate")
    assert diagnostic.path == "spec.package_mirrors[1].sites[0]" and "'mirror'" in diagnostic.message
    assert diagnostic.line > line_of(region_file, "id: other") - 1



def test_an_upstream_address_is_its_own_firewall_peer(region: Path) -> None:
    _add(region, UPSTREAM + "    - {server: 203.0.113.123, nts: true}\n")
    upstream = load_register(region).region.time_upstream
    assert [(u.server, [str(n) for n in u.networks], u.nts) for u in upstream] == [
        ("ntp.ntsc.ac.cn", ["114.118.7.161/32", "114.118.7.163/32"], False),
        ("203.0.113.123", ["203.0.113.123/32"], True)]


def test_the_regions_own_reference_clock_may_sit_in_a_zone(region: Path) -> None:
    """A BeiDou/GPS time server of the region follows no host, so it is no loop: it may sit inside a zone (an
    upstream there was refused) and the time sources' firewalls open NTP to it; no system's host may take its
    address (a host there would be the clock every time source follows)."""
    _add(region, UPSTREAM + "    - {server: 10.69.0.77, reference_clock: true}\n")
    loaded = load_register(region)
    assert [(u.server, u.reference_clock) for u in loaded.region.time_upstream] == [
        ("ntp.ntsc.ac.cn", False), ("10.69.0.77", True)]
    assert loaded.region.time_upstream[1].networks == (ipaddress.IPv4Network("10.69.0.77/32"),)
    assert _reaches(upstream_flows(loaded.region), "out", "udp", 123, ipaddress.IPv4Address("10.69.0.77"))


def test_no_host_takes_the_reference_clocks_address(region: Path) -> None:
    region_file = _add(region, UPSTREAM + "    - {server: clock.xzgov.internal, reference_clock: true, "
                       "addresses: [10.67.3.10/32]}\n")
    diagnostic = _only(check_register(region).diagnostics, "address")
    assert diagnostic.file == "systems/gat/case-app.yaml" and diagnostic.path == "spec.hosts[0].address"
    assert "reference clock clock.xzgov.internal" in diagnostic.message
    assert region_file.read_text(encoding="utf-8").count("reference_clock") == 1


@pytest.mark.parametrize(("entry", "needle", "code", "path"), [
    # a time source is no reference clock: the two would follow each other
    ("{server: 10.69.0.123, reference_clock: true}", "server: 10.69.0.123", "reference",
     "spec.time_upstream[1].server"),
    ("{server: clock.xzgov.internal, reference_clock: true, addresses: [10.69.0.120/29]}", "clock.xzgov",
     "address", "spec.time_upstream[1].addresses[0]"),
])
def test_a_reference_clock_is_never_a_time_source(region: Path, entry: str, needle: str, code: str,
                                                   path: str) -> None:
    region_file = _add(region, UPSTREAM + f"    - {entry}\n")
    diagnostic = _only(check_register(region).diagnostics, code)
    assert diagnostic.path == path and diagnostic.line == line_of(region_file, needle)
    assert "reference_clock: true" not in diagnostic.hint  # marking it would not help


@pytest.mark.parametrize(("entry", "needle", "path", "said"), [
    # a review: the clock was checked against the time sources and the systems' hosts only
    ("{server: 10.69.1.10, reference_clock: true}", "server: 10.69.1.10", "spec.time_upstream[1].server",
     "log server 'log-centre'"),
    ("{server: 10.69.0.53, reference_clock: true}", "server: 10.69.0.53", "spec.time_upstream[1].server",
     "name servers"),
    ("{server: 10.68.250.5, reference_clock: true}", "server: 10.68.250.5", "spec.time_upstream[1].server",
     "object store range 10.68.250.0/27"),
    ("{server: 10.69.0.0, reference_clock: true}", "server: 10.69.0.0", "spec.time_upstream[1].server",
     "network or broadcast address of zone"),
    ("{server: clock.xzgov.internal, reference_clock: true, addresses: [10.69.0.60/32, 10.69.1.8/30]}",
     "clock.xzgov", "spec.time_upstream[1].addresses[1]", "log server 'log-centre'"),
    # a range would fence off a zone's hosts (each refused at its manifest) and open NTP to all of it
    ("{server: clock.xzgov.internal, reference_clock: true, addresses: [10.67.0.0/16]}", "clock.xzgov",
     "spec.time_upstream[1].addresses[0]", "broader than /29"),
])
def test_a_reference_clock_takes_no_address_the_region_has_already(region: Path, entry: str, needle: str,
                                                                   path: str, said: str) -> None:
    region_file = _add(region, UPSTREAM + f"    - {entry}\n")
    diagnostic = _only(check_register(region).diagnostics, "address")
    assert diagnostic.file == "region.yaml" and diagnostic.path == path and said in diagnostic.message
    assert diagnostic.line == line_of(region_file, needle)


def test_a_pair_of_reference_clocks_in_a_29_is_accepted(region: Path) -> None:
    _add(region, UPSTREAM + "    - {server: clock.xzgov.internal, reference_clock: true, addresses: [10.69.0.72/29]}\n")
    assert load_register(region).region.time_upstream[1].reference_clock


def test_a_server_listed_twice_is_told_to_be_listed_once(region: Path) -> None:
    _add(region, UPSTREAM + "    - {server: ntp.ntsc.ac.cn, addresses: [114.118.7.161/32]}\n")
    assert _only(check_register(region).diagnostics, "duplicate").hint == "list each server once"


def test_an_upstream_inside_a_zone_names_the_reference_clock_way_out(region: Path) -> None:
    _add(region, UPSTREAM + "    - {server: 10.69.0.77}\n")
    diagnostic = _only(check_register(region).diagnostics, "reference")
    assert "reference_clock: true" in diagnostic.hint


@pytest.mark.parametrize("name", ["10.69.1.10", "log centre", "-bad.example"])
def test_a_log_servers_certificate_name_is_a_dns_name(region: Path, name: str) -> None:
    """rsyslog's gtls driver (x509/name) matches the certificate's DNS names only: an address as the name the hosts
    check failed every handshake (the messages waited in the disk queue until it was full)."""
    region_file = region / "region.yaml"
    text = region_file.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if "port: 6514" in x)
    edit(region_file, line, line.replace("}", f', tls_name: "{name}"}}'))
    diagnostic = _only(check_register(region).diagnostics, "format")
    assert diagnostic.path == "spec.log_servers[0].tls_name" and diagnostic.line == line_of(region_file, name)
    edit(region_file, f'tls_name: "{name}"', "tls_name: log-centre.lhasa.xzgov.internal")
    assert load_register(region).region.log_servers["log-centre"].tls_name == "log-centre.lhasa.xzgov.internal"
