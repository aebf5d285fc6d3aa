"""Before a campaign goes out: does it fit in what is left of the SES 24-hour quota?

`enqueue` reads `GetAccount` before it sends anything. When the campaign (counted in
recipients, as SES counts its quota) is larger than what is left, or the account's sending
is paused, it says so, with how long the campaign will take at the current quota and rate:
the sender pauses itself when the quota runs out and resumes as the 24-hour window frees it
(DESIGN.md section 11), so a large campaign is not an error, only slower than it may look.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

DAY = 24 * 3600
# The sender paces at 90 % of the account's rate by default (DESIGN.md section 4).
RATE_SHARE = 0.9


def ses_client() -> Any:
    return boto3.client("sesv2")


@dataclass(frozen=True)
class Quota:
    """GetAccount's SendQuota and SendingEnabled."""

    max_24_hour_send: float  # negative: no daily limit
    sent_last_24_hours: float
    max_send_rate: float
    sending_enabled: bool = True

    @classmethod
    def read(cls, ses: Any) -> Quota:
        account = ses.get_account()
        quota = account.get("SendQuota") or {}
        return cls(
            max_24_hour_send=float(quota.get("Max24HourSend", -1)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0)),
            max_send_rate=float(quota.get("MaxSendRate", 1)) or 1.0,
            sending_enabled=account.get("SendingEnabled", True) is not False,
        )

    @property
    def unlimited(self) -> bool:
        return self.max_24_hour_send < 0

    @property
    def left(self) -> float:
        if self.unlimited:
            return math.inf
        return max(0.0, self.max_24_hour_send - self.sent_last_24_hours)

    def campaign_seconds(self, recipients: int) -> float:
        """About how long `recipients` take: what is left goes out now at the sender's pace;
        the rest waits for the 24-hour window, one quota a day (the window rolls, so this is
        an upper estimate of the waits)."""
        rate = self.max_send_rate * RATE_SHARE
        if recipients <= self.left:
            return recipients / rate
        rest = recipients - self.left
        days = math.ceil(rest / self.max_24_hour_send) if self.max_24_hour_send else math.inf
        last = rest - (days - 1) * self.max_24_hour_send
        return days * DAY + last / rate


def recipients(body: str) -> int:
    """The recipients of one SQS body (1 if it is not a message the CLI can read)."""
    try:
        message = json.loads(body)
    except ValueError:
        return 1
    if not isinstance(message, dict):
        return 1
    to = message.get("to")
    count = 1 if isinstance(to, str) else len(to) if isinstance(to, list) else 0
    for name in ("cc", "bcc"):
        if isinstance(message.get(name), list):
            count += len(message[name])
    return max(1, count)


def duration(seconds: float) -> str:
    """'3 d 2 h', '5 h 10 min', '4 min', '30 s'."""
    if seconds == math.inf:
        return "until SES allows sending again"
    seconds = round(seconds)
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def assessment(quota: Quota, count: int) -> list[str]:
    """What to tell the user before sending `count` recipients; [] when it simply fits."""
    lines = []
    if not quota.sending_enabled:
        lines.append(
            "SES sending is paused for this account: the campaign waits on the queue (14 days "
            "at most) and goes out by itself once AWS enables sending again"
        )
    if count > quota.left:
        daily = f"{quota.max_24_hour_send:,.0f}"
        lines.append(
            f"this campaign ({count:,} recipients) is larger than what is left of the 24-hour "
            f"quota ({quota.left:,.0f} of {daily}); at {quota.max_send_rate:g}/s and {daily} "
            "a day it takes about "
            f"{duration(quota.campaign_seconds(count))}: the sender pauses when the quota runs "
            "out and resumes by itself as the window frees it"
        )
    return lines


def check(
    bodies: Sequence[str],
    *,
    ask: bool,
    echo: Callable[[str], None],
    confirm: Callable[[str], Any],
    client: Callable[[], Any] | None = None,
) -> None:
    """Read the quota, say what it means for this campaign, and ask when it does not fit
    (`confirm` aborts when declined). An unreadable quota is a warning, never a stop."""
    try:
        quota = Quota.read((client or ses_client)())
    except (BotoCoreError, ClientError, TypeError, ValueError) as error:
        echo(f"warning: the SES quota was not checked ({error})")
        return
    lines = assessment(quota, sum(recipients(body) for body in bodies))
    for line in lines:
        echo(line)
    if lines and ask:
        confirm("Enqueue it anyway?")
