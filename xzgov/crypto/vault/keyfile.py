"""The vault key and its file: one line ``XZGOV-SM4VAULT-KEY;1;<32 hex digits>``, mode 0600.

The key file is given by ``--key-file`` or the environment variable ``XZGOV_VAULT_KEY_FILE``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xzgov.core.errors import Diagnostic, UsageError, output_error
from xzgov.core.fsutil import atomic_write, check_secret_file_mode
from xzgov.crypto import sm4
from xzgov.crypto.files import VAULT_KEY_LIMIT, read_regular_text
from xzgov.crypto.sm3 import hmac_sm3

KEY_FILE_ENV = "XZGOV_VAULT_KEY_FILE"
KEY_FILE_PREFIX = "XZGOV-SM4VAULT-KEY"

_KEY_LINE_RE = re.compile(r"XZGOV-SM4VAULT-KEY;1;([0-9a-f]{32})")


@dataclass(frozen=True)
class VaultKey:
    """A 128-bit SM4 vault key. Its ``repr`` shows only the key id."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != sm4.KEY_SIZE:
            raise ValueError("a vault key is 16 bytes")

    @classmethod
    def generate(cls) -> VaultKey:
        return cls(sm4.generate_key())

    @property
    def key_id(self) -> str:
        return hmac_sm3(self.key, b"xzgov-sm4vault key-id v1")[:8].hex()

    def __repr__(self) -> str:
        return f"VaultKey(key_id={self.key_id!r})"

    def to_text(self) -> str:
        return f"{KEY_FILE_PREFIX};1;{self.key.hex()}\n"

    @classmethod
    def from_text(cls, text: str) -> VaultKey:
        match = _KEY_LINE_RE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"not an xzgov vault key file (expected '{KEY_FILE_PREFIX};1;<32 hex>')")
        return cls(bytes.fromhex(match.group(1)))


#: One key, or several (decryption picks the one whose id the value names).
Keyring = VaultKey | Sequence[VaultKey]


def keyring_keys(keyring: Keyring) -> list[VaultKey]:
    return [keyring] if isinstance(keyring, VaultKey) else list(keyring)


def load_vault_key(path: str | Path | None = None) -> VaultKey:
    """The vault key from ``path`` or else from ``$XZGOV_VAULT_KEY_FILE`` (UsageError if neither; a file the
    variable names that cannot be used is blamed on the variable too: the user typed no path)."""
    what = "vault key file"
    if path is None:
        env = os.environ.get(KEY_FILE_ENV)
        if not env:
            raise UsageError(
                "no vault key: give --key-file or set XZGOV_VAULT_KEY_FILE",
                [Diagnostic("<environment>", 0, 0, KEY_FILE_ENV, "no vault key file given",
                            hint="create one with `xzgov vault keygen FILE`", code="no-key")],
            )
        path, what = env, f"vault key file (${KEY_FILE_ENV})"
    source = Path(path)
    text = read_regular_text(source, what, limit=VAULT_KEY_LIMIT, encoding="ascii", code="key-file")
    try:
        key = VaultKey.from_text(text)
        check_secret_file_mode(source, what)
        return key
    except ValueError as error:
        reason = str(error)
        raise UsageError(
            f"cannot use {what} {source}: {reason}",
            [Diagnostic(str(source), 0, 0, "", f"cannot use {what}: {reason}", code="key-file")],
        ) from error


def write_vault_key(path: str | Path, key: VaultKey, *, force: bool = False) -> Path:
    """Write a key file atomically with mode 0600, never replacing one unless ``force``."""
    target = Path(path)
    try:
        return atomic_write(target, key.to_text().encode("ascii"), mode=0o600, overwrite=force)
    except FileExistsError as error:
        raise UsageError(f"{target} exists; refusing to overwrite a key (use --force)") from error
    except OSError as error:
        raise output_error(target, error) from error
