"""`enqueue --at / --at-local`, `schedule list`, `schedule cancel`, and `status` counting
`scheduled`, against a stack in moto (in process). The clock is fixed: nothing waits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulk_sender import schedule as rules
from bulk_sender.names import Output
from bulk_sender.schedule_enqueue import CampaignEnqueuer
from bulkmail import schedule
from bulkmail.cli import app
from bulkmail.local.stack_facts import STATUS_TABLE, create_table
from tests.cli.conftest import QuotaSes
from tests.cli.queues import bodies

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
SENDER = "News <news@example.com>"
TOKYO = datetime(2026, 12, 24, 0, 0, tzinfo=UTC)  # 09:00 +09:00
BERLIN = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)  # 09:00 +01:00
NEW_YORK = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)  # 09:00 -05:00


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "clock", lambda: NOW)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)


class Stack:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs")
        self.s3 = boto3.client("s3")
        self.scheduler = boto3.client("scheduler")
        self.dynamodb = boto3.client("dynamodb")
        self.queue_url = self.sqs.create_queue(QueueName="send")["QueueUrl"]
        self.s3.create_bucket(
            Bucket="campaign-files",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        self.scheduler.create_schedule_group(Name="campaigns")
        create_table(self.dynamodb, "status", STATUS_TABLE)
        outputs = {
            "QueueUrl": self.queue_url,
            Output.STATUS_TABLE_NAME: "status",
            Output.CAMPAIGN_BUCKET_NAME: "campaign-files",
            Output.SCHEDULE_GROUP_NAME: "campaigns",
            Output.ENQUEUE_FUNCTION_ARN: "arn:aws:lambda:eu-west-1:123456789012:function:enqueue",
            Output.SCHEDULER_ROLE_ARN: "arn:aws:iam::123456789012:role/scheduler",
        }
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        boto3.client("cloudformation").create_stack(
            StackName="BulkEmail", TemplateBody=json.dumps(template)
        )

    def schedules(self) -> dict[str, dict[str, Any]]:
        found = {}
        for summary in self.scheduler.list_schedules(GroupName="campaigns")["Schedules"]:
            detail = self.scheduler.get_schedule(Name=summary["Name"], GroupName="campaigns")
            found[detail["ScheduleExpression"]] = detail
        return found

    def fire(self, instant: datetime) -> None:
        """What Scheduler does at the instant: start the enqueue function with the input."""
        (detail,) = [d for e, d in self.schedules().items() if e == rules.at_expression(instant)]
        CampaignEnqueuer(
            s3=self.s3,
            sqs=self.sqs,
            dynamodb=self.dynamodb,
            bucket="campaign-files",
            queue_url=self.queue_url,
            status_table="status",
        ).run(json.loads(detail["Target"]["Input"]), remaining_ms=lambda: 900_000)
        self.scheduler.delete_schedule(Name=detail["Name"], GroupName="campaigns")

    def counts(self, campaign: str = "xmas") -> dict[str, Any]:
        return self.dynamodb.get_item(
            TableName="status", Key={"pk": {"S": campaign}, "sk": {"S": "#counts"}}
        ).get("Item", {})


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        yield Stack()


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    path = tmp_path / "xmas.csv"
    path.write_text(
        "email,name,timezone\n"
        "ann@example.org,Ann,Asia/Tokyo\n"
        "bob@example.org,Bob,Europe/Berlin\n"
        "cy@example.org,Cy,America/New_York\n"
        "dee@example.org,Dee,\n"
        "eve@example.org,Eve,Mars/Olympus\n"
        "fay@example.org,Fay,America/New_York\n",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def enqueue_local(path: Path, *more: str) -> Any:
    return run(
        "enqueue",
        str(path),
        "--campaign",
        "xmas",
        "--template",
        "welcome",
        "--from",
        SENDER,
        "--stack",
        "BulkEmail",
        "--at-local",
        "2026-12-24T09:00",
        "--default-timezone",
        "Europe/Berlin",
        *more,
    )


def test_at_local_creates_one_schedule_per_instant_and_sends_nothing_yet(
    stack: Stack, campaign_csv: Path
) -> None:
    # When the campaign is scheduled for 09:00 in each recipient's zone
    result = enqueue_local(campaign_csv)

    # Then the unknown zone is a refused row with its reason (exit 1), nothing is queued
    assert result.exit_code == 1, result.output
    assert "line 6: timezone: unknown time zone 'Mars/Olympus'" in result.output
    assert bodies(stack.sqs, stack.queue_url) == []
    # And one one-time schedule per instant, deleted after it runs, starting the function
    schedules = stack.schedules()
    assert set(schedules) == {rules.at_expression(t) for t in (TOKYO, BERLIN, NEW_YORK)}
    for detail in schedules.values():
        assert detail["ScheduleExpressionTimezone"] == "UTC"
        assert detail["ActionAfterCompletion"] == "DELETE"
        assert detail["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert detail["Target"]["Arn"].endswith(":function:enqueue")
        assert detail["Target"]["RoleArn"].endswith(":role/scheduler")
    # And each instant's file holds its rows (Dee's empty zone took the default, Berlin)
    berlin = json.loads(schedules[rules.at_expression(BERLIN)]["Target"]["Input"])
    assert berlin["rows"] == 2
    lines = (
        stack.s3.get_object(Bucket="campaign-files", Key=berlin["key"])["Body"]
        .read()
        .decode()
        .splitlines()
    )
    assert sorted(json.loads(line)["to"] for line in lines) == [
        "bob@example.org",
        "dee@example.org",
    ]
    # And the campaign counts 5 scheduled, none enqueued
    assert stack.counts()["scheduled"] == {"N": "5"}
    assert "rows 6, scheduled 5 at 3 instant(s), refused 1" in result.output


def test_each_instant_goes_onto_the_queue_when_its_schedule_fires(
    stack: Stack, campaign_csv: Path
) -> None:
    enqueue_local(campaign_csv)

    # When Tokyo's instant comes
    stack.fire(TOKYO)

    # Then Tokyo's row alone is on the queue, counted, and the list says so
    assert [body["to"] for body in bodies(stack.sqs, stack.queue_url)] == ["ann@example.org"]
    listed = run("schedule", "list", "--stack", "BulkEmail")
    assert listed.exit_code == 0, listed.output
    assert "2026-12-24 00:00:00 UTC         1 rows  enqueued" in listed.output
    assert "2026-12-24 08:00:00 UTC         2 rows  scheduled" in listed.output
    assert "2026-12-24 14:00:00 UTC         2 rows  scheduled" in listed.output
    status = run("status", "--campaign", "xmas", "--stack", "BulkEmail")
    assert "scheduled                 4" in status.output, status.output
    assert "enqueued                  1" in status.output


def test_cancel_deletes_what_has_not_run_and_says_what_went(
    stack: Stack, campaign_csv: Path
) -> None:
    enqueue_local(campaign_csv)
    stack.fire(TOKYO)

    # When the campaign is cancelled
    result = run("schedule", "cancel", "xmas", "--stack", "BulkEmail")

    # Then Berlin's and New York's schedules and files are gone, Tokyo's is said to have gone
    assert result.exit_code == 0, result.output
    assert "cancelled: 2026-12-24 08:00:00 UTC, 2 rows" in result.output
    assert "cancelled: 2026-12-24 14:00:00 UTC, 2 rows" in result.output
    assert "already went: 2026-12-24 00:00:00 UTC, 1 rows (enqueued)" in result.output
    assert stack.schedules() == {}
    assert "Contents" not in stack.s3.list_objects_v2(Bucket="campaign-files")
    assert stack.counts()["scheduled"] == {"N": "0"}
    listed = run("schedule", "list", "--campaign", "xmas", "--stack", "BulkEmail")
    assert listed.output.count("cancelled") == 2


def test_scheduling_the_same_campaign_again_changes_nothing(
    stack: Stack, campaign_csv: Path
) -> None:
    enqueue_local(campaign_csv)

    again = enqueue_local(campaign_csv)

    assert "already scheduled: 2 rows at 2026-12-24 08:00:00 UTC (unchanged)" in again.output
    assert len(stack.schedules()) == 3
    assert stack.counts()["scheduled"] == {"N": "5"}


def test_at_with_an_offset_schedules_every_row_at_one_instant(
    stack: Stack, campaign_csv: Path
) -> None:
    result = run(
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "xmas",
        "--template",
        "welcome",
        "--from",
        SENDER,
        "--stack",
        "BulkEmail",
        "--at",
        "2026-12-24T09:00+01:00",
    )

    assert result.exit_code == 0, result.output
    (expression,) = stack.schedules()
    assert expression == rules.at_expression(BERLIN)
    assert stack.counts()["scheduled"] == {"N": "6"}


def test_a_local_time_already_passed_in_some_zones_goes_at_once_and_says_so(
    stack: Stack, campaign_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "clock", lambda: datetime(2026, 12, 24, 6, 0, 30, tzinfo=UTC))

    result = enqueue_local(campaign_csv)

    assert "has already passed in Asia/Tokyo: 1 rows go at once" in result.output
    assert rules.at_expression(datetime(2026, 12, 24, 6, 2, tzinfo=UTC)) in stack.schedules()


def test_instants_beyond_the_daily_quota_are_warned_about_and_asked(
    stack: Stack, campaign_csv: Path, ses_quota: QuotaSes
) -> None:
    ses_quota.answer["SendQuota"]["Max24HourSend"] = 3

    declined = CliRunner().invoke(
        app,
        [
            "enqueue",
            str(campaign_csv),
            "--campaign",
            "xmas",
            "--template",
            "welcome",
            "--from",
            SENDER,
            "--stack",
            "BulkEmail",
            "--at",
            "2026-12-24T09:00+01:00",
        ],
        input="n\n",
    )

    assert (
        "the instants from 2026-12-24 08:00 UTC hold 6 recipients within 24 hours, more than "
        "the 24-hour quota (3)"
    ) in declined.output
    assert declined.exit_code == 1
    assert stack.schedules() == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--at", "2026-12-24T09:00", "--stack", "BulkEmail"], "give the offset"),
        (["--at", "2026-12-01T09:00Z", "--stack", "BulkEmail"], "that is in the past"),
        (["--at", "2026-12-24T09:00Z", "--queue-url", "https://x/1/q"], "--stack or --local"),
        (["--at-local", "2026-12-24T09:00+01:00", "--stack", "BulkEmail"], "no offset here"),
        (
            ["--at-local", "2026-12-24T09:00", "--default-timezone", "Nowhere/X", "--stack", "B"],
            "unknown time zone 'Nowhere/X'",
        ),
        (["--default-timezone", "UTC", "--stack", "BulkEmail"], "goes with --at-local"),
    ],
)
def test_bad_times_are_one_line_errors(
    campaign_csv: Path, options: list[str], message: str
) -> None:
    # (refused before any AWS call: no stack is needed to see it)
    result = run(
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "xmas",
        "--template",
        "welcome",
        "--from",
        SENDER,
        *options,
    )

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_list_with_nothing_scheduled_says_so(stack: Stack) -> None:
    result = run("schedule", "list", "--stack", "BulkEmail")
    assert result.exit_code == 0
    assert "no scheduled campaign waiting" in result.output


def test_a_dry_run_shows_the_instants_and_creates_nothing(campaign_csv: Path) -> None:
    result = run(
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "xmas",
        "--template",
        "welcome",
        "--from",
        SENDER,
        "--dry-run",
        "--at-local",
        "2026-12-24T09:00",
        "--default-timezone",
        "Europe/Berlin",
    )

    assert result.exit_code == 1, result.output  # the unknown zone's row is refused
    for instant, rows in ((TOKYO, 1), (BERLIN, 2), (NEW_YORK, 2)):
        assert f"would schedule {rows} rows at {rules.at_expression(instant)}" in result.output


DOCS = Path(__file__).resolve().parents[2] / "docs" / "guides"


def documented_commands() -> list[tuple[list[str], list[str]]]:
    """Each `python -m bulkmail ...` command of the scheduling and Pinpoint guides: its
    subcommand path and the options it uses (continuation lines joined)."""
    found = []
    for page in ("scheduling.md", "pinpoint.md"):
        text = (DOCS / page).read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            if "python -m bulkmail " not in line or line.lstrip().startswith("rows "):
                continue
            words = [w.strip("`.,;:()") for w in line.split("python -m bulkmail ", 1)[1].split()]
            path = []
            for word in words:
                if word.startswith("-") or not word.replace("-", "").isalpha():
                    break
                path.append(word)
            options = [w.split("=")[0] for w in words if w.startswith("--")]
            found.append((path, options))
    return found


@pytest.mark.parametrize(("path", "options"), documented_commands())
def test_the_guides_commands_and_options_exist(path: list[str], options: list[str]) -> None:
    shown = run(*path, "--help")
    assert shown.exit_code == 0, (path, shown.output)
    for option in options:
        assert option in shown.output, (path, option)


def test_a_file_without_the_zone_column_is_one_argument_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")

    result = run(
        "enqueue",
        str(path),
        "--campaign",
        "xmas",
        "--template",
        "welcome",
        "--from",
        SENDER,
        "--dry-run",
        "--at-local",
        "2026-12-24T09:00",
    )

    assert result.exit_code == 2, result.output
    assert "no row has a 'timezone' column" in result.output
