"""Tenant keys, wrapped under the master key with SM4-GCM, in one JSON file: atomic and locked.

Every change takes an exclusive ``flock`` on ``keystore.json.lock``, re-reads the file, applies the
change and replaces the file atomically (temporary file, fsync, rename, fsync of the directory): a
crash leaves the old or the new store, never half of one, and two processes never lose each other's
changes. Readers use an in-memory copy refreshed when the file changes.

Key material is stored only wrapped: ``SM4-GCM(master, secret, aad = "xzgov-cryptosvc/key/v1|tenant|id|
version|type")``, so a wrapped key moved to another tenant, id, version or type does not unwrap.
Unwrapped keys live in memory only. Public keys (SM2) are stored in clear (PEM) and are the only
material ever returned.

Key types: ``sm2`` (with a ``usage`` fixed at creation: ``sign`` — sign/verify — or ``encrypt`` — SM2
encryption/decryption; never both), ``sm4`` (envelope encryption), ``hmac-sm3``.
States: ``enabled`` → ``disabled`` (no use at all, reversible) → ``destroyed`` (material wiped, the
record kept as a tombstone so that the id is never reused). Rotation adds a version: new signatures,
encryptions and MACs use the newest; older versions still verify and decrypt.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xzgov.core.errors import XzgovError
from xzgov.core.fsutil import atomic_write
from xzgov.crypto import keys, sm2, sm4
from xzgov.cryptosvc.errors import ServiceError, bad_request, conflict, not_found

FORMAT = "xzgov-cryptosvc-keystore"
KEY_TYPES = ("sm2", "sm4", "hmac-sm3")
#: what an SM2 key is for, fixed at creation (GB/T 39786, the SM2 dual-certificate model: separate signing
#: and encryption key pairs). A key stored before usages existed has none and counts as ``sign``
#: (:data:`LEGACY_SM2_USAGE`) until an admin fixes it once (:meth:`KeyStore.set_usage`).
SM2_USAGES = ("sign", "encrypt")
LEGACY_SM2_USAGE = "sign"
STATES = ("enabled", "disabled", "destroyed")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _aad(tenant: str, key_id: str, version: int, key_type: str) -> bytes:
    return f"xzgov-cryptosvc/key/v1|{tenant}|{key_id}|{version}|{key_type}".encode()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its material."""

    key_id: str
    tenant: str
    key_type: str
    label: str
    state: str
    current_version: int
    versions: list[int]
    created: str
    public_key_pem: str | None
    usage: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "tenant": self.tenant, "type": self.key_type, "label": self.label,
                "state": self.state, "current_version": self.current_version, "versions": self.versions,
                "created": self.created, "public_key": self.public_key_pem, "usage": self.usage}


class KeyStore:
    """The tenant keys of the service (one file, see the module docstring)."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != sm4.KEY_SIZE:
            raise ValueError("the master key is a 128-bit SM4 key")
        self.path = path
        self._master = master_key
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"format": FORMAT, "version": 1, "keys": {}}
        self._stamp: tuple[int, int, int] | None = None
        self._cache: dict[tuple[str, int], Any] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise _unavailable("its folder cannot be created") from error
        with self._locked():
            if not path.exists():
                self._write(self._data)
            self._refresh(force=True)

    # ------------------------------------------------------------------ file handling

    def _locked(self) -> _FileLock:
        return _FileLock(self.path.with_name(self.path.name + ".lock"))

    def _refresh(self, *, force: bool = False) -> None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError as error:
            raise ServiceError(503, "keystore_unavailable", "the key store is missing") from error
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if not force and stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as error:  # RecursionError: nested too deeply
            raise ServiceError(503, "keystore_unavailable", "the key store cannot be read") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("keys"), dict):
            raise ServiceError(503, "keystore_unavailable", "the key store is not in the expected format")
        self._data, self._stamp = data, stamp

    def _write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        try:
            atomic_write(self.path, text.encode("utf-8"), mode=0o600)
        except (OSError, XzgovError) as error:  # full or read-only disk: the store is as it was (atomic)
            raise _unavailable("it cannot be written") from error

    def _mutate(self, change: Any, key_id: str = "", request: tuple[str, str] | None = None) -> Any:
        """Run ``change(data)`` under the thread and file locks on a fresh copy; write it atomically.

        ``key_id`` and ``request`` (tenant, request id) name the records the change reads: the file store
        loads them all anyway; the PostgreSQL store (:mod:`.pgstore`) loads and locks only those rows."""
        with self._lock, self._locked():
            self._refresh(force=True)
            data = json.loads(json.dumps(self._data))
            result = change(data)
            self._write(data)
            self._refresh(force=True)
            return result

    def _snapshot(self, tenant: str | None = None, key_id: str | None = None) -> dict[str, Any]:
        """The records to read (all of them here; ``tenant``/``key_id`` narrow it for the database store)."""
        with self._lock:
            self._refresh()
            return self._data

    # ------------------------------------------------------------------ records

    @staticmethod
    def _info(record: dict[str, Any]) -> KeyInfo:
        versions = sorted(int(v) for v in record["versions"])
        current = record["current"]
        public = record["versions"].get(str(current), {}).get("public_key")
        return KeyInfo(record["id"], record["tenant"], record["type"], record["label"], record["state"],
                       current, versions, record["created"], public, _usage(record))

    @staticmethod
    def _record(data: dict[str, Any], tenant: str, key_id: str) -> dict[str, Any]:
        record = data["keys"].get(key_id)
        if not isinstance(record, dict) or record.get("tenant") != tenant:
            # another tenant's key is reported exactly as a missing one
            raise not_found("key_not_found", f"no key {key_id!r} for this tenant")
        return record

    def _new_version(self, tenant: str, key_id: str, key_type: str, version: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"created": _now()}
        if key_type == "sm2":
            private = sm2.SM2PrivateKey.generate()
            secret = private.to_bytes()
            entry["public_key"] = keys.public_key_to_pem(private.public_key)
        elif key_type == "sm4":
            secret = sm4.generate_key()
        else:
            secret = secrets.token_bytes(32)
        wrapped = sm4.gcm_encrypt(self._master, secret, _aad(tenant, key_id, version, key_type))
        entry["wrapped"] = base64.b64encode(wrapped).decode("ascii")
        return entry

    # ------------------------------------------------------------------ management

    def create(self, tenant: str, key_type: str, label: str = "", request_id: str | None = None,
               usage: str | None = None) -> KeyInfo:
        """A new key; with ``request_id`` (chosen by the caller) a retried create returns the key the first
        attempt made instead of a second one (409 ``request_id_reused`` if the retry asks for something else).
        An ``sm2`` key gets its ``usage`` (``sign`` — the default — or ``encrypt``) for good."""
        if key_type not in KEY_TYPES:
            raise bad_request("unknown_key_type", f"key type must be one of {', '.join(KEY_TYPES)}")
        if key_type == "sm2":
            usage = usage or "sign"
            if usage not in SM2_USAGES:
                raise bad_request("unknown_key_usage", f"an sm2 key's usage is one of {', '.join(SM2_USAGES)}")
        elif usage is not None:
            raise bad_request("unknown_key_usage", "only sm2 keys have a usage")
        key_id = "k-" + secrets.token_hex(10)

        def change(data: dict[str, Any]) -> KeyInfo:
            if request_id:
                for existing in data["keys"].values():
                    if existing.get("tenant") == tenant and existing.get("request_id") == request_id:
                        if (existing["type"], existing["label"], existing.get("usage")) != (key_type, label, usage):
                            raise conflict("request_id_reused", f"request id {request_id!r} already created key "
                                           f"{existing['id']} of another type or label; use a new request id")
                        return self._info(existing)
            first = self._new_version(tenant, key_id, key_type, 1)
            record = {"id": key_id, "tenant": tenant, "type": key_type, "label": label, "state": "enabled",
                      "created": _now(), "current": 1, "versions": {"1": first}}
            if usage is not None:
                record["usage"] = usage
            if request_id:
                record["request_id"] = request_id
            data["keys"][key_id] = record
            return self._info(record)

        result: KeyInfo = self._mutate(change, key_id, (tenant, request_id) if request_id else None)
        return result

    def list_keys(self, tenant: str) -> list[KeyInfo]:
        data = self._snapshot(tenant=tenant)
        return [self._info(r) for r in sorted(data["keys"].values(), key=lambda r: (r["created"], r["id"]))
                if r["tenant"] == tenant]

    def info(self, tenant: str, key_id: str) -> KeyInfo:
        return self._info(self._record(self._snapshot(tenant, key_id), tenant, key_id))

    def rotate(self, tenant: str, key_id: str) -> KeyInfo:
        def change(data: dict[str, Any]) -> KeyInfo:
            record = self._record(data, tenant, key_id)
            self._require_state(record, ("enabled",))
            version = max(int(v) for v in record["versions"]) + 1
            record["versions"][str(version)] = self._new_version(tenant, key_id, record["type"], version)
            record["current"] = version
            return self._info(record)

        result: KeyInfo = self._mutate(change, key_id)
        return result

    def set_usage(self, tenant: str, key_id: str, usage: str) -> KeyInfo:
        """Fix the usage of an SM2 key stored before usages existed (once; 409 ``key_usage_fixed`` after)."""
        if usage not in SM2_USAGES:
            raise bad_request("unknown_key_usage", f"an sm2 key's usage is one of {', '.join(SM2_USAGES)}")

        def change(data: dict[str, Any]) -> KeyInfo:
            record = self._record(data, tenant, key_id)
            self._require_state(record, ("enabled", "disabled"))
            if record["type"] != "sm2":
                raise conflict("wrong_key_type", f"key {key_id} is an {record['type']} key: only sm2 keys have a usage")
            if "usage" in record:
                raise conflict("key_usage_fixed", f"key {key_id} already has the usage {record['usage']}, for good")
            record["usage"] = usage
            return self._info(record)

        result: KeyInfo = self._mutate(change, key_id)
        return result

    def set_state(self, tenant: str, key_id: str, state: str) -> KeyInfo:
        def change(data: dict[str, Any]) -> KeyInfo:
            record = self._record(data, tenant, key_id)
            self._require_state(record, ("enabled", "disabled"))
            record["state"] = state
            if state == "destroyed":
                for entry in record["versions"].values():
                    entry.pop("wrapped", None)
                record["destroyed"] = _now()
            return self._info(record)

        result: KeyInfo = self._mutate(change, key_id)
        with self._lock:
            if state != "enabled":
                for cached in [c for c in self._cache if c[0] == key_id]:
                    del self._cache[cached]
        return result

    @staticmethod
    def _require_state(record: dict[str, Any], allowed: tuple[str, ...]) -> None:
        state = record["state"]
        if state in allowed:
            return
        if state == "destroyed":
            raise ServiceError(410, "key_destroyed", f"key {record['id']} was destroyed")
        raise conflict("key_disabled", f"key {record['id']} is {state}")

    # ------------------------------------------------------------------ use

    def material(self, tenant: str, key_id: str, key_type: str, version: int | None = None,
                 usage: str | None = None) -> tuple[Any, int]:
        """The unwrapped key (SM2PrivateKey or bytes) and its version; checks tenant, type, usage (an SM2
        operation names one: 409 ``key_usage`` for a key of the other) and state."""
        data = self._snapshot(tenant, key_id)
        record = self._record(data, tenant, key_id)
        self._require_state(record, ("enabled",))
        if record["type"] != key_type:
            raise conflict("wrong_key_type",
                           f"key {key_id} is an {record['type']} key, this operation needs {key_type}")
        if usage is not None and _usage(record) != usage:
            raise conflict("key_usage", f"key {key_id} is an {_usage(record)} key; this operation needs an sm2 key "
                                        f"with usage {usage} (separate signing and encryption key pairs)")
        number = record["current"] if version is None else version
        entry = record["versions"].get(str(number))
        if entry is None:
            raise not_found("key_version_not_found", f"key {key_id} has no version {number}")
        cached = self._cache.get((key_id, number))
        if cached is not None:
            return cached, number
        try:
            secret = sm4.gcm_decrypt(self._master, base64.b64decode(entry["wrapped"]),
                                     _aad(tenant, key_id, number, key_type))
        except (KeyError, ValueError) as error:
            raise ServiceError(500, "key_unwrap_failed", "a stored key does not unwrap under the master key") from error
        value: Any = sm2.SM2PrivateKey(int.from_bytes(secret, "big")) if key_type == "sm2" else secret
        if key_type == "sm2":
            _ = value._native  # load into OpenSSL once
        with self._lock:
            self._cache[(key_id, number)] = value
        return value, number


def _usage(record: dict[str, Any]) -> str | None:
    """An SM2 key's usage (a key stored before usages existed: :data:`LEGACY_SM2_USAGE`); None for others."""
    if record.get("type") != "sm2":
        return None
    return str(record.get("usage", LEGACY_SM2_USAGE))


def _unavailable(what: str) -> ServiceError:
    """503 ``keystore_unavailable``: the caller is told the store is unavailable, not where it is; the
    operator's log (and ``python -m xzgov.cryptosvc`` at start) gets the cause from ``__cause__``."""
    return ServiceError(503, "keystore_unavailable", f"the key store is unavailable: {what}")


class _FileLock:
    """An exclusive ``flock`` on a lock file beside the store (blocks until free)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _FileLock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as error:
            raise _unavailable(f"its lock file {self.path.name} cannot be opened") from error
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
