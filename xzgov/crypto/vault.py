"""SM4-GCM vaulted values: the SM4 counterpart of ansible-vault, one YAML value at a time.

Format (version 2) of a vaulted value, a single YAML plain scalar::

    $XZGOV-SM4VAULT;2;<key-id>;<base64(nonce[12] || ciphertext || tag[16])>

* ``key-id``: 16 lowercase hex digits, the first 8 bytes of HMAC-SM3(key, "xzgov-sm4vault key-id v1").
  It says which key encrypted the value without revealing anything about the key.
* cipher: SM4-GCM, 128-bit key, fresh 96-bit nonce from :mod:`secrets`, 128-bit tag.
* associated data (version 2): ``XZGOV-SM4VAULT;2;<key-id>;`` followed by the JSON array
  ``[<scope>, <field path>]`` (compact, UTF-8). The **scope** names the file (see
  :func:`file_scope`: ``host_vars/web1.sm4vault.yml`` for inventory files, the path from the
  repository root otherwise, or an explicit scope) and the **field path** the field
  (``db.users[0].password``): a value copied or moved to another field *or another file* does not
  decrypt, and the version and key id cannot be altered either.
* version 1 (read only, with a :class:`LegacyVaultFormatWarning`): associated data
  ``XZGOV-SM4VAULT;1;<key-id>;<field path>``, no scope. ``xzgov vault rekey`` upgrades to version 2.
* base64: standard alphabet with padding, canonical (re-encoding must give the same text).
* plaintext: the UTF-8 string. Only strings are vaulted (ports and flags are not secrets).

A vaulted value must be written out in the one field it is bound to: a YAML alias or ``<<`` merge
that reuses a vaulted value (or a collection holding one), and a vaulted value under a mapping key
that is not a string (``1:``, ``yes:``), are refused with the file, line and field.

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
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xzgov.core.errors import Diagnostic, ExitCode, UsageError, XzgovError
from xzgov.core.fsutil import atomic_write, warn_if_exposed
from xzgov.crypto import sm4
from xzgov.crypto.sm3 import hmac_sm3

PREFIX = "$XZGOV-SM4VAULT"
VERSION = 2
#: Versions this module reads (1: no file scope, read with a warning; 2: current).
READABLE_VERSIONS = ("1", "2")
KEY_FILE_ENV = "XZGOV_VAULT_KEY_FILE"
KEY_FILE_PREFIX = "XZGOV-SM4VAULT-KEY"
#: Files whose every string value must be vaulted (read by the Ansible vars plugin).
VAULT_FILE_SUFFIXES = (".sm4vault.yml", ".sm4vault.yaml")

_VALUE_RE = re.compile(r"\$XZGOV-SM4VAULT;([0-9]+);([0-9a-f]{16});([A-Za-z0-9+/]+={0,2})")
_KEY_LINE_RE = re.compile(r"XZGOV-SM4VAULT-KEY;1;([0-9a-f]{32})")
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: Besides vaulted strings, the only values allowed in a strict ``*.sm4vault.yml`` file.
_STRICT_TAGS = {"tag:yaml.org,2002:int": "integer", "tag:yaml.org,2002:bool": "boolean",
                "tag:yaml.org,2002:null": "null"}
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)+")


class VaultError(XzgovError):
    """A vaulted value does not decrypt (wrong key, tampered, moved) or is malformed: exit 1."""


class LegacyVaultFormatWarning(UserWarning):
    """A version 1 value (not bound to its file) was read: run ``xzgov vault rekey`` to upgrade it."""


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
        key = VaultKey.from_text(text)
        warn_if_exposed(source, "vault key file")
        return key
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


def _aad(version: str, key_id: str, scope: str, field_path: str) -> bytes:
    if version == "1":
        return f"{PREFIX[1:]};1;{key_id};{field_path}".encode()
    bound = json.dumps([scope, field_path], ensure_ascii=False, separators=(",", ":"))
    return f"{PREFIX[1:]};{version};{key_id};{bound}".encode()


def encrypt_value(key: VaultKey, plaintext: str, field_path: str, *, scope: str = "") -> str:
    """Vault ``plaintext`` (format version 2) for the field ``field_path`` of the file ``scope``.

    ``scope`` is what :func:`file_scope` gives for the file the value goes in (the file-level
    functions of this module fill it in); ``""`` binds the value to no file (values kept outside
    YAML files, :func:`decrypt_tree`).
    """
    if not isinstance(plaintext, str):
        raise TypeError("only strings are vaulted")
    aad = _aad(str(VERSION), key.key_id, scope, field_path)
    sealed = sm4.gcm_encrypt(key.key, plaintext.encode("utf-8"), aad)
    return f"{PREFIX};{VERSION};{key.key_id};{base64.b64encode(sealed).decode('ascii')}"


def value_version(value: str) -> str | None:
    """The format version a well-formed vaulted value declares, or None."""
    match = _VALUE_RE.fullmatch(value)
    return match.group(1) if match else None


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
    scope: str = "",
) -> str:
    """Decrypt a vaulted value of field ``field_path`` in the file ``scope``; errors name ``source``
    and the field.

    ``keyring`` is one :class:`VaultKey` or several (the one whose id the value names is used).
    Raises :class:`VaultError` (exit 1) when the value is malformed, was made with another key, or
    fails authentication (tampered, or moved from another field or file). A version 1 value (no
    scope) is decrypted with a :class:`LegacyVaultFormatWarning`.
    """
    if not is_vaulted(value):
        raise _fail("not a vaulted value", source, field_path, line, column,
                    f"vaulted values start with '{PREFIX};'", "vault-format")
    match = _VALUE_RE.fullmatch(value)
    if not match:
        raise _fail("malformed vaulted value", source, field_path, line, column,
                    f"expected {PREFIX};{VERSION};<key-id>;<base64>", "vault-format")
    version, key_id, payload = match.groups()
    if version not in READABLE_VERSIONS:
        raise _fail(f"unsupported vault format version {version}", source, field_path, line, column,
                    f"this xzgov reads versions {', '.join(READABLE_VERSIONS)}", "vault-version")
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
        plain = sm4.gcm_decrypt(matching[0].key, sealed, _aad(version, key_id, scope, field_path))
        text = plain.decode("utf-8")
    except (sm4.SM4AuthenticationError, UnicodeDecodeError) as error:
        where = f" (file scope {scope!r})" if version != "1" else ""
        raise _fail("vaulted value fails authentication: it was tampered with or moved from another field "
                    f"or file{where}", source, field_path, line, column,
                    "a vaulted value only decrypts in the field and file it was encrypted for; re-encrypt it "
                    "with `xzgov vault encrypt`", "vault-tampered") from error
    if version == "1":
        warnings.warn(
            f"{source}, field {field_path}: vault format version 1 value has no file scope (it would also "
            "decrypt if copied into another file); run `xzgov vault rekey` to upgrade it to version 2",
            LegacyVaultFormatWarning, stacklevel=2,
        )
    return text


# --------------------------------------------------------------------------- field paths


def join_path(parent: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{parent}[{part}]"
    text = part if _SIMPLE_KEY.fullmatch(part) else f"[{json.dumps(part, ensure_ascii=False)}]"
    if not parent or text.startswith("["):
        return parent + text
    return f"{parent}.{text}"


def decrypt_tree(keyring: Keyring, data: Any, *, source: str = "<data>", path: str = "",
                 scope: str = "") -> Any:
    """A copy of ``data`` (from YAML/JSON) with every vaulted string decrypted for its field path.

    Vaulted values must sit under string mapping keys (``{1: ...}`` and ``{"1": ...}`` would share a
    field path): a vaulted value under any other key is refused.
    """
    if isinstance(data, Mapping):
        out = {}
        for k, v in data.items():
            child = join_path(path, str(k))
            if not isinstance(k, str) and holds_vaulted(v):
                raise _fail(f"vaulted value under the non-string mapping key {k!r}", source, child, 0, 0,
                            "quote the key to make it a string", "vault-key-type")
            out[k] = decrypt_tree(keyring, v, source=source, path=child, scope=scope)
        return out
    if isinstance(data, list | tuple):
        return [decrypt_tree(keyring, v, source=source, path=join_path(path, i), scope=scope)
                for i, v in enumerate(data)]
    if is_vaulted(data):
        return decrypt_value(keyring, data, path, source=source, scope=scope)
    return data


def holds_vaulted(data: Any) -> bool:
    if isinstance(data, Mapping):
        return any(holds_vaulted(v) for v in data.values())
    if isinstance(data, list | tuple):
        return any(holds_vaulted(v) for v in data)
    return is_vaulted(data)


# --------------------------------------------------------------------------- file scope


def file_scope(path: str | Path) -> str:
    """The scope a file's version 2 values are bound to (part of their associated data).

    * a file under a ``group_vars`` or ``host_vars`` directory: its path from that directory on,
      e.g. ``host_vars/web1.sm4vault.yml`` or ``group_vars/db/secrets.yml`` (an inventory can move;
      a value copied to another host's or group's file does not decrypt);
    * another existing file: its path from the repository root (the nearest directory above it
      holding ``.git``), else its file name;
    * a name that is no file (text handled in memory): the name as given.

    The path is taken as written, symbolic links are not resolved: a link to another host's vars
    file does not decrypt that file's values. Give an explicit ``scope`` to override.
    """
    text = str(path)
    parts = Path(text).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in ("group_vars", "host_vars"):
            return "/".join(parts[index:])
    candidate = Path(text)
    if candidate.is_file():
        absolute = Path(os.path.abspath(candidate))
        for parent in absolute.parents:
            if (parent / ".git").exists():
                return absolute.relative_to(parent).as_posix()
        return absolute.name
    return Path(text).as_posix() if text else text


def _scope(scope: str | None, source: str) -> str:
    return file_scope(source) if scope is None else scope


# --------------------------------------------------------------------------- YAML files


@dataclass(frozen=True)
class Leaf:
    """A scalar value in a YAML file: its field path, node and text span.

    ``problem`` says why the value cannot hold a vaulted value (it is reused by a YAML alias or
    ``<<`` merge, or sits under a non-string mapping key); ``problem_line`` is where (1-based).
    """

    path: str
    node: yaml.ScalarNode
    problem: str = ""
    problem_line: int = 0

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


class _TrackingLoader(yaml.SafeLoader):
    """SafeLoader that remembers where each anchored node is reused by an alias."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_lines: dict[int, list[int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            line = int(self.peek_event().start_mark.line) + 1  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            self.alias_lines.setdefault(id(node), []).append(line)
            return node
        return super().compose_node(parent, index)


def _key_text(node: yaml.Node, source: str) -> tuple[str, str]:
    """A mapping key's text, and the problem when it is not a string (empty otherwise)."""
    if not isinstance(node, yaml.ScalarNode):
        raise UsageError(f"{source}: complex mapping keys are not supported",
                         [Diagnostic(source, int(node.start_mark.line) + 1, int(node.start_mark.column) + 1, "",
                                     "complex mapping key", code="yaml-key")])
    if node.tag == _STR_TAG:
        return str(node.value), ""
    return str(node.value), (f"is under the non-string mapping key {node.value!r} "
                             "(quote it: 1 and \"1\", yes and \"True\" would share a field path)")


def _walk(node: yaml.Node, path: str, seen: set[int], source: str, aliases: Mapping[int, list[int]],
          problem: str = "", problem_line: int = 0) -> Iterator[Leaf]:
    if id(node) in seen:  # an alias: checked at its anchor (problem "reused by the YAML alias")
        return
    seen.add(id(node))
    lines = aliases.get(id(node))
    if lines and not problem:
        problem = f"is reused by the YAML alias at line {', '.join(str(n) for n in lines)}"
        problem_line = lines[0]
    if isinstance(node, yaml.ScalarNode):
        yield Leaf(path, node, problem, problem_line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, join_path(path, index), seen, source, aliases, problem, problem_line)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                here = int(key_node.start_mark.line) + 1
                yield from _walk(value_node, join_path(path, "<<"), seen, source, aliases,
                                 problem or "is merged into its mapping with <<", problem_line or here)
                continue
            text, key_problem = _key_text(key_node, source)
            yield from _walk(value_node, join_path(path, text), seen, source, aliases,
                             problem or key_problem,
                             problem_line or (int(key_node.start_mark.line) + 1 if key_problem else 0))


def _syntax_error(error: yaml.YAMLError, source: str) -> UsageError:
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 0
    column = mark.column + 1 if mark is not None else 0
    return UsageError(
        f"{source}: not valid YAML",
        [Diagnostic(source, line, column, "", f"YAML syntax error: {getattr(error, 'problem', None) or error}",
                    code="yaml-syntax")],
    )


def _compose(text: str, source: str) -> tuple[yaml.Node | None, dict[int, list[int]]]:
    loader = _TrackingLoader(text)
    try:
        return loader.get_single_node(), loader.alias_lines
    except yaml.YAMLError as error:
        raise _syntax_error(error, source) from error
    finally:
        loader.dispose()


def leaves(text: str, source: str = "<yaml>") -> list[Leaf]:
    """The scalar values of a YAML document with their field paths (aliases not repeated)."""
    root, aliases = _compose(text, source)
    return [] if root is None else list(_walk(root, "", set(), source, aliases))


def _check_leaves(all_leaves: Iterable[Leaf], source: str, *, strict: bool) -> None:
    """Refuse vaulted values that are shared (alias, merge) or keyed by a non-string, and in a
    strict file anything but vaulted strings, integers, booleans and null."""
    for leaf in all_leaves:
        vaulted = leaf.is_string and is_vaulted(leaf.value)
        if vaulted and leaf.problem:
            raise _fail(f"vaulted value {leaf.problem}; a vaulted value must be written out in the one field "
                        "it is bound to", source, leaf.path, leaf.problem_line or leaf.line, leaf.column,
                        "remove the alias/merge (repeat the vaulted value in each field, each encrypted "
                        "for its own field) or quote the key", "vault-shared")
        if not strict or vaulted:
            continue
        if leaf.is_string:
            raise _fail("plaintext value in a vault file", source, leaf.path, leaf.line, leaf.column,
                        "every string in a *.sm4vault.yml file must be vaulted: run `xzgov vault encrypt`",
                        "vault-plaintext")
        if leaf.node.tag not in _STRICT_TAGS:
            raise _fail(f"value of type {leaf.node.tag!r} in a vault file", source, leaf.path, leaf.line,
                        leaf.column, "a *.sm4vault.yml file holds only vaulted strings, integers, booleans "
                        "and null", "vault-type")


def is_vault_file(path: str | Path) -> bool:
    return str(path).endswith(VAULT_FILE_SUFFIXES)


class _DecryptingLoader(_TrackingLoader):
    """SafeLoader that decrypts vaulted strings with the field path of the node that holds them."""

    keyring: Keyring
    source: str
    scope: str
    strict: bool
    node_paths: dict[int, str]

    def construct_document(self, node: yaml.Node) -> Any:
        found = list(_walk(node, "", set(), self.source, self.alias_lines))
        _check_leaves(found, self.source, strict=self.strict)
        self.node_paths = {id(leaf.node): leaf.path for leaf in found}
        return super().construct_document(node)


def _construct_str(loader: _DecryptingLoader, node: yaml.Node) -> Any:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    path = loader.node_paths.get(id(node))
    if path is None:  # a mapping key
        return value
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if is_vaulted(value):
        return decrypt_value(loader.keyring, str(value), path, source=loader.source, line=line, column=column,
                             scope=loader.scope)
    return value


_DecryptingLoader.add_constructor(_STR_TAG, _construct_str)


def load_yaml_decrypted(
    text: str, keyring: Keyring, *, source: str = "<yaml>", strict: bool | None = None, scope: str | None = None
) -> Any:
    """Parse YAML and decrypt its vaulted values. ``strict`` (default: the file is ``*.sm4vault.yml``)
    additionally refuses any value that is not a vaulted string, an integer, a boolean or null.
    ``scope`` defaults to :func:`file_scope` of ``source``."""
    loader = _DecryptingLoader(text)
    loader.keyring = keyring
    loader.source = source
    loader.scope = _scope(scope, source)
    loader.strict = is_vault_file(source) if strict is None else strict
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise _syntax_error(error, source) from error
    finally:
        loader.dispose()


def check_text(text: str, *, source: str = "<yaml>", strict: bool | None = None) -> list[Leaf]:
    """Parse ``text`` and apply the structural rules of vaulted files without decrypting anything:
    no alias/merge reusing a vaulted value, no vaulted value under a non-string key, and in a strict
    file only vaulted strings, integers, booleans and null. Returns the leaves."""
    found = leaves(text, source)
    _check_leaves(found, source, strict=is_vault_file(source) if strict is None else strict)
    return found


def load_file_decrypted(
    path: str | Path, keyring: Keyring, *, strict: bool | None = None, scope: str | None = None
) -> Any:
    source = Path(path)
    return load_yaml_decrypted(_read(source), keyring, source=str(source), strict=strict, scope=scope)


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
    """True when ``value`` reads back as itself as a plain scalar in block *and* flow context."""
    try:
        return bool(yaml.safe_load(f"k: {value}\n") == {"k": value}
                    and yaml.safe_load(f"{{k: {value}, n: 1}}\n") == {"k": value, "n": 1}
                    and yaml.safe_load(f"[{value}, 1]\n") == [value, 1])
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


def _shared_error(leaf: Leaf, source: str) -> UsageError:
    return UsageError(
        f"{source}, field {leaf.path}: cannot vault this value: it {leaf.problem}",
        [Diagnostic(source, leaf.problem_line or leaf.line, leaf.column, leaf.path,
                    f"cannot vault a value that {leaf.problem}",
                    hint="write the value out in each field (no alias/merge), quote the key, or choose the "
                         "fields to vault with --field", code="vault-shared")],
    )


def encrypt_text(
    text: str, key: VaultKey, fields: Sequence[str] = (), *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Vault the named string fields (default: every string value not yet vaulted), format version 2
    bound to ``scope`` (default :func:`file_scope` of ``source``).

    Returns the new text and the number of values encrypted. Everything else in the file
    (comments, order, quoting) is left as it was. A string reused by a YAML alias or merge, or under
    a non-string key, is refused (UsageError) rather than left in clear.
    """
    bound = _scope(scope, source)
    all_leaves = leaves(text, source)
    _check_leaves(all_leaves, source, strict=False)
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
        if leaf.problem:
            raise _shared_error(leaf, source)
        replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path, scope=bound)))
    return _replace(text, replacements), len(replacements)


def decrypt_text(
    text: str, keyring: Keyring, fields: Sequence[str] = (), *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Replace vaulted values (the named fields, default all) by their plaintext."""
    bound = _scope(scope, source)
    all_leaves = leaves(text, source)
    _check_leaves(all_leaves, source, strict=False)
    chosen = _select(all_leaves, fields, source)
    replacements = [
        (leaf, _yaml_string(decrypt_value(keyring, leaf.value, leaf.path, source=source,
                                          line=leaf.line, column=leaf.column, scope=bound)))
        for leaf in chosen
        if is_vaulted(leaf.value)
    ]
    return _replace(text, replacements), len(replacements)


def rekey_text(
    text: str, old: Keyring, new: VaultKey, *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Re-encrypt every vaulted value with ``new`` in format version 2 (this also upgrades version 1
    values; ``new`` may be the old key)."""
    bound = _scope(scope, source)
    all_leaves = leaves(text, source)
    _check_leaves(all_leaves, source, strict=False)
    with warnings.catch_warnings():  # version 1 values are what rekey upgrades: no advice to run rekey
        warnings.simplefilter("ignore", LegacyVaultFormatWarning)
        replacements = [
            (leaf, encrypt_value(new, decrypt_value(old, leaf.value, leaf.path, source=source, line=leaf.line,
                                                    column=leaf.column, scope=bound), leaf.path, scope=bound))
            for leaf in all_leaves
            if is_vaulted(leaf.value)
        ]
    return _replace(text, replacements), len(replacements)


def _edit_error(source: str, leaf_path: str, line: int, message: str, hint: str, code: str) -> UsageError:
    return UsageError(f"{source}, field {leaf_path}: {message}; nothing was written",
                      [Diagnostic(source, line, 0, leaf_path, message, hint=hint, code=code)])


def _clear_scalars(text: str, source: str) -> tuple[set[str], str]:
    """Every scalar (values and keys) that is not vaulted, and the text with vaulted values cut out."""
    root, _ = _compose(text, source)
    found: set[str] = set()
    vaulted: list[Leaf] = []
    stack: list[yaml.Node] = [root] if root is not None else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if is_vaulted(str(node.value)):
                vaulted.append(Leaf("", node))
            else:
                found.add(str(node.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.extend((key_node, value_node))
    return found, _replace(text, [(leaf, "") for leaf in vaulted])


def reseal_edited(
    original: str, edited: str, key: VaultKey, *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """After ``vault edit``: vault every string of ``edited`` except those that were already in clear
    at the same field of ``original`` (unchanged values keep their old version 2 ciphertext).

    Refused (UsageError, nothing to write): a previously vaulted field that became a number, boolean,
    null, list or mapping, or a value the file's rules forbid (strict files, aliases/merges); and any
    output in which the plaintext of a previously vaulted value would appear unencrypted (as a value,
    key or inside a comment), unless that text was already in clear in ``original``.
    Returns the text to write and the number of values vaulted.
    """
    bound = _scope(scope, source)
    strict = is_vault_file(source)
    before_leaves = leaves(original, source)
    _check_leaves(before_leaves, source, strict=False)
    secrets: dict[str, tuple[str, str]] = {}
    clear_before: dict[str, str] = {}
    for leaf in before_leaves:
        if is_vaulted(leaf.value):
            plain = decrypt_value(key, leaf.value, leaf.path, source=source, line=leaf.line, column=leaf.column,
                                  scope=bound)
            secrets[leaf.path] = (leaf.value, plain)
        elif leaf.is_string:
            clear_before[leaf.path] = leaf.value
    after_leaves = leaves(edited, source)
    by_path = {leaf.path: leaf for leaf in after_leaves}
    for path in secrets:
        found = by_path.get(path)
        if found is not None and not found.is_string:
            raise _edit_error(source, path, found.line, f"this field was vaulted and is now a {found.node.tag}",
                              "a vaulted field stays a string: quote the value (\"123\", \"yes\")", "vault-downgrade")
        if found is None and any(p.startswith((path + ".", path + "[")) for p in by_path):
            raise _edit_error(source, path, 0, "this field was vaulted and is now a list or mapping",
                              "a vaulted field stays a string", "vault-downgrade")
    replacements: list[tuple[Leaf, str]] = []
    for leaf in after_leaves:
        if is_vaulted(leaf.value):
            continue
        if not leaf.is_string:
            if strict and leaf.node.tag not in _STRICT_TAGS:
                raise _edit_error(source, leaf.path, leaf.line, f"value of type {leaf.node.tag!r} in a vault file",
                                  "a *.sm4vault.yml file holds only vaulted strings, integers, booleans and null",
                                  "vault-type")
            continue
        if not strict and clear_before.get(leaf.path) is not None:
            continue  # a field that was in clear stays in clear
        if leaf.problem:
            if strict or leaf.path in secrets:
                raise _shared_error(leaf, source)
            continue  # a new alias of a clear value; the leak check below still applies
        old = secrets.get(leaf.path)
        if old is not None and old[1] == leaf.value and value_version(old[0]) == str(VERSION):
            replacements.append((leaf, old[0]))
        else:
            replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path, scope=bound)))
    output = _replace(edited, replacements)
    _check_leaves(leaves(output, source), source, strict=strict)
    _, public_before = _clear_scalars(original, source)
    clear_after, text_after = _clear_scalars(output, source)
    for path, (_, plain) in secrets.items():
        if not plain or plain in public_before:
            continue  # empty, or already in clear in the original (e.g. a user name that is also a key)
        if plain in clear_after or (len(plain) >= 4 and plain in text_after):
            raise _edit_error(source, path, 0, "the secret of this field (as it was before editing) would be "
                              "written unencrypted", "vault it in its own field, or remove the copy (also from "
                              "comments)", "vault-leak")
    return output, len(replacements)


def rewrite_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically, keeping its permission bits, owner and group.

    A symbolic link is refused: vaulted values are bound to the file's own path (its scope), and
    replacing the link by a regular file would silently detach it from its target.
    """
    refuse_symlink(path)
    try:
        info = path.stat()
        atomic_write(path, text.encode("utf-8"), mode=info.st_mode & 0o7777, owner=(info.st_uid, info.st_gid))
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from error


def refuse_symlink(path: Path) -> None:
    """UsageError when ``path`` is a symbolic link (vault commands write files in place)."""
    if path.is_symlink():
        target = os.readlink(path)
        raise UsageError(
            f"{path} is a symbolic link (to {target}); not written: run the command on the file itself",
            [Diagnostic(str(path), 0, 0, "", f"symbolic link to {target}",
                        hint="vaulted values are bound to the path of the file that holds them (its scope), "
                             "so vault commands never write through a link", code="symlink")],
        )


def read_text(path: str | Path) -> str:
    return _read(Path(path))
