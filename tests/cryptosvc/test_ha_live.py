"""High availability of the crypto service on booted Debian 12 hosts: the primary is powered off under load.

Two fresh level-4 hosts, `kms1` (PostgreSQL primary) and `kms2` (synchronous streaming replica with the
promotion watchdog), joined by a direct veth segment for replication (tests/hosts/netns.py
`create_peer_link`), converged by playbooks/crypto_service.yml with `crypto_service_backend: postgresql`.
The service runs on both. Eight asyncio clients (xzgov.cryptosvc.client.FailoverClient, both endpoints)
sign and verify, SM4-seal 4 KiB and create keys; `kms1` is powered off (tests/hosts/nspawn.shutdown) in
the middle. Judged afterwards on the survivor: every request was answered correctly (none wrong, none
given up), every key whose creation was acknowledged exists, every acknowledged operation has its audit
record, the audit chain (both hosts' segments, both signing keys) verifies, and the standby served within
the system's declared RTO (systems/dsjj/crypto-service.yaml: 30 min) — the measured seconds are printed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.hosts import netns, nspawn
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
from xzgov.cryptosvc import audit
from xzgov.cryptosvc.auth import sign_request
from xzgov.cryptosvc.client import ClientError, FailoverClient
from xzgov.cryptosvc.wheelhouse import build_wheelhouse

pytestmark = pytest.mark.hosts

PLAYBOOK = repo_root() / "playbooks" / "crypto_service.yml"
SYSTEMS = ("dept-a", "kms-admin")
WORKERS = 8
WARM_UP_SECONDS = 12
AFTER_FAILOVER_SECONDS = 10
DECLARED_RTO_SECONDS = 30 * 60


def _declared_rto() -> int:
    document = yaml.safe_load((repo_root() / "systems" / "dsjj" / "crypto-service.yaml").read_text(encoding="utf-8"))
    return int(document["spec"]["continuity"]["rto_minutes"]) * 60


@dataclass
class Pair:
    pool: HostPool
    peer: netns.PeerLink
    ca_file: Path
    hmac_keys: dict[str, str]
    runs: list[subprocess.CompletedProcess[str]]
    workdir: Path

    def host(self, name: str) -> TestHost:
        return self.pool.host(name)

    @property
    def endpoints(self) -> list[str]:
        return [f"https://{self.host(name).address}:8443" for name in ("kms1", "kms2")]


def _playbook(inventory: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(inventory, playbook=PLAYBOOK)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("cryptosvc-ha")
    wheelhouse = work / "wheelhouse"
    build_wheelhouse(wheelhouse, repo_root())
    pool = HostPool([HostSpec("kms1", 4), HostSpec("kms2", 4)])
    peer: netns.PeerLink | None = None
    try:
        pool.start()
        kms1, kms2 = pool.host("kms1"), pool.host("kms2")
        peer = netns.create_peer_link(kms1.link, kms2.link)
        # one certificate for both hosts' service and replication addresses (the region PKI in production
        # issues one per host); the standby checks the primary's against the CA (verify-full)
        ca, cert, key = make_test_pki(work / "pki", [kms1.address, kms2.address, "127.0.0.1",
                                                     peer.a_address, peer.b_address])
        hmac_keys = {name: secrets.token_hex(32) for name in SYSTEMS}
        systems = [{"name": name, "role": "admin" if name == "kms-admin" else "tenant", "hmac_key": value}
                   for name, value in hmac_keys.items()]
        common = {"xzgov_system": "crypto-service", "crypto_service_wheelhouse": str(wheelhouse),
                  "crypto_service_tls_cert_src": str(cert), "crypto_service_tls_key_src": str(key),
                  "crypto_service_systems": systems, "crypto_service_backend": "postgresql",
                  "crypto_service_checkpoint_every": 50, "crypto_service_db_tls_ca_src": str(ca)}
        inventory = pool.write_inventory(work / "hosts.yml", [kms1, kms2], {
            "kms1": {**common, "crypto_service_db_role": "primary", "crypto_service_db_listen_address": peer.a_address,
                     "crypto_service_db_peer_address": peer.b_address},
            "kms2": {**common, "crypto_service_db_role": "standby", "crypto_service_db_primary_host": "kms1",
                     "crypto_service_db_listen_address": peer.b_address,
                     "crypto_service_db_peer_address": peer.a_address},
        })
        inventory.chmod(0o600)  # holds the test HMAC keys
        runs = [_playbook(inventory)]
        if runs[0].returncode == 0:
            runs.append(_playbook(inventory))
        else:  # what the hosts say, for the assertion message (the hosts are gone afterwards)
            runs[0] = subprocess.CompletedProcess(runs[0].args, runs[0].returncode,
                                                  runs[0].stdout + _diagnostics(kms1, kms2), runs[0].stderr)
        yield Pair(pool, peer, ca, hmac_keys, runs, work)
    finally:
        if peer is not None:
            netns.destroy_peer_link(peer)
        pool.close()


def _failures(output: str) -> str:
    """The failed tasks of a run (their names and messages), ahead of the tail."""
    lines = output.splitlines()
    picked = [line for i, line in enumerate(lines) if "fatal:" in line or "FAILED!" in line
              or ("TASK [" in line and any("fatal:" in later for later in lines[i + 1:i + 4]))]
    return "\n".join(picked[:20]) + "\n....\n"


def _diagnostics(*hosts: TestHost) -> str:
    command = ("journalctl -u xzgov-cryptosvc -u xzgov-cryptosvc-db-watchdog -u postgresql@15-main --no-pager "
               "-n 60 -o cat; tail -n 30 /var/log/postgresql/postgresql-15-main.log")
    return "".join(f"\n==== {h.name}\n{h.sudo(command).stdout[-6000:]}" for h in hosts)


def _psql(host: TestHost, sql: str, database: str = "postgres") -> str:
    result = host.sudo(f"runuser -u postgres -- psql -XAtq -d {database} -c {sql!r}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_both_hosts_converge_then_change_nothing(pair: Pair) -> None:
    first = pair.runs[0]
    assert first.returncode == 0, _failures(first.stdout) + first.stdout[-12000:] + first.stderr[-2000:]
    second = pair.runs[1]
    assert second.returncode == 0, second.stdout[-5000:]
    recap = parse_recap(second.stdout)
    assert recap["kms1"]["changed"] == 0 and recap["kms2"]["changed"] == 0, second.stdout[-5000:]


def test_the_standby_replicates_synchronously_and_waits(pair: Pair) -> None:
    kms1, kms2 = pair.host("kms1"), pair.host("kms2")
    assert _psql(kms1, "SELECT application_name, sync_state FROM pg_stat_replication") == "xzgov_standby|sync"
    assert _psql(kms1, "SHOW synchronous_commit") == "remote_apply"
    assert _psql(kms2, "SELECT pg_is_in_recovery()") == "t"
    # replication over TLS, the primary's certificate verified (region CA, its address), no plain lines
    assert _psql(kms1, "SELECT r.sync_state, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)") \
        == "sync|t"
    conninfo = _psql(kms2, "SELECT conninfo FROM pg_stat_wal_receiver")
    assert "sslmode=verify-full" in conninfo and "sslrootcert=/etc/postgresql/15/main/xzgov-region-ca.crt" in conninfo
    hba = kms1.sudo("grep -E '^[^#]*replication' /etc/postgresql/15/main/pg_hba.conf").stdout.split("\n")
    assert [line.split()[0] for line in hba if line.strip()] == ["local", "hostssl"], hba
    peer_a = pair.peer.a_address
    plain = kms2.sudo(f"runuser -u postgres -- psql -XAtq 'host={peer_a} user=xzgov_replicator sslmode=disable "
                      f"replication=true connect_timeout=5' -c IDENTIFY_SYSTEM")
    assert plain.returncode != 0 and "no pg_hba.conf entry" in plain.stderr, plain.stderr
    wrong_name = kms2.sudo(f"runuser -u postgres -- psql -XAtq 'host=kms-impostor hostaddr={peer_a} "
                           f"user=xzgov_replicator sslmode=verify-full replication=true connect_timeout=5 "
                           f"sslrootcert=/etc/postgresql/15/main/xzgov-region-ca.crt' -c IDENTIFY_SYSTEM")
    assert wrong_name.returncode != 0 and "does not match host name" in wrong_name.stderr, wrong_name.stderr
    assert kms2.testinfra_host().service("xzgov-cryptosvc-db-watchdog").is_running
    # the same master key on both (keys are wrapped under it in the replicated database), 0600, service user
    digests = {h.name: h.sudo("sha256sum < /etc/xzgov-cryptosvc/master.key").stdout for h in (kms1, kms2)}
    assert digests["kms1"] == digests["kms2"]
    health = httpx.get(f"{pair.endpoints[1]}/health", verify=str(pair.ca_file), timeout=10)
    assert health.json() == {"status": "standby", "engine": sm2.ENGINE, "database": "standby",
                             "commits": "read-only: standby"}
    primary = httpx.get(f"{pair.endpoints[0]}/health", verify=str(pair.ca_file), timeout=10).json()
    assert (primary["status"], primary["commits"]) == ("ok", "synchronous")


def _health(pair: Pair, index: int = 0) -> dict[str, str]:
    return dict(httpx.get(f"{pair.endpoints[index]}/health", verify=str(pair.ca_file), timeout=10).json())


def _until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.5)


def test_loss_of_the_standby_is_reported_refused_fast_and_degraded_by_the_operator(pair: Pair) -> None:
    """The standby's database stops: the primary says so and refuses at once; the operator degrades, then
    restores when the standby is back (docs/crypto-service.md "Loss of the standby")."""
    kms1, kms2 = pair.host("kms1"), pair.host("kms2")
    command = "/usr/local/sbin/xzgov-cryptosvc-db-degrade"
    key = bytes.fromhex(pair.hmac_keys["dept-a"])

    def digest() -> httpx.Response:
        body = json.dumps({"data": base64.b64encode(b"x").decode()}).encode()
        headers = {"content-type": "application/json", **sign_request("dept-a", key, "POST", "/v1/sm3/digest", body)}
        return httpx.post(f"{pair.endpoints[0]}/v1/sm3/digest", content=body, headers=headers,
                          verify=str(pair.ca_file), timeout=10)

    assert kms1.sudo(f"{command} status").returncode == 0
    refused = kms1.sudo(f"{command} degrade --standby-is-down")
    assert refused.returncode == 2 and "connected" in refused.stderr, refused.stderr  # nothing to degrade
    stopped = kms2.sudo("systemctl stop xzgov-cryptosvc-db-watchdog postgresql@15-main")  # the fencing
    assert stopped.returncode == 0, stopped.stderr
    try:
        _until(lambda: _health(pair)["status"] == "blocked", 30, "the primary reports commits blocked")
        assert _health(pair)["commits"] == "blocked: synchronous standby missing"
        started = time.monotonic()
        answer = digest()
        assert (answer.status_code, answer.json()["error"]["code"]) == (503, "commits_blocked"), answer.text
        assert time.monotonic() - started < 5
        status = kms1.sudo(f"{command} status")
        assert status.returncode == 3 and "BLOCKED" in status.stdout, status.stdout
        unconfirmed = kms1.sudo(f"{command} degrade")
        assert unconfirmed.returncode == 2 and "--standby-is-down" in unconfirmed.stderr, unconfirmed.stderr
        degraded = kms1.sudo(f"{command} degrade --standby-is-down")
        assert degraded.returncode == 0, degraded.stdout + degraded.stderr
        _until(lambda: _health(pair)["status"] == "ok", 15, "the degraded primary serves")
        assert _health(pair)["commits"] == "local only: no synchronous standby configured"
        assert digest().status_code == 200
        assert kms1.sudo(f"{command} restore").returncode == 2  # no standby yet: would block again
    finally:
        started_again = kms2.sudo("systemctl start postgresql@15-main && systemctl start xzgov-cryptosvc-db-watchdog")
        assert started_again.returncode == 0, started_again.stderr
    _until(lambda: _psql(kms1, "SELECT count(*) FROM pg_stat_replication") == "1", 60, "the standby reconnects")
    restored = kms1.sudo(f"{command} restore")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    _until(lambda: _psql(kms1, "SELECT sync_state FROM pg_stat_replication") == "sync", 60, "sync again")
    _until(lambda: _health(pair)["commits"] == "synchronous", 15, "the health endpoint says synchronous")
    assert _psql(kms2, "SELECT pg_is_in_recovery()") == "t"  # fenced: the standby never promoted
    assert digest().status_code == 200


@dataclass
class Observed:
    """What the clients saw, judged after the run."""

    ok: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    acked_keys: list[str] = field(default_factory=list)
    signs_by_key: Counter[str] = field(default_factory=Counter)
    seals_by_key: Counter[str] = field(default_factory=Counter)
    successes: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, endpoint index)
    retries: int = 0
    replay: tuple[int, str] = (0, "")  # the survivor's answer to a request the primary answered


async def _load(pair: Pair, observed: Observed) -> dict[str, float]:
    keys_ = {name: bytes.fromhex(value) for name, value in pair.hmac_keys.items()}

    def client(system: str) -> FailoverClient:
        return FailoverClient(pair.endpoints, system, keys_[system], verify=str(pair.ca_file), timeout=5,
                              failover_seconds=240)

    async with client("kms-admin") as admin:
        sign_keys, seal_keys = [], []
        for _ in range(WORKERS):
            created = await admin.post("/v1/admin/tenants/dept-a/keys", {"type": "sm2"})
            sign_keys.append((created["key_id"], keys.public_key_from_pem(created["public_key"])))
            seal_keys.append((await admin.post("/v1/admin/tenants/dept-a/keys", {"type": "sm4"}))["key_id"])
            observed.acked_keys += [created["key_id"], seal_keys[-1]]
    stop = asyncio.Event()
    payload = secrets.token_bytes(4096)

    async def worker(index: int) -> None:
        kid, public = sign_keys[index]
        async with client("dept-a") as tenant, client("kms-admin") as manager:
            number = 0
            while not stop.is_set():
                number += 1
                kind = ("sign", "sign", "seal", "create")[number % 4]
                message = f"worker {index} message {number}".encode()
                try:
                    if kind == "sign":
                        answer = await tenant.post("/v1/sm2/sign", {"key_id": kid, "data": base64.b64encode(
                            message).decode()})
                        if not sm2.verify(public, message, base64.b64decode(answer["signature"])):
                            observed.wrong.append(f"worker {index}: signature does not verify")
                            continue
                        observed.signs_by_key[kid] += 1
                        current = tenant.current
                    elif kind == "seal":
                        sealed = await tenant.post("/v1/sm4/encrypt", {"key_id": seal_keys[index],
                                                                       "plaintext": base64.b64encode(payload).decode()})
                        observed.seals_by_key[seal_keys[index]] += 1
                        opened = await tenant.post("/v1/sm4/decrypt", {"envelope": sealed["envelope"]})
                        if base64.b64decode(opened["plaintext"]) != payload:
                            observed.wrong.append(f"worker {index}: SM4 round trip differs")
                            continue
                        current = tenant.current
                    else:
                        created = await manager.post("/v1/admin/tenants/dept-a/keys", {"type": "hmac-sm3"})
                        observed.acked_keys.append(created["key_id"])
                        current = manager.current
                except ClientError as error:
                    observed.given_up.append(f"worker {index} {kind}: {error}")
                    continue
                observed.ok[kind] += 1
                observed.successes.append((time.monotonic(), current))
            observed.retries += tenant.retries + manager.retries

    tasks = [asyncio.create_task(worker(i)) for i in range(WORKERS)]
    await asyncio.sleep(WARM_UP_SECONDS)
    # a request answered by the primary, captured to be replayed to the survivor after the failover
    captured_body = json.dumps({"data": base64.b64encode(b"captured").decode()}).encode()
    captured = {"content-type": "application/json",
                **sign_request("dept-a", keys_["dept-a"], "POST", "/v1/sm3/digest", captured_body)}
    async with httpx.AsyncClient(verify=str(pair.ca_file), timeout=10) as plain:
        first = await plain.post(f"{pair.endpoints[0]}/v1/sm3/digest", content=captured_body, headers=captured)
    assert first.status_code == 200, first.text
    before = sum(observed.ok.values())
    killed = time.monotonic()
    await asyncio.to_thread(nspawn.shutdown, pair.host("kms1"))
    powered_off = time.monotonic()
    deadline = killed + 300
    while time.monotonic() < deadline and not any(t > powered_off and e == 1 for t, e in observed.successes):
        await asyncio.sleep(0.2)
    async with httpx.AsyncClient(verify=str(pair.ca_file), timeout=10) as plain:
        replayed = await plain.post(f"{pair.endpoints[1]}/v1/sm3/digest", content=captured_body, headers=captured)
    observed.replay = (replayed.status_code, replayed.json().get("error", {}).get("code", ""))
    await asyncio.sleep(AFTER_FAILOVER_SECONDS)
    stop.set()
    await asyncio.gather(*tasks)
    served = min((t for t, e in observed.successes if t > killed and e == 1), default=float("nan"))
    return {"ok_before_kill": before, "shutdown_seconds": powered_off - killed, "rto_seconds": served - killed}


def test_the_standby_serves_after_the_primary_is_powered_off_under_load(pair: Pair) -> None:
    kms1, kms2 = pair.host("kms1"), pair.host("kms2")
    trusted = [keys.public_key_from_pem(h.sudo("cat /etc/xzgov-cryptosvc/audit-signing.pub.pem").stdout)
               for h in (kms1, kms2)]
    observed = Observed()
    figures = asyncio.run(_load(pair, observed))
    print(f"\nHA failover: {json.dumps(figures)} ok={dict(observed.ok)} retries={observed.retries}")
    assert observed.wrong == [] and observed.given_up == []
    assert observed.replay == (401, "replayed_request"), observed.replay  # one nonce cache for both hosts
    assert figures["ok_before_kill"] > 0 and observed.ok["sign"] > figures["ok_before_kill"] / 2
    assert figures["rto_seconds"] <= _declared_rto() == DECLARED_RTO_SECONDS, figures
    # the survivor is now the primary, alone
    assert _psql(kms2, "SELECT pg_is_in_recovery()") == "f"
    # every acknowledged key exists on the survivor (wrapped under the shared master key)
    stored = set(_psql(kms2, "SELECT id FROM cryptosvc_keys", "xzgov_cryptosvc").split())
    assert set(observed.acked_keys) <= stored, set(observed.acked_keys) - stored
    # every acknowledged operation has its audit record (a retried one may have two: never fewer)
    lines = [line.encode() for line in
             _psql(kms2, "SELECT line FROM cryptosvc_audit ORDER BY seq", "xzgov_cryptosvc").splitlines()]
    records = [json.loads(line) for line in lines]
    done = Counter((r.get("op"), r.get("key_id")) for r in records if r.get("outcome") == "ok")
    for kid, count in observed.signs_by_key.items():
        assert done[("sm2.sign", kid)] >= count, (kid, count, done[("sm2.sign", kid)])
    for kid, count in observed.seals_by_key.items():
        assert done[("sm4.encrypt", kid)] >= count, (kid, count, done[("sm4.encrypt", kid)])
    for kid in observed.acked_keys:
        assert done[("admin.create", kid)] >= 1, kid
    # one chain across the failover: kms1's segment, then kms2's (its own start record and signing key)
    report = audit.verify_lines(lines, {keys.fingerprint(k): k for k in trusted})
    assert report.ok, report.to_json()
    signers = {r.get("signer") for r in records if r.get("type") == "start"}
    assert signers == {keys.fingerprint(k) for k in trusted}
    assert report.checkpoints >= 2
