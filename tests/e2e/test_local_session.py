"""`python -m bulkmail local` end to end: started as a user would, worked on with `--local`.

The session runs in its own process on 127.0.0.1 (as a user's terminal would); the commands
run in this one through the CLI, and find it by its state file. Waiting is on state (the
state file, queue depths, the ledger), with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bulkmail.cli import app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120  # generous: the machine may be loaded; the waits end on state


def wait_for(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def environ() -> Iterator[None]:
    """`--local` points this process's AWS clients at the emulator: restored afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def session(tmp_path: Path, environ: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Given `python -m bulkmail local` running in its own process."""
    state = tmp_path / "local.json"
    monkeypatch.setenv("BULKMAIL_LOCAL_STATE", str(state))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "bulkmail", "local", "--log-file", str(tmp_path / "handler.log")],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )
    try:
        wait_for("the state file", lambda: state.is_file() or process.poll() is not None)
        assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
        yield {"process": process, "state": state, "stderr": tmp_path / "stderr.txt"}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_a_campaign_drains_through_the_local_session_and_its_dlq_can_be_redriven(
    session: dict, tmp_path: Path
) -> None:
    process, state = session["process"], session["state"]
    # Then it printed NAME=value lines: the endpoint and the outputs it emulates
    outputs = json.loads(state.read_text())["outputs"]
    printed = read_names(process, expected=len(outputs) + 2)
    assert printed["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    for name in ("QueueUrl", "DlqUrl", "ConfigurationSetName", "AlarmsTopicArn"):
        assert printed[name] == outputs[name]

    # Given a campaign of 30 rows and three raw messages the sender dead-letters
    path = tmp_path / "campaign.csv"
    path.write_text(
        "Email Address;name\n" + "".join(f"user{n}@example.org;U{n}\n" for n in range(30)),
        encoding="utf-8",
    )
    raw = tmp_path / "raw.jsonl"
    bad = [
        {"to": "a@example.org", "from": "news@example.com", "template": "welcome"},  # no name
        {"to": "b@example.org", "from": "news@example.com", "template": "nowhere"},
        {"to": "c@example.org", "from": "news@example.com", "template": "nowhere"},
    ]
    raw.write_text("".join(json.dumps(doc) + "\n" for doc in bad), encoding="utf-8")
    options = ["--campaign", "walk", "--from", "News <news@example.com>", "--template", "welcome"]

    # When the campaign is enqueued with --local, and the raw messages past the checks
    result = cli("enqueue", str(path), "--local", *options)
    assert result.exit_code == 0, result.output
    assert "rows 30, enqueued 30, refused 0" in result.stdout
    result = cli("enqueue", str(raw), "--local", "--campaign", "walk", "--no-validate")
    assert result.exit_code == 0, result.output

    # Then the session's sender drains it: 30 sent (the ledger), 3 dead-lettered
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")

    def depth(url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(found[name]) for name in names)

    def sent() -> int:
        items = dynamodb.scan(TableName=outputs["IdempotencyTableName"])["Items"]
        return sum(item["status"]["S"] == "COMPLETED" for item in items)

    wait_for("the drain", lambda: depth(outputs["QueueUrl"]) == 0 and depth(outputs["DlqUrl"]) == 3)
    assert sent() == 30

    # When the DLQ is shown twice in a row, then both count the same three
    first, second = cli("dlq", "show", "--local"), cli("dlq", "show", "--local")
    assert first.exit_code == 0, first.output
    assert "sampled 3" in first.stdout
    assert "sampled 3" in second.stdout
    assert "MissingTemplateData  1" in first.stdout
    assert "NotFoundException    2" in first.stdout
    assert "campaign walk, id walk:" in first.stdout

    # When only the NotFoundException ones are redriven, then two move and one stays
    result = cli("dlq", "redrive", "--local", "--code", "NotFoundException", "--yes")
    assert result.exit_code == 0, result.output
    assert "moved 2 message(s) with ErrorCode NotFoundException" in result.stdout

    # And the campaign enqueued again is reported as sent already, and not enqueued again
    result = cli("enqueue", str(path), "--local", *options)
    assert "30 already sent in this campaign: not enqueued again" in result.stdout
    assert "rows 30, enqueued 0, refused 0, suppressed 0, already sent 30" in result.stdout

    # And a campaign with an attachment finds the local attachment bucket through --local
    note = tmp_path / "note.txt"
    note.write_text("hello\n", encoding="utf-8")
    one = tmp_path / "one.csv"
    one.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")
    result = cli("enqueue", str(one), "--local", *options, "--attach", str(note))
    assert result.exit_code == 0, result.output
    wait_for("the attachment's email", lambda: sent() == 31)

    # When the session gets Ctrl-C, then it stops cleanly and removes its state file
    wait_for("the redriven messages back", lambda: depth(outputs["QueueUrl"]) == 0)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=DEADLINE_SECONDS) == 0, session["stderr"].read_text()
    assert not state.exists()
    assert "Traceback" not in session["stderr"].read_text()

    # And --local now says no session is running, in one line
    result = cli("dlq", "show", "--local")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --local: no local emulator is running")


def read_names(process: subprocess.Popen, *, expected: int) -> dict[str, str]:
    """The NAME=value lines `local` printed on stdout (nothing else goes there)."""
    names: dict[str, str] = {}
    while len(names) < expected and (line := process.stdout.readline()):
        name, _, value = line.strip().partition("=")
        names[name] = value
    return names
