"""Pure outcome rules (DESIGN.md section 5): what each SES answer means for a message."""

from __future__ import annotations

from enum import Enum


class Outcome(Enum):
    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"  # to the DLQ now, not retried
    SPLIT = "split"  # whole call refused: halve it to find the entries at fault
    DUPLICATE = "duplicate"  # its idempotency key was already sent: acknowledged
    SUPPRESSED = "suppressed"  # a recipient unsubscribed: acknowledged, not sent


# Entry statuses that no retry can fix. Any status not listed (including new ones SES may
# add) is retried: SQS's redrive policy bounds the retries.
DEAD_STATUSES = frozenset(
    {
        "MESSAGE_REJECTED",
        "MAIL_FROM_DOMAIN_NOT_VERIFIED",
        "CONFIGURATION_SET_NOT_FOUND",
        "TEMPLATE_NOT_FOUND",
        "INVALID_SENDING_POOL_NAME",
        "ACCOUNT_SUSPENDED",
        "INVALID_PARAMETER",
    }
)
# Retried statuses that mean the whole account or configuration set cannot send for a
# while: the record waits the longest backoff so the pause does not burn its receive count.
PAUSE_STATUSES = frozenset(
    {
        "ACCOUNT_DAILY_QUOTA_EXCEEDED",
        "ACCOUNT_SENDING_PAUSED",
        "CONFIGURATION_SET_SENDING_PAUSED",
    }
)
THROTTLE_STATUSES = frozenset({"ACCOUNT_THROTTLED"})

# Whole-call errors.
THROTTLE_ERRORS = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
PAUSE_ERRORS = frozenset({"SendingPausedException"})
RETRY_ERRORS = THROTTLE_ERRORS | PAUSE_ERRORS
DEAD_ERRORS = frozenset(
    {
        "NotFoundException",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "AccessDeniedException",
        "AccessDenied",
    }
)


def entry_outcome(status: str | None) -> Outcome:
    """The outcome of one `BulkEmailEntryResult.Status`."""
    if status == "SUCCESS":
        return Outcome.SENT
    if status in DEAD_STATUSES:
        return Outcome.DEAD
    return Outcome.RETRY


DAILY_QUOTA_TEXT = "daily message quota exceeded"


def call_error_code(code: str, message: str) -> str:
    """The code a whole-call error is handled by. SES reports an exhausted daily quota as a
    throttle whose text says so: that is a pause (wait the longest backoff), not a rate."""
    if DAILY_QUOTA_TEXT in message.lower():
        return "ACCOUNT_DAILY_QUOTA_EXCEEDED"
    return code


def call_error_outcome(code: str, http_status: int | None) -> Outcome:
    """The outcome of a SendBulkEmail call that failed as a whole with an error `code`.

    Connection and read errors have no HTTP status and are retried by the caller.
    """
    if code in RETRY_ERRORS or code in PAUSE_STATUSES:
        return Outcome.RETRY
    if code in DEAD_ERRORS:
        return Outcome.DEAD
    if http_status is not None and 400 <= http_status < 500:
        return Outcome.SPLIT  # BadRequest, MessageRejected, LimitExceeded and other 4xx
    return Outcome.RETRY  # 5xx and anything unknown: SQS bounds the retries


def is_pause(code: str) -> bool:
    """A status or error that means 'wait the longest backoff' (paused or out of quota)."""
    return code in PAUSE_STATUSES or code in PAUSE_ERRORS


def is_throttle(code: str) -> bool:
    return code in THROTTLE_STATUSES or code in THROTTLE_ERRORS


def backoff_seconds(receive_count: int, *, base: int, cap: int, pause: bool) -> int:
    """Visibility delay before a retried record comes back: exponential by receive count."""
    if base <= 0:
        return 0
    if pause:
        return cap
    return min(cap, base * 2 ** max(0, receive_count - 1))
