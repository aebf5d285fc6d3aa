"""`demo --daily-quota`: the local run meets a spent quota, pauses, waits for the emulated
window, resumes and finishes (the real handler, the real probe, on the embedded emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bulkmail.cli import app
from bulkmail.local import LocalSettings, demo_rows, run_local
from bulkmail.local import emulator as emu

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


def test_a_campaign_larger_than_the_daily_quota_pauses_resumes_and_finishes(server):
    # Given 200 rows and a quota of 80 per 2-second window, the probe every 0.2 s
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
