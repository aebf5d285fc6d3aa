"""What the sender does about unsubscribes, before a batch is grouped into calls.

- `enrich`: with UNSUBSCRIBE_URL (or UNSUBSCRIBE_MAILTO) set, an email without its own
  `List-Unsubscribe` / `List-Unsubscribe-Post` headers gets `List-Unsubscribe` (the signed
  link to the endpoint, then the mailto if set) then `List-Unsubscribe-Post:
  List-Unsubscribe=One-Click` (RFC 8058: only with an HTTPS link), and its template data gets
  `unsubscribe_url` (the same link) unless it has one. SES gives every address of an entry
  (to, cc, bcc) the same headers, and a link unsubscribes the one recipient it was signed for:
  so a message with several recipients and no `List-Unsubscribe` of its own is refused
  (`InvalidMessage`, dead-lettered with the rule) rather than sent with a link that would
  unsubscribe someone else (docs/security/unsubscribe.md).
- `check`: with SUPPRESSION_TABLE set, one batched read for every recipient (to, cc, bcc) of
  the batch; an email any of whose recipients unsubscribed from its list or from `all` is
  suppressed: acknowledged, not sent, not dead-lettered, logged with its `id`.

Links and hashes need the secret (Secrets Manager, read on first use and again every
KEY_CACHE_SECONDS, so a rotation reaches warm containers). Suppressions are read at the current
and the previous key version. When the secret or the table cannot be read, nothing is sent
unchecked: the emails are retried.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bulk_sender import names
from bulk_sender.message import MAX_DATA_CHARS, MAX_HEADERS, Email, InvalidMessage
from bulk_sender.recipient_hash import Keys, sign
from bulk_sender.records import redact
from bulk_sender.settings import Settings
from bulk_sender.suppression import SuppressionTable, SuppressionUnavailable, keys_for

log = logging.getLogger(__name__)
# The secret is read within the invocation's deadline: bounded, unlike botocore's defaults.
_SECRETS_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)
# The suppression read comes before every send: bounded like the ledger's, so a slow table
# costs a retried batch, never an invocation killed at its timeout.
_SUPPRESSION_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 3, "mode": "standard"}
)

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"
TOKEN_PARAMETER = names.Unsubscribe.TOKEN_PARAMETER
DATA_NAME = "unsubscribe_url"
KEY_CACHE_SECONDS = names.Unsubscribe.KEY_CACHE_SECONDS
ONE_RECIPIENT_RULE = (
    "one recipient only (to, cc and bcc together) when the stack adds its unsubscribe link, "
    "which unsubscribes the one person it was signed for: send one message per recipient, "
    "or give your own List-Unsubscribe header"
)
_OWN_HEADERS = frozenset({LIST_UNSUBSCRIBE.lower(), LIST_UNSUBSCRIBE_POST.lower()})


def load_keys(secrets: Any, secret_arn: str) -> Keys:
    """The keys of the deployed secret (its SecretString)."""
    return Keys.from_secret(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])


def link(base_url: str, keys: Keys, list_name: str, h: str) -> str:
    """The signed one-click link of recipient hash `h` on `list_name`."""
    return f"{base_url}?{TOKEN_PARAMETER}={sign(keys, list_name, h)}"


@dataclass
class Checked:
    """`check`'s answer: the emails to send, and the indexes suppressed or not checkable."""

    kept: list[tuple[int, Email]]
    suppressed: list[int] = field(default_factory=list)
    unavailable: list[int] = field(default_factory=list)


class Unsubscribes:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: Any = None,
        secrets: Any = None,
        keys: Keys | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = settings.unsubscribe_url
        self._mailto = settings.unsubscribe_mailto
        self._secret_arn = settings.unsubscribe_secret_arn
        self._secrets = secrets
        self._keys = keys
        self._clock = clock
        self._read_at: float | None = None  # keys given here are kept as they are
        self.table = (
            SuppressionTable(
                dynamodb or boto3.client("dynamodb", config=_SUPPRESSION_CONFIG),
                settings.suppression_table,
            )
            if settings.suppression_table
            else None
        )

    def keys(self) -> Keys | None:
        """The secret's keys, read on first use and again once KEY_CACHE_SECONDS old; None
        (and asked again next time) when never read. A failed refresh keeps the keys held."""
        stale = self._read_at is not None and self._clock() - self._read_at >= KEY_CACHE_SECONDS
        if self._secret_arn and (self._keys is None or stale):
            try:
                secrets = self._secrets or boto3.client("secretsmanager", config=_SECRETS_CONFIG)
                self._keys = load_keys(secrets, self._secret_arn)
                self._read_at = self._clock()
            except (BotoCoreError, ClientError, KeyError, ValueError):
                log.warning("unsubscribe_secret_unavailable", exc_info=True)
                if self._keys is not None:  # asked again a period later, not every batch
                    self._read_at = self._clock()
        return self._keys

    def ready(self) -> bool:
        """Whether links can be signed and suppressions read (the secret is needed for
        either; a mailto alone needs none). Asked once per invocation, before any record is
        looked at, so that no record of a batch goes out without its link or its check."""
        if not (self._url or self.table):
            return True
        return self.keys() is not None

    def enrich(self, email: Email) -> Email:
        """The email with the unsubscribe headers and data (see the module doc)."""
        if not (self._url or self._mailto) or any(
            name.lower() in _OWN_HEADERS for name, _ in email.headers
        ):
            return email
        targets: list[str] = []
        href = None
        if self._url:
            if len(email.to) + len(email.cc) + len(email.bcc) > 1:
                raise InvalidMessage("to, cc, bcc", ONE_RECIPIENT_RULE)
            keys = self.keys()
            if keys is None:
                return email  # `check` retries it: never sent without its link
            href = link(self._url, keys, email.list_name, keys.current_hash(email.to[0]))
            targets.append(href)
        if self._mailto:
            targets.append(self._mailto)
        added = [(LIST_UNSUBSCRIBE, ", ".join(f"<{target}>" for target in targets))]
        if href:
            added.append((LIST_UNSUBSCRIBE_POST, ONE_CLICK))
        if len(email.headers) + len(added) > MAX_HEADERS:
            raise InvalidMessage(
                "headers", f"at most {MAX_HEADERS - len(added)} with the unsubscribe headers"
            )
        changes: dict[str, Any] = {"headers": (*email.headers, *added)}
        if DATA_NAME not in email.data:
            data = {**email.data, DATA_NAME: href or self._mailto}
            data_json = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            if len(data_json) > MAX_DATA_CHARS:
                raise InvalidMessage(
                    "data", f"must serialise to at most {MAX_DATA_CHARS} characters"
                )
            changes.update(data=data, data_json=data_json)
        return dataclasses.replace(email, **changes)

    def check(self, emails: Sequence[tuple[int, Email]]) -> Checked:
        """Split the batch's emails: kept, suppressed, unavailable (see the module doc)."""
        if not (self._url or self.table) or not emails:  # a mailto alone needs no secret
            return Checked(list(emails))
        keys = self.keys()
        if keys is None:
            return Checked([], unavailable=[index for index, _ in emails])
        if self.table is None:
            return Checked(list(emails))
        wanted: dict[int, set[tuple[str, str]]] = {}
        for index, email in emails:
            hashes = {
                h for a in (*email.to, *email.cc, *email.bcc) for h in keys.hashes(a).values()
            }
            wanted[index] = {key for h in hashes for key in keys_for(h, email.list_name)}
        try:
            found = self.table.suppressed(set().union(*wanted.values()))
        except (BotoCoreError, ClientError, SuppressionUnavailable):
            log.warning("suppression_unavailable", extra={"entries": len(emails)}, exc_info=True)
            return Checked([], unavailable=[index for index, _ in emails])
        checked = Checked([])
        for index, email in emails:
            if wanted[index] & found:
                checked.suppressed.append(index)
                log.info("suppressed", extra={"id": redact(email.id), "list": email.list_name})
            else:
                checked.kept.append((index, email))
        return checked
