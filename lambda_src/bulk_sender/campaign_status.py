"""Campaign status, the pure rules: how an email is tagged, what each SES event means for it,
and which outcome wins when events arrive twice or out of order.

Shared by the sender (it tags every entry and records what it dead-letters or suppresses),
the events function (it records what SES says happened afterwards) and the CLI (`status`,
`enqueue --only-failed`). No I/O here.

Tying an event back to its message: every entry carries the SES tag `bulkmail-id`, whose value
is `message_key(id, key)`: `_k` + a keyed hash (HMAC-SHA256) of the id, with the key of the
stack's unsubscribe secret (the one the CLI keys ids and suppressions with). SES returns the
tags in every event's `mail.tags`, so an id that holds an address (`spring:ann@example.org`)
reaches no tag, event, archive or table key in a form that can be turned back (see
docs/security/stores.md); the CLI recomputes keys from the ids in the user's file. The
campaign rides in its own `campaign` tag (the sender adds it from an id's `{campaign}:`
prefix). Keys of emails sent before this (the id escaped byte by byte, `_xx`; `_h` + SHA-256
when too long) are still read: `decode_key` turns an escaped key back into its id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ID_TAG = "bulkmail-id"
CAMPAIGN_TAG = "campaign"
MAX_TAG_VALUE = 256
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9-]+")  # escaped by message_key
_HASHED = "_h"
_KEYED = "_k"  # `_` then a letter that is no hex digit: no escaped key starts so
_KEYED_HEX = 40  # 160 bits of HMAC-SHA256
# Without the stack's secret (no unsubscribe endpoint configured) keys are still hashed, but
# with this public key: an address inside an id can then be found by guessing it.
DEFAULT_KEY = b"bulkmail-default-id-key"

# Outcomes of one email, the later ones in its life ranked higher: an event of a lower rank
# never replaces a higher one (a delivery arriving after the bounce does not undo it).
SENT = "sent"
DELAYED = "delayed"
DELIVERED = "delivered"
BOUNCED_TRANSIENT = "bounced_transient"
BOUNCED_UNDETERMINED = "bounced_undetermined"
BOUNCED_PERMANENT = "bounced_permanent"
REJECTED = "rejected"
RENDERING_FAILED = "rendering_failed"
COMPLAINED = "complained"
SUPPRESSED = "suppressed"
DEAD_LETTERED = "dead_lettered"  # stored as `dead_lettered:{ErrorCode}`
RANKS = {
    DEAD_LETTERED: 5,  # a redrive that is then sent replaces it
    SENT: 10,
    DELAYED: 20,
    DELIVERED: 30,
    BOUNCED_TRANSIENT: 40,
    BOUNCED_UNDETERMINED: 45,
    BOUNCED_PERMANENT: 50,
    REJECTED: 50,
    RENDERING_FAILED: 50,
    COMPLAINED: 60,
    SUPPRESSED: 70,
}
# Outcomes after which SES says nothing more about delivery (in flight = sent - these).
FINAL = (
    DELIVERED,
    BOUNCED_TRANSIENT,
    BOUNCED_UNDETERMINED,
    BOUNCED_PERMANENT,
    REJECTED,
    RENDERING_FAILED,
    COMPLAINED,
)
BOUNCES = (BOUNCED_PERMANENT, BOUNCED_TRANSIENT, BOUNCED_UNDETERMINED)

# Engagement: counted once per email, whatever its outcome.
OPENED = "opened"
CLICKED = "clicked"
UNSUBSCRIBED = "unsubscribed"

# What a DLQ message without ErrorCode is (the redrive policy moved it: retries exhausted).
RETRIES_EXHAUSTED = "RetriesExhausted"
# Dead-letter reasons that sending the same row again can fix once the cause is fixed: a
# retry budget spent on throttles or outages, a template, configuration set or identity that
# was missing, data the template lacked (`--only-failed` re-reads the user's file). Never the
# recipient or the content itself (InvalidMessage, INVALID_PARAMETER, MESSAGE_REJECTED) nor an
# account SES suspended.
RETRYABLE_DEAD_LETTERS = frozenset(
    {
        RETRIES_EXHAUSTED,
        "TEMPLATE_NOT_FOUND",
        "CONFIGURATION_SET_NOT_FOUND",
        "MAIL_FROM_DOMAIN_NOT_VERIFIED",
        "INVALID_SENDING_POOL_NAME",
        "NotFoundException",
        "MailFromDomainNotVerifiedException",
        "AccessDeniedException",
        "AccessDenied",
        "MissingTemplateData",
    }
)
# A transient bounce is resent under a new id (`{id}~{n}`: the first one is marked sent in the
# idempotency ledger), at most this many times.
MAX_RESENDS = 3
RESEND_SEPARATOR = "~"

# Counter attribute names on a campaign's counts item.
ENQUEUED = "enqueued"  # put on the queue by the CLI's enqueue
RECEIVED = "received"  # first receives by the sender (what any producer enqueued)
SENT_TOTAL = "sent_total"  # SendBulkEmail SUCCESS entries (the sender)
DEAD_LETTERED_TOTAL = "dead_lettered_total"  # every dead letter (the sender)
SUPPRESSED_TOTAL = "suppressed_total"
DUPLICATES = "duplicates"  # acknowledged because their id was already sent

# SES event types (`eventType`, or `notificationType` without event publishing).
_OUTCOME_EVENTS = {
    "Send": SENT,
    "DeliveryDelay": DELAYED,
    "Delivery": DELIVERED,
    "Reject": REJECTED,
    "Rendering Failure": RENDERING_FAILED,
    "Complaint": COMPLAINED,
}
_BOUNCE_TYPES = {
    "Permanent": BOUNCED_PERMANENT,
    "Transient": BOUNCED_TRANSIENT,
}
_ENGAGEMENT_EVENTS = {"Open": OPENED, "Click": CLICKED, "Subscription": UNSUBSCRIBED}
# Each event type's own object: where its time and detail are.
_EVENT_OBJECTS = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "Rendering Failure": "failure",
    "DeliveryDelay": "deliveryDelay",
    "Open": "open",
    "Click": "click",
    "Subscription": "subscription",
}


def _escape(match: re.Match[str]) -> str:
    return "".join(f"_{b:02x}" for b in match.group().encode("utf-8"))


def message_key(message_id: str, key: bytes = DEFAULT_KEY) -> str:
    """The SES tag value (and status table key) of a message id: a keyed hash, not
    reversible without the key."""
    digest = hmac.new(key, b"bulkmail-id\x00" + message_id.encode("utf-8"), hashlib.sha256)
    return _KEYED + digest.hexdigest()[:_KEYED_HEX]


def escaped_key(message_id: str) -> str:
    """The key of an email sent before keys were hashed (read back only, never written)."""
    escaped = _NOT_PLAIN.sub(_escape, message_id)
    if 1 <= len(escaped) <= MAX_TAG_VALUE:
        return escaped
    return _HASHED + hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def decode_key(key: str) -> str | None:
    """The message id a key was made from; None for a hashed key or one that is not a key."""
    if key.startswith((_HASHED, _KEYED)) or not _TAG_VALUE.fullmatch(key):
        return None
    raw = bytearray()
    position = 0
    while position < len(key):
        char = key[position]
        if char == "_":
            try:
                raw.append(int(key[position + 1 : position + 3], 16))
            except ValueError:
                return None
            position += 3
        else:
            raw += char.encode("ascii")
            position += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def resend_id(message_id: str, attempt: int) -> str:
    """The id of the `attempt`-th resend of a message (0: the message itself)."""
    return message_id if attempt == 0 else f"{message_id}{RESEND_SEPARATOR}{attempt}"


def original_id(message_id: str) -> str:
    """The id a resend was made from (itself when it is not a resend)."""
    base, separator, number = message_id.rpartition(RESEND_SEPARATOR)
    return base if separator and number.isdigit() else message_id


def campaign_of(tags: Mapping[str, str], message_id: str | None) -> str | None:
    """A message's campaign: its `campaign` tag, else the prefix of a `{campaign}:...` id."""
    campaign = tags.get(CAMPAIGN_TAG)
    if isinstance(campaign, str) and _TAG_VALUE.fullmatch(campaign):
        return campaign
    if message_id and ":" in message_id:
        prefix = message_id.split(":", 1)[0]
        if _TAG_VALUE.fullmatch(prefix):
            return prefix
    return None


def bucket_kind(bucket: str) -> str:
    """`dead_lettered:CODE` -> `dead_lettered`; any other outcome is its own kind."""
    return bucket.split(":", 1)[0]


def rank_of(bucket: str) -> int:
    return RANKS[bucket_kind(bucket)]


def dead_lettered(code: str) -> str:
    return f"{DEAD_LETTERED}:{code or RETRIES_EXHAUSTED}"


def is_resendable(bucket: str | None) -> bool:
    """Whether `--only-failed` sends a message of this outcome again."""
    if not bucket:
        return False
    if bucket == BOUNCED_TRANSIENT:
        return True
    kind, _, code = bucket.partition(":")
    return kind == DEAD_LETTERED and code in RETRYABLE_DEAD_LETTERS


# --- SES events ------------------------------------------------------------------------------


class UnreadableEvent(ValueError):
    """A record that is not an SES event (poison): its text never holds the record's content."""


@dataclass(frozen=True)
class Change:
    """One email's new outcome (or engagement, when `engagement` is set)."""

    campaign: str
    key: str
    bucket: str
    event: str
    at: str  # ISO 8601, from SES
    detail: str = ""
    engagement: str = ""

    @property
    def rank(self) -> int:
        return rank_of(self.bucket) if not self.engagement else 0


def ses_event(body: str) -> dict[str, Any]:
    """The SES event in a queue message: EventBridge's `detail`, SNS's `Message`, or the event."""
    try:
        doc = json.loads(body)
    except (TypeError, ValueError):
        raise UnreadableEvent("body is not JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("detail"), dict):
        doc = doc["detail"]
    elif isinstance(doc, dict) and doc.get("Type") == "Notification":
        try:
            doc = json.loads(doc.get("Message", ""))
        except (TypeError, ValueError):
            raise UnreadableEvent("SNS Message is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("mail"), dict):
        raise UnreadableEvent("no SES event with a mail object")
    if not isinstance(doc.get("eventType") or doc.get("notificationType"), str):
        raise UnreadableEvent("no eventType")
    return doc


def change_for(event: Mapping[str, Any]) -> Change | None:
    """What one SES event means for its email; None if the email is not one of ours (no
    `bulkmail-id` tag) or the event type means nothing here. Raises UnreadableEvent."""
    kind: str = event.get("eventType") or event.get("notificationType") or ""
    mail = event["mail"]
    tags = _first_values(mail.get("tags"))
    key = tags.get(ID_TAG)
    if not key or not _TAG_VALUE.fullmatch(key):
        return None
    campaign = campaign_of(tags, decode_key(key))
    if campaign is None:
        return None
    detail_object = event.get(_EVENT_OBJECTS.get(kind, ""), {})
    detail_object = detail_object if isinstance(detail_object, dict) else {}
    at = detail_object.get("timestamp") or mail.get("timestamp") or ""
    at = at if isinstance(at, str) else ""
    if kind in _ENGAGEMENT_EVENTS:
        engagement = _ENGAGEMENT_EVENTS[kind]
        return Change(campaign, key, "", kind, at, engagement=engagement)
    if kind == "Bounce":
        bounce_type = detail_object.get("bounceType")
        bounce_bucket = _BOUNCE_TYPES.get(str(bounce_type), BOUNCED_UNDETERMINED)
        sub_type = detail_object.get("bounceSubType")
        detail = f"{bounce_type}/{sub_type}" if isinstance(sub_type, str) else str(bounce_type)
        return Change(campaign, key, bounce_bucket, kind, at, _safe(detail))
    bucket = _OUTCOME_EVENTS.get(kind)
    if bucket is None:
        return None
    detail = ""
    if kind == "Complaint":
        detail = detail_object.get("complaintFeedbackType") or "unknown"
    elif kind == "DeliveryDelay":
        detail = detail_object.get("delayType") or ""
    elif kind == "Rendering Failure":
        detail = detail_object.get("templateName") or ""
    return Change(campaign, key, bucket, kind, at, _safe(detail))


def _first_values(tags: Any) -> dict[str, str]:
    """SES's `mail.tags` (name -> list of values) as name -> first value."""
    if not isinstance(tags, dict):
        return {}
    found: dict[str, str] = {}
    for name, values in tags.items():
        value = values[0] if isinstance(values, list) and values else values
        if isinstance(name, str) and isinstance(value, str):
            found[name] = value
    return found


def _safe(text: Any) -> str:
    """A short, address-free detail (types and codes only ever reach the table)."""
    text = str(text)[:64]
    return "" if "@" in text else text
