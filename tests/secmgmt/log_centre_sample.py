"""Sample output of the gather script's ``log_centre`` section (xzgov.facts.host_script) for rule tests: a
log centre whose newest seal is signed with a fresh SM2 key through xzgov.crypto, in the bytes the sealer
(roles/log_centre/files/xzgov-log-seal) signs. tests/secmgmt/test_log_centre_scan.py checks the same rule on
the output of the real sealer and the real section script."""

from __future__ import annotations

import base64
import json

from xzgov.crypto import keys, sm2
from xzgov.logchain.chain import FORMAT, ZERO, chain_head, seal_message

TODAY = "2026-01-01"
SEALED = "2025-12-31"


def seal_of(key: sm2.SM2PrivateKey, source: str, date: str, lines: list[bytes]) -> tuple[dict[str, object], str]:
    """A seal JSON for ``lines`` of ``source`` on ``date`` (first day: prev = zero) and the chain's last value."""
    head = chain_head(source, date, ZERO, lines)
    size = sum(len(line) + 1 for line in lines)
    message = seal_message(source, date, len(lines), size, ZERO, head)
    seal = {"format": FORMAT, "source": source, "date": date, "lines": len(lines), "bytes": size, "prev": ZERO.hex(),
            "head": head.hex(), "signer": keys.fingerprint(key.public_key),
            "signature": base64.b64encode(sm2.sign(key, message)).decode(), "sealed_at": f"{TODAY}T00:10:03+00:00"}
    return seal, head.hex()


def centre_section(*, retention: int = 180, timer: str = "enabled active", result: str = "success",
                   status: int = 0, key: sm2.SM2PrivateKey | None = None, signer: sm2.SM2PrivateKey | None = None,
                   tamper: bool = False, sealed: str = SEALED) -> str:
    """The section of a log centre with one source ``web-01`` sealed on ``sealed``. ``signer``: a different
    key signs (untrusted); ``tamper``: the seal's line count is changed after signing (invalid)."""
    key = key or sm2.SM2PrivateKey.generate()
    seal, head = seal_of(signer or key, "web-01", sealed, [b"<14>1 line one", b"<14>1 line two"])
    if tamper:
        seal["lines"] = 1
    public = base64.b64encode(keys.public_key_to_der(key.public_key)).decode()
    return "\n".join([
        "receiver yes", "sealer yes", f"today {TODAY}", "arg --root /var/log/xzgov-centre",
        f"arg --retention-days {retention}", f"timer {timer}", f"run Result={result}", f"run ExecMainStatus={status}",
        "run ExecMainExitTimestamp=Thu 2026-01-01 00:10:03 UTC", f"pubkey {public}",
        "source web-01 logs=3 oldest=2025-12-30", f"seal web-01 {json.dumps(seal)}", f"chainhead web-01 {head}",
    ]) + "\n"


# ------------------------------------------------------------------ rsyslog's client certificate (XZ-HOST-LOG-MTLS)
CA_PATH = "/etc/ssl/xzgov/log-ca.pem"
CERT_PATH = "/etc/ssl/xzgov/log-client.pem"
KEY_PATH = "/etc/ssl/xzgov/private/log-client.key"


def client_certificate(*, days: int = 365, other_ca: bool = False) -> tuple[bytes, bytes]:
    """(CA PEM, client certificate PEM valid for ``days`` more days); ``other_ca``: issued by a different CA."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca = authority("xzgov region CA")
    signer_key, signer = authority("rogue CA") if other_ca else (ca_key, ca)
    now = dt.datetime.now(dt.UTC)
    client = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web-01.xzgov.test")]))
              .issuer_name(signer.subject).public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=400))
              .not_valid_after(now + dt.timedelta(days=days)).sign(signer_key, hashes.SHA256()))
    return ca.public_bytes(serialization.Encoding.PEM), client.public_bytes(serialization.Encoding.PEM)


def client_tls_section(*, days: int = 365, other_ca: bool = False, key_mode: str = "600",
                       with_cert: bool = True) -> str:
    """The ``log_tls`` section of a host forwarding with a client certificate (or, ``with_cert=False``, without)."""
    ca, cert = client_certificate(days=days, other_ca=other_ca)
    lines = [f"file CAFile 644 root root {CA_PATH}", f"pem CAFile {CA_PATH} {base64.b64encode(ca).decode()}"]
    if with_cert:
        lines += [f"file CertFile 644 root root {CERT_PATH}",
                  f"pem CertFile {CERT_PATH} {base64.b64encode(cert).decode()}",
                  f"file KeyFile {key_mode} root root {KEY_PATH}"]
    return "\n".join(lines) + "\n"
