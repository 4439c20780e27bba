"""An S3 endpoint over TLS for booted-host tests: moto's S3 backend served by werkzeug with HTTP/1.1.

werkzeug closes the connection after every response (``Connection: close``), and Python's ``ssl`` closes a
socket without a TLS close_notify unless it is unwrapped first; pgBackRest (OpenSSL 3) rightly reads that
as a truncation attack ("unexpected eof while reading"). A real object store shuts TLS down properly, so
this server does too before closing each connection.

    python -m tests.hosts.object_store ADDRESS PORT CERT KEY
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server


class _Http11Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Quiet: the tests read the bucket, not the access log."""


def main(argv: list[str]) -> None:
    address, port, cert, key = argv
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(address, int(port), app, threaded=True, request_handler=_Http11Handler,
                         ssl_context=(cert, key))
    close = server.shutdown_request

    def shutdown_with_close_notify(request: socket.socket) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(2)
            with contextlib.suppress(OSError, ValueError):
                request = request.unwrap()  # sends close_notify
        close(request)

    server.shutdown_request = shutdown_with_close_notify  # type: ignore[method-assign,assignment]
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
