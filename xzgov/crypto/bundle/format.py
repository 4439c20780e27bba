"""The bundle file: constants, canonical serialisations, reading it, and checking its shape."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto.files import BUNDLE_LIMIT, read_regular

FORMAT = "xzgov-signed-bundle"
VERSION = 1
ALGORITHM = "SM2-with-SM3"
DEFAULT_NAME = "xzgov-bundle.json"

#: A bundle nests 4 levels (bundle, signed, files, entry); anything much deeper is no bundle.
_MAX_DEPTH = 16
#: GB/T 32918.2: the ID length is a 16-bit count of bits.
_MAX_UID_BYTES = 8191
#: A PEM SubjectPublicKeyInfo of SM2 is 178 characters.
_MAX_PUBLIC_KEY_CHARS = 4096
_SIGNED_FIELDS = {"algorithm", "created", "directories", "files", "format", "signer", "uid", "version"}


#: Digits of the longest whole number a bundle may hold (sizes and counts).
_MAX_DIGITS = 30


def canonical_json(data: Any) -> bytes:
    """The signed serialisation: sorted keys, no whitespace, UTF-8 (values are strings/ints only)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def render_bundle(bundle: dict[str, Any]) -> bytes:
    """The one accepted on-disk layout of a bundle."""
    return (json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def load_bundle(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The raw bytes and parsed JSON of a bundle; UsageError (exit 2) when it is no bundle at all."""
    def unreadable(reason: str) -> UsageError:
        return UsageError(f"cannot read bundle {path}: {reason}",
                          [Diagnostic(str(path), 0, 0, "", reason, code="unreadable")])

    raw = read_regular(path, "bundle", limit=BUNDLE_LIMIT)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise ValueError(f"duplicate key {name!r}")
            result[name] = value
        return result

    def whole_number(text: str) -> int:
        # a bundle's numbers are sizes and counts; thousands of digits are no bundle (and Python's own refusal
        # told the user to call sys.set_int_max_str_digits())
        if len(text.lstrip("-")) > _MAX_DIGITS:
            raise ValueError(f"a number of {len(text.lstrip('-')):,} digits")
        return int(text)

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_int=whole_number)
    except (UnicodeDecodeError, ValueError) as error:
        raise unreadable(f"not a JSON bundle ({error})") from error
    except RecursionError as error:  # deeply nested arrays: the parser's recursion limit
        raise unreadable("not a bundle: JSON nested too deeply") from error
    if _depth_exceeds(data, _MAX_DEPTH):  # checked before rendering it again (recursive, slower)
        raise unreadable(f"not a bundle: JSON nested deeper than {_MAX_DEPTH} levels")
    try:
        render_bundle(data)
    except UnicodeEncodeError as error:  # "\ud800": a lone surrogate escape cannot be UTF-8 or a path
        raise unreadable("not a bundle: a string holds an invalid Unicode escape (lone surrogate)") from error
    if not isinstance(data, dict) or not isinstance(data.get("signed"), dict) \
            or data["signed"].get("format") != FORMAT:
        raise unreadable(f"not an {FORMAT} file")
    return raw, data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True when ``data`` nests deeper than ``limit`` (iterative: no recursion on hostile input)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def shape_problems(data: dict[str, Any]) -> list[str]:
    """What is wrong with the fields of a parsed bundle (empty: every field has its type)."""
    signed = data["signed"]
    problems = []
    if set(data) != {"signature", "signed"}:
        return ["unexpected or missing top-level fields"]
    if set(signed) != _SIGNED_FIELDS:
        problems.append("unexpected or missing fields in 'signed'")
        return problems
    if signed["version"] != VERSION or signed["algorithm"] != ALGORITHM:
        problems.append(f"unsupported bundle version/algorithm {signed['version']!r}/{signed['algorithm']!r}")
    uid = signed["uid"]
    if not isinstance(uid, str) or not uid or not uid.isascii() or len(uid) > _MAX_UID_BYTES \
            or not isinstance(signed["created"], str):
        problems.append(f"malformed uid or created (the uid is ASCII, 1 to {_MAX_UID_BYTES} bytes)")
    signer = signed["signer"]
    if not isinstance(signer, dict) or set(signer) != {"fingerprint", "public_key"} \
            or not all(isinstance(v, str) for v in signer.values()) \
            or len(signer["public_key"]) > _MAX_PUBLIC_KEY_CHARS:
        problems.append("malformed signer")
    files = signed["files"]
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and set(f) == {"path", "size", "sm3"} and isinstance(f["path"], str)
        and isinstance(f["sm3"], str) and type(f["size"]) is int and f["size"] >= 0 for f in files
    ):  # (type, not isinstance: JSON true is no size)
        problems.append("malformed file list")
    elif not files and not signed["directories"]:
        problems.append("an empty file list (a signed set holds at least one file or directory)")
    elif len({f["path"] for f in files}) != len(files):
        problems.append("a file listed twice")
    elif any(_unsafe(f["path"], file=True) for f in files):
        problems.append("a file path leaves the bundle's directory or is not a normalised relative path "
                        "(absolute, '..', '.', NUL, backslash or empty)")
    dirs = signed["directories"]
    if not isinstance(dirs, list) or not all(isinstance(d, str) and not _unsafe(d) for d in dirs):
        problems.append("malformed directory list")
    if not isinstance(data["signature"], str):
        problems.append("malformed signature")
    return problems


def _unsafe(rel: str, *, file: bool = False) -> bool:
    """True unless ``rel`` is a normalised POSIX path below the bundle's directory (as ``sign`` writes
    them). NUL cannot be in a path (``open`` would raise); ``a//b`` or ``./a`` would name a listed
    file a second way; a file needs a name (``.`` is the directory itself)."""
    if not rel or "\x00" in rel or "\\" in rel:
        return True
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or pure.as_posix() != rel:
        return True
    return file and not pure.parts
