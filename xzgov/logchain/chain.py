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
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from xzgov.crypto import keys, sm2
from xzgov.crypto.sm3 import sm3

FORMAT = "xzgov-logchain/1"
DIGEST = 32
ZERO = bytes(DIGEST)
DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(log|chain|seal)\Z")
#: Errors listed per source by :func:`verify_source`; the rest are counted in one ``more`` finding.
MAX_LISTED_PER_SOURCE = 50
#: Largest seal file read (a seal is a few hundred bytes).
MAX_SEAL_BYTES = 64 * 1024
_READ_CHUNK = 8 * 1024 * 1024


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
    prev: bytes | None = None, sealed_at: str | None = None,
) -> dict[str, Any]:
    """Seal ``directory/<date>.log`` (absent: an empty day): write ``<date>.chain`` and ``<date>.seal``.

    The reference implementation of the sealer (the log centre runs its own, with OpenSSL); ``prev``
    defaults to the head of the latest seal before ``date`` in ``directory``.
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

    @property
    def ok(self) -> bool:
        return bool(self.sources) and all(s.ok for s in self.sources)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sources for f in s.findings]

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "sources": [s.to_json() for s in self.sources]}


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
        base64.b64decode(data["signature"], validate=True)
    except (ValueError, binascii.Error) as error:
        return None, f"bad hex or base64 ({error})"
    if len(prev) != DIGEST or len(head) != DIGEST:
        return None, "prev/head are not 32-byte SM3 values"
    return data, ""


def _days(directory: Path) -> dict[str, set[str]]:
    days: dict[str, set[str]] = {}
    for entry in directory.iterdir():
        match = DATE_RE.match(entry.name)
        if match and entry.is_file():
            try:
                dt.date.fromisoformat(match.group(1))
            except ValueError:
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
    return (start + dt.timedelta(days=1)).isoformat(), (end - dt.timedelta(days=1)).isoformat(), count


def _locate(
    log: Path, start: bytes, stored: bytes, source: str, date: str, sealed_lines: int,
) -> tuple[str, int, str]:
    """Kind of change, 1-based line and explanation for a day whose head no longer matches.

    ``stored`` is the content of ``<date>.chain`` (``h_1 … h_N``). Lines are compared by chaining
    the current line onto the stored value before it, so a line is found again wherever it moved.
    """
    sealed = [stored[i:i + DIGEST] for i in range(0, len(stored), DIGEST)]
    with log.open("rb") as stream:
        current = list(iter_lines(stream))

    def before(i: int) -> bytes:  # the stored chain value before sealed line i (0-based)
        return start if i == 0 else sealed[i - 1]

    def same(cur: int, seal: int) -> bool:  # current line `cur` is sealed line `seal`
        return 0 <= cur < len(current) and 0 <= seal < len(sealed) and \
            sm3(before(seal) + current[cur][0]) == sealed[seal]

    i = 0
    while i < len(current) and i < len(sealed) and same(i, i) and current[i][1]:
        i += 1
    n = i + 1  # 1-based
    if i < len(current) and i < len(sealed) and same(i, i) and not current[i][1]:
        if i == len(sealed) - 1:
            return "truncated", n, f"the sealed newline after line {n} was removed"
        return "truncated", n, f"the file ends inside line {n} of {sealed_lines} (no newline)"
    if i >= len(sealed):
        extra = len(current) - len(sealed)
        return "appended", n, f"{extra} line(s) after the {sealed_lines} sealed line(s)"
    if i >= len(current):
        return "truncated", n, f"the file ends after line {i}; {sealed_lines - i} sealed line(s) are gone"
    if not current[i][1] and i == len(current) - 1:
        return "truncated", n, f"line {n} is cut short (the file ends inside it, no newline)"
    if same(i, i + 1) and same(i + 1, i):
        return "reordered", n, f"lines {n} and {n + 1} are swapped"
    if same(i, i + 1):
        return "deleted", n, f"sealed line {n} is missing (the current line {n} is sealed line {n + 1})"
    origin = next((j for j in range(i + 2, len(sealed)) if same(i, j)), None)
    if origin is not None:
        return "reordered", n, f"line {n} is sealed line {origin + 1}, moved here"
    if same(i + 1, i):
        return "inserted", n, f"line {n} was not sealed (a line was inserted before sealed line {n})"
    moved = next((j for j in range(len(current)) if j != i and same(j, i)), None)
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


def verify_source(directory: Path, trusted: Mapping[str, sm2.SM2PublicKey]) -> SourceReport:
    """Verify one source's days against the log-centre keys ``trusted`` (by SM3 fingerprint)."""
    source = directory.name
    report = SourceReport(source)
    days = _days(directory)
    sealed_dates = sorted(d for d, kinds in days.items() if "seal" in kinds)

    def add(date: str, kind: str, message: str, file: str = "", line: int = 0, hint: str = "",
            severity: str = "error") -> None:
        report.findings.append(Finding(source, date, kind, message, file, line, hint, severity))

    if not sealed_dates:
        report.open_days = sorted(d for d, k in days.items() if "log" in k)
        add("", "unsealed", "no sealed day yet (没有封存的日志)", str(directory),
            hint="the sealer seals each day after midnight (xzgov-log-seal.timer); check that it runs",
            severity="info")
        return report
    report.first_day, report.last_sealed = sealed_dates[0], sealed_dates[-1]
    prev_head: bytes | None = None
    pruning = True
    previous = ""
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
            prev_head, pruning = None, False
            continue
        report.sealed_days += 1
        prev, head = bytes.fromhex(seal["prev"]), bytes.fromhex(seal["head"])
        if seal["source"] != source or seal["date"] != date:
            add(date, "bad-seal", f"seal is for {seal['source']}/{seal['date']}, not {source}/{date} "
                "(copied from another day or source, or renamed)", str(seal_path),
                hint=f"a seal belongs in <source>/<date>.seal of the day it names ({seal['source']}/"
                f"{seal['date']}.seal); restore this day's own seal from a backup")
        message = seal_message(source, date, seal["lines"], seal["bytes"], prev, head)
        signature = base64.b64decode(seal["signature"])
        key = trusted.get(seal["signer"].lower())
        if key is None:
            add(date, "untrusted-signer", f"seal signed by {seal['signer']}, not a trusted log-centre key",
                str(seal_path), hint="pass the log centre's public key with --trusted-key")
        elif not sm2.verify(key, message, signature):
            add(date, "bad-signature", "SM2 signature of the seal does not verify (封存签名无效)", str(seal_path),
                hint="the seal was altered or signed by another key")
        if prev_head is not None and prev != prev_head:
            add(date, "chain-break", f"prev of {date} is not the head of the day before (哈希链断裂)",
                str(seal_path), hint="a seal of an earlier day was replaced; restore from a backup")
        prev_head = head
        if "log" not in kinds and "chain" not in kinds:
            if pruning:  # retention removed the oldest days' logs and kept their seals
                report.pruned_days += 1
                continue
            add(date, "missing-log", f"the log of {date} was deleted (seal present, log absent)", str(log_path),
                hint="restore the day's log from a backup")
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
        digest = digest_log(log_path, source, date, prev)
        report.lines += digest.lines
        report.bytes += digest.size
        if digest.head == head and digest.lines == seal["lines"] and digest.size == seal["bytes"]:
            report.verified_days += 1
            continue
        stored = chain_path.read_bytes() if chain_path.is_file() else b""
        if len(stored) != DIGEST * seal["lines"] or (stored and stored[-DIGEST:] != head):
            add(date, "modified", f"the log of {date} does not match its seal, and the chain file cannot "
                "locate the change (it is missing or altered too)", str(log_path),
                hint=_HINTS["modified"])
            continue
        kind, line, explanation = _locate(log_path, start, stored, source, date, seal["lines"])
        add(date, kind, f"{explanation} (sealed: {seal['lines']} lines, {seal['bytes']} bytes; now: "
            f"{digest.lines} lines, {digest.size} bytes)", str(log_path), line, _HINTS.get(kind, ""))
    for date, kinds in sorted(days.items()):
        if "seal" in kinds:
            continue
        if date > sealed_dates[-1]:
            if "log" in kinds:
                report.open_days.append(date)
                report.findings.append(Finding(source, date, "open", f"{date} is not sealed yet (still open)",
                                               str(directory / f"{date}.log"), severity="info"))
        elif date < sealed_dates[0]:
            add(date, "unsealed", f"{date} precedes the first sealed day {sealed_dates[0]} and is not sealed",
                str(directory / f"{date}.log"), hint="a day placed before the chain; investigate",
                severity="error")
    report.findings.sort(key=lambda f: (f.date, f.line))
    _cap_listed(report, directory)
    return report


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
) -> VerifyReport:
    """Verify every source directory under ``root`` (or only ``sources``) against ``public_keys``."""
    trusted = {keys.fingerprint(key): key for key in public_keys}
    if root.is_dir() and any(DATE_RE.match(p.name) for p in root.iterdir() if p.is_file()):
        directories = [root]  # DIR is one source's directory
    else:
        directories = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if sources:
        directories = [d for d in directories if d.name in set(sources)]
    reports = []
    for index, directory in enumerate(directories):
        if progress is not None:
            progress(index, len(directories), directory.name)
        reports.append(verify_source(directory, trusted))
    return VerifyReport(str(root), reports)
