"""`enqueue --attach FILE`: uploaded once to the stack's attachment bucket, referenced by
every message, checked with the Lambda's rules first (moto in process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulk_sender.message import Defaults, parse_message
from bulkmail.cli import app
from tests.cli.queues import bodies

REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """Given a stack whose outputs name the queue and the attachment bucket."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        queue = sqs.create_queue(QueueName="send")["QueueUrl"]
        s3.create_bucket(Bucket="files", CreateBucketConfiguration={"LocationConstraint": REGION})
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "QueueUrl": {"Value": queue},
                "AttachmentBucketName": {"Value": "files"},
            },
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="BulkEmail", TemplateBody=json.dumps(template)
        )
        yield {"sqs": sqs, "s3": s3, "queue": queue}


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    path = tmp_path / "spring.csv"
    path.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\n", encoding="utf-8")
    return path


def enqueue(campaign_csv: Path, *extra: str) -> Any:
    args = ["enqueue", str(campaign_csv), "--campaign", "spring", "--stack", "BulkEmail"]
    args += ["--from", "news@example.com", "--template", "welcome", *extra]
    return CliRunner().invoke(app, args)


def keys(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket="files").get("Contents", [])]


def test_the_file_is_uploaded_once_and_every_message_references_it(
    aws: dict[str, Any], campaign_csv: Path, tmp_path: Path
) -> None:
    # Given a PDF to attach
    pdf = tmp_path / "terms.pdf"
    pdf.write_bytes(b"%PDF-1.7 terms")
    # When the campaign is enqueued with it, twice
    first = enqueue(campaign_csv, "--attach", str(pdf))
    second = enqueue(campaign_csv, "--attach", str(pdf))
    # Then the bucket holds the file once, under a key of its content
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    (key,) = keys(aws["s3"])
    assert key.startswith("spring/")
    assert key.endswith("/terms.pdf")
    assert aws["s3"].get_object(Bucket="files", Key=key)["Body"].read() == b"%PDF-1.7 terms"
    # And every message names it, valid for the Lambda
    sent = bodies(aws["sqs"], aws["queue"])
    assert len(sent) == 4
    for body in sent:
        assert body["attachments"] == [
            {"key": key, "filename": "terms.pdf", "content_type": "application/pdf"}
        ]
        parse_message(json.dumps(body), message_id="m", defaults=Defaults())


def test_a_changed_file_gets_a_new_key_so_queued_messages_keep_theirs(
    aws: dict[str, Any], campaign_csv: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "terms.pdf"
    pdf.write_bytes(b"version 1")
    enqueue(campaign_csv, "--attach", str(pdf))
    pdf.write_bytes(b"version 2")
    enqueue(campaign_csv, "--attach", str(pdf))
    assert len(keys(aws["s3"])) == 2


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("setup.exe", "extension is one SES refuses to send"),
        ("README", "must have an extension (SES needs one)"),
    ],
)
def test_a_file_ses_would_refuse_stops_the_command_before_anything_is_sent(
    aws: dict[str, Any], campaign_csv: Path, tmp_path: Path, name: str, error: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    result = enqueue(campaign_csv, "--attach", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: --attach {path}: {error}\n"
    assert keys(aws["s3"]) == []
    assert bodies(aws["sqs"], aws["queue"]) == []


def test_a_missing_file_is_a_one_line_error(aws: dict[str, Any], campaign_csv: Path) -> None:
    result = enqueue(campaign_csv, "--attach", "nowhere.pdf")
    assert result.exit_code == 2
    assert result.stderr == "error: --attach nowhere.pdf: No such file or directory\n"
