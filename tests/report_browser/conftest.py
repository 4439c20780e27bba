"""One headless Chromium per test module (pytest-xdist hands whole modules to a worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .cdp import Page, browser, find_chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Page]:
    executable = find_chromium()
    if executable is None:
        reason = "chromium is not installed (apt-get install chromium fonts-noto-cjk; scripts/system-deps.sh as root)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        context = browser(executable)
        opened = context.__enter__()
    except (OSError, RuntimeError, ConnectionError, TimeoutError) as error:
        reason = f"chromium cannot run here: {error}"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    try:
        yield opened
    finally:
        context.__exit__(None, None, None)
