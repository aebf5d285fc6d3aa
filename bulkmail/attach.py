"""`enqueue --attach FILE`: each file is uploaded once to the stack's attachment bucket (output
`AttachmentBucketName`), then every message of the campaign references it in `attachments`
(DESIGN.md section 11).

A file's key is `{campaign}/{sha256 prefix}/{file name}`: the same file is uploaded once however
often the campaign is enqueued, and a changed file gets a new key, so messages already queued
keep the file they were enqueued with. Each file is checked with the Lambda's own rules (file
name, extension SES accepts, size) before anything is uploaded or enqueued.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bulk_sender.attachments import MAX_MESSAGE_BYTES, mime_size
from bulk_sender.message import MAX_ATTACHMENTS, Defaults, InvalidMessage, parse_message
from bulk_sender.names import Output
from bulkmail import target
from bulkmail.errors import CliError

BUCKET_OUTPUT = Output.ATTACHMENT_BUCKET_NAME
_DIGEST_CHARS = 16


def attach_files(
    bodies: Sequence[str],
    files: Sequence[Path],
    *,
    campaign: str,
    stack: str | None,
    local: bool = False,
    dry_run: bool = False,
    s3: Any = None,
    cloudformation: Any = None,
) -> list[str]:
    """The bodies with the files in their `attachments`, the files uploaded (unless dry run)."""
    if not files:
        return list(bodies)
    if len(files) > MAX_ATTACHMENTS:
        raise CliError(f"--attach: at most {MAX_ATTACHMENTS} files")
    contents = [_read(path) for path in files]
    references = [
        _reference(path, content, campaign) for path, content in zip(files, contents, strict=True)
    ]
    if not dry_run:
        if not (stack or local):
            raise CliError("--attach: needs --stack NAME or --local (its attachment bucket)")
        found = target.outputs(stack=stack, local=local, cloudformation=cloudformation)
        bucket = found.get(BUCKET_OUTPUT)
        if not bucket:
            where = "the local emulator" if local else f"stack {stack!r}"
            raise CliError(f"--attach: {where} has no {BUCKET_OUTPUT} output")
        s3 = s3 or boto3.client("s3")
        for reference, content in zip(references, contents, strict=True):
            _upload_once(s3, bucket, reference, content)
    return [_with_attachments(body, references) for body in bodies]


def _read(path: Path) -> bytes:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise CliError(f"--attach {path}: {error.strerror or 'cannot be read'}") from None
    if mime_size(len(content)) > MAX_MESSAGE_BYTES:
        raise CliError(f"--attach {path}: over SES's {MAX_MESSAGE_BYTES} bytes once encoded")
    return content


def _reference(path: Path, content: bytes, campaign: str) -> dict[str, str]:
    digest = hashlib.sha256(content).hexdigest()[:_DIGEST_CHARS]
    reference = {"key": f"{campaign}/{digest}/{path.name}", "filename": path.name}
    content_type, _ = mimetypes.guess_type(path.name)
    if content_type:
        reference["content_type"] = content_type
    probe = {"to": "a@example.com", "from": "b@example.com", "attachments": [reference]}
    try:  # the Lambda's own rules for a file name, extension and type
        parse_message(json.dumps(probe), message_id="attach", defaults=Defaults(template="t"))
    except InvalidMessage as error:
        raise CliError(f"--attach {path}: {error.rule}") from None
    return reference


def _upload_once(s3: Any, bucket: str, reference: dict[str, str], content: bytes) -> None:
    key = reference["key"]
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    extra = {"ContentType": reference["content_type"]} if "content_type" in reference else {}
    s3.put_object(Bucket=bucket, Key=key, Body=content, **extra)


def _with_attachments(body: str, references: list[dict[str, str]]) -> str:
    """The body with the references after its own attachments. A body that is no JSON object
    (`--no-validate` raw lines) is left as it is: the Lambda refuses it anyway."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict) or not isinstance(doc.get("attachments", []), list):
        return body
    doc["attachments"] = [*doc.get("attachments", []), *references]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
