"""The test region's log server (tests/hosts/services.py) with mutual TLS: every booted test host gets a client
certificate from the test CA (tests/hosts/pool.py), the receiver checks it against that CA and records who
presented one; a certificate of another CA is refused at the handshake."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from tests.hosts import services


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _send(port: int, ca: Path, cert: tuple[Path, Path] | None, message: str) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    body = message.encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(str(len(body)).encode() + b" " + body)
            tls.settimeout(1)
            try:
                return tls.recv(1) != b""
            except TimeoutError:
                return True
    except (ssl.SSLError, OSError):
        return False


def test_client_certificates_of_the_test_ca_are_checked_and_recorded(tmp_path: Path) -> None:
    ca, cert, key = services.make_test_pki(tmp_path / "pki", ["127.0.0.1"])
    host_cert = services.issue_client_certificate(tmp_path / "pki", "h-l3")
    assert oct(host_cert[1].stat().st_mode & 0o777) == "0o600"
    _rogue_ca, _c, _k = services.make_test_pki(tmp_path / "rogue", ["127.0.0.1"])
    rogue_cert = services.issue_client_certificate(tmp_path / "rogue", "intruder")
    port = _free_port()
    receiver = services.TlsSyslogReceiver(["127.0.0.1"], cert, key, port=port, ca_file=ca)
    try:
        assert _send(port, ca, host_cert, "from-h-l3")
        assert receiver.wait_for("from-h-l3", timeout=10) is not None
        assert receiver.client_names == {"h-l3"}
        _send(port, ca, rogue_cert, "from-intruder")  # refused at the handshake
        assert _send(port, ca, None, "no-certificate")  # optional: hosts without one keep logging
        assert receiver.wait_for("no-certificate", timeout=10) is not None
        time.sleep(0.5)
        assert not any("from-intruder" in m for m in receiver.messages)
        assert receiver.client_names == {"h-l3"}
    finally:
        receiver.stop()
