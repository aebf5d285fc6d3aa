"""`suppress add|remove|check|list`, and `enqueue --stack` skipping suppressed recipients."""

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
from bulk_sender.recipient_hash import Keys, recipient_hash
from bulkmail.campaign import message_id
from bulkmail.cli import app
from bulkmail.local.stack_facts import SUPPRESSION_TABLE, create_table
from tests.cli.queues import bodies

SECRET = "z" * 64
KEYS = Keys.from_secret(SECRET)
SENDER = "News <news@example.com>"


@pytest.fixture(autouse=True)
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("BULKMAIL_ID_KEY", raising=False)


@pytest.fixture
def stack() -> Iterator[dict[str, str]]:
    """Given, in moto, a stack whose outputs name a queue, the suppression table and secret."""
    with mock_aws():
        queue = boto3.client("sqs").create_queue(QueueName="send")["QueueUrl"]
        create_table(boto3.client("dynamodb"), "suppression", SUPPRESSION_TABLE)
        arn = boto3.client("secretsmanager").create_secret(Name="u", SecretString=SECRET)["ARN"]
        outputs = {"QueueUrl": queue, "SuppressionTableName": "suppression"}
        outputs["UnsubscribeSecretArn"] = arn
        outputs["UnsubscribeUrl"] = "https://abc.execute-api.eu-west-1.amazonaws.com/unsubscribe"
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        boto3.client("cloudformation").create_stack(
            StackName="BulkEmail", TemplateBody=json.dumps(template)
        )
        yield outputs


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def stored() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName="suppression")["Items"]


def test_add_stores_only_the_keyed_hash_and_check_finds_it(stack):
    # When an address is suppressed on "news"
    added = run(
        "suppress", "add", "Ann <ANN@example.org>", "--list", "news", "--stack", "BulkEmail"
    )
    # Then the table holds its keyed hash (the deployed secret's) on "news", no address
    assert added.exit_code == 0, added.output
    assert "suppressed 1 on list news (0 already were)" in added.stdout
    (item,) = stored()
    assert item["h"]["S"] == recipient_hash(KEYS.hash_key, ["ann@example.org"])
    assert item["list"]["S"] == "news"
    assert item["source"]["S"] == "cli"
    assert "@" not in json.dumps(item)
    # And adding it again changes nothing
    again = run("suppress", "add", "ann@example.org", "--list", "news", "--stack", "BulkEmail")
    assert "suppressed 0 on list news (1 already were)" in again.stdout
    # And check finds it on "news" (exit 1), not on "offers" unless it is suppressed from all
    on_news = run("suppress", "check", "ann@example.org", "--list", "news", "--stack", "BulkEmail")
    assert on_news.exit_code == 1
    assert "ann@example.org: suppressed (list news)" in on_news.stdout
    offers = run("suppress", "check", "ann@example.org", "--list", "offers", "--stack", "BulkEmail")
    assert offers.exit_code == 0
    assert "ann@example.org: not suppressed" in offers.stdout


def test_all_covers_every_list_and_remove_lifts_only_the_named_list(stack):
    run("suppress", "add", "bob@example.org", "--stack", "BulkEmail")  # --list all
    check = run("suppress", "check", "bob@example.org", "--list", "offers", "--stack", "BulkEmail")
    assert "bob@example.org: suppressed (list all)" in check.stdout
    # When it is removed from "offers" (where it was never added), then "all" still holds
    removed = run(
        "suppress", "remove", "bob@example.org", "--list", "offers", "--stack", "BulkEmail"
    )
    assert "lifted 0 on list offers (1 were not suppressed)" in removed.stdout
    assert len(stored()) == 1
    # And removed from "all", it is gone
    removed = run("suppress", "remove", "bob@example.org", "--stack", "BulkEmail")
    assert "lifted 1 on list all" in removed.stdout
    assert stored() == []


def test_list_shows_hashes_and_lists_only(stack):
    run(
        "suppress",
        "add",
        "ann@example.org",
        "bob@example.org",
        "--list",
        "news",
        "--stack",
        "BulkEmail",
    )
    listed = run("suppress", "list", "--stack", "BulkEmail")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.split()[1] == "news" for line in lines[:2])
    assert {line.split()[0] for line in lines[:2]} == {
        recipient_hash(KEYS.hash_key, [a]) for a in ("ann@example.org", "bob@example.org")
    }
    assert lines[2] == "2 suppression(s); hashes only: the table holds no address"
    assert "@" not in listed.stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["add", "not-an-address", "--stack", "BulkEmail"], "address 1: must be an email address"),
        (["add", "a@example.org", "--list", "a b", "--stack", "BulkEmail"], "--list: must match"),
        (["add", "a@example.org"], "no suppression list given: use --stack NAME"),
    ],
)
def test_bad_input_is_a_one_line_error(stack, args, error):
    result = run("suppress", *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert error in result.stderr


def test_a_stack_without_the_outputs_is_a_one_line_error(stack):
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="Old",
            TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}),
        )
        result = run("suppress", "list", "--stack", "Old")
    assert result.exit_code == 2
    assert "stack 'Old' has no output UnsubscribeSecretArn" in result.stderr


def test_enqueue_with_the_stack_skips_suppressed_recipients_and_says_how_many(
    stack, tmp_path: Path
):
    # Given a campaign of three, one of whom unsubscribed from everything
    run("suppress", "add", "bob@example.org", "--stack", "BulkEmail")
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\nBob@example.org,Bob\nchloe@example.org,C\n")
    # When it is enqueued by --stack
    result = run(
        "enqueue", str(path), "--campaign", "spring", "--stack", "BulkEmail",
        "--from", SENDER, "--template", "welcome",
    )  # fmt: skip
    # Then the suppressed one is not put on the queue, and the summary says so
    assert result.exit_code == 0, result.output
    assert "rows 3, enqueued 2, refused 0, suppressed 1" in result.stdout
    sent = bodies(boto3.client("sqs"), stack["QueueUrl"])
    assert sorted(body["to"] for body in sent) == ["ann@example.org", "chloe@example.org"]
    # And the ids are keyed by the stack's secret: h is each recipient's suppression key
    assert {body["id"] for body in sent} == {
        message_id("spring", ["ann@example.org"], KEYS.hash_key),
        message_id("spring", ["chloe@example.org"], KEYS.hash_key),
    }


def test_enqueue_with_a_queue_url_and_an_own_mailto_link_adds_no_post_header(stack, tmp_path: Path):
    # Given a user who hosts their own unsubscribe by mail
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\n")
    # When they enqueue by --queue-url with a mailto link
    result = run(
        "enqueue", str(path), "--campaign", "spring", "--queue-url", stack["QueueUrl"],
        "--from", SENDER, "--template", "welcome",
        "--unsubscribe-url", "mailto:unsubscribe@example.com?subject={id}",
    )  # fmt: skip
    # Then the message has List-Unsubscribe only (RFC 8058's Post is for HTTPS), and the body link
    assert result.exit_code == 0, result.output
    (body,) = bodies(boto3.client("sqs"), stack["QueueUrl"])
    link = f"mailto:unsubscribe@example.com?subject={body['id'].replace(':', '%3A')}"
    assert body["headers"] == {"List-Unsubscribe": f"<{link}>"}
    assert body["data"]["unsubscribe_url"] == link


def test_a_template_that_requires_the_link_passes_the_check_only_where_the_sender_adds_it(
    stack, tmp_path: Path
):
    # Given a template whose text needs {{unsubscribe_url}} outside any conditional
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "footer.json").write_text(
        json.dumps({"subject": "Hi", "text": "Bye: {{unsubscribe_url}}"})
    )
    path = tmp_path / "c.csv"
    path.write_text("email\nann@example.org\n")
    common = ["--campaign", "s", "--from", SENDER, "--template", "footer"]
    common += ["--templates-dir", str(templates)]
    # When it is enqueued by --stack (whose sender adds the link), and by --queue-url alone
    by_stack = run("enqueue", str(path), *common, "--stack", "BulkEmail")
    by_url = run("enqueue", str(path), *common, "--queue-url", stack["QueueUrl"])
    # Then the row passes with the stack, and is refused where nothing adds the variable
    assert by_stack.exit_code == 0, by_stack.output
    assert "rows 1, enqueued 1, refused 0, suppressed 0" in by_stack.stdout
    assert by_url.exit_code == 1
    assert "line 2: data: lacks unsubscribe_url required by footer" in by_url.stderr


@pytest.mark.parametrize("command", ["add", "remove", "check", "list", None])
def test_every_suppress_help_says_what_it_does_with_an_example(command):
    result = run("suppress", *([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "python -m bulkmail suppress" in result.output


def test_enqueue_by_a_stack_deployed_before_the_suppression_list_still_works(stack, tmp_path: Path):
    # Given a stack whose outputs name the queue only (deployed before this version)
    template = {
        "Resources": {"T": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"QueueUrl": {"Value": stack["QueueUrl"]}},
    }
    boto3.client("cloudformation").create_stack(StackName="Old", TemplateBody=json.dumps(template))
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\n")
    # When a campaign is enqueued by it
    result = run(
        "enqueue", str(path), "--campaign", "s", "--stack", "Old",
        "--from", SENDER, "--template", "welcome",
    )  # fmt: skip
    # Then it is enqueued, with no suppression count (there is no list to check)
    assert result.exit_code == 0, result.output
    assert "rows 1, enqueued 1, refused 0 (onto" in result.stdout


@pytest.mark.parametrize(
    "address", ["ann@straße.de", '"ann"@bücher.example', "Ann <ANN@Straße.de>"]
)
def test_a_suppression_names_the_recipient_the_sender_hashes(stack, address):
    # Given an address with an international domain or needless quotes, as a user types it
    # When it is suppressed with the CLI
    added = run("suppress", "add", address, "--stack", "BulkEmail")
    assert added.exit_code == 0, added.output
    # Then the stored hash is the one the sender computes for the address it sends to (IDNA
    # 2008: straße.de is xn--strae-oqa.de, not strasse.de, another registrant's domain)
    sent_to = parse_message(
        json.dumps({"to": address, "from": SENDER, "template": "t"}),
        message_id="m",
        defaults=Defaults(),
    ).to[0]
    (item,) = stored()
    assert item["h"]["S"] == recipient_hash(KEYS.hash_key, [sent_to])
    # And check finds it however it is typed
    assert run("suppress", "check", address, "--stack", "BulkEmail").exit_code == 1


def test_a_dry_run_is_the_real_run_minus_the_sends(stack, tmp_path: Path):
    # Given a campaign of three, one of whom unsubscribed from everything
    run("suppress", "add", "bob@example.org", "--stack", "BulkEmail")
    path = tmp_path / "c.csv"
    path.write_text("email,name\nann@example.org,Ann\nBob@example.org,Bob\nchloe@example.org,C\n")
    options = ["--campaign", "spring", "--stack", "BulkEmail", "--from", SENDER]
    options += ["--template", "welcome"]
    # When it is dry-run, then run
    dry = run("enqueue", str(path), *options, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert bodies(boto3.client("sqs"), stack["QueueUrl"]) == []  # nothing sent
    real = run("enqueue", str(path), *options)
    assert real.exit_code == 0, real.output
    # Then both count the same (the suppressed one too), and the dry run's first message is
    # the real run's, id included
    assert "dry run: rows 3, would enqueue 2, refused 0, suppressed 1" in dry.stdout
    assert "rows 3, enqueued 2, refused 0, suppressed 1" in real.stdout
    first = json.loads(dry.stdout.split("first message: ", 1)[1].splitlines()[0])
    sent = bodies(boto3.client("sqs"), stack["QueueUrl"])
    assert first["id"] == message_id("spring", ["ann@example.org"], KEYS.hash_key)
    assert first in sent


def test_an_unverified_sender_stops_enqueue_before_anything_is_enqueued(
    stack, tmp_path: Path, ses_quota
):
    # Given SES with only example.com verified, and a JSONL campaign one of whose lines is
    # sent from another domain
    ses_quota.verified = {"example.com"}
    path = tmp_path / "c.jsonl"
    lines = [
        {"to": "ann@example.org", "data": {"name": "Ann"}},
        {"to": "bob@example.org", "data": {"name": "Bob"}, "from": "Shop <shop@elsewhere.net>"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    options = ["--campaign", "spring", "--stack", "BulkEmail", "--template", "welcome"]
    # When it is enqueued with --from in the verified domain
    result = run("enqueue", str(path), *options, "--from", SENDER)
    # Then one line names the unverified sender, exit 2, and nothing is on the queue
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "from shop@elsewhere.net: not a verified SES identity in eu-west-1" in result.stderr
    assert "--allow-unverified-from" in result.stderr
    assert bodies(boto3.client("sqs"), stack["QueueUrl"]) == []
    # And the address, then its domain, were asked; the verified domain once per sender
    assert ses_quota.identities_asked == [
        "news@example.com",
        "example.com",
        "shop@elsewhere.net",
        "elsewhere.net",
    ]
    # When the check is skipped, then both go on the queue
    skipped = run("enqueue", str(path), *options, "--from", SENDER, "--allow-unverified-from")
    assert skipped.exit_code == 0, skipped.output
    assert len(bodies(boto3.client("sqs"), stack["QueueUrl"])) == 2
