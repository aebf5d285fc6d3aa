"""`enqueue`'s sender check: every From is a verified SES identity, before anything is enqueued.

SES refuses a whole SendBulkEmail call whose FromEmailAddress is not verified
(MessageRejected): without this check an unverified `--from` is accepted and the whole campaign
lands in the DLQ. Each distinct sender (`--from`, and each JSONL line's `from`) is looked up
with SES v2 GetEmailIdentity: the address itself, else its domain, must be verified for
sending. A message sent under another account's identity (`from_arn`, sending authorization)
is not checked here: that identity is not this account's to read. A lookup that fails for
another reason (no permission, no network) is a warning, never a stop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from email.utils import parseaddr
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bulkmail.errors import CliError


def senders(bodies: Iterable[str], default: str | None) -> list[str]:
    """The distinct bare From addresses the bodies will be sent from (those with a
    `from_arn` left out), in first-seen order."""
    found: dict[str, None] = {}
    for body in bodies:
        try:
            doc = json.loads(body)
        except ValueError:
            continue
        if not isinstance(doc, dict) or doc.get("from_arn"):
            continue
        sender = doc.get("from", default)
        if isinstance(sender, str) and (address := parseaddr(sender)[1]):
            found.setdefault(address.lower(), None)
    return list(found)


def verified(ses: Any, identity: str) -> bool | None:
    """Whether SES holds `identity` verified for sending (None: it could not say)."""
    try:
        answer = ses.get_email_identity(EmailIdentity=identity)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return False
        raise
    return bool(answer.get("VerifiedForSendingStatus"))


def check(addresses: list[str], ses: Any, *, region: str, warn: Callable[[str], None]) -> None:
    """A CliError (exit 2) naming the first sender neither verified nor of a verified
    domain; a warning if SES could not be asked."""
    for address in addresses:
        domain = address.rpartition("@")[2]
        try:
            if verified(ses, address) or verified(ses, domain):
                continue
        except (BotoCoreError, ClientError) as error:
            warn(f"warning: the sender {address} was not checked with SES ({error})")
            return
        raise CliError(
            f"from {address}: not a verified SES identity in {region} (neither the address "
            f"nor {domain}): SES would reject every email of it; nothing enqueued (verify it, "
            "or pass --allow-unverified-from to enqueue anyway)"
        )
