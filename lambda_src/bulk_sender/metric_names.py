"""The handler's metric names: the one list the handler emits and the dashboard draws.

This module imports nothing, so the CDK app can load it without the Lambda's dependencies.
"""

EMAILS_SENT = "EmailsSent"
EMAILS_RETRIED = "EmailsRetried"
EMAILS_DEAD_LETTERED = "EmailsDeadLettered"
INVALID_MESSAGES = "InvalidMessages"
DUPLICATES_SKIPPED = "DuplicatesSkipped"
EMAILS_SUPPRESSED = "EmailsSuppressed"
SEND_BULK_EMAIL_CALLS = "SendBulkEmailCalls"
THROTTLED_CALLS = "ThrottledCalls"
# Completions (and dead-letter marks) the ledger could not write after its retries.
LEDGER_WRITE_FAILURES = "LedgerWriteFailures"
SEND_BULK_EMAIL_LATENCY = "SendBulkEmailLatency"
# 1 per invocation that paused sending (SES paused or out of daily quota; pause.py).
SENDING_PAUSED = "SendingPaused"
# The probe's: 1 per run whose pause marker names a configuration set it cannot check
# (deleted, or no longer allowed); it resumes without that set (probe.py).
PAUSE_MARKERS_UNACTIONABLE = "PauseMarkersUnactionable"

# Counters: added once per invocation with their totals (unit Count).
COUNTERS = (
    EMAILS_SENT,
    EMAILS_RETRIED,
    EMAILS_DEAD_LETTERED,
    INVALID_MESSAGES,
    DUPLICATES_SKIPPED,
    EMAILS_SUPPRESSED,
    SEND_BULK_EMAIL_CALLS,
    THROTTLED_CALLS,
    LEDGER_WRITE_FAILURES,
    SENDING_PAUSED,
)
# Latency: one value per SendBulkEmail call (unit Milliseconds).
LATENCIES = (SEND_BULK_EMAIL_LATENCY,)
ALL = COUNTERS + LATENCIES

# The events function's counters (SES events from the events queue; added once per invocation).
SES_EVENTS_RECORDED = "SesEventsRecorded"
SES_EVENTS_SKIPPED = "SesEventsSkipped"  # of emails the sender did not tag (not ours)
SES_EVENTS_UNREADABLE = "SesEventsUnreadable"  # not an SES event: retried, then the events DLQ
EVENT_COUNTERS = (SES_EVENTS_RECORDED, SES_EVENTS_SKIPPED, SES_EVENTS_UNREADABLE)

# The scheduled enqueue function's counter: rows it put on the queue (added once per run).
SCHEDULED_ROWS_ENQUEUED = "ScheduledRowsEnqueued"
SCHEDULE_COUNTERS = (SCHEDULED_ROWS_ENQUEUED,)
