"""SM4-GCM vaulted values: the SM4 counterpart of ansible-vault, one YAML value at a time.

Format (version 1) of a vaulted value, a single YAML plain scalar::

    $XZGOV-SM4VAULT;1;<key-id>;<base64(nonce[12] || ciphertext || tag[16])>

* ``key-id``: 16 lowercase hex digits, the first 8 bytes of HMAC-SM3(key, "xzgov-sm4vault key-id v1").
  It says which key encrypted the value without revealing anything about the key.
* cipher: SM4-GCM, 128-bit key, fresh 96-bit nonce from :mod:`secrets`, 128-bit tag.
* associated data: ``XZGOV-SM4VAULT;1;<key-id>;<field path>`` (UTF-8). The field path (e.g.
  ``db.users[0].password``) is bound in, so a value copied or moved to another field does not
  decrypt, and the version and key id cannot be altered either.
* base64: standard alphabet with padding, canonical (re-encoding must give the same text).
* plaintext: the UTF-8 string. Only strings are vaulted (ports and flags are not secrets).

Key file (``xzgov vault keygen``; mode 0600): one line ``XZGOV-SM4VAULT-KEY;1;<32 hex digits>``.
The key file is given by ``--key-file`` or the environment variable ``XZGOV_VAULT_KEY_FILE``.

Field paths: mapping keys joined by ``.``; list items as ``[i]``; a key that is not a simple
name (letters, digits, ``_``, ``-``, starting with a letter or ``_``) is written ``["json"]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xzgov.crypto import sm4
from xzgov.crypto.fsutil import atomic_write
from xzgov.crypto.sm3 import hmac_sm3
from xzgov.errors import Diagnostic, ExitCode, UsageError, XzgovError

PREFIX = "$XZGOV-SM4VAULT"
VERSION = 1
KEY_FILE_ENV = "XZGOV_VAULT_KEY_FILE"
KEY_FILE_PREFIX = "XZGOV-SM4VAULT-KEY"
#: Files whose every string value must be vaulted (read by the Ansible vars plugin).
VAULT_FILE_SUFFIXES = (".sm4vault.yml", ".sm4vault.yaml")

_VALUE_RE = re.compile(r"\$XZGOV-SM4VAULT;([0-9]+);([0-9a-f]{16});([A-Za-z0-9+/]+={0,2})")
_KEY_LINE_RE = re.compile(r"XZGOV-SM4VAULT-KEY;1;([0-9a-f]{32})")
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STR_TAG = "tag:yaml.org,2002:str"
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)+")


class VaultError(XzgovError):
    """A vaulted value does not decrypt (wrong key, tampered, moved) or is malformed: exit 1."""


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


Keyring = VaultKey | Sequence[VaultKey]


def _keys(keyring: Keyring) -> list[VaultKey]:
    return [keyring] if isinstance(keyring, VaultKey) else list(keyring)


def load_vault_key(path: str | Path | None = None) -> VaultKey:
    """The vault key from ``path`` or else from ``$XZGOV_VAULT_KEY_FILE`` (UsageError if neither)."""
    if path is None:
        env = os.environ.get(KEY_FILE_ENV)
        if not env:
            raise UsageError(
                "no vault key: give --key-file or set XZGOV_VAULT_KEY_FILE",
                [Diagnostic("<environment>", 0, 0, KEY_FILE_ENV, "no vault key file given",
                            hint="create one with `xzgov vault keygen FILE`", code="no-key")],
            )
        path = env
    source = Path(path)
    try:
        text = source.read_text(encoding="ascii")
        return VaultKey.from_text(text)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(
            f"cannot use vault key file {source}: {reason}",
            [Diagnostic(str(source), 0, 0, "", f"cannot use vault key file: {reason}", code="key-file")],
        ) from error


def write_vault_key(path: str | Path, key: VaultKey, *, force: bool = False) -> Path:
    """Write a key file atomically with mode 0600, never replacing one unless ``force``."""
    target = Path(path)
    try:
        return atomic_write(target, key.to_text().encode("ascii"), mode=0o600, overwrite=force)
    except FileExistsError as error:
        raise UsageError(f"{target} exists; refusing to overwrite a key (use --force)") from error
    except OSError as error:
        raise UsageError(f"cannot write {target}: {error.strerror or error}") from error


# --------------------------------------------------------------------------- values


def is_vaulted(value: object) -> bool:
    """True when ``value`` is a string in the vault format (any version)."""
    return isinstance(value, str) and value.startswith(PREFIX + ";")


def _aad(key_id: str, field_path: str) -> bytes:
    return f"{PREFIX[1:]};{VERSION};{key_id};{field_path}".encode()


def encrypt_value(key: VaultKey, plaintext: str, field_path: str) -> str:
    """Vault ``plaintext`` for the field ``field_path``."""
    if not isinstance(plaintext, str):
        raise TypeError("only strings are vaulted")
    sealed = sm4.gcm_encrypt(key.key, plaintext.encode("utf-8"), _aad(key.key_id, field_path))
    return f"{PREFIX};{VERSION};{key.key_id};{base64.b64encode(sealed).decode('ascii')}"


def _fail(message: str, source: str, field_path: str, line: int, column: int, hint: str,
          code: str) -> VaultError:
    where = f"{source}, field {field_path}" if field_path else source
    diagnostic = Diagnostic(source, line, column, field_path, message, hint=hint, code=code)
    return VaultError(f"{where}: {message}", (diagnostic,), ExitCode.FAILED)


def vaulted_key_id(value: str) -> str | None:
    """The key id a vaulted value names, or None when it is not well formed."""
    match = _VALUE_RE.fullmatch(value)
    return match.group(2) if match else None


def decrypt_value(
    keyring: Keyring,
    value: str,
    field_path: str,
    *,
    source: str = "<value>",
    line: int = 0,
    column: int = 0,
) -> str:
    """Decrypt a vaulted value of field ``field_path``; errors name ``source`` and the field.

    ``keyring`` is one :class:`VaultKey` or several (the one whose id the value names is used).
    Raises :class:`VaultError` (exit 1) when the value is malformed, was made with another key, or
    fails authentication (tampered, or moved from another field).
    """
    if not is_vaulted(value):
        raise _fail("not a vaulted value", source, field_path, line, column,
                    f"vaulted values start with '{PREFIX};'", "vault-format")
    match = _VALUE_RE.fullmatch(value)
    if not match:
        raise _fail("malformed vaulted value", source, field_path, line, column,
                    f"expected {PREFIX};{VERSION};<key-id>;<base64>", "vault-format")
    version, key_id, payload = match.groups()
    if version != str(VERSION):
        raise _fail(f"unsupported vault format version {version}", source, field_path, line, column,
                    f"this xzgov reads version {VERSION}", "vault-version")
    try:
        sealed = base64.b64decode(payload, validate=True)
    except binascii.Error:
        sealed = b""
    if not sealed or base64.b64encode(sealed).decode("ascii") != payload:
        raise _fail("malformed vaulted value (bad base64)", source, field_path, line, column,
                    "the value was altered; restore it from version control", "vault-format")
    matching = [key for key in _keys(keyring) if key.key_id == key_id]
    if not matching:
        have = ", ".join(key.key_id for key in _keys(keyring)) or "none"
        raise _fail(f"encrypted with vault key {key_id}, but the key given is {have}", source, field_path,
                    line, column, "use the matching key file (--key-file / XZGOV_VAULT_KEY_FILE)",
                    "vault-wrong-key")
    try:
        plain = sm4.gcm_decrypt(matching[0].key, sealed, _aad(key_id, field_path))
        return plain.decode("utf-8")
    except (sm4.SM4AuthenticationError, UnicodeDecodeError) as error:
        raise _fail("vaulted value fails authentication: it was tampered with or moved from another field",
                    source, field_path, line, column,
                    "a vaulted value only decrypts in the field it was encrypted for; re-encrypt it "
                    "with `xzgov vault encrypt`", "vault-tampered") from error


# --------------------------------------------------------------------------- field paths


def join_path(parent: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{parent}[{part}]"
    text = part if _SIMPLE_KEY.fullmatch(part) else f"[{json.dumps(part, ensure_ascii=False)}]"
    if not parent or text.startswith("["):
        return parent + text
    return f"{parent}.{text}"


def decrypt_tree(keyring: Keyring, data: Any, *, source: str = "<data>", path: str = "") -> Any:
    """A copy of ``data`` (from YAML/JSON) with every vaulted string decrypted for its field path."""
    if isinstance(data, Mapping):
        return {k: decrypt_tree(keyring, v, source=source, path=join_path(path, str(k)))
                for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [decrypt_tree(keyring, v, source=source, path=join_path(path, i)) for i, v in enumerate(data)]
    if is_vaulted(data):
        return decrypt_value(keyring, data, path, source=source)
    return data


# --------------------------------------------------------------------------- YAML files


@dataclass(frozen=True)
class Leaf:
    """A scalar value in a YAML file: its field path, node and text span."""

    path: str
    node: yaml.ScalarNode

    @property
    def value(self) -> str:
        return str(self.node.value)

    @property
    def is_string(self) -> bool:
        return self.node.tag == _STR_TAG

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    @property
    def column(self) -> int:
        return int(self.node.start_mark.column) + 1


def _key_text(node: yaml.Node, source: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise UsageError(f"{source}: complex mapping keys are not supported")
    if node.tag == _STR_TAG:
        return str(node.value)
    return str(yaml.safe_load(node.value))


def _walk(node: yaml.Node, path: str, seen: set[int], source: str) -> Iterator[Leaf]:
    if id(node) in seen:  # an alias: its value belongs to the anchor's field
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        yield Leaf(path, node)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, join_path(path, index), seen, source)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield from _walk(value_node, join_path(path, _key_text(key_node, source)), seen, source)


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        column = mark.column + 1 if mark is not None else 0
        raise UsageError(
            f"{source}: not valid YAML",
            [Diagnostic(source, line, column, "", f"YAML syntax error: {getattr(error, 'problem', error)}",
                        code="yaml-syntax")],
        ) from error


def leaves(text: str, source: str = "<yaml>") -> list[Leaf]:
    """The scalar values of a YAML document with their field paths (aliases not repeated)."""
    root = _compose(text, source)
    return [] if root is None else list(_walk(root, "", set(), source))


def is_vault_file(path: str | Path) -> bool:
    return str(path).endswith(VAULT_FILE_SUFFIXES)


class _DecryptingLoader(yaml.SafeLoader):
    """SafeLoader that decrypts vaulted strings with the field path of the node that holds them."""

    keyring: Keyring
    source: str
    strict: bool
    node_paths: dict[int, str]

    def construct_document(self, node: yaml.Node) -> Any:
        self.node_paths = {id(leaf.node): leaf.path for leaf in _walk(node, "", set(), self.source)}
        return super().construct_document(node)


def _construct_str(loader: _DecryptingLoader, node: yaml.Node) -> Any:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    path = loader.node_paths.get(id(node))
    if path is None:  # a mapping key
        return value
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if is_vaulted(value):
        return decrypt_value(loader.keyring, str(value), path, source=loader.source, line=line, column=column)
    if loader.strict:
        raise _fail("plaintext value in a vault file", loader.source, path, line, column,
                    "every string in a *.sm4vault.yml file must be vaulted: run `xzgov vault encrypt`",
                    "vault-plaintext")
    return value


_DecryptingLoader.add_constructor(_STR_TAG, _construct_str)


def load_yaml_decrypted(
    text: str, keyring: Keyring, *, source: str = "<yaml>", strict: bool | None = None
) -> Any:
    """Parse YAML and decrypt its vaulted values. ``strict`` (default: the file is ``*.sm4vault.yml``)
    additionally refuses any string value that is not vaulted."""
    loader = _DecryptingLoader(text)
    loader.keyring = keyring
    loader.source = source
    loader.strict = is_vault_file(source) if strict is None else strict
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise UsageError(
            f"{source}: not valid YAML",
            [Diagnostic(source, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                        f"YAML syntax error: {getattr(error, 'problem', error)}", code="yaml-syntax")],
        ) from error
    finally:
        loader.dispose()


def load_file_decrypted(path: str | Path, keyring: Keyring, *, strict: bool | None = None) -> Any:
    source = Path(path)
    return load_yaml_decrypted(_read(source), keyring, source=str(source), strict=strict)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(
            f"cannot read {path}: {reason}",
            [Diagnostic(str(path), 0, 0, "", f"cannot read: {reason}", code="unreadable")],
        ) from error


def _yaml_string(value: str) -> str:
    """``value`` as a YAML scalar that fits on one line wherever a plain scalar did."""
    if (
        value
        and "\n" not in value
        and not any(ch in value for ch in ",[]{}#")
        and _safe_plain(value)
    ):
        return value
    dumped = yaml.safe_dump(value, default_style='"', width=1 << 30, allow_unicode=True)
    return dumped.rstrip("\n").removesuffix("\n...").rstrip("\n")


def _safe_plain(value: str) -> bool:
    try:
        return bool(yaml.safe_load(f"k: {value}\n") == {"k": value})
    except yaml.YAMLError:
        return False


def _replace(text: str, replacements: Iterable[tuple[Leaf, str]]) -> str:
    out = text
    for leaf, new in sorted(replacements, key=lambda item: -int(item[0].node.start_mark.index)):
        start, end = int(leaf.node.start_mark.index), int(leaf.node.end_mark.index)
        original = out[start:end]
        trailing = original[len(original.rstrip()):]  # block scalars own their final newlines
        properties = _PROPERTIES.match(original)  # an anchor (&name) or tag (!tag) stays in place
        head = properties.group(0) if properties else ""
        out = out[:start] + head + new + trailing + out[end:]
    return out


def _select(all_leaves: list[Leaf], fields: Sequence[str], source: str) -> list[Leaf]:
    if not fields:
        return all_leaves
    by_path = {leaf.path: leaf for leaf in all_leaves}
    missing = [f for f in fields if f not in by_path]
    if missing:
        raise UsageError(
            f"{source}: no such field: {', '.join(missing)}",
            [Diagnostic(source, 0, 0, f, "no scalar value at this field path",
                        hint="paths look like db.users[0].password", code="no-field") for f in missing],
        )
    return [by_path[f] for f in fields]


def encrypt_text(text: str, key: VaultKey, fields: Sequence[str] = (), *, source: str = "<yaml>") -> tuple[str, int]:
    """Vault the named string fields (default: every string value not yet vaulted).

    Returns the new text and the number of values encrypted. Everything else in the file
    (comments, order, quoting) is left as it was.
    """
    all_leaves = leaves(text, source)
    chosen = _select(all_leaves, fields, source)
    replacements: list[tuple[Leaf, str]] = []
    for leaf in chosen:
        if is_vaulted(leaf.value):
            continue
        if not leaf.is_string:
            if not fields:
                continue  # numbers, booleans and nulls are not secrets
            raise UsageError(
                f"{source}, field {leaf.path}: only string values can be vaulted",
                [Diagnostic(source, leaf.line, leaf.column, leaf.path, "only string values can be vaulted",
                            hint="quote the value to make it a string", code="vault-not-string")],
            )
        replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path)))
    return _replace(text, replacements), len(replacements)


def decrypt_text(text: str, keyring: Keyring, fields: Sequence[str] = (), *, source: str = "<yaml>") -> tuple[str, int]:
    """Replace vaulted values (the named fields, default all) by their plaintext."""
    chosen = _select(leaves(text, source), fields, source)
    replacements = [
        (leaf, _yaml_string(decrypt_value(keyring, leaf.value, leaf.path, source=source,
                                          line=leaf.line, column=leaf.column)))
        for leaf in chosen
        if is_vaulted(leaf.value)
    ]
    return _replace(text, replacements), len(replacements)


def rekey_text(text: str, old: Keyring, new: VaultKey, *, source: str = "<yaml>") -> tuple[str, int]:
    """Re-encrypt every vaulted value with ``new``."""
    replacements = [
        (leaf, encrypt_value(new, decrypt_value(old, leaf.value, leaf.path, source=source, line=leaf.line,
                                                column=leaf.column), leaf.path))
        for leaf in leaves(text, source)
        if is_vaulted(leaf.value)
    ]
    return _replace(text, replacements), len(replacements)


def reseal_edited(
    original: str, edited: str, key: VaultKey, *, source: str = "<yaml>"
) -> tuple[str, int]:
    """After ``vault edit``: vault again every field that was vaulted in ``original`` (reusing the
    old ciphertext when the value did not change), and in a ``*.sm4vault.yml`` file every new
    string value too."""
    before = {leaf.path: leaf.value for leaf in leaves(original, source) if is_vaulted(leaf.value)}
    vault_all = is_vault_file(source)
    replacements: list[tuple[Leaf, str]] = []
    for leaf in leaves(edited, source):
        if is_vaulted(leaf.value) or not leaf.is_string:
            continue
        old = before.get(leaf.path)
        if old is None and not vault_all:
            continue
        if old is not None and decrypt_value(key, old, leaf.path, source=source) == leaf.value:
            replacements.append((leaf, old))
        else:
            replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path)))
    return _replace(edited, replacements), len(replacements)


def rewrite_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically, keeping its permission bits."""
    try:
        mode = path.stat().st_mode & 0o777
        atomic_write(path, text.encode("utf-8"), mode=mode)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from error


def read_text(path: str | Path) -> str:
    return _read(Path(path))
