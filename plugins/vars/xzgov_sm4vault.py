# xzgov: SM4-GCM vaulted values for Ansible inventories (see docs/crypto.md).
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.inventory.group import InventoryObjectType
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.path import basedir
from ansible.utils.vars import combine_vars

try:
    from xzgov.crypto import vault
    from xzgov.errors import XzgovError
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from xzgov.crypto import vault
    from xzgov.errors import XzgovError

DOCUMENTATION = """
    name: xzgov_sm4vault
    short_description: Decrypt xzgov SM4-GCM vaulted values in group_vars and host_vars
    description:
        - Presents xzgov SM4-GCM vaulted values (C($XZGOV-SM4VAULT;1;...)) decrypted to plays.
        - Vault files C(group_vars/<group>.sm4vault.yml) and C(host_vars/<host>.sm4vault.yml) (also
          C(.yaml)) beside the ordinary vars files are loaded by this plugin; every string value in them
          must be vaulted. C(*.sm4vault.yml) files inside C(group_vars/<group>/) or C(host_vars/<host>/)
          directories get the same strict check.
        - Vaulted strings in the ordinary group_vars/host_vars files read by host_group_vars are decrypted
          too, whichever of the two plugins runs first (the parsed file, cached by the DataLoader and
          shared with host_group_vars, is decrypted in place; the decrypted variables are also returned).
        - The key is read from the file named by the environment variable C(XZGOV_VAULT_KEY_FILE).
          Vaulted values are bound to their field path, so a value moved to another variable fails loudly,
          naming the file and the field; so does a missing key or a plaintext value in a vault file.
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
        if diagnostic.hint:
            lines.append(f"hint: {diagnostic.hint}")
    return "\n".join(lines)


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
        """Replace vaulted strings in ``data`` (mutated) by their plaintext; return the top-level
        variables that held any.

        The same object reached twice (a YAML alias) is decrypted once, for the field of its anchor.
        """
        done: dict[int, str] = {}
        found = False

        def visit(node: Any, path: str) -> Any:
            nonlocal found
            if isinstance(node, dict):
                for name in list(node):
                    new = visit(node[name], vault.join_path(path, str(name)))
                    if new is not node[name]:
                        node[name] = new
                return node
            if isinstance(node, list):
                for index, item in enumerate(node):
                    new = visit(item, vault.join_path(path, index))
                    if new is not item:
                        node[index] = new
                return node
            if isinstance(node, str):
                if id(node) in done:
                    return done[id(node)]
                if vault.is_vaulted(node):
                    found = True
                    try:
                        plain = vault.decrypt_value(self._vault_key(source), str(node), path, source=source)
                    except XzgovError as error:
                        raise AnsibleParserError(_describe(error)) from None
                    done[id(node)] = plain
                    return plain
                if strict:
                    raise AnsibleParserError(
                        f"{source}, field {path}: plaintext value in a vault file; every string in a "
                        "*.sm4vault.yml file must be vaulted (run `xzgov vault encrypt`)"
                    )
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

