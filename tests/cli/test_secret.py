"""`secret rotate`: a new key version, the suppression table re-keyed, nothing lost, twice over."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bulk_sender.recipient_hash import Keys
from bulk_sender.suppression import SuppressionTable, keys_for, rekey
from bulk_sender.unsubscribe import load_keys
from bulkmail.errors import CliError
from bulkmail.local.stack_facts import SUPPRESSION_TABLE, create_table
from bulkmail.secret import MIN_INTERVAL_SECONDS, rotate_secret
from bulkmail.suppress import current_items

SECRET = "d" * 64  # as deployed: a plain string, version 1


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, "suppression", SUPPRESSION_TABLE)
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="u", SecretString=SECRET)["ARN"]
        yield {"dynamodb": dynamodb, "secrets": secrets, "arn": arn}


def suppressed(aws: dict[str, Any], address: str, list_name: str) -> bool:
    """What the sender reads: the address's hashes at the accepted versions."""
    keys = load_keys(aws["secrets"], aws["arn"])
    wanted = {k for h in keys.hashes(address).values() for k in keys_for(h, list_name)}
    return bool(SuppressionTable(aws["dynamodb"], "suppression").suppressed(wanted))


def versions(aws: dict[str, Any]) -> list[int]:
    items = SuppressionTable(aws["dynamodb"], "suppression").items()
    return sorted(int(item.get("v", 1)) for item in items)


def test_two_rotations_keep_every_suppression_and_drop_hashes_two_versions_old(aws):
    # Given ann suppressed on "news" before any rotation (a version-1 item without `v`)
    table = SuppressionTable(aws["dynamodb"], "suppression", clock=lambda: 1000)
    v1 = Keys.from_secret(SECRET)
    table.add(v1.current_hash("ann@example.org"), "news", source="one-click")
    rotate = {"secret_arn": aws["arn"], "table": "suppression"}
    # When the secret is rotated
    first = rotate_secret(aws["secrets"], aws["dynamodb"], **rotate, clock=lambda: 10_000)
    # Then ann's item was copied to her version-2 hash (its time and source kept), the old kept
    assert (first.version, first.copied, first.deleted) == (2, 1, 0)
    assert versions(aws) == [1, 2]
    assert suppressed(aws, "ann@example.org", "news")
    items = list(SuppressionTable(aws["dynamodb"], "suppression").items())
    assert {(item["at"], item["source"]) for item in items} == {("1000", "one-click")}
    # And re-keying again changes nothing
    assert rekey(table, load_keys(aws["secrets"], aws["arn"])) == (0, 0)
    # When it is rotated a second time, after the overlap
    later = 10_000 + MIN_INTERVAL_SECONDS
    second = rotate_secret(aws["secrets"], aws["dynamodb"], **rotate, clock=lambda: later)
    # Then version 3 holds her, version 2 stays for functions still on it, version 1 is gone
    assert (second.version, second.copied, second.deleted) == (3, 1, 1)
    assert versions(aws) == [2, 3]
    assert suppressed(aws, "ann@example.org", "news")
    assert not suppressed(aws, "bob@example.org", "news")
    # And message ids keep version 1's key
    assert load_keys(aws["secrets"], aws["arn"]).hash_key == v1.hash_key


def test_a_second_rotation_within_the_overlap_is_refused_and_changes_nothing(aws):
    rotate = {"secret_arn": aws["arn"], "table": "suppression"}
    rotate_secret(aws["secrets"], aws["dynamodb"], **rotate, clock=lambda: 10_000)
    before = aws["secrets"].get_secret_value(SecretId=aws["arn"])["SecretString"]
    with pytest.raises(CliError, match="rotated 60 s ago: wait"):
        rotate_secret(aws["secrets"], aws["dynamodb"], **rotate, clock=lambda: 10_060)
    assert aws["secrets"].get_secret_value(SecretId=aws["arn"])["SecretString"] == before


def test_suppress_list_shows_each_suppression_once_across_a_rotation(aws):
    # Given ann and bob suppressed, then the secret rotated (both now under two key versions)
    table = SuppressionTable(aws["dynamodb"], "suppression")
    v1 = Keys.from_secret(SECRET)
    for address in ("ann@example.org", "bob@example.org"):
        table.add(v1.current_hash(address), "news", source="cli")
    rotate_secret(aws["secrets"], aws["dynamodb"], secret_arn=aws["arn"], table="suppression")
    assert versions(aws) == [1, 1, 2, 2]
    # When the list is shown, then each appears once, under its current hash
    keys = load_keys(aws["secrets"], aws["arn"])
    shown = current_items(table.items(), keys)
    assert sorted(item["h"] for item in shown) == sorted(
        keys.current_hash(a) for a in ("ann@example.org", "bob@example.org")
    )
