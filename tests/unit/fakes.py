"""Fakes for the sending core's clients: they answer by request (safe under concurrency)
and check every request against the real botocore model, as Stubber does."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

_SESSION = botocore.session.get_session()
_MODELS = {name: _SESSION.get_service_model(name) for name in ("sesv2", "sqs")}


def _validate(service: str, operation: str, params: dict[str, Any]) -> None:
    validate_parameters(params, _MODELS[service].operation_model(operation).input_shape)


def client_error(code: str, status: int, message: str = "refused") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendBulkEmail",
    )


def all_success(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "BulkEmailEntryResults": [
            {"Status": "SUCCESS", "MessageId": f"ses-{i}"}
            for i, _ in enumerate(request["BulkEmailEntries"])
        ]
    }


def recipients_of(entry: dict[str, Any]) -> list[str]:
    destination = entry["Destination"]
    return [
        address
        for key in ("ToAddresses", "CcAddresses", "BccAddresses")
        for address in destination.get(key, [])
    ]


class FakeSes:
    """SES v2: `answer(request)` returns the response or raises a ClientError."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], dict[str, Any]] = all_success,
        max_send_rate: float = 14.0,
        templates: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.answer = answer
        self.max_send_rate = max_send_rate
        self.templates = templates or {}
        self.template_fetches: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send_bulk_email(self, **request: Any) -> dict[str, Any]:
        _validate("sesv2", "SendBulkEmail", request)
        with self._lock:
            self.requests.append(request)
        return self.answer(request)

    def get_account(self) -> dict[str, Any]:
        return {"SendQuota": {"MaxSendRate": self.max_send_rate, "Max24HourSend": 50000.0}}

    def get_email_template(self, TemplateName: str) -> dict[str, Any]:
        self.template_fetches.append(TemplateName)
        if TemplateName not in self.templates:
            raise client_error("NotFoundException", 404, "Template does not exist")
        return {"TemplateName": TemplateName, "TemplateContent": self.templates[TemplateName]}

    @property
    def sent_recipients(self) -> list[str]:
        return [a for r in self.requests for e in r["BulkEmailEntries"] for a in recipients_of(e)]


# What SQS allows in a message body or attribute value.
_SQS_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def sqs_message_bytes(entry: dict[str, Any]) -> int:
    """A message's size as SQS counts it: body and every attribute's name, type and value."""
    size = len(entry["MessageBody"].encode("utf-8"))
    for name, value in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(value["DataType"].encode())
        size += len(value.get("StringValue", "").encode("utf-8")) + len(
            value.get("BinaryValue", b"")
        )
    return size


def sqs_refusal(entry: dict[str, Any], max_message_bytes: int | None) -> str | None:
    """Why SQS would refuse this entry (as a per-entry Failed), if it would."""
    if max_message_bytes is not None and sqs_message_bytes(entry) > max_message_bytes:
        return "InvalidParameterValue"
    texts = [entry["MessageBody"]] + [
        v.get("StringValue", "") for v in (entry.get("MessageAttributes") or {}).values()
    ]
    if not all(_SQS_TEXT.fullmatch(text) for text in texts):
        return "InvalidMessageContents"
    return None


class FakeSqs:
    """SQS: keeps what reaches the DLQ (a URL with `dlq` in it) and what is put back on the
    source queue (`requeued`); `fail_dlq` = 'raise', 'partial' or None. Like SQS it
    refuses (per entry) a message over `max_message_bytes`, attributes counted, or holding
    characters SQS does not allow."""

    def __init__(self, fail_dlq: str | None = None, max_message_bytes: int | None = None) -> None:
        self.fail_dlq = fail_dlq
        self.max_message_bytes = max_message_bytes
        self.dlq: list[dict[str, Any]] = []
        self.requeued: list[dict[str, Any]] = []
        self.visibility: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        _validate("sqs", "SendMessageBatch", request)
        entries = request["Entries"]
        if "dlq" not in request["QueueUrl"]:
            self.requeued.extend(entries)
            return {
                "Successful": [
                    {"Id": e["Id"], "MessageId": "c", "MD5OfMessageBody": "x"} for e in entries
                ],
                "Failed": [],
            }
        if self.fail_dlq == "raise":
            raise client_error("AWS.SimpleQueueService.NonExistentQueue", 400)
        codes = {e["Id"]: code for e in entries if (code := sqs_refusal(e, self.max_message_bytes))}
        if self.fail_dlq == "partial":
            codes.setdefault(entries[0]["Id"], "InternalError")
        failed = [e for e in entries if e["Id"] in codes]
        with self._lock:
            self.dlq.extend(e for e in entries if e not in failed)
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": "m", "MD5OfMessageBody": "x"}
                for e in entries
                if e not in failed
            ],
            "Failed": [
                {
                    "Id": e["Id"],
                    "SenderFault": codes[e["Id"]] != "InternalError",
                    "Code": codes[e["Id"]],
                }
                for e in failed
            ],
        }

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        _validate("sqs", "ChangeMessageVisibilityBatch", request)
        self.visibility.extend(request["Entries"])
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}

    def dlq_codes(self) -> dict[str, str]:
        """SourceMessageId -> ErrorCode for every DLQ record."""
        return {
            e["MessageAttributes"]["SourceMessageId"]["StringValue"]: e["MessageAttributes"][
                "ErrorCode"
            ]["StringValue"]
            for e in self.dlq
        }


# SQS's SenderId of what the sender's own role sends (its held copies), and of a producer.
SENDER_ID = "AROASENDERROLE000000:bulk-sender"
PRODUCER_ID = "AROAPRODUCERROLE0000:producer"


def record(
    body: Any,
    message_id: str,
    *,
    receive_count: int = 1,
    sender_id: str = PRODUCER_ID,
    **attributes: str,
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it; `body` may be a dict (JSON-encoded here)."""
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SenderId": sender_id},
        "messageAttributes": {
            name: {"stringValue": value, "dataType": "String"} for name, value in attributes.items()
        },
        "eventSource": "aws:sqs",
    }


def message(
    n: int, *, template: str = "welcome", sender: str = "news@example.com", **extra: Any
) -> dict:
    return {
        "to": f"user{n}@example.org",
        "from": sender,
        "template": template,
        "data": {"n": n},
        **extra,
    }
