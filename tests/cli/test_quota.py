"""`enqueue` reads the SES quota first (bulkmail/quota.py, DESIGN.md section 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail import quota
from bulkmail.cli import app
from bulkmail.quota import Quota

SENDER = "News <news@example.com>"


def campaign(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "c.csv"
    lines = ["email,name", *(f"user{n}@example.org,U{n}" for n in range(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def enqueue(tmp_path: Path, rows: int, *options: str, stdin: str | None = None) -> Any:
    args = ["enqueue", str(campaign(tmp_path, rows)), "--campaign", "c"]
    args += ["--from", SENDER, "--template", "welcome", *options]
    return CliRunner().invoke(app, args, input=stdin)


@pytest.fixture
def queue_url(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs")
        yield sqs, sqs.create_queue(QueueName="send")["QueueUrl"]


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_campaign_larger_than_the_quota_left_is_reported_with_its_duration(
    tmp_path, ses_quota, queue_url
):
    # Given 1,000 of a 1,000-a-day quota already sent, and a campaign of 2,500
    ses_quota.answer["SendQuota"].update(Max24HourSend=1000, SentLast24Hours=1000)
    sqs, url = queue_url
    # When it is enqueued and the question answered no
    result = enqueue(tmp_path, 2500, "--queue-url", url, stdin="n\n")
    # Then the user learns it is larger than what is left, and how long it will take
    assert "larger than what is left of the 24-hour quota (0 of 1,000)" in result.stderr
    assert "it takes about 3 d 0 h" in result.stderr
    assert "Enqueue it anyway?" in result.stderr
    # And declining sends nothing (exit 1: declined)
    assert result.exit_code == 1
    assert depth(sqs, url) == 0


def test_yes_enqueues_without_asking(tmp_path, ses_quota, queue_url):
    ses_quota.answer["SendQuota"].update(Max24HourSend=100, SentLast24Hours=0)
    sqs, url = queue_url
    result = enqueue(tmp_path, 150, "--queue-url", url, "--yes")
    assert result.exit_code == 0, result.output
    assert "larger than what is left" in result.stderr
    assert "Enqueue it anyway?" not in result.stderr
    assert depth(sqs, url) == 150


def test_dry_run_reports_the_same_and_asks_nothing(tmp_path, ses_quota):
    ses_quota.answer["SendQuota"].update(Max24HourSend=100, SentLast24Hours=40)
    result = enqueue(tmp_path, 150, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(60 of 100)" in result.stderr
    assert "Enqueue it anyway?" not in result.stderr
    assert "dry run: rows 150, would enqueue 150" in result.stdout


def test_a_campaign_that_fits_says_nothing_more(tmp_path, ses_quota):
    ses_quota.answer["SendQuota"].update(Max24HourSend=1000, SentLast24Hours=0)
    result = enqueue(tmp_path, 10, "--dry-run")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_a_paused_account_is_said_before_sending(tmp_path, ses_quota):
    ses_quota.answer["SendingEnabled"] = False
    result = enqueue(tmp_path, 3, "--dry-run")
    assert "SES sending is paused for this account" in result.stderr


def test_an_unreadable_quota_is_a_warning_not_a_stop(tmp_path, monkeypatch):
    # Given SES refuses GetAccount (the producer's role may lack ses:GetAccount)
    ses = boto3.client("sesv2", region_name="eu-west-1")
    stubber = Stubber(ses)
    stubber.add_client_error("get_account", "AccessDeniedException", "not allowed", 403)
    monkeypatch.setattr(quota, "ses_client", lambda: ses)
    with stubber:
        result = enqueue(tmp_path, 3, "--dry-run")
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: the SES quota was not checked")
    assert "AccessDeniedException" in result.stderr


@pytest.mark.parametrize(
    ("max_24h", "sent", "rate", "recipients", "expected"),
    [
        (50_000, 0, 14, 10_000, 10_000 / 12.6),  # fits: at 90 % of the rate
        (50_000, 0, 14, 150_000, 2 * 86400 + 50_000 / 12.6),  # two more windows
        (1000, 1000, 10, 2500, 3 * 86400 + 500 / 9),  # nothing left today
        (-1, 0, 10, 1_000_000, 1_000_000 / 9),  # no daily limit
    ],
)
def test_the_duration_counts_one_quota_a_day(max_24h, sent, rate, recipients, expected):
    assert Quota(max_24h, sent, rate).campaign_seconds(recipients) == pytest.approx(expected)


def test_recipients_count_to_cc_and_bcc():
    assert quota.recipients('{"to": ["a@x.org", "b@x.org"], "cc": ["c@x.org"]}') == 3
    assert quota.recipients('{"to": "a@x.org"}') == 1
    assert quota.recipients("not json") == 1
