"""Pure grouping and request building (DESIGN.md section 4): no I/O here."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from bulk_sender.campaign_status import CAMPAIGN_TAG, ID_TAG, campaign_of, message_key
from bulk_sender.message import Attachment, Email, SendOptions

MAX_ENTRIES_PER_CALL = 50

T = TypeVar("T")


def plan_calls(
    items: Iterable[tuple[T, Email]], *, max_entries: int = MAX_ENTRIES_PER_CALL
) -> list[list[tuple[T, Email]]]:
    """Group emails by `Email.group_key` (first-seen order) and cut each group into calls."""
    groups: dict[tuple[object, ...], list[tuple[T, Email]]] = {}
    for item in items:
        groups.setdefault(item[1].group_key, []).append(item)
    return [
        group[start : start + max_entries]
        for group in groups.values()
        for start in range(0, len(group), max_entries)
    ]


def build_request(
    emails: Sequence[Email],
    *,
    default_tags: Mapping[str, str],
    endpoint_id: str | None = None,
    files: Mapping[str, bytes] | None = None,
    key_of: Callable[[str], str] = message_key,
) -> dict[str, Any]:
    """The SendBulkEmail request for emails that share one group key. `files` holds each
    attachment's bytes by S3 key (attachments.AttachmentFiles read them); `key_of` makes an
    id's `bulkmail-id` tag (campaign_status.message_key with the stack's key)."""
    first = emails[0]
    template: dict[str, Any] = {"TemplateData": "{}"}
    if first.content is not None:
        content = {"Subject": first.content.subject}
        if first.content.text is not None:
            content["Text"] = first.content.text
        if first.content.html is not None:
            content["Html"] = first.content.html
        template["TemplateContent"] = content
    elif (first.template or "").startswith("arn:"):
        template["TemplateArn"] = first.template
    else:
        template["TemplateName"] = first.template
    request: dict[str, Any] = {
        "FromEmailAddress": first.from_address,
        "DefaultContent": {"Template": template},
        "BulkEmailEntries": [_entry(email, key_of) for email in emails],
    }
    if default_tags:
        request["DefaultEmailTags"] = _pairs(default_tags.items())
    if first.configuration_set:
        request["ConfigurationSetName"] = first.configuration_set
    if first.reply_to:
        request["ReplyToAddresses"] = list(first.reply_to)
    if first.feedback_to:
        request["FeedbackForwardingEmailAddress"] = first.feedback_to
    if endpoint_id:
        request["EndpointId"] = endpoint_id
    _add_options(request, first.options, files or {})
    return request


_FEATURE = {True: "ENABLED", False: "DISABLED"}


def _add_options(request: dict[str, Any], options: SendOptions, files: Mapping[str, bytes]) -> None:
    """Tenant, tracking override, sending authorization and attachments (DESIGN section 11)."""
    if options.tenant:
        request["TenantName"] = options.tenant
    if options.from_arn:
        request["FromEmailAddressIdentityArn"] = options.from_arn
    if options.feedback_to_arn:
        request["FeedbackForwardingEmailAddressIdentityArn"] = options.feedback_to_arn
    if options.tracking:
        opens, clicks = options.tracking
        tracking = {}
        if opens is not None:
            tracking["OpenTrackingEnabled"] = _FEATURE[opens]
        if clicks is not None:
            tracking["ClickTrackingEnabled"] = _FEATURE[clicks]
        request["ConfigurationOverrides"] = {"Tracking": tracking}
    if options.attachments:
        request["DefaultContent"]["Template"]["Attachments"] = [
            _attachment(attachment, files[attachment.key]) for attachment in options.attachments
        ]


def _attachment(attachment: Attachment, content: bytes) -> dict[str, Any]:
    # BASE64 whatever the bytes: SES's default (7-bit) would corrupt a binary file.
    entry: dict[str, Any] = {
        "RawContent": content,
        "FileName": attachment.filename,
        "ContentTransferEncoding": "BASE64",
    }
    if attachment.content_type:
        entry["ContentType"] = attachment.content_type
    if attachment.disposition:
        entry["ContentDisposition"] = attachment.disposition
    if attachment.content_id:
        entry["ContentId"] = attachment.content_id
    return entry


def _entry(email: Email, key_of: Callable[[str], str]) -> dict[str, Any]:
    destination = {"ToAddresses": list(email.to)}
    if email.cc:
        destination["CcAddresses"] = list(email.cc)
    if email.bcc:
        destination["BccAddresses"] = list(email.bcc)
    entry: dict[str, Any] = {
        "Destination": destination,
        "ReplacementEmailContent": {
            "ReplacementTemplate": {"ReplacementTemplateData": email.data_json}
        },
    }
    # The id tag ties SES's events for this email back to it (campaign_status.py): a keyed
    # hash, so the campaign an id names rides in its own tag.
    tags = [(name, value) for name, value in email.tags if name != ID_TAG]
    campaign = campaign_of(dict(email.tags), email.id)
    if campaign and not any(name == CAMPAIGN_TAG for name, _ in tags):
        tags.append((CAMPAIGN_TAG, campaign))
    entry["ReplacementTags"] = _pairs([*tags, (ID_TAG, key_of(email.id))])
    if email.headers:
        entry["ReplacementHeaders"] = _pairs(email.headers)
    return entry


def _pairs(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in items]


def group_label(email: Email) -> str:
    """A short, address-free name for a group in logs: template (or 'inline') + key hash."""
    digest = hashlib.sha256(repr(email.group_key).encode()).hexdigest()[:8]
    name = email.template.rsplit("/", 1)[-1] if email.template else "inline"
    return f"{name}#{digest}"
