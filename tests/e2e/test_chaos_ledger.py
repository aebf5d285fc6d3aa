"""Exactly once when the idempotency ledger itself fails (issue 11 defects 4 and 5, issue 14).

The local run, with the handler's DynamoDB client made flaky: a seeded share of the ledger's
requests fail before DynamoDB sees them (throttled) or lose their answer after DynamoDB did
the work (a read timeout), on top of SES entry faults and crashed invocations. Claims must
never be half taken, nor stranded until their messages' receives run out, and no email may
go out twice.
"""

import json
import random
import threading
from collections import Counter

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from bulk_sender import metric_names as m
from bulk_sender.ledger import Claim
from bulkmail import queues
from bulkmail.local import Faults, LocalRun, LocalSettings

MESSAGES = 1_000
LEDGER_OPERATIONS = ("transact_write_items", "batch_write_item", "batch_get_item")


class FlakyLedgerClient:
    """The ledger's DynamoDB client; `rate` of its requests fail, half of them before
    DynamoDB (throttled), half after it did the work (the answer is lost)."""

    def __init__(self, client, rate, seed):
        self._client = client
        self._rate = rate
        self._random = random.Random(f"{seed}:ledger")
        self._lock = threading.Lock()
        self.faults = Counter()

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name not in LEDGER_OPERATIONS:
            return attribute

        def flaky(**request):
            with self._lock:
                draw = self._random.random()
            if draw < self._rate / 2:
                self.faults["throttled"] += 1
                raise ClientError(
                    {
                        "Error": {"Code": "ProvisionedThroughputExceededException"},
                        "ResponseMetadata": {"HTTPStatusCode": 400},
                    },
                    name,
                )
            answer = attribute(**request)
            if draw < self._rate:
                self.faults["answer lost"] += 1
                raise ReadTimeoutError(endpoint_url="http://ledger")
            return answer

        return flaky


class ClaimsAnsweredInFlight:
    """The ids the ledger ever answered "claimed elsewhere" (its `claim`, spied on)."""

    def __init__(self, ledger):
        self.ids: set[str] = set()
        self._claim = ledger.claim
        ledger.claim = self.claim

    def claim(self, ids, **options):
        claims = self._claim(ids, **options)
        self.ids.update(i for i, claim in claims.items() if claim is Claim.IN_FLIGHT)
        return claims


def body(n: int) -> str:
    return json.dumps(
        {
            "to": f"user{n}@example.org",
            "from": "news@example.com",
            "template": "welcome",
            "data": {"name": f"User {n}"},
            "id": f"ledger-chaos:{n}",
        }
    )


@pytest.mark.e2e
def test_every_message_ends_exactly_once_when_the_ledger_fails_too(capsys, busy_cores):
    # Given 1,000 messages, SES entry faults, crashes, and a ledger that fails 20 % of its
    # requests (half of them after doing the work), on a machine whose cores another
    # process keeps busy (busy_cores)
    import handler

    settings = LocalSettings(account_send_rate=5_000, max_send_rate=4_500, max_calls_in_flight=4)
    faults = Faults(
        entry_rate=0.05,
        entry_statuses=("TRANSIENT_FAILURE", "MESSAGE_REJECTED"),
        crash_rate=0.1,
        seed=7,
    )
    with LocalRun(settings, faults) as local_run:
        ledger = handler._sender.ledger
        flaky = ledger._db = FlakyLedgerClient(ledger._db, 0.20, seed=7)
        blocked = ClaimsAnsweredInFlight(ledger)
        # When the local run drains the queue
        summary = local_run.run([body(n) for n in range(MESSAGES)])
    assert summary.drained
    # Then no email went out twice and none is lost: each id was sent once or dead-lettered
    id_of = {f"user{n}@example.org": f"ledger-chaos:{n}" for n in range(MESSAGES)}
    sent = Counter(id_of[email["to"][0]] for email in summary.sent)
    dead = Counter(json.loads(message["Body"])["id"] for message in summary.dead_letters)
    assert max(sent.values()) == 1
    assert summary.sent_twice == 0
    lost = MESSAGES - len(set(sent) | set(dead))
    assert lost == 0
    # (A dead letter may be written twice when the ledger cannot say it was written before:
    # DESIGN.md section 5. Those copies are counted below, never sent.)
    copies = sum(dead.values()) - len(dead) + len(set(sent) & set(dead))
    # And claims were neither leaked nor stranded: a claim left behind answers "in flight"
    # (one invocation runs at a time here, so no live claim is another's) and blocks its
    # message until its receives run out. Messages may run out of receives for other reasons
    # (a lost answer or a failed ledger request on the last receive: which ones depends on how
    # SQS batched them, so on timing), never behind a claim.
    exhausted = {
        json.loads(message["Body"])["id"]
        for message in summary.dead_letters
        if queues.error_code(message) == queues.RETRIES_EXHAUSTED
    }
    assert not exhausted & blocked.ids
    # And the ledger's faults really happened, both kinds
    assert flaky.faults["throttled"] > 0
    assert flaky.faults["answer lost"] > 0
    assert summary.crashes > 0
    with capsys.disabled():
        print(
            f"\nledger chaos: messages {MESSAGES}, ledger faults {dict(flaky.faults)},"
            f" crashes {summary.crashes}; sent {sum(sent.values())},"
            f" dead-lettered {sum(dead.values())} ({dict(summary.dead_by_reason)}),"
            f" answered in flight {len(blocked.ids)},"
            f" sent twice 0, lost {lost}, dead-letter copies {copies},"
            f" ledger write failures {summary.metrics.get(m.LEDGER_WRITE_FAILURES, 0)},"
            f" {summary.seconds:.1f}s"
        )
