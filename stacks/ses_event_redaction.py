"""SES events without their headers: what the stack forwards to queues it keeps.

SES puts every original header of an email in its events (`mail.headers`), among them
`List-Unsubscribe`, whose link unsubscribes the recipient. A rule whose target should not hold
those links matches one event type at a time and forwards, through an input transformer, only
the fields that exist for that type: the envelope (`detail-type`, `source`, `time`) and a
`detail` of `eventType`, `mail` (timestamp, messageId, destination, tags) and the type's own
object (`bounce`, `delivery`, ...). One rule per type, because a transformer that names a path
an event lacks does not give a usable document.
"""

from __future__ import annotations

from aws_cdk import aws_events as events

# SES's event types and the key of each one's own object in the event (SES Developer Guide,
# "Contents of event data that Amazon SES publishes").
SES_EVENT_KEYS = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "Rendering Failure": "failure",
    "Open": "open",
    "Click": "click",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}
MAIL_FIELDS = ("timestamp", "messageId", "destination", "tags")


def redacted(event_type: str) -> events.RuleTargetInput:
    """The target input of one SES event type: the event without `mail.headers` and
    `mail.commonHeaders`."""
    key = SES_EVENT_KEYS[event_type]
    return events.RuleTargetInput.from_object(
        {
            "detail-type": events.EventField.detail_type,
            "source": events.EventField.source,
            "time": events.EventField.time,
            "detail": {
                "eventType": event_type,
                "mail": {
                    name: events.EventField.from_path(f"$.detail.mail.{name}")
                    for name in MAIL_FIELDS
                },
                key: events.EventField.from_path(f"$.detail.{key}"),
            },
        }
    )


def type_pattern(detail: dict[str, object], event_type: str) -> dict[str, object]:
    """`detail`'s pattern narrowed to one event type."""
    return {**detail, "eventType": [event_type]}
