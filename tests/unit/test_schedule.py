"""Scheduling rules (bulk_sender.schedule): --at, --at-local grouping, DST edges, names.

No clock is read: every instant here is computed from the rules, `now` is given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bulk_sender import schedule
from bulk_sender.schedule import ScheduleError


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- --at ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24T09:00+01:00", utc(2026, 12, 24, 8, 0)),
        ("2026-12-24T09:00:30Z", utc(2026, 12, 24, 9, 0, 30)),
        ("2026-12-24T09:00-05:00", utc(2026, 12, 24, 14, 0)),
    ],
)
def test_at_with_an_offset_is_one_utc_instant(text: str, expected: datetime) -> None:
    assert schedule.parse_at(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-12-24T09:00", "give the offset"),
        ("tomorrow at nine", "not an ISO 8601"),
        ("2026-12-24", "give a time too"),
    ],
)
def test_at_without_offset_or_unreadable_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason):
        schedule.parse_at(text)


def test_at_local_takes_no_offset() -> None:
    assert schedule.parse_at_local("2026-12-24T09:00") == datetime(2026, 12, 24, 9, 0)
    with pytest.raises(ScheduleError, match="no offset here"):
        schedule.parse_at_local("2026-12-24T09:00+01:00")


# --- --at-local: grouping by instant ---------------------------------------------------------


def test_rows_are_grouped_by_the_instant_their_zone_gives_the_wall_clock_time() -> None:
    # Given rows in Tokyo, Berlin (twice, once by default) and New York
    zones = ["Asia/Tokyo", "Europe/Berlin", "America/New_York", "", "Europe/Berlin"]

    # When they are planned for 09:00 local on Christmas Eve
    plan = schedule.plan_local(datetime(2026, 12, 24, 9, 0), zones, "Europe/Berlin")

    # Then three instants, earliest first, each with its rows
    assert [(g.instant, g.rows) for g in plan.groups] == [
        (utc(2026, 12, 24, 0, 0), [0]),  # Tokyo +09:00
        (utc(2026, 12, 24, 8, 0), [1, 3, 4]),  # Berlin +01:00, the empty zone by default
        (utc(2026, 12, 24, 14, 0), [2]),  # New York -05:00
    ]
    assert plan.refused == {}


def test_an_unknown_zone_is_a_refused_row_never_a_silent_default() -> None:
    plan = schedule.plan_local(
        datetime(2026, 12, 24, 9), ["Europe/Berlin", "Mars/Olympus", "../etc/passwd"], "UTC"
    )

    assert [g.rows for g in plan.groups] == [[0]]
    assert set(plan.refused) == {1, 2}
    assert "unknown time zone 'Mars/Olympus'" in plan.refused[1]


def test_a_missing_zone_without_a_default_is_refused() -> None:
    plan = schedule.plan_local(datetime(2026, 12, 24, 9), [None, "Asia/Tokyo"], None)

    assert plan.refused == {0: "no time zone, and no --default-timezone"}
    assert [g.rows for g in plan.groups] == [[1]]


def test_an_unknown_default_zone_is_an_argument_error() -> None:
    with pytest.raises(ScheduleError, match="Nowhere/Land"):
        schedule.plan_local(datetime(2026, 12, 24, 9), ["Asia/Tokyo"], "Nowhere/Land")


# --- daylight-saving edges -------------------------------------------------------------------


def test_a_nonexistent_wall_clock_time_moves_forward_by_the_gap() -> None:
    # Berlin, 2026-03-29: clocks go from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    plan = schedule.plan_local(datetime(2026, 3, 29, 2, 30), ["Europe/Berlin"], None)

    (group,) = plan.groups
    assert group.instant == utc(2026, 3, 29, 1, 30)  # = 03:30 CEST, an hour later on the wall
    assert group.instant.astimezone(schedule.zone("Europe/Berlin")).hour == 3
    assert group.moved == {"Europe/Berlin"}


def test_a_repeated_wall_clock_time_takes_the_first() -> None:
    # Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    plan = schedule.plan_local(datetime(2026, 10, 25, 2, 30), ["Europe/Berlin"], None)

    (group,) = plan.groups
    assert group.instant == utc(2026, 10, 25, 0, 30)  # 02:30 CEST (+02:00), not 01:30Z
    assert group.moved == set()


def test_an_ordinary_time_is_not_marked_moved() -> None:
    found = schedule.instant_in(datetime(2026, 7, 1, 9), schedule.zone("America/New_York"))
    assert found == schedule.LocalInstant(instant=utc(2026, 7, 1, 13), moved=False)


def test_late_groups_are_those_at_or_before_now() -> None:
    plan = schedule.plan_local(datetime(2026, 12, 24, 9), ["Asia/Tokyo", "America/New_York"], None)
    now = utc(2026, 12, 24, 6)  # Tokyo's 09:00 has passed, New York's has not

    assert [g.zones for g in plan.late(now)] == [{"Asia/Tokyo"}]


def test_a_late_group_goes_at_the_next_whole_minute_a_minute_ahead() -> None:
    now = utc(2026, 12, 24, 6, 0, 30)
    assert schedule.first_instant_after(now) == utc(2026, 12, 24, 6, 2)


# --- names -----------------------------------------------------------------------------------


def test_schedule_names_are_scheduler_safe_unique_per_campaign_and_instant() -> None:
    instant = utc(2026, 12, 24, 8)
    name = schedule.schedule_name("winter-sale_2026" + "x" * 100, instant)

    assert len(name) <= 64
    assert name.endswith("-20261224T080000Z")
    assert schedule.schedule_name("a", instant) != schedule.schedule_name("b", instant)
    assert name.startswith(schedule.campaign_prefix("winter-sale_2026" + "x" * 100))


def test_at_expression_round_trips() -> None:
    instant = utc(2026, 12, 24, 8, 0, 5)
    assert schedule.at_expression(instant) == "at(2026-12-24T08:00:05)"
    assert schedule.parse_at_expression(schedule.at_expression(instant)) == instant
    assert schedule.parse_at_expression("rate(5 minutes)") is None


def test_chunks_cover_every_row_once() -> None:
    assert schedule.chunk_count(0) == 0
    assert schedule.chunk_count(1000) == 1
    assert schedule.chunk_count(1001) == 2
    label = schedule.instant_label(utc(2026, 12, 24, 8))
    assert schedule.parse_instant_label(label) == utc(2026, 12, 24, 8)
    assert schedule.chunk_id(utc(2026, 12, 24, 8), 3) == f"{label}/3"
    assert timedelta(0) == schedule.parse_instant_label(label) - utc(2026, 12, 24, 8)
