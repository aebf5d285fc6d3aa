"""Scheduling rules, pure (DESIGN.md section 12, "Scheduling"): no clock, no I/O.

- `--at TIME`: ISO 8601 with an offset (`2026-12-24T09:00+01:00`, `...Z`); one instant.
- `--at-local TIME`: a date and wall-clock time without offset, read in each row's IANA zone
  (`zoneinfo`; `tzdata` is pinned and bundled). Rows are grouped by the UTC instant their zone
  gives that wall-clock time: one schedule per instant.
  * A wall-clock time that does not exist in a zone (the spring-forward gap: 02:30 on the night
    clocks go from 02:00 to 03:00) moves forward by the length of the gap (03:30), as
    `zoneinfo` reads it with `fold=0`; the group says it was moved.
  * A wall-clock time that happens twice (the autumn fall-back) takes the first (`fold=0`).
  * An unknown zone refuses its row with the reason; a missing (empty) one takes the default.
- Schedule names, `at()` expressions and the campaign file's object key, shared by the CLI,
  the enqueue function and the local run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Campaign files in the campaign bucket: one JSONL object of SQS bodies per instant.
OBJECT_PREFIX = "campaigns/"
# Rows per chunk: the enqueue function's unit of progress (one checkpoint per chunk).
CHUNK_ROWS = 1000
# EventBridge Scheduler: names of 1 to 64 of [0-9a-zA-Z-_.]; `at(yyyy-mm-ddThh:mm:ss)`.
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")
_INSTANT_FORMAT = "%Y%m%dT%H%M%SZ"
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
_ZONE_SHAPE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")


class ScheduleError(ValueError):
    """A time or zone that cannot be read: the message is the one-line reason."""


def parse_at(text: str) -> datetime:
    """`--at`: ISO 8601 with an offset, as an aware UTC datetime (seconds kept, no fraction)."""
    value = _parse_iso(text, "--at")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(
            f"--at {text}: give the offset (2026-12-24T09:00+01:00 or ...Z); for each "
            "recipient's own time zone use --at-local"
        )
    return value.astimezone(UTC).replace(microsecond=0)


def parse_at_local(text: str) -> datetime:
    """`--at-local`: a date and wall-clock time without offset (naive datetime)."""
    value = _parse_iso(text, "--at-local")
    if value.tzinfo is not None:
        raise ScheduleError(
            f"--at-local {text}: no offset here (it is read in each recipient's zone); "
            "for one instant use --at"
        )
    return value.replace(microsecond=0)


def _parse_iso(text: str, option: str) -> datetime:
    cleaned = text.strip()
    if cleaned.endswith(("z", "Z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ScheduleError(
            f"{option} {text}: not an ISO 8601 date and time (e.g. 2026-12-24T09:00)"
        ) from None
    if "T" not in cleaned and " " not in cleaned:
        raise ScheduleError(f"{option} {text}: give a time too (e.g. 2026-12-24T09:00)")
    return value


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ScheduleError saying why not."""
    if not _ZONE_SHAPE.fullmatch(name) or ".." in name:
        raise ScheduleError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from None


@dataclass(frozen=True)
class LocalInstant:
    """The UTC instant a zone gives a wall-clock time, and whether the time had to move."""

    instant: datetime
    moved: bool = False  # the wall-clock time does not exist there (a DST gap): moved forward


def instant_in(wall: datetime, tz: ZoneInfo) -> LocalInstant:
    """The UTC instant of wall-clock `wall` (naive) in `tz`: a repeated time takes its first
    occurrence (fold=0), a nonexistent one moves forward by the gap (fold=0's reading)."""
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    back = instant.astimezone(tz).replace(tzinfo=None)
    return LocalInstant(instant=instant, moved=back != wall)


@dataclass
class Group:
    """The rows (by index) that go out at one UTC instant."""

    instant: datetime
    rows: list[int] = field(default_factory=list)
    zones: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)  # zones whose wall-clock time did not exist


@dataclass
class Plan:
    """Rows grouped by instant (earliest first), and the rows refused with their reasons."""

    groups: list[Group]
    refused: dict[int, str]

    def late(self, now: datetime) -> list[Group]:
        """The groups whose instant has already passed at `now`."""
        return [group for group in self.groups if group.instant <= now]


def plan_local(wall: datetime, zones: Iterable[str | None], default_zone: str | None) -> Plan:
    """Group rows by the instant their zone (or `default_zone` when empty) gives `wall`.

    `zones` is each row's zone column, in row order (an index per row). A row whose zone is
    unknown, or empty without a default, is refused with its reason; never a silent default.
    """
    default = zone(default_zone) if default_zone else None
    cache: dict[str, LocalInstant | ScheduleError] = {}
    groups: dict[datetime, Group] = {}
    refused: dict[int, str] = {}
    for index, raw in enumerate(zones):
        name = (raw or "").strip()
        if not name:
            if default is None:
                refused[index] = "no time zone, and no --default-timezone"
                continue
            name = default.key
        found = cache.get(name)
        if found is None:
            try:
                found = instant_in(wall, zone(name))
            except ScheduleError as error:
                found = error
            cache[name] = found
        if isinstance(found, ScheduleError):
            refused[index] = str(found)
            continue
        group = groups.setdefault(found.instant, Group(instant=found.instant))
        group.rows.append(index)
        group.zones.add(name)
        if found.moved:
            group.moved.add(name)
    return Plan(groups=[groups[key] for key in sorted(groups)], refused=refused)


def plan_at(instant: datetime, rows: int) -> Plan:
    """`--at`: every row at one instant."""
    return Plan(groups=[Group(instant=instant, rows=list(range(rows)))], refused={})


# --- names shared by the CLI, the enqueue function and the local run ------------------------


def instant_label(instant: datetime) -> str:
    """`20261224T080000Z`: an instant in names and keys."""
    return instant.astimezone(UTC).strftime(_INSTANT_FORMAT)


def parse_instant_label(label: str) -> datetime:
    return datetime.strptime(label, _INSTANT_FORMAT).replace(tzinfo=UTC)


def at_expression(instant: datetime) -> str:
    """EventBridge Scheduler's one-time expression (with ScheduleExpressionTimezone UTC)."""
    return f"at({instant.astimezone(UTC).strftime(_AT_FORMAT)})"


def parse_at_expression(expression: str) -> datetime | None:
    """The instant of an `at(...)` expression read as UTC; None for other expressions."""
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression.strip())
    if not match:
        return None
    return datetime.strptime(match.group(1), _AT_FORMAT).replace(tzinfo=UTC)


def campaign_prefix(campaign: str) -> str:
    """The schedule-name prefix of a campaign: readable, unique by a short hash, <= 40 chars."""
    digest = hashlib.sha256(campaign.encode("utf-8")).hexdigest()[:8]
    return f"{_NAME_UNSAFE.sub('_', campaign)[:30]}-{digest}-"


def schedule_name(campaign: str, instant: datetime) -> str:
    """One schedule per campaign and instant (at most 57 characters)."""
    return campaign_prefix(campaign) + instant_label(instant)


def object_key(campaign: str, instant: datetime) -> str:
    """The campaign file of one instant in the campaign bucket."""
    return f"{OBJECT_PREFIX}{campaign}/{instant_label(instant)}.jsonl"


def chunk_count(rows: int, chunk_rows: int = CHUNK_ROWS) -> int:
    return -(-rows // chunk_rows)


def chunk_id(instant: datetime, index: int) -> str:
    """A chunk's checkpoint: recorded once, with the count it adds, on the counts item."""
    return f"{instant_label(instant)}/{index}"


def payload(campaign: str, instant: datetime, rows: int, key: str) -> dict[str, object]:
    """What a schedule hands the enqueue function (its Target Input)."""
    return {"campaign": campaign, "instant": instant_label(instant), "rows": rows, "key": key}


def first_instant_after(now: datetime, step: timedelta = timedelta(minutes=1)) -> datetime:
    """The earliest instant a late group can still be scheduled at: the next whole minute
    at least `step` ahead of `now` (Scheduler takes seconds; a minute of margin)."""
    ahead = (now + step).astimezone(UTC)
    return ahead.replace(second=0, microsecond=0) + timedelta(minutes=1)


def rows_by_instant(plan: Plan) -> Mapping[datetime, int]:
    return {group.instant: len(group.rows) for group in plan.groups}
