"""The customer-managed KMS key that encrypts the ``Events`` and ``Alarms`` topics.

SES and CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its
policy cannot be changed), so both topics share one customer-managed key whose policy lets
``ses.amazonaws.com`` and ``cloudwatch.amazonaws.com`` use it (DESIGN section 7), on behalf of
this account's configuration sets and alarms only (``aws:SourceAccount``, ``aws:SourceArn``).
The unsubscribe secret is encrypted with it too (stacks/unsubscribe.py).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

PUBLISHING_SERVICES = ("ses.amazonaws.com", "cloudwatch.amazonaws.com")
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


class NotificationKey(Construct):
    """A rotating key; SES and CloudWatch may generate data keys with it to publish."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the bulk email sender's Events and Alarms SNS topics",
            enable_key_rotation=True,
            # Deleting the stack schedules the key's deletion (after KMS's waiting period).
            removal_policy=RemovalPolicy.DESTROY,
        )
        # In a key policy, "*" is this key. The topics' own policies decide who may publish;
        # this statement only lets the two publishing services encrypt what they publish, and
        # only for this account's configuration sets and alarms (no confused deputy).
        stack = Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSesAndCloudWatchToPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": [
                            stack.format_arn(
                                service="ses", resource="configuration-set", resource_name="*"
                            ),
                            stack.format_arn(
                                service="cloudwatch",
                                resource="alarm",
                                resource_name="*",
                                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            ),
                        ]
                    },
                },
            )
        )
