"""Build the typed security posture (``spec.security``) and zone boundary devices from validated documents.

Called by :mod:`xzgov.core.register` after schema validation, so every key has its schema type; absent parts
become empty declarations (never defaults that would pass a rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xzgov.core import model as m
from xzgov.core.errors import Diagnostic
from xzgov.core.schema import suggest
from xzgov.core.yamlio import LocatedDocument


def _date(value: Any) -> str | None:
    return None if value is None else str(value)


def boundary_devices(raw: Sequence[Mapping[str, Any]] | None) -> tuple[m.BoundaryDevice, ...]:
    """``zones[].boundary_devices`` of region.yaml."""
    return tuple(
        m.BoundaryDevice(id=d["id"], kind=d["kind"], name=d["name"], logs_to=d.get("logs_to"),
                         alerting=bool(d.get("alerting", False)),
                         signature_update_hours=d.get("signature_update_hours"),
                         record_fields=tuple(d.get("record_fields") or ()))
        for d in raw or ()
    )


def crypto_channels(raw: Sequence[Mapping[str, Any]] | None) -> tuple[m.CryptoChannel, ...]:
    """``spec.crypto.channels`` of a manifest."""
    channels: list[m.CryptoChannel] = []
    for c in raw or ():
        cert = c.get("certificate") or {}
        channels.append(m.CryptoChannel(c["name"], c["protocol"], tuple(c["cipher_suites"]), cert.get("algorithm"),
                                        cert.get("key_bits"), _date(cert.get("not_after"))))
    return tuple(channels)


def check_boundary_devices(doc: LocatedDocument, sink: list[Diagnostic]) -> None:
    """region.yaml: boundary device ids are unique across zones and ``logs_to`` names a log server."""
    spec = doc.data["spec"]
    servers = {server["id"] for server in spec.get("log_servers", [])}
    seen: dict[str, str] = {}
    for z, zone in enumerate(spec.get("zones", [])):
        for d, device in enumerate(zone.get("boundary_devices", [])):
            where = ("spec", "zones", z, "boundary_devices", d)
            if device["id"] in seen:
                sink.append(doc.diagnostic((*where, "id"), f"boundary device id '{device['id']}' is already used in "
                                           f"zone '{seen[device['id']]}'", "give every device its own id",
                                           code="duplicate"))
            seen.setdefault(device["id"], zone["id"])
            target = device.get("logs_to")
            if target is not None and target not in servers:
                sink.append(doc.diagnostic((*where, "logs_to"), f"unknown log server '{target}'",
                                           suggest(target, servers) or f"log servers: {', '.join(sorted(servers))}",
                                           code="reference"))


def security_posture(section: Mapping[str, Any] | None) -> m.SecurityPosture:
    """``spec.security`` of a manifest (every part optional)."""
    section = section or {}
    admin = section.get("administration") or {}
    access = admin.get("access") or {}
    administration = m.Administration(
        accounts=tuple(
            m.AdminAccount(account=a["account"], role=a["role"], holder=a["holder"], status=a.get("status", "active"),
                           shared=bool(a.get("shared", False)), external=bool(a.get("external", False)),
                           valid_until=_date(a.get("valid_until")))
            for a in admin.get("accounts", [])
        ),
        account_manager=admin.get("account_manager", ""),
        access_via=access.get("via", ""),
        mutual_authentication=bool(access.get("mutual_authentication", False)),
        review_cadence_days=admin.get("review_cadence_days"),
        last_review=_date(admin.get("last_review")),
    )
    ops = section.get("operations") or {}
    patching = ops.get("patching") or {}
    malware = ops.get("anti_malware") or {}
    intrusion = ops.get("intrusion_detection") or {}
    monitoring = ops.get("monitoring") or {}
    operations = m.Operations(
        patch_cadence_days=patching.get("cadence_days"),
        last_patched=_date(patching.get("last_applied")),
        scan_cadence_days=patching.get("scan_cadence_days"),
        last_vulnerability_scan=_date(patching.get("last_vulnerability_scan")),
        open_high_vulnerabilities=patching.get("open_high_vulnerabilities"),
        anti_malware=malware.get("mechanism", ""),
        anti_malware_central=bool(malware.get("centrally_managed", False)),
        signature_update_hours=malware.get("signature_update_hours"),
        signatures_updated=_date(malware.get("signatures_updated")),
        hids=bool(intrusion.get("hids", False)),
        hids_alerting=bool(intrusion.get("alerting", False)),
        monitoring_platform=monitoring.get("platform", ""),
        monitors_resources=bool(monitoring.get("resources", False)),
        monitors_security_events=bool(monitoring.get("security_events", False)),
        detects_unregistered_assets=bool(monitoring.get("unregistered_assets", False)),
        log_analyst=monitoring.get("log_analyst", ""),
    )
    data = section.get("data") or {}
    keys = data.get("keys") or {}
    backup = data.get("backup") or {}
    protection = m.DataProtection(
        residency=data.get("residency", ""),
        third_parties=tuple(
            m.ThirdPartyService(t["name"], t["location"], t["purpose"], t.get("export_assessment", ""))
            for t in data.get("third_party_services", [])
        ),
        key_storage=keys.get("storage", ""),
        customer_managed_keys=bool(keys.get("customer_managed", False)),
        key_rotation_days=keys.get("rotation_days"),
        backups_encrypted=bool(backup.get("encrypted", False)),
        snapshots_encrypted=bool(backup.get("snapshots_encrypted", False)),
        local_backup=bool(backup.get("local_copy", False)),
        restore_drill_cadence_days=backup.get("drill_cadence_days"),
        last_restore_drill=_date(backup.get("last_restore_drill")),
    )
    dev = section.get("development") or {}
    testing = dev.get("security_testing") or {}
    repository = dev.get("repository") or {}
    development = m.Development(
        self_developed=bool(dev.get("self_developed", False)), environment=dev.get("environment", ""),
        production_data_in_test=bool(dev.get("production_data_in_test", False)),
        security_testing_before_release=bool(testing.get("before_release", False)),
        security_testing_includes_crypto=bool(testing.get("includes_crypto", False)),
        malware_scan_before_install=bool(dev.get("malware_scan_before_install", False)),
        repository_approval=bool(repository.get("approval_required", False)),
        repository_version_control=bool(repository.get("version_control", False)),
    )
    maint = section.get("maintenance") or {}
    remote = maint.get("remote") or {}
    maintenance = m.Maintenance(
        outsourced=bool(maint.get("outsourced", False)), provider=maint.get("provider", ""),
        security_agreement=bool(maint.get("security_agreement", False)),
        remote_allowed=bool(remote.get("allowed", False)), remote_approval=bool(remote.get("approval_required", False)),
        remote_audited=bool(remote.get("audited", False)), remote_closed_after=bool(remote.get("closed_after", False)),
    )
    return m.SecurityPosture(administration, operations, protection, development, maintenance)
