"""The local stand-in for the stack's settings and its event source mapping."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bulkmail.local import emulator as emu
from bulkmail.local import stack_facts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class LocalSettings:
    """The local stand-in for the stack and its event source mapping (see the module doc)."""

    region: str = emu.DEFAULT_REGION
    identity: str = "example.com"  # the verified sending domain
    configuration_set: str = "bulk-email-local"
    queue_name: str = "bulk-email-local"
    dlq_name: str = "bulk-email-local-dlq"
    table_name: str = "bulk-email-local-idempotency"
    status_table_name: str = "bulk-email-local-status"
    events_queue_name: str = "bulk-email-local-events"
    events_dlq_name: str = "bulk-email-local-events-dlq"
    suppression_table_name: str = "bulk-email-local-suppression"
    unsubscribe_secret_name: str = "bulk-email-local-unsubscribe"
    attachment_bucket: str = "bulk-email-local-attachments"
    batch_size: int = 100
    batching_window_seconds: float = 0.5
    account_send_rate: float = 500.0  # what the emulator's GetAccount answers
    max_send_rate: float = 450.0  # MAX_SEND_RATE: 90 % of it, one invocation at a time
    max_calls_in_flight: int = 4
    # The deadline each invocation gets (its context). The queues' visibility timeout is six
    # of these plus the batching window, as the stack's (DESIGN.md section 12): a slow or
    # loaded machine delays mail, never hands a record to a second invocation while the
    # first still sends it.
    function_timeout_seconds: int = 60
    # Shortened instead: how soon a record given back (in batchItemFailures, or of an
    # invocation that died) is received again. The poller sets it once the invocation has
    # ended, where SQS would wait out the rest of the visibility timeout.
    retry_delay_seconds: int = 1
    low_water: int = 100  # enqueue another chunk when fewer messages than this wait
    enqueue_chunk: int = 200
    enqueue_workers: int = 4
    max_run_seconds: float = 600.0
    # The daily quota (`demo --daily-quota`): Max24HourSend over a window shortened to
    # seconds, and the pause probe run every second (the stack: every 5 minutes).
    daily_quota: int | None = None
    quota_window_seconds: float = 10.0
    probe_interval_seconds: float = 1.0
    held_delay_seconds: int = 1  # the delay of copies held while paused (the stack: 900)
    templates: Path = TEMPLATES
    template_prefix: str = ""  # TEMPLATE_PREFIX: the stack's template_prefix (none by default)
    log_file: Path | None = None  # where the handler's Powertools logs go (None: discarded)
    sent_limit: int | None = None  # the emulator keeps the latest N sent emails (None: all)

    @property
    def visibility_timeout_seconds(self) -> int:
        """As the stack's: 6 x the function timeout + the batching window."""
        return 6 * self.function_timeout_seconds + math.ceil(self.batching_window_seconds)

    def describe(self) -> str:
        text = (
            f"local settings: invocation deadline {self.function_timeout_seconds}s, "
            f"visibility timeout {self.visibility_timeout_seconds}s (6 x the deadline, as "
            f"the stack's), records given back received again after "
            f"{self.retry_delay_seconds}s, "
            f"maxReceiveCount {stack_facts.max_receive_count()} (the stack's), retry backoff off, "
            f"batch size {self.batch_size}, MAX_SEND_RATE {self.max_send_rate:g}/s set "
            f"explicitly (GetAccount answers {self.account_send_rate:g}/s; moto's quota is 1/s)"
        )
        if self.daily_quota is not None:
            text += (
                f"; daily quota {self.daily_quota} per {self.quota_window_seconds:g}s window "
                f"(SES: per 24 hours), the pause probe every {self.probe_interval_seconds:g}s "
                f"(the stack: every 5 minutes), held copies delayed {self.held_delay_seconds}s "
                "(the stack: 900s)"
            )
        return text
