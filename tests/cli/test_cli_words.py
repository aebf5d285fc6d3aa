"""The CLI never misleads: its help names what exists, it purges the DLQ when asked, and
Ctrl-C always ends with a word."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from typer.main import get_command
from typer.testing import CliRunner

from bulkmail import cli
from bulkmail.cli import app


def every_command(group=None, path=()):
    group = group or get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from every_command(command, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("command", list(every_command()), ids=" ".join)
def test_help_names_the_real_stack_and_no_missing_file(command):
    # When any command's help is shown
    shown = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    # Then it cites no file the repository lacks, and names the stack as cdk deploys it
    assert shown.exit_code == 0, shown.output
    assert "DESIGN.md" not in shown.output
    assert "--stack BulkEmail " not in shown.output.replace("\n", " ")


def test_dlq_purge_empties_the_dlq_after_saying_what_it_holds(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"dead {n}")
        # When it is purged, declined first, then confirmed
        declined = CliRunner().invoke(app, ["dlq", "purge", "--dlq-url", url], input="n\n")
        assert declined.exit_code == 1
        assert "about 3 message(s)" in declined.stdout
        done = CliRunner().invoke(app, ["dlq", "purge", "--dlq-url", url, "--yes"])
        # Then the DLQ is empty
        assert done.exit_code == 0, done.output
        assert f"purged {url}" in done.stdout
        assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_ctrl_c_anywhere_ends_with_a_word(monkeypatch):
    # Given a command interrupted where it has no handling of its own
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.campaign, "check_file", interrupted)
    result = CliRunner().invoke(
        app, ["enqueue", "x.csv", "--campaign", "c", "--dry-run"], standalone_mode=True
    )
    # Then one line says so, exit 130
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted (Ctrl-C)\n"
