"""Lambda's SQS event source mapping, one invocation at a time, and the pause probe's schedule."""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from typing import Any

import boto3

from bulk_sender import metric_names
from bulk_sender.campaign_status import campaign_of
from bulk_sender.names import Output
from bulk_sender.pause import MarkerStore
from bulk_sender.probe import RESUMED, probe
from bulkmail import queues, status
from bulkmail.campaign import Row
from bulkmail.local.invoke import LambdaContext, emf_counters, sqs_event
from bulkmail.local.settings import LocalSettings
from bulkmail.local.summary import Progress, Summary

log = logging.getLogger(__name__)

EVENTS_BATCH_SIZE = 100  # the stack's events event source mapping
EVENTS_ROUNDS = 5


class LocalMapping:
    """The event source mapping's Enabled flag: the sender stops it (pause.py), the probe
    starts it again (probe.py), the poller reads it."""

    def __init__(self) -> None:
        self.is_enabled = True

    def stop(self, source_arn: str | None) -> None:
        self.is_enabled = False

    def enabled(self) -> bool:
        return self.is_enabled

    def set_enabled(self, enabled: bool) -> None:
        self.is_enabled = enabled


class Poller:
    """Lambda's event source mappings, one invocation at a time, enqueuing as it drains: the
    sender's on the send queue and, when the urls name one, the events function's on the
    events queue (SES's events of what was sent)."""

    def __init__(
        self,
        rows: Sequence[Row],
        urls: dict[str, str],
        settings: LocalSettings,
        *,
        sqs: Any,
        seed: int = 0,
        crash_rate: float = 0.0,
        mapping: LocalMapping | None = None,
    ) -> None:
        self.settings = settings
        self.mapping = mapping or LocalMapping()
        self._next_probe = 0.0
        self._probe_clients: tuple[Any, Any] | None = None
        self.urls = urls
        self.sqs = sqs
        self.summary = Summary(rows=len(rows), settings=settings)
        self.summary.refused = [row for row in rows if row.refused]
        self._bodies = [row.body for row in rows if row.body is not None]
        self._next = 0  # the next body to enqueue
        self._enqueuer = queues.Enqueuer(
            self.sqs, urls[Output.QUEUE_URL], workers=settings.enqueue_workers
        )
        self._crash_rate = crash_rate
        self._random = random.Random(f"{seed}:crashes")

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        setup_seconds: float = 0,
        until: threading.Event | None = None,
    ) -> Summary:
        """Until the queue drains (and every row is enqueued); with `until`, until it is set
        (`python -m bulkmail local`: others enqueue), reporting progress once more when the
        queue goes idle."""
        import handler

        summary = self.summary
        summary.setup_seconds = setup_seconds
        started = time.monotonic()
        busy = False
        while not (until.is_set() if until else self._timed_out(started)):
            self._top_up()
            self._probe()
            batch = self._gather() if self.mapping.is_enabled else []
            if batch:
                busy = True
                self._invoke(handler.lambda_handler, batch)
                if on_progress:
                    on_progress(self._progress(started))
                continue
            # Lambda runs the events function beside the sender; here it runs when the
            # sender has nothing to do, so the sending rate is the sender's own.
            if not summary.send_seconds and self._send_queue_drained():
                summary.send_seconds = time.monotonic() - started
            if self._events():
                continue
            if self._drained():
                summary.drained = True
                if until is None:
                    break
                if busy and on_progress:
                    on_progress(self._progress(started))
                busy = False
                until.wait(0.2)
            elif until is not None:  # retried messages come back after the visibility timeout
                until.wait(0.05)
            else:
                time.sleep(0.05)
        summary.seconds = time.monotonic() - started
        summary.send_seconds = summary.send_seconds or summary.seconds
        return summary

    def _timed_out(self, started: float) -> bool:
        return time.monotonic() - started >= self.settings.max_run_seconds

    def _top_up(self) -> None:
        """Keep the queue shallow: moto's SQS scans the whole queue on every call."""
        if self._next == len(self._bodies):
            return
        if (
            queues.queue_depth(self.sqs, self.urls[Output.QUEUE_URL])["visible"]
            >= self.settings.low_water
        ):
            return
        chunk = self._bodies[self._next : self._next + self.settings.enqueue_chunk]
        offset = self._next
        self._next += len(chunk)
        report = self._enqueuer.send(chunk)
        self.summary.enqueued += report.enqueued
        failed = {index for index, _ in report.failed}
        self._count_enqueued([body for i, body in enumerate(chunk) if i not in failed])
        self.summary.refused += [
            Row(-1, None, f"enqueue: SendMessageBatch failed ({code}) for body {offset + i}")
            for i, code in report.failed
        ]

    def _probe(self) -> None:
        """The pause probe's schedule, shortened (LocalSettings.probe_interval_seconds)."""
        if time.monotonic() < self._next_probe:
            return
        self._next_probe = time.monotonic() + self.settings.probe_interval_seconds
        if self._probe_clients is None:
            self._probe_clients = (boto3.client("sesv2"), boto3.client("dynamodb"))
        ses, dynamodb = self._probe_clients
        try:
            result = probe(
                ses=ses,
                mapping=self.mapping,
                markers=MarkerStore(dynamodb, self.settings.table_name),
                default_configuration_set=self.settings.configuration_set,
            )
        except Exception:  # as in Lambda: this run fails, the next one tries again
            log.exception("probe_failed")
            return
        if result.state == RESUMED:
            self.summary.resumes += 1

    def _gather(self) -> list[dict[str, Any]]:
        """Up to batch_size records, within the batching window, in ReceiveMessage rounds."""
        batch: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + self.settings.batching_window_seconds
        while len(batch) < self.settings.batch_size and time.monotonic() < deadline:
            received = queues.receive(
                self.sqs,
                self.urls[Output.QUEUE_URL],
                visibility_timeout=self.settings.visibility_timeout_seconds,
                count=self.settings.batch_size - len(batch),
            )
            if not received:
                break
            batch.update((message["MessageId"], message) for message in received)
        return list(batch.values())

    def _invoke(self, lambda_handler: Callable[..., Any], batch: list[dict[str, Any]]) -> None:
        summary = self.summary
        event = sqs_event(batch, self.urls[Output.QUEUE_ARN], self.settings.region)
        context = LambdaContext(self.settings.function_timeout_seconds)
        summary.invocations += 1
        output = io.StringIO()
        try:
            with redirect_stdout(output):
                response = lambda_handler(event, context)
        except Exception:
            log.exception("invocation_failed", extra={"records": len(batch)})
            summary.invocation_errors += 1
            # Lambda retries the whole batch: nothing is deleted
            self._give_back(self.urls[Output.QUEUE_URL], batch)
            return
        finally:
            summary.metrics.update(emf_counters(output.getvalue()))
        if self._random.random() < self._crash_rate:
            summary.crashes += 1  # died before returning: the answer is lost
            self._give_back(self.urls[Output.QUEUE_URL], batch)
            return
        self._settle(batch, response)

    def _give_back(self, url: str, messages: Sequence[dict[str, Any]]) -> None:
        """Records whose invocation has ended without deleting them come back after
        retry_delay_seconds, not the rest of the visibility timeout: the one time the local
        run shortens (no invocation holds them any more, so none is sent twice for it)."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {
                    "Id": str(i),
                    "ReceiptHandle": m["ReceiptHandle"],
                    "VisibilityTimeout": self.settings.retry_delay_seconds,
                }
                for i, m in enumerate(chunk)
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
            except Exception:  # they come back after the visibility timeout instead
                log.warning("give_back_failed", extra={"records": len(chunk)}, exc_info=True)

    def _settle(self, batch: list[dict[str, Any]], response: dict[str, Any]) -> None:
        """Delete the records the handler did not report; an unknown id fails the batch."""
        ids = {message["MessageId"] for message in batch}
        failures = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        if not failures <= ids:
            log.warning("unknown_batch_item_failure", extra={"records": len(batch)})
            self._give_back(self.urls[Output.QUEUE_URL], batch)
            return
        done = [m["ReceiptHandle"] for m in batch if m["MessageId"] not in failures]
        queues.delete(self.sqs, self.urls[Output.QUEUE_URL], done)
        retried = [m for m in batch if m["MessageId"] in failures]
        self._give_back(self.urls[Output.QUEUE_URL], retried)

    def _count_enqueued(self, bodies: Sequence[str]) -> None:
        """What the CLI's enqueue counts in the status table: enqueued, per campaign."""
        table = self.urls.get(Output.STATUS_TABLE_NAME)
        if not table:
            return
        per_campaign: dict[str, int] = {}
        for body in bodies:
            try:
                doc = json.loads(body)
            except ValueError:
                continue
            if not isinstance(doc, dict):
                continue
            raw_tags = doc.get("tags")
            tags: dict[str, str] = raw_tags if isinstance(raw_tags, dict) else {}
            message_id = doc.get("id") if isinstance(doc.get("id"), str) else None
            name = campaign_of(tags, message_id)
            if name:
                per_campaign[name] = per_campaign.get(name, 0) + 1
        dynamodb = status.dynamodb_client()
        for name, count in per_campaign.items():
            status.record_enqueued(dynamodb, table, name, count)

    def _events(self) -> int:
        """The events function, invoked while the events queue holds full batches (a few
        rounds at most, then the sender's turn): how many events it was given."""
        handled = 0
        for _round in range(EVENTS_ROUNDS):
            count = self._events_batch()
            handled += count
            if count < EVENTS_BATCH_SIZE:
                break
        return handled

    def _events_batch(self) -> int:
        """One invocation of the events function with up to a batch of the events queue:
        the records it did not report in batchItemFailures are deleted."""
        url = self.urls.get("EventsQueueUrl")
        if not url:
            return 0
        import events

        batch: dict[str, dict[str, Any]] = {}
        while len(batch) < EVENTS_BATCH_SIZE:
            received = queues.receive(
                self.sqs,
                url,
                visibility_timeout=self.settings.visibility_timeout_seconds,
                count=EVENTS_BATCH_SIZE - len(batch),
            )
            if not received:
                break
            batch.update((message["MessageId"], message) for message in received)
        if not batch:
            return 0
        messages = list(batch.values())
        event = sqs_event(messages, self.urls["EventsQueueArn"], self.settings.region)
        output = io.StringIO()
        try:
            with redirect_stdout(output):
                response = events.lambda_handler(
                    event, LambdaContext(self.settings.function_timeout_seconds)
                )
        except Exception:
            log.exception("events_invocation_failed", extra={"records": len(messages)})
            self._give_back(url, messages)
            return len(messages)
        finally:
            self.summary.metrics.update(emf_counters(output.getvalue()))
        failures = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failures]
        queues.delete(self.sqs, url, done)
        self._give_back(url, [m for m in messages if m["MessageId"] in failures])
        return len(messages)

    def _send_queue_drained(self) -> bool:
        if self._next < len(self._bodies):
            return False
        return not any(queues.queue_depth(self.sqs, self.urls[Output.QUEUE_URL]).values())

    def _drained(self) -> bool:
        if not self._send_queue_drained():
            return False
        if self.urls.get("EventsQueueUrl"):
            return not any(queues.queue_depth(self.sqs, self.urls["EventsQueueUrl"]).values())
        return True

    def _progress(self, started: float) -> Progress:
        dlq = queues.queue_depth(self.sqs, self.urls[Output.DLQ_URL])
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
