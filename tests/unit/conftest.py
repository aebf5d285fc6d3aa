"""The unit suite opens no socket: pytest-socket refuses any (a unix socket too).

A unit test that must open one says why with ``@pytest.mark.enable_socket`` and a comment;
none does today. Tests that talk to the emulator on 127.0.0.1 live in tests/emulator, cli
and e2e.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT) and not item.get_closest_marker("enable_socket"):
            item.add_marker(pytest.mark.disable_socket)
