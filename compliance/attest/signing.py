"""Signing and verifying an attestation set with SM2 (SM3 digest, default ID), through :mod:`xzgov.crypto`.

The signed message is the canonical JSON (sorted keys, no whitespace, UTF-8) of::

    {"algorithm": "SM2-SM3", "document": <the set without its signature>, "signer": <fingerprint>,
     "signed": <UTC time>}

so the items, results, reasons, evidence digests, dates and the signer's identity are all covered;
changing any of them (or the signature block's own fields) breaks the signature. Nonces come from
:func:`xzgov.crypto.sm2.sign` (OpenSSL's DRBG, or RFC 6979 hedged with fresh randomness): never a
weak or reused ``k``.

:func:`write_output` is the one way the ``xzgov attest`` commands write a worksheet or a set: atomically
(a full disk leaves the previous file, or none, never a partial one), never through a symbolic link, and
never over an existing file unless replacing it is the point (signing a set in place, ``--force``).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from compliance.attest.model import RESULTS
from xzgov.core.clock import region_today
from xzgov.core.errors import Diagnostic, UsageError, missing_folder_fix, output_error
from xzgov.core.fsutil import UnsafePathError, atomic_write
from xzgov.core.model import FAILED_CONCLUSIONS
from xzgov.core.yamlio import LocatedDocument
from xzgov.crypto import keys, sm2
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.bundle.format import canonical_json
from xzgov.crypto.sm3 import sm3_file

ALGORITHM = "SM2-SM3"


#: The longest a signed set stays in force, ``date`` → ``expires`` (what ``xzgov attest sign --valid-days``
#: allows): a set signed "until 2099" kept a self-assessment or an old platform record deciding items for ever.
MAX_VALID_DAYS = 1100


def period_problems(doc: LocatedDocument, date: dt.date, expires: dt.date) -> list[Diagnostic]:
    """A set's period and, for a platform set, its assessment's sense — checked when it is signed and whenever
    it is loaded (one rule): ``expires`` on or after ``date`` and at most :data:`MAX_VALID_DAYS` later; the
    assessment dated on or before the set; a default result that is not 不适用 (the platform's items would
    drop out of every tenant's denominator); a failed assessment (不符合 / 差) that lists what failed (a row 不符合)
    or defaults to 不符合 — never every unlisted item 符合."""
    found: list[Diagnostic] = []
    data = doc.data
    if expires < date:
        found.append(_problem(doc, ("expires",), f"expires {expires} before the set's date {date}",
                              "give an expires after the date (or leave it empty when signing)", "date"))
    elif (expires - date).days > MAX_VALID_DAYS:
        found.append(_problem(doc, ("expires",), f"in force {(expires - date).days} days ({date} → {expires}), more "
                              f"than the {MAX_VALID_DAYS} allowed", "attest again when the period ends; sign with "
                              f"--valid-days at most {MAX_VALID_DAYS}", "date"))
    assessment = data.get("assessment") if data["metadata"]["scope"] == "platform" else None
    if isinstance(assessment, Mapping):
        assessed = doc.calendar_day(("assessment", "date"), assessment["date"], found)
        if assessed is not None and assessed > date:
            found.append(_problem(doc, ("assessment", "date"), f"the assessment ({assessed}) is dated after the set "
                                  f"({date})", "record an assessment that has taken place", "date"))
        if assessment["default_result"] == "不适用":
            found.append(_problem(doc, ("assessment", "default_result"), "不适用 as the default result: every "
                                  "platform item the report does not list would leave every tenant's score",
                                  "give the result the report states for them (符合 / 部分符合 / 不符合)", "schema"))
        failed_rows = any(row.get("result") == "不符合" for row in data.get("attestations") or [])
        if assessment["conclusion"] in FAILED_CONCLUSIONS and not failed_rows \
                and assessment["default_result"] != "不符合":
            found.append(_problem(doc, ("assessment", "default_result"), f"the platform's assessment concluded "
                                  f"{assessment['conclusion']}, yet no item is 不符合 and the default is "
                                  f"{assessment['default_result']}", "list the items the report found 不符合 "
                                  "(rows), or default to 不符合", "schema"))
    return found


def evidence_path(base: Path, relative: str) -> Path | None:
    """The evidence file ``relative`` to the set's folder, or None when it leaves the folder or is no path at all
    (a NUL byte or an unreadable name: it was an internal error, exit 3)."""
    try:
        target = (base / relative).resolve()
        target.relative_to(base.resolve())
    except (ValueError, OSError):
        return None
    return target


def message(document: Mapping[str, Any], signer: str, signed: str) -> bytes:
    """The bytes an SM2 signature covers (see the module docstring)."""
    body = {key: value for key, value in document.items() if key != "signature"}
    return canonical_json({"algorithm": ALGORITHM, "document": body, "signer": signer, "signed": signed})


def verify_signature(document: Mapping[str, Any]) -> tuple[bool, str, str]:
    """(valid, fingerprint of the embedded key, problem). The caller checks that the fingerprint is pinned."""
    signature = document.get("signature")
    if not isinstance(signature, Mapping):
        return False, "", "the set is not signed"
    try:
        public = sm2.SM2PublicKey.from_hex(str(signature["public_key"]))
    except (sm2.SM2Error, KeyError, ValueError):
        return False, "", "signature.public_key is not an SM2 public key"
    fingerprint = keys.fingerprint(public)
    if fingerprint != signature.get("signer"):
        return False, fingerprint, "signature.signer is not the fingerprint of signature.public_key"
    try:
        raw = strict_b64decode(signature.get("value"))
    except ValueError as error:
        return False, fingerprint, f"signature.value is {error}"
    if not sm2.verify(public, message(document, fingerprint, str(signature["signed"])), raw):
        return False, fingerprint, "SM2 signature does not verify: the set changed after it was signed"
    return True, fingerprint, ""


def _problem(doc: LocatedDocument, path: tuple[str | int, ...], text: str, hint: str, code: str) -> Diagnostic:
    return doc.diagnostic(path, text, hint, code=code)


#: A day's grace for time zones: a set signed in the evening in Lhasa is dated tomorrow in UTC.
DATE_GRACE = dt.timedelta(days=1)


def clock_today() -> dt.date:
    """Today by the machine's clock, in the region's time (``xzgov.core.clock``)."""
    return region_today()


def dated_ahead(day: dt.date) -> dt.date | None:
    """Today by the clock when ``day`` is after it (beyond :data:`DATE_GRACE`), else ``None``: a set is signed
    for what was checked, not dated ahead."""
    now = clock_today()
    return now if day > now + DATE_GRACE else None


def prepare(doc: LocatedDocument, base: Path, *, today: dt.date, valid_days: int,
            judged: dt.date | None = None) -> tuple[dict[str, Any], int]:
    """The set ready to sign: rows without a result dropped, evidence digests computed (a pre-filled
    digest must still match), ``date`` / ``expires`` filled in (``today``, ``valid_days`` later). A ``date``
    after today by the clock is refused, and, given ``judged`` (the day a scan judges the set on), an
    ``expires`` before it: the scan would refuse the set or ignore it. Returns (document, rows dropped);
    raises :class:`UsageError` (exit 2) with every located problem."""
    data = dict(doc.data)
    sink: list[Diagnostic] = []
    if not isinstance(data.get("attested_by"), Mapping):
        sink.append(_problem(doc, ("attested_by",), "no attested_by: who attests this set",
                             "add `attested_by: {name: 姓名, role: 岗位, organisation: 单位}`", "required"))
    scope = data["metadata"]["scope"]
    if scope == "system" and not data["metadata"].get("system"):
        sink.append(_problem(doc, ("metadata", "system"), "a system set names its system",
                             "add metadata.system", "required"))
    if scope == "system" and data["metadata"].get("level") is None:  # every scan would refuse the set
        sink.append(_problem(doc, ("metadata",), "a system set names the 等保 level it was judged at",
                             "add metadata.level (and metadata.crypto_level when the 密评 level differs); "
                             "`xzgov attest template` writes both", "required"))
    if scope == "platform" and not isinstance(data.get("assessment"), Mapping):
        sink.append(_problem(doc, ("assessment",), "a platform set carries the platform's assessment",
                             "add assessment: {platform, level, agency, report, date, conclusion, default_result}",
                             "required"))
    rows: list[dict[str, Any]] = []
    dropped = 0
    seen: dict[str, int] = {}  # item -> the first row giving it a result
    for index, raw in enumerate(data.get("attestations") or []):
        row = dict(raw)
        where = ("attestations", index)
        if row.get("result") is None:
            # filled in but for its result (a merged 结果 cell of a worksheet reads as empty below its first row)
            if str(row.get("reason") or "").strip() or row.get("evidence") or row.get("high_risk") is not None:
                sink.append(_problem(doc, (*where, "result"), f"{row.get('item')}: a reason, evidence or high_risk "
                                     "without a result", "write the result (符合/部分符合/不符合/不适用) in this row "
                                     "(a merged cell gives it only to the first row), or clear the row", "required"))
            dropped += 1
            continue
        if str(row.get("item")) in seen:  # every scan would refuse the set ("already attested")
            sink.append(_problem(doc, (*where, "item"), f"{row['item']} is attested twice in this set (row "
                                 f"{seen[row['item']] + 1} and row {index + 1})", "keep one row per item",
                                 "duplicate"))
        seen.setdefault(str(row.get("item")), index)
        if row["result"] not in RESULTS:  # pragma: no cover - the schema refuses it first
            sink.append(_problem(doc, (*where, "result"), "unknown result", "符合/部分符合/不符合/不适用", "schema"))
        if not str(row.get("reason") or "").strip():
            sink.append(_problem(doc, (*where, "reason"), f"{row['item']}: a result needs its reason",
                                 "write what was seen (访谈/核查/测试) and why it gives this result", "required"))
        if row.get("high_risk") is not None and row["result"] not in ("不符合", "部分符合"):
            sink.append(_problem(doc, (*where, "high_risk"), f"{row['item']}: high_risk judges a 不符合 or 部分符合, "
                                 f"not a {row['result']}", "remove high_risk, or correct the result", "schema"))
        evidence = _digests(doc, base, where, row.get("evidence") or [], sink)
        if row["result"] != "不适用" and not evidence and scope == "system":
            sink.append(_problem(doc, (*where, "evidence"), f"{row['item']}: no evidence file",
                                 "list the files that show the result (evidence_expected says which)", "required"))
        row["evidence"] = evidence
        rows.append(row)
    if scope == "platform" and isinstance(data.get("assessment"), Mapping):
        assessment = dict(data["assessment"])
        assessment["evidence"] = _digests(doc, base, ("assessment",), assessment.get("evidence") or [], sink)
        if not assessment["evidence"]:
            sink.append(_problem(doc, ("assessment", "evidence"), "the platform record names no report file",
                                 "list the assessment report (or its signed summary) as evidence", "required"))
        data["assessment"] = assessment
    if not rows and scope == "system":
        sink.append(_problem(doc, ("attestations",), "no row has a result: nothing to sign",
                             "fill in result, reason and evidence for the items you attest", "empty"))
    # undated: the day it is signed, but never after the scan's day (a pinned $XZGOV_AS_OF before today)
    date = (doc.calendar_day(("date",), data["date"], sink) if data.get("date") else None) or \
        (min(today, judged) if judged is not None else today)
    expires = (doc.calendar_day(("expires",), data["expires"], sink) if data.get("expires") else None) \
        or date + dt.timedelta(days=valid_days)
    sink.extend(period_problems(doc, date, expires))
    now = dated_ahead(date)
    if now is not None:
        sink.append(_problem(doc, ("date",), f"{date} is after today ({now})",
                             "date the set on the day it was checked", "date"))
    if judged is not None and date > judged:
        sink.append(_problem(doc, ("date",), f"dated {date}, after the scan's day ({judged}): every scan of that day "
                             "would leave its items pending", "date the set on or before the day the scan judges "
                             "(--as-of / $XZGOV_AS_OF), or leave date empty", "date"))
    if judged is not None and expires < judged:
        sink.append(_problem(doc, ("expires",),
                             f"expires {expires}, before the scan's day ({judged}): the scan would ignore the set",
                             "attest what you checked now: leave date and expires empty, or give a later expires",
                             "date"))
    if sink:
        raise UsageError(f"{doc.file}: {len(sink)} problem(s); nothing signed", sink)
    data["attestations"] = rows
    data.pop("signature", None)
    data["date"], data["expires"] = date.isoformat(), expires.isoformat()
    return data, dropped


def _digests(doc: LocatedDocument, base: Path, where: tuple[str | int, ...], entries: list[Mapping[str, Any]],
             sink: list[Diagnostic]) -> list[dict[str, str]]:
    """Every evidence entry with the SM3 of its file as it is now (a pre-filled digest must match)."""
    evidence: list[dict[str, str]] = []
    for number, entry in enumerate(entries):
        at = (*where, "evidence", number)
        target = evidence_path(base, entry["file"])
        if target is None or not target.is_file():
            sink.append(_problem(doc, (*at, "file"), f"evidence file {entry['file']} not found in the set's folder",
                                 "store the evidence beside the set (path relative to its folder)", "missing"))
            continue
        digest = sm3_file(target).hex()
        if entry.get("sm3") and entry["sm3"] != digest:
            sink.append(_problem(doc, (*at, "sm3"), f"SM3 of {entry['file']} is {digest}, the worksheet says "
                                 f"{entry['sm3']}", "check the file; delete the old digest to attest the file as "
                                 "it is now", "digest"))
        evidence.append({"file": entry["file"], "sm3": digest})
    return evidence


def sign_document(document: Mapping[str, Any], private_key: sm2.SM2PrivateKey, *,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """``document`` with a fresh ``signature`` block (the set's content is not changed)."""
    public = private_key.public_key
    fingerprint = keys.fingerprint(public)
    signed = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    value = sm2.sign(private_key, message(document, fingerprint, signed))
    body = {key: item for key, item in document.items() if key != "signature"}
    body["signature"] = {"algorithm": ALGORITHM, "signer": fingerprint, "public_key": public.to_bytes().hex(),
                         "signed": signed, "value": base64.b64encode(value).decode("ascii")}
    return body


_ORDER = ("apiVersion", "kind", "metadata", "assessment", "attested_by", "date", "expires", "attestations",
          "signature")


def dump(document: Mapping[str, Any], header: str = "") -> str:
    """The one YAML layout of sets and worksheets (block style, Chinese kept, keys in order)."""
    ordered = {key: document[key] for key in _ORDER if key in document}
    ordered.update({key: value for key, value in document.items() if key not in ordered})
    text = yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False)
    return header + text


# ------------------------------------------------------------------------------------------------ output


def check_output(path: Path, *, replace: bool = False, field: str = "--out") -> os.stat_result | None:
    """Refuse (exit 2) an output path the attest commands may not write, before any work is done:
    a symbolic link or anything but a regular file there (even with ``replace``), an existing file
    unless ``replace``, a directory that does not exist. Returns what is there now (``None``: nothing)."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        info = None
    if info is None:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"cannot write {path}: {parent} is not a directory; nothing was written",
                             [Diagnostic(str(path), 0, 0, field, f"{parent} is not an existing directory",
                                         missing_folder_fix(parent, field), "io")])
        return None
    if stat.S_ISLNK(info.st_mode):
        try:
            shown = f"it is a symbolic link (→ {os.readlink(path)})"
        except OSError:
            shown = "it is a symbolic link"
        raise UnsafePathError(path, shown, field=field)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(path, "it is a directory" if stat.S_ISDIR(info.st_mode) else "it is not a regular file",
                              field=field, hint=f"give a file name for {field}")
    if not replace:
        raise _exists(path, field)
    return info


def _exists(path: Path, field: str) -> UsageError:
    return UsageError(f"{path} exists; refusing to overwrite (use --force)",
                      [Diagnostic(str(path), 0, 0, field, "file exists",
                                  f"give another {field} file, or --force to replace it", "exists")])


def write_output(path: Path, data: bytes, *, replace: bool = False, field: str = "--out", commits: bool = False
                 ) -> Path:
    """Write ``data`` to ``path`` atomically, never through a symbolic link, never over an existing file
    unless ``replace`` (a replaced file keeps its permissions; a new one is 0644).

    Exit 2 (:class:`UsageError`) for a link, an existing file or a missing directory; an OSError of the
    machine (disk full, permission denied) names ``path`` (exit 3) and leaves no file, or the previous
    one, at ``path`` and no temporary file beside it."""
    info = check_output(path, replace=replace, field=field)
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o644
    try:
        return atomic_write(path, data, mode=mode, overwrite=replace, field=field, commits=commits)
    except FileExistsError:  # created since the check: still never replaced
        raise _exists(path, field) from None
    except OSError as error:
        raise output_error(path, error, field=field) from None
