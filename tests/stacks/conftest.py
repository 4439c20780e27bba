"""Fixtures of the stack tests: the example register (systems/) and programmatic registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.settings import Settings
from tests.stacks import builders
from xzgov.core import model as m
from xzgov.core.register import load_register

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def example_register() -> m.Register:
    return load_register(REPO)


@pytest.fixture
def standard() -> m.Register:
    return builders.standard()


@pytest.fixture
def lhasa() -> Settings:
    return Settings(site="lhasa")


@pytest.fixture
def dr() -> Settings:
    return Settings(site="dr")


def pytest_configure(config: pytest.Config) -> None:
    """The booted-host fixtures (``host_pool``) for ``test_host_backup_role`` (``-m hosts``)."""
    if not config.pluginmanager.has_plugin("tests.hosts.plugin"):
        config.pluginmanager.import_plugin("tests.hosts.plugin")
