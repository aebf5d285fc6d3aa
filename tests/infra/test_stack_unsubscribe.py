"""The unsubscribe endpoint, its throttling, its secret, the suppression table, the grants."""

import json

import pytest

from bulk_sender import suppression
from stacks.unsubscribe import ENDPOINT_TABLE_ACTIONS, HASH_KEY, LIST_KEY, SENDER_TABLE_ACTIONS
from tests.infra.cfn import arn_of, as_list, by_sid, ref, statements, text


@pytest.fixture(scope="module")
def endpoint(synth):
    return synth.one("AWS::Lambda::Function", "Unsubscribe")


def test_the_endpoint_is_an_http_api_with_get_head_post_on_one_path(synth, endpoint):
    # Given the HTTP API and its routes
    api, resource = synth.one("AWS::ApiGatewayV2::Api")
    routes = synth.resources("AWS::ApiGatewayV2::Route").values()
    # Then it is an HTTP API whose only routes are GET, HEAD and POST /unsubscribe
    assert resource["Properties"]["ProtocolType"] == "HTTP"
    assert sorted(r["Properties"]["RouteKey"] for r in routes) == [
        "GET /unsubscribe",
        "HEAD /unsubscribe",
        "POST /unsubscribe",
    ]
    # And each goes to the endpoint function with payload format 2.0
    _, integration = synth.one("AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == arn_of(endpoint[0])
    # And the output UnsubscribeUrl is that API's https URL of the path
    url = text(synth.template["Outputs"]["UnsubscribeUrl"]["Value"])
    assert url == f"https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/unsubscribe"


def test_the_stage_throttles_and_logs_without_the_query_string(synth, context):
    # Given the API's one stage
    _, stage = synth.one("AWS::ApiGatewayV2::Stage")
    properties = stage["Properties"]
    # Then it deploys itself and throttles every route at the context's rate and burst
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": context["unsubscribe_rate_limit"],
        "ThrottlingBurstLimit": context["unsubscribe_burst_limit"],
    }
    # And its access log is JSON without the query string (the token) or the path
    log_format = json.loads(properties["AccessLogSettings"]["Format"])
    assert log_format["routeKey"] == "$context.routeKey"
    assert not any("query" in value.lower() or "path" in value for value in log_format.values())


def test_the_function_shares_the_senders_asset_and_reads_the_secret_and_table(synth, endpoint):
    # Given both functions
    _, function = endpoint
    _, sender = synth.one("AWS::Lambda::Function", "Sender")
    properties = function["Properties"]
    # Then the endpoint runs unsubscribe.lambda_handler from the sender's one asset
    assert properties["Handler"] == "unsubscribe.lambda_handler"
    assert properties["Code"] == sender["Properties"]["Code"]
    assert properties["Runtime"] == sender["Properties"]["Runtime"]
    # And it is told the secret and the table, never the secret's value
    env = properties["Environment"]["Variables"]
    secret = synth.one("AWS::SecretsManager::Secret")[0]
    table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")[0]
    assert env["UNSUBSCRIBE_SECRET_ARN"] == ref(secret)
    assert env["SUPPRESSION_TABLE"] == ref(table)


def test_the_secret_is_generated_at_deploy_time_and_kept(synth):
    # Given the secret
    _, secret = synth.one("AWS::SecretsManager::Secret")
    # Then CloudFormation generates its value (none is in the template), and it is retained
    assert "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["DeletionPolicy"] == "Retain"
    # And the CLI finds it by the stack output UnsubscribeSecretArn
    assert synth.template["Outputs"]["UnsubscribeSecretArn"]["Value"] == ref(
        synth.one("AWS::SecretsManager::Secret")[0]
    )


def test_the_suppression_table_is_keyed_by_hash_and_list_and_retained(synth):
    # Given the suppression table
    logical_id, table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")
    properties = table["Properties"]
    # Then it is keyed by the keyed hash and the list, as the Lambda reads it
    assert (HASH_KEY, LIST_KEY) == (suppression.HASH_KEY, suppression.LIST_KEY)
    assert properties["KeySchema"] == [
        {"AttributeName": HASH_KEY, "KeyType": "HASH"},
        {"AttributeName": LIST_KEY, "KeyType": "RANGE"},
    ]
    # ... on demand, encrypted, recoverable, and kept if the stack is deleted
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"
    assert synth.template["Outputs"]["SuppressionTableName"]["Value"] == ref(logical_id)


def test_the_endpoint_may_read_the_secret_and_put_items_only(synth):
    # Given the endpoint's role policy
    _, policy = synth.one("AWS::IAM::Policy", "Unsubscribe")
    secret = synth.one("AWS::SecretsManager::Secret")[0]
    table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")[0]
    # Then it reads that secret, puts items in that table, writes its own logs: nothing else
    assert by_sid(policy, "ReadTheSigningSecret")["Resource"] == ref(secret)
    recording = by_sid(policy, "RecordUnsubscribes")
    assert as_list(recording["Action"]) == list(ENDPOINT_TABLE_ACTIONS) == ["dynamodb:PutItem"]
    assert recording["Resource"] == arn_of(table)
    assert len(statements(policy)) == 3


def test_the_sender_may_read_the_secret_and_batch_read_the_table_only(synth):
    # Given the sender's role policy and environment
    _, policy = synth.one("AWS::IAM::Policy", "Sender")
    _, sender = synth.one("AWS::Lambda::Function", "Sender")
    secret = synth.one("AWS::SecretsManager::Secret")[0]
    table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")[0]
    # Then it may GetSecretValue on the secret and BatchGetItem on the table, nothing more
    reading = by_sid(policy, "ReadTheUnsubscribeSigningSecret")
    assert as_list(reading["Action"]) == ["secretsmanager:GetSecretValue"]
    assert reading["Resource"] == ref(secret)
    checking = by_sid(policy, "CheckTheSuppressionList")
    assert as_list(checking["Action"]) == list(SENDER_TABLE_ACTIONS) == ["dynamodb:BatchGetItem"]
    assert checking["Resource"] == arn_of(table)
    # And its environment points it at the endpoint, the secret and the table
    env = sender["Properties"]["Environment"]["Variables"]
    assert env["UNSUBSCRIBE_URL"] == synth.template["Outputs"]["UnsubscribeUrl"]["Value"]
    assert env["UNSUBSCRIBE_SECRET_ARN"] == ref(secret)
    assert env["SUPPRESSION_TABLE"] == ref(table)
    assert "UNSUBSCRIBE_MAILTO" not in env


def test_the_suppression_table_calls_only_what_the_two_roles_grant():
    # Given the suppression table code run through every method the Lambdas use (moto)
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="s",
            KeySchema=[
                {"AttributeName": HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": LIST_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": HASH_KEY, "AttributeType": "S"},
                {"AttributeName": LIST_KEY, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        called: list[str] = []
        client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: called.append(f"dynamodb:{model.name}")
        )
        table = suppression.SuppressionTable(client, "s")
        table.add("h1", "news", source="one-click")  # the endpoint
        endpoint_calls, called[:] = set(called), []
        table.suppressed({("h1", "news"), ("h1", "all")})  # the sender
        sender_calls = set(called)
    # Then each role is granted exactly what its code calls
    assert endpoint_calls == set(ENDPOINT_TABLE_ACTIONS)
    assert sender_calls == set(SENDER_TABLE_ACTIONS)
