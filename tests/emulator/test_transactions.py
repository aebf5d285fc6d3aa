"""The local run's TransactWriteItems (bulkmail.local.transactions) against moto's own, on
small tables: the same answers, the same table after, at the cost of the touched items only."""

from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from bulkmail.local import transactions

NOW = 1_000


def put(key, status, *, condition=None, range_key=None, **extra):
    action = {
        "TableName": "t",
        "Item": {"id": {"S": key}, "status": {"S": status}, **extra},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if range_key is not None:
        action["TableName"] = "r"
        action["Item"]["n"] = {"N": str(range_key)}
    if condition:
        action.update(condition)
    return {"Put": action}


CLAIMABLE = {
    "ConditionExpression": "attribute_not_exists(id) OR expires_at < :now",
    "ExpressionAttributeValues": {":now": {"N": str(NOW)}},
}
SCENARIOS = {
    "all claimed": [[put("a", "IN_PROGRESS", condition=CLAIMABLE), put("b", "IN_PROGRESS")]],
    "one taken cancels all, old item returned": [
        [put("done", "COMPLETED", expires_at={"N": str(NOW + 60)})],
        [
            put("new", "IN_PROGRESS", condition=CLAIMABLE),
            put("done", "IN_PROGRESS", condition=CLAIMABLE),
        ],
    ],
    "an expired claim is taken": [
        [put("old", "IN_PROGRESS", expires_at={"N": str(NOW - 1)})],
        [put("old", "IN_PROGRESS", condition=CLAIMABLE)],
    ],
    "release by condition, update, condition check": [
        [put("x", "IN_PROGRESS", owner={"S": "me"}), put("y", "IN_PROGRESS")],
        [
            {
                "Delete": {
                    "TableName": "t",
                    "Key": {"id": {"S": "x"}},
                    "ConditionExpression": "#o = :me",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":me": {"S": "me"}},
                }
            },
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"id": {"S": "y"}},
                    "UpdateExpression": "SET #s = :c",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":c": {"S": "COMPLETED"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"id": {"S": "z"}},
                    "ConditionExpression": "attribute_exists(id)",
                }
            },
        ],
    ],
    "two actions on one item": [[put("a", "IN_PROGRESS"), put("a", "COMPLETED")]],
    "a table with a sort key rolls back": [
        [put("k", "ONE", range_key=1)],
        [
            put("k", "TWO", range_key=2),
            put(
                "k",
                "NEW",
                range_key=1,
                condition={"ConditionExpression": "attribute_not_exists(id)"},
            ),
        ],
    ],
}


def run(scenario, implementation):
    """Each transaction's answer, then the tables' items, with `implementation` serving."""
    saved = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = implementation
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="eu-west-1")
            for name, keys in (("t", ["id"]), ("r", ["id", "n"])):
                client.create_table(
                    TableName=name,
                    KeySchema=[
                        {"AttributeName": k, "KeyType": t}
                        for k, t in zip(keys, ["HASH", "RANGE"], strict=False)
                    ],
                    AttributeDefinitions=[
                        {"AttributeName": k, "AttributeType": "S" if k == "id" else "N"}
                        for k in keys
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
            answers = []
            for actions in scenario:
                try:
                    client.transact_write_items(TransactItems=actions)
                    answers.append("ok")
                except ClientError as error:
                    answers.append(
                        (error.response["Error"]["Code"], error.response.get("CancellationReasons"))
                    )
            tables = {
                name: sorted(map(str, client.scan(TableName=name)["Items"])) for name in ("t", "r")
            }
            return answers, tables
    finally:
        DynamoDBBackend.transact_write_items = saved


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_fast_transactions_answer_and_write_as_motos_own(name):
    # Given a scenario of transactions, run once by moto's implementation and once by ours
    expected = run(SCENARIOS[name], transactions.MOTO_TRANSACT_WRITE_ITEMS)
    # Then both answer each transaction alike and leave the same items
    assert run(SCENARIOS[name], transactions.transact_write_items) == expected


def test_a_cancelled_claim_says_which_action_failed_with_its_old_item():
    # Given the claim scenario (the ledger's own use)
    answers, tables = run(
        SCENARIOS["one taken cancels all, old item returned"], transactions.transact_write_items
    )
    # Then the transaction is cancelled, reasons in request order, the old item on the failed
    # condition (DynamoDB API reference, CancellationReason), and nothing of it is written
    code, reasons = answers[1]
    assert code == "TransactionCanceledException"
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["status"] == {"S": "COMPLETED"}
    assert len(tables["t"]) == 1


def test_a_transaction_copies_the_items_it_touches_not_the_table(monkeypatch):
    # Given a table of 200 items, and the copies the transaction makes counted
    copied = []
    real_deepcopy = transactions.copy.deepcopy
    counting = SimpleNamespace(deepcopy=lambda value: copied.append(value) or real_deepcopy(value))
    monkeypatch.setattr(transactions, "copy", counting)
    seed = [[put(f"{batch}-{n}", "COMPLETED") for n in range(100)] for batch in ("a", "b")]
    # When a claim of 3 ids is written after them
    answers, tables = run(
        [*seed, [put(f"new-{n}", "IN_PROGRESS") for n in range(3)]],
        transactions.transact_write_items,
    )
    # Then each transaction copied one value per action (the item before it), nothing more
    assert answers == ["ok", "ok", "ok"]
    assert len(tables["t"]) == 203
    assert len(copied) == 203
