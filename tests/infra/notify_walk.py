"""Walks a synthesized template from every publisher of a notification to the SNS topic it
publishes to, that topic's policy and its KMS key, and says where a link would refuse.

A publisher is an alarm action (CloudWatch alarms and composite alarms: alarm, OK and
insufficient-data actions) or an SES configuration set's SNS event destination. For each, the
publishing service's request is evaluated the way IAM would, on the template's JSON:

- the topic's policy (there must be exactly one: a topic policy replaces SNS's default, and a
  second one replaces the first) must Allow the service ``sns:Publish`` on the topic with every
  condition true for that request, and no Deny may apply;
- the topic's KMS key (if encrypted) must be a key of this template whose policy Allows the
  service ``kms:GenerateDataKey`` and ``kms:Decrypt`` (the AWS-managed ``alias/aws/sns`` key's
  policy cannot, and a key from elsewhere cannot be checked).

Conditions are read for the operators a publishing statement uses (String*, Arn*, Bool, with
``IfExists``); any other operator counts as "would refuse" for an Allow and "applies" for a Deny,
so the walk never passes what it cannot read. New alarms, topics and destinations are covered
without changing the walk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from tests.infra.cfn import as_list, text

CLOUDWATCH = "cloudwatch.amazonaws.com"
SES = "ses.amazonaws.com"
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
ALARM_ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_ARN_PREFIX = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:"


@dataclass(frozen=True)
class Publisher:
    """One service publishing to one topic on behalf of one resource."""

    source: str  # logical id of the alarm or event destination
    service: str
    topic: Any  # the CloudFormation value naming the topic (normally {"Ref": id})
    context: dict[str, str]  # the request's condition keys, lower-cased, as text

    def describe(self) -> str:
        return f"{self.source} ({self.service}) -> {_show(self.topic)}"


def publishers(template: dict[str, Any]) -> Iterator[Publisher]:
    """Every alarm action and SES SNS event destination of the template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ALARM_TYPES:
            name = properties.get("AlarmName", f"${{{logical_id}}}")
            source_arn = _ARN_PREFIX.replace("{service}", "cloudwatch") + f"alarm:{text(name)}"
            for key in ALARM_ACTION_KEYS:
                for action in properties.get(key, []):
                    yield Publisher(logical_id, CLOUDWATCH, action, _context(source_arn))
        elif resource["Type"] == "AWS::SES::ConfigurationSetEventDestination":
            destination = properties["EventDestination"]
            if "SnsDestination" in destination and destination.get("Enabled", True) is not False:
                source_arn = _ARN_PREFIX.replace("{service}", "ses") + (
                    f"configuration-set/{text(properties['ConfigurationSetName'])}"
                )
                yield Publisher(
                    logical_id,
                    SES,
                    destination["SnsDestination"]["TopicARN"],
                    _context(source_arn),
                )


def refusals(template: dict[str, Any]) -> list[str]:
    """One line per publisher whose notification would be refused, naming the link."""
    return [
        f"{publisher.describe()}: {reason}"
        for publisher in publishers(template)
        if (reason := _refusal(template, publisher)) is not None
    ]


def _context(source_arn: str) -> dict[str, str]:
    return {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": "${AWS::AccountId}",
        "aws:securetransport": "true",  # AWS services publish over TLS
    }


def _show(value: Any) -> str:
    try:
        return text(value)
    except ValueError:
        return repr(value)


def _refusal(template: dict[str, Any], publisher: Publisher) -> str | None:
    resources = template["Resources"]
    topic_id = publisher.topic.get("Ref") if isinstance(publisher.topic, dict) else None
    if topic_id not in resources or resources[topic_id]["Type"] != "AWS::SNS::Topic":
        return "the action is not an SNS topic of this template (the walk cannot check it)"
    topic_ref = {"Ref": topic_id}

    policies = [
        resource
        for resource in resources.values()
        if resource["Type"] == "AWS::SNS::TopicPolicy"
        and topic_ref in resource["Properties"]["Topics"]
    ]
    if len(policies) != 1:
        return f"the topic has {len(policies)} topic policies (SNS keeps exactly one)"
    request = _Request(publisher.service, "sns:Publish", topic_ref, publisher.context)
    verdict = request.decide(policies[0]["Properties"]["PolicyDocument"])
    if verdict is not None:
        return f"the topic policy {verdict}"

    key = resources[topic_id].get("Properties", {}).get("KmsMasterKeyId")
    if key is None:
        return None
    key_id = _logical_id(key)
    if key_id not in resources or resources[key_id]["Type"] != "AWS::KMS::Key":
        return f"the topic's key {_show(key)} is not a customer-managed key of this template"
    key_policy = resources[key_id]["Properties"]["KeyPolicy"]
    for action in KEY_ACTIONS:
        # In a key policy, Resource "*" is the key itself.
        verdict = _Request(publisher.service, action, "*", publisher.context).decide(key_policy)
        if verdict is not None:
            return f"the key policy of {key_id} {verdict}"
    return None


def _logical_id(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


@dataclass(frozen=True)
class _Request:
    service: str
    action: str
    resource: Any
    context: dict[str, str]

    def decide(self, document: dict[str, Any]) -> str | None:
        """None when the document allows the request; else why it would be refused."""
        allowed = False
        for statement in as_list(document["Statement"]):
            if not self._covers(statement):
                continue
            holds = _conditions_hold(statement.get("Condition", {}), self.context)
            if statement["Effect"] == "Deny" and holds is not False:
                return f"denies {self.service} {self.action} ({statement.get('Sid', 'no Sid')})"
            if statement["Effect"] == "Allow" and holds is True:
                allowed = True
        return None if allowed else f"allows {self.service} no {self.action}"

    def _covers(self, statement: dict[str, Any]) -> bool:
        if {"NotAction", "NotPrincipal", "NotResource"} & set(statement):
            return statement["Effect"] == "Deny"  # unread: a Deny counts, an Allow does not
        actions = as_list(statement.get("Action", []))
        if not any(fnmatchcase(self.action.lower(), a.lower()) for a in actions):
            return False
        resources = as_list(statement.get("Resource", []))
        if self.resource != "*" and not any(r == "*" or r == self.resource for r in resources):
            return False
        if self.resource == "*" and "*" not in resources:
            return False
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
            return True
        return isinstance(principal, dict) and self.service in as_list(principal.get("Service"))


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool | None:
    """True or False when every condition can be read; None when one cannot."""
    result: bool | None = True
    for operator, entries in conditions.items():
        base = operator.removesuffix("IfExists")
        for key, expected in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                holds: bool | None = operator.endswith("IfExists")
            else:
                holds = _compare(base, actual, [_show(value) for value in as_list(expected)])
            if holds is False:
                return False
            if holds is None:
                result = None
    return result


def _compare(operator: str, actual: str, expected: list[str]) -> bool | None:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatchcase(actual, pattern) for pattern in expected)
    if operator == "StringNotEquals":
        return actual not in expected
    if operator == "Bool":
        return actual.lower() in (value.lower() for value in expected)
    return None
