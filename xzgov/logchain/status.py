"""Which sources the log centre hears from, and which have gone silent (集中审计: 静默检测).

A source is *silent* when its newest log file has not been written for ``silent_minutes``: its
forwarding stopped, it lost its certificate, or it is down. The same figures are what the log centre
publishes for the live scan (``xzgov-log-seal --status``, one ``key=value`` line per source).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xzgov.logchain.chain import DATE_RE, link_target, source_directories

DEFAULT_SILENT_MINUTES = 30
#: a write time this far ahead of the log centre's clock is no sign of life: a file touched into the future
#: would keep its source "heard from" until that day
FUTURE_TOLERANCE_MINUTES = 5


@dataclass(frozen=True)
class SourceStatus:
    source: str
    last_seen: str  # ISO 8601 UTC of the last write, "" when the source never logged
    minutes_since: float | None
    silent: bool
    last_day: str  # newest day with a log file
    bytes_last_day: int
    last_sealed: str
    days_kept: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one-line form the log centre writes for the live scan."""
        since = "" if self.minutes_since is None else f"{self.minutes_since:.1f}"
        return (f"source={self.source} silent={'yes' if self.silent else 'no'} minutes_since={since} "
                f"last_seen={self.last_seen} last_sealed={self.last_sealed} days_kept={self.days_kept}")


def source_status(directory: Path, now: dt.datetime, silent_minutes: float) -> SourceStatus:
    logs: list[tuple[str, Path]] = []
    seals: list[str] = []
    days: set[str] = set()
    for entry in directory.iterdir():
        match = DATE_RE.match(entry.name)
        if not match or not entry.is_file():
            continue
        days.add(match.group(1))
        if match.group(2) == "log":
            logs.append((match.group(1), entry))
        elif match.group(2) == "seal":
            seals.append(match.group(1))
    # a day named after tomorrow (a day's grace for the centre's zone) is no day a source has written yet
    latest = (now + dt.timedelta(days=1)).date().isoformat()
    logs = [(day, path) for day, path in logs if day <= latest]
    if not logs:
        return SourceStatus(directory.name, "", None, True, "", 0, max(seals, default=""), len(days))
    newest = max(logs, key=lambda item: item[1].stat().st_mtime)
    stat = newest[1].stat()
    seen = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
    minutes = (now - seen).total_seconds() / 60
    ahead = minutes < -FUTURE_TOLERANCE_MINUTES  # shown as the negative minutes it is, and silent
    last_day, last_path = max(logs)
    return SourceStatus(
        source=directory.name,
        last_seen=seen.isoformat(timespec="seconds"),
        minutes_since=round(minutes if ahead else max(0.0, minutes), 1),
        silent=ahead or minutes > silent_minutes,
        last_day=last_day,
        bytes_last_day=last_path.stat().st_size,
        last_sealed=max(seals, default=""),
        days_kept=len(days),
    )


def source_statuses(
    root: Path, *, now: dt.datetime | None = None, silent_minutes: float = DEFAULT_SILENT_MINUTES,
) -> list[SourceStatus]:
    """The status of every source directory under ``root``, by name. A symbolic link is not a source and is
    never followed (``DIR/loop -> DIR`` was counted as one): :func:`linked_sources` names them."""
    now = now or dt.datetime.now(dt.UTC)
    return [source_status(d, now, silent_minutes) for d in source_directories(root)[0]]


def linked_sources(root: Path) -> list[LinkedSource]:
    """The entries of ``root`` that stand where a source would and are symbolic links (to a directory, or to
    nothing: a loop, a dangling link): each a problem to report, never a source to read through."""
    return [LinkedSource(link.name, str(link), link_target(link)) for link in source_directories(root)[1]]


@dataclass(frozen=True)
class LinkedSource:
    """A symbolic link where a source directory would be (see :func:`linked_sources`)."""

    source: str
    path: str
    target: str

    def message(self) -> str:
        return (f"{self.path} is a symbolic link to {self.target}, not a source directory: not counted, not "
                "followed (日志源为符号链接)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"message": self.message()}
