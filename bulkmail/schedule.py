"""Scheduled campaigns from the CLI (DESIGN.md section 12): `enqueue FILE --at TIME` or
`--at-local TIME`, then `schedule list` and `schedule cancel CAMPAIGN`.

`enqueue` checks every row as today, then, instead of putting the rows on the queue, groups
them by instant (bulk_sender.schedule), uploads one file per instant to the stack's campaign
bucket, creates one one-time EventBridge Scheduler schedule per instant in the stack's group
(`at(...)` in UTC, ActionAfterCompletion DELETE, the enqueue function as target, the scheduler
role as role) and adds the rows to the campaign's `scheduled` count. It returns at once; at each
instant the enqueue function puts that instant's rows on the queue.

What a campaign has scheduled is on its counts item in the status table (bulk_sender.names
.Scheduled): `schedule_plan` (`{instant}={rows}` per schedule created), `enqueue_chunks` (what
the function has put on the queue) and `schedule_cancelled`. The schedules still to run are
those in the group.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import ClientError

from bulk_sender import schedule as rules
from bulk_sender.names import Output, Scheduled, Table
from bulk_sender.schedule_enqueue import COUNTS_KEY_SK, encode_bodies
from bulkmail import quota, target
from bulkmail.campaign import Row
from bulkmail.errors import CliError

# Scheduler retries a start it could not make for a day (the enqueue function's own failures
# are retried by Lambda and continue from the last checkpoint).
RETRY_POLICY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
REQUIRED_OUTPUTS = (
    Output.CAMPAIGN_BUCKET_NAME,
    Output.SCHEDULE_GROUP_NAME,
    Output.ENQUEUE_FUNCTION_ARN,
    Output.SCHEDULER_ROLE_ARN,
    Output.STATUS_TABLE_NAME,
)
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class When:
    """When a campaign goes: one instant (--at), or a wall-clock time per row's zone."""

    at: datetime | None = None
    wall: datetime | None = None
    column: str = "timezone"
    default_zone: str | None = None

    @classmethod
    def from_options(
        cls,
        at: str | None,
        at_local: str | None,
        column: str,
        default_zone: str | None,
        *,
        now: datetime,
    ) -> When | None:
        """The options read and checked (a one-line error each), None for "send now"."""
        if at and at_local:
            raise CliError("give --at or --at-local, not both")
        if default_zone and not at_local:
            raise CliError("--default-timezone goes with --at-local")
        try:
            if at:
                instant = rules.parse_at(at)
                if instant <= now:
                    raise CliError(
                        f"--at {at}: that is in the past ({rules.at_expression(instant)} UTC); "
                        "to send now, leave --at out"
                    )
                return cls(at=instant)
            if at_local:
                if default_zone:
                    rules.zone(default_zone)
                return cls(
                    wall=rules.parse_at_local(at_local), column=column, default_zone=default_zone
                )
        except rules.ScheduleError as error:
            raise CliError(str(error)) from None
        return None


def zone_of(body: str, column: str) -> str | None:
    """A row's zone: its `data[column]` (a CSV column becomes data), None if it has none."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    data = message.get("data") if isinstance(message, dict) else None
    value = data.get(column) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def refuse_unknown_zones(rows: Sequence[Row], when: When) -> list[Row]:
    """--at-local: rows whose zone is unknown (or missing without a default) become refused
    rows with the reason, as every other bad row; the others are unchanged."""
    if when.wall is None:
        return list(rows)
    sendable = [row for row in rows if row.body is not None]
    zones = [zone_of(row.body or "", when.column) for row in sendable]
    if sendable and when.default_zone is None and all(zone is None for zone in zones):
        raise CliError(
            f"--at-local: no row has a {when.column!r} column; name the zone column with "
            "--timezone-column, or give --default-timezone"
        )
    plan = rules.plan_local(when.wall, zones, when.default_zone)
    refused = {id(sendable[index]): reason for index, reason in plan.refused.items()}
    return [
        replace(row, body=None, error=f"{when.column}: {refused[id(row)]}", id=None)
        if id(row) in refused
        else row
        for row in rows
    ]


def plan(bodies: Sequence[str], when: When, *, now: datetime) -> tuple[rules.Plan, list[str]]:
    """The groups by instant, late ones moved to the next minute, and what to say about it."""
    if when.at is not None:
        return rules.plan_at(when.at, len(bodies)), []
    assert when.wall is not None
    found = rules.plan_local(
        when.wall, (zone_of(body, when.column) for body in bodies), when.default_zone
    )
    notes = []
    for group in found.groups:
        if group.moved:
            notes.append(
                f"{when.wall:%Y-%m-%dT%H:%M} does not exist in {', '.join(sorted(group.moved))} "
                "(clocks go forward): those rows go at the same time after the change, "
                f"{rules.at_expression(group.instant)} UTC"
            )
    late = found.late(now + timedelta(minutes=1))
    if late:
        soon = rules.first_instant_after(now)
        rows = sum(len(group.rows) for group in late)
        zones = sorted({zone for group in late for zone in group.zones})
        notes.append(
            f"{when.wall:%Y-%m-%dT%H:%M} has already passed in {', '.join(zones)}: "
            f"{rows} rows go at once ({rules.at_expression(soon)} UTC)"
        )
        merged = rules.Group(instant=soon)
        for group in late:
            merged.rows += group.rows
            merged.zones |= group.zones
        kept = [group for group in found.groups if group not in late]
        found = rules.Plan(groups=[merged, *kept], refused=found.refused)
    return found, notes


def busiest_day(recipients_at: Mapping[datetime, int]) -> tuple[datetime, int]:
    """The 24-hour window (starting at an instant) holding the most recipients."""
    instants = sorted(recipients_at)
    best = (instants[0], 0) if instants else (datetime.now(UTC), 0)
    for start in instants:
        total = sum(n for at, n in recipients_at.items() if start <= at < start + DAY)
        if total > best[1]:
            best = (start, total)
    return best


def quota_lines(
    found: rules.Plan, bodies: Sequence[str], account: quota.Quota, now: datetime
) -> list[str]:
    """What to warn about: instants whose 24-hour window exceeds the quota (the first day
    against what is left of it now)."""
    if account.unlimited:
        return []
    recipients_at = {
        group.instant: sum(quota.recipients(bodies[i]) for i in group.rows)
        for group in found.groups
    }
    lines = []
    start, most = busiest_day(recipients_at)
    first_day = sum(n for at, n in recipients_at.items() if at < now + DAY)
    if first_day > account.left:
        lines.append(
            f"the instants in the next 24 hours hold {first_day:,} recipients, more than is "
            f"left of the 24-hour quota ({account.left:,.0f}): the sender pauses at the quota "
            "and resumes by itself as the window frees it"
        )
    elif most > account.max_24_hour_send:
        lines.append(
            f"the instants from {start:%Y-%m-%d %H:%M} UTC hold {most:,} recipients within "
            f"24 hours, more than the 24-hour quota ({account.max_24_hour_send:,.0f}): the "
            "sender pauses at the quota and resumes by itself as the window frees it"
        )
    return lines


# --- AWS: creating, listing, cancelling ------------------------------------------------------


@dataclass
class Stack:
    """Where scheduled campaigns go: the stack's outputs, and the clients."""

    bucket: str
    group: str
    function_arn: str
    role_arn: str
    status_table: str
    s3: Any = None
    scheduler: Any = None
    dynamodb: Any = None

    @classmethod
    def resolve(cls, *, stack: str | None, local: bool) -> Stack:
        if not (stack or local):
            raise CliError("scheduling needs the stack's campaign bucket: use --stack or --local")
        found = target.outputs(stack=stack, local=local)
        where = "the local emulator" if local else f"stack {stack!r}"
        return cls.from_outputs(found, where)

    @classmethod
    def from_outputs(cls, found: Mapping[str, str], where: str = "the stack") -> Stack:
        missing = [name for name in REQUIRED_OUTPUTS if not found.get(name)]
        if missing:
            raise CliError(
                f"{where} has no {', '.join(missing)}: deploy this version of the stack "
                "(it adds the campaign bucket and the schedule group)"
            )
        return cls(
            bucket=found[Output.CAMPAIGN_BUCKET_NAME],
            group=found[Output.SCHEDULE_GROUP_NAME],
            function_arn=found[Output.ENQUEUE_FUNCTION_ARN],
            role_arn=found[Output.SCHEDULER_ROLE_ARN],
            status_table=found[Output.STATUS_TABLE_NAME],
            s3=boto3.client("s3"),
            scheduler=boto3.client("scheduler"),
            dynamodb=boto3.client("dynamodb"),
        )

    def _counts_key(self, campaign: str) -> dict[str, Any]:
        return {
            Table.STATUS_PARTITION_KEY: {"S": campaign},
            Table.STATUS_SORT_KEY: {"S": COUNTS_KEY_SK},
        }

    def create(self, campaign: str, instant: datetime, bodies: Sequence[str]) -> bool:
        """Upload the file and create the schedule; False if that schedule already exists
        (the same campaign and instant scheduled before: nothing changes)."""
        key = rules.object_key(campaign, instant)
        name = rules.schedule_name(campaign, instant)
        try:
            self.scheduler.get_schedule(Name=name, GroupName=self.group)
            return False
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=encode_bodies(list(bodies)))
        payload = rules.payload(campaign, instant, len(bodies), key)
        try:
            self.scheduler.create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=rules.at_expression(instant),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Description=f"bulkmail campaign {campaign}: {len(bodies)} rows"[:512],
                Target={
                    "Arn": self.function_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps(payload),
                    "RetryPolicy": RETRY_POLICY,
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConflictException":
                return False
            raise
        self.dynamodb.update_item(
            TableName=self.status_table,
            Key=self._counts_key(campaign),
            UpdateExpression="ADD #s :n, #p :plan",
            ExpressionAttributeNames={"#s": Scheduled.SCHEDULED, "#p": Scheduled.PLAN},
            ExpressionAttributeValues={
                ":n": {"N": str(len(bodies))},
                ":plan": {"SS": [f"{rules.instant_label(instant)}={len(bodies)}"]},
            },
        )
        return True

    def pending(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """The schedules still to run (of one campaign), each with its payload."""
        prefix = rules.campaign_prefix(campaign) if campaign else None
        found = []
        paginator = self.scheduler.get_paginator("list_schedules")
        pages = paginator.paginate(
            GroupName=self.group, **({"NamePrefix": prefix} if prefix else {})
        )
        for page in pages:
            for summary in page.get("Schedules", []):
                if prefix and not summary["Name"].startswith(prefix):
                    continue
                try:
                    detail = self.scheduler.get_schedule(Name=summary["Name"], GroupName=self.group)
                    payload = json.loads(detail["Target"].get("Input") or "{}")
                except (ClientError, ValueError):
                    continue  # ran and was deleted meanwhile, or not one of ours
                if not isinstance(payload, dict) or "campaign" not in payload:
                    continue
                if campaign and payload["campaign"] != campaign:
                    continue
                found.append({"name": summary["Name"], **payload})
        return found

    def recorded(self, campaign: str) -> dict[str, set[str]]:
        item = self.dynamodb.get_item(
            TableName=self.status_table, Key=self._counts_key(campaign), ConsistentRead=True
        ).get("Item", {})
        return {
            name: set(item.get(name, {}).get("SS", []))
            for name in (Scheduled.PLAN, Scheduled.CHUNKS, Scheduled.CANCELLED)
        }

    def cancel(self, entry: Mapping[str, Any]) -> bool:
        """Delete one pending schedule, its file, and take its rows off `scheduled`; False
        if it ran (or was cancelled) meanwhile."""
        try:
            self.scheduler.delete_schedule(Name=entry["name"], GroupName=self.group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        self.s3.delete_object(Bucket=self.bucket, Key=entry["key"])
        self.dynamodb.update_item(
            TableName=self.status_table,
            Key=self._counts_key(entry["campaign"]),
            UpdateExpression="ADD #s :minus, #c :instant",
            ExpressionAttributeNames={"#s": Scheduled.SCHEDULED, "#c": Scheduled.CANCELLED},
            ExpressionAttributeValues={
                ":minus": {"N": str(-int(entry["rows"]))},
                ":instant": {"SS": [entry["instant"]]},
            },
        )
        return True


@dataclass
class InstantState:
    campaign: str
    instant: str  # label
    rows: int
    state: str
    enqueued_chunks: int = 0


@dataclass
class CampaignSchedule:
    campaign: str
    instants: list[InstantState] = field(default_factory=list)


def states(
    campaign: str,
    pending: Iterable[Mapping[str, Any]],
    recorded: Mapping[str, set[str]],
    now: datetime,
) -> CampaignSchedule:
    """Each instant of a campaign with its rows and state: scheduled (its schedule waits),
    cancelled, enqueued (every chunk on the queue), enqueuing (some), or started (its time
    came, nothing recorded yet)."""
    result = CampaignSchedule(campaign=campaign)
    waiting = {str(entry["instant"]): int(entry["rows"]) for entry in pending}
    planned = dict(waiting)
    for entry in recorded.get(Scheduled.PLAN, set()):
        label, _, count = entry.partition("=")
        planned.setdefault(label, int(count or 0))
    chunks: dict[str, int] = {}
    for chunk in recorded.get(Scheduled.CHUNKS, set()):
        label = chunk.split("/", 1)[0]
        chunks[label] = chunks.get(label, 0) + 1
    cancelled = recorded.get(Scheduled.CANCELLED, set())
    for label in sorted(planned):
        rows = planned[label]
        done = chunks.get(label, 0)
        if label in waiting:
            state = "scheduled"
        elif label in cancelled:
            state = "cancelled"
        elif done >= rules.chunk_count(rows):
            state = "enqueued"
        elif done:
            state = "enqueuing"
        elif rules.parse_instant_label(label) <= now:
            state = "started"
        else:
            state = "scheduled"  # created, not listed yet (eventual consistency)
        result.instants.append(InstantState(campaign, label, rows, state, done))
    return result


def describe(plan_: CampaignSchedule) -> list[str]:
    lines = [f"campaign {plan_.campaign}"]
    for item in plan_.instants:
        instant = rules.parse_instant_label(item.instant)
        lines.append(f"  {instant:%Y-%m-%d %H:%M:%S} UTC  {item.rows:>8} rows  {item.state}")
    return lines


# --- the commands ----------------------------------------------------------------------------

app = typer.Typer(
    help=(
        "See and cancel scheduled campaigns (`enqueue FILE --at TIME` or `--at-local TIME`)."
        "\n\nExample: python -m bulkmail schedule list --stack BulkEmailSender"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


clock: Clock = _now  # the local run's compressed clock replaces it


@app.command("list")
def list_command(
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Only this campaign (with its past instants).")
    ] = None,
    stack: target.StackOption = None,
    local: target.LocalOption = False,
) -> None:
    """List scheduled campaigns: each instant (UTC), its rows and its state.

    States: scheduled (waiting), enqueuing / enqueued (the enqueue function put some / all of
    its rows on the queue), started (its time came; nothing on the queue yet), cancelled.
    Without --campaign, the campaigns with a schedule still waiting.

    Example:

        python -m bulkmail schedule list --stack BulkEmailSender
    """
    where = Stack.resolve(stack=stack, local=local)
    pending = where.pending(campaign)
    names = [campaign] if campaign else sorted({str(entry["campaign"]) for entry in pending})
    if not names:
        typer.echo("no scheduled campaign waiting")
        return
    for name in names:
        entries = [entry for entry in pending if entry["campaign"] == name]
        for line in describe(states(name, entries, where.recorded(name), clock())):
            typer.echo(line)


@app.command("cancel")
def cancel_command(
    campaign: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="The campaign's name.")],
    stack: target.StackOption = None,
    local: target.LocalOption = False,
) -> None:
    """Cancel what a campaign has not yet sent to the queue: delete its waiting schedules and
    their files, and say what already went.

    Example:

        python -m bulkmail schedule cancel spring --stack BulkEmailSender
    """
    where = Stack.resolve(stack=stack, local=local)
    cancelled = [entry for entry in where.pending(campaign) if where.cancel(entry)]
    for entry in cancelled:
        instant = rules.parse_instant_label(str(entry["instant"]))
        typer.echo(f"cancelled: {instant:%Y-%m-%d %H:%M:%S} UTC, {entry['rows']} rows")
    gone = [
        item
        for item in states(campaign, [], where.recorded(campaign), clock()).instants
        if item.state in ("enqueued", "enqueuing", "started")
    ]
    for item in gone:
        instant = rules.parse_instant_label(item.instant)
        typer.echo(
            f"already went: {instant:%Y-%m-%d %H:%M:%S} UTC, {item.rows} rows ({item.state})"
        )
    if not cancelled and not gone:
        typer.echo(f"campaign {campaign}: nothing scheduled")
    rows = sum(int(entry["rows"]) for entry in cancelled)
    typer.echo(f"campaign {campaign}: {len(cancelled)} schedules cancelled ({rows} rows)")


@dataclass
class Report:
    created: list[tuple[datetime, int]]
    existing: list[tuple[datetime, int]]


def schedule_campaign(
    bodies: Sequence[str],
    when: When,
    *,
    campaign: str,
    stack: str | None,
    local: bool,
    dry_run: bool,
    echo: Callable[[str], None],
    warn: Callable[[str], None],
    confirm: Callable[[str], Any] | None,
    quota_client: Callable[[], Any] | None = None,
    resources: Stack | None = None,
) -> Report:
    """`enqueue --at` / `--at-local` after the rows are checked: plan, warn, then create."""
    now = clock()
    found, notes = plan(bodies, when, now=now)
    for note in notes:
        warn(f"note: {note}")
    if found.refused:  # refuse_unknown_zones ran first: nothing is left to refuse here
        raise CliError(f"{len(found.refused)} rows have no usable time zone")
    if bodies:
        try:
            account = quota.Quota.read((quota_client or quota.ses_client)())
        except Exception as error:  # an unreadable quota is a warning, never a stop
            warn(f"warning: the SES quota was not checked ({error})")
        else:
            lines = quota_lines(found, bodies, account, now)
            for line in lines:
                warn(line)
            if lines and confirm is not None:
                confirm("Schedule it anyway?")
    report = Report(created=[], existing=[])
    if dry_run:
        for group in found.groups:
            echo(f"would schedule {len(group.rows)} rows at {rules.at_expression(group.instant)}")
        return report
    where = resources if resources else Stack.resolve(stack=stack, local=local)
    for group in found.groups:
        rows = [bodies[i] for i in group.rows]
        made = where.create(campaign, group.instant, rows)
        (report.created if made else report.existing).append((group.instant, len(rows)))
    return report


def enqueue_later(
    bodies: Sequence[str],
    when: When,
    *,
    campaign: str,
    stack: str | None,
    local: bool,
    dry_run: bool,
    rows: int,
    refused: int,
    suppressed: int,
    warn: Callable[[str], None],
    confirm: Callable[[str], Any] | None,
) -> None:
    """`enqueue --at` / `--at-local` once the rows are checked: schedule them, say what."""
    report = schedule_campaign(
        bodies,
        when,
        campaign=campaign,
        stack=stack,
        local=local,
        dry_run=dry_run,
        echo=typer.echo,
        warn=warn,
        confirm=confirm,
    )
    for instant, count in report.created:
        typer.echo(f"scheduled: {count} rows at {instant:%Y-%m-%d %H:%M:%S} UTC")
    for instant, count in report.existing:
        typer.echo(
            f"already scheduled: {count} rows at {instant:%Y-%m-%d %H:%M:%S} UTC (unchanged)"
        )
    scheduled = sum(count for _, count in report.created)
    typer.echo(
        f"rows {rows}, scheduled {scheduled} at {len(report.created)} instant(s), "
        f"refused {refused}"
        + (f", suppressed {suppressed}" if suppressed else "")
        + ("" if dry_run else f"; see: python -m bulkmail schedule list --campaign {campaign}")
    )
