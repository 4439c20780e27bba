"""What the verifier trusts besides the seals: which keys, when, and which sources there are.

Two signed files at the root of the log centre's tree (``<root>/<source>/`` holds the days):

* ``keys.json`` — the *key-rotation record*: one statement per rotation, ``old`` → ``new`` from a day on,
  signed by both keys (SM2 over :func:`rotation_message`). The operator pins one key (``--trusted-key``,
  normally the current one); every key linked to a pinned key by valid statements is trusted *for its
  period only*: the old key until the day before ``from``, the new one from ``from`` on. A seal dated
  outside its signer's period is an error (a retired or stolen key cannot re-sign the past or the future).
  A key rotated away twice, or reached twice (a fork), is not trusted: the record is refused.
* ``sources.json`` — the *sources manifest* the sealer rewrites on every run (SM2 over
  :func:`manifest_message` by the sealing key): every source it has sealed with the last day it sealed,
  the retention it applies, and the sources the operator retired. A source that disappears, a manifest
  older than the expected last sealed day (a replayed one) or a source whose newest seal is older than
  the manifest says are errors.

Both are written by ``roles/log_centre/files/xzgov-log-seal`` (``--rotate-key``; every run) and by the
reference functions here (:func:`write_rotation`, :func:`record_source`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xzgov.core.clock import parse_day, shift_day
from xzgov.crypto import keys, sm2
from xzgov.crypto.b64 import strict_b64decode

MANIFEST_NAME = "sources.json"
KEYS_NAME = "keys.json"
MANIFEST_FORMAT = "xzgov-logchain-sources/1"
KEYS_FORMAT = "xzgov-logchain-keys/1"
ROTATION_FORMAT = "xzgov-logchain-rotation/1"
MAX_TRUST_FILE_BYTES = 4 * 1024 * 1024
#: A source's name: the host name or address the log centre files it under. Nothing else is one — the signed
#: manifest lists ``source=<name> <date>`` lines, so a name holding a space or a line break could make two
#: manifests sign the same bytes (the sealer, roles/log_centre/files/xzgov-log-seal, applies the same pattern).
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}")
#: Retention the log centre applies at least (Cybersecurity Law art. 21): the verifier's default.
DEFAULT_RETENTION_DAYS = 180


def _date(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a date")
    return parse_day(text).isoformat()


def _read_json(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_TRUST_FILE_BYTES:
        raise ValueError(f"larger than {MAX_TRUST_FILE_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes())
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _b64(text: object) -> bytes:
    try:
        return strict_b64decode(text)
    except ValueError as error:
        raise ValueError(f"bad base64: {error}") from error


# ------------------------------------------------------------------------------------- key rotation
def rotation_message(old: str, new: str, start: str) -> bytes:
    """The bytes both keys of a rotation sign: ``old`` seals days before ``start``, ``new`` from it on."""
    return f"{ROTATION_FORMAT}\nold={old}\nnew={new}\nfrom={start}\n".encode()


@dataclass
class TrustedKey:
    """A key the verifier trusts, for the days ``not_before`` … ``not_after`` (``""``: unbounded)."""

    public_key: sm2.SM2PublicKey
    fingerprint: str
    not_before: str = ""
    not_after: str = ""
    pinned: bool = False

    def valid_on(self, date: str) -> bool:
        return (not self.not_before or date >= self.not_before) and (not self.not_after or date <= self.not_after)

    def period(self) -> str:
        return f"{self.not_before or '…'} – {self.not_after or '…'}"


@dataclass
class Rotation:
    old: str
    new: str
    start: str
    old_key: sm2.SM2PublicKey
    new_key: sm2.SM2PublicKey


@dataclass
class KeyRing:
    """The trusted keys with their periods, and what was wrong with the rotation record (errors)."""

    keys: dict[str, TrustedKey]
    problems: list[str] = field(default_factory=list)
    record: str = ""

    def get(self, fingerprint: str) -> TrustedKey | None:
        return self.keys.get(fingerprint.lower())


def _parse_rotation(item: object) -> Rotation:
    if not isinstance(item, dict):
        raise ValueError("a rotation is not a JSON object")
    old, new, start = item.get("old"), item.get("new"), _date(item.get("from"))
    if not isinstance(old, str) or not isinstance(new, str):
        raise ValueError("old/new fingerprints missing")
    try:
        old_key = keys.public_key_from_pem(str(item.get("old_public_key", "")))
        new_key = keys.public_key_from_pem(str(item.get("new_public_key", "")))
    except ValueError as error:
        raise ValueError(f"public key unreadable ({error})") from error
    if keys.fingerprint(old_key) != old.lower() or keys.fingerprint(new_key) != new.lower():
        raise ValueError("a public key does not match its fingerprint")
    if old.lower() == new.lower():
        raise ValueError("old and new are the same key")
    message = rotation_message(old.lower(), new.lower(), start)
    if not sm2.verify(old_key, message, _b64(item.get("old_signature"))):
        raise ValueError(f"signature of the old key {old[:16]}… does not verify")
    if not sm2.verify(new_key, message, _b64(item.get("new_signature"))):
        raise ValueError(f"signature of the new key {new[:16]}… does not verify")
    return Rotation(old.lower(), new.lower(), start, old_key, new_key)


def read_rotations(path: Path) -> tuple[list[Rotation], list[str]]:
    """The valid rotation statements of ``path`` and the problems of the others."""
    try:
        data = _read_json(path)
    except (OSError, ValueError) as error:
        return [], [f"{path}: not a readable key-rotation record ({error})"]
    if data.get("format") != KEYS_FORMAT or not isinstance(data.get("rotations"), list):
        return [], [f"{path}: not a {KEYS_FORMAT} record (format, rotations)"]
    rotations, problems = [], []
    for index, item in enumerate(data["rotations"], 1):
        try:
            rotations.append(_parse_rotation(item))
        except ValueError as error:
            problems.append(f"{path}: rotation {index}: {error}")
    return rotations, problems


class OverlappingKeysError(ValueError):
    """Two trusted keys are valid on the same days (:func:`build_keyring`): the caller gave a key the
    rotation record already vouches for, or two current keys."""


def build_keyring(pins: Sequence[sm2.SM2PublicKey], record: Path | None = None) -> KeyRing:
    """The keys trusted from the operator's ``pins`` and the rotation ``record`` (when it exists).

    Raises ``ValueError`` when two trusted keys would be valid on the same day (two pinned keys without
    a record ordering them): a flat set of keys would let a retired key sign any day."""
    ring = KeyRing({}, record=str(record) if record else "")
    for key in pins:
        fingerprint = keys.fingerprint(key)
        ring.keys[fingerprint] = TrustedKey(key, fingerprint, pinned=True)
    rotations: list[Rotation] = []
    if record is not None and record.exists():
        rotations, ring.problems = read_rotations(record)
    olds = [r.old for r in rotations]
    news = [r.new for r in rotations]
    forked = {f for f in olds if olds.count(f) > 1} | {f for f in news if news.count(f) > 1}
    if forked:
        ring.problems.append(f"{record}: a key is rotated away or reached more than once (a forked record): "
                             + ", ".join(sorted(f[:16] + "…" for f in forked)))
        rotations = [r for r in rotations if r.old not in forked and r.new not in forked]
    pending = list(rotations)
    while True:
        linked = [r for r in pending if r.old in ring.keys or r.new in ring.keys]
        if not linked:
            break
        for rotation in linked:
            pending.remove(rotation)
            old = ring.keys.setdefault(rotation.old, TrustedKey(rotation.old_key, rotation.old))
            new = ring.keys.setdefault(rotation.new, TrustedKey(rotation.new_key, rotation.new))
            end = shift_day(dt.date.fromisoformat(rotation.start), -1).isoformat()
            old.not_after = min(old.not_after, end) if old.not_after else end
            new.not_before = max(new.not_before, rotation.start)
    ordered = sorted(ring.keys.values(), key=lambda k: k.not_before)
    for index, first in enumerate(ordered):
        for second in ordered[index + 1:]:
            if (not first.not_after or first.not_after >= second.not_before) and \
                    (not second.not_after or second.not_after >= first.not_before):
                raise OverlappingKeysError(
                    f"trusted keys {first.fingerprint[:16]}… ({first.period()}) and {second.fingerprint[:16]}… "
                    f"({second.period()}) are both valid on the same days: give only the current key with the "
                    f"key-rotation record ({KEYS_NAME}) that says when each earlier key was valid")
    return ring


def write_rotation(root: Path, old: sm2.SM2PrivateKey, new: sm2.SM2PrivateKey, start: str) -> dict[str, Any]:
    """Append the rotation ``old`` → ``new`` from ``start`` to ``root/keys.json`` (reference implementation)."""
    path = root / KEYS_NAME
    data: dict[str, Any] = {"format": KEYS_FORMAT, "rotations": []}
    if path.exists():
        data = _read_json(path)
    old_fp, new_fp = keys.fingerprint(old.public_key), keys.fingerprint(new.public_key)
    message = rotation_message(old_fp, new_fp, _date(start))
    item = {"old": old_fp, "new": new_fp, "from": _date(start),
            "old_public_key": keys.public_key_to_pem(old.public_key),
            "new_public_key": keys.public_key_to_pem(new.public_key),
            "old_signature": base64.b64encode(sm2.sign(old, message)).decode(),
            "new_signature": base64.b64encode(sm2.sign(new, message)).decode()}
    data["rotations"].append(item)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return item


# ------------------------------------------------------------------------------------------ manifest
def manifest_message(retention_days: int, sources: Mapping[str, str], retired: Mapping[str, str]) -> bytes:
    """The bytes the sealer signs for the sources manifest (each source with the last day it sealed)."""
    lines = [MANIFEST_FORMAT, f"retention_days={retention_days}"]
    lines += [f"source={name} {sources[name]}" for name in sorted(sources)]
    lines += [f"retired={name} {retired[name]}" for name in sorted(retired)]
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Manifest:
    retention_days: int
    sources: dict[str, str]  # source → last day sealed
    retired: dict[str, str]  # source → last day sealed before it was retired
    signer: str
    signature: bytes

    @property
    def through(self) -> str:
        """The newest day the sealer sealed (``""``: no source yet)."""
        return max(self.sources.values(), default="")

    def message(self) -> bytes:
        return manifest_message(self.retention_days, self.sources, self.retired)


def _names(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(name, str) and name for name in value):
        raise ValueError(f"{what!r} is not an object of source: date")
    for name in value:
        if not SOURCE_NAME.fullmatch(name):
            raise ValueError(f"{what!r} names {name!r}, not a host name or address (letters, digits, . _ : -): "
                             "no sealer writes that (the manifest was edited)")
    return {name: _date(day) for name, day in value.items()}


def read_manifest(path: Path) -> tuple[Manifest | None, str]:
    """The manifest, or ``None`` and why not (the signature is checked by the caller)."""
    try:
        data = _read_json(path)
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is not {MANIFEST_FORMAT!r}")
        retention = data.get("retention_days")
        if not isinstance(retention, int) or isinstance(retention, bool) or retention < 0:
            raise ValueError("'retention_days' is not a number of days")
        if not isinstance(data.get("signer"), str):
            raise ValueError("'signer' missing")
        return Manifest(retention, _names(data.get("sources"), "sources"), _names(data.get("retired", {}), "retired"),
                        data["signer"].lower(), _b64(data.get("signature"))), ""
    except (OSError, ValueError) as error:
        return None, str(error)


def write_manifest(
    root: Path, private_key: sm2.SM2PrivateKey, sources: Mapping[str, str], *,
    retired: Mapping[str, str] | None = None, retention_days: int = DEFAULT_RETENTION_DAYS,
) -> dict[str, Any]:
    """Write ``root/sources.json`` signed by ``private_key`` (reference implementation of the sealer's)."""
    names = {name: _date(day) for name, day in sources.items()}
    gone = {name: _date(day) for name, day in (retired or {}).items()}
    data = {"format": MANIFEST_FORMAT, "retention_days": retention_days, "sources": dict(sorted(names.items())),
            "retired": dict(sorted(gone.items())), "signer": keys.fingerprint(private_key.public_key),
            "signature": base64.b64encode(sm2.sign(private_key, manifest_message(
                retention_days, names, gone))).decode(),
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    (root / MANIFEST_NAME).write_text(json.dumps(data, indent=1) + "\n")
    return data


def record_source(root: Path, source: str, date: str, private_key: sm2.SM2PrivateKey) -> None:
    """Record ``source`` sealed through ``date`` in the manifest at ``root`` (what each sealer run records)."""
    path = root / MANIFEST_NAME
    current, _ = read_manifest(path) if path.exists() else (None, "")
    if current is None:
        write_manifest(root, private_key, {source: date})
        return
    sources = dict(current.sources)
    sources[source] = max(sources.get(source, date), date)
    write_manifest(root, private_key, sources, retired=current.retired, retention_days=current.retention_days)
