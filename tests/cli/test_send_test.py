"""`send-test`: the first rows of a campaign, as recipients get them, to one address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail.cli import app
from tests.cli.queues import bodies

ME = "me@example.net"


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def queue_url() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sqs").create_queue(QueueName="send")["QueueUrl"]


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    """Given a campaign whose line 2 is not an address, then four good rows."""
    path = tmp_path / "spring.csv"
    rows = ["not-an-address,X"] + [f"user{n}@example.org,U{n}" for n in range(4)]
    path.write_text("email,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def send_test(path: Path, queue_url: str, *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "send-test",
            str(path),
            "--to",
            ME,
            "--campaign",
            "spring",
            "--queue-url",
            queue_url,
            "--from",
            "News <news@example.com>",
            "--template",
            "welcome",
            *extra,
        ],
    )


def test_the_first_valid_rows_go_to_one_address_with_fresh_ids_each_time(
    campaign_csv: Path, queue_url: str
) -> None:
    # When two rows are sent as a test, twice
    first = send_test(
        campaign_csv, queue_url, "--rows", "2", "--unsubscribe-url", "https://e.x/u?id={id}"
    )
    second = send_test(campaign_csv, queue_url, "--rows", "2")

    # Then lines 3 and 4 (the first valid rows) went out each time, to the one address only
    assert first.exit_code == 0, first.output
    assert "sent 2 test email(s) of lines 3, 4 to --to" in first.stdout
    assert ME not in first.output
    assert second.exit_code == 0, second.output
    sent = bodies(boto3.client("sqs"), queue_url)
    assert len(sent) == 4
    assert all(body["to"] == [ME] and "cc" not in body for body in sent)
    # ... with each row's own data and template, as its recipient would get it
    assert sorted(body["data"]["name"] for body in sent) == ["U0", "U0", "U1", "U1"]
    assert {body["template"] for body in sent} == {"welcome"}
    # ... under fresh ids (never deduplicated), tagged apart from the campaign
    assert len({body["id"] for body in sent}) == 4
    assert all(body["id"].startswith("spring-test:") for body in sent)
    assert {body["tags"]["campaign"] for body in sent} == {"spring-test"}
    # ... and the unsubscribe link names each test's own id
    with_link = [body for body in sent if "headers" in body]
    assert len(with_link) == 2
    for body in with_link:
        encoded = body["id"].replace(":", "%3A")
        assert body["headers"]["List-Unsubscribe"] == f"<https://e.x/u?id={encoded}>"


def test_a_bad_to_address_is_one_argument_error(campaign_csv: Path, queue_url: str) -> None:
    # When --to is not an address
    result = CliRunner().invoke(
        app,
        [
            "send-test",
            str(campaign_csv),
            "--to",
            "nobody",
            "--campaign",
            "spring",
            "--queue-url",
            queue_url,
            "--from",
            "news@example.com",
            "--template",
            "welcome",
        ],
    )

    # Then one line, exit 2, nothing sent
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --to: ")
    assert result.stderr.count("\n") == 1
    assert bodies(boto3.client("sqs"), queue_url) == []


def test_an_unknown_template_sends_nothing(campaign_csv: Path, queue_url: str) -> None:
    # When the template exists nowhere, then one line names it, and nothing is sent
    result = send_test(campaign_csv, queue_url, "--template", "nowhere")
    assert result.exit_code == 2
    assert "template nowhere" in result.stderr
    assert bodies(boto3.client("sqs"), queue_url) == []
