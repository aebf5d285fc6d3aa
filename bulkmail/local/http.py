"""Local HTTP endpoints: the stack's unsubscribe endpoint, served on 127.0.0.1.

`serve(handle)` runs `http.server` in a thread and turns each request into the event the stack's
REST API gives its function (Lambda proxy integration, payload 1.0): method, path, query string
parameters, headers, the body base64-encoded. `handle(event)` is the real Lambda handler
(`unsubscribe.lambda_handler` with a Lambda context), and its answer is written back as is.
Like API Gateway, it answers 404 off the route and 413 above its own payload limit without
calling the function, and (the stack's request validator) 400 to an unsubscribe request without
its token parameter. The stack's AWS WAF rules are not emulated: the handler's own checks
(token shape, then MAC, before any write) are what a local flood meets.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bulk_sender.names import Unsubscribe as UnsubscribeNames

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 64 * 1024  # the gateway's limit here (API Gateway's: 10 MB)
Handle = Callable[[dict[str, Any]], dict[str, Any]]
TOKEN_PARAMETER = UnsubscribeNames.TOKEN_PARAMETER


@dataclass(frozen=True)
class Served:
    url: str  # the route's URL, e.g. http://127.0.0.1:PORT/unsubscribe


def rest_api_event(
    method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The REST API Lambda proxy event (payload 1.0) of one request."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "headers": dict(headers),
        "requestContext": {
            "httpMethod": method,
            "resourcePath": parts.path,
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            "requestId": str(uuid.uuid4()),
            "stage": "prod",
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


@contextmanager
def serve(handle: Handle, *, path: str = "/unsubscribe", port: int = 0) -> Iterator[Served]:
    """Serve `handle` on http://127.0.0.1:PORT{path} until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the query string holds tokens: no access log here

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _route(self) -> None:
            if urlsplit(self.path).path != path:
                self._answer(404, {"Content-Type": "text/plain"}, b"Not Found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_PAYLOAD_BYTES:
                self.close_connection = True
                self._answer(413, {"Content-Type": "text/plain"}, b"Request Entity Too Large")
                return
            body = self.rfile.read(length) if length else b""
            event = rest_api_event(
                self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
            )
            try:
                response = handle(event)
            except Exception:  # the function failed: API Gateway answers 500
                log.warning("local_endpoint_error", exc_info=True)
                self._answer(500, {"Content-Type": "text/plain"}, b"Internal Server Error")
                return
            text = response.get("body") or ""
            data = base64.b64decode(text) if response.get("isBase64Encoded") else text.encode()
            self._answer(int(response.get("statusCode", 200)), response.get("headers") or {}, data)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _route

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="local-http", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}{path}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def unsubscribe_endpoint(timeout_seconds: int = 10) -> Iterator[Served]:
    """The real `unsubscribe.lambda_handler`, fresh (its cached endpoint dropped), served.

    The handler module is imported at the first request, when the run has set the function's
    environment (UNSUBSCRIBE_SECRET_ARN, SUPPRESSION_TABLE, POWERTOOLS_SERVICE_NAME, the
    emulator): Powertools and the endpoint read it then, as in Lambda."""
    from bulkmail.local.invoke import LambdaContext

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        import unsubscribe  # lambda_src's thin handler

        if TOKEN_PARAMETER not in (event.get("queryStringParameters") or {}):
            return {  # the stack's request validator: the function never runs
                "statusCode": 400,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"message": "Missing required request parameters: [t]"}),
            }
        context = LambdaContext(timeout_seconds, function_name="bulk-email-unsubscribe-local")
        handler: Callable[..., dict[str, Any]] = unsubscribe.lambda_handler  # duck-typed context
        return handler(event, context)

    def forget() -> None:  # an earlier run's endpoint holds its table and secret
        module = sys.modules.get("unsubscribe")
        if module is not None:
            module.__dict__["_endpoint"] = None

    forget()
    try:
        with serve(handle) as served:
            yield served
    finally:
        forget()
