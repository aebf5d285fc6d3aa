"""The synthetic workload: a Lambda SQS event of realistic message bodies in a few groups.

Bodies look like what the CLI enqueues for a campaign: a recipient (some with a display name,
some of them non-ASCII), a sender with a display name, a stored template, a few data fields,
tags, an `id` of the form `{campaign}:{keyed hash}` and the RFC 8058 one-click unsubscribe
headers. Records carry the envelope Lambda adds (about 0.8 KB with the attributes).
Groups are interleaved, as producers of several campaigns would fill one queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import unicodedata
from collections.abc import Sequence
from typing import Any

MAX_ENTRIES_PER_CALL = 50
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024  # synchronous invocation payload, bytes

# (sender, template, campaign): five groups, i.e. five (from, template) pairs.
GROUPS = (
    ("Example News <news@example.com>", "weekly_digest", "digest-2025-w14"),
    ("Example Shop <shop@example.com>", "spring_sale", "spring-sale"),
    ("Example Billing <billing@example.com>", "invoice_ready", "invoices-04"),
    ("Example Team <team@example.com>", "product_update", "update-3-2"),
    ("Example Events <events@example.com>", "webinar_invite", "webinar-0417"),
)
# Uneven shares, so that groups do not fill whole calls.
SHARES = (0.3333, 0.2777, 0.1999, 0.1212)
FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Inès", "Jon")
LAST_NAMES = ("Silva", "Okafor", "Müller", "Novak", "Larsen", "Haddad", "Kim", "Ruiz")
PLANS = ("free", "pro", "team", "enterprise")
_KEY = b"bench-campaign-key"
UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"


def group_sizes(messages: int, groups: int = len(GROUPS)) -> list[int]:
    """Uneven group sizes that add up to `messages`."""
    if not 1 <= groups <= len(GROUPS):
        raise ValueError(f"1 to {len(GROUPS)} groups")
    sizes = [int(messages * share) for share in SHARES[: groups - 1]]
    sizes.append(messages - sum(sizes))
    return sizes


def expected_calls(sizes: Sequence[int]) -> int:
    """DESIGN.md section 4: the sum of ceil(group size / 50)."""
    return sum(math.ceil(size / MAX_ENTRIES_PER_CALL) for size in sizes)


def body(n: int, group: int) -> dict[str, Any]:
    """One realistic message body: the n-th recipient of a group's campaign."""
    sender, template, campaign = GROUPS[group]
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[n % len(LAST_NAMES)]
    address = f"{_ascii(first)}.{_ascii(last)}{n}@example.org"
    digest = hmac.new(_KEY, address.encode(), hashlib.sha256).hexdigest()[:32]
    message_id = f"{campaign}:{digest}"
    unsubscribe = f"https://example.com/unsubscribe?c={campaign}&u={digest}"
    return {
        "id": message_id,
        # One in three with a display name (some non-ASCII: RFC 2047-encoded by the core).
        "to": f"{first} {last} <{address}>" if n % 3 == 0 else address,
        "from": sender,
        "template": template,
        "data": {
            "first_name": first,
            "plan": PLANS[n % len(PLANS)],
            "account_id": f"AC-{n:08d}",
            "amount": f"{(n % 997) / 7:.2f}",
            "unsubscribe_url": unsubscribe,
        },
        "tags": {"campaign": campaign, "segment": PLANS[n % len(PLANS)]},
        "headers": {
            "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{UNSUBSCRIBE_MAILTO}?subject={digest}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def sqs_record(text: str, n: int) -> dict[str, Any]:
    """One record as Lambda's SQS event source mapping delivers it."""
    message_id = f"{n:08x}-4d1c-4b7e-9f2a-{hashlib.md5(str(n).encode()).hexdigest()[:12]}"
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB" + hashlib.sha256(message_id.encode()).hexdigest() * 4,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(1_712_000_000_000 + n),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(1_712_000_000_500 + n),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:bulk-email-queue",
        "awsRegion": "eu-west-1",
    }


def make_event(
    messages: int, *, groups: int = len(GROUPS), invalid: int = 0, seed: int = 7
) -> tuple[dict[str, Any], list[int]]:
    """A Lambda SQS event of `messages` valid records (interleaved groups), plus `invalid`
    records that fail validation. Returns the event and the valid group sizes."""
    sizes = group_sizes(messages, groups)
    order = [g for g, size in enumerate(sizes) for _ in range(size)]
    random.Random(seed).shuffle(order)
    counters = [0] * groups
    records = []
    for n, group in enumerate(order):
        counters[group] += 1
        text = json.dumps(body(counters[group], group), ensure_ascii=False)
        records.append(sqs_record(text, n))
    for k in range(invalid):
        bad = {"to": "not an address", "from": GROUPS[0][0], "template": GROUPS[0][1]}
        records.insert((k * 37) % (len(records) + 1), sqs_record(json.dumps(bad), messages + k))
    return {"Records": records}, sizes


def event_bytes(event: dict[str, Any]) -> int:
    return len(json.dumps(event).encode())
