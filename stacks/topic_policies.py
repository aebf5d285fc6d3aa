"""Who may publish to the stack's topics, beyond the TLS-only statement ``enforce_ssl`` adds.

A topic policy replaces SNS's default one, so every service that publishes needs its own
Allow: SES's event destination gets it from CDK (scoped to the configuration set), CloudWatch
alarms get it here. The topics' KMS key lets both services encrypt (``stacks/notification_key.py``).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

CLOUDWATCH = "cloudwatch.amazonaws.com"


def allow_alarms_to_publish(topic: sns.Topic) -> None:
    """Let this account's CloudWatch alarms in this Region publish to ``topic``, and no one else.

    Alarms have generated names, so the source is every alarm of the account and Region
    (``alarm:*``), with ``aws:SourceAccount`` against a confused deputy.
    """
    stack = Stack.of(topic)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarmsToPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
