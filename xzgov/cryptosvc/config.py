"""Service configuration (YAML) and the secret files it names.

Every secret file (master key, audit signing key, systems file) must be a regular file readable by its
owner only (no group/other bits) and owned by the user the service runs as; otherwise the service
refuses to start (:class:`ConfigError`).

```yaml
state_dir: /var/lib/xzgov-cryptosvc          # keystore.json, audit.jsonl
master_key_file: /etc/xzgov-cryptosvc/master.key    # 32 hex digits (SM4 key); HSM in production
signing_key_file: /etc/xzgov-cryptosvc/audit.pem    # SM2 key (PKCS#8 PEM) signing audit checkpoints
systems_file: /etc/xzgov-cryptosvc/systems.yml      # callers: HMAC-SM3 keys and roles
checkpoint_every: 100          # a signed checkpoint after this many audit records (and at shutdown)
max_body_bytes: 1048576        # larger requests: 413 payload_too_large (from Content-Length, before reading)
body_timeout_seconds: 10       # the whole body must arrive within this: 408 request_timeout (slow bodies)
header_timeout_seconds: 10     # a connection must send a complete request head within this, else closed
limit_concurrency: 512         # requests in progress (app) and connections (uvicorn) beyond: 503 busy
timeout_keep_alive_seconds: 5  # an idle keep-alive connection is closed after this
nonce_cache_per_system: 100000 # replay nonces remembered per calling system: beyond, 503 busy for that system only
clock_skew_seconds: 300        # request timestamps outside ±skew: 401 expired_request
audit_auth_failures_per_minute: 10  # failed authentications audited per client address (then one summary)
backend: files                 # files (keystore.json + audit.jsonl in state_dir) | postgresql (HA, pgstore.py)
database_dsn: "host=/var/run/postgresql dbname=xzgov_cryptosvc"   # postgresql: libpq DSN (peer auth, no password)
```
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xzgov.crypto import keys, sm2
from xzgov.crypto.files import describe_yaml_error
from xzgov.cryptosvc.errors import ConfigError

ROLES = ("tenant", "admin")
BACKENDS = ("files", "postgresql")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
#: What :func:`is_system_name` accepts, in words (for messages).
SYSTEM_NAME_RULE = "lowercase letters, digits and dashes, 1 to 63 characters, starting with a letter or digit"


def is_system_name(name: object) -> bool:
    """Whether ``name`` may name a calling system: the one rule of the systems file and of ``init``."""
    return isinstance(name, str) and _NAME.match(name) is not None


def read_secret_file(path: Path, what: str, *, check_owner: bool = True) -> bytes:
    """The bytes of a secret file that only its owner (the service user) can read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise ConfigError(f"{what} {path}: {error.strerror}") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(f"{what} {path} is readable by group or others (mode {info.st_mode & 0o777:04o}); "
                              f"chmod 600 it")
        if check_owner and info.st_uid != os.geteuid():
            raise ConfigError(f"{what} {path} is not owned by the service user (uid {os.geteuid()})")
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            if sum(map(len, chunks)) > 1 << 20:
                raise ConfigError(f"{what} {path} is larger than 1 MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_master_key(data: bytes, source: str) -> bytes:
    text = data.decode("ascii", "replace").strip()
    if not re.fullmatch(r"[0-9a-fA-F]{32}", text):
        raise ConfigError(f"master key {source}: expected 32 hex digits (a 128-bit SM4 key)")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class System:
    """A calling system (tenant) or an administrator, with its HMAC-SM3 request key."""

    name: str
    role: str
    hmac_key: bytes = field(repr=False)


def load_secret_yaml(text: str | bytes, what: str, source: str | Path) -> Any:
    """Parse YAML that may hold secrets (the systems file's HMAC keys). A syntax error names only the
    problem, line and column, never the text: ``str(error)`` of PyYAML (and of a UnicodeDecodeError)
    quotes the offending line or bytes, which may be a key."""
    try:
        return yaml.safe_load(text.decode("utf-8") if isinstance(text, bytes) else text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {source}: not valid YAML: {describe_yaml_error(error)}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {source}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except RecursionError as error:  # "[[[[…": deeper than the parser goes
        raise ConfigError(f"{what} {source}: nested too deeply to be a {what}") from error


def _shown_name(name: object, number: int) -> str:
    """A bad system name as an error may show it: quoted when short, else by its place and length — a mis-edited
    line can put an ``hmac_key`` where the name goes, and the error reaches the journal."""
    if isinstance(name, str) and len(name) <= 63 and not re.fullmatch(r"[0-9a-fA-F]{32,}", name):
        return repr(name)
    return f"(entry {number} of systems:, {len(str(name))} characters, not quoted: it may be a key)"


def parse_systems(data: bytes, source: str) -> dict[str, System]:
    document = load_secret_yaml(data, "systems file", source)
    entries = document.get("systems") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"systems file {source}: expected a mapping 'systems: {{name: {{hmac_key, role}}}}'")
    systems: dict[str, System] = {}
    for number, (name, entry) in enumerate(entries.items(), start=1):
        if not is_system_name(name):
            raise ConfigError(f"systems file {source}: bad system name {_shown_name(name, number)} "
                              f"({SYSTEM_NAME_RULE})")
        if not isinstance(entry, dict):
            raise ConfigError(f"systems file {source}: {name}: expected a mapping")
        role = entry.get("role", "tenant")
        key = str(entry.get("hmac_key", ""))
        if role not in ROLES:
            raise ConfigError(f"systems file {source}: {name}: role must be one of {', '.join(ROLES)}")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", key):
            raise ConfigError(f"systems file {source}: {name}: hmac_key must be 64 hex digits (256 bits)")
        systems[name] = System(name, role, bytes.fromhex(key))
    return systems


@dataclass(frozen=True)
class ServiceConfig:
    state_dir: Path
    master_key: bytes = field(repr=False)
    signing_key: sm2.SM2PrivateKey = field(repr=False)
    systems: dict[str, System] = field(repr=False)
    checkpoint_every: int = 100
    max_body_bytes: int = 1 << 20
    clock_skew_seconds: int = 300
    nonce_cache_per_system: int = 100_000
    body_timeout_seconds: int = 10
    header_timeout_seconds: int = 10
    limit_concurrency: int = 512
    timeout_keep_alive_seconds: int = 5
    audit_auth_failures_per_minute: int = 10
    backend: str = "files"
    database_dsn: str = ""

    @property
    def keystore_path(self) -> Path:
        return self.state_dir / "keystore.json"

    @property
    def audit_path(self) -> Path:
        return self.state_dir / "audit.jsonl"


def _config_path(document: Mapping[str, Any], name: str, source: Path) -> Path:
    """The path ``document[name]`` names; a relative one is relative to the configuration's folder (``serve``
    runs from / under systemd: relative to its working directory, a configuration ``init`` wrote with a relative
    directory named files that were not there)."""
    if name not in document:
        raise ConfigError(f"configuration {source}: missing {name}: write the path it names (xzgov cryptosvc "
                          "init writes every one)")
    value = document[name]
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        shown = "an empty or NUL-holding string" if isinstance(value, str) else f"a {type(value).__name__}"
        raise ConfigError(f"configuration {source}: {name} must be a path (a string), not {shown}")
    return source.parent / value  # (an absolute value stays as it is)


def load_config(path: str | Path, *, check_owner: bool = True) -> ServiceConfig:
    """Read the YAML configuration and the secret files it names."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as error:
        raise ConfigError(f"configuration {source}: {error.strerror or error}") from error
    # not a secret file, but a database_dsn with a password (refused below) must not be quoted either
    document: Any = load_secret_yaml(raw, "configuration", source)
    if not isinstance(document, dict):
        raise ConfigError(f"configuration {source}: expected a mapping")
    state_dir, master_file, signing_file, systems_file = (
        _config_path(document, name, source)
        for name in ("state_dir", "master_key_file", "signing_key_file", "systems_file"))
    master = parse_master_key(read_secret_file(master_file, "master key", check_owner=check_owner), str(master_file))
    pem = read_secret_file(signing_file, "audit signing key", check_owner=check_owner).decode("ascii", "replace")
    try:
        signing = keys.private_key_from_pem(pem)
    except (ValueError, keys.KeyFormatError) as error:
        raise ConfigError(f"audit signing key {signing_file}: {error}") from error
    systems = parse_systems(read_secret_file(systems_file, "systems file", check_owner=check_owner), str(systems_file))

    def number(name: str, default: int, low: int, high: int) -> int:
        value = document.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"configuration {source}: {name} must be an integer in [{low}, {high}]")
        return value

    backend = document.get("backend", "files")
    if backend not in BACKENDS:
        raise ConfigError(f"configuration {source}: backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    dsn = document.get("database_dsn", "")
    if backend == "postgresql" and (not isinstance(dsn, str) or not dsn.strip()):
        raise ConfigError(f"configuration {source}: backend postgresql needs database_dsn (a libpq connection "
                          "string, e.g. \"host=/var/run/postgresql dbname=xzgov_cryptosvc\")")
    if isinstance(dsn, str) and dsn.strip() and _carries_password(dsn, source, parse=backend == "postgresql"):
        raise ConfigError(f"configuration {source}: database_dsn carries a password; use peer authentication "
                          "over the Unix socket (or a 0600 ~/.pgpass of the service user)")

    return ServiceConfig(
        state_dir=state_dir,
        backend=backend,
        database_dsn=dsn if isinstance(dsn, str) else "",
        master_key=master,
        signing_key=signing,
        systems=systems,
        checkpoint_every=number("checkpoint_every", 100, 1, 1_000_000),
        max_body_bytes=number("max_body_bytes", 1 << 20, 1024, 64 << 20),
        clock_skew_seconds=number("clock_skew_seconds", 300, 5, 3600),
        nonce_cache_per_system=number("nonce_cache_per_system", 100_000, 100, 10_000_000),
        body_timeout_seconds=number("body_timeout_seconds", 10, 1, 300),
        header_timeout_seconds=number("header_timeout_seconds", 10, 1, 300),
        limit_concurrency=number("limit_concurrency", 512, 1, 100_000),
        timeout_keep_alive_seconds=number("timeout_keep_alive_seconds", 5, 1, 300),
        audit_auth_failures_per_minute=number("audit_auth_failures_per_minute", 10, 1, 10_000),
    )


#: a URI connection string's user information with a password (``postgresql://user:secret@host``), or a
#: ``password`` / ``sslpassword`` keyword anywhere (keyword form, or a URI's ``?password=``)
_URI_PASSWORD = re.compile(r"^postgres(?:ql)?://[^/?#@]*:[^/?#@]+@|[?&](?:ssl)?password=|(?:^|\s)(?:ssl)?password\s*=",
                           re.IGNORECASE)
#: the connection keywords that carry a secret: the password, and the passphrase of the TLS client key
_SECRET_KEYWORDS = ("password", "sslpassword")


def _carries_password(dsn: str, source: str | Path, *, parse: bool) -> bool:
    """Whether a libpq connection string (keyword or URI form) gives a password or a TLS key passphrase: as libpq
    parses it when psycopg's libpq is there (``conninfo_to_dict``), else by its written forms. With ``parse``
    (the backend uses the string), one libpq cannot parse is a configuration error; otherwise (a string the
    ``files`` backend leaves unused) its text is judged."""
    try:
        from psycopg import Error as PsycopgError
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # no libpq on this machine: the service could not connect either; judge the text
        return bool(_URI_PASSWORD.search(dsn.strip()))
    try:
        parsed = conninfo_to_dict(dsn)
    except PsycopgError as error:
        if not parse:
            return bool(_URI_PASSWORD.search(dsn.strip()))
        raise ConfigError(f"configuration {source}: database_dsn is not a libpq connection string "
                          f"({' '.join(str(error).split())[:200]})") from None
    return any(parsed.get(keyword) for keyword in _SECRET_KEYWORDS)
