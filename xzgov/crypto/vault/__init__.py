"""SM4-GCM vaulted values: the SM4 counterpart of ansible-vault, one YAML value at a time.

Format (version 2) of a vaulted value, a single YAML plain scalar::

    $XZGOV-SM4VAULT;2;<key-id>;<base64(nonce[12] || ciphertext || tag[16])>

* ``key-id``: 16 lowercase hex digits, the first 8 bytes of HMAC-SM3(key, "xzgov-sm4vault key-id v1").
* cipher: SM4-GCM, 128-bit key, fresh 96-bit nonce from :mod:`secrets`, 128-bit tag; the **scope**
  (the file) and the **field path** are bound in as associated data.
* plaintext: the UTF-8 string. Only strings are vaulted (ports and flags are not secrets).

One module per job; import from here (``from xzgov.crypto import vault``; ``vault.encrypt_value``):

* :mod:`.keyfile` — :class:`VaultKey` and its key file
* :mod:`.envelope` — one value: format, SM4-GCM, associated data, errors
* :mod:`.paths` — field paths (``db.users[0].password``); :mod:`.scope` — the scope of a file
* :mod:`.walker` — the leaves of a YAML file and the structure rules (no alias/merge, string keys, strict files)
* :mod:`.loader` — YAML text, files and parsed data decrypted
* :mod:`.textops` — encrypt/decrypt/rekey values inside YAML text; :mod:`.edit` — ``vault edit``
* :mod:`.files` — reading and rewriting vault files in place
"""

from __future__ import annotations

from xzgov.crypto.vault.edit import reseal_edited
from xzgov.crypto.vault.envelope import (
    PREFIX,
    READABLE_VERSIONS,
    VERSION,
    LegacyVaultFormatWarning,
    VaultError,
    decrypt_value,
    encrypt_value,
    is_vaulted,
    value_version,
    vaulted_key_id,
)
from xzgov.crypto.vault.files import held, read_text, refuse_symlink, rewrite_file, rewrite_files
from xzgov.crypto.vault.keyfile import KEY_FILE_ENV, KEY_FILE_PREFIX, Keyring, VaultKey, load_vault_key, write_vault_key
from xzgov.crypto.vault.loader import check_text, decrypt_tree, holds_vaulted, load_file_decrypted, load_yaml_decrypted
from xzgov.crypto.vault.paths import join_path
from xzgov.crypto.vault.scope import VAULT_FILE_SUFFIXES, destination_scope, file_scope, is_vault_file
from xzgov.crypto.vault.textops import bound_in, decrypt_text, encrypt_text, rekey_text, rescope_text, vaulted_paths
from xzgov.crypto.vault.walker import Leaf, leaves

__all__ = [
    "KEY_FILE_ENV",
    "KEY_FILE_PREFIX",
    "PREFIX",
    "READABLE_VERSIONS",
    "VAULT_FILE_SUFFIXES",
    "VERSION",
    "Keyring",
    "Leaf",
    "LegacyVaultFormatWarning",
    "VaultError",
    "VaultKey",
    "bound_in",
    "check_text",
    "decrypt_text",
    "decrypt_tree",
    "decrypt_value",
    "destination_scope",
    "encrypt_text",
    "encrypt_value",
    "file_scope",
    "held",
    "holds_vaulted",
    "is_vault_file",
    "is_vaulted",
    "join_path",
    "leaves",
    "load_file_decrypted",
    "load_vault_key",
    "load_yaml_decrypted",
    "read_text",
    "refuse_symlink",
    "rekey_text",
    "rescope_text",
    "reseal_edited",
    "rewrite_file",
    "rewrite_files",
    "value_version",
    "vaulted_key_id",
    "vaulted_paths",
    "write_vault_key",
]
