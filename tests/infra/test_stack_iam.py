"""The sender function's role: each statement's actions and resources (least privilege)."""

import boto3
import pytest
from moto import mock_aws

from bulk_sender.ledger import DynamoLedger
from bulk_sender.status_table import WRITE_ACTIONS
from bulkmail.local.stack_facts import LEDGER_TABLE, create_table
from stacks.sender_function import TABLE_ACTIONS
from tests.infra.cfn import arn_of, as_list, by_sid, granting, statements, text


@pytest.fixture(scope="module")
def policy(synth):
    _, role_policy = synth.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
    return role_policy


def _resources(statement):
    return sorted(text(resource) for resource in as_list(statement["Resource"]))


def _ses_arn(resource):
    return f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"


def test_the_role_has_no_managed_policy_and_this_one_policy(synth, policy):
    # Given the function's role
    _, role = synth.one("AWS::IAM::Role", "Sender")
    # Then it is assumed by Lambda, carries no managed policy, only the statements below
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    assert len(statements(policy)) == 15


def test_send_bulk_email_is_scoped_to_identities_configuration_set_and_templates(
    synth, policy, context
):
    # Given the sending statement
    statement = by_sid(policy, "SendBulkEmailFromTheSendingIdentities")
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    # Then it allows SendBulkEmail only
    assert as_list(statement["Action"]) == ["ses:SendBulkEmail"]
    # And only on the sending identities, the configuration set and the templates
    expected = [_ses_arn(f"identity/{identity}") for identity in context["sending_identities"]]
    expected += [
        _ses_arn(f"configuration-set/${{{configuration_set}}}"),
        _ses_arn("template/*"),
    ]
    assert _resources(statement) == sorted(expected)
    # And no statement lets the function send anything through SES on "*"
    for action in ("ses:SendBulkEmail", "ses:SendEmail", "ses:*"):
        for other in granting(policy, action):
            assert "*" not in as_list(other["Resource"])


def test_send_bulk_email_follows_the_identities_of_the_context(variant):
    # Given an app whose context lists an address and a domain (as -c text), and the sandbox's
    # verified recipients (one of them also a sending identity)
    _, variant_policy = variant.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
    statement = by_sid(variant_policy, "SendBulkEmailFromTheSendingIdentities")
    # Then the identities and the recipients, each once and nothing else, are in the statement
    identities = [r for r in _resources(statement) if ":identity/" in r]
    assert identities == sorted(
        _ses_arn(f"identity/{identity}")
        for identity in ("news@example.org", "example.net", "ann@example.org", "verified.example")
    )


def test_send_bulk_email_covers_exactly_the_allowed_configuration_sets(synth, variant):
    # Given the default app and one that allows two more configuration sets
    for app, extra in ((synth, []), (variant, ["alerts", "marketing"])):
        _, app_policy = app.one("AWS::IAM::Policy", "SenderRoleDefaultPolicy")
        statement = by_sid(app_policy, "SendBulkEmailFromTheSendingIdentities")
        own = app.one("AWS::SES::ConfigurationSet")[0]
        # Then the statement covers the stack's own set and exactly those listed
        sets = [r for r in _resources(statement) if ":configuration-set/" in r]
        assert sets == sorted(
            _ses_arn(f"configuration-set/{name}") for name in [f"${{{own}}}", *extra]
        )
        # And the function is told the same list, so it refuses any other before a call
        _, function = app.one("AWS::Lambda::Function", "Sender")
        env = function["Properties"]["Environment"]["Variables"]
        assert text(env["ALLOWED_CONFIGURATION_SETS"]).split(",") == [
            f"${{{own}}}",
            *(["marketing", "alerts"] if extra else []),
        ]


def test_only_actions_without_resource_level_permission_are_on_every_resource(policy):
    # Given the pacing statement and the one that finds the sender's own mapping
    pacing = by_sid(policy, "ReadSendQuotaForPacing")
    find_mapping = by_sid(policy, "FindOwnEventSourceMapping")
    # Then GetAccount and ListEventSourceMappings (read only), which have no resource-level
    # permission, are allowed on "*"
    assert as_list(pacing["Action"]) == ["ses:GetAccount"]
    assert as_list(find_mapping["Action"]) == ["lambda:ListEventSourceMappings"]
    # And they are the only statements on "*"
    assert [s for s in statements(policy) if s["Resource"] == "*"] == [pacing, find_mapping]


def test_get_email_template_is_allowed_on_templates_only(policy):
    # Given the pre-flight rendering statement
    statement = by_sid(policy, "ReadTemplatesForPreflightRendering")
    # Then it reads templates, and nothing else
    assert as_list(statement["Action"]) == ["ses:GetEmailTemplate"]
    assert _resources(statement) == [_ses_arn("template/*")]


def test_the_function_may_send_to_the_dlq_and_hold_copies_on_its_queue_only(synth, policy):
    # Given the DLQ statement and the one for the copies held while paused
    statement = by_sid(policy, "WritePermanentFailuresToTheDlq")
    hold = by_sid(policy, "HoldRecordsOnTheQueueWhilePaused")
    dlq = synth.logical_id("AWS::SQS::Queue", "QueuesDlq")
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    # Then it sends messages to the DLQ, and to its own queue
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == arn_of(dlq)
    assert as_list(hold["Action"]) == ["sqs:SendMessage"]
    assert hold["Resource"] == arn_of(queue)
    # And no statement lets it send to any other queue
    assert granting(policy, "sqs:SendMessage") == [statement, hold]


def test_the_function_consumes_the_queue_and_changes_visibility_there_only(synth, policy):
    # Given the statement the event source mapping needs
    queue = synth.logical_id("AWS::SQS::Queue", "QueuesQueue")
    (statement,) = granting(policy, "sqs:ChangeMessageVisibility")
    # Then it receives, deletes and delays (the retry backoff) messages of the queue only
    assert statement["Resource"] == arn_of(queue)
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= set(as_list(statement["Action"]))
    assert "sqs:SendMessage" not in as_list(statement["Action"])


def test_dynamodb_access_is_the_ledgers_item_actions_on_the_idempotency_table(synth, policy):
    # Given the idempotency statement
    statement = by_sid(policy, "ClaimAndRecordIdempotencyKeys")
    table = synth.one("AWS::DynamoDB::Table", "Idempotency")[0]
    # Then it claims, records, looks up and releases items of that table, nothing else
    assert sorted(as_list(statement["Action"])) == [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
    ]
    assert statement["Resource"] == arn_of(table)
    # And campaign status: UpdateItem (what bulk_sender.status_table calls) on its table only
    status = by_sid(policy, "RecordCampaignStatus")
    assert as_list(status["Action"]) == list(WRITE_ACTIONS) == ["dynamodb:UpdateItem"]
    assert status["Resource"] == arn_of(synth.one("AWS::DynamoDB::Table", "Status")[0])
    dynamodb = [
        s
        for s in statements(policy)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    assert dynamodb == [statement, status, by_sid(policy, "CheckTheSuppressionList")]


def test_the_function_writes_its_own_log_group_only(synth, policy):
    # Given the logging statement
    statement = by_sid(policy, "WriteOwnLogs")
    log_group = synth.logical_id("AWS::Logs::LogGroup", "SenderLogGroup")
    # Then it creates streams and puts events in the function's log group
    assert sorted(as_list(statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == arn_of(log_group)


def test_no_statement_uses_a_wildcard_action(policy):
    # Given every statement of the role
    # Then each names its actions in full
    for statement in statements(policy):
        for action in as_list(statement["Action"]):
            assert "*" not in action, action


TRANSACT_PERMISSIONS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
}


def test_the_ledger_calls_only_what_the_policy_grants():
    # Given the ledger run through every method against in-process moto, counting calls
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(client, "ledger", LEDGER_TABLE)
        called: set[str] = set()

        def record(model, params, **_):
            # A transaction needs no IAM action of its own: each of its actions needs the
            # permission of the single-item operation (PutItem, DeleteItem, UpdateItem;
            # ConditionCheckItem for ConditionCheck). DynamoDB developer guide, "Using IAM
            # with DynamoDB transactions".
            if model.name == "TransactWriteItems":
                for action in params["TransactItems"]:
                    (kind,) = action
                    called.add(f"dynamodb:{TRANSACT_PERMISSIONS[kind]}")
            else:
                called.add(f"dynamodb:{model.name}")

        client.meta.events.register("before-parameter-build.dynamodb.*", record)
        ledger = DynamoLedger(client, "ledger", ttl_seconds=60, claim_seconds=60)
        ledger.claim(["a", "b"])
        ledger.complete(["a"])
        ledger.release(["b"])
        ledger.claim(["a", "c"])  # "a" cancels the first round: a second round claims "c"
        ledger.mark_dead_lettered(["sqs-1"])
        ledger.dead_lettered(["sqs-1"])
    # Then every operation it used is granted, and nothing granted goes unused
    assert called == set(TABLE_ACTIONS)
