"""The local run at a real list's size (issue 24): 20,000 rows enqueued, then drained.

What a user does with `python -m bulkmail local` and `enqueue FILE --local`, in one process:
the sample campaign (bulkmail.sample, 20,000 rows) is read and checked as `enqueue` reads it,
put on the local queue with the CLI's Enqueuer and counted in the status table, then the
local run's sender drains it (and its events function records SES's events). Reported:

- enqueue rows/s (read, check, SendMessageBatch, count);
- the sender's emails/s against the rate the run announces (LocalSettings.max_send_rate,
  MAX_SEND_RATE: the ratio is the figure; the issue's target is 300/s on 2 cores);
- the process's peak RSS, and the outcome: every valid row sent exactly once, the status
  table's `enqueued` and `sent` equal to what was enqueued and sent.

`python bench/local_bench.py [ROWS]` runs it alone. Nothing here asserts (benchmarks are not
tests); tests/bench/test_local_bench.py runs a small size and asserts the outcome.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bulkmail` and `lambda_src` importable
    _root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(_root), str(_root / "lambda_src")]

ROWS = 20_000
QUICK_ROWS = 2_000
RATE_TARGET = 300.0  # emails/s on 2 cores (issue 24)
ENQUEUE_TARGET = 500.0  # rows/s


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_local_bench(rows: int = ROWS, *, workdir: Path | None = None) -> dict[str, Any]:
    """Enqueue `rows` sample rows onto a local run, drain them; the figures (module doc)."""
    from bulk_sender import campaign_status as cs
    from bulkmail import queues, status
    from bulkmail.campaign import read_campaign
    from bulkmail.local import LocalRun, LocalSettings
    from bulkmail.local.run import DEMO_OPTIONS
    from bulkmail.sample import write_campaign

    directory = workdir or Path(tempfile.mkdtemp(prefix="bulkmail-bench-"))
    path = write_campaign(directory / "campaign.csv", rows)
    settings = LocalSettings(log_file=directory / "handler.log")
    rss_before = _rss_mb()
    with LocalRun(settings) as local_run:
        url = local_run.urls["QueueUrl"]
        started = time.perf_counter()
        read = read_campaign(path, DEMO_OPTIONS)
        bodies = [row.body for row in read if row.body is not None]
        report = queues.Enqueuer(local_run.sqs, url, workers=settings.enqueue_workers).send(bodies)
        status.record_enqueued(
            status.dynamodb_client(),
            local_run.urls["StatusTableName"],
            DEMO_OPTIONS.campaign,
            report.enqueued,
        )
        enqueue_s = time.perf_counter() - started
        summary = local_run.run([])
    numbers = summary.campaigns.get(DEMO_OPTIONS.campaign, {})
    sent = len(summary.sent)
    send_rate = sent / summary.send_seconds if summary.send_seconds else 0.0
    return {
        "rows": rows,
        "valid": len(bodies),
        "enqueued": report.enqueued,
        "enqueue_s": enqueue_s,
        "enqueue_rate": rows / enqueue_s if enqueue_s else 0.0,
        "sent": sent,
        "sent_twice": summary.sent_twice,
        "dead_lettered": len(summary.dead_letters),
        "send_s": summary.send_seconds,
        "send_rate": send_rate,
        "announced_rate": settings.max_send_rate,
        "ratio": send_rate / settings.max_send_rate,
        "all_done_s": summary.seconds,
        "drained": summary.drained,
        "status_enqueued": int(numbers.get(cs.ENQUEUED, 0)),
        "status_sent": int(numbers.get(cs.SENT_TOTAL, 0)),
        "peak_rss_mb": _rss_mb(),
        "rss_before_mb": rss_before,
    }


def lines(found: dict[str, Any]) -> list[str]:
    """The figures as lines, each with its target."""
    once = found["sent"] == found["enqueued"] and not found["sent_twice"]
    agree = found["status_enqueued"] == found["enqueued"] and found["status_sent"] == found["sent"]
    return [
        f"local run, {found['rows']:,} rows ({found['valid']:,} valid):",
        f"  enqueue       {found['enqueue_rate']:,.0f} rows/s ({found['enqueue_s']:.1f} s; "
        f"target >= {ENQUEUE_TARGET:.0f})",
        f"  sending       {found['send_rate']:,.0f} emails/s = {found['ratio']:.2f} x the "
        f"announced {found['announced_rate']:.0f}/s ({found['send_s']:.1f} s; "
        f"target >= {RATE_TARGET:.0f}/s)",
        f"  all events    recorded at {found['all_done_s']:.1f} s",
        f"  outcome       sent {found['sent']:,} of {found['enqueued']:,} enqueued, twice "
        f"{found['sent_twice']}, dead-lettered {found['dead_lettered']}: "
        f"{'each once' if once else 'NOT each once'}",
        f"  status table  enqueued {found['status_enqueued']:,}, sent {found['status_sent']:,}: "
        f"{'agrees' if agree else 'DISAGREES'}",
        f"  memory        peak RSS {found['peak_rss_mb']:.0f} MB "
        f"(before the run {found['rss_before_mb']:.0f} MB)",
    ]


def part_local(say: Callable[[str], None], *, quick: bool = False) -> dict[str, Any]:
    """For bench/run.py: the run at 20,000 rows (`--quick`: 2,000), its lines said."""
    rows = QUICK_ROWS if quick else ROWS
    say(f"7. local run: {rows:,} rows enqueued on the local emulator, then drained")
    found = run_local_bench(rows)
    for line in lines(found):
        say(line)
    return found


if __name__ == "__main__":
    for line in lines(run_local_bench(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)):
        print(line)
