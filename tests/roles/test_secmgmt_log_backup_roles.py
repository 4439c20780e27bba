"""roles/log_centre, roles/log_forwarding and roles/host_backup rendered for the example region (no host booted):
the log centre files a message under the sender's authenticated name (never the HOSTNAME it claims), accepts
permitted certificate names only and takes a CRL when given; the forwarders check the log centre against the
region's CA only and keep rsyslog's files the retention period (own logrotate stanza, the package's
neutralised; ``logrotate -d`` when available: ``logrotate`` on PATH or ``XZGOV_LOGROTATE``); the log centre's
storage and key are in its host's backup; backups are encrypted, pruned and checked weekly."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.render.hostdata import host_backup_plan, host_backup_vars, host_backups
from stacks.settings import Settings
from tests.roles.render import assertion_holds, render, runs, task, value
from xzgov.core import model as m
from xzgov.core.inventory import build_inventory
from xzgov.core.register import load_register

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"

#: base64 of a PEM certificate, as xzgov:objectStoreCaCert is given (the CRD's caCert is `format: byte`)
CA_CERT = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVWFoKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def _register() -> m.Register:
    return load_register(REPO)


def _inventory_hosts() -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    for path in sorted((REPO / "inventories").glob("*/hosts.yml")):
        inventory = yaml.safe_load(path.read_text(encoding="utf-8"))["all"]
        centres = set((inventory.get("children", {}).get("secmgmt_log_centre") or {}).get("hosts") or {})
        for name, variables in inventory["hosts"].items():
            hosts[name] = {**variables, "inventory_hostname": name,
                           "group_names": ["secmgmt_log_centre"] if name in centres else []}
    return hosts


HOSTS = _inventory_hosts()
CENTRES = {name: v for name, v in HOSTS.items() if v.get("xzgov_secmgmt_role") == "log-centre"}


def _centre_vars(variables: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**variables, "groups": {"all": []}, "hostvars": {}, **extra}


# ------------------------------------------------------------------------------------------ log centre
def test_the_example_region_has_log_centres_with_their_senders() -> None:
    assert CENTRES, "no log-centre host in the committed inventories"
    register = _register()
    for name, variables in CENTRES.items():
        sources = variables["xzgov_log_centre_sources"]
        address = variables["ansible_host"]
        expected = {str(h.address): h.hostname for s in register
                    if register.region.log_servers[s.audit.destination].host == address for h in s.hosts}
        assert {s["address"]: s["name"] for s in sources} == expected, name
        assert len(expected) > 1


@pytest.mark.parametrize("centre", sorted(CENTRES))
def test_storage_follows_the_authenticated_sender_not_the_claimed_hostname(centre: str) -> None:
    variables = _centre_vars(CENTRES[centre])
    conf = render("log_centre", "centre.conf.j2", variables)
    file_template = re.search(r'template\(name="xzgov-centre-file".*?string="([^"]+)"', conf, re.S)
    assert file_template is not None
    assert "HOSTNAME" not in file_template.group(1).upper()
    assert "%$.xzgov_source" in file_template.group(1)
    assert 'set $.xzgov_source = lookup("xzgov-centre-senders", $fromhost-ip);' in conf
    assert 'lookup_table(name="xzgov-centre-senders"' in conf
    # mismatches and unknown senders are quarantined (another file), then stop before the storage action
    body = conf[conf.index('name="xzgov-centre"'):]
    assert body.index('"unknown-sender"') < body.index('"hostname-mismatch"') < body.index(
        'dynaFile="xzgov-centre-quarantine-file"') < body.index('dynaFile="xzgov-centre-file"')
    assert re.search(r'dynaFile="xzgov-centre-quarantine-file".*?\)\s*stop\s*\}', body, re.S)
    quarantine = re.search(r'template\(name="xzgov-centre-quarantine-file".*?string="([^"]+)"', conf, re.S)
    assert quarantine is not None and not quarantine.group(1).startswith("/var/log/xzgov-centre/")
    # the sender table: every source's address to its own name
    table = json.loads(render("log_centre", "senders.json.j2", variables))
    assert table["version"] == 1 and table["nomatch"] == ""
    assert {row["index"]: row["value"] for row in table["table"]} == {
        s["address"]: s["name"].lower() for s in CENTRES[centre]["xzgov_log_centre_sources"]}


@pytest.mark.parametrize("centre", sorted(CENTRES))
def test_only_permitted_certificate_names_connect(centre: str) -> None:
    variables = _centre_vars(CENTRES[centre])
    conf = render("log_centre", "centre.conf.j2", variables)
    assert "x509/certvalid" not in conf
    assert 'StreamDriver.AuthMode="x509/name"' in conf
    peers = re.search(r"PermittedPeer=\[([^\]]*)\]", conf)
    assert peers is not None
    names = re.findall(r'"([^"]+)"', peers.group(1))
    assert sorted(names) == sorted(s["name"] for s in CENTRES[centre]["xzgov_log_centre_sources"])
    # a suffix names the certificates; a revoked name is dropped
    first = names[0]
    conf = render("log_centre", "centre.conf.j2", {**variables, "log_centre_peer_suffix": ".xzgov.internal",
                                                    "log_centre_revoked_peers": [f"{first}.xzgov.internal"]})
    peers = re.search(r"PermittedPeer=\[([^\]]*)\]", conf)
    assert peers is not None
    suffixed = re.findall(r'"([^"]+)"', peers.group(1))
    assert f"{first}.xzgov.internal" not in suffixed and len(suffixed) == len(names) - 1
    assert all(n.endswith(".xzgov.internal") for n in suffixed)
    # no CRL by default; set, the input checks it
    assert "CRLFile" not in render("log_centre", "centre.conf.j2", variables)
    with_crl = render("log_centre", "centre.conf.j2", {**variables, "log_centre_tls_crl_src": "files/crl.pem"})
    assert re.search(r'input\(type="imtcp"[^)]*streamDriver\.CRLFile="/etc/xzgov-logcentre/tls/crl\.pem"', with_crl)


@pytest.mark.parametrize("centre", sorted(CENTRES))
def test_a_revoked_name_is_revoked_whatever_its_case(centre: str) -> None:
    """rsyslog 8.2302 checks no CRL: the name is the only revocation. An exact comparison let an upper-case entry
    leave the lower-case name the role derives permitted."""
    variables = _centre_vars(CENTRES[centre], log_centre_peer_suffix=".xzgov.internal")
    first = value("log_centre", "{{ log_centre_effective_peers }}", variables)[0]
    revoked = value("log_centre", "{{ log_centre_effective_peers }}",
                    {**variables, "log_centre_revoked_peers": [first.upper()]})
    assert first not in revoked and len(revoked) == len(CENTRES[centre]["xzgov_log_centre_sources"]) - 1


def test_without_sources_or_peers_nothing_is_permitted_and_the_fallback_checks_reverse_dns() -> None:
    variables = {"inventory_hostname": "lc", "groups": {"all": []}, "hostvars": {}}
    assert value("log_centre", "{{ log_centre_effective_peers }}", variables) == []
    conf = render("log_centre", "centre.conf.j2", variables)
    assert "x509/certvalid" not in conf and "lookup_table" not in conf
    assert "tolower(field($fromhost, 46, 1))" in conf
    tasks = yaml.safe_load((ROLES / "log_centre/tasks/main.yml").read_text(encoding="utf-8"))
    asserts = [t for t in tasks if "ansible.builtin.assert" in t]
    assert any("log_centre_effective_peers | length > 0" in t["ansible.builtin.assert"]["that"] for t in asserts)


def test_the_inventory_gives_no_log_centre_sources_to_other_hosts() -> None:
    others = [name for name, v in HOSTS.items() if "xzgov_log_centre_sources" in v and name not in CENTRES]
    assert others == []


# ---------------------------------------------------------------------------------------- log forwarding
def test_forwarding_never_falls_back_to_the_system_ca_bundle() -> None:
    variables = {"xzgov_level": 3, "xzgov_log_servers": [{"host": "10.0.0.1", "port": 6514, "protocol": "tcp+tls"}],
                 "group_names": [], "log_forwarding_work_dir": "/var/spool/rsyslog"}
    conf = render("log_forwarding", "forward.conf.j2", variables)
    assert 'StreamDriver.CAFile="/etc/ssl/xzgov/log-ca.pem"' in conf
    assert "ca-certificates.crt" not in conf and "ca-bundle" not in conf
    tasks = yaml.safe_load((ROLES / "log_forwarding/tasks/main.yml").read_text(encoding="utf-8"))
    block = next(t for t in tasks if t.get("name") == "Forwarding to the log centre")["block"]
    ca_assert = next(t for t in block if "ansible.builtin.assert" in t
                     and "log_forwarding_has_own_ca | bool" in t["ansible.builtin.assert"]["that"])
    assert "log_forwarding_ca_src" in ca_assert["ansible.builtin.assert"]["fail_msg"]
    installs = [t for t in block if "ansible.builtin.copy" in t and "log_forwarding_ca_dest" in str(t)]
    assert installs and all("when" not in t for t in installs)


def _os_vars(family: str) -> dict[str, Any]:
    return yaml.safe_load((ROLES / f"log_forwarding/vars/{family}.yml").read_text(encoding="utf-8"))


def _logrotate() -> list[str] | None:
    explicit = os.environ.get("XZGOV_LOGROTATE")
    if explicit:
        return [explicit]
    found = shutil.which("logrotate")
    return [found] if found else None


# the stanzas the packages ship (Debian 12 rsyslog 8.2302; openEuler / Kylin: no rotate, no interval)
DISTRO_STANZA = {
    "debian": "{files}\n{{\n\trotate 4\n\tweekly\n\tmissingok\n\tnotifempty\n\tcompress\n\tdelaycompress\n"
              "\tsharedscripts\n\tpostrotate\n\t\t/usr/lib/rsyslog/rsyslog-rotate\n\tendscript\n}}\n",
    "redhat": "{files}\n{{\n    missingok\n    sharedscripts\n    postrotate\n"
              "        /usr/bin/systemctl -s HUP kill rsyslog.service >/dev/null 2>&1 || true\n    endscript\n}}\n",
}


@pytest.mark.parametrize(("declared", "kept"), [(90, 180), (180, 180), (400, 400)])
def test_a_host_keeps_its_logs_at_least_six_months_whatever_the_manifest_declares(declared: int, kept: int) -> None:
    variables = {**_os_vars("debian"), "xzgov_level": 3, "xzgov_log_retention_days": declared}
    stanza = render("log_forwarding", "logrotate.j2", variables)
    assert re.search(rf"^\s*rotate {kept}\s*$", stanza, re.M) and re.search(rf"^\s*maxage {kept}\s*$", stanza, re.M)


@pytest.mark.parametrize("family", ["debian", "redhat"])
def test_local_retention_is_the_roles_own_stanza_per_os_family(family: str, tmp_path: Path) -> None:
    os_vars = _os_vars(family)
    variables = {**os_vars, "xzgov_level": 3, "xzgov_log_retention_days": 400}
    stanza = render("log_forwarding", "logrotate.j2", variables)
    files = os_vars["log_forwarding_logrotate_files"]
    listed = [line for line in stanza.splitlines() if line.startswith("/")]
    assert listed == files
    body = stanza[stanza.index("{"):]
    for directive in ("daily", "rotate 400", "maxage 400", "missingok", "compress"):
        assert re.search(rf"^\s*{directive}\s*$", body, re.M), directive
    assert not re.search(r"^\s*(weekly|monthly|yearly)\s*$", body, re.M)
    assert os_vars["log_forwarding_logrotate_postrotate"] in body
    assert os_vars["log_forwarding_logrotate_neutralise"] in ("divert", "replace")
    assert os_vars["log_forwarding_logrotate_dropin"] != os_vars["log_forwarding_logrotate_distro_file"]
    logrotate = _logrotate()
    if logrotate is None:
        pytest.skip("logrotate is not available (install it or set XZGOV_LOGROTATE)")
    # a /etc/logrotate.d in a temp dir: the package's stanza neutralised as the role does, the role's stanza
    logs, confd = tmp_path / "log", tmp_path / "logrotate.d"
    logs.mkdir()
    confd.mkdir()
    local = [str(logs / Path(f).name) for f in files]
    for path in local:
        Path(path).write_text("line\n", encoding="utf-8")
    distro = DISTRO_STANZA[family].format(files="\n".join(local))
    if os_vars["log_forwarding_logrotate_neutralise"] == "divert":
        (confd / "rsyslog.disabled").write_text(distro, encoding="utf-8")
    else:
        (confd / "rsyslog").write_text(render("log_forwarding", "logrotate-distro.j2", variables), encoding="utf-8")
    ours = render("log_forwarding", "logrotate.j2", {**variables, "log_forwarding_logrotate_files": local,
                                                    "log_forwarding_logrotate_postrotate": "true"})
    (confd / "xzgov-rsyslog").write_text(ours, encoding="utf-8")
    main = tmp_path / "logrotate.conf"
    main.write_text(f"weekly\nrotate 4\ncreate\ninclude {confd}\n", encoding="utf-8")
    run = subprocess.run([*logrotate, "-d", "-s", str(tmp_path / "state"), str(main)], capture_output=True,
                         text=True, check=False)
    output = run.stdout + run.stderr
    assert "error:" not in output, output
    expected = "rotating pattern: " + "\n".join(local) + "\n after 1 days (400 rotations)"
    assert expected in output, output
    # the regexes the role's AUDIT task applies to the same output (read from the task itself)
    audit = _retention_audit()
    probe = {**variables, "log_forwarding_logrotate_files": local, **audit["vars"]}
    pattern = value("log_forwarding", "{{ log_forwarding_logrotate_expected }}", probe)
    duplicate = value("log_forwarding", "{{ log_forwarding_logrotate_duplicate }}", probe)
    assert not re.search(duplicate, output, re.M)
    assert re.search(pattern, output, re.M)
    # and the old role's way (the package stanza left in place) is caught: a duplicate entry
    (confd / "rsyslog").write_text(distro, encoding="utf-8")
    dup = subprocess.run([*logrotate, "-d", "-s", str(tmp_path / "state"), str(main)], capture_output=True,
                         text=True, check=False)
    assert re.search(duplicate, dup.stdout + dup.stderr, re.M)


def _retention_audit() -> dict[str, Any]:
    tasks = yaml.safe_load((ROLES / "log_forwarding/tasks/main.yml").read_text(encoding="utf-8"))
    block = next(t for t in tasks if str(t.get("name", "")).startswith("PATCH | Keep local logs"))["block"]
    return next(t for t in block if "ansible.builtin.assert" in t)


def test_the_retention_audit_task_reads_logrotate_d() -> None:
    tasks = yaml.safe_load((ROLES / "log_forwarding/tasks/main.yml").read_text(encoding="utf-8"))
    text = yaml.safe_dump(tasks)
    assert "ansible.builtin.replace" not in text and "ansible.builtin.lineinfile" not in text
    assert "logrotate, -d" in (ROLES / "log_forwarding/tasks/main.yml").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ host backup
def _role_default(role: str, name: str) -> str:
    defaults = yaml.safe_load((ROLES / role / "defaults/main.yml").read_text(encoding="utf-8"))
    return str(defaults[name])


def test_every_log_centre_host_backs_up_its_storage_and_key() -> None:
    storage = _role_default("log_centre", "log_centre_storage")
    key_dir = str(Path(_role_default("log_centre", "log_centre_seal_key")).parent)
    tls_dir = _role_default("log_centre", "log_centre_tls_dir")
    register = _register()
    centres = [(s, h) for s in register for h in s.hosts if h.role == "log-centre"]
    assert centres
    for system, host in centres:
        assert host.data == "files", f"{host.hostname} keeps the region's logs but declares data: {host.data}"
        assert storage in host.data_paths and key_dir in host.data_paths, host
        assert any(tls_dir.startswith(p + "/") or tls_dir == p for p in host.data_paths)
        settings = Settings(site=system.site, object_store_ca_cert=CA_CERT, backup_prefix="velero-dev")
        jobs = [j for j in host_backups(register.region, system, settings) if j.hostname == host.hostname]
        assert jobs and all(storage in j.paths and key_dir in j.paths for j in jobs), jobs


def test_role_data_paths_keep_the_declared_ones_and_the_default() -> None:
    import ipaddress

    centre = m.Host("lc", ipaddress.IPv4Address("10.0.0.1"), "debian", "12", "log", "files", role="log-centre")
    assert centre.data_paths[:2] == m.DEFAULT_DATA_PATHS
    named = m.Host("d", ipaddress.IPv4Address("10.0.0.2"), "debian", "12", "ldap", "files",
                   data_paths=("/var/lib/ldap",), role="directory")
    assert named.data_paths == ("/var/lib/ldap", "/etc/ldap/slapd.d")
    plain = m.Host("p", ipaddress.IPv4Address("10.0.0.3"), "debian", "12", "files", "files")
    assert plain.data_paths == ()


def test_the_inventories_agree_with_the_model() -> None:
    register = _register()
    for site in register.region.sites:
        built = build_inventory(register, site)["all"]["hosts"]
        for name, variables in built.items():
            if variables.get("xzgov_secmgmt_role") == "log-centre":
                assert HOSTS[name]["xzgov_log_centre_sources"] == variables["xzgov_log_centre_sources"]


JOB = {"system": "pay", "method": "pgbackrest", "target_site": "dr", "bucket": "b", "endpoint": "https://s3.dr",
       "prefix": "velero-hosts/lhasa/pay", "interval_minutes": 1, "on_calendar": "*-*-* 18:30:00 UTC",
       "retention_days": 30, "wal_archive_seconds": 60, "paths": []}


def test_pgbackrest_repository_is_encrypted() -> None:
    conf = render("host_backup", "pgbackrest.conf.j2", {"host_backup_job": JOB, "inventory_hostname": "db1",
                                                         "host_backup_pg_cipher_pass": "s3cret"})
    assert "repo1-cipher-type=aes-256-cbc" in conf
    assert "repo1-cipher-pass=s3cret" in conf


def test_a_lost_other_site_never_fills_pg_wal() -> None:
    """WAL goes to the other site asynchronously: with that site lost the queue is bounded (archive-push-queue-max)
    so PostgreSQL at the surviving site keeps running, at the cost of a PITR gap (docs/dr.md)."""
    conf = render("host_backup", "pgbackrest.conf.j2", {"host_backup_job": JOB, "inventory_hostname": "db1"})
    assert "\narchive-async=y\n" in conf and "\narchive-push-queue-max=16GiB\n" in conf
    sized = render("host_backup", "pgbackrest.conf.j2", {"host_backup_job": JOB, "inventory_hostname": "db1",
                                                         "host_backup_pg_archive_queue_max": "40GiB"})
    assert "\narchive-push-queue-max=40GiB\n" in sized


def test_restic_prunes_daily_and_every_repository_is_checked_weekly() -> None:
    """The retention (forget --prune, which repacks) ran after every backup — every 15 minutes for a 15-minute RPO;
    it is a daily unit of its own, holding the repository's lock like the backup and the check."""
    restic = {**JOB, "method": "restic", "paths": ["/srv"]}
    variables = {"item": [restic, "x"], "inventory_hostname": "fs1"}
    service = render("host_backup", "xzgov-restic.service.j2", variables)
    calls = [line for line in service.splitlines() if line.startswith("Exec")]
    assert len(calls) == 2 and not [call for call in calls if "forget" in call or "prune" in call]
    assert "OnFailure" not in service
    prune = render("host_backup", "xzgov-restic-prune.service.j2", {**variables, "host_backup_on_failure_unit": "a@%n"})
    assert ("ExecStart=/usr/bin/flock /run/lock/xzgov-restic-pay.lock /bin/sh -c 'restic --cacert \"$RESTIC_CACERT\" "
            "forget --prune --keep-within \"${XZGOV_RETENTION_DAYS}d\" --host \"%H\"'") in prune
    assert "EnvironmentFile=/etc/xzgov/host-backup/pay.env" in prune and "OnFailure=a@%n" in prune
    assert "OnCalendar=*-*-* 19:00:00 UTC" in render("host_backup", "xzgov-restic-prune.timer.j2", variables)
    units = value("host_backup", "{{ host_backup_restic_units }}", {"xzgov_host_backup_plan": {"fs1": [restic]},
                                                               "inventory_hostname": "fs1"})
    assert units == [f"xzgov-restic-pay{s}" for s in (".service", ".timer", "-check.service", "-check.timer",
                                                        "-prune.service", "-prune.timer")]
    for unit in units:  # every unit the role installs has its template
        assert (ROLES / "host_backup/templates" / (unit.replace("xzgov-restic-pay", "xzgov-restic") + ".j2")).exists()
    check = render("host_backup", "xzgov-restic-check.service.j2",
                   {**variables, "host_backup_on_failure_unit": "a@%n.service"})
    assert "restic --cacert ${RESTIC_CACERT} check --read-data-subset=10%" in check
    assert "OnFailure=a@%n.service" in check
    # Saturday 20:00 UTC: Sunday 04:00 Beijing time (docs/dr.md; tests/roles/test_host_backup_env.py)
    assert "OnCalendar=Sat *-*-* 20:00:00 UTC" in render("host_backup", "xzgov-restic-check.timer.j2", variables)
    pg = render("host_backup", "xzgov-pgbackrest-check.service.j2", {"host_backup_job": JOB})
    assert "--stanza=main check" in pg and "ExecStart=/usr/local/sbin/xzgov-pgbackrest-verify main" in pg


#: pgbackrest 2.45's verify --output=text --verbose (as the live test's journal shows it), exit 0 either way
VERIFY_OUTPUT = {
    "ok": "stanza: main\nstatus: ok\n  archiveId: 15-1, total WAL checked: 6, total valid WAL: 6\n"
          "    missing: 0, checksum invalid: 0, size invalid: 0, other: 0\n"
          "  backup: 20261207-055731F, status: valid, total files checked: 961, total valid files: 961\n"
          "    missing: 0, checksum invalid: 0, size invalid: 0, other: 0",
    "error": "stanza: main\nstatus: error\n  archiveId: 15-1, total WAL checked: 6, total valid WAL: 6\n"
             "    missing: 0, checksum invalid: 0, size invalid: 0, other: 0\n"
             "  backup: 20261207-055731F, status: invalid, total files checked: 961, total valid files: 960\n"
             "    missing: 0, checksum invalid: 1, size invalid: 0, other: 0",
    "silent": "",  # what it printed on a sound repository without --verbose: no report to read
}


@pytest.mark.parametrize(("case", "exit_code", "expected"), [("ok", 0, 0), ("error", 0, 1), ("silent", 0, 1),
                                                             ("ok", 28, 28)])
def test_the_weekly_verify_fails_on_a_damaged_repository(case: str, exit_code: int, expected: int,
                                                         tmp_path: Path) -> None:
    """pgbackrest verify exits 0 on a damaged repository (its "status: error" is an INFO line): the role's
    wrapper turns it into a failure, so the check unit's OnFailure alert fires; pgbackrest's own errors pass."""
    stub = tmp_path / "pgbackrest"
    stub.write_text(f"#!/bin/sh\n[ \"$1 $2 $3 $4\" = '--stanza=main --output=text --verbose verify' ] || exit 99\n"
                    f"cat <<'EOF'\n{VERIFY_OUTPUT[case]}\nEOF\nexit {exit_code}\n", encoding="utf-8")
    stub.chmod(0o755)
    run = subprocess.run([str(ROLES / "host_backup/files/xzgov-pgbackrest-verify"), "main"], capture_output=True,
                         text=True, env={"PATH": os.environ["PATH"], "XZGOV_PGBACKREST": str(stub)}, check=False)
    assert run.returncode == expected, run.stdout + run.stderr
    assert VERIFY_OUTPUT[case] in run.stdout  # the journal keeps pgbackrest's report


def test_a_repositorys_backup_prune_and_check_take_turns(tmp_path: Path) -> None:
    """restic 0.14 (Debian 12) has no --retry-lock: a backup started during the weekly check (an exclusive lock for
    hours) failed, and a prune failed the check. Every restic call of a repository's units holds the same lock file
    (flock), and two holders really exclude each other."""
    restic = {**JOB, "method": "restic", "paths": ["/srv"]}
    variables = {"item": [restic, "x"], "inventory_hostname": "fs1"}
    units = [render("host_backup", name, variables) for name in ("xzgov-restic.service.j2",
                                                                  "xzgov-restic-check.service.j2",
                                                                  "xzgov-restic-prune.service.j2")]
    calls = [line.split("=", 1)[1] for unit in units for line in unit.splitlines()
             if line.startswith(("ExecStart=", "ExecStartPre=", "ExecStartPost="))]
    assert len(calls) == 4 and all("restic" in call for call in calls)
    assert {call.split()[:2] == ["/usr/bin/flock", "/run/lock/xzgov-restic-pay.lock"] for call in calls} == {True}
    other = render("host_backup", "xzgov-restic.service.j2", {**variables, "item": [{**restic, "system": "gis"}, "x"]})
    assert "/run/lock/xzgov-restic-gis.lock" in other  # another system's repository: its own lock
    if shutil.which("flock"):  # util-linux: the holder excludes a second one (-n: would wait)
        lock = tmp_path / "repo.lock"
        held = subprocess.Popen(["flock", str(lock), "sleep", "5"])
        try:
            for _ in range(50):
                if subprocess.run(["flock", "-n", str(lock), "true"], check=False).returncode == 1:
                    break
                subprocess.run(["sleep", "0.1"], check=True)
            else:
                pytest.fail("flock never held the lock")
        finally:
            held.kill()
            held.wait()


def test_every_backup_secret_is_asserted_non_empty_without_logging() -> None:
    tasks = yaml.safe_load((ROLES / "host_backup/tasks/main.yml").read_text(encoding="utf-8"))
    secrets = next(t for t in tasks if t.get("name") == "AUDIT | Credentials are given for hosts with jobs")
    that = " ".join(secrets["ansible.builtin.assert"]["that"])
    for name in ("host_backup_s3_key_id", "host_backup_s3_secret", "host_backup_restic_password",
                 "host_backup_pg_cipher_pass"):
        assert f"{name} | length > 0" in that, name
    assert secrets["no_log"] is True
    specs = yaml.safe_load((ROLES / "host_backup/meta/argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"]["options"]
    for name in ("host_backup_s3_secret", "host_backup_restic_password", "host_backup_pg_cipher_pass"):
        assert options[name].get("no_log") is True, name
    restic_tasks = (ROLES / "host_backup/tasks/restic.yml").read_text(encoding="utf-8")
    assert "product(host_backup_restic_timer_suffixes)" in restic_tasks
    assert "-check" in value("host_backup", "{{ host_backup_restic_timer_suffixes }}", {})
    # the weekly check's timer is one of the units the pgBackRest tasks install and enable (one list, vars/main.yml)
    assert "xzgov-pgbackrest-check.timer" in value("host_backup", "{{ host_backup_pg_timers }}", {})
    assert 'loop: "{{ host_backup_pg_timers }}"' in (ROLES / "host_backup/tasks/pgbackrest.yml").read_text(
        encoding="utf-8")


def _retired(jobs: list[dict[str, Any]], found: list[str], pg_ours: int = 0) -> dict[str, Any]:
    variables = {"xzgov_host_backup_plan": {"fs1": jobs}, "inventory_hostname": "fs1",
                 "host_backup_found": {"files": [{"path": path} for path in found]},
                 "host_backup_pg_ours": {"rc": pg_ours}}
    return {name: value("host_backup", f"{{{{ {name} }}}}", variables) for name in (
        "host_backup_restic_retired_units", "host_backup_restic_retired_env", "host_backup_pg_retired")}


def test_a_job_the_plan_no_longer_has_leaves_no_secret_or_timer_behind() -> None:
    """A system moved off a host kept its restic timers backing up into the other site's bucket and its env file
    (S3 key, repository password) on the host; a database host without a pgBackRest job kept the cipher pass."""
    restic = {**JOB, "method": "restic", "paths": ["/srv"]}
    found = ["/etc/xzgov/host-backup/pay.env", "/etc/xzgov/host-backup/gone.env", "/etc/xzgov/host-backup/pay-x.env",
             *(f"/etc/systemd/system/xzgov-restic-{system}{suffix}" for system in ("pay", "gone", "pay-x")
               for suffix in (".service", ".timer", "-check.service", "-check.timer"))]
    retired = _retired([restic], found)
    # a system whose name starts with another's (pay-x beside pay) is its own job
    assert sorted(retired["host_backup_restic_retired_env"]) == [
        "/etc/xzgov/host-backup/gone.env", "/etc/xzgov/host-backup/pay-x.env"]
    assert sorted(retired["host_backup_restic_retired_units"]) == sorted(
        f"xzgov-restic-{system}{suffix}" for system in ("gone", "pay-x")
        for suffix in (".service", ".timer", "-check.service", "-check.timer"))
    assert retired["host_backup_pg_retired"] is True  # the plan gives fs1 no pgBackRest job; the conf is the role's
    assert _retired([restic, JOB], found)["host_backup_pg_retired"] is False
    assert _retired([restic], found, pg_ours=1)["host_backup_pg_retired"] is False  # a conf the role did not write
    assert _retired([restic], found, pg_ours=2)["host_backup_pg_retired"] is False  # none
    nothing = _retired([], [])
    assert nothing["host_backup_restic_retired_units"] == nothing["host_backup_restic_retired_env"] == []


def test_the_pgbackrest_units_installed_are_the_units_retired() -> None:
    """The install loop named its five units a second time beside the list the retirement removes: a sixth unit
    added to one would have been left running on a retired host. One list; each unit has its template."""
    units = value("host_backup", "{{ host_backup_pg_units }}", {})
    install = task("host_backup", "PATCH | Backup services and timers", "pgbackrest.yml")
    assert install["loop"] == "{{ host_backup_pg_units }}"
    assert install["ansible.builtin.template"]["src"] == "{{ item }}.j2"
    assert all((ROLES / "host_backup/templates" / f"{unit}.j2").is_file() for unit in units), units
    assert value("host_backup", "{{ host_backup_pg_timers }}", {}) == [u for u in units if u.endswith(".timer")]
    retired = yaml.safe_load((ROLES / "host_backup/tasks/retired.yml").read_text(encoding="utf-8"))
    assert any("host_backup_pg_units" in str(entry.get("loop", "")) for entry in retired)


def test_retiring_jobs_needs_a_plan_that_names_the_host() -> None:
    """Without the plan (-e @DIR/<site>/host-backup.yml forgotten) every host has no jobs: retiring them then would
    stop every backup of the region. The DR runbook's file names only the recovered systems' hosts: retiring the
    others' jobs restarted the DR site's databases and dropped their backups (a review). The retirement runs for a
    host the plan names, and `xzgov plan --out` names every host of its site ([] for none)."""
    tasks = yaml.safe_load((ROLES / "host_backup/tasks/main.yml").read_text(encoding="utf-8"))
    entry = next(t for t in tasks if t.get("ansible.builtin.import_tasks") == "retired.yml")
    host = {"inventory_hostname": "db1", "xzgov_level": 3}
    assert not runs("host_backup", entry, host)
    assert not runs("host_backup", entry, {**host, "xzgov_host_backup_plan": {"other-db": [JOB]}})
    assert runs("host_backup", entry, {**host, "xzgov_host_backup_plan": {"db1": [], "other-db": [JOB]}})
    register = _register()
    settings = Settings(site="lhasa", register_root=str(REPO))
    plan = host_backup_plan(register, "lhasa", settings)
    hosts = {h.hostname for s in register if s.site == "lhasa" for h in s.hosts}
    assert set(plan) == hosts and any(jobs == [] for jobs in plan.values())
    assert {name for name, jobs in plan.items() if jobs} == set(host_backup_vars(register, "lhasa", settings))
    retired = yaml.safe_load((ROLES / "host_backup/tasks/retired.yml").read_text(encoding="utf-8"))
    archive = next(t for t in retired if "xzgov-archive.conf" in str(t.get("ansible.builtin.file", {})))
    assert archive["notify"] == "Restart PostgreSQL"  # archive_mode is read at server start only


# ------------------------------------------------------------------------------------------ log forwarding
#: the role's OS variables (its first task loads them): Debian's
FORWARDING = yaml.safe_load((ROLES / "log_forwarding/vars/debian.yml").read_text(encoding="utf-8"))
SENDERS = {name: v for name, v in HOSTS.items() if v.get("xzgov_secmgmt_role") != "log-centre"}


def _forward(variables: dict[str, Any]) -> str:
    return render("log_forwarding", "forward.conf.j2", {**FORWARDING, "group_names": [], **variables})


def test_every_sender_checks_its_centre_by_a_dns_name_of_the_certificate() -> None:
    """rsyslog's gtls driver (x509/name) matches the certificate's DNS names (SAN dNSName, then CN), never an
    address: with the log server's address as the permitted peer — what every committed inventory gave — every
    handshake failed and the messages waited in the disk queue until it was full."""
    assert len(SENDERS) >= 30
    for name, variables in SENDERS.items():
        peers = re.findall(r'StreamDriverPermittedPeers="([^"]*)"', _forward(variables))
        assert peers == [server["tls_name"] for server in variables["xzgov_log_servers"]], name
        assert not [peer for peer in peers if re.fullmatch(r"[0-9.]+", peer)], name
        assert assertion_holds("log_forwarding", "AUDIT | Log servers are given and use TLS",
                               {**FORWARDING, **variables}), name


def test_a_log_server_without_a_certificate_name_is_refused() -> None:
    variables = {**FORWARDING, "xzgov_level": 3,
                 "xzgov_log_servers": [{"host": "10.69.1.10", "port": 6514, "protocol": "tcp+tls"}]}
    check = "AUDIT | Log servers are given and use TLS"
    assert not assertion_holds("log_forwarding", check, variables)
    assert assertion_holds("log_forwarding", check, {**variables, "log_forwarding_permitted_peers": {
        "10.69.1.10": "log-centre.lhasa.xzgov.internal"}})
    assert not assertion_holds("log_forwarding", check, {**variables, "log_forwarding_permitted_peers": {
        "10.69.1.10": "fd00::10"}})

