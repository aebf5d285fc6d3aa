"""The SES configuration set, its event destinations, topics, templates and identities."""

import json
import re

import pytest
from aws_cdk.assertions import Match

from bulk_sender.recipient_hash import Keys, sign
from stacks.ses_events import SES_EVENT_METRICS
from stacks.template_files import TEMPLATES_DIR
from tests.infra.cfn import arn_of, as_list, ref, text

# Event types as CloudFormation spells them.
ALL_EVENT_TYPES = {
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "open",
    "click",
    "renderingFailure",
    "deliveryDelay",
    "subscription",
}
DASHBOARD_EVENT_TYPES = {
    "send",
    "delivery",
    "bounce",
    "complaint",
    "reject",
    "renderingFailure",
    "open",
    "click",
    "deliveryDelay",
    "subscription",
}


@pytest.fixture(scope="module")
def destinations(synth):
    """The configuration set's event destinations, by the kind of destination."""
    found = {}
    for resource in synth.resources("AWS::SES::ConfigurationSetEventDestination").values():
        destination = resource["Properties"]["EventDestination"]
        kinds = [key for key in destination if key.endswith("Destination")]
        assert len(kinds) == 1
        found[kinds[0]] = resource["Properties"]
    return found


def test_the_configuration_set_keeps_reputation_metrics_suppression_and_tls(synth):
    # Given the synthesized stack
    # Then its one configuration set publishes reputation metrics, suppresses addresses that
    # bounce or complain, requires TLS, and sends
    synth.assertions.resource_count_is("AWS::SES::ConfigurationSet", 1)
    synth.assertions.has_resource_properties(
        "AWS::SES::ConfigurationSet",
        {
            "ReputationOptions": {"ReputationMetricsEnabled": True},
            "SuppressionOptions": {
                "SuppressedReasons": Match.array_equals(["BOUNCE", "COMPLAINT"])
            },
            "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
            "SendingOptions": {"SendingEnabled": True},
        },
    )


def test_every_destination_belongs_to_the_configuration_set(synth, destinations):
    # Given the three destinations
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    # Then each is on this configuration set, enabled
    assert set(destinations) == {
        "CloudWatchDestination",
        "EventBridgeDestination",
        "SnsDestination",
    }
    for properties in destinations.values():
        assert properties["ConfigurationSetName"] == ref(configuration_set)
        assert properties["EventDestination"]["Enabled"] is True


def test_cloudwatch_gets_every_event_by_configuration_set_and_campaign(destinations):
    # Given the CloudWatch destination
    destination = destinations["CloudWatchDestination"]["EventDestination"]
    dimensions = destination["CloudWatchDestination"]["DimensionConfigurations"]
    # Then every event type the dashboard draws is published
    assert len(SES_EVENT_METRICS) == len(DASHBOARD_EVENT_TYPES)
    assert set(destination["MatchingEventTypes"]) >= DASHBOARD_EVENT_TYPES
    # And split by the campaign message tag (default "none") and the configuration set
    assert {
        "DimensionName": "campaign",
        "DimensionValueSource": "messageTag",
        "DefaultDimensionValue": "none",
    } in dimensions
    assert "ses:configuration-set" in {d["DimensionName"] for d in dimensions}


def test_eventbridge_gets_every_event_type_on_the_default_bus(destinations):
    # Given the EventBridge destination
    destination = destinations["EventBridgeDestination"]["EventDestination"]
    # Then it sends every event type to the account's default bus
    assert set(destination["MatchingEventTypes"]) == ALL_EVENT_TYPES
    bus = text(destination["EventBridgeDestination"]["EventBusArn"])
    assert bus.endswith(":event-bus/default")


def test_sns_gets_bounces_complaints_rejects_and_rendering_failures(synth, destinations):
    # Given the SNS destination and the Events topic
    destination = destinations["SnsDestination"]["EventDestination"]
    events_topic = synth.logical_id("AWS::SNS::Topic", "SesEvents")
    # Then exactly those four event types go to the Events topic
    assert set(destination["MatchingEventTypes"]) == {
        "bounce",
        "complaint",
        "reject",
        "renderingFailure",
    }
    assert destination["SnsDestination"]["TopicARN"] == ref(events_topic)
    # And the topic lets SES publish, for this account and configuration set only
    synth.assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [ref(events_topic)],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Principal": {"Service": "ses.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": Match.object_like(
                                        {"AWS:SourceAccount": Match.any_value()}
                                    )
                                },
                            }
                        )
                    ]
                )
            },
        },
    )


def test_both_topics_are_encrypted_with_one_rotating_customer_managed_key(synth):
    # Given the two topics and the key
    key_id, key = synth.one("AWS::KMS::Key")
    topics = synth.resources("AWS::SNS::Topic")
    # Then there are exactly two topics, Events and Alarms, both with that key
    assert len(topics) == 2
    assert synth.logical_id("AWS::SNS::Topic", "SesEvents")
    assert synth.logical_id("AWS::SNS::Topic", "MonitoringAlarms")
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == arn_of(key_id)
    # And the key rotates and lets SES and CloudWatch encrypt what they publish
    assert key["Properties"]["EnableKeyRotation"] is True
    (grant,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowSesAndCloudWatchToPublishToEncryptedTopics"
    ]
    assert sorted(grant["Principal"]["Service"]) == [
        "cloudwatch.amazonaws.com",
        "ses.amazonaws.com",
    ]
    assert sorted(as_list(grant["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # ... on behalf of this account's configuration sets and alarms only (no confused deputy)
    conditions = grant["Condition"]
    assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert sorted(text(arn) for arn in conditions["ArnLike"]["aws:SourceArn"]) == [
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*",
        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/*",
    ]


def test_both_topics_refuse_publishing_without_tls(synth):
    # Given the topics
    for topic in synth.resources("AWS::SNS::Topic"):
        # Then each topic's policy denies requests made without TLS
        synth.assertions.has_resource_properties(
            "AWS::SNS::TopicPolicy",
            {
                "Topics": [ref(topic)],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_a_rule_archives_this_configuration_sets_events_to_a_masked_log_group(synth, context):
    # Given the archive rule and log group
    _, rule = synth.one("AWS::Events::Rule", "SesArchive")
    archive = synth.logical_id("AWS::Logs::LogGroup", "SesArchive")
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    # Then the rule matches SES events sent with this configuration set
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ses"]
    assert pattern["detail"]["mail"]["tags"]["ses:configuration-set"] == [ref(configuration_set)]
    # And delivers them to the archive log group
    (target,) = rule["Properties"]["Targets"]
    assert text(target["Arn"]).endswith(f":log-group:${{{archive}}}")
    # And the log group keeps them for the context's retention, addresses and unsubscribe tokens
    # (in List-Unsubscribe headers, in tracked links) masked
    properties = synth.template["Resources"][archive]["Properties"]
    assert properties["RetentionInDays"] == context["event_archive_retention_days"]
    policy = properties["DataProtectionPolicy"]
    statements = policy["Statement"]
    identifiers = {text(i) for s in statements for i in s["DataIdentifier"]}
    assert identifiers == {
        "arn:${AWS::Partition}:dataprotection::aws:data-identifier/EmailAddress",
        "UnsubscribeToken",
    }
    assert any("MaskConfig" in s["Operation"].get("Deidentify", {}) for s in statements)
    (custom,) = policy["Configuration"]["CustomDataIdentifier"]
    token = sign(Keys.from_secret("k" * 64), "news", "0" * 32)
    assert re.search(custom["Regex"], f"<https://x.example/unsubscribe?t={token}>")
    assert token.split(".", 2)[2] == re.search(custom["Regex"], token).group(0)


def test_the_archive_lets_eventbridge_write_without_a_custom_resource(synth):
    # Given the log resource policy
    _, resource_policy = synth.one("AWS::Logs::ResourcePolicy")
    archive = synth.logical_id("AWS::Logs::LogGroup", "SesArchive")
    document = text(resource_policy["Properties"]["PolicyDocument"])
    # Then EventBridge may create streams and put events in the archive
    statement = json.loads(document.replace(f"${{{archive}.Arn}}", "ARCHIVE"))["Statement"][0]
    assert "events.amazonaws.com" in statement["Principal"]["Service"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == "ARCHIVE"
    # And no Lambda-backed custom resource was needed for it
    assert not synth.resources("Custom::CloudwatchLogResourcePolicy")
    handlers = {
        f["Properties"]["Handler"] for f in synth.resources("AWS::Lambda::Function").values()
    }
    assert handlers == {
        "handler.lambda_handler",
        "unsubscribe.lambda_handler",
        "probe_handler.lambda_handler",
        "events.lambda_handler",
        "enqueue_handler.lambda_handler",
    }


def test_every_template_file_is_deployed_under_its_file_stem(synth):
    # Given the template files
    files = sorted(TEMPLATES_DIR.glob("*.json"))
    assert files, "templates/ ships at least one sample"
    # When the deployed templates are read
    deployed = {
        resource["Properties"]["Template"]["TemplateName"]: resource["Properties"]["Template"]
        for resource in synth.resources("AWS::SES::Template").values()
    }
    # Then each file is one SES template named by its stem, with its parts
    assert set(deployed) == {path.stem for path in files}
    for path in files:
        body = json.loads(path.read_text(encoding="utf-8"))
        template = deployed[path.stem]
        assert template["SubjectPart"] == body["subject"]
        assert template.get("TextPart") == body.get("text")
        assert template.get("HtmlPart") == body.get("html")


def test_the_sample_template_uses_a_name_variable():
    # Given the shipped sample
    body = json.loads((TEMPLATES_DIR / "welcome.json").read_text(encoding="utf-8"))
    # Then every part greets by {{name}}
    assert all("{{name}}" in body[part] for part in ("subject", "text", "html"))


def test_a_domain_identity_is_created_with_easy_dkim_on_the_configuration_set(synth, context):
    # Given the default context (a placeholder domain, identities created)
    configuration_set = synth.one("AWS::SES::ConfigurationSet")[0]
    (domain,) = context["sending_identities"]
    # When the stack's identity is read
    _, identity = synth.one("AWS::SES::EmailIdentity")
    properties = identity["Properties"]
    # Then the domain is an SES identity that sends with the configuration set
    assert properties["EmailIdentity"] == domain
    assert properties["ConfigurationSetAttributes"] == {
        "ConfigurationSetName": ref(configuration_set)
    }
    # And it signs with Easy DKIM: SES's own keys (no BYODKIM key), signing not turned off
    assert "DkimSigningAttributes" not in properties
    assert properties.get("DkimAttributes", {}).get("SigningEnabled", True) is True


def test_existing_identities_are_not_created_again(variant):
    # Given an app whose context says the identities already exist
    # Then the stack creates none (they only scope the function's sending permission)
    assert not variant.resources("AWS::SES::EmailIdentity")


def test_a_template_prefix_names_every_deployed_template_and_reaches_the_sender(synth, variant):
    # Given the default app (no prefix) and one with template_prefix "shop-"
    def names(app):
        return sorted(
            r["Properties"]["Template"]["TemplateName"]
            for r in app.resources("AWS::SES::Template").values()
        )

    stems = sorted(path.stem for path in TEMPLATES_DIR.glob("*.json"))
    # Then the prefixed app deploys every file as shop-<stem>, the default as <stem>
    assert names(variant) == [f"shop-{stem}" for stem in stems]
    assert names(synth) == stems

    # And the sender gets the prefix (and none without it)
    def env(app):
        _, function = app.one("AWS::Lambda::Function", "Sender")
        return function["Properties"]["Environment"]["Variables"]

    assert "TEMPLATE_PREFIX" not in env(synth)
    assert env(variant)["TEMPLATE_PREFIX"] == "shop-"


def test_created_identities_are_retained_and_their_dkim_records_are_outputs(synth, context):
    # Given the default app, which creates the domain identity
    identity_id, identity = synth.one("AWS::SES::EmailIdentity")
    (domain,) = context["sending_identities"]
    # Then cdk destroy keeps it (its DKIM records in DNS stay valid)
    assert identity["DeletionPolicy"] == "Retain"
    assert identity["UpdateReplacePolicy"] == "Retain"
    # And its three DKIM CNAME records are one stack output, NAME CNAME VALUE each
    output = synth.template["Outputs"]["DkimRecordsExampleCom"]
    assert domain in output["Description"]
    assert text(output["Value"]).split(",") == [
        f"${{{identity_id}.DkimDNSTokenName{n}}} CNAME ${{{identity_id}.DkimDNSTokenValue{n}}}"
        for n in (1, 2, 3)
    ]


def test_existing_identities_have_no_dkim_output(variant):
    assert not [name for name in variant.template["Outputs"] if name.startswith("DkimRecords")]
