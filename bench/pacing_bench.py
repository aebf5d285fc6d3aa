"""Part 2: pacing. With MAX_SEND_RATE = R, the recipients per second actually sent.

The handler runs on an event with a little more than R x T recipients, against a fake SES
that answers in a few ms, on the real clock. The token bucket is the one `handler.sender()`
builds from MAX_SEND_RATE, created empty at the invocation's first call. The fake stamps
each SendBulkEmail as it goes out; the achieved rate is measured over the run as

    achieved = recipients sent before the last call / (last send - first send)

i.e. each call's recipients are spread over the interval until the next one. (Counting the
recipients sent in [first, first + T) instead depends on which side of the edge one call
falls: +-1 call of 50, i.e. +-2.5 % at R = 200 over 10 s; it is reported too.)
"""

from __future__ import annotations

import math
from typing import Any

from bench.harness import WarmHandler
from bench.workload import MAX_ENTRIES_PER_CALL, make_event

RATE = 200.0
SECONDS = 10.0
SES_LATENCY = 0.005
IN_FLIGHT = 10
# The precision of the measured span: a send is stamped when botocore hands the request to the
# fake, after building it (a few ms, more for the first call, whose threads start then), and
# the bucket, built just before the first call, accrues a few ms of tokens until that call.
# 10 ms over a 10 s span: 0.1 %.
PRECISION_S = 0.010


def _request(event: dict[str, Any]) -> dict[str, Any]:
    from bulk_sender.bulk_request import build_request
    from bulk_sender.message import Defaults, parse_message

    first = event["Records"][0]
    email = parse_message(first["body"], message_id=first["messageId"], defaults=Defaults())
    return build_request([email], default_tags={})


def run_pacing(
    rate: float = RATE,
    seconds: float = SECONDS,
    *,
    latency: float = SES_LATENCY,
    in_flight: int = IN_FLIGHT,
    groups: int = 1,
) -> dict[str, Any]:
    # Enough for `seconds` at `rate`, plus one call that marks the end of the interval.
    messages = math.ceil(rate * seconds / MAX_ENTRIES_PER_CALL) * MAX_ENTRIES_PER_CALL
    messages += MAX_ENTRIES_PER_CALL
    event, _ = make_event(messages, groups=groups, seed=3)
    with WarmHandler(ses_latency=latency, in_flight=in_flight, rate=rate) as warm:
        # Warm the client (botocore loads the operation's model and parsers on first use)
        # with a direct call: a warm-up invocation would build the bucket before the run.
        warm.sender.ses.send_bulk_email(**_request(event))
        run = warm.invoke(event)
        sends = sorted(
            (send for send in warm.ses.sends if send.operation == "SendBulkEmail"),
            key=lambda send: send.at,
        )
    first, last = sends[0].at, sends[-1].at
    span = last - first
    before_last = sum(send.recipients for send in sends[:-1])
    in_window = sum(send.recipients for send in sends if send.at - first < seconds)
    achieved = before_last / span if span > 0 else float("nan")
    return {
        "rate": rate,
        "seconds": seconds,
        "latency_s": latency,
        "in_flight": in_flight,
        "messages": messages,
        "calls": len(sends),
        "sent": run.sent,
        "retried": run.retried,
        "accounted": run.sent + run.dead_lettered + run.retried,
        "span_s": span,
        "achieved": achieved,
        "achieved_ratio": achieved / rate,
        "in_window": in_window,
        "in_window_ratio": in_window / (rate * seconds),
        "wall_s": run.wall_s,
    }


def within_target(result: dict[str, Any]) -> bool:
    """0.95 R <= achieved <= R, to the precision of the measured span (PRECISION_S)."""
    return 0.95 <= result["achieved_ratio"] <= 1 + PRECISION_S / result["span_s"]
