"""The SES events the emulator publishes for each email it sends, shaped as SES's events reach
EventBridge (the SES event in `detail`, as in "Examples of event data that Amazon SES
publishes", SES Developer Guide), following SES's mailbox simulator:

- `success@simulator.amazonses.com`, and any address outside the simulator: Send, Delivery;
- `ooto@`: Send, Delivery (the out-of-office reply is not an event);
- `bounce@`: Send, Bounce (Permanent, General);
- `suppressionlist@`: Send, Bounce (Permanent, Suppressed);
- `complaint@`: Send, Delivery, Complaint (abuse).

Labels work as in SES (`bounce+anything@simulator.amazonses.com`). An email to several
recipients gets one Delivery event for the delivered ones and one Bounce for the bounced.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

SIMULATOR_DOMAIN = "simulator.amazonses.com"
DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
}


@dataclass(frozen=True)
class Mail:
    """What an event's `mail` object is made of."""

    message_id: str
    source: str
    destination: list[str]
    tags: dict[str, str]
    configuration_set: str | None
    region: str
    account_id: str


def simulated(address: str) -> str:
    """The mailbox simulator's behaviour for an address: success, ooto, bounce, ..."""
    local, _, domain = parseaddr(address)[1].lower().partition("@")
    if domain != SIMULATOR_DOMAIN:
        return "success"
    return local.split("+", 1)[0]


def _now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def events_for(mail: Mail) -> list[dict[str, Any]]:
    """The EventBridge events SES would publish for this email, in the order of its life."""
    sent_at = _now()
    details: list[dict[str, Any]] = [{"eventType": "Send", "send": {}}]
    bare = [parseaddr(address)[1] for address in mail.destination]
    behaviours = {address: simulated(address) for address in bare}
    delivered = [a for a, kind in behaviours.items() if kind in ("success", "ooto", "complaint")]
    hard = [a for a, kind in behaviours.items() if kind == "bounce"]
    suppressed = [a for a, kind in behaviours.items() if kind == "suppressionlist"]
    if delivered:
        details.append(
            {
                "eventType": "Delivery",
                "delivery": {
                    "timestamp": _now(),
                    "processingTimeMillis": 120,
                    "recipients": delivered,
                    "smtpResponse": "250 2.6.0 Message received",
                    "reportingMTA": "a8-50.smtp-out.amazonses.com",
                },
            }
        )
    for addresses, sub_type, diagnostic in (
        (hard, "General", "smtp; 550 5.1.1 user unknown"),
        (suppressed, "Suppressed", "Amazon SES has suppressed sending to this address"),
    ):
        if addresses:
            details.append(
                {
                    "eventType": "Bounce",
                    "bounce": {
                        "bounceType": "Permanent",
                        "bounceSubType": sub_type,
                        "bouncedRecipients": [
                            {
                                "emailAddress": address,
                                "action": "failed",
                                "status": "5.1.1",
                                "diagnosticCode": diagnostic,
                            }
                            for address in addresses
                        ],
                        "timestamp": _now(),
                        "feedbackId": f"{uuid.uuid4()}-000000",
                        "reportingMTA": "dsn; a8-50.smtp-out.amazonses.com",
                    },
                }
            )
    complained = [a for a, kind in behaviours.items() if kind == "complaint"]
    if complained:
        details.append(
            {
                "eventType": "Complaint",
                "complaint": {
                    "complainedRecipients": [{"emailAddress": a} for a in complained],
                    "timestamp": _now(),
                    "feedbackId": f"{uuid.uuid4()}-000000",
                    "userAgent": "Amazon SES Mailbox Simulator",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": _now(),
                },
            }
        )
    return [_eventbridge(mail, {**detail, "mail": _mail(mail, sent_at)}) for detail in details]


def _mail(mail: Mail, sent_at: str) -> dict[str, Any]:
    tags: dict[str, list[str]] = {
        "ses:operation": ["SendBulkEmail"],
        "ses:source-ip": ["127.0.0.1"],
        "ses:from-domain": [parseaddr(mail.source)[1].rpartition("@")[2]],
        "ses:caller-identity": ["local"],
    }
    if mail.configuration_set:
        tags["ses:configuration-set"] = [mail.configuration_set]
    tags.update({name: [value] for name, value in mail.tags.items()})
    return {
        "timestamp": sent_at,
        "source": mail.source,
        "sourceArn": f"arn:aws:ses:{mail.region}:{mail.account_id}:identity/"
        + parseaddr(mail.source)[1].rpartition("@")[2],
        "sendingAccountId": mail.account_id,
        "messageId": mail.message_id,
        "destination": list(mail.destination),
        "headersTruncated": False,
        "tags": tags,
    }


def _eventbridge(mail: Mail, detail: dict[str, Any]) -> dict[str, Any]:
    resources = []
    if mail.configuration_set:
        resources.append(
            f"arn:aws:ses:{mail.region}:{mail.account_id}:configuration-set/"
            f"{mail.configuration_set}"
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPES[detail["eventType"]],
        "source": "aws.ses",
        "account": mail.account_id,
        "time": detail["mail"]["timestamp"],
        "region": mail.region,
        "resources": resources,
        "detail": detail,
    }
