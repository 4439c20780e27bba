"""Loads the test-host plugin for tests under tests/roles (no change to tests/conftest.py needed)."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("tests.hosts.plugin"):
        config.pluginmanager.import_plugin("tests.hosts.plugin")
