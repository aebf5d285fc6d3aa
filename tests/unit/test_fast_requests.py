"""The sender's fast request path sends exactly what botocore would (fast_requests.py)."""

import json

import boto3
import pytest
from botocore.awsrequest import prepare_request_dict
from botocore.config import Config

from bulk_sender.core import ses_client
from bulk_sender.fast_requests import speed_up
from bulk_sender.ledger import ledger_client

CLAIM = {
    "Put": {
        "TableName": "ledger",
        "Item": {
            "id": {"S": "spring:ab\u00e9"},
            "status": {"S": "IN_PROGRESS"},
            "owner": {"S": "c:1"},
            "expires_at": {"N": "1700000900"},
        },
        "ConditionExpression": "attribute_not_exists(id) OR expires_at < :now",
        "ExpressionAttributeValues": {":now": {"N": "1700000000"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
}
DYNAMODB_REQUESTS = [
    ("transact_write_items", {"TransactItems": [CLAIM] * 3, "ClientRequestToken": "tok-1"}),
    (
        "batch_write_item",
        {"RequestItems": {"ledger": [{"PutRequest": {"Item": CLAIM["Put"]["Item"]}}] * 2}},
    ),
    (
        "batch_get_item",
        {
            "RequestItems": {
                "suppression": {
                    "Keys": [{"h": {"S": "x"}, "list": {"S": "all"}}],
                    "ProjectionExpression": "#h, #l",
                    "ExpressionAttributeNames": {"#h": "h", "#l": "list"},
                }
            }
        },
    ),
    (
        "update_item",
        {
            "TableName": "status",
            "Key": {"pk": {"S": "spring"}, "sk": {"S": "#counts"}},
            "UpdateExpression": "SET #x = :x ADD #c0 :c0",
            "ExpressionAttributeNames": {"#x": "expires_at", "#c0": "n:sent"},
            "ExpressionAttributeValues": {":x": {"N": "1"}, ":c0": {"N": "50"}},
        },
    ),
]
SES_REQUEST = {
    "FromEmailAddress": "News <news@example.com>",
    "DefaultContent": {"Template": {"TemplateName": "weekly", "TemplateData": "{}"}},
    "BulkEmailEntries": [
        {
            "Destination": {"ToAddresses": ["=?utf-8?q?Chlo=C3=A9?= <c@example.org>"]},
            "ReplacementEmailContent": {
                "ReplacementTemplate": {"ReplacementTemplateData": '{"a":"\u00e9"}'}
            },
            "ReplacementTags": [{"Name": "bulkmail-id", "Value": "spring_3aab"}],
            "ReplacementHeaders": [{"Name": "List-Unsubscribe", "Value": "<https://x/u?t=1>"}],
        }
    ],
    "DefaultEmailTags": [{"Name": "app", "Value": "bulk"}],
    "ConfigurationSetName": "bulk-email",
    "EndpointId": "abcd1234.ef5",
}


def serialized(client, operation, params):
    """The request botocore would send: serialized, its endpoint resolved, prepared."""
    model = client.meta.service_model.operation_model(operation)
    url, headers, _ = client._resolve_endpoint_ruleset(model, params, {})
    request = client._serializer.serialize_to_request(params, model)
    prepare_request_dict(request, endpoint_url=url)
    return request["url"], request["method"], request["headers"], headers, request["body"]


def plain(service):
    return boto3.client(service, config=Config(parameter_validation=False))


@pytest.mark.parametrize(("method", "params"), DYNAMODB_REQUESTS)
def test_a_dynamodb_request_is_the_one_botocore_builds(method, params):
    # Given the ledger's client and a plain botocore client
    fast, slow = ledger_client(), plain("dynamodb")
    operation = slow.meta.method_to_api_mapping[method]
    # When each builds the same request (twice: the second from the caches)
    for _ in range(2):
        # Then the requests are identical, byte for byte
        assert serialized(fast, operation, params) == serialized(slow, operation, params)


def test_the_bulk_send_is_the_one_botocore_builds_with_or_without_an_endpoint_id():
    # Given the core's SES client and a plain one
    fast, slow = ses_client(), plain("sesv2")
    without = {k: v for k, v in SES_REQUEST.items() if k != "EndpointId"}
    # When each builds the request, with and without a multi-region endpoint
    for params in (without, SES_REQUEST, without):
        # Then the requests (endpoints included) are identical
        assert serialized(fast, "SendBulkEmail", params) == serialized(
            slow, "SendBulkEmail", params
        )


def test_a_send_with_attachments_goes_through_botocore_as_a_blob():
    fast, slow = ses_client(), plain("sesv2")
    params = json.loads(json.dumps(SES_REQUEST))
    params["DefaultContent"]["Template"]["Attachments"] = [
        {"RawContent": b"%PDF-1.4 \x00\xff", "FileName": "a.pdf"}
    ]
    assert serialized(fast, "SendBulkEmail", params) == serialized(slow, "SendBulkEmail", params)


def test_a_table_named_by_arn_gets_its_own_endpoint_not_a_cached_one():
    # Given a sped-up client that has resolved a request to a table named by its name
    client = speed_up(plain("dynamodb"))
    arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/status"
    for table in ("status", arn, "status"):
        params = {**DYNAMODB_REQUESTS[3][1], "TableName": table}
        # Then each request is the one a fresh botocore client builds
        assert serialized(client, "UpdateItem", params) == serialized(
            plain("dynamodb"), "UpdateItem", params
        )
