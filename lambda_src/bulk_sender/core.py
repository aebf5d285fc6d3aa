"""The sending core: one SQS batch in, SendBulkEmail calls out, every record accounted for.

`BulkSender.process` parses each record (message.py), groups and cuts the valid ones into
calls (bulk_request.py), sends the calls concurrently under the pacing and the deadline,
maps every result entry back to its record by position, applies DESIGN.md section 5's
outcome table (outcomes.py), writes permanent failures to the DLQ (dlq.py) and answers with
the records to retry.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender import metric_names as m
from bulk_sender.attachments import DEFERRED, S3_CALL_MS, AttachmentFiles, memory_budget
from bulk_sender.bulk_request import build_request, group_label, plan_calls
from bulk_sender.campaign_status import DEFAULT_KEY, message_key
from bulk_sender.dlq import DeadLetter, DeadLetterQueue
from bulk_sender.fast_requests import speed_up
from bulk_sender.ledger import LEDGER_CALL_MS, Claim, DynamoLedger, NullLedger, ledger_client
from bulk_sender.message import Defaults, Email, InvalidMessage, parse_message
from bulk_sender.names import LogEvent
from bulk_sender.outcomes import (
    Outcome,
    backoff_seconds,
    call_error_code,
    call_error_outcome,
    entry_outcome,
    is_pause,
    is_throttle,
)
from bulk_sender.pacing import TokenBucket, account_rate
from bulk_sender.pause import PAUSED, WAIT_IN_FLIGHT, Pause, pause_for
from bulk_sender.preflight import TemplateCheck
from bulk_sender.records import SqsRecord, principal_of, redact
from bulk_sender.send_status import SendStatus
from bulk_sender.settings import Settings
from bulk_sender.status_table import STATUS_CALL_MS, StatusTable, status_client
from bulk_sender.unsubscribe import Unsubscribes

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2
READ_TIMEOUT = 10
SES_CALL_MS = (CONNECT_TIMEOUT + READ_TIMEOUT) * 1000
IDENTITY_RETRY_SECONDS = 300
# SQS's longest visibility is 12 hours from the receive, less the longest invocation.
IN_FLIGHT_WAIT_SECONDS = 12 * 3600 - 15 * 60
STS_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"}
)
# SQS (DLQ writes, visibility changes): explicit timeouts and two attempts, so that one call
# ends within SQS_CALL_MS whatever the network does.
SQS_CONNECT_TIMEOUT = 1
SQS_READ_TIMEOUT = 3
SQS_ATTEMPTS = 2
SQS_CALL_MS = SQS_ATTEMPTS * (SQS_CONNECT_TIMEOUT + SQS_READ_TIMEOUT) * 1000 + 1000
# What one SQS batch call (10 entries) usually takes, to size the work after the calls.
SQS_CALL_TYPICAL_MS = 50
SQS_BATCH = 10
# The answer itself: Powertools' metrics and logs, Lambda's serialisation.
RETURN_MARGIN_MS = 500
# A whole level of this many groups refused alike, none of the call ever accepted: the
# fault is the call's. Mistaking entries for the call takes as many of them at fault, one
# in each group; a call's fault costs 1 + 2 + 4 + 8 = 15 calls at most.
CALL_FAULT_GROUPS = 8
ALREADY_SENT = "AlreadySent"
INVALID_CODES = frozenset({"InvalidMessage", "MissingTemplateData"})
# Recipients per second when neither MAX_SEND_RATE nor GetAccount gives a rate: SES's
# sandbox rate, the one every account has.
FALLBACK_RATE = 1.0


def ses_client(max_pool: int = 10) -> Any:
    """SES v2 with botocore retries off: the handler sees, counts and paces every throttle."""
    client = boto3.client(
        "sesv2",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max_pool,
            # message.py has validated every field; botocore's second pass cost ~25 % of
            # the handler's CPU per message (bench/), and SES validates again anyway.
            parameter_validation=False,
        ),
    )
    return speed_up(client)  # fast_requests.py: the same requests, less botocore work


def sqs_client() -> Any:
    """SQS with explicit timeouts and bounded retries: the work after the calls must fit the
    deadline (botocore's defaults are 60 s timeouts and several attempts)."""
    return boto3.client(
        "sqs",
        config=Config(
            retries={"total_max_attempts": SQS_ATTEMPTS, "mode": "standard"},
            connect_timeout=SQS_CONNECT_TIMEOUT,
            read_timeout=SQS_READ_TIMEOUT,
        ),
    )


def after_calls_ms(records: int) -> int:
    """The time kept for what follows the SendBulkEmail calls: an SQS batch call per ten
    records (each ends dead-lettered, retried with a visibility change, or sent), one
    call's worst case, and the answer."""
    return math.ceil(records / SQS_BATCH) * SQS_CALL_TYPICAL_MS + SQS_CALL_MS + RETURN_MARGIN_MS


class Limiter(Protocol):
    def wait_time(self, recipients: int) -> float: ...
    def acquire(self, recipients: int) -> float: ...
    def on_throttle(self) -> None: ...
    def on_success(self) -> None: ...


class Ledger(Protocol):
    """Idempotency (ledger.py). `complete` and `mark_dead_lettered` retry within the time
    given and return how many writes still failed (LedgerWriteFailures)."""

    def claim(
        self, ids: Sequence[str], *, hold_seconds: float | None = None
    ) -> Mapping[str, Claim]: ...
    def complete(self, ids: Sequence[str], *, within_seconds: float | None = None) -> int: ...
    def release(self, ids: Sequence[str], *, within_seconds: float | None = None) -> None: ...
    def dead_lettered(self, sqs_message_ids: Sequence[str]) -> set[str]: ...
    def completed(self, ids: Sequence[str]) -> set[str]: ...
    def mark_dead_lettered(
        self, sqs_message_ids: Sequence[str], *, within_seconds: float | None = None
    ) -> int: ...


# A pre-flight check (e.g. missing template data): None, or (ErrorCode, reason).
Preflight = Callable[[Email], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Result:
    """What happened to one record."""

    outcome: Outcome
    code: str = ""
    reason: str = ""


@dataclass
class Attempt:
    """One SendBulkEmail attempt: a whole-call outcome and error (code, SES's text), or
    `outcome` None and per-entry results."""

    outcome: Outcome | None
    error: tuple[str, str] = ("", "")
    results: dict[int, Result] = field(default_factory=dict)

    def result(self) -> Result:
        """The whole call's result: an attempt with no `outcome` is retried, never lost."""
        code, text = self.error
        outcome = Outcome.RETRY if self.outcome is None else self.outcome
        return Result(outcome if outcome is not Outcome.SPLIT else Outcome.DEAD, code, redact(text))


@dataclass
class CallReport:
    results: dict[int, Result] = field(default_factory=dict)
    calls: int = 0
    throttled: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    remaining_ms: Callable[[], int] | None = None
    ledger_write_failures: int = 0


@dataclass
class BatchResult:
    failures: list[str]
    counts: Counter[str]
    latencies_ms: list[float]

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failures]}


class BulkSender:
    def __init__(
        self,
        settings: Settings,
        *,
        ses: Any = None,
        sqs: Any = None,
        dynamodb: Any = None,
        s3: Any = None,
        ledger: Ledger | None = None,
        limiter: Limiter | None = None,
        preflight: Preflight | None = None,
        unsubscribes: Unsubscribes | None = None,
        claim_seconds: int = 900,
        pause: Pause | None = None,
        status: SendStatus | None = None,
        sender_id: str | None = None,
        sts: Any = None,
    ) -> None:
        self.settings = settings
        # Who this sender is to SQS (its role's SenderId): given, or asked of STS once, and
        # only when a record carries the sender's own attribute (records.py).
        self._principal = principal_of(sender_id) if sender_id else None
        self._sts = sts
        self._identity_retry_at = 0.0  # after STS failed: not asked again before this
        self.ses = ses or ses_client(settings.max_calls_in_flight + 2)
        self.sqs = sqs or sqs_client()
        self.dlq = DeadLetterQueue(self.sqs, settings.dlq_url)
        if ledger is None and settings.idempotency_table:
            # Shared with the status table (and the suppression list).
            dynamodb = dynamodb or ledger_client(settings.max_calls_in_flight + 2)
            ledger = DynamoLedger(
                dynamodb,
                settings.idempotency_table,
                ttl_seconds=settings.idempotency_ttl_seconds,
                claim_seconds=claim_seconds,
            )
        self.ledger: Ledger = ledger or NullLedger()
        if status is None:
            table = None
            if settings.status_table:
                table = StatusTable(
                    dynamodb or status_client(),
                    settings.status_table,
                    ttl_seconds=settings.status_ttl_seconds,
                )
            status = SendStatus(table, max_receive_count=settings.max_receive_count)
        self.status = status
        self._limiter = limiter
        self._limiter_is_fallback = False
        self.preflight: Preflight = preflight or TemplateCheck(self.ses)
        self.unsubscribes = unsubscribes or Unsubscribes(settings, dynamodb=dynamodb)
        self.defaults = Defaults(
            from_address=settings.default_from,
            template=settings.default_template,
            configuration_set=settings.configuration_set,
            tags=settings.default_tags,
            tenants=settings.allowed_tenants,
            configuration_sets=settings.allowed_configuration_sets,
            template_prefix=settings.template_prefix,
        )
        self.attachments = AttachmentFiles(
            s3,
            settings.attachment_bucket,
            max_bytes=memory_budget(settings.function_memory_mb, settings.max_calls_in_flight),
        )
        self._files: Mapping[str, bytes] = {}  # this invocation's attachments, by S3 key
        self._pool = ThreadPoolExecutor(settings.max_calls_in_flight, thread_name_prefix="ses")
        # No SendBulkEmail call starts unless it and the work after the calls fit in the
        # time left; set per invocation (process), from its number of records.
        self._records = 0  # in this invocation
        self._sent = 0  # of them, sent so far: they need no SQS call after the calls
        self._sent_lock = threading.Lock()
        self._remaining_ms: Callable[[], int] | None = None
        self._key_of: Callable[[str], str] = message_key
        self.pause = pause or pause_for(settings, self.sqs, dynamodb=dynamodb)

    def _sent_by_me(self, sender_id: str) -> bool:
        """Whether this sender's role sent a record (its SQS SenderId): only then are the
        sender's own attributes on it read. If STS cannot say, none is trusted (a copy of a
        message without `id` is then keyed by its own message id)."""
        if self._principal is None:
            if time.monotonic() < self._identity_retry_at:
                return False
            try:
                sts = self._sts or boto3.client("sts", config=STS_CONFIG)
                self._principal = principal_of(sts.get_caller_identity()["UserId"])
            except (BotoCoreError, ClientError, KeyError):
                log.warning("sender_identity_unknown", exc_info=True)
                self._identity_retry_at = time.monotonic() + IDENTITY_RETRY_SECONDS
                return False
        return principal_of(sender_id) == self._principal

    @property
    def limiter(self) -> Limiter:
        """The pacing: MAX_SEND_RATE, else the account's rate from GetAccount, asked once per
        container. If GetAccount fails or answers a rate that makes no sense, the invocation
        sends at FALLBACK_RATE with one bucket, and the next invocation asks again."""
        if self._limiter is None:
            rate, self._limiter_is_fallback = self.settings.max_send_rate, False
            if not rate:
                try:
                    rate = account_rate(self.ses, max_concurrency=self.settings.max_concurrency)
                except (BotoCoreError, ClientError, KeyError, TypeError, ValueError):
                    log.warning(
                        "send_rate_unknown", extra={"fallback": FALLBACK_RATE}, exc_info=True
                    )
                    rate, self._limiter_is_fallback = FALLBACK_RATE, True
            self._limiter = TokenBucket(rate)
            log.info("pacing", extra={"recipients_per_second": rate})
        return self._limiter

    def process(
        self,
        raw_records: Sequence[Mapping[str, Any]],
        *,
        remaining_ms: Callable[[], int] | None = None,
    ) -> BatchResult:
        records = [SqsRecord.from_event(raw, self._sent_by_me) for raw in raw_records]
        self._records, self._sent, self._remaining_ms = len(records), 0, remaining_ms
        self.pause.reset()
        results: dict[int, Result] = {}
        emails: list[tuple[int, Email]] = []
        # Only a redelivered record can have been dead-lettered by an earlier invocation.
        settled = self._settled_dead_letters(records)
        # Without the unsubscribe secret no link can be signed nor suppression read: every
        # readable record waits (retried), none goes out unchecked or loses its link.
        unsubscribes_ready = self.unsubscribes.ready()
        # Tags and status keys hash ids with the stack's secret (campaign_status.py).
        keys = self.unsubscribes.keys() if unsubscribes_ready else None
        key = keys.hash_key if keys is not None else DEFAULT_KEY
        self._key_of = functools.partial(message_key, key=key)
        for index, record in enumerate(records):
            if record.message_id in settled:
                log.info("already_dead_lettered", extra={"source_message_id": record.message_id})
                results[index] = Result(Outcome.DUPLICATE, "AlreadyDeadLettered")
                continue
            try:
                email = parse_message(
                    record.body, message_id=record.idempotency_key, defaults=self.defaults
                )
                if not unsubscribes_ready:  # asked once above: no secret read per record
                    results[index] = Result(Outcome.RETRY, "SuppressionUnavailable")
                    continue
                email = self.unsubscribes.enrich(email)
                failed_check = self.preflight(email)
            except InvalidMessage as error:
                results[index] = Result(Outcome.DEAD, "InvalidMessage", str(error))
                continue
            except Exception as error:  # no body may sink the batch: this record is invalid
                log.warning(
                    "message_unreadable",
                    extra={"source_message_id": record.message_id, "error": type(error).__name__},
                )
                reason = f"body: could not be checked ({type(error).__name__})"
                results[index] = Result(Outcome.DEAD, "InvalidMessage", reason)
                continue
            if failed_check:
                results[index] = Result(Outcome.DEAD, *failed_check)
            else:
                emails.append((index, email))

        # One batched suppression read for the whole batch, before anything is grouped.
        parsed = emails  # every readable email: its id and campaign, whatever comes next
        checked = self.unsubscribes.check(emails)
        suppressed = self._not_sent_before(records, dict(emails), checked.suppressed, results)
        results.update(dict.fromkeys(suppressed, Result(Outcome.SUPPRESSED, "Suppressed")))
        results.update(
            dict.fromkeys(checked.unavailable, Result(Outcome.RETRY, "SuppressionUnavailable"))
        )
        emails = self._read_attachments(checked.kept, results)
        calls = plan_calls(emails)
        if calls:
            if self._limiter_is_fallback:
                self._limiter = None  # a new invocation asks GetAccount again, once
            _ = self.limiter  # built here, before the worker threads share it
        self._prepare_ledger(calls, remaining_ms)
        try:
            reports = list(self._pool.map(lambda call: self._send_call(call, remaining_ms), calls))
        finally:  # completions pooled across the calls are written whatever happened
            ledger_failures = self._finish_ledger()
        for report in reports:
            results.update(report.results)
        source = raw_records[0].get("eventSourceARN") if raw_records else None
        held = self.pause.settle(
            records,
            results,
            {i: e.id for i, e in emails},
            source,
            may_start=self._sqs_call_fits,
            fits=self._fits,
        )
        # Emails whose files did not fit this invocation's memory wait as copies (a later
        # batch takes them) instead of spending a receive each (attachments.py).
        held += self.pause.hold(
            records,
            results,
            {i: e.id for i, e in parsed},
            code=DEFERRED,
            delay_seconds=0,
            may_start=self._sqs_call_fits,
        )
        counts: Counter[str] = Counter({name: 0 for name in m.COUNTERS})
        counts[m.SENDING_PAUSED] = int(self.pause.tripped)
        counts[m.SEND_BULK_EMAIL_CALLS] = sum(r.calls for r in reports)
        counts[m.THROTTLED_CALLS] = sum(r.throttled for r in reports)
        counts[m.LEDGER_WRITE_FAILURES] = ledger_failures + sum(
            r.ledger_write_failures for r in reports
        )
        failures = self._dead_letter(records, results, counts, parsed)
        # Each status write starts only if it can end in time; the rest waits for the next
        # batch (send_status.py): the answer comes first.
        self.status.record(
            records,
            results,
            parsed,
            failures,
            may_start=self._status_write_fits,
            key_of=self._key_of,
        )
        retried = [i for i, result in sorted(results.items()) if result.outcome is Outcome.RETRY]
        counts[m.EMAILS_RETRIED] = len(retried) + held
        counts[m.EMAILS_SENT] = sum(r.outcome is Outcome.SENT for r in results.values())
        # Already sent, or a redelivery of a record already dead-lettered: acknowledged.
        counts[m.DUPLICATES_SKIPPED] = sum(r.outcome is Outcome.DUPLICATE for r in results.values())
        counts[m.EMAILS_SUPPRESSED] = len(suppressed)
        self._back_off(records, results, retried + failures)
        if len(results) != len(records):  # never: every record must have an outcome
            raise RuntimeError("a record was left without an outcome")
        return BatchResult(
            failures=[records[i].message_id for i in sorted(retried + failures)],
            counts=counts,
            latencies_ms=[ms for r in reports for ms in r.latencies_ms],
        )

    def _prepare_ledger(
        self, calls: list[list[tuple[int, Email]]], remaining_ms: Callable[[], int] | None
    ) -> None:
        """The batch's claims in as few requests as the ledger can (ledger.py). Ledgers
        without batching (test doubles) claim per call."""
        prepare = getattr(self.ledger, "prepare", None)
        if prepare is not None and calls:
            hold = remaining_ms() / 1000 if remaining_ms else None
            prepare([email.id for call in calls for _, email in call], hold_seconds=hold)

    def _finish_ledger(self) -> int:
        finish = getattr(self.ledger, "finish", None)
        return finish(within_seconds=self._ledger_time()) if finish is not None else 0

    def _not_sent_before(
        self,
        records: list[SqsRecord],
        by_index: Mapping[int, Email],
        suppressed: Sequence[int],
        results: dict[int, Result],
    ) -> list[int]:
        """The suppressed emails that were not sent already. A redelivery (or a held copy) of
        an email sent before its recipient unsubscribed is a duplicate, not a suppression:
        its status stays what SES said (delivered, ...). Only redeliveries are asked; if the
        ledger cannot say, the email counts as suppressed (it is not sent either way)."""
        again = [i for i in suppressed if records[i].receive_count > 1 or records[i].is_held_copy]
        if not again:
            return list(suppressed)
        try:
            sent = self.ledger.completed([by_index[i].id for i in again])
        except (BotoCoreError, ClientError):
            log.warning("ledger_unavailable", extra={"entries": len(again)}, exc_info=True)
            return list(suppressed)
        already = {i for i in again if by_index[i].id in sent}
        results.update(dict.fromkeys(already, Result(Outcome.DUPLICATE, ALREADY_SENT)))
        return [i for i in suppressed if i not in already]

    def _read_attachments(
        self, emails: list[tuple[int, Email]], results: dict[int, Result]
    ) -> list[tuple[int, Email]]:
        """Every attachment the batch names, read once; emails that cannot have theirs get
        their outcome here (attachments.py), before any call."""
        self._files = {}
        if not any(email.options.attachments for _, email in emails):
            return emails
        self._files, refused = self.attachments.read(emails, may_start=self._s3_read_fits)
        for index, refusal in refused.items():
            outcome = Outcome.RETRY if refusal.retry else Outcome.DEAD
            results[index] = Result(outcome, refusal.code, refusal.reason)
        return [(index, email) for index, email in emails if index not in refused]

    # -- one call -------------------------------------------------------------------------

    def _send_call(
        self, call: list[tuple[int, Email]], remaining_ms: Callable[[], int] | None
    ) -> CallReport:
        report = CallReport(remaining_ms=remaining_ms)
        if self.pause.tripped:  # SES refuses: this call would be refused too
            report.results = dict.fromkeys((i for i, _ in call), Result(Outcome.RETRY, PAUSED))
            return report
        recipients = sum(email.recipient_count for _, email in call)
        if self._too_late(remaining_ms, self.limiter.wait_time(recipients)):
            report.results = dict.fromkeys((i for i, _ in call), Result(Outcome.RETRY, "Deadline"))
            return report

        hold = remaining_ms() / 1000 if remaining_ms else None
        try:
            claims = self.ledger.claim([email.id for _, email in call], hold_seconds=hold)
        except (BotoCoreError, ClientError):
            # Nothing is sent without its claim; the records come back later.
            log.warning("ledger_unavailable", extra={"entries": len(call)}, exc_info=True)
            report.results = dict.fromkeys(
                (i for i, _ in call), Result(Outcome.RETRY, "LedgerUnavailable")
            )
            return report
        to_send: list[tuple[int, Email]] = []
        taken: set[str] = set()
        for index, email in call:
            claim = claims[email.id]
            if claim is Claim.COMPLETED:
                report.results[index] = Result(Outcome.DUPLICATE, ALREADY_SENT)
            elif claim is Claim.IN_FLIGHT or email.id in taken:
                report.results[index] = Result(Outcome.RETRY, "ClaimedElsewhere")
            else:
                to_send.append((index, email))
                taken.add(email.id)
        if not to_send:
            return report

        self.limiter.acquire(sum(email.recipient_count for _, email in to_send))
        results = self._send(to_send, report)
        report.results.update(results)
        self.pause.observe(results.values(), to_send[0][1].configuration_set)

        by_index = dict(to_send)
        report.ledger_write_failures += self.ledger.complete(
            [by_index[i].id for i, r in results.items() if r.outcome is Outcome.SENT],
            within_seconds=self._ledger_time(),
        )
        self._release([by_index[i].id for i, r in results.items() if r.outcome is Outcome.RETRY])
        return report

    def _settled_dead_letters(self, records: list[SqsRecord]) -> set[str]:
        """Redelivered records an earlier invocation already wrote to the DLQ. Only a
        redelivery can be one; if the ledger cannot say, at worst a letter is written twice."""
        redelivered = [r.message_id for r in records if r.receive_count > 1]
        try:
            return self.ledger.dead_lettered(redelivered) if redelivered else set()
        except (BotoCoreError, ClientError):
            log.warning("ledger_unavailable", extra={"entries": len(redelivered)}, exc_info=True)
            return set()

    def _too_late(self, remaining_ms: Callable[[], int] | None, wait_seconds: float) -> bool:
        """No SendBulkEmail call starts unless it, after its pacing wait, and the work left
        after the calls (for every record not sent yet) fit in the time left."""
        if remaining_ms is None:
            return False
        reserve_ms = SES_CALL_MS + after_calls_ms(self._records - self._sent)
        return remaining_ms() - wait_seconds * 1000 < reserve_ms

    def _ledger_time(self) -> float | None:
        """Seconds a ledger write may spend on its retries: the time left, less what the work
        after the calls keeps for every record not sent yet (after_calls_ms)."""
        remaining_ms = self._remaining_ms
        if remaining_ms is None:
            return None
        return max(0, remaining_ms() - after_calls_ms(self._records - self._sent)) / 1000

    def _sqs_call_fits(self) -> bool:
        """An SQS call after the SendBulkEmail calls starts only if it can end, at worst, in
        time for the answer."""
        remaining_ms = self._remaining_ms
        return remaining_ms is None or remaining_ms() >= SQS_CALL_MS + RETURN_MARGIN_MS

    def _fits(self, ms: int) -> bool:
        """A step whose worst case is `ms` ends in time for the answer."""
        remaining_ms = self._remaining_ms
        return remaining_ms is None or remaining_ms() >= ms + RETURN_MARGIN_MS

    def _release(self, ids: list[str]) -> None:
        """Give claims back, only if a ledger request can end in time for the answer: a
        claim not given back expires by itself at this invocation's deadline (its hold),
        before SQS delivers its record again (visibility >= 6 x the timeout)."""
        if not ids:
            return
        remaining_ms = self._remaining_ms
        if remaining_ms is None:
            self.ledger.release(ids)
            return
        spare_ms = remaining_ms() - after_calls_ms(self._records - self._sent) - RETURN_MARGIN_MS
        if spare_ms < LEDGER_CALL_MS:
            log.info("release_skipped", extra={"claims": len(ids)})
            return
        self.ledger.release(ids, within_seconds=(spare_ms - LEDGER_CALL_MS) / 1000)

    def _s3_read_fits(self) -> bool:
        """An attachment read starts only if it can end with time left for the answer and
        the work after the calls for every record (they are all unsent yet)."""
        remaining_ms = self._remaining_ms
        reserve_ms = S3_CALL_MS + after_calls_ms(self._records)
        return remaining_ms is None or remaining_ms() >= reserve_ms

    def _status_write_fits(self) -> bool:
        remaining_ms = self._remaining_ms
        return remaining_ms is None or remaining_ms() >= STATUS_CALL_MS + RETURN_MARGIN_MS

    def _send(self, call: list[tuple[int, Email]], report: CallReport) -> dict[int, Result]:
        """One SendBulkEmail; a call refused as a whole is halved to isolate the fault."""
        attempt = self._attempt(call, report)
        if attempt.outcome is not Outcome.SPLIT:
            return attempt.results
        return self._isolate(call, attempt, report)

    def _isolate(
        self, call: list[tuple[int, Email]], refused: Attempt, report: CallReport
    ) -> dict[int, Result]:
        """Find the entries a refused call is refused for, level by level: each refused group
        is halved and both halves sent. k entries at fault in n cost at most about
        2·k·log2(n)+1 calls, and only they are dead-lettered. If no part of the call is ever
        accepted and a whole level of CALL_FAULT_GROUPS groups is refused alike, the fault
        is the call's (sender, template, tags): the whole group goes to the DLQ."""
        results: dict[int, Result] = {}
        pending = [(call, refused)]
        accepted = False  # SES took some part of the call: the call itself is sound
        while pending:
            tried: list[tuple[list[tuple[int, Email]], Attempt]] = []
            for group, attempt in pending:
                if len(group) == 1:
                    results[group[0][0]] = attempt.result()
                    continue
                middle = len(group) // 2
                tried += [
                    (half, self._attempt(half, report)) for half in (group[:middle], group[middle:])
                ]
            pending = [
                (half, attempt) for half, attempt in tried if attempt.outcome is Outcome.SPLIT
            ]
            for _, attempt in tried:
                if attempt.outcome is not Outcome.SPLIT:
                    accepted = accepted or attempt.outcome is None
                    results.update(attempt.results)
            if (
                not accepted
                and len(tried) >= CALL_FAULT_GROUPS
                and len(pending) == len(tried)
                and all(attempt.error == refused.error for _, attempt in pending)
            ):
                for group, _ in pending:
                    results.update(dict.fromkeys((i for i, _ in group), refused.result()))
                return results
        return results

    def _attempt(self, call: list[tuple[int, Email]], report: CallReport) -> Attempt:
        """Send once; a whole-call failure is classified by outcomes.call_error_outcome. No
        attempt starts near the deadline (a split's later halves included)."""
        if self._too_late(report.remaining_ms, 0):
            attempt = Attempt(Outcome.RETRY, ("Deadline", "no time left for the call"))
            attempt.results = dict.fromkeys((i for i, _ in call), attempt.result())
            return attempt
        emails = [email for _, email in call]
        request = build_request(
            emails,
            default_tags=self.settings.default_tags,
            endpoint_id=self.settings.endpoint_id,
            files=self._files,
            key_of=self._key_of,
        )
        started = time.perf_counter()
        report.calls += 1
        try:
            response = self.ses.send_bulk_email(**request)
        except ClientError as error:
            text = error.response.get("Error", {}).get("Message", "")
            code = call_error_code(error.response.get("Error", {}).get("Code", "Unknown"), text)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            text = text or code
            attempt = Attempt(call_error_outcome(code, status), (code, text))
        except BotoCoreError as error:  # connection, timeout: SES may or may not have it
            attempt = Attempt(Outcome.RETRY, (type(error).__name__, str(error)))
        else:
            return Attempt(None, results=self._entry_results(call, response, started, report))
        latency = (time.perf_counter() - started) * 1000
        report.latencies_ms.append(latency)
        if is_throttle(attempt.error[0]):
            report.throttled += 1
            self.limiter.on_throttle()
        log.info(
            "send_bulk_email",
            extra={
                "group": group_label(emails[0]),
                "entries": len(call),
                "error_code": attempt.error[0],
                "outcome": attempt.outcome.value if attempt.outcome is not None else None,
                "latency_ms": round(latency, 1),
            },
        )
        if attempt.outcome is not Outcome.SPLIT:
            attempt.results = dict.fromkeys((i for i, _ in call), attempt.result())
        return attempt

    def _entry_results(
        self,
        call: list[tuple[int, Email]],
        response: Mapping[str, Any],
        started: float,
        report: CallReport,
    ) -> dict[int, Result]:
        latency = (time.perf_counter() - started) * 1000
        report.latencies_ms.append(latency)
        entries = response.get("BulkEmailEntryResults", [])
        results: dict[int, Result] = {}
        statuses: Counter[str] = Counter()
        sent: list[list[str]] = []
        for position, (index, email) in enumerate(call):
            entry = entries[position] if position < len(entries) else {"Status": "MISSING_RESULT"}
            status = entry.get("Status") or "UNKNOWN"
            statuses[status] += 1
            outcome = entry_outcome(status)
            results[index] = Result(outcome, status, redact(entry.get("Error") or status))
            if outcome is Outcome.SENT:
                sent.append([redact(email.id), entry.get("MessageId", "")])
        with self._sent_lock:
            self._sent += len(sent)
        if any(is_throttle(status) for status in statuses):
            report.throttled += 1
            self.limiter.on_throttle()
        else:
            self.limiter.on_success()
        log.info(
            "send_bulk_email",
            extra={
                "group": group_label(call[0][1]),
                "entries": len(call),
                "statuses": dict(statuses),
                "latency_ms": round(latency, 1),
                "sent": sent,
            },
        )
        return results

    # -- after the calls ------------------------------------------------------------------

    def _dead_letter(
        self,
        records: list[SqsRecord],
        results: dict[int, Result],
        counts: Counter[str],
        emails: list[tuple[int, Email]],
    ) -> list[int]:
        """Write DEAD records to the DLQ; return the indexes whose write failed (retried)."""
        dead = [i for i, result in sorted(results.items()) if result.outcome is Outcome.DEAD]
        letters = [DeadLetter(records[i], results[i].code, results[i].reason) for i in dead]
        not_sent = self.dlq.send(letters, may_start=self._sqs_call_fits)
        failed = {letter.record.message_id for letter in not_sent}
        ids = {index: email.id for index, email in emails}
        written: list[int] = []
        not_written: list[int] = []
        for index in dead:
            (not_written if records[index].message_id in failed else written).append(index)
        for index in written:
            log.warning(
                LogEvent.DEAD_LETTERED,
                extra={
                    "id": redact(ids.get(index, records[index].message_id)),
                    "source_message_id": records[index].message_id,
                    "error_code": results[index].code,
                    "reason": redact(results[index].reason),
                },
            )
        # A written dead letter frees its id (a fixed message may be enqueued again) and is
        # remembered by SQS message id, so a redelivery of it is not dead-lettered twice.
        self._release([ids[i] for i in dead if i in ids])
        counts[m.LEDGER_WRITE_FAILURES] += self.ledger.mark_dead_lettered(
            [records[i].message_id for i in written], within_seconds=self._ledger_time()
        )
        counts[m.EMAILS_DEAD_LETTERED] = len(written)
        counts[m.INVALID_MESSAGES] = sum(results[i].code in INVALID_CODES for i in written)
        return not_written

    def _back_off(
        self, records: list[SqsRecord], results: dict[int, Result], retried: list[int]
    ) -> None:
        """Delay retried records by receive count (best effort: never loses a record)."""
        base = self.settings.retry_backoff_base_seconds
        if not self.settings.queue_url or base <= 0 or not retried:
            return
        entries = [
            {
                "Id": str(i),
                "ReceiptHandle": records[i].receipt_handle,
                "VisibilityTimeout": IN_FLIGHT_WAIT_SECONDS
                if results[i].code == WAIT_IN_FLIGHT
                else backoff_seconds(
                    records[i].receive_count,
                    base=base,
                    cap=self.settings.retry_backoff_max_seconds,
                    pause=is_pause(results[i].code),
                ),
            }
            for i in sorted(retried)
        ]
        for start in range(0, len(entries), SQS_BATCH):
            batch = entries[start : start + SQS_BATCH]
            if not self._sqs_call_fits():  # best effort: without it they come back later
                log.warning("backoff_skipped", extra={"entries": len(entries) - start})
                return
            try:
                response = self.sqs.change_message_visibility_batch(
                    QueueUrl=self.settings.queue_url, Entries=batch
                )
                failed = len(response.get("Failed", []))
            except (BotoCoreError, ClientError):
                log.warning("backoff_failed", extra={"entries": len(batch)}, exc_info=True)
                continue
            if failed:
                log.warning("backoff_failed", extra={"entries": failed})
