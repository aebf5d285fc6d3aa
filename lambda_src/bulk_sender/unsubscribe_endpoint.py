"""The one-click unsubscribe endpoint (RFC 8058), behind API Gateway (a REST API's Lambda proxy
event, payload 1.0; an HTTP API's payload 2.0 is read alike).

- `POST ?t=TOKEN` with the body `List-Unsubscribe=One-Click` (form-urlencoded or
  multipart/form-data, as mail clients send it) suppresses the token's recipient on its list
  and answers 200; a second time changes nothing and answers the same.
- `GET` / `HEAD ?t=TOKEN` show a small page whose button POSTs that body, and change nothing
  (link scanners prefetch GETs).
- A token that is forged, altered, truncated or missing is 400 with no detail; the answer
  never depends on whether the recipient exists (the endpoint cannot even know: it holds only
  keyed hashes). Bodies over MAX_BODY_BYTES are 413, other content types 415, other methods
  405, a table that cannot be written 503 (the client may try again).
- A flood costs little: the token's form is checked before anything else (no key, no I/O),
  its MAC before the table; only a genuine token reaches DynamoDB.
- Tokens of the current and the previous key version verify (a rotation voids no delivered
  link); a previous-version token records the recipient under both versions' hashes.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender.names import Env
from bulk_sender.recipient_hash import Keys, parse, verify
from bulk_sender.suppression import SuppressionTable
from bulk_sender.unsubscribe import KEY_CACHE_SECONDS, ONE_CLICK, TOKEN_PARAMETER, load_keys

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
SOURCE = "one-click"

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width"><title>{title}</title></head>'
    '<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
    '<h1 style="font-size: 1.3em">{title}</h1>{body}</body></html>'
)
_CONFIRM = _PAGE.format(
    title="Unsubscribe",
    body='<p>Stop receiving these emails?</p><form method="post">'
    '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
    '<button type="submit">Unsubscribe</button></form>',
)
_DONE = _PAGE.format(
    title="You are unsubscribed", body="<p>You will not receive these emails any more.</p>"
)
_STATUS_TEXT = {
    400: "Bad request",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported media type",
    503: "Please try again later",
}


def _answer(status: int, page: str | None = None, **headers: str) -> dict[str, Any]:
    body = page if page is not None else _PAGE.format(title=_STATUS_TEXT[status], body="")
    return {"statusCode": status, "headers": {**_HEADERS, **headers}, "body": body}


class UnsubscribeEndpoint:
    def __init__(self, keys: Callable[[], Keys], table: SuppressionTable) -> None:
        self._keys = keys  # read on first use (the secret), kept for the container
        self._table = table

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """One HTTP API request (payload format 2.0) -> its response."""
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(event.get("httpMethod") or http.get("method", "")).upper()
        if method not in ("GET", "HEAD", "POST"):
            return _answer(405, Allow="GET, HEAD, POST")
        token = parse((event.get("queryStringParameters") or {}).get(TOKEN_PARAMETER))
        if token is None:  # malformed: refused before any key is read or anything is written
            return _answer(400)
        try:
            keys = self._keys()
        except (BotoCoreError, ClientError, KeyError, ValueError):
            log.warning("unsubscribe_secret_unavailable", exc_info=True)
            return _answer(503, **{"Retry-After": "60"})
        if method != "POST":
            found = verify(keys, token)
            answer = _answer(200, _CONFIRM) if found else _answer(400)
            return {**answer, "body": ""} if method == "HEAD" else answer
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            return _answer(400)
        if len(raw) > 2 * MAX_BODY_BYTES:  # too large whatever its encoding
            return _answer(413)
        body = _decoded(raw, bool(event.get("isBase64Encoded")))
        if body is None:
            return _answer(400)
        if len(body) > MAX_BODY_BYTES:
            return _answer(413)
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        content_type = headers.get("content-type", "")
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind not in (FORM, MULTIPART):
            return _answer(415)
        found = verify(keys, token)
        if found is None or not _is_one_click(kind, content_type, body):
            return _answer(400)
        list_name, h, version = found
        try:
            new = self._table.add(h, list_name, source=SOURCE, version=version)
            if version < keys.version:  # a link from before the rotation: the current hash too
                current = keys.rekey(h, keys.version)
                new = self._table.add(current, list_name, source=SOURCE, version=keys.version)
        except (BotoCoreError, ClientError):
            log.warning("unsubscribe_failed", extra={"list": list_name}, exc_info=True)
            return _answer(503, **{"Retry-After": "60"})
        log.info("unsubscribed", extra={"list": list_name, "new": new, "key_version": version})
        return _answer(200, _DONE)


def _decoded(raw: str, base64_encoded: bool) -> bytes | None:
    if base64_encoded:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None
    return raw.encode("utf-8", errors="replace")


def _is_one_click(kind: str, content_type: str, body: bytes) -> bool:
    """Whether the form carries List-Unsubscribe=One-Click (RFC 8058 section 3.1)."""
    if kind == FORM:
        try:
            fields = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            return False
        name, value = ONE_CLICK.split("=")
        return fields.get(name) == [value]
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            return False
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "List-Unsubscribe":
                content = part.get_payload(decode=True) or b""
                return isinstance(content, bytes) and content.strip() == b"One-Click"
    except (ValueError, LookupError, TypeError, AttributeError):  # a malformed form
        return False
    return False


def from_env(
    secrets: Any,
    dynamodb: Any,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> UnsubscribeEndpoint:
    """The endpoint from UNSUBSCRIBE_SECRET_ARN and SUPPRESSION_TABLE. The secret's keys are
    read on first use and again once KEY_CACHE_SECONDS old (a failed refresh keeps them)."""
    env = os.environ if environ is None else environ
    secret_arn, table = env[Env.UNSUBSCRIBE_SECRET_ARN], env[Env.SUPPRESSION_TABLE]
    cached: list[tuple[float, Keys]] = []

    def keys() -> Keys:
        if cached and clock() - cached[0][0] < KEY_CACHE_SECONDS:
            return cached[0][1]
        try:
            fresh = load_keys(secrets, secret_arn)
        except (BotoCoreError, ClientError, KeyError, ValueError):
            if not cached:
                raise
            log.warning("unsubscribe_secret_unavailable", exc_info=True)
            cached[:] = [(clock(), cached[0][1])]  # asked again a period later
            return cached[0][1]
        cached[:] = [(clock(), fresh)]
        return fresh

    return UnsubscribeEndpoint(keys, SuppressionTable(dynamodb, table))
