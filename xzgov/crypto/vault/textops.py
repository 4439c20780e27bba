"""Vault, unvault and rekey values inside YAML text, changing only the values: comments, order,
quoting, anchors and tags stay as they were."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence

import yaml

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.vault.envelope import (
    LegacyVaultFormatWarning,
    VaultError,
    decrypt_value,
    encrypt_value,
    is_vaulted,
    value_version,
    vaulted_key_id,
)
from xzgov.crypto.vault.keyfile import Keyring, VaultKey, keyring_keys
from xzgov.crypto.vault.scope import resolve_scope
from xzgov.crypto.vault.walker import Leaf, check_leaves, leaves

#: an anchor or tag and the YAML white space after it (space, tab, line breaks): not ``\s``, which takes a no-break
#: space — part of the value — and left ``!!str <NBSP>$XZGOV-SM4VAULT;…``, no vaulted value at all
_PROPERTIES = re.compile(r"(?:[&!][^ \t\r\n]*[ \t\r\n]+)+")


def yaml_string(value: str) -> str:
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
    """True when ``value`` reads back as itself as a plain scalar in block *and* flow context. Any failure to read
    it back is a no (then it is double-quoted): ``!!float Tibet-2026`` raised ValueError (``!!bool x`` KeyError),
    which reached the command's internal-error message with the secret in it."""
    try:
        return bool(yaml.safe_load(f"k: {value}\n") == {"k": value}
                    and yaml.safe_load(f"{{k: {value}, n: 1}}\n") == {"k": value, "n": 1}
                    and yaml.safe_load(f"[{value}, 1]\n") == [value, 1])
    except Exception:  # every reading error (YAMLError, ValueError, KeyError …) means: quote it
        return False


def replace_values(text: str, replacements: Iterable[tuple[Leaf, str]]) -> str:
    """``text`` with each leaf's value replaced (its anchor/tag and trailing newlines kept)."""
    out = text
    for leaf, new in sorted(replacements, key=lambda item: -int(item[0].node.start_mark.index)):
        start, end = int(leaf.node.start_mark.index), int(leaf.node.end_mark.index)
        original = out[start:end]
        # block scalars own their final newlines; only YAML white space (str.rstrip would also take
        # "\xa0", which is a plain scalar's content)
        trailing = original[len(original.rstrip(" \t\r\n")):]
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


def shared_error(leaf: Leaf, source: str) -> UsageError:
    """Refusal to vault a value that an alias/merge reuses or that sits under a non-string key."""
    return UsageError(
        f"{source}, field {leaf.path}: cannot vault this value: it {leaf.problem}",
        [Diagnostic(source, leaf.problem_line or leaf.line, leaf.column, leaf.path,
                    f"cannot vault a value that {leaf.problem}",
                    hint="write the value out in each field (no alias/merge), quote the key, or choose the "
                         "fields to vault with --field", code="vault-shared")],
    )


def _checked_leaves(text: str, source: str) -> list[Leaf]:
    found = leaves(text, source)
    check_leaves(found, source, strict=False)
    for leaf in found:  # "\uD800" written as a YAML escape: no UTF-8 text, to seal or to write back
        if leaf.is_string and any("\ud800" <= c <= "\udfff" for c in leaf.value):
            raise UsageError(f"{source}, field {leaf.path}: the value holds a lone surrogate", [Diagnostic(
                source, leaf.line, leaf.column, leaf.path, "a lone surrogate (\\uD800–\\uDFFF) is no Unicode text",
                hint="write the character it stands for, or remove the escape", code="vault-encoding")])
    return found


def encrypt_text(
    text: str, key: VaultKey, fields: Sequence[str] = (), *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Vault the named string fields (default: every string value not yet vaulted), format version 2
    bound to ``scope`` (default :func:`~xzgov.crypto.vault.scope.file_scope` of ``source``).

    Returns the new text and the number of values encrypted. Everything else in the file
    (comments, order, quoting) is left as it was. A string reused by a YAML alias or merge, or under
    a non-string key, is refused (UsageError) rather than left in clear.
    """
    bound = resolve_scope(scope, source)
    chosen = _select(_checked_leaves(text, source), fields, source)
    replacements: list[tuple[Leaf, str]] = []
    for leaf in chosen:
        if is_vaulted(leaf.value):
            continue
        if leaf.unknown_tag:  # never skipped in silence: it may be a secret the vault would leave in clear
            raise UsageError(
                f"{source}, field {leaf.path}: a value tagged {leaf.node.tag} cannot be vaulted",
                [Diagnostic(source, leaf.line, leaf.column, leaf.path,
                            f"the tag {leaf.node.tag} makes it neither a string nor a number, boolean or null",
                            hint="remove the tag to vault it as a string (!unsafe strings are vaulted with their "
                                 "tag), or name the fields to vault with --field", code="vault-tagged")],
            )
        if not leaf.is_string:
            if not fields:
                continue  # numbers, booleans and nulls are not secrets
            raise UsageError(
                f"{source}, field {leaf.path}: only string values can be vaulted",
                [Diagnostic(source, leaf.line, leaf.column, leaf.path, "only string values can be vaulted",
                            hint="quote the value to make it a string", code="vault-not-string")],
            )
        if leaf.problem:
            raise shared_error(leaf, source)
        replacements.append((leaf, encrypt_value(key, leaf.value, leaf.path, scope=bound)))
    return replace_values(text, replacements), len(replacements)


def decrypt_text(
    text: str, keyring: Keyring, fields: Sequence[str] = (), *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Replace vaulted values (the named fields, default all) by their plaintext."""
    bound = resolve_scope(scope, source)
    chosen = _select(_checked_leaves(text, source), fields, source)
    replacements = [
        (leaf, yaml_string(decrypt_value(keyring, leaf.value, leaf.path, source=source,
                                         line=leaf.line, column=leaf.column, scope=bound)))
        for leaf in chosen
        if is_vaulted(leaf.value)
    ]
    return replace_values(text, replacements), len(replacements)


def rekey_text(
    text: str, old: Keyring, new: VaultKey, *, source: str = "<yaml>", scope: str | None = None
) -> tuple[str, int]:
    """Re-encrypt every vaulted value with ``new`` in format version 2 (this also upgrades version 1
    values; ``new`` may be the old key)."""
    bound = resolve_scope(scope, source)
    all_leaves = _checked_leaves(text, source)
    with warnings.catch_warnings():  # version 1 values are what rekey upgrades: no advice to run rekey
        warnings.simplefilter("ignore", LegacyVaultFormatWarning)
        replacements = [
            (leaf, encrypt_value(new, decrypt_value(old, leaf.value, leaf.path, source=source, line=leaf.line,
                                                    column=leaf.column, scope=bound), leaf.path, scope=bound))
            for leaf in all_leaves
            if is_vaulted(leaf.value)
        ]
    return replace_values(text, replacements), len(replacements)


def rescope_text(
    text: str, keyring: Keyring, *, old_scope: str, new_scope: str, source: str = "<yaml>",
    bound: frozenset[str] = frozenset(),
) -> tuple[str, int]:
    """Re-bind every vaulted value from ``old_scope`` to ``new_scope``, each under the key it was
    encrypted with (fresh nonces; comments and layout kept).

    For a file that moves: a value's scope is its file's path (:func:`~xzgov.crypto.vault.scope.file_scope`),
    so a draft vaulted outside the repository (scope: its file name) no longer decrypts once it is
    filed under ``systems/``. Onboarding calls this with ``old_scope=file_scope(draft)`` and
    ``new_scope=destination_scope(target)``. A value already bound to ``new_scope`` is left as it is: one at a
    path of ``bound`` (:func:`bound_in`: the same envelope as the registered file's), or one that decrypts under
    ``new_scope`` (an edited copy of a filed manifest carries the filed values). Every other value must decrypt
    under ``old_scope`` (VaultError otherwise, nothing changed); version 1 values (no scope) are upgraded to
    version 2 on the way.
    """
    by_id = {key.key_id: key for key in keyring_keys(keyring)}
    all_leaves = _checked_leaves(text, source)
    replacements: list[tuple[Leaf, str]] = []
    with warnings.catch_warnings():  # version 1 values are upgraded here: no advice to run rekey
        warnings.simplefilter("ignore", LegacyVaultFormatWarning)
        for leaf in all_leaves:
            if not is_vaulted(leaf.value) or leaf.path in bound:
                continue
            if value_version(leaf.value) != "1":  # (a version 1 value binds no scope: it is upgraded below)
                try:
                    decrypt_value(keyring, leaf.value, leaf.path, source=source, scope=new_scope)
                    continue  # bound to the new file already
                except VaultError:
                    pass
            plain = decrypt_value(keyring, leaf.value, leaf.path, source=source, line=leaf.line,
                                  column=leaf.column, scope=old_scope)
            key = by_id[str(vaulted_key_id(leaf.value))]  # decrypt_value found this key
            replacements.append((leaf, encrypt_value(key, plain, leaf.path, scope=new_scope)))
    return replace_values(text, replacements), len(replacements)


def bound_in(text: str, registered: str, source: str = "<yaml>") -> frozenset[str]:
    """The field paths whose vaulted value in ``text`` is the very envelope ``registered`` (another version of the
    same file) holds at that path: bound to the registered file's scope already (the path and the scope are its
    associated data), so nothing needs re-binding, nor a key. A ``registered`` text that does not parse binds
    nothing."""
    try:
        filed = {leaf.path: leaf.value for leaf in leaves(registered, "<registered>") if is_vaulted(leaf.value)}
    except (UsageError, yaml.YAMLError):
        return frozenset()
    return frozenset(leaf.path for leaf in leaves(text, source)
                     if is_vaulted(leaf.value) and filed.get(leaf.path) == leaf.value)


def vaulted_paths(text: str, source: str = "<yaml>") -> frozenset[str]:
    """The field paths of the vaulted values of ``text``."""
    return frozenset(leaf.path for leaf in leaves(text, source) if is_vaulted(leaf.value))
