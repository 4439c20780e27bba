"""The daily SM3 hash chain of one source's log files, its SM2-signed seal, and the verifier.

Format ``xzgov-logchain/1`` (the sealer on the log centre, ``roles/log_centre/files/xzgov-log-seal``,
writes the same bytes; ``tests/secmgmt`` checks the two against each other):

* a *line* is the bytes between two ``\\n`` (the ``\\n`` excluded); a last line without ``\\n`` is a
  line too (and a sign of truncation);
* ``h0 = SM3("xzgov-logchain/1" 0x00 source 0x00 date 0x00 prev)`` where ``prev`` is the 32-byte head
  of the previous sealed day of the same source (32 zero bytes for the first day);
* ``h_i = SM3(h_{i-1} || line_i)``; the day's *head* is ``h_N`` (``h0`` for a day without lines);
* ``<date>.chain`` holds ``h_1 … h_N`` (32 bytes each): it only locates a break — the verdict comes
  from recomputing the chain from the log and comparing with the signed head;
* ``<date>.seal`` is JSON with ``format, source, date, lines, bytes, prev, head`` (hex), ``signer``
  (SM3 fingerprint of the public key), ``signature`` (base64 DER, SM2 with ID 1234567812345678 over
  :func:`seal_message`) and ``sealed_at``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import errno
import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from xzgov.core.clock import shift_day
from xzgov.core.errors import Diagnostic, UsageError
from xzgov.crypto import keys, sm2
from xzgov.crypto.b64 import strict_b64decode
from xzgov.crypto.sm3 import sm3
from xzgov.logchain import trust
from xzgov.logchain.trust import DEFAULT_RETENTION_DAYS, KeyRing, TrustedKey

FORMAT = "xzgov-logchain/1"
DIGEST = 32
ZERO = bytes(DIGEST)
DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(log|chain|seal)\Z")
#: Errors listed per source by :func:`verify_source`; the rest are counted in one ``more`` finding.
MAX_LISTED_PER_SOURCE = 50
#: Largest seal file read (a seal is a few hundred bytes).
MAX_SEAL_BYTES = 64 * 1024
_READ_CHUNK = 8 * 1024 * 1024
#: Days that may be unsealed at the end of a chain: 1 = yesterday must be sealed (the sealer runs at 00:10).
DEFAULT_MAX_UNSEALED_DAYS = 1
#: Before this local time the day before yesterday suffices (slack for the 00:10 timer, a slow or retried
#: run, a reboot at midnight: ``Persistent=true`` runs it at boot). An explicit ``as_of`` date has no slack.
SEAL_GRACE = dt.time(3, 0)


# ------------------------------------------------------------------------------------------ compute
def genesis(source: str, date: str, prev: bytes) -> bytes:
    """``h0`` of a day: binds the chain to its source, its date and the previous day's head."""
    return sm3(FORMAT.encode() + b"\0" + source.encode() + b"\0" + date.encode() + b"\0" + prev)


def iter_lines(stream: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """``(line without \\n, had_newline)`` for every line of ``stream``, read in large chunks."""
    rest = b""
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            break
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part, True
    if rest:
        yield rest, False


def chain_values(start: bytes, lines: Iterable[bytes]) -> Iterator[bytes]:
    """``h_1, h_2, …`` from ``h0 = start``."""
    value = start
    for line in lines:
        value = sm3(value + line)
        yield value


@dataclass(frozen=True)
class DayDigest:
    """What a day's log file hashes to."""

    head: bytes
    lines: int
    size: int
    values: list[bytes]  # h_1 … h_N (kept only when asked for)
    partial_last_line: bool


def digest_log(path: Path | None, source: str, date: str, prev: bytes, *, keep: bool = False) -> DayDigest:
    """Hash a day's log (``None``: a day without messages)."""
    value = genesis(source, date, prev)
    values: list[bytes] = []
    count = size = 0
    partial = False
    if path is not None:
        with path.open("rb") as stream:
            for line, newline in iter_lines(stream):
                value = sm3(value + line)
                count += 1
                size += len(line) + (1 if newline else 0)
                partial = not newline
                if keep:
                    values.append(value)
    return DayDigest(value, count, size, values, partial)


def chain_head(source: str, date: str, prev: bytes, lines: Sequence[bytes]) -> bytes:
    """The head of a day made of ``lines`` (for tests and tools)."""
    head = genesis(source, date, prev)
    for head in chain_values(genesis(source, date, prev), lines):  # noqa: B007 - the last value is the head
        pass
    return head


def leaf_digests(path: Path, source: str, date: str, prev: bytes) -> list[bytes]:
    """``h_1 … h_N`` of a log file (what ``<date>.chain`` holds)."""
    return digest_log(path, source, date, prev, keep=True).values


def seal_message(source: str, date: str, lines: int, size: int, prev: bytes, head: bytes) -> bytes:
    """The exact bytes the log centre signs for a day."""
    return (
        f"{FORMAT}\nsource={source}\ndate={date}\nlines={lines}\nbytes={size}\n"
        f"prev={prev.hex()}\nhead={head.hex()}\n"
    ).encode()


def seal_day(
    directory: Path, date: str, private_key: sm2.SM2PrivateKey, *, source: str | None = None,
    prev: bytes | None = None, sealed_at: str | None = None, manifest: bool = True,
) -> dict[str, Any]:
    """Seal ``directory/<date>.log`` (absent: an empty day): write ``<date>.chain`` and ``<date>.seal``.

    The reference implementation of the sealer (the log centre runs its own, with OpenSSL); ``prev``
    defaults to the head of the latest seal before ``date`` in ``directory``. With ``manifest`` the source
    is recorded, sealed through ``date``, in the signed sources manifest of the tree (``directory``'s
    parent), as every sealer run does.
    """
    source = source or directory.name
    if prev is None:
        earlier = sorted(p for p in directory.glob("*.seal") if p.stem < date)
        prev = ZERO
        if earlier:
            before, why = _read_seal(earlier[-1])
            if before is None:
                raise ValueError(f"{earlier[-1]}: cannot chain {date} onto this seal: {why}")
            prev = bytes.fromhex(before["head"])
    log = directory / f"{date}.log"
    digest = digest_log(log if log.is_file() else None, source, date, prev, keep=True)
    (directory / f"{date}.chain").write_bytes(b"".join(digest.values))
    message = seal_message(source, date, digest.lines, digest.size, prev, digest.head)
    seal = {
        "format": FORMAT,
        "source": source,
        "date": date,
        "lines": digest.lines,
        "bytes": digest.size,
        "prev": prev.hex(),
        "head": digest.head.hex(),
        "signer": keys.fingerprint(private_key.public_key),
        "signature": base64.b64encode(sm2.sign(private_key, message)).decode(),
        "sealed_at": sealed_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (directory / f"{date}.seal").write_text(json.dumps(seal, indent=1) + "\n")
    if manifest:
        trust.record_source(directory.parent, source, date, private_key)
    return seal


# ------------------------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Finding:
    """One result of the verification; ``severity`` is ``error`` (tampering, loss) or ``info``."""

    source: str
    date: str
    kind: str  # modified | deleted | inserted | reordered | truncated | appended | missing-day | ...
    message: str
    file: str = ""
    line: int = 0  # 1-based line of the log file where the first break is; 0 for the whole day
    hint: str = ""
    severity: str = "error"
    last_date: str = ""  # a run of days (missing-day): its last day; "" for one day
    days: int = 0  # a run of days: how many; 0 for one day

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.days:  # the keys of a run only on a run
            del data["last_date"], data["days"]
        return data


@dataclass
class SourceReport:
    source: str
    sealed_days: int = 0
    verified_days: int = 0
    pruned_days: int = 0
    open_days: list[str] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0
    first_day: str = ""
    last_sealed: str = ""
    findings: list[Finding] = field(default_factory=list)
    #: errors found past the listed ones (counted by one ``more`` finding, :data:`MAX_LISTED_PER_SOURCE`)
    unlisted: int = 0

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> int:
        """How many problems the source has: those listed (not the ``more`` line) and those past them."""
        return sum(1 for f in self.findings if f.severity == "error" and f.kind != "more") + self.unlisted

    @property
    def first_break(self) -> Finding | None:
        return next((f for f in self.findings if f.severity == "error"), None)

    def to_json(self) -> dict[str, Any]:
        first = self.first_break
        return {
            "source": self.source,
            "ok": self.ok,
            "sealed_days": self.sealed_days,
            "verified_days": self.verified_days,
            "pruned_days": self.pruned_days,
            "open_days": self.open_days,
            "lines": self.lines,
            "bytes": self.bytes,
            "first_day": self.first_day,
            "last_sealed": self.last_sealed,
            "first_break": first.to_json() if first else None,
            "findings": [f.to_json() for f in self.findings],
            "errors": self.errors,
        }


@dataclass
class VerifyReport:
    root: str
    sources: list[SourceReport]
    #: findings about the tree itself: the sources manifest, the key-rotation record, stray files at its root
    tree: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sources) and all(s.ok for s in self.sources) and \
            not any(f.severity == "error" for f in self.tree)

    @property
    def findings(self) -> list[Finding]:
        return [*self.tree, *(f for s in self.sources for f in s.findings)]

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources) + sum(1 for f in self.tree if f.severity == "error")

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "findings": [f.to_json() for f in self.tree],
                "sources": [s.to_json() for s in self.sources]}


@dataclass(frozen=True)
class ChainStart:
    """A recorded start of a source's chain (its early seals archived): the first seal kept and its ``prev``."""

    date: str
    prev: bytes


@dataclass(frozen=True)
class Expectations:
    """What a source's chain must show beyond its own seals (see :func:`verify_tree`)."""

    as_of: str  # the day of the verification
    sealed_through: str  # the newest seal must be this day or later
    retention_days: int  # a day's log may be pruned only when older than as_of - retention_days
    start: ChainStart | None = None  # None: the first seal must start from the genesis (prev = 0)
    expected: bool = False  # listed in the manifest or --expect-source: it must have seals


_SEAL_FIELDS = {"format": str, "source": str, "date": str, "lines": int, "bytes": int, "prev": str, "head": str,
                "signer": str, "signature": str}


def _read_seal(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The seal's fields, or ``None`` and why not."""
    try:
        if path.stat().st_size > MAX_SEAL_BYTES:
            return None, f"larger than {MAX_SEAL_BYTES} bytes"
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        return None, f"not readable JSON ({error})"
    except RecursionError:  # "[[[[…": nested deeper than the parser goes; a seal is one flat object
        return None, "not readable JSON (nested too deeply; a seal is one flat JSON object)"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    for name, kind in _SEAL_FIELDS.items():
        if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
            return None, f"field {name!r} missing or not {kind.__name__}"
    if data["format"] != FORMAT:
        return None, f"format {data['format']!r} is not {FORMAT!r}"
    try:
        prev, head = bytes.fromhex(data["prev"]), bytes.fromhex(data["head"])
        strict_b64decode(data["signature"])
    except (ValueError, binascii.Error) as error:
        return None, f"bad hex or base64 ({error})"
    if len(prev) != DIGEST or len(head) != DIGEST:
        return None, "prev/head are not 32-byte SM3 values"
    return data, ""


def _days(directory: Path, misdated: list[str] | None = None) -> dict[str, set[str]]:
    """The day files of a source by date; a day-named file whose date the calendar lacks (``2026-02-30.log``)
    goes to ``misdated`` (no sealer writes one: it is reported, never silently skipped)."""
    days: dict[str, set[str]] = {}
    for entry in directory.iterdir():
        match = DATE_RE.match(entry.name)
        if match and entry.is_file():
            try:
                dt.date.fromisoformat(match.group(1))
            except ValueError:
                if misdated is not None:
                    misdated.append(entry.name)
                continue
            days.setdefault(match.group(1), set()).add(match.group(2))
    return days


def _gap(before: str, after: str) -> tuple[str, str, int]:
    """The days strictly between two dates: ``(first, last, count)``; ``count`` 0 when they are adjacent.

    Computed, never enumerated: one seal misdated ``0001-01-01`` leaves a gap of 739,000 days."""
    start, end = dt.date.fromisoformat(before), dt.date.fromisoformat(after)
    count = (end - start).days - 1
    if count <= 0:
        return "", "", 0
    return shift_day(start, 1).isoformat(), shift_day(end, -1).isoformat(), count


def _locate(
    log: Path, start: bytes, stored: bytes, source: str, date: str, sealed_lines: int,
) -> tuple[str, int, str]:
    """Kind of change, 1-based line and explanation for a day whose head no longer matches.

    ``stored`` is the content of ``<date>.chain`` (``h_1 … h_N``). Lines are compared by chaining
    the current line onto the stored value before it, so a line is found again wherever it moved. The log is
    streamed (one pass to the first difference, one more to find a moved line): a day of millions of lines
    needed about a hundred times its size in memory when it was read whole. A line is called deleted or
    inserted only when the line counts say so: with repeated lines (common in logs) a changed line equals its
    neighbour, and the label contradicted the counts beside it.
    """
    count = len(stored) // DIGEST

    def sealed(k: int) -> bytes:
        return stored[k * DIGEST:(k + 1) * DIGEST]

    def matches(line: bytes | None, k: int) -> bool:  # `line` is sealed line `k` (0-based)
        return line is not None and 0 <= k < count and sm3((start if k == 0 else sealed(k - 1)) + line) == sealed(k)

    i, total = 0, 0  # the first line that is not its sealed line (or lacks its newline); the number of lines
    line = following = None  # that line and the one after it
    newline = True
    with log.open("rb") as stream:
        for index, (text, ended) in enumerate(iter_lines(stream)):
            total += 1
            if line is None:
                if index < count and ended and matches(text, index):
                    continue
                i, line, newline = index, text, ended
            elif following is None:
                following = text
    if line is None:
        i = total
    n = i + 1  # 1-based
    if line is not None and not newline and matches(line, i):
        if i == count - 1:
            return "truncated", n, f"the sealed newline after line {n} was removed"
        return "truncated", n, f"the file ends inside line {n} of {sealed_lines} (no newline)"
    if i >= count:
        return "appended", n, f"{total - count} line(s) after the {sealed_lines} sealed line(s)"
    if line is None:
        return "truncated", n, f"the file ends after line {i}; {sealed_lines - i} sealed line(s) are gone"
    if not newline and i == total - 1:
        return "truncated", n, f"line {n} is cut short (the file ends inside it, no newline)"
    if matches(line, i + 1) and matches(following, i):
        return "reordered", n, f"lines {n} and {n + 1} are swapped"
    if matches(line, i + 1) and total < count:
        return "deleted", n, f"sealed line {n} is missing (the current line {n} is sealed line {n + 1})"
    # A line moved: it stands where another sealed line was, and that place no longer holds its own line (a line
    # equal to a sealed line that is still in place is a repeated line, not a moved one)
    origin = moved = None
    with log.open("rb") as stream:
        for j, (text, _) in enumerate(iter_lines(stream)):
            if matches(text, j):
                continue  # in place
            if origin is None and j >= i + 2 and matches(line, j):
                origin = j
            if moved is None and j != i and matches(text, i):
                moved = j
    if origin is None:  # or a sealed line past the end of the file
        origin = next((k for k in range(max(total, i + 2), count) if matches(line, k)), None)
    if origin is not None:
        return "reordered", n, f"line {n} is sealed line {origin + 1}, moved here"
    if matches(following, i) and total > count:
        return "inserted", n, f"line {n} was not sealed (a line was inserted before sealed line {n})"
    if moved is not None:
        return "reordered", n, f"sealed line {n} is now line {moved + 1}"
    return "modified", n, f"line {n} differs from the sealed line {n}"


_HINTS = {
    "modified": "日志被篡改 (log tampered): restore the day from a backup and investigate who had write access",
    "deleted": "日志行被删除 (line deleted): restore the day from a backup and investigate",
    "inserted": "日志行被插入 (line inserted): restore the day from a backup and investigate",
    "reordered": "日志行顺序被改变 (lines reordered): restore the day from a backup and investigate",
    "truncated": "日志被截断 (truncated): restore the day from a backup; check the disk guard and the sealer",
    "appended": "封存后追加 (appended after sealing): lines written after the seal are not covered; investigate",
}


def sealed_through(as_of: dt.date | dt.datetime | None = None,
                   max_unsealed_days: int = DEFAULT_MAX_UNSEALED_DAYS) -> tuple[str, str]:
    """``(as_of day, day the newest seal must reach)``: ``as_of`` − ``max_unsealed_days`` days.

    ``None`` is now (local time, the centre's calendar). A date-time before :data:`SEAL_GRACE` allows one day
    more (the timer may not have run yet); a plain date is strict (the verification is after that day's run)."""
    moment = dt.datetime.now() if as_of is None else as_of
    if isinstance(moment, dt.datetime):
        day, lag = moment.date(), max_unsealed_days + (1 if moment.time() < SEAL_GRACE else 0)
    else:
        day, lag = moment, max_unsealed_days
    return day.isoformat(), shift_day(day, -lag).isoformat()


def _as_keyring(trusted: KeyRing | Mapping[str, sm2.SM2PublicKey]) -> KeyRing:
    if isinstance(trusted, KeyRing):
        return trusted
    return KeyRing({fp.lower(): TrustedKey(key, fp.lower(), pinned=True) for fp, key in trusted.items()})


def _day_after(date: str, days: int = 1) -> str:
    return shift_day(dt.date.fromisoformat(date), days).isoformat()


_MISSING_SEAL_HINT = ("最近的封存缺失 (recent seals missing): sealed days at the end were deleted, or the sealer "
                      "stopped (systemctl status xzgov-log-seal.timer; journalctl -u xzgov-log-seal): restore the "
                      "seals from a backup or make the sealer run; logs of unsealed days are not evidence")


def verify_source(
    directory: Path, trusted: KeyRing | Mapping[str, sm2.SM2PublicKey], expect: Expectations | None = None,
) -> SourceReport:
    """Verify one source's days against the log-centre keys ``trusted`` and what ``expect`` says.

    ``trusted``: a :class:`~xzgov.logchain.trust.KeyRing` (keys with their periods) or keys by SM3
    fingerprint (valid on every day). ``expect`` (default: today, yesterday sealed, 180 days' retention,
    a chain starting from the genesis): see :func:`verify_tree`."""
    ring = _as_keyring(trusted)
    if expect is None:
        today, through = sealed_through()
        expect = Expectations(today, through, DEFAULT_RETENTION_DAYS)
    source = directory.name
    report = SourceReport(source)
    misdated: list[str] = []
    days = _days(directory, misdated) if directory.is_dir() else {}
    # a day after the verification day (a day's grace for the log centre's clock) is no day of the chain
    latest = _day_after(expect.as_of)
    ahead = sorted(f"{d}.{k}" for d, kinds in days.items() if d > latest for k in kinds)
    for date in [d for d in days if d > latest]:
        del days[date]
    sealed_dates = sorted(d for d, kinds in days.items() if "seal" in kinds)
    prune_before = shift_day(dt.date.fromisoformat(expect.as_of), -expect.retention_days).isoformat()

    def add(date: str, kind: str, message: str, file: str = "", line: int = 0, hint: str = "",
            severity: str = "error") -> None:
        report.findings.append(Finding(source, date, kind, message, file, line, hint, severity))

    for names, why in ((sorted(misdated), "dated on a day the calendar lacks"),
                       (ahead, f"dated after the verification day {expect.as_of}")):
        if names:
            add(names[0].split(".")[0] if names is ahead else "", "stray-file",
                f"{len(names)} day file(s) {why}: " + ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
                + " (异常日期的文件)", str(directory / names[0]),
                hint="no sealer writes such a file: it was planted or misnamed; investigate and move it away (the "
                "chain covers only real days up to the verification day)")

    def missing_seals(first: str) -> None:
        """The days ``first`` … ``expect.sealed_through`` are not sealed: one finding for the run."""
        _, last, count = _gap(shift_day(dt.date.fromisoformat(first), -1).isoformat(),
                              _day_after(expect.sealed_through))
        if count <= 0:
            return
        where = f"{first} … {last} ({count} days)" if count > 1 else first
        report.findings.append(Finding(
            source, first, "missing-seal",
            f"not sealed: {where}; as of {expect.as_of} the chain must reach {expect.sealed_through} "
            f"(newest seal: {report.last_sealed or 'none'}) (封存缺失)",
            str(directory / f"{first}.seal"), hint=_MISSING_SEAL_HINT,
            last_date=last if count > 1 else "", days=count if count > 1 else 0))

    if not sealed_dates:
        report.open_days = sorted(d for d, k in days.items() if "log" in k)
        due = [d for d in report.open_days if d <= expect.sealed_through]
        if not directory.is_dir():
            add(expect.sealed_through, "missing-source", f"source {source} is expected (sources manifest or "
                f"--expect-source) but its directory {directory} is gone (日志源目录缺失)", str(directory),
                hint="a whole source was deleted: restore its directory from a backup; a host taken out of "
                "service is retired with xzgov-log-seal --retire-source, not by deleting its logs")
        elif expect.expected or due:
            missing_seals(due[0] if due else expect.sealed_through)
        else:
            add("", "unsealed", "no sealed day yet (没有封存的日志)", str(directory),
                hint="the sealer seals each day after midnight (xzgov-log-seal.timer); check that it runs",
                severity="info")
        report.findings.sort(key=lambda f: (f.date, f.line))
        return report
    report.first_day, report.last_sealed = sealed_dates[0], sealed_dates[-1]
    prev_head: bytes | None = None
    pruning = True
    previous = ""
    first_seal = True
    # One pass over the seals present (never over the calendar between them): the days without a seal
    # between two sealed days are one finding per run, however long the run is.
    for date in sealed_dates:
        first, last, missing = _gap(previous, date) if previous else ("", "", 0)
        if missing == 1:
            add(first, "missing-day", f"day {first} is missing: no seal between the sealed days {previous} and "
                f"{date} (缺失一天)", str(directory / f"{first}.seal"),
                hint="a sealed day was deleted; restore it from a backup (the chain links every day)")
        elif missing:
            report.findings.append(Finding(
                source, first, "missing-day",
                f"{missing} days are missing, {first} … {last}: no seal between the sealed days {previous} "
                f"and {date} (缺失 {missing} 天)", str(directory / f"{first}.seal"),
                hint="sealed days were deleted: restore them from a backup (the chain links every day); a run "
                f"of months or years usually means one seal file has a wrong date in its name: check "
                f"{previous}.seal and {date}.seal", last_date=last, days=missing))
        if missing:
            prev_head = None
            pruning = False
        previous = date
        kinds = days[date]
        seal_path, log_path, chain_path = (directory / f"{date}.{ext}" for ext in ("seal", "log", "chain"))
        seal, why = _read_seal(seal_path)
        if seal is None:
            add(date, "bad-seal", f"seal unreadable: {why}", str(seal_path),
                hint="restore the seal from a backup; it must be the JSON the sealer wrote")
            prev_head, pruning, first_seal = None, False, False
            continue
        report.sealed_days += 1
        prev, head = bytes.fromhex(seal["prev"]), bytes.fromhex(seal["head"])
        if first_seal and seal["source"] == source and seal["date"] == date:  # a misplaced seal is bad-seal
            first_seal = False
            _check_start(date, prev, expect.start, str(seal_path), add)
        if seal["source"] != source or seal["date"] != date:
            add(date, "bad-seal", f"seal is for {seal['source']}/{seal['date']}, not {source}/{date} "
                "(copied from another day or source, or renamed)", str(seal_path),
                hint=f"a seal belongs in <source>/<date>.seal of the day it names ({seal['source']}/"
                f"{seal['date']}.seal); restore this day's own seal from a backup")
        message = seal_message(source, date, seal["lines"], seal["bytes"], prev, head)
        signature = strict_b64decode(seal["signature"])  # checked canonical when the seal was read
        key = ring.get(seal["signer"])
        if key is None:
            add(date, "untrusted-signer", f"seal signed by {seal['signer']}, not a trusted log-centre key",
                str(seal_path), hint="pass the log centre's public key with --trusted-key (after a key rotation: "
                f"the current key, with the rotation record {trust.KEYS_NAME})")
        elif not sm2.verify(key.public_key, message, signature):
            add(date, "bad-signature", "SM2 signature of the seal does not verify (封存签名无效)", str(seal_path),
                hint="the seal was altered or signed by another key")
        elif not key.valid_on(date):
            add(date, "key-period", f"seal of {date} signed by key {key.fingerprint[:16]}…, valid only "
                f"{key.period()} (签名密钥不在有效期内)", str(seal_path),
                hint="签名密钥已退役或尚未启用 (a retired or not yet valid key signed this day): a retired key may "
                "have been stolen; restore the day and its seal from a backup and investigate")
        if prev_head is not None and prev != prev_head:
            add(date, "chain-break", f"prev of {date} is not the head of the day before (哈希链断裂)",
                str(seal_path), hint="a seal of an earlier day was replaced; restore from a backup")
        prev_head = head
        if "log" not in kinds and "chain" not in kinds:
            if pruning and date < prune_before:  # retention removed the oldest days' logs and kept their seals
                report.pruned_days += 1
                continue
            pruning = False
            why = (f"younger than the {expect.retention_days}-day retention (pruning removes days before "
                   f"{prune_before} only)" if date >= prune_before else "seal present, log absent")
            add(date, "missing-log", f"the log of {date} was deleted ({why}) (日志被删除)", str(log_path),
                hint="restore the day's log from a backup; retention removes the oldest days only, and only "
                f"after {expect.retention_days} days")
            continue
        pruning = False
        if "log" not in kinds:
            if seal["lines"] == 0:
                report.verified_days += 1
                continue
            add(date, "missing-log", f"the log of {date} was deleted ({seal['lines']} sealed line(s))",
                str(log_path), hint="restore the day's log from a backup")
            continue
        start = genesis(source, date, prev)
        try:
            digest = digest_log(log_path, source, date, prev)
            if digest.head == head and digest.lines == seal["lines"] and digest.size == seal["bytes"]:
                report.lines += digest.lines
                report.bytes += digest.size
                report.verified_days += 1
                continue
            stored = chain_path.read_bytes() if chain_path.is_file() else b""
            located = (_locate(log_path, start, stored, source, date, seal["lines"])
                       if len(stored) == DIGEST * seal["lines"] and (not stored or stored[-DIGEST:] == head) else None)
        except OSError as error:  # one day that cannot be read is this day's finding: the other days and sources
            # are still verified (it stopped the whole check with exit 3 and no file named)
            unread = Path(error.filename) if error.filename else log_path
            add(date, "unreadable", f"{unread.name} of {date} cannot be read: {error.strerror or error} (日志不可读)",
                str(unread), hint="check the file (a device, a disk error, its permissions): restore the day from "
                "a backup if it is damaged; nothing of this day was verified")
            continue
        report.lines += digest.lines
        report.bytes += digest.size
        if located is None:
            add(date, "modified", f"the log of {date} does not match its seal, and the chain file cannot "
                "locate the change (it is missing or altered too)", str(log_path),
                hint=_HINTS["modified"])
            continue
        kind, line, explanation = located
        add(date, kind, f"{explanation} (sealed: {seal['lines']} lines, {seal['bytes']} bytes; now: "
            f"{digest.lines} lines, {digest.size} bytes)", str(log_path), line, _HINTS.get(kind, ""))
    if sealed_dates[-1] < expect.sealed_through:
        missing_seals(_day_after(sealed_dates[-1]))
    for date, kinds in sorted(days.items()):
        if "seal" in kinds:
            continue
        if date > sealed_dates[-1]:
            if "log" in kinds:
                report.open_days.append(date)
                if date > expect.sealed_through:
                    report.findings.append(Finding(source, date, "open", f"{date} is not sealed yet (still open)",
                                                   str(directory / f"{date}.log"), severity="info"))
        elif date < sealed_dates[0]:
            add(date, "unsealed", f"{date} precedes the first sealed day {sealed_dates[0]} and is not sealed",
                str(directory / f"{date}.log"), hint="a day placed before the chain; investigate",
                severity="error")
    report.findings.sort(key=lambda f: (f.date, f.line))
    _cap_listed(report, directory)
    return report


def _check_start(
    date: str, prev: bytes, start: ChainStart | None, file: str, add: Callable[..., None],
) -> None:
    """The first seal present starts the chain (prev = 0) or is the recorded start."""
    hint = ("链首被删除 (the first days were deleted): restore them from a backup; if the early seals were "
            "archived on purpose, give the recorded start with --chain-start SOURCE=DATE:PREV")
    if start is None:
        if prev != ZERO:
            add(date, "missing-start", f"the first seal ({date}) continues an earlier chain (prev "
                f"{prev.hex()[:16]}…, not the genesis 0): the days before it were deleted", file, hint=hint)
    elif date != start.date or prev != start.prev:
        add(date, "missing-start", f"the chain starts at {date} (prev {prev.hex()[:16]}…), not at the recorded "
            f"start {start.date} (prev {start.prev.hex()[:16]}…)", file, hint=hint)


def _cap_listed(report: SourceReport, directory: Path, limit: int | None = None) -> None:
    """Keep the first ``limit`` errors of a source (by date), then one finding counting the rest.

    The first break is what to act on; the ones after it are often its consequences (a wrong key
    fails every seal). The verification itself went through every seal regardless."""
    limit = MAX_LISTED_PER_SOURCE if limit is None else limit
    errors = [f for f in report.findings if f.severity == "error"]
    if len(errors) <= limit:
        return
    omitted = errors[limit:]
    dropped = {id(f) for f in omitted}
    report.findings = [f for f in report.findings if id(f) not in dropped]
    report.unlisted = len(omitted)
    first = omitted[0]
    report.findings.append(Finding(
        report.source, first.date, "more",
        f"{len(omitted)} more problem(s) in {report.source} from {first.date} on ({first.kind} first), not listed",
        str(directory), hint="act on the first break listed, then verify again"))


def verify_tree(
    root: Path, public_keys: Sequence[sm2.SM2PublicKey], *, sources: Sequence[str] = (),
    progress: Callable[[int, int, str], None] | None = None,
    as_of: dt.date | dt.datetime | None = None,
    max_unsealed_days: int = DEFAULT_MAX_UNSEALED_DAYS,
    retention_days: int | None = None,
    single_source: bool = False,
    expected_sources: Collection[str] = (),
    chain_starts: Mapping[str, ChainStart] | None = None,
    key_record: Path | None = None,
    require_manifest: bool = True,
) -> VerifyReport:
    """Verify every source directory under ``root`` (or only ``sources``) against ``public_keys``.

    * ``as_of`` (default now; a date-time before 03:00 allows one more day) and ``max_unsealed_days``
      (default 1): every source's newest seal must reach ``as_of`` − ``max_unsealed_days`` — deleted seals
      at the end are ``missing-seal`` errors, not open days;
    * ``retention_days`` (default: the manifest's, else 180): a day with a seal and no log is pruned only
      when older than ``as_of`` − ``retention_days``; a younger one is ``missing-log``;
    * the first seal of every source must start from the genesis (prev = 0) unless ``chain_starts`` records
      where it starts (its early seals archived): deleted first days are ``missing-start``;
    * ``public_keys`` are pinned; with the key-rotation record (``key_record``, default ``<root>/keys.json``)
      each key is valid for its period only: a seal dated outside it is ``key-period``. Two keys valid on
      the same days raise ``ValueError``;
    * the signed sources manifest (``<root>/sources.json``, unless ``require_manifest`` is false) and
      ``expected_sources`` name the sources that must be there: a deleted one is ``missing-source``;
    * ``root`` holds one directory per source; with ``single_source`` it is one source's directory (no
      manifest then). A day-named file at the root of a tree is a ``stray-file`` error, never a reason to
      read the tree as one source.
    """
    today, base_through = sealed_through(as_of, max_unsealed_days)
    record = key_record or (root.parent if single_source else root) / trust.KEYS_NAME
    ring = trust.build_keyring(public_keys, record if record.exists() or key_record else None)
    tree: list[Finding] = []

    def tree_error(kind: str, message: str, file: str, hint: str, date: str = "", severity: str = "error") -> None:
        tree.append(Finding("", date, kind, message, file, hint=hint, severity=severity))

    for problem in ring.problems:
        tree_error("key-record", problem, str(record), "密钥轮换记录无效 (key-rotation record invalid): restore "
                   f"{trust.KEYS_NAME} from a backup; seals of keys it no longer vouches for are not trusted")
    manifest: trust.Manifest | None = None
    linked: list[Path] = []  # sources that are symbolic links: reported, never followed
    if single_source:
        if not trust.SOURCE_NAME.fullmatch(root.name):  # the seals chain on the directory's name
            raise UsageError(f"{root}: {root.name!r} is not a source name", [Diagnostic(
                str(root), 0, 0, "DIR", f"{root.name!r} is not a source name (letters, digits, . _ : -): the seals "
                "chain on the source's name, which is its directory's", "give the directory the name of the host "
                "that wrote the logs (a copy named otherwise never verifies)", code="usage")])
        directories = [root]
    else:
        directories, linked = source_directories(root)
        for directory in [d for d in directories if not trust.SOURCE_NAME.fullmatch(d.name)]:
            # no sealer writes such a source (its name could not be sealed): reported, the others verified
            directories.remove(directory)
            tree_error("bad-source-name", f"directory {directory.name!r} is not a source name (letters, digits, "
                       ". _ : -): no sealer writes it (非法的日志源目录)", str(directory), "a planted or misplaced "
                       "directory: investigate where it comes from and move it out of the log tree")
        stray = sorted(p.name for p in root.iterdir() if DATE_RE.match(p.name) and not p.is_dir())
        if stray:
            tree_error("stray-file", f"{len(stray)} day file(s) at the root of a tree of sources: "
                       + ", ".join(stray[:5]) + (" …" if len(stray) > 5 else "") + " (根目录下的异常文件)",
                       str(root / stray[0]), "a tree holds one directory per source; a day file at its root was "
                       "planted or misplaced: investigate, move it away (to verify one source's directory, pass "
                       "--single-source)", date=stray[0].split(".")[0])
        if require_manifest:
            manifest = _check_manifest(root, ring, base_through, tree_error)
    active = set(manifest.sources) - set(manifest.retired) if manifest else set()
    expected = (active | set(expected_sources)) - (set(manifest.retired) if manifest else set())
    for name in sorted(n for n in expected if not trust.SOURCE_NAME.fullmatch(n)):
        expected.discard(name)  # a source is a directory right under the root, never a path
        tree_error("bad-source-name", f"{name!r} is not a source name", str(root), "name the source directory")
    # a linked source is present (reported below as a link): never read through it as a "missing" source
    present = {d.name for d in directories} | {link.name for link in linked}
    if manifest is not None:
        for name in sorted({d.name for d in directories} - set(manifest.sources) - set(manifest.retired)):
            if any((root / name).glob("*.seal")):
                tree_error("unlisted-source", f"source {name} has seals but is not in the sources manifest",
                           str(root / name), "a source sealed elsewhere or copied in; check where it comes from",
                           severity="info")
        directories += [root / name for name in sorted(expected - present)]
    elif not single_source:
        directories += [root / name for name in sorted(expected - present)]
    if sources:
        directories = [d for d in directories if d.name in set(sources)]
        linked = [link for link in linked if link.name in set(sources)]
    if not directories and not linked:
        raise no_sources_error(root, sources, single_source)
    retention = retention_days if retention_days is not None else (
        manifest.retention_days if manifest is not None else DEFAULT_RETENTION_DAYS)
    reports = []
    for index, directory in enumerate(directories):
        if progress is not None:
            progress(index, len(directories), directory.name)
        name = directory.name
        through = base_through
        if manifest is not None and name in manifest.retired:
            through = min(base_through, manifest.retired[name])
        elif name in active and manifest is not None:
            through = max(base_through, manifest.sources[name])
        expect = Expectations(today, through, retention, (chain_starts or {}).get(name), name in expected)
        reports.append(verify_source(directory, ring, expect))
    reports += [linked_source(link) for link in linked]
    return VerifyReport(str(root), reports, tree)


def source_directories(root: Path) -> tuple[list[Path], list[Path]]:
    """The sources of the tree at ``root`` - its real sub-directories (hidden ones aside) - and, apart, the
    entries that are symbolic links to a directory or to nothing (a loop, a dangling link). A link is never a
    source: it could point a source at another host's logs, or loop back into the tree (``DIR/loop -> DIR``
    was read as a source)."""
    directories: list[Path] = []
    linked: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            # a link to a file, or a day-named one that leads nowhere, is a stray file (verify_tree), not a source
            if entry.is_dir() or not (entry.exists() or DATE_RE.match(entry.name)):
                linked.append(entry)
        elif entry.is_dir():
            directories.append(entry)
    return directories, linked


def link_target(path: Path) -> str:
    """Where the symbolic link ``path`` points ("?" when it cannot be read)."""
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def linked_source(link: Path) -> SourceReport:
    """A source that is a symbolic link: one error, and nothing read through the link."""
    report = SourceReport(link.name)
    where = "itself (a loop)" if not link.exists() and _loops(link) else link_target(link)
    report.findings.append(Finding(
        link.name, "", "symlink-source",
        f"{link} is a symbolic link to {where}, not a source directory: it was not followed (日志源为符号链接)",
        str(link), hint="a tree's sources are real directories: a link can point a source at another host's logs "
        "or loop back into the tree. Find out who made it, remove it and restore the source's own directory "
        "from a backup"))
    return report


def _loops(link: Path) -> bool:
    try:
        link.stat()
    except OSError as error:
        return error.errno == errno.ELOOP
    return False


def no_sources_error(root: Path, names: Collection[str] = (), single_source: bool = False, *,
                     verifying: bool = True) -> UsageError:
    """The error for a tree without any source to verify or report on (exit 2), with what a tree looks like.
    ``verifying``: ``logs verify`` can read one source's directory (``--single-source``); ``logs status`` cannot."""
    shape = ("a log tree holds one directory per source host, each with its days: DIR/<host>/YYYY-MM-DD.log and "
             "YYYY-MM-DD.seal; give the log centre's storage directory (default /var/log/xzgov-centre) or a copy")
    if names:
        present = root.name if single_source else ", ".join(d.name for d in source_directories(root)[0]) or "none"
        return UsageError(f"{root}: no source directory found named {', '.join(names)}",
                          [Diagnostic(str(root), 0, 0, "--source", f"no source named {', '.join(names)}",
                                      f"sources in this tree: {present}", code="unreadable")])
    single = any(p.name.endswith((".log", ".seal")) and p.is_file() for p in root.iterdir())
    instead = ("to verify this one source's directory pass --single-source" if verifying
               else "this is one source's directory: give the directory above it")
    message = f"{root}: no source directory found" + (f"; it holds day files: {instead}" if single else "")
    return UsageError(message, [Diagnostic(
        str(root), 0, 0, "DIR", "holds day files, not source directories" if single else "holds no source directory",
        f"{instead}; {shape}" if single else shape, code="unreadable")])


def _check_manifest(
    root: Path, ring: KeyRing, through: str, tree_error: Callable[..., None],
) -> trust.Manifest | None:
    """The signed sources manifest of ``root``, or ``None`` (and an error finding) when it cannot be trusted."""
    path = root / trust.MANIFEST_NAME
    if not path.exists():
        tree_error("missing-manifest", f"the signed sources manifest {trust.MANIFEST_NAME} is missing (来源清单缺失)",
                   str(path), "the sealer writes it on every run: restore it from a backup (a deleted manifest hides "
                   "deleted sources); a tree sealed before manifests existed: run xzgov-log-seal --adopt-sources once, "
                   "or verify with --no-manifest --expect-source NAME …")
        return None
    manifest, why = trust.read_manifest(path)
    if manifest is None:
        tree_error("bad-manifest", f"sources manifest unreadable: {why}", str(path),
                   "restore it from a backup; it must be the JSON the sealer wrote")
        return None
    key = ring.get(manifest.signer)
    if key is None or not sm2.verify(key.public_key, manifest.message(), manifest.signature):
        tree_error("bad-manifest", "the sources manifest is not signed by a trusted log-centre key (签名无效)",
                   str(path), "the manifest was altered or forged: restore it from a backup and investigate")
        return None
    if not key.valid_on(manifest.through):
        tree_error("bad-manifest", f"the sources manifest (through {manifest.through}) is signed by key "
                   f"{key.fingerprint[:16]}…, valid only {key.period()}", str(path),
                   "a retired key signed it: restore it from a backup and investigate")
        return None
    if manifest.sources and manifest.through < through:
        tree_error("stale-manifest", f"the sources manifest says sealed through {manifest.through}; it must reach "
                   f"{through} (an old manifest put back, or the sealer stopped)", str(path), _MISSING_SEAL_HINT,
                   date=manifest.through)
    return manifest
