"""`enqueue` on whatever a file holds: one line per problem with its line number, never a
traceback; headers and delimiters as exports spell them; Ctrl-C and re-runs said plainly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from bulkmail import campaign, queues
from bulkmail.campaign import CampaignOptions, local_id_key, message_id, read_campaign
from bulkmail.cli import app
from bulkmail.local.stack_facts import LEDGER_TABLE, create_table
from tests.cli.queues import bodies

SENDER = "News <news@example.com>"
WITH_OPTIONS = ["--from", SENDER, "--template", "welcome"]


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs")


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return sqs.create_queue(QueueName="send")["QueueUrl"]


def enqueue(path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["enqueue", str(path), "--campaign", "spring", *args])


def problems(result: Any) -> list[str]:
    """The lines of stderr that report a problem (not the progress bar)."""
    return [line for line in result.stderr.splitlines() if line.startswith(("line ", "error"))]


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- bytes, nesting, surrogates: one refusal with its line number ---------------------------


def test_a_latin1_byte_in_jsonl_refuses_that_line_only(tmp_path: Path, queue_url: str) -> None:
    # Given three JSONL lines, the second holding a Latin-1 é (byte 0xe9)
    good = json.dumps({"to": "ann@example.org", "data": {"name": "Ann"}}).encode()
    bad = b'{"to": "bob@example.org", "data": {"name": "Ren\xe9"}}'
    path = tmp_path / "c.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b"ann", b"cat") + b"\n")

    # When it is enqueued
    result = enqueue(path, "--queue-url", queue_url, *WITH_OPTIONS)

    # Then line 2 is refused by one line naming the byte; the others are enqueued
    no_traceback(result)
    assert result.exit_code == 1
    assert problems(result) == ["line 2: body: not UTF-8 text (byte 0xe9 at column 48)"]
    assert "rows 3, enqueued 2, refused 1" in result.stdout


def test_a_lone_surrogate_escape_is_refused_with_its_line(tmp_path: Path, queue_url: str) -> None:
    # Given a JSONL line whose data holds an escaped lone surrogate (valid JSON, not Unicode)
    path = tmp_path / "c.jsonl"
    path.write_text('{"to": "ann@example.org", "data": {"name": "\\ud800"}}\n', encoding="utf-8")

    # When it is enqueued, then line 1 is refused in one line
    result = enqueue(path, "--queue-url", queue_url, *WITH_OPTIONS)
    no_traceback(result)
    assert result.exit_code == 1
    assert problems(result) == ["line 1: body: must be valid Unicode (no lone surrogate escapes)"]


@pytest.mark.parametrize("validate", [True, False], ids=["checked", "no-validate"])
def test_deep_nesting_is_refused_with_its_line(
    tmp_path: Path, queue_url: str, validate: bool
) -> None:
    # Given a JSONL line nested 100,000 levels deep (json raises RecursionError on it)
    path = tmp_path / "c.jsonl"
    deep = '{"to": "a@example.org", "data": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    ok = '{"to": "ok@example.org", "data": {"name": "Ok"}}'
    path.write_text(f"{ok}\n{deep}\n", encoding="utf-8")

    # When it is enqueued (with or without the checks)
    extra = [] if validate else ["--no-validate"]
    result = enqueue(path, "--queue-url", queue_url, *WITH_OPTIONS, *extra)

    # Then line 2 is refused in one line and line 1 goes out
    no_traceback(result)
    assert result.exit_code == 1
    assert problems(result) == ["line 2: body: nested too deeply"]
    assert [body["to"] for body in bodies(boto3.client("sqs"), queue_url)] == ["ok@example.org"]


def test_a_csv_bad_byte_on_line_5_is_reported_on_line_5(tmp_path: Path, queue_url: str) -> None:
    # Given a CSV whose line 5 holds a byte that is not UTF-8
    lines = [b"email,name", b"a@example.org,A", b"b@example.org,B", b"c@example.org,C"]
    lines += [b"d@example.org,Ren\xe9", b"e@example.org,E"]
    path = tmp_path / "c.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")

    # When it is enqueued
    result = enqueue(path, "--queue-url", queue_url, *WITH_OPTIONS)

    # Then line 5 alone is refused, naming the column and the byte; the four others go out
    no_traceback(result)
    assert result.exit_code == 1
    assert problems(result) == ["line 5: name: not UTF-8 text (byte 0xe9; save the file as UTF-8)"]
    assert "rows 5, enqueued 4, refused 1" in result.stdout


def test_a_cell_up_to_the_message_size_is_read(tmp_path: Path, queue_url: str) -> None:
    # Given a CSV with a 200 KB cell (over Python's default 128 KB field limit) and a 300 KB
    # one (over the queue's 256 KiB message size)
    path = tmp_path / "c.csv"
    path.write_text(
        f"email,name\na@example.org,{'x' * 200_000}\nb@example.org,{'y' * 300_000}\n"
        "c@example.org,short\n",
        encoding="utf-8",
    )

    # When it is enqueued
    result = enqueue(path, "--queue-url", queue_url, *WITH_OPTIONS)

    # Then the 200 KB row is enqueued, the 300 KB row alone refused for the message size
    no_traceback(result)
    assert result.exit_code == 1
    assert problems(result) == ["line 3: data: must serialise to at most 262144 characters"]
    sent = {
        body["to"]: len(body["data"]["name"]) for body in bodies(boto3.client("sqs"), queue_url)
    }
    assert sent == {"a@example.org": 200_000, "c@example.org": 5}


# --- headers and delimiters -------------------------------------------------------------------


@pytest.mark.parametrize("column", ["Email Address", "EMAIL", "e-mail", "E_Mail", " email "])
def test_the_address_column_is_found_as_exports_spell_it(tmp_path: Path, column: str) -> None:
    # Given a CSV whose address column is spelled as an export would
    path = tmp_path / "c.csv"
    path.write_text(f"{column},name\nann@example.org,Ann\n", encoding="utf-8")

    # When it is checked, then the address goes to `to` and the other column to data
    result = enqueue(path, "--dry-run", *WITH_OPTIONS)
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.split("first message: ", 1)[1])
    assert (first["to"], first["data"]) == ("ann@example.org", {"name": "Ann"})


@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "bar"])
def test_the_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    # Given a semicolon- (tab-, bar-) separated export, with a comma inside a value
    path = tmp_path / "c.csv"
    rows = ["Email", "name"], ["ann@example.org", "Ann, the first"], ["bob@example.org", "Bob"]
    path.write_text("".join(delimiter.join(row) + "\n" for row in rows), encoding="utf-8")

    # When it is checked, then both rows are read with their names whole
    result = enqueue(path, "--dry-run", *WITH_OPTIONS)
    assert result.exit_code == 0, result.output
    assert "rows 2, would enqueue 2, refused 0" in result.stdout
    first = json.loads(result.stdout.split("first message: ", 1)[1])
    assert first["data"] == {"name": "Ann, the first"}


def test_an_excel_export_with_a_byte_order_mark_and_crlf_is_read(tmp_path: Path) -> None:
    # Given a semicolon-separated export with a UTF-8 byte order mark and CRLF line ends
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbfE-Mail;name\r\nann@example.org;Ann\r\n")

    # When it is checked, then the first column is the address (the mark is not in its name)
    result = enqueue(path, "--dry-run", *WITH_OPTIONS)
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout.split("first message: ", 1)[1])
    assert (first["to"], first["data"]) == ("ann@example.org", {"name": "Ann"})


def test_no_address_column_lists_the_columns_found(tmp_path: Path) -> None:
    # Given a semicolon-separated CSV without any address column
    path = tmp_path / "c.csv"
    path.write_text("Contact;Name;City\nann@example.org;Ann;Oslo\n", encoding="utf-8")

    # When it is checked, then one line says what it looked for and what it found
    result = enqueue(path, "--dry-run", *WITH_OPTIONS)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "the columns found, split on ';': 'Contact', 'Name', 'City'" in result.stderr


def test_empty_files_behave_alike(tmp_path: Path) -> None:
    # Given an empty CSV, a CSV with only its header, and an empty JSONL file
    paths = [tmp_path / "empty.csv", tmp_path / "header.csv", tmp_path / "empty.jsonl"]
    paths[0].write_text("", encoding="utf-8")
    paths[1].write_text("email,name\n", encoding="utf-8")
    paths[2].write_text("\n", encoding="utf-8")

    # When each is checked
    results = [enqueue(path, "--dry-run", *WITH_OPTIONS) for path in paths]

    # Then each is the same one-line error, exit 2
    for path, result in zip(paths, results, strict=True):
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {path}: no rows: nothing to enqueue\n"


# --- options: one argument error, not one per row ------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "text"),
    [
        ("--from", "not an address", "--from: must be an email address"),
        ("--template", "bad name!", "--template: "),
    ],
)
def test_a_bad_from_or_template_is_one_argument_error(
    tmp_path: Path, option: str, value: str, text: str
) -> None:
    # Given a campaign of three rows
    path = tmp_path / "c.csv"
    path.write_text("email\na@example.org\nb@example.org\nc@example.org\n", encoding="utf-8")
    options = {"--from": SENDER, "--template": "welcome", option: value}

    # When it is checked with a bad --from (or --template)
    result = enqueue(path, "--dry-run", *[part for pair in options.items() for part in pair])

    # Then one line, exit 2, not one per row
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {text}")


# --- Ctrl-C and re-runs -----------------------------------------------------------------------


def campaign_of(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "c.csv"
    rows = "".join(f"user{n}@example.org,U{n}\n" for n in range(count))
    path.write_text(f"email,name\n{rows}", encoding="utf-8")
    return path


def test_ctrl_c_while_sending_prints_the_count_so_far_and_that_a_rerun_is_safe(
    tmp_path: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SendMessageBatch answers the first call, then the user presses Ctrl-C
    send_batch = queues.Enqueuer._send_batch
    calls = []

    def interrupted(self: Any, entries: list[dict[str, str]]) -> Any:
        calls.append(len(entries))
        if len(calls) > 1:
            raise KeyboardInterrupt
        return send_batch(self, entries)

    monkeypatch.setattr(queues.Enqueuer, "_send_batch", interrupted)

    # When 25 rows are enqueued one call at a time
    result = enqueue(
        campaign_of(tmp_path, 25), "--queue-url", queue_url, "--workers", "1", *WITH_OPTIONS
    )

    # Then the summary so far, and that running it again sends nothing twice; exit 130
    no_traceback(result)
    assert result.exit_code == 130
    assert "interrupted after enqueuing 10 of 25 (rows 25, refused 0" in result.stderr
    assert "Running the same command again sends nothing twice" in result.stderr
    assert len(bodies(boto3.client("sqs"), queue_url)) == 10


def test_ctrl_c_while_reading_says_nothing_was_enqueued(
    tmp_path: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the user presses Ctrl-C while the file is read
    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign, "read_campaign", interrupted)

    # When it is enqueued, then it says nothing was enqueued; exit 130
    result = enqueue(campaign_of(tmp_path, 3), "--queue-url", queue_url, *WITH_OPTIONS)
    assert result.exit_code == 130
    assert "interrupted while reading the file: nothing enqueued" in result.stderr
    assert bodies(boto3.client("sqs"), queue_url) == []


def test_a_rerun_says_how_many_the_sender_already_sent(tmp_path: Path, sqs: Any) -> None:
    # Given a stack whose idempotency ledger holds 2 of the campaign's 5 ids as sent
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "IdempotencyTable1A2B3C": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
            },
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
    }
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="Bulk", TemplateBody=json.dumps(template))
    resources = cloudformation.list_stack_resources(StackName="Bulk")["StackResourceSummaries"]
    table = next(r for r in resources if r["ResourceType"] == "AWS::DynamoDB::Table")
    dynamodb = boto3.client("dynamodb")
    for n, status in [(0, "COMPLETED"), (3, "COMPLETED"), (4, "IN_PROGRESS")]:
        email_id = message_id("spring", [f"user{n}@example.org"], local_id_key())
        dynamodb.put_item(
            TableName=table["PhysicalResourceId"],
            Item={"id": {"S": email_id}, "status": {"S": status}},
        )

    # When the campaign is enqueued again
    result = enqueue(campaign_of(tmp_path, 5), "--stack", "Bulk", *WITH_OPTIONS)

    # Then it says how many were sent already and enqueues only the others: each email is
    # enqueued (and counted) once however often its row is offered
    assert result.exit_code == 0, result.output
    assert "2 already sent in this campaign: not enqueued again" in result.stdout
    assert "rows 5, enqueued 3, refused 0, already sent 2" in result.stdout


def test_a_rerun_finds_the_ledger_by_the_stacks_idempotency_table_output(
    tmp_path: Path, sqs: Any
) -> None:
    # Given a stack that names its idempotency table in the IdempotencyTableName output (the
    # table's logical id says nothing), the ledger holding 1 of the campaign's 3 ids as sent
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb, "ledger-named-by-output", LEDGER_TABLE)
    email_id = message_id("spring", ["user1@example.org"], local_id_key())
    dynamodb.put_item(
        TableName="ledger-named-by-output",
        Item={"id": {"S": email_id}, "status": {"S": "COMPLETED"}},
    )
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "QueueUrl": {"Value": {"Ref": "Queue"}},
            "IdempotencyTableName": {"Value": "ledger-named-by-output"},
        },
    }
    boto3.client("cloudformation").create_stack(StackName="Bulk", TemplateBody=json.dumps(template))

    # When the campaign is enqueued again
    result = enqueue(campaign_of(tmp_path, 3), "--stack", "Bulk", *WITH_OPTIONS)

    # Then the re-run count comes from the table the output names
    assert result.exit_code == 0, result.output
    assert "1 already sent in this campaign: not enqueued again" in result.stdout


def test_a_ledger_that_cannot_be_read_leaves_the_rerun_count_out(
    tmp_path: Path, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack whose idempotency table cannot be read (here: it does not exist)
    queue = sqs.create_queue(QueueName="send")["QueueUrl"]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"QueueUrl": {"Value": queue}},
    }
    boto3.client("cloudformation").create_stack(StackName="Bulk", TemplateBody=json.dumps(template))
    monkeypatch.setattr("bulkmail.target.ledger_table", lambda **_: "gone")

    # When the campaign is enqueued
    result = enqueue(campaign_of(tmp_path, 3), "--stack", "Bulk", *WITH_OPTIONS)

    # Then it warns once and enqueues everything
    assert result.exit_code == 0, result.output
    assert "warning: cannot read the idempotency table (ResourceNotFoundException)" in (
        result.stderr
    )
    assert "rows 3, enqueued 3, refused 0" in result.stdout


def test_without_id_key_or_stack_ids_use_this_machines_own_random_key(tmp_path, monkeypatch):
    # Given no --id-key and no stack, and no key file yet
    key_file = tmp_path / "config" / "id-key"
    monkeypatch.setenv("BULKMAIL_ID_KEY_FILE", str(key_file))
    options = CampaignOptions(campaign="spring", from_address="a@example.com", template="t")
    path = tmp_path / "c.csv"
    path.write_text("email\nann@example.org\n", encoding="utf-8")
    # When a campaign is read twice
    first = json.loads(read_campaign(path, options)[0].body)["id"]
    second = json.loads(read_campaign(path, options)[0].body)["id"]
    # Then a random key was made once, kept for this user only, and keys both reads alike
    assert first == second
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) == 64
    # And the id is not the one a public constant would give (nobody can recompute it)
    assert first != message_id("spring", ["ann@example.org"], b"bulkmail-default-id-key")
    assert first == message_id("spring", ["ann@example.org"], key_file.read_text().strip().encode())
