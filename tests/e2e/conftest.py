"""The end-to-end suite's shared fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

# A burner outlives no test by long even if its teardown never runs (a killed pytest).
BURN_LIMIT_SECONDS = 900
_BURN = (
    "import time\n"
    f"end = time.monotonic() + {BURN_LIMIT_SECONDS}\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
)


@pytest.fixture
def busy_cores() -> Iterator[int]:
    """Every core kept busy by another process for the test's duration (DESIGN.md section
    12: the exactly-once tests must hold on a machine whose cores are all busy), at the
    test's own priority. Yields the number of burners; they are stopped in teardown."""
    count = os.cpu_count() or 2
    burners = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(count)]
    try:
        yield count
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()
