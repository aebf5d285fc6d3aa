"""Scheduled campaigns on the local run: `--at-local` across three zones goes out zone by
zone at each instant, each email once; a failed enqueue resumes and counts once; `schedule
cancel` stops what has not run. The real handler on the embedded emulator; the schedule clock
is a fake one the test moves (nothing waits on the wall clock)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bulk_sender import schedule as rules
from bulkmail import schedule, status
from bulkmail.local import LocalRun, LocalSettings, demo_rows
from bulkmail.local import emulator as emu
from bulkmail.local.scheduler import LocalScheduler

pytestmark = pytest.mark.e2e

ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/New_York")
TOKYO = datetime(2026, 12, 24, 0, 0, tzinfo=UTC)
BERLIN = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
NEW_YORK = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)
ROWS = 30


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(datetime(2026, 12, 20, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(schedule, "clock", fake)
    return fake


def zoned_bodies() -> tuple[list[str], dict[str, str]]:
    """The demo's first ROWS rows, each given a zone in turn; each address's zone."""
    rows, _ = demo_rows(ROWS)
    bodies, zones = [], {}
    for index, row in enumerate(row for row in rows if row.body):
        message = json.loads(row.body or "{}")
        message["data"]["timezone"] = ZONES[index % 3]
        zones[ascii_address(message["to"])] = ZONES[index % 3]
        bodies.append(json.dumps(message))
    return bodies, zones


def ascii_address(address: str) -> str:
    """As SES gets it: an internationalized domain in its ASCII (punycode) form."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def scheduled(local_run: LocalRun, bodies: list[str]) -> schedule.Report:
    return schedule.schedule_campaign(
        bodies,
        schedule.When(wall=datetime(2026, 12, 24, 9, 0), column="timezone"),
        campaign="demo",
        stack=None,
        local=False,
        dry_run=False,
        echo=lambda _line: None,
        warn=lambda _line: None,
        confirm=None,
        resources=schedule.Stack.from_outputs(local_run.urls),
    )


def recipients(summary: Any) -> Counter[str]:
    return Counter(address for email in summary.sent for address in email["to"])


def counts(local_run: LocalRun) -> dict[str, Any]:
    dynamodb = status.dynamodb_client()
    return status.read_counts(dynamodb, local_run.urls["StatusTableName"], "demo")


def test_at_local_across_three_zones_goes_out_zone_by_zone_each_email_once(
    server: emu.Emulator, clock: Clock
) -> None:
    bodies, zones = zoned_bodies()
    with LocalRun(LocalSettings(), emulator=server) as local_run:
        # Given the campaign scheduled for 09:00 in each recipient's zone: three instants
        report = scheduled(local_run, bodies)
        assert [instant for instant, _ in report.created] == [TOKYO, BERLIN, NEW_YORK]
        scheduler = LocalScheduler(local_run.urls, clock=clock)
        sent: Counter[str] = Counter()

        # When the clock reaches a minute before Tokyo's 09:00, nothing goes
        clock.now = TOKYO - timedelta(minutes=1)
        assert scheduler.fire_due() == []
        assert recipients(local_run.run()) == Counter()

        # Then at each instant, that zone's rows alone go out, in order
        for instant, zone in zip((TOKYO, BERLIN, NEW_YORK), ZONES, strict=True):
            clock.now = instant
            (fired,) = scheduler.fire_due()
            in_zone = sum(1 for z in zones.values() if z == zone)
            assert (fired.instant, fired.state, fired.enqueued) == (instant, "done", in_zone)
            went = recipients(local_run.run())
            assert {zones[address] for address in went} == {zone}
            sent += went

        # And every email went once, counted once; nothing is left scheduled
        assert sent == Counter(dict.fromkeys(zones, 1))
        numbers = counts(local_run)
        assert numbers["enqueued"] == len(bodies)
        assert numbers["scheduled"] == 0
        assert numbers["sent_total"] == len(bodies)
        assert scheduler.pending() == 0


class DiesPartWay:
    """The queue's client on the first attempt: the function dies after `calls` batches."""

    def __init__(self, sqs: Any, calls: int) -> None:
        self.sqs, self.left = sqs, calls

    def send_message_batch(self, **request: Any) -> Any:
        if self.left <= 0:
            raise TimeoutError("the function timed out here")
        self.left -= 1
        return self.sqs.send_message_batch(**request)


def test_an_enqueue_that_fails_part_way_resumes_sends_every_row_once_and_counts_it_once(
    server: emu.Emulator, clock: Clock
) -> None:
    # Given the rows at one instant, enqueued in chunks of 10 (one batch each)
    bodies, zones = zoned_bodies()
    with LocalRun(LocalSettings(), emulator=server) as local_run:
        at = schedule.When(at=BERLIN)
        schedule.schedule_campaign(
            bodies,
            at,
            campaign="demo",
            stack=None,
            local=False,
            dry_run=False,
            echo=lambda _line: None,
            warn=lambda _line: None,
            confirm=None,
            resources=schedule.Stack.from_outputs(local_run.urls),
        )
        # And a first attempt that dies after two SendMessageBatch calls (two chunks)
        scheduler = LocalScheduler(
            local_run.urls,
            clock=clock,
            wrap_sqs=lambda sqs, attempt: DiesPartWay(sqs, 2) if attempt == 0 else sqs,
            chunk_rows=10,
        )

        # When the instant comes (Lambda retries the failed invocation)
        clock.now = BERLIN
        (fired,) = scheduler.fire_due()

        # Then the retry continued where the first stopped, every row was sent once ...
        assert (fired.state, fired.resumed_chunks) == ("done", 2)
        summary = local_run.run()
        assert recipients(summary) == Counter(dict.fromkeys(zones, 1))
        # ... and counted once
        numbers = counts(local_run)
        assert numbers["enqueued"] == len(bodies)
        assert numbers["scheduled"] == 0


def test_cancel_stops_what_has_not_run(server: emu.Emulator, clock: Clock) -> None:
    bodies, zones = zoned_bodies()
    with LocalRun(LocalSettings(), emulator=server) as local_run:
        scheduled(local_run, bodies)
        scheduler = LocalScheduler(local_run.urls, clock=clock)
        clock.now = TOKYO
        scheduler.fire_due()
        first = recipients(local_run.run())

        # When the campaign is cancelled after Tokyo's instant
        where = schedule.Stack.from_outputs(local_run.urls)
        cancelled = [entry for entry in where.pending("demo") if where.cancel(entry)]

        # Then Berlin's and New York's never go, however late it gets
        assert sorted(entry["instant"] for entry in cancelled) == [
            rules.instant_label(BERLIN),
            rules.instant_label(NEW_YORK),
        ]
        clock.now = NEW_YORK + timedelta(days=1)
        assert scheduler.fire_due() == []
        assert recipients(local_run.run()) == Counter()
        assert {zones[address] for address in first} == {"Asia/Tokyo"}
        numbers = counts(local_run)
        assert (numbers["enqueued"], numbers["scheduled"]) == (len(first), 0)


def test_the_zones_demo_sends_tokyo_then_berlin_then_new_york_and_adds_up(
    server: emu.Emulator,
) -> None:
    from bulkmail.local.zones_demo import run_zones_demo

    rows, _ = demo_rows(ROWS)
    lines: list[str] = []

    result = run_zones_demo(rows, settings=LocalSettings(), echo=lines.append, span_seconds=3.0)

    assert result.order == list(ZONES)
    assert result.balanced
    assert result.sent == result.scheduled > 0
    assert any(line.startswith("local clock compressed: 1 s here is") for line in lines)
    assert any("never fires them" in line for line in lines)
