"""Shared pytest configuration. Area-specific fixtures live in each area's conftest or plugin."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import ENVIRONMENT, CliResult, run


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """``cli("validate", "--root", path)`` runs ``xzgov`` in-process and returns code, stdout, stderr."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str | Path) -> CliResult:
        return run(capsys, *args)

    return invoke


# The example region and the fixture registers record assessment dates (spec.assessments), judged against the
# scan's as-of day: pin it, so the suite never ages into failures (CI runs this suite; `xzgov scan --as-of`).
os.environ.setdefault("XZGOV_AS_OF", "2026-12-01")



# ------------------------------------------------------------------ parallel run (scripts/test.sh: -n)
# pytest-xdist `--dist loadfile` hands whole modules to its workers, in the order the workers collected them
# (`--no-loadscope-reorder`). Modules that boot hosts are queued first, the largest first, so that the worker
# with the hardening module (the longest) is busy while the other works through the other booted-host
# modules; both then finish on the quick in-process tests. A module that uses the session's shared pool
# (`host_pool`) boots it on the worker it lands on: each such module must pass on a fresh pool as well as
# on one that an earlier module converged.
HOST_FIXTURES = frozenset({"host_pool", "booted_hosts", "hosts_inventory"})


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # only in an xdist worker: a plain run keeps the collection order
        return
    size: dict[str, int] = {}
    boots: set[str] = set()
    for item in items:
        module = _module_of(item)
        size[module] = size.get(module, 0) + 1
        if item.get_closest_marker("hosts") or HOST_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            boots.add(module)
    items.sort(key=lambda item: (0, -size[_module_of(item)]) if _module_of(item) in boots else (1, 0))
