"""The embedded AWS emulator: moto, plus the SES v2 calls the sender needs (DESIGN.md section 8).

moto 5.2 serves SES v2 but lacks SendBulkEmail, CreateEmailTemplate, GetEmailTemplate,
GetAccount and CreateConfigurationSetEventDestination. `install()` adds them to moto's
`SESV2Response`, in process (`mock_aws`) and in server mode, on top of moto's SES v1 backend:
identities, templates and configuration sets are v1's (both APIs see them), and each bulk
entry is sent through v1's per-message rules (verified sender, valid addresses, at most 50
recipients), so the 50-recipient limit counts per entry, not across the call.

For tests and the local run: `sent_emails()` is the record of what was sent, `set_faults()`
makes a seeded share of calls and entries fail, `set_max_send_rate()` sets what GetAccount
answers, `set_daily_quota()` enforces a Max24HourSend over a window shortened to seconds
(a call with nothing left is refused with SES's "Daily message quota exceeded." throttle, the
entries past what is left get ACCOUNT_DAILY_QUOTA_EXCEEDED, and GetAccount's SentLast24Hours
counts the window), and `start_server()` runs moto's server on 127.0.0.1 with all of this installed.
`install()` also speeds up moto's SQS, which scans the whole queue on most calls: its clock
reads `time.time()` instead of building datetimes (the same UTC epoch seconds), and a receive
checks retention without computing every queue attribute per message (O(depth) each); its
standard queues are indexed so that no call scans the queue (bulkmail.local.fast_queues);
moto's DynamoDB transactions, which copy the table per item (bulkmail.local.transactions); and
its UpdateItem, which parses and validates each expression at length (bulkmail.local.fast_updates).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict

from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import ServiceException
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.ses.exceptions import SesError
from moto.ses.models import SESBackend, ses_backends
from moto.sesv2.responses import SESV2Response
from moto.sqs.models import sqs_backends

from bulkmail.local import moto_patches, ses_events

__all__ = [
    "DEFAULT_ENTRY_STATUSES",
    "Emulator",
    "SentEmail",
    "fault_counts",
    "install",
    "reset",
    "sent_emails",
    "set_daily_quota",
    "set_event_queue",
    "set_faults",
    "set_max_send_rate",
    "set_sent_limit",
    "start_server",
    "verify_identities",
]

DEFAULT_REGION = "eu-west-1"
DEFAULT_ENTRY_STATUSES = ("TRANSIENT_FAILURE", "ACCOUNT_THROTTLED", "MESSAGE_REJECTED")
DEFAULT_MAX_SEND_RATE = 1.0  # moto's SES v1 quota
DEFAULT_MAX_24_HOUR_SEND = 50_000.0  # a new SES production account's daily quota
MAX_ENTRIES_PER_CALL = 50

_DESTINATION_FIELDS = ("ToAddresses", "CcAddresses", "BccAddresses")
_TEMPLATE_ARN = re.compile(r"^arn:[\w-]+:ses:[\w-]*:\d*:template/(?P<name>[^/]+)$")
# moto's SES v1 error codes, as SES v2 names them; any other v1 error is a BadRequestException.
_V2_CODES = {
    "AlreadyExists": "AlreadyExistsException",
    "ConfigurationSetDoesNotExist": "NotFoundException",
    "MessageRejected": "MessageRejected",
    "TemplateDoesNotExist": "NotFoundException",
}
# Server mode routes by these (moto's catch-all "/v2/.*" serves only in-process mocks).
_ROUTES = (
    "{0}/v2/email/outbound-bulk-emails$",
    "{0}/v2/email/templates$",
    "{0}/v2/email/templates/(?P<TemplateName>[^/]+)$",
    "{0}/v2/email/account$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations$",
    "{0}/v2/email/tenants$",
    "{0}/v2/email/multi-region-endpoints$",
)
_FAULT_MESSAGES = {"TooManyRequestsException": "Maximum sending rate exceeded."}
_SENT_ATTR = "bulkmail_sent"
_EVENT_DESTINATIONS_ATTR = "bulkmail_event_destinations"
_TENANTS_ATTR = "bulkmail_tenants"
_ENDPOINTS_ATTR = "bulkmail_endpoints"


SentEmail = TypedDict(
    "SentEmail",
    {
        "message_id": str,
        "from": str,
        "to": list[str],
        "cc": list[str],
        "bcc": list[str],
        "template": str,  # the template's name, or an inline template's subject
        "content": dict[str, str] | None,  # the inline template (Subject, Text, Html), if any
        "data": dict[str, Any],  # TemplateData overlaid with the entry's replacement data
        "headers": dict[str, str],
        "tags": dict[str, str],
        "configuration_set": str | None,
        "reply_to": list[str],
        "feedback_to": str | None,
        # SendBulkEmail's per-call options (DESIGN.md section 11), None / [] when not given
        "tenant": str | None,
        "endpoint_id": str | None,
        "tracking": dict[str, str] | None,  # ConfigurationOverrides.Tracking
        "from_arn": str | None,
        "feedback_to_arn": str | None,
        "attachments": list[dict[str, Any]],  # each Attachment, RawContent decoded to bytes
        "events": list[str],  # the SES events published for it ("Send", "Delivery", ...)
        "sent_at": float,  # time.time() when SES accepted it
    },
)


class SesV2Error(ServiceException):
    """An SES v2 error by its code; moto answers it with the HTTP status botocore's model gives."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@contextmanager
def _as_v2_errors() -> Iterator[None]:
    """Re-raise moto's SES v1 errors under their SES v2 codes."""
    try:
        yield
    except SesError as err:
        raise SesV2Error(_V2_CODES.get(err.code, "BadRequestException"), err.message) from err


# --- process-wide settings: faults and the quota -------------------------------------------


@dataclass
class _Faults:
    """Seeded fault injection: which calls and entries fail, and how."""

    entry_rate: float = 0.0
    call_rate: float = 0.0
    seed: int = 0
    entry_statuses: tuple[str, ...] = DEFAULT_ENTRY_STATUSES
    call_error: str = "TooManyRequestsException"
    injected: Counter[str] = field(default_factory=Counter)
    _draws: Counter[str] = field(default_factory=Counter)

    def call_error_for(self, key: str) -> str | None:
        if not self.call_rate or self._draw("call", key) >= self.call_rate:
            return None
        self.injected[self.call_error] += 1
        return self.call_error

    def entry_status_for(self, key: str) -> str | None:
        if not self.entry_rate:
            return None
        draw = self._draw("entry", key)
        if draw >= self.entry_rate:
            return None
        status = self.entry_statuses[int(draw / self.entry_rate * len(self.entry_statuses))]
        self.injected[status] += 1
        return status

    def _draw(self, kind: str, key: str) -> float:
        """A number in [0, 1) fixed by the seed, the key and how often the key was drawn.

        Keyed by destination rather than taken from one random stream, so that what happens to
        an email does not depend on the order in which concurrent calls reach the emulator.
        """
        self._draws[f"{kind}:{key}"] += 1
        text = f"{self.seed}\x1f{kind}\x1f{key}\x1f{self._draws[f'{kind}:{key}']}"
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


@dataclass
class _Settings:
    faults: _Faults = field(default_factory=_Faults)
    max_send_rate: float = DEFAULT_MAX_SEND_RATE
    max_24_hour_send: float = DEFAULT_MAX_24_HOUR_SEND
    quota_window: float | None = None  # seconds; None: Max24HourSend is only reported
    sends: deque[float] = field(default_factory=deque)  # times of sends within the window
    clock: Callable[[], float] = time.monotonic

    def sent_in_window(self) -> int:
        if self.quota_window is None:
            return 0
        while self.sends and self.sends[0] <= self.clock() - self.quota_window:
            self.sends.popleft()
        return len(self.sends)

    event_queue: str | None = None  # the SQS queue SES events go to (the stack's rule target)
    sent_limit: int | None = None  # keep only the latest sent emails (None: all of them)


_settings = _Settings()
# Serialises sends: moto's backends are not thread-safe, and the server answers on threads.
_lock = threading.RLock()


# --- public API -----------------------------------------------------------------------------


def set_faults(
    entry_rate: float,
    call_rate: float,
    seed: int = 0,
    entry_statuses: Sequence[str] = DEFAULT_ENTRY_STATUSES,
    call_error: str = "TooManyRequestsException",
) -> None:
    """Fail a share of SendBulkEmail calls whole and answer a share of entries with an error.

    A failed call raises `call_error` (TooManyRequestsException: HTTP 429); a failed entry gets
    one of `entry_statuses` and is not sent. Outcomes are fixed by the seed and the entry's
    recipients (and, for calls, all the call's recipients), so a run repeats. `set_faults(0, 0)`
    turns faults off.
    """
    if not (0 <= entry_rate <= 1 and 0 <= call_rate <= 1):
        raise ValueError("fault rates are shares between 0 and 1")
    if entry_rate and not entry_statuses:
        raise ValueError("entry faults need at least one status")
    with _lock:
        _settings.faults = _Faults(entry_rate, call_rate, seed, tuple(entry_statuses), call_error)


def set_event_queue(queue_name: str | None) -> None:
    """Send the SES events of what SendBulkEmail sends (as EventBridge delivers them, one per
    SQS message) to this queue, as the stack's rule does; None: no events."""
    with _lock:
        _settings.event_queue = queue_name


def fault_counts() -> dict[str, int]:
    """How many faults were injected since the last `set_faults`, by error code or status."""
    with _lock:
        return dict(_settings.faults.injected)


def set_max_send_rate(rate: float, max_24_hour_send: float | None = None) -> None:
    """Set the quota GetAccount answers (MaxSendRate, and optionally Max24HourSend)."""
    with _lock:
        _settings.max_send_rate = rate
        if max_24_hour_send is not None:
            _settings.max_24_hour_send = max_24_hour_send


def set_daily_quota(
    max_24_hour_send: float,
    window_seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Enforce `max_24_hour_send` recipients per rolling `window_seconds` (SES: 24 hours),
    timed by `clock`."""
    if max_24_hour_send < 0 or window_seconds <= 0:
        raise ValueError("a daily quota needs a non-negative size and a positive window")
    with _lock:
        _settings.max_24_hour_send = max_24_hour_send
        _settings.quota_window = window_seconds
        _settings.clock = clock
        _settings.sends.clear()


def sent_emails(
    region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> list[SentEmail]:
    """The emails SendBulkEmail accepted in that account and region, one per entry, in order."""
    with _lock:
        return list(_sent(ses_backends[account_id][region]))


def set_sent_limit(limit: int | None) -> None:
    """Keep only the latest `limit` sent emails (the record, and moto's own list of sent
    messages): what a long-running `local` holds stays bounded. None: keep them all."""
    with _lock:
        _settings.sent_limit = limit
        for account in ses_backends.values():
            for backend in account.values():
                if _SENT_ATTR in vars(backend):
                    vars(backend)[_SENT_ATTR] = deque(vars(backend)[_SENT_ATTR], maxlen=limit)
                _trim(backend)


def _trim(core: SESBackend) -> None:
    limit = _settings.sent_limit
    if limit is not None and len(core.sent_messages) > 2 * limit:
        del core.sent_messages[:-limit]


def reset() -> None:
    """Forget every sent email, turn faults off and restore the default quota."""
    global _settings
    with _lock:
        for account in ses_backends.values():
            for backend in account.values():
                vars(backend).pop(_SENT_ATTR, None)
        _settings = _Settings()


def verify_identities(region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Answer every SES identity as verified for sending with DKIM signing on (moto answers
    unverified and DKIM NOT_STARTED): what a deployed stack has once its DNS records are in."""
    with _lock:
        for identity in ses_backends[account_id][region].email_identities.values():
            identity.verified_for_sending_status = True
            identity.dkim_attributes.update(SigningEnabled=True, Status="SUCCESS")


def install() -> None:
    """Add the missing SES v2 operations to moto, in process and for its server, with the
    project's other moto patches (bulkmail.local.moto_patches). Idempotent.

    Call it before a server starts: the server builds its routes on its first SES v2 request.
    """
    moto_patches.install(ses_v2=_SesV2Extension, routes=_ROUTES, region=DEFAULT_REGION)


@dataclass
class Emulator:
    """A running moto server; point clients at `endpoint_url` (or AWS_ENDPOINT_URL)."""

    endpoint_url: str
    server: ThreadedMotoServer

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_server(host: str = "127.0.0.1", port: int = 0) -> Emulator:
    """Install the extension and start moto's server in this process (port 0: a free port)."""
    install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return Emulator(f"http://{bound_host}:{bound_port}", server)


# --- the SES v2 operations ------------------------------------------------------------------


class _SesV2Extension(SESV2Response):
    """The operations `install()` copies onto moto's SESV2Response, named as moto expects."""

    def send_bulk_email(self) -> TYPE_RESPONSE:
        request = json.loads(self.body)
        with _lock:
            results = _send_bulk(self.sesv2_backend.core_backend, request)
        return _json({"BulkEmailEntryResults": results})

    def create_email_template(self) -> TYPE_RESPONSE:
        request = json.loads(self.body)
        content = request.get("TemplateContent") or {}
        template = {
            "template_name": request.get("TemplateName", ""),
            "subject_part": content.get("Subject", ""),
            "text_part": content.get("Text", ""),
            "html_part": content.get("Html", ""),
            "Timestamp": utcnow(),
        }
        with _as_v2_errors():
            self.sesv2_backend.core_backend.add_template(template)
        return _json({})

    def get_email_template(self) -> TYPE_RESPONSE:
        name = self._get_param("TemplateName")
        template = _stored_template(self.sesv2_backend.core_backend, name)
        parts = {
            "Subject": template["subject_part"],
            "Text": template["text_part"],
            "Html": template["html_part"],
        }
        content = {part: value for part, value in parts.items() if value}
        return _json({"TemplateName": name, "TemplateContent": content})

    def get_account(self) -> TYPE_RESPONSE:
        with _lock:
            sent = (
                _settings.sent_in_window()
                if _settings.quota_window is not None
                else self.sesv2_backend.core_backend.get_send_quota().sent_last24_hours
            )
        quota = {
            "Max24HourSend": _settings.max_24_hour_send,
            "MaxSendRate": _settings.max_send_rate,
            "SentLast24Hours": float(sent),
        }
        return _json(
            {
                "SendQuota": quota,
                "SendingEnabled": True,
                "ProductionAccessEnabled": True,
                "EnforcementStatus": "HEALTHY",
                "DedicatedIpAutoWarmupEnabled": False,
            }
        )

    def get_configuration_set(self) -> TYPE_RESPONSE:  # type: ignore[override]
        """moto's, with SendingOptions.SendingEnabled a boolean (moto answers `{}`)."""
        name = self._get_param("ConfigurationSetName")
        with _as_v2_errors():
            found = self.sesv2_backend.core_backend.describe_configuration_set(name)
        answer = found.to_dict_v2()
        enabled: Any = found.enabled
        if isinstance(enabled, dict):
            enabled = enabled.get("SendingEnabled", True)
        answer["SendingOptions"] = {"SendingEnabled": bool(enabled)}
        return _json(answer)

    def create_configuration_set_event_destination(self) -> TYPE_RESPONSE:
        request = json.loads(self.body)
        destinations = self._event_destinations()
        name = request.get("EventDestinationName", "")
        if name in destinations:
            raise SesV2Error("AlreadyExistsException", f"Event destination {name} already exists.")
        destinations[name] = {"Name": name, **request.get("EventDestination", {})}
        return _json({})

    def create_tenant(self) -> TYPE_RESPONSE:
        request = json.loads(self.body)
        name = request.get("TenantName", "")
        tenants = vars(self.sesv2_backend.core_backend).setdefault(_TENANTS_ATTR, {})
        if name in tenants:
            raise SesV2Error("AlreadyExistsException", f"Tenant {name} already exists.")
        tenant_id = "tn-" + hashlib.sha256(name.encode()).hexdigest()[:16]
        arn = f"arn:aws:ses:{self.region}:{self.current_account}:tenant/{name}/{tenant_id}"
        tenants[name] = {"TenantName": name, "TenantId": tenant_id, "TenantArn": arn}
        return _json({**tenants[name], "SendingStatus": "ENABLED"})

    def create_multi_region_endpoint(self) -> TYPE_RESPONSE:
        request = json.loads(self.body)
        name = request.get("EndpointName", "")
        endpoints = vars(self.sesv2_backend.core_backend).setdefault(_ENDPOINTS_ATTR, {})
        if name in endpoints.values():
            raise SesV2Error("AlreadyExistsException", f"Endpoint {name} already exists.")
        digest = hashlib.sha256(name.encode()).hexdigest()
        endpoint_id = f"{digest[:8]}.{digest[8:11]}"
        endpoints[endpoint_id] = name
        return _json({"Status": "READY", "EndpointId": endpoint_id})

    def get_configuration_set_event_destinations(self) -> TYPE_RESPONSE:
        return _json({"EventDestinations": list(self._event_destinations().values())})

    def _event_destinations(self) -> dict[str, dict[str, Any]]:
        """The configuration set's event destinations, by name (stored, never delivered to)."""
        core = self.sesv2_backend.core_backend
        name = self._get_param("ConfigurationSetName")
        with _as_v2_errors():
            core.describe_configuration_set(name)
        by_set = vars(core).setdefault(_EVENT_DESTINATIONS_ATTR, {})
        return by_set.setdefault(name, {})


# --- SendBulkEmail --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """A bulk call's DefaultContent.Template: stored (by name) or inline, with its defaults."""

    name: str | None
    inline: dict[str, str] | None
    label: str  # the name, or the inline template's subject
    data: dict[str, Any]
    headers: dict[str, str]
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    """A BulkEmailEntry with the call's defaults applied (the entry's values win)."""

    destination: dict[str, list[str]]
    data: dict[str, Any]
    headers: dict[str, str]
    tags: dict[str, str]

    @classmethod
    def parse(
        cls,
        raw: dict[str, Any],
        destination: dict[str, list[str]],
        content: _Content,
        default_tags: dict[str, str],
    ) -> _Entry:
        replacement = (raw.get("ReplacementEmailContent") or {}).get("ReplacementTemplate") or {}
        data = _json_object(replacement.get("ReplacementTemplateData"), "ReplacementTemplateData")
        return cls(
            destination=destination,
            data=content.data | data,
            headers=content.headers | _name_values(raw.get("ReplacementHeaders")),
            tags=default_tags | _name_values(raw.get("ReplacementTags")),
        )


def _send_bulk(core: SESBackend, request: dict[str, Any]) -> list[dict[str, str]]:
    """Answer one SendBulkEmail call: throttling, whole-call checks, then each entry in order."""
    raw_entries = request.get("BulkEmailEntries") or []
    destinations = [_destination(raw) for raw in raw_entries]
    call_error = _settings.faults.call_error_for("|".join(map(_recipients_key, destinations)))
    if call_error:
        raise SesV2Error(call_error, _FAULT_MESSAGES.get(call_error, "Injected fault."))
    content = _check_call(core, request)
    default_tags = _name_values(request.get("DefaultEmailTags"))
    entries = [
        _Entry.parse(raw, destination, content, default_tags)
        for raw, destination in zip(raw_entries, destinations, strict=True)
    ]
    if _settings.quota_window is None:
        return [_send_entry(core, request, content, entry) for entry in entries]
    if _settings.sent_in_window() >= _settings.max_24_hour_send:
        raise SesV2Error("ThrottlingException", "Daily message quota exceeded.")
    results = []
    for entry in entries:
        recipients = sum(len(addresses) for addresses in entry.destination.values())
        if _settings.sent_in_window() + recipients > _settings.max_24_hour_send:
            results.append({"Status": "ACCOUNT_DAILY_QUOTA_EXCEEDED", "Error": "Quota exceeded."})
            continue
        result = _send_entry(core, request, content, entry)
        if result["Status"] == "SUCCESS":
            _settings.sends.extend([_settings.clock()] * recipients)
        results.append(result)
    return results


def _check_call(core: SESBackend, request: dict[str, Any]) -> _Content:
    """What fails a whole call in SES: entry count, sender, configuration set, template."""
    count = len(request.get("BulkEmailEntries") or [])
    if not 1 <= count <= MAX_ENTRIES_PER_CALL:
        raise SesV2Error(
            "BadRequestException",
            f"BulkEmailEntries must hold 1 to {MAX_ENTRIES_PER_CALL} entries, not {count}.",
        )
    source = request.get("FromEmailAddress") or ""
    if not core._is_verified_address(source):
        raise SesV2Error(
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in "
            f"region {core.region_name.upper()}: {source}",
        )
    config_set = request.get("ConfigurationSetName")
    if config_set is not None and config_set not in core.config_sets:
        raise SesV2Error("NotFoundException", f"Configuration set <{config_set}> does not exist.")
    tenant = request.get("TenantName")
    if tenant is not None and tenant not in vars(core).get(_TENANTS_ATTR, {}):
        raise SesV2Error("NotFoundException", f"Tenant {tenant} does not exist.")
    endpoint_id = request.get("EndpointId")
    if endpoint_id is not None and endpoint_id not in vars(core).get(_ENDPOINTS_ATTR, {}):
        raise SesV2Error(
            "NotFoundException", f"Multi-region endpoint {endpoint_id} does not exist."
        )
    template = (request.get("DefaultContent") or {}).get("Template") or {}
    return _resolve_template(core, template)


def _resolve_template(core: SESBackend, template: dict[str, Any]) -> _Content:
    name = template.get("TemplateName")
    if arn := template.get("TemplateArn"):
        match = _TEMPLATE_ARN.match(arn)
        if not match:
            raise SesV2Error("BadRequestException", "TemplateArn is not a template ARN.")
        name = match["name"]
    inline: Any = template.get("TemplateContent")
    if (name is None) == (inline is None):
        raise SesV2Error(
            "BadRequestException",
            "Give exactly one of TemplateName, TemplateArn and TemplateContent.",
        )
    if name is not None:
        _stored_template(core, name)
    elif not inline.get("Subject") or not (inline.get("Text") or inline.get("Html")):
        raise SesV2Error(
            "BadRequestException", "TemplateContent needs a Subject and a Text or Html part."
        )
    return _Content(
        name=name,
        inline=inline,
        label=name if name is not None else inline["Subject"],
        data=_json_object(template.get("TemplateData"), "TemplateData"),
        headers=_name_values(template.get("Headers")),
        attachments=[_attachment(raw) for raw in template.get("Attachments") or []],
    )


def _attachment(raw: dict[str, Any]) -> dict[str, Any]:
    """An Attachment as SES takes it; RawContent arrives base64-encoded in the JSON body."""
    if not raw.get("FileName") or "RawContent" not in raw:
        raise SesV2Error("BadRequestException", "An attachment needs FileName and RawContent.")
    try:
        content = base64.b64decode(raw["RawContent"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise SesV2Error("BadRequestException", "RawContent is not base64.") from None
    return {**raw, "RawContent": content}


def _send_entry(
    core: SESBackend, request: dict[str, Any], content: _Content, entry: _Entry
) -> dict[str, str]:
    """One entry: an injected fault, or a send by moto's SES v1 per-message rules, recorded."""
    status = _settings.faults.entry_status_for(_recipients_key(entry.destination))
    if status:
        return {"Status": status, "Error": "Injected fault."}
    if not any(entry.destination.values()):
        return {"Status": "INVALID_PARAMETER", "Error": "The entry has no recipients."}
    source = request["FromEmailAddress"]
    try:
        message = (
            core.send_templated_email(
                source, content.name, json.dumps(entry.data), entry.destination
            )
            if content.name is not None
            else core.send_email(source, content.label, _body(content), entry.destination)
        )
    except SesError as err:  # more than 50 recipients, an invalid address
        return {"Status": "INVALID_PARAMETER", "Error": err.message}
    events = _publish_events(core, request, message.id, entry)
    _trim(core)
    _sent(core).append(
        {
            "message_id": message.id,
            "from": source,
            "to": entry.destination["ToAddresses"],
            "cc": entry.destination["CcAddresses"],
            "bcc": entry.destination["BccAddresses"],
            "template": content.label,
            "content": content.inline,
            "data": entry.data,
            "headers": entry.headers,
            "tags": entry.tags,
            "configuration_set": request.get("ConfigurationSetName"),
            "reply_to": list(request.get("ReplyToAddresses") or []),
            "feedback_to": request.get("FeedbackForwardingEmailAddress"),
            "tenant": request.get("TenantName"),
            "endpoint_id": request.get("EndpointId"),
            "tracking": (request.get("ConfigurationOverrides") or {}).get("Tracking"),
            "from_arn": request.get("FromEmailAddressIdentityArn"),
            "feedback_to_arn": request.get("FeedbackForwardingEmailAddressIdentityArn"),
            "attachments": content.attachments,
            "events": events,
            "sent_at": time.time(),
        }
    )
    return {"Status": "SUCCESS", "MessageId": message.id}


def _publish_events(
    core: SESBackend, request: dict[str, Any], message_id: str, entry: _Entry
) -> list[str]:
    """SES's events for one sent email, onto the event queue (the mailbox simulator's rules);
    their types ("Send", "Delivery", "Bounce (Permanent)", ...)."""
    queue = _settings.event_queue
    if not queue:
        return []
    mail = ses_events.Mail(
        message_id=message_id,
        source=request["FromEmailAddress"],
        destination=[a for addresses in entry.destination.values() for a in addresses],
        tags=entry.tags,
        configuration_set=request.get("ConfigurationSetName"),
        region=core.region_name,
        account_id=core.account_id,
    )
    backend = sqs_backends[core.account_id][core.region_name]
    kinds = []
    for event in ses_events.events_for(mail):
        backend.send_message(queue, json.dumps(event))
        detail = event["detail"]
        bounce = (detail.get("bounce") or {}).get("bounceType")
        kinds.append(detail["eventType"] + (f" ({bounce})" if bounce else ""))
    return kinds


# --- helpers --------------------------------------------------------------------------------


def _json(body: dict[str, Any]) -> TYPE_RESPONSE:
    return 200, {"Content-Type": "application/json"}, json.dumps(body)


def _sent(core: SESBackend) -> deque[SentEmail]:
    """The sent record, kept on moto's SES v1 backend (so moto's reset clears it too)."""
    found = vars(core).get(_SENT_ATTR)
    if found is None:
        found = vars(core)[_SENT_ATTR] = deque(maxlen=_settings.sent_limit)
    return found


def _stored_template(core: SESBackend, name: str) -> dict[str, Any]:
    if name not in core.templates:
        raise SesV2Error("NotFoundException", f"Template {name} does not exist.")
    return core.templates[name]


def _destination(entry: dict[str, Any]) -> dict[str, list[str]]:
    """An entry's Destination, with each of the three address lists present."""
    destination = entry.get("Destination") or {}
    return {name: list(destination.get(name) or []) for name in _DESTINATION_FIELDS}


def _recipients_key(destination: dict[str, list[str]]) -> str:
    return ",".join(address.lower() for addresses in destination.values() for address in addresses)


def _body(content: _Content) -> str:
    inline = content.inline or {}
    return inline.get("Html") or inline.get("Text") or ""


def _name_values(items: list[dict[str, str]] | None) -> dict[str, str]:
    """SES's [{"Name": n, "Value": v}, ...] (headers, tags) as a dict, in order."""
    return {item["Name"]: item["Value"] for item in items or []}


def _json_object(text: str | None, name: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SesV2Error("BadRequestException", f"{name} is not a JSON object.")
    return value
