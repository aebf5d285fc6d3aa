"""A link unsubscribes the one person it was delivered to, and survives a key rotation: the
real sender (local run), the real endpoint over HTTP on 127.0.0.1, the real CLI command."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from bulk_sender import unsubscribe, unsubscribe_endpoint
from bulk_sender.unsubscribe import load_keys
from bulkmail.cli import app
from bulkmail.local import LocalRun, LocalSettings, one_click
from bulkmail.local import emulator as emu
from bulkmail.suppress import explicit

pytestmark = pytest.mark.e2e

SENDER = "news@example.com"
_LINK = re.compile(r"<(https?://[^>]+)>")


@pytest.fixture(scope="module")
def server() -> Iterator[emu.Emulator]:
    with emu.start_server() as running:
        yield running


@pytest.fixture
def local(server: emu.Emulator, tmp_path: Path) -> Iterator[LocalRun]:
    with LocalRun(LocalSettings(log_file=tmp_path / "handler.log"), emulator=server) as run:
        yield run


def body(n: int, to: str, **more: object) -> str:
    message = {"id": f"m{n}", "to": to, "from": SENDER, "template": "welcome"}
    return json.dumps({**message, "data": {"name": to.split("@")[0]}, **more})


def links(sent: list[emu.SentEmail]) -> dict[str, str]:
    """Each recipient's one-click link, from the List-Unsubscribe header it was sent."""
    found = {}
    for email in sent:
        match = _LINK.search(email["headers"].get("List-Unsubscribe", ""))
        if match:
            found[email["to"][0]] = match.group(1)
    return found


def suppressed(local: LocalRun, *addresses: str) -> dict[str, bool]:
    """Whether each address is suppressed on `all`, as the CLI's `check` reads it."""
    lists = explicit(local.urls["SuppressionTableName"], local.urls["UnsubscribeSecretArn"])
    found = lists.table.suppressed({(h, "all") for a in addresses for h in lists.hashes(a)})
    return {a: any((h, "all") in found for h in lists.hashes(a)) for a in addresses}


def test_a_cc_or_bcc_click_never_unsubscribes_anyone_else(local):
    # Given a message to ann with bob in cc, one to ann with carl in bcc (neither with its own
    # List-Unsubscribe), then the same people mailed one message each
    summary = local.run(
        [
            body(1, "ann@example.org", cc=["bob@example.org"]),
            body(2, "ann@example.org", bcc=["carl@example.org"]),
            body(3, "ann@example.org"),
            body(4, "bob@example.org"),
            body(5, "carl@example.org"),
        ]
    )
    # Then the two shared messages are not sent with a link that names ann: they are
    # dead-lettered as invalid, saying why; the three single ones are sent, each with a link
    codes = {
        json.loads(m["Body"])["id"]: m["MessageAttributes"]["ErrorMessage"]["StringValue"]
        for m in summary.dead_letters
    }
    assert sorted(codes) == ["m1", "m2"]
    assert all(reason.startswith("to, cc, bcc: one recipient only") for reason in codes.values())
    assert all(not email["cc"] and not email["bcc"] for email in summary.sent)
    delivered = links(summary.sent)
    assert sorted(delivered) == ["ann@example.org", "bob@example.org", "carl@example.org"]
    # When bob and carl click the links they were sent
    assert one_click(delivered["bob@example.org"]) == 200
    assert one_click(delivered["carl@example.org"]) == 200
    # Then they are unsubscribed, and ann, who clicked nothing, is not
    assert suppressed(local, "ann@example.org", "bob@example.org", "carl@example.org") == {
        "ann@example.org": False,
        "bob@example.org": True,
        "carl@example.org": True,
    }
    # And a follow-up reaches ann only
    follow_up = local.run([body(n, a) for n, a in enumerate(delivered, start=6)])
    assert [email["to"] for email in follow_up.sent] == [["ann@example.org"]]
    assert follow_up.suppressed == 2


def test_a_link_signed_before_a_rotation_still_works_and_no_suppression_is_lost(local, monkeypatch):
    # Given every function reading the secret at each use (as they do once their cached keys
    # are KEY_CACHE_SECONDS old), ann and dan sent a link, and carol unsubscribed
    monkeypatch.setattr(unsubscribe, "KEY_CACHE_SECONDS", 0)
    monkeypatch.setattr(unsubscribe_endpoint, "KEY_CACHE_SECONDS", 0)
    addresses = ("ann@example.org", "carol@example.org", "dan@example.org")
    before = links(local.run([body(n, a) for n, a in enumerate(addresses)]).sent)
    assert one_click(before["carol@example.org"]) == 200
    secret_arn = local.urls["UnsubscribeSecretArn"]
    old_keys = load_keys(boto3.client("secretsmanager"), secret_arn)
    # When the secret is rotated with the CLI
    table = local.urls["SuppressionTableName"]
    result = CliRunner().invoke(
        app, ["secret", "rotate", "--table", table, "--secret-arn", secret_arn]
    )
    assert result.exit_code == 0, result.output
    assert "version 2" in result.output
    assert "re-keyed 1 suppression(s)" in result.output
    new_keys = load_keys(boto3.client("secretsmanager"), secret_arn)
    assert new_keys.version == 2
    assert new_keys.hash_key == old_keys.hash_key  # message ids unchanged: still deduplicated
    # Then ann's link from before the rotation still unsubscribes her
    assert one_click(before["ann@example.org"]) == 200
    # And the next campaign, signed with the new key, skips carol and ann and reaches dan with
    # a version-2 link that works too
    after = local.run([body(n, a) for n, a in enumerate(addresses, start=10)])
    assert [email["to"] for email in after.sent] == [["dan@example.org"]]
    assert after.suppressed == 2
    dan = links(after.sent)["dan@example.org"]
    assert "?t=2." in dan
    assert one_click(dan) == 200
    assert suppressed(local, *addresses) == dict.fromkeys(addresses, True)
    # And a second rotation so soon is refused: a function may still sign with version 1
    again = CliRunner().invoke(
        app, ["secret", "rotate", "--table", table, "--secret-arn", secret_arn]
    )
    assert again.exit_code != 0
    assert "wait" in again.output
