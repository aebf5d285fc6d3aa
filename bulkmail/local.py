"""The local run (DESIGN.md section 8): the real handler on an embedded AWS emulator.

`run_local(rows)` starts moto's server in process (bulkmail.emulator), provisions what the
stack provisions, enqueues the rows with the CLI's own code (bulkmail.queues.Enqueuer) in
chunks while it drains, polls the queue as Lambda's event source mapping does, invokes
`handler.lambda_handler` with an SQS event and a Lambda context, deletes what the handler did
not report in `batchItemFailures`, and returns a `Summary`.

Local settings differ from the stack's where time demands it (LocalSettings):
- visibility timeout 1 s (the stack: six times the function timeout), so a retried message
  is back within a second; the handler's retry backoff is off (RETRY_BACKOFF_BASE_SECONDS=0);
- the send rate is set explicitly: the emulator's GetAccount answers 500/s (moto's own quota
  is 1/s) and MAX_SEND_RATE is 450 (its 90 %, one invocation at a time);
- one invocation at a time, each gathering up to 100 records (or what one short poll round
  finds), instead of Lambda's concurrent pollers.

Chaos knobs (issue 6): `crash_rate` makes an invocation "die after its calls and before it
returns": the poller drops its answer and deletes nothing, so SQS delivers the batch again.
`dlq_fail_rate` makes a seeded share of the handler's DLQ writes fail (the handler's SQS
client's SendMessageBatch, the DLQ writer's only call: entries come back `Failed`, or the
whole call raises when every entry of it drew a failure).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import os
import random
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bulk_sender import metric_names
from bulkmail import emulator as emu
from bulkmail import queues
from bulkmail.campaign import CampaignOptions, Row, read_campaign
from bulkmail.sample import SAMPLE_ROWS, write_campaign
from stacks.template_files import load_templates

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
EXAMPLES = ROOT / "examples"
# How the demo enqueues the sample campaign (the same options as `enqueue` on the command line).
DEMO_OPTIONS = CampaignOptions(
    campaign="demo",
    from_address="Example News <news@example.com>",
    template="welcome",
    id_key=b"local-demo-key",
    unsubscribe_url="https://example.com/unsubscribe?id={id}",
)


@dataclass(frozen=True)
class LocalSettings:
    """The local stand-in for the stack and its event source mapping (see the module doc)."""

    region: str = emu.DEFAULT_REGION
    identity: str = "example.com"  # the verified sending domain
    configuration_set: str = "bulk-email-local"
    queue_name: str = "bulk-email-local"
    dlq_name: str = "bulk-email-local-dlq"
    table_name: str = "bulk-email-local-idempotency"
    batch_size: int = 100
    batching_window_seconds: float = 0.5
    visibility_timeout_seconds: int = 1
    max_receive_count: int = 5
    account_send_rate: float = 500.0  # what the emulator's GetAccount answers
    max_send_rate: float = 450.0  # MAX_SEND_RATE: 90 % of it, one invocation at a time
    max_calls_in_flight: int = 4
    function_timeout_seconds: int = 60
    low_water: int = 100  # enqueue another chunk when fewer messages than this wait
    enqueue_chunk: int = 200
    enqueue_workers: int = 4
    max_run_seconds: float = 600.0
    templates: Path = TEMPLATES
    log_file: Path | None = None  # where the handler's Powertools logs go (None: discarded)

    def describe(self) -> str:
        return (
            f"local settings: visibility timeout {self.visibility_timeout_seconds}s, "
            f"maxReceiveCount {self.max_receive_count}, retry backoff off, "
            f"batch size {self.batch_size}, MAX_SEND_RATE {self.max_send_rate:g}/s set "
            f"explicitly (GetAccount answers {self.account_send_rate:g}/s; moto's quota is 1/s)"
        )


@dataclass(frozen=True)
class Progress:
    """A snapshot after each invocation."""

    to_send: int  # rows with a body (valid, or raw)
    enqueued: int
    sent: int  # EmailsSent so far
    retried: int  # EmailsRetried so far
    dead_lettered: int  # on the DLQ now
    invocations: int
    elapsed: float


@dataclass
class Summary:
    """What a local run did. `sent` is the emulator's record, `dead_letters` the DLQ's content."""

    rows: int = 0
    enqueued: int = 0
    refused: list[Row] = field(default_factory=list)
    sent: list[emu.SentEmail] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    metrics: Counter[str] = field(default_factory=Counter)
    invocations: int = 0
    crashes: int = 0  # invocations whose answer was dropped (crash_rate)
    invocation_errors: int = 0  # invocations that raised (Lambda retries the whole batch)
    dlq_write_faults: int = 0  # DLQ entries whose write was made to fail (dlq_fail_rate)
    faults_injected: dict[str, int] = field(default_factory=dict)  # by the emulator
    seconds: float = 0.0  # from the first enqueue to a drained queue
    setup_seconds: float = 0.0
    drained: bool = False
    endpoint_url: str = ""
    settings: LocalSettings = field(default_factory=LocalSettings)

    @property
    def dead_by_reason(self) -> Counter[str]:
        return Counter(queues.error_code(message) for message in self.dead_letters)

    @property
    def sent_twice(self) -> int:
        """Emails the emulator recorded more than once (by their recipients): 0 if exactly once."""
        keys = Counter(_recipients_key(email) for email in self.sent)
        return sum(count - 1 for count in keys.values())

    @property
    def retried(self) -> int:
        return self.metrics[metric_names.EMAILS_RETRIED]

    @property
    def calls(self) -> int:
        return self.metrics[metric_names.SEND_BULK_EMAIL_CALLS]

    @property
    def throughput(self) -> float:
        return len(self.sent) / self.seconds if self.seconds else 0.0

    @property
    def rows_balance(self) -> bool:
        return self.rows == self.enqueued + len(self.refused)

    @property
    def enqueued_balance(self) -> bool:
        return self.enqueued == len(self.sent) + len(self.dead_letters)

    def lines(self, *, refused_shown: int = 5) -> list[str]:
        """The printed summary, with the two equations and whether they hold."""
        sent, dead, refused = len(self.sent), len(self.dead_letters), len(self.refused)
        reasons = ", ".join(f"{code} {n}" for code, n in sorted(self.dead_by_reason.items()))
        lines = [
            f"rows                 {self.rows}",
            f"enqueued             {self.enqueued}",
            f"refused by the CLI   {refused}",
            *(f"  line {row.line}: {row.error}" for row in self.refused[:refused_shown]),
            *([f"  ... and {refused - refused_shown} more"] if refused > refused_shown else []),
            f"sent                 {sent}  (sent twice: {self.sent_twice})",
            f"retried              {self.retried}  (deliveries answered with a retry)",
            f"dead-lettered        {dead}" + (f"  ({reasons})" if reasons else ""),
            f"SendBulkEmail calls  {self.calls}",
            f"invocations          {self.invocations}"
            + (f"  ({self.crashes} crashed on purpose)" if self.crashes else ""),
        ]
        if self.faults_injected or self.dlq_write_faults:
            faults = dict(self.faults_injected)
            if self.dlq_write_faults:
                faults["DLQ write"] = self.dlq_write_faults
            lines.append(f"faults injected      {', '.join(f'{k} {v}' for k, v in faults.items())}")
        lines += [
            f"throughput           {self.throughput:.0f} emails/s  ({self.seconds:.1f}s; "
            f"set-up {self.setup_seconds:.1f}s not counted)",
            f"rows = enqueued + refused:        {self.rows} = {self.enqueued} + {refused}"
            f"  {_holds(self.rows_balance)}",
            f"enqueued = sent + dead-lettered:  {self.enqueued} = {sent} + {dead}"
            f"  {_holds(self.enqueued_balance)}",
        ]
        if not self.drained:
            lines.append(f"the queue did not drain within {self.settings.max_run_seconds:g}s")
        return lines


def _recipients_key(email: emu.SentEmail) -> tuple[str, ...]:
    return tuple(sorted(a.lower() for a in (*email["to"], *email["cc"], *email["bcc"])))


def _holds(ok: bool) -> str:
    return "holds" if ok else "DOES NOT HOLD"


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
) -> Summary:
    """Enqueue `rows` and run the real handler until the queue drains; what happened.

    `rows` are campaign rows (`bulkmail.campaign.read_campaign`: refused ones are counted, not
    sent) or raw SQS bodies (str, put on the queue as they are). `faults` is the emulator's
    share of failed entries and of throttled calls (`entry_faults` / `call_faults` set them
    apart); `crash_rate` and `dlq_fail_rate` are the chaos knobs (module doc); `seed` fixes
    every random choice. Starts its own emulator unless one is given; its state is reset.
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
        return local_run.run(rows, on_progress)


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
        running = self._exit.enter_context(_emulator(self._given))
        self.endpoint_url = running.endpoint_url
        self._exit.enter_context(_local_env(running.endpoint_url, settings))
        _reset_moto(running.endpoint_url)
        emu.reset()
        emu.set_max_send_rate(settings.account_send_rate)
        self.urls = provision(settings)
        os.environ.update(_handler_env(settings, self.urls))
        emu.set_faults(
            faults.entry_rate, faults.call_rate, faults.seed, entry_statuses=faults.entry_statuses
        )
        self._exit.callback(emu.set_faults, 0, 0)
        self.sqs = queues.sqs_client(max_pool=settings.enqueue_workers + 2)
        self._dlq_writes = self._exit.enter_context(
            _handler(settings, faults.dlq_fail_rate, faults.seed)
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
        )
        summary = poller.run(on_progress, setup_seconds=self.setup_seconds)
        summary.dlq_write_faults = self._dlq_writes.failed
        summary.faults_injected = emu.fault_counts()
        summary.sent = emu.sent_emails(self.settings.region)
        summary.dead_letters = read_dlq(self.sqs, self.urls["DlqUrl"])
        summary.endpoint_url = self.endpoint_url
        return summary


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


# --- the emulator, the environment, what the stack provisions -------------------------------


@contextmanager
def _emulator(given: emu.Emulator | None) -> Iterator[emu.Emulator]:
    if given is not None:
        yield given
        return
    with emu.start_server() as started:
        yield started


def _reset_moto(endpoint_url: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


@contextmanager
def _local_env(endpoint_url: str, settings: LocalSettings) -> Iterator[None]:
    """Dummy credentials, the region and the emulator's endpoint; restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            del os.environ[name]
    for name in ("DEFAULT_FROM", "DEFAULT_TEMPLATE", "DEFAULT_TAGS"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=settings.region,
        AWS_REGION=settings.region,
        AWS_ENDPOINT_URL=endpoint_url,
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _handler_env(settings: LocalSettings, urls: dict[str, str]) -> dict[str, str]:
    """The Lambda's environment as the stack sets it, with the local differences."""
    return {
        "DLQ_URL": urls["DlqUrl"],
        "QUEUE_URL": urls["QueueUrl"],
        "CONFIGURATION_SET_NAME": settings.configuration_set,
        "IDEMPOTENCY_TABLE": settings.table_name,
        "MAX_SEND_RATE": f"{settings.max_send_rate:g}",
        "MAX_CONCURRENCY": "1",
        "MAX_CALLS_IN_FLIGHT": str(settings.max_calls_in_flight),
        "RETRY_BACKOFF_BASE_SECONDS": "0",
        "POWERTOOLS_SERVICE_NAME": os.environ.get("POWERTOOLS_SERVICE_NAME", "bulk-email"),
        "POWERTOOLS_METRICS_NAMESPACE": os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "BulkEmail"),
    }


def provision(settings: LocalSettings) -> dict[str, str]:
    """What the stack provisions, on the emulator: queues, identity, templates, set, table.

    Returns the stack's output names: QueueUrl, QueueArn, DlqUrl, DlqArn.
    """
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=settings.dlq_name)["QueueUrl"]
    dlq_arn = queues.queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
    queue_url = sqs.create_queue(
        QueueName=settings.queue_name,
        Attributes={
            "VisibilityTimeout": str(settings.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    ses = boto3.client("sesv2")
    ses.create_email_identity(EmailIdentity=settings.identity)
    ses.create_configuration_set(ConfigurationSetName=settings.configuration_set)
    for template in load_templates(settings.templates):
        ses.create_email_template(
            TemplateName=template.name, TemplateContent=template.ses_content()
        )
    boto3.client("dynamodb").create_table(
        TableName=settings.table_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {
        "QueueUrl": queue_url,
        "QueueArn": queues.queue_arn(sqs, queue_url),
        "DlqUrl": dlq_url,
        "DlqArn": dlq_arn,
    }


# --- the handler ----------------------------------------------------------------------------


class FlakyDlqWrites:
    """The handler's SQS client, whose SendMessageBatch fails a seeded share of entries.

    The handler calls SendMessageBatch only to write the DLQ. A failed entry is answered in
    `Failed`; when every entry of a call fails, the call raises instead (both paths of
    DESIGN.md section 5's "sending it to the DLQ fails").
    """

    def __init__(self, sqs: Any, rate: float, seed: int) -> None:
        self._sqs = sqs
        self._rate = rate
        self._random = random.Random(f"{seed}:dlq-writes")
        self._lock = threading.Lock()
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        with self._lock:
            fails = [self._random.random() < self._rate for _ in entries]
            self.failed += sum(fails)
        error = {"Code": "InternalError", "Message": "Injected DLQ write fault."}
        if entries and all(fails):
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "SendMessageBatch"
            )
        kept = [entry for entry, fail in zip(entries, fails, strict=True) if not fail]
        response = self._sqs.send_message_batch(**{**request, "Entries": kept})
        failed = [
            {"Id": entry["Id"], "SenderFault": False, **error}
            for entry, fail in zip(entries, fails, strict=True)
            if fail
        ]
        return {**response, "Failed": response.get("Failed", []) + failed}


@contextmanager
def _handler(settings: LocalSettings, dlq_fail_rate: float, seed: int) -> Iterator[FlakyDlqWrites]:
    """A fresh sender for the real handler (its cache, handler._sender), logs off the terminal."""
    import handler  # after the environment is set: Powertools reads it at import
    from bulk_sender.core import BulkSender
    from bulk_sender.settings import Settings

    sqs = FlakyDlqWrites(boto3.client("sqs"), dlq_fail_rate, seed)
    handler._sender = BulkSender(Settings.from_env(), sqs=sqs)
    stream_handler = handler.logger.registered_handler
    log_stream = (
        settings.log_file.open("w", encoding="utf-8")
        if settings.log_file
        else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    )
    previous = stream_handler.setStream(log_stream)
    try:
        yield sqs
    finally:
        stream_handler.setStream(previous)
        log_stream.close()
        handler._sender = None


@dataclass
class LambdaContext:
    """The Lambda context object the handler and Powertools read."""

    timeout_seconds: int
    function_name: str = "bulk-email-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/bulk-email-local"
    log_stream_name: str = "local"
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{emu.DEFAULT_REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """ReceiveMessage's messages as the records of a Lambda SQS event."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    system = message.get("Attributes") or {}
    wanted = (
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    )
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in wanted if name in system},
        "messageAttributes": {
            name: _event_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _event_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute in the event's camelCase (binary values base64-encoded)."""
    converted: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if value.get("StringValue") is not None:
        converted["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return converted


def emf_counters(output: str) -> Counter[str]:
    """Sum the metrics of the EMF blobs Powertools printed (one JSON document a line)."""
    totals: Counter[str] = Counter()
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = blob.get(metric["Name"], 0)
                total = sum(value) if isinstance(value, list) else value
                totals[metric["Name"]] += int(total) if float(total).is_integer() else total
    return totals


# --- the poller -----------------------------------------------------------------------------


class Poller:
    """Lambda's event source mapping, one invocation at a time, enqueuing as it drains."""

    def __init__(
        self,
        rows: Sequence[Row],
        urls: dict[str, str],
        settings: LocalSettings,
        *,
        sqs: Any,
        seed: int = 0,
        crash_rate: float = 0.0,
    ) -> None:
        self.settings = settings
        self.urls = urls
        self.sqs = sqs
        self.summary = Summary(rows=len(rows), settings=settings)
        self.summary.refused = [row for row in rows if row.refused]
        self._bodies = [row.body for row in rows if row.body is not None]
        self._next = 0  # the next body to enqueue
        self._enqueuer = queues.Enqueuer(
            self.sqs, urls["QueueUrl"], workers=settings.enqueue_workers
        )
        self._crash_rate = crash_rate
        self._random = random.Random(f"{seed}:crashes")

    def run(
        self, on_progress: Callable[[Progress], None] | None = None, *, setup_seconds: float = 0
    ) -> Summary:
        import handler

        summary = self.summary
        summary.setup_seconds = setup_seconds
        started = time.monotonic()
        while time.monotonic() - started < self.settings.max_run_seconds:
            self._top_up()
            batch = self._gather()
            if batch:
                self._invoke(handler.lambda_handler, batch)
                if on_progress:
                    on_progress(self._progress(started))
            elif self._next == len(self._bodies) and self._drained():
                summary.drained = True
                break
            else:
                time.sleep(0.05)  # retried messages come back after the visibility timeout
        summary.seconds = time.monotonic() - started
        return summary

    def _top_up(self) -> None:
        """Keep the queue shallow: moto's SQS scans the whole queue on every call."""
        if self._next == len(self._bodies):
            return
        if (
            queues.queue_depth(self.sqs, self.urls["QueueUrl"])["visible"]
            >= self.settings.low_water
        ):
            return
        chunk = self._bodies[self._next : self._next + self.settings.enqueue_chunk]
        offset = self._next
        self._next += len(chunk)
        report = self._enqueuer.send(chunk)
        self.summary.enqueued += report.enqueued
        self.summary.refused += [
            Row(-1, None, f"enqueue: SendMessageBatch failed ({code}) for body {offset + i}")
            for i, code in report.failed
        ]

    def _gather(self) -> list[dict[str, Any]]:
        """Up to batch_size records, within the batching window, in ReceiveMessage rounds."""
        batch: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + self.settings.batching_window_seconds
        while len(batch) < self.settings.batch_size and time.monotonic() < deadline:
            received = queues.receive(
                self.sqs,
                self.urls["QueueUrl"],
                visibility_timeout=self.settings.visibility_timeout_seconds,
                count=self.settings.batch_size - len(batch),
            )
            if not received:
                break
            batch.update((message["MessageId"], message) for message in received)
        return list(batch.values())

    def _invoke(self, lambda_handler: Callable[..., Any], batch: list[dict[str, Any]]) -> None:
        summary = self.summary
        event = sqs_event(batch, self.urls["QueueArn"], self.settings.region)
        context = LambdaContext(self.settings.function_timeout_seconds)
        summary.invocations += 1
        output = io.StringIO()
        try:
            with redirect_stdout(output):
                response = lambda_handler(event, context)
        except Exception:
            log.exception("invocation_failed", extra={"records": len(batch)})
            summary.invocation_errors += 1
            return  # Lambda retries the whole batch: nothing is deleted
        finally:
            summary.metrics.update(emf_counters(output.getvalue()))
        if self._random.random() < self._crash_rate:
            summary.crashes += 1  # died before returning: the answer is lost
            return
        self._settle(batch, response)

    def _settle(self, batch: list[dict[str, Any]], response: dict[str, Any]) -> None:
        """Delete the records the handler did not report; an unknown id fails the batch."""
        ids = {message["MessageId"] for message in batch}
        failures = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        if not failures <= ids:
            log.warning("unknown_batch_item_failure", extra={"records": len(batch)})
            return
        done = [m["ReceiptHandle"] for m in batch if m["MessageId"] not in failures]
        queues.delete(self.sqs, self.urls["QueueUrl"], done)

    def _drained(self) -> bool:
        depth = queues.queue_depth(self.sqs, self.urls["QueueUrl"])
        return not any(depth.values())

    def _progress(self, started: float) -> Progress:
        dlq = queues.queue_depth(self.sqs, self.urls["DlqUrl"])
        return Progress(
            to_send=len(self._bodies),
            enqueued=self.summary.enqueued,
            sent=self.summary.metrics[metric_names.EMAILS_SENT],
            retried=self.summary.metrics[metric_names.EMAILS_RETRIED],
            dead_lettered=dlq["visible"] + dlq["in_flight"],
            invocations=self.summary.invocations,
            elapsed=time.monotonic() - started,
        )


def read_dlq(sqs: Any, dlq_url: str, *, visibility_timeout: int = 300) -> list[dict[str, Any]]:
    """Every message on the DLQ (received, not deleted: hidden for `visibility_timeout`)."""
    messages: dict[str, dict[str, Any]] = {}
    while received := queues.receive(sqs, dlq_url, visibility_timeout=visibility_timeout):
        messages.update((message["MessageId"], message) for message in received)
    return list(messages.values())
