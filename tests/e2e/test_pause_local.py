"""`demo --daily-quota`: the local run meets a spent quota, pauses, waits for the emulated
window, resumes and finishes (the real handler, the real probe, on the embedded emulator)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bulkmail.cli import app
from bulkmail.local import LocalSettings, demo_rows, run_local
from bulkmail.local import emulator as emu
from bulkmail.local import run as local_run
from bulkmail.local.poller import LocalMapping

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


class PausedTime(LocalMapping):
    """The event source mapping, and the quota window's clock: a clock that runs only while
    the mapping is stopped. However slowly the machine sends, the quota is spent before its
    window rolls, and the window rolls once sending is paused (on a wall clock, a machine
    sending fewer than 80 emails in 2 s would never meet the quota)."""

    def __init__(self) -> None:
        self._paused = 0.0
        self._stopped_at: float | None = None
        super().__init__()

    @property
    def is_enabled(self) -> bool:
        return self._stopped_at is None

    @is_enabled.setter
    def is_enabled(self, enabled: bool) -> None:
        if enabled and self._stopped_at is not None:
            self._paused += time.monotonic() - self._stopped_at
            self._stopped_at = None
        elif not enabled and self._stopped_at is None:
            self._stopped_at = time.monotonic()

    def __call__(self) -> float:
        running = 0.0 if self._stopped_at is None else time.monotonic() - self._stopped_at
        return self._paused + running


@pytest.fixture
def paused_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local run's mapping is a PausedTime, and times the emulator's quota window."""
    mappings: list[PausedTime] = []
    real_set_daily_quota = emu.set_daily_quota

    def mapping() -> PausedTime:
        mappings.append(PausedTime())
        return mappings[-1]

    def set_daily_quota(max_24_hour_send: float, window_seconds: float) -> None:
        real_set_daily_quota(max_24_hour_send, window_seconds, clock=mappings[-1])

    monkeypatch.setattr(local_run, "LocalMapping", mapping)
    monkeypatch.setattr(emu, "set_daily_quota", set_daily_quota)


def test_a_campaign_larger_than_the_daily_quota_pauses_resumes_and_finishes(server, paused_time):
    # Given 200 rows and a quota of 80 per 2-second window (of paused time), the probe every
    # 0.2 s
    campaign, raw = demo_rows(200)
    settings = LocalSettings(
        batch_size=20,
        batching_window_seconds=0.2,
        daily_quota=80,
        quota_window_seconds=2,
        probe_interval_seconds=0.2,
        max_run_seconds=120,
    )
    # When the local run sends it
    summary = run_local([*campaign, *raw], settings=settings, emulator=server)
    # Then it paused at the quota and the probe resumed it, at least twice (200 > 2 x 80)
    assert summary.drained
    assert summary.pauses >= 2
    assert summary.resumes >= 2
    # And every valid email went out once; the DLQ holds only the raw bad messages, no
    # RetriesExhausted; both equations hold
    assert summary.sent_twice == 0
    assert "RetriesExhausted" not in summary.dead_by_reason
    assert summary.rows_balance
    assert summary.enqueued_balance
    assert any(line.startswith("sending paused") for line in summary.lines())


def test_the_demo_says_the_window_is_shortened():
    # Given the demo's help and settings line
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert "--daily-quota" in result.output
    described = LocalSettings(daily_quota=400).describe()
    assert "daily quota 400 per 10s window (SES: per 24 hours)" in described
