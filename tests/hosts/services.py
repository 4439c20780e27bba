"""Runner-side services for the test hosts, bound only to the runner ends of their veth pairs.

- `AptProxy`: an HTTP forward proxy that forwards only to the Debian mirrors and keeps immutable
  files (pool/ and by-hash/) in a cache on the runner, so warm runs download nothing.
- `NtpResponder`: a minimal NTPv4 server (RFC 5905 server mode) answering from the runner's clock,
  the `xzgov_time_sources` of the test hosts.
- `TlsSyslogReceiver`: a TLS syslog collector (RFC 5425 transport, newline or octet-counted
  framing), the `xzgov_log_servers` of the test hosts; tests read what arrived.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

ALLOWED_UPSTREAMS = frozenset({"deb.debian.org", "security.debian.org"})
APT_PROXY_PORT = 3142
NTP_PORT = 123
SYSLOG_TLS_PORT = 6514


# --------------------------------------------------------------------------------------------- apt
def _cacheable(path: str) -> bool:
    """Files whose content never changes under the same URL."""
    return "/pool/" in path or "/by-hash/" in path


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._forward(send_body=True)

    def do_HEAD(self) -> None:
        self._forward(send_body=False)

    def do_CONNECT(self) -> None:
        self._deny(405, "CONNECT is not offered: plain HTTP to the Debian mirrors only")

    def _deny(self, code: int, why: str) -> None:
        body = (why + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, send_body: bool) -> None:
        url = urlsplit(self.path)
        host = (url.hostname or "").lower()
        if url.scheme != "http" or host not in ALLOWED_UPSTREAMS or url.port not in (None, 80):
            self._deny(403, f"only http://{{{','.join(sorted(ALLOWED_UPSTREAMS))}}} is forwarded")
            return
        path = url.path + (f"?{url.query}" if url.query else "")
        cache_file = self.server.cache_path(host, path) if _cacheable(url.path) else None
        if cache_file is not None and cache_file.is_file():
            self.server.hits += 1
            body = cache_file.read_bytes()
            self._reply(200, {"Content-Type": "application/octet-stream"}, body, send_body)
            return
        try:
            conn = http.client.HTTPConnection(host, 80, timeout=120)
            conn.request("GET", path, headers={"User-Agent": "xzgov-test-apt-proxy", "Host": host})
            resp = conn.getresponse()
            body = resp.read()
            headers = {k: v for k, v in resp.getheaders() if k.lower() in ("content-type", "last-modified")}
            status = resp.status
            conn.close()
        except OSError as exc:
            self._deny(502, f"upstream {host} failed: {exc}")
            return
        self.server.misses += 1
        if status == 200 and cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(body)
            os.replace(tmp, cache_file)
        self._reply(status, headers, body, send_body)

    def _reply(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], cache_dir: Path) -> None:
        super().__init__(address, _ProxyHandler)
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0

    def cache_path(self, host: str, path: str) -> Path:
        digest = hashlib.sha256(f"{host}{path}".encode()).hexdigest()
        return self.cache_dir / digest[:2] / digest


class _Servers:
    """Run one server object per bind address on daemon threads; stop them all together."""

    def __init__(self) -> None:
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def _serve(self, server: socketserver.BaseServer) -> None:
        self._servers.append(server)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()


class AptProxy(_Servers):
    def __init__(self, addresses: Iterable[str], cache_dir: Path, port: int = APT_PROXY_PORT) -> None:
        super().__init__()
        self.port = port
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.proxies = [_ProxyServer((addr, port), cache_dir) for addr in addresses]
        for proxy in self.proxies:
            self._serve(proxy)

    @property
    def stats(self) -> tuple[int, int]:
        return sum(p.hits for p in self.proxies), sum(p.misses for p in self.proxies)


# --------------------------------------------------------------------------------------------- ntp
_NTP_EPOCH_OFFSET = 2208988800  # 1900-01-01 → 1970-01-01


def _ntp_ts(t: float) -> bytes:
    seconds = int(t) + _NTP_EPOCH_OFFSET
    fraction = int((t - int(t)) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack("!II", seconds & 0xFFFFFFFF, fraction)


class _NtpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        received = time.time()
        data, sock = self.request
        if len(data) < 48:
            return
        version = (data[0] >> 3) & 0x7
        mode = data[0] & 0x7
        if mode != 3:  # answer client requests only
            return
        reply = bytearray(48)
        reply[0] = (0 << 6) | (version << 3) | 4  # LI 0, client's VN, mode 4 (server)
        reply[1] = 2  # stratum 2
        reply[2] = data[2]  # poll
        reply[3] = 0xEC  # precision 2^-20
        reply[4:8] = struct.pack("!I", 0)  # root delay
        reply[8:12] = struct.pack("!I", 0x00000100)  # root dispersion ~4 ms
        reply[12:16] = socket.inet_aton("127.127.1.1")  # reference id
        reply[16:24] = _ntp_ts(received - 16)  # reference timestamp
        reply[24:32] = data[40:48]  # origin = client's transmit timestamp
        reply[32:40] = _ntp_ts(received)
        reply[40:48] = _ntp_ts(time.time())
        sock.sendto(bytes(reply), self.client_address)


class _NtpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True


class NtpResponder(_Servers):
    def __init__(self, addresses: Iterable[str], port: int = NTP_PORT) -> None:
        super().__init__()
        self.port = port
        for addr in addresses:
            self._serve(_NtpServer((addr, port), _NtpHandler))


# -------------------------------------------------------------------------------------- tls syslog
class _SyslogHandler(socketserver.StreamRequestHandler):
    server: _SyslogServer

    def handle(self) -> None:
        try:
            tls = self.server.context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            self.server.handshake_failures += 1
            return
        subject = (tls.getpeercert() or {}).get("subject", ())
        for rdn in subject if isinstance(subject, tuple) else ():
            for pair in rdn:
                if isinstance(pair, tuple) and len(pair) == 2 and pair[0] == "commonName":
                    with self.server.lock:
                        self.server.client_names.add(str(pair[1]))
        tls.settimeout(600)
        buffer = b""
        try:
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                buffer = self._drain(buffer)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()

    def _drain(self, buffer: bytes) -> bytes:
        while buffer:
            head = buffer.split(b" ", 1)[0]
            if head.isdigit() and b" " in buffer:  # octet-counted framing (RFC 6587 3.4.1)
                length = int(head)
                start = len(head) + 1
                if len(buffer) < start + length:
                    return buffer
                self.server.record(buffer[start : start + length])
                buffer = buffer[start + length :]
            elif b"\n" in buffer:  # non-transparent framing
                line, buffer = buffer.split(b"\n", 1)
                self.server.record(line)
            else:
                return buffer
        return buffer


class _SyslogServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, sink: list[str]) -> None:
        super().__init__(address, _SyslogHandler)
        self.context = context
        self.sink = sink
        self.client_names: set[str] = set()
        self.lock = threading.Lock()
        self.handshake_failures = 0

    def record(self, message: bytes) -> None:
        with self.lock:
            self.sink.append(message.decode("utf-8", "replace"))


class TlsSyslogReceiver(_Servers):
    """The test region's log server. With `ca_file` it asks every sender for a client certificate and refuses
    one that the CA did not issue (a sender without a certificate is still accepted, so hosts converged without
    one keep logging); `client_names` holds the names of the certificates senders presented."""

    def __init__(self, addresses: Sequence[str], cert_file: Path, key_file: Path, port: int = SYSLOG_TLS_PORT,
                 ca_file: Path | None = None) -> None:
        super().__init__()
        self.port = port
        self.messages: list[str] = []
        self.client_names: set[str] = set()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert_file), str(key_file))
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
            context.verify_mode = ssl.CERT_OPTIONAL
        self.servers = [_SyslogServer((addr, port), context, self.messages) for addr in addresses]
        for server in self.servers:
            server.client_names = self.client_names  # one set for every address
        for server in self.servers:
            self._serve(server)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if needle in message:
                    return message
            time.sleep(0.5)
        return None


# ------------------------------------------------------------------------------------- test PKI
_PKI_LOCK = threading.Lock()


def make_test_pki(directory: Path, server_names: Sequence[str]) -> tuple[Path, Path, Path]:
    """A throwaway CA and a log-server certificate for `server_names`; returns (ca, cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    with _PKI_LOCK:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xzgov test log CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            # beyond the client certificates it issues (a year: XZ-HOST-LOG-MTLS wants ≥ 30 days left)
            .not_valid_after(now + datetime.timedelta(days=400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in server_names:
            alt.append(x509.DNSName(name))
            with contextlib.suppress(ValueError):
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
        ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private_key(key_path, key)
        # the CA's key stays beside it (0600, this throwaway directory) for issue_client_certificate
        ca_key_path = directory / "ca.key"
        _write_private_key(ca_key_path, ca_key)
        return ca_path, cert_path, key_path


def _write_private_key(path: Path, key: PrivateKeyTypes) -> None:
    """A test private key as unencrypted PKCS#8 PEM, readable by its owner only (0600)."""
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def issue_client_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A client certificate (clientAuth) for host `name` from the CA `make_test_pki` made in `directory`:
    what a host presents to a log centre that requires mutual TLS. Returns (cert, key), the key 0600."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    with _PKI_LOCK:
        ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))  # a region's certificate, not about to expire
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"client-{name}.pem", directory / f"client-{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private_key(key_path, key)
        return cert_path, key_path
