"""Campaign status end to end on the emulator: the CLI's enqueue, the sender, SES's events (the
mailbox simulator) through the events function, then `status`, `--export --join` and
`enqueue --only-failed`."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from bulkmail import target
from bulkmail.cli import app
from bulkmail.local import LocalRun, LocalSettings
from bulkmail.local import emulator as emu
from stacks.template_files import load_templates

pytestmark = pytest.mark.e2e

SENDER = "News <news@example.com>"
SETTINGS = LocalSettings(batch_size=20, batching_window_seconds=0.2, max_run_seconds=90)
SIMULATED = {
    3: "bounce+3@simulator.amazonses.com",
    7: "complaint+7@simulator.amazonses.com",
    11: "ooto+11@simulator.amazonses.com",
    13: "suppressionlist+13@simulator.amazonses.com",
}


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


def people(tmp_path: Path, rows: int = 20) -> Path:
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        for n in range(rows):
            writer.writerow([SIMULATED.get(n, f"user{n:02d}@example.org"), f"User {n}"])
    return path


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def as_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Make a LocalRun findable by `--local` (as `python -m bulkmail local` does): the CLI
    then reads its unsubscribe secret, the key the sender hashes ids with for status."""

    def publish(local: LocalRun) -> None:
        monkeypatch.setenv(target.STATE_ENV, str(tmp_path / "local-state.json"))
        target.write_local_state(local.endpoint_url, SETTINGS.region, local.urls)

    return publish


def test_status_adds_up_and_the_export_puts_the_addresses_back(
    server: emu.Emulator, tmp_path: Path, as_local
) -> None:
    path = people(tmp_path)
    with LocalRun(SETTINGS, emulator=server) as local:
        as_local(local)
        table = local.urls["StatusTableName"]
        # Given a campaign of 20 rows, four of them SES mailbox simulator addresses
        enqueued = cli(
            "enqueue", str(path), "--campaign", "news", "--local",
            "--status-table", table, "--from", SENDER, "--template", "welcome",
        )  # fmt: skip
        assert enqueued.exit_code == 0, enqueued.output
        # When it is sent and SES's events are recorded
        local.run()
        # Then status shows each outcome, and the numbers add up with nothing in flight
        shown = cli("status", "--campaign", "news", "--status-table", table)
        export_path = tmp_path / "news.csv"
        exported = cli(
            "status", "--campaign", "news", "--status-table", table, "--local",
            "--export", str(export_path), "--join", str(path),
        )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    lines: dict[str, list[str]] = {}
    for line in shown.stdout.splitlines():
        if line.strip():
            lines.setdefault(line.split()[0], line.split())
    assert lines["enqueued"][1] == "20"
    assert lines["sent"][1] == "20"
    assert lines["delivered"][1] == "17"  # 16 plain + ooto (an auto-reply is a delivery)
    assert lines["bounced"][1:] == ["2", "(permanent", "2,", "transient", "0)"]
    assert lines["complained"][1] == "1"
    assert lines["in"][2] == "0"  # in flight
    assert lines["still"][2] == "0"  # still queued
    assert "20 = 17 + 2 + 1 + 0 + 0 + 0" in shown.stdout
    # And the export has one row per email, with the address recomputed from the user's file
    assert exported.exit_code == 0, exported.output
    with export_path.open(encoding="utf-8") as handle:
        rows = {row["email"]: row for row in csv.DictReader(handle)}
    assert len(rows) == 20
    assert rows[SIMULATED[3]]["outcome"] == "bounced_permanent"
    assert rows[SIMULATED[7]]["outcome"] == "complained"
    assert rows[SIMULATED[13]]["detail"] == "Permanent/Suppressed"
    assert rows["user00@example.org"]["outcome"] == "delivered"
    assert rows["user00@example.org"]["id"].startswith("news:")


def test_only_failed_resends_what_a_retry_can_fix_and_nothing_twice(
    server: emu.Emulator, tmp_path: Path, as_local
) -> None:
    path = people(tmp_path, rows=6)  # row 3 bounces (the mailbox simulator)
    with LocalRun(SETTINGS, emulator=server) as local:
        as_local(local)
        table = local.urls["StatusTableName"]
        send = ["--campaign", "later", "--local", "--status-table", table]
        send += ["--from", SENDER, "--template", "later"]
        # Given a campaign sent before its template existed: SES refused it, every row is a
        # dead letter (NotFoundException) that a retry can fix
        first = cli("enqueue", str(path), *send, "--no-validate")
        assert first.exit_code == 0, first.output
        local.run()
        # When the template is created and the campaign enqueued again with --only-failed
        welcome = next(t for t in load_templates(SETTINGS.templates) if t.name == "welcome")
        boto3.client("sesv2").create_email_template(
            TemplateName="later", TemplateContent=welcome.ses_content()
        )
        again = cli("enqueue", str(path), *send, "--only-failed")
        local.run()
        # And once more
        twice = cli("enqueue", str(path), *send, "--only-failed")
        summary = local.run()
        shown = cli("status", "--campaign", "later", "--status-table", table)
    # Then the first --only-failed sent every row again
    assert again.exit_code == 0, again.output
    assert "only failed: 6 of 6 rows sent again" in again.stdout
    # And the second sent nothing: five delivered, and a permanent bounce is never resent
    assert "only failed: 0 of 6 rows sent again" in twice.stdout
    assert "left alone: bounced_permanent 1, delivered 5" in twice.stdout
    sent = sorted(email["to"][0] for email in emu.sent_emails(SETTINGS.region))
    assert sent == sorted([SIMULATED[3], *(f"user{n:02d}@example.org" for n in (0, 1, 2, 4, 5))])
    assert summary.drained
    assert "dead-lettered             0" in shown.stdout
    assert "6 = 5 + 1 + 0 + 0 + 0 + 0" in shown.stdout


def test_enqueue_and_status_find_the_local_runs_status_table_with_local(
    server: emu.Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = people(tmp_path, rows=4)
    monkeypatch.setenv(target.STATE_ENV, str(tmp_path / "local.json"))
    saved = dict(os.environ)  # --local points this process's clients at the emulator
    try:
        with LocalRun(SETTINGS, emulator=server) as local:
            # Given a local run that wrote its state file, as `python -m bulkmail local` does
            target.write_local_state(server.endpoint_url, SETTINGS.region, local.urls)
            # When a campaign is enqueued and its status read, both with --local only
            enqueued = cli(
                "enqueue", str(path), "--local", "--campaign", "here", "--from", SENDER,
                "--template", "welcome", "--yes",
            )  # fmt: skip
            assert enqueued.exit_code == 0, enqueued.output
            local.run()
            shown = cli("status", "--campaign", "here", "--local")
            export_path = tmp_path / "here.csv"
            exported = cli(
                "status", "--campaign", "here", "--local", "--export", str(export_path),
                "--join", str(path),
            )  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # Then enqueue counted its rows in the local status table and status found it there
    assert shown.exit_code == 0, shown.output
    enqueued_line = next(line for line in shown.stdout.splitlines() if line.startswith("enq"))
    assert enqueued_line.split() == ["enqueued", "4"]  # counted by enqueue, not inferred
    assert "4 = 3 + 1 + 0 + 0 + 0 + 0" in shown.stdout  # row 3 bounces
    # And --join recomputed the ids with the local run's secret, as enqueue keyed them
    assert exported.exit_code == 0, exported.output
    with export_path.open(encoding="utf-8") as handle:
        emails = {row["email"] for row in csv.DictReader(handle)}
    assert emails == {SIMULATED[3], *(f"user{n:02d}@example.org" for n in (0, 1, 2))}
