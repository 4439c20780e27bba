"""``python -m xzgov.cryptosvc --config FILE [--host H] [--port P]``: serve the crypto service (uvicorn).

One worker process (the audit chain and the replay cache live in it); concurrency comes from the
thread pool, and OpenSSL releases the GIL while it signs. TLS: ``--ssl-certfile``/``--ssl-keyfile``,
or a TLS-terminating proxy on the same host.
"""

from __future__ import annotations

import argparse
import logging
import sys

from xzgov.cryptosvc.config import load_config
from xzgov.cryptosvc.errors import ConfigError


def serve_options_problem(port: int, certfile: str | None, keyfile: str | None) -> str | None:
    """What is wrong with how the service is asked to listen (``None``: nothing), checked before the key store and
    the audit log are opened: a port outside 0–65535 (0: any free port, as uvicorn takes it; others gave uvicorn's
    traceback, and an audit ``start`` record of a service that never listened); one TLS file without the other (it
    was dropped, and the service answered in plain HTTP); a certificate and key that do not load (a bare "No such
    file or directory", exit 3)."""
    if not 0 <= port <= 65535:
        return f"--port {port} is not a port (1–65535, or 0 for any free port)"
    if bool(certfile) != bool(keyfile):
        given, absent = ("--ssl-certfile", "--ssl-keyfile") if certfile else ("--ssl-keyfile", "--ssl-certfile")
        return (f"{given} needs {absent} too (TLS takes the certificate and its key; without both it would serve "
                "plain HTTP)")
    if certfile and keyfile:
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as error:
            why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            return (f"--ssl-certfile {certfile} / --ssl-keyfile {keyfile} do not load as a certificate and its key: "
                    f"{why} (give the PEM certificate chain and its private key)")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xzgov.cryptosvc", description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--ssl-certfile")
    parser.add_argument("--ssl-keyfile")
    parser.add_argument("--access-log", action="store_true", help="uvicorn access log (paths only, no bodies)")
    parser.add_argument("--no-owner-check", action="store_true", help="tests only: secret files may belong to "
                        "another user (modes are still checked)")
    args = parser.parse_args(argv)
    problem = serve_options_problem(args.port, args.ssl_certfile, args.ssl_keyfile)
    if problem:
        parser.error(problem)  # exit 2
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    try:
        config = load_config(args.config, check_owner=not args.no_owner_check)
    except ConfigError as error:
        print(f"xzgov-cryptosvc: {error}", file=sys.stderr)
        return 2
    import uvicorn

    from xzgov.cryptosvc.app import create_app
    from xzgov.cryptosvc.errors import ServiceError

    try:
        app = create_app(config)
    except ServiceError as error:  # the key store (or database) cannot be opened: the machine, exit 3
        cause = error.__cause__
        why = f": {cause.strerror or cause}" if isinstance(cause, OSError) else f": {cause}" if cause else ""
        where = config.keystore_path if config.backend == "files" else "database_dsn"
        print(f"xzgov-cryptosvc: cannot start: {error.message}{why} ({where}; configuration {args.config})",
              file=sys.stderr)
        return 3
    if config.backend == "postgresql":  # as the audit log below: reached now, not in uvicorn's start-up
        try:
            app.state.service.prepare_database()
        except ServiceError as error:
            cause = error.__cause__
            print(f"xzgov-cryptosvc: cannot start: {error.message}{f': {cause}' if cause else ''} (database_dsn; "
                  f"configuration {args.config})", file=sys.stderr)
            return 3
    if config.backend == "files":  # opened now, not in uvicorn's start-up (which logs a traceback); kept open
        from xzgov.cryptosvc.audit import AuditError

        try:
            app.state.service.open_audit()
        except (AuditError, OSError) as error:
            why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            print(f"xzgov-cryptosvc: cannot start: the audit log cannot be opened: {why} ({config.audit_path}; "
                  f"configuration {args.config})", file=sys.stderr)
            return 3
    from xzgov.cryptosvc.server import limit_noisy_logs, uvicorn_config

    # serving limits (docs/crypto-service.md "Serving limits"): limit_concurrency (503 beyond),
    # timeout_keep_alive_seconds, header_timeout_seconds; the body ones are the app's
    server = uvicorn.Server(uvicorn_config(app, config, host=args.host, port=args.port, access_log=args.access_log,
                                           ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                                           log_level="info"))
    limit_noisy_logs()  # after uvicorn.Config configured logging: accept errors etc. cannot flood the journal
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
