"""The sender's part of campaign status: after a batch's outcomes, per campaign, how many were
sent, suppressed, dead-lettered (and why) or skipped as duplicates; per email, its dead letter
or suppression (SES's events say the rest).

One UpdateItem per dead-lettered or suppressed email and one per campaign in the batch. It
never fails the batch: a write that fails is logged (the emails' outcomes stand; only their
status lags).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bulk_sender import campaign_status as cs
from bulk_sender.message import Email
from bulk_sender.outcomes import Outcome
from bulk_sender.pause import UNMARKED_COPY
from bulk_sender.records import SqsRecord

log = logging.getLogger(__name__)

ALREADY_SENT = "AlreadySent"


# Email changes carried to the next invocation at most (about 200 bytes each): beyond, the
# oldest are dropped and reported (their emails' status lags; their outcomes stand).
MAX_PENDING_CHANGES = 10_000


class Recorder(Protocol):
    def record_within(
        self,
        changes: Iterable[cs.Change],
        totals: Mapping[str, Counter[str]],
        may_start: Callable[[], bool] = ...,
    ) -> Any: ...


class SendStatus:
    """Records a batch's outcomes in the status table (`table` None: status is off).

    What one invocation could not write (a write that failed, or that would not have ended
    before the deadline) is kept whole (`pending`: email changes and per-campaign counts)
    and written with the next batch of this container: a failed counts write is repaired,
    never half recorded."""

    def __init__(
        self, table: Recorder | None, *, max_receive_count: int = 0, clock_iso: Any = None
    ) -> None:
        self.table = table
        self.max_receive_count = max_receive_count
        self._now = clock_iso or _now_iso
        self.pending_changes: list[cs.Change] = []
        self.pending_counts: dict[str, Counter[str]] = {}

    def record(
        self,
        records: Sequence[SqsRecord],
        results: Mapping[int, Any],
        emails: Sequence[tuple[int, Email]],
        not_written: Iterable[int],
        *,
        may_start: Callable[[], bool] = lambda: True,
        key_of: Callable[[str], str] = cs.message_key,
    ) -> None:
        if self.table is None:
            return
        try:
            changes, totals = self.plan(records, results, emails, set(not_written), key_of)
            changes = self.pending_changes + changes
            for campaign, counts in self.pending_counts.items():
                totals.setdefault(campaign, Counter()).update(counts)
            self.pending_changes, self.pending_counts = [], {}
            if changes or totals:
                unwritten = self.table.record_within(changes, totals, may_start)
                self._keep(unwritten.changes, unwritten.counts)
        except Exception:  # status must never cost a batch its answer
            log.exception("status_record_failed", extra={"records": len(records)})

    def _keep(self, changes: list[cs.Change], counts: dict[str, Counter[str]]) -> None:
        dropped = max(0, len(changes) - MAX_PENDING_CHANGES)
        if dropped:
            log.error("status_changes_dropped", extra={"changes": dropped})
        self.pending_changes = changes[dropped:]
        self.pending_counts = counts
        if changes or counts:
            log.warning(
                "status_deferred",
                extra={"changes": len(self.pending_changes), "campaigns": sorted(counts)},
            )

    def plan(
        self,
        records: Sequence[SqsRecord],
        results: Mapping[int, Any],
        emails: Sequence[tuple[int, Email]],
        not_written: set[int],
        key_of: Callable[[str], str] = cs.message_key,
    ) -> tuple[list[cs.Change], dict[str, Counter[str]]]:
        """Pure: the per-email changes and per-campaign totals of one batch's outcomes;
        `key_of` keys an email (campaign_status.message_key with the stack's key)."""
        by_index = dict(emails)
        totals: dict[str, Counter[str]] = {}
        changes: list[cs.Change] = []
        now = self._now()
        for index, result in results.items():
            record = records[index]
            email = by_index.get(index)
            try:
                message_id, campaign = _identity(email, record)
            except Exception as error:  # one unreadable body must not drop the batch's status
                log.warning(
                    "status_unreadable",
                    extra={"source_message_id": record.message_id, "error": type(error).__name__},
                )
                continue
            if campaign is None or message_id is None:
                continue
            counts = totals.setdefault(campaign, Counter())
            if record.receive_count == 1 and not record.is_held_copy:  # a copy: counted once
                counts[cs.RECEIVED] += 1
            if outcome_code(result) == UNMARKED_COPY:  # its copy will count as received
                counts[cs.RECEIVED] -= 1
            outcome = result.outcome
            bucket = None
            if outcome is Outcome.SENT:
                counts[cs.SENT_TOTAL] += 1
            elif outcome is Outcome.DUPLICATE and result.code == ALREADY_SENT:
                counts[cs.DUPLICATES] += 1
            elif outcome is Outcome.DEAD and index not in not_written:
                bucket = cs.dead_lettered(result.code)
                counts[cs.DEAD_LETTERED_TOTAL] += 1
            elif outcome is Outcome.RETRY and self._last_receive(record):
                bucket = cs.dead_lettered(cs.RETRIES_EXHAUSTED)  # the redrive policy moves it
                counts[cs.DEAD_LETTERED_TOTAL] += 1
            elif outcome is Outcome.SUPPRESSED:
                bucket = cs.SUPPRESSED
                counts[cs.SUPPRESSED_TOTAL] += 1
            if bucket:
                event = "DeadLetter" if bucket != cs.SUPPRESSED else "Suppressed"
                detail = bucket.split(":", 1)[1] if ":" in bucket else ""
                changes.append(cs.Change(campaign, key_of(message_id), bucket, event, now, detail))
        return changes, {name: counts for name, counts in totals.items() if counts}

    def _last_receive(self, record: SqsRecord) -> bool:
        return bool(self.max_receive_count) and record.receive_count >= self.max_receive_count


def _identity(email: Email | None, record: SqsRecord) -> tuple[str | None, str | None]:
    """(id, campaign) of a record: from its parsed email, else read leniently from its body
    (an invalid message still counts toward its campaign's dead letters)."""
    if email is not None:
        return email.id, cs.campaign_of(dict(email.tags), email.id)
    try:
        doc = json.loads(record.body)
    except (TypeError, ValueError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    message_id = doc.get("id") if isinstance(doc.get("id"), str) else record.idempotency_key
    raw_tags = doc.get("tags")
    tags: Mapping[str, str] = raw_tags if isinstance(raw_tags, dict) else {}
    return message_id, cs.campaign_of(tags, message_id)


def outcome_code(result: Any) -> str:
    return result.code if result.outcome is Outcome.HELD else ""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
