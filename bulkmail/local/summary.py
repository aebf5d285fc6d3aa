"""What a local run did: the progress snapshots and the printed summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bulk_sender import metric_names
from bulk_sender.campaign_status import campaign_of
from bulkmail import queues
from bulkmail.campaign import Row
from bulkmail.local import emulator as emu
from bulkmail.local.settings import LocalSettings
from bulkmail.status import CampaignNumbers


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
    resumes: int = 0  # times the pause probe restarted sending
    faults_injected: dict[str, int] = field(default_factory=dict)  # by the emulator
    seconds: float = 0.0  # from the first enqueue to drained queues (SES events recorded)
    send_seconds: float = 0.0  # from the first enqueue to a drained send queue
    setup_seconds: float = 0.0
    drained: bool = False
    endpoint_url: str = ""
    settings: LocalSettings = field(default_factory=LocalSettings)
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)  # status table counts

    @property
    def campaign_numbers(self) -> list[CampaignNumbers]:
        return [CampaignNumbers(name, counts) for name, counts in sorted(self.campaigns.items())]

    @property
    def status_balance(self) -> bool:
        """Each campaign's status adds up, nothing left in flight once the run drained."""
        return all(
            n.adds_up and (n.in_flight == 0 or not self.drained) for n in self.campaign_numbers
        )

    # What a follow-up step printed (the demo's unsubscribe loop), and whether it held.
    follow_up: list[str] = field(default_factory=list)
    follow_up_ok: bool = True

    @property
    def of_no_campaign(self) -> int:
        """Dead letters no campaign can claim (a body that is not a message with a campaign
        tag or id): counted here, and in no campaign's status."""
        return sum(_campaign(message.get("Body", "")) is None for message in self.dead_letters)

    @property
    def agrees_with_status(self) -> bool:
        """This summary and the campaigns' status count the same emails, to the unit."""
        numbers = self.campaign_numbers
        other = self.of_no_campaign
        enqueued = sum(n.enqueued for n in numbers) + other
        dead = sum(sum(n.dead_by_reason.values()) for n in numbers) + other
        return enqueued == self.enqueued and dead == len(self.dead_letters)

    def agreement_line(self) -> str:
        numbers = self.campaign_numbers
        other = self.of_no_campaign
        names = ", ".join(n.campaign for n in numbers)
        enqueued = " + ".join(str(n.enqueued) for n in numbers)
        dead = " + ".join(str(sum(n.dead_by_reason.values())) for n in numbers)
        return (
            f"summary = status ({names}) + of no campaign: enqueued {self.enqueued} = "
            f"{enqueued} + {other}, dead-lettered {len(self.dead_letters)} = {dead} + {other}  "
            f"{_holds(self.agrees_with_status)}"
        )

    @property
    def dead_by_reason(self) -> Counter[str]:
        return Counter(queues.reason(m) for m in self.dead_letters)

    @property
    def sent_twice(self) -> int:
        """Emails the emulator recorded more than once (by their recipients): 0 if exactly once."""
        keys = Counter(_recipients_key(email) for email in self.sent)
        return sum(count - 1 for count in keys.values())

    @property
    def retried(self) -> int:
        return self.metrics[metric_names.EMAILS_RETRIED]

    @property
    def suppressed(self) -> int:
        """Emails the sender did not send because a recipient unsubscribed."""
        return self.metrics[metric_names.EMAILS_SUPPRESSED]

    @property
    def pauses(self) -> int:
        """Invocations that paused sending (SES refused for a pause or the quota)."""
        return self.metrics[metric_names.SENDING_PAUSED]

    @property
    def calls(self) -> int:
        return self.metrics[metric_names.SEND_BULK_EMAIL_CALLS]

    @property
    def throughput(self) -> float:
        return len(self.sent) / self.send_seconds if self.send_seconds else 0.0

    @property
    def rows_balance(self) -> bool:
        return self.rows == self.enqueued + len(self.refused)

    @property
    def enqueued_balance(self) -> bool:
        return self.enqueued == len(self.sent) + self.suppressed + len(self.dead_letters)

    def _invocation_notes(self) -> str:
        notes = [f"{self.crashes} crashed on purpose"] if self.crashes else []
        if self.invocation_errors:
            notes.append(f"{self.invocation_errors} raised: Lambda retries their whole batch")
        return f"  ({'; '.join(notes)})" if notes else ""

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
            f"suppressed           {self.suppressed}  (a recipient unsubscribed)",
            f"retried              {self.retried}  (deliveries answered with a retry)",
            f"dead-lettered        {dead}" + (f"  ({reasons})" if reasons else ""),
            f"SendBulkEmail calls  {self.calls}",
            *(
                [f"sending paused       {self.pauses}  (resumed by the probe {self.resumes})"]
                if self.pauses or self.resumes
                else []
            ),
            f"invocations          {self.invocations}" + self._invocation_notes(),
        ]
        if self.faults_injected or self.dlq_write_faults:
            faults = dict(self.faults_injected)
            if self.dlq_write_faults:
                faults["DLQ write"] = self.dlq_write_faults
            lines.append(f"faults injected      {', '.join(f'{k} {v}' for k, v in faults.items())}")
        lines += [
            f"throughput           {self.throughput:.0f} emails/s  ({self.send_seconds:.1f}s; "
            f"set-up {self.setup_seconds:.1f}s not counted; SES events all recorded at "
            f"{self.seconds:.1f}s)",
            f"rows = enqueued + refused:        {self.rows} = {self.enqueued} + {refused}"
            f"  {_holds(self.rows_balance)}",
            f"enqueued = sent + suppressed + dead-lettered:  {self.enqueued} = {sent} + "
            f"{self.suppressed} + {dead}  {_holds(self.enqueued_balance)}",
        ]
        lines += self.follow_up
        for numbers in self.campaign_numbers:
            lines += [
                "",
                f"python -m bulkmail status --campaign {numbers.campaign}",
                *numbers.lines(),
            ]
            lines.append(f"  {_holds(numbers.adds_up)}, {numbers.in_flight} in flight")
        if self.campaign_numbers:
            lines += ["", self.agreement_line()]
        if not self.drained:
            lines.append(f"the queue did not drain within {self.settings.max_run_seconds:g}s")
        return lines


def _campaign(body: str) -> str | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    tags, ident = doc.get("tags"), doc.get("id")
    return campaign_of(
        tags if isinstance(tags, dict) else {}, ident if isinstance(ident, str) else None
    )


def _recipients_key(email: emu.SentEmail) -> tuple[str, ...]:
    return tuple(sorted(a.lower() for a in (*email["to"], *email["cc"], *email["bcc"])))


def _holds(ok: bool) -> str:
    return "holds" if ok else "DOES NOT HOLD"
