"""Generated inventories: groups, host variables, idempotent regeneration, and agreement with the
``xzgov_register`` inventory plugin as Ansible itself reads both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import CliResult
from tests.register.conftest import REPO, edit, line_of
from xzgov.core.inventory import build_inventory
from xzgov.core.register import check_register, load_register


def test_groups_and_host_variables(region: Path) -> None:
    inventory = build_inventory(load_register(region), "lhasa")["all"]
    assert sorted(inventory["hosts"]) == ["case-01", "idp-db01", "kms-01"]
    groups = {name: sorted(members["hosts"]) for name, members in inventory["children"].items()}
    assert groups["level3"] == ["idp-db01"] and groups["level4"] == ["kms-01"]
    assert groups["zone_shared_services"] == ["idp-db01", "kms-01"]
    assert groups["tier_prefecture"] == ["case-01"] and groups["tier_region"] == ["idp-db01", "kms-01"]
    assert groups["dept_gat"] == ["case-01"] and groups["os_openeuler"] == ["kms-01"]
    assert groups["system_case_app"] == ["case-01"] and groups["site_lhasa"] == ["case-01", "idp-db01", "kms-01"]
    idp = inventory["hosts"]["idp-db01"]
    assert idp["ansible_host"] == "10.66.1.11" and idp["xzgov_level"] == 3 and idp["xzgov_crypto_level"] == 3
    assert idp["xzgov_time_sources"] == ["10.69.0.123"]
    assert idp["xzgov_log_servers"] == [{"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}]
    assert idp["xzgov_log_retention_days"] == 180
    assert idp["xzgov_management_cidrs"] == ["10.169.0.0/16", "10.69.0.0/16"]


def flows_of(host: dict[str, Any]) -> dict[tuple[str, str, int], list[str]]:
    return {(f["direction"], f["peer"], f["port"]): f["peer_cidrs"] for f in host["xzgov_allowed_flows"]}


def test_allowed_flows_both_directions(region: Path) -> None:
    """A declared flow opens a host's firewall only where the port model (``xzgov.core.ports``) lands it: on
    the receiver's hosts that declare the port. kms-01 declares 8443 (a flow to a system port nothing declares is
    refused at validation, located at the sender: test_validation); idp's database host declares no application
    port, so nothing is opened on it, and a flow to the identity service its pods do not serve has no
    destination in the caller's firewall."""
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    case_flows = flows_of(hosts["case-01"])
    assert case_flows == {("out", "service:identity", 443): [],  # idp's pods do not serve 443 (unserved)
                          ("out", "system:kms", 8443): ["10.66.2.10/32"],  # kms-01 declares 8443
                          # the region contract (time source, log server), whatever the manifest declares
                          ("out", "time-sources", 123): ["10.69.0.123/32"],
                          ("out", "log-server:log-centre", 6514): ["10.69.1.10/32"]}
    kms_flows = {(f["direction"], f["peer"], f["port"]) for f in hosts["kms-01"]["xzgov_allowed_flows"]}
    assert kms_flows == {("out", "time-sources", 123), ("out", "log-server:log-centre", 6514),
                         ("in", "system:case-app", 8443), ("in", "system:idp", 8443)}
    idp_flows = flows_of(hosts["idp-db01"])
    # the database host: no application port, none of the internet-facing system's 443 either
    assert not [key for key in idp_flows if key[0] == "in"]


def test_a_flow_opens_only_the_hosts_that_serve_its_port(region: Path) -> None:
    """The unified-identity database VMs accepted every caller's 443 and 8443, from whole zones, including the
    internet-access zone (an internet-facing system's entry): a host now admits a declared flow only on a port
    it declares, and the caller's firewall sends it there only."""
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]  # kms-01 declares 8443 (fixture)
    assert flows_of(hosts["case-01"])[("out", "system:kms", 8443)] == ["10.66.2.10/32"]
    kms_flows = {(f["direction"], f["peer"], f["port"]) for f in hosts["kms-01"]["xzgov_allowed_flows"]}
    # kms provides crypto-service: idp reaches it through the service, case-app directly
    assert {f for f in kms_flows if f[0] == "in"} == {("in", "system:case-app", 8443), ("in", "system:idp", 8443)}
    # idp's VM, and its pods (it runs workloads: their NetworkPolicy lets them call crypto-service) from the range
    # they leave the cluster from — this region declares no egress range, so its zone's network at lhasa
    assert flows_of(hosts["kms-01"])[("in", "system:idp", 8443)] == ["10.66.1.11/32", "10.66.0.0/16"]
    assert not [key for key in flows_of(hosts["idp-db01"]) if key[0] == "in"]
    # a host of an internet-facing system that declares 443 is not opened to the whole internet-access zone (which
    # this region's zone graph does not even let reach shared-services): only declared flows are — here case-app's
    # to the identity service, which idp's pods do not serve (its VM does, once it declares the service's port),
    # and idp's own pods (traffic inside the system: xzgov.core.inventory.internal_flows)
    edit(region / "systems/dsjj/idp.yaml", "      data: postgresql\n",
         "      data: postgresql\n      ports: [{port: 443}]\n")
    idp_flows = flows_of(build_inventory(load_register(region), "lhasa")["all"]["hosts"]["idp-db01"])
    assert [key for key in idp_flows if key[0] == "in"] == [("in", "system:case-app", 443), ("in", "system:idp", 443)]
    assert idp_flows[("in", "system:idp", 443)] == ["10.66.0.0/16"]  # its pods' range (no egress range declared)


def test_a_port_the_pods_serve_is_not_opened_on_the_hosts_of_the_same_site(region: Path) -> None:
    """idp's pods listen on 8443: a caller at the same site reaches them, not a host of idp that also declares
    8443 (as the NetworkPolicies route it); the caller's firewall sends to idp's zone network (the cluster)."""
    edit(region / "systems/gat/case-app.yaml", "{to: {system: kms}, protocol: tcp, port: 8443, purpose: 加密}",
         "{to: {system: idp}, protocol: tcp, port: 8443, purpose: 接口}")
    edit(region / "systems/dsjj/idp.yaml", "      data: postgresql\n",
         "      data: postgresql\n      ports: [{port: 8443}]\n")
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert ("in", "system:case-app", 8443) not in flows_of(hosts["idp-db01"])
    assert flows_of(hosts["case-01"])[("out", "system:idp", 8443)] == ["10.66.0.0/16"]


def test_a_data_holding_host_may_reach_the_other_sites_object_store(region: Path) -> None:
    """roles/host_backup ships the database to the DR site's object store: the host firewall must allow it,
    and only on the host that holds data."""
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert flows_of(hosts["idp-db01"])[("out", "object-store:dr", 443)] == ["10.168.250.0/27"]
    for name in ("case-01", "kms-01"):  # an application host, a crypto-service host (purpose 密码服务)
        assert not [f for f in hosts[name]["xzgov_allowed_flows"] if f["peer"].startswith("object-store:")]


def test_backups_to_a_site_without_object_store_addresses_are_refused(region: Path) -> None:
    edit(region / "region.yaml", ", object_store_cidrs: [10.168.250.0/27]}", "}")
    result = check_register(region)
    problems = [d for d in result.diagnostics if "object_store_cidrs" in d.message]
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file.endswith("systems/dsjj/idp.yaml") and problem.path == "spec.hosts[0].data"
    assert problem.line == line_of(region / "systems/dsjj/idp.yaml", "data: postgresql")
    assert "region.yaml" in problem.hint


def test_regeneration_gives_no_diff(region: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("inventory", "--check", "--root", str(region))[0] == 1  # not generated yet: stale
    assert cli("inventory", "--root", str(region))[0] == 0
    first = (region / "inventories/lhasa/hosts.yml").read_bytes()
    code, out, _ = cli("inventory", "--root", str(region))
    assert code == 0 and "0 file(s) changed" in out
    assert (region / "inventories/lhasa/hosts.yml").read_bytes() == first
    assert cli("inventory", "--check", "--root", str(region))[0] == 0


def test_an_inventory_of_a_site_region_yaml_no_longer_has_is_stale(region: Path,
                                                                   cli: Callable[..., CliResult]) -> None:
    """A review: `inventory --check` said up to date while inventories/<removed site>/hosts.yml — never rewritten —
    kept its hosts and old firewall rules for `ansible-playbook -i inventories/<removed site>`."""
    assert cli("inventory", "--root", str(region))[0] == 0
    old = region / "inventories" / "oldsite"
    old.mkdir()
    (old / "hosts.yml").write_bytes((region / "inventories/lhasa/hosts.yml").read_bytes())
    code, _, err = cli("inventory", "--check", "--root", str(region))
    assert code == 1 and "inventories/oldsite/hosts.yml" in err and "no site of region.yaml" in err
    code, _, err = cli("inventory", "--root", str(region))  # written, and named again (not removed)
    assert code == 0 and "inventories/oldsite/hosts.yml" in err and (old / "hosts.yml").exists()
    (old / "hosts.yml").unlink()
    old.rmdir()
    assert cli("inventory", "--check", "--root", str(region))[0] == 0


def run_ansible_inventory(source: Path) -> subprocess.CompletedProcess[str]:
    """``ansible-inventory --list`` with only our plugin and the YAML one, and no ansible.cfg."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update({
        "ANSIBLE_INVENTORY_PLUGINS": str(REPO / "plugins" / "inventory"),
        "ANSIBLE_INVENTORY_ENABLED": "xzgov_register,yaml",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
    })
    binary = Path(sys.executable).parent / "ansible-inventory"
    return subprocess.run([str(binary), "-i", str(source), "--list"], capture_output=True, text=True,
                          env=env, cwd=source.parent, check=False, timeout=120)


def ansible_inventory(source: Path) -> dict[str, Any]:
    result = run_ansible_inventory(source)
    assert result.returncode == 0, result.stderr
    listed: dict[str, Any] = json.loads(result.stdout)
    return trusted(listed)


def trusted(value: Any) -> Any:
    """Ansible marks values from inventory plugins as unsafe (never templated); compare the data."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: trusted(child) for key, child in value.items()}
    if isinstance(value, list):
        return [trusted(child) for child in value]
    return value


def test_plugin_and_generated_file_agree_in_ansible(region: Path, cli: Callable[..., CliResult]) -> None:
    assert cli("inventory", "--root", str(region))[0] == 0
    config = region / "inventories" / "lhasa.xzgov.yml"
    config.write_text(yaml.safe_dump({"plugin": "xzgov_register", "site": "lhasa"}), encoding="utf-8")
    from_file = ansible_inventory(region / "inventories" / "lhasa" / "hosts.yml")
    from_plugin = ansible_inventory(config)
    assert from_file == from_plugin
    assert from_plugin["_meta"]["hostvars"]["idp-db01"]["xzgov_level"] == 3
    assert sorted(from_plugin["level3"]["hosts"]) == ["idp-db01"]


def test_text_from_a_manifest_is_never_a_template_in_the_inventory(region: Path, cli: Callable[..., CliResult],
                                                                 tmp_path: Path) -> None:
    # A flow's purpose ran as Jinja on the controller from the committed hosts.yml (the plugin's values are unsafe):
    # `ansible -m debug` on a role's use of it created the file
    ran = tmp_path / "ran"
    text = f"签名 {{{{ lookup('pipe', 'touch {ran}; echo ran') }}}} {{% if true %}}x{{% endif %}}"
    edit(region / "systems/dsjj/idp.yaml", "purpose: 签名服务}", f'purpose: "{text}"}}')
    assert cli("inventory", "--root", str(region))[0] == 0
    hosts = region / "inventories" / "lhasa" / "hosts.yml"
    assert "!unsafe" in hosts.read_text(encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    binary = Path(sys.executable).parent / "ansible"
    shown = subprocess.run([str(binary), "-i", str(hosts), "idp-db01", "-m", "ansible.builtin.debug", "-a",
                            "msg={{ xzgov_allowed_flows | map(attribute='purpose') | list }}"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert not ran.exists() and "lookup('pipe'" in shown.stdout
    # the scan's own reading of the inventory takes the text as it is
    from compliance.scan.hosts import inventory_hosts

    targets = inventory_hosts(region / "inventories" / "lhasa", [])
    assert any(text in str(t.context) for t in targets)


def test_a_broken_register_fails_the_run_with_the_repositorys_ansible_cfg(region: Path) -> None:
    # without [inventory] any_unparsed_is_failed, ansible-playbook went on with no hosts and exited 0
    (region / "systems/dsjj/idp.yaml").write_text("apiVersion: [", encoding="utf-8")
    config = region / "inventories" / "lhasa.xzgov.yml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(yaml.safe_dump({"plugin": "xzgov_register", "site": "lhasa"}), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    binary = Path(sys.executable).parent / "ansible-playbook"
    result = subprocess.run([str(binary), "-i", str(config), str(REPO / "site.yml"), "--list-hosts"],
                            capture_output=True, text=True, env=env, cwd=REPO, check=False, timeout=180)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "idp.yaml" in result.stdout + result.stderr


def test_plugin_reports_an_invalid_register(region: Path) -> None:
    (region / "systems/dsjj/idp.yaml").write_text("apiVersion: [", encoding="utf-8")
    config = region / "inventories" / "lhasa.xzgov.yml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(yaml.safe_dump({"plugin": "xzgov_register", "site": "lhasa"}), encoding="utf-8")
    result = run_ansible_inventory(config)
    assert result.returncode != 0
    assert re.search(r"systems/dsjj/idp\.yaml:\d+:\d+: error: YAML syntax error", result.stderr)


def test_plugin_refuses_an_option_it_does_not_know(region: Path) -> None:
    # `roots:` was ignored: the default root's register was listed, and a typo'd site option passed unseen
    config = region / "inventories" / "lhasa.xzgov.yml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(yaml.safe_dump({"plugin": "xzgov_register", "site": "lhasa", "roots": "/elsewhere"}),
                      encoding="utf-8")
    result = run_ansible_inventory(config)
    assert result.returncode != 0
    assert "unknown option 'roots' (did you mean 'root'?)" in result.stderr


def test_a_region_without_a_primary_site_is_reported_not_a_crash(region: Path) -> None:
    """The backup-site check runs only on a sound region: a data-holding host at a DR site of a region with no
    primary must give the region's own error, not an internal error."""
    edit(region / "region.yaml", "role: primary, backup_bucket", "role: dr, backup_bucket")
    result = check_register(region)
    assert any("exactly one primary site" in d.message for d in result.diagnostics)


def test_what_a_host_keeps_is_declared_never_guessed_from_its_purpose(region: Path) -> None:
    """Issue 14: a purpose that names a database no longer decides the backup; ``data`` does."""
    idp = region / "systems/dsjj/idp.yaml"
    edit(idp, "data: postgresql", "data: none")  # purpose still says 数据库
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert not [f for f in hosts["idp-db01"]["xzgov_allowed_flows"] if f["peer"].startswith("object-store:")]
    kms = region / "systems/dsjj/kms.yaml"
    edit(kms, "data: none", "data: files, data_paths: [/srv/kms]")  # purpose 密码服务 names no storage
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    backup = [f for f in hosts["kms-01"]["xzgov_allowed_flows"] if f["peer"].startswith("object-store:")]
    assert [(f["port"], f["peer_cidrs"]) for f in backup] == [(443, ["10.168.250.0/27"])]
    assert "restic" in backup[0]["purpose"]


def test_a_host_without_data_or_with_paths_for_a_database_is_a_located_error(region: Path) -> None:
    idp = region / "systems/dsjj/idp.yaml"
    edit(idp, "      data: postgresql\n", "")
    missing = [d for d in check_register(region).diagnostics if d.file.endswith("systems/dsjj/idp.yaml")]
    assert [(d.path, d.code) for d in missing] == [("spec.hosts[0]", "missing-field")], missing
    assert "data" in missing[0].message
    edit(idp, "      purpose: 数据库\n", "      purpose: 数据库\n      data: postgresql\n      data_paths: [/srv]\n")
    wrong = [d for d in check_register(region).diagnostics if d.file.endswith("systems/dsjj/idp.yaml")]
    assert [(d.path, d.line) for d in wrong] == [("spec.hosts[0].data_paths", line_of(idp, "data_paths"))]
    assert "data: files" in wrong[0].hint
    edit(idp, "data_paths: [/srv]", "data_paths: [relative/dir]")
    bad = [d for d in check_register(region).diagnostics if d.file.endswith("systems/dsjj/idp.yaml")]
    assert [d.path for d in bad] == ["spec.hosts[0].data_paths[0]"]


SECOPS = """apiVersion: xzgov.io/v1
kind: System
metadata:
  name: secops
  department: dsjj
  title: 安全管理中心
spec:
  owner: {department: dsjj, role: 安全负责人, contact: aqgl@dsjj.xizang.gov.cn}
  tier: 自治区
  classification: {level: 3, filing_number: "54010013009-23009", data_class: 重要数据, personal_information: false}
  placement: {zone: security-management, site: lhasa}
  exposure: {internet_facing: false}
  hosts:
    - {hostname: logc01, address: 10.69.1.10, os: {family: debian, version: "12"},
       purpose: 日志, data: files, role: log-centre}
    - {hostname: ntp01, address: 10.69.0.123, os: {family: debian, version: "12"},
       purpose: 时间, data: none, role: time-source}
    - {hostname: dir01, address: 10.69.3.10, os: {family: debian, version: "12"},
       purpose: 目录, data: files, role: directory}
    - {hostname: jump01, address: 10.69.2.10, os: {family: debian, version: "12"},
       purpose: 日志 目录 时间, data: none}
  continuity: {rpo_minutes: 15, rto_minutes: 120, backup: {schedule: "*/15 * * * *", retention_days: 180}, dr_tier: 4}
  crypto: {}
  authentication: {factors: [password, ukey]}
  audit: {destination: log-centre, retention_days: 180}
  lifecycle: {status: running, change_ticket: CHG-2024-0199, requested_by: 安全部}
"""


def with_secops(region: Path, text: str = SECOPS) -> Path:
    path = region / "systems/dsjj/secops.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_security_management_hosts_are_grouped_by_their_declared_role(region: Path) -> None:
    with_secops(region)
    inventory = build_inventory(load_register(region), "lhasa")["all"]
    groups = {name: sorted(members["hosts"]) for name, members in inventory["children"].items()}
    assert groups["secmgmt_log_centre"] == ["logc01"]
    assert groups["secmgmt_time_source"] == ["ntp01"]
    assert groups["secmgmt_directory"] == ["dir01"]
    # jump01's purpose names all three services: a purpose never makes a service host
    assert all("jump01" not in groups[g] for g in ("secmgmt_log_centre", "secmgmt_time_source", "secmgmt_directory"))
    hosts = inventory["hosts"]
    assert hosts["dir01"]["xzgov_secmgmt_role"] == "directory" and "xzgov_secmgmt_role" not in hosts["jump01"]
    assert hosts["ntp01"]["xzgov_time_source_allow"] == [
        "10.64.0.0/16", "10.66.0.0/16", "10.67.0.0/16", "10.69.0.0/16",
        "10.164.0.0/16", "10.166.0.0/16", "10.169.0.0/16"]
    assert "xzgov_time_source_allow" not in hosts["idp-db01"]


def test_every_host_joins_the_directory_through_its_firewall(region: Path) -> None:
    with_secops(region)
    register = load_register(region)
    hosts = build_inventory(register, "lhasa")["all"]["hosts"]
    for name in ("case-01", "idp-db01", "kms-01", "jump01", "logc01", "ntp01", "dir01"):
        assert hosts[name]["xzgov_directory_uri"] == "ldaps://dir01:636", name
    for name in ("case-01", "kms-01", "jump01", "ntp01"):
        assert flows_of(hosts[name])[("out", "directory:dir01", 636)] == ["10.69.3.10/32"], name
    directory = flows_of(hosts["dir01"])
    assert ("out", "directory:dir01", 636) not in directory  # not to itself
    # the directory serves lhasa and the DR site, which has none of its own
    assert directory[("in", "directory-clients", 636)] == [
        "10.64.0.0/16", "10.66.0.0/16", "10.67.0.0/16", "10.69.0.0/16",
        "10.164.0.0/16", "10.166.0.0/16", "10.169.0.0/16"]
    assert flows_of(hosts["ntp01"])[("in", "time-clients", 123)][0] == "10.64.0.0/16"
    assert [f["protocol"] for f in hosts["ntp01"]["xzgov_allowed_flows"] if f["peer"] == "time-clients"] == ["udp"]
    assert flows_of(hosts["logc01"])[("in", "log-sources", 6514)] == [
        "10.64.0.0/16", "10.66.0.0/16", "10.67.0.0/16", "10.69.0.0/16"]


def test_only_a_time_source_reaches_the_upstream_servers(region: Path) -> None:
    """A time source whose upstream its firewall drops serves its local clock (stratum 8, orphan) to the whole
    region: region.yaml's ``time_upstream`` reaches the role and opens the time sources' firewalls, no other's."""
    with_secops(region)
    edit(region / "region.yaml", "  operators:", "  name_servers: [10.69.0.53]\n  time_upstream:\n"
         "    - {server: ntp.ntsc.ac.cn, addresses: [114.118.7.161/32, 114.118.7.163/32]}\n"
         "    - {server: 203.0.113.123, nts: true}\n  operators:")
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert hosts["ntp01"]["xzgov_time_source_upstream"] == [
        {"host": "ntp.ntsc.ac.cn", "nts": False, "networks": ["114.118.7.161/32", "114.118.7.163/32"]},
        {"host": "203.0.113.123", "nts": True, "networks": ["203.0.113.123/32"]}]
    assert flows_of(hosts["ntp01"])[("out", "time-upstream", 123)] == [
        "114.118.7.161/32", "114.118.7.163/32", "203.0.113.123/32"]
    # NTS key establishment only to the server that offers NTS
    assert flows_of(hosts["ntp01"])[("out", "time-upstream", 4460)] == ["203.0.113.123/32"]
    others = {name: host for name, host in hosts.items() if name != "ntp01"}
    assert not [name for name, host in others.items() if "xzgov_time_source_upstream" in host]
    assert not [name for name, host in others.items() for f in host["xzgov_allowed_flows"]
                if f["peer"] == "time-upstream"]


def test_without_a_declared_directory_no_host_joins(region: Path) -> None:
    with_secops(region, SECOPS.replace(", role: directory", ""))
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert not [name for name, host in hosts.items() if "xzgov_directory_uri" in host]
    assert not [f for host in hosts.values() for f in host["xzgov_allowed_flows"] if f["port"] == 636]


def secops_problems(region: Path) -> list[Any]:
    return [d for d in check_register(region).diagnostics if d.file.endswith("systems/dsjj/secops.yaml")]


def test_two_directories_at_one_site_are_a_located_error(region: Path) -> None:
    path = with_secops(region, SECOPS.replace("purpose: 日志 目录 时间, data: none}",
                                              "purpose: 跳板, data: files, role: directory}"))
    problems = secops_problems(region)
    assert [(d.path, d.code, d.line) for d in problems] == [
        ("spec.hosts[3].role", "duplicate", line_of(path, "跳板, data: files, role: directory"))]
    assert "dir01" in problems[0].message and "site 'lhasa'" in problems[0].message


def test_a_service_host_outside_the_security_management_zone_is_refused(region: Path) -> None:
    text = (SECOPS.replace("zone: security-management", "zone: department")
            .replace("10.69.3.10", "10.67.3.10").replace("10.69.2.10", "10.67.2.10")
            .replace(", role: log-centre", "").replace(", role: time-source", ""))
    with_secops(region, text.replace("10.69.1.10", "10.67.1.10").replace("10.69.0.123", "10.67.0.123"))
    problems = secops_problems(region)
    assert [(d.path, d.code) for d in problems] == [("spec.hosts[2].role", "reference")]
    assert "cannot reach" in problems[0].message and "security-management" in problems[0].hint


def test_a_time_source_or_log_centre_the_region_does_not_name_is_refused(region: Path) -> None:
    path = with_secops(region, SECOPS.replace("10.69.0.123", "10.69.0.125").replace("10.69.1.10", "10.69.1.11"))
    problems = secops_problems(region)
    assert sorted((d.path, d.line) for d in problems) == [
        ("spec.hosts[0].role", line_of(path, "role: log-centre")),
        ("spec.hosts[1].role", line_of(path, "role: time-source"))]
    hints = " ".join(d.hint for d in problems)
    assert "spec.time_sources" in hints and "spec.log_servers" in hints and "10.69.0.125" in hints


@pytest.mark.parametrize(("host", "role"), [("logc01", "log-centre"), ("dir01", "directory")])
def test_a_log_centre_or_directory_that_keeps_no_data_is_refused(region: Path, host: str, role: str) -> None:
    """A log centre (the audit trail) or a directory (the operators' accounts) declared data: none had no
    off-site backup at all; a time source keeps nothing to restore and may."""
    index = {"logc01": 0, "dir01": 2}[host]
    line = next(line for line in SECOPS.splitlines() if f"role: {role}" in line)
    path = with_secops(region, SECOPS.replace(line, line.replace("data: files", "data: none")))
    problems = secops_problems(region)
    assert [(d.path, d.code, d.line) for d in problems] == [
        (f"spec.hosts[{index}].data", "reference", line_of(path, f"role: {role}"))]
    assert "data: files" in problems[0].hint and "off-site" in problems[0].message


def test_an_unknown_role_is_a_schema_error(region: Path) -> None:
    with_secops(region, SECOPS.replace("role: directory", "role: ldap"))
    problems = secops_problems(region)
    assert [d.path for d in problems] == ["spec.hosts[2].role"]


def test_the_example_region_declares_its_security_management_hosts() -> None:
    register = load_register(REPO)
    lhasa = build_inventory(register, "lhasa")["all"]
    children = lhasa["children"]
    assert list(children["secmgmt_directory"]["hosts"]) == ["directory01"]
    assert list(children["secmgmt_log_centre"]["hosts"]) == ["log-centre01"]
    assert sorted(children["secmgmt_time_source"]["hosts"]) == ["ntp01", "ntp02"]
    dr = build_inventory(register, "dr")["all"]
    assert list(dr["children"]["secmgmt_log_centre"]["hosts"]) == ["log-centre-dr01"]
    assert {host["xzgov_directory_uri"] for host in [*lhasa["hosts"].values(), *dr["hosts"].values()]} == {
        "ldaps://directory01:636"}


def test_a_log_centre_keeps_logs_as_long_as_its_longest_sender_asks(region: Path) -> None:
    """xzgov_log_centre_retention_days: ≥ 180 days, and ≥ every retention declared by a system sending there."""
    with_secops(region)
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert hosts["logc01"]["xzgov_log_centre_retention_days"] == 365  # the fixture region's longest: 365 days
    assert "xzgov_log_centre_retention_days" not in hosts["ntp01"]
    with_secops(region, SECOPS.replace("audit: {destination: log-centre, retention_days: 180}",
                                       "audit: {destination: log-centre, retention_days: 400}"))
    hosts = build_inventory(load_register(region), "lhasa")["all"]["hosts"]
    assert hosts["logc01"]["xzgov_log_centre_retention_days"] == 400


def test_an_internal_host_port_is_open_to_the_system_itself_and_nobody_else() -> None:
    """`exposure: internal` on a host port reaches the host firewall: in from the system's other hosts and its
    pods' source addresses outside the cluster (the zone's egress range at its site), out from each of its other
    hosts — e.g. the crypto service's standby replicating from its primary's PostgreSQL (5432); no other system
    gets the port."""
    register = load_register(REPO)
    hosts = build_inventory(register, "lhasa")["all"]["hosts"]

    def flows(host: str, direction: str) -> dict[str, list[str]]:
        return {f["peer"]: f["peer_cidrs"] for f in hosts[host]["xzgov_allowed_flows"]
                if f["direction"] == direction and f["port"] == 5432}

    crypto = next(s for s in register if s.name == "crypto-service")
    pods = str(register.region.zones[crypto.zone].egress(crypto.site))
    assert pods == "10.66.255.0/26"  # region.yaml: shared-services egress_cidrs.lhasa, not the zone's /16
    assert flows("mmfw-kms01", "in") == {"system:crypto-service": ["10.66.8.12/32", "10.66.8.21/32", pods]}
    assert flows("mmfw-kms02", "out") == {"host:mmfw-kms01": ["10.66.8.11/32"]}
    assert flows("mmfw-hsmmgr01", "in") == {}  # it declares no such port
    leaked = [name for name, v in hosts.items() if v["xzgov_system"] != "crypto-service"
              and any(peer in ("host:mmfw-kms01", "host:mmfw-kms02", "system:crypto-service")
                      for peer in flows(name, "out"))]
    assert leaked == []


def test_a_hosts_call_to_pods_goes_to_their_zones_entry_range_and_pods_call_from_the_egress_range() -> None:
    """A VM reaches a system's pods through the cross-site entry of the system's zone at its site
    (region.yaml ``entry_cidrs``: the site-entry Services' load balancer), never the zone's whole network; a
    pod-only system calling a VM comes from its zone's egress range at its site."""
    register = load_register(REPO)
    region = register.region
    checked = {"out": 0, "in": 0}
    for site in ("lhasa", "dr"):
        for name, host in build_inventory(register, site)["all"]["hosts"].items():
            for flow in host["xzgov_allowed_flows"]:
                kind, _, peer = flow["peer"].partition(":")
                if kind == "zone":
                    continue
                system = register.systems.get(peer) or (
                    register.service_provider(peer) if kind == "service" else None)
                if system is None or (flow["direction"] == "out" and any(
                        f"{h.address}/32" in flow["peer_cidrs"] for h in system.hosts)):
                    continue
                zone = region.zones[system.zone]
                wanted = zone.entry(system.site) if flow["direction"] == "out" else zone.egress(system.site)
                if flow["direction"] == "in" and system.hosts:
                    continue  # a sender with hosts calls from them
                assert flow["peer_cidrs"] == [str(wanted)], (name, flow)
                checked[flow["direction"]] += 1
    # the example's in-flows from pods are the systems' own (exposure: internal, the test above): every
    # other sender to a VM has hosts of its own
    assert checked["out"] > 20, checked


def test_a_peer_with_hosts_and_workloads_is_admitted_from_both() -> None:
    """security-ops (VMs and pods at lhasa) copies its logs to the DR log centre on 6514; its NetworkPolicy lets
    the pods send it, so the log centre's firewall admits the range the pods leave lhasa from as well as the VMs —
    it admitted the VMs only, and the pods' copy was dropped there."""
    from xzgov.core.ports import pods_egress

    register = load_register(REPO)
    sender = register.systems["security-ops"]
    assert sender.hosts and sender.workloads
    pods = pods_egress(register.region, sender)
    assert pods is not None
    log_centre = build_inventory(register, "dr")["all"]["hosts"]["log-centre-dr01"]
    admitted = flows_of(log_centre)[("in", "system:security-ops", 6514)]
    assert str(pods) in admitted
    assert {f"{host.address}/32" for host in sender.hosts} <= set(admitted)


OVERRIDES = {"ssh_max_auth_tries": 2, "password_min_length": 16, "ssh_forwarding_allowed": False,
             "audit_immutable_required": True, "ssh_root_login": ["prohibit-password", "no"],
             "min_log_retention_days": 500}


def test_a_regions_threshold_overrides_reach_the_roles_through_the_inventory(
        region: Path, cli: Callable[..., CliResult]) -> None:
    """compliance/config.yaml changed what the live scan demands (e.g. ssh_max_auth_tries 2, logs kept 500 days)
    while `xzgov inventory` and the plugin kept the roles at their level defaults: site.yml hardened every host to
    a baseline the next live scan failed. Both now carry the overrides as the roles' own variables."""
    with_secops(region)
    (region / "compliance").mkdir(exist_ok=True)
    (region / "compliance" / "config.yaml").write_text(yaml.safe_dump({"thresholds": OVERRIDES}), encoding="utf-8")
    assert cli("inventory", "--root", str(region))[0] == 0
    written = yaml.safe_load((region / "inventories" / "lhasa" / "hosts.yml").read_text(encoding="utf-8"))
    for host in written["all"]["hosts"].values():
        assert host["ssh_hardening_max_auth_tries"] == 2 and host["os_hardening_pwquality_minlen"] == 16
        assert host["ssh_hardening_allow_tcp_forwarding"] == "no" and host["audit_immutable"] is True
        assert host["ssh_hardening_permit_root_login"] == "no"
        assert "integrity_aide_enabled" not in host  # not overridden: the role's level default applies
    assert written["all"]["hosts"]["logc01"]["xzgov_log_centre_retention_days"] == 500  # senders ask ≤ 365
    config = region / "inventories" / "lhasa.xzgov.yml"
    config.write_text(yaml.safe_dump({"plugin": "xzgov_register", "site": "lhasa"}), encoding="utf-8")
    assert ansible_inventory(config) == ansible_inventory(region / "inventories" / "lhasa" / "hosts.yml")
    # a bad override stops the inventory (exit 2, located) instead of hardening to defaults
    (region / "compliance" / "config.yaml").write_text("thresholds: {ssh_max_auth_trys: 2}\n", encoding="utf-8")
    code, _, err = cli("inventory", "--root", str(region))
    assert code == 2 and "compliance/config.yaml" in err and "ssh_max_auth_tries" in err


def test_every_host_baseline_threshold_has_the_role_variable_that_applies_it() -> None:
    from xzgov.core.inventory import ROLE_VARIABLES
    from xzgov.facts.thresholds import HOST_BY_LEVEL

    assert set(ROLE_VARIABLES) == set(HOST_BY_LEVEL[3])
    defaults: dict[str, Any] = {}
    for path in (REPO / "roles").glob("*/defaults/main.yml"):
        defaults.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    for name, (variable, form) in ROLE_VARIABLES.items():
        # the role's variable is its level map's entry, so an inventory value replaces exactly that figure
        assert defaults[variable] == f"{{{{ {variable}_by_level[xzgov_level | int] }}}}", variable
        for level in (1, 2, 3, 4):
            threshold, role_default = HOST_BY_LEVEL[level][name], defaults[f"{variable}_by_level"][level]
            applied = form(threshold)
            if isinstance(threshold, tuple):  # the values accepted (PermitRootLogin): one of them is applied
                assert applied in threshold and role_default in threshold, (name, level)
            else:
                assert applied is None or applied == role_default, (name, level)


def test_copies_of_a_host_are_taken_one_round_apart_in_every_group() -> None:
    """site.yml's batches take each group's hosts in inventory order: ordered by name, ntp01 and ntp02 (both time
    sources), tyrz-db01 and tyrz-db02 sat side by side and were hardened in one batch, which the gate judges only
    at its end. Every first copy now comes before any second copy, in one order for every group."""
    from ansible.utils.helpers import pct_to_int

    from xzgov.core.inventory import rollout_order

    assert rollout_order(["b-db02", "a-db01", "ntp02", "b-db01", "a-db02", "ntp01", "log01", "lake03", "lake01",
                          "lake02", "edge"]) == [
        "a-db01", "b-db01", "edge", "lake01", "log01", "ntp01", "a-db02", "b-db02", "lake02", "ntp02", "lake03"]
    children = build_inventory(load_register(REPO), "lhasa")["all"]["children"]
    pairs = 0
    for level in ("level2", "level3", "level4"):
        members = set(children[level]["hosts"])
        # the level play's pattern os_debian:os_openeuler:os_kylin:&levelN, each group in its inventory order
        order = [name for family in ("os_debian", "os_openeuler", "os_kylin")
                 for name in children.get(family, {}).get("hosts", {}) if name in members]
        start = 0
        for size in (1, "10%", "25%"):
            while start < len(order):
                batch = order[start:start + pct_to_int(size, len(order))]
                stems = [re.sub(r"[0-9]+\Z", "", name) for name in batch]
                both = {stem for stem in stems if stems.count(stem) > 1
                        and sum(1 for name in order if re.sub(r"[0-9]+\Z", "", name) == stem) == 2}
                assert not both, (level, batch)  # no batch holds both copies of a pair
                start += len(batch)
                if size != "25%":
                    break
        pairs += sum(1 for name in order if name.endswith("02"))
    assert pairs >= 8  # the example region has pairs to spread (ntp, log centres, databases)
