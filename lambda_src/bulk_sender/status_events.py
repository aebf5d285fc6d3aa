"""The events function's core: a batch of SES events from the events queue, recorded per email
and per campaign in the status table.

Each SQS record holds one SES event as EventBridge delivers it (SNS's envelope and the bare
event are read too). Within a batch, an email's events are folded into its highest-ranked
outcome (one write per email), its engagements into one each; then every campaign's count
deltas go out in one UpdateItem. A record that is not an SES event is reported in
`batchItemFailures` (after the queue's maxReceiveCount it rests in the events DLQ); an event
of an email the sender did not tag is skipped and counted; a failed write retries only the
records that made it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulk_sender import metric_names as m
from bulk_sender.campaign_status import Change, UnreadableEvent, change_for, ses_event
from bulk_sender.names import Env
from bulk_sender.status_table import DEFAULT_TTL_SECONDS, StatusTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusSettings:
    """`STATUS_TABLE` (required here) and `STATUS_TTL_SECONDS`, read once."""

    table: str
    ttl_seconds: int = DEFAULT_TTL_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StatusSettings:
        env = os.environ if environ is None else environ
        table = env.get(Env.STATUS_TABLE, "").strip()
        if not table:
            raise ValueError("STATUS_TABLE is required: the events have nowhere to go")
        raw = env.get(Env.STATUS_TTL_SECONDS, "").strip()
        if raw and not raw.isdigit():
            raise ValueError("STATUS_TTL_SECONDS must be a whole number of seconds")
        return cls(table=table, ttl_seconds=int(raw) if raw else DEFAULT_TTL_SECONDS)


@dataclass
class EventsResult:
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(m.EVENT_COUNTERS, 0))

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failures]}


class EventsProcessor:
    def __init__(self, table: StatusTable) -> None:
        self.table = table

    def process(self, records: Sequence[Mapping[str, Any]]) -> EventsResult:
        result = EventsResult()
        outcomes: dict[tuple[str, str], tuple[Change, list[str]]] = {}
        engagements: dict[tuple[str, str, str], tuple[Change, list[str]]] = {}
        for position, record in enumerate(records):
            record_id = _record_id(record, position)
            try:
                change = change_for(ses_event(record.get("body", "")))
            except (UnreadableEvent, KeyError, TypeError, AttributeError) as error:
                reason = str(error) if isinstance(error, UnreadableEvent) else "malformed event"
                log.warning("unreadable_event", extra={"record": record_id, "reason": reason})
                result.failures.append(record_id)
                result.counts[m.SES_EVENTS_UNREADABLE] += 1
                continue
            if change is None:
                result.counts[m.SES_EVENTS_SKIPPED] += 1
                continue
            result.counts[m.SES_EVENTS_RECORDED] += 1
            if change.engagement:
                slot = (change.campaign, change.key, change.engagement)
                kept, ids = engagements.get(slot, (change, []))
                engagements[slot] = (kept, [*ids, record_id])
                continue
            key = (change.campaign, change.key)
            kept, ids = outcomes.get(key, (change, []))
            if (change.rank, change.at) > (kept.rank, kept.at):
                kept = change
            outcomes[key] = (kept, [*ids, record_id])

        folded = [*outcomes.values(), *engagements.values()]
        failed = self.table.record([change for change, _ in folded], totals={})
        failed_slots = {id(change) for change in failed}
        for change, ids in folded:
            if id(change) in failed_slots:
                result.failures += ids
        if failed:
            result.counts[m.SES_EVENTS_RECORDED] -= sum(
                len(ids) for change, ids in folded if id(change) in failed_slots
            )
        result.failures = sorted(set(result.failures), key=result.failures.index)
        return result


def _record_id(record: Mapping[str, Any], position: int) -> str:
    value = record.get("messageId")
    return value if isinstance(value, str) else f"record-{position}"
