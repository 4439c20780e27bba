"""Every class of manifest and register error, with its reported file, line, column and hint."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.register.conftest import REPO, column_of, edit, line_of
from xzgov.core.errors import Diagnostic
from xzgov.core.register import check_register, load_register
from xzgov.core.schema import SCHEMA_FILES, schema_for

IDP = "systems/dsjj/idp.yaml"
CASE = "systems/gat/case-app.yaml"


def only(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    matching = [d for d in diagnostics if d.code == code]
    assert len(matching) == 1, diagnostics
    return matching[0]


def test_fixture_register_is_valid_and_typed(region: Path) -> None:
    register = load_register(region)
    assert sorted(register.systems) == ["case-app", "idp", "kms"]
    idp = register.systems["idp"]
    assert idp.crypto_level == 3  # defaults to the 等保 level
    assert idp.workloads[0].replicas == 2  # level 3+ default
    assert idp.continuity.backup_retention_days == 90 and idp.continuity.dr_tier == 3
    assert idp.audit.retention_days == 180
    assert register.systems["case-app"].workloads == ()
    assert register.systems["kms"].crypto_level == 4
    assert register.service_provider("identity") is idp


@pytest.mark.parametrize(
    ("old", "new", "needle", "code", "path", "hint"),
    [
        ("  tier: 自治区", "  teir: 自治区", "teir", "unknown-field", "spec.teir", "did you mean 'tier'?"),
        ("  tier: 自治区", "  tier: 自治县", "自治县", "enum", "spec.tier", "did you mean '自治区'?"),
        ("data_class: 重要数据", "data_class: 重要", "重要", "enum", "spec.classification.data_class", "重要数据"),
        ("level: 3", "level: 5", "level: 5", "range", "spec.classification.level", "at most 4"),
        ("level: 3", "level: three", "three", "type", "spec.classification.level", "whole number"),
        # YAML 1.1 reads an exponent without a dot and a sign as text: the hint gives the number to write
        ("rpo_minutes: 15", "rpo_minutes: 1.5e1", "rpo_minutes: 1.5e1", "type", "spec.continuity.rpo_minutes",
         "write rpo_minutes: 15 — a number, unquoted (YAML 1.1 reads '1.5e1' as text: an exponent needs a dot"),
        # a quoted plain number: the exponent rule does not apply (it was said anyway)
        ("rpo_minutes: 15", 'rpo_minutes: "15"', 'rpo_minutes: "15"', "type", "spec.continuity.rpo_minutes",
         "write rpo_minutes: 15 — a number, unquoted (remove the quotes)"),
        ("rpo_minutes: 15", "rpo_minutes: 99999999999999999999", "rpo_minutes: 99999999999999999999", "range",
         "spec.continuity.rpo_minutes", "at most 525600"),
        ("apiVersion: xzgov.io/v1", "apiVersion: xzgov.io/v2", "xzgov.io/v2", "const", "apiVersion", "xzgov.io/v1"),
        ('filing_number: "54010013001-23001"', 'filing_number: "5401-1"', '"5401-1"', "format",
         "spec.classification.filing_number", "备案编号"),
        ("sha256:5b0bcabd", "latest:5b0bcabd", "registry.xzgov.internal/dsjj/auth@latest", "format",
         "spec.workloads[0].image", "digest"),
        ("contact: idp@dsjj.xizang.gov.cn", "contact: nobody", "nobody", "format", "spec.owner.contact", ""),
    ],
)
def test_schema_errors_are_located_with_hints(
    region: Path, old: str, new: str, needle: str, code: str, path: str, hint: str
) -> None:
    manifest = region / IDP
    edit(manifest, old, new)
    diagnostic = only(check_register(region).diagnostics, code)
    assert diagnostic.file == IDP
    assert diagnostic.line == line_of(manifest, needle)
    value = needle.split(": ")[-1]  # the error points at the value, not its key
    assert diagnostic.column == column_of(manifest, needle) + needle.index(value)
    assert diagnostic.path == path
    assert hint in diagnostic.hint


def schema_nodes(node: object, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of a JSON schema with its path."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from schema_nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schema_nodes(value, f"{where}[{index}]")


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_every_number_a_manifest_gives_is_bounded(kind: str) -> None:
    """A number without a maximum reaches what renders it: a backup kept 10^20 days became a Velero TTL no Go
    duration holds. Every number in a manifest has a range, so such a value is a located error."""
    unbounded = []
    for where, node in schema_nodes(schema_for(kind)):
        types = node.get("type")
        types = [types] if isinstance(types, str) else types or []
        if {"integer", "number"} & set(types) and not ({"minimum", "exclusiveMinimum"} & node.keys()
                                                       and {"maximum", "exclusiveMaximum"} & node.keys()):
            unbounded.append(where)
    assert unbounded == []


def test_missing_required_field_points_at_parent_with_fix(region: Path) -> None:
    manifest = region / IDP
    edit(manifest, "  audit: {destination: log-centre}\n", "")
    diagnostic = only(check_register(region).diagnostics, "missing-field")
    assert (diagnostic.path, diagnostic.line) == ("spec", line_of(manifest, "spec:") + 1)
    assert "add 'audit:'" in diagnostic.hint


def test_all_errors_reported_in_one_run(region: Path) -> None:
    edit(region / IDP, "  tier: 自治区", "  tier: 省级")
    edit(region / IDP, "level: 3", "level: 0")
    edit(region / CASE, "status: running", "status: live")
    diagnostics = check_register(region).diagnostics
    assert {(d.file, d.code) for d in diagnostics} == {(IDP, "enum"), (IDP, "range"), (CASE, "enum")}


def test_duplicate_yaml_key_in_manifest(region: Path) -> None:
    manifest = region / IDP
    edit(manifest, "  tier: 自治区\n", "  tier: 自治区\n  tier: 地市\n")
    diagnostic = only(check_register(region).diagnostics, "duplicate-key")
    assert (diagnostic.line, diagnostic.column, diagnostic.path) == (line_of(manifest, "tier: 地市"), 3, "spec.tier")


def test_yaml_syntax_error(region: Path) -> None:
    manifest = region / CASE
    edit(manifest, "  services: [identity]", "  services: [identity")
    diagnostic = only(check_register(region).diagnostics, "yaml-syntax")
    assert diagnostic.file == CASE and diagnostic.line >= line_of(manifest, "services: [identity")


def test_not_a_mapping_and_multiple_documents(region: Path) -> None:
    (region / "systems" / "gat" / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (region / "systems" / "gat" / "two.yaml").write_text("a: 1\n---\nb: 2\n", encoding="utf-8")
    diagnostics = check_register(region).diagnostics
    assert {d.code for d in diagnostics} == {"type", "document-count"}


def test_wrong_kind(region: Path) -> None:
    edit(region / CASE, "kind: System", "kind: Sytem")
    diagnostic = only(check_register(region).diagnostics, "const")
    assert diagnostic.hint == "did you mean 'System'?" and diagnostic.line == 2


def test_duplicate_system_name_names_both_files(region: Path) -> None:
    copy = region / "systems" / "gat" / "idp-copy.yaml"
    copy.write_text((region / IDP).read_text(encoding="utf-8").replace("10.66.1.11", "10.66.1.12")
                    .replace("idp-db01", "idp-db09"), encoding="utf-8")
    diagnostic = only(check_register(region).diagnostics, "duplicate")
    assert IDP in diagnostic.message and diagnostic.path == "metadata.name"


@pytest.mark.parametrize(
    ("file", "old", "new", "needle", "path", "hint"),
    [
        (IDP, "department: dsjj\n  title", "department: dsj\n  title", "dsj\n", "metadata.department",
         "did you mean 'dsjj'?"),
        (IDP, "zone: shared-services", "zone: shared-service", "shared-service,", "spec.placement.zone",
         "did you mean 'shared-services'?"),
        (IDP, "site: lhasa", "site: lasa", "lasa", "spec.placement.site", "did you mean 'lhasa'?"),
        (CASE, "{system: kms}", "{system: kmss}", "kmss", "spec.flows[1].to.system", "did you mean 'kms'?"),
        (IDP, "destination: log-centre", "destination: log-center", "log-center", "spec.audit.destination",
         "did you mean 'log-centre'?"),
        (IDP, "product: ukey}", "product: ukey2}", "ukey2", "spec.crypto.application.mechanisms[0].product",
         "did you mean 'ukey'?"),
    ],
)
def test_dangling_references(
    region: Path, file: str, old: str, new: str, needle: str, path: str, hint: str
) -> None:
    manifest = region / file
    edit(manifest, old, new)
    diagnostic = only(check_register(region).diagnostics, "reference")
    assert (diagnostic.file, diagnostic.path, diagnostic.hint) == (file, path, hint)
    assert diagnostic.line == line_of(manifest, needle.strip().rstrip(","))


def test_flow_to_itself(region: Path) -> None:
    edit(region / CASE, "{system: kms}", "{system: case-app}")
    assert only(check_register(region).diagnostics, "reference").path == "spec.flows[1].to.system"


def test_zone_without_network_at_site(region: Path) -> None:
    edit(region / CASE, "site: lhasa", "site: dr")
    diagnostic = only(check_register(region).diagnostics, "reference")
    assert "has no network at site 'dr'" in diagnostic.message


def test_host_address_outside_zone_cidr(region: Path) -> None:
    manifest = region / IDP
    edit(manifest, "address: 10.66.1.11", "address: 10.67.1.11")
    diagnostic = only(check_register(region).diagnostics, "address")
    assert diagnostic.line == line_of(manifest, "10.67.1.11") and "10.66.0.0/16" in diagnostic.hint


SHARED_CIDRS = "cidrs: {lhasa: 10.66.0.0/16, dr: 10.166.0.0/16}"


@pytest.mark.parametrize(
    ("ranges", "code", "needle", "message", "hint"),
    [
        ("entry_cidrs: {lhasa: 10.67.254.0/24}", "address", "10.67.254.0/24", "outside zone 'shared-services'",
         "inside 10.66.0.0/16"),
        ("egress_cidrs: {dr: 10.166.255.0/33}", "format", "10.166.255.0/33", "invalid CIDR", "network address"),
        ("entry_cidrs: {nyingchi: 10.66.254.0/24}", "reference", "nyingchi", "no network at site 'nyingchi'",
         "cidrs.nyingchi"),
        ("entry_cidrs: {lhasa: 10.66.254.0/24}, egress_cidrs: {lhasa: 10.66.254.0/26}", "overlap",
         "10.66.254.0/26", "overlaps the zone's entry_cidrs.lhasa", "own ranges"),
    ],
)
def test_cluster_ranges_are_located_errors(region: Path, ranges: str, code: str, needle: str, message: str,
                                           hint: str) -> None:
    """A zone's cross-site entry and pod egress ranges lie inside its network at their site, apart."""
    manifest = region / "region.yaml"
    edit(manifest, SHARED_CIDRS, f"{SHARED_CIDRS}, {ranges}")
    diagnostic = only(check_register(region).diagnostics, code)
    assert diagnostic.file == "region.yaml" and diagnostic.line == line_of(manifest, needle)
    assert message in diagnostic.message and hint in diagnostic.hint


def test_cluster_ranges_are_typed(region: Path) -> None:
    edit(region / "region.yaml", SHARED_CIDRS,
         f"{SHARED_CIDRS}, entry_cidrs: {{lhasa: 10.66.254.0/24}}, egress_cidrs: {{lhasa: 10.66.255.0/26}}")
    zone = load_register(region).region.zones["shared-services"]
    assert str(zone.entry("lhasa")) == "10.66.254.0/24" and str(zone.egress("lhasa")) == "10.66.255.0/26"
    assert zone.entry("dr") is None and zone.egress("dr") is None


def test_a_host_in_a_cluster_range_is_refused(region: Path) -> None:
    """The load balancer and the egress gateway hand out those addresses: a VM there would clash."""
    edit(region / "region.yaml", SHARED_CIDRS, f"{SHARED_CIDRS}, egress_cidrs: {{lhasa: 10.66.1.0/28}}")
    diagnostic = only(check_register(region).diagnostics, "address")
    assert diagnostic.file == IDP and diagnostic.line == line_of(region / IDP, "10.66.1.11")
    assert "容器出站地址段" in diagnostic.message and "egress_cidrs" in diagnostic.hint


def _pods_at_dr_calling_idp(region: Path) -> Path:
    """A system whose pods run at the DR site and call idp's pods at Lhasa (a copy of idp, without hosts)."""
    text = (region / IDP).read_text(encoding="utf-8")
    for old, new in [("  name: idp\n", "  name: portal-dr\n"), ("site: lhasa", "site: dr"),
                     ("internet_facing: true, endpoints: [https://tyrz.xizang.gov.cn]", "internet_facing: false"),
                     ("filing_number: \"54010013001-23001\"", "filing_number: \"54010013001-23009\""),
                     ("{to: {service: crypto-service}, protocol: tcp, port: 8443, purpose: 签名服务}",
                      "{to: {system: idp}, protocol: tcp, port: 8443, purpose: 身份认证}"),
                     ("  services: [crypto-service]\n", "")]:
        assert old in text, old
        text = text.replace(old, new, 1)
    start = text.index("  hosts:\n")
    text = text[:start] + text[text.index("  flows:\n"):]
    path = region / "systems/dsjj/portal-dr.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_flow_between_pods_of_two_sites_needs_the_cross_site_ranges(region: Path) -> None:
    """Without the receiver zone's entry range at its site and the sender zone's egress range at its site no
    network policy can carry the call: a located error at the flow, naming both missing ranges."""
    portal = _pods_at_dr_calling_idp(region)
    diagnostic = only(check_register(region).diagnostics, "reference")
    assert diagnostic.file == "systems/dsjj/portal-dr.yaml" and diagnostic.path == "spec.flows[0].to"
    assert diagnostic.line == line_of(portal, "{to: {system: idp}")
    assert "idp's pods at site 'lhasa' from site 'dr'" in diagnostic.message
    assert "zones[shared-services].entry_cidrs.lhasa and no zones[shared-services].egress_cidrs.dr" in \
        diagnostic.message
    edit(region / "region.yaml", SHARED_CIDRS,
         f"{SHARED_CIDRS}, entry_cidrs: {{lhasa: 10.66.254.0/24}}, egress_cidrs: {{dr: 10.166.255.0/26}}")
    assert check_register(region).diagnostics == []


@pytest.mark.parametrize(
    ("ranges", "code", "needle", "message", "hint"),
    [
        ("{lhasa: [10.66.4.0/28]}", "address", "10.66.4.0/28", "outside the security-management zone at site "
         "'lhasa'", "inside 10.69.0.0/16"),
        ("{nyingchi: [10.69.4.0/28]}", "reference", "nyingchi", "unknown site 'nyingchi'", "sites: lhasa, dr"),
        ("{lhasa: [10.69.4.0/33]}", "format", "10.69.4.0/33", "invalid CIDR", "network address"),
    ],
)
def test_monitoring_ranges_are_located_errors(region: Path, ranges: str, code: str, needle: str, message: str,
                                              hint: str) -> None:
    """The monitoring platform sits in the security-management zone: a range anywhere else would let another
    zone reach every application's ports."""
    manifest = region / "region.yaml"
    edit(manifest, "  time_sources:", f"  monitoring_cidrs: {ranges}\n  time_sources:")
    diagnostic = only(check_register(region).diagnostics, code)
    assert diagnostic.file == "region.yaml" and diagnostic.line == line_of(manifest, needle)
    assert message in diagnostic.message and hint in diagnostic.hint


def test_monitoring_ranges_are_typed_and_default_to_the_zone(region: Path) -> None:
    assert [str(n) for n in load_register(region).region.monitors("lhasa")] == ["10.69.0.0/16"]
    edit(region / "region.yaml", "  time_sources:", "  monitoring_cidrs: {lhasa: [10.69.4.0/28]}\n  time_sources:")
    monitors = load_register(region).region.monitors
    assert [str(n) for n in monitors("lhasa")] == ["10.69.4.0/28"]
    assert [str(n) for n in monitors("dr")] == ["10.169.0.0/16"]


@pytest.mark.parametrize("address", ["10.66.0.0", "10.66.255.255"], ids=["network", "broadcast"])
def test_network_address_is_not_a_host(region: Path, address: str) -> None:
    edit(region / IDP, "address: 10.66.1.11", f"address: {address}")
    assert "network or broadcast" in only(check_register(region).diagnostics, "address").message


def test_duplicate_address_and_hostname_across_systems(region: Path) -> None:
    edit(region / "systems/dsjj/kms.yaml", "kms-01, address: 10.66.2.10", "idp-db01, address: 10.66.1.11")
    diagnostics = [d for d in check_register(region).diagnostics if d.code == "duplicate"]
    assert {d.path for d in diagnostics} == {"spec.hosts[0].address", "spec.hosts[0].hostname"}
    assert all(IDP in d.message for d in diagnostics)


@pytest.mark.parametrize(("holds", "classification", "path", "said"), [
    ("[个人信息]", "personal_information: false", "spec.classification.personal_information",
     "holds personal information, but the classification says the system has none"),
    ("[敏感个人信息]", "personal_information: true", "spec.classification.sensitive_personal_information",
     "holds sensitive personal information, but sensitive_personal_information is not true"),
    ("[核心数据]", "personal_information: true", "spec.classification.data_class",
     "holds 核心数据, above the system's data_class 重要数据"),
    ("[一般数据]", "personal_information: false\n    sensitive_personal_information: true",
     "spec.classification.personal_information", "sensitive_personal_information: true with personal_information"),
])
def test_the_classification_does_not_deny_what_a_data_set_holds(
        region: Path, holds: str, classification: str, path: str, said: str) -> None:
    # personal_information: false beside a data set holding 个人信息: the scan ruled 个人信息保护 not applicable while
    # judging that data set's protection
    edit(region / IDP, "    personal_information: true\n", f"    {classification}\n")
    edit(region / IDP, "  crypto:", f"  data_sets:\n    - {{name: 用户库, holds: {holds}, stored_in: auth}}\n  crypto:")
    found = [d for d in check_register(region).diagnostics if said in d.message]
    assert len(found) == 1 and (found[0].file, found[0].path) == (IDP, path), found


def test_a_copied_filing_number_is_a_duplicate_at_the_later_file(region: Path) -> None:
    # a copy kept the original's 公安备案编号: it counted as filed and passed the filing rule on another's number
    original = (region / CASE).read_text(encoding="utf-8")
    copy = (original.replace("name: case-app", "name: case-copy").replace("case-01, address: 10.67.3.10",
                                                                          "case-02, address: 10.67.3.11"))
    assert copy != original
    (region / "systems/gat/case-copy.yaml").write_text(copy, encoding="utf-8")
    found = [d for d in check_register(region).diagnostics if d.code == "duplicate"]
    assert [(d.file, d.path) for d in found] == [("systems/gat/case-copy.yaml", "spec.classification.filing_number")]
    assert "54010013001-23003" in found[0].message and CASE in found[0].message
    (region / "systems/gat/case-copy.yaml").write_text(copy.replace("54010013001-23003", "54010013001-23004"),
                                                       encoding="utf-8")
    assert check_register(region).ok


@pytest.mark.parametrize("name", ["level1", "level4", "all", "localhost"])
def test_a_hostname_ansible_takes_for_a_group_is_refused(region: Path, name: str) -> None:
    # site.yml's play for level 2 targets `...:&level2`: a host named level2 would join it whatever its level
    edit(region / "systems/dsjj/kms.yaml", "kms-01, address", f"{name}, address")
    found = only(check_register(region).diagnostics, "reference")
    assert found.path == "spec.hosts[0].hostname" and f"'{name}'" in found.message
    assert f"'{name}-01'" in found.hint


@pytest.mark.parametrize(("old", "new", "code", "said"), [
    ("backup_bucket: xzgov-backup-dr, ", "", "missing-field", "site 'dr' receives the other sites' backups but "
     "names no backup_bucket"),
    ('object_store_url: "https://oss.dr.xzgov.internal"', 'object_store_url: "oss.dr.xzgov.internal:9000"', "format",
     "object_store_url is 'oss.dr.xzgov.internal:9000', not an https:// address"),
    ('object_store_url: "https://oss.lhasa.xzgov.internal", ', "", "format",
     "site 'lhasa' receives the other sites' backups but its object_store_url is none"),
])
def test_a_site_that_receives_backups_says_where(region: Path, old: str, new: str, code: str, said: str) -> None:
    # plan and dr declare rendered empty buckets and endpoints and called the RPO met
    edit(region / "region.yaml", old, new)
    found = [d for d in check_register(region).diagnostics if d.code == code and said in d.message]
    assert len(found) == 1 and found[0].file.endswith("region.yaml") and found[0].line == 19 - ("lhasa" in said)


def test_the_primary_is_checked_once_with_two_dr_sites(region: Path) -> None:
    # both DR sites back up to the primary (m.backup_target): its missing URL is said once; dr2 receives nothing
    edit(region / "region.yaml", 'object_store_url: "https://oss.lhasa.xzgov.internal", ', "")
    second = "    - {id: dr2, name: 第二灾备中心, role: dr}\n"
    edit(region / "region.yaml", "  shared_services:", f"{second}  shared_services:")
    found = [d for d in check_register(region).diagnostics if "receives the other sites' backups" in d.message]
    assert [d.message.split("'")[1] for d in found] == ["lhasa"]


def test_a_region_without_a_dr_site_is_refused(region: Path) -> None:
    # the primary's backups went to the primary itself (Region.backup_site fell back to it), without a word
    text = (region / "region.yaml").read_text(encoding="utf-8")
    (region / "region.yaml").write_text("".join(line for line in text.splitlines(keepends=True)
                                                if "role: dr," not in line), encoding="utf-8")
    found = [d for d in check_register(region).diagnostics if "no site has role: dr" in d.message]
    assert len(found) == 1 and "add the disaster-recovery site" in found[0].hint


def test_locality_required_below_region_tier(region: Path) -> None:
    edit(region / CASE, "  locality: {prefecture: 拉萨}\n", "")
    assert "prefecture" in only(check_register(region).diagnostics, "missing-field").hint


def test_requests_above_limits(region: Path) -> None:
    edit(region / IDP, "requests: {cpu: 500m", "requests: {cpu: 2500m")
    diagnostic = only(check_register(region).diagnostics, "range")
    assert diagnostic.path == "spec.workloads[0].resources.requests.cpu"


def test_region_errors(region: Path) -> None:
    region_file = region / "region.yaml"
    edit(region_file, "cidrs: {lhasa: 10.67.0.0/16}", "cidrs: {lhasa: 10.66.128.0/17}")
    edit(region_file, "provider: kms", "provider: kms-x")
    edit(region_file, "{lhasa: 10.64.0.0/16, dr: 10.164.0.0/16}", "{lhasa: 10.64.0.0/16, dx: 10.164.0.0/16}")
    loaded = check_register(region)
    codes = sorted(d.code for d in loaded.diagnostics)
    # the case-app hosts now fall outside the shrunken department zone, too
    assert codes == ["address", "overlap", "reference", "reference"]
    reference = next(d for d in loaded.diagnostics if d.path.endswith("provider"))
    assert reference.hint == "did you mean 'kms'?"


def test_unreadable_and_non_utf8_files(region: Path) -> None:
    (region / "systems" / "gat" / "bad.yaml").write_bytes(b"name: \xff\xfe\n")
    assert only(check_register(region).diagnostics, "encoding").file == "systems/gat/bad.yaml"


@pytest.mark.parametrize(("old", "new", "needle", "path"), [
    ("ports: [{port: 8443}]", "ports: [{port: 8443.0}]", "8443.0", "spec.workloads[0].ports[0].port"),
    ("level: 3", "level: 3.0", "3.0", "spec.classification.level"),
])
def test_a_whole_number_written_as_a_float_is_refused(region: Path, old: str, new: str, needle: str,
                                                       path: str) -> None:
    """JSON Schema calls 8443.0 an integer: it passed validation, then crashed the port model (exit 3, an
    internal error) or reached the inventory's firewall flows as 443.0."""
    manifest = region / IDP
    edit(manifest, old, new)
    diagnostic = only(check_register(region).diagnostics, "type")
    assert (diagnostic.file, diagnostic.path, diagnostic.line) == (IDP, path, line_of(manifest, needle))
    assert "whole number" in diagnostic.hint


def test_a_fractional_number_where_an_integer_is_expected_is_refused_too(region: Path) -> None:
    """Only a whole float gets the explainer's second look after the compiled screen: a fractional one must be
    refused by the screen itself (every example manifest holds a fractional score, which alone sent each one
    through the explainer)."""
    manifest = region / IDP
    edit(manifest, "ports: [{port: 8443}]", "ports: [{port: 8443.5}]")
    diagnostic = only(check_register(region).diagnostics, "type")
    assert (diagnostic.path, diagnostic.line) == ("spec.workloads[0].ports[0].port", line_of(manifest, "8443.5"))


@pytest.mark.parametrize("schedule", ["x x x x x", "99 99 * * *", "*/0 * * * *", "0 0 31 2 *", "0 0 1-0 * *"])
def test_a_backup_schedule_that_never_runs_is_refused(region: Path, schedule: str) -> None:
    """The schema saw five fields; the plan then fell back to the RPO's schedule without a word."""
    manifest = region / IDP
    edit(manifest, 'schedule: "*/15 * * * *"', f'schedule: "{schedule}"')
    diagnostic = only(check_register(region).diagnostics, "format")
    assert (diagnostic.file, diagnostic.path) == (IDP, "spec.continuity.backup.schedule")
    assert diagnostic.line == line_of(manifest, schedule) and "0 2 * * *" in diagnostic.hint


def test_validating_a_filed_manifest_keeps_a_name_clash_with_another_filed_one(region: Path) -> None:
    """Naming a manifest of systems/ on the command line made it a draft that replaced the other file of the
    same name: the duplicate was not seen at all."""
    copy = region / "systems" / "gat" / "idp-copy.yaml"
    copy.write_text((region / IDP).read_text(encoding="utf-8").replace("10.66.1.11", "10.66.1.12")
                    .replace("idp-db01", "idp-db09"), encoding="utf-8")
    loaded = check_register(region, extra=[copy], replace_same_name=True)
    assert [d.code for d in loaded.diagnostics] == ["duplicate"], loaded.diagnostics


def test_only_a_whole_float_where_an_integer_is_admitted_needs_the_explainer() -> None:
    """The second look after the compiled screen is for 8443.0 at an integer position only: a whole score
    (93.0, a number) and a fractional one are settled by the screen."""
    from xzgov.core.schema import _whole_float_where_integer, schema_for

    schema = schema_for("System")
    port = {"spec": {"workloads": [{"ports": [{"port": 8443.0}]}]}}
    score = {"spec": {"assessments": {"dengbao": {"score": 93.0}}}}
    assert _whole_float_where_integer(port, schema)
    assert not _whole_float_where_integer(score, schema)
    assert not _whole_float_where_integer({"spec": {"workloads": [{"ports": [{"port": 8443.5}]}]}}, schema)
    assert _whole_float_where_integer({"spec": {"classification": {"level": 3.0}}}, schema)


@pytest.mark.parametrize("kind", ["system", "region"])
def test_every_pattern_in_the_schemas_has_a_hint_in_words(kind: str) -> None:
    """A value not matching a pattern was hinted with the raw regular expression (``the value must match
    ^[0-9]{1,3}(\\.[0-9]{1,3}){3}$(?!\\n)``): every pattern carries a description, which is the hint."""
    lacking = [where for where, node in schema_nodes(schema_for(kind.capitalize()))
               if "pattern" in node and not node.get("description")]
    assert lacking == []


@pytest.mark.parametrize(("written", "shown"), [("null", "found null (no value)"), ("true", "found true (a boolean)"),
                                                ("''", "has the wrong format")])
def test_a_wrong_address_is_shown_as_written_once_with_a_hint_in_words(region: Path, written: str,
                                                                       shown: str) -> None:
    manifest = region / "systems" / "gat" / "case-app.yaml"
    edit(manifest, "address: 10.67.3.10", f"address: {written}")
    (problem,) = [d for d in check_register(region).diagnostics if d.path.endswith("address")]
    assert shown in problem.message and "IPv4 address, e.g. 10.67.3.10" in problem.hint
    assert "None" not in problem.message and "True" not in problem.message and "^" not in problem.hint


@pytest.mark.parametrize(("name", "why"), [
    ("kube-system", "'kube-' are Kubernetes' own"), ("kube-anything", "'kube-' are Kubernetes' own"),
    ("default", "Kubernetes' default namespace"), ("velero", "backup system"),
    ("xzgov-scanner", "compliance scanner"), ("zone-department", "'department' segment"),
])
def test_a_system_may_not_take_a_namespace_kubernetes_or_the_platform_owns(region: Path, name: str, why: str) -> None:
    """A system's tenancy is the namespace named after it: named kube-system it would put a default-deny policy
    over CoreDNS and a department's Role over the cluster's Secrets."""
    path = region / CASE
    edit(path, "name: case-app", f"name: {name}")
    loaded = check_register(region)
    found = only(loaded.diagnostics, "reserved")
    assert (found.file, found.line, found.path) == (CASE, line_of(path, f"name: {name}"), "metadata.name")
    assert why in found.message and "choose another metadata.name" in found.hint
    assert not loaded.ok


def test_names_near_a_reserved_one_are_systems_like_any_other(region: Path) -> None:
    path = region / CASE
    edit(path, "name: case-app", "name: zone-archive")  # no zone 'archive': not a segment's namespace
    assert check_register(region).ok


@pytest.mark.parametrize(("file", "old", "new", "said"), [
    ("systems/dsjj/data-exchange.yaml", "address: 10.68.1.11", "address: 10.68.251.5", "package mirror"),
    ("systems/dsjj/data-exchange.yaml", "address: 10.68.1.11", "address: 10.68.250.5", "object store range"),
    ("systems/dsjj/security-ops.yaml", "address: 10.69.0.124", "address: 10.69.4.5", "monitoring range"),
    ("systems/dsjj/security-ops.yaml", "address: 10.69.0.124", "address: 10.69.0.53", "name servers"),
])
def test_a_host_may_not_take_an_address_the_region_keeps_for_its_own_services(
    tmp_path: Path, file: str, old: str, new: str, said: str
) -> None:
    """Every host's firewall opens TCP 80 to the package mirror, DNS to the name servers, backups to the object
    store, and admits the monitoring ranges: a VM given such an address was accepted and reached as the service."""
    shutil.copy(REPO / "region.yaml", tmp_path / "region.yaml")
    shutil.copytree(REPO / "systems", tmp_path / "systems")
    edit(tmp_path / file, old, new)
    loaded = check_register(tmp_path)
    found = [d for d in loaded.diagnostics if d.code == "address"]
    assert len(found) == 1, loaded.diagnostics
    assert (found[0].file, found[0].line) == (file, line_of(tmp_path / file, new))
    assert said in found[0].message and "pick another address" in found[0].hint


def test_a_clash_is_reported_at_the_file_being_changed(region: Path) -> None:
    """idp's host takes kms's address: validating idp.yaml blamed kms.yaml (later in file order), which nobody
    had touched, with the hint 'every host needs its own address'."""
    idp = region / IDP
    edit(idp, "address: 10.66.1.11", "address: 10.66.2.10")
    loaded = check_register(region, extra=[idp], replace_same_name=True)
    found = only(loaded.diagnostics, "duplicate")
    assert (found.file, found.line) == (IDP, line_of(idp, "address: 10.66.2.10"))
    assert "systems/dsjj/kms.yaml" in found.message
    # without a file named, the register's order decides (the later file), as before
    assert only(check_register(region).diagnostics, "duplicate").file == "systems/dsjj/kms.yaml"


def test_a_department_changed_in_place_is_a_change_of_ownership(region: Path) -> None:
    """A draft moving departments was refused, but the same edit in the filed manifest passed validate and onboard
    (and moved who may attest the system): the folder a manifest is filed under names its department."""
    path = region / CASE
    edit(path, "  department: gat\n", "  department: dsjj\n")
    found = only(check_register(region).diagnostics, "reference")
    assert (found.file, found.path) == (CASE, "metadata.department")
    assert "change of ownership" in found.message and "systems/dsjj/" in found.hint


@pytest.mark.parametrize(("old", "new", "said", "at"), [
    ("groups: [platform-ops]", 'groups: [platform-ops, "system:authenticated"]', "Kubernetes assigns itself",
     "spec.operators.groups[1]"),
    ("groups: [platform-ops]", 'groups: [platform-ops, ""]', "'' is not a group name", "spec.operators.groups[1]"),
    ("groups: [platform-ops]", 'groups: [" platform-ops "]', "is not a group name", "spec.operators.groups[0]"),
    ("groups: [platform-ops]", "groups: [platform-ops, platform-ops]", "repeats entry 0", "spec.operators.groups[1]"),
    ("groups: [ybj-ops]}", 'groups: [ybj-ops, "system:authenticated"]}', "Kubernetes assigns itself",
     ".groups[1]"),
])
def test_a_group_no_binding_may_name_is_refused(tmp_path: Path, old: str, new: str, said: str, at: str) -> None:
    """region.yaml's groups were copied into RoleBindings and the zone-label policy unchecked: system:authenticated
    gave every user a department's operator rights and exempted every request from the zone policy; an empty name
    was a subject the API server refuses at `pulumi up`."""
    root = tmp_path / "region"
    shutil.copytree(REPO / "systems", root / "systems")
    text = (REPO / "region.yaml").read_text(encoding="utf-8")
    assert old in text
    (root / "region.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    found = [d for d in check_register(root).diagnostics if said in d.message]
    assert len(found) == 1 and found[0].file.endswith("region.yaml") and found[0].line > 0
    assert found[0].path.endswith(at) and found[0].hint


@pytest.mark.parametrize("value", [True, False, 8443.0])
def test_the_loaders_validator_takes_no_boolean_or_float_for_an_integer(value: object) -> None:
    """Python's True is an int: the validator every loader uses (``full_match_validator``: scan parts, worksheets)
    must not read ``port: true`` as the port 1 (a review's mutation of its integer check went unnoticed)."""
    from xzgov.core.schema import full_match_validator

    validator = full_match_validator({"type": "object", "properties": {"port": {"type": "integer"}}})
    assert not validator.is_valid({"port": value}) and validator.is_valid({"port": 8443})
