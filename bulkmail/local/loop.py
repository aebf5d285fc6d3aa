"""The demo's unsubscribe loop: an email's one-click link, a real POST, a follow-up campaign.

After the sample campaign, `unsubscribe_loop` takes the first email the emulator recorded,
reads the link in its `List-Unsubscribe` header, POSTs `List-Unsubscribe=One-Click` to it
over HTTP as a mail client does (RFC 8058), then sends a follow-up campaign to the first
FOLLOW_UP recipients: the sender skips the one who unsubscribed ("suppressed 1").
"""

from __future__ import annotations

import csv
import dataclasses
import re
import tempfile
import urllib.request
from pathlib import Path

from bulkmail.campaign import read_campaign
from bulkmail.local.run import DEMO_OPTIONS, LocalRun
from bulkmail.local.summary import Summary

FOLLOW_UP = 20
_HTTP_LINK = re.compile(r"<(https?://[^>]+)>")


def one_click(link: str, timeout: float = 10) -> int:
    """POST the RFC 8058 one-click body to `link`; the HTTP status."""
    request = urllib.request.Request(
        link,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


def unsubscribe_loop(local_run: LocalRun, first: Summary, *, follow_up: int = FOLLOW_UP) -> None:
    """Unsubscribe the sample campaign's first recipient by its link, then send a follow-up
    campaign; the lines (and whether the sender suppressed exactly that one) go to
    `first.follow_up` / `first.follow_up_ok`."""
    lines = ["", "unsubscribe loop (RFC 8058 one-click):"]
    sent = first.sent[:follow_up]
    header = sent[0]["headers"].get("List-Unsubscribe", "") if sent else ""
    match = _HTTP_LINK.search(header)
    if match is None:
        first.follow_up, first.follow_up_ok = [*lines, "  no email carried a link"], False
        return
    link = match.group(1)
    status = one_click(link)
    lines.append(f"  POST List-Unsubscribe=One-Click to {link[:60]}... -> {status}")
    campaign = Path(tempfile.mkdtemp(prefix="bulkmail-")) / "follow-up.csv"
    with campaign.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        writer.writerows([email["to"][0], email["data"].get("name", "")] for email in sent)
    options = dataclasses.replace(DEMO_OPTIONS, campaign="demo-follow-up")
    second = local_run.run(read_campaign(campaign, options))
    lines.append(
        f"  follow-up campaign to the first {len(sent)} recipients: "
        f"sent {len(second.sent)}, suppressed {second.suppressed}"
    )
    first.follow_up = lines
    first.follow_up_ok = status == 200 and second.suppressed == 1 and second.enqueued_balance
