"""roles/crypto_service on booted Debian 12 hosts: converge, idempotence, the unit as it runs, and the service
used by a calling system from another host over a direct link; a tampered audit line is located.

Two fresh hosts (no hardening: roles/* hardening has its own tests): `kms` runs the service (playbook
playbooks/crypto_service.yml, group system_crypto_service), `app` is the calling system's host, joined to
`kms` by a veth pair (tests/hosts/netns.py `create_peer_link`). The client runs in `app`'s network namespace.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.hosts import netns
from tests.hosts.nspawn import TestHost
from tests.hosts.pool import (
    HostPool,
    HostSpec,
    ansible_playbook,
    parse_recap,
    repo_root,
    unavailable_reason,
)
from tests.hosts.services import make_test_pki
from xzgov.crypto import keys, sm2
from xzgov.cryptosvc.wheelhouse import build_wheelhouse

pytestmark = pytest.mark.hosts

PLAYBOOK = repo_root() / "playbooks" / "crypto_service.yml"
SYSTEMS = ("dept-a", "dept-b", "kms-admin")


@dataclass
class Deployment:
    pool: HostPool
    peer: netns.PeerLink
    ca_file: Path
    hmac_keys: dict[str, str]
    runs: list[subprocess.CompletedProcess[str]]
    workdir: Path

    @property
    def kms(self) -> TestHost:
        return self.pool.host("kms")

    @property
    def app(self) -> TestHost:
        return self.pool.host("app")


def _playbook(inventory: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(inventory, playbook=PLAYBOOK)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("cryptosvc-live")
    wheelhouse = work / "wheelhouse"
    build_wheelhouse(wheelhouse, repo_root())
    pool = HostPool([HostSpec("kms", 4), HostSpec("app", 3)])
    peer: netns.PeerLink | None = None
    try:
        pool.start()
        peer = netns.create_peer_link(pool.host("kms").link, pool.host("app").link)
        ca, cert, key = make_test_pki(work / "pki", [peer.a_address, "127.0.0.1"])
        hmac_keys = {name: secrets.token_hex(32) for name in SYSTEMS}
        systems = [{"name": name, "role": "admin" if name == "kms-admin" else "tenant", "hmac_key": value}
                   for name, value in hmac_keys.items()]
        inventory = pool.write_inventory(work / "hosts.yml", [pool.host("kms")], {"kms": {
            "xzgov_system": "crypto-service",
            "crypto_service_wheelhouse": str(wheelhouse),
            "crypto_service_tls_cert_src": str(cert),
            "crypto_service_tls_key_src": str(key),
            "crypto_service_systems": systems,
        }})
        inventory.chmod(0o600)  # holds the test HMAC keys
        runs = [_playbook(inventory)]
        if runs[0].returncode == 0:
            runs.append(_playbook(inventory))
        yield Deployment(pool, peer, ca, hmac_keys, runs, work)
    finally:
        if peer is not None:
            netns.destroy_peer_link(peer)
        pool.close()


def _recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    return parse_recap(run.stdout).get("kms", {})


def test_converges_then_changes_nothing(deployment: Deployment) -> None:
    first = deployment.runs[0]
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert _recap(first)["failed"] == 0 and _recap(first)["changed"] > 0
    second = deployment.runs[1]
    assert second.returncode == 0, second.stdout[-4000:]
    assert _recap(second)["changed"] == 0, second.stdout[-4000:]


def test_service_runs_sandboxed_as_its_own_user(deployment: Deployment) -> None:
    kms = deployment.kms
    host = kms.testinfra_host()
    service = host.service("xzgov-cryptosvc")
    assert service.is_running and service.is_enabled
    assert host.user("xzgov-cryptosvc").shell == "/usr/sbin/nologin"
    for name in ("master.key", "audit-signing.pem", "systems.yml", "tls.key"):
        secret = host.file(f"/etc/xzgov-cryptosvc/{name}")
        assert (secret.user, secret.mode) == ("xzgov-cryptosvc", 0o600), name
    assert host.socket("tcp://0.0.0.0:8443").is_listening
    show = host.check_output("systemctl show xzgov-cryptosvc -p User -p NoNewPrivileges -p ProtectSystem "
                             "-p PrivateTmp -p CapabilityBoundingSet")
    assert "User=xzgov-cryptosvc" in show and "NoNewPrivileges=yes" in show
    assert "ProtectSystem=strict" in show and "PrivateTmp=yes" in show
    assert "CapabilityBoundingSet=\n" in show + "\n"
    owner = host.check_output("ps -o user= -C python3 -C python | sort -u")
    assert owner.split() == ["xzgov-cryptosvc"]
    # no key material in the journal
    journal = host.check_output("journalctl -u xzgov-cryptosvc --no-pager -o cat")
    assert "BEGIN" not in journal and all(value not in journal for value in deployment.hmac_keys.values())


def _run_client(deployment: Deployment) -> dict[str, Any]:
    """Run tests/cryptosvc/live_client.py in the calling host's network namespace."""
    job = {"base_url": f"https://{deployment.peer.a_address}:8443", "ca_file": str(deployment.ca_file),
           "keys": deployment.hmac_keys}
    result = subprocess.run(["ip", "netns", "exec", deployment.app.link.netns, sys.executable, "-m",
                             "tests.cryptosvc.live_client"], input=json.dumps(job), cwd=repo_root(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout))


def test_a_calling_system_uses_its_own_keys_from_another_host(deployment: Deployment) -> None:
    seen = _run_client(deployment)
    assert seen["health"] == 200 and seen["verified"] is True and seen["sm4_roundtrip"] is True
    # the signature made on the host verifies independently of the service
    public = keys.public_key_from_pem(seen["public_key"])
    assert sm2.verify(public, b"doc", base64.b64decode(seen["signature"]), uid=b"ALICE123")
    assert seen["cross_tenant"] == [404, "key_not_found"]  # dept-b cannot use dept-a's key
    assert seen["tenant_admin"] == [403, "forbidden"]


def test_a_tampered_audit_line_is_located(deployment: Deployment) -> None:
    _run_client(deployment)  # the chain has records of this client's calls and a signed checkpoint
    kms = deployment.kms
    log = deployment.workdir / "audit.jsonl"
    log.write_bytes(kms.sudo("cat /var/lib/xzgov-cryptosvc/audit.jsonl").stdout.encode())
    public = deployment.workdir / "audit-signing.pub.pem"
    public.write_text(kms.sudo("cat /etc/xzgov-cryptosvc/audit-signing.pub.pem").stdout)
    xzgov = [str(Path(sys.executable).with_name("xzgov")), "cryptosvc", "audit-verify", str(log),
             "--trusted-key", str(public)]
    intact = subprocess.run(xzgov, capture_output=True, text=True, check=False)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    lines = log.read_bytes().splitlines()
    assert len(lines) >= 8
    record = json.loads(lines[4])
    record["system"] = "someone-else"
    lines[4] = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    log.write_bytes(b"\n".join(lines) + b"\n")
    broken = subprocess.run(xzgov, capture_output=True, text=True, check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "line 5" in broken.stdout
