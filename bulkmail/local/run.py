"""A whole local run: emulator, provisioning, handler and poller, undone on exit."""

from __future__ import annotations

import dataclasses
import gc
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_sender.names import Output
from bulk_sender.status_table import COUNTS_SK, PARTITION_KEY, SORT_KEY
from bulkmail import queues, status
from bulkmail.campaign import CampaignOptions, Row, read_campaign
from bulkmail.local import emulator as emu
from bulkmail.local.http import unsubscribe_endpoint
from bulkmail.local.invoke import fresh_handler
from bulkmail.local.poller import LocalMapping, Poller, read_dlq
from bulkmail.local.provision import handler_env, local_env, provision, reset_moto, running_emulator
from bulkmail.local.scheduler import provision_scheduling
from bulkmail.local.settings import EXAMPLES, LocalSettings
from bulkmail.local.summary import Progress, Summary
from bulkmail.sample import SAMPLE_ROWS, write_campaign

GC_THRESHOLDS = (100_000, 50, 1000)  # gc.set_threshold during a local run (default 700, 10, 10)
DEMO_OPTIONS = CampaignOptions(
    campaign="demo",
    from_address="Example News <news@example.com>",
    template="welcome",
    id_key=b"local-demo-key",
    # No --unsubscribe-url: the sender adds the signed links to the local endpoint.
)


@dataclass(frozen=True)
class Faults:
    """Seeded faults: the emulator's, and the two the poller and the handler's client add."""

    entry_rate: float = 0.0  # SES entries answered with one of `entry_statuses`
    call_rate: float = 0.0  # SendBulkEmail calls failed whole with TooManyRequestsException
    entry_statuses: tuple[str, ...] = emu.DEFAULT_ENTRY_STATUSES
    crash_rate: float = 0.0  # invocations that die after their calls, before they return
    dlq_fail_rate: float = 0.0  # the handler's DLQ writes that fail
    seed: int = 0


def run_local(
    rows: Sequence[Row | str],
    *,
    faults: float = 0.0,
    entry_faults: float | None = None,
    call_faults: float | None = None,
    entry_statuses: Sequence[str] = emu.DEFAULT_ENTRY_STATUSES,
    seed: int = 0,
    crash_rate: float = 0.0,
    dlq_fail_rate: float = 0.0,
    settings: LocalSettings | None = None,
    emulator: emu.Emulator | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    then: Callable[[LocalRun, Summary], None] | None = None,
) -> Summary:
    """Enqueue `rows` and run the real handler until the queue drains; what happened.

    `rows` are campaign rows (`bulkmail.campaign.read_campaign`: refused ones are counted, not
    sent) or raw SQS bodies (str, put on the queue as they are). `faults` is the emulator's
    share of failed entries and of throttled calls (`entry_faults` / `call_faults` set them
    apart); `crash_rate` and `dlq_fail_rate` are the chaos knobs (module doc); `seed` fixes
    every random choice. Starts its own emulator unless one is given; its state is reset.
    `then(local_run, summary)` runs afterwards on the same emulator (the demo's unsubscribe
    loop, bulkmail.local.loop), adding to the summary's `follow_up`.
    """
    chaos = Faults(
        entry_rate=faults if entry_faults is None else entry_faults,
        call_rate=faults if call_faults is None else call_faults,
        entry_statuses=tuple(entry_statuses),
        crash_rate=crash_rate,
        dlq_fail_rate=dlq_fail_rate,
        seed=seed,
    )
    with LocalRun(settings, chaos, emulator=emulator) as local_run:
        summary = local_run.run(rows, on_progress)
        if then is not None:
            then(local_run, summary)
        return summary


class LocalRun:
    """The emulator started (or reset), the stack's resources provisioned, the environment
    set for the handler, and the handler's sender fresh; all undone on exit.

    `urls` holds the stack's outputs (QueueUrl, QueueArn, DlqUrl, DlqArn): anything may put
    messages on the queue (e.g. the `enqueue` command) before or during `run`.
    """

    def __init__(
        self,
        settings: LocalSettings | None = None,
        faults: Faults | None = None,
        *,
        emulator: emu.Emulator | None = None,
    ) -> None:
        self.settings = settings or LocalSettings()
        self.faults = faults or Faults()
        self._given = emulator
        self._exit = ExitStack()
        self.urls: dict[str, str] = {}
        self.mapping = LocalMapping()
        self.endpoint_url = ""
        self.setup_seconds = 0.0

    def __enter__(self) -> LocalRun:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        self.setup_seconds = time.monotonic() - started
        return self

    def __exit__(self, *_: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        settings, faults = self.settings, self.faults
        # The emulator's state (queues, tables, the sent record) is many small objects that
        # live long: Python's default collector scans them all again and again as the run
        # allocates. Collected less often, the local sender ran ~1.5x faster at 4,000 rows.
        previous = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        self._exit.callback(gc.set_threshold, *previous)
        running = self._exit.enter_context(running_emulator(self._given))
        self.endpoint_url = running.endpoint_url
        self._exit.enter_context(local_env(running.endpoint_url, settings))
        reset_moto(running.endpoint_url)
        emu.reset()
        emu.set_max_send_rate(settings.account_send_rate)
        emu.set_sent_limit(settings.sent_limit)
        if settings.daily_quota is not None:
            emu.set_daily_quota(settings.daily_quota, settings.quota_window_seconds)
        self.urls = provision(settings)
        self.urls.update(provision_scheduling(settings.region))  # scheduled campaigns
        emu.set_event_queue(settings.events_queue_name)
        self.urls[Output.UNSUBSCRIBE_URL] = self._exit.enter_context(unsubscribe_endpoint()).url
        os.environ.update(handler_env(settings, self.urls))
        emu.set_faults(
            faults.entry_rate, faults.call_rate, faults.seed, entry_statuses=faults.entry_statuses
        )
        self._exit.callback(emu.set_faults, 0, 0)
        self.sqs = queues.sqs_client(max_pool=settings.enqueue_workers + 2)
        self._dlq_writes = self._exit.enter_context(
            fresh_handler(settings, faults.dlq_fail_rate, faults.seed, self.mapping)
        )

    def run(
        self, rows: Sequence[Row | str] = (), on_progress: Callable[[Progress], None] | None = None
    ) -> Summary:
        """Enqueue `rows` while draining, until the queue is empty; then read the results."""
        poller = Poller(
            _as_rows(rows),
            self.urls,
            self.settings,
            sqs=self.sqs,
            seed=self.faults.seed,
            crash_rate=self.faults.crash_rate,
            mapping=self.mapping,
        )
        # What this run sent and dead-lettered, not an earlier run on the same emulator.
        sent_before = len(emu.sent_emails(self.settings.region))
        dead_before = {m["MessageId"] for m in read_dlq(self.sqs, self.urls[Output.DLQ_URL])}
        summary = poller.run(on_progress, setup_seconds=self.setup_seconds)
        summary.dlq_write_faults = self._dlq_writes.failed
        summary.faults_injected = emu.fault_counts()
        summary.sent = emu.sent_emails(self.settings.region)[sent_before:]
        summary.dead_letters = [
            m
            for m in read_dlq(self.sqs, self.urls[Output.DLQ_URL])
            if m["MessageId"] not in dead_before
        ]
        summary.endpoint_url = self.endpoint_url
        summary.campaigns = read_campaigns(self.urls[Output.STATUS_TABLE_NAME])
        return summary


def read_campaigns(table: str) -> dict[str, dict[str, Any]]:
    """Every campaign's counts item in the (local, small) status table, by campaign."""
    dynamodb = status.dynamodb_client()
    found: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            if item[SORT_KEY]["S"] == COUNTS_SK:
                name = item[PARTITION_KEY]["S"]
                found[name] = status.read_counts(dynamodb, table, name)
    return found


def _as_rows(items: Sequence[Row | str]) -> list[Row]:
    return [item if isinstance(item, Row) else Row(n, item) for n, item in enumerate(items, 1)]


def demo_rows(
    count: int = SAMPLE_ROWS, *, workdir: Path | None = None
) -> tuple[list[Row], list[Row]]:
    """The demo's rows: the sample campaign (examples/campaign.csv, or `count` rows made the
    same way), checked; and examples/raw.jsonl, put past the checks (`--no-validate`)."""
    sample = EXAMPLES / "campaign.csv"
    if count != SAMPLE_ROWS or not sample.is_file():
        directory = workdir or Path(tempfile.mkdtemp(prefix="bulkmail-"))
        sample = write_campaign(directory / "campaign.csv", count)
    raw_options = dataclasses.replace(DEMO_OPTIONS, validate=False)
    return read_campaign(sample, DEMO_OPTIONS), read_campaign(EXAMPLES / "raw.jsonl", raw_options)
