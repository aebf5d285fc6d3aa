"""The sample campaign: N recipients, deterministic, with a few bad rows the CLI refuses.

`examples/campaign.csv` is `write_campaign(path, 1000)`; regenerate it with
`python -m bulkmail.sample examples/campaign.csv`. Every 250th row (from row 17 on) is bad, in
turn: not an address, a non-ASCII local part, a domain that is not a DNS name, and a
recipient already on an earlier row (same campaign id). A few rows show what the schema
accepts: a display name, a non-ASCII name in `data`, an internationalised domain. Every 100th
row (from row 42 on) is one of SES's mailbox simulator addresses, in turn: a hard bounce, a
complaint, an out-of-office reply, an address on the suppression list, a plain success (SES
and the local emulator answer each as SES documents, so `status` shows each outcome).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

SAMPLE_ROWS = 1000
FIRST = ("Ann", "Bob", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas")
LAST = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "García", "Hansen", "Ito", "Jung")
BAD_EVERY, BAD_FROM = 250, 17
SIMULATOR_EVERY, SIMULATOR_FROM = 100, 42
SIMULATOR = ("bounce", "complaint", "ooto", "suppressionlist", "success")


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("éèçí", "eeci")).lower()


def recipient(index: int) -> tuple[str, str]:
    """Row `index`'s (email, name), before any bad-row substitution."""
    first, last = FIRST[index % len(FIRST)], LAST[(index // len(FIRST)) % len(LAST)]
    name = f"{first} {last}"
    address = f"{_ascii(first)}.{_ascii(last)}.{index:04d}@example.org"
    if index % SIMULATOR_EVERY == SIMULATOR_FROM:
        kind = SIMULATOR[(index // SIMULATOR_EVERY) % len(SIMULATOR)]
        return f"{kind}+{index:04d}@simulator.amazonses.com", name
    if index % 97 == 5:
        return f"{name} <{address}>", name
    if index % 193 == 7:
        return f"{_ascii(first)}.{index:04d}@bücher.example", name
    return address, name


def bad_email(index: int) -> str | None:
    """The bad address row `index` carries, if it is one of the bad rows."""
    if index % BAD_EVERY != BAD_FROM:
        return None
    kind = (index // BAD_EVERY) % 4
    return (
        "not-an-address",
        f"jörg.{index:04d}@example.org",
        f"user.{index:04d}@-bad-.example",
        recipient(0)[0],
    )[kind]


def campaign_rows(count: int) -> list[tuple[str, str]]:
    """(email, name) for `count` rows."""
    rows = []
    for index in range(count):
        email, name = recipient(index)
        rows.append((bad_email(index) or email, name))
    return rows


def write_campaign(path: Path, count: int = SAMPLE_ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "name"])
        writer.writerows(campaign_rows(count))
    return path


if __name__ == "__main__":
    write_campaign(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else SAMPLE_ROWS)
