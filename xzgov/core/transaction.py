"""All-or-nothing writes of several files.

Every new content is first written to a temporary file beside its target and synced; only then are
the targets replaced one by one. If anything fails, targets already replaced get their previous
bytes back (or are removed when they did not exist), so a failed onboarding leaves the register and
the inventories byte-identical.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from xzgov.core.fsutil import write_temporary


class FileTransaction:
    def __init__(self) -> None:
        self._staged: dict[Path, bytes] = {}

    def write(self, path: Path, content: str | bytes) -> None:
        self._staged[path] = content.encode("utf-8") if isinstance(content, str) else content

    def changed_paths(self) -> list[Path]:
        """Staged paths whose content differs from what is on disk."""
        return [path for path, data in self._staged.items() if not path.is_file() or path.read_bytes() != data]

    def commit(self) -> list[Path]:
        """Apply every staged write that changes something; return the paths written."""
        targets = self.changed_paths()
        originals: dict[Path, bytes | None] = {p: (p.read_bytes() if p.is_file() else None) for p in targets}
        created_dirs: list[Path] = []
        temporaries: dict[Path, str] = {}
        replaced: list[Path] = []
        try:
            for path in targets:
                created_dirs += _make_parents(path.parent)
                temporaries[path] = _write_temporary(path, self._staged[path])
            for path in targets:
                os.replace(temporaries[path], path)
                del temporaries[path]
                replaced.append(path)
        except BaseException:
            for temporary in temporaries.values():
                Path(temporary).unlink(missing_ok=True)
            for path in reversed(replaced):
                previous = originals[path]
                if previous is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(_write_temporary(path, previous), path)
            for folder in reversed(created_dirs):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        return targets


def _make_parents(folder: Path) -> list[Path]:
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir()
    return list(reversed(missing))


def _write_temporary(path: Path, data: bytes) -> str:
    """A synced temporary file beside ``path`` with the mode ``path`` has now (0644 when new)."""
    return write_temporary(path, data, mode=path.stat().st_mode & 0o777 if path.exists() else 0o644)
