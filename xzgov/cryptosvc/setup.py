"""Writing a fresh service configuration: master key, audit signing key, systems file, config.yml.

Used by ``xzgov cryptosvc init`` (and the tests, the load benchmark). Every secret file is written
0600, atomically, never over an existing file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from xzgov.core import fsutil
from xzgov.core.errors import Diagnostic, UsageError, committed, output_error, signals_deferred
from xzgov.crypto import keys, sm2, sm4
from xzgov.cryptosvc.config import ROLES, SYSTEM_NAME_RULE, is_system_name

_OPTION = "--system"
_EXAMPLE = "for example --system dept-portal or --system kms-admin:admin"


def _refuse(value: str, message: str, hint: str) -> UsageError:
    return UsageError(f"{_OPTION} {value!r}: {message}; nothing was written",
                      [Diagnostic("<command line>", 0, 0, _OPTION, f"{value!r}: {message}", hint, code="invalid")])


def _check_system(name: str, role: str, value: str) -> None:
    if not is_system_name(name):
        raise _refuse(value, f"bad system name {name!r}", f"a system name is {SYSTEM_NAME_RULE} ({_EXAMPLE})")
    if role not in ROLES:
        raise _refuse(value, f"role {role!r} is not one of {', '.join(ROLES)}",
                      f"write NAME for a tenant or NAME:admin for an administrator ({_EXAMPLE})")


def parse_system_options(items: Iterable[str]) -> dict[str, str]:
    """``--system NAME[:ROLE]`` values → ``{name: role}`` (role ``tenant`` when not given).

    Refuses (:class:`UsageError`, exit 2) a name the systems file would refuse (the same rule,
    :func:`xzgov.cryptosvc.config.is_system_name`), an unknown role and a name given twice."""
    systems: dict[str, str] = {}
    given: dict[str, str] = {}
    for item in items:
        name, _, role = item.partition(":")
        role = role or "tenant"
        _check_system(name, role, item)
        if name in systems:
            raise _refuse(item, f"system {name!r} is given twice (first as {given[name]!r})",
                          "give each system once, with its role (NAME:admin for an administrator)")
        systems[name], given[name] = role, item
    if not systems:
        raise _refuse("", "no system given", f"give at least one calling system ({_EXAMPLE})")
    return systems


def check_systems(systems: Mapping[str, str]) -> None:
    """Refuse (exit 2) a system name or role that :func:`xzgov.cryptosvc.config.load_config` would refuse."""
    for name, role in systems.items():
        _check_system(name, role, name if role == "tenant" else f"{name}:{role}")
    if not systems:
        raise _refuse("", "no system given", f"give at least one calling system ({_EXAMPLE})")


#: what ``init`` writes into its directory, in the order they are installed (config.yml last: a directory holding a
#: config.yml holds everything it names)
SERVICE_FILES = ("master.key", "audit-signing.pem", "audit-signing.pub.pem", "systems.yml", "config.yml")


def write_service_files(directory: Path, state_dir: Path, systems: Mapping[str, str],
                        *, checkpoint_every: int = 100) -> dict[str, bytes]:
    """Write ``config.yml`` and its secret files into ``directory``; return each system's HMAC key.

    ``systems`` maps a system name to its role (``tenant`` or ``admin``); every name and role is
    checked (:func:`check_systems`), and none of :data:`SERVICE_FILES` may exist (exit 2, naming it), before
    anything is written. All five are staged first and installed all or none: a failure leaves no stray key that
    would make the next ``init`` refuse."""
    check_systems(systems)
    for name in SERVICE_FILES:
        if os.path.lexists(directory / name):
            raise UsageError(f"{directory / name} exists; refusing to replace keys; nothing was written",
                             [Diagnostic(str(directory / name), 0, 0, "DIRECTORY", "the file exists",
                                         "give a new directory, or move the old configuration away first "
                                         "(its keys protect the key store and sign the audit log)", code="exists")])
    hmac_keys = {name: secrets.token_bytes(32) for name in systems}
    signing = sm2.SM2PrivateKey.generate()
    document = {"systems": {name: {"role": role, "hmac_key": hmac_keys[name].hex()} for name, role in systems.items()}}
    absolute = directory.absolute()  # absolute paths: serve may run from any folder (systemd: /)
    config = {
        "state_dir": str(state_dir.absolute()),
        "master_key_file": str(absolute / "master.key"),
        "signing_key_file": str(absolute / "audit-signing.pem"),
        "systems_file": str(absolute / "systems.yml"),
        "checkpoint_every": checkpoint_every,
    }
    contents = {
        "master.key": ((sm4.generate_key().hex() + "\n").encode(), 0o600),
        "audit-signing.pem": (keys.private_key_to_pem(signing).encode(), 0o600),
        "audit-signing.pub.pem": (keys.public_key_to_pem(signing.public_key).encode(), 0o644),
        "systems.yml": (yaml.safe_dump(document, sort_keys=True).encode(), 0o600),
        # 0600 as the role writes it 0640 root:service: a hand-added database_dsn stays the service's own
        "config.yml": (yaml.safe_dump(config, sort_keys=False).encode(), 0o600),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = fsutil.open_directory(directory)
    except OSError as error:
        raise output_error(directory, error) from None
    staged: dict[str, str] = {}
    installed: list[str] = []
    current = directory / SERVICE_FILES[0]
    try:
        try:
            with signals_deferred():  # staging: a signal is raised once every temporary is named (removed below)
                for name in SERVICE_FILES:
                    current = directory / name
                    data, mode = contents[name]
                    staged[name] = fsutil.stage_file(folder, name, data, mode=mode)
            with signals_deferred():  # installing: finished and committed, whatever signal comes meanwhile
                for name in SERVICE_FILES:
                    current = directory / name
                    fsutil.install_file(folder, staged[name], name, display=current, overwrite=False)
                    del staged[name]
                    installed.append(name)
                committed()  # every file in place: the service is set up
        except BaseException as error:
            for temporary in staged.values():
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
            for name in installed:  # created by this call (never over a file): removed again
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=folder)
            if isinstance(error, FileExistsError):  # created meanwhile by someone else
                raise UsageError(f"{current} appeared while writing; refusing to replace keys; nothing was written",
                                 [Diagnostic(str(current), 0, 0, "DIRECTORY", "the file exists",
                                             "give a new directory", code="exists")]) from None
            if isinstance(error, OSError):
                raise output_error(current, error) from None
            raise
        fsutil.sync_directory(folder)
    finally:
        os.close(folder)
    return hmac_keys
