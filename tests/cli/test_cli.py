"""The command line: arguments, campaign files, ids and headers, the DLQ tools (moto in process)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail.campaign import CampaignOptions, message_id, read_campaign
from bulkmail.cli import app
from tests.cli.queues import bodies, received

SENDER = "News <news@example.com>"
CSV_OPTIONS = ["--from", SENDER, "--template", "welcome"]
ID = re.compile(r"^spring:[0-9a-f]{32}$")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in process: no client may be pointed at a server."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return sqs.create_queue(QueueName="send")["QueueUrl"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def campaign_csv(tmp_path: Path) -> Path:
    """Given four rows, one of them not an address (line 4)."""
    return write(
        tmp_path / "spring.csv",
        "email,name\nann@example.org,Ann\nBob <bob@example.org>,Bob\nnot-an-address,X\n"
        "chloe@example.org,Chloé\n",
    )


def invoke(runner: CliRunner, *args: str, **kwargs: Any) -> Any:
    return runner.invoke(app, list(args), **kwargs)


def assert_one_line_error(result: Any, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert text in result.stderr
    assert "Traceback" not in result.output


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["enqueue"],
        ["dlq"],
        ["dlq", "show"],
        ["dlq", "redrive"],
        ["demo"],
        ["local"],
        ["doctor"],
        ["send-test"],
    ],
    ids=lambda c: " ".join(c) or "top",
)
def test_every_help_says_what_it_does_with_an_example(runner: CliRunner, command: list) -> None:
    # When a command's help is asked for
    result = invoke(runner, *command, "--help")

    # Then it exits 0 and shows an example command line
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "python -m bulkmail " in result.output


# --- bad arguments and input ----------------------------------------------------------------


def test_a_missing_file_is_a_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    # Given a file that does not exist, when it is enqueued
    result = invoke(
        runner,
        "enqueue",
        str(tmp_path / "missing.csv"),
        "--campaign",
        "spring",
        "--queue-url",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/send",
        *CSV_OPTIONS,
    )

    # Then one line says so, exit code 2
    assert_one_line_error(result, "missing.csv: no such file")


def test_no_queue_given_is_a_one_line_error(runner: CliRunner, campaign_csv: Path) -> None:
    # When a campaign is enqueued without --queue-url or --stack
    result = invoke(runner, "enqueue", str(campaign_csv), "--campaign", "spring", *CSV_OPTIONS)

    # Then one line names the options to use
    assert_one_line_error(result, "no queue given: use --queue-url URL, --stack NAME or --local")


def test_a_csv_without_an_email_column_is_a_one_line_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Given a CSV whose header has no address column
    path = write(tmp_path / "bad.csv", "contact,name\nann@example.org,Ann\n")

    # When it is checked, then one line says what is missing and lists the columns found
    result = invoke(runner, "enqueue", str(path), "--campaign", "s", "--dry-run", *CSV_OPTIONS)
    assert_one_line_error(result, "no address column (one named email, Email Address")
    assert "the columns found, split on ',': 'contact', 'name'" in result.stderr


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--queue-url", "sqs/send"], "--queue-url: not an SQS queue URL"),
        (["--campaign", "has space"], "--campaign: must match"),
        (["--unsubscribe-url", "https://example.com/u"], "--unsubscribe-url: must contain {id}"),
        (["--content-file", "nope.json"], "--content-file: nope.json: no such file"),
        (["--bogus"], "No such option: --bogus"),
    ],
    ids=["queue-url", "campaign", "unsubscribe-url", "content-file", "unknown-option"],
)
def test_bad_options_are_one_line_errors(
    runner: CliRunner, campaign_csv: Path, args: list[str], text: str
) -> None:
    # Given a bad option among good ones
    base = {"--campaign": "spring", "--queue-url": "https://sqs.eu-west-1.amazonaws.com/1/send"}
    options = [part for name, value in base.items() if name not in args for part in (name, value)]

    # When the command runs, then it stops with one line naming the option
    result = invoke(runner, "enqueue", str(campaign_csv), *options, *CSV_OPTIONS, *args)
    assert_one_line_error(result, text)


def test_an_unknown_stack_is_a_one_line_error(runner: CliRunner, sqs: Any) -> None:
    # Given no CloudFormation stack named Nope, when the DLQ is read from it
    result = invoke(runner, "dlq", "show", "--stack", "Nope")

    # Then one line says the stack does not exist
    assert_one_line_error(result, "--stack: no stack named 'Nope'")


def test_a_queue_that_does_not_exist_is_a_one_line_error(
    runner: CliRunner, campaign_csv: Path, sqs: Any
) -> None:
    # Given a well-formed URL of a queue that does not exist
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/nope"

    # When a campaign is enqueued onto it, then one line says so
    result = invoke(
        runner, "enqueue", str(campaign_csv), "--campaign", "s", "--queue-url", url, *CSV_OPTIONS
    )
    assert_one_line_error(result, "no such queue")


def test_a_bad_jsonl_line_is_refused_with_its_line_and_the_others_are_sent(
    runner: CliRunner, tmp_path: Path, sqs: Any, queue_url: str
) -> None:
    # Given a JSONL campaign whose second line is not JSON and third has an unknown field
    good = {"to": "ann@example.org", "from": SENDER, "template": "welcome", "data": {"name": "A"}}
    path = write(
        tmp_path / "c.jsonl",
        f'{json.dumps(good)}\n{{"to": "bob@example.org", \n'
        f"{json.dumps({**good, 'to': 'cy@example.org', 'subjcet': 'x'})}\n",
    )

    # When it is enqueued
    result = invoke(runner, "enqueue", str(path), "--campaign", "spring", "--queue-url", queue_url)

    # Then exit code 1, each bad line reported by number and reason, the good one sent
    assert result.exit_code == 1
    assert "line 2: body: must be valid JSON" in result.stderr
    assert "line 3: subjcet: unknown field" in result.stderr
    assert "rows 3, enqueued 1, refused 2" in result.stdout
    assert [body["to"] for body in bodies(sqs, queue_url)] == ["ann@example.org"]


# --- enqueue --------------------------------------------------------------------------------


def test_enqueue_sends_valid_rows_and_refuses_bad_ones_with_line_numbers(
    runner: CliRunner, campaign_csv: Path, sqs: Any, queue_url: str
) -> None:
    # When the campaign is enqueued
    result = invoke(
        runner,
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "spring",
        "--queue-url",
        queue_url,
        *CSV_OPTIONS,
    )

    # Then the bad row is named by line and reason, the others are on the queue, exit code 1
    assert result.exit_code == 1
    assert "line 4: to[0]: must be an email address (local@domain)" in result.stderr
    assert "rows 4, enqueued 3, refused 1" in result.stdout
    sent = {body["to"]: body for body in bodies(sqs, queue_url)}
    assert set(sent) == {"ann@example.org", "Bob <bob@example.org>", "chloe@example.org"}
    chloe = sent["chloe@example.org"]
    assert chloe["from"] == SENDER
    assert chloe["template"] == "welcome"
    assert chloe["data"] == {"name": "Chloé"}
    assert chloe["tags"] == {"campaign": "spring"}
    assert ID.match(chloe["id"])


def test_a_clean_campaign_exits_zero(
    runner: CliRunner, tmp_path: Path, sqs: Any, queue_url: str
) -> None:
    # Given a campaign without bad rows, and inline content instead of a template
    path = write(tmp_path / "ok.csv", "email,name\nann@example.org,Ann\n")
    content = write(
        tmp_path / "content.json", json.dumps({"subject": "Hi {{name}}", "text": "Hello {{name}}"})
    )

    # When it is enqueued
    result = invoke(
        runner,
        "enqueue",
        str(path),
        "--campaign",
        "spring",
        "--queue-url",
        queue_url,
        "--from",
        SENDER,
        "--content-file",
        str(content),
    )

    # Then exit code 0 and the message carries the inline content
    assert result.exit_code == 0, result.output
    (body,) = bodies(sqs, queue_url)
    assert body["content"] == {"subject": "Hi {{name}}", "text": "Hello {{name}}"}
    assert "template" not in body


def test_dry_run_sends_nothing(
    runner: CliRunner, campaign_csv: Path, sqs: Any, queue_url: str
) -> None:
    # When the campaign is enqueued with --dry-run
    result = invoke(
        runner,
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "spring",
        "--queue-url",
        queue_url,
        "--dry-run",
        *CSV_OPTIONS,
    )

    # Then it reports what it would do, and the queue stays empty
    assert "dry run: rows 4, would enqueue 3, refused 1" in result.stdout
    assert result.exit_code == 1  # a refused row
    assert received(sqs, queue_url) == []


def test_ids_are_deterministic_keyed_and_hold_no_address(
    runner: CliRunner,
    campaign_csv: Path,
    sqs: Any,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the same campaign enqueued twice with one key, and once with another
    def ids(*extra: str) -> list[str]:
        invoke(
            runner,
            "enqueue",
            str(campaign_csv),
            "--campaign",
            "spring",
            "--queue-url",
            queue_url,
            *CSV_OPTIONS,
            *extra,
        )
        return sorted(body["id"] for body in bodies(sqs, queue_url))

    first = ids("--id-key", "k1")
    again = ids("--id-key", "k1")
    monkeypatch.setenv("BULKMAIL_ID_KEY", "k1")
    from_env = ids()
    other = ids("--id-key", "k2")

    # Then the ids repeat, the env var is the same key, another key gives others
    assert first == again == from_env
    assert set(first).isdisjoint(other)
    assert all(ID.match(i) and "@" not in i for i in first)
    # ... and an id is the campaign and the keyed hash of the lower-cased address
    assert message_id("spring", ["Bob <BOB@example.org>"], b"k1") in first


def test_one_recipient_twice_in_a_campaign_is_refused(tmp_path: Path) -> None:
    # Given a CSV with the same address twice (in another case)
    path = write(tmp_path / "c.csv", "email\nann@example.org\nANN@example.org\n")

    # When it is read, then the second is refused as a duplicate of the first
    rows = read_campaign(path, CampaignOptions("spring", SENDER, "welcome"))
    assert [row.error for row in rows] == [
        None,
        "id: same as line 2 (same recipient, same campaign)",
    ]


def test_the_cli_checks_addresses_with_the_lambdas_schema(tmp_path: Path) -> None:
    # Given rows with a reserved domain, a numeric top-level domain, a character IDNA 2008
    # forbids, and an international domain (the Lambda's schema decides each)
    path = write(
        tmp_path / "c.csv",
        "email\nann@shop.invalid\nbob@example.123\nme@\u24887example.com\nanna@straße.de\n",
    )
    # When it is read
    rows = read_campaign(path, CampaignOptions("spring", SENDER, "welcome"))
    # Then the first three are refused with the schema's rules, the last is kept as typed
    assert [row.error for row in rows[:3]] == [
        "to[0]: domain is reserved for special use and receives no mail (RFC 6761)",
        "to[0]: domain must be a valid DNS name (IDNA 2008)",
        "to[0]: domain must be a valid DNS name (IDNA 2008)",
    ]
    assert json.loads(rows[3].body)["to"] in ("anna@straße.de", ["anna@straße.de"])


def test_unsubscribe_headers_come_in_rfc_8058_order_with_the_encoded_id(
    runner: CliRunner, campaign_csv: Path, sqs: Any, queue_url: str
) -> None:
    # When the campaign is enqueued with an unsubscribe URL template
    invoke(
        runner,
        "enqueue",
        str(campaign_csv),
        "--campaign",
        "spring",
        "--queue-url",
        queue_url,
        "--unsubscribe-url",
        "https://example.com/u?id={id}",
        *CSV_OPTIONS,
    )

    # Then each message has List-Unsubscribe then List-Unsubscribe-Post, its own id encoded
    for body in bodies(sqs, queue_url):
        assert list(body["headers"].items()) == [
            ("List-Unsubscribe", f"<https://example.com/u?id={body['id'].replace(':', '%3A')}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]


def test_no_validate_puts_raw_lines_on_the_queue(
    runner: CliRunner, tmp_path: Path, sqs: Any, queue_url: str
) -> None:
    # Given lines the checks would refuse: not JSON, and an unknown field
    lines = '{"to": "x@example.org",\n{"to": "y@example.org", "a": 1}\n'
    path = write(tmp_path / "raw.jsonl", lines)

    # When they are enqueued with --no-validate
    result = invoke(
        runner, "enqueue", str(path), "--campaign", "raw", "--queue-url", queue_url, "--no-validate"
    )

    # Then both are sent: the first as it is, the second with the campaign's tag and id
    assert result.exit_code == 0, result.output
    broken, decorated = sorted(m["Body"] for m in received(sqs, queue_url))
    assert broken == '{"to": "x@example.org",'
    assert decorated.startswith('{"to":"y@example.org","a":1,"tags":{"campaign":"raw"},"id":"raw:')


# --- the DLQ --------------------------------------------------------------------------------


def dlq_message(sqs: Any, url: str, body: str, code: str | None, **extra: str) -> None:
    attributes = {name: value for name, value in extra.items()}
    if code:
        attributes |= {
            "ErrorCode": code,
            "ErrorMessage": f"{code}: reason",
            "SourceMessageId": "m-1",
            "FailedAt": "2025-01-01T00:00:00.000Z",
        }
    sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )


@pytest.fixture
def dlq_url(sqs: Any) -> str:
    """Given a DLQ with 2 InvalidMessage, 1 MESSAGE_REJECTED and 2 moved by the redrive policy."""
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    for n, code in enumerate(["InvalidMessage", "InvalidMessage", "MESSAGE_REJECTED", None, None]):
        dlq_message(sqs, url, f'{{"n": {n}}}', code, Origin="app")
    return url


def test_dlq_show_counts_by_error_code_and_leaves_every_message_visible(
    runner: CliRunner, sqs: Any, dlq_url: str
) -> None:
    # When the DLQ is shown twice in a row
    first = invoke(runner, "dlq", "show", "--dlq-url", dlq_url)
    second = invoke(runner, "dlq", "show", "--dlq-url", dlq_url)

    # Then it counts by ErrorCode (SES's UPPER_SNAKE statuses named as its API errors),
    # without one as RetriesExhausted, shows samples, says it sampled
    assert first.exit_code == 0, first.output
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", first.stdout, re.MULTILINE))
    assert counts == {"InvalidMessage": "2", "RetriesExhausted": "2", "MessageRejected": "1"}
    assert "sampled 5 (received, NOT deleted, and visible again now" in first.stdout
    # ... and the second sees the same five: the first left them all visible
    assert second.stdout == first.stdout
    attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "5"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_dlq_show_names_each_samples_campaign_and_id(runner: CliRunner, sqs: Any) -> None:
    # Given a dead letter from campaign spring, and one whose body is not JSON
    url = sqs.create_queue(QueueName="named-dlq")["QueueUrl"]
    body = {"to": "a@example.org", "tags": {"campaign": "spring"}, "id": "spring:abc"}
    dlq_message(sqs, url, json.dumps(body), "MESSAGE_REJECTED")
    dlq_message(sqs, url, "{not json", "InvalidMessage")

    # When the DLQ is shown
    result = invoke(runner, "dlq", "show", "--dlq-url", url)

    # Then each sample names its campaign and id (a dash where the body has none)
    assert result.exit_code == 0, result.output
    assert (
        "[MessageRejected] campaign spring, id spring:abc, SQS message m-1 at "
        "2025-01-01T00:00:00.000Z: MESSAGE_REJECTED: reason"
    ) in result.stdout
    assert "[InvalidMessage] campaign -, id -, SQS message m-1" in result.stdout
    assert "a@example.org" not in result.stdout


def test_dlq_redrive_right_after_show_moves_everything(
    runner: CliRunner, sqs: Any, dlq_url: str, queue_url: str
) -> None:
    # Given the DLQ was just shown
    assert invoke(runner, "dlq", "show", "--dlq-url", dlq_url).exit_code == 0

    # When it is redriven, then all five move
    result = invoke(runner, "dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url, "-y")
    assert result.exit_code == 0, result.output
    assert f"moved 5 message(s) to {queue_url}" in result.stdout


def test_dlq_redrive_says_when_messages_in_flight_were_left(
    runner: CliRunner, sqs: Any, dlq_url: str, queue_url: str
) -> None:
    # Given another reader holds two of the five DLQ messages
    held = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=2, VisibilityTimeout=300)
    assert len(held["Messages"]) == 2

    # When the DLQ is redriven, then three move and it says the others were in flight
    result = invoke(runner, "dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url, "-y")
    assert result.exit_code == 0, result.output
    assert f"moved 3 message(s) to {queue_url}" in result.stdout
    assert "note: the DLQ held about 5; the others were in flight" in result.stderr


def test_dlq_redrive_by_code_moves_only_those(
    runner: CliRunner, sqs: Any, dlq_url: str, queue_url: str
) -> None:
    # When only the RetriesExhausted messages are redriven
    result = invoke(
        runner,
        "dlq",
        "redrive",
        "--dlq-url",
        dlq_url,
        "--queue-url",
        queue_url,
        "--code",
        "RetriesExhausted",
        "-y",
    )

    # Then those two move, and the three others stay on the DLQ, visible
    assert result.exit_code == 0, result.output
    assert "moved 2 message(s) with ErrorCode RetriesExhausted" in result.stdout
    assert "3 other(s) left on the DLQ" in result.stdout
    assert sorted(m["Body"] for m in received(sqs, queue_url)) == ['{"n": 3}', '{"n": 4}']
    left = received(sqs, dlq_url)
    assert sorted(m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in left) == [
        "InvalidMessage",
        "InvalidMessage",
        "MESSAGE_REJECTED",
    ]


@pytest.mark.parametrize("code", ["MessageRejected", "MESSAGE_REJECTED"])
def test_ses_s_two_names_of_a_rejection_are_one_reason_to_show_and_to_redrive(
    runner: CliRunner, sqs: Any, queue_url: str, code: str
) -> None:
    # Given a DLQ with an entry SES rejected (MESSAGE_REJECTED) and a call it refused
    # (MessageRejected): one reason under two spellings
    url = sqs.create_queue(QueueName="two-names-dlq")["QueueUrl"]
    dlq_message(sqs, url, '{"n": 1}', "MESSAGE_REJECTED")
    dlq_message(sqs, url, '{"n": 2}', "MessageRejected")
    dlq_message(sqs, url, '{"n": 3}', "InvalidMessage")
    # When it is shown, then the reason is counted once, with both
    shown = invoke(runner, "dlq", "show", "--dlq-url", url)
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", shown.stdout, re.MULTILINE))
    assert counts == {"MessageRejected": "2", "InvalidMessage": "1"}
    # And a redrive of that reason, under either spelling, moves both
    moved = invoke(
        runner, "dlq", "redrive", "--dlq-url", url, "--queue-url", queue_url, "--code", code, "-y"
    )
    assert moved.exit_code == 0, moved.output
    assert sorted(m["Body"] for m in received(sqs, queue_url)) == ['{"n": 1}', '{"n": 2}']


def test_dlq_redrive_into_the_dlq_itself_is_refused(
    runner: CliRunner, sqs: Any, dlq_url: str
) -> None:
    # When the destination given is the DLQ
    result = invoke(runner, "dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", dlq_url, "-y")

    # Then one line refuses it, and nothing moved
    assert_one_line_error(result, "the destination is the DLQ itself")
    assert len(received(sqs, dlq_url)) == 5


def test_dlq_redrive_moves_everything_back_without_the_handlers_attributes(
    runner: CliRunner, sqs: Any, dlq_url: str, queue_url: str
) -> None:
    # When the DLQ is redriven with --yes (moto has no message move task: the fallback runs)
    result = invoke(runner, "dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url, "-y")

    # Then the destination is named, every message moved with its body and its own attributes
    assert result.exit_code == 0, result.output
    assert f"destination: {queue_url}" in result.stdout
    assert f"moved 5 message(s) to {queue_url}" in result.stdout
    moved = received(sqs, queue_url)
    assert sorted(m["Body"] for m in moved) == [f'{{"n": {n}}}' for n in range(5)]
    assert all(set(m["MessageAttributes"]) == {"Origin"} for m in moved)
    assert received(sqs, dlq_url) == []


def test_dlq_redrive_splits_large_bodies_across_calls(
    runner: CliRunner, sqs: Any, queue_url: str
) -> None:
    # Given a DLQ holding three 100 KB messages (more than one SendMessageBatch may carry)
    dlq = sqs.create_queue(QueueName="big-dlq")["QueueUrl"]
    for n in range(3):
        dlq_message(sqs, dlq, json.dumps({"n": n, "pad": "x" * 100_000}), "InvalidMessage")

    # When the DLQ is redriven, watching each SendMessageBatch's payload
    payloads: list[int] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        payloads.append(sum(len(e["MessageBody"].encode()) for e in params["Entries"]))

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("provide-client-params.sqs.SendMessageBatch", watch)
    result = invoke(runner, "dlq", "redrive", "--dlq-url", dlq, "--queue-url", queue_url, "-y")

    # Then all three moved, in calls within SendMessageBatch's 256 KiB
    assert result.exit_code == 0, result.output
    assert len(payloads) == 2
    assert max(payloads) <= 262_144
    assert sorted(json.loads(m["Body"])["n"] for m in received(sqs, queue_url)) == [0, 1, 2]
    assert received(sqs, dlq) == []


def test_dlq_redrive_asks_first(runner: CliRunner, sqs: Any, dlq_url: str, queue_url: str) -> None:
    # When the redrive is not confirmed
    result = invoke(
        runner, "dlq", "redrive", "--dlq-url", dlq_url, "--queue-url", queue_url, input="n\n"
    )

    # Then it names the destination, stops with exit code 1 and moves nothing
    assert result.exit_code == 1
    assert f"destination: {queue_url}" in result.stdout
    assert "error: aborted" in result.stderr
    assert received(sqs, queue_url) == []


def test_stack_outputs_name_the_queues(runner: CliRunner, sqs: Any, dlq_url: str) -> None:
    # Given a CloudFormation stack whose outputs name the queues
    queue = sqs.create_queue(QueueName="send")["QueueUrl"]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"QueueUrl": {"Value": queue}, "DlqUrl": {"Value": dlq_url}},
    }
    boto3.client("cloudformation").create_stack(
        StackName="BulkEmail", TemplateBody=json.dumps(template)
    )

    # When the DLQ is redriven by --stack
    result = invoke(runner, "dlq", "redrive", "--stack", "BulkEmail", "--yes")

    # Then the stack's queues are used
    assert result.exit_code == 0, result.output
    assert f"destination: {queue}" in result.stdout
    assert len(received(sqs, queue)) == 5
