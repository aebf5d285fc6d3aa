"""The local outbox (DESIGN.md section 12): what the local run sent, on a page at 127.0.0.1.

`python -m bulkmail local` serves it and prints `OutboxUrl=`. `/` lists the latest sent emails
newest first (recipient, subject, campaign, the outcome SES's events gave it) under each
campaign's status (`bulkmail.status`'s numbers); `/email/ID` shows one: its headers and tags,
its text, its HTML in a sandboxed frame (`/email/ID/html`, served with a CSP sandbox and no
script, style inline only), its unsubscribe link (live against the local endpoint) and
whether its recipient is suppressed now. It holds addresses: it exists on the local run only,
bound to 127.0.0.1, and the stack never serves it.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from bulkmail import render, status
from bulkmail.templates import TemplateStore

# Every page: nothing loads but what is inline (style) and the email's own frame.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The email's HTML: a sandbox (no script, no form, no same-origin), nothing fetched.
EMAIL_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SHOWN = 500  # emails listed on the page (the session keeps at most LocalSettings.sent_limit)
_LINK = re.compile(r"<(https?://[^>]+)>")
_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
    "text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}"
    "iframe{width:100%;height:480px;border:1px solid #ccc}"
)


@dataclass
class Outbox:
    """What the pages read: the sent record, templates, and the status and suppression."""

    sent: Callable[[], Sequence[Mapping[str, Any]]]  # the emulator's record, oldest first
    templates: TemplateStore
    status_table: str | None = None
    suppressed_lists: Callable[[str], list[str]] | None = None  # address -> lists

    def answer(self, path: str) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) for a GET of `path`."""
        parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
        if not parts:
            return 200, _headers(PAGE_CSP), self.index()
        if parts[0] == "email" and len(parts) in (2, 3):
            email = self._find(parts[1])
            if email is None:
                return 404, _headers(PAGE_CSP), _page("Not found", "<p>No such email.</p>")
            if len(parts) == 3 and parts[2] == "html":
                return 200, _headers(EMAIL_CSP), self._rendered(email)["html"]
            if len(parts) == 2:
                return 200, _headers(PAGE_CSP), self.detail(email)
        return 404, _headers(PAGE_CSP), _page("Not found", "<p>No such page.</p>")

    def _find(self, message_id: str) -> Mapping[str, Any] | None:
        return next((e for e in self.sent() if e["message_id"] == message_id), None)

    def _rendered(self, email: Mapping[str, Any]) -> dict[str, str]:
        """Subject, text and HTML as the recipient got them (SES's rendering, not escaped)."""
        parts = email.get("content")
        if parts is None:
            try:
                template = self.templates.load(email["template"])
                parts = {"Subject": template.subject, "Text": template.text, "Html": template.html}
            except Exception as error:  # a template gone since: say so, show the rest
                missing = f"(template {email['template']}: {error})"
                return {"subject": missing, "text": missing, "html": html.escape(missing)}
        rendered = {}
        for part in ("Subject", "Text", "Html"):
            try:
                rendered[part.lower()] = render.render(parts.get(part) or "", email["data"])
            except (render.RenderError, render.TemplateSyntaxError) as error:
                rendered[part.lower()] = f"(does not render: {error})"
        return rendered

    def index(self) -> str:
        emails = list(reversed(self.sent()))[:SHOWN]
        campaigns = sorted({e["tags"].get("campaign", "") for e in emails} - {""})
        blocks = [
            f"<h2>Campaign {html.escape(c)}</h2><pre>{self._status(c)}</pre>" for c in campaigns
        ]
        rows = []
        for email in emails:
            ident = quote(email["message_id"], safe="")
            subject = html.escape(self._rendered(email)["subject"])
            rows.append(
                "<tr>"
                f"<td>{_time(email.get('sent_at'))}</td>"
                f"<td>{html.escape(', '.join(email['to'] + email['cc'] + email['bcc']))}</td>"
                f'<td><a href="/email/{ident}">{subject}</a></td>'
                f"<td>{html.escape(email['tags'].get('campaign', ''))}</td>"
                f"<td>{html.escape(_outcome(email))}</td>"
                "</tr>"
            )
        table = (
            "<table><tr><th>sent</th><th>recipient</th><th>subject</th><th>campaign</th>"
            f"<th>outcome</th></tr>{''.join(rows)}</table>"
            if rows
            else "<p>Nothing sent yet: <code>python -m bulkmail enqueue FILE --local ...</code></p>"
        )
        note = f"<p>{len(emails)} latest emails, newest first.</p>" if rows else ""
        return _page("Local outbox", "".join(blocks) + note + table)

    def _status(self, campaign: str) -> str:
        if not self.status_table:
            return "(no status table)"
        try:
            counts = status.read_counts(status.dynamodb_client(), self.status_table, campaign)
        except Exception as error:  # the page still lists what was sent
            return html.escape(f"(status unavailable: {error})")
        return html.escape("\n".join(status.CampaignNumbers(campaign, counts).lines()))

    def detail(self, email: Mapping[str, Any]) -> str:
        rendered = self._rendered(email)
        ident = quote(email["message_id"], safe="")
        fields = [
            ("From", email["from"]),
            ("To", ", ".join(email["to"])),
            ("Cc", ", ".join(email["cc"])),
            ("Bcc", ", ".join(email["bcc"])),
            ("Reply-To", ", ".join(email.get("reply_to") or [])),
            ("Subject", rendered["subject"]),
            ("Campaign", email["tags"].get("campaign", "")),
            ("Template", email["template"]),
            ("Configuration set", email.get("configuration_set") or ""),
            ("SES message id", email["message_id"]),
            ("Events", ", ".join(email.get("events") or []) or "(none)"),
        ]
        fields += [(name, value) for name, value in email["headers"].items()]
        fields += [(f"tag {name}", value) for name, value in email["tags"].items()]
        rows = "".join(
            f"<tr><th>{html.escape(n)}</th><td>{html.escape(str(v))}</td></tr>"
            for n, v in fields
            if v
        )
        links = _LINK.findall(email["headers"].get("List-Unsubscribe", ""))
        unsubscribe = (
            "".join(
                f'<p><a id="unsubscribe" rel="noreferrer" href="{html.escape(link)}">'
                "Unsubscribe (the recipient's link, live on the local endpoint)</a></p>"
                for link in links[:1]
            )
            or "<p>No unsubscribe link in its headers.</p>"
        )
        body = (
            f'<p><a href="/">&larr; outbox</a></p>{unsubscribe}{self._suppression(email)}'
            f"<table>{rows}</table><h2>Text</h2><pre>{html.escape(rendered['text'])}</pre>"
            f'<h2>HTML</h2><iframe sandbox="" referrerpolicy="no-referrer" '
            f'src="/email/{ident}/html" title="the email as rendered"></iframe>'
        )
        return _page(rendered["subject"], body)

    def _suppression(self, email: Mapping[str, Any]) -> str:
        if self.suppressed_lists is None or not email["to"]:
            return ""
        try:
            lists = self.suppressed_lists(email["to"][0])
        except Exception as error:
            return f"<p>Suppression list unavailable: {html.escape(str(error))}</p>"
        state = f"suppressed (list {', '.join(lists)})" if lists else "not suppressed"
        return f'<p id="suppression">Recipient: {html.escape(state)}</p>'


def _outcome(email: Mapping[str, Any]) -> str:
    events = email.get("events") or []
    return events[-1] if events else "sent"


def _time(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%H:%M:%S")


def _headers(csp: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


@contextmanager
def serve_outbox(outbox: Outbox, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the outbox on http://host:PORT/ until the block ends; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # addresses in paths: no access log

        def do_GET(self) -> None:
            try:
                code, headers, body = outbox.answer(self.path)
            except Exception as error:  # a page that fails says so; the session goes on
                code, headers = 500, _headers(PAGE_CSP)
                body = _page("Error", f"<p>{html.escape(repr(error))}</p>")
            data = body.encode("utf-8")
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="local-outbox", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def suppression_lookup(table: str, secret_arn: str) -> Callable[[str], list[str]]:
    """address -> the lists it is suppressed on (a Query of its hash), read with the
    session's clients."""
    from bulk_sender.suppression import HASH_KEY, LIST_KEY
    from bulkmail import suppress

    unsubscribes = suppress.explicit(table, secret_arn)
    dynamodb = status.dynamodb_client()

    def lists(address: str) -> list[str]:
        h = unsubscribes.hash(parseaddr(address)[1] or address)
        found = dynamodb.query(
            TableName=table,
            KeyConditionExpression="#h = :h",
            ExpressionAttributeNames={"#h": HASH_KEY},
            ExpressionAttributeValues={":h": {"S": h}},
        )
        return sorted(item[LIST_KEY]["S"] for item in found.get("Items", []))

    return lists
