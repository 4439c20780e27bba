"""``vault edit``: vault an edited plaintext copy again without downgrading or leaking a secret."""

from __future__ import annotations

import base64
import binascii

import yaml

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.vault.envelope import (
    VERSION,
    VaultError,
    decrypt_value,
    encrypt_value,
    is_vaulted,
    value_version,
)
from xzgov.crypto.vault.keyfile import VaultKey
from xzgov.crypto.vault.paths import is_below
from xzgov.crypto.vault.scope import is_vault_file, resolve_scope
from xzgov.crypto.vault.textops import replace_values, shared_error
from xzgov.crypto.vault.walker import STRICT_TAGS, Leaf, check_leaves, compose, leaves


def _edit_error(source: str, leaf_path: str, line: int, message: str, hint: str, code: str) -> UsageError:
    return UsageError(f"{source}, field {leaf_path}: {message}; nothing was written",
                      [Diagnostic(source, line, 0, leaf_path, message, hint=hint, code=code)])


def _binary_text(value: str) -> str:
    """The text a ``!!binary`` scalar's base64 holds (undecodable bytes dropped; "" when it is no base64)."""
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8", errors="ignore")
    except (ValueError, binascii.Error):
        return ""


def _clear_scalars(text: str, source: str) -> tuple[set[str], str]:
    """Every scalar (values and keys) that is not vaulted, and the text with vaulted values cut out."""
    root, _ = compose(text, source)
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
                if node.tag == "tag:yaml.org,2002:binary":  # !!binary: the bytes it stands for are in clear too
                    found.add(_binary_text(str(node.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.extend((key_node, value_node))
    return found, replace_values(text, [(leaf, "") for leaf in vaulted])


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
    bound = resolve_scope(scope, source)
    strict = is_vault_file(source)
    before_leaves = leaves(original, source)
    check_leaves(before_leaves, source, strict=False)
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
        if found is None and any(is_below(p, path) for p in by_path):
            raise _edit_error(source, path, 0, "this field was vaulted and is now a list or mapping",
                              "a vaulted field stays a string", "vault-downgrade")
    replacements: list[tuple[Leaf, str]] = []
    for leaf in after_leaves:
        if is_vaulted(leaf.value):
            # a vaulted value pasted from another field or file (or mistyped) would be saved and then refused by
            # every reader: only an envelope that decrypts here is kept
            if secrets.get(leaf.path, ("",))[0] != leaf.value:
                try:
                    decrypt_value(key, leaf.value, leaf.path, source=source, line=leaf.line, column=leaf.column,
                                  scope=bound)
                except VaultError as error:
                    why = error.diagnostics[0].message if error.diagnostics else error.message
                    raise _edit_error(source, leaf.path, leaf.line, f"this vaulted value does not decrypt in this "
                                      f"field of this file ({why})",
                                      "write the plaintext instead (it is vaulted for this field when saved), or keep "
                                      "the field's own vaulted value", "vault-foreign") from None
            continue
        if leaf.unknown_tag:  # as `vault encrypt` refuses it: never saved in clear without a word
            raise _edit_error(source, leaf.path, leaf.line, f"a value tagged {leaf.node.tag} cannot be vaulted",
                              "remove the tag to vault it as a string (!unsafe strings are vaulted with their tag)",
                              "vault-tagged")
        if not leaf.is_string:
            if strict and leaf.node.tag not in STRICT_TAGS:
                raise _edit_error(source, leaf.path, leaf.line, f"value of type {leaf.node.tag!r} in a vault file",
                                  "a *.sm4vault.yml file holds only vaulted strings, integers, booleans and null",
                                  "vault-type")
            continue
        if not strict and clear_before.get(leaf.path) is not None:
            continue  # a field that was in clear stays in clear
        if leaf.problem:
            # a string that was not in clear before cannot stay in clear, and shared (an alias, a merge) or under a
            # non-string key it cannot be vaulted: refused, as `vault encrypt` refuses it (it was saved in clear)
            raise shared_error(leaf, source)
        old = secrets.get(leaf.path)
        if old is not None and old[1] == leaf.value and value_version(old[0]) == str(VERSION):
            replacements.append((leaf, old[0]))
        else:
            replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path, scope=bound)))
    output = replace_values(edited, replacements)
    check_leaves(leaves(output, source), source, strict=strict)
    public_before, text_before = _clear_scalars(original, source)
    clear_after, text_after = _clear_scalars(output, source)
    for path, (_, plain) in secrets.items():
        if not plain:
            continue
        # a whole clear scalar of the original (a user name that is also a key) stays allowed as one; any new copy in
        # the text (a comment) is refused, counted — a secret that happens to be part of other clear text (the
        # word "console" in a comment) disabled the check before
        if (plain in clear_after and plain not in public_before) or \
                (len(plain) >= 4 and text_after.count(plain) > text_before.count(plain)):
            raise _edit_error(source, path, 0, "the secret of this field (as it was before editing) would be "
                              "written unencrypted", "vault it in its own field, or remove the copy (also from "
                              "comments)", "vault-leak")
    return output, len(replacements)
