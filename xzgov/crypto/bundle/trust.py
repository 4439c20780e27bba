"""Trusted signers: fingerprints given by the caller, or the trust store ``$XZGOV_TRUSTED_KEYS``
(a directory of ``*.pub.pem`` files, or a file of fingerprints, one per line)."""

from __future__ import annotations

import os
import re
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.core.fsutil import SecurityWarning
from xzgov.crypto import keys
from xzgov.crypto.files import TRUST_STORE_LIMIT, read_regular_text

#: Environment variable naming the trust store: a directory of ``*.pub.pem`` or a file of fingerprints.
TRUSTED_KEYS_ENV = "XZGOV_TRUSTED_KEYS"
#: The problem reported when the signer's key is not trusted (or no trust is configured).
NOT_TRUSTED = "signer not trusted"
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")


def _squeeze(text: str) -> str:
    return re.sub(r"[\s:]", "", text).lower()


def normalise_fingerprint(text: str, *, source: str = "<fingerprint>") -> str:
    """A fingerprint as 64 lowercase hex digits (``:`` and spaces allowed); UsageError otherwise."""
    value = _squeeze(text)
    if not _FINGERPRINT_RE.fullmatch(value):
        raise UsageError(
            f"{source}: {text.strip()!r} is not a key fingerprint (64 hex digits, SM3 of the public key)",
            [Diagnostic(source, 0, 0, "", "not a fingerprint",
                        hint="print one with `xzgov keys fingerprint PUB.pem`", code="fingerprint")],
        )
    return value


def _warn_if_writable(path: Path) -> None:
    """Warn (:class:`SecurityWarning`) when group or others may write ``path``: anyone who can add a line or a
    ``*.pub.pem`` there becomes a trusted signer (a world-writable store was trusted without a word)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o022:
        warnings.warn(f"trust store {path} (${TRUSTED_KEYS_ENV}) is writable by group or others (mode "
                      f"{mode:04o}): whoever can write it chooses the trusted signers; run `chmod go-w {path}`",
                      SecurityWarning, stacklevel=3)


def load_trust_store(location: str | Path) -> list[str]:
    """Trusted signer fingerprints from a directory of ``*.pub.pem`` files or a file of fingerprints
    (one per line; blank lines and ``#`` comments ignored). UsageError when unreadable or empty."""
    source = Path(location)
    found: list[str] = []
    _warn_if_writable(source)
    if source.is_dir():
        for pem in sorted(source.glob("*.pub.pem")):
            _warn_if_writable(pem)
            found.append(keys.fingerprint(keys.load_public_key(pem)))
    else:
        text = read_regular_text(source, f"trust store (${TRUSTED_KEYS_ENV})", limit=TRUST_STORE_LIMIT,
                                 code="trust-store").removeprefix("\ufeff")  # an editor's byte-order mark
        if "-----BEGIN" in text:  # one key file named where a directory of them (or a fingerprint list) goes
            raise UsageError(
                f"trust store {source} (${TRUSTED_KEYS_ENV}) is a PEM key file, not a trust store",
                [Diagnostic(str(source), 1, 0, "", "a PEM file where a directory of *.pub.pem files or a file of "
                            "fingerprints (one per line) is expected",
                            hint=f"set ${TRUSTED_KEYS_ENV} to the directory holding {source.name} (public keys "
                                 "named *.pub.pem), or to a file listing its fingerprint (`xzgov keys fingerprint "
                                 f"{source}`), or pass it with --trusted-key", code="trust-store")])
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                found.append(normalise_fingerprint(entry, source=f"{source}:{number}"))
    if not found:
        raise UsageError(
            f"trust store {source} (${TRUSTED_KEYS_ENV}) holds no trusted key",
            [Diagnostic(str(source), 0, 0, "", "no *.pub.pem file or fingerprint in the trust store",
                        code="trust-store")],
        )
    return found


def configured_trusted_fingerprints() -> list[str] | None:
    """The fingerprints of the trust store named by ``$XZGOV_TRUSTED_KEYS``, or None when unset."""
    location = os.environ.get(TRUSTED_KEYS_ENV)
    return load_trust_store(location) if location else None


def trusted_set(trusted_fingerprints: Iterable[str] | None) -> set[str] | None:
    """The signers to trust: ``trusted_fingerprints`` (``:``/spaces ignored), else the configured trust
    store; None when neither is given."""
    if trusted_fingerprints is not None:
        return {_squeeze(fp) for fp in trusted_fingerprints}
    configured = configured_trusted_fingerprints()
    return set(configured) if configured is not None else None
