"""Issue 6's chaos test: exactly once under faults, on the local run (DESIGN.md section 10).

2,000 messages; the emulator answers 10 % of entries with TRANSIENT_FAILURE,
ACCOUNT_THROTTLED or MESSAGE_REJECTED and 5 % of calls with TooManyRequestsException; 5 %
of the handler's DLQ writes fail; one invocation in twenty dies after its calls and before
it returns (the poller drops its answer, so SQS delivers the batch again). Faults are
seeded: the run repeats. Every core is kept busy by other processes meanwhile (busy_cores):
the local run keeps the stack's deadline / visibility ratio, so a slow machine delays mail
and never sends it twice (DESIGN.md section 12).
"""

import json
from collections import Counter

import pytest

from bulk_sender import metric_names as m
from bulkmail import queues
from bulkmail.local import LocalSettings, run_local

MESSAGES = 2_000


def body(n: int) -> str:
    return json.dumps(
        {
            "to": f"user{n}@example.org",
            "from": "news@example.com",
            "template": "welcome",
            "data": {"name": f"User {n}"},
            "id": f"chaos:{n}",
        }
    )


@pytest.mark.e2e
def test_every_message_ends_exactly_once_sent_or_dead_lettered_under_faults(capsys, busy_cores):
    # Given 2,000 valid messages and every fault of the issue, seeded, on a machine whose
    # cores another process keeps busy (busy_cores)
    settings = LocalSettings(account_send_rate=5_000, max_send_rate=4_500, max_calls_in_flight=4)
    # When the local run drains the queue
    summary = run_local(
        [body(n) for n in range(MESSAGES)],
        entry_faults=0.10,
        call_faults=0.05,
        entry_statuses=("TRANSIENT_FAILURE", "ACCOUNT_THROTTLED", "MESSAGE_REJECTED"),
        crash_rate=0.05,
        dlq_fail_rate=0.05,
        seed=7,
        settings=settings,
    )
    assert summary.drained
    # Then every id ends exactly once: in the emulator's sent record or in the DLQ
    id_of = {f"user{n}@example.org": f"chaos:{n}" for n in range(MESSAGES)}
    sent = Counter(id_of[email["to"][0]] for email in summary.sent)
    dead = Counter(json.loads(message["Body"])["id"] for message in summary.dead_letters)
    ends = sent + dead
    duplicates = sum(count - 1 for count in ends.values() if count > 1)
    lost = MESSAGES - len(ends)
    assert set(ends) == set(id_of.values())
    assert duplicates == 0
    assert lost == 0
    assert summary.sent_twice == 0
    # And the handler's metrics add up to those counts (redrive-policy moves carry no
    # ErrorCode and are not the handler's: they are counted apart as RetriesExhausted)
    by_reason = summary.dead_by_reason
    exhausted = by_reason.pop(queues.RETRIES_EXHAUSTED, 0)
    assert summary.metrics[m.EMAILS_SENT] == sum(sent.values())
    assert summary.metrics[m.EMAILS_DEAD_LETTERED] == sum(by_reason.values())
    assert summary.metrics[m.INVALID_MESSAGES] == 0
    # And the faults really happened
    assert summary.crashes > 0
    assert summary.dlq_write_faults > 0
    assert summary.faults_injected.get("MESSAGE_REJECTED", 0) > 0
    with capsys.disabled():
        print(
            f"\nchaos: messages {MESSAGES}, faults injected {dict(summary.faults_injected)}"
            f" + DLQ write {summary.dlq_write_faults} + crashes {summary.crashes};"
            f" sent {sum(sent.values())}, dead-lettered {sum(dead.values())}"
            f" ({dict(by_reason)}, RetriesExhausted {exhausted}),"
            f" duplicates {duplicates}, lost {lost},"
            f" duplicates skipped {summary.metrics[m.DUPLICATES_SKIPPED]},"
            f" {summary.seconds:.1f}s"
        )
