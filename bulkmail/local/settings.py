"""The local stand-in for the stack's settings and its event source mapping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bulkmail.local import emulator as emu

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
    template_prefix: str = ""  # TEMPLATE_PREFIX: the stack's template_prefix (none by default)
    log_file: Path | None = None  # where the handler's Powertools logs go (None: discarded)

    def describe(self) -> str:
        return (
            f"local settings: visibility timeout {self.visibility_timeout_seconds}s, "
            f"maxReceiveCount {self.max_receive_count}, retry backoff off, "
            f"batch size {self.batch_size}, MAX_SEND_RATE {self.max_send_rate:g}/s set "
            f"explicitly (GetAccount answers {self.account_send_rate:g}/s; moto's quota is 1/s)"
        )
