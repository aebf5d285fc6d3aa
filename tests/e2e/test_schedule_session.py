"""`enqueue --local --at` against a running `python -m bulkmail local`: the session fires the
schedule itself (moto never does) and says so; the campaign goes out once its time comes.
Waiting is on state, with a deadline, never a fixed sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bulkmail.local.scheduler import NOTICE
from tests.e2e.test_local_session import cli, environ, session, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["environ", "session"]  # the fixtures this module uses


def test_a_campaign_scheduled_on_the_local_session_goes_out_at_its_time(
    session: dict, tmp_path: Path
) -> None:
    # Given the session says it fires schedules itself
    wait_for("the notice", lambda: NOTICE in session["stderr"].read_text())
    path = tmp_path / "later.csv"
    path.write_text(
        "email,name\n" + "".join(f"later{n}@example.org,L{n}\n" for n in range(5)),
        encoding="utf-8",
    )
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)

    # When a campaign is scheduled a few seconds ahead
    result = cli(
        "enqueue",
        str(path),
        "--local",
        "--campaign",
        "later",
        "--template",
        "welcome",
        "--from",
        "News <news@example.com>",
        "--at",
        at.isoformat(),
    )

    # Then the command returns at once with the schedule made, nothing enqueued yet
    assert result.exit_code == 0, result.output
    assert f"scheduled: 5 rows at {at:%Y-%m-%d %H:%M:%S} UTC" in result.stdout
    # And once its time has come, the session fires it and the five are sent
    wait_for(
        "the scheduled campaign sent",
        lambda: (
            "sent                      5" in cli("status", "--campaign", "later", "--local").stdout
        ),
    )
    shown = cli("status", "--campaign", "later", "--local").stdout
    assert "scheduled                 0" in shown
    assert "enqueued                  5" in shown
    assert "no scheduled campaign waiting" in cli("schedule", "list", "--local").stdout
