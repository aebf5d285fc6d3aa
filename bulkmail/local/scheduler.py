"""Scheduled campaigns on the local run: the campaign bucket, the schedule group, and a
stand-in for EventBridge Scheduler.

moto's Scheduler stores schedules but never fires them, so the local run fires the due ones
itself (`LocalScheduler.fire_due`): for each one-time schedule in the group whose `at(...)`
has come by its clock, it does what Scheduler and Lambda do in the stack: it runs the enqueue
function's core (bulk_sender.schedule_enqueue, the code `enqueue_handler.py` calls) with the
schedule's input, runs it again when it stops short of the end (the function's self
re-invocation) or fails (Lambda's two retries of an asynchronous invocation), and deletes the
schedule (ActionAfterCompletion DELETE). Its clock may be compressed (`CompressedClock`): the
demo shows three time zones' 09:00 within a minute, and says so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bulk_sender import schedule as rules
from bulk_sender.names import Output
from bulk_sender.schedule_enqueue import CONTINUE, CampaignEnqueuer

log = logging.getLogger(__name__)

BUCKET = "bulk-email-local-campaigns"
GROUP = "bulk-email-local-campaigns"
ACCOUNT = "123456789012"  # moto's default account
ATTEMPTS = 3  # Lambda runs an asynchronous invocation that fails twice more
NOTICE = (
    "local: moto's EventBridge Scheduler stores schedules but never fires them: this local run "
    "fires the due ones itself (the enqueue function's code, as Lambda would run it)"
)


def provision_scheduling(region: str) -> dict[str, str]:
    """The campaign bucket and the schedule group, and the outputs naming them (the function
    and role ARNs are names only: the local scheduler runs the function's code itself)."""
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration=location)
    boto3.client("scheduler").create_schedule_group(Name=GROUP)
    return {
        Output.CAMPAIGN_BUCKET_NAME: BUCKET,
        Output.SCHEDULE_GROUP_NAME: GROUP,
        Output.ENQUEUE_FUNCTION_ARN: (
            f"arn:aws:lambda:{region}:{ACCOUNT}:function:bulk-email-local-enqueue"
        ),
        Output.SCHEDULER_ROLE_ARN: f"arn:aws:iam::{ACCOUNT}:role/bulk-email-local-scheduler",
    }


@dataclass
class CompressedClock:
    """Virtual UTC time that starts at `start` and runs `factor` times faster than `monotonic`."""

    start: datetime
    factor: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _origin: float = field(default=-1.0)

    def __call__(self) -> datetime:
        if self._origin < 0:
            self._origin = self.monotonic()
        return self.start + timedelta(seconds=(self.monotonic() - self._origin) * self.factor)

    def describe(self) -> str:
        if self.factor == 1:
            return "local clock: real time"
        minutes = self.factor / 60
        return (
            f"local clock compressed: 1 s here is {minutes:g} min of schedule time "
            f"(starting at {self.start:%Y-%m-%d %H:%M} UTC)"
        )


@dataclass
class Fired:
    name: str
    campaign: str
    instant: datetime
    rows: int
    enqueued: int
    state: str  # done / failed
    at: datetime
    resumed_chunks: int = 0  # chunks a retry found already enqueued by a failed attempt


class LocalScheduler:
    """Fires the group's due one-time schedules (module doc). Clients are made per call from
    the environment (the local run's endpoint); `wrap_sqs` lets a test fail the queue."""

    def __init__(
        self,
        outputs: dict[str, str],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wrap_sqs: Callable[[Any, int], Any] | None = None,
        chunk_rows: int = rules.CHUNK_ROWS,
    ) -> None:
        self.outputs = outputs
        self.chunk_rows = chunk_rows
        self.clock = clock
        self.wrap_sqs = wrap_sqs
        self.fired: list[Fired] = []

    def _due(self) -> list[dict[str, Any]]:
        scheduler = boto3.client("scheduler")
        group = self.outputs[Output.SCHEDULE_GROUP_NAME]
        now = self.clock()
        due = []
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
            for summary in page.get("Schedules", []):
                detail = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                instant = rules.parse_at_expression(detail.get("ScheduleExpression", ""))
                if instant is not None and instant <= now:
                    due.append(detail)
        return sorted(due, key=lambda d: (d["ScheduleExpression"], d["Name"]))

    def pending(self) -> int:
        scheduler = boto3.client("scheduler")
        group = self.outputs[Output.SCHEDULE_GROUP_NAME]
        return len(scheduler.list_schedules(GroupName=group).get("Schedules", []))

    def fire_due(self) -> list[Fired]:
        """Run every due schedule once (with its retries); the schedules fired."""
        fired = [self._fire(detail) for detail in self._due()]
        self.fired += fired
        return fired

    def _fire(self, detail: dict[str, Any]) -> Fired:
        payload = json.loads(detail["Target"].get("Input") or "{}")
        enqueued, resumed, state = 0, 0, "failed"
        for attempt in range(ATTEMPTS):
            sqs = boto3.client("sqs")
            core = CampaignEnqueuer(
                s3=boto3.client("s3"),
                sqs=self.wrap_sqs(sqs, attempt) if self.wrap_sqs else sqs,
                dynamodb=boto3.client("dynamodb"),
                bucket=self.outputs[Output.CAMPAIGN_BUCKET_NAME],
                queue_url=self.outputs[Output.QUEUE_URL],
                status_table=self.outputs[Output.STATUS_TABLE_NAME],
                chunk_rows=self.chunk_rows,
            )
            try:
                result = core.run(payload, remaining_ms=lambda: 900_000)
                while result.state == CONTINUE:  # the function's self re-invocation
                    enqueued += result.enqueued
                    result = core.run(payload, remaining_ms=lambda: 900_000)
            except Exception as error:  # the function failed: Lambda retries it
                log.warning(
                    "local_schedule_attempt_failed",
                    extra={"schedule": detail["Name"], "attempt": attempt, "error": repr(error)},
                )
                continue
            enqueued += result.enqueued
            resumed = result.chunks_skipped if attempt else 0
            state = "done"
            break
        boto3.client("scheduler").delete_schedule(
            Name=detail["Name"], GroupName=self.outputs[Output.SCHEDULE_GROUP_NAME]
        )
        instant = rules.parse_at_expression(detail["ScheduleExpression"]) or self.clock()
        return Fired(
            name=detail["Name"],
            campaign=str(payload.get("campaign", "")),
            instant=instant,
            rows=int(payload.get("rows", 0)),
            enqueued=enqueued,
            state=state,
            at=self.clock(),
            resumed_chunks=resumed,
        )

    def run(self, until: threading.Event, *, interval: float = 1.0) -> None:
        """`python -m bulkmail local`: fire due schedules every `interval` until told to stop."""
        while not until.wait(interval):
            try:
                self.fire_due()
            except Exception as error:  # the emulator going away on Ctrl-C
                log.warning("local_scheduler_failed", extra={"error": repr(error)})
