"""`demo --at-local`: the sample campaign at 09:00 in three recipients' zones, out in order.

The sample rows are spread over Asia/Tokyo, Europe/Berlin and America/New_York and scheduled
with the CLI's own code (`--at-local 09:00` tomorrow: three instants, 14 hours apart). The
local scheduler fires each schedule when its instant comes on a compressed clock (the 14 hours
pass in about half a minute, and the demo says so), the enqueue function's code puts that
zone's rows on the queue, and the real handler sends them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bulk_sender import schedule as rules
from bulkmail import schedule
from bulkmail.campaign import Row
from bulkmail.local.emulator import Emulator
from bulkmail.local.run import LocalRun
from bulkmail.local.scheduler import NOTICE, CompressedClock, LocalScheduler
from bulkmail.local.settings import LocalSettings

ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/New_York")
WALL_HOUR = 9
SPAN_SECONDS = 30.0  # real seconds the three instants are spread over
LEAD_SECONDS = 2.0  # real seconds before the first instant
MAX_SECONDS = 300.0


@dataclass
class ZonesResult:
    scheduled: int = 0
    enqueued: int = 0
    sent: int = 0
    dead_lettered: int = 0
    order: list[str] = field(default_factory=list)  # the zones, in the order they went

    @property
    def balanced(self) -> bool:
        return self.scheduled == self.enqueued == self.sent + self.dead_lettered


def with_zones(rows: Sequence[Row]) -> list[str]:
    """The rows' bodies, each given a zone in turn (`data.timezone`)."""
    bodies = []
    for index, row in enumerate(row for row in rows if row.body):
        message = json.loads(row.body or "{}")
        message.setdefault("data", {})["timezone"] = ZONES[index % len(ZONES)]
        bodies.append(json.dumps(message))
    return bodies


def run_zones_demo(
    rows: Sequence[Row],
    *,
    settings: LocalSettings,
    echo: Callable[[str], None],
    today: datetime | None = None,
    span_seconds: float = SPAN_SECONDS,
    emulator: Emulator | None = None,
) -> ZonesResult:
    bodies = with_zones(rows)
    now = today or datetime.now(UTC)
    wall = (now + timedelta(days=1)).replace(
        hour=WALL_HOUR, minute=0, second=0, microsecond=0, tzinfo=None
    )
    instants = {zone: rules.instant_in(wall, rules.zone(zone)).instant for zone in ZONES}
    first, last = min(instants.values()), max(instants.values())
    factor = max(1.0, (last - first).total_seconds() / span_seconds)
    clock = CompressedClock(start=first - timedelta(seconds=LEAD_SECONDS * factor), factor=factor)
    result = ZonesResult(scheduled=len(bodies))
    saved = schedule.clock
    schedule.clock = clock
    try:
        with LocalRun(settings, emulator=emulator) as local_run:
            echo(NOTICE)
            echo(clock.describe())
            report = schedule.schedule_campaign(
                bodies,
                schedule.When(wall=wall, column="timezone"),
                campaign="demo",
                stack=None,
                local=False,
                dry_run=False,
                echo=echo,
                warn=echo,
                confirm=None,
                resources=schedule.Stack.from_outputs(local_run.urls),
            )
            for instant, count in report.created:
                zone = next(z for z, at in instants.items() if at == instant)
                echo(f"scheduled: {count} rows at {wall:%H:%M} {zone} ({instant:%H:%M} UTC)")
            scheduler = LocalScheduler(local_run.urls, clock=clock)
            started = time.monotonic()
            while scheduler.pending() and time.monotonic() - started < MAX_SECONDS:
                fired = scheduler.fire_due()
                if not fired:
                    time.sleep(0.1)
                    continue
                for event in fired:
                    zone = next(z for z, at in instants.items() if at == event.instant)
                    result.order.append(zone)
                    result.enqueued += event.enqueued
                    summary = local_run.run()
                    result.sent += len(summary.sent)
                    result.dead_lettered += len(summary.dead_letters)
                    echo(
                        f"{event.at:%H:%M} UTC on the local clock: 09:00 in {zone}: "
                        f"{event.enqueued} rows enqueued, {len(summary.sent)} sent"
                    )
    finally:
        schedule.clock = saved
    echo(
        f"scheduled {result.scheduled} = enqueued {result.enqueued} = sent {result.sent} + "
        f"dead-lettered {result.dead_lettered}: {'ok' if result.balanced else 'MISMATCH'}"
    )
    return result
