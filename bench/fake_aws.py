"""Fake SES v2 and SQS at the HTTP layer: real botocore clients, no socket.

A botocore `before-send` handler answers each request after a set latency with an
`AWSResponse` carrying a JSON body, so everything botocore does is measured (parameter
validation, serialisation, SigV4 signing, response parsing) and only the network and AWS are
replaced. The clients are also pointed at a closed loopback port, so a request the fake did
not answer fails on 127.0.0.1 instead of reaching AWS.

The fake's own CPU (parsing the request, writing the answer) is measured per thread and
reported so that it can be subtracted from the process's CPU time; its sleep is not CPU.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

# Nothing listens here: a request that escapes the fake fails at once, on loopback.
GUARD_ENDPOINT = "http://127.0.0.1:9"

Answer = Callable[[dict[str, Any]], "tuple[int, dict[str, Any]]"]


class _Raw:
    """What AWSResponse reads the body from (`raw.stream()`)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class Send:
    """One request the fake answered: when (time.monotonic), what, how many entries."""

    at: float
    operation: str
    entries: int
    recipients: int


@dataclass
class FakeService:
    """Answers the operations in `answers` after `latency` seconds; the rest with a 500."""

    answers: dict[str, Answer]
    latency: float = 0.0
    sends: list[Send] = field(default_factory=list)
    cpu_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service}", self._before_send)
        return client

    def reset(self) -> None:
        with self._lock:
            self.sends.clear()
            self.cpu_seconds = 0.0

    @property
    def calls(self) -> Counter:
        return Counter(send.operation for send in self.sends)

    def entries(self, operation: str) -> int:
        return sum(send.entries for send in self.sends if send.operation == operation)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        cpu = time.thread_time()
        at = time.monotonic()
        operation = event_name.rsplit(".", 1)[-1]
        payload = json.loads(request.body) if request.body else {}
        answer = self.answers.get(operation)
        if answer is None:
            status, body = 500, {"__type": "NotFaked", "message": f"{operation} is not faked"}
        else:
            status, body = answer(payload)
        data = json.dumps(body).encode()
        entries, recipients = _count(payload)
        cpu = time.thread_time() - cpu
        with self._lock:
            self.sends.append(Send(at, operation, entries, recipients))
            self.cpu_seconds += cpu
        if self.latency:
            time.sleep(self.latency)
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
            "x-amzn-RequestId": "00000000-0000-4000-8000-000000000000",
        }
        return AWSResponse(request.url, status, headers, _Raw(data))


def _count(payload: dict[str, Any]) -> tuple[int, int]:
    """Entries and recipients of a SendBulkEmail / SendEmail / SendMessageBatch request;
    items of a DynamoDB one."""
    if "BulkEmailEntries" in payload:
        entries = payload["BulkEmailEntries"]
        return len(entries), sum(_recipients(e["Destination"]) for e in entries)
    if "Destination" in payload:
        return 1, _recipients(payload["Destination"])
    if "TransactItems" in payload:  # DynamoDB: items written or keys read
        return len(payload["TransactItems"]), 0
    if "RequestItems" in payload:
        tables = payload["RequestItems"].values()
        return sum(len(t["Keys"]) if isinstance(t, dict) else len(t) for t in tables), 0
    if "Key" in payload:
        return 1, 0
    return len(payload.get("Entries", [])), 0


def _recipients(destination: dict[str, Any]) -> int:
    return sum(len(destination.get(k, [])) for k in ("ToAddresses", "CcAddresses", "BccAddresses"))


_ids = itertools.count()


def _message_id() -> str:
    return f"0102018e{next(_ids):08x}-5f3a9c1e-7d2b-4c6f-9a8e-1b2c3d4e5f60-000000"


def ses_answers() -> dict[str, Answer]:
    """SES v2: every entry and every single send succeeds."""
    return {
        "SendBulkEmail": lambda request: (
            200,
            {
                "BulkEmailEntryResults": [
                    {"Status": "SUCCESS", "MessageId": _message_id()}
                    for _ in request["BulkEmailEntries"]
                ]
            },
        ),
        "SendEmail": lambda request: (200, {"MessageId": _message_id()}),
        "GetEmailTemplate": lambda request: (
            200,
            {
                "TemplateName": request.get("TemplateName", "t"),
                "TemplateContent": {
                    "Subject": "News for {{first_name}}",
                    "Text": "Hello {{first_name}}, your {{plan}} plan. {{unsubscribe_url}}",
                    "Html": "<p>Hello {{first_name}}</p><a href='{{unsubscribe_url}}'>x</a>",
                },
            },
        ),
        "GetAccount": lambda request: (
            200,
            {"SendQuota": {"MaxSendRate": 14.0, "Max24HourSend": 50000.0, "SentLast24Hours": 0}},
        ),
    }


def sqs_answers() -> dict[str, Answer]:
    """SQS (JSON protocol): batch writes and visibility changes all succeed."""

    def send_message_batch(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "Successful": [
                {
                    "Id": entry["Id"],
                    "MessageId": _message_id(),
                    "MD5OfMessageBody": hashlib.md5(entry["MessageBody"].encode()).hexdigest(),
                }
                for entry in request["Entries"]
            ],
            "Failed": [],
        }

    return {
        "SendMessageBatch": send_message_batch,
        "SendMessage": lambda request: (
            200,
            {
                "MessageId": _message_id(),
                "MD5OfMessageBody": hashlib.md5(request["MessageBody"].encode()).hexdigest(),
            },
        ),
        "ChangeMessageVisibilityBatch": lambda request: (
            200,
            {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []},
        ),
    }


def dynamodb_answers() -> dict[str, Answer]:
    """DynamoDB (the idempotency ledger): every claim is granted, every write succeeds."""
    return {
        "PutItem": lambda request: (200, {}),
        "UpdateItem": lambda request: (200, {}),
        "DeleteItem": lambda request: (200, {}),
        "TransactWriteItems": lambda request: (200, {}),
        "BatchExecuteStatement": lambda request: (
            200,
            {"Responses": [{"TableName": "bulk-email-idempotency"} for _ in request["Statements"]]},
        ),
        "BatchWriteItem": lambda request: (200, {"UnprocessedItems": {}}),
        # The suppression list: nobody unsubscribed.
        "BatchGetItem": lambda request: (
            200,
            {"Responses": {table: [] for table in request["RequestItems"]}, "UnprocessedKeys": {}},
        ),
    }


def secrets_answers() -> dict[str, Answer]:
    """Secrets Manager: the unsubscribe secret (32 bytes)."""
    return {
        "GetSecretValue": lambda request: (
            200,
            {"ARN": request["SecretId"], "Name": "unsubscribe", "SecretString": "s" * 32},
        )
    }


@contextmanager
def on_default_session(fakes: dict[str, FakeService]) -> Iterator[None]:
    """Clients that boto3's default session builds inside answer from `fakes` (by service
    id: "sesv2", "sqs", "dynamodb"), at the loopback guard endpoint. botocore copies the
    session's handlers into each client it builds, so code that builds its own clients
    (the handler's `sender()`) is faked unchanged; later clients are not."""
    session = boto3.DEFAULT_SESSION
    if session is None:
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
    registered = [(f"before-send.{service}", fake._before_send) for service, fake in fakes.items()]
    for event, hook in registered:
        session.events.register(event, hook)
    try:
        with guarded_endpoint():
            yield
    finally:
        for event, hook in registered:
            session.events.unregister(event, hook)


@contextmanager
def guarded_endpoint() -> Iterator[None]:
    """Clients built inside take the loopback guard as their endpoint (botocore reads
    AWS_ENDPOINT_URL when a client is built), so the real client factories can be used."""
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = GUARD_ENDPOINT
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
