"""The unsubscribe endpoint, its throttling, its secret, the suppression table, the grants."""

import json
import re

import pytest

from bulk_sender import names, recipient_hash, suppression
from bulkmail.local.stack_facts import SUPPRESSION_TABLE, create_table
from stacks.unsubscribe import ENDPOINT_TABLE_ACTIONS, HASH_KEY, LIST_KEY, SENDER_TABLE_ACTIONS
from tests.infra.cfn import arn_of, as_list, by_sid, ref, statements, text


@pytest.fixture(scope="module")
def endpoint(synth):
    return synth.one("AWS::Lambda::Function", "Unsubscribe")


def test_the_endpoint_is_a_regional_rest_api_with_get_head_post_on_one_path(synth, endpoint):
    # Given the REST API, its resource and methods
    api, resource = synth.one("AWS::ApiGateway::RestApi")
    (path,) = synth.resources("AWS::ApiGateway::Resource").values()
    methods = synth.resources("AWS::ApiGateway::Method").values()
    # Then it is regional (so AWS WAF can guard it) and its only methods are GET, HEAD and
    # POST /unsubscribe, each a Lambda proxy to the endpoint function
    assert resource["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert path["Properties"]["PathPart"] == "unsubscribe"
    assert sorted(m["Properties"]["HttpMethod"] for m in methods) == ["GET", "HEAD", "POST"]
    for method in methods:
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert endpoint[0] in json.dumps(integration["Uri"])
        # ... and a request without the token parameter is refused by the gateway itself
        assert method["Properties"]["RequestParameters"] == {"method.request.querystring.t": True}
        assert "RequestValidatorId" in method["Properties"]
    # And the output UnsubscribeUrl is that API's https URL of the path on its stage
    url = text(synth.template["Outputs"]["UnsubscribeUrl"]["Value"])
    assert url.startswith(f"https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/")
    assert url.endswith("/unsubscribe")


def test_the_stage_throttles_at_a_rate_sized_for_real_traffic_and_logs_no_query_string(
    synth, context
):
    # Given the API's one stage
    _, stage = synth.one("AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    # Then every method is throttled at the context's rate and burst, which leave room for link
    # scanners' GETs at a send rate of hundreds a second besides the one-click POSTs
    (settings,) = properties["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert settings["ThrottlingRateLimit"] == context["unsubscribe_rate_limit"] >= 100
    assert settings["ThrottlingBurstLimit"] == context["unsubscribe_burst_limit"]
    # And its access log is JSON without the query string (the token) or the raw path
    log_format = json.loads(properties["AccessLogSetting"]["Format"])
    assert log_format["resource"] == "$context.resourcePath"
    assert not any(
        "query" in value.lower() or value == "$context.path" for value in log_format.values()
    )
    assert "DataTraceEnabled" not in settings or settings["DataTraceEnabled"] is False


def test_a_firewall_refuses_malformed_tokens_and_limits_each_client(synth, context):
    # Given the web ACL and its association
    acl_id, acl = synth.one("AWS::WAFv2::WebACL")
    _, association = synth.one("AWS::WAFv2::WebACLAssociation")
    stage_id = synth.one("AWS::ApiGateway::Stage")[0]
    properties = acl["Properties"]
    # Then it guards the endpoint's stage, regionally, and lets through what no rule blocks
    assert association["Properties"]["WebACLArn"] == arn_of(acl_id)
    assert stage_id in json.dumps(association["Properties"]["ResourceArn"])
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in properties["Rules"]}
    assert list(rules) == ["TokenShaped", "PostsPerClient", "GetsPerClient"]
    # And a request whose `t` is not token-shaped is blocked before the function runs, by the
    # shape the function itself reads (names.Unsubscribe.TOKEN_PATTERN)
    shaped = rules["TokenShaped"]["Statement"]["NotStatement"]["Statement"]["RegexMatchStatement"]
    assert shaped["FieldToMatch"] == {"SingleQueryArgument": {"Name": "t"}}
    assert shaped["RegexString"] == names.Unsubscribe.TOKEN_PATTERN
    # And each client IP is limited per 5 minutes, POSTs apart from GETs (link scanners)
    for name, key in (
        ("PostsPerClient", "unsubscribe_post_limit_per_client"),
        ("GetsPerClient", "unsubscribe_get_limit_per_client"),
    ):
        rate = rules[name]["Statement"]["RateBasedStatement"]
        assert rules[name]["Action"] == {"Block": {}}
        assert (rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == ("IP", 300)
        assert rate["Limit"] == context[key]
    post_scope = rules["PostsPerClient"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    get_scope = rules["GetsPerClient"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    assert post_scope["ByteMatchStatement"]["SearchString"] == "POST"
    assert get_scope == {"NotStatement": {"Statement": post_scope}}
    # And no sampled request is kept (it would store the query string, the token)
    for rule in [*properties["Rules"], properties]:
        assert rule["VisibilityConfig"]["SampledRequestsEnabled"] is False


@pytest.mark.parametrize(
    ("token", "shaped"),
    [
        ("1.news." + "a" * 32 + "." + "b" * 32, True),
        ("news." + "a" * 32 + "." + "b" * 32, True),  # signed before tokens had versions
        ("12.all." + "0" * 32 + "." + "f" * 32, True),
        ("news." + "a" * 32, False),
        ("1.news." + "A" * 32 + "." + "b" * 32, False),
        ("0.news." + "a" * 32 + "." + "b" * 32, False),
        ("", False),
    ],
)
def test_the_firewalls_token_shape_is_the_one_the_endpoint_reads(token, shaped):
    # Given a token, then the firewall's pattern and the endpoint's parser agree on its shape
    assert bool(re.fullmatch(names.Unsubscribe.TOKEN_PATTERN.strip("^$"), token)) is shaped
    assert (recipient_hash.parse(token) is not None) is shaped


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


def _decrypts_only_this_secret(statement, secret, key):
    assert as_list(statement["Action"]) == ["kms:Decrypt"]
    assert statement["Resource"] == arn_of(key)
    conditions = statement["Condition"]["StringEquals"]
    assert conditions["kms:EncryptionContext:SecretARN"] == ref(secret)
    assert text(conditions["kms:ViaService"]) == "secretsmanager.${AWS::Region}.amazonaws.com"


def test_the_secret_is_encrypted_with_the_stacks_own_key(synth):
    # Given the secret and the stack's customer-managed key
    _, secret = synth.one("AWS::SecretsManager::Secret")
    key = synth.one("AWS::KMS::Key")[0]
    # Then the secret is encrypted with that key, not the account's aws/secretsmanager key
    # (which any principal with secretsmanager:GetSecretValue may use)
    assert secret["Properties"]["KmsKeyId"] == arn_of(key)


def test_the_endpoint_may_read_the_secret_and_put_items_only(synth):
    # Given the endpoint's role policy
    _, policy = synth.one("AWS::IAM::Policy", "Unsubscribe")
    secret = synth.one("AWS::SecretsManager::Secret")[0]
    table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")[0]
    key = synth.one("AWS::KMS::Key")[0]
    # Then it reads that secret (decrypting with the key only through Secrets Manager, only for
    # this secret), puts items in that table, writes its own logs: nothing else
    assert by_sid(policy, "ReadTheSigningSecret")["Resource"] == ref(secret)
    _decrypts_only_this_secret(by_sid(policy, "ReadTheSigningSecretKey"), secret, key)
    recording = by_sid(policy, "RecordUnsubscribes")
    assert as_list(recording["Action"]) == list(ENDPOINT_TABLE_ACTIONS) == ["dynamodb:PutItem"]
    assert recording["Resource"] == arn_of(table)
    assert len(statements(policy)) == 4


def test_the_sender_may_read_the_secret_and_batch_read_the_table_only(synth):
    # Given the sender's role policy and environment
    _, policy = synth.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
    _, sender = synth.one("AWS::Lambda::Function", "Sender")
    secret = synth.one("AWS::SecretsManager::Secret")[0]
    table = synth.one("AWS::DynamoDB::Table", "Unsubscribe")[0]
    # Then it may GetSecretValue on the secret and BatchGetItem on the table, nothing more
    reading = by_sid(policy, "ReadTheUnsubscribeSigningSecret")
    assert as_list(reading["Action"]) == ["secretsmanager:GetSecretValue"]
    assert reading["Resource"] == ref(secret)
    key = synth.one("AWS::KMS::Key")[0]
    _decrypts_only_this_secret(by_sid(policy, "ReadTheUnsubscribeSigningSecretKey"), secret, key)
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
        create_table(client, "s", SUPPRESSION_TABLE)
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


def test_by_default_the_secret_has_no_resource_policy(synth):
    # Given the default context (no unsubscribe_secret_readers): IAM and the key decide
    assert not synth.resources("AWS::SecretsManager::ResourcePolicy")


def test_named_readers_leave_the_secret_to_them_and_the_two_functions(variant):
    # Given readers named in the context
    _, policy = variant.one("AWS::SecretsManager::ResourcePolicy")
    secret = variant.one("AWS::SecretsManager::Secret")[0]
    (statement,) = policy["Properties"]["ResourcePolicy"]["Statement"]
    # Then the secret's policy denies reading or changing it to every other principal
    assert policy["Properties"]["SecretId"] == ref(secret)
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(as_list(statement["Action"])) == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ]
    allowed = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    roles = {
        variant.one("AWS::IAM::Role", "Unsubscribe")[0],
        variant.one("AWS::IAM::Role", "Sender")[0],
    }
    assert {a["Fn::GetAtt"][0] for a in allowed if isinstance(a, dict)} == roles
    assert [a for a in allowed if isinstance(a, str)] == ["arn:aws:iam::123456789012:role/Ops*"]
