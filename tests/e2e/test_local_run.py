"""The local run end to end: the CLI's enqueue, the poller and the real handler on moto."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bulk_sender.campaign_status import message_key
from bulkmail.campaign import CampaignOptions, local_id_key, message_id, read_campaign
from bulkmail.cli import app
from bulkmail.local import LocalRun, LocalSettings, Summary, run_local
from bulkmail.local import emulator as emu

pytestmark = pytest.mark.e2e

SENDER = "News <news@example.com>"
BAD_ROWS = {
    5: "not-an-address",
    20: "jörg@example.org",  # a non-ASCII local part
    40: "user@-bad-.example",
}
RAW = [
    '{"to": "broken@example.org", "from": "News <news@example.com>"',  # not JSON
    json.dumps({"to": "typo@example.org", "from": SENDER, "template": "welcome", "subjcet": "x"}),
    json.dumps(
        {
            "to": "header@example.org",
            "from": SENDER,
            "template": "welcome",
            "headers": {"X-Note": "a\r\nBcc: all@example.org"},
        }
    ),
    json.dumps(
        {"to": [f"crowd{n}@example.org" for n in range(51)], "from": SENDER, "template": "welcome"}
    ),
]
# Fast enough for a test: fewer rows per invocation, a short batching window.
SETTINGS = LocalSettings(batch_size=20, batching_window_seconds=0.2, max_run_seconds=90)


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    """Given 60 rows, three of them bad addresses."""
    lines = ["email,name"]
    for n in range(60):
        lines.append(f"{BAD_ROWS.get(n, f'user{n:02d}@example.org')},User {n}")
    path = tmp_path / "campaign.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def raw_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(RAW) + "\n", encoding="utf-8")
    return path


def valid_recipients() -> set[str]:
    return {f"user{n:02d}@example.org" for n in range(60) if n not in BAD_ROWS}


def outcomes(summary: Summary) -> Counter[str]:
    """How often each recipient was sent, plus how often it is on the DLQ."""
    ends: Counter[str] = Counter()
    for email in summary.sent:
        ends.update(email["to"])
    for message in summary.dead_letters:
        try:
            to = json.loads(message["Body"]).get("to")
        except ValueError:
            continue
        ends.update([to] if isinstance(to, str) else [])
    return ends


def enqueue(queue_url: str, path: Path, *options: str) -> Any:
    return CliRunner().invoke(
        app,
        ["enqueue", str(path), "--campaign", "e2e", "--queue-url", queue_url, *options],
    )


def test_enqueued_campaign_is_sent_once_and_bad_rows_are_refused_or_dead_lettered(
    server: emu.Emulator, campaign_csv: Path, raw_jsonl: Path
) -> None:
    with LocalRun(SETTINGS, emulator=server) as local:
        # Given the campaign enqueued with the CLI, and raw bad messages put past its checks
        checked = enqueue(
            local.urls["QueueUrl"], campaign_csv, "--from", SENDER, "--template", "welcome"
        )
        raw = enqueue(local.urls["QueueUrl"], raw_jsonl, "--no-validate")

        # When the poller runs the handler until the queue drains
        summary = local.run()

    # Then the CLI refused the three bad rows by line, and put the raw ones on the queue
    assert checked.exit_code == 1
    assert "rows 60, enqueued 57, refused 3" in checked.stdout
    for line in (7, 22, 42):  # the header is line 1
        assert f"line {line}: to[0]:" in checked.stderr
    assert raw.exit_code == 0
    # ... each valid email was sent exactly once, as the campaign says
    assert summary.drained
    sent_to = Counter(address for email in summary.sent for address in email["to"])
    assert sent_to == Counter(valid_recipients())
    first = next(email for email in summary.sent if email["to"] == ["user00@example.org"])
    assert first["template"] == "welcome"
    # ... with the local endpoint's signed one-click link in its headers and in its data
    link = first["data"].pop("unsubscribe_url")
    assert first["data"] == {"name": "User 0"}
    assert link.startswith(local.urls["UnsubscribeUrl"] + "?t=1.all.")
    assert list(first["headers"].items()) == [
        ("List-Unsubscribe", f"<{link}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    assert first["tags"]["campaign"] == "e2e"
    # (the id tag is a keyed hash of the id, with the local run's unsubscribe secret)
    assert first["tags"]["bulkmail-id"].startswith("_k")
    assert first["tags"]["bulkmail-id"] != message_key(
        message_id("e2e", ["user00@example.org"], local_id_key())
    )
    assert first["configuration_set"] == SETTINGS.configuration_set
    # ... and each raw message is on the DLQ, invalid, with its reason
    reasons = sorted(
        message["MessageAttributes"]["ErrorMessage"]["StringValue"]
        for message in summary.dead_letters
    )
    assert summary.dead_by_reason == Counter({"InvalidMessage": 4})
    assert reasons == [
        "body: must be valid JSON",
        "headers.X-Note: value must not contain CR or LF",
        "subjcet: unknown field",
        "to+cc+bcc: at most 50 recipients",
    ]
    assert summary.metrics["EmailsSent"] == 57
    assert summary.metrics["InvalidMessages"] == 4


def test_with_faults_every_email_ends_exactly_once_sent_or_dead_lettered(
    server: emu.Emulator, campaign_csv: Path, raw_jsonl: Path
) -> None:
    # Given the campaign and the raw messages, and the emulator failing 20 % of entries and calls
    options = CampaignOptions("e2e", SENDER, "welcome")
    rows = read_campaign(campaign_csv, options)
    raw = read_campaign(raw_jsonl, CampaignOptions("e2e", validate=False))

    # When they run through the local run
    summary = run_local([*rows, *raw], faults=0.2, seed=3, settings=SETTINGS, emulator=server)

    # Then faults were injected and retried, and the queue drained
    assert summary.drained
    assert summary.faults_injected
    assert summary.retried > 0
    # ... the bad rows were refused, every other message enqueued
    assert [row.line for row in summary.refused] == [7, 22, 42]
    assert summary.rows == 64
    assert summary.enqueued == 61
    # ... every valid email ended exactly once: sent, or on the DLQ; none twice, none lost
    ends = outcomes(summary)
    assert {address: ends[address] for address in valid_recipients()} == dict.fromkeys(
        valid_recipients(), 1
    )
    assert summary.sent_twice == 0
    assert summary.rows_balance
    assert summary.enqueued_balance
    # ... and the DLQ says why: injected rejections, exhausted retries, the raw messages
    reasons = summary.dead_by_reason
    assert reasons["InvalidMessage"] == 4
    assert set(reasons) <= {"InvalidMessage", "MessageRejected", "RetriesExhausted"}
    assert summary.metrics["EmailsSent"] == len(summary.sent)


def test_chaos_knobs_crash_invocations_and_fail_dlq_writes_without_a_second_send(
    server: emu.Emulator, campaign_csv: Path, raw_jsonl: Path
) -> None:
    # Given invocations that die before they return, and DLQ writes that fail, a quarter each
    rows = read_campaign(campaign_csv, CampaignOptions("e2e", SENDER, "welcome"))
    raw = read_campaign(raw_jsonl, CampaignOptions("e2e", validate=False))

    # When the campaign runs
    summary = run_local(
        [*rows, *raw],
        crash_rate=0.25,
        dlq_fail_rate=0.25,
        seed=7,  # its first invocation crashes, and two of its first DLQ writes fail
        settings=SETTINGS,
        emulator=server,
    )

    # Then both faults happened, redelivered batches were not sent again ...
    assert summary.drained
    assert summary.crashes > 0
    assert summary.dlq_write_faults > 0
    assert summary.metrics["DuplicatesSkipped"] > 0
    assert summary.sent_twice == 0
    # ... and no valid email was lost
    sent = {address for email in summary.sent for address in email["to"]}
    assert sent == valid_recipients()


def test_demo_command_prints_the_summary_and_its_equations(tmp_path: Path) -> None:
    # When the demo runs on a small sample campaign
    result = CliRunner().invoke(
        app, ["demo", "--rows", "40", "--log-file", str(tmp_path / "demo.log")]
    )

    # Then it ends well and prints the figures and both equations, holding
    assert result.exit_code == 0, result.output
    assert "rows = enqueued + refused:        47 = 46 + 1  holds" in result.stdout
    assert "enqueued = sent + suppressed + dead-lettered:  46 = 39 + 0 + 7  holds" in result.stdout
    # And the unsubscribe loop: one recipient's link POSTed, the follow-up skips them
    assert "POST List-Unsubscribe=One-Click to http://127.0.0.1:" in result.stdout
    assert "-> 200" in result.stdout
    assert "follow-up campaign to the first 20 recipients: sent 19, suppressed 1" in result.stdout
    assert "SendBulkEmail calls" in result.stdout
    assert "emails/s" in result.stdout
    assert (tmp_path / "demo.log").read_text(encoding="utf-8")  # the handler's JSON logs


def test_the_local_run_keeps_the_stacks_deadline_to_visibility_ratio(monkeypatch) -> None:
    # Given the local run, with the handler spied on: the deadline each invocation is given
    import handler

    deadlines_ms: list[int] = []
    real = handler.lambda_handler

    def spy(event: dict[str, Any], context: Any) -> Any:
        deadlines_ms.append(context.get_remaining_time_in_millis())
        return real(event, context)

    monkeypatch.setattr(handler, "lambda_handler", spy)
    rows = [
        json.dumps(
            {
                "to": f"r{n}@example.org",
                "from": SENDER,
                "template": "welcome",
                "data": {"name": "R"},
                "id": f"r:{n}",
            }
        )
        for n in range(3)
    ]
    with LocalRun(LocalSettings()) as local_run:
        summary = local_run.run(rows)
        visibility = {
            name: int(
                local_run.sqs.get_queue_attributes(
                    QueueUrl=local_run.urls[name], AttributeNames=["VisibilityTimeout"]
                )["Attributes"]["VisibilityTimeout"]
            )
            for name in ("QueueUrl", "EventsQueueUrl")
        }
    # Then every invocation's deadline is at most a sixth of the queues' visibility timeout
    # (DESIGN.md section 12), so no record reaches a second invocation while one sends it
    assert summary.drained
    assert len(summary.sent) == 3
    assert deadlines_ms
    assert max(deadlines_ms) <= min(visibility.values()) * 1000 / 6
