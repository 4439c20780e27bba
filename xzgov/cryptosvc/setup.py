"""Writing a fresh service configuration: master key, audit signing key, systems file, config.yml.

Used by ``xzgov cryptosvc init`` (and the tests, the load benchmark). Every secret file is written
0600, atomically, never over an existing file.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from xzgov.core.fsutil import atomic_write
from xzgov.crypto import keys, sm2, sm4


def write_service_files(directory: Path, state_dir: Path, systems: dict[str, str],
                        *, checkpoint_every: int = 100) -> dict[str, bytes]:
    """Write ``config.yml`` and its secret files into ``directory``; return each system's HMAC key.

    ``systems`` maps a system name to its role (``tenant`` or ``admin``)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    hmac_keys = {name: secrets.token_bytes(32) for name in systems}
    atomic_write(directory / "master.key", (sm4.generate_key().hex() + "\n").encode(), mode=0o600, overwrite=False)
    signing = sm2.SM2PrivateKey.generate()
    atomic_write(directory / "audit-signing.pem", keys.private_key_to_pem(signing).encode(), mode=0o600,
                 overwrite=False)
    atomic_write(directory / "audit-signing.pub.pem", keys.public_key_to_pem(signing.public_key).encode(),
                 mode=0o644, overwrite=False)
    document = {"systems": {name: {"role": role, "hmac_key": hmac_keys[name].hex()} for name, role in systems.items()}}
    atomic_write(directory / "systems.yml", yaml.safe_dump(document, sort_keys=True).encode(), mode=0o600,
                 overwrite=False)
    config = {
        "state_dir": str(state_dir),
        "master_key_file": str(directory / "master.key"),
        "signing_key_file": str(directory / "audit-signing.pem"),
        "systems_file": str(directory / "systems.yml"),
        "checkpoint_every": checkpoint_every,
    }
    atomic_write(directory / "config.yml", yaml.safe_dump(config, sort_keys=False).encode(), mode=0o644,
                 overwrite=False)
    return hmac_keys
