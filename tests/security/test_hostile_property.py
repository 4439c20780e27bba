"""Property: whatever hostile YAML a manifest holds (aliases, tags, control characters, huge numbers,
deep nesting, duplicate and merge keys, plaintext secrets), `xzgov validate` exits 0, 1 or 2 within
1 GB of address space, every error located, no secret value in any output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_hostile_manifests_in_bounded_memory() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.security.hostile", "150"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
