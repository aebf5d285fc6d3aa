"""Alarms and SES events reach their topics: the walk from every publisher to topic policy
and key (tests/infra/notify_walk.py) finds no link that would refuse."""

import copy

from tests.infra.notify_walk import CLOUDWATCH, SES, publishers, refusals


def _without_statement(template, resource_type, sid):
    broken = copy.deepcopy(template)
    for resource in broken["Resources"].values():
        if resource["Type"] == resource_type:
            document = resource["Properties"].get("PolicyDocument") or resource["Properties"].get(
                "KeyPolicy"
            )
            document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    return broken


def test_every_alarm_action_and_ses_destination_reaches_its_topic_and_key(synth):
    # Given the synthesized stack
    walked = list(publishers(synth.template))
    # Then every alarm notifies through CloudWatch, and SES publishes its events
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    assert {p.source for p in walked if p.service == CLOUDWATCH} == set(alarms)
    events_topic = {"Ref": synth.logical_id("AWS::SNS::Topic", "SesEvents")}
    assert [p.topic for p in walked if p.service == SES] == [events_topic]
    # And no topic policy or key on the way would refuse one of them
    assert refusals(synth.template) == []


def test_the_alarms_topic_lets_only_this_accounts_alarms_publish(synth):
    # Given the Alarms topic's policy
    _, policy = next(
        (logical_id, resource)
        for logical_id, resource in synth.resources("AWS::SNS::TopicPolicy").items()
        if "MonitoringAlarms" in logical_id
    )
    [allow] = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    # Then CloudWatch may publish, from this account's alarms in this Region only
    assert allow["Principal"] == {"Service": CLOUDWATCH}
    assert allow["Action"] == "sns:Publish"
    assert set(allow["Condition"]) == {"ArnLike", "StringEquals"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_walk_finds_an_alarms_topic_without_a_cloudwatch_allow(synth):
    # Given the template as it was before: the Alarms topic policy holds only the TLS deny
    broken = _without_statement(
        synth.template, "AWS::SNS::TopicPolicy", "AllowThisAccountsAlarmsToPublish"
    )
    # When the walk runs
    found = refusals(broken)
    # Then each alarm is reported, at the topic policy
    assert len(found) == len(synth.resources("AWS::CloudWatch::Alarm"))
    assert all("topic policy allows cloudwatch.amazonaws.com no sns:Publish" in f for f in found)


def test_the_walk_finds_a_key_that_the_services_may_not_use(synth):
    # Given a key policy without the publishing services' grant
    broken = _without_statement(
        synth.template, "AWS::KMS::Key", "AllowSesAndCloudWatchToPublishToEncryptedTopics"
    )
    # Then every alarm and the SES destination are reported, at the key
    found = refusals(broken)
    assert len(found) == len(list(publishers(synth.template)))
    assert all("key policy" in f and "kms:GenerateDataKey" in f for f in found)


def test_the_walk_finds_a_deny_a_wrong_source_and_the_aws_managed_key(synth):
    # Given three broken copies: a Deny on publishing, a topic scoped to another account's
    # alarms, and topics on the AWS-managed SNS key
    denied = copy.deepcopy(synth.template)
    scoped = copy.deepcopy(synth.template)
    managed = copy.deepcopy(synth.template)
    for resource in denied["Resources"].values():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            statement = resource["Properties"]["PolicyDocument"]["Statement"][0]
            statement["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    for resource in scoped["Resources"].values():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if "StringEquals" in statement.get("Condition", {}):
                    statement["Condition"]["StringEquals"] = {"aws:SourceAccount": "111122223333"}
    for resource in managed["Resources"].values():
        if resource["Type"] == "AWS::SNS::Topic":
            resource["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    count = len(list(publishers(synth.template)))
    # Then the walk reports each publisher in each copy, naming the link
    assert [("denies" in f) for f in refusals(denied)] == [True] * count
    assert [("allows" in f) for f in refusals(scoped)] == [True] * count
    assert [("customer-managed" in f) for f in refusals(managed)] == [True] * count
