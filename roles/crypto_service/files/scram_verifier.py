"""SCRAM-SHA-256 verifier of the replication password, computed on the host (run by tasks/database.yml).

PostgreSQL stores ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5802 / RFC 7677) and accepts
that string in ``ALTER ROLE ... PASSWORD``, so the plaintext never appears in SQL (statement logging, errors).

stdin: line 1 the role's stored rolpassword (empty if none), line 2 the password. stdout: nothing when the stored
verifier already verifies the password (nothing to send), else a new verifier with a random salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys

ITERATIONS = 4096  # PostgreSQL's scram_iterations default
SALT_BYTES = 16  # as PostgreSQL's pg_be_scram_build_secret


def keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(StoredKey, ServerKey) of ``password``. PostgreSQL SASLpreps the password; ASCII passwords are unchanged."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    stored_key, server_key = keys(password, salt, iterations)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def verifies(stored: str, password: str) -> bool:
    """Whether ``stored`` (a rolpassword value) is a SCRAM-SHA-256 verifier of ``password``."""
    try:
        method, rest = stored.split("$", 1)
        params, key_part = rest.split("$", 1)
        iterations_text, salt_text = params.split(":", 1)
        stored_text, server_text = key_part.split(":", 1)
        if method != "SCRAM-SHA-256":
            return False
        salt = base64.b64decode(salt_text, validate=True)
        expected = (base64.b64decode(stored_text, validate=True), base64.b64decode(server_text, validate=True))
        actual = keys(password, salt, int(iterations_text))
    except ValueError:
        return False
    return hmac.compare_digest(actual[0], expected[0]) and hmac.compare_digest(actual[1], expected[1])


def main() -> int:
    lines = sys.stdin.read().split("\n")
    stored, password = ([*lines, "", ""])[:2]
    password = password.strip()
    if not password:
        print("no password on stdin", file=sys.stderr)
        return 2
    if not verifies(stored.strip(), password):
        print(verifier(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
