"""One vaulted value: ``$XZGOV-SM4VAULT;<version>;<key-id>;<base64>``, SM4-GCM with its binding as AAD.

* associated data (version 2): ``XZGOV-SM4VAULT;2;<key-id>;`` followed by the compact JSON array
  ``[<scope>, <field path>]`` (UTF-8): a value moved to another field or file does not decrypt, and
  the version and key id cannot be altered.
* version 1 (read only, with a :class:`LegacyVaultFormatWarning`): ``XZGOV-SM4VAULT;1;<key-id>;<field
  path>``, no scope.
* base64: standard alphabet with padding, canonical (re-encoding must give the same text).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings

from xzgov.core.errors import Diagnostic, ExitCode, XzgovError
from xzgov.crypto import sm4
from xzgov.crypto.vault.keyfile import Keyring, VaultKey, keyring_keys
from xzgov.crypto.vault.scope import scope_candidates

PREFIX = "$XZGOV-SM4VAULT"
VERSION = 2
#: Versions this module reads (1: no file scope, read with a warning; 2: current).
READABLE_VERSIONS = ("1", "2")

_VALUE_RE = re.compile(r"\$XZGOV-SM4VAULT;([0-9]+);([0-9a-f]{16});([A-Za-z0-9+/]+={0,2})")


class VaultError(XzgovError):
    """A vaulted value does not decrypt (wrong key, tampered, moved) or is malformed: exit 1."""


class LegacyVaultFormatWarning(UserWarning):
    """A version 1 value (not bound to its file) was read: run ``xzgov vault rekey`` to upgrade it."""


def vault_error(message: str, source: str, field_path: str, line: int, column: int, hint: str,
                code: str) -> VaultError:
    """A :class:`VaultError` (exit 1) located at ``source:line:column`` and the field."""
    where = f"{source}, field {field_path}" if field_path else source
    diagnostic = Diagnostic(source, line, column, field_path, message, hint=hint, code=code)
    return VaultError(f"{where}: {message}", (diagnostic,), ExitCode.FAILED)


def is_vaulted(value: object) -> bool:
    """True when ``value`` is a string in the vault format (any version)."""
    return isinstance(value, str) and value.startswith(PREFIX + ";")


def value_version(value: str) -> str | None:
    """The format version a well-formed vaulted value declares, or None."""
    match = _VALUE_RE.fullmatch(value)
    return match.group(1) if match else None


def vaulted_key_id(value: str) -> str | None:
    """The key id a vaulted value names, or None when it is not well formed."""
    match = _VALUE_RE.fullmatch(value)
    return match.group(2) if match else None


def _aad(version: str, key_id: str, scope: str, field_path: str) -> bytes:
    if version == "1":
        return f"{PREFIX[1:]};1;{key_id};{field_path}".encode()
    bound = json.dumps([scope, field_path], ensure_ascii=False, separators=(",", ":"))
    return f"{PREFIX[1:]};{version};{key_id};{bound}".encode()


def encrypt_value(key: VaultKey, plaintext: str, field_path: str, *, scope: str = "") -> str:
    """Vault ``plaintext`` (format version 2) for the field ``field_path`` of the file ``scope``.

    ``scope`` is what :func:`~xzgov.crypto.vault.scope.file_scope` gives for the file the value goes
    in (the file-level functions fill it in); ``""`` binds the value to no file (values kept outside
    YAML files, :func:`~xzgov.crypto.vault.loader.decrypt_tree`).
    """
    if not isinstance(plaintext, str):
        raise TypeError("only strings are vaulted")
    aad = _aad(str(VERSION), key.key_id, scope, field_path)
    try:
        data = plaintext.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\uD800) written as a YAML escape: no UTF-8 text to seal
        raise vault_error("the value holds a lone surrogate (\\uD800–\\uDFFF), which is no Unicode text",
                          "<value>", field_path, 0, 0, "write the character it stands for, or remove the escape",
                          "vault-encoding") from None
    sealed = sm4.gcm_encrypt(key.key, data, aad)
    return f"{PREFIX};{VERSION};{key.key_id};{base64.b64encode(sealed).decode('ascii')}"


def _former_scope(key: VaultKey, sealed: bytes, version: str, key_id: str, scope: str,
                  field_path: str) -> str | None:
    """The scope a value that fails under ``scope`` does decrypt under, among the likely former ones
    (shorter tails of ``scope``, the empty scope), so the error can say how to fix a moved file."""
    for candidate in [*scope_candidates(scope), ""]:
        if candidate == scope:
            continue
        try:
            sm4.gcm_decrypt(key.key, sealed, _aad(version, key_id, candidate, field_path))
        except sm4.SM4AuthenticationError:
            continue
        return candidate
    return None


def decrypt_value(
    keyring: Keyring,
    value: str,
    field_path: str,
    *,
    source: str = "<value>",
    line: int = 0,
    column: int = 0,
    scope: str = "",
) -> str:
    """Decrypt a vaulted value of field ``field_path`` in the file ``scope``; errors name ``source``
    and the field.

    ``keyring`` is one :class:`VaultKey` or several (the one whose id the value names is used).
    Raises :class:`VaultError` (exit 1) when the value is malformed, was made with another key, or
    fails authentication (tampered, or moved from another field or file). A version 1 value (no
    scope) is decrypted with a :class:`LegacyVaultFormatWarning`.
    """
    def fail(message: str, hint: str, code: str) -> VaultError:
        return vault_error(message, source, field_path, line, column, hint, code)

    if not is_vaulted(value):
        raise fail("not a vaulted value", f"vaulted values start with '{PREFIX};'", "vault-format")
    match = _VALUE_RE.fullmatch(value)
    if not match:
        raise fail("malformed vaulted value", f"expected {PREFIX};{VERSION};<key-id>;<base64>", "vault-format")
    version, key_id, payload = match.groups()
    if version not in READABLE_VERSIONS:
        raise fail(f"unsupported vault format version {version}",
                   f"this xzgov reads versions {', '.join(READABLE_VERSIONS)}", "vault-version")
    try:
        sealed = base64.b64decode(payload, validate=True)
    except binascii.Error:
        sealed = b""
    if not sealed or base64.b64encode(sealed).decode("ascii") != payload:
        raise fail("malformed vaulted value (bad base64)", "the value was altered; restore it from version control",
                   "vault-format")
    matching = [key for key in keyring_keys(keyring) if key.key_id == key_id]
    if not matching:
        have = ", ".join(key.key_id for key in keyring_keys(keyring)) or "none"
        raise fail(f"encrypted with vault key {key_id}, but the key given is {have}",
                   "use the matching key file (--key-file / XZGOV_VAULT_KEY_FILE)", "vault-wrong-key")
    try:
        plain = sm4.gcm_decrypt(matching[0].key, sealed, _aad(version, key_id, scope, field_path))
        text = plain.decode("utf-8")
    except (sm4.SM4AuthenticationError, UnicodeDecodeError) as error:
        if version != "1":
            moved_from = _former_scope(matching[0], sealed, version, key_id, scope, field_path)
            if moved_from is not None:
                raise fail(f"vaulted value was encrypted for file scope {moved_from!r}, but this file's scope is "
                           f"{scope!r}: the file was moved or copied here (e.g. onboarded from a draft)",
                           f"re-bind its values: `xzgov vault rescope {source} --from-scope {moved_from}`",
                           "vault-moved") from error
        where = f" (file scope {scope!r})" if version != "1" else ""
        raise fail("vaulted value fails authentication: it was tampered with or moved from another field "
                   f"or file{where}", "a vaulted value only decrypts in the field and file it was encrypted for. "
                   "If this file was moved or onboarded from elsewhere, re-bind it with `xzgov vault rescope "
                   "FILE --from-scope OLD` (OLD: its former path from the repository root, or its file name if "
                   "it was outside a repository); else re-encrypt it with `xzgov vault encrypt`",
                   "vault-tampered") from error
    if version == "1":
        warnings.warn(
            f"{source}, field {field_path}: vault format version 1 value has no file scope (it would also "
            "decrypt if copied into another file); run `xzgov vault rekey` to upgrade it to version 2",
            LegacyVaultFormatWarning, stacklevel=2,
        )
    return text
