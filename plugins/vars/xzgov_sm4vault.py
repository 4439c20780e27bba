# xzgov: SM4-GCM vaulted values for Ansible inventories (see docs/crypto.md).
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.inventory.group import InventoryObjectType
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.display import Display
from ansible.utils.path import basedir
from ansible.utils.vars import combine_vars

try:  # ansible-core 2.19: the type `!vault` values have; inventory dumps print its ciphertext
    from ansible._internal._datatag._tags import TrustedAsTemplate, VaultedValue
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible.parsing.vault import EncryptedString
except ImportError:  # pragma: no cover - other ansible-core versions: plain strings (documented)
    EncryptedString = None

try:
    from xzgov.core.errors import XzgovError
    from xzgov.crypto import vault
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from xzgov.core.errors import XzgovError
    from xzgov.crypto import vault

DOCUMENTATION = """
    name: xzgov_sm4vault
    short_description: Decrypt xzgov SM4-GCM vaulted values in group_vars and host_vars
    description:
        - Presents xzgov SM4-GCM vaulted values (C($XZGOV-SM4VAULT;2;...), version 1 read with a warning)
          decrypted to plays, as the same kind of value Ansible uses for C(!vault); templating yields the
          plaintext, while C(ansible-inventory --list/--host) prints the ciphertext (as C(__ansible_vault))
          instead of the secret.
        - Vault files C(group_vars/<group>.sm4vault.yml) and C(host_vars/<host>.sm4vault.yml) (also
          C(.yaml)) beside the ordinary vars files are loaded by this plugin; every string value in them
          must be vaulted. C(*.sm4vault.yml) files inside C(group_vars/<group>/) or C(host_vars/<host>/)
          directories get the same strict check.
        - Vaulted strings in the ordinary group_vars/host_vars files read by host_group_vars are decrypted
          too, whichever of the two plugins runs first (the parsed file, cached by the DataLoader and
          shared with host_group_vars, is decrypted in place; the decrypted variables are also returned).
        - The key is read from the file named by the environment variable C(XZGOV_VAULT_KEY_FILE).
          Vaulted values are bound to their field path and to their file (scope, e.g.
          C(host_vars/web1.sm4vault.yml)), so a value moved to another variable or file fails loudly,
          naming the file and the field; so does a YAML alias or merge reusing a vaulted value, a missing
          key, or a plaintext value in a vault file.
        - Enabled by adding the directory to C(vars_plugins) in ansible.cfg; it needs no other setting.
    options:
      stage:
        ini:
          - key: stage
            section: vars_xzgov_sm4vault
        env:
          - name: ANSIBLE_VARS_PLUGIN_STAGE
    extends_documentation_fragment:
      - vars_plugin_staging
"""

VAULT_SUFFIXES = vault.VAULT_FILE_SUFFIXES
#: file -> top-level variables that held vaulted values (remembered after in-place decryption)
_SECRET_NAMES: dict[str, set[str]] = {}
#: file -> the parsed data already decrypted in place (the DataLoader's cached object)
_DECRYPTED: dict[str, Any] = {}


def _describe(error: XzgovError) -> str:
    lines = [error.message]
    for diagnostic in error.diagnostics:
        if diagnostic.line:
            lines.append(f"at {diagnostic.location()}")
        if diagnostic.hint:
            lines.append(f"hint: {diagnostic.hint}")
    return "\n".join(lines)


def _protect(ciphertext: str, plaintext: str) -> Any:
    """The decrypted value as Ansible's own vaulted-value type when available: templates see the
    plaintext, inventory dumps and the legacy JSON encoder print the ciphertext instead."""
    if EncryptedString is None:
        return plaintext
    sealed = str(ciphertext)  # EncryptedString wants an exact str (the loader's value is tagged)
    value = EncryptedString(ciphertext=sealed)
    # decrypted here (failing loudly at load time); cached where EncryptedString keeps its plaintext,
    # tagged like Ansible's own decryption does (VaultedValue, never TrustedAsTemplate)
    object.__setattr__(value, "_plaintext", AnsibleTagHelper.tag(plaintext, {VaultedValue(ciphertext=sealed)}))
    tags = {tag for tag in AnsibleTagHelper.tags(ciphertext) if not isinstance(tag, TrustedAsTemplate)}
    return AnsibleTagHelper.tag(value, tags) if tags else value


class VarsModule(BaseVarsPlugin):  # type: ignore[misc]
    """Presents xzgov SM4 vaulted values decrypted to plays."""

    REQUIRES_ENABLED = False
    is_stateless = True

    def __init__(self) -> None:
        super().__init__()
        self._key: vault.VaultKey | None = None

    def _vault_key(self, needed_by: str) -> vault.VaultKey:
        if self._key is None:
            if not os.environ.get(vault.KEY_FILE_ENV):
                raise AnsibleParserError(
                    f"{needed_by} holds xzgov SM4 vaulted values: set {vault.KEY_FILE_ENV} to the vault key file"
                )
            try:
                self._key = vault.load_vault_key()
            except XzgovError as error:
                raise AnsibleParserError(_describe(error)) from None
        return self._key

    def _decrypt_in_place(self, data: dict[str, Any], source: str, strict: bool) -> set[str]:
        """Replace vaulted strings in ``data`` (mutated) by protected plaintext; return the top-level
        variables that held any.

        The file's text was checked first (:func:`vault.check_text`): no alias or merge reuses a vaulted
        value. The same object reached twice (an alias the check could not see) is refused too.
        """
        scope = vault.file_scope(source)
        seen: set[int] = set()
        found = False

        def visit(node: Any, path: str) -> Any:
            nonlocal found
            if isinstance(node, dict):
                for name in list(node):
                    child = vault.join_path(path, str(name))
                    if not isinstance(name, str) and vault.holds_vaulted(node[name]):
                        raise AnsibleParserError(f"{source}, field {child}: vaulted value under the non-string "
                                                 f"mapping key {name!r}; quote the key")
                    new = visit(node[name], child)
                    if new is not node[name]:
                        node[name] = new
                return node
            if isinstance(node, list):
                for index, item in enumerate(node):
                    new = visit(item, vault.join_path(path, index))
                    if new is not item:
                        node[index] = new
                return node
            if isinstance(node, str) and vault.is_vaulted(node):
                if id(node) in seen:
                    raise AnsibleParserError(f"{source}, field {path}: vaulted value reused by a YAML alias; a "
                                             "vaulted value must be written out in the one field it is bound to")
                seen.add(id(node))
                found = True
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        plain = vault.decrypt_value(self._vault_key(source), str(node), path, source=source,
                                                    scope=scope)
                    for warning in caught:
                        Display().warning(str(warning.message))
                except XzgovError as error:
                    raise AnsibleParserError(_describe(error)) from None
                return _protect(node, plain)
            return node

        names: set[str] = set()
        for name in list(data):
            found = False
            new = visit(data[name], vault.join_path("", str(name)))
            if new is not data[name]:
                data[name] = new
            if found:
                names.add(str(name))
        return names

    def _load(self, loader: Any, path: str, strict: bool) -> dict[str, Any]:
        # The same call host_group_vars makes: the parsed file is cached by the DataLoader and shared,
        # so decrypting it in place means host_group_vars presents plaintext too, whichever plugin
        # runs first. The decrypted variables are also returned, for the other order.
        data = loader.load_from_file(path, cache="all", unsafe=True, trusted_as_template=True)
        if not data:
            return {}
        if not isinstance(data, dict):
            raise AnsibleParserError(f"{path}: expected a mapping of variables at the top level")
        names = _SECRET_NAMES.setdefault(path, set())
        if _DECRYPTED.get(path) is not data:  # a freshly parsed file (not our already-decrypted copy)
            try:  # the rules of vaulted files, checked on the text: aliases, merges, keys, strict types
                vault.check_text(vault.read_text(path), source=path, strict=strict)
            except XzgovError as error:
                raise AnsibleParserError(_describe(error)) from None
            names |= self._decrypt_in_place(data, path, strict)
            _DECRYPTED[path] = data
        return {name: value for name, value in data.items() if strict or str(name) in names}

    def get_vars(self, loader: Any, path: str, entities: Any, cache: bool = True) -> dict[str, Any]:
        super().get_vars(loader, path, entities)
        if not isinstance(entities, list):
            entities = [entities]
        root = os.path.realpath(basedir(path))
        data: dict[str, Any] = {}
        for entity in entities:
            name = entity.name
            if not name or name.startswith(os.path.sep):
                continue
            subdir = "host_vars" if entity.base_type is InventoryObjectType.HOST else "group_vars"
            opath = os.path.join(root, subdir)
            if not os.path.isdir(opath):
                continue
            files = [str(p) for p in loader.find_vars_files(opath, name)]
            files += [os.path.join(opath, name + suffix) for suffix in VAULT_SUFFIXES
                      if os.path.isfile(os.path.join(opath, name + suffix))]
            for file_path in files:
                loaded = self._load(loader, file_path, file_path.endswith(VAULT_SUFFIXES))
                if loaded:
                    data = combine_vars(data, loaded)
        return data

