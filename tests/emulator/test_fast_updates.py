"""The local run's UpdateItem (bulkmail.local.fast_updates) against moto's own, on a small
table: the same answers (attributes returned, errors) and the same table after."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from bulkmail.local import fast_updates
from bulkmail.local.stack_facts import STATUS_TABLE, create_table

OUTCOME = {
    "UpdateExpression": "SET #o = :o, #r = :r, #e = :e, #x = :x",
    "ConditionExpression": "attribute_not_exists(#r) OR #r < :r OR (#r = :r AND #o <> :o)",
    "ExpressionAttributeNames": {"#o": "outcome", "#r": "rank", "#e": "event", "#x": "ttl"},
    "ReturnValues": "UPDATED_OLD",
}


def outcome(name, rank, event="Send"):
    values = {":o": {"S": name}, ":r": {"N": str(rank)}, ":e": {"S": event}, ":x": {"N": "9"}}
    return {**OUTCOME, "ExpressionAttributeValues": values}


def counts(adds, sent_at=None):
    names, values, sets = {"#x": "ttl"}, {":x": {"N": "9"}}, ["#x = :x"]
    parts = []
    for n, (name, value) in enumerate(sorted(adds.items())):
        names[f"#c{n}"], values[f":c{n}"] = name, {"N": str(value)}
        parts.append(f"#c{n} :c{n}")
    if sent_at is not None:
        names.update({"#f": "first", "#l": "last"})
        values[":t"] = {"N": sent_at}
        sets += ["#f = if_not_exists(#f, :t)", "#l = :t"]
    expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(parts) if parts else "")
    return {
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


CALLS = [
    ("m1", outcome("sent", 1)),
    ("m1", outcome("delivered", 3, "Delivery")),
    ("m1", outcome("sent", 1)),  # a late event: the condition holds it back
    ("m1", outcome("delivered", 3, "Delivery")),  # a duplicate: held back too
    ("m1", outcome("bounced", 3, "Bounce")),  # same rank, another outcome
    ("m2", outcome("sent", 1)),
    ("#counts", counts({"n:sent": 2, "enqueued": 5}, sent_at="10.5")),
    ("#counts", counts({"n:sent": -1, "n:delivered": 1}, sent_at="12.25")),
    ("#counts", counts({"n:sent": 1.5})),
    # what moto answers with its own errors (left to it): an ADD to a string, a key attribute,
    # an unused value, a missing placeholder, an expression beyond the plain ones
    ("m1", {"UpdateExpression": "ADD #o :n", "ExpressionAttributeNames": {"#o": "outcome"},
            "ExpressionAttributeValues": {":n": {"N": "1"}}}),
    ("m1", {"UpdateExpression": "SET #k = :v", "ExpressionAttributeNames": {"#k": "sk"},
            "ExpressionAttributeValues": {":v": {"S": "x"}}}),
    ("m1", {"UpdateExpression": "SET #o = :v", "ExpressionAttributeNames": {"#o": "outcome"},
            "ExpressionAttributeValues": {":v": {"S": "x"}, ":w": {"S": "y"}}}),
    ("m1", {"UpdateExpression": "SET #o = :v", "ExpressionAttributeNames": {"#p": "outcome"},
            "ExpressionAttributeValues": {":v": {"S": "x"}}}),
    ("m3", {"UpdateExpression": "SET #n = #n + :v REMOVE #e",
            "ExpressionAttributeNames": {"#n": "n", "#e": "event"},
            "ExpressionAttributeValues": {":v": {"N": "1"}}}),
    ("m1", {"UpdateExpression": "SET #o = :v, #o = :v",
            "ExpressionAttributeNames": {"#o": "outcome"},
            "ExpressionAttributeValues": {":v": {"S": "x"}}}),
]  # fmt: skip


def run(fast: bool):
    fast_updates.install() if fast else fast_updates.uninstall()
    answers = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(dynamodb, "t", STATUS_TABLE)
        for sk, request in CALLS:
            key = {"pk": {"S": "c"}, "sk": {"S": sk}}
            try:
                response = dynamodb.update_item(TableName="t", Key=key, **request)
                answers.append(response.get("Attributes"))
            except ClientError as error:
                answers.append(error.response["Error"])
        items = dynamodb.scan(TableName="t")["Items"]
    return answers, sorted(items, key=lambda item: item["sk"]["S"])


@pytest.fixture
def restore():
    installed = DynamoDBBackend.update_item
    yield
    DynamoDBBackend.update_item = installed


def test_plain_updates_answer_as_moto_does(restore):
    # Given the status table's updates, late and duplicate events, counts, and bad requests
    # When moto and the fast path each run them on a fresh table
    moto_answers, moto_items = run(fast=False)
    fast_answers, fast_items = run(fast=True)
    # Then every answer and the table after are the same
    assert fast_answers == moto_answers
    assert fast_items == moto_items
    assert moto_answers[2]["Code"] == "ConditionalCheckFailedException"
    assert moto_answers[8]["n:sent"] == {"N": "2.5"}


def test_only_what_is_not_plain_is_left_to_moto(restore, monkeypatch):
    # Given moto's own UpdateItem counted
    left = []
    moto_update_item = fast_updates.MOTO_UPDATE_ITEM

    def counted(self, table_name, key, update_expression, *args):
        left.append(update_expression)
        return moto_update_item(self, table_name, key, update_expression, *args)

    monkeypatch.setattr(fast_updates, "MOTO_UPDATE_ITEM", counted)
    # When the calls run on the fast path
    run(fast=True)
    # Then moto answered only the ADD to a string, the key attribute, the arithmetic and the
    # overlapping paths (its response layer refuses unused values and missing names first)
    assert left == [
        "ADD #o :n",
        "SET #k = :v",
        "SET #n = #n + :v REMOVE #e",
        "SET #o = :v, #o = :v",
    ]
