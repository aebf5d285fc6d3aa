"""Attachments (DESIGN.md section 11): the objects of the attachment bucket that messages name.

`AttachmentFiles.read` takes one invocation's valid emails and reads every object they name,
each once however many emails or calls share it, before any call starts. What it cannot use
is refused per email, with the reason:

- the object is missing, or the function may not read it (S3's 4xx code, e.g. `NoSuchKey`,
  `AccessDenied`): dead-lettered with that code, since no retry fixes it (upload the file, then
  redrive);
- S3 is slow or failing (throttling, 5xx, connection): retried;
- the email with its attachments would be over SES's message size: `InvalidMessage`;
- the files would not fit the function's memory (`memory_budget`): a file larger than the
  whole budget is refused (`InvalidMessage`, naming `function_memory_mb`); files beyond what this
  invocation already holds are retried (a later batch takes them).

Sizes are taken from S3's ContentLength before a body is read: a file that cannot be used is
never downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.message import Email
from bulk_sender.records import redact

# SES v2: at most 40 MB per message after MIME (base64) encoding, attachments included.
MAX_MESSAGE_BYTES = 40_000_000
# Raw bytes of files one invocation keeps in memory (the request holds them base64-encoded).
MAX_BYTES_PER_INVOCATION = 100_000_000
DEFERRED = "AttachmentsDeferred"
S3_CONNECT_TIMEOUT = 2
S3_READ_TIMEOUT = 10
S3_ATTEMPTS = 2
S3_CONFIG = Config(
    connect_timeout=S3_CONNECT_TIMEOUT,
    read_timeout=S3_READ_TIMEOUT,
    retries={"total_max_attempts": S3_ATTEMPTS, "mode": "standard"},
)
# One read ends within this, whatever S3 does: the core starts none that could not end in
# time for the rest of the invocation (the answer, its DLQ writes).
S3_CALL_MS = S3_ATTEMPTS * (S3_CONNECT_TIMEOUT + S3_READ_TIMEOUT) * 1000 + 1000
DEADLINE = "Deadline"


def memory_budget(memory_mb: int, calls_in_flight: int) -> int:
    """Raw bytes of files one invocation may hold: each call in flight holds its files about
    four times more while botocore sends them (base64 in the JSON body, as text and as bytes),
    and half of the memory stays for the rest. Unknown memory (0): MAX_BYTES_PER_INVOCATION."""
    if memory_mb <= 0:
        return MAX_BYTES_PER_INVOCATION
    budget = memory_mb * 1024 * 1024 // 2 // (1 + 4 * max(1, calls_in_flight))
    return min(MAX_BYTES_PER_INVOCATION, budget)


def mime_size(length: int) -> int:
    """Bytes a file of `length` bytes takes in the email: base64, 76 characters + CRLF a line."""
    return -(-length // 57) * 78


@dataclass(frozen=True)
class Refusal:
    """Why an email cannot be sent with its attachments: retried, or dead-lettered."""

    retry: bool
    code: str
    reason: str


class _Unreadable(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class AttachmentFiles:
    """Reads attachments from `bucket` with an injected S3 client (made on first use when none
    is given: a sender whose messages attach nothing never builds one)."""

    def __init__(
        self, s3: Any, bucket: str | None, *, max_bytes: int = MAX_BYTES_PER_INVOCATION
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.max_bytes = max_bytes

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            # Bounded waits: the reads come before the calls, within the invocation's deadline.
            self._s3 = boto3.client("s3", config=S3_CONFIG)
        return self._s3

    def read(
        self,
        emails: Sequence[tuple[int, Email]],
        may_start: Callable[[], bool] = lambda: True,
    ) -> tuple[dict[str, bytes], dict[int, Refusal]]:
        """The files by key, and the emails (by index) that cannot be sent with theirs. A
        read starts only if `may_start()` says so (the deadline): the emails whose files
        were not read are retried."""
        files: dict[str, bytes] = {}
        failed: dict[str, Refusal] = {}
        refused: dict[int, Refusal] = {}
        held = 0
        for index, email in emails:
            attachments = email.options.attachments
            if not attachments:
                continue
            if self.bucket is None:
                refused[index] = Refusal(
                    False, "InvalidMessage", "attachments: this sender has no attachment bucket"
                )
                continue
            for position, attachment in enumerate(attachments):
                key = attachment.key
                if key in files or key in failed:
                    continue
                if held >= self.max_bytes:
                    failed[key] = Refusal(
                        True, DEFERRED, "attachments: this batch's files are full"
                    )
                    continue
                if not may_start():
                    failed[key] = Refusal(True, DEADLINE, "attachments: no time left to read")
                    continue
                try:
                    files[key] = self._get(key, f"attachments[{position}]", self.max_bytes - held)
                except _Unreadable as error:
                    failed[key] = error.refusal
                else:
                    held += len(files[key])
            refusal = next((failed[a.key] for a in attachments if a.key in failed), None)
            if refusal is None:
                refusal = _too_large(email, files)
            if refusal is not None:
                refused[index] = refusal
        return files, refused

    def _get(self, key: str, where: str, room: int) -> bytes:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
            refusal = self._unfit(int(response.get("ContentLength", 0)), f"{where} ({key})", room)
            if refusal is not None:
                response["Body"].close()
                raise _Unreadable(refusal)
            return response["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
            permanent = 400 <= status < 500 and status != 429
            text = error.response.get("Error", {}).get("Message", "") or code
            reason = redact(f"{where} ({key}): S3 {code}: {text}")
            raise _Unreadable(Refusal(not permanent, code, reason)) from None
        except BotoCoreError as error:  # connection or read timeout: S3 may answer next time
            reason = redact(f"{where} ({key}): {type(error).__name__}")
            raise _Unreadable(Refusal(True, type(error).__name__, reason)) from None

    def _unfit(self, length: int, where: str, room: int) -> Refusal | None:
        if mime_size(length) > MAX_MESSAGE_BYTES:
            return _over_limit()
        if length > self.max_bytes:
            return Refusal(
                False,
                "InvalidMessage",
                redact(
                    f"{where}: {length} bytes, more than the function's memory holds at once "
                    f"({self.max_bytes}): raise function_memory_mb, then redrive"
                ),
            )
        if length > room:
            return Refusal(True, DEFERRED, "attachments: this batch's files are full")
        return None


def _over_limit() -> Refusal:
    return Refusal(
        False,
        "InvalidMessage",
        f"attachments: the email would be over SES's {MAX_MESSAGE_BYTES} bytes once encoded",
    )


def _too_large(email: Email, files: Mapping[str, bytes]) -> Refusal | None:
    """The email's encoded size: its files, data, headers and inline content (a stored
    template's own size is SES's to check)."""
    size = sum(mime_size(len(files[a.key])) for a in email.options.attachments)
    size += len(email.data_json.encode("utf-8"))
    size += sum(len(name) + len(value) + 4 for name, value in email.headers)
    if email.content is not None:
        parts = (email.content.subject, email.content.text or "", email.content.html or "")
        size += sum(len(part.encode("utf-8")) for part in parts)
    return _over_limit() if size > MAX_MESSAGE_BYTES else None
