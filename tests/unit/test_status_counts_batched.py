"""A batch's campaign counts in one request (status_table.add_all_counts), exact under faults:
a refused transaction falls back to one UpdateItem per campaign, a lost answer is asked again
with the same token, an UpdateItem held back by a transaction is tried again."""

from collections import Counter

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from bulk_sender.status_table import COUNTS_SK, PARTITION_KEY, SORT_KEY, StatusTable
from bulkmail.local.stack_facts import STATUS_TABLE, create_table

TABLE = "status"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, TABLE, STATUS_TABLE)
        yield client


class Spy:
    """The client, counting requests; `faults[operation]` is a list of errors raised by the
    next requests of that operation, after (lost answer) or before DynamoDB did the work."""

    def __init__(self, client):
        self.client = client
        self.requests = Counter()
        self.tokens = []
        self.faults = {}

    def __getattr__(self, name):
        real = getattr(self.client, name)

        def call(**request):
            self.requests[name] += 1
            if "ClientRequestToken" in request:
                self.tokens.append(request["ClientRequestToken"])
            faults = self.faults.get(name) or []
            if faults:
                fault, after = faults.pop(0)
                if after:
                    real(**request)
                raise fault
            return real(**request)

        return call


def counts(client, campaign):
    item = client.get_item(
        TableName=TABLE, Key={PARTITION_KEY: {"S": campaign}, SORT_KEY: {"S": COUNTS_SK}}
    ).get("Item", {})
    return {k: int(v["N"]) for k, v in item.items() if k.startswith(("n:", "sent", "rec"))}


BATCH = {
    "spring": (Counter({"received": 3, "sent_total": 2}), 1_800_000_000.0),
    "autumn": (Counter({"received": 1}), None),
    "winter": (Counter({"received": 2, "sent_total": 2}), 1_800_000_001.0),
}


def test_three_campaigns_of_a_batch_are_counted_in_one_request(dynamodb):
    spy = Spy(dynamodb)
    StatusTable(spy, TABLE).add_all_counts(BATCH)
    assert spy.requests == Counter({"transact_write_items": 1})
    assert counts(dynamodb, "spring") == {"received": 3, "sent_total": 2}
    assert counts(dynamodb, "autumn") == {"received": 1}
    assert counts(dynamodb, "winter") == {"received": 2, "sent_total": 2}


def test_one_campaign_is_one_update(dynamodb):
    spy = Spy(dynamodb)
    StatusTable(spy, TABLE).add_all_counts({"spring": BATCH["spring"]})
    assert spy.requests == Counter({"update_item": 1})
    assert counts(dynamodb, "spring") == {"received": 3, "sent_total": 2}


def test_a_refused_transaction_falls_back_to_one_update_per_campaign(dynamodb):
    spy = Spy(dynamodb)
    refused = ClientError({"Error": {"Code": "TransactionCanceledException"}}, "TransactWriteItems")
    spy.faults["transact_write_items"] = [(refused, False)]
    StatusTable(spy, TABLE).add_all_counts(BATCH)
    assert spy.requests == Counter({"transact_write_items": 1, "update_item": 3})
    assert counts(dynamodb, "spring") == {"received": 3, "sent_total": 2}
    assert counts(dynamodb, "winter") == {"received": 2, "sent_total": 2}


def test_a_lost_answer_is_asked_again_with_the_same_token_never_as_single_updates(dynamodb):
    # Given a transaction DynamoDB wrote but whose answer was lost
    spy = Spy(dynamodb)
    spy.faults["transact_write_items"] = [(ReadTimeoutError(endpoint_url="x"), True)]
    StatusTable(spy, TABLE).add_all_counts(BATCH)
    # Then it is asked again with the same ClientRequestToken (DynamoDB answers a repeat
    # within 10 minutes without writing again; moto does not model that), and never
    # followed by per-campaign updates that would count the batch twice
    assert spy.requests == Counter({"transact_write_items": 2})
    assert len(spy.tokens) == 2
    assert len(set(spy.tokens)) == 1


def test_an_update_held_back_by_a_transaction_is_tried_again(dynamodb):
    spy = Spy(dynamodb)
    conflict = ClientError({"Error": {"Code": "TransactionConflictException"}}, "UpdateItem")
    spy.faults["update_item"] = [(conflict, False), (conflict, False)]
    sleeps = []
    table = StatusTable(spy, TABLE, sleep=sleeps.append)
    assert table.add_counts("spring", Counter({"received": 1}))
    assert spy.requests == Counter({"update_item": 3})
    assert len(sleeps) == 2
    assert counts(dynamodb, "spring") == {"received": 1}
