"""Pre-flight rendering check (issue 8): a message whose `data` lacks a variable its template
requires goes to the DLQ as `MissingTemplateData` instead of being sent, since SES would
answer SUCCESS and later drop it with a RENDERING_FAILURE event.

Templates are fetched with GetEmailTemplate once per template per container and cached for
`ttl` seconds. A template that cannot be fetched (or parsed) is not checked: the check never
blocks sending; the failure is logged once per expiry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from bulk_sender.message import Email, InlineContent
from bulk_sender.template_vars import missing_variables, required_variables

log = logging.getLogger(__name__)

MISSING_TEMPLATE_DATA = "MissingTemplateData"
MAX_CACHED = 512


# Fetches a template's (subject, text, html) by name.
Fetch = Callable[[str], "tuple[str, str, str]"]
# Told (template name, reason) when a template cannot be checked.
OnSkip = Callable[[str, str], None]


class TemplateCheck:
    """`check(email)`: None when the message can render, else (ErrorCode, reason).

    The Lambda fetches templates from SES (`ses`); the CLI passes its own `fetch` (files
    under templates/, else SES) and `on_skip`, so both check alike.
    """

    def __init__(
        self,
        ses: Any = None,
        *,
        fetch: Fetch | None = None,
        on_skip: OnSkip | None = None,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch or (lambda name: _from_ses(ses, name))
        self._on_skip = on_skip or _log_skip
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[object, tuple[float, frozenset[str] | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, email: Email) -> tuple[str, str] | None:
        if email.content is not None:
            key: object = email.content
            name = "inline content"
        else:
            name = (email.template or "").rsplit("/", 1)[-1]  # an ARN is fetched by its name
            key = name
        required = self._required(key, name)
        if not required:
            return None
        missing = missing_variables(required, email.data)
        if not missing:
            return None
        return MISSING_TEMPLATE_DATA, f"data: lacks {', '.join(missing)} required by {name}"

    def _required(self, key: object, name: str) -> frozenset[str] | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[0] > now:
                return cached[1]
        required = self._load(key, name)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:  # inline contents vary: keep memory bounded
                self._cache.clear()
            self._cache[key] = (now + self._ttl, required)
        return required

    def _load(self, key: object, name: str) -> frozenset[str] | None:
        try:
            if isinstance(key, InlineContent):
                return required_variables(key.subject, key.text or "", key.html or "")
            return required_variables(*self._fetch(name))
        except Exception as error:  # the check never blocks sending: any failure skips it
            self._on_skip(name, _reason(error))
            return None


def _from_ses(ses: Any, name: str) -> tuple[str, str, str]:
    content = ses.get_email_template(TemplateName=name)["TemplateContent"]
    return (content.get("Subject") or "", content.get("Text") or "", content.get("Html") or "")


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "ClientError")
    return " ".join(str(error).split()) or type(error).__name__


def _log_skip(name: str, reason: str) -> None:
    log.warning("template_check_skipped", extra={"template": name, "error": reason})
