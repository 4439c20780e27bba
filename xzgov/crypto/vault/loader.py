"""Reading vaulted data: YAML text or files parsed with every vaulted value decrypted for its field,
and already-parsed data (:func:`decrypt_tree`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from xzgov.crypto.vault.envelope import decrypt_value, is_vaulted, vault_error
from xzgov.crypto.vault.files import read_text
from xzgov.crypto.vault.keyfile import Keyring
from xzgov.crypto.vault.paths import join_path
from xzgov.crypto.vault.scope import is_vault_file, resolve_scope
from xzgov.crypto.vault.walker import STR_TAG, Leaf, TrackingLoader, check_leaves, leaves, syntax_error, walk


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
                raise vault_error(f"vaulted value under the non-string mapping key {k!r}", source, child, 0, 0,
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
    """True when ``data`` is, or contains, a vaulted string."""
    if isinstance(data, Mapping):
        return any(holds_vaulted(v) for v in data.values())
    if isinstance(data, list | tuple):
        return any(holds_vaulted(v) for v in data)
    return is_vaulted(data)


class _DecryptingLoader(TrackingLoader):
    """SafeLoader that decrypts vaulted strings with the field path of the node that holds them."""

    keyring: Keyring
    source: str
    scope: str
    strict: bool
    node_paths: dict[int, str]

    def construct_document(self, node: yaml.Node) -> Any:
        found = list(walk(node, "", set(), self.source, self.alias_lines))
        check_leaves(found, self.source, strict=self.strict)
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


_DecryptingLoader.add_constructor(STR_TAG, _construct_str)


def load_yaml_decrypted(
    text: str, keyring: Keyring, *, source: str = "<yaml>", strict: bool | None = None, scope: str | None = None
) -> Any:
    """Parse YAML and decrypt its vaulted values. ``strict`` (default: the file is ``*.sm4vault.yml``)
    additionally refuses any value that is not a vaulted string, an integer, a boolean or null.
    ``scope`` defaults to :func:`~xzgov.crypto.vault.scope.file_scope` of ``source``."""
    loader = _DecryptingLoader(text)
    loader.keyring = keyring
    loader.source = source
    loader.scope = resolve_scope(scope, source)
    loader.strict = is_vault_file(source) if strict is None else strict
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise syntax_error(error, source) from None  # the YAMLError quotes the line: not chained
    finally:
        loader.dispose()


def load_file_decrypted(
    path: str | Path, keyring: Keyring, *, strict: bool | None = None, scope: str | None = None
) -> Any:
    source = Path(path)
    return load_yaml_decrypted(read_text(source), keyring, source=str(source), strict=strict, scope=scope)


def check_text(text: str, *, source: str = "<yaml>", strict: bool | None = None) -> list[Leaf]:
    """Parse ``text`` and apply the structural rules of vaulted files without decrypting anything:
    no alias/merge reusing a vaulted value, no vaulted value under a non-string key, and in a strict
    file only vaulted strings, integers, booleans and null. Returns the leaves."""
    found = leaves(text, source)
    check_leaves(found, source, strict=is_vault_file(source) if strict is None else strict)
    return found
